//! The monthly rhythm (月例会, 月报): each month the leadership group meets
//! (stream `leadership`), and each unit's union chair checks the unit's
//! study and submits the unit's monthly report — a narrative and the figures
//! as computed at submission (stream `unit-month-<unit>-<yyyy>-<mm>`).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, DomainEvent};
use crate::error::{DomainError, Result};
use crate::org::UnitId;
use crate::period::Period;
use crate::person::{Person, Role};
use crate::report::UnitMonthFigures;
use crate::values::StaffNo;

/// The stream of the leadership group's monthly meetings.
pub const LEADERSHIP_STREAM: &str = "leadership";

/// The stream of one unit's month.
pub fn unit_month_stream(unit: &UnitId, year: i32, month: u32) -> String {
    format!("unit-month-{unit}-{year:04}-{month:02}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum MonthlyEvent {
    MonthlyMeetingHeld {
        year: i32,
        month: u32,
        on: NaiveDate,
        chair: StaffNo,
        attendees: Vec<StaffNo>,
        minutes: String,
    },
    MonthlyStudyCheckCompleted {
        unit: UnitId,
        year: i32,
        month: u32,
        checker: StaffNo,
        on: NaiveDate,
        notes: String,
    },
    MonthlyReportSubmitted {
        unit: UnitId,
        year: i32,
        month: u32,
        chair: StaffNo,
        narrative: String,
        figures: UnitMonthFigures,
        submitted_on: NaiveDate,
    },
}

impl DomainEvent for MonthlyEvent {
    fn event_type(&self) -> &'static str {
        match self {
            MonthlyEvent::MonthlyMeetingHeld { .. } => "MonthlyMeetingHeld",
            MonthlyEvent::MonthlyStudyCheckCompleted { .. } => "MonthlyStudyCheckCompleted",
            MonthlyEvent::MonthlyReportSubmitted { .. } => "MonthlyReportSubmitted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonthlyCommand {
    /// Records the leadership group's meeting; `chair` is folded from the
    /// chairing person's stream.
    HoldMeeting {
        year: i32,
        month: u32,
        on: NaiveDate,
        chair: Box<Person>,
        attendees: Vec<StaffNo>,
        minutes: String,
    },
    CompleteStudyCheck {
        unit: UnitId,
        year: i32,
        month: u32,
        checker: Box<Person>,
        on: NaiveDate,
        notes: String,
    },
    /// `figures` are computed by `report::unit_month` at submission.
    SubmitReport {
        unit: UnitId,
        year: i32,
        month: u32,
        chair: Box<Person>,
        narrative: String,
        figures: UnitMonthFigures,
        submitted_on: NaiveDate,
    },
}

/// The leadership meetings, or one unit's month, as folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Monthly {
    pub meetings: Vec<(i32, u32)>,
    pub checked: bool,
    pub report: Option<(StaffNo, NaiveDate)>,
}

/// The person's staff number if they hold one of `roles`.
fn holder(person: &Person, roles: &[Role], what: &str) -> Result<StaffNo> {
    let r = person
        .registered
        .as_ref()
        .ok_or_else(|| DomainError::Refused(format!("the {what} is not registered")))?;
    if person.left_on.is_some() || !roles.iter().any(|role| person.roles.contains(role)) {
        return Err(DomainError::Refused(format!(
            "{} may not act as {what} (needs one of {roles:?})",
            r.staff_no.as_str()
        )));
    }
    Ok(r.staff_no.clone())
}

fn month_end(year: i32, month: u32) -> Result<NaiveDate> {
    Ok(Period::month(year, month)?.until)
}

impl Monthly {
    pub fn decide(&self, command: &MonthlyCommand) -> Result<Vec<MonthlyEvent>> {
        match command {
            MonthlyCommand::HoldMeeting {
                year,
                month,
                on,
                chair,
                attendees,
                minutes,
            } => {
                let chair = holder(
                    chair,
                    &[Role::LeadershipLeader, Role::LeadershipDeputy],
                    "meeting chair",
                )?;
                if (on.year(), on.month()) != (*year, *month) {
                    return Err(DomainError::invalid(
                        "meeting date",
                        on.to_string(),
                        format!("is not in {year}-{month:02}"),
                    ));
                }
                if self.meetings.contains(&(*year, *month)) {
                    return Err(DomainError::exists(
                        "monthly meeting",
                        format!("{year}-{month:02}"),
                    ));
                }
                if attendees.is_empty() {
                    return Err(DomainError::invalid(
                        "attendees",
                        "none",
                        "list who attended",
                    ));
                }
                Ok(vec![MonthlyEvent::MonthlyMeetingHeld {
                    year: *year,
                    month: *month,
                    on: *on,
                    chair,
                    attendees: attendees.clone(),
                    minutes: minutes.trim().to_owned(),
                }])
            }
            MonthlyCommand::CompleteStudyCheck {
                unit,
                year,
                month,
                checker,
                on,
                notes,
            } => {
                let checker = holder(
                    checker,
                    &[Role::UnionChair { unit: unit.clone() }, Role::Administrator],
                    "study checker",
                )?;
                month_end(*year, *month)?;
                if self.checked {
                    return Err(DomainError::exists(
                        "monthly study check",
                        format!("{unit} {year}-{month:02}"),
                    ));
                }
                Ok(vec![MonthlyEvent::MonthlyStudyCheckCompleted {
                    unit: unit.clone(),
                    year: *year,
                    month: *month,
                    checker,
                    on: *on,
                    notes: notes.trim().to_owned(),
                }])
            }
            MonthlyCommand::SubmitReport {
                unit,
                year,
                month,
                chair,
                narrative,
                figures,
                submitted_on,
            } => {
                let chair = holder(
                    chair,
                    &[Role::UnionChair { unit: unit.clone() }],
                    "union chair",
                )?;
                let end = month_end(*year, *month)?;
                if *submitted_on <= end {
                    return Err(DomainError::Refused(format!(
                        "the report for {year}-{month:02} can be submitted after the month ends on {end}"
                    )));
                }
                if self.report.is_some() {
                    return Err(DomainError::exists(
                        "monthly report",
                        format!("{unit} {year}-{month:02}"),
                    ));
                }
                if narrative.trim().is_empty() {
                    return Err(DomainError::invalid(
                        "narrative",
                        narrative,
                        "must not be empty",
                    ));
                }
                Ok(vec![MonthlyEvent::MonthlyReportSubmitted {
                    unit: unit.clone(),
                    year: *year,
                    month: *month,
                    chair,
                    narrative: narrative.trim().to_owned(),
                    figures: figures.clone(),
                    submitted_on: *submitted_on,
                }])
            }
        }
    }
}

impl Aggregate for Monthly {
    type Event = MonthlyEvent;

    fn apply(&mut self, event: &MonthlyEvent) -> Result<()> {
        let refuse = |reason: &str| DomainError::Fold {
            event: event.event_type(),
            reason: reason.to_owned(),
        };
        match event {
            MonthlyEvent::MonthlyMeetingHeld { year, month, .. } => {
                if self.meetings.contains(&(*year, *month)) {
                    return Err(refuse("a meeting for that month exists"));
                }
                self.meetings.push((*year, *month));
            }
            MonthlyEvent::MonthlyStudyCheckCompleted { .. } => {
                if self.checked {
                    return Err(refuse("checked already"));
                }
                self.checked = true;
            }
            MonthlyEvent::MonthlyReportSubmitted {
                chair,
                submitted_on,
                ..
            } => {
                if self.report.is_some() {
                    return Err(refuse("submitted already"));
                }
                self.report = Some((chair.clone(), *submitted_on));
            }
        }
        Ok(())
    }
}
