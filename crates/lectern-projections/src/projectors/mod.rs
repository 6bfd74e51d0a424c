//! The read models, one module each.

mod awards;
mod disputes;
mod flags;
mod kiosks;
mod monthly;
mod org;
mod people;
mod programmes;
mod sessions;
mod study;

pub use awards::AwardsProjector;
pub use disputes::DisputesProjector;
pub use flags::FlagsProjector;
pub use kiosks::KiosksProjector;
pub use monthly::MonthlyProjector;
pub use org::OrgProjector;
pub use people::PeopleProjector;
pub use programmes::ProgrammesProjector;
pub use sessions::SessionsProjector;
pub use study::StudyProjector;

use std::collections::HashMap;

use lectern_domain::Aggregate;
use lectern_store::RecordedEvent;
use serde::Serialize;

use crate::codec;
use crate::error::{Error, Result};
use crate::projector::Cx;

/// Folded states by stream, loaded from the store on first use and kept
/// current by applying each projected event.
#[derive(Debug)]
pub(crate) struct States<A> {
    by_stream: HashMap<String, A>,
}

impl<A> Default for States<A> {
    fn default() -> Self {
        States {
            by_stream: HashMap::new(),
        }
    }
}

impl<A: Aggregate> States<A> {
    /// Applies `event` to its stream's state and returns the state after it.
    pub(crate) async fn apply(
        &mut self,
        event: &RecordedEvent,
        cx: &Cx<'_>,
    ) -> Result<(&A, A::Event)> {
        let decoded: A::Event = codec::decode(event)?;
        if !self.by_stream.contains_key(&event.stream_id) {
            let (state, _) = codec::load::<A>(cx.store, &event.stream_id, event.position).await?;
            self.by_stream.insert(event.stream_id.clone(), state);
        }
        let state = self
            .by_stream
            .get_mut(&event.stream_id)
            .expect("loaded above");
        state.apply(&decoded).map_err(|e| Error::domain(event, e))?;
        Ok((state, decoded))
    }
}

/// The JSON string of a unit-like enum (`"department"`), or of anything
/// else as compact JSON.
/// The staff number whose personal data `event` erased, if it is a
/// `PersonalDataErased`: projectors that keep copies of personal fields
/// overwrite them.
pub(crate) fn erased_person(event: &RecordedEvent) -> Option<String> {
    (event.event_type == "PersonalDataErased")
        .then(|| event.stream_id.strip_prefix("person-"))
        .flatten()
        .map(str::to_owned)
}

pub(crate) fn text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value).expect("domain values serialize") {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}
