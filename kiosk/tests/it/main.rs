//! The `lectern-kiosk` binary against a real server, on SQLite and
//! PostgreSQL: enrolment, taps with the server down, then every tap
//! recorded exactly once when it is back.
#![allow(unreachable_pub)] // a test binary exports nothing

#[macro_use]
extern crate lectern_store; // both_backends!

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use chrono::{Duration, Utc};
use lectern_server::app::Application;
use lectern_server::config::{DbArgs, ServeArgs};
use lectern_store::testkit::TestDb;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

both_backends!(taps_made_while_the_server_is_down_are_recorded_once);

struct Server {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn serve(url: &str, listen: SocketAddr) -> (Server, SocketAddr) {
    let args = ServeArgs {
        db: DbArgs {
            database_url: Some(url.to_owned()),
            ..DbArgs::default()
        },
        listen: Some(listen),
        token_cache_seconds: None,
    };
    let app = Application::build(&args).await.expect("build");
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    (Server { stop, task }, addr)
}

impl Server {
    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

async fn graphql(addr: SocketAddr, token: &str, query: &str, variables: Value) -> Value {
    let body = serde_json::to_vec(&json!({ "query": query, "variables": variables })).unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body).await.unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let (_, body) = buf.split_once("\r\n\r\n").unwrap();
    let r: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(r.get("errors").is_none(), "{query}: {r}");
    r["data"].clone()
}

/// Runs the kiosk binary off the runtime's threads.
async fn kiosk(data: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--data-dir".to_owned(), data.display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_lectern-kiosk"))
            .args(&all)
            .output()
            .expect("run lectern-kiosk");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

async fn status(data: &Path) -> Value {
    let (code, out, err) = kiosk(data, &["status"]).await;
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

async fn taps_made_while_the_server_is_down_are_recorded_once(db: TestDb) {
    let url = db.url.clone();
    let (server, addr) = serve(&url, "127.0.0.1:0".parse().unwrap()).await;
    let tokens =
        lectern_graphql::Tokens::open(lectern_projections::ReadDb::connect(&url).await.unwrap())
            .await
            .unwrap();
    let principal = lectern_graphql::parse_principal("administrator", None, None, None).unwrap();
    let (_, admin) = tokens.create(&principal, None, "test").await.unwrap();

    let starts = Utc::now() + Duration::minutes(10);
    let id = "0195f000-0000-7000-8000-00000000b22b";
    let setup = graphql(
        addr,
        &admin,
        "mutation($id: UUID!, $starts: DateTime!, $ends: DateTime!) {
           u: establishUnit(id: \"uni\", name: \"大学\", kind: \"university\") { position }
           a: establishUnit(id: \"cs\", name: \"计算机学院\", kind: \"school\", parent: \"uni\") { position }
           b: registerPerson(input: { staffNo: \"S0001\", name: \"王小明\", unit: \"cs\",
             category: \"teacher\", birthDate: \"1980-03-04\", hireDate: \"2005-09-01\" }) { position }
           c: registerPerson(input: { staffNo: \"S0002\", name: \"刘芳\", unit: \"cs\",
             category: \"teacher\", birthDate: \"1982-03-04\", hireDate: \"2005-09-01\" }) { position }
           d: issueCard(staffNo: \"S0001\", uid: \"04A1B2C3D4E501\") { position }
           e: issueCard(staffNo: \"S0002\", uid: \"04A1B2C3D4E502\") { position }
           scheduleSession(input: { id: $id, kind: \"centralized_study\", title: \"集中学习\",
             organiser: \"cs\", venue: \"hall-a\", audienceUnits: [\"cs\"],
             startsAt: $starts, endsAt: $ends }) { position }
           registerKiosk(id: \"hall-a-1\", venue: \"hall-a\") { code }
         }",
        json!({ "id": id, "starts": starts, "ends": starts + Duration::minutes(90) }),
    )
    .await;
    let code = setup["registerKiosk"]["code"].as_str().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("kiosk");
    let server_url = format!("http://{addr}");
    let (status_code, _, err) = kiosk(
        &data,
        &[
            "enrol",
            "--server",
            &server_url,
            "--kiosk",
            "hall-a-1",
            "--code",
            code,
        ],
    )
    .await;
    assert_eq!(status_code, 0, "{err}");
    assert!(
        err.contains("enrolled kiosk hall-a-1 at venue hall-a"),
        "{err}"
    );
    let (status_code, _, err) = kiosk(
        &data,
        &[
            "enrol",
            "--server",
            &server_url,
            "--kiosk",
            "hall-a-1",
            "--code",
            code,
        ],
    )
    .await;
    assert_ne!(status_code, 0, "a used code is refused");
    assert!(err.contains("or it was used already"), "{err}");

    // Online: the roster comes down, a tap is decided locally and synced.
    let script = dir.path().join("one.txt");
    std::fs::write(&script, "tap 04A1B2C3D4E501\n").unwrap();
    let reader = format!("simulate:{}", script.display());
    let (status_code, out, err) = kiosk(
        &data,
        &["run", "--reader", &reader, "--headless", "--until-synced"],
    )
    .await;
    assert_eq!(status_code, 0, "{err}");
    let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["counter"], 1, "{out}");
    assert_eq!(status(&data).await["backlog"], 0);

    // The server goes down; 500 taps are made (two cards over and over,
    // and cards nobody holds), each shown and queued.
    server.stop().await;
    let mut lines = String::new();
    for i in 0..500 {
        match i % 5 {
            0 | 1 => lines.push_str("tap 04A1B2C3D4E502\n"),
            2 | 3 => lines.push_str("tap 04A1B2C3D4E501\n"),
            _ => lines.push_str(&format!("tap 04FF{i:010X}\n")),
        }
    }
    let script = dir.path().join("many.txt");
    std::fs::write(&script, lines).unwrap();
    let reader = format!("simulate:{}", script.display());
    let (status_code, out, err) = kiosk(
        &data,
        &[
            "run",
            "--reader",
            &reader,
            "--headless",
            "--debounce-seconds",
            "0",
        ],
    )
    .await;
    assert_eq!(status_code, 0, "{err}");
    let shown: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(shown.len(), 500);
    assert_eq!(shown[0]["outcome"], "present", "{}", shown[0]);
    assert_eq!(shown[0]["name"], "刘芳");
    assert_eq!(shown[2]["outcome"], "already_checked_in", "{}", shown[2]);
    assert_eq!(shown[4]["outcome"], "unknown_card", "{}", shown[4]);
    assert!(shown.iter().all(|l| l["online"] == false));
    assert_eq!(status(&data).await["backlog"], 500);
    let (status_code, _, err) = kiosk(&data, &["sync"]).await;
    assert_eq!(status_code, 3, "unreachable: {err}");
    assert!(err.contains("500 taps wait"), "{err}");

    // Back up (same address): every tap reaches the log exactly once, and
    // a second sync sends nothing.
    let (server, _) = serve(&url, addr).await;
    let (status_code, _, err) = kiosk(&data, &["sync"]).await;
    assert_eq!(status_code, 0, "{err}");
    assert_eq!(status(&data).await["backlog"], 0);
    let (status_code, _, err) = kiosk(&data, &["sync"]).await;
    assert_eq!(status_code, 0, "{err}");
    let shown = graphql(
        addr,
        &admin,
        "query($id: UUID!) { kiosks { id taps missing lastCounter }
           session(id: $id) { present roster { edges { node { staffNo status } } } } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        shown["kiosks"],
        json!([{ "id": "hall-a-1", "taps": 501, "missing": 0, "lastCounter": 501 }])
    );
    assert_eq!(shown["session"]["present"], 2, "{shown}");
    server.stop().await;
}
