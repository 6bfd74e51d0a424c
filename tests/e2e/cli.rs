//! The `lectern` command and a server it configures: migrations, health
//! checks, request ids, audits, benchmarks, configuration files.

use lectern_server::app::Application;
use lectern_server::config::{DbArgs, ServeArgs};
use lectern_store::testkit::TestDb;
use lectern_store::{ExpectedVersion, NewEvent, Store, StoreOptions};

use crate::{get, lectern, send};

#[tokio::test]
async fn serve_migrates_on_start_and_answers_health_checks() {
    let dir = tempfile::tempdir().unwrap();
    let args = ServeArgs {
        db: DbArgs {
            data_dir: Some(dir.path().join("data")),
            ..DbArgs::default()
        },
        listen: Some("127.0.0.1:0".parse().unwrap()),
        token_cache_seconds: None,
        ..ServeArgs::default()
    };
    let app = Application::build(&args).await.expect("build");
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    let (status, body) = get(addr, "/healthz").await;
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "ok");
    let (status, body) = get(addr, "/readyz").await;
    assert!(status.contains("200"), "{status}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["backend"], "sqlite");
    assert_eq!(ready["head"], 0);
    // Every answer carries a request id: the one a proxy sent, else a new one.
    let echoed = send(
        addr,
        "GET",
        "/healthz",
        &[("x-request-id", "probe-42")],
        b"",
    )
    .await;
    assert_eq!(echoed.headers["x-request-id"], "probe-42");
    let made = send(addr, "GET", "/healthz", &[], b"").await;
    let id = made.headers["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        dir.path().join("data/lectern.db").exists(),
        "the default database is in the data directory"
    );
}

#[test]
fn migrate_then_verify_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (code, out, err) = lectern(&["migrate", "--data-dir", data]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("migrated sqlite://"), "{out}");
    let (code, out, err) = lectern(&["audit", "verify", "--data-dir", data]);
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        "chain intact: the log is empty\ncheckpoints intact: 0 signed checkpoints verify against \
         the log (by the keys the database lists)"
    );
    assert!(
        err.contains("WARNING: no trusted key given (--key)"),
        "{err}"
    );
}

#[tokio::test]
async fn migrate_and_verify_on_postgres() {
    let test_db = TestDb::postgres().await;
    let url = test_db.url.clone();
    let (code, out, err) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || lectern(&["migrate", "--database-url", &url])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(postgres)"), "{out}");

    let store = Store::open(&url, StoreOptions::default()).await.unwrap();
    for n in 0..3 {
        let e = NewEvent::new("Noted", &serde_json::json!({ "n": n })).unwrap();
        store
            .append("S", ExpectedVersion::Any, vec![e])
            .await
            .unwrap();
    }
    let (head, _) = store.head_hash().await.unwrap();
    store.close().await;
    let (code, out, _) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || lectern(&["audit", "verify", "--database-url", &url])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(&format!(
            "chain intact: 3 events, head position {head}, head hash "
        )),
        "{out}"
    );

    // Tampering is reported with exit status 2.
    test_db
        .raw("ALTER TABLE events DISABLE TRIGGER USER; UPDATE events SET payload = '{\"n\":7}' WHERE position = 2")
        .await
        .unwrap();
    let (code, out, _) =
        tokio::task::spawn_blocking(move || lectern(&["audit", "verify", "--database-url", &url]))
            .await
            .unwrap();
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("event at position 2 was altered"), "{out}");
}

#[test]
fn api_bench_runs_at_small_scale() {
    let (code, out, err) = lectern(&[
        "bench",
        "api",
        "--db",
        "sqlite",
        "--sync",
        "normal",
        "--events",
        "6000",
        "--clients",
        "5",
        "--requests",
        "12",
        "--mix-seconds",
        "2",
        "--taps-per-second",
        "10",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let cases: Vec<&str> = lines.iter().map(|f| f[2]).collect();
    assert_eq!(
        cases,
        [
            "generate",
            "catchup",
            "flags-analyze",
            "replay-year",
            "replay-year-as-of",
            "api-dashboard",
            "api-roster",
            "api-unit-month",
            "api-tuesday-dashboard",
            "api-tuesday-roster",
            "api-tuesday-unit-month",
            "api-tuesday-appraisal",
            "api-tuesday-replay-as-of",
            "api-tuesday-kiosk-taps",
        ],
        "{out}"
    );
    assert!(lines[0][3].parse::<u64>().unwrap() >= 6000, "{out}");
    // The analyzer read the campus's taps, each with the server's decision.
    assert!(lines[2][3].parse::<u64>().unwrap() > 1000, "{out}");
    assert!(out.contains("# flags-analyze: "), "{out}");
    assert_eq!(lines[3][3], "200", "{out}");
    assert_eq!(lines[4][3], "200", "{out}");
    assert_eq!(lines[5][3], "12");
    let percentiles = out.lines().filter(|l| l.starts_with("# api-")).count();
    assert_eq!(percentiles, 9, "{out}");
    // The Tuesday mix: five clients, one of each kind, each on its
    // schedule over the two seconds (an at-head query every 100 ms from
    // its start, 0 to 60 ms in; the replay every second from 800 ms in),
    // however fast the answers come; and the kiosks' taps recorded.
    let mix: Vec<(&str, &str)> = lines[8..13].iter().map(|f| (f[2], f[3])).collect();
    assert_eq!(
        mix,
        [
            ("api-tuesday-dashboard", "20"),
            ("api-tuesday-roster", "20"),
            ("api-tuesday-unit-month", "20"),
            ("api-tuesday-appraisal", "20"),
            ("api-tuesday-replay-as-of", "2"),
        ],
        "{out}"
    );
    assert!(lines[13][3].parse::<u64>().unwrap() > 0, "{out}");
    assert!(out.contains("# replay-year: "), "{out}");
    assert!(out.contains("# replay-year-as-of: "), "{out}");
}

#[test]
fn bench_runs_every_workload_at_small_scale() {
    let (code, out, err) = lectern(&[
        "bench",
        "store",
        "--db",
        "sqlite",
        "--sync",
        "normal",
        "--events",
        "400",
        "--big-events",
        "3000",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines.len(), 4, "{out}");
    for (line, w) in lines.iter().zip(["W1", "W2", "W3", "W4"]) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&f[..3], &["lectern", "sqlite-normal", w], "{line}");
        let events: u64 = f[3].parse().unwrap();
        assert_eq!(events, if w == "W1" || w == "W2" { 400 } else { 3000 });
        assert!(
            f[4].parse::<f64>().unwrap() > 0.0 && f[5].parse::<f64>().unwrap() > 0.0,
            "{line}"
        );
    }
}

/// Commands that only read the log say there is none, and how to make
/// one, instead of failing on a missing table; they create nothing.
#[test]
fn reading_commands_need_a_log_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("elsewhere");
    let at = data.to_str().unwrap();
    for args in [
        vec!["report", "leadership", "--data-dir", at],
        vec!["audit", "verify", "--data-dir", at],
        vec!["audit", "checkpoints", "--data-dir", at],
    ] {
        let (code, out, err) = lectern(&args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(
            err.starts_with(&format!(
                "error: no event log here: {at}/lectern.db does not exist. Make one with \
                 `lectern demo`"
            )),
            "{args:?}: {err}"
        );
        assert!(!data.exists(), "{args:?} created {at}");
    }
    // A SQLite file that holds no log (an empty file is an empty database).
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("lectern.db"), b"").unwrap();
    let (code, _, err) = lectern(&["audit", "verify", "--data-dir", at]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "error: no event log in sqlite://{at}/lectern.db. Make one"
        )),
        "{err}"
    );
    // Once migrated, the same command runs.
    let (code, _, err) = lectern(&["migrate", "--data-dir", at]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = lectern(&["audit", "verify", "--data-dir", at]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("chain intact: the log is empty"), "{out}");
}

#[tokio::test]
async fn reading_commands_need_a_log_on_postgres() {
    let test_db = TestDb::postgres().await;
    let url = test_db.url.clone();
    let (code, _, err) = crate::cli(vec![
        "report".into(),
        "leadership".into(),
        "--database-url".into(),
        url.clone(),
    ])
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with("error: no event log in postgres://"),
        "{err}"
    );
    assert!(
        err.contains("`lectern migrate` and `lectern import`"),
        "{err}"
    );
    // Nothing was made there.
    let store = Store::open(&url, StoreOptions::default()).await.unwrap();
    assert_eq!(
        store.log_state().await.unwrap(),
        lectern_store::LogState::Missing
    );
    store.migrate().await.unwrap();
    assert_eq!(
        store.log_state().await.unwrap(),
        lectern_store::LogState::Current
    );
    store.close().await;
}

#[test]
fn bad_input_is_named() {
    let (code, _, err) = lectern(&["migrate", "--database-url", "mysql://x"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("unsupported database url \"mysql://x\""),
        "{err}"
    );
    let (code, _, err) = lectern(&["bench", "store", "--db", "oracle"]);
    assert_eq!(code, 1);
    assert!(err.contains("--db \"oracle\""), "{err}");
}

#[test]
fn a_configuration_file_is_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("from-file");
    let config = dir.path().join("lectern.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", data.display().to_string()),
    )
    .unwrap();
    let (code, out, err) = lectern(&["migrate", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("from-file/lectern.db"), "{out}");
    assert!(data.join("lectern.db").exists());
    // A flag overrides the file.
    let flag = dir.path().join("from-flag");
    let (code, out, _) = lectern(&[
        "migrate",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        flag.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("from-flag/lectern.db"), "{out}");
    // An unknown setting is named.
    std::fs::write(&config, "port = 8080\n").unwrap();
    let (code, _, err) = lectern(&["migrate", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("is not valid") && err.contains("unknown field `port`"),
        "{err}"
    );
}
