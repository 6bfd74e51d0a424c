//! The kiosk's own decision on a tap, from the roster it downloaded, so
//! that a person is told at once, with the network up or down. The rules
//! are the domain's (`tap_status`, the session nearest in time at the
//! venue); the server decides again when the tap reaches it, and its
//! answer is the record.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use lectern_domain::{AttendanceStatus, CardUid, StaffNo, tap_status};
use lectern_kiosk_protocol::{Outcome, Roster, RosterPerson, RosterSession};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What the kiosk showed for a tap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Local {
    pub outcome: Outcome,
    pub person: Option<StaffNo>,
    pub name: Option<String>,
    pub session: Option<Uuid>,
    pub title: Option<String>,
}

/// The roster, indexed, with the check-ins this kiosk has seen.
#[derive(Debug, Default)]
pub struct Book {
    pub roster: Option<Roster>,
    people: HashMap<StaffNo, RosterPerson>,
    cards: HashMap<CardUid, StaffNo>,
    /// Checked in, by session: from the roster and from this kiosk's taps.
    checked_in: HashMap<Uuid, HashSet<StaffNo>>,
}

impl Book {
    /// Takes a downloaded roster: a full one replaces the people, a delta
    /// updates them.
    pub fn update(&mut self, roster: Roster) {
        if roster.full {
            self.people.clear();
        }
        for p in &roster.people {
            self.people.insert(p.staff_no.clone(), p.clone());
        }
        self.cards = self
            .people
            .values()
            .filter_map(|p| p.card.clone().map(|c| (c, p.staff_no.clone())))
            .collect();
        for s in &roster.sessions {
            self.checked_in
                .entry(s.id)
                .or_default()
                .extend(s.checked_in.iter().cloned());
        }
        let people = self.people.values().cloned().collect();
        self.roster = Some(Roster { people, ..roster });
    }

    /// Remembers a check-in this kiosk showed (also for taps still queued
    /// when the kiosk restarts).
    pub fn seen(&mut self, local: &Local) {
        if let (Some(session), Some(person), true) =
            (local.session, &local.person, local.outcome.is_success())
        {
            self.checked_in_at(session, person);
        }
    }

    /// Notes that `person` is checked in at `session`, also in the roster
    /// as stored, so that a restarted kiosk still knows.
    pub fn checked_in_at(&mut self, session: Uuid, person: &StaffNo) {
        if !self
            .checked_in
            .entry(session)
            .or_default()
            .insert(person.clone())
        {
            return;
        }
        if let Some(s) = self
            .roster
            .as_mut()
            .and_then(|r| r.sessions.iter_mut().find(|s| s.id == session))
        {
            s.checked_in.push(person.clone());
        }
    }

    pub fn sessions(&self) -> &[RosterSession] {
        self.roster.as_ref().map_or(&[], |r| &r.sessions)
    }

    /// The session open for check-in at `at`: of those accepting taps, the
    /// one starting nearest to it.
    pub fn session_at(&self, at: DateTime<Utc>) -> Option<&RosterSession> {
        self.sessions()
            .iter()
            .filter(|s| !s.shut && accepts(s, at))
            .min_by_key(|s| (s.starts_at - at).num_seconds().abs())
    }

    /// People checked in at `session` and how many are expected.
    pub fn counts(&self, session: &RosterSession) -> (usize, usize) {
        let checked = self.checked_in.get(&session.id).map_or(0, HashSet::len);
        (checked, session.expected.len())
    }

    /// Decides a tap of `card` at `at` (the kiosk's clock corrected by its
    /// last measured offset).
    pub fn decide(&self, card: &CardUid, at: DateTime<Utc>) -> Local {
        let person = self.cards.get(card).and_then(|no| self.people.get(no));
        let mut local = Local {
            outcome: Outcome::UnknownCard,
            person: person.map(|p| p.staff_no.clone()),
            name: person.map(|p| p.name.clone()),
            session: None,
            title: None,
        };
        let Some(person) = person else {
            return local;
        };
        if !person.active {
            local.outcome = Outcome::RevokedCard;
            return local;
        }
        let Some(session) = self.session_at(at) else {
            local.outcome = Outcome::NoSessionNow;
            return local;
        };
        local.session = Some(session.id);
        local.title = Some(session.title.clone());
        let window = lectern_domain::TimeWindow::new(session.starts_at, session.ends_at);
        let status = match window.map(|w| tap_status(&w, session.check_in, at)) {
            Ok(Ok(status)) => status,
            Ok(Err(_)) | Err(_) => {
                local.outcome = Outcome::NoSessionNow;
                return local;
            }
        };
        local.outcome = if self
            .checked_in
            .get(&session.id)
            .is_some_and(|s| s.contains(&person.staff_no))
        {
            Outcome::AlreadyCheckedIn
        } else if !session.open && !session.expected.contains(&person.staff_no) {
            Outcome::NotOnList
        } else if status == AttendanceStatus::Late {
            Outcome::Late
        } else {
            Outcome::Present
        };
        local
    }
}

fn accepts(s: &RosterSession, at: DateTime<Utc>) -> bool {
    lectern_domain::TimeWindow::new(s.starts_at, s.ends_at)
        .is_ok_and(|w| tap_status(&w, s.check_in, at).is_ok())
}
