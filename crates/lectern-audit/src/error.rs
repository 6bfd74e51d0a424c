//! Why an audit operation failed; each message names the value.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] lectern_store::Error),
    #[error(transparent)]
    Read(#[from] lectern_projections::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{what} is not valid: {value:?} ({reason})")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    /// A checkpoint was not signed, and why.
    #[error("no checkpoint signed: {0}")]
    Refused(String),
    /// A signature does not verify.
    #[error("{0}")]
    BadSignature(String),
    #[error("the system's random number generator failed: {0}")]
    Random(String),
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn invalid(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Error {
        Error::Invalid {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
