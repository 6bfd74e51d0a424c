//! The server's clock. Deadlines, check-in windows and the time a tap is
//! placed at are decided by the server's own clock, never by a time a
//! caller sends; this is that clock, so that tests (and a replay of a
//! disputed day) can set it instead of sleeping.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, SubsecRound, Utc};

/// The system clock, or a manual one that moves only when told to.
/// Cheap to clone; clones of a manual clock share its time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that shows `at` until it is set or advanced.
    pub fn manual(at: DateTime<Utc>) -> Clock {
        Clock {
            manual: Some(Arc::new(Mutex::new(at))),
        }
    }

    /// The time now, at the microsecond precision both backends store.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => Utc::now(),
            Some(t) => *t.lock().unwrap_or_else(PoisonError::into_inner),
        }
        .trunc_subsecs(6)
    }

    /// Moves a manual clock forward by `by` (backward if negative).
    ///
    /// # Panics
    /// On the system clock, which nobody may move.
    pub fn advance(&self, by: Duration) {
        let t = self.manual.as_ref().expect("only a manual clock moves");
        *t.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }

    /// Sets a manual clock to `at`.
    ///
    /// # Panics
    /// On the system clock, which nobody may set.
    pub fn set(&self, at: DateTime<Utc>) {
        let t = self.manual.as_ref().expect("only a manual clock is set");
        *t.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }

    /// Whether this is a manual clock (logged at start, so that a server
    /// never runs on one unnoticed).
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_follow() {
        let start = DateTime::parse_from_rfc3339("2008-09-02T06:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::manual(start);
        let other = clock.clone();
        assert_eq!(clock.now(), start);
        clock.advance(Duration::minutes(15));
        assert_eq!(other.now(), start + Duration::minutes(15));
        other.set(start);
        assert_eq!(clock.now(), start);
        assert!(clock.is_manual() && !Clock::system().is_manual());
    }
}
