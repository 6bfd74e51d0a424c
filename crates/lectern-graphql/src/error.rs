//! Errors as clients see them: a stable code in `extensions.code` and a
//! message that names the offending value. Internal detail is logged once,
//! here, and never sent.

use async_graphql::ErrorExtensions;
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
}

/// An error of the API. Deliberately not `Display`: async-graphql turns
/// any `Display` into an error without a code, and every error of this API
/// carries one (see the `From` impl below).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
}

pub(crate) type Result<T, E = ApiError> = std::result::Result<T, E>;

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn bad_input(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::BadUserInput, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::NotFound, message)
    }

    /// Logs the detail and returns an error that does not leak it.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        let id = uuid::Uuid::now_v7();
        tracing::error!(error_id = %id, error = %detail, "internal error");
        ApiError::new(
            Code::Internal,
            format!("internal error {id}; the server log has the details"),
        )
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> ApiError {
        let code = match &e {
            DomainError::Invalid { .. } => Code::BadUserInput,
            DomainError::NotFound { .. } => Code::NotFound,
            DomainError::AlreadyExists { .. } | DomainError::Refused(_) => Code::Conflict,
            DomainError::Fold { .. } => return ApiError::internal(e),
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<lectern_store::Error> for ApiError {
    fn from(e: lectern_store::Error) -> ApiError {
        use lectern_store::Error as E;
        match &e {
            E::KeyTaken { .. } | E::WrongExpectedVersion { .. } | E::EventIdReused { .. } => {
                ApiError::new(Code::Conflict, e.to_string())
            }
            E::KeyNotHeld { .. }
            | E::InvalidAppend(_)
            | E::UnsupportedUrl(_)
            | E::Corrupt { .. }
            | E::Upcast { .. }
            | E::WriterStopped
            | E::Database(_)
            | E::Migrate(_) => ApiError::internal(e),
        }
    }
}

impl From<lectern_projections::Error> for ApiError {
    fn from(e: lectern_projections::Error) -> ApiError {
        use lectern_projections::Error as E;
        match e {
            E::Store(e) => e.into(),
            E::Timeout { .. } | E::NotLeading { .. } => {
                ApiError::new(Code::Unavailable, e.to_string())
            }
            E::UnknownProjector(..) => ApiError::bad_input(e.to_string()),
            E::Database(_)
            | E::Event { .. }
            | E::UnsupportedUrl(_)
            | E::Stopped
            | E::Corrupt(_) => ApiError::internal(e),
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> async_graphql::Error {
        async_graphql::Error::new(e.message).extend_with(|_, x| x.set("code", e.code.as_str()))
    }
}
