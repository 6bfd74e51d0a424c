//! What every stream of the domain has in common, and the given/when/then
//! harness its tests use.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{DomainError, Result};

/// An event of one stream family: a serde type whose JSON shape is a stored
/// contract (add a version and upcast; never change a stored shape).
pub trait DomainEvent: Serialize + DeserializeOwned + Clone + std::fmt::Debug + PartialEq {
    /// The stored event type, e.g. `UnitEstablished`.
    fn event_type(&self) -> &'static str;
    /// The version of this type's payload shape.
    fn schema_version(&self) -> u32 {
        1
    }
}

/// A state folded from one stream's events. Decisions are inherent
/// functions of each state (`fn decide(&self, &Command, ...) ->
/// Result<Vec<Event>>`), as each needs different context.
pub trait Aggregate: Default + Clone + std::fmt::Debug {
    type Event: DomainEvent;

    /// Applies one event. Refuses an event that cannot follow the state
    /// (a rename of a unit that was never established); a decision never
    /// emits such an event.
    fn apply(&mut self, event: &Self::Event) -> Result<()>;

    /// Folds a whole history.
    fn fold<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Result<Self>
    where
        Self::Event: 'a,
    {
        let mut state = Self::default();
        for e in events {
            state.apply(e)?;
        }
        Ok(state)
    }
}

/// `given(history).when(|state| state.decide(..)).then(events)`.
pub fn given<A: Aggregate>(history: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let history: Vec<A::Event> = history.into_iter().collect();
    let state =
        A::fold(&history).unwrap_or_else(|e| panic!("the given history does not fold: {e}"));
    Given { state }
}

pub struct Given<A: Aggregate> {
    state: A,
}

impl<A: Aggregate> Given<A> {
    pub fn when(self, decide: impl FnOnce(&A) -> Result<Vec<A::Event>>) -> Then<A> {
        let outcome = decide(&self.state);
        Then {
            state: self.state,
            outcome,
        }
    }
}

pub struct Then<A: Aggregate> {
    state: A,
    outcome: Result<Vec<A::Event>>,
}

impl<A: Aggregate> Then<A> {
    /// Asserts the decision emitted exactly `expected`, and that its own fold
    /// accepts them; returns the state after them.
    #[track_caller]
    pub fn then(self, expected: Vec<A::Event>) -> A {
        let events = match self.outcome {
            Ok(events) => events,
            Err(e) => panic!("expected events, got the error: {e}"),
        };
        assert_eq!(events, expected);
        let mut state = self.state;
        for e in &events {
            state.apply(e).unwrap_or_else(|err| {
                panic!("the decision emitted {e:?}, which its fold refuses: {err}")
            });
        }
        state
    }

    /// Asserts the decision failed with `expected`.
    #[track_caller]
    pub fn then_err(self, expected: DomainError) {
        match self.outcome {
            Ok(events) => panic!("expected the error {expected}, got events {events:?}"),
            Err(e) => assert_eq!(e, expected),
        }
    }

    /// Asserts the decision failed with a message containing `needle`.
    #[track_caller]
    pub fn then_err_containing(self, needle: &str) {
        match self.outcome {
            Ok(events) => panic!("expected an error containing {needle:?}, got events {events:?}"),
            Err(e) => assert!(e.to_string().contains(needle), "{e}"),
        }
    }
}
