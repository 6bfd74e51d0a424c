//! The store's error type.

use std::sync::Arc;

use uuid::Uuid;

use crate::event::ExpectedVersion;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the event log.
///
/// Errors are `Clone` because one failed group-commit batch answers every
/// append that was in it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Optimistic concurrency: the stream is not at the version the caller
    /// decided on. Nothing was written.
    #[error("stream {stream_id:?}: expected {expected}, but {}", describe_version(*.actual))]
    WrongExpectedVersion {
        stream_id: String,
        expected: ExpectedVersion,
        /// The stream's current version; `None` when the stream does not exist.
        actual: Option<u64>,
    },
    /// An event id that is already stored was appended with different content.
    #[error(
        "event id {event_id} is already stored at position {position} with different content \
         (stream {stored_stream:?}, type {stored_type:?})"
    )]
    EventIdReused {
        event_id: Uuid,
        position: u64,
        stored_stream: String,
        stored_type: String,
    },
    /// A key that must be unique across streams is held by another stream.
    #[error("{scope} {key:?} is already claimed by stream {owner_stream:?}")]
    KeyTaken {
        scope: String,
        key: String,
        owner_stream: String,
    },
    /// A release named a key that the stream does not hold.
    #[error("{scope} {key:?} is not held by stream {stream_id:?}")]
    KeyNotHeld {
        scope: String,
        key: String,
        stream_id: String,
    },
    /// The append itself is malformed (empty stream id, payload that is not
    /// JSON, ...). The message names the offending value.
    #[error("invalid append: {0}")]
    InvalidAppend(String),
    /// Text that a backend cannot store identically (a NUL character:
    /// PostgreSQL's text and jsonb refuse it), refused on every backend so
    /// that no event exists that one of them could not hold. Nothing was
    /// written.
    #[error(
        "append to stream {stream_id:?}: {what} holds a NUL character (U+0000), which the \
         event log does not store"
    )]
    Unstorable { stream_id: String, what: String },
    /// The database URL names no backend the store supports.
    #[error("unsupported database url {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// A stored row cannot be decoded (a column out of range, a bad UUID).
    #[error("stored event at position {position} is unreadable: {reason}")]
    Corrupt { position: u64, reason: String },
    /// An upcaster refused an old payload.
    #[error("cannot upcast {event_type} v{schema_version} at position {position}: {reason}")]
    Upcast {
        position: u64,
        event_type: String,
        schema_version: u32,
        reason: String,
    },
    /// The background writer is gone (the store was closed).
    #[error("the event log's writer has stopped")]
    WriterStopped,
    #[error("database error: {0}")]
    Database(Arc<sqlx::Error>),
    #[error("migration failed: {0}")]
    Migrate(Arc<sqlx::migrate::MigrateError>),
}

fn describe_version(v: Option<u64>) -> String {
    match v {
        None => "it does not exist".to_owned(),
        Some(v) => format!("it is at version {v}"),
    }
}

impl Error {
    /// True when the same call may succeed if retried unchanged: the failure
    /// came from the database or the connection, not from the append.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Database(_) | Error::WriterStopped => true,
            Error::WrongExpectedVersion { .. }
            | Error::EventIdReused { .. }
            | Error::KeyTaken { .. }
            | Error::KeyNotHeld { .. }
            | Error::InvalidAppend(_)
            | Error::Unstorable { .. }
            | Error::UnsupportedUrl(_)
            | Error::Corrupt { .. }
            | Error::Upcast { .. }
            | Error::Migrate(_) => false,
        }
    }

    /// True when the database could not be reached or is restarting (a
    /// pool that timed out or closed, a broken connection, PostgreSQL
    /// shutting down or not yet accepting connections): the request may be
    /// retried once it is back.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Database(e) => database_unavailable(e),
            Error::WriterStopped => true,
            _ => false,
        }
    }

    /// True for conflicts with what is already stored (versions, ids, keys):
    /// the caller should reload and decide again.
    pub fn is_conflict(&self) -> bool {
        match self {
            Error::WrongExpectedVersion { .. }
            | Error::EventIdReused { .. }
            | Error::KeyTaken { .. }
            | Error::KeyNotHeld { .. } => true,
            Error::InvalidAppend(_)
            | Error::Unstorable { .. }
            | Error::UnsupportedUrl(_)
            | Error::Corrupt { .. }
            | Error::Upcast { .. }
            | Error::WriterStopped
            | Error::Database(_)
            | Error::Migrate(_) => false,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Database(Arc::new(e))
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Migrate(Arc::new(e))
    }
}

/// Whether a database error says the database is out of reach, not that
/// the statement was wrong.
pub fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE class 08 (connection exception) and 57P01–57P03
        // (shutting down, crash shutdown, cannot connect now).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_out_of_reach_is_unavailable_and_a_bad_statement_is_not() {
        let down = [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        ];
        for e in down {
            let shown = e.to_string();
            assert!(
                Error::Database(Arc::new(e)).is_unavailable(),
                "{shown} is the database out of reach"
            );
        }
        assert!(Error::WriterStopped.is_unavailable());
        assert!(!Error::Database(Arc::new(sqlx::Error::RowNotFound)).is_unavailable());
        assert!(!Error::InvalidAppend("x".into()).is_unavailable());
    }
}
