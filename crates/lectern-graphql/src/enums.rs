//! The closed sets of the API as GraphQL enums, so a console completes
//! them and a client's types check them.
//!
//! Each mirrors a domain enum (`remote`), converting both ways, and its
//! values are the domain's stored names (`centralized_study`), the same
//! in the event log, the read models, CSV reports and the API: a value
//! read from a read model deserializes straight into its enum.

use async_graphql::Enum;
use lectern_projections::Val;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Result};

/// A kind of unit.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(remote = "lectern_domain::UnitKind", rename_items = "snake_case")]
#[serde(rename_all = "snake_case")]
pub(crate) enum UnitKind {
    University,
    Campus,
    School,
    Department,
    Office,
    UnionBranch,
    LearningGroup,
}

/// The staff category of a person.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(remote = "lectern_domain::StaffCategory", rename_items = "snake_case")]
#[serde(rename_all = "snake_case")]
pub(crate) enum StaffCategory {
    Teacher,
    Administrator,
    Worker,
}

/// Why a campus card was revoked.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(
    remote = "lectern_domain::RevocationReason",
    rename_items = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RevocationReason {
    Lost,
    Replaced,
    Damaged,
    Left,
}

/// A rule that flags taps (see `proxyFlags`).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(remote = "lectern_domain::FlagRule", rename_items = "snake_case")]
#[serde(rename_all = "snake_case")]
pub(crate) enum FlagRule {
    /// One card read at two venues closer in time than walking between
    /// them allows.
    TwoVenues,
    /// Two people's cards read one right after the other at one kiosk,
    /// session after session.
    BurstTogether,
    /// A card reported lost, replaced or revoked, read.
    RevokedCard,
    /// Two people's cards both read in the last seconds before a session's
    /// late line, session after session.
    LastSeconds,
    /// A card read while its holder was on approved leave.
    OnLeave,
    /// A card refused at sessions its holder is not expected at, session
    /// after session.
    WrongVenue,
}

/// What a reviewer made of a flag.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(remote = "lectern_domain::Verdict", rename_items = "snake_case")]
#[serde(rename_all = "snake_case")]
pub(crate) enum FlagVerdict {
    /// Nothing wrong (colleagues who arrive together).
    Dismissed,
    /// A proxy tap: correct the attendance through the usual paths.
    Confirmed,
}

/// A role a person may hold (a union chair's with the unit they chair).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(name = "Role", rename_items = "snake_case")]
#[serde(rename_all = "snake_case")]
pub(crate) enum RoleName {
    Administrator,
    Auditor,
    UnionChair,
    LeadershipLeader,
    LeadershipDeputy,
    LeadershipMember,
}

/// What kind of gathering a session is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(remote = "lectern_domain::SessionKind", rename_items = "snake_case")]
#[serde(rename_all = "snake_case")]
pub(crate) enum SessionKind {
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

/// A person's attendance at a session.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(
    remote = "lectern_domain::AttendanceStatus",
    rename_items = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AttendanceStatus {
    Present,
    Late,
    Excused,
    Absent,
}

/// A campaign programme's kind.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(remote = "lectern_domain::ProgrammeKind", rename_items = "snake_case")]
#[serde(rename_all = "snake_case")]
pub(crate) enum ProgrammeKind {
    Campaign,
    YoungTeacherNavigation,
    EthicsMonth,
}

/// The topic of a study task.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(remote = "lectern_domain::StudyTopic", rename_items = "snake_case")]
#[serde(rename_all = "snake_case")]
pub(crate) enum StudyTopic {
    PoliticalTheory,
    ProfessionalKnowledge,
    JobSkills,
}

/// The level of an award.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(remote = "lectern_domain::AwardLevel", rename_items = "snake_case")]
#[serde(rename_all = "snake_case")]
pub(crate) enum AwardLevel {
    National,
    Provincial,
    City,
    University,
}

/// Whether an award goes to a person or to a unit.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(remote = "lectern_domain::AwardKind", rename_items = "snake_case")]
#[serde(rename_all = "snake_case")]
pub(crate) enum AwardKind {
    Individual,
    Collective,
}

/// Where an award winner is publicised.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(remote = "lectern_domain::Channel", rename_items = "snake_case")]
#[serde(rename_all = "snake_case")]
pub(crate) enum Channel {
    CampusWeb,
    CampusTv,
    Newspaper,
}

/// How a dispute was decided.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(remote = "lectern_domain::Outcome", rename_items = "snake_case")]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    Upheld,
    Rejected,
}

/// Where a leave request is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(remote = "lectern_domain::Leave", rename_items = "snake_case")]
#[serde(rename_all = "snake_case")]
pub(crate) enum LeaveStatus {
    Requested,
    Approved,
    Rejected,
}

/// The format a report downloads as.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(rename_items = "snake_case")]
pub(crate) enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// The name in a download link (`csv`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// Reads a closed set's value from a read model, where a projector wrote
/// its stored name.
pub(crate) fn stored<T: DeserializeOwned>(what: &str, v: &Val) -> Result<T> {
    named(what, v.as_str().unwrap_or_default())
}

/// `stored` for a name read from inside a stored value (a JSON key).
pub(crate) fn named<T: DeserializeOwned>(what: &str, name: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|_| {
        ApiError::internal(format!(
            "the read model holds {what} {name:?}, which this version does not know"
        ))
    })
}

/// The stored name of a closed set's value (`"teacher"`), as read models
/// hold it.
pub(crate) fn name_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value).expect("closed sets serialize") {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

impl RoleName {
    /// A role's name and, for a union chair, the unit they chair.
    pub(crate) fn of(role: &lectern_domain::Role) -> (RoleName, Option<String>) {
        use lectern_domain::Role;
        match role {
            Role::Administrator => (RoleName::Administrator, None),
            Role::Auditor => (RoleName::Auditor, None),
            Role::UnionChair { unit } => (RoleName::UnionChair, Some(unit.as_str().to_owned())),
            Role::LeadershipLeader => (RoleName::LeadershipLeader, None),
            Role::LeadershipDeputy => (RoleName::LeadershipDeputy, None),
            Role::LeadershipMember => (RoleName::LeadershipMember, None),
        }
    }

    /// The role named, with `unit` for a union chair (and only for one).
    pub(crate) fn with_unit(self, unit: Option<&str>) -> Result<lectern_domain::Role> {
        use lectern_domain::{Role, UnitId};
        let role = match (self, unit) {
            (RoleName::UnionChair, Some(u)) => {
                return Ok(Role::UnionChair {
                    unit: UnitId::parse(u)?,
                });
            }
            (RoleName::UnionChair, None) => {
                return Err(ApiError::bad_input(
                    "the union_chair role needs the unit they chair (unit)",
                ));
            }
            (other, Some(u)) => {
                return Err(ApiError::bad_input(format!(
                    "only the union_chair role names a unit; {} does not take unit {u:?}",
                    name_of(&other)
                )));
            }
            (RoleName::Administrator, None) => Role::Administrator,
            (RoleName::Auditor, None) => Role::Auditor,
            (RoleName::LeadershipLeader, None) => Role::LeadershipLeader,
            (RoleName::LeadershipDeputy, None) => Role::LeadershipDeputy,
            (RoleName::LeadershipMember, None) => Role::LeadershipMember,
        };
        Ok(role)
    }
}

/// Declares closed sets that exist only as read-model states: a GraphQL
/// enum whose values are the names the projectors store.
macro_rules! states {
    ($($(#[$doc:meta])* $name:ident { $($value:ident),+ $(,)? })+) => {$(
        $(#[$doc])*
        #[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        #[graphql(rename_items = "snake_case")]
        #[serde(rename_all = "snake_case")]
        pub(crate) enum $name { $($value),+ }
    )+};
}

states! {
    /// Where a session is in its life.
    SessionStatus { Scheduled, Cancelled, Closed }
    /// Where a study task is.
    TaskStatus { Open, Closed }
    /// How a person's line on a study task ended.
    TaskState { Completed, CompletedLate, Waived, Missed }
    /// Who is nominated for an award.
    NomineeKind { Person, Unit }
    /// Where a nomination is.
    NominationStatus { Nominated, Conferred, Revoked }
    /// Where a dispute is.
    DisputeStatus { Filed, Assigned, Upheld, Rejected }
    /// The rule an appraisal line follows.
    PointRule {
        Base, Absence, Late, MissedTask, Award, Adjustment, LateReport, MissingReport,
        MemberAbsence, MemberMissedTask, CollectiveAward,
    }
}

/// `stored` for a column that may be empty.
pub(crate) fn stored_opt<T: DeserializeOwned>(what: &str, v: &Val) -> Result<Option<T>> {
    match v {
        Val::Null | Val::NullInt => Ok(None),
        v => stored(what, v).map(Some),
    }
}
