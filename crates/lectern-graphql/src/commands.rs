//! The command path: load a stream's state, decide with the domain, append
//! with the version decided on, retry when another writer got there first,
//! and wait until the read models show the result (read-your-writes).

use std::time::Duration;

use lectern_domain::{Aggregate, DomainError, KeyChange};
use lectern_projections::{Projections, commit, load};
use lectern_store::{Metadata, Store};

use crate::error::{ApiError, Result};

/// How often a decision is retried after a concurrent append to its stream.
const ATTEMPTS: usize = 5;

/// What a mutation wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The log position of the last event written (the head when the
    /// decision wrote nothing).
    pub position: u64,
    pub events: usize,
}

/// Decides against the current state of `stream` and appends the events.
/// `keys` names the unique keys the events claim or release.
pub async fn execute<A: Aggregate>(
    store: &Store,
    stream: &str,
    meta: &Metadata,
    decide: impl Fn(&A) -> Result<Vec<A::Event>, DomainError>,
    keys: impl Fn(&[A::Event]) -> Vec<KeyChange>,
) -> Result<Written> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (state, version) = load::<A>(store, stream, u64::MAX).await?;
        let events = decide(&state)?;
        if events.is_empty() {
            return Ok(Written {
                position: store.head().await?,
                events: 0,
            });
        }
        match commit(store, stream, version, &events, &keys(&events), meta).await {
            Ok(appended) => {
                return Ok(Written {
                    position: appended.last_position,
                    events: events.len(),
                });
            }
            Err(lectern_projections::Error::Store(
                lectern_store::Error::WrongExpectedVersion { .. },
            )) if attempt < ATTEMPTS => {
                tracing::debug!(stream, attempt, "concurrent append; deciding again");
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// How long a mutation waits for its own write to reach the read models.
pub(crate) const WRITE_WAIT: Duration = Duration::from_secs(10);

/// Waits until the read models show `position`.
pub async fn settle(projections: &Projections, position: u64) -> Result<()> {
    projections
        .wait_for(position, WRITE_WAIT)
        .await
        .map_err(ApiError::from)
}
