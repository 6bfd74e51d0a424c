//! Study tasks (one stream each, `task-<id>`): a document or topic assigned
//! to an audience with a due date, completed with evidence or waived, and
//! closed at the due date, which names everyone who missed it (the
//! appraisal deducts for each).
//!
//! Each person the task applies to ends in exactly one state: completed in
//! time (on or before the due date), completed late (after it, before the
//! close), waived, or missed (neither). A task unfinished at its due date
//! is the seed's 未完成学习任务, so the close names the late completers
//! among those who missed it and the appraisal deducts for them too; the
//! counts keep them apart (`completed_late`), so they add up to the
//! audience.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::{Aggregate, DomainEvent};
use crate::error::{DomainError, Result};
use crate::org::OrgTree;
use crate::session::{Attendee, Audience};
use crate::values::{Name, StaffNo};

pub type TaskId = Uuid;

/// The stream of one study task.
pub fn task_stream(id: TaskId) -> String {
    format!("task-{id}")
}

/// The campaign's three study subjects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StudyTopic {
    PoliticalTheory,
    ProfessionalKnowledge,
    JobSkills,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum StudyEvent {
    StudyTaskAssigned(Assignment),
    StudyTaskCompleted {
        person: StaffNo,
        evidence: String,
        on: NaiveDate,
    },
    StudyTaskWaived {
        person: StaffNo,
        reason: String,
        waiver: StaffNo,
    },
    StudyTaskClosed {
        missed: Vec<StaffNo>,
    },
}

impl DomainEvent for StudyEvent {
    fn event_type(&self) -> &'static str {
        match self {
            StudyEvent::StudyTaskAssigned(_) => "StudyTaskAssigned",
            StudyEvent::StudyTaskCompleted { .. } => "StudyTaskCompleted",
            StudyEvent::StudyTaskWaived { .. } => "StudyTaskWaived",
            StudyEvent::StudyTaskClosed { .. } => "StudyTaskClosed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StudyCommand {
    Assign(Assignment),
    Complete {
        person: Attendee,
        evidence: String,
        on: NaiveDate,
    },
    Waive {
        person: StaffNo,
        reason: String,
        waiver: StaffNo,
    },
    /// Closes the task on or after its due date; `audience` lists everyone
    /// it applied to.
    Close {
        today: NaiveDate,
        audience: Vec<StaffNo>,
    },
}

/// What a study task is: the payload of `StudyTaskAssigned`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    #[serde(rename = "task")]
    pub id: TaskId,
    pub title: Name,
    pub topic: StudyTopic,
    pub audience: Audience,
    pub assigner: StaffNo,
    pub assigned_on: NaiveDate,
    pub due: NaiveDate,
}

/// A study task as folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StudyTask {
    pub assignment: Option<Assignment>,
    pub completed: BTreeMap<StaffNo, NaiveDate>,
    pub waived: BTreeSet<StaffNo>,
    pub missed: Option<Vec<StaffNo>>,
}

impl StudyTask {
    fn open(&self) -> Result<&Assignment> {
        let a = self
            .assignment
            .as_ref()
            .ok_or_else(|| DomainError::Refused("the study task is not assigned".into()))?;
        if self.missed.is_some() {
            return Err(DomainError::Refused(format!(
                "study task {} is closed",
                a.id
            )));
        }
        Ok(a)
    }

    pub fn decide(&self, command: &StudyCommand, org: &OrgTree) -> Result<Vec<StudyEvent>> {
        match command {
            StudyCommand::Assign(a) => {
                if self.assignment.is_some() {
                    return Err(DomainError::exists("study task", a.id));
                }
                if a.due < a.assigned_on {
                    return Err(DomainError::invalid(
                        "due date",
                        a.due.to_string(),
                        format!("is before the assignment on {}", a.assigned_on),
                    ));
                }
                if let Audience::Units { units } = &a.audience {
                    for u in units {
                        org.active(u)?;
                    }
                }
                Ok(vec![StudyEvent::StudyTaskAssigned(a.clone())])
            }
            StudyCommand::Complete {
                person,
                evidence,
                on,
            } => {
                let a = self.open()?;
                let who = person.staff_no.as_str();
                if !a.audience.includes(person, org) {
                    return Err(DomainError::Refused(format!(
                        "study task {} is not assigned to {who}",
                        a.id
                    )));
                }
                if self.completed.contains_key(&person.staff_no) {
                    return Err(DomainError::Refused(format!(
                        "{who} has already completed study task {}",
                        a.id
                    )));
                }
                if self.waived.contains(&person.staff_no) {
                    return Err(DomainError::Refused(format!(
                        "{who} was excused from study task {}",
                        a.id
                    )));
                }
                if evidence.trim().is_empty() {
                    return Err(DomainError::invalid(
                        "evidence",
                        evidence,
                        "describe what was studied",
                    ));
                }
                Ok(vec![StudyEvent::StudyTaskCompleted {
                    person: person.staff_no.clone(),
                    evidence: evidence.trim().to_owned(),
                    on: *on,
                }])
            }
            StudyCommand::Waive {
                person,
                reason,
                waiver,
            } => {
                let a = self.open()?;
                if self.completed.contains_key(person) || self.waived.contains(person) {
                    return Err(DomainError::Refused(format!(
                        "{} has already completed or been excused from study task {}",
                        person.as_str(),
                        a.id
                    )));
                }
                if reason.trim().is_empty() {
                    return Err(DomainError::invalid(
                        "waiver reason",
                        reason,
                        "must not be empty",
                    ));
                }
                Ok(vec![StudyEvent::StudyTaskWaived {
                    person: person.clone(),
                    reason: reason.trim().to_owned(),
                    waiver: waiver.clone(),
                }])
            }
            StudyCommand::Close { today, audience } => {
                let a = self.open()?;
                if *today < a.due {
                    return Err(DomainError::Refused(format!(
                        "study task {} is due on {}; it cannot close on {today}",
                        a.id, a.due
                    )));
                }
                let done = |p: &StaffNo| {
                    self.completed.get(p).is_some_and(|d| *d <= a.due) || self.waived.contains(p)
                };
                let missed: BTreeSet<StaffNo> =
                    audience.iter().filter(|p| !done(p)).cloned().collect();
                Ok(vec![StudyEvent::StudyTaskClosed {
                    missed: missed.into_iter().collect(),
                }])
            }
        }
    }
}

/// How many people a study task's audience holds in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounts {
    pub completed: u64,
    pub completed_late: u64,
    pub waived: u64,
    /// Set once the task closes: those who never completed it.
    pub missed: u64,
}

impl StudyTask {
    /// The state of `person` on this task, if they have one yet.
    pub fn state_of(&self, person: &StaffNo) -> Option<TaskState> {
        let a = self.assignment.as_ref()?;
        if let Some(on) = self.completed.get(person) {
            return Some(if *on <= a.due {
                TaskState::Completed
            } else {
                TaskState::CompletedLate
            });
        }
        if self.waived.contains(person) {
            return Some(TaskState::Waived);
        }
        self.missed
            .as_ref()
            .filter(|m| m.contains(person))
            .map(|_| TaskState::Missed)
    }

    /// The task's counts: every person it applies to in one state
    /// (`state_of`: a completion comes before a waiver, a waiver before a
    /// miss). Linear in the people named, with no set built: the study
    /// projector counts after every completion.
    pub fn counts(&self) -> TaskCounts {
        let mut c = TaskCounts::default();
        let Some(a) = &self.assignment else {
            return c;
        };
        for on in self.completed.values() {
            if *on <= a.due {
                c.completed += 1;
            } else {
                c.completed_late += 1;
            }
        }
        c.waived = self
            .waived
            .iter()
            .filter(|p| !self.completed.contains_key(*p))
            .count() as u64;
        if let Some(missed) = &self.missed {
            let mut missed: Vec<&StaffNo> = missed
                .iter()
                .filter(|p| !self.completed.contains_key(*p) && !self.waived.contains(*p))
                .collect();
            missed.sort_unstable();
            missed.dedup();
            c.missed = missed.len() as u64;
        }
        c
    }
}

/// Where a person ends on a study task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Completed,
    CompletedLate,
    Waived,
    Missed,
}

impl Aggregate for StudyTask {
    type Event = StudyEvent;

    fn apply(&mut self, event: &StudyEvent) -> Result<()> {
        let refuse = |reason: &str| DomainError::Fold {
            event: event.event_type(),
            reason: reason.to_owned(),
        };
        if self.assignment.is_none() && !matches!(event, StudyEvent::StudyTaskAssigned(_)) {
            return Err(refuse("the task is not assigned"));
        }
        match event {
            StudyEvent::StudyTaskAssigned(a) => {
                if self.assignment.is_some() {
                    return Err(refuse("the task is assigned already"));
                }
                self.assignment = Some(a.clone());
            }
            StudyEvent::StudyTaskCompleted { person, on, .. } => {
                if self.completed.insert(person.clone(), *on).is_some() {
                    return Err(refuse("completed already"));
                }
            }
            StudyEvent::StudyTaskWaived { person, .. } => {
                self.waived.insert(person.clone());
            }
            StudyEvent::StudyTaskClosed { missed } => {
                if self.missed.is_some() {
                    return Err(refuse("closed already"));
                }
                self.missed = Some(missed.clone());
            }
        }
        Ok(())
    }
}
