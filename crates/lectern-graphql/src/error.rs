//! Errors as GraphQL clients see them: the write path's [`lectern_app::Error`]
//! with its stable code in `extensions.code`.
//!
//! `ApiError` wraps it only because async-graphql's error type and the
//! write path's are both foreign here: the conversion into
//! `async_graphql::Error` (below, the one place the code is put in
//! `extensions.code`) needs a type of this crate. It is deliberately not
//! `Display`: async-graphql turns any `Display` into an error without a
//! code.

use async_graphql::ErrorExtensions;
use lectern_domain::DomainError;

pub use lectern_app::Code;

/// An error of the API: the write path's error, for GraphQL.
#[derive(Debug, Clone)]
pub struct ApiError(pub lectern_app::Error);

pub(crate) type Result<T, E = ApiError> = std::result::Result<T, E>;

impl std::ops::Deref for ApiError {
    type Target = lectern_app::Error;

    fn deref(&self) -> &lectern_app::Error {
        &self.0
    }
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError(lectern_app::Error::new(code, message))
    }

    pub fn bad_input(message: impl Into<String>) -> ApiError {
        ApiError(lectern_app::Error::bad_input(message))
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError(lectern_app::Error::forbidden(message))
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError(lectern_app::Error::not_found(message))
    }

    /// Logs the detail and returns an error that does not leak it.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        ApiError(lectern_app::Error::internal(detail))
    }
}

impl From<lectern_app::Error> for ApiError {
    fn from(e: lectern_app::Error) -> ApiError {
        ApiError(e)
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> ApiError {
        ApiError(e.into())
    }
}

impl From<lectern_store::Error> for ApiError {
    fn from(e: lectern_store::Error) -> ApiError {
        ApiError(e.into())
    }
}

impl From<lectern_projections::Error> for ApiError {
    fn from(e: lectern_projections::Error) -> ApiError {
        ApiError(e.into())
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(ApiError(e): ApiError) -> async_graphql::Error {
        async_graphql::Error::new(e.message).extend_with(|_, x| x.set("code", e.code.as_str()))
    }
}
