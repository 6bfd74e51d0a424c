//! `programmes`: the campaign's programmes (the Young Teacher Navigation
//! Programme, the Ethics Month, ...), their annual plans, notices and
//! participants, and the programme report (sessions held by kind and
//! distinct participants, per year and over the whole programme) computed
//! by the domain's `programme_report` fold.
//!
//! The report only changes when one of the programme's sessions closes, is
//! cancelled, or has attendance corrected after closing, so it is
//! recomputed then, from the histories of the programme's sessions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use lectern_domain::{
    Campus, Programme, ProgrammeEvent, ProgrammeId, SessionEvent, programme_report,
};
use lectern_store::RecordedEvent;

use super::{States, text};
use crate::codec::{decode, history};
use crate::error::{Error, Result};
use crate::projector::{Cx, Projector, Table};

#[derive(Debug, Default)]
pub struct ProgrammesProjector {
    programmes: States<Programme>,
    /// Histories of programme sessions, by stream, loaded from the store
    /// on first use.
    sessions: HashMap<String, Vec<SessionEvent>>,
    /// The programme of each programme session, and the sessions of each
    /// programme: complete up to the last applied event once `warm` (a cold
    /// start scans the log's `SessionScheduled`).
    programme_of: HashMap<String, ProgrammeId>,
    by_programme: BTreeMap<ProgrammeId, BTreeSet<String>>,
    warm: bool,
}

impl Projector for ProgrammesProjector {
    const NAME: &'static str = "programmes";
    const VERSION: i64 = 1;
    const TABLES: &'static [Table] = &[
        Table {
            name: "programmes",
            columns: "id TEXT PRIMARY KEY, kind TEXT NOT NULL, title TEXT NOT NULL, \
                      launched_on TEXT NOT NULL, eligibility TEXT",
            indexes: &[],
        },
        Table {
            name: "programme_plans",
            columns: "programme TEXT NOT NULL, year BIGINT NOT NULL, kind TEXT NOT NULL, \
                      target BIGINT NOT NULL, PRIMARY KEY (programme, year, kind)",
            indexes: &[],
        },
        Table {
            name: "programme_notices",
            columns: "programme TEXT NOT NULL, seq BIGINT NOT NULL, title TEXT NOT NULL, \
                      body TEXT NOT NULL, issued_on TEXT NOT NULL, PRIMARY KEY (programme, seq)",
            indexes: &[],
        },
        Table {
            name: "programme_participants",
            columns: "programme TEXT NOT NULL, staff_no TEXT NOT NULL, enrolled_on TEXT NOT NULL, \
                      PRIMARY KEY (programme, staff_no)",
            indexes: &["staff_no"],
        },
        Table {
            name: "programme_report",
            // year 0 is the whole programme; sessions is {kind: count}.
            columns: "programme TEXT NOT NULL, year BIGINT NOT NULL, sessions TEXT NOT NULL, \
                      participants BIGINT NOT NULL, PRIMARY KEY (programme, year)",
            indexes: &[],
        },
    ];
    const EVENT_TYPES: &'static [&'static str] = &[
        "ProgrammeLaunched",
        "AnnualPlanIssued",
        "NoticeIssued",
        "ParticipantEnrolled",
        "SessionScheduled",
        "SessionRescheduled",
        "SessionCancelled",
        "SeatAssigned",
        "AttendanceRecorded",
        "TapRejected",
        "LeaveRequested",
        "LeaveApproved",
        "LeaveRejected",
        "AbsenceRecorded",
        "SessionClosed",
        "AttendanceCorrected",
    ];

    async fn apply(&mut self, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
        if event.stream_id.starts_with("programme-") {
            return self.programme_event(event, cx).await;
        }
        if event.stream_id.starts_with("session-") {
            return self.session_event(event, cx).await;
        }
        Ok(())
    }
}

impl ProgrammesProjector {
    async fn programme_event(&mut self, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
        let (p, e) = self.programmes.apply(event, cx).await?;
        let Some(launch) = &p.launch else {
            return Ok(());
        };
        let id = launch.id.as_str().to_owned();
        match e {
            ProgrammeEvent::ProgrammeLaunched(l) => {
                cx.exec(
                    "INSERT INTO {programmes} (id, kind, title, launched_on, eligibility) \
                     VALUES ($1, $2, $3, $4, $5)",
                    vec![
                        id.clone().into(),
                        text(&l.kind).into(),
                        l.title.as_str().into(),
                        l.launched_on.into(),
                        l.eligibility.as_ref().map(text).into(),
                    ],
                );
                // Every programme has its whole-programme row, held or not.
                cx.exec(
                    "INSERT INTO {programme_report} (programme, year, sessions, participants) \
                     VALUES ($1, 0, '{}', 0)",
                    vec![id.into()],
                );
            }
            ProgrammeEvent::AnnualPlanIssued { year, targets } => {
                for (kind, target) in targets {
                    cx.exec(
                        "INSERT INTO {programme_plans} (programme, year, kind, target) \
                         VALUES ($1, $2, $3, $4)",
                        vec![
                            id.clone().into(),
                            i64::from(year).into(),
                            text(&kind).into(),
                            target.into(),
                        ],
                    );
                }
            }
            ProgrammeEvent::NoticeIssued {
                title,
                text: body,
                issued_on,
            } => cx.exec(
                "INSERT INTO {programme_notices} (programme, seq, title, body, issued_on) \
                 VALUES ($1, $2, $3, $4, $5)",
                vec![
                    id.into(),
                    event.stream_version.into(),
                    title.as_str().into(),
                    body.into(),
                    issued_on.into(),
                ],
            ),
            ProgrammeEvent::ParticipantEnrolled { person, on } => cx.exec(
                "INSERT INTO {programme_participants} (programme, staff_no, enrolled_on) \
                 VALUES ($1, $2, $3)",
                vec![id.into(), person.as_str().into(), on.into()],
            ),
        }
        Ok(())
    }

    async fn session_event(&mut self, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
        if !self.warm {
            self.warm_up(event.position, cx).await?;
        }
        // Most sessions belong to no programme: their events are skipped
        // without being decoded (a session's programme is set when it is
        // scheduled, which this projector sees first).
        let scheduled = event.event_type == "SessionScheduled";
        if !scheduled && !self.programme_of.contains_key(&event.stream_id) {
            return Ok(());
        }
        let decoded: SessionEvent = decode(event)?;
        if let SessionEvent::SessionScheduled(s) = &decoded {
            let Some(p) = &s.programme else {
                return Ok(());
            };
            self.programme_of.insert(event.stream_id.clone(), p.clone());
            self.by_programme
                .entry(p.clone())
                .or_default()
                .insert(event.stream_id.clone());
            self.sessions.insert(event.stream_id.clone(), Vec::new());
        }
        let programme = self.programme_of[&event.stream_id].clone();
        if !self.sessions.contains_key(&event.stream_id) {
            let (past, _) =
                history::<SessionEvent>(cx.store, &event.stream_id, event.position).await?;
            self.sessions.insert(event.stream_id.clone(), past);
        }
        let events = self
            .sessions
            .get_mut(&event.stream_id)
            .expect("loaded above");
        events.push(decoded.clone());
        let closed = events
            .iter()
            .any(|e| matches!(e, SessionEvent::SessionClosed { .. }));
        match decoded {
            SessionEvent::SessionClosed { .. } | SessionEvent::SessionCancelled { .. } => {
                self.report(&programme, event.position, cx).await
            }
            // A correction, or a tap that reached the server after the
            // close, changes a closed session's figures.
            SessionEvent::AttendanceCorrected { .. } | SessionEvent::AttendanceRecorded { .. }
                if closed =>
            {
                self.report(&programme, event.position, cx).await
            }
            _ => Ok(()),
        }
    }

    /// Learns which sessions belong to which programme, up to `before`.
    async fn warm_up(&mut self, before: u64, cx: &Cx<'_>) -> Result<()> {
        let types = ["SessionScheduled".to_owned()];
        let mut after = 0;
        'pages: loop {
            let page = cx.store.read_all(after, 2000, Some(&types)).await?;
            let Some(last) = page.last().map(|e| e.position) else {
                break;
            };
            for e in &page {
                if e.position >= before {
                    break 'pages;
                }
                if let SessionEvent::SessionScheduled(s) = decode(e)?
                    && let Some(p) = s.programme
                {
                    self.programme_of.insert(e.stream_id.clone(), p.clone());
                    self.by_programme
                        .entry(p)
                        .or_default()
                        .insert(e.stream_id.clone());
                }
            }
            after = last;
        }
        self.warm = true;
        Ok(())
    }

    /// Recomputes a programme's report with everything up to `upto`.
    async fn report(&mut self, programme: &ProgrammeId, upto: u64, cx: &mut Cx<'_>) -> Result<()> {
        let streams: Vec<String> = self
            .by_programme
            .get(programme)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let mut histories = Vec::with_capacity(streams.len());
        for stream in streams {
            if !self.sessions.contains_key(&stream) {
                let (past, _) = history::<SessionEvent>(cx.store, &stream, upto + 1).await?;
                self.sessions.insert(stream.clone(), past);
            }
            histories.push(self.sessions[&stream].clone());
        }
        let report = programme_report(programme, &Campus::default(), &histories).map_err(|e| {
            Error::Event {
                position: upto,
                event_type: "programme report".into(),
                reason: e.to_string(),
            }
        })?;
        let id = programme.as_str();
        cx.exec(
            "DELETE FROM {programme_report} WHERE programme = $1",
            vec![id.into()],
        );
        let rows = report
            .by_year
            .iter()
            .map(|(y, f)| (i64::from(*y), f))
            .chain([(0, &report.total)]);
        for (year, f) in rows {
            cx.exec(
                "INSERT INTO {programme_report} (programme, year, sessions, participants) \
                 VALUES ($1, $2, $3, $4)",
                vec![
                    id.into(),
                    year.into(),
                    text(&f.sessions).into(),
                    f.participants.into(),
                ],
            );
        }
        Ok(())
    }
}
