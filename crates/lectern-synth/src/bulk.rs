//! A synthetic campus, deterministic from a seed, for the benchmarks and
//! the tests that need a big log fast (`lectern demo` makes the realistic
//! one, through the tap ingestion): a unit tree, staff with cards,
//! scoring rules, and every department's Tuesday-afternoon study week
//! after week, with card taps at kiosks, leave, lateness and absences.
//!
//! Every event is decided by the domain against the state folded so far
//! (held in memory, so generation is fast) and appended through the store
//! with the version checks and unique keys the command path would use;
//! many streams go in one transaction.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use lectern_domain::{
    APPRAISAL_STREAM, Aggregate, AppraisalCommand, Attendee, Audience, AwardLevel, Campus,
    CardHolder, CardUid, CheckInRules, DomainEvent, KeyChange, KioskEvent, Name, ORG_STREAM,
    OrgCommand, OrgTree, Person, PersonCommand, Registration, RuleBook, Schedule, ScoringRules,
    Session, SessionCommand, SessionKind, Slug, StaffCategory, StaffNo, TapDecision, TimeWindow,
    UnitId, UnitKind, kiosk_stream, person_stream, session_stream,
};
use lectern_projections::encode;
use lectern_store::{AppendRequest, ExpectedVersion, Metadata, NewEvent, Store, UniqueKey};
use uuid::Uuid;

use crate::rng::Rng;

/// What was generated, for picking requests.
#[derive(Debug, Default)]
pub struct Synth {
    pub units: Vec<UnitId>,
    pub people: Vec<StaffNo>,
    /// Session ids with their organising unit and campus date.
    pub sessions: Vec<(Uuid, UnitId, NaiveDate)>,
    pub events: u64,
    /// Card taps (`CardTapped`, with the server's decision) among them.
    pub taps: u64,
}

/// The card the synthetic campus issued to staff number `no`.
pub fn card_of(no: &StaffNo) -> anyhow::Result<CardUid> {
    Ok(CardUid::parse(&format!(
        "04{:012X}",
        0xA1_0000_0000u64 + no.as_str()[1..].parse::<u64>()? - 100_000
    ))?)
}

fn slug(s: &str) -> Slug {
    Slug::parse(s).expect("generated ids are valid")
}

/// Decides with `state`, applies what was decided, and returns the events.
pub fn decided<A: Aggregate>(
    state: &mut A,
    decide: impl FnOnce(&A) -> lectern_domain::Result<Vec<A::Event>>,
) -> anyhow::Result<Vec<A::Event>> {
    let events = decide(state).map_err(|e| anyhow::anyhow!("generated command refused: {e}"))?;
    for e in &events {
        state
            .apply(e)
            .map_err(|err| anyhow::anyhow!("generated event does not fold: {err}"))?;
    }
    Ok(events)
}

fn new_events<E: DomainEvent>(events: &[(E, DateTime<Utc>)], meta: &Metadata) -> Vec<NewEvent> {
    events
        .iter()
        .map(|(e, at)| encode(e).occurred_at(*at).with_metadata(meta))
        .collect()
}

/// Appends requests 40 to a transaction (`Store::submit_all`).
pub struct Writer<'a> {
    pub store: &'a Store,
    pub pending: Vec<AppendRequest>,
    /// Events pushed so far.
    pub events: u64,
}

impl Writer<'_> {
    pub async fn push(&mut self, request: AppendRequest, events: usize) -> anyhow::Result<()> {
        self.pending.push(request);
        self.events += events as u64;
        if self.pending.len() >= 40 {
            self.flush().await?;
        }
        Ok(())
    }

    pub async fn flush(&mut self) -> anyhow::Result<()> {
        if !self.pending.is_empty() {
            let batch = std::mem::take(&mut self.pending);
            self.store
                .submit_all(batch)
                .await
                .context("appending a generated campus")?;
        }
        Ok(())
    }
}

/// Generates a campus of about `target` events into an empty log.
///
/// Boxed here and never inlined, so the body compiles in this crate only
/// (ARCHITECTURE.md: the build rule for async entry points).
#[inline(never)]
pub fn generate(
    store: &Store,
    target: u64,
    seed: u64,
) -> std::pin::Pin<Box<dyn Future<Output = anyhow::Result<Synth>> + Send + '_>> {
    Box::pin(make(store, target, seed))
}

async fn make(store: &Store, target: u64, seed: u64) -> anyhow::Result<Synth> {
    let campus = Campus::default();
    let meta = Metadata {
        actor: Some("system".into()),
        source: Some("synth".into()),
        ..Metadata::default()
    };
    let mut rng = Rng::new(seed);
    let mut out = Synth::default();
    let mut w = Writer {
        store,
        pending: Vec::new(),
        events: 0,
    };
    let start = NaiveDate::from_ymd_opt(2006, 9, 5).expect("a Tuesday");
    let t0 = campus.at(start - Duration::days(7), NaiveTime::MIN)?;

    // The unit tree: a university, four schools of eight departments, and
    // four offices.
    let mut org = OrgTree::default();
    let mut org_events = Vec::new();
    let mut establish = |unit: &str, kind, parent: Option<&str>| -> anyhow::Result<()> {
        let cmd = OrgCommand::EstablishUnit {
            unit: slug(unit),
            name: Name::parse(&format!("单位 {unit}"))?,
            kind,
            parent: parent.map(slug),
        };
        org_events.extend(decided(&mut org, |o| o.decide(&cmd))?);
        Ok(())
    };
    establish("uni", UnitKind::University, None)?;
    for s in 1..=4 {
        let school = format!("school-{s}");
        establish(&school, UnitKind::School, Some("uni"))?;
        for d in 1..=8 {
            let dept = format!("dept-{s}-{d}");
            establish(&dept, UnitKind::Department, Some(&school))?;
            out.units.push(slug(&dept));
        }
        let office = format!("office-{s}");
        establish(&office, UnitKind::Office, Some("uni"))?;
        out.units.push(slug(&office));
    }
    let stamped: Vec<_> = org_events.iter().map(|e| (e.clone(), t0)).collect();
    let n = stamped.len();
    w.push(
        AppendRequest::new(
            ORG_STREAM,
            ExpectedVersion::NoStream,
            new_events(&stamped, &meta),
        ),
        n,
    )
    .await?;

    // Staff, about 75 a unit, each with a card.
    let people_count = (target / 330).clamp(40, 3000);
    let mut members: BTreeMap<UnitId, Vec<StaffNo>> = BTreeMap::new();
    for i in 0..people_count {
        let no = StaffNo::parse(&format!("T{:06}", 100_000 + i))?;
        let unit = out.units[(i % out.units.len() as u64) as usize].clone();
        let registration = Registration {
            staff_no: no.clone(),
            name: rng.chinese_name(),
            unit: unit.clone(),
            category: if i % 5 == 4 {
                StaffCategory::Administrator
            } else {
                StaffCategory::Teacher
            },
            birth_date: NaiveDate::from_ymd_opt(1955 + (i % 30) as i32, 1 + (i % 12) as u32, 10),
            hire_date: NaiveDate::from_ymd_opt(1990 + (i % 15) as i32, 9, 1).expect("a date"),
        };
        let uid = card_of(&no)?;
        let mut person = Person::default();
        let mut events = decided(&mut person, |p| {
            p.decide(&PersonCommand::Register(registration.clone()), &org)
        })?;
        events.extend(decided(&mut person, |p| {
            p.decide(&PersonCommand::IssueCard { uid: uid.clone() }, &org)
        })?);
        let mut request = AppendRequest::new(
            person_stream(&no),
            ExpectedVersion::NoStream,
            new_events(
                &events.iter().map(|e| (e.clone(), t0)).collect::<Vec<_>>(),
                &meta,
            ),
        );
        for k in Person::key_changes(&events) {
            if let KeyChange::Claim { scope, key } = k {
                request = request.claim(UniqueKey::new(scope, key));
            }
        }
        w.push(request, events.len()).await?;
        members.entry(unit).or_default().push(no.clone());
        out.people.push(no);
    }

    // Scoring rules from the start of the campaign.
    let mut book = RuleBook::default();
    let rules = ScoringRules {
        version: 1,
        effective_from: NaiveDate::from_ymd_opt(2005, 9, 1).expect("a date"),
        base_points: 100,
        per_absence: 5,
        per_late: 2,
        per_missed_task: 3,
        award_bonus: [(AwardLevel::University, 5), (AwardLevel::City, 10)]
            .into_iter()
            .collect(),
        per_late_report: 10,
        report_due_day: 5,
        unit: Default::default(),
    };
    let events = decided(&mut book, |b| {
        b.decide(&AppraisalCommand::AdoptRules { rules })
    })?;
    let stamped: Vec<_> = events.iter().map(|e| (e.clone(), t0)).collect();
    w.push(
        AppendRequest::new(
            APPRAISAL_STREAM,
            ExpectedVersion::NoStream,
            new_events(&stamped, &meta),
        ),
        stamped.len(),
    )
    .await?;

    // Tuesday-afternoon study, week after week, until the log is big enough.
    let mut counters: BTreeMap<UnitId, u64> = BTreeMap::new();
    let mut tap_seq = 0u128;
    let mut week = 0i64;
    'weeks: loop {
        let day = start + Duration::weeks(week);
        let begins = campus.at(day, NaiveTime::from_hms_opt(14, 30, 0).expect("a time"))?;
        for unit in &out.units {
            if w.events >= target {
                break 'weeks;
            }
            let Some(staff) = members.get(unit) else {
                continue;
            };
            let id = Uuid::from_u128(
                (u128::from(seed) << 64) | ((week as u128) << 16) | (out.sessions.len() as u128),
            );
            let venue = slug(&format!("hall-{unit}"));
            let schedule = Schedule {
                id,
                kind: SessionKind::CentralizedStudy,
                title: Name::parse(&format!("{unit} 集中学习 第{}周", week + 1))?,
                programme: None,
                organiser: unit.clone(),
                venue: venue.clone(),
                window: TimeWindow::new(begins, begins + Duration::minutes(90))?,
                check_in: CheckInRules::default(),
                audience: Audience::Units {
                    units: vec![unit.clone()],
                },
                speakers: vec![],
                series: None,
            };
            let mut session = Session::default();
            let mut events: Vec<_> = decided(&mut session, |s| {
                s.decide(&SessionCommand::Schedule(schedule.clone()), &org)
            })?
            .into_iter()
            .map(|e| (e, begins - Duration::days(6)))
            .collect();
            let mut taps = Vec::new();
            for no in staff {
                let roll = rng.below(100);
                if roll < 3 {
                    let ask = begins - Duration::days(1);
                    let request = SessionCommand::RequestLeave {
                        person: no.clone(),
                        reason: "外出开会".into(),
                        at: ask,
                    };
                    let approve = SessionCommand::ApproveLeave {
                        person: no.clone(),
                        approver: staff[0].clone(),
                    };
                    for cmd in [request, approve] {
                        for e in decided(&mut session, |s| s.decide(&cmd, &org))? {
                            events.push((e, ask));
                        }
                    }
                    continue;
                }
                if roll >= 95 {
                    continue; // absent
                }
                let at = if roll < 88 {
                    begins - Duration::minutes(15) + Duration::seconds(rng.below(1200) as i64)
                } else {
                    begins + Duration::minutes(15 + rng.below(45) as i64)
                };
                let counter = counters.entry(unit.clone()).or_default();
                *counter += 1;
                tap_seq += 1;
                let tap = Uuid::from_u128((u128::from(seed) << 64) | (1 << 63) | tap_seq);
                let card = card_of(no)?;
                let cmd = SessionCommand::RecordTap {
                    tap,
                    card: card.clone(),
                    kiosk: format!("kiosk-{unit}"),
                    holder: CardHolder::Active(Attendee {
                        staff_no: no.clone(),
                        unit: unit.clone(),
                        programmes: vec![],
                    }),
                    at,
                    year_closed: false,
                };
                let (outcome, recorded) = session
                    .decide_tap(&cmd, &org)
                    .map_err(|e| anyhow::anyhow!("generated tap refused: {e}"))?;
                taps.push((
                    KioskEvent::CardTapped {
                        tap,
                        venue: venue.clone(),
                        card: card.clone(),
                        kiosk_time: at,
                        counter: *counter,
                        signature: "5a".repeat(64),
                        decision: Some(TapDecision {
                            at,
                            clock_offset_ms: 0,
                            placed: None,
                            person: Some(no.clone()),
                            session: Some(id),
                            outcome,
                        }),
                        enrolment: None,
                        clock: None,
                    },
                    at,
                ));

                for e in recorded {
                    session
                        .apply(&e)
                        .map_err(|err| anyhow::anyhow!("generated tap does not fold: {err}"))?;
                    events.push((e, at));
                }
            }
            let closes = begins + Duration::minutes(100);
            let close = SessionCommand::Close {
                at: closes,
                audience: staff.clone(),
                kiosks_behind: vec![],
            };
            for e in decided(&mut session, |s| s.decide(&close, &org))? {
                events.push((e, closes));
            }
            let n = events.len() + taps.len();
            w.push(
                AppendRequest::new(
                    session_stream(id),
                    ExpectedVersion::NoStream,
                    new_events(&events, &meta),
                ),
                0,
            )
            .await?;
            if taps.is_empty() {
                w.events += n as u64;
            } else {
                w.push(
                    AppendRequest::new(
                        kiosk_stream(&format!("kiosk-{unit}")),
                        ExpectedVersion::Any,
                        new_events(&taps, &meta),
                    ),
                    n,
                )
                .await?;
            }
            out.sessions.push((id, unit.clone(), day));
        }
        week += 1;
    }
    w.flush().await?;
    out.events = store.head().await?;
    out.taps = u64::try_from(tap_seq)?;
    Ok(out)
}
