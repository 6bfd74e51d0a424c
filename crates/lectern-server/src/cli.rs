//! The `lectern` command line.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use lectern_graphql::{Principal, Tokens, parse_principal};
use lectern_projections::ReadDb;
use lectern_store::{LogState, Store, redact};

use crate::app::Application;
use crate::config::{DbArgs, ServeArgs};

#[derive(Debug, Parser)]
#[command(
    name = "lectern",
    version,
    about = "Lectern: the event-sourced platform of the staff learning campaign",
    long_about = "Lectern keeps every study, training, attendance, appraisal and award fact in one \
                  append-only, hash-chained event log (SQLite by default, PostgreSQL in production)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (applies pending migrations first).
    #[command(
        after_help = "Example: lectern serve --listen 0.0.0.0:8080 --data-dir /var/lib/lectern"
    )]
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    #[command(after_help = "Example: lectern migrate --database-url postgres://lectern@db/lectern")]
    Migrate(DbArgs),
    /// Auditors' tools: verify, checkpoints, proofs, bundles.
    #[command(subcommand)]
    #[command(after_help = "Example: lectern audit verify")]
    Audit(AuditCommand),
    /// Benchmarks that print one line per workload.
    #[command(subcommand)]
    #[command(after_help = "Example: lectern bench store --db sqlite")]
    Bench(BenchCommand),
    /// Bearer tokens for the API: create, list, revoke.
    #[command(subcommand)]
    #[command(after_help = "Example: lectern token create --role union-chair --unit chinese")]
    Token(TokenCommand),
    /// Rebuild read models from the log and swap them in.
    ///
    /// The new tables are built beside the old ones; a running server keeps
    /// answering from the old ones until the swap.
    #[command(after_help = "Example: lectern rebuild")]
    Rebuild(RebuildArgs),
    /// Kiosks at the lecture halls: register one.
    #[command(subcommand)]
    #[command(after_help = "Example: lectern kiosk register --kiosk hall-3-door --venue hall-3")]
    Kiosk(KioskCommand),
    /// Replay an appraisal, attendance or history from the log.
    ///
    /// A person's or unit's appraisal (one line per point), attendance or
    /// history, folded by the domain from the log (not the read models), now
    /// or as it stood at a moment.
    #[command(
        after_help = "Example: lectern replay --person 19900001 --year 2008 --as-of 2008-07-01T00:00:00Z"
    )]
    Replay(ReplayArgs),
    /// Print a report, or write it as CSV or XLSX.
    ///
    /// Programme, unit month, appraisal, unit appraisal, leadership group,
    /// awards register, a session's attendance, year end; `--out FILE.csv`
    /// or `--out FILE.xlsx` writes a file instead.
    #[command(
        after_help = "Example: lectern report unit-month --unit chinese --year 2008 --month 11 --out nov.xlsx"
    )]
    Report(ReportArgs),
    /// Make a demo campus (2005 to 2009) and serve it.
    ///
    /// A university of September 2005 to July 2009 (44 units, about 3,000
    /// staff, four years of study, training, awards and appraisal), made
    /// through the command path in an empty database; then it serves it and
    /// prints how to query it. Run again on the same database, it serves
    /// what it made.
    #[command(after_help = "Example: lectern demo --study-units 4")]
    Demo(DemoArgs),
    /// Personal data: erase that of someone who left long ago.
    #[command(subcommand)]
    #[command(after_help = "Example: lectern person erase 19700001")]
    Person(PersonCli),
    /// Import units, people or cards from CSV or XLSX.
    ///
    /// Every row is checked first and each bad one reported with its line;
    /// only a fully valid file is applied, in one transaction; rows already
    /// true are left alone, so importing the same file again changes
    /// nothing.
    #[command(after_help = "Example: lectern import people staff.xlsx")]
    Import {
        kind: crate::import::Kind,
        file: std::path::PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, clap::Subcommand)]
enum PersonCli {
    /// Erase a person's personal data (name, birth date, the free text of
    /// their leave requests, study evidence and dispute claims) once the
    /// retention period after their leaving is over.
    ///
    /// Destroys their key, records the erasure in the log and overwrites
    /// the read models' copies; the log and every proof still verify.
    /// Refused for current staff, during an open dispute of theirs, and
    /// inside `personal_data_retention_years` (default 10) after leaving.
    #[command(after_help = "Example: lectern person erase 19700001 --config lectern.toml")]
    Erase {
        /// The staff number.
        staff_no: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, clap::Args)]
struct DemoArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// Staff on the books in September 2005 (new teachers join each
    /// September; the navigation programme needs about 1,500 at least).
    #[arg(long, default_value_t = 3000)]
    staff: u32,
    /// Weekly study for only the first N staffed units (a smaller, faster
    /// campus); all 35 by default.
    #[arg(long, value_name = "N")]
    study_units: Option<usize>,
    /// The seed: the same seed makes the same campus.
    #[arg(long, default_value_t = 2005)]
    seed: u64,
    /// Make the campus (or find it made), print the tokens and the example
    /// queries, and exit instead of serving.
    #[arg(long)]
    no_serve: bool,
}

#[derive(Debug, clap::Args)]
struct ReportArgs {
    #[command(subcommand)]
    report: crate::reports::Report,
    /// Write the report to this file instead: `.csv` (UTF-8 with a
    /// byte-order mark, for spreadsheet programs) or `.xlsx`.
    #[arg(long, short, global = true)]
    out: Option<std::path::PathBuf>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, clap::Args)]
struct ReplayArgs {
    /// The staff number.
    #[arg(long, required_unless_present = "unit", conflicts_with = "unit")]
    person: Option<String>,
    /// A unit instead: its appraisal, its monthly attendance figures, or
    /// its history.
    #[arg(long)]
    unit: Option<String>,
    #[arg(long)]
    year: i32,
    /// A month of the year (gains and losses only, no base points).
    #[arg(long)]
    month: Option<u32>,
    /// The moment (RFC 3339): what was true then, with everything known now.
    #[arg(long)]
    as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// With --as-of: what the system showed then (events recorded by then).
    #[arg(long, requires = "as_of")]
    as_recorded: bool,
    /// What to replay: the appraisal with its lines, the attendance at
    /// each session, or the history (the events of the person's record).
    #[arg(long, value_enum, default_value_t = Show::Appraisal)]
    show: Show,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Show {
    Appraisal,
    Attendance,
    History,
}

#[derive(Debug, Subcommand)]
enum KioskCommand {
    /// Register a kiosk for a venue and print its one-time enrolment code
    /// (shown once; the log keeps its hash). Registering a kiosk again
    /// issues a new code and voids its old key until it enrols.
    #[command(alias = "enroll")]
    Register {
        /// The kiosk's id, e.g. hall-a-1.
        #[arg(long)]
        kiosk: String,
        /// The venue it serves, e.g. hall-a.
        #[arg(long)]
        venue: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it once (only its hash is stored).
    Create(TokenCreateArgs),
    /// List tokens (never their secrets).
    List(DbArgs),
    /// Revoke a token by id; a running server refuses it within its
    /// `token_cache_seconds`.
    Revoke {
        /// The token's id, as `token list` shows it.
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, clap::Args)]
struct TokenCreateArgs {
    /// administrator, union-chair, auditor, staff or kiosk.
    #[arg(long)]
    role: String,
    /// The unit of a union chair.
    #[arg(long)]
    unit: Option<String>,
    /// The staff number of the token's person (required for staff; for
    /// other roles, who marks, approves and corrects).
    #[arg(long)]
    person: Option<String>,
    /// The kiosk id of a kiosk token.
    #[arg(long)]
    kiosk: Option<String>,
    /// A note on what the token is for.
    #[arg(long, default_value = "")]
    label: String,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, clap::Args)]
struct RebuildArgs {
    /// Rebuild only this projector (default: all of them).
    #[arg(long)]
    projector: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the whole hash chain and check every signed checkpoint
    /// against the log, trusting only the keys given, against a published
    /// copy of the checkpoints and witnesses when given; exit status 2
    /// names what is wrong.
    Verify(VerifyArgs),
    /// Sign a checkpoint of the log now (size, Merkle root, head hash).
    Checkpoint(AuditArgs),
    /// List the signed checkpoints and the published keys.
    Checkpoints(AuditArgs),
    /// Make a new checkpoint key, publish it and retire the old one (which
    /// still verifies what it signed); signs a checkpoint with the new key.
    RotateKey(AuditArgs),
    /// Print (JSON) a proof that the event at --position is in the log of a
    /// signed checkpoint, or with --from and --to that one checkpoint's log
    /// begins with another's; `check-proof` checks it with no database.
    Prove(ProveArgs),
    /// Check a proof written by `prove`, offline.
    CheckProof {
        /// The proof file (`-`: stdin).
        file: std::path::PathBuf,
        /// Accept only this checkpoint key (hex, as `audit checkpoints`
        /// lists it, or its verifier key `origin+id+base64`).
        #[arg(long)]
        key: Option<String>,
    },
    /// Write a person's appraisal for a year with its evidence (their
    /// events, each with its inclusion proof, the signed checkpoint and its
    /// key) as one JSON file; `check-bundle` checks it with no database.
    Export(ExportArgs),
    /// Check a bundle written by `export`, offline: signatures, every
    /// event's hash and proof, and the lines folded again from the events.
    CheckBundle {
        /// The bundle file (`-`: stdin).
        file: std::path::PathBuf,
        /// Accept only this checkpoint key (hex, as `audit checkpoints`
        /// lists it, or its verifier key `origin+id+base64`).
        #[arg(long)]
        key: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// The staff number.
    #[arg(long)]
    person: String,
    /// The appraisal year.
    #[arg(long)]
    period: i32,
    /// Where to write the bundle (default: stdout).
    #[arg(long, short)]
    out: Option<std::path::PathBuf>,
    #[command(flatten)]
    audit: AuditArgs,
}

#[derive(Debug, clap::Args)]
struct ProveArgs {
    /// The event's log position.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    position: Option<u64>,
    /// The checkpoint (its size) to prove against; default the latest.
    #[arg(long, requires = "position")]
    size: Option<u64>,
    /// The older checkpoint's size.
    #[arg(long, requires = "to")]
    from: Option<u64>,
    /// The newer checkpoint's size.
    #[arg(long, requires = "from")]
    to: Option<u64>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, clap::Args)]
struct AuditArgs {
    /// The checkpoint signing key (made if missing); default
    /// `checkpoint.key` in the data directory.
    #[arg(long, env = "LECTERN_CHECKPOINT_KEY")]
    checkpoint_key: Option<std::path::PathBuf>,
    /// Where signed checkpoints are published (default `checkpoints`
    /// beside the checkpoint key).
    #[arg(long, env = "LECTERN_CHECKPOINT_PUBLISH_DIR")]
    publish_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    db: DbArgs,
}

impl AuditArgs {
    fn signing(&self) -> anyhow::Result<crate::config::Signing> {
        self.db
            .signing(self.checkpoint_key.clone(), self.publish_dir.clone())
    }
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// A checkpoint key to trust (repeatable): its verifier key
    /// (`origin+id+base64`, as GET /checkpoint's signature names it) or its
    /// hex public key (as `audit checkpoints` lists it). Checkpoints signed
    /// by any other key fail. Without one, the keys stored in the database
    /// are believed, and a warning says so.
    #[arg(long = "key")]
    keys: Vec<String>,
    /// A file of trusted keys, one a line (`#` comments).
    #[arg(long)]
    keys_file: Option<std::path::PathBuf>,
    /// A published copy of the checkpoints to check the log and the
    /// database against: a directory, or the http:// URL it is served at.
    #[arg(long)]
    published: Option<String>,
    /// A witness whose cosignatures count (repeatable): its verifier key.
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// Cosignatures of the named witnesses the latest checkpoint needs
    /// (default: all of them).
    #[arg(long, requires = "witnesses")]
    quorum: Option<usize>,
    #[command(flatten)]
    db: DbArgs,
}

impl VerifyArgs {
    fn trust(&self) -> anyhow::Result<lectern_audit::checkpoints::Trust> {
        use lectern_audit::checkpoints::parse_trusted_key;
        let mut texts = self.keys.clone();
        if let Some(path) = &self.keys_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the keys file {}", path.display()))?;
            texts.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        let keys = texts
            .iter()
            .map(|k| parse_trusted_key(k))
            .collect::<Result<Vec<_>, _>>()?;
        let witnesses = self
            .witnesses
            .iter()
            .map(|w| {
                let key = lectern_tlog::note::NoteKey::parse(w)?;
                if key.alg() != lectern_tlog::note::Alg::Cosignature {
                    anyhow::bail!("--witness {w:?} is not a witness's key (type 0x04)");
                }
                Ok(key)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let quorum = self.quorum.unwrap_or(witnesses.len());
        if quorum > witnesses.len() {
            anyhow::bail!(
                "--quorum {quorum} asks for more cosignatures than the {} witnesses named",
                witnesses.len()
            );
        }
        Ok(lectern_audit::checkpoints::Trust {
            keys,
            published: None,
            witnesses,
            quorum,
        })
    }
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// The event-store workloads W1–W4 of the shared benchmark spec.
    Store(lectern_bench::store::BenchArgs),
    /// A synthetic campus: projection catch-up, then GraphQL over HTTP
    /// from concurrent clients (dashboard, roster, unit month).
    Api(lectern_bench::api::ApiBenchArgs),
}

/// Parses the arguments, runs the command and turns errors into a message
/// and an exit status.
pub fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    init_tracing();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `lectern replay … | head`: when the reader of our output goes away,
/// stop quietly (as a shell tool does on SIGPIPE) instead of reporting a
/// failed print as a crash.
fn quiet_on_broken_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload_as_str().is_some_and(|m| {
            m.starts_with("failed printing to stdout") && m.contains("Broken pipe")
        }) {
            std::process::exit(141);
        }
        report(info)
    }));
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("LECTERN_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(|| LogWriter)
        .try_init();
}

/// The progress bar on the terminal while one is drawn (the demo's).
static BAR: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

/// Standard error for log lines: while a progress bar is drawn, a line
/// clears it, prints, and lets it redraw, rather than breaking it.
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = BAR.lock().ok().and_then(|b| b.clone());
        match bar {
            Some(bar) => bar
                .suspend(|| std::io::stderr().write_all(buf))
                .map(|()| buf.len()),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Shows `bar` on a terminal; elsewhere (output piped to a file or a CI
/// log) prints its state as a plain line every `every` instead. Returns
/// what stops either.
fn show_progress(bar: &indicatif::ProgressBar, every: Duration) -> Box<dyn FnOnce()> {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        if let Ok(mut b) = BAR.lock() {
            *b = Some(bar.clone());
        }
        let bar = bar.clone();
        return Box::new(move || {
            if let Ok(mut b) = BAR.lock() {
                *b = None;
            }
            bar.finish_and_clear();
        });
    }
    let (bar, started) = (bar.clone(), std::time::Instant::now());
    let ticker = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            eprintln!(
                "{:>5.0} s  {}/{} months  {}",
                started.elapsed().as_secs_f64(),
                bar.position(),
                bar.length().unwrap_or_default(),
                bar.message()
            );
        }
    });
    Box::new(move || ticker.abort())
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            let app = Application::build(&args).await?;
            eprintln!(
                "Lectern is serving on http://{}/ (Ctrl-C stops it)",
                app.local_addr()
            );
            app.run_until_stopped().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate(db) => {
            let url = db.url()?;
            let store = open(&url).await?;
            store
                .migrate()
                .await
                .with_context(|| format!("cannot migrate {}", redact(&url)))?;
            println!("migrated {} ({})", redact(&url), store.backend());
            match store.personal_since().await? {
                0 => println!(
                    "personal data: sealed under each person's key from the log's first event, \
                     so `lectern person erase` erases all of it"
                ),
                since => println!(
                    "personal data: events 1 to {since} were written before personal data was \
                     sealed; their personal fields stay in the clear and cannot be erased. \
                     Events from position {} on seal them under each person's key",
                    since + 1
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify(args)) => {
            let mut trust = args.trust()?;
            if let Some(source) = &args.published {
                trust.published = Some(crate::witnesses::read_published(source).await?);
            }
            let (url, store) = open_existing(&args.db).await?;
            let read = read_db(&url).await?;
            let audit = lectern_audit::checkpoints::audit_with(&store, &read, &trust)
                .await
                .context(
                    "cannot read the event log (has `lectern migrate` run on this database?)",
                )?;
            let v = &audit.verification;
            let mut code = ExitCode::SUCCESS;
            if audit.trusting_the_database {
                eprintln!(
                    "WARNING: no trusted key given (--key): the checkpoints were checked against \
                     the keys stored in the database they protect, so anyone who can write to it \
                     can re-sign a rewritten log and pass. Give the published key: --key \
                     <origin+id+key> (the signature line of GET /checkpoint names it)."
                );
            }
            match (&v.first_bad, v.head) {
                (None, None) => println!("chain intact: the log is empty"),
                (None, Some((position, hash))) => println!(
                    "chain intact: {} events, head position {position}, head hash {}",
                    v.checked,
                    to_hex(&hash)
                ),
                (Some(bad), _) => {
                    println!(
                        "chain BROKEN: {bad}; the {} events before it verify",
                        v.checked
                    );
                    code = ExitCode::from(2);
                }
            }
            match &audit.bad_checkpoint {
                None => println!(
                    "checkpoints intact: {} signed checkpoints verify against the log{}",
                    audit.checkpoints,
                    if audit.trusting_the_database {
                        " (by the keys the database lists)"
                    } else {
                        " under the trusted keys"
                    }
                ),
                Some((size, why)) => {
                    println!("checkpoint BROKEN: the checkpoint at size {size}: {why}");
                    code = ExitCode::from(2);
                }
            }
            if let Some(p) = &audit.published {
                if p.problems.is_empty() {
                    println!(
                        "published copy intact: {} published checkpoints match the database and \
                         the log{}",
                        p.count,
                        if p.newer_in_database > 0 {
                            format!(
                                " ({} newer checkpoints in the database are not in this copy yet)",
                                p.newer_in_database
                            )
                        } else {
                            String::new()
                        }
                    );
                } else {
                    for problem in &p.problems {
                        println!("published copy BROKEN: {problem}");
                    }
                    code = ExitCode::from(2);
                }
            }
            match &audit.witnesses {
                None => {}
                Some(Ok(said)) => println!("witnesses: {said}"),
                Some(Err(said)) => {
                    println!("witnesses BROKEN: {said}");
                    code = ExitCode::from(2);
                }
            }
            Ok(code)
        }
        Command::Audit(AuditCommand::Checkpoint(args)) => {
            let url = args.db.url()?;
            let store = open(&url).await?;
            store.migrate().await?;
            let read = read_db(&url).await?;
            let signing = args.signing()?;
            let c = crate::witnesses::checkpoint(&store, &read, &signing).await?;
            println!(
                "checkpoint: size {}, root {}, head hash {}, signed {} with key {}",
                c.size,
                c.root,
                c.head_hash,
                c.signed_at.to_rfc3339(),
                c.key_id
            );
            println!(
                "published in {}; trust it with --key {}",
                signing.publish_dir.display(),
                signing.signer()?.note_key()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Checkpoints(args)) => {
            let (url, store) = open_existing(&args.db).await?;
            store.close().await;
            let read = read_db(&url).await?;
            for k in lectern_audit::checkpoints::keys(&read).await? {
                println!(
                    "key {} {} published {}{}",
                    k.key_id,
                    k.public_key,
                    k.created_at,
                    k.retired_at
                        .map_or(String::new(), |r| format!(", retired {r}"))
                );
            }
            for c in lectern_audit::checkpoints::list(&read).await? {
                println!(
                    "checkpoint size {} root {} head {} signed {} key {}",
                    c.size,
                    c.root,
                    c.head_hash,
                    c.signed_at.to_rfc3339(),
                    c.key_id
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::RotateKey(args)) => {
            let url = args.db.url()?;
            let store = open(&url).await?;
            store.migrate().await?;
            let read = read_db(&url).await?;
            let signing = args.signing()?;
            let path = signing.key.clone();
            let previous = signing.signer()?;
            let old = previous.key_id();
            let signer = lectern_audit::checkpoints::Signer::create(&path)?
                .with_origin(&signing.origin)?
                .publishing_to(Some(signing.publish_dir.clone()))
                .succeeding(previous);
            lectern_audit::checkpoints::publish(&read, &signer).await?;
            eprintln!(
                "new checkpoint key {} in {} (key {old} is retired); the next checkpoint is \
                 signed by both, and is trusted with --key {}",
                signer.key_id(),
                path.display(),
                signer.note_key()
            );
            match lectern_audit::checkpoints::sign(&store, &read, &signer).await {
                Ok(c) if c.key_id == signer.key_id() => {
                    println!("checkpoint: size {} signed with key {}", c.size, c.key_id)
                }
                Ok(_) => println!("the log has not grown since the last checkpoint"),
                Err(e) => println!("{e}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Prove(args)) => {
            use lectern_audit::checkpoints::{self as cp, ProofFile};
            let (url, store) = open_existing(&args.db).await?;
            let read = read_db(&url).await?;
            let file = match (args.position, args.from, args.to) {
                (Some(position), None, None) => {
                    let (proof, checkpoint) =
                        cp::prove_inclusion(&store, &read, position, args.size).await?;
                    let public_key = cp::public_key(&read, &checkpoint.key_id).await?;
                    ProofFile::Inclusion {
                        proof,
                        checkpoint,
                        public_key,
                    }
                }
                (None, Some(from), Some(to)) => {
                    let (proof, older, newer) =
                        cp::prove_consistency(&store, &read, from, to).await?;
                    ProofFile::Consistency {
                        proof,
                        older_key: cp::public_key(&read, &older.key_id).await?,
                        newer_key: cp::public_key(&read, &newer.key_id).await?,
                        older,
                        newer,
                    }
                }
                _ => anyhow::bail!("give --position P, or --from A --to B (checkpoint sizes)"),
            };
            println!("{}", serde_json::to_string_pretty(&file)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::CheckProof { file, key }) => {
            let text = read_input(&file)?;
            let proof: lectern_audit::checkpoints::ProofFile = serde_json::from_str(&text)
                .with_context(|| {
                    format!(
                        "{} is not a proof from `lectern audit prove`",
                        file.display()
                    )
                })?;
            let key = trusted_hex(key.as_deref())?;
            match proof.check(key.as_deref()) {
                Ok(what) => {
                    println!("proof holds: {what}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("proof FAILS: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Audit(AuditCommand::Export(args)) => {
            let (url, store) = open_existing(&args.audit.db).await?;
            let read = read_db(&url).await?;
            let person = lectern_domain::StaffNo::parse(&args.person)?;
            let signer = args.audit.signing()?.signer()?;
            let campus = lectern_domain::Campus::default();
            let bundle = lectern_audit::bundle::export(
                &store,
                &read,
                &campus,
                &person,
                args.period,
                Some(&signer),
            )
            .await?;
            let text = serde_json::to_string_pretty(&bundle)?;
            match &args.out {
                None => println!("{text}"),
                Some(path) => {
                    std::fs::write(path, text + "\n")
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "wrote {}: {} {}, {} points in {} lines, {} events proven in the log of \
                         {} events signed at {}",
                        path.display(),
                        bundle.person,
                        bundle.year,
                        bundle.total,
                        bundle.lines.len(),
                        bundle.events.len(),
                        bundle.checkpoint.size,
                        bundle.checkpoint.signed_at.to_rfc3339()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::CheckBundle { file, key }) => {
            let text = read_input(&file)?;
            let bundle: lectern_audit::bundle::Bundle =
                serde_json::from_str(&text).with_context(|| {
                    format!(
                        "{} is not a bundle from `lectern audit export`",
                        file.display()
                    )
                })?;
            let key = trusted_hex(key.as_deref())?;
            match bundle.check(key.as_deref()) {
                Ok(checked) => {
                    println!(
                        "bundle holds: {} {}, {} points; {} events, each in the log of {} events \
                         signed at {} with key {}{}",
                        bundle.person,
                        bundle.year,
                        checked.total,
                        checked.events,
                        bundle.checkpoint.size,
                        bundle.checkpoint.signed_at.to_rfc3339(),
                        bundle.checkpoint.key_id,
                        if key.is_none() {
                            " (the bundle's own key: compare it with the published one, or \
                             pass --key)"
                        } else {
                            ""
                        }
                    );
                    print_lines(&checked.lines);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("bundle FAILS: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Replay(args) => {
            use lectern_audit::replay::{self, AsOf};
            let (url, store) = open_existing(&args.db).await?;
            let read = read_db(&url).await?;
            let period = match args.month {
                None => lectern_domain::Period::year(args.year)?,
                Some(m) => lectern_domain::Period::month(args.year, m)?,
            };
            let as_of = match (args.as_of, args.as_recorded) {
                (None, _) => AsOf::Now,
                (Some(t), false) => AsOf::Occurred(t),
                (Some(t), true) => AsOf::Recorded(t),
            };
            let campus = lectern_domain::Campus::default();
            let when = match as_of {
                AsOf::Now => String::new(),
                AsOf::Occurred(t) => format!(" (as it happened by {})", t.to_rfc3339()),
                AsOf::Recorded(t) => format!(" (as recorded by {})", t.to_rfc3339()),
            };
            if let Some(unit) = &args.unit {
                let unit = lectern_domain::UnitId::parse(unit)?;
                let org = lectern_projections::load::<lectern_domain::OrgTree>(
                    &store,
                    lectern_domain::ORG_STREAM,
                    u64::MAX,
                )
                .await?
                .0;
                anyhow::ensure!(
                    org.unit(&unit).is_some(),
                    "unit {unit} does not exist in the log"
                );
                return replay_unit(
                    &store, &read, &campus, &unit, &period, as_of, args.show, &when,
                )
                .await;
            }
            let person =
                lectern_domain::StaffNo::parse(args.person.as_deref().unwrap_or_default())?;
            let (known, _) = lectern_projections::load::<lectern_domain::Person>(
                &store,
                &lectern_domain::person_stream(&person),
                u64::MAX,
            )
            .await?;
            anyhow::ensure!(
                known.registered.is_some(),
                "staff member {person} does not exist in the log"
            );
            match args.show {
                Show::Appraisal => {}
                Show::Attendance => {
                    let ids = replay::sessions_of(&read, &campus, &person, &period).await?;
                    let records = replay::replay_attendance(&store, &person, &ids, as_of).await?;
                    println!(
                        "{person} {}–{}: {} sessions{when}",
                        period.from,
                        period.until,
                        records.len()
                    );
                    for r in &records {
                        let status = match (r.cancelled, r.status) {
                            (true, _) => "cancelled".to_owned(),
                            (false, Some(s)) => format!("{s:?}").to_lowercase(),
                            (false, None) => "-".to_owned(),
                        };
                        println!(
                            "{}  {:<9} {:<9} {:<25} {}  [positions {}]",
                            r.starts_at.map_or_else(String::new, |t| campus
                                .local(t)
                                .format("%F %R")
                                .to_string()),
                            status,
                            r.leave.map_or_else(
                                || "-".to_owned(),
                                |l| format!("leave:{l:?}").to_lowercase()
                            ),
                            r.checked_in_at.map_or_else(
                                || "-".to_owned(),
                                |t| format!("in {}", campus.local(t).format("%F %T"))
                            ),
                            r.title,
                            r.positions
                                .iter()
                                .map(u64::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                Show::History => {
                    let events =
                        replay::replay_history(&store, &read, &campus, &person, &period, as_of)
                            .await?;
                    println!(
                        "{person} {}–{}: {} events{when}",
                        period.from,
                        period.until,
                        events.len()
                    );
                    print_events(&events);
                    return Ok(ExitCode::SUCCESS);
                }
            }
            let a = replay::replay_person(&store, &read, &campus, &person, &period, as_of).await?;
            println!(
                "{} {}–{}: {} points{when}",
                a.subject, period.from, period.until, a.total,
            );
            print_lines(&lectern_audit::bundle::lines_of(&a));
            Ok(ExitCode::SUCCESS)
        }
        Command::Person(PersonCli::Erase { staff_no, db }) => {
            let (projections, api, schema, caller) = administrator_api(&db).await?;
            let request = async_graphql::Request::new(
                "mutation($s: String!) { erasePersonalData(staffNo: $s) { position rule \
                 keyDestroyed unsealedEvents filesCleared person { staffNo name birthDate \
                 personalDataErasedAt } } }",
            )
            .variables(async_graphql::Variables::from_json(
                serde_json::json!({ "s": staff_no }),
            ));
            let response = lectern_graphql::execute(&schema, &api, request, Some(caller)).await;
            projections.stop().await;
            if let Some(e) = response.errors.first() {
                eprintln!("lectern person erase: {}", e.message);
                return Ok(ExitCode::from(2));
            }
            let data = response.data.into_json()?;
            let e = &data["erasePersonalData"];
            println!(
                "erased the personal data of {} at position {} ({})",
                e["person"]["staffNo"].as_str().unwrap_or_default(),
                e["position"],
                e["rule"].as_str().unwrap_or_default()
            );
            println!(
                "they read now as: name {}, birth date {}, erased at {}",
                e["person"]["name"], e["person"]["birthDate"], e["person"]["personalDataErasedAt"]
            );
            if e["keyDestroyed"] == false {
                println!(
                    "there was no key to destroy (an erasure cut short before it was recorded, \
                     or personal data that all predates sealing); the erasure is recorded now"
                );
            }
            if e["unsealedEvents"].as_u64().unwrap_or(0) > 0 {
                println!(
                    "{} events of their stream were written before personal data was sealed: \
                     those keep it in the clear and cannot be erased",
                    e["unsealedEvents"]
                );
            }
            if e["filesCleared"] == false {
                println!(
                    "the database's write-ahead log was busy: old copies stay in it until its \
                     next checkpoint"
                );
            }
            println!(
                "backups made before keep the old data: they follow the backup retention rule"
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Report(args) => {
            let (projections, api, schema, caller) = administrator_api(&args.db).await?;
            let table = crate::reports::run(&schema, &api, &caller, &args.report).await;
            projections.stop().await;
            let table = table?;
            match &args.out {
                None => print!("{}", table.render()),
                Some(path) => {
                    let bytes = match path.extension().and_then(|e| e.to_str()) {
                        Some("csv") => table.csv()?,
                        Some("xlsx") => table.xlsx()?,
                        _ => anyhow::bail!(
                            "cannot write {}: give a file ending in .csv or .xlsx",
                            path.display()
                        ),
                    };
                    std::fs::write(path, bytes)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "wrote {}: {}, {} rows",
                        path.display(),
                        table.title,
                        table.rows.len()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { kind, file, db } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let url = db.url()?;
            let store = open(&url).await?;
            store
                .migrate()
                .await
                .with_context(|| format!("cannot migrate {}", redact(&url)))?;
            match crate::import::import(&store, kind, &file.display().to_string(), &bytes).await? {
                Ok(done) => {
                    println!(
                        "{}: {} rows applied, {} already so{}",
                        file.display(),
                        done.applied,
                        done.unchanged,
                        if done.applied > 0 {
                            format!(" (log position {})", done.position)
                        } else {
                            String::new()
                        }
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{}:{}: {}", file.display(), e.line, e.reason);
                    }
                    eprintln!(
                        "{}: nothing imported: {} bad row(s); fix them and import the file again",
                        file.display(),
                        errors.len()
                    );
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Bench(BenchCommand::Store(args)) => {
            lectern_bench::store::run(&args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Api(args)) => {
            lectern_bench::api::run(&args, serve_for_bench).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => demo(args).await,
        Command::Token(cmd) => token(cmd).await,
        Command::Kiosk(cmd) => kiosk(cmd).await,
        Command::Rebuild(args) => {
            let url = args.db.url()?;
            let store = open(&url).await?;
            store
                .migrate()
                .await
                .with_context(|| format!("cannot migrate {}", redact(&url)))?;
            let read = ReadDb::connect(&url).await?;
            let rebuilt = lectern_projections::rebuild(
                &store,
                &read,
                args.projector.as_deref(),
                args.db.projections()?,
            )
            .await?;
            for (name, position) in rebuilt {
                println!("rebuilt {name} up to position {position}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What the full demo campus costs, said before it is made (measured on a
/// 2-core machine).
const DEMO_SIZE: &str = "the full campus takes about 2 minutes and 930 MB of disk on a \
     2-core machine; `--study-units 4` makes a smaller one (weekly study in 4 units) in \
     about 30 seconds and 190 MB";

/// `lectern demo`: make the campus unless this database holds it, then
/// print the tokens and example queries and serve.
async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let url = args.serve.db.url()?;
    let store = open(&url).await?;
    store
        .migrate()
        .await
        .with_context(|| format!("cannot migrate {}", redact(&url)))?;
    let read = read_db(&url).await?;
    match lectern_synth::demo::made_by_demo(&store).await? {
        lectern_synth::demo::Found::Campus => {
            eprintln!("{} holds the demo campus already", redact(&url))
        }
        lectern_synth::demo::Found::Unfinished => anyhow::bail!(
            "{} holds a demo campus that was not finished (stopped while it was made?); \
             delete the database and run `lectern demo` again",
            redact(&url)
        ),
        lectern_synth::demo::Found::Other => anyhow::bail!(
            "{} holds another event log ({} events); the demo needs an empty database: \
             give it another with --data-dir DIR or --database-url URL",
            redact(&url),
            store.head().await?
        ),
        lectern_synth::demo::Found::Nothing => {
            let projections = lectern_projections::Projections::start(
                store.clone(),
                read.clone(),
                args.serve.db.projections()?,
            )
            .await?;
            let options = lectern_synth::demo::Options {
                staff: args.staff,
                study_units: args.study_units,
                seed: args.seed,
            };
            let progress = indicatif::ProgressBar::new(lectern_synth::demo::MONTHS).with_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed:>4} [{bar:40}] {pos}/{len} months  {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            eprintln!(
                "making the demo campus (September 2005 to July 2009) in {}",
                redact(&url)
            );
            if args.study_units.is_none() {
                eprintln!("{DEMO_SIZE}");
            }
            let stop_progress = show_progress(&progress, Duration::from_secs(10));
            let made =
                lectern_synth::demo::generate(&store, &projections, &options, &progress).await;
            stop_progress();
            projections.stop().await;
            let made = made?;
            println!(
                "made {} events: {} units, {} people, {} sessions, {} card taps",
                made.events, made.units, made.people, made.sessions, made.taps
            );
            println!(
                "generation rate: {:.0} events/s through the command path ({:.1} s, the read \
                 models caught up)",
                made.events as f64 / made.seconds,
                made.seconds
            );
            println!("{}", flags_found(&read, &made.planted).await?);
        }
    }
    let guide = lectern_synth::demo::guide(&read).await?;
    let tokens = demo_tokens(&args.serve.db, &read, &guide).await?;
    let app = if args.no_serve {
        None
    } else {
        Some(Application::build(&args.serve).await?)
    };
    let base = app.as_ref().map_or_else(
        || "http://127.0.0.1:8080".to_owned(),
        |a| format!("http://{}", a.local_addr()),
    );
    println!("{}", demo_instructions(&base, &guide, &tokens));
    match app {
        Some(app) => {
            eprintln!("Lectern is serving the demo campus (Ctrl-C stops it)");
            app.run_until_stopped().await?;
        }
        None => {
            store.close().await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the proxy-tap analyzer found on the demo campus, against the
/// patterns the demo planted: each flag is on a planted pattern (the pair,
/// the lent card, a lost card tapped by mistake) or on an honest person.
async fn flags_found(
    read: &ReadDb,
    planted: &lectern_synth::demo::Planted,
) -> anyhow::Result<String> {
    use lectern_domain::StaffNo;
    let rows = read
        .fetch("SELECT rule, people FROM rm_flags ORDER BY position", &[])
        .await?;
    let name = |p: &StaffNo| p.as_str().to_owned();
    let pair = |p: &Option<(StaffNo, StaffNo)>| p.as_ref().map(|(a, b)| [name(a), name(b)]);
    // Each planted pattern: what it is, its rule, whom it is about.
    let patterns: Vec<(String, &str, Vec<String>)> = [
        pair(&planted.pair).map(|p| {
            (
                format!("the pair {} and {} tapping together", p[0], p[1]),
                "burst_together",
                p.to_vec(),
            )
        }),
        planted.lender.as_ref().map(|l| {
            (
                format!("the card of {l} lent {} times", planted.lent),
                "two_venues",
                vec![name(l)],
            )
        }),
        pair(&planted.late_pair).map(|p| {
            (
                format!(
                    "the pair {} and {} in the last seconds at {} sessions",
                    p[0], p[1], planted.late_sessions
                ),
                "last_seconds",
                p.to_vec(),
            )
        }),
        planted.visitor.as_ref().map(|v| {
            (
                format!(
                    "the card of {v} read at {} other units' studies",
                    planted.visits
                ),
                "wrong_venue",
                vec![name(v)],
            )
        }),
        planted.found_card.as_ref().map(|f| {
            (
                format!("the lost card of {f} used by someone else"),
                "revoked_card",
                vec![name(f)],
            )
        }),
    ]
    .into_iter()
    .flatten()
    .chain(planted.on_leave.iter().map(|p| {
        (
            format!("the card of {p} read while on leave"),
            "on_leave",
            vec![name(p)],
        )
    }))
    .collect();
    let mut found = vec![0; patterns.len()];
    // Other traces of the planted cards: the lent card refused at another
    // unit's study (wrong_venue), the visitor's card at two halls at once
    // (two_venues).
    let traced = [&planted.lender, &planted.visitor];
    let (mut also, mut mistakes, mut honest) = (0, 0, 0);
    for r in &rows {
        let mut people: Vec<String> = serde_json::from_str(&r.text("people")).unwrap_or_default();
        people.sort();
        let rule = r.text("rule");
        let hit = patterns.iter().position(|(_, r, who)| {
            let mut who = who.clone();
            who.sort();
            *r == rule && who == people
        });
        match hit {
            Some(i) => found[i] += 1,
            None if ["two_venues", "wrong_venue"].contains(&rule.as_str())
                && traced
                    .iter()
                    .any(|p| p.as_ref().is_some_and(|p| people == [name(p)])) =>
            {
                also += 1
            }
            // The demo's other revoked cards are lost ones their holders
            // tapped by mistake beside the new one.
            None if rule == "revoked_card" => mistakes += 1,
            None => honest += 1,
        }
    }
    let listed: Vec<String> = patterns
        .iter()
        .zip(&found)
        .map(|((what, rule, _), n)| format!("{what} ({n} {rule})"))
        .collect();
    let caught = found.iter().filter(|n| **n > 0).count();
    Ok(format!(
        "flags on taps (for a person to look at, never a point lost): {} in all. Planted \
         patterns found: {caught} of {}: {}; other flags on the lent and the visiting cards: \
         {also}. Lost cards tapped by mistake by their holders: {mistakes} revoked_card. \
         On honest people: {honest}",
        rows.len(),
        patterns.len(),
        listed.join(", "),
    ))
}

/// The file in the data directory that keeps the demo's two tokens, so a
/// rerun shows the same ones instead of making two more.
const DEMO_TOKENS: &str = "demo-tokens";

/// The demo's tokens: an administrator's, an auditor's, a union chair's
/// and a member of staff's.
pub struct DemoTokens {
    pub administrator: String,
    pub auditor: String,
    pub chair: String,
    pub staff: String,
}

/// The demo's tokens: those kept in `DEMO_TOKENS` while they still sign in
/// as those roles on this database, else new ones (written there, readable
/// by the owner only).
async fn demo_tokens(
    db: &DbArgs,
    read: &ReadDb,
    guide: &lectern_synth::demo::Guide,
) -> anyhow::Result<DemoTokens> {
    let tokens = Tokens::new(read.clone());
    let path = db.data_dir()?.join(DEMO_TOKENS);
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    let (mut lines, mut secrets) = (String::new(), Vec::new());
    let chair_unit = lectern_domain::UnitId::parse(&guide.chair_unit)?;
    let person = lectern_domain::StaffNo::parse(&guide.person)?;
    for (role, principal, holder) in [
        (
            "administrator",
            Principal::Administrator,
            &guide.administrator,
        ),
        ("auditor", Principal::Auditor, &guide.auditor),
        (
            "union-chair",
            Principal::UnionChair { unit: chair_unit },
            &guide.chair,
        ),
        ("staff", Principal::Staff { person }, &guide.person),
    ] {
        let old = kept
            .lines()
            .find_map(|l| l.strip_prefix(role)?.strip_prefix(' '))
            .map(str::to_owned);
        let valid = match &old {
            Some(secret) => tokens
                .authenticate(secret)
                .await
                .is_ok_and(|c| c.principal == principal),
            None => false,
        };
        let secret = match old {
            Some(secret) if valid => secret,
            _ => {
                let holder = lectern_domain::StaffNo::parse(holder)?;
                tokens
                    .create(&principal, Some(&holder), &format!("demo {role}"))
                    .await?
                    .1
            }
        };
        lines.push_str(&format!("{role} {secret}\n"));
        secrets.push(secret);
    }
    lectern_audit::checkpoints::write_private(&path, &lines)
        .with_context(|| format!("cannot keep the demo's tokens in {}", path.display()))?;
    let [administrator, auditor, chair, staff]: [String; 4] = secrets
        .try_into()
        .map_err(|_| anyhow::anyhow!("four demo tokens are made"))?;
    Ok(DemoTokens {
        administrator,
        auditor,
        chair,
        staff,
    })
}

/// What a newcomer reads once the demo serves: where, the tokens, and three
/// queries to paste.
fn demo_instructions(
    base: &str,
    guide: &lectern_synth::demo::Guide,
    tokens: &DemoTokens,
) -> String {
    let (a, u, unit, p, ytnp) = (
        &guide.administrator,
        &guide.auditor,
        &guide.unit,
        &guide.person,
        lectern_synth::demo::YTNP,
    );
    [
        String::new(),
        format!("The campaign's pages: {base}/pages    GraphiQL: {base}/graphiql"),
        "Paste a token and press Sign in (the browser keeps it for both):".into(),
        format!("  administrator ({a}):  {}", tokens.administrator),
        format!("  auditor ({u}):        {}", tokens.auditor),
        format!(
            "  union chair ({}, of {}): {}",
            guide.chair, guide.chair_unit, tokens.chair
        ),
        format!("  staff ({p}):          {}", tokens.staff),
        String::new(),
        "1. The Young Teacher Navigation Programme's report (24 lectures, 12 demonstration".into(),
        "   classes, 4 teaching competitions, 480 teachers):".into(),
        format!(
            "{{ programme(id: \"{ytnp}\") {{ title report {{ year participants \
             sessions {{ kind sessions }} }} }} }}"
        ),
        String::new(),
        format!("2. A unit's monthly report (unit {unit}, November 2008):"),
        format!(
            "{{ unitMonth(unit: \"{unit}\", year: 2008, month: 11) {{ figures {{ sessionsHeld \
             present late absent excused tasksDone attendancePermille }} pointsLost \
             report {{ chair submittedOn narrative }} }} }}"
        ),
        String::new(),
        format!("3. A person's 2008 appraisal, a reason for every point (staff member {p},"),
        "   whose dispute about a late arrival was rejected):".into(),
        format!(
            "{{ appraisal(staffNo: \"{p}\", year: 2008) {{ total lines {{ points rule date \
             subject positions }} }} }}"
        ),
        String::new(),
        format!("The same as tables: lectern report programme --programme {ytnp}"),
        format!(
            "                    lectern report unit-month --unit {unit} --year 2008 --month 11"
        ),
        format!("                    lectern report appraisal --person {p} --year 2008"),
    ]
    .join("\n")
}

/// The token register of a migrated database (a token may be made before
/// the first `lectern serve`).
async fn tokens(db: &DbArgs) -> anyhow::Result<Tokens> {
    let url = db.url()?;
    let store = open(&url).await?;
    store.migrate().await?;
    store.close().await;
    let read = ReadDb::connect(&url)
        .await
        .with_context(|| format!("cannot open {}", redact(&url)))?;
    Ok(Tokens::new(read))
}

/// Why a token for `principal` and `person` names someone or something the
/// log does not know (a staff number never registered, a unit never
/// established), or `None` when both are known. Read from the log, not the
/// read models, so a token can be made before the first `lectern serve`.
async fn unknown_in_log(
    db: &DbArgs,
    principal: &Principal,
    person: Option<&lectern_domain::StaffNo>,
) -> anyhow::Result<Option<String>> {
    use lectern_domain::{OrgTree, Person, person_stream};
    let store = open(&db.url()?).await?;
    store.migrate().await?;
    let mut refused = None;
    if let Some(no) = person {
        let (p, _) =
            lectern_projections::load::<Person>(&store, &person_stream(no), u64::MAX).await?;
        if p.registered.is_none() {
            refused = Some(format!(
                "staff number {no} is not on the staff: register the person first \
                 (lectern import people, or registerPerson)"
            ));
        }
    }
    if let (None, Principal::UnionChair { unit }) = (&refused, principal) {
        let (org, _) =
            lectern_projections::load::<OrgTree>(&store, lectern_domain::ORG_STREAM, u64::MAX)
                .await?;
        if org.unit(unit).is_none() {
            refused = Some(format!(
                "unit {unit} does not exist: establish it first (lectern import units, or \
                 establishUnit)"
            ));
        }
    }
    store.close().await;
    Ok(refused)
}

async fn kiosk(cmd: KioskCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KioskCommand::Register { kiosk, venue, db } => {
            let kiosk = lectern_domain::Slug::parse(&kiosk)?;
            let venue = lectern_domain::Slug::parse(&venue)?;
            let url = db.url()?;
            let store = open(&url).await?;
            store.migrate().await?;
            let meta = lectern_store::Metadata {
                actor: Some("cli".into()),
                source: Some("lectern kiosk register".into()),
                ..lectern_store::Metadata::default()
            };
            let registered =
                lectern_app::kiosks::register(&store, &meta, &kiosk, &venue, chrono::Utc::now())
                    .await?;
            store.close().await;
            eprintln!(
                "registered kiosk {kiosk} for venue {venue} (log position {}); its one-time \
                 enrolment code, shown once:",
                registered.position
            );
            println!("{}", registered.code);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn token(cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCommand::Create(a) => {
            let principal = parse_principal(
                &a.role,
                a.unit.as_deref(),
                a.person.as_deref(),
                a.kiosk.as_deref(),
            )?;
            let person = a
                .person
                .as_deref()
                .map(lectern_domain::StaffNo::parse)
                .transpose()?;
            if let Some(refused) = unknown_in_log(&a.db, &principal, person.as_ref()).await? {
                eprintln!("{refused}");
                return Ok(ExitCode::from(2));
            }
            let (info, secret) = tokens(&a.db)
                .await?
                .create(&principal, person.as_ref(), &a.label)
                .await?;
            eprintln!(
                "created token {} ({}); it is shown once, keep it safe:",
                info.id, info.role
            );
            println!("{secret}");
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List(db) => {
            let list = tokens(&db).await?.list().await?;
            println!("id\trole\tscope\tlabel\tcreated\trevoked");
            for t in list {
                let scope = [t.unit, t.person, t.kiosk]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(",");
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.role,
                    scope,
                    t.label,
                    t.created_at,
                    t.revoked_at.unwrap_or_else(|| "-".into())
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { id, db } => {
            tokens(&db).await?.revoke(&id, chrono::Utc::now()).await?;
            println!("revoked token {id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn read_db(url: &str) -> anyhow::Result<ReadDb> {
    ReadDb::connect(url)
        .await
        .with_context(|| format!("cannot open {}", redact(url)))
}

/// The event log of a command that only reads it: refused, saying how to
/// make one, where there is none or where it needs `lectern migrate`
/// (nothing is created or migrated here).
/// The API over an existing log, its read models caught up, and an
/// administrator calling it: for commands that act as the API does.
async fn administrator_api(
    db: &DbArgs,
) -> anyhow::Result<(
    lectern_projections::Projections,
    lectern_graphql::Api,
    lectern_graphql::LecternSchema,
    lectern_graphql::Caller,
)> {
    let (url, store) = open_existing(db).await?;
    let read = read_db(&url).await?;
    let projections =
        lectern_projections::Projections::start(store.clone(), read.clone(), db.projections()?)
            .await?;
    projections
        .wait_for(store.head().await?, std::time::Duration::from_secs(600))
        .await
        .context("the read models did not catch up with the log")?;
    let tokens = Tokens::new(read);
    let app = lectern_app::App::new(
        store,
        projections.clone(),
        lectern_domain::Campus::default(),
    );
    let api = lectern_graphql::Api::new(app, tokens)
        .with_personal_data_retention_years(db.personal_data_retention_years()?);
    let schema = lectern_graphql::build_schema(api.clone());
    let caller = lectern_graphql::Caller {
        principal: Principal::Administrator,
        person: None,
        token_id: "cli".into(),
    };
    Ok((projections, api, schema, caller))
}

async fn open_existing(db: &DbArgs) -> anyhow::Result<(String, Store)> {
    let url = db.existing_url()?;
    let store = open(&url).await?;
    let state = store
        .log_state()
        .await
        .with_context(|| format!("cannot read {}", redact(&url)))?;
    match state {
        LogState::Current => Ok((url, store)),
        LogState::Missing => {
            store.close().await;
            anyhow::bail!(
                "no event log in {}. {}",
                redact(&url),
                crate::config::MAKE_A_LOG
            )
        }
        LogState::Behind { applied, known } => {
            store.close().await;
            anyhow::bail!(
                "the event log in {} was made by an older Lectern ({applied} of {known} \
                 migrations applied): run `lectern migrate` first",
                redact(&url)
            )
        }
    }
}

async fn open(url: &str) -> anyhow::Result<Store> {
    Store::open(url, lectern_projections::store_options())
        .await
        .with_context(|| format!("cannot open the event log at {}", redact(url)))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file's text, or stdin's for `-`.
fn read_input(file: &std::path::Path) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        Ok(std::io::read_to_string(std::io::stdin())?)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
    }
}

/// Prints explanation lines, one per line.
fn print_lines(lines: &[lectern_audit::bundle::BundledLine]) {
    for l in lines {
        println!(
            "{:+5}  {}  {:<11} {:<4} {}  [positions {}]",
            l.points,
            l.date,
            l.rule,
            l.rule_version.map_or(String::new(), |v| format!("v{v}")),
            l.subject,
            l.positions
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// `lectern replay --unit U`: the unit's appraisal, monthly figures or
/// history, as the log stood `as_of`.
#[allow(clippy::too_many_arguments)]
async fn replay_unit(
    store: &Store,
    read: &ReadDb,
    campus: &lectern_domain::Campus,
    unit: &lectern_domain::UnitId,
    period: &lectern_domain::Period,
    as_of: lectern_audit::replay::AsOf,
    show: Show,
    when: &str,
) -> anyhow::Result<ExitCode> {
    use chrono::Datelike;
    use lectern_audit::replay;
    match show {
        Show::Appraisal => {
            // Reports are due by the day the replay stands at.
            let now = chrono::Utc::now();
            let today = campus.date(match as_of {
                replay::AsOf::Now => now,
                replay::AsOf::Occurred(t) | replay::AsOf::Recorded(t) => t.min(now),
            });
            let a = replay::replay_unit(store, read, campus, unit, period, as_of, today).await?;
            println!(
                "{unit} {}–{}: {} points{when}",
                period.from, period.until, a.total
            );
            print_lines(&lectern_audit::bundle::lines_of(&a));
        }
        Show::Attendance => {
            println!("{unit} {}–{}{when}", period.from, period.until);
            let mut month = period.from;
            while month <= period.until {
                let m = lectern_domain::Period::month(month.year(), month.month())?;
                let f = replay::replay_unit_month(store, read, campus, unit, &m, as_of).await?;
                println!(
                    "{}: {} sessions held, present {}, late {}, absent {}, excused {}, \
                     study tasks done {}",
                    month.format("%Y-%m"),
                    f.sessions_held,
                    f.present,
                    f.late,
                    f.absent,
                    f.excused,
                    f.tasks_done
                );
                month = m.until + chrono::Days::new(1);
            }
        }
        Show::History => {
            let events =
                replay::replay_unit_history(store, unit, period.from.year(), as_of).await?;
            println!(
                "{unit} {}: {} events{when}",
                period.from.year(),
                events.len()
            );
            print_events(&events);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints events one per line: position, time, type, stream, payload.
fn print_events(events: &[lectern_store::RecordedEvent]) {
    for e in events {
        println!(
            "{:>8}  {}  {:<22} {:<45} {}",
            e.position,
            e.occurred_at.to_rfc3339(),
            e.event_type,
            e.stream_id,
            e.payload
        );
    }
}

/// `lectern serve`'s application on `url` at a free loopback port, for
/// `bench api` (its projectors resume where the benchmark left them).
async fn serve_for_bench(url: String) -> anyhow::Result<lectern_bench::api::Serving> {
    let args = ServeArgs {
        db: DbArgs {
            database_url: Some(url),
            ..DbArgs::default()
        },
        listen: Some("127.0.0.1:0".parse().expect("an address")),
        ..ServeArgs::default()
    };
    let app = Application::build(&args).await?;
    let addr = app.local_addr();
    let (stop, stopping) = tokio::sync::oneshot::channel::<()>();
    let stopped = tokio::spawn(app.run_until(async {
        let _ = stopping.await;
    }));
    Ok(lectern_bench::api::Serving {
        addr,
        stop,
        stopped,
    })
}

/// A trusted key given as hex or as a verifier key, as hex (checked).
fn trusted_hex(key: Option<&str>) -> anyhow::Result<Option<String>> {
    Ok(key
        .map(lectern_audit::checkpoints::parse_trusted_key)
        .transpose()?
        .map(|k| lectern_audit::checkpoints::hex(&k)))
}
