//! The `lectern-kiosk` binary against a real server, on SQLite and
//! PostgreSQL: enrolment, taps with the server down, kill -9 of the kiosk
//! and of the server; every tap recorded exactly once.
#![allow(unreachable_pub)] // a test binary exports nothing

#[macro_use]
extern crate lectern_store; // both_backends!

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use chrono::{Duration, Utc};
use lectern_server::app::Application;
use lectern_server::config::{DbArgs, ServeArgs};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod crash;
#[cfg(feature = "nfc")]
mod nfc;
mod offline;
mod wedge;

pub struct Server {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub async fn serve(url: &str, listen: SocketAddr) -> (Server, SocketAddr) {
    let args = ServeArgs {
        db: DbArgs {
            database_url: Some(url.to_owned()),
            ..DbArgs::default()
        },
        listen: Some(listen),
        token_cache_seconds: None,
        ..ServeArgs::default()
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
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

pub async fn graphql(addr: SocketAddr, token: &str, query: &str, variables: Value) -> Value {
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
pub async fn kiosk(data: &Path, args: &[&str]) -> (i32, String, String) {
    kiosk_with_input(data, args, "").await
}

/// Runs the kiosk binary with `input` on its stdin.
pub async fn kiosk_with_input(data: &Path, args: &[&str], input: &str) -> (i32, String, String) {
    let mut all = vec!["--data-dir".to_owned(), data.display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let input = input.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_lectern-kiosk"))
            .args(&all)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run lectern-kiosk");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

pub async fn status(data: &Path) -> Value {
    let (code, out, err) = kiosk(data, &["status"]).await;
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// The study session this suite taps into (starts in ten minutes at
/// hall-a, for the school's two teachers).
pub const SESSION: &str = "0195f000-0000-7000-8000-00000000b22b";

/// A school with two teachers and their cards, a session at hall-a that
/// starts in ten minutes, and kiosk hall-a-1 registered there; returns its
/// enrolment code.
pub async fn campus(addr: SocketAddr, admin: &str) -> String {
    let starts = Utc::now() + Duration::minutes(10);
    let id = SESSION;
    let setup = graphql(
        addr,
        admin,
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
    code.to_owned()
}

/// An administrator's token, made directly in the database (migrated
/// first: a server may not have run on it yet).
pub async fn admin_token(url: &str) -> String {
    let store = lectern_store::Store::open(url, lectern_store::StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let tokens =
        lectern_graphql::Tokens::new(lectern_projections::ReadDb::connect(url).await.unwrap());
    let principal = lectern_graphql::parse_principal("administrator", None, None, None).unwrap();
    tokens.create(&principal, None, "test").await.unwrap().1
}

/// Enrols the kiosk whose state is in `data` with the server at `addr`.
pub async fn enrol(data: &Path, addr: SocketAddr, code: &str) {
    let server = format!("http://{addr}");
    let (status_code, _, err) = kiosk(
        data,
        &[
            "enrol", "--server", &server, "--kiosk", "hall-a-1", "--code", code,
        ],
    )
    .await;
    assert_eq!(status_code, 0, "{err}");
    assert!(
        err.contains("enrolled kiosk hall-a-1 at venue hall-a"),
        "{err}"
    );
}

/// The ids of every tap in kiosk hall-a-1's stream, in log order.
pub async fn logged_taps(addr: SocketAddr, admin: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = 0;
    loop {
        let page = graphql(
            addr,
            admin,
            "query($after: Int!) { events(after: $after, first: 100, stream: \"kiosk-hall-a-1\") { position eventId eventType } }",
            json!({ "after": after }),
        )
        .await;
        let events = page["events"].as_array().unwrap().clone();
        let Some(last) = events.last() else {
            return ids;
        };
        after = last["position"].as_u64().unwrap();
        ids.extend(
            events
                .iter()
                .filter(|e| e["eventType"] == "CardTapped")
                .map(|e| e["eventId"].as_str().unwrap().to_owned()),
        );
    }
}

/// Checks that the kiosk's queue is empty and that every tap it ever
/// numbered is in the log exactly once, with no counter missing.
pub async fn every_tap_once(data: &Path, addr: SocketAddr, admin: &str) -> Vec<String> {
    let local = status(data).await;
    assert_eq!(local["backlog"], 0, "{local}");
    assert_eq!(local["refused"], json!([]), "{local}");
    let numbered = local["last_counter"].as_u64().unwrap();
    let logged = logged_taps(addr, admin).await;
    let distinct: std::collections::HashSet<&String> = logged.iter().collect();
    assert_eq!(distinct.len(), logged.len(), "a tap is in the log twice");
    assert_eq!(
        logged.len() as u64,
        numbered,
        "taps numbered and taps logged"
    );
    let shown = graphql(
        addr,
        admin,
        "{ kiosks { id taps missing lastCounter } }",
        json!({}),
    )
    .await;
    assert_eq!(
        shown["kiosks"],
        json!([{ "id": "hall-a-1", "taps": numbered, "missing": 0, "lastCounter": numbered }])
    );
    logged
}
