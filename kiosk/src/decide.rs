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
    /// Whose each card is, and whether it is their current one.
    cards: HashMap<CardUid, (StaffNo, bool)>,
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
        // Revoked cards first: a card issued again is its new holder's.
        let revoked = self.people.values().flat_map(|p| {
            p.revoked_cards
                .iter()
                .map(|c| (c.clone(), (p.staff_no.clone(), false)))
        });
        let current = self
            .people
            .values()
            .filter_map(|p| p.card.clone().map(|c| (c, (p.staff_no.clone(), true))));
        self.cards = revoked.chain(current).collect();
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

    /// The session that ended most recently before `at`, not long since
    /// (`lectern_domain::OVER_FOR`): a tap then is told it is over.
    pub fn ended_before(&self, at: DateTime<Utc>) -> Option<&RosterSession> {
        self.sessions()
            .iter()
            .filter(|s| lectern_domain::recently_over(s.ends_at, at))
            .max_by_key(|s| s.ends_at)
    }

    /// People checked in at `session` and how many are expected.
    pub fn counts(&self, session: &RosterSession) -> (usize, usize) {
        let checked = self.checked_in.get(&session.id).map_or(0, HashSet::len);
        (checked, session.expected.len())
    }

    /// Decides a tap of `card` at `at` (the kiosk's clock corrected by its
    /// last measured offset). With no roster yet (a new kiosk that has not
    /// been online) nobody is known: the tap is pending, for the server.
    pub fn decide(&self, card: &CardUid, at: DateTime<Utc>) -> Local {
        if self.roster.is_none() {
            return Local {
                outcome: Outcome::Pending,
                person: None,
                name: None,
                session: None,
                title: None,
            };
        }
        let held = self.cards.get(card);
        let person = held.and_then(|(no, _)| self.people.get(no));
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
        if !person.active || held.is_some_and(|(_, current)| !current) {
            local.outcome = Outcome::RevokedCard;
            return local;
        }
        let Some(session) = self.session_at(at) else {
            local.outcome = match self.ended_before(at) {
                Some(over) => {
                    local.session = Some(over.id);
                    local.title = Some(over.title.clone());
                    Outcome::SessionOver
                }
                None => Outcome::NoSessionNow,
            };
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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use lectern_domain::{CardUid, CheckInRules, Slug, StaffNo};
    use lectern_kiosk_protocol::{Outcome, Roster, RosterPerson, RosterSession};
    use uuid::Uuid;

    use super::Book;

    /// 王小明 holds card …02 and held …01 (lost); a session 06:30-09:00 UTC.
    fn book() -> Book {
        let at = |h, m| Utc.with_ymd_and_hms(2008, 9, 2, h, m, 0).unwrap();
        let mut book = Book::default();
        book.update(Roster {
            as_of: 1,
            full: true,
            venue: Slug::parse("hall-a").unwrap(),
            people: vec![RosterPerson {
                staff_no: StaffNo::parse("S0001").unwrap(),
                name: "王小明".into(),
                card: Some(CardUid::parse("04A1B2C3D4E502").unwrap()),
                active: true,
                revoked_cards: vec![CardUid::parse("04A1B2C3D4E501").unwrap()],
            }],
            sessions: vec![RosterSession {
                id: Uuid::from_u128(1),
                title: "集中学习".into(),
                starts_at: at(6, 30),
                ends_at: at(9, 0),
                check_in: CheckInRules::default(),
                shut: false,
                open: true,
                expected: vec![],
                checked_in: vec![],
            }],
            server_time: at(6, 0),
            log: None,
        });
        book
    }

    #[test]
    fn a_revoked_card_is_refused_naming_its_holder() {
        let at = Utc.with_ymd_and_hms(2008, 9, 2, 6, 35, 0).unwrap();
        let lost = book().decide(&CardUid::parse("04A1B2C3D4E501").unwrap(), at);
        assert_eq!(lost.outcome, Outcome::RevokedCard);
        assert_eq!(lost.name.as_deref(), Some("王小明"));
        let current = book().decide(&CardUid::parse("04A1B2C3D4E502").unwrap(), at);
        assert_eq!(current.outcome, Outcome::Present);
    }

    #[test]
    fn with_no_roster_yet_a_tap_is_pending_not_unknown() {
        let at = Utc.with_ymd_and_hms(2008, 9, 2, 6, 35, 0).unwrap();
        let card = CardUid::parse("04A1B2C3D4E502").unwrap();
        let new = Book::default().decide(&card, at);
        assert_eq!(new.outcome, Outcome::Pending);
        assert_eq!(new.person, None);
        // A roster, even with nobody on it, is an answer.
        let mut empty = Book::default();
        empty.update(Roster {
            people: vec![],
            ..book().roster.unwrap()
        });
        assert_eq!(empty.decide(&card, at).outcome, Outcome::UnknownCard);
    }

    #[test]
    fn a_tap_after_the_session_ended_is_told_it_is_over() {
        let card = CardUid::parse("04A1B2C3D4E502").unwrap();
        let at = |h, m| Utc.with_ymd_and_hms(2008, 9, 2, h, m, 0).unwrap();
        let over = book().decide(&card, at(9, 1));
        assert_eq!(over.outcome, Outcome::SessionOver);
        assert_eq!(over.title.as_deref(), Some("集中学习"));
        // Four hours after it ended, there is just no session.
        assert_eq!(
            book().decide(&card, at(13, 1)).outcome,
            Outcome::NoSessionNow
        );
        // Before check-in opens (an hour before the start) neither.
        assert_eq!(
            book().decide(&card, at(5, 0)).outcome,
            Outcome::NoSessionNow
        );
    }
}
