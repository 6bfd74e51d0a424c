//! The write path's one error: a stable code clients may rely on and a
//! message that names the offending value. Internal detail is logged once,
//! here, and never sent. The GraphQL API puts the code in
//! `extensions.code`; the HTTP endpoints map it to a status
//! (`Code::http_status`).

use lectern_domain::DomainError;

/// The codes clients may rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BadUserInput,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    /// The read models did not catch up in time; retrying is safe.
    Unavailable,
    Internal,
}

impl Code {
    /// Every code, for reading one back from its name.
    pub const ALL: [Code; 7] = [
        Code::BadUserInput,
        Code::Unauthenticated,
        Code::Forbidden,
        Code::NotFound,
        Code::Conflict,
        Code::Unavailable,
        Code::Internal,
    ];

    /// The code named `name` (as `as_str` gives it).
    pub fn parse(name: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::NotFound => "NOT_FOUND",
            Code::Conflict => "CONFLICT",
            Code::Unavailable => "UNAVAILABLE",
            Code::Internal => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The HTTP status an endpoint answers this code with.
    pub fn http_status(self) -> u16 {
        match self {
            Code::BadUserInput => 400,
            Code::Unauthenticated => 401,
            Code::Forbidden => 403,
            Code::NotFound => 404,
            Code::Conflict => 409,
            Code::Unavailable => 503,
            Code::Internal => 500,
        }
    }
}

/// An error of the write path (and of the API above it).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub code: Code,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Error {
        Error::new(Code::BadUserInput, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Error {
        Error::new(Code::Unauthenticated, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Error {
        Error::new(Code::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(Code::NotFound, message)
    }

    /// Logs the detail and returns an error that does not leak it.
    pub fn internal(detail: impl std::fmt::Display) -> Error {
        let id = uuid::Uuid::now_v7();
        tracing::error!(error_id = %id, error = %detail, "internal error");
        Error::new(
            Code::Internal,
            format!("internal error {id}; the server log has the details"),
        )
    }
}

impl From<DomainError> for Error {
    fn from(e: DomainError) -> Error {
        let code = match &e {
            DomainError::Invalid { .. } => Code::BadUserInput,
            DomainError::NotFound { .. } => Code::NotFound,
            DomainError::AlreadyExists { .. } | DomainError::Refused(_) => Code::Conflict,
            DomainError::Fold { .. } => return Error::internal(e),
        };
        Error::new(code, e.to_string())
    }
}

impl From<lectern_store::Error> for Error {
    fn from(e: lectern_store::Error) -> Error {
        use lectern_store::Error as E;
        match &e {
            E::KeyTaken { .. } | E::WrongExpectedVersion { .. } | E::EventIdReused { .. } => {
                Error::new(Code::Conflict, e.to_string())
            }
            E::Unstorable { .. } => Error::bad_input(e.to_string()),
            _ if e.is_unavailable() => Error::new(
                Code::Unavailable,
                "the database is not answering; retry in a moment",
            ),
            E::KeyNotHeld { .. }
            | E::InvalidAppend(_)
            | E::UnsupportedUrl(_)
            | E::Corrupt { .. }
            | E::Upcast { .. }
            | E::WriterStopped
            | E::Database(_)
            | E::Migrate(_) => Error::internal(e),
        }
    }
}

impl From<lectern_projections::Error> for Error {
    fn from(e: lectern_projections::Error) -> Error {
        use lectern_projections::Error as E;
        match e {
            E::Store(e) => e.into(),
            E::Timeout { .. } | E::NotLeading { .. } | E::Failed(_) => {
                Error::new(Code::Unavailable, e.to_string())
            }
            E::UnknownProjector(..) => Error::bad_input(e.to_string()),
            E::Database(ref db) if lectern_store::database_unavailable(db) => Error::new(
                Code::Unavailable,
                "the database is not answering; retry in a moment",
            ),
            E::Database(_)
            | E::Event { .. }
            | E::UnsupportedUrl(_)
            | E::Stopped
            | E::Corrupt(_) => Error::internal(e),
        }
    }
}
