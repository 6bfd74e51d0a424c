//! Configuration: a TOML file (`--config`, `LECTERN_CONFIG`), environment
//! variables and flags, the later overriding the earlier; then defaults.
//! `lectern.example.toml` at the repository root lists every setting; a
//! test checks it against `FileConfig`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use lectern_domain::{FlagThresholds, Slug};
use lectern_store::redact;
use serde::Deserialize;

/// The default data directory for the embedded SQLite database.
pub const DEFAULT_DATA_DIR: &str = "lectern-data";
/// Seconds between the checkpoints `lectern serve` signs, by default.
pub const DEFAULT_CHECKPOINT_SECONDS: u64 = 3600;
/// The default address of `lectern serve`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The settings a configuration file may hold (every one optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`.
    pub database_url: Option<String>,
    /// Directory of the embedded SQLite database when no URL is given.
    pub data_dir: Option<PathBuf>,
    /// Address `lectern serve` listens on.
    pub listen: Option<SocketAddr>,
    pub token_cache_seconds: Option<u64>,
    /// The checkpoint signing key's file (default `checkpoint.key` in
    /// `data_dir`).
    pub checkpoint_key: Option<PathBuf>,
    /// Seconds between the checkpoints `lectern serve` signs (0: none).
    pub checkpoint_interval_seconds: Option<u64>,
    /// The log's name in its checkpoints (origin line and key name), a
    /// schema-less URL such as `lectern.example.edu.cn/log` (default
    /// `lectern.local/log`).
    pub checkpoint_origin: Option<String>,
    /// Where signed checkpoints are published (default `checkpoints` beside
    /// the checkpoint key).
    pub checkpoint_publish_dir: Option<PathBuf>,
    /// Outside witnesses (C2SP tlog-witness) each new checkpoint is
    /// submitted to (`witnesses = [{ url, key }]`).
    pub witnesses: Option<Vec<WitnessConfig>>,
    /// Working days after a year closes within which its appraisal
    /// disputes are filed (default 10).
    pub dispute_working_days: Option<u32>,
    /// Whole years after leaving during which a person's personal data is
    /// kept and cannot be erased (default 10).
    pub personal_data_retention_years: Option<u32>,
    /// A read-only PostgreSQL replica of `database_url` that answers
    /// GraphQL queries (default: none).
    pub replica_url: Option<String>,
    /// Milliseconds a query that waits for a position waits for the replica
    /// to replay it before the primary answers (default 2000).
    pub replica_wait_ms: Option<u64>,
    /// The thresholds of the proxy-tap rules (`[flags]`).
    #[serde(default)]
    pub flags: FlagsConfig,
}

/// The `[flags]` table: thresholds of the rules that flag taps, each
/// optional (the defaults are `FlagThresholds::default`'s).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagsConfig {
    /// Least minutes to walk between any two venues (default 10).
    pub min_travel_minutes: Option<u32>,
    /// Minutes to walk between particular venues.
    pub travel: Option<Vec<Walk>>,
    /// Two cards this many seconds apart at one kiosk are read together
    /// (default 2).
    pub burst_seconds: Option<u32>,
    /// Sessions of a year two people are read together at before a flag
    /// (default 4).
    pub burst_sessions: Option<u32>,
    /// Seconds before a session's late line that are its last (default 60).
    pub last_seconds: Option<u32>,
    /// Sessions of a year two people both tap in the last seconds at before
    /// a flag (default 4).
    pub last_sessions: Option<u32>,
    /// Sessions of a year a card is refused as not expected at before a
    /// flag (default 3).
    pub wrong_venue_sessions: Option<u32>,
}

/// An outside witness: its `add-checkpoint` URL prefix and its verifier
/// key (`name+id+base64`, type 0x04).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    pub url: String,
    pub key: String,
}

/// How checkpoints are signed and published: the key's file, the origin,
/// the directory they are published in, and the outside witnesses.
#[derive(Debug, Clone)]
pub struct Signing {
    pub key: PathBuf,
    pub origin: String,
    pub publish_dir: PathBuf,
    pub witnesses: Vec<crate::witnesses::OutsideWitness>,
}

impl Signing {
    /// The signer (its key read, or made there on first use).
    pub fn signer(&self) -> anyhow::Result<lectern_audit::checkpoints::Signer> {
        Ok(
            lectern_audit::checkpoints::Signer::load_or_create(&self.key)?
                .with_origin(&self.origin)?
                .publishing_to(Some(self.publish_dir.clone())),
        )
    }
}

/// The walk between two venues (either way).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Walk {
    pub between: [String; 2],
    pub minutes: u32,
}

impl FlagsConfig {
    /// The thresholds these settings make, checked: a session count is at
    /// least 1, a walk names two different venues by their slugs.
    pub fn thresholds(&self) -> anyhow::Result<FlagThresholds> {
        let mut t = FlagThresholds::default();
        let minutes = |m: u32| chrono::Duration::minutes(i64::from(m));
        if let Some(m) = self.min_travel_minutes {
            t.min_travel = minutes(m);
        }
        for walk in self.travel.iter().flatten() {
            let [a, b] = &walk.between;
            let venue = |v: &str| {
                Slug::parse(v).map_err(|e| {
                    anyhow::anyhow!(
                        "[flags] travel names the venue {v:?}, which is not a venue id: {e}"
                    )
                })
            };
            let (a, b) = (venue(a)?, venue(b)?);
            if a == b {
                anyhow::bail!("[flags] travel between {a} and {a}: name two different venues");
            }
            t.travel.insert((a, b), minutes(walk.minutes));
        }
        if let Some(s) = self.burst_seconds {
            t.burst_seconds = i64::from(s);
        }
        if let Some(s) = self.last_seconds {
            t.last_seconds = i64::from(s);
        }
        for (name, value, field) in [
            ("burst_sessions", self.burst_sessions, &mut t.burst_sessions),
            ("last_sessions", self.last_sessions, &mut t.last_sessions),
            (
                "wrong_venue_sessions",
                self.wrong_venue_sessions,
                &mut t.wrong_venue_sessions,
            ),
        ] {
            match value {
                Some(0) => anyhow::bail!("[flags] {name} = 0: it counts sessions, at least 1"),
                Some(n) => *field = n,
                None => {}
            }
        }
        Ok(t)
    }
}

impl FileConfig {
    /// Reads and checks a configuration file; an unknown setting is an
    /// error that names it.
    pub fn read(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("the configuration file {} is not valid", path.display()))
    }
}

/// Where the event log lives. Every command that touches a database takes
/// these flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DbArgs {
    /// A TOML configuration file (see lectern.example.toml); flags and
    /// environment variables override it.
    #[arg(long, env = "LECTERN_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Database URL: `sqlite://PATH` or `postgres://USER@HOST/DB`. Default: a
    /// SQLite file `lectern.db` in the data directory.
    #[arg(
        long,
        env = "LECTERN_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    pub database_url: Option<String>,
    /// Directory of the embedded SQLite database; default `lectern-data`
    /// (made by commands that write; those that only read need a log there).
    #[arg(long, env = "LECTERN_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

/// How to get an event log, for a command that found none.
pub const MAKE_A_LOG: &str = "Make one with `lectern demo` (a generated campus) or with \
     `lectern migrate` and `lectern import` (a real one), or name one with --data-dir DIR \
     or --database-url URL";

impl DbArgs {
    /// The configuration file's settings (none without `--config`).
    pub fn file(&self) -> anyhow::Result<FileConfig> {
        match &self.config {
            Some(path) => FileConfig::read(path),
            None => Ok(FileConfig::default()),
        }
    }

    /// The checkpoint key's file: the flag (`flag`), else the file's
    /// setting, else `checkpoint.key` in the data directory.
    pub fn checkpoint_key(&self, flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
        let file = self.file()?;
        Ok(lectern_audit::checkpoints::key_path(
            flag.or(file.checkpoint_key),
            self.data_dir()?,
        ))
    }

    /// How checkpoints are signed and published: `key` and `publish` are the
    /// flags (else the file's settings; the published directory defaults to
    /// `checkpoints` beside the key).
    pub fn signing(
        &self,
        key: Option<PathBuf>,
        publish: Option<PathBuf>,
    ) -> anyhow::Result<Signing> {
        let file = self.file()?;
        let key =
            lectern_audit::checkpoints::key_path(key.or(file.checkpoint_key), self.data_dir()?);
        let publish_dir = publish.or(file.checkpoint_publish_dir).unwrap_or_else(|| {
            key.parent()
                .unwrap_or_else(|| Path::new("."))
                .join("checkpoints")
        });
        let witnesses = file
            .witnesses
            .unwrap_or_default()
            .iter()
            .map(crate::witnesses::OutsideWitness::from_config)
            .collect::<anyhow::Result<_>>()?;
        Ok(Signing {
            key,
            origin: file
                .checkpoint_origin
                .unwrap_or_else(|| lectern_audit::checkpoints::DEFAULT_ORIGIN.to_owned()),
            publish_dir,
            witnesses,
        })
    }

    /// The projectors' options: the proxy-tap rules' thresholds from the
    /// file's `[flags]`.
    /// Years after leaving before a person's personal data may be erased.
    pub fn personal_data_retention_years(&self) -> anyhow::Result<u32> {
        Ok(self
            .file()?
            .personal_data_retention_years
            .unwrap_or(lectern_app::PERSONAL_DATA_RETENTION_YEARS))
    }

    pub fn projections(&self) -> anyhow::Result<lectern_projections::Options> {
        Ok(lectern_projections::Options {
            flags: self.file()?.flags.thresholds()?,
            ..lectern_projections::Options::default()
        })
    }

    /// The data directory: the flag, else the file's setting, else
    /// `lectern-data` (not created here).
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        Ok(self
            .data_dir
            .clone()
            .or(self.file()?.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)))
    }

    /// The URL of a database that must exist already (for commands that
    /// only read the log): nothing is created, and a SQLite file that is
    /// not there is refused, naming where it was looked for and how to make
    /// one.
    pub fn existing_url(&self) -> anyhow::Result<String> {
        let (url, _) = self.located()?;
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            if path != ":memory:" && !std::path::Path::new(path).exists() {
                anyhow::bail!("no event log here: {path} does not exist. {}", MAKE_A_LOG);
            }
        }
        Ok(url)
    }

    /// The URL to connect to, creating the data directory for the default.
    pub fn url(&self) -> anyhow::Result<String> {
        let (url, dir) = self.located()?;
        if let Some(dir) = dir {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        }
        Ok(url)
    }

    /// The URL given (flag, environment or file), else the default SQLite
    /// file's with the data directory that holds it.
    fn located(&self) -> anyhow::Result<(String, Option<PathBuf>)> {
        if let Some(url) = self.database_url.clone().or(self.file()?.database_url) {
            return Ok((url, None));
        }
        let dir = self.data_dir()?;
        Ok((
            format!("sqlite://{}", dir.join("lectern.db").display()),
            Some(dir),
        ))
    }
}

/// Settings of `lectern serve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on (default 127.0.0.1:8080); port 0 picks a free
    /// port.
    #[arg(long, env = "LECTERN_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Seconds a checked bearer token is trusted before it is looked up
    /// again, so a revocation reaches this server within that time
    /// (default 5; 0 looks up every request)
    #[arg(long, env = "LECTERN_TOKEN_CACHE_SECONDS")]
    pub token_cache_seconds: Option<u64>,
    /// The checkpoint signing key's file, made on first use (default
    /// `checkpoint.key` in the data directory).
    #[arg(long, env = "LECTERN_CHECKPOINT_KEY")]
    pub checkpoint_key: Option<PathBuf>,
    /// Seconds between signed checkpoints of the log (default 3600; 0:
    /// none).
    #[arg(long, env = "LECTERN_CHECKPOINT_INTERVAL_SECONDS")]
    pub checkpoint_interval_seconds: Option<u64>,
    /// Where signed checkpoints are published, served at /checkpoint and
    /// /checkpoints/ (default `checkpoints` beside the checkpoint key).
    #[arg(long, env = "LECTERN_CHECKPOINT_PUBLISH_DIR")]
    pub publish_dir: Option<PathBuf>,
    /// Working days after a year closes within which its appraisal
    /// disputes are filed (default 10)
    #[arg(long, env = "LECTERN_DISPUTE_WORKING_DAYS")]
    pub dispute_working_days: Option<u32>,
    /// A read-only PostgreSQL replica (hot standby) of the database that
    /// answers GraphQL queries; mutations, subscriptions, kiosks and the
    /// projectors use the database itself (default: none)
    #[arg(long, env = "LECTERN_REPLICA_URL", hide_env_values = true)]
    pub replica_url: Option<String>,
    /// Milliseconds a query that waits for a position waits for the
    /// replica to replay it before the primary answers (default 2000)
    #[arg(long, env = "LECTERN_REPLICA_WAIT_MS")]
    pub replica_wait_ms: Option<u64>,
}

impl ServeArgs {
    /// The address to listen on: flag or environment, else the file, else
    /// the default.
    pub fn listen(&self) -> anyhow::Result<SocketAddr> {
        Ok(match self.listen {
            Some(a) => a,
            None => self
                .db
                .file()?
                .listen
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("a valid default")),
        })
    }

    /// How checkpoints are signed and published.
    pub fn signing(&self) -> anyhow::Result<Signing> {
        self.db
            .signing(self.checkpoint_key.clone(), self.publish_dir.clone())
    }

    /// How often to sign a checkpoint; `None`: never.
    pub fn checkpoint_interval(&self) -> anyhow::Result<Option<std::time::Duration>> {
        let seconds = match self.checkpoint_interval_seconds {
            Some(s) => s,
            None => self
                .db
                .file()?
                .checkpoint_interval_seconds
                .unwrap_or(DEFAULT_CHECKPOINT_SECONDS),
        };
        Ok((seconds > 0).then(|| std::time::Duration::from_secs(seconds)))
    }

    /// The filing window for disputes, in working days.
    pub fn dispute_working_days(&self) -> anyhow::Result<u32> {
        Ok(match self.dispute_working_days {
            Some(d) => d,
            None => self
                .db
                .file()?
                .dispute_working_days
                .unwrap_or(lectern_app::DISPUTE_WORKING_DAYS),
        })
    }

    /// The replica's URL, checked against the database's: both PostgreSQL.
    pub fn replica_url(&self) -> anyhow::Result<Option<String>> {
        let Some(replica) = self.replica_url.clone().or(self.db.file()?.replica_url) else {
            return Ok(None);
        };
        let is_pg = |u: &str| u.starts_with("postgres:") || u.starts_with("postgresql:");
        let url = self.db.url()?;
        if !is_pg(&replica) || !is_pg(&url) {
            anyhow::bail!(
                "replica_url {:?} needs PostgreSQL for both it and the database ({}): \
                 a replica is a hot standby of a PostgreSQL primary",
                redact(&replica),
                redact(&url)
            );
        }
        Ok(Some(replica))
    }

    /// How long a waiting query waits for the replica.
    pub fn replica_wait(&self) -> anyhow::Result<std::time::Duration> {
        Ok(match self.replica_wait_ms {
            Some(ms) => std::time::Duration::from_millis(ms),
            None => self.db.file()?.replica_wait_ms.map_or(
                lectern_graphql::REPLICA_WAIT,
                std::time::Duration::from_millis,
            ),
        })
    }

    pub fn token_cache(&self) -> anyhow::Result<std::time::Duration> {
        Ok(match self.token_cache_seconds {
            Some(s) => std::time::Duration::from_secs(s),
            None => self
                .db
                .file()?
                .token_cache_seconds
                .map_or(lectern_graphql::TOKEN_TTL, std::time::Duration::from_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::FileConfig;

    #[test]
    fn the_example_configuration_names_every_setting() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../lectern.example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        // Every setting, uncommented, parses into FileConfig...
        let uncommented: String = text
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|r| r.contains(" = "))
                    .unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let all: FileConfig = toml::from_str(&uncommented).unwrap();
        // ...and none is missing from the example.
        assert_eq!(
            all,
            FileConfig {
                database_url: all.database_url.clone(),
                data_dir: all.data_dir.clone(),
                listen: all.listen,
                token_cache_seconds: Some(5),
                checkpoint_key: all.checkpoint_key.clone(),
                checkpoint_interval_seconds: Some(3600),
                checkpoint_origin: Some("lectern.local/log".into()),
                checkpoint_publish_dir: all.checkpoint_publish_dir.clone(),
                witnesses: all.witnesses.clone(),
                dispute_working_days: Some(10),
                personal_data_retention_years: Some(lectern_app::PERSONAL_DATA_RETENTION_YEARS),
                replica_url: all.replica_url.clone(),
                replica_wait_ms: Some(2000),
                flags: all.flags.clone(),
            }
        );
        let t = all.flags.thresholds().unwrap();
        let defaults = lectern_domain::FlagThresholds::default();
        assert_eq!(
            (t.min_travel, t.burst_seconds, t.burst_sessions),
            (
                defaults.min_travel,
                defaults.burst_seconds,
                defaults.burst_sessions
            )
        );
        assert_eq!(
            (t.last_seconds, t.last_sessions, t.wrong_venue_sessions),
            (
                defaults.last_seconds,
                defaults.last_sessions,
                defaults.wrong_venue_sessions
            )
        );
        let hall = |s: &str| lectern_domain::Slug::parse(s).unwrap();
        assert_eq!(
            t.travel_time(&hall("science-hall"), &hall("main-hall")),
            chrono::Duration::minutes(15)
        );
        for (text, message) in [
            (
                "[flags]\nburst_sessions = 0\n",
                "[flags] burst_sessions = 0: it counts sessions, at least 1",
            ),
            (
                "[flags]\ntravel = [{ between = [\"Main Hall\", \"x\"], minutes = 3 }]\n",
                "[flags] travel names the venue \"Main Hall\"",
            ),
            (
                "[flags]\ntravel = [{ between = [\"x\", \"x\"], minutes = 3 }]\n",
                "[flags] travel between x and x: name two different venues",
            ),
        ] {
            let file: FileConfig = toml::from_str(text).unwrap();
            let err = file.flags.thresholds().unwrap_err().to_string();
            assert!(err.starts_with(message), "{err}");
        }
        let unknown = toml::from_str::<FileConfig>("[flags]\nburst = 3\n");
        assert!(
            unknown
                .unwrap_err()
                .to_string()
                .contains("unknown field `burst`")
        );
        assert!(all.database_url.is_some() && all.data_dir.is_some() && all.listen.is_some());
        assert!(all.replica_url.is_some());
        assert!(all.checkpoint_key.is_some());
        let unknown = toml::from_str::<FileConfig>("listen = \"127.0.0.1:1\"\nport = 8080\n");
        assert!(
            unknown
                .unwrap_err()
                .to_string()
                .contains("unknown field `port`")
        );
    }
}
