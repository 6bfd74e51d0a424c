//! The domain's error type: what a decision refuses, and why.

pub type Result<T, E = DomainError> = std::result::Result<T, E>;

/// Why a command was refused or an event does not fit. Every message names
/// the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Input that can never be valid (a malformed staff number).
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    /// The command names something that does not exist.
    #[error("{what} {id:?} does not exist")]
    NotFound { what: &'static str, id: String },
    /// The command would create something that exists already.
    #[error("{what} {id:?} already exists")]
    AlreadyExists { what: &'static str, id: String },
    /// Valid input that the current state does not allow.
    #[error("{0}")]
    Refused(String),
    /// A stored event that does not fit the state folded so far.
    #[error("event {event} does not apply: {reason}")]
    Fold { event: &'static str, reason: String },
}

impl DomainError {
    pub(crate) fn invalid(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        DomainError::Invalid {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn not_found(what: &'static str, id: impl ToString) -> Self {
        DomainError::NotFound {
            what,
            id: id.to_string(),
        }
    }

    pub(crate) fn exists(what: &'static str, id: impl ToString) -> Self {
        DomainError::AlreadyExists {
            what,
            id: id.to_string(),
        }
    }

    /// The stable code a client sees (GraphQL `extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Invalid { .. } => "BAD_USER_INPUT",
            DomainError::NotFound { .. } => "NOT_FOUND",
            DomainError::AlreadyExists { .. } | DomainError::Refused(_) => "CONFLICT",
            DomainError::Fold { .. } => "INTERNAL",
        }
    }
}
