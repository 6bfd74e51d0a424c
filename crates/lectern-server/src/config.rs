//! Configuration: flags, with environment variables as fallbacks.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

/// Where the event log lives. Every command that touches a database takes
/// these flags.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// Database URL: `sqlite://PATH` or `postgres://USER@HOST/DB`. Default: a
    /// SQLite file `lectern.db` in the data directory.
    #[arg(long, env = "LECTERN_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory for the embedded SQLite database (created if missing).
    #[arg(long, env = "LECTERN_DATA_DIR", default_value = "lectern-data")]
    pub data_dir: PathBuf,
}

impl DbArgs {
    /// The URL to connect to, creating the data directory for the default.
    pub fn url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create data directory {}", self.data_dir.display()))?;
        Ok(format!(
            "sqlite://{}",
            self.data_dir.join("lectern.db").display()
        ))
    }
}

/// Settings of `lectern serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "LECTERN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

/// Describes a database URL without its password, for logs and output.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://lectern:s3cret@db/lectern"),
            "postgres://lectern:***@db/lectern"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(
            redact("sqlite://lectern-data/lectern.db"),
            "sqlite://lectern-data/lectern.db"
        );
    }
}
