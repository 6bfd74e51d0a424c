//! Sessions (one stream each, `session-<id>`): scheduling, recurring series,
//! and attendance — taps, hand marks, leave, closing and corrections.
//!
//! The attendance rule, all on the campus clock: a tap from the opening of
//! check-in (30 minutes before the start by default) until the start plus
//! the grace period (10 minutes by default) is *present*; after that until
//! the end it is *late*; after the end it is refused. A second tap by the
//! same person changes nothing.
//!
//! A tap counts by the moment it was read, whenever it reaches the server:
//! one read in the check-in window of a session closed since (an offline
//! kiosk) is recorded against the closed session and replaces the absence
//! the close recorded (`AttendanceRecorded { replaces }`), unless a
//! correction has decided the person's status since, or the session's
//! appraisal year is closed (then it is kept as `TapRejected` with
//! `YearClosed`, for the auditors, and changes no points).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::{Aggregate, DomainEvent};
use crate::campus::Campus;
use crate::error::{DomainError, Result};
use crate::org::{OrgTree, UnitId};
use crate::values::{CardUid, Name, Slug, StaffNo, TimeWindow};

pub type SessionId = Uuid;
pub type VenueId = Slug;
pub type ProgrammeId = Slug;

/// The stream of one session.
pub fn session_stream(id: SessionId) -> String {
    format!("session-{id}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// 集中学习: the weekly Tuesday-afternoon study of a unit.
    CentralizedStudy,
    TrainingLecture,
    DemonstrationClass,
    TeachingCompetition,
    Seminar,
    ReportMeeting,
    Discussion,
    MonthlyMeeting,
    Ceremony,
}

/// When check-in opens and how late still counts as on time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInRules {
    pub opens_minutes_before: u32,
    pub grace_minutes: u32,
}

impl Default for CheckInRules {
    fn default() -> Self {
        CheckInRules {
            opens_minutes_before: 30,
            grace_minutes: 10,
        }
    }
}

/// Who is expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Audience {
    /// Anyone may attend; nobody is marked absent.
    Open,
    /// Everyone in these units and the units below them.
    Units { units: Vec<UnitId> },
    /// The enrolled participants of a programme.
    Cohort { programme: ProgrammeId },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Speaker {
    pub name: Name,
    pub affiliation: String,
    /// E.g. "national excellent teacher", "provincial teaching master".
    pub honours: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttendanceStatus {
    Present,
    Late,
    /// On approved leave.
    Excused,
    Absent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    UnknownCard,
    RevokedCard,
    /// No session at this venue is open for check-in now.
    NoSessionNow,
    /// The session has ended.
    SessionOver,
    NotInAudience,
    /// Read in time, but the session's appraisal year was closed before
    /// the tap reached the server: recorded for the auditors, not applied.
    YearClosed,
}

/// How attendance was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Method {
    /// A card tap at a kiosk; `tap` is the kiosk's tap id.
    Card {
        tap: Uuid,
        card: CardUid,
        kiosk: String,
    },
    /// Marked by hand (a forgotten card) by a chair.
    Hand { marker: StaffNo },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SessionEvent {
    SessionScheduled(Schedule),
    SessionRescheduled {
        window: TimeWindow,
        venue: VenueId,
    },
    SessionCancelled {
        reason: String,
    },
    SeatAssigned {
        person: StaffNo,
        seat: String,
    },
    AttendanceRecorded {
        person: StaffNo,
        status: AttendanceStatus,
        at: DateTime<Utc>,
        method: Method,
        /// For a tap that reached the server after the session closed: the
        /// status recorded at the close (or since) that it replaces.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<AttendanceStatus>,
    },
    TapRejected {
        tap: Uuid,
        card: CardUid,
        person: Option<StaffNo>,
        at: DateTime<Utc>,
        reason: RejectReason,
    },
    LeaveRequested {
        person: StaffNo,
        reason: String,
        at: DateTime<Utc>,
    },
    LeaveApproved {
        person: StaffNo,
        approver: StaffNo,
    },
    LeaveRejected {
        person: StaffNo,
        approver: StaffNo,
        reason: String,
    },
    AbsenceRecorded {
        person: StaffNo,
    },
    SessionClosed {
        at: DateTime<Utc>,
        /// Kiosks at the venue that, at the close, had taps waiting or had
        /// not been heard from since the session began: taps they hold
        /// may still arrive and count.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        kiosks_behind: Vec<KioskBehind>,
    },
    AttendanceCorrected {
        person: StaffNo,
        from: Option<AttendanceStatus>,
        to: AttendanceStatus,
        reason: String,
        corrector: StaffNo,
        /// The dispute whose upheld resolution made this correction.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dispute: Option<Uuid>,
    },
}

impl SessionEvent {
    /// The person whose roster status this event sets (attendance, approved
    /// leave, absence, a correction): the positions of such events are
    /// behind the person's appraisal line for the session.
    pub fn status_of(&self) -> Option<&StaffNo> {
        match self {
            SessionEvent::AttendanceRecorded { person, .. }
            | SessionEvent::LeaveApproved { person, .. }
            | SessionEvent::AbsenceRecorded { person }
            | SessionEvent::AttendanceCorrected { person, .. } => Some(person),
            _ => None,
        }
    }
}

impl DomainEvent for SessionEvent {
    fn event_type(&self) -> &'static str {
        match self {
            SessionEvent::SessionScheduled(_) => "SessionScheduled",
            SessionEvent::SessionRescheduled { .. } => "SessionRescheduled",
            SessionEvent::SessionCancelled { .. } => "SessionCancelled",
            SessionEvent::SeatAssigned { .. } => "SeatAssigned",
            SessionEvent::AttendanceRecorded { .. } => "AttendanceRecorded",
            SessionEvent::TapRejected { .. } => "TapRejected",
            SessionEvent::LeaveRequested { .. } => "LeaveRequested",
            SessionEvent::LeaveApproved { .. } => "LeaveApproved",
            SessionEvent::LeaveRejected { .. } => "LeaveRejected",
            SessionEvent::AbsenceRecorded { .. } => "AbsenceRecorded",
            SessionEvent::SessionClosed { .. } => "SessionClosed",
            SessionEvent::AttendanceCorrected { .. } => "AttendanceCorrected",
        }
    }
}

/// A kiosk at a session's venue that may still hold taps when the session
/// closes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskBehind {
    pub kiosk: String,
    /// Taps waiting in its queue at its last heartbeat.
    pub backlog: u64,
    /// Its last heartbeat (none: never heard from).
    pub last_heard: Option<DateTime<Utc>>,
}

/// What the card registry knows of a tapped card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardHolder {
    Unknown,
    /// The card was revoked; it belonged to this person.
    Revoked {
        staff_no: StaffNo,
    },
    Active(Attendee),
}

/// A person as the audience check needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    pub staff_no: StaffNo,
    pub unit: UnitId,
    /// Programmes the person is enrolled in.
    pub programmes: Vec<ProgrammeId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCommand {
    Schedule(Schedule),
    Reschedule {
        window: TimeWindow,
        venue: VenueId,
    },
    Cancel {
        reason: String,
    },
    AssignSeat {
        person: StaffNo,
        seat: String,
    },
    RecordTap {
        tap: Uuid,
        card: CardUid,
        kiosk: String,
        holder: CardHolder,
        at: DateTime<Utc>,
        /// The session's appraisal year is closed: the tap is kept for the
        /// auditors and changes nothing.
        year_closed: bool,
    },
    /// A hand mark: `at` is the arrival the marker claims, `now` the
    /// server's time; a claim in the future is refused, one outside the
    /// check-in window too.
    MarkByHand {
        person: Attendee,
        marker: StaffNo,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    RequestLeave {
        person: StaffNo,
        reason: String,
        at: DateTime<Utc>,
    },
    ApproveLeave {
        person: StaffNo,
        approver: StaffNo,
    },
    RejectLeave {
        person: StaffNo,
        approver: StaffNo,
        reason: String,
    },
    /// Closes the session; `audience` is everyone expected (the caller lists
    /// them from the people it knows, see `Audience::includes`).
    Close {
        at: DateTime<Utc>,
        audience: Vec<StaffNo>,
        /// Kiosks at the venue behind at the close (recorded with it).
        kiosks_behind: Vec<KioskBehind>,
    },
    Correct {
        person: StaffNo,
        to: AttendanceStatus,
        reason: String,
        corrector: StaffNo,
        /// The dispute being upheld, when the correction resolves one.
        dispute: Option<Uuid>,
    },
}

/// What a tap came to, for the kiosk screen; the server keeps it with the
/// raw tap (`KioskEvent::CardTapped`), as `{"recorded": "late"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TapOutcome {
    Recorded(AttendanceStatus),
    AlreadyCheckedIn(AttendanceStatus),
    Rejected(RejectReason),
}

/// What a session is: the payload of `SessionScheduled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    #[serde(rename = "session")]
    pub id: SessionId,
    pub kind: SessionKind,
    pub title: Name,
    pub programme: Option<ProgrammeId>,
    pub organiser: UnitId,
    pub venue: VenueId,
    pub window: TimeWindow,
    pub check_in: CheckInRules,
    pub audience: Audience,
    pub speakers: Vec<Speaker>,
    pub series: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    Requested,
    Approved,
    Rejected,
}

/// A session as folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    pub schedule: Option<Schedule>,
    pub cancelled: bool,
    pub closed: bool,
    pub seats: BTreeMap<StaffNo, String>,
    /// Status by attendance, leave, absence and corrections (the latest
    /// correction wins).
    pub roster: BTreeMap<StaffNo, AttendanceStatus>,
    pub leave: BTreeMap<StaffNo, Leave>,
    /// People whose attendance was taken (by card or by hand).
    pub attended: BTreeMap<StaffNo, AttendanceStatus>,
    /// People whose status a correction decided.
    pub corrected: std::collections::BTreeSet<StaffNo>,
    /// The kiosks behind when the session closed.
    pub kiosks_behind: Vec<KioskBehind>,
}

impl Audience {
    /// Whether `person` is expected at a session with this audience.
    pub fn includes(&self, person: &Attendee, org: &OrgTree) -> bool {
        match self {
            Audience::Open => true,
            Audience::Units { units } => units.iter().any(|u| org.is_within(&person.unit, u)),
            Audience::Cohort { programme } => person.programmes.contains(programme),
        }
    }
}

/// The status of a tap at `at` for a session in `window` (see the module
/// docs), or why it is refused.
pub fn tap_status(
    window: &TimeWindow,
    rules: CheckInRules,
    at: DateTime<Utc>,
) -> Result<AttendanceStatus, RejectReason> {
    let opens = window.start() - Duration::minutes(i64::from(rules.opens_minutes_before));
    let on_time_until = window.start() + Duration::minutes(i64::from(rules.grace_minutes));
    if at < opens {
        Err(RejectReason::NoSessionNow)
    } else if at <= on_time_until {
        Ok(AttendanceStatus::Present)
    } else if at <= window.end() {
        Ok(AttendanceStatus::Late)
    } else {
        Err(RejectReason::SessionOver)
    }
}

impl Session {
    fn scheduled(&self) -> Result<&Schedule> {
        self.schedule
            .as_ref()
            .ok_or_else(|| DomainError::Refused("the session is not scheduled".into()))
    }

    /// Scheduled, not cancelled and not closed.
    fn open(&self) -> Result<&Schedule> {
        let s = self.scheduled()?;
        if self.cancelled {
            return Err(DomainError::Refused(format!(
                "session {} was cancelled",
                s.id
            )));
        }
        if self.closed {
            return Err(DomainError::Refused(format!("session {} is closed", s.id)));
        }
        Ok(s)
    }

    /// Whether a tap at `at` falls in this session's check-in span (from
    /// check-in opening to the end), so that a kiosk at its venue may
    /// attribute the tap to it. A closed session still takes the taps read
    /// in its window (they may reach the server late); a cancelled one
    /// takes none.
    pub fn accepts_taps_at(&self, at: DateTime<Utc>) -> bool {
        match (&self.schedule, self.cancelled) {
            (Some(s), false) => tap_status(&s.window, s.check_in, at).is_ok(),
            _ => false,
        }
    }

    pub fn decide(&self, command: &SessionCommand, org: &OrgTree) -> Result<Vec<SessionEvent>> {
        match command {
            SessionCommand::Schedule(schedule) => {
                if self.schedule.is_some() {
                    return Err(DomainError::exists("session", schedule.id));
                }
                org.active(&schedule.organiser)?;
                if let Audience::Units { units } = &schedule.audience {
                    if units.is_empty() {
                        return Err(DomainError::invalid(
                            "audience",
                            "no units",
                            "list at least one unit",
                        ));
                    }
                    for u in units {
                        org.active(u)?;
                    }
                }
                let rules = schedule.check_in;
                if rules.opens_minutes_before > 240 {
                    return Err(DomainError::invalid(
                        "check-in opening",
                        format!("{} minutes before", rules.opens_minutes_before),
                        "must be at most 240 minutes before the start",
                    ));
                }
                let length = (schedule.window.end() - schedule.window.start()).num_minutes();
                if i64::from(rules.grace_minutes) > length {
                    return Err(DomainError::invalid(
                        "lateness grace",
                        format!("{} minutes", rules.grace_minutes),
                        format!("must not exceed the session's {length} minutes"),
                    ));
                }
                Ok(vec![SessionEvent::SessionScheduled(schedule.clone())])
            }
            SessionCommand::Reschedule { window, venue } => {
                let s = self.open()?;
                if !self.attended.is_empty() {
                    return Err(DomainError::Refused(format!(
                        "session {} already has attendance; cancel it and schedule a new one",
                        s.id
                    )));
                }
                if &s.window == window && &s.venue == venue {
                    return Ok(vec![]);
                }
                Ok(vec![SessionEvent::SessionRescheduled {
                    window: *window,
                    venue: venue.clone(),
                }])
            }
            SessionCommand::Cancel { reason } => {
                self.open()?;
                Ok(vec![SessionEvent::SessionCancelled {
                    reason: reason.trim().to_owned(),
                }])
            }
            SessionCommand::AssignSeat { person, seat } => {
                self.open()?;
                let seat = seat.trim();
                if seat.is_empty() {
                    return Err(DomainError::invalid("seat", seat, "must not be empty"));
                }
                if let Some((other, _)) = self
                    .seats
                    .iter()
                    .find(|(p, s)| s.as_str() == seat && *p != person)
                {
                    return Err(DomainError::Refused(format!(
                        "seat {seat:?} is already assigned to {}",
                        other.as_str()
                    )));
                }
                Ok(vec![SessionEvent::SeatAssigned {
                    person: person.clone(),
                    seat: seat.to_owned(),
                }])
            }
            SessionCommand::RecordTap { .. } => Ok(self.decide_tap(command, org)?.1),
            SessionCommand::MarkByHand {
                person,
                marker,
                at,
                now,
            } => {
                let s = self.open()?;
                if at > now {
                    return Err(DomainError::Refused(format!(
                        "an arrival at {} is in the future (the server's time is {})",
                        at.to_rfc3339(),
                        now.to_rfc3339()
                    )));
                }
                if !s.audience.includes(person, org) {
                    return Err(DomainError::Refused(format!(
                        "{} is not in the audience of session {}",
                        person.staff_no.as_str(),
                        s.id
                    )));
                }
                if let Some(status) = self.attended.get(&person.staff_no) {
                    return Err(DomainError::Refused(format!(
                        "{} is already checked in ({status:?})",
                        person.staff_no.as_str()
                    )));
                }
                let status = tap_status(&s.window, s.check_in, *at).map_err(|why| {
                    DomainError::Refused(format!(
                        "attendance at {} cannot be taken: {why:?}",
                        at.to_rfc3339()
                    ))
                })?;
                Ok(vec![SessionEvent::AttendanceRecorded {
                    person: person.staff_no.clone(),
                    status,
                    at: *at,
                    method: Method::Hand {
                        marker: marker.clone(),
                    },
                    replaces: None,
                }])
            }
            SessionCommand::RequestLeave { person, reason, at } => {
                let s = self.open()?;
                if *at >= s.window.start() {
                    return Err(DomainError::Refused(format!(
                        "leave must be requested before the session starts at {}",
                        s.window.start().to_rfc3339()
                    )));
                }
                if matches!(
                    self.leave.get(person),
                    Some(Leave::Requested | Leave::Approved)
                ) {
                    return Err(DomainError::Refused(format!(
                        "{} has already requested leave",
                        person.as_str()
                    )));
                }
                if reason.trim().is_empty() {
                    return Err(DomainError::invalid(
                        "leave reason",
                        reason,
                        "must not be empty",
                    ));
                }
                Ok(vec![SessionEvent::LeaveRequested {
                    person: person.clone(),
                    reason: reason.trim().to_owned(),
                    at: *at,
                }])
            }
            SessionCommand::ApproveLeave { person, approver }
            | SessionCommand::RejectLeave {
                person, approver, ..
            } => {
                let s = self.scheduled()?;
                if self.closed {
                    return Err(DomainError::Refused(format!("session {} is closed", s.id)));
                }
                if self.leave.get(person) != Some(&Leave::Requested) {
                    return Err(DomainError::Refused(format!(
                        "{} has no pending leave request",
                        person.as_str()
                    )));
                }
                Ok(vec![match command {
                    SessionCommand::RejectLeave { reason, .. } => SessionEvent::LeaveRejected {
                        person: person.clone(),
                        approver: approver.clone(),
                        reason: reason.trim().to_owned(),
                    },
                    _ => SessionEvent::LeaveApproved {
                        person: person.clone(),
                        approver: approver.clone(),
                    },
                }])
            }
            SessionCommand::Close {
                at,
                audience,
                kiosks_behind,
            } => {
                let s = self.open()?;
                if *at < s.window.end() {
                    return Err(DomainError::Refused(format!(
                        "session {} cannot close before it ends at {}",
                        s.id,
                        s.window.end().to_rfc3339()
                    )));
                }
                let mut events: Vec<SessionEvent> = Vec::new();
                if s.audience != Audience::Open {
                    let mut seen = std::collections::BTreeSet::new();
                    for p in audience {
                        if !seen.insert(p) {
                            continue;
                        }
                        let excused = self.leave.get(p) == Some(&Leave::Approved);
                        if !self.attended.contains_key(p) && !excused {
                            events.push(SessionEvent::AbsenceRecorded { person: p.clone() });
                        }
                    }
                }
                events.push(SessionEvent::SessionClosed {
                    at: *at,
                    kiosks_behind: kiosks_behind.clone(),
                });
                Ok(events)
            }
            SessionCommand::Correct {
                person,
                to,
                reason,
                corrector,
                dispute,
            } => {
                let s = self.scheduled()?;
                if self.cancelled {
                    return Err(DomainError::Refused(format!(
                        "session {} was cancelled",
                        s.id
                    )));
                }
                if reason.trim().is_empty() {
                    return Err(DomainError::invalid(
                        "correction reason",
                        reason,
                        "must not be empty",
                    ));
                }
                let from = self.roster.get(person).copied();
                if from == Some(*to) {
                    return Err(DomainError::Refused(format!(
                        "{} is already {to:?}",
                        person.as_str()
                    )));
                }
                Ok(vec![SessionEvent::AttendanceCorrected {
                    person: person.clone(),
                    from,
                    to: *to,
                    reason: reason.trim().to_owned(),
                    corrector: corrector.clone(),
                    dispute: *dispute,
                }])
            }
        }
    }

    /// Decides a card tap: the outcome for the kiosk screen and the events
    /// to record (none for a second tap of a person already checked in).
    pub fn decide_tap(
        &self,
        command: &SessionCommand,
        org: &OrgTree,
    ) -> Result<(TapOutcome, Vec<SessionEvent>)> {
        let SessionCommand::RecordTap {
            tap,
            card,
            kiosk,
            holder,
            at,
            year_closed,
        } = command
        else {
            return Err(DomainError::Refused("not a tap".into()));
        };
        let s = self.scheduled()?;
        if self.cancelled {
            return Err(DomainError::Refused(format!(
                "session {} was cancelled",
                s.id
            )));
        }
        let reject = |reason: RejectReason, person: Option<&StaffNo>| {
            (
                TapOutcome::Rejected(reason),
                vec![SessionEvent::TapRejected {
                    tap: *tap,
                    card: card.clone(),
                    person: person.cloned(),
                    at: *at,
                    reason,
                }],
            )
        };
        let person = match holder {
            CardHolder::Unknown => return Ok(reject(RejectReason::UnknownCard, None)),
            CardHolder::Revoked { staff_no } => {
                return Ok(reject(RejectReason::RevokedCard, Some(staff_no)));
            }
            CardHolder::Active(p) => p,
        };
        let status = match tap_status(&s.window, s.check_in, *at) {
            Ok(status) => status,
            Err(reason) => return Ok(reject(reason, Some(&person.staff_no))),
        };
        if let Some(earlier) = self.attended.get(&person.staff_no) {
            return Ok((TapOutcome::AlreadyCheckedIn(*earlier), vec![]));
        }
        if !s.audience.includes(person, org) {
            return Ok(reject(RejectReason::NotInAudience, Some(&person.staff_no)));
        }
        if *year_closed {
            return Ok(reject(RejectReason::YearClosed, Some(&person.staff_no)));
        }
        let mut replaces = None;
        if self.closed {
            // A correction made after the close is a person's decision
            // about this very attendance; the tap does not undo it.
            if self.corrected.contains(&person.staff_no)
                && let Some(decided) = self.roster.get(&person.staff_no)
            {
                return Ok((TapOutcome::AlreadyCheckedIn(*decided), vec![]));
            }
            replaces = self.roster.get(&person.staff_no).copied();
        }
        Ok((
            TapOutcome::Recorded(status),
            vec![SessionEvent::AttendanceRecorded {
                person: person.staff_no.clone(),
                status,
                at: *at,
                method: Method::Card {
                    tap: *tap,
                    card: card.clone(),
                    kiosk: kiosk.clone(),
                },
                replaces,
            }],
        ))
    }
}

impl Aggregate for Session {
    type Event = SessionEvent;

    fn apply(&mut self, event: &SessionEvent) -> Result<()> {
        let refuse = |reason: &str| DomainError::Fold {
            event: event.event_type(),
            reason: reason.to_owned(),
        };
        if self.schedule.is_none() && !matches!(event, SessionEvent::SessionScheduled(_)) {
            return Err(refuse("the session is not scheduled"));
        }
        match event {
            SessionEvent::SessionScheduled(schedule) => {
                if self.schedule.is_some() {
                    return Err(refuse("the session is scheduled already"));
                }
                self.schedule = Some(schedule.clone());
            }
            SessionEvent::SessionRescheduled { window, venue } => {
                let s = self.schedule.as_mut().expect("checked above");
                s.window = *window;
                s.venue = venue.clone();
            }
            SessionEvent::SessionCancelled { .. } => self.cancelled = true,
            SessionEvent::SeatAssigned { person, seat } => {
                self.seats.insert(person.clone(), seat.clone());
            }
            SessionEvent::AttendanceRecorded { person, status, .. } => {
                if self.attended.contains_key(person) {
                    return Err(refuse("attendance is recorded already"));
                }
                self.attended.insert(person.clone(), *status);
                self.roster.insert(person.clone(), *status);
            }
            SessionEvent::TapRejected { .. } => {}
            SessionEvent::LeaveRequested { person, .. } => {
                self.leave.insert(person.clone(), Leave::Requested);
            }
            SessionEvent::LeaveApproved { person, .. } => {
                self.leave.insert(person.clone(), Leave::Approved);
                self.roster
                    .entry(person.clone())
                    .or_insert(AttendanceStatus::Excused);
            }
            SessionEvent::LeaveRejected { person, .. } => {
                self.leave.insert(person.clone(), Leave::Rejected);
            }
            SessionEvent::AbsenceRecorded { person } => {
                self.roster.insert(person.clone(), AttendanceStatus::Absent);
            }
            SessionEvent::SessionClosed { kiosks_behind, .. } => {
                self.closed = true;
                self.kiosks_behind = kiosks_behind.clone();
            }
            SessionEvent::AttendanceCorrected { person, to, .. } => {
                self.roster.insert(person.clone(), *to);
                self.corrected.insert(person.clone());
            }
        }
        Ok(())
    }
}

/// A weekly recurrence (every Tuesday 14:30–17:00 from one date to another),
/// minus holiday ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    pub weekday: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub from: NaiveDate,
    pub until: NaiveDate,
    /// Inclusive date ranges with no session (holidays, vacations).
    pub holidays: Vec<(NaiveDate, NaiveDate)>,
}

impl Recurrence {
    /// The sessions' time windows, in order, on the campus clock.
    pub fn expand(&self, campus: &Campus) -> Result<Vec<TimeWindow>> {
        if self.until < self.from {
            return Err(DomainError::invalid(
                "recurrence",
                format!("{} .. {}", self.from, self.until),
                "ends before it starts",
            ));
        }
        if (self.until - self.from).num_days() > 366 * 5 {
            return Err(DomainError::invalid(
                "recurrence",
                format!("{} .. {}", self.from, self.until),
                "must span at most five years",
            ));
        }
        let mut out = Vec::new();
        let offset = (7 + self.weekday.num_days_from_monday()
            - self.from.weekday().num_days_from_monday())
            % 7;
        let mut day = self.from + Duration::days(i64::from(offset));
        while day <= self.until {
            if !self.holidays.iter().any(|(a, b)| *a <= day && day <= *b) {
                out.push(TimeWindow::new(
                    campus.at(day, self.start)?,
                    campus.at(day, self.end)?,
                )?);
            }
            day += Duration::days(7);
        }
        Ok(out)
    }
}
