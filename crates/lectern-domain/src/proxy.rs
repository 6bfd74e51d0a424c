//! Proxy-tap flags (stream `flag-<key>`): traces a lent card, one person
//! tapping for friends or a lost card leaves in the raw taps. A flag never
//! costs a point: it names its rule and version, the taps behind it (log
//! positions) and the people involved, for the unit's chair or an
//! administrator to dismiss or confirm with a reason. A confirmed flag
//! changes nothing by itself; a correction still goes through the
//! correction or dispute paths.
//!
//! The rules are pairwise, so that the flags of a finished day do not
//! depend on the order its taps reached the server (a kiosk that synced
//! late): two taps either are a suspicious pair or not, whichever arrived
//! second. Each flag's key is made from what it is about (the two taps,
//! the two people and the year, the tap), so that finding it again raises
//! nothing new.
//!
//! - `two_venues`: one card read at two venues closer in time than walking
//!   between them allows (`FlagThresholds::travel`).
//! - `burst_together`: two people's cards read one right after the other at
//!   one kiosk (within `burst_seconds`) at `burst_sessions` or more sessions
//!   of a year: one person tapping for a friend leaves this, every session.
//!   Colleagues who arrive together leave it too, which is why it is a flag.
//! - `revoked_card`: a card reported lost, replaced or revoked, read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::{Aggregate, DomainEvent};
use crate::campus::Campus;
use crate::error::{DomainError, Result};
use crate::session::{SessionId, VenueId};
use crate::values::{CardUid, StaffNo};

/// A rule that flags taps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagRule {
    TwoVenues,
    BurstTogether,
    RevokedCard,
}

impl FlagRule {
    /// The rule's current version, recorded with each flag it raises.
    pub fn version(self) -> u32 {
        1
    }

    /// Its name as stored (`two_venues`).
    pub fn as_str(self) -> &'static str {
        match self {
            FlagRule::TwoVenues => "two_venues",
            FlagRule::BurstTogether => "burst_together",
            FlagRule::RevokedCard => "revoked_card",
        }
    }
}

/// The thresholds of the rules (configuration; see `Default` for the
/// documented defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagThresholds {
    /// The least time to walk between two venues, when `travel` does not
    /// name the pair.
    pub min_travel: Duration,
    /// The time to walk between particular venues (either order).
    pub travel: BTreeMap<(VenueId, VenueId), Duration>,
    /// Two cards read at one kiosk this close are read "together".
    pub burst_seconds: i64,
    /// Sessions of a year at which the same two people's cards were read
    /// together before they are flagged.
    pub burst_sessions: u32,
}

impl Default for FlagThresholds {
    /// Ten minutes between any two venues; two cards within 2 seconds of
    /// each other at 4 or more sessions of a year. Honest taps at a kiosk
    /// come a few seconds apart and seldom pair the same two people twice:
    /// on the demo campus these raise no flag on an honest person.
    fn default() -> Self {
        FlagThresholds {
            min_travel: Duration::minutes(10),
            travel: BTreeMap::new(),
            burst_seconds: 2,
            burst_sessions: 4,
        }
    }
}

impl FlagThresholds {
    /// The time to walk from `a` to `b`.
    pub fn travel_time(&self, a: &VenueId, b: &VenueId) -> Duration {
        self.travel
            .get(&(a.clone(), b.clone()))
            .or_else(|| self.travel.get(&(b.clone(), a.clone())))
            .copied()
            .unwrap_or(self.min_travel)
    }
}

/// A raw tap as the rules see it: the kiosk's `CardTapped` with the
/// server's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenTap {
    /// Its position in the log.
    pub position: u64,
    pub tap: Uuid,
    pub kiosk: String,
    pub venue: VenueId,
    pub card: CardUid,
    /// The card's holder, when the card is known.
    pub person: Option<StaffNo>,
    /// When it was read, in server time.
    pub at: DateTime<Utc>,
    /// The session it was attributed to.
    pub session: Option<SessionId>,
    /// The server refused it as a card reported lost, replaced or revoked.
    pub revoked: bool,
}

/// A tap behind a flag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Evidence {
    pub position: u64,
    pub tap: Uuid,
}

impl From<&SeenTap> for Evidence {
    fn from(t: &SeenTap) -> Self {
        Evidence {
            position: t.position,
            tap: t.tap,
        }
    }
}

/// A flag the rules found: its key (the stream `flag-<key>`), rule, the
/// people and the taps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub key: String,
    pub rule: FlagRule,
    pub people: Vec<StaffNo>,
    pub evidence: Vec<Evidence>,
}

/// The stream of the flag `key`.
pub fn flag_stream(key: &str) -> String {
    format!("flag-{key}")
}

/// `two_venues`: `a` and `b`, one card at two venues closer in time than
/// the walk between them.
pub fn two_venues(a: &SeenTap, b: &SeenTap, t: &FlagThresholds) -> Option<Finding> {
    if a.card != b.card || a.venue == b.venue || a.tap == b.tap {
        return None;
    }
    if (a.at - b.at).abs() >= t.travel_time(&a.venue, &b.venue) {
        return None;
    }
    let (first, second) = if (a.at, a.tap) <= (b.at, b.tap) {
        (a, b)
    } else {
        (b, a)
    };
    Some(Finding {
        key: format!(
            "{}-{}-{}",
            FlagRule::TwoVenues.as_str(),
            first.tap,
            second.tap
        ),
        rule: FlagRule::TwoVenues,
        people: first.person.iter().cloned().collect(),
        evidence: vec![first.into(), second.into()],
    })
}

/// Whether `a` and `b` are two people's cards read together at one kiosk
/// for one session: an occurrence for `burst_together`.
pub fn read_together(a: &SeenTap, b: &SeenTap, t: &FlagThresholds) -> bool {
    a.kiosk == b.kiosk
        && a.session.is_some()
        && a.session == b.session
        && a.person.is_some()
        && b.person.is_some()
        && a.person != b.person
        && (a.at - b.at).abs() <= Duration::seconds(t.burst_seconds)
}

/// `burst_together` over the pairs of two people read together
/// (`read_together`) in one year, by session. Flagged when the sessions
/// reach the threshold, with every pair as evidence; the flag's key is the
/// two people and the year, so more sessions add evidence to one flag.
pub fn burst_together(
    year: i32,
    people: (&StaffNo, &StaffNo),
    sessions: &Together,
    t: &FlagThresholds,
) -> Option<Finding> {
    if (sessions.len() as u64) < u64::from(t.burst_sessions) {
        return None;
    }
    let (p, q) = if people.0 <= people.1 {
        (people.0, people.1)
    } else {
        (people.1, people.0)
    };
    let evidence: BTreeSet<Evidence> = sessions
        .values()
        .flatten()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    Some(Finding {
        key: format!(
            "{}-{}-{}-{year}",
            FlagRule::BurstTogether.as_str(),
            p.as_str(),
            q.as_str()
        ),
        rule: FlagRule::BurstTogether,
        people: vec![p.clone(), q.clone()],
        evidence: evidence.into_iter().collect(),
    })
}

/// `revoked_card`: a card reported lost, replaced or revoked, read (its
/// holder as the registry knew them).
pub fn revoked_card(tap: &SeenTap) -> Finding {
    Finding {
        key: format!("{}-{}", FlagRule::RevokedCard.as_str(), tap.tap),
        rule: FlagRule::RevokedCard,
        people: tap.person.iter().cloned().collect(),
        evidence: vec![tap.into()],
    }
}

/// The pairs of two people's taps read together (`read_together`) in a
/// year, by session.
pub type Together = BTreeMap<SessionId, BTreeSet<(Evidence, Evidence)>>;

/// The rules over taps as they arrive, in any order: `see` returns what
/// each tap adds to the flags. Whatever the order, the flags found (each
/// key with the union of its evidence) are the same for the same taps.
#[derive(Debug, Default)]
pub struct Analyzer {
    thresholds: FlagThresholds,
    campus: Campus,
    /// Every tap seen, once; the maps below index it.
    taps: Vec<SeenTap>,
    by_position: HashMap<u64, usize>,
    by_card: HashMap<CardUid, Vec<usize>>,
    by_slot: HashMap<(String, SessionId), Vec<usize>>,
    together: HashMap<(StaffNo, StaffNo, i32), Together>,
}

impl Analyzer {
    pub fn new(thresholds: FlagThresholds, campus: Campus) -> Analyzer {
        Analyzer {
            thresholds,
            campus,
            ..Analyzer::default()
        }
    }

    /// The tap seen at log position `position`.
    pub fn tap(&self, position: u64) -> Option<&SeenTap> {
        self.by_position.get(&position).map(|&i| &self.taps[i])
    }

    /// Takes in `tap` (once: a tap seen again adds nothing) and returns the
    /// findings it completes or adds to.
    pub fn see(&mut self, tap: SeenTap) -> Vec<Finding> {
        let mut found = Vec::new();
        let same_card = self.by_card.entry(tap.card.clone()).or_default();
        if same_card.iter().any(|&i| self.taps[i].tap == tap.tap) {
            return found;
        }
        if tap.revoked {
            found.push(revoked_card(&tap));
        }
        found.extend(
            same_card
                .iter()
                .filter_map(|&i| two_venues(&self.taps[i], &tap, &self.thresholds)),
        );
        let index = self.taps.len();
        same_card.push(index);
        self.by_position.insert(tap.position, index);
        if let Some(session) = tap.session {
            let slot = self
                .by_slot
                .entry((tap.kiosk.clone(), session))
                .or_default();
            let mut touched = BTreeSet::new();
            for other in slot.iter().map(|&i| &self.taps[i]) {
                if !read_together(other, &tap, &self.thresholds) {
                    continue;
                }
                let (a, b) = if (&other.person, other.tap) < (&tap.person, tap.tap) {
                    (other, &tap)
                } else {
                    (&tap, other)
                };
                let (Some(p), Some(q)) = (&a.person, &b.person) else {
                    continue;
                };
                let year = self.campus.date(a.at.min(b.at)).year();
                let key = (p.clone(), q.clone(), year);
                self.together
                    .entry(key.clone())
                    .or_default()
                    .entry(session)
                    .or_default()
                    .insert((a.into(), b.into()));
                touched.insert(key);
            }
            slot.push(index);
            for key in touched {
                found.extend(burst_together(
                    key.2,
                    (&key.0, &key.1),
                    &self.together[&key],
                    &self.thresholds,
                ));
            }
        }
        self.taps.push(tap);
        found
    }
}

/// What a reviewer made of a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing wrong (colleagues who arrive together).
    Dismissed,
    /// A proxy tap: a correction goes through the correction or dispute
    /// paths.
    Confirmed,
}

impl Verdict {
    /// Its name as stored (`dismissed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Dismissed => "dismissed",
            Verdict::Confirmed => "confirmed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum FlagEvent {
    FlagRaised {
        rule: FlagRule,
        rule_version: u32,
        people: Vec<StaffNo>,
        evidence: Vec<Evidence>,
    },
    /// More taps behind a flag raised before (another session of a pair
    /// read together).
    FlagEvidenceAdded { evidence: Vec<Evidence> },
    FlagReviewed {
        verdict: Verdict,
        reason: String,
        reviewer: StaffNo,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for FlagEvent {
    fn event_type(&self) -> &'static str {
        match self {
            FlagEvent::FlagRaised { .. } => "FlagRaised",
            FlagEvent::FlagEvidenceAdded { .. } => "FlagEvidenceAdded",
            FlagEvent::FlagReviewed { .. } => "FlagReviewed",
        }
    }
}

/// A flag as folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flag {
    pub rule: Option<FlagRule>,
    pub rule_version: u32,
    pub people: Vec<StaffNo>,
    pub evidence: BTreeSet<Evidence>,
    pub review: Option<(Verdict, StaffNo)>,
}

impl Aggregate for Flag {
    type Event = FlagEvent;

    fn apply(&mut self, event: &FlagEvent) -> Result<()> {
        let fold = |reason: &str| DomainError::Fold {
            event: event.event_type(),
            reason: reason.to_owned(),
        };
        match event {
            FlagEvent::FlagRaised {
                rule,
                rule_version,
                people,
                evidence,
            } => {
                if self.rule.is_some() {
                    return Err(fold("the flag was raised before"));
                }
                self.rule = Some(*rule);
                self.rule_version = *rule_version;
                self.people = people.clone();
                self.evidence = evidence.iter().cloned().collect();
            }
            FlagEvent::FlagEvidenceAdded { evidence } => {
                if self.rule.is_none() {
                    return Err(fold("no flag was raised"));
                }
                self.evidence.extend(evidence.iter().cloned());
            }
            FlagEvent::FlagReviewed {
                verdict, reviewer, ..
            } => {
                if self.rule.is_none() {
                    return Err(fold("no flag was raised"));
                }
                self.review = Some((*verdict, reviewer.clone()));
            }
        }
        Ok(())
    }
}

impl Flag {
    /// The events that record `finding` on this flag: raised if it was not,
    /// the taps it did not hold yet if it was, nothing if it holds them all.
    pub fn record(&self, finding: &Finding) -> Vec<FlagEvent> {
        if self.rule.is_none() {
            return vec![FlagEvent::FlagRaised {
                rule: finding.rule,
                rule_version: finding.rule.version(),
                people: finding.people.clone(),
                evidence: finding.evidence.clone(),
            }];
        }
        let new: Vec<Evidence> = finding
            .evidence
            .iter()
            .filter(|e| !self.evidence.contains(e))
            .cloned()
            .collect();
        if new.is_empty() {
            vec![]
        } else {
            vec![FlagEvent::FlagEvidenceAdded { evidence: new }]
        }
    }

    /// Dismisses or confirms the flag `key`, once, with a reason.
    pub fn review(
        &self,
        key: &str,
        verdict: Verdict,
        reason: &str,
        reviewer: &StaffNo,
        now: DateTime<Utc>,
    ) -> Result<Vec<FlagEvent>> {
        if self.rule.is_none() {
            return Err(DomainError::not_found("flag", key));
        }
        if let Some((was, by)) = &self.review {
            return Err(DomainError::Refused(format!(
                "flag {key:?} was already {} by {by}",
                was.as_str()
            )));
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(DomainError::invalid(
                "reason",
                reason,
                "a review needs a reason",
            ));
        }
        Ok(vec![FlagEvent::FlagReviewed {
            verdict,
            reason: reason.to_owned(),
            reviewer: reviewer.clone(),
            at: now,
        }])
    }
}
