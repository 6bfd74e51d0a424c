//! Appraisal disputes (one stream each, `dispute-<id>`): filed by a staff
//! member about specific explanation lines (by log position) within a
//! deadline after the period closes, assigned to an auditor, and resolved
//! as upheld — naming the correcting events — or rejected, with reasoning
//! and the totals before and after.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::{Aggregate, DomainEvent};
use crate::error::{DomainError, Result};
use crate::person::{Person, Role};
use crate::values::StaffNo;

pub type DisputeId = Uuid;

/// The stream of one dispute.
pub fn dispute_stream(id: DisputeId) -> String {
    format!("dispute-{id}")
}

/// The last day to file: `working_days` Monday-to-Friday days after
/// `closed_on` (public holidays are not known here and count as working
/// days).
pub fn filing_deadline(closed_on: NaiveDate, working_days: u32) -> NaiveDate {
    let mut day = closed_on;
    let mut left = working_days;
    while left > 0 {
        day = day + Days::new(1);
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    day
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Upheld,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DisputeEvent {
    DisputeFiled {
        dispute: DisputeId,
        person: StaffNo,
        year: i32,
        /// Log positions of the explanation lines contested.
        positions: Vec<u64>,
        claim: String,
        filed_on: NaiveDate,
    },
    DisputeAssigned {
        auditor: StaffNo,
    },
    DisputeResolved {
        outcome: Outcome,
        reasoning: String,
        /// Ids of the events that correct the record (upheld only).
        correcting_events: Vec<Uuid>,
        total_before: i32,
        total_after: i32,
    },
}

impl DomainEvent for DisputeEvent {
    fn event_type(&self) -> &'static str {
        match self {
            DisputeEvent::DisputeFiled { .. } => "DisputeFiled",
            DisputeEvent::DisputeAssigned { .. } => "DisputeAssigned",
            DisputeEvent::DisputeResolved { .. } => "DisputeResolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisputeCommand {
    File {
        dispute: DisputeId,
        person: StaffNo,
        year: i32,
        positions: Vec<u64>,
        claim: String,
        filed_on: NaiveDate,
        /// The last filing day, if the year is closed (`filing_deadline`).
        deadline: Option<NaiveDate>,
        /// The log positions behind the lines of `person`'s appraisal for
        /// `year`: the only positions a dispute may name.
        lines: Vec<u64>,
    },
    /// Assigns the dispute to `auditor`, folded from their stream.
    Assign { auditor: Box<Person> },
    Resolve {
        outcome: Outcome,
        reasoning: String,
        correcting_events: Vec<Uuid>,
        total_before: i32,
        total_after: i32,
    },
}

/// A dispute as folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dispute {
    pub filed: Option<(DisputeId, StaffNo, i32)>,
    pub auditor: Option<StaffNo>,
    pub outcome: Option<Outcome>,
}

impl Dispute {
    /// Refuses unless the dispute is assigned and not yet resolved: what a
    /// resolution checks before it decides its corrections.
    pub fn resolvable(&self) -> Result<()> {
        if self.auditor.is_none() {
            return Err(DomainError::Refused(
                "the dispute is not assigned to an auditor".into(),
            ));
        }
        if self.outcome.is_some() {
            return Err(DomainError::Refused(
                "the dispute is resolved already".into(),
            ));
        }
        Ok(())
    }

    pub fn decide(&self, command: &DisputeCommand) -> Result<Vec<DisputeEvent>> {
        match command {
            DisputeCommand::File {
                dispute,
                person,
                year,
                positions,
                claim,
                filed_on,
                deadline,
                lines,
            } => {
                if self.filed.is_some() {
                    return Err(DomainError::exists("dispute", dispute));
                }
                if positions.is_empty() {
                    return Err(DomainError::invalid(
                        "disputed lines",
                        "none",
                        "name at least one line",
                    ));
                }
                if claim.trim().is_empty() {
                    return Err(DomainError::invalid("claim", claim, "say what is wrong"));
                }
                if let Some(last) = deadline.filter(|d| filed_on > d) {
                    return Err(DomainError::Refused(format!(
                        "disputes about {year} had to be filed by {last}; it is {filed_on}"
                    )));
                }
                if let Some(p) = positions.iter().find(|p| !lines.contains(p)) {
                    return Err(DomainError::invalid(
                        "disputed position",
                        p.to_string(),
                        format!(
                            "is not behind a line of {person}'s {year} appraisal (its lines \
                             cite {lines:?})"
                        ),
                    ));
                }
                Ok(vec![DisputeEvent::DisputeFiled {
                    dispute: *dispute,
                    person: person.clone(),
                    year: *year,
                    positions: positions.clone(),
                    claim: claim.trim().to_owned(),
                    filed_on: *filed_on,
                }])
            }
            DisputeCommand::Assign { auditor } => {
                let (_, person, _) = self
                    .filed
                    .as_ref()
                    .ok_or_else(|| DomainError::Refused("no dispute filed".into()))?;
                if self.outcome.is_some() {
                    return Err(DomainError::Refused("the dispute is resolved".into()));
                }
                let reg = auditor
                    .registered
                    .as_ref()
                    .ok_or_else(|| DomainError::Refused("the auditor is not registered".into()))?;
                if !auditor.roles.contains(&Role::Auditor) {
                    return Err(DomainError::Refused(format!(
                        "{} is not an auditor",
                        reg.staff_no.as_str()
                    )));
                }
                if &reg.staff_no == person {
                    return Err(DomainError::Refused(format!(
                        "{} cannot audit their own dispute",
                        person.as_str()
                    )));
                }
                Ok(vec![DisputeEvent::DisputeAssigned {
                    auditor: reg.staff_no.clone(),
                }])
            }
            DisputeCommand::Resolve {
                outcome,
                reasoning,
                correcting_events,
                total_before,
                total_after,
            } => {
                self.resolvable()?;
                if reasoning.trim().is_empty() {
                    return Err(DomainError::invalid(
                        "reasoning",
                        reasoning,
                        "must not be empty",
                    ));
                }
                match outcome {
                    Outcome::Upheld if correcting_events.is_empty() => {
                        return Err(DomainError::Refused(
                            "an upheld dispute names the events that correct the record".into(),
                        ));
                    }
                    Outcome::Rejected
                        if !correcting_events.is_empty() || total_before != total_after =>
                    {
                        return Err(DomainError::Refused(
                            "a rejected dispute changes nothing".into(),
                        ));
                    }
                    _ => {}
                }
                Ok(vec![DisputeEvent::DisputeResolved {
                    outcome: *outcome,
                    reasoning: reasoning.trim().to_owned(),
                    correcting_events: correcting_events.clone(),
                    total_before: *total_before,
                    total_after: *total_after,
                }])
            }
        }
    }
}

impl Aggregate for Dispute {
    type Event = DisputeEvent;

    fn apply(&mut self, event: &DisputeEvent) -> Result<()> {
        let refuse = |reason: &str| DomainError::Fold {
            event: event.event_type(),
            reason: reason.to_owned(),
        };
        match event {
            DisputeEvent::DisputeFiled {
                dispute,
                person,
                year,
                ..
            } => {
                if self.filed.is_some() {
                    return Err(refuse("filed already"));
                }
                self.filed = Some((*dispute, person.clone(), *year));
            }
            DisputeEvent::DisputeAssigned { auditor } => {
                if self.filed.is_none() {
                    return Err(refuse("no dispute filed"));
                }
                self.auditor = Some(auditor.clone());
            }
            DisputeEvent::DisputeResolved { outcome, .. } => {
                if self.auditor.is_none() || self.outcome.is_some() {
                    return Err(refuse("not assigned, or resolved already"));
                }
                self.outcome = Some(*outcome);
            }
        }
        Ok(())
    }
}
