//! The `lectern-kiosk` command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use lectern_domain::Slug;
use lectern_kiosk_protocol::{EnrolRequest, EnrolResponse, KioskKey};
use serde_json::json;

use crate::client::{CallError, Server};
use crate::clock::KioskClock;
use crate::queue::{Identity, Queue};
use crate::reader::{Reader, Source, wedge_format};
use crate::{Kiosk, RunOptions, VERSION};

#[derive(Debug, Parser)]
#[command(
    name = "lectern-kiosk",
    version,
    about = "Lectern's lecture-hall kiosk: reads campus cards and records attendance, offline-first"
)]
struct Cli {
    /// Where the kiosk keeps its key, its tap queue and the roster.
    #[arg(
        long,
        env = "LECTERN_KIOSK_DATA",
        default_value = "lectern-kiosk-data",
        global = true
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enrol with the one-time code an administrator got from registering
    /// this kiosk (`registerKiosk` or `lectern kiosk register`).
    #[command(alias = "enroll")]
    Enrol {
        /// The server, http://host:port.
        #[arg(long)]
        server: String,
        /// The kiosk's id, as registered.
        #[arg(long)]
        kiosk: String,
        #[arg(long)]
        code: String,
        /// The log's checkpoint key to trust (`origin+id+base64`, as
        /// `lectern audit checkpoint` prints it); without it the kiosk
        /// trusts the key of the first checkpoint it is shown.
        #[arg(long)]
        log_key: Option<String>,
    },
    /// Read cards and record taps until the reader ends or Ctrl-C.
    Run {
        /// simulate:FILE (a script: `tap UID`, `sleep SECONDS`), wedge
        /// (stdin), wedge:DEVICE, nfc (libnfc's first device) or
        /// nfc:CONNSTRING (e.g. nfc:pn532_uart:/dev/ttyUSB0).
        #[arg(long)]
        reader: Source,
        /// A wedge reader that types decimal numbers: BYTES-msb or
        /// BYTES-lsb (e.g. 4-lsb); without it, hex.
        #[arg(long)]
        wedge_format: Option<String>,
        /// The same card again within this many seconds is one tap.
        #[arg(long, default_value_t = 3.0)]
        debounce_seconds: f64,
        /// One JSON line per tap on stdout.
        #[arg(long)]
        headless: bool,
        /// When the reader ends, wait until the server has every tap.
        #[arg(long)]
        until_synced: bool,
    },
    /// Send every queued tap now; exit status 3 if the server cannot be
    /// reached.
    Sync,
    /// The kiosk's identity, backlog and refused taps, as JSON.
    Status,
}

pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LECTERN_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(command(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    };
    // A reader blocked in a read (a keyboard wedge's stdin, a serial
    // port) holds a blocking thread the runtime would otherwise wait for:
    // the queue is closed and nothing is left to save, so leave it.
    runtime.shutdown_background();
    code
}

async fn command(cli: Cli) -> Result<ExitCode> {
    let queue = Queue::open(&cli.data_dir.join("kiosk.db")).await?;
    let code = match cli.command {
        Command::Enrol {
            server,
            kiosk,
            code,
            log_key,
        } => {
            let log_key = log_key
                .map(|k| {
                    let key = lectern_tlog::note::NoteKey::parse(&k)
                        .with_context(|| format!("--log-key {k:?}"))?;
                    if key.alg() != lectern_tlog::note::Alg::Ed25519 {
                        anyhow::bail!("--log-key {k:?} is a witness's key, not the log's");
                    }
                    Ok(key.vkey())
                })
                .transpose()?;
            let server = Server::parse(&server)?;
            let kiosk = Slug::parse(&kiosk)?;
            let key = KioskKey::generate()?;
            let answer: EnrolResponse = server
                .post(
                    "enrol",
                    &EnrolRequest {
                        kiosk: kiosk.clone(),
                        code,
                        public_key: key.public_hex(),
                        version: VERSION.to_owned(),
                    },
                )
                .await
                .context("enrolment failed")?;
            let id = Identity {
                kiosk,
                venue: answer.venue,
                server: server.url(),
            };
            queue.set_identity(&id, &key).await?;
            if log_key.is_some() {
                queue
                    .save_witnessed(&crate::witness::Witnessed {
                        log_key,
                        ..Default::default()
                    })
                    .await?;
            }
            eprintln!(
                "enrolled kiosk {} at venue {} with {}",
                id.kiosk.as_str(),
                id.venue.as_str(),
                id.server
            );
            ExitCode::SUCCESS
        }
        Command::Run {
            reader,
            wedge_format: format,
            debounce_seconds,
            headless,
            until_synced,
        } => {
            let format = format.as_deref().map(wedge_format).transpose()?;
            if !(0.0..=3600.0).contains(&debounce_seconds) {
                anyhow::bail!(
                    "--debounce-seconds must be between 0 and 3600, not {debounce_seconds}"
                );
            }
            let kiosk = Kiosk::open(queue.clone()).await?;
            let reader = Reader::open(&reader, format, kiosk.faults.clone()).await?;
            crate::run(
                kiosk,
                reader,
                RunOptions {
                    debounce: Duration::from_secs_f64(debounce_seconds),
                    headless,
                    until_synced,
                },
            )
            .await?;
            ExitCode::SUCCESS
        }
        Command::Sync => {
            let kiosk = Kiosk::open(queue.clone()).await?;
            let sync = kiosk.sync()?;
            // A line per batch the server answered, so an operator sees it
            // move.
            loop {
                match sync.push().await {
                    Ok(0) => break ExitCode::SUCCESS,
                    Ok(n) => println!("sent {n} taps; {} wait", queue.backlog().await?),
                    Err(e @ CallError::Unreachable(_)) => {
                        eprintln!("error: {e}; {} taps wait", queue.backlog().await?);
                        break ExitCode::from(3);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Command::Status => {
            let identity = queue.identity().await?;
            let boot = queue.boot(&KioskClock::system().now().boot).await?;
            let witnessed = queue.witnessed().await?;
            let status = json!({
                "kiosk": identity.as_ref().map(|(i, _)| i.kiosk.as_str()),
                "venue": identity.as_ref().map(|(i, _)| i.venue.as_str()),
                "server": identity.as_ref().map(|(i, _)| i.server.as_str()),
                "backlog": queue.backlog().await?,
                "last_counter": queue.last_counter().await?,
                "refused": queue.refused().await?,
                "clock": {
                    "boot": boot,
                    "sync_point": queue.latest_sync(boot).await?,
                    "offset_ms": queue.latest_offset().await?,
                },
                "witness": {
                    "log_key": witnessed.log_key,
                    "size": witnessed.size(),
                    "alarm": witnessed.alarm,
                },
            });
            println!("{status}");
            ExitCode::SUCCESS
        }
    };
    queue.close().await;
    Ok(code)
}
