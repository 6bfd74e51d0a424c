//! Operations drills from deploy/README.md, run as tests on PostgreSQL: a
//! backup restored into a new database verifies, rebuilds and gives the
//! same answers; two servers share one database and fail over; queries are
//! answered from a hot standby once it has replayed what they wait for.

use std::process::Command;

use lectern_kiosk_protocol::Outcome;
use lectern_server::config::ServeArgs;
use lectern_store::testkit::TestDb;
use serde_json::json;

use crate::graphql::{next_message, subscribe};
use crate::kiosk_api::{Kiosk, enrolled, outcomes};
use crate::{ServerProcess, TestApp, cli, free_port, get, gql, ok, post_to, role_token};

/// Runs a PostgreSQL client tool; panics with its output if it fails.
fn tool(program: &str, args: &[&str]) {
    succeeded(program, args, Command::new(program).args(args).output());
}

/// Panics, with its output, unless `program` ran and succeeded.
fn succeeded(program: &str, args: &[&str], out: std::io::Result<std::process::Output>) {
    let out = out.unwrap_or_else(|e| panic!("{program} (PostgreSQL's tools) cannot run: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_postgres_backup_restores_verifies_and_answers_the_same() {
    let (source, target) = (TestDb::postgres().await, TestDb::postgres().await);
    let campus = crate::campus_caught_up(&source, 4_000, 21).await;

    // As deploy/README.md says: pg_dump, pg_restore into a new database.
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("lectern.dump").display().to_string();
    let (from, to) = (source.url.clone(), target.url.clone());
    tokio::task::spawn_blocking(move || {
        tool("pg_dump", &["--format=custom", "--file", &dump, &from]);
        tool("pg_restore", &["--no-owner", "--dbname", &to, &dump]);
    })
    .await
    .unwrap();

    // The restored log is the same chain; the read models rebuild from it.
    let verify = |url: &str| {
        cli(vec![
            "audit".into(),
            "verify".into(),
            "--database-url".into(),
            url.into(),
        ])
    };
    let (code, original, err) = verify(&source.url).await;
    assert_eq!(code, 0, "{err}");
    let (code, restored, err) = verify(&target.url).await;
    assert_eq!(code, 0, "{restored}{err}");
    assert_eq!(restored, original, "the same count and head hash");
    let (code, out, err) = cli(vec![
        "rebuild".into(),
        "--database-url".into(),
        target.url.clone(),
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");

    // The same answers from both.
    let person = campus.people[2].to_string();
    let unit = campus.units[0].to_string();
    let session = campus.sessions[0].0.to_string();
    for report in [
        vec!["appraisal", "--person", &person, "--year", "2007"],
        vec![
            "unit-month",
            "--unit",
            &unit,
            "--year",
            "2007",
            "--month",
            "3",
        ],
        vec!["session", "--id", &session],
    ] {
        let ask = |url: &str| {
            let mut args: Vec<String> = vec!["report".into()];
            args.extend(report.iter().map(|a| a.to_string()));
            args.extend(["--database-url".into(), url.to_owned()]);
            cli(args)
        };
        let (code, before, err) = ask(&source.url).await;
        assert_eq!(code, 0, "{err}");
        let (code, after, err) = ask(&target.url).await;
        assert_eq!(code, 0, "{err}");
        assert_eq!(after, before, "{report:?}");
        assert!(before.lines().count() > 2, "{report:?}: {before}");
    }
}

/// Which projectors each server runs, as `projections { name leader }`.
async fn leaders(addr: std::net::SocketAddr, token: &str) -> Vec<String> {
    let data = ok(addr, token, "{ projections { name leader } }", json!({})).await;
    data["projections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["leader"] == true)
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Registers a teacher with a card through the server at `addr`, then taps
/// the card at `kiosk`; the mutation waited for the read models, so the
/// tap finds its holder whichever server runs the projectors.
async fn teacher_taps_in(
    addr: std::net::SocketAddr,
    admin: &str,
    kiosk: &Kiosk,
    n: u64,
) -> Option<Outcome> {
    let staff = format!("S{n:04}");
    let card = format!("04A1B2C3{n:06X}");
    ok(
        addr,
        admin,
        "mutation($staff: String!, $card: String!) {
           registerPerson(input: { staffNo: $staff, name: \"王小明\", unit: \"cs\",
             category: teacher, birthDate: \"1980-03-04\", hireDate: \"2005-09-01\" }) { position }
           issueCard(staffNo: $staff, uid: $card) { position }
         }",
        json!({ "staff": staff, "card": card }),
    )
    .await;
    let answer = kiosk.post_taps(&[kiosk.tap(&card, n)]).await;
    outcomes(&answer)[0]
}

/// What both servers must answer alike, read at log position `at` at least.
const SAME_ANSWERS: &str = "{
  units { id name parent }
  people(first: 100) { edges { node { staffNo name unit card } } }
  session(id: \"0195f000-0000-7000-8000-00000000a11a\") {
    status present late absent roster(first: 100) { edges { node { staffNo status } } } }
  kiosks { id taps lastCounter gaps missing }
  projections { name position lag }
}";

/// The deploy/README.md drill for several servers: two `lectern serve`
/// processes on one PostgreSQL database take GraphQL writes and kiosk taps
/// at once; the log stays one chain, both subscriptions see every event,
/// both answer alike; each projector runs in one of them, and the other
/// takes over when that one is killed.
#[tokio::test]
async fn two_servers_share_one_postgres_database_and_fail_over() {
    let db = TestDb::postgres().await;
    let url = db.url.clone();
    let admin = role_token(&url, "administrator").await;
    let auditor = role_token(&url, "auditor").await;
    let (addr_a, addr_b) = (free_port(), free_port());
    let a = ServerProcess::start(&url, addr_a).await;
    let b = ServerProcess::start(&url, addr_b).await;

    // The log as each server's subscription sees it.
    let feed = "subscription { events { position } }";
    let mut ws_a = subscribe(addr_a, &auditor, feed).await;
    let mut ws_b = subscribe(addr_b, &auditor, feed).await;

    // A school and a study session at hall-a with check-in open, and a
    // reader in the hall for each server.
    let starts = chrono::Utc::now() + chrono::Duration::minutes(10);
    ok(
        addr_a,
        &admin,
        "mutation($starts: DateTime!, $ends: DateTime!) {
           a: establishUnit(id: \"uni\", name: \"大学\", kind: university) { position }
           b: establishUnit(id: \"cs\", name: \"计算机学院\", kind: school, parent: \"uni\") { position }
           scheduleSession(input: { id: \"0195f000-0000-7000-8000-00000000a11a\",
             kind: centralized_study, title: \"集中学习\", organiser: \"cs\", venue: \"hall-a\",
             audienceUnits: [\"cs\"], startsAt: $starts, endsAt: $ends }) { position }
         }",
        json!({ "starts": starts, "ends": starts + chrono::Duration::minutes(90) }),
    )
    .await;
    let kiosk_a = enrolled(addr_a, &admin, "hall-a-1").await;
    let kiosk_b = enrolled(addr_b, &admin, "hall-a-2").await;

    // Both servers take writes at once: teachers and their taps.
    let (on_a, on_b) = tokio::join!(
        async {
            let mut seen = Vec::new();
            for n in 1..=15 {
                seen.push(teacher_taps_in(addr_a, &admin, &kiosk_a, n).await);
            }
            seen
        },
        async {
            let mut seen = Vec::new();
            for n in 101..=115 {
                seen.push(teacher_taps_in(addr_b, &admin, &kiosk_b, n).await);
            }
            seen
        }
    );
    assert!(
        on_a.iter()
            .chain(&on_b)
            .all(|o| *o == Some(Outcome::Present)),
        "every teacher was found present: {on_a:?} {on_b:?}"
    );

    // One chain, every event in both feeds.
    let store = lectern_store::Store::open(&url, lectern_store::StoreOptions::default())
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    store.close().await;
    assert!(head > 60, "{head}");
    for ws in [&mut ws_a, &mut ws_b] {
        let mut positions = Vec::new();
        while positions.last() != Some(&head) {
            let m = next_message(ws).await;
            assert_eq!(m["type"], "next", "{m}");
            positions.push(m["payload"]["data"]["events"]["position"].as_u64().unwrap());
        }
        assert_eq!(positions, (1..=head).collect::<Vec<_>>());
    }
    let verify = || {
        cli(vec![
            "audit".into(),
            "verify".into(),
            "--database-url".into(),
            url.clone(),
        ])
    };
    let (code, out, err) = verify().await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("chain intact: {head} events")),
        "{out}"
    );

    // The same answers from both, and each projector run by one of them.
    let admin_ref = admin.as_str();
    let read_at = |addr| async move {
        let body = json!({ "query": SAME_ANSWERS, "extensions": { "waitForPosition": head } });
        let (status, answer) = post_to(
            addr,
            "/graphql",
            Some(admin_ref),
            body.to_string().as_bytes(),
        )
        .await;
        assert!(status.contains("200"), "{status}: {answer}");
        serde_json::from_str::<serde_json::Value>(&answer).unwrap()
    };
    let (from_a, from_b) = (read_at(addr_a).await, read_at(addr_b).await);
    assert!(from_a.get("errors").is_none(), "{from_a}");
    assert_eq!(from_a, from_b);
    assert_eq!(from_a["data"]["session"]["present"], 30, "{from_a}");
    let (led_by_a, led_by_b) = (leaders(addr_a, &admin).await, leaders(addr_b, &admin).await);
    let mut all = led_by_a.clone();
    all.extend(led_by_b.clone());
    all.sort();
    let mut names: Vec<String> = lectern_projections::projector_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    names.sort();
    assert_eq!(
        all, names,
        "each projector runs once: A {led_by_a:?}, B {led_by_b:?}"
    );

    // Kill the server running the sessions projector; the other takes
    // over, and its own writes and taps still show at once.
    let (dead, _alive, survivor, kiosk) = if led_by_a.iter().any(|n| n == "sessions") {
        (a, b, addr_b, kiosk_b)
    } else {
        (b, a, addr_a, kiosk_a)
    };
    drop(dead); // SIGKILL
    assert_eq!(
        teacher_taps_in(survivor, &admin, &kiosk, 200).await,
        Some(Outcome::Present)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while leaders(survivor, &admin).await.len() < names.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "the survivor did not take over"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let after = ok(
        survivor,
        &admin,
        "{ session(id: \"0195f000-0000-7000-8000-00000000a11a\") { present } }",
        json!({}),
    )
    .await;
    assert_eq!(after["session"]["present"], 31, "{after}");
    let (code, out, err) = verify().await;
    assert_eq!(code, 0, "{out}{err}");
}

/// `lectern serve` settings: the database at `url`, and the replica.
fn replica_args(url: &str, replica: Option<String>) -> ServeArgs {
    ServeArgs {
        replica_url: replica,
        ..TestApp::args(url)
    }
}

/// `lectern serve --replica-url`: queries are answered from the replica
/// (here a database restored from a dump of the primary stands in for a
/// standby that lags), a query that waits for a position sees it (the
/// stand-in cannot show it has replayed that far, so the primary answers),
/// and writes go to the primary. Nothing is written through the replica.
#[tokio::test]
async fn postgres_queries_are_answered_from_a_replica() {
    let (primary, standin) = (TestDb::postgres().await, TestDb::postgres().await);
    let admin = role_token(&primary.url, "administrator").await;
    let units = "{ units { id } }";
    let ids = |data: &serde_json::Value| -> Vec<String> {
        data["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };

    // The university, then a copy of the database as the replica.
    let server = TestApp::start_with(&replica_args(&primary.url, None)).await;
    ok(
        server.addr,
        &admin,
        "mutation { establishUnit(id: \"uni\", name: \"大学\", kind: university) { position } }",
        json!({}),
    )
    .await;
    server.stop().await;
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("lectern.dump").display().to_string();
    let (from, to) = (primary.url.clone(), standin.url.clone());
    tokio::task::spawn_blocking(move || {
        tool("pg_dump", &["--format=custom", "--file", &dump, &from]);
        tool("pg_restore", &["--no-owner", "--dbname", &to, &dump]);
    })
    .await
    .unwrap();

    let server = TestApp::start_with(&replica_args(&primary.url, Some(standin.url.clone()))).await;
    let addr = server.addr;
    let written = ok(addr, &admin, "mutation { establishUnit(id: \"cs\", name: \"计算机学院\", kind: school, parent: \"uni\") { position } }", json!({})).await;
    let at = written["establishUnit"]["position"].as_u64().unwrap();
    // The replica has not seen the school...
    assert_eq!(ids(&ok(addr, &admin, units, json!({})).await), ["uni"]);
    // ...a query that waits for it sees it...
    let body = json!({ "query": units, "extensions": { "waitForPosition": at } });
    let (status, answer) =
        post_to(addr, "/graphql", Some(&admin), body.to_string().as_bytes()).await;
    assert!(status.contains("200"), "{status}: {answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(ids(&answer["data"]), ["uni", "cs"], "{answer}");
    // ...and a mutation reads and writes the primary.
    let again = gql(addr, &admin, "mutation { establishUnit(id: \"cs\", name: \"计算机学院\", kind: school, parent: \"uni\") { position } }", json!({})).await;
    assert_eq!(
        again["errors"][0]["extensions"]["code"], "CONFLICT",
        "{again}"
    );
    server.stop().await;

    let replica = lectern_projections::ReadDb::connect_replica(&standin.url)
        .await
        .unwrap();
    let refused = replica
        .execute(&["CREATE TABLE scribble (a BIGINT)".to_owned()])
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("read-only transaction"),
        "{refused}"
    );
    replica.close().await;

    // A replica needs PostgreSQL on both sides.
    let (code, _, err) = cli(vec![
        "serve".into(),
        "--data-dir".into(),
        dir.path().join("data").display().to_string(),
        "--replica-url".into(),
        "postgres://lectern:secret@replica/lectern".into(),
    ])
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("replica_url \"postgres://lectern:***@replica/lectern\" needs PostgreSQL"),
        "{err}"
    );
}

/// A PostgreSQL primary and its hot standby (streaming replication), each
/// a cluster of its own in a temporary directory on a free port, stopped
/// and removed when dropped. Run as the `postgres` user when the tests run
/// as root (PostgreSQL refuses root).
struct StandbyPair {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    primary: u16,
    standby: u16,
}

impl StandbyPair {
    fn pg(&self, program: &str, args: &[&str]) {
        pg_tool(&self.bin, program, args);
    }

    async fn start() -> StandbyPair {
        tokio::task::spawn_blocking(|| {
            let bin = pg_bindir();
            let dir = tempfile::tempdir().unwrap();
            if is_root() {
                tool("chown", &["postgres", &dir.path().display().to_string()]);
            }
            let pair = StandbyPair {
                primary: free_port().port(),
                standby: free_port().port(),
                dir,
                bin,
            };
            let path = |name: &str| pair.dir.path().join(name).display().to_string();
            let start = |name: &str, port: u16| {
                let options = format!(
                    "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                    pair.dir.path().display()
                );
                let log = path(&format!("{name}.log"));
                pair.pg(
                    "pg_ctl",
                    &["-D", &path(name), "-o", &options, "-l", &log, "-w", "start"],
                );
            };
            pair.pg(
                "initdb",
                &[
                    "-D",
                    &path("primary"),
                    "--auth=trust",
                    "-U",
                    "postgres",
                    "-N",
                ],
            );
            start("primary", pair.primary);
            let port = pair.primary.to_string();
            pair.pg(
                "pg_basebackup",
                &[
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-U",
                    "postgres",
                    "-D",
                    &path("standby"),
                    "-R",
                    "-X",
                    "stream",
                ],
            );
            start("standby", pair.standby);
            pair
        })
        .await
        .unwrap()
    }

    fn url(port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    }
}

impl Drop for StandbyPair {
    fn drop(&mut self) {
        for name in ["standby", "primary"] {
            let data = self.dir.path().join(name).display().to_string();
            let _ = run_as_postgres(
                &self.bin,
                "pg_ctl",
                &["-D", &data, "-m", "immediate", "stop"],
            );
        }
    }
}

/// Where PostgreSQL's server programs are: `pg_config --bindir`, else
/// the newest of Debian's `/usr/lib/postgresql/*/bin`.
fn pg_bindir() -> std::path::PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        return std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    }
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().expect(
        "PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup) are not installed: \
         pg_config is missing and /usr/lib/postgresql/*/bin has no initdb",
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Runs one of PostgreSQL's server programs, as `postgres` under root.
fn run_as_postgres(
    bin: &std::path::Path,
    program: &str,
    args: &[&str],
) -> std::io::Result<std::process::Output> {
    let program = bin.join(program);
    if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&program)
            .args(args)
            .output()
    } else {
        Command::new(&program).args(args).output()
    }
}

fn pg_tool(bin: &std::path::Path, program: &str, args: &[&str]) {
    succeeded(program, args, run_as_postgres(bin, program, args));
}

/// The value of a counter in a /metrics page.
fn metric(page: &str, name: &str) -> u64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from\n{page}"))
}

/// `replica_url` pointing at a real hot standby: queries are answered from
/// it; one that waits for its write is answered from it once it has
/// replayed the write; while its replay is paused the primary answers, and
/// /metrics counts who answered.
#[tokio::test]
async fn a_postgres_hot_standby_answers_queries_once_it_has_replayed() {
    let pair = StandbyPair::start().await;
    let (primary, standby) = (
        StandbyPair::url(pair.primary),
        StandbyPair::url(pair.standby),
    );
    let admin = role_token(&primary, "administrator").await;
    let admin = admin.as_str();
    // Two servers on the database and the standby: one waits a minute for
    // the standby to replay a write (however slow the machine, a replaying
    // standby gets there), the other a tenth of a second (a paused one
    // never does).
    let on_standby = |wait_ms: u64| ServeArgs {
        replica_wait_ms: Some(wait_ms),
        ..replica_args(&primary, Some(standby.clone()))
    };
    let patient = TestApp::start_with(&on_standby(60_000)).await;
    let hasty = TestApp::start_with(&on_standby(100)).await;
    let addr = patient.addr;
    let units = "{ units { id } }";
    let waiting = |addr: std::net::SocketAddr, at: u64| {
        let body = json!({ "query": units, "extensions": { "waitForPosition": at } });
        async move {
            let (status, answer) =
                post_to(addr, "/graphql", Some(admin), body.to_string().as_bytes()).await;
            assert!(status.contains("200"), "{status}: {answer}");
            let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
            answer["data"]["units"]
                .as_array()
                .unwrap_or_else(|| panic!("{answer}"))
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let answered = |addr: std::net::SocketAddr| async move {
        let (_, page) = get(addr, "/metrics").await;
        (
            metric(
                &page,
                "lectern_replica_queries_total{answered_by=\"replica\"}",
            ),
            metric(
                &page,
                "lectern_replica_queries_total{answered_by=\"primary\"}",
            ),
        )
    };
    let establish = |id: &'static str, parent: Option<&'static str>| async move {
        let data = ok(
            addr,
            admin,
            "mutation($id: String!, $kind: UnitKind!, $parent: String) {
               establishUnit(id: $id, name: \"单位\", kind: $kind, parent: $parent) { position } }",
            json!({ "id": id, "parent": parent, "kind": if parent.is_some() { "school" } else { "university" } }),
        )
        .await;
        data["establishUnit"]["position"].as_u64().unwrap()
    };

    // Replaying: a waiting query is answered by the standby, with the write.
    let at = establish("uni", None).await;
    assert_eq!(waiting(addr, at).await, ["uni"]);
    assert_eq!(answered(addr).await, (1, 0));

    // Replay paused: the standby lags; a query that does not wait reads it
    // as it is, one that waits is answered by the primary once its wait is
    // over.
    let sql = |q: &str| {
        let (port, q) = (pair.standby.to_string(), q.to_owned());
        tokio::task::spawn_blocking(move || {
            tool(
                "psql",
                &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-Atc", &q],
            );
        })
    };
    sql("SELECT pg_wal_replay_pause()").await.unwrap();
    let at = establish("cs", Some("uni")).await;
    let stale = ok(addr, admin, units, json!({})).await;
    assert_eq!(stale["units"], json!([{ "id": "uni" }]));
    assert_eq!(answered(addr).await, (2, 0));
    assert_eq!(waiting(hasty.addr, at).await, ["uni", "cs"]);
    assert_eq!(answered(hasty.addr).await, (0, 1));

    // Replay resumed: the standby answers again.
    sql("SELECT pg_wal_replay_resume()").await.unwrap();
    assert_eq!(waiting(addr, at).await, ["uni", "cs"]);
    assert_eq!(answered(addr).await, (3, 0));
    hasty.stop().await;
    patient.stop().await;
}
