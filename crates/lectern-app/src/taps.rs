//! Server-side tap ingestion: a batch of signed taps from one kiosk becomes
//! `CardTapped` events on the kiosk's stream (each with the server's
//! decision) and the attendance events they lead to on the sessions they
//! were attributed to, in one transaction.
//!
//! # Invariants
//! - Idempotent by tap id: a tap's `CardTapped` event has the tap's id as
//!   its event id. Before deciding anything the log is asked which of the
//!   batch's taps it holds (not the read models, which may lag); those are
//!   answered with the decision stored then (`duplicate`), and nothing is
//!   added. Two servers taking the same batch at once collide on the kiosk
//!   stream's expected version, and the loser finds the taps recorded.
//! - Every tap is verified against the kiosk's enrolled key and must name
//!   the kiosk that signed the request; a tap that fails is refused (with
//!   the reason in its result and the server log) and never recorded.
//! - Lateness is judged by the server time the tap is placed at: from the
//!   kiosk's sync point nearest to the tap's monotonic reading, of the same
//!   boot, sent with the batch (whatever the kiosk's wall clock did); only a
//!   tap with no such point is placed by the kiosk's wall clock corrected by
//!   the offset measured on this request. The decision says which
//!   (`Placed`), and the tap keeps both times. A sync point after the
//!   server's now (its clock set back since) is left out; a tap placed
//!   after it is refused.
//! - One batch of a kiosk at a time (per process): a kiosk retrying while
//!   its previous request still runs waits for it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, Duration, Utc};
use lectern_domain::{
    APPRAISAL_STREAM, Aggregate, Attendee, Audience, Campus, CardHolder, CardUid, Clock,
    KioskEvent, KioskLedger, ORG_STREAM, OVER_FOR, OrgTree, Placed, Programme, ProgrammeId,
    RejectReason, RuleBook, Session, SessionCommand, SessionId, Slug, StaffNo, SyncPoint,
    TapDecision, TapOutcome, UnitId, ended_session, kiosk_stream, pick_session, programme_stream,
    session_stream,
};
use lectern_kiosk_protocol::{
    BatchResponse, MAX_BATCH, Outcome, PublicKey, SignedTap, TapBatch, TapResult,
};
use lectern_projections::{Projections, Val, encode, load, timestamp};
use lectern_store::{AppendRequest, ExpectedVersion, Metadata, RecordedEvent, Store};
use uuid::Uuid;

use crate::App;
use crate::commands::Retry;
use crate::error::{Error, Result};

/// Check-in may open at most this long before a session starts (the
/// domain's limit), so a tap can only belong to a session starting within
/// this much after it.
const LONGEST_OPENING: Duration = Duration::minutes(240);

/// How far past the server's now a sync point or a placed tap may lie
/// (servers sharing a database whose clocks differ a little): further is
/// a reading that cannot be right.
const AHEAD: Duration = Duration::seconds(60);

/// How long a batch's answer waits for the read models to show it.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(5);

/// A kiosk's tap ledger and its stream version, kept between batches.
type Ledger = Option<(KioskLedger, u64)>;

/// Takes kiosks' tap batches; cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    store: Store,
    projections: Projections,
    ledgers: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<Ledger>>>>>,
    refused: Arc<std::sync::atomic::AtomicU64>,
    /// How long an answer waits for the read models (`None`: it does not).
    settle: Option<std::time::Duration>,
    /// The server's clock, whose time each answer carries.
    clock: Clock,
    /// The campus calendar, whose dates say a session's appraisal year.
    campus: Campus,
}

impl Ingest {
    /// Takes taps into `app`'s log, on its clock.
    pub fn new(app: &App) -> Ingest {
        Ingest {
            store: app.store.clone(),
            projections: app.projections.clone(),
            ledgers: Arc::default(),
            refused: Arc::default(),
            settle: Some(SETTLE),
            clock: app.clock.clone(),
            campus: app.campus,
        }
    }

    /// Answers without waiting for the read models to show the taps: for a
    /// loader that waits for them itself (`lectern demo`), not for kiosks,
    /// whose next roster download should show their own check-ins.
    pub fn without_settling(mut self) -> Ingest {
        self.settle = None;
        self
    }

    fn answer(&self, results: Vec<Option<TapResult>>, gaps: Vec<(u64, u64)>) -> BatchResponse {
        BatchResponse {
            server_time: self.clock.now(),
            results: results
                .into_iter()
                .map(|r| r.expect("every tap has a result"))
                .collect(),
            gaps,
        }
    }

    /// Taps refused since the process started (bad signature, another
    /// kiosk's tap, a counter that went backwards, a wrong venue).
    pub fn refused_total(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records `batch`, sent by `kiosk` (whose enrolled key is `key`) with
    /// its clock `offset_ms` behind the server's; answers per tap.
    ///
    /// Boxed here and never inlined, so the body compiles in this crate only
    /// (ARCHITECTURE.md: the build rule for async entry points).
    #[inline(never)]
    pub fn ingest<'a>(
        &'a self,
        kiosk: &'a Slug,
        key: &'a PublicKey,
        offset_ms: i64,
        batch: TapBatch,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<BatchResponse>> + Send + 'a>> {
        Box::pin(self.ingest_batch(kiosk, key, offset_ms, batch))
    }

    #[tracing::instrument(name = "tap_batch", skip_all, fields(kiosk = kiosk.as_str(), taps = batch.taps.len()))]
    async fn ingest_batch(
        &self,
        kiosk: &Slug,
        key: &PublicKey,
        offset_ms: i64,
        batch: TapBatch,
    ) -> Result<BatchResponse> {
        let (taps, mut sync) = (batch.taps, batch.sync);
        // A sync point is a time a server gave; one after the server's now
        // (its clock was set back since) cannot place anything, and is left
        // out rather than refusing the kiosk's taps for ever.
        let now = self.clock.now();
        sync.retain(|p| {
            let ahead = p.server_time > now + AHEAD;
            if ahead {
                tracing::warn!(
                    kiosk = kiosk.as_str(),
                    boot = p.boot,
                    mono_us = p.mono_us,
                    "a sync point says the server's time was {}, after its now ({now}); its \
                     taps are placed without it",
                    p.server_time
                );
            }
            !ahead
        });
        if taps.len() > MAX_BATCH {
            return Err(Error::bad_input(format!(
                "a batch holds at most {MAX_BATCH} taps, not {}",
                taps.len()
            )));
        }
        let mut ids = HashSet::new();
        if let Some(t) = taps.iter().find(|t| !ids.insert(t.tap.id)) {
            return Err(Error::bad_input(format!(
                "tap {} appears twice in the batch",
                t.tap.id
            )));
        }
        let lock = {
            let mut all = self.ledgers.lock().expect("ledger map lock");
            all.entry(kiosk.as_str().to_owned()).or_default().clone()
        };
        let mut ledger = lock.lock().await;
        let mut tries = Retry::new(format!("the taps of kiosk {:?}", kiosk.as_str()));
        loop {
            let attempt = self
                .try_ingest(&mut ledger, kiosk, key, offset_ms, &taps, &sync)
                .await;
            // When another writer moved a stream, or the batch failed, the
            // ledger is read again from the log.
            match attempt {
                Ok(Some(answer)) => return Ok(answer),
                Ok(None) => {
                    *ledger = None;
                    tries.moved()?;
                }
                Err(e) => {
                    *ledger = None;
                    return Err(e);
                }
            }
        }
    }

    /// Decides and appends the batch once: the answer, or `None` when
    /// another writer moved one of its streams (decide again).
    async fn try_ingest(
        &self,
        ledger: &mut Ledger,
        kiosk: &Slug,
        key: &PublicKey,
        offset_ms: i64,
        taps: &[SignedTap],
        sync: &[SyncPoint],
    ) -> Result<Option<BatchResponse>> {
        let stream = kiosk_stream(kiosk.as_str());
        let mut results: Vec<Option<TapResult>> = vec![None; taps.len()];
        let mut unverified: HashMap<usize, String> = HashMap::new();
        let refuse = |i: usize, reason: String| {
            tracing::warn!(kiosk = kiosk.as_str(), tap = %taps[i].tap.id, "refused a tap: {reason}");
            self.refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Some(refused(taps[i].tap.id, reason))
        };
        let mut own = Vec::with_capacity(taps.len());
        for (i, t) in taps.iter().enumerate() {
            if t.tap.kiosk == *kiosk {
                own.push(i);
            } else {
                results[i] = refuse(
                    i,
                    format!(
                        "tap {} names kiosk {:?}, but kiosk {:?} sent it",
                        t.tap.id,
                        t.tap.kiosk.as_str(),
                        kiosk.as_str()
                    ),
                );
            }
        }
        let signed: Vec<&SignedTap> = own.iter().map(|&i| &taps[i]).collect();
        for (&i, checked) in own.iter().zip(key.verify_taps(&signed)) {
            if let Err(e) = checked {
                // Perhaps signed by an earlier enrolment's key (a replaced
                // device's queue): tried against those once the ledger is
                // read, refused with this if none verifies it.
                unverified.insert(i, format!("tap {}: {e}", taps[i].tap.id));
            }
        }

        // Taps the log holds already get the answer recorded then.
        let wanted: Vec<Uuid> = taps
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_none())
            .map(|(t, _)| t.tap.id)
            .collect();
        let stored: HashMap<Uuid, RecordedEvent> = self
            .store
            .read_ids(&wanted)
            .await?
            .into_iter()
            .map(|e| (e.event_id, e))
            .collect();
        let mut fresh = Vec::new();
        for (i, t) in taps.iter().enumerate() {
            if results[i].is_some() {
                continue;
            }
            match stored.get(&t.tap.id) {
                Some(e) => {
                    results[i] = match recorded_answer(&stream, t, e) {
                        Ok(r) => Some(r),
                        Err(reason) => refuse(i, reason),
                    };
                }
                None => fresh.push(i),
            }
        }

        // The ledger kept from the last batch holds while the kiosk's key
        // is the one it was enrolled with then; a kiosk enrolled anew (a
        // replaced device, counting from 1) is read from the log again.
        let key_hex = key.to_hex();
        let (mut kiosk_ledger, version) = match ledger.take() {
            Some(l) if l.0.public_key.as_deref() == Some(key_hex.as_str()) => l,
            _ => load::<KioskLedger>(&self.store, &stream, u64::MAX).await?,
        };
        // Each fresh tap continues the sequence of the enrolment whose key
        // signed it.
        let current = kiosk_ledger.enrolment();
        let mut enrolments: HashMap<usize, u32> = HashMap::new();
        fresh.retain(|&i| {
            let Some(error) = unverified.get(&i) else {
                enrolments.insert(i, current);
                return true;
            };
            let earlier = kiosk_ledger.earlier.iter().position(|s| {
                PublicKey::from_hex(&s.key).is_ok_and(|k| k.verify_tap(&taps[i]).is_ok())
            });
            match earlier.and_then(|n| u32::try_from(n + 1).ok()) {
                Some(n) => {
                    enrolments.insert(i, n);
                    true
                }
                None => {
                    results[i] = refuse(i, error.clone());
                    false
                }
            }
        });
        // Each tap in server time, and how it was placed; one placed after
        // the server's now is refused.
        let offset = Duration::milliseconds(offset_ms);
        let placed: HashMap<usize, (DateTime<Utc>, Placed)> = fresh
            .iter()
            .map(|&i| {
                let tap = &taps[i].tap;
                let by_sync = tap.clock.and_then(|r| {
                    SyncPoint::nearest(sync, r).map(|p| (p.place(r), Placed::SyncPoint(*p)))
                });
                (
                    i,
                    by_sync.unwrap_or((tap.kiosk_time + offset, Placed::WallClock)),
                )
            })
            .collect();
        let now = self.clock.now();
        fresh.retain(|i| {
            let (at, _) = placed[i];
            if at <= now + AHEAD {
                return true;
            }
            results[*i] = refuse(
                *i,
                format!(
                    "tap {} is placed at {at}, after the server's now ({now}): its clock \
                     readings cannot be right",
                    taps[*i].tap.id
                ),
            );
            false
        });
        if fresh.is_empty() {
            let gaps = kiosk_ledger.gaps.clone();
            *ledger = Some((kiosk_ledger, version));
            return Ok(Some(self.answer(results, gaps)));
        }

        let at_of = |i: usize| placed[&i].0;
        let cards: Vec<&CardUid> = fresh.iter().map(|&i| &taps[i].tap.card).collect();
        let holders = self.holders(&cards).await?;
        let earliest = fresh.iter().map(|&i| at_of(i)).min();
        let latest = fresh.iter().map(|&i| at_of(i)).max();
        let venue = &taps[fresh[0]].tap.venue;
        let mut sessions = match (earliest, latest) {
            (Some(from), Some(to)) => self.sessions(venue, from, to).await?,
            _ => BTreeMap::new(),
        };
        let org = if sessions.is_empty() {
            OrgTree::default()
        } else {
            load::<OrgTree>(&self.store, ORG_STREAM, u64::MAX).await?.0
        };
        let cohorts = self.cohorts(&sessions).await?;
        let closed_years = self.closed_years(&sessions).await?;

        let meta = |tap: Uuid| Metadata {
            actor: Some(format!("kiosk:{}", kiosk.as_str())),
            source: Some("kiosk".into()),
            correlation_id: Some(tap),
            causation_id: None,
            at: None,
        };
        let mut tapped = Vec::new();
        let mut session_events: BTreeMap<SessionId, Vec<lectern_store::NewEvent>> = BTreeMap::new();
        for &i in &fresh {
            let t = &taps[i].tap;
            let (at, how) = placed[&i];
            let mut event = KioskEvent::CardTapped {
                tap: t.id,
                venue: t.venue.clone(),
                card: t.card.clone(),
                kiosk_time: t.kiosk_time,
                counter: t.counter,
                signature: taps[i].signature.clone(),
                decision: None,
                enrolment: enrolments.get(&i).copied(),
                clock: t.clock,
            };
            if let Err(e) = kiosk_ledger.decide(&event) {
                results[i] = refuse(i, format!("tap {}: {e}", t.id));
                continue;
            }
            let holder = match holders.get(&t.card) {
                None => CardHolder::Unknown,
                Some(h) if !h.active => CardHolder::Revoked {
                    staff_no: h.staff_no.clone(),
                },
                Some(h) => CardHolder::Active(Attendee {
                    staff_no: h.staff_no.clone(),
                    unit: h.unit.clone(),
                    programmes: cohorts
                        .iter()
                        .filter(|(_, people)| people.contains(&h.staff_no))
                        .map(|(p, _)| p.clone())
                        .collect(),
                }),
            };
            let picked = pick_session(sessions.values().map(|(s, _)| s), &t.venue, at)
                .and_then(|s| s.schedule.as_ref().map(|x| x.id));
            let outcome = match picked {
                None => match &holder {
                    CardHolder::Unknown => TapOutcome::Rejected(RejectReason::UnknownCard),
                    CardHolder::Revoked { .. } => TapOutcome::Rejected(RejectReason::RevokedCard),
                    CardHolder::Active(_) => {
                        let over = ended_session(sessions.values().map(|(s, _)| s), &t.venue, at);
                        TapOutcome::Rejected(if over.is_some() {
                            RejectReason::SessionOver
                        } else {
                            RejectReason::NoSessionNow
                        })
                    }
                },
                Some(id) => {
                    let (session, _) = sessions.get_mut(&id).expect("picked from these");
                    let command = SessionCommand::RecordTap {
                        tap: t.id,
                        card: t.card.clone(),
                        kiosk: kiosk.as_str().to_owned(),
                        holder: holder.clone(),
                        at,
                        year_closed: session.schedule.as_ref().is_some_and(|s| {
                            closed_years.contains(&self.campus.date(s.window.start()).year())
                        }),
                    };
                    let (outcome, events) = session
                        .decide_tap(&command, &org)
                        .map_err(|e| Error::internal(format!("deciding tap {}: {e}", t.id)))?;
                    for e in &events {
                        session
                            .apply(e)
                            .map_err(|err| Error::internal(format!("tap {}: {err}", t.id)))?;
                        session_events
                            .entry(id)
                            .or_default()
                            .push(encode(e).with_metadata(&meta(t.id)).occurred_at(at));
                    }
                    outcome
                }
            };
            let person = match &holder {
                CardHolder::Unknown => None,
                CardHolder::Revoked { staff_no } => Some(staff_no.clone()),
                CardHolder::Active(a) => Some(a.staff_no.clone()),
            };
            if let KioskEvent::CardTapped { decision, .. } = &mut event {
                *decision = Some(TapDecision {
                    at,
                    clock_offset_ms: (at - t.kiosk_time).num_milliseconds(),
                    placed: Some(how),
                    person: person.clone(),
                    session: picked,
                    outcome,
                });
            }
            kiosk_ledger
                .apply(&event)
                .map_err(|e| Error::internal(format!("tap {}: {e}", t.id)))?;
            tapped.push((
                i,
                encode(&event)
                    .with_id(t.id)
                    .with_metadata(&meta(t.id))
                    .occurred_at(at),
            ));
            results[i] = Some(TapResult {
                tap: t.id,
                outcome: Some(Outcome::from(&outcome)),
                refused: None,
                name: person
                    .as_ref()
                    .and_then(|p| holders.get(&t.card).filter(|h| &h.staff_no == p))
                    .map(|h| h.name.clone()),
                person: person.map(|p| p.as_str().to_owned()),
                session: picked,
                position: 0,
                duplicate: false,
            });
        }
        if tapped.is_empty() {
            let gaps = kiosk_ledger.gaps.clone();
            *ledger = Some((kiosk_ledger, version));
            return Ok(Some(self.answer(results, gaps)));
        }

        let count = tapped.len() as u64;
        let mut requests = vec![AppendRequest::new(
            stream.clone(),
            expected(version),
            tapped.iter().map(|(_, e)| e.clone()).collect(),
        )];
        for (id, events) in session_events {
            let (_, v) = &sessions[&id];
            requests.push(AppendRequest::new(session_stream(id), expected(*v), events));
        }
        let appended = match self.store.submit_all(requests).await {
            Ok(a) => a,
            Err(lectern_store::Error::WrongExpectedVersion { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        // The answer waits (briefly) for the read models, so that the
        // kiosk's next roster download shows its own check-ins; the taps
        // are recorded whether or not they catch up in time.
        let last = appended.iter().map(|a| a.last_position).max().unwrap_or(0);
        if let Some(settle) = self.settle
            && let Err(e) = self.projections.wait_for(last, settle).await
        {
            tracing::warn!(
                kiosk = kiosk.as_str(),
                "taps recorded; read models behind: {e}"
            );
        }
        let first = appended[0].first_position;
        for (k, (i, _)) in tapped.iter().enumerate() {
            if let Some(r) = results[*i].as_mut() {
                r.position = first + k as u64;
            }
        }
        let gaps = kiosk_ledger.gaps.clone();
        *ledger = Some((kiosk_ledger, version + count));
        Ok(Some(self.answer(results, gaps)))
    }

    /// Whose `cards` are (or were, for a revoked card), by card.
    async fn holders(&self, cards: &[&CardUid]) -> Result<HashMap<CardUid, Holder>> {
        let mut unique: Vec<&CardUid> = cards.to_vec();
        unique.sort();
        unique.dedup();
        let mut out = HashMap::new();
        for chunk in unique.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT c.uid, c.revoked, p.staff_no, p.name, p.unit, p.left_on FROM rm_cards c \
                 JOIN rm_people p ON p.staff_no = c.staff_no WHERE c.uid IN ({})",
                marks.join(", ")
            );
            let args: Vec<Val> = chunk.iter().map(|c| Val::from(c.as_str())).collect();
            for row in self.projections.db().fetch(&sql, &args).await? {
                out.insert(
                    CardUid::parse(&row.text("uid"))?,
                    Holder {
                        staff_no: StaffNo::parse(&row.text("staff_no"))?,
                        name: row.text("name"),
                        unit: UnitId::parse(&row.text("unit"))?,
                        // A card lost, replaced or taken back, or its
                        // holder gone: answered as revoked, naming them.
                        active: row.opt("revoked").is_none() && row.opt("left_on").is_none(),
                    },
                );
            }
        }
        Ok(out)
    }

    /// The sessions at `venue` a tap between `from` and `to` may belong
    /// to, or that ended not long before (`OVER_FOR`), folded from the log,
    /// with their stream versions.
    async fn sessions(
        &self,
        venue: &Slug,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeMap<SessionId, (Session, u64)>> {
        let rows = self
            .projections
            .db()
            .fetch(
                "SELECT id FROM rm_sessions WHERE venue = $1 AND starts_at <= $2 AND ends_at >= $3",
                &[
                    Val::from(venue.as_str()),
                    Val::from(timestamp(to + LONGEST_OPENING)),
                    Val::from(timestamp(from - OVER_FOR)),
                ],
            )
            .await?;
        let mut out = BTreeMap::new();
        for row in rows {
            let id = row.text("id");
            let id = Uuid::parse_str(&id)
                .map_err(|_| Error::internal(format!("rm_sessions holds a bad id {id:?}")))?;
            out.insert(
                id,
                load::<Session>(&self.store, &session_stream(id), u64::MAX).await?,
            );
        }
        Ok(out)
    }

    /// The appraisal years closed, when one of `sessions` lies in a year
    /// that has ended (only those can be closed).
    async fn closed_years(
        &self,
        sessions: &BTreeMap<SessionId, (Session, u64)>,
    ) -> Result<BTreeSet<i32>> {
        let this_year = self.campus.date(self.clock.now()).year();
        let past = sessions.values().any(|(s, _)| {
            s.schedule
                .as_ref()
                .is_some_and(|x| self.campus.date(x.window.start()).year() < this_year)
        });
        if !past {
            return Ok(BTreeSet::new());
        }
        let (book, _) = load::<RuleBook>(&self.store, APPRAISAL_STREAM, u64::MAX).await?;
        Ok(book.closed)
    }

    /// The participants of the programmes whose cohorts these sessions
    /// expect.
    async fn cohorts(
        &self,
        sessions: &BTreeMap<SessionId, (Session, u64)>,
    ) -> Result<Vec<(ProgrammeId, HashSet<StaffNo>)>> {
        let mut out: Vec<(ProgrammeId, HashSet<StaffNo>)> = Vec::new();
        for (s, _) in sessions.values() {
            let Some(Audience::Cohort { programme }) = s.schedule.as_ref().map(|x| &x.audience)
            else {
                continue;
            };
            if out.iter().any(|(p, _)| p == programme) {
                continue;
            }
            let p = load::<Programme>(&self.store, &programme_stream(programme), u64::MAX)
                .await?
                .0;
            out.push((programme.clone(), p.participants.into_keys().collect()));
        }
        Ok(out)
    }
}

/// A card's holder as `rm_people` has them.
struct Holder {
    staff_no: StaffNo,
    name: String,
    unit: UnitId,
    /// The card is the holder's current one and they are still on the
    /// staff.
    active: bool,
}

fn expected(version: u64) -> ExpectedVersion {
    if version == 0 {
        ExpectedVersion::NoStream
    } else {
        ExpectedVersion::Exact(version)
    }
}

fn refused(tap: Uuid, reason: String) -> TapResult {
    TapResult {
        tap,
        outcome: None,
        refused: Some(reason),
        person: None,
        name: None,
        session: None,
        position: 0,
        duplicate: false,
    }
}

/// The answer for a tap the log holds already: the decision recorded with
/// it, if the stored event is this very tap.
fn recorded_answer(stream: &str, t: &SignedTap, e: &RecordedEvent) -> Result<TapResult, String> {
    let elsewhere = || {
        format!(
            "tap id {} is already in the log as a different event (position {})",
            t.tap.id, e.position
        )
    };
    if e.stream_id != stream || e.event_type != "CardTapped" {
        return Err(elsewhere());
    }
    let stored: KioskEvent = serde_json::from_str(&e.payload).map_err(|_| elsewhere())?;
    let KioskEvent::CardTapped {
        venue,
        card,
        kiosk_time,
        counter,
        signature,
        decision,
        clock,
        ..
    } = stored
    else {
        return Err(elsewhere());
    };
    if venue != t.tap.venue
        || card != t.tap.card
        || kiosk_time != t.tap.kiosk_time
        || counter != t.tap.counter
        || clock != t.tap.clock
        || signature != t.signature
    {
        return Err(elsewhere());
    }
    let decision = decision.ok_or_else(|| {
        format!(
            "tap {} is in the log (position {}) without a decision",
            t.tap.id, e.position
        )
    })?;
    Ok(TapResult {
        tap: t.tap.id,
        outcome: Some(Outcome::from(&decision.outcome)),
        refused: None,
        person: decision.person.map(|p| p.as_str().to_owned()),
        name: None,
        session: decision.session,
        position: e.position,
        duplicate: true,
    })
}
