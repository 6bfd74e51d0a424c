//! The organisation: the unit tree (one stream, `org`), small enough to
//! decide every tree rule (a parent exists, no cycles, no orphaned children)
//! in one place.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, DomainEvent};
use crate::error::{DomainError, Result};
use crate::values::{Name, Slug};

/// The stream that holds the unit tree.
pub const ORG_STREAM: &str = "org";

/// A unit's identifier, chosen by the administrator (`cs-dept`).
pub type UnitId = Slug;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    University,
    Campus,
    School,
    Department,
    /// 科室: an office or section.
    Office,
    UnionBranch,
    LearningGroup,
}

impl UnitKind {
    /// Whether a unit of this kind may sit under a `parent` kind.
    fn may_sit_under(self, parent: UnitKind) -> bool {
        use UnitKind::*;
        match self {
            University => false,
            Campus => parent == University,
            School => matches!(parent, University | Campus),
            Department | Office | UnionBranch => parent != LearningGroup,
            LearningGroup => parent != LearningGroup,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum OrgEvent {
    UnitEstablished {
        unit: UnitId,
        name: Name,
        kind: UnitKind,
        parent: Option<UnitId>,
    },
    UnitRenamed {
        unit: UnitId,
        name: Name,
    },
    UnitMoved {
        unit: UnitId,
        parent: UnitId,
    },
    UnitDissolved {
        unit: UnitId,
        reason: String,
    },
}

impl DomainEvent for OrgEvent {
    fn event_type(&self) -> &'static str {
        match self {
            OrgEvent::UnitEstablished { .. } => "UnitEstablished",
            OrgEvent::UnitRenamed { .. } => "UnitRenamed",
            OrgEvent::UnitMoved { .. } => "UnitMoved",
            OrgEvent::UnitDissolved { .. } => "UnitDissolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgCommand {
    EstablishUnit {
        unit: UnitId,
        name: Name,
        kind: UnitKind,
        parent: Option<UnitId>,
    },
    RenameUnit {
        unit: UnitId,
        name: Name,
    },
    MoveUnit {
        unit: UnitId,
        parent: UnitId,
    },
    DissolveUnit {
        unit: UnitId,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub id: UnitId,
    pub name: Name,
    pub kind: UnitKind,
    pub parent: Option<UnitId>,
    pub dissolved: bool,
}

/// The unit tree as folded from the `org` stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgTree {
    units: BTreeMap<UnitId, Unit>,
}

impl OrgTree {
    pub fn unit(&self, id: &UnitId) -> Option<&Unit> {
        self.units.get(id)
    }

    /// A unit that exists and is not dissolved.
    pub fn active(&self, id: &UnitId) -> Result<&Unit> {
        match self.units.get(id) {
            Some(u) if !u.dissolved => Ok(u),
            Some(_) => Err(DomainError::Refused(format!("unit {id:?} is dissolved"))),
            None => Err(DomainError::not_found("unit", id)),
        }
    }

    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        self.units.values()
    }

    /// Whether `unit` is `ancestor` or lies below it.
    pub fn is_within(&self, unit: &UnitId, ancestor: &UnitId) -> bool {
        let mut at = Some(unit);
        let mut steps = 0;
        while let Some(u) = at {
            if u == ancestor {
                return true;
            }
            // The tree has no cycles (MoveUnit refuses them); the bound only
            // guards against a corrupt history.
            steps += 1;
            if steps > self.units.len() {
                return false;
            }
            at = self.units.get(u).and_then(|x| x.parent.as_ref());
        }
        false
    }

    /// The unit's ancestors, nearest first.
    pub fn ancestors(&self, unit: &UnitId) -> Vec<&Unit> {
        let mut out = Vec::new();
        let mut at = self.units.get(unit).and_then(|u| u.parent.as_ref());
        while let Some(p) = at {
            match self.units.get(p) {
                Some(u) if out.len() <= self.units.len() => {
                    out.push(u);
                    at = u.parent.as_ref();
                }
                _ => break,
            }
        }
        out
    }

    pub fn decide(&self, command: &OrgCommand) -> Result<Vec<OrgEvent>> {
        match command {
            OrgCommand::EstablishUnit {
                unit,
                name,
                kind,
                parent,
            } => {
                if self.units.contains_key(unit) {
                    return Err(DomainError::exists("unit", unit));
                }
                match (kind, parent) {
                    (UnitKind::University, None) => {
                        if let Some(u) =
                            self.units.values().find(|u| u.kind == UnitKind::University)
                        {
                            return Err(DomainError::Refused(format!(
                                "there is already a university, {:?}; a university has no second root",
                                u.id.as_str()
                            )));
                        }
                    }
                    (UnitKind::University, Some(p)) => {
                        return Err(DomainError::Refused(format!(
                            "a university is the root of the tree and cannot sit under {p:?}"
                        )));
                    }
                    (_, None) => {
                        return Err(DomainError::Refused(format!(
                            "unit {unit:?} needs a parent unit (only the university has none)"
                        )));
                    }
                    (kind, Some(p)) => self.check_parent(unit, *kind, p)?,
                }
                Ok(vec![OrgEvent::UnitEstablished {
                    unit: unit.clone(),
                    name: name.clone(),
                    kind: *kind,
                    parent: parent.clone(),
                }])
            }
            OrgCommand::RenameUnit { unit, name } => {
                let u = self.active(unit)?;
                if &u.name == name {
                    return Ok(vec![]);
                }
                Ok(vec![OrgEvent::UnitRenamed {
                    unit: unit.clone(),
                    name: name.clone(),
                }])
            }
            OrgCommand::MoveUnit { unit, parent } => {
                let u = self.active(unit)?;
                if u.parent.as_ref() == Some(parent) {
                    return Ok(vec![]);
                }
                if u.kind == UnitKind::University {
                    return Err(DomainError::Refused(
                        "the university cannot be moved".into(),
                    ));
                }
                if self.is_within(parent, unit) {
                    return Err(DomainError::Refused(format!(
                        "unit {unit:?} cannot move under {parent:?}, which lies within it"
                    )));
                }
                self.check_parent(unit, u.kind, parent)?;
                Ok(vec![OrgEvent::UnitMoved {
                    unit: unit.clone(),
                    parent: parent.clone(),
                }])
            }
            OrgCommand::DissolveUnit { unit, reason } => {
                self.active(unit)?;
                if let Some(child) = self
                    .units
                    .values()
                    .find(|c| !c.dissolved && c.parent.as_ref() == Some(unit))
                {
                    return Err(DomainError::Refused(format!(
                        "unit {unit:?} still has the unit {:?} under it; move or dissolve that first",
                        child.id.as_str()
                    )));
                }
                Ok(vec![OrgEvent::UnitDissolved {
                    unit: unit.clone(),
                    reason: reason.trim().to_owned(),
                }])
            }
        }
    }

    fn check_parent(&self, unit: &UnitId, kind: UnitKind, parent: &UnitId) -> Result<()> {
        let p = self.active(parent)?;
        if !kind.may_sit_under(p.kind) {
            return Err(DomainError::Refused(format!(
                "a {kind:?} unit ({unit:?}) cannot sit under the {:?} unit {parent:?}",
                p.kind
            )));
        }
        Ok(())
    }
}

impl Aggregate for OrgTree {
    type Event = OrgEvent;

    fn apply(&mut self, event: &OrgEvent) -> Result<()> {
        let refuse = |reason: String| DomainError::Fold {
            event: event.event_type(),
            reason,
        };
        match event {
            OrgEvent::UnitEstablished {
                unit,
                name,
                kind,
                parent,
            } => {
                if self.units.contains_key(unit) {
                    return Err(refuse(format!("unit {unit:?} exists already")));
                }
                self.units.insert(
                    unit.clone(),
                    Unit {
                        id: unit.clone(),
                        name: name.clone(),
                        kind: *kind,
                        parent: parent.clone(),
                        dissolved: false,
                    },
                );
            }
            OrgEvent::UnitRenamed { unit, name } => {
                self.units
                    .get_mut(unit)
                    .ok_or_else(|| refuse(format!("no unit {unit:?}")))?
                    .name = name.clone();
            }
            OrgEvent::UnitMoved { unit, parent } => {
                if !self.units.contains_key(parent) {
                    return Err(refuse(format!("no parent unit {parent:?}")));
                }
                self.units
                    .get_mut(unit)
                    .ok_or_else(|| refuse(format!("no unit {unit:?}")))?
                    .parent = Some(parent.clone());
            }
            OrgEvent::UnitDissolved { unit, .. } => {
                self.units
                    .get_mut(unit)
                    .ok_or_else(|| refuse(format!("no unit {unit:?}")))?
                    .dissolved = true;
            }
        }
        Ok(())
    }
}
