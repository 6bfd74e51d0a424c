//! The command path: load a stream's state, decide with the domain, append
//! with the version decided on, decide again when another writer got there
//! first (`Retry`, the one retry policy of the write path), and wait until
//! the read models show the result (read-your-writes).

use std::time::Duration;

use lectern_domain::{Aggregate, DomainError, KeyChange};
use lectern_projections::{Projections, commit, load};
use lectern_store::{Metadata, Store};

use crate::error::{Code, Error, Result};

/// How often a decision is made again after another writer moved one of
/// its streams, before the caller is told to try again.
pub const ATTEMPTS: usize = 5;

/// How long a write waits for the read models to show it.
pub const WRITE_WAIT: Duration = Duration::from_secs(10);

/// The write path's one retry policy: a decision whose streams another
/// writer moved is made again, at most `ATTEMPTS` times in all; then the
/// caller gets a `Conflict` that names what was being decided.
///
/// ```text
/// let mut tries = Retry::new("dispute …");
/// loop {
///     decide, append;
///     on WrongExpectedVersion: tries.moved()?;   // decide again, or give up
/// }
/// ```
#[derive(Debug)]
pub struct Retry {
    what: String,
    tries: usize,
}

impl Retry {
    pub fn new(what: impl Into<String>) -> Retry {
        Retry {
            what: what.into(),
            tries: 1,
        }
    }

    /// Another writer moved a stream the decision read: `Ok` to decide
    /// again, or the `Conflict` once every attempt is used.
    pub fn moved(&mut self) -> Result<()> {
        if self.tries >= ATTEMPTS {
            return Err(Error::new(
                Code::Conflict,
                format!(
                    "{}: its records kept changing while it was being decided ({ATTEMPTS} \
                     tries); try again",
                    self.what
                ),
            ));
        }
        tracing::debug!(what = %self.what, attempt = self.tries, "another writer moved a stream; deciding again");
        self.tries += 1;
        Ok(())
    }
}

/// What a command wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The log position of the last event written (the head when the
    /// decision wrote nothing).
    pub position: u64,
    pub events: usize,
}

/// Decides against the current state of `stream` and appends the events.
/// `keys` names the unique keys the events claim or release.
#[tracing::instrument(name = "command", skip_all, fields(stream = %stream, actor = meta.actor.as_deref()))]
pub async fn execute<A: Aggregate>(
    store: &Store,
    stream: &str,
    meta: &Metadata,
    decide: impl Fn(&A) -> Result<Vec<A::Event>, DomainError>,
    keys: impl Fn(&[A::Event]) -> Vec<KeyChange>,
) -> Result<Written> {
    let mut tries = Retry::new(stream);
    loop {
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
            )) => tries.moved()?,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits until the read models show `position`.
pub async fn settle(projections: &Projections, position: u64) -> Result<()> {
    projections
        .wait_for(position, WRITE_WAIT)
        .await
        .map_err(Error::from)
}
