//! The event-store benchmark (`lectern bench store`): workloads W1–W4 of the shared event-store
//! benchmark specification, run
//! through `lectern_store::Store` exactly as the application appends.
//!
//! Prints one line per workload: `lectern <db> <workload> <events> <seconds>
//! <events/s>`, comparable with the raw sqlx baseline run on the same machine.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use futures_util::TryStreamExt;
use lectern_store::{
    AppendRequest, Durability, Error, ExpectedVersion, NewEvent, PersonalFields, Store,
    StoreOptions,
};
use sqlx::Connection;

const PERSONS: u64 = 10_000;
const EVENT_TYPE: &str = "AttendanceRecorded";

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// `sqlite` or `postgres`.
    #[arg(long, default_value = "sqlite")]
    pub db: String,
    /// PostgreSQL: a server URL whose user may create databases (a scratch
    /// database `lectern_bench` is dropped and recreated). SQLite: ignored;
    /// files go to a fresh directory under the system temp directory.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub url: String,
    /// SQLite `synchronous` level: `full` (durable, the default) or `normal`.
    #[arg(long, default_value = "full")]
    pub sync: String,
    /// Workloads to run, comma-separated (W4 reads what W3 wrote).
    #[arg(long, default_value = "W1,W2,W3,W4", value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// Events of W1 and W2.
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Seal each event's free text (`note`) as personal data of its
    /// `person`, under one key per person, as the application seals
    /// personal fields (its card UIDs, like the application's, stay in the
    /// clear): the cost of personal-data protection when every event has a
    /// personal field. The lines then start `lectern-personal`.
    #[arg(long)]
    pub personal: bool,
    /// Events of W3 and W4 (transactions of 1,000).
    #[arg(long, default_value_t = 1_000_000)]
    pub big_events: u64,
    /// Concurrent writers of W2.
    #[arg(long, default_value_t = 8)]
    pub writers: u64,
}

/// The payload of event `i`, byte-identical to the spec's reference generator.
pub fn payload(i: u64) -> String {
    let p = i % PERSONS;
    let v = i / PERSONS + 1;
    let day = 1 + v % 28;
    let sess = ["A", "B", "C", "D"][(i % 4) as usize];
    let card = (p.wrapping_mul(2_654_435_761)) & 0xFFFF_FFFF;
    let hh = 8 + i % 10;
    let mm = i % 60;
    let ss = (i / 60) % 60;
    let dir = if v % 2 == 1 { "in" } else { "out" };
    format!(
        concat!(
            r#"{{"type":"AttendanceRecorded","person":"P{:06}","session":"S2008-09-{:02}-{}","#,
            r#""venue":"Hall {}","card":"{:08X}","at":"2008-09-{:02}T{:02}:{:02}:{:02}+08:00","#,
            r#""device":"kiosk-{:02}","method":"rfid","direction":"{}","operator":"OP-{:04}","#,
            r#""course":"COMP{:04}","term":"2008-T3","campus":"Main","building":"B{:02}","#,
            r#""room":"{}.{:02}","note":"recorded by kiosk"}}"#
        ),
        p,
        day,
        sess,
        i % 12 + 1,
        card,
        day,
        hh,
        mm,
        ss,
        i % 40,
        dir,
        i % 50,
        1000 + p % 300,
        i % 12 + 1,
        i % 5 + 1,
        i % 30
    )
}

fn stream_of(i: u64) -> String {
    format!("P{:06}", i % PERSONS)
}

fn expected_of(i: u64) -> ExpectedVersion {
    match i / PERSONS {
        0 => ExpectedVersion::NoStream,
        v => ExpectedVersion::Exact(v),
    }
}

fn request(i: u64) -> anyhow::Result<AppendRequest> {
    Ok(AppendRequest::new(
        stream_of(i),
        expected_of(i),
        vec![NewEvent::from_json(EVENT_TYPE, payload(i))?],
    ))
}

/// Where the benchmark's databases live.
pub(crate) enum Target {
    Sqlite {
        dir: std::path::PathBuf,
        durability: Durability,
    },
    Postgres {
        admin: String,
    },
}

impl Target {
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Target::Sqlite {
                durability: Durability::Full,
                ..
            } => "sqlite-full",
            Target::Sqlite {
                durability: Durability::Normal,
                ..
            } => "sqlite-normal",
            Target::Postgres { .. } => "postgres",
        }
    }

    fn options(&self, personal: PersonalFields) -> StoreOptions {
        StoreOptions {
            personal,
            durability: match self {
                Target::Sqlite { durability, .. } => *durability,
                Target::Postgres { .. } => Durability::Full,
            },
            ..StoreOptions::default()
        }
    }

    /// An empty, migrated log named `name`; returns its URL too.
    pub(crate) async fn fresh(
        &self,
        name: &str,
        personal: &PersonalFields,
    ) -> anyhow::Result<(Store, String)> {
        let url = match self {
            Target::Sqlite { dir, .. } => {
                let file = dir.join(format!("{name}.db"));
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
                format!("sqlite://{}", file.display())
            }
            Target::Postgres { admin } => {
                let mut c = sqlx::PgConnection::connect(admin).await.with_context(|| {
                    format!("cannot connect to {}", lectern_store::redact(admin))
                })?;
                let db = format!("lectern_bench_{}", name.to_lowercase());
                for sql in [
                    format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
                    format!("CREATE DATABASE {db}"),
                ] {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut c)
                        .await?;
                }
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                format!("{base}/{db}")
            }
        };
        Ok((self.open(&url, personal).await?, url))
    }

    async fn open(&self, url: &str, personal: &PersonalFields) -> anyhow::Result<Store> {
        let store = Store::open(url, self.options(personal.clone())).await?;
        store.migrate().await?;
        Ok(store)
    }
}

/// The spec's field sealed by `--personal`.
fn bench_personal() -> PersonalFields {
    use lectern_store::personal::{Erased, Subject};
    PersonalFields::new().declare(EVENT_TYPE, "note", Subject::Field("person"), Erased::Text)
}

fn report(imp: &str, target: &Target, workload: &str, events: u64, started: Instant, note: &str) {
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{imp} {} {workload} {events} {secs:.3} {:.0}{note}",
        target.label(),
        events as f64 / secs
    );
}

/// The benchmark's database: `db` is `sqlite` or `postgres`; `url` the
/// PostgreSQL server; `sync` SQLite's `full` or `normal`.
pub(crate) fn target(db: &str, url: &str, sync: &str) -> anyhow::Result<Target> {
    Ok(match db {
        "sqlite" => {
            let durability = match sync.to_ascii_lowercase().as_str() {
                "full" => Durability::Full,
                "normal" => Durability::Normal,
                other => bail!("--sync {other:?}: use full or normal"),
            };
            let dir = std::env::temp_dir().join(format!("lectern-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            Target::Sqlite { dir, durability }
        }
        "postgres" => Target::Postgres {
            admin: url.to_owned(),
        },
        other => bail!("--db {other:?}: use sqlite or postgres"),
    })
}

impl Target {
    /// Removes the benchmark's files (SQLite); PostgreSQL scratch databases
    /// stay for inspection and are dropped by the next run.
    pub(crate) fn clean_up(&self) {
        if let Target::Sqlite { dir, .. } = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let target = target(&args.db, &args.url, &args.sync)?;
    let wanted = |w: &str| args.workloads.iter().any(|x| x.eq_ignore_ascii_case(w));
    ensure!(
        !wanted("W4") || wanted("W3"),
        "W4 reads the log that W3 writes: add W3 to --workloads"
    );
    let result = run_workloads(args, &target, wanted).await;
    target.clean_up();
    result
}

async fn run_workloads(
    args: &BenchArgs,
    target: &Target,
    wanted: impl Fn(&str) -> bool,
) -> anyhow::Result<()> {
    if let Target::Sqlite { durability, .. } = target {
        let sync = if *durability == Durability::Full {
            "FULL"
        } else {
            "NORMAL"
        };
        println!(
            "# SQLite: journal_mode=WAL, synchronous={sync}; each line starts from an empty log"
        );
    } else {
        println!(
            "# PostgreSQL: the server's own durability settings; each line starts from an empty log"
        );
    }
    let (imp, personal) = if args.personal {
        ("lectern-personal", bench_personal())
    } else {
        ("lectern", PersonalFields::new())
    };
    if wanted("W1") {
        let (store, _) = target.fresh("w1", &personal).await?;
        let t0 = Instant::now();
        for i in 0..args.events {
            store.submit(request(i)?).await?;
        }
        report(imp, target, "W1", args.events, t0, "");
        ensure!(
            store.head().await? == args.events,
            "W1 stored a different number of events"
        );
        // The spec's check: a stale expected version is refused.
        match store.submit(request(0)?).await {
            Err(Error::WrongExpectedVersion { .. }) => {}
            other => bail!(
                "re-appending event 0 with a stale expected version was not refused: {other:?}"
            ),
        }
        store.close().await;
    }
    if wanted("W2") {
        let (store, _) = target.fresh("w2", &personal).await?;
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..args.writers {
            let store = store.clone();
            let n = args.events;
            let k = args.writers;
            tasks.push(tokio::spawn(async move {
                for i in (0..n).filter(|i| (i % PERSONS) % k == w) {
                    store.submit(request(i)?).await?;
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        let started = t0;
        let secs_done = Instant::now();
        // Outside the measured time: how many commits carried the appends
        // (events of one group commit share their recorded_at).
        let commits = store
            .stream_all(0, None)
            .try_fold((0u64, None), |(n, last), e| async move {
                Ok((
                    n + u64::from(last != Some(e.recorded_at)),
                    Some(e.recorded_at),
                ))
            })
            .await?
            .0;
        let measured = secs_done.duration_since(started).as_secs_f64();
        println!(
            "{imp} {} W2 {} {measured:.3} {:.0} # {} writers, {commits} commits, mean batch {:.1}",
            target.label(),
            args.events,
            args.events as f64 / measured,
            args.writers,
            args.events as f64 / commits.max(1) as f64
        );
        ensure!(
            store.head().await? == args.events,
            "W2 stored a different number of events"
        );
        store.close().await;
    }
    if wanted("W3") {
        let (store, url) = target.fresh("w3", &personal).await?;
        let t0 = Instant::now();
        let mut i = 0;
        while i < args.big_events {
            let end = (i + 1000).min(args.big_events);
            store
                .submit_all((i..end).map(request).collect::<anyhow::Result<_>>()?)
                .await?;
            i = end;
        }
        report(imp, target, "W3", args.big_events, t0, "");
        ensure!(
            store.head().await? == args.big_events,
            "W3 stored a different number of events"
        );
        store.close().await;

        if wanted("W4") {
            let store = target.open(&url, &personal).await?;
            let t0 = Instant::now();
            let mut counts: HashMap<String, u64> = HashMap::with_capacity(PERSONS as usize);
            let mut events = 0u64;
            let mut all = std::pin::pin!(store.stream_all(0, None));
            let mut last = None;
            while let Some(e) = all.try_next().await? {
                *counts.entry(e.stream_id).or_default() += 1;
                events += 1;
                last = Some(e.payload);
            }
            report(imp, target, "W4", events, t0, "");
            // With --personal the fields were sealed in the log and opened
            // on the way out: the last event reads as it was appended.
            ensure!(
                last.as_deref() == Some(payload(args.big_events - 1).as_str()),
                "W4 read the last event as {last:?}"
            );
            if args.personal {
                let stored = store.read_stored(args.big_events - 1, 1).await?;
                ensure!(
                    stored
                        .iter()
                        .all(|e| !e.payload.contains("recorded by kiosk")),
                    "--personal stored a personal field in the clear"
                );
            }
            ensure!(
                events == args.big_events && counts.len() as u64 == PERSONS.min(args.big_events),
                "W4 folded {events} events into {} persons",
                counts.len()
            );
            store.close().await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::payload;

    #[test]
    fn payloads_match_the_spec() {
        let p = payload(123);
        assert_eq!(
            p,
            r#"{"type":"AttendanceRecorded","person":"P000123","session":"S2008-09-02-D","venue":"Hall 4","card":"04A7780B","at":"2008-09-02T11:03:02+08:00","device":"kiosk-03","method":"rfid","direction":"in","operator":"OP-0023","course":"COMP1123","term":"2008-T3","campus":"Main","building":"B04","room":"4.03","note":"recorded by kiosk"}"#
        );
        for i in [0, 123, 999_999] {
            assert!(
                (327..=329).contains(&payload(i).len()),
                "event {i}: {} bytes",
                payload(i).len()
            );
        }
    }
}
