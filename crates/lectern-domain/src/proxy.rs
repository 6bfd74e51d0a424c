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
//! - `last_seconds`: two people's cards both read in the last
//!   `last_seconds` before a session's late line, at `last_sessions` or more
//!   sessions of a year: someone who taps a friend's card on the way in,
//!   just in time, at whatever kiosk.
//! - `on_leave`: a card read, at any venue, while its holder is on approved
//!   leave (within the check-in window of a session they were excused
//!   from).
//! - `wrong_venue`: a card refused at sessions its holder is not expected
//!   at, at `wrong_venue_sessions` or more sessions of a year.
//! - `revoked_card`: a card reported lost, replaced or revoked, read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::{Aggregate, DomainEvent};
use crate::campus::Campus;
use crate::error::{DomainError, Result};
use crate::session::{
    AttendanceStatus, CheckInRules, RejectReason, SessionId, TapOutcome, VenueId,
};
use crate::values::{CardUid, StaffNo, TimeWindow};

/// A rule that flags taps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagRule {
    TwoVenues,
    BurstTogether,
    RevokedCard,
    LastSeconds,
    OnLeave,
    WrongVenue,
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
            FlagRule::LastSeconds => "last_seconds",
            FlagRule::OnLeave => "on_leave",
            FlagRule::WrongVenue => "wrong_venue",
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
    /// A tap this close before a session's late line (or on it) is "in the
    /// last seconds".
    pub last_seconds: i64,
    /// Sessions of a year at which the same two people both tapped in the
    /// last seconds before they are flagged.
    pub last_sessions: u32,
    /// Sessions of a year at which a card was refused as not expected
    /// before its holder is flagged.
    pub wrong_venue_sessions: u32,
}

impl Default for FlagThresholds {
    /// Ten minutes between any two venues; two cards within 2 seconds of
    /// each other at one kiosk at 4 or more sessions of a year; two people
    /// both within the last 60 seconds before the late line at 4 or more
    /// sessions of a year; a card refused as not expected at 3 or more
    /// sessions of a year. Honest taps at a kiosk come a few seconds apart,
    /// seldom pair the same two people twice and seldom come in the last
    /// minute: on the demo campus these raise about one flag on an honest
    /// person a year.
    fn default() -> Self {
        FlagThresholds {
            min_travel: Duration::minutes(10),
            travel: BTreeMap::new(),
            burst_seconds: 2,
            burst_sessions: 4,
            last_seconds: 60,
            last_sessions: 4,
            wrong_venue_sessions: 3,
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

    /// The longest walk between any two venues: taps of one card further
    /// apart than this never make a `two_venues` finding.
    pub fn longest_travel(&self) -> Duration {
        self.travel
            .values()
            .copied()
            .fold(self.min_travel, Duration::max)
    }

    /// The sessions a pair rule (`burst_together`, `last_seconds`) needs in
    /// a year before it flags.
    fn sessions_for(&self, rule: FlagRule) -> u32 {
        match rule {
            FlagRule::LastSeconds => self.last_sessions,
            _ => self.burst_sessions,
        }
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
    /// What the server decided.
    pub outcome: TapOutcome,
}

impl SeenTap {
    /// The server refused it as a card reported lost, replaced or revoked.
    pub fn revoked(&self) -> bool {
        self.outcome == TapOutcome::Rejected(RejectReason::RevokedCard)
    }
}

/// When a session's check-in opens, its late line (the last moment that
/// counts as present) and its end: what the rules need of its schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    pub opens: DateTime<Utc>,
    pub late_line: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub rules: CheckInRules,
}

impl SessionTimes {
    pub fn new(window: &TimeWindow, rules: CheckInRules) -> SessionTimes {
        SessionTimes {
            opens: window.start() - Duration::minutes(i64::from(rules.opens_minutes_before)),
            late_line: window.start() + Duration::minutes(i64::from(rules.grace_minutes)),
            end: window.end(),
            rules,
        }
    }

    fn covers(&self, at: DateTime<Utc>) -> bool {
        self.opens <= at && at <= self.end
    }
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

/// Whether `tap` counted as present in the last seconds before its
/// session's late line (or on it): an occurrence for `last_seconds`.
pub fn in_last_seconds(tap: &SeenTap, times: &SessionTimes, t: &FlagThresholds) -> bool {
    let before = times.late_line - tap.at;
    tap.outcome == TapOutcome::Recorded(AttendanceStatus::Present)
        && tap.person.is_some()
        && before >= Duration::zero()
        && before <= Duration::seconds(t.last_seconds)
}

/// A pair rule (`burst_together`, `last_seconds`) over the pairs of two
/// people's taps in one year, by session. Flagged when the sessions reach
/// the rule's threshold, with every pair as evidence; the flag's key is the
/// rule, the two people and the year, so more sessions add evidence to one
/// flag.
pub fn pair_flag(
    rule: FlagRule,
    year: i32,
    people: (&StaffNo, &StaffNo),
    sessions: &Together,
    t: &FlagThresholds,
) -> Option<Finding> {
    if (sessions.len() as u64) < u64::from(t.sessions_for(rule)) {
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
        key: format!("{}-{}-{}-{year}", rule.as_str(), p.as_str(), q.as_str()),
        rule,
        people: vec![p.clone(), q.clone()],
        evidence: evidence.into_iter().collect(),
    })
}

/// `wrong_venue`: `person`'s card refused as not expected at these sessions
/// of `year`; flagged when they reach the threshold, with every such tap.
pub fn wrong_venue(
    year: i32,
    person: &StaffNo,
    sessions: &BTreeMap<SessionId, BTreeSet<Evidence>>,
    t: &FlagThresholds,
) -> Option<Finding> {
    if (sessions.len() as u64) < u64::from(t.wrong_venue_sessions) {
        return None;
    }
    Some(Finding {
        key: format!(
            "{}-{}-{year}",
            FlagRule::WrongVenue.as_str(),
            person.as_str()
        ),
        rule: FlagRule::WrongVenue,
        people: vec![person.clone()],
        evidence: sessions.values().flatten().cloned().collect(),
    })
}

/// `on_leave`: `tap` read within the check-in window (`times`) of
/// `session`, which its holder was on approved leave from.
pub fn on_leave(tap: &SeenTap, session: SessionId, times: &SessionTimes) -> Option<Finding> {
    if tap.person.is_none() || !times.covers(tap.at) {
        return None;
    }
    Some(Finding {
        key: format!("{}-{}-{session}", FlagRule::OnLeave.as_str(), tap.tap),
        rule: FlagRule::OnLeave,
        people: tap.person.iter().cloned().collect(),
        evidence: vec![tap.into()],
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

/// The pairs of two people's taps behind a pair rule in a year, by session.
pub type Together = BTreeMap<SessionId, BTreeSet<(Evidence, Evidence)>>;

/// The rules over taps, sessions' schedules and approved leave as they
/// arrive: `see` returns what each tap adds to the flags, `leave` what an
/// approved leave adds. Whatever the order of the taps and leaves (a
/// session's schedule comes before its taps, as in the log), the flags
/// found (each key with the union of its evidence) are the same.
#[derive(Debug, Default)]
pub struct Analyzer {
    thresholds: FlagThresholds,
    campus: Campus,
    /// Every tap seen, once; the maps below index it.
    taps: Vec<SeenTap>,
    by_position: HashMap<u64, usize>,
    /// By card, its taps in the order they were read (then as seen).
    by_card: HashMap<CardUid, Vec<usize>>,
    by_person: HashMap<StaffNo, Vec<usize>>,
    by_slot: HashMap<(String, SessionId), Vec<usize>>,
    /// By session, its taps in the last seconds before the late line.
    last: HashMap<SessionId, Vec<usize>>,
    pairs: HashMap<(FlagRule, StaffNo, StaffNo, i32), Together>,
    wrong: HashMap<(StaffNo, i32), BTreeMap<SessionId, BTreeSet<Evidence>>>,
    sessions: HashMap<SessionId, SessionTimes>,
    /// By person, the sessions they were on approved leave from.
    leaves: HashMap<StaffNo, BTreeSet<SessionId>>,
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

    /// Takes in a session's schedule.
    pub fn schedule(&mut self, session: SessionId, times: SessionTimes) {
        self.sessions.insert(session, times);
    }

    /// Takes in a session's new time (its check-in rules stay): taps seen
    /// from now on are judged by it.
    pub fn reschedule(&mut self, session: SessionId, window: &TimeWindow) {
        if let Some(times) = self.sessions.get_mut(&session) {
            *times = SessionTimes::new(window, times.rules);
        }
    }

    /// Takes in a session's cancellation: leave from it flags nothing from
    /// now on.
    pub fn cancel(&mut self, session: SessionId) {
        self.sessions.remove(&session);
    }

    /// Takes in `person`'s approved leave from `session` (once) and returns
    /// the taps of theirs it flags.
    pub fn leave(&mut self, session: SessionId, person: &StaffNo) -> Vec<Finding> {
        let Some(times) = self.sessions.get(&session) else {
            return vec![];
        };
        if !self
            .leaves
            .entry(person.clone())
            .or_default()
            .insert(session)
        {
            return vec![];
        }
        self.by_person
            .get(person)
            .into_iter()
            .flatten()
            .filter_map(|&i| on_leave(&self.taps[i], session, times))
            .collect()
    }

    /// Takes in `tap` (once: a tap seen again adds nothing) and returns the
    /// findings it completes or adds to.
    pub fn see(&mut self, tap: SeenTap) -> Vec<Finding> {
        let mut found = Vec::new();
        let taps = &self.taps;
        let same_card = self.by_card.entry(tap.card.clone()).or_default();
        // A tap is one event of the log (its id is the event's), so seen
        // again it was read at the same moment: only the card's taps read
        // then are compared. Finding the card's taps by time keeps a tap's
        // cost to its neighbours, not the card's whole history.
        let read_then = same_card.partition_point(|&i| taps[i].at < tap.at);
        let after = same_card.partition_point(|&i| taps[i].at <= tap.at);
        if same_card[read_then..after]
            .iter()
            .any(|&i| taps[i].tap == tap.tap)
        {
            return found;
        }
        if tap.revoked() {
            found.push(revoked_card(&tap));
        }
        // Only taps within the longest walk of this one can make a
        // finding; they are taken in the order they were seen.
        let walk = self.thresholds.longest_travel();
        let (since, until) = (
            tap.at.checked_sub_signed(walk),
            tap.at.checked_add_signed(walk),
        );
        let first = since.map_or(0, |t| same_card.partition_point(|&i| taps[i].at <= t));
        let mut near: Vec<usize> = same_card[first..]
            .iter()
            .copied()
            .take_while(|&i| until.is_none_or(|t| taps[i].at < t))
            .collect();
        near.sort_unstable();
        found.extend(
            near.into_iter()
                .filter_map(|i| two_venues(&taps[i], &tap, &self.thresholds)),
        );
        let index = self.taps.len();
        same_card.insert(after, index);
        self.by_position.insert(tap.position, index);
        if let Some(person) = &tap.person {
            self.by_person
                .entry(person.clone())
                .or_default()
                .push(index);
            for session in self.leaves.get(person).into_iter().flatten() {
                found.extend(
                    self.sessions
                        .get(session)
                        .and_then(|times| on_leave(&tap, *session, times)),
                );
            }
        }
        if let Some(session) = tap.session {
            self.pairs_in(FlagRule::BurstTogether, session, index, &tap, &mut found);
            let last = self
                .sessions
                .get(&session)
                .is_some_and(|times| in_last_seconds(&tap, times, &self.thresholds));
            if last {
                self.pairs_in(FlagRule::LastSeconds, session, index, &tap, &mut found);
            }
            if tap.outcome == TapOutcome::Rejected(RejectReason::NotInAudience)
                && let Some(person) = &tap.person
            {
                let year = self.campus.date(tap.at).year();
                let sessions = self.wrong.entry((person.clone(), year)).or_default();
                sessions.entry(session).or_default().insert((&tap).into());
                found.extend(wrong_venue(year, person, sessions, &self.thresholds));
            }
        }
        self.taps.push(tap);
        found
    }

    /// Pairs `tap` (at `index`) with the taps of `session` before it for a
    /// pair rule: those of its kiosk (`burst_together`, read together) or
    /// those in the session's last seconds (`last_seconds`).
    fn pairs_in(
        &mut self,
        rule: FlagRule,
        session: SessionId,
        index: usize,
        tap: &SeenTap,
        found: &mut Vec<Finding>,
    ) {
        let slot = match rule {
            FlagRule::LastSeconds => self.last.entry(session).or_default(),
            _ => self
                .by_slot
                .entry((tap.kiosk.clone(), session))
                .or_default(),
        };
        let mut touched = BTreeSet::new();
        for other in slot.iter().map(|&i| &self.taps[i]) {
            let paired = match rule {
                FlagRule::LastSeconds => other.person.is_some() && other.person != tap.person,
                _ => read_together(other, tap, &self.thresholds),
            };
            if !paired {
                continue;
            }
            let (a, b) = if (&other.person, other.tap) < (&tap.person, tap.tap) {
                (other, tap)
            } else {
                (tap, other)
            };
            let (Some(p), Some(q)) = (&a.person, &b.person) else {
                continue;
            };
            let year = self.campus.date(a.at.min(b.at)).year();
            let key = (rule, p.clone(), q.clone(), year);
            self.pairs
                .entry(key.clone())
                .or_default()
                .entry(session)
                .or_default()
                .insert((a.into(), b.into()));
            touched.insert(key);
        }
        slot.push(index);
        for key in touched {
            found.extend(pair_flag(
                rule,
                key.3,
                (&key.1, &key.2),
                &self.pairs[&key],
                &self.thresholds,
            ));
        }
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
