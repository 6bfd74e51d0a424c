//! `lectern-domain` is the business of the staff learning campaign as pure
//! Rust: the events of every stream, the commands, the decisions that turn a
//! command and the current state into events or a typed error, and the
//! folds that turn events into states.
//!
//! The read models, the GraphQL API and the auditors' replay all use these
//! folds, so they cannot disagree.
//!
//! It deliberately does no I/O and depends on no async, database or web
//! crate (a test reads the manifest to keep it so). Loading streams,
//! appending events and claiming unique keys belong to the layers above.
//!
//! # The model
//! - Each stream family has one event enum (past-tense variants, a stable
//!   JSON shape tagged by `type`) and a state implementing [`Aggregate`],
//!   whose `apply` refuses an event that cannot follow the state.
//! - A decision is an inherent `decide(&self, &Command, context)` on the
//!   state: it returns events or a [`DomainError`] whose message names the
//!   offending value, and it never emits an event its own fold refuses.
//! - Cross-stream facts a decision needs (the unit tree, a card's holder)
//!   are passed in as folded states, never fetched.
//! - Business time is read on the campus clock ([`Campus`]); storage is UTC.
//!
//! # Layout
//! - `values`: validated newtypes (`StaffNo`, `CardUid`, `Name`, `Slug`,
//!   `TimeWindow`).
//! - `campus`: the campus time zone.
//! - `clock`: the server's clock (`Clock::system`, or a manual one for
//!   tests).
//! - `aggregate`: `DomainEvent`, `Aggregate` and the given/when/then harness.
//! - `org`: the unit tree (stream `org`).
//! - `period`: `Period`, a year or a month of campus dates.
//! - `person`: people, their cards and roles (stream `person-<staff no>`).
//! - `programme`: the campaign, the Young Teacher Navigation Programme (with
//!   its eligibility rule) and the Ethics Month; plans, notices, enrolment
//!   (stream `programme-<id>`).
//! - `session`: sessions, recurring series and the attendance rules (stream
//!   `session-<id>`).
//! - `kiosk`: the raw `CardTapped` record of every tap (stream
//!   `kiosk-<id>`), counter gaps, and `pick_session` for a venue and time.
//! - `study`: study tasks with audience and due date, completion with
//!   evidence, waivers, and the close that names who missed them (stream
//!   `task-<id>`).
//! - `award`: award categories by level and kind, nominations,
//!   endorsement, votes, conferment, revocation, featured exemplars (stream
//!   `award-<category>`).
//! - `appraisal`: versioned scoring rules, adjustments and year-end closes
//!   (stream `appraisal`), and `appraise_person`, the explained fold.
//! - `dispute`: appraisal disputes with a filing deadline, assignment to an
//!   auditor and an upheld or rejected resolution (stream `dispute-<id>`).
//! - `proxy`: flags on taps that look like a lent card or one person
//!   tapping for friends, and their review (stream `flag-<key>`).
//! - `monthly`: the leadership group's monthly meeting, a unit's monthly
//!   study check and its union chair's monthly report.
//! - `report`: the programme report and a unit's monthly figures, as folds.
//! - `error`: `DomainError` and its client codes.

mod aggregate;
mod appraisal;
mod award;
mod campus;
mod clock;
mod dispute;
mod error;
mod kiosk;
mod monthly;
mod org;
mod period;
mod person;
pub mod personal;
mod programme;
mod proxy;
mod report;
mod session;
mod study;
mod values;

pub use aggregate::{Aggregate, DomainEvent, Given, Then, given};
pub use appraisal::{
    APPRAISAL_STREAM, Appraisal, AppraisalCommand, AppraisalEvent, Entry, Histories, Line,
    Positioned, RuleBook, ScoringRules, UnitFacts, UnitPeople, UnitRules, appraise_entries,
    appraise_person, appraise_unit,
};
pub use award::{
    Award, AwardCommand, AwardEvent, AwardKind, AwardLevel, Category, CategoryId, Channel,
    Nomination, Nominee, award_stream,
};
pub use campus::Campus;
pub use clock::Clock;
pub use dispute::{
    Dispute, DisputeCommand, DisputeEvent, DisputeId, Outcome, dispute_stream, filing_deadline,
};
pub use error::{DomainError, Result};
pub use kiosk::{
    KioskEvent, KioskLedger, MAX_COUNTER_JUMP, MonoReading, OVER_FOR, Placed, SyncPoint,
    TapDecision, ended_session, kiosk_stream, pick_session, recently_over,
};
pub use monthly::{LEADERSHIP_STREAM, Monthly, MonthlyCommand, MonthlyEvent, unit_month_stream};
pub use org::{ORG_STREAM, OrgCommand, OrgEvent, OrgTree, Unit, UnitId, UnitKind};
pub use period::Period;
pub use person::{
    CARD_UID_KEY, KeyChange, Person, PersonCommand, PersonEvent, Registration, RevocationReason,
    Role, STAFF_NO_KEY, StaffCategory, memberships, person_stream,
};
pub use programme::{
    Eligibility, Launch, Programme, ProgrammeCommand, ProgrammeEvent, ProgrammeKind,
    programme_stream,
};
pub use proxy::{
    Analyzer, Evidence, Finding, Flag, FlagEvent, FlagRule, FlagThresholds, SeenTap, SessionTimes,
    Together, Verdict, flag_stream, in_last_seconds, on_leave, pair_flag, read_together,
    revoked_card, two_venues, wrong_venue,
};
pub use report::{
    ProgrammeFigures, ProgrammeReport, UnitMonthFigures, programme_report, unit_month,
};
pub use session::{
    AttendanceStatus, Attendee, Audience, CardHolder, CheckInRules, KioskBehind, Leave, Method,
    ProgrammeId, Recurrence, RejectReason, Schedule, Session, SessionCommand, SessionEvent,
    SessionId, SessionKind, Speaker, TapOutcome, VenueId, session_stream, tap_status,
};
pub use study::{
    Assignment, StudyCommand, StudyEvent, StudyTask, StudyTopic, TaskCounts, TaskId, TaskState,
    task_stream,
};
pub use values::{ByteOrder, CardUid, Name, Slug, StaffNo, TimeWindow, WedgeFormat};
