//! Which fields of the campaign's events are personal, and whose.
//!
//! The store seals these fields under a key of the person they describe
//! before the event is hashed, and reads them back with that key; once the
//! key is erased they read as erased ([`ERASED`], or `null` for a date).
//! Everything else stays in the clear so that appraisal folds, replays and
//! reports work without keys: statuses, points, dates, positions, session
//! ids, and the staff number as the pseudonymous subject.
//!
//! Left in the clear by choice: card UIDs (pseudonymous numbers of a
//! plastic card, revoked when its holder leaves; kiosks match them offline
//! and the proxy-flag rules compare them, as they do staff numbers), award
//! citations and exemplar stories (published by the university), a
//! speaker's affiliation, and the reasoning of an auditor's or chair's
//! decision, which belongs to the decision rather than to the person.

/// Whose a personal field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// The person whose staff number is in this field of the same event.
    Field(&'static str),
    /// The person whose stream (`person-<staff no>`) the event is in.
    PersonStream,
}

/// How a personal field reads once erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErasedAs {
    /// The text [`ERASED`].
    Text,
    /// Nothing (`null`): the field is optional in its event.
    Nothing,
}

/// A personal field of an event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonalField {
    pub event_type: &'static str,
    pub field: &'static str,
    pub whose: Whose,
    pub erased: ErasedAs,
}

/// What an erased text reads as.
pub const ERASED: &str = "[erased]";

const fn field(
    event_type: &'static str,
    field: &'static str,
    whose: Whose,
    erased: ErasedAs,
) -> PersonalField {
    PersonalField {
        event_type,
        field,
        whose,
        erased,
    }
}

const REGISTERED: Whose = Whose::Field("staff_no");
const PERSON: Whose = Whose::Field("person");

/// Every personal field of the campaign's events.
pub const PERSONAL_FIELDS: &[PersonalField] = &[
    field("PersonRegistered", "name", REGISTERED, ErasedAs::Text),
    field(
        "PersonRegistered",
        "birth_date",
        REGISTERED,
        ErasedAs::Nothing,
    ),
    field("PersonLeft", "reason", Whose::PersonStream, ErasedAs::Text),
    field("LeaveRequested", "reason", PERSON, ErasedAs::Text),
    field("LeaveRejected", "reason", PERSON, ErasedAs::Text),
    field("AttendanceCorrected", "reason", PERSON, ErasedAs::Text),
    field("StudyTaskCompleted", "evidence", PERSON, ErasedAs::Text),
    field("StudyTaskWaived", "reason", PERSON, ErasedAs::Text),
    field("DisputeFiled", "claim", PERSON, ErasedAs::Text),
];
