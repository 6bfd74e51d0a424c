//! People (one stream each, `person-<staff no>`): registration, transfers,
//! leaving, campus cards and roles.
//!
//! A staff number and an active card UID are unique across people; the
//! decisions here name the keys (`Person::claims`) and the store enforces
//! them when it appends (`lectern_store::UniqueKey`).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, DomainEvent};
use crate::error::{DomainError, Result};
use crate::org::{OrgTree, UnitId};
use crate::values::{CardUid, Name, StaffNo};

/// The stream of one person.
pub fn person_stream(staff_no: &StaffNo) -> String {
    format!("person-{staff_no}")
}

/// Unique-key scopes the person streams claim in the store.
pub const STAFF_NO_KEY: &str = "staff_no";
pub const CARD_UID_KEY: &str = "card_uid";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffCategory {
    Teacher,
    /// Administrative and managerial staff.
    Administrator,
    /// Workers and technical staff.
    Worker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    Lost,
    Replaced,
    Damaged,
    /// The holder left the university.
    Left,
}

/// What a person may do beyond their own records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    Administrator,
    Auditor,
    /// Union chair (工会主席) of a unit, with authority over its subtree.
    UnionChair {
        unit: UnitId,
    },
    /// Leadership group (领导小组) leader: the deputy party secretary.
    LeadershipLeader,
    /// Leadership group deputy leader: the university union's chair.
    LeadershipDeputy,
    LeadershipMember,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PersonEvent {
    PersonRegistered(Registration),
    PersonTransferred {
        from: UnitId,
        to: UnitId,
        effective: NaiveDate,
    },
    PersonLeft {
        on: NaiveDate,
        reason: String,
    },
    CardIssued {
        uid: CardUid,
    },
    CardRevoked {
        uid: CardUid,
        reason: RevocationReason,
    },
    RoleGranted {
        role: Role,
    },
    RoleRevoked {
        role: Role,
    },
    /// The person's personal-data key was destroyed: their personal fields
    /// (`personal`) read as erased from now on. Holds nothing personal.
    PersonalDataErased {
        /// Server time of the erasure.
        at: DateTime<Utc>,
        /// Who erased it (as the request's metadata names the caller).
        by: String,
        /// The rule that allowed it.
        rule: String,
    },
}

impl DomainEvent for PersonEvent {
    fn event_type(&self) -> &'static str {
        match self {
            PersonEvent::PersonRegistered(_) => "PersonRegistered",
            PersonEvent::PersonTransferred { .. } => "PersonTransferred",
            PersonEvent::PersonLeft { .. } => "PersonLeft",
            PersonEvent::CardIssued { .. } => "CardIssued",
            PersonEvent::CardRevoked { .. } => "CardRevoked",
            PersonEvent::RoleGranted { .. } => "RoleGranted",
            PersonEvent::RoleRevoked { .. } => "RoleRevoked",
            PersonEvent::PersonalDataErased { .. } => "PersonalDataErased",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonCommand {
    Register(Registration),
    Transfer {
        to: UnitId,
        effective: NaiveDate,
    },
    Leave {
        on: NaiveDate,
        reason: String,
    },
    /// Issues a card; a card the person still holds is revoked as replaced.
    IssueCard {
        uid: CardUid,
    },
    RevokeCard {
        uid: CardUid,
        reason: RevocationReason,
    },
    GrantRole {
        role: Role,
    },
    RevokeRole {
        role: Role,
    },
    /// Erases the personal data of someone who left more than
    /// `retention_years` before `today` (the campus date of `at`).
    EraseData {
        at: DateTime<Utc>,
        today: NaiveDate,
        retention_years: u32,
        by: String,
    },
}

/// A person as folded from their stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    pub registered: Option<Registration>,
    pub unit: Option<UnitId>,
    pub left_on: Option<NaiveDate>,
    pub card: Option<CardUid>,
    pub roles: Vec<Role>,
    /// When their personal data was erased.
    pub erased: Option<DateTime<Utc>>,
}

/// Who a person is: the payload of `PersonRegistered`. `unit` is the unit
/// of registration; `Person::unit` follows transfers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub staff_no: StaffNo,
    pub name: Name,
    pub unit: UnitId,
    pub category: StaffCategory,
    /// Required to register; `None` once erased.
    pub birth_date: Option<NaiveDate>,
    pub hire_date: NaiveDate,
}

/// A unique key a decision needs claimed (or released) with its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    Claim { scope: &'static str, key: String },
    Release { scope: &'static str, key: String },
}

impl Person {
    /// Age in whole years on `date`.
    pub fn age_on(&self, date: NaiveDate) -> Option<u32> {
        let b = self.registered.as_ref()?.birth_date?;
        let mut years = date.year() - b.year();
        if (date.month(), date.day()) < (b.month(), b.day()) {
            years -= 1;
        }
        u32::try_from(years).ok()
    }

    fn active(&self) -> Result<&Registration> {
        let r = self
            .registered
            .as_ref()
            .ok_or_else(|| DomainError::Refused("this person is not registered".into()))?;
        if let Some(on) = self.left_on {
            return Err(DomainError::Refused(format!(
                "staff member {} left on {on}",
                r.staff_no.as_str()
            )));
        }
        Ok(r)
    }

    /// Decides a command; `org` is the unit tree for unit checks.
    pub fn decide(&self, command: &PersonCommand, org: &OrgTree) -> Result<Vec<PersonEvent>> {
        match command {
            PersonCommand::Register(r) => {
                if self.registered.is_some() {
                    return Err(DomainError::exists("staff member", &r.staff_no));
                }
                org.active(&r.unit)?;
                let Some(birth_date) = r.birth_date else {
                    return Err(DomainError::invalid(
                        "birth date",
                        "",
                        "is needed to register a member of staff",
                    ));
                };
                if r.hire_date < birth_date + chrono::Months::new(16 * 12) {
                    return Err(DomainError::invalid(
                        "hire date",
                        r.hire_date.to_string(),
                        format!("is before the 16th birthday of someone born on {birth_date}"),
                    ));
                }
                Ok(vec![PersonEvent::PersonRegistered(r.clone())])
            }
            PersonCommand::Transfer { to, effective } => {
                let r = self.active()?;
                org.active(to)?;
                let from = self.unit.clone().expect("a registered person has a unit");
                if &from == to {
                    return Err(DomainError::Refused(format!(
                        "staff member {} is already in unit {to:?}",
                        r.staff_no.as_str()
                    )));
                }
                Ok(vec![PersonEvent::PersonTransferred {
                    from,
                    to: to.clone(),
                    effective: *effective,
                }])
            }
            PersonCommand::Leave { on, reason } => {
                self.active()?;
                let mut events = Vec::new();
                if let Some(uid) = &self.card {
                    events.push(PersonEvent::CardRevoked {
                        uid: uid.clone(),
                        reason: RevocationReason::Left,
                    });
                }
                events.extend(
                    self.roles
                        .iter()
                        .map(|role| PersonEvent::RoleRevoked { role: role.clone() }),
                );
                events.push(PersonEvent::PersonLeft {
                    on: *on,
                    reason: reason.trim().to_owned(),
                });
                Ok(events)
            }
            PersonCommand::IssueCard { uid } => {
                self.active()?;
                if self.card.as_ref() == Some(uid) {
                    return Ok(vec![]);
                }
                let mut events = Vec::new();
                if let Some(old) = &self.card {
                    events.push(PersonEvent::CardRevoked {
                        uid: old.clone(),
                        reason: RevocationReason::Replaced,
                    });
                }
                events.push(PersonEvent::CardIssued { uid: uid.clone() });
                Ok(events)
            }
            PersonCommand::RevokeCard { uid, reason } => {
                let r = self.active()?;
                if self.card.as_ref() != Some(uid) {
                    return Err(DomainError::Refused(format!(
                        "card {} is not the active card of staff member {}",
                        uid.as_str(),
                        r.staff_no.as_str()
                    )));
                }
                Ok(vec![PersonEvent::CardRevoked {
                    uid: uid.clone(),
                    reason: *reason,
                }])
            }
            PersonCommand::GrantRole { role } => {
                let r = self.active()?;
                if let Role::UnionChair { unit } = role {
                    org.active(unit)?;
                }
                if self.roles.contains(role) {
                    return Err(DomainError::Refused(format!(
                        "staff member {} already has the role {role:?}",
                        r.staff_no.as_str()
                    )));
                }
                Ok(vec![PersonEvent::RoleGranted { role: role.clone() }])
            }
            PersonCommand::RevokeRole { role } => {
                let r = self.active()?;
                if !self.roles.contains(role) {
                    return Err(DomainError::Refused(format!(
                        "staff member {} does not have the role {role:?}",
                        r.staff_no.as_str()
                    )));
                }
                Ok(vec![PersonEvent::RoleRevoked { role: role.clone() }])
            }
            PersonCommand::EraseData {
                at,
                today,
                retention_years,
                by,
            } => {
                let r = self
                    .registered
                    .as_ref()
                    .ok_or_else(|| DomainError::Refused("this person is not registered".into()))?;
                let no = r.staff_no.as_str();
                if let Some(when) = self.erased {
                    return Err(DomainError::Refused(format!(
                        "the personal data of staff member {no} was erased already, at {when}"
                    )));
                }
                let Some(left) = self.left_on else {
                    return Err(DomainError::Refused(format!(
                        "staff member {no} has not left the university: the personal data of \
                         current staff is kept"
                    )));
                };
                let until = left
                    .checked_add_months(chrono::Months::new(retention_years.saturating_mul(12)))
                    .unwrap_or(NaiveDate::MAX);
                if *today < until {
                    return Err(DomainError::Refused(format!(
                        "staff member {no} left on {left}; their personal data is kept \
                         {retention_years} years after leaving, until {until} \
                         (personal_data.retention_years)"
                    )));
                }
                Ok(vec![PersonEvent::PersonalDataErased {
                    at: *at,
                    by: by.clone(),
                    rule: format!(
                        "left on {left}; personal data kept {retention_years} years after \
                         leaving (personal_data.retention_years), until {until}"
                    ),
                }])
            }
        }
    }

    /// The unique keys `events` claim and release: the staff number on
    /// registration, a card's UID while it is active.
    pub fn key_changes(events: &[PersonEvent]) -> Vec<KeyChange> {
        events
            .iter()
            .filter_map(|e| match e {
                PersonEvent::PersonRegistered(Registration { staff_no, .. }) => {
                    Some(KeyChange::Claim {
                        scope: STAFF_NO_KEY,
                        key: staff_no.to_string(),
                    })
                }
                PersonEvent::CardIssued { uid } => Some(KeyChange::Claim {
                    scope: CARD_UID_KEY,
                    key: uid.to_string(),
                }),
                PersonEvent::CardRevoked { uid, .. } => Some(KeyChange::Release {
                    scope: CARD_UID_KEY,
                    key: uid.to_string(),
                }),
                _ => None,
            })
            .collect()
    }
}

impl Aggregate for Person {
    type Event = PersonEvent;

    fn apply(&mut self, event: &PersonEvent) -> Result<()> {
        let refuse = |reason: &str| DomainError::Fold {
            event: event.event_type(),
            reason: reason.to_owned(),
        };
        if self.registered.is_none() && !matches!(event, PersonEvent::PersonRegistered(_)) {
            return Err(refuse("the person is not registered"));
        }
        match event {
            PersonEvent::PersonRegistered(r) => {
                if self.registered.is_some() {
                    return Err(refuse("the person is registered already"));
                }
                self.registered = Some(r.clone());
                self.unit = Some(r.unit.clone());
            }
            PersonEvent::PersonTransferred { to, .. } => self.unit = Some(to.clone()),
            PersonEvent::PersonLeft { on, .. } => self.left_on = Some(*on),
            PersonEvent::CardIssued { uid } => {
                if self.card.is_some() {
                    return Err(refuse("a card is still active"));
                }
                self.card = Some(uid.clone());
            }
            PersonEvent::CardRevoked { uid, .. } => {
                if self.card.as_ref() != Some(uid) {
                    return Err(refuse("the card is not active"));
                }
                self.card = None;
            }
            PersonEvent::RoleGranted { role } => {
                if self.roles.contains(role) {
                    return Err(refuse("the role is held already"));
                }
                self.roles.push(role.clone());
            }
            PersonEvent::RoleRevoked { role } => {
                let before = self.roles.len();
                self.roles.retain(|r| r != role);
                if self.roles.len() == before {
                    return Err(refuse("the role is not held"));
                }
            }
            PersonEvent::PersonalDataErased { at, .. } => {
                if self.left_on.is_none() {
                    return Err(refuse("the person has not left"));
                }
                self.erased = Some(*at);
                if let Some(r) = self.registered.as_mut() {
                    r.name = Name::erased();
                    r.birth_date = None;
                }
            }
        }
        Ok(())
    }
}

/// A person's units over time, from their stream: `(unit, since, until)`
/// with `until` exclusive (`None`: still there). Registration starts the
/// first on the hire date; a transfer ends one and starts the next on its
/// effective date; leaving ends the last.
pub fn memberships(history: &[PersonEvent]) -> Vec<(UnitId, NaiveDate, Option<NaiveDate>)> {
    let mut spans: Vec<(UnitId, NaiveDate, Option<NaiveDate>)> = Vec::new();
    let close = |spans: &mut Vec<(UnitId, NaiveDate, Option<NaiveDate>)>, on: NaiveDate| {
        if let Some(last) = spans.last_mut().filter(|s| s.2.is_none()) {
            last.2 = Some(on);
        }
    };
    for e in history {
        match e {
            PersonEvent::PersonRegistered(r) => spans.push((r.unit.clone(), r.hire_date, None)),
            PersonEvent::PersonTransferred { to, effective, .. } => {
                close(&mut spans, *effective);
                // A transfer effective the day another began replaces it.
                spans.retain(|s| s.1 != *effective);
                spans.push((to.clone(), *effective, None));
            }
            PersonEvent::PersonLeft { on, .. } => close(&mut spans, *on),
            _ => {}
        }
    }
    spans
}
