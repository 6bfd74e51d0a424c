//! `sessions`: one row per session (schedule, state and live counts) and
//! one per person the session knows of (attendance, leave, seat): the
//! rosters, live attendance and a person's attendance history. A person's
//! row also keeps the log positions of the events that set their status
//! (`SessionEvent::status_of`): with the session's date and title, that is
//! their appraisal ledger entry for the session (`crate::ledger`).
//! `held_taps` lists the taps a closed appraisal year kept from applying.

use std::collections::HashMap;

use lectern_domain::{
    Aggregate, AttendanceStatus, Leave, Method, RejectReason, Session, SessionEvent, StaffNo,
};
use lectern_store::RecordedEvent;

use super::text;
use crate::codec;
use crate::error::{Error, Result};
use crate::projector::{Cx, Projector, Table};

/// A session folded, and by person the positions of the events that set
/// their status.
#[derive(Debug, Default)]
struct State {
    session: Session,
    behind: HashMap<StaffNo, Vec<u64>>,
}

impl State {
    fn apply(&mut self, position: u64, e: &SessionEvent) -> lectern_domain::Result<()> {
        self.session.apply(e)?;
        if let Some(person) = e.status_of() {
            self.behind
                .entry(person.clone())
                .or_default()
                .push(position);
        }
        Ok(())
    }
}

/// `[1,2,3]`: positions as a JSON array, without building a JSON value.
fn json_list(positions: &[u64]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(2 + positions.len() * 8);
    out.push('[');
    for (i, p) in positions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{p}");
    }
    out.push(']');
    out
}

#[derive(Debug, Default)]
pub struct SessionsProjector {
    /// Open sessions by stream, loaded from the store on first use and
    /// dropped when they close.
    sessions: HashMap<String, State>,
}

impl SessionsProjector {
    /// Applies `event` to its session's state; returns the state after it.
    async fn apply_state(
        &mut self,
        event: &RecordedEvent,
        cx: &Cx<'_>,
    ) -> Result<(&State, SessionEvent)> {
        let decoded: SessionEvent = codec::decode(event)?;
        if !self.sessions.contains_key(&event.stream_id) {
            let mut state = State::default();
            for p in codec::positioned::<SessionEvent>(cx.store, &event.stream_id, event.position)
                .await?
            {
                state
                    .apply(p.position, &p.event)
                    .map_err(|e| Error::domain(event, e))?;
            }
            self.sessions.insert(event.stream_id.clone(), state);
        }
        let state = self
            .sessions
            .get_mut(&event.stream_id)
            .expect("loaded above");
        state
            .apply(event.position, &decoded)
            .map_err(|e| Error::domain(event, e))?;
        Ok((state, decoded))
    }
}

impl Projector for SessionsProjector {
    const NAME: &'static str = "sessions";
    const VERSION: i64 = 4;
    const TABLES: &'static [Table] = &[
        Table {
            name: "sessions",
            columns: "id TEXT PRIMARY KEY, kind TEXT NOT NULL, title TEXT NOT NULL, \
                      programme TEXT, organiser TEXT NOT NULL, venue TEXT NOT NULL, \
                      starts_at TEXT NOT NULL, ends_at TEXT NOT NULL, status TEXT NOT NULL, \
                      series TEXT, audience TEXT NOT NULL, speakers TEXT NOT NULL, \
                      present BIGINT NOT NULL, late BIGINT NOT NULL, \
                      excused BIGINT NOT NULL, absent BIGINT NOT NULL, \
                      kiosks_behind TEXT",
            indexes: &[
                "starts_at",
                "venue, starts_at",
                "organiser, starts_at",
                "programme",
            ],
        },
        Table {
            name: "attendance",
            columns: "session_id TEXT NOT NULL, staff_no TEXT NOT NULL, status TEXT, \
                      leave TEXT, seat TEXT, checked_in_at TEXT, method TEXT, \
                      positions TEXT NOT NULL, starts_at TEXT NOT NULL, \
                      PRIMARY KEY (session_id, staff_no)",
            // A person's sessions by time: attendance and ledger queries.
            indexes: &["staff_no, starts_at"],
        },
        Table {
            // Taps read in time for a session whose appraisal year was
            // closed before they arrived: recorded, not applied, listed
            // for the auditors.
            name: "held_taps",
            columns: "tap TEXT PRIMARY KEY, session_id TEXT NOT NULL, staff_no TEXT, \
                      read_at TEXT NOT NULL, position BIGINT NOT NULL",
            indexes: &["session_id"],
        },
    ];
    const EVENT_TYPES: &'static [&'static str] = &[
        "SessionScheduled",
        "SessionRescheduled",
        "SessionCancelled",
        "SeatAssigned",
        "AttendanceRecorded",
        "LeaveRequested",
        "LeaveApproved",
        "LeaveRejected",
        "AbsenceRecorded",
        "SessionClosed",
        "AttendanceCorrected",
        "TapRejected",
    ];

    async fn apply(&mut self, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
        if !event.stream_id.starts_with("session-") {
            return Ok(());
        }
        if event.event_type == "TapRejected" {
            // A rejection changes no roster; only the held ones are kept.
            if let SessionEvent::TapRejected {
                tap,
                person,
                at,
                reason: RejectReason::YearClosed,
                ..
            } = codec::decode(event)?
            {
                let session = event.stream_id.trim_start_matches("session-").to_owned();
                cx.exec(
                    "INSERT INTO {held_taps} (tap, session_id, staff_no, read_at, position) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tap) DO NOTHING",
                    vec![
                        tap.to_string().into(),
                        session.into(),
                        person.map(|p| p.as_str().to_owned()).into(),
                        at.into(),
                        event.position.into(),
                    ],
                );
            }
            return Ok(());
        }
        let (state, e) = self.apply_state(event, cx).await?;
        let s = &state.session;
        let Some(schedule) = &s.schedule else {
            return Ok(());
        };
        let status = if s.cancelled {
            "cancelled"
        } else if s.closed {
            "closed"
        } else {
            "scheduled"
        };
        let count = |st: AttendanceStatus| s.roster.values().filter(|v| **v == st).count() as i64;
        let id = schedule.id.to_string();
        cx.exec_keyed(
            id.clone(),
            "INSERT INTO {sessions} (id, kind, title, programme, organiser, venue, starts_at, \
             ends_at, status, series, audience, speakers, present, late, excused, absent, \
             kiosks_behind) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, title = excluded.title, \
             programme = excluded.programme, organiser = excluded.organiser, \
             venue = excluded.venue, starts_at = excluded.starts_at, ends_at = excluded.ends_at, \
             status = excluded.status, series = excluded.series, audience = excluded.audience, \
             speakers = excluded.speakers, present = excluded.present, late = excluded.late, \
             excused = excluded.excused, absent = excluded.absent, \
             kiosks_behind = excluded.kiosks_behind",
            vec![
                id.clone().into(),
                text(&schedule.kind).into(),
                schedule.title.as_str().into(),
                schedule.programme.as_ref().map(|p| p.as_str()).into(),
                schedule.organiser.as_str().into(),
                schedule.venue.as_str().into(),
                schedule.window.start().into(),
                schedule.window.end().into(),
                status.into(),
                schedule.series.map(|u| u.to_string()).into(),
                text(&schedule.audience).into(),
                text(&schedule.speakers).into(),
                count(AttendanceStatus::Present).into(),
                count(AttendanceStatus::Late).into(),
                count(AttendanceStatus::Excused).into(),
                count(AttendanceStatus::Absent).into(),
                s.closed.then(|| text(&s.kiosks_behind)).into(),
            ],
        );
        let (person, checked_in): (&StaffNo, Option<(_, &Method)>) = match &e {
            SessionEvent::AttendanceRecorded {
                person, at, method, ..
            } => (person, Some((*at, method))),
            SessionEvent::SeatAssigned { person, .. }
            | SessionEvent::LeaveRequested { person, .. }
            | SessionEvent::LeaveApproved { person, .. }
            | SessionEvent::LeaveRejected { person, .. }
            | SessionEvent::AbsenceRecorded { person }
            | SessionEvent::AttendanceCorrected { person, .. } => (person, None),
            SessionEvent::SessionRescheduled { window, .. } => {
                cx.exec(
                    "UPDATE {attendance} SET starts_at = $2 WHERE session_id = $1",
                    vec![id.into(), window.start().into()],
                );
                return Ok(());
            }
            SessionEvent::SessionScheduled(_) | SessionEvent::TapRejected { .. } => {
                return Ok(());
            }
            SessionEvent::SessionCancelled { .. } | SessionEvent::SessionClosed { .. } => {
                // A closed or cancelled session seldom changes again (a
                // correction loads it anew): its state leaves the cache, so
                // that memory holds the open sessions, not every session
                // ever held.
                self.sessions.remove(&event.stream_id);
                return Ok(());
            }
        };
        let leave = s.leave.get(person).map(|l| match l {
            Leave::Requested => "requested",
            Leave::Approved => "approved",
            Leave::Rejected => "rejected",
        });
        cx.exec(
            "INSERT INTO {attendance} (session_id, staff_no, status, leave, seat, \
             checked_in_at, method, positions, starts_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (session_id, staff_no) DO UPDATE SET status = excluded.status, \
             leave = excluded.leave, seat = excluded.seat, positions = excluded.positions, \
             checked_in_at = COALESCE(excluded.checked_in_at, {attendance}.checked_in_at), \
             method = COALESCE(excluded.method, {attendance}.method)",
            vec![
                id.into(),
                person.as_str().into(),
                s.roster.get(person).map(text).into(),
                leave.into(),
                s.seats.get(person).cloned().into(),
                checked_in.map(|(at, _)| at).into(),
                checked_in.map(|(_, m)| text(m)).into(),
                json_list(state.behind.get(person).map_or(&[][..], Vec::as_slice)).into(),
                schedule.window.start().into(),
            ],
        );
        Ok(())
    }
}
