//! Awards (one stream per category, `award-<category>`): Teachers' Day
//! commendations at national, provincial, city and university level, to
//! individuals or to collectives (units); nominations, endorsement, votes
//! ("the good teacher in my mind": one vote per voter per year, no
//! self-vote), conferment at a ceremony, revocation, and exemplars featured
//! on the campus web, campus TV or the university newspaper.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, DomainEvent};
use crate::error::{DomainError, Result};
use crate::org::{OrgTree, UnitId};
use crate::values::{Name, Slug, StaffNo};

pub type CategoryId = Slug;

/// The stream of one award category.
pub fn award_stream(category: &CategoryId) -> String {
    format!("award-{category}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AwardLevel {
    National,
    Provincial,
    City,
    University,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AwardKind {
    Individual,
    /// To a unit.
    Collective,
}

/// Who an award goes to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Nominee {
    Person(StaffNo),
    Unit(UnitId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    CampusWeb,
    CampusTv,
    Newspaper,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AwardEvent {
    AwardCategoryDefined {
        category: CategoryId,
        title: Name,
        level: AwardLevel,
        kind: AwardKind,
        criteria: String,
        /// Decided by a vote of the staff.
        by_vote: bool,
    },
    NominationSubmitted {
        year: i32,
        nominee: Nominee,
        nominator: StaffNo,
        citation: String,
    },
    NominationEndorsed {
        year: i32,
        nominee: Nominee,
        endorser: StaffNo,
    },
    VoteCast {
        year: i32,
        voter: StaffNo,
        nominee: Nominee,
    },
    AwardConferred {
        year: i32,
        nominee: Nominee,
        ceremony: Name,
        on: NaiveDate,
    },
    AwardRevoked {
        year: i32,
        nominee: Nominee,
        reason: String,
    },
    ExemplarFeatured {
        year: i32,
        nominee: Nominee,
        channel: Channel,
        story: String,
        on: NaiveDate,
    },
}

impl DomainEvent for AwardEvent {
    fn event_type(&self) -> &'static str {
        match self {
            AwardEvent::AwardCategoryDefined { .. } => "AwardCategoryDefined",
            AwardEvent::NominationSubmitted { .. } => "NominationSubmitted",
            AwardEvent::NominationEndorsed { .. } => "NominationEndorsed",
            AwardEvent::VoteCast { .. } => "VoteCast",
            AwardEvent::AwardConferred { .. } => "AwardConferred",
            AwardEvent::AwardRevoked { .. } => "AwardRevoked",
            AwardEvent::ExemplarFeatured { .. } => "ExemplarFeatured",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwardCommand {
    Define {
        category: CategoryId,
        title: Name,
        level: AwardLevel,
        kind: AwardKind,
        criteria: String,
        by_vote: bool,
    },
    Nominate {
        year: i32,
        nominee: Nominee,
        nominator: StaffNo,
        citation: String,
    },
    Endorse {
        year: i32,
        nominee: Nominee,
        endorser: StaffNo,
    },
    Vote {
        year: i32,
        voter: StaffNo,
        nominee: Nominee,
    },
    Confer {
        year: i32,
        nominee: Nominee,
        ceremony: Name,
        on: NaiveDate,
    },
    Revoke {
        year: i32,
        nominee: Nominee,
        reason: String,
    },
    Feature {
        year: i32,
        nominee: Nominee,
        channel: Channel,
        story: String,
        on: NaiveDate,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: CategoryId,
    pub title: Name,
    pub level: AwardLevel,
    pub kind: AwardKind,
    pub by_vote: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nomination {
    pub endorsed: bool,
    pub votes: u32,
    pub conferred: bool,
    pub revoked: bool,
}

/// An award category as folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Award {
    pub category: Option<Category>,
    pub nominations: BTreeMap<(i32, Nominee), Nomination>,
    pub voters: BTreeSet<(i32, StaffNo)>,
}

fn describe(n: &Nominee) -> String {
    match n {
        Nominee::Person(p) => format!("staff member {p}"),
        Nominee::Unit(u) => format!("unit {u:?}"),
    }
}

impl Award {
    fn defined(&self) -> Result<&Category> {
        self.category
            .as_ref()
            .ok_or_else(|| DomainError::Refused("the award category is not defined".into()))
    }

    fn nomination(&self, year: i32, nominee: &Nominee) -> Result<&Nomination> {
        self.nominations
            .get(&(year, nominee.clone()))
            .ok_or_else(|| {
                DomainError::Refused(format!("{} is not nominated for {year}", describe(nominee)))
            })
    }

    /// The nomination, if `nominee` holds the award for `year` (conferred
    /// and not revoked).
    fn holder(&self, year: i32, nominee: &Nominee) -> Result<&Nomination> {
        self.defined()?;
        let n = self.nomination(year, nominee)?;
        if !n.conferred || n.revoked {
            return Err(DomainError::Refused(format!(
                "{} does not hold this award for {year}",
                describe(nominee)
            )));
        }
        Ok(n)
    }

    pub fn decide(&self, command: &AwardCommand, org: &OrgTree) -> Result<Vec<AwardEvent>> {
        match command {
            AwardCommand::Define {
                category,
                title,
                level,
                kind,
                criteria,
                by_vote,
            } => {
                if self.category.is_some() {
                    return Err(DomainError::exists("award category", category));
                }
                if *by_vote && *kind == AwardKind::Collective {
                    return Err(DomainError::invalid(
                        "award category",
                        category.to_string(),
                        "a vote chooses individuals, not units",
                    ));
                }
                Ok(vec![AwardEvent::AwardCategoryDefined {
                    category: category.clone(),
                    title: title.clone(),
                    level: *level,
                    kind: *kind,
                    criteria: criteria.trim().to_owned(),
                    by_vote: *by_vote,
                }])
            }
            AwardCommand::Nominate {
                year,
                nominee,
                nominator,
                citation,
            } => {
                let c = self.defined()?;
                match (c.kind, nominee) {
                    (AwardKind::Individual, Nominee::Person(_)) => {}
                    (AwardKind::Collective, Nominee::Unit(u)) => {
                        org.active(u)?;
                    }
                    (kind, n) => {
                        return Err(DomainError::Refused(format!(
                            "{:?} is a {kind:?} award; {} cannot be nominated",
                            c.id.as_str(),
                            describe(n)
                        )));
                    }
                }
                if self.nominations.contains_key(&(*year, nominee.clone())) {
                    return Err(DomainError::Refused(format!(
                        "{} is already nominated for {year}",
                        describe(nominee)
                    )));
                }
                Ok(vec![AwardEvent::NominationSubmitted {
                    year: *year,
                    nominee: nominee.clone(),
                    nominator: nominator.clone(),
                    citation: citation.trim().to_owned(),
                }])
            }
            AwardCommand::Endorse {
                year,
                nominee,
                endorser,
            } => {
                self.defined()?;
                if self.nomination(*year, nominee)?.endorsed {
                    return Ok(vec![]);
                }
                Ok(vec![AwardEvent::NominationEndorsed {
                    year: *year,
                    nominee: nominee.clone(),
                    endorser: endorser.clone(),
                }])
            }
            AwardCommand::Vote {
                year,
                voter,
                nominee,
            } => {
                let c = self.defined()?;
                if !c.by_vote {
                    return Err(DomainError::Refused(format!(
                        "{:?} is not decided by vote",
                        c.id.as_str()
                    )));
                }
                self.nomination(*year, nominee)?;
                if nominee == &Nominee::Person(voter.clone()) {
                    return Err(DomainError::Refused(format!(
                        "{} cannot vote for themselves",
                        voter.as_str()
                    )));
                }
                if self.voters.contains(&(*year, voter.clone())) {
                    return Err(DomainError::Refused(format!(
                        "{} has already voted in {:?} for {year}",
                        voter.as_str(),
                        c.id.as_str()
                    )));
                }
                Ok(vec![AwardEvent::VoteCast {
                    year: *year,
                    voter: voter.clone(),
                    nominee: nominee.clone(),
                }])
            }
            AwardCommand::Confer {
                year,
                nominee,
                ceremony,
                on,
            } => {
                self.defined()?;
                let n = self.nomination(*year, nominee)?;
                if !n.endorsed {
                    return Err(DomainError::Refused(format!(
                        "the nomination of {} for {year} is not endorsed",
                        describe(nominee)
                    )));
                }
                if n.conferred && !n.revoked {
                    return Err(DomainError::Refused(format!(
                        "{} already holds this award for {year}",
                        describe(nominee)
                    )));
                }
                Ok(vec![AwardEvent::AwardConferred {
                    year: *year,
                    nominee: nominee.clone(),
                    ceremony: ceremony.clone(),
                    on: *on,
                }])
            }
            AwardCommand::Revoke {
                year,
                nominee,
                reason,
            } => {
                self.holder(*year, nominee)?;
                if reason.trim().is_empty() {
                    return Err(DomainError::invalid(
                        "revocation reason",
                        reason,
                        "must not be empty",
                    ));
                }
                Ok(vec![AwardEvent::AwardRevoked {
                    year: *year,
                    nominee: nominee.clone(),
                    reason: reason.trim().to_owned(),
                }])
            }
            AwardCommand::Feature {
                year,
                nominee,
                channel,
                story,
                on,
            } => {
                self.holder(*year, nominee)?;
                Ok(vec![AwardEvent::ExemplarFeatured {
                    year: *year,
                    nominee: nominee.clone(),
                    channel: *channel,
                    story: story.trim().to_owned(),
                    on: *on,
                }])
            }
        }
    }
}

impl Aggregate for Award {
    type Event = AwardEvent;

    fn apply(&mut self, event: &AwardEvent) -> Result<()> {
        let refuse = |reason: &str| DomainError::Fold {
            event: event.event_type(),
            reason: reason.to_owned(),
        };
        if self.category.is_none() && !matches!(event, AwardEvent::AwardCategoryDefined { .. }) {
            return Err(refuse("the category is not defined"));
        }
        fn nomination<'a>(
            noms: &'a mut BTreeMap<(i32, Nominee), Nomination>,
            year: &i32,
            nominee: &Nominee,
        ) -> Option<&'a mut Nomination> {
            noms.get_mut(&(*year, nominee.clone()))
        }
        let missing = || refuse("no such nomination");
        match event {
            AwardEvent::AwardCategoryDefined {
                category,
                title,
                level,
                kind,
                by_vote,
                ..
            } => {
                if self.category.is_some() {
                    return Err(refuse("defined already"));
                }
                self.category = Some(Category {
                    id: category.clone(),
                    title: title.clone(),
                    level: *level,
                    kind: *kind,
                    by_vote: *by_vote,
                });
            }
            AwardEvent::NominationSubmitted { year, nominee, .. } => {
                self.nominations
                    .insert((*year, nominee.clone()), Nomination::default());
            }
            AwardEvent::NominationEndorsed { year, nominee, .. } => {
                nomination(&mut self.nominations, year, nominee)
                    .ok_or_else(missing)?
                    .endorsed = true;
            }
            AwardEvent::VoteCast {
                year,
                voter,
                nominee,
            } => {
                nomination(&mut self.nominations, year, nominee)
                    .ok_or_else(missing)?
                    .votes += 1;
                if !self.voters.insert((*year, voter.clone())) {
                    return Err(refuse("the voter voted already"));
                }
            }
            AwardEvent::AwardConferred { year, nominee, .. } => {
                let n = nomination(&mut self.nominations, year, nominee).ok_or_else(missing)?;
                n.conferred = true;
                n.revoked = false;
            }
            AwardEvent::AwardRevoked { year, nominee, .. } => {
                nomination(&mut self.nominations, year, nominee)
                    .ok_or_else(missing)?
                    .revoked = true;
            }
            AwardEvent::ExemplarFeatured { .. } => {}
        }
        Ok(())
    }
}
