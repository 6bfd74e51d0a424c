//! The projections' error type.

use std::sync::Arc;

use lectern_domain::DomainError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] lectern_store::Error),
    #[error("read-model database: {0}")]
    Database(Arc<sqlx::Error>),
    /// A stored event that the domain cannot read or fold: the log and the
    /// code disagree, and the projector stops rather than guess.
    #[error("event at position {position} ({event_type}) cannot be projected: {reason}")]
    Event {
        position: u64,
        event_type: String,
        reason: String,
    },
    #[error("unsupported database URL {0:?}: expected sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("no projector is named {0:?}; the projectors are: {1}")]
    UnknownProjector(String, String),
    /// Read-your-writes gave up waiting.
    #[error(
        "the read models did not reach position {wanted} within {waited_ms} ms (they are at {reached})"
    )]
    Timeout {
        wanted: u64,
        reached: u64,
        waited_ms: u64,
    },
    /// `wait_leading` gave up: another server still runs a projector.
    #[error("another server still runs a projector after {waited_ms} ms")]
    NotLeading { waited_ms: u64 },
    #[error("the projections have stopped")]
    Stopped,
    /// A projector failed short of the position waited for.
    #[error(
        "the {} read model stopped at log position {}: {}",
        .0.projector, .0.position, .0.reason
    )]
    Failed(Box<crate::runner::Failure>),
    /// A read-model row that the code cannot read: rebuild the projector.
    #[error("{0}; rebuild the read models (`lectern rebuild`)")]
    Corrupt(String),
}

impl Error {
    pub(crate) fn db(e: sqlx::Error) -> Error {
        Error::Database(Arc::new(e))
    }

    pub(crate) fn event(e: &lectern_store::RecordedEvent, reason: impl std::fmt::Display) -> Error {
        Error::Event {
            position: e.position,
            event_type: e.event_type.clone(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn domain(e: &lectern_store::RecordedEvent, err: DomainError) -> Error {
        Error::event(e, err)
    }
}
