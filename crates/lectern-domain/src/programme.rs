//! Programmes (one stream each, `programme-<id>`): the campaign itself, the
//! Young Teacher Navigation Programme with its eligibility rule, the Teacher
//! Ethics Month; annual plans with targets, notices and enrolment.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, DomainEvent};
use crate::error::{DomainError, Result};
use crate::person::{Person, StaffCategory};
use crate::session::{ProgrammeId, SessionKind};
use crate::values::{Name, StaffNo};

/// The stream of one programme.
pub fn programme_stream(id: &ProgrammeId) -> String {
    format!("programme-{id}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgrammeKind {
    /// 创建学习型组织，争做知识型职工: the campaign as a whole.
    Campaign,
    /// 青年教师教育教学导航计划.
    YoungTeacherNavigation,
    /// 师德建设教育月, every September.
    EthicsMonth,
}

/// Who may enrol: people of these categories who are at most `max_age` on
/// the day of enrolment, or were hired within the last `hired_within_years`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    pub categories: Vec<StaffCategory>,
    pub max_age: u32,
    pub hired_within_years: u32,
}

impl Eligibility {
    /// The navigation programme's rule as the 2005 implementation opinion
    /// sets it by default: teachers aged 35 or under, or hired within 3 years.
    pub fn young_teachers() -> Eligibility {
        Eligibility {
            categories: vec![StaffCategory::Teacher],
            max_age: 35,
            hired_within_years: 3,
        }
    }

    /// Why `person` may not enrol on `on`, if they may not.
    pub fn refusal(&self, person: &Person, on: NaiveDate) -> Option<String> {
        let r = person.registered.as_ref()?;
        let who = r.staff_no.as_str();
        if !self.categories.contains(&r.category) {
            return Some(format!(
                "{who} is {:?} staff; the programme takes {:?}",
                r.category, self.categories
            ));
        }
        let age = person.age_on(on).unwrap_or(0);
        let recent = r.hire_date + chrono::Months::new(self.hired_within_years * 12) >= on;
        if age > self.max_age && !recent {
            return Some(format!(
                "{who} is {age} on {on} (over {}) and was hired on {} (over {} years before)",
                self.max_age, r.hire_date, self.hired_within_years
            ));
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ProgrammeEvent {
    ProgrammeLaunched(Launch),
    AnnualPlanIssued {
        year: i32,
        /// Sessions planned for the year, by kind.
        targets: BTreeMap<SessionKind, u32>,
    },
    NoticeIssued {
        title: Name,
        text: String,
        issued_on: NaiveDate,
    },
    ParticipantEnrolled {
        person: StaffNo,
        on: NaiveDate,
    },
}

impl DomainEvent for ProgrammeEvent {
    fn event_type(&self) -> &'static str {
        match self {
            ProgrammeEvent::ProgrammeLaunched(_) => "ProgrammeLaunched",
            ProgrammeEvent::AnnualPlanIssued { .. } => "AnnualPlanIssued",
            ProgrammeEvent::NoticeIssued { .. } => "NoticeIssued",
            ProgrammeEvent::ParticipantEnrolled { .. } => "ParticipantEnrolled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgrammeCommand {
    Launch(Launch),
    IssuePlan {
        year: i32,
        targets: BTreeMap<SessionKind, u32>,
    },
    IssueNotice {
        title: Name,
        text: String,
        issued_on: NaiveDate,
    },
    /// Enrols the person folded as `person` (from their stream).
    Enrol {
        person: Box<Person>,
        on: NaiveDate,
    },
}

/// What a programme is: the payload of `ProgrammeLaunched`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launch {
    #[serde(rename = "programme")]
    pub id: ProgrammeId,
    pub kind: ProgrammeKind,
    pub title: Name,
    pub launched_on: NaiveDate,
    pub eligibility: Option<Eligibility>,
}

/// A programme as folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Programme {
    pub launch: Option<Launch>,
    pub plans: BTreeMap<i32, BTreeMap<SessionKind, u32>>,
    pub notices: Vec<(Name, NaiveDate)>,
    pub participants: BTreeMap<StaffNo, NaiveDate>,
}

impl Programme {
    fn launched(&self) -> Result<&Launch> {
        self.launch
            .as_ref()
            .ok_or_else(|| DomainError::Refused("the programme has not been launched".into()))
    }

    pub fn decide(&self, command: &ProgrammeCommand) -> Result<Vec<ProgrammeEvent>> {
        match command {
            ProgrammeCommand::Launch(launch) => {
                if self.launch.is_some() {
                    return Err(DomainError::exists("programme", &launch.id));
                }
                let mut launch = launch.clone();
                if launch.kind == ProgrammeKind::YoungTeacherNavigation
                    && launch.eligibility.is_none()
                {
                    launch.eligibility = Some(Eligibility::young_teachers());
                }
                Ok(vec![ProgrammeEvent::ProgrammeLaunched(launch)])
            }
            ProgrammeCommand::IssuePlan { year, targets } => {
                let l = self.launched()?;
                if *year < l.launched_on.year() {
                    return Err(DomainError::invalid(
                        "plan year",
                        year.to_string(),
                        format!(
                            "is before the programme's launch in {}",
                            l.launched_on.year()
                        ),
                    ));
                }
                if self.plans.contains_key(year) {
                    return Err(DomainError::exists("annual plan", year));
                }
                Ok(vec![ProgrammeEvent::AnnualPlanIssued {
                    year: *year,
                    targets: targets.clone(),
                }])
            }
            ProgrammeCommand::IssueNotice {
                title,
                text,
                issued_on,
            } => {
                self.launched()?;
                if text.trim().is_empty() {
                    return Err(DomainError::invalid(
                        "notice text",
                        text,
                        "must not be empty",
                    ));
                }
                Ok(vec![ProgrammeEvent::NoticeIssued {
                    title: title.clone(),
                    text: text.clone(),
                    issued_on: *issued_on,
                }])
            }
            ProgrammeCommand::Enrol { person, on } => {
                let l = self.launched()?;
                let r = person.registered.as_ref().ok_or_else(|| {
                    DomainError::Refused("only a registered person can enrol".into())
                })?;
                if let Some(left) = person.left_on.filter(|d| d <= on) {
                    return Err(DomainError::Refused(format!(
                        "{} left on {left} and cannot enrol",
                        r.staff_no.as_str()
                    )));
                }
                if self.participants.contains_key(&r.staff_no) {
                    return Err(DomainError::Refused(format!(
                        "{} is already enrolled in {:?}",
                        r.staff_no.as_str(),
                        l.id.as_str()
                    )));
                }
                if let Some(why) = l.eligibility.as_ref().and_then(|e| e.refusal(person, *on)) {
                    return Err(DomainError::Refused(format!("not eligible: {why}")));
                }
                Ok(vec![ProgrammeEvent::ParticipantEnrolled {
                    person: r.staff_no.clone(),
                    on: *on,
                }])
            }
        }
    }
}

impl Aggregate for Programme {
    type Event = ProgrammeEvent;

    fn apply(&mut self, event: &ProgrammeEvent) -> Result<()> {
        let refuse = |reason: &str| DomainError::Fold {
            event: event.event_type(),
            reason: reason.to_owned(),
        };
        if self.launch.is_none() && !matches!(event, ProgrammeEvent::ProgrammeLaunched(_)) {
            return Err(refuse("the programme has not been launched"));
        }
        match event {
            ProgrammeEvent::ProgrammeLaunched(launch) => {
                if self.launch.is_some() {
                    return Err(refuse("the programme was launched already"));
                }
                self.launch = Some(launch.clone());
            }
            ProgrammeEvent::AnnualPlanIssued { year, targets } => {
                if self.plans.insert(*year, targets.clone()).is_some() {
                    return Err(refuse("a plan for that year exists"));
                }
            }
            ProgrammeEvent::NoticeIssued {
                title, issued_on, ..
            } => self.notices.push((title.clone(), *issued_on)),
            ProgrammeEvent::ParticipantEnrolled { person, on } => {
                if self.participants.insert(person.clone(), *on).is_some() {
                    return Err(refuse("the person is enrolled already"));
                }
            }
        }
        Ok(())
    }
}
