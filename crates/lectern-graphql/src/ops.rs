//! Operations and audit: where the read models stand, and the raw log.

use async_graphql::{Context, Object, SimpleObject};
use lectern_domain::Slug;

use crate::access::{self};
use crate::api::Api;
use crate::auth::Principal;
use crate::error::{ApiError, Code};

/// Where one read model stands.
#[derive(Debug, SimpleObject)]
pub(crate) struct ProjectionStatus {
    pub(crate) name: String,
    /// Every event up to this log position is in the read model.
    pub(crate) position: u64,
    /// Events behind the head of the log.
    pub(crate) lag: u64,
    /// Whether this server runs the projector; among servers sharing a
    /// database one does, and the others follow its checkpoint.
    pub(crate) leader: bool,
    /// The log position this server's projector stopped at, while its last
    /// attempt failed (it retries, backing off; writes waiting for it end
    /// with UNAVAILABLE naming it).
    pub(crate) failed_at: Option<u64>,
    /// Why it failed.
    pub(crate) failure: Option<String>,
}

/// An event of the log, as stored.
#[derive(Debug, SimpleObject)]
pub(crate) struct LogEvent {
    pub(crate) position: u64,
    pub(crate) stream_id: String,
    pub(crate) stream_version: u64,
    pub(crate) event_id: String,
    pub(crate) event_type: String,
    pub(crate) schema_version: u32,
    /// The payload, JSON as stored.
    pub(crate) payload: String,
    pub(crate) metadata: String,
    pub(crate) occurred_at: String,
    pub(crate) recorded_at: String,
    /// SHA-256 chain link, hex.
    pub(crate) hash: String,
}

/// A kiosk as the log knows it: its enrolment and its taps.
#[derive(Debug, SimpleObject)]
pub(crate) struct KioskStatus {
    pub(crate) id: String,
    /// The venue it is registered for (or of its latest tap).
    pub(crate) venue: String,
    /// When an administrator last registered it (and issued a code).
    pub(crate) registered_at: Option<String>,
    /// Whether it has enrolled with the code it was last registered with.
    pub(crate) enrolled: bool,
    /// The public key it enrolled with (hex), which verifies its taps.
    pub(crate) public_key: Option<String>,
    /// The kiosk program's version at enrolment.
    pub(crate) version: Option<String>,
    pub(crate) taps: i64,
    /// The last tap counter of its current enrolment (a device enrolled
    /// anew counts from 1).
    pub(crate) last_counter: Option<i64>,
    /// Counter ranges of the current enrolment never received (taps the
    /// kiosk made that the log lacks), as JSON pairs `[[from, to], ...]`.
    pub(crate) gaps: String,
    /// How many taps are missing, over every enrolment of the kiosk.
    pub(crate) missing: i64,
    /// The kiosk's clock at its latest tap.
    pub(crate) last_tap_at: Option<String>,
    /// When the server recorded its latest tap.
    pub(crate) last_seen: Option<String>,
    /// Kiosk clock minus server clock at that moment, in milliseconds
    /// (includes the time a tap waited in an offline queue).
    pub(crate) clock_skew_ms: Option<i64>,
    /// What it reported in its latest heartbeat.
    pub(crate) heartbeat: Option<KioskHeartbeat>,
    /// What needs someone's attention, by the server's clock (none: all
    /// is well).
    pub(crate) alarms: Vec<KioskAlarm>,
}

/// What is wrong with a kiosk.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(rename_items = "snake_case")]
pub(crate) enum KioskAlarmKind {
    /// Registered, but it has not enrolled with its code.
    NotEnrolled,
    /// Enrolled, and no heartbeat or tap has arrived since.
    NeverHeard,
    /// Enrolled, but not heard from (heartbeat or tap) for `SILENT_AFTER`
    /// or longer; `value` is the minutes since.
    Silent,
    /// Taps waiting in its queue at its latest heartbeat (`value`).
    Backlog,
    /// Its clock was off the server's by more than `CLOCK_OFF_MS` at its
    /// latest heartbeat; `value` is server minus kiosk in seconds.
    ClockOff,
    /// Taps it made that the log lacks (`value`; the gaps name them).
    MissingTaps,
    /// Its latest heartbeat said its card reader cannot be used
    /// (`heartbeat.readerFault` says why).
    ReaderFault,
    /// Its latest heartbeat said its queue's disk cannot take taps
    /// (`heartbeat.diskFault` says why).
    DiskFault,
    /// Its latest heartbeat said the server showed it a log that does not
    /// extend the one it saw before: history rewritten, or different
    /// histories shown to different kiosks (`heartbeat.witnessAlarm`).
    LogNotExtended,
}

/// One alarm of a kiosk.
#[derive(Debug, SimpleObject)]
pub(crate) struct KioskAlarm {
    pub(crate) kind: KioskAlarmKind,
    /// The figure behind it (see the kind).
    pub(crate) value: i64,
}

/// A kiosk beats every 30 seconds while it can reach the server.
const SILENT_AFTER: chrono::Duration = chrono::Duration::minutes(5);
/// Taps are placed in server time whatever the kiosk's clock says; an
/// offset this large still means its clock needs fixing.
const CLOCK_OFF_MS: i64 = 60_000;

impl KioskStatus {
    /// The alarms of this kiosk at `now`.
    fn alarms_at(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<KioskAlarm> {
        let alarm = |kind, value| KioskAlarm { kind, value };
        let mut out = Vec::new();
        if !self.enrolled {
            out.push(alarm(KioskAlarmKind::NotEnrolled, 0));
            return out;
        }
        let heard = [
            self.heartbeat.as_ref().map(|h| h.seen_at.as_str()),
            self.last_seen.as_deref(),
        ]
        .into_iter()
        .flatten()
        .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .max();
        match heard {
            Some(at) if now - at < SILENT_AFTER => {}
            Some(at) => out.push(alarm(KioskAlarmKind::Silent, (now - at).num_minutes())),
            None => out.push(alarm(KioskAlarmKind::NeverHeard, 0)),
        }
        if let Some(h) = &self.heartbeat {
            if h.backlog > 0 {
                out.push(alarm(KioskAlarmKind::Backlog, h.backlog));
            }
            if h.clock_offset_ms.abs() > CLOCK_OFF_MS {
                out.push(alarm(KioskAlarmKind::ClockOff, h.clock_offset_ms / 1000));
            }
            if h.reader_fault.is_some() {
                out.push(alarm(KioskAlarmKind::ReaderFault, 0));
            }
            if h.disk_fault.is_some() {
                out.push(alarm(KioskAlarmKind::DiskFault, 0));
            }
            if h.witness_alarm.is_some() {
                out.push(alarm(KioskAlarmKind::LogNotExtended, 0));
            }
        }
        if self.missing > 0 {
            out.push(alarm(KioskAlarmKind::MissingTaps, self.missing));
        }
        out
    }
}

/// A kiosk's latest heartbeat.
#[derive(Debug, SimpleObject)]
pub(crate) struct KioskHeartbeat {
    /// Server time when it arrived.
    pub(crate) seen_at: String,
    /// The kiosk's clock when it sent it.
    pub(crate) kiosk_time: String,
    /// Server clock minus kiosk clock, measured at arrival, in milliseconds.
    pub(crate) clock_offset_ms: i64,
    /// The kiosk program's version.
    pub(crate) version: String,
    /// Taps waiting in its queue.
    pub(crate) backlog: i64,
    /// When its latest tap was read.
    pub(crate) last_tap: Option<String>,
    /// What it said is wrong with its card reader (none: nothing, or a
    /// kiosk too old to say).
    pub(crate) reader_fault: Option<String>,
    /// What it said is wrong with the disk its queue is on.
    pub(crate) disk_fault: Option<String>,
    /// Why it refused the log the server showed it (none: it accepted it).
    pub(crate) witness_alarm: Option<String>,
}

impl From<lectern_store::RecordedEvent> for LogEvent {
    fn from(e: lectern_store::RecordedEvent) -> LogEvent {
        LogEvent {
            position: e.position,
            stream_id: e.stream_id,
            stream_version: e.stream_version,
            event_id: e.event_id.to_string(),
            event_type: e.event_type,
            schema_version: e.schema_version,
            payload: e.payload,
            metadata: e.metadata,
            occurred_at: lectern_projections::timestamp(e.occurred_at),
            recorded_at: lectern_projections::timestamp(e.recorded_at),
            hash: e.hash.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// What `auditVerify` found: the hash chain recomputed, then every signed
/// checkpoint checked against the log.
#[derive(SimpleObject)]
pub(crate) struct AuditReport {
    /// The chain verifies and every checkpoint holds.
    pub(crate) intact: bool,
    /// Events whose hash verified.
    pub(crate) events: u64,
    pub(crate) head_position: Option<u64>,
    /// Hex.
    pub(crate) head_hash: Option<String>,
    /// The first event that does not verify, and why.
    pub(crate) broken_at: Option<u64>,
    pub(crate) problem: Option<String>,
    /// Signed checkpoints checked.
    pub(crate) checkpoints: u64,
    /// The first checkpoint that fails (its size), and why.
    pub(crate) broken_checkpoint: Option<u64>,
    pub(crate) checkpoint_problem: Option<String>,
}

/// A signed checkpoint of the log: its size, the RFC 6962 Merkle root over
/// its events' chain hashes and its head hash, signed with the key
/// `keyId` names (see `checkpointKeys`). The signed bytes are
/// `lectern-checkpoint-v1`, size, root, headHash, signedAt (RFC 3339, UTC,
/// microseconds) and keyId, each on its own line.
#[derive(SimpleObject)]
pub(crate) struct SignedCheckpoint {
    pub(crate) size: u64,
    pub(crate) root: String,
    pub(crate) head_hash: String,
    pub(crate) signed_at: String,
    pub(crate) key_id: String,
    /// Ed25519, hex.
    pub(crate) signature: String,
    /// The same tree head as a C2SP signed note, as published at
    /// `/checkpoint` and checked by kiosks and outside witnesses (none for
    /// checkpoints signed before notes).
    pub(crate) note: Option<String>,
}

/// A key the server signs checkpoints with (Ed25519, hex).
#[derive(SimpleObject)]
pub(crate) struct CheckpointKey {
    pub(crate) key_id: String,
    pub(crate) public_key: String,
    pub(crate) created_at: String,
    /// When it was rotated out; it still verifies what it signed.
    pub(crate) retired_at: Option<String>,
}

#[derive(Default)]
pub(crate) struct OpsQuery;

#[Object]
impl OpsQuery {
    /// The read models and their lag (administrators and auditors).
    async fn projections(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ProjectionStatus>> {
        let api = ctx.data_unchecked::<Api>();
        let status = api.app.projections.status().await.map_err(ApiError::from)?;
        Ok(status
            .into_iter()
            .map(|s| ProjectionStatus {
                name: s.name.to_owned(),
                position: s.position,
                lag: s.lag,
                leader: s.leader,
                failed_at: s.failure.as_ref().map(|f| f.position),
                failure: s.failure.map(|f| f.reason),
            })
            .collect())
    }

    /// Recomputes the whole hash chain and checks every signed checkpoint
    /// against the log (auditors and administrators; reads every event).
    #[graphql(complexity = "crate::page::VERIFY_COST")]
    async fn audit_verify(&self, ctx: &Context<'_>) -> async_graphql::Result<AuditReport> {
        let api = ctx.data_unchecked::<Api>();
        let Ok(_one_at_a_time) = api.verifying.try_lock() else {
            return Err(ApiError::new(
                Code::Unavailable,
                "another verification of the log is running on this server; retry when it \
                 has finished",
            )
            .into());
        };
        let audit = lectern_audit::checkpoints::audit(&api.app.store, api.db())
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let v = &audit.verification;
        Ok(AuditReport {
            intact: v.is_intact() && audit.bad_checkpoint.is_none(),
            events: v.checked,
            head_position: v.head.map(|(p, _)| p),
            head_hash: v.head.map(|(_, h)| lectern_audit::checkpoints::hex(&h)),
            broken_at: v.first_bad.as_ref().map(|b| b.position),
            problem: v.first_bad.as_ref().map(ToString::to_string),
            checkpoints: audit.checkpoints as u64,
            broken_checkpoint: audit.bad_checkpoint.as_ref().map(|(s, _)| *s),
            checkpoint_problem: audit.bad_checkpoint.map(|(_, why)| why),
        })
    }

    /// The signed checkpoints of the log, oldest first (anyone signed in:
    /// they are what a person contesting a record checks against).
    async fn checkpoints(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SignedCheckpoint>> {
        access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let list = lectern_audit::checkpoints::list(api.db())
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(list
            .into_iter()
            .map(|c| SignedCheckpoint {
                size: c.size,
                root: c.root,
                head_hash: c.head_hash,
                signed_at: c
                    .signed_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                key_id: c.key_id,
                signature: c.signature,
                note: c.note,
            })
            .collect())
    }

    /// A proof that the event at `position` is in the log of the signed
    /// checkpoint of `size` events (default: the latest), as JSON in the
    /// format `lectern audit prove` writes, which `lectern audit
    /// check-proof` checks with no database (auditors and administrators).
    #[graphql(complexity = "crate::page::REPLAY_COST")]
    async fn inclusion_proof(
        &self,
        ctx: &Context<'_>,
        position: u64,
        size: Option<u64>,
    ) -> async_graphql::Result<String> {
        let api = ctx.data_unchecked::<Api>();
        use lectern_audit::checkpoints::{self as cp, ProofFile};
        let refused = |e: lectern_audit::Error| match e {
            lectern_audit::Error::Invalid { .. } | lectern_audit::Error::Refused(_) => {
                ApiError::bad_input(e.to_string())
            }
            other => ApiError::new(crate::error::Code::Conflict, other.to_string()),
        };
        let (proof, checkpoint) = cp::prove_inclusion(&api.app.store, api.db(), position, size)
            .await
            .map_err(refused)?;
        let public_key = cp::public_key(api.db(), &checkpoint.key_id)
            .await
            .map_err(refused)?;
        Ok(serde_json::to_string(&ProofFile::Inclusion {
            proof,
            checkpoint,
            public_key,
        })
        .map_err(ApiError::internal)?)
    }

    /// The public keys checkpoints are signed with, retired ones included
    /// (anyone signed in).
    async fn checkpoint_keys(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<CheckpointKey>> {
        access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let keys = lectern_audit::checkpoints::keys(api.db())
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(keys
            .into_iter()
            .map(|k| CheckpointKey {
                key_id: k.key_id,
                public_key: k.public_key,
                created_at: k.created_at,
                retired_at: k.retired_at,
            })
            .collect())
    }

    /// Kiosks and their status (administrators and auditors).
    async fn kiosks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<KioskStatus>> {
        let api = ctx.data_unchecked::<Api>();
        let rows = api
            .db()
            .fetch(
                "SELECT k.id, k.venue, k.taps, k.last_counter, k.gaps, k.missing, k.last_tap_at, \
                 k.last_seen, k.clock_skew_ms, k.registered_at, k.public_key, k.version, \
                 h.seen_at, h.kiosk_time, h.clock_offset_ms, h.version AS beat_version, h.backlog, \
                 h.last_tap, h.reader_fault, h.disk_fault, h.witness_alarm \
                 FROM rm_kiosks k LEFT JOIN kiosk_heartbeats h ON h.kiosk = k.id ORDER BY k.id",
                &[],
            )
            .await
            .map_err(ApiError::from)?;
        let now = api.app.clock.now();
        Ok(rows
            .iter()
            .map(|r| KioskStatus {
                alarms: Vec::new(),
                id: r.text("id"),
                venue: r.text("venue"),
                taps: r.int("taps"),
                last_counter: r.int_opt("last_counter"),
                gaps: r.text("gaps"),
                missing: r.int("missing"),
                last_tap_at: r.opt("last_tap_at"),
                last_seen: r.opt("last_seen"),
                clock_skew_ms: r.int_opt("clock_skew_ms"),
                registered_at: r.opt("registered_at"),
                enrolled: r.opt("public_key").is_some(),
                public_key: r.opt("public_key"),
                version: r.opt("version"),
                heartbeat: r.opt("seen_at").map(|seen_at| KioskHeartbeat {
                    seen_at,
                    kiosk_time: r.text("kiosk_time"),
                    clock_offset_ms: r.int("clock_offset_ms"),
                    version: r.text("beat_version"),
                    backlog: r.int("backlog"),
                    last_tap: r.opt("last_tap"),
                    reader_fault: r.opt("reader_fault"),
                    disk_fault: r.opt("disk_fault"),
                    witness_alarm: r.opt("witness_alarm"),
                }),
            })
            .map(|mut k| {
                k.alarms = k.alarms_at(now);
                k
            })
            .collect())
    }

    /// Raw events after a position (auditors and administrators), at most
    /// `first` (≤ 100), optionally of one stream. Card UIDs in payloads are
    /// masked except for administrators; the hash is the stored event's.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0)] after: u64,
        first: Option<i32>,
        stream: Option<String>,
    ) -> async_graphql::Result<Vec<LogEvent>> {
        let caller = access::caller(ctx)?;
        let n = crate::page::page_size(first)?;
        let api = ctx.data_unchecked::<Api>();
        let events = match stream {
            Some(s) => {
                // A stream is read in pages, so a long one (a kiosk's taps)
                // is never held whole.
                let mut out = Vec::with_capacity(n);
                let mut version = 0;
                while out.len() < n {
                    let page = api
                        .app
                        .store
                        .read_stream(&s, version + 1, 1000)
                        .await
                        .map_err(ApiError::from)?;
                    let full = page.len() == 1000;
                    for e in page {
                        version = e.stream_version;
                        if e.position > after && out.len() < n {
                            out.push(e);
                        }
                    }
                    if !full {
                        break;
                    }
                }
                out
            }
            None => api
                .app
                .store
                .read_all(after, n, None)
                .await
                .map_err(ApiError::from)?,
        };
        // Card UIDs are an administrator's; an auditor keeps the position
        // and hash that prove the event.
        let admin = matches!(caller.principal, Principal::Administrator);
        Ok(events
            .into_iter()
            .map(|mut e| {
                if !admin {
                    e.payload = crate::appraisal::mask_cards(&e.payload);
                }
                LogEvent::from(e)
            })
            .collect())
    }
}

/// A kiosk registered for a venue, and the one-time code it enrols with.
#[derive(Debug, SimpleObject)]
pub(crate) struct KioskRegistration {
    pub(crate) kiosk: String,
    pub(crate) venue: String,
    /// Shown once: type it into the kiosk (`lectern-kiosk enrol`). The log
    /// keeps only its hash.
    pub(crate) code: String,
    pub(crate) position: u64,
}

#[derive(Default)]
pub(crate) struct OpsMutation;

#[Object]
impl OpsMutation {
    /// Registers a kiosk for a venue (administrators) and issues a
    /// one-time enrolment code. Registering a kiosk again (a replaced
    /// device) issues a new code; its old key is void until it enrols.
    async fn register_kiosk(
        &self,
        ctx: &Context<'_>,
        id: String,
        venue: String,
    ) -> async_graphql::Result<KioskRegistration> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let kiosk = Slug::parse(&id)?;
        let venue = Slug::parse(&venue)?;
        let at = api.app.clock.now();
        let registered =
            lectern_app::kiosks::register(&api.app.store, &api.meta(caller), &kiosk, &venue, at)
                .await?;
        lectern_app::settle(&api.app.projections, registered.position).await?;
        Ok(KioskRegistration {
            kiosk: kiosk.as_str().to_owned(),
            venue: venue.as_str().to_owned(),
            code: registered.code,
            position: registered.position,
        })
    }
}
