//! `flags`: the proxy-tap rules (`lectern_domain::Analyzer`) run over the
//! raw taps as they arrive, and the flags they raise.
//!
//! Unlike the other projectors this one also writes to the log: what the
//! rules find is recorded as events on the flag's stream (`FlagRaised`,
//! `FlagEvidenceAdded`), so that a flag is a fact an auditor can replay and
//! a review (`FlagReviewed`) can refer to. Recording is idempotent: the
//! stream is folded first and only what it lacks is appended, so a batch
//! applied again (a restart, a rebuild, two servers leading for a moment)
//! appends nothing twice. The rows come from the log alone: `flags` and
//! `flag_people` from the flag events, `flag_evidence` from the taps behind
//! each finding, with when the flag events recorded them, so the flags can
//! be shown as the log held them at any moment.
//!
//! The rules read the taps, the sessions' schedules (for their late line
//! and check-in window) and approved leave. The analyzer's memory is a
//! cache: a fresh projector first reads every such event before the one it
//! starts at.

use lectern_domain::{
    Analyzer, Campus, Evidence, Finding, Flag, FlagEvent, FlagThresholds, KioskEvent, SeenTap,
    SessionEvent, SessionTimes, flag_stream,
};
use lectern_store::{Metadata, RecordedEvent, Store};

use super::text;
use crate::codec;
use crate::error::{Error, Result};
use crate::projector::{Cx, Projector, Table};
use crate::runner::Options;

#[derive(Debug, Default)]
pub struct FlagsProjector {
    thresholds: FlagThresholds,
    /// Fed every event it reads (`feed`) before the event being applied
    /// (`None`: not yet).
    analyzer: Option<Analyzer>,
}

/// A `CardTapped` event as the rules see it (`None`: a tap without the
/// server's decision, or of no known card, which no rule is about).
fn seen(event: &RecordedEvent) -> Result<Option<SeenTap>> {
    let Some(kiosk) = event.stream_id.strip_prefix("kiosk-") else {
        return Ok(None);
    };
    let KioskEvent::CardTapped {
        tap,
        venue,
        card,
        decision: Some(decision),
        ..
    } = codec::decode(event)?
    else {
        return Ok(None);
    };
    if decision.person.is_none() {
        return Ok(None);
    }
    Ok(Some(SeenTap {
        position: event.position,
        tap,
        kiosk: kiosk.to_owned(),
        venue,
        card,
        person: decision.person,
        at: decision.at,
        session: decision.session,
        outcome: decision.outcome,
    }))
}

/// Feeds `event` (a tap, a schedule, a leave) to `analyzer`: what the
/// rules found.
fn feed(analyzer: &mut Analyzer, event: &RecordedEvent) -> Result<Vec<Finding>> {
    let Some(id) = event.stream_id.strip_prefix("session-") else {
        return Ok(seen(event)?.map(|t| analyzer.see(t)).unwrap_or_default());
    };
    let session = id
        .parse()
        .map_err(|_| Error::Corrupt(format!("stream {} names no session", event.stream_id)))?;
    match codec::decode::<SessionEvent>(event)? {
        SessionEvent::SessionScheduled(s) => {
            analyzer.schedule(session, SessionTimes::new(&s.window, s.check_in));
        }
        SessionEvent::SessionRescheduled { window, .. } => analyzer.reschedule(session, &window),
        SessionEvent::SessionCancelled { .. } => analyzer.cancel(session),
        SessionEvent::LeaveApproved { person, .. } => return Ok(analyzer.leave(session, &person)),
        _ => {}
    }
    Ok(vec![])
}

impl FlagsProjector {
    /// An analyzer with this projector's thresholds, fed every event it
    /// reads before `before` (the taps, schedules and leave of
    /// `EVENT_TYPES`, not the flag events).
    async fn analyzer_before(&self, store: &Store, before: u64) -> Result<Analyzer> {
        let mut analyzer = Analyzer::new(self.thresholds.clone(), Campus::default());
        let types: Vec<String> = Self::EVENT_TYPES
            .iter()
            .filter(|t| !t.starts_with("Flag"))
            .map(|t| (*t).to_owned())
            .collect();
        let mut after = 0;
        'pages: loop {
            let page = store.read_all(after, 5000, Some(&types)).await?;
            let full = page.len() == 5000;
            for e in &page {
                if e.position >= before {
                    break 'pages;
                }
                after = e.position;
                feed(&mut analyzer, e)?;
            }
            if !full {
                break;
            }
        }
        Ok(analyzer)
    }
}

/// Records `finding` on its flag's stream: what the stream lacks of it.
async fn record(store: &Store, finding: &Finding, cause: &RecordedEvent) -> Result<()> {
    let stream = flag_stream(&finding.key);
    let meta = Metadata {
        actor: Some("system".to_owned()),
        source: Some("analyzer".to_owned()),
        causation_id: Some(cause.event_id),
        ..Metadata::default()
    };
    // Another server recording the same finding at once: fold again.
    for _ in 0..3 {
        let (flag, version) = codec::load::<Flag>(store, &stream, u64::MAX).await?;
        let events = flag.record(finding);
        if events.is_empty() {
            return Ok(());
        }
        match codec::commit(store, &stream, version, &events, &[], &meta).await {
            Ok(_) => return Ok(()),
            Err(Error::Store(e)) if e.is_conflict() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Corrupt(format!(
        "flag {} kept changing while it was recorded",
        finding.key
    )))
}

impl Projector for FlagsProjector {
    fn configured(opts: &Options) -> Self {
        FlagsProjector {
            thresholds: opts.flags.clone(),
            analyzer: None,
        }
    }

    const NAME: &'static str = "flags";
    const VERSION: i64 = 2;
    const TABLES: &'static [Table] = &[
        Table {
            name: "flags",
            columns: "key TEXT PRIMARY KEY, rule TEXT NOT NULL, rule_version BIGINT NOT NULL, \
                      people TEXT NOT NULL, taps BIGINT NOT NULL, position BIGINT NOT NULL, \
                      raised_at TEXT NOT NULL, status TEXT NOT NULL, reviewer TEXT, \
                      reason TEXT, reviewed_at TEXT, review_logged_at TEXT",
            indexes: &["position", "rule, position"],
        },
        Table {
            name: "flag_people",
            columns: "key TEXT NOT NULL, staff_no TEXT NOT NULL, PRIMARY KEY (key, staff_no)",
            indexes: &["staff_no"],
        },
        Table {
            // The taps behind each flag, with what the rules saw of them,
            // and when the log recorded them as the flag's (`added_at`).
            name: "flag_evidence",
            columns: "key TEXT NOT NULL, position BIGINT NOT NULL, tap TEXT NOT NULL, \
                      kiosk TEXT NOT NULL, venue TEXT NOT NULL, card TEXT NOT NULL, \
                      staff_no TEXT, read_at TEXT NOT NULL, session_id TEXT, added_at TEXT, \
                      PRIMARY KEY (key, position)",
            indexes: &["session_id"],
        },
    ];
    const AWAITED: bool = false;
    const EVENT_TYPES: &'static [&'static str] = &[
        "CardTapped",
        "SessionScheduled",
        "SessionRescheduled",
        "SessionCancelled",
        "LeaveApproved",
        "FlagRaised",
        "FlagEvidenceAdded",
        "FlagReviewed",
    ];

    async fn apply(&mut self, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
        if let Some(key) = event.stream_id.strip_prefix("flag-") {
            return apply_flag(key, event, cx);
        }
        if self.analyzer.is_none() {
            self.analyzer = Some(self.analyzer_before(cx.store, event.position).await?);
        }
        let analyzer = self.analyzer.as_mut().expect("loaded above");
        for finding in &feed(analyzer, event)? {
            record(cx.store, finding, event).await?;
            for e in &finding.evidence {
                let Some(t) = analyzer.tap(e.position) else {
                    continue;
                };
                cx.exec(
                    "INSERT INTO {flag_evidence} (key, position, tap, kiosk, venue, card, \
                     staff_no, read_at, session_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (key, position) DO NOTHING",
                    vec![
                        finding.key.as_str().into(),
                        t.position.into(),
                        t.tap.to_string().into(),
                        t.kiosk.as_str().into(),
                        t.venue.as_str().into(),
                        t.card.as_str().into(),
                        t.person.as_ref().map(|p| p.as_str().to_owned()).into(),
                        t.at.into(),
                        t.session.map(|s| s.to_string()).into(),
                    ],
                );
            }
        }
        Ok(())
    }
}

/// Notes when the log recorded `evidence` as the flag `key`'s (the rows
/// were written when the rules found them, just before).
fn added(key: &str, evidence: &[Evidence], event: &RecordedEvent, cx: &mut Cx<'_>) {
    for e in evidence {
        cx.exec(
            "UPDATE {flag_evidence} SET added_at = $3 WHERE key = $1 AND position = $2",
            vec![key.into(), e.position.into(), event.recorded_at.into()],
        );
    }
}

/// A flag event: its row, its people, its review.
fn apply_flag(key: &str, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
    match codec::decode::<FlagEvent>(event)? {
        FlagEvent::FlagRaised {
            rule,
            rule_version,
            people,
            evidence,
        } => {
            cx.exec(
                "INSERT INTO {flags} (key, rule, rule_version, people, taps, position, \
                 raised_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open') \
                 ON CONFLICT (key) DO NOTHING",
                vec![
                    key.into(),
                    text(&rule).into(),
                    i64::from(rule_version).into(),
                    text(&people).into(),
                    (evidence.len() as u64).into(),
                    event.position.into(),
                    event.recorded_at.into(),
                ],
            );
            for p in &people {
                cx.exec(
                    "INSERT INTO {flag_people} (key, staff_no) VALUES ($1, $2) \
                     ON CONFLICT (key, staff_no) DO NOTHING",
                    vec![key.into(), p.as_str().into()],
                );
            }
            added(key, &evidence, event, cx);
        }
        FlagEvent::FlagEvidenceAdded { evidence } => {
            cx.exec(
                "UPDATE {flags} SET taps = taps + $2 WHERE key = $1",
                vec![key.into(), (evidence.len() as u64).into()],
            );
            added(key, &evidence, event, cx);
        }
        FlagEvent::FlagReviewed {
            verdict,
            reason,
            reviewer,
            at,
        } => cx.exec(
            "UPDATE {flags} SET status = $2, reviewer = $3, reason = $4, reviewed_at = $5, \
             review_logged_at = $6 WHERE key = $1",
            vec![
                key.into(),
                verdict.as_str().into(),
                reviewer.as_str().into(),
                reason.into(),
                at.into(),
                event.recorded_at.into(),
            ],
        ),
    }
    Ok(())
}
