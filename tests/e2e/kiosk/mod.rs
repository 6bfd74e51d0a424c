//! The `lectern-kiosk` program against a real server, on SQLite and
//! PostgreSQL: enrolment, taps with the server down, kill -9 of the kiosk
//! and of the server; every tap recorded exactly once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::{TestApp, admin_token, kiosk, ok, post_to};

mod clock;
mod crash;
#[cfg(feature = "nfc")]
mod nfc;
mod offline;
mod wedge;
mod witness;

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
    let setup = ok(
        addr,
        admin,
        "mutation($id: UUID!, $starts: DateTime!, $ends: DateTime!) {
           u: establishUnit(id: \"uni\", name: \"大学\", kind: university) { position }
           a: establishUnit(id: \"cs\", name: \"计算机学院\", kind: school, parent: \"uni\") { position }
           b: registerPerson(input: { staffNo: \"S0001\", name: \"王小明\", unit: \"cs\",
             category: teacher, birthDate: \"1980-03-04\", hireDate: \"2005-09-01\" }) { position }
           c: registerPerson(input: { staffNo: \"S0002\", name: \"刘芳\", unit: \"cs\",
             category: teacher, birthDate: \"1982-03-04\", hireDate: \"2005-09-01\" }) { position }
           d: issueCard(staffNo: \"S0001\", uid: \"04A1B2C3D4E501\") { position }
           e: issueCard(staffNo: \"S0002\", uid: \"04A1B2C3D4E502\") { position }
           scheduleSession(input: { id: $id, kind: centralized_study, title: \"集中学习\",
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

/// A server with `campus`, and kiosk hall-a-1 enrolled with it from a
/// fresh data directory.
pub struct Hall {
    pub server: TestApp,
    pub addr: SocketAddr,
    pub admin: String,
    /// The enrolment code (used once).
    pub code: String,
    /// Holds the kiosk's data directory (and any scripts) until dropped.
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
}

pub async fn hall(url: &str) -> Hall {
    let server = TestApp::start(url).await;
    let addr = server.addr;
    let admin = admin_token(url).await;
    let code = campus(addr, &admin).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("kiosk");
    enrol(&data, addr, &code).await;
    Hall {
        server,
        addr,
        admin,
        code,
        dir,
        data,
    }
}

/// Enrols kiosk hall-a-1, whose state is in `data`, with the server at
/// `addr`.
pub async fn enrol(data: &Path, addr: SocketAddr, code: &str) {
    enrol_as(data, addr, "hall-a-1", code).await;
}

/// Enrols kiosk `id` (registered at hall-a), whose state is in `data`,
/// with the server at `addr`.
pub async fn enrol_as(data: &Path, addr: SocketAddr, id: &str, code: &str) {
    let server = format!("http://{addr}");
    let (status_code, _, err) = kiosk(
        data,
        &["enrol", "--server", &server, "--kiosk", id, "--code", code],
    )
    .await;
    assert_eq!(status_code, 0, "{err}");
    assert!(
        err.contains(&format!("enrolled kiosk {id} at venue hall-a")),
        "{err}"
    );
}

/// The ids of every tap in kiosk hall-a-1's stream, in log order, and the
/// position of its last event.
pub async fn logged_taps(addr: SocketAddr, admin: &str) -> (Vec<String>, u64) {
    let mut ids = Vec::new();
    let mut after = 0;
    loop {
        let page = ok(
            addr,
            admin,
            "query($after: Int!) { events(after: $after, first: 100, stream: \"kiosk-hall-a-1\") { position eventId eventType } }",
            json!({ "after": after }),
        )
        .await;
        let events = page["events"].as_array().unwrap().clone();
        let Some(last) = events.last() else {
            return (ids, after);
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
    let (logged, last) = logged_taps(addr, admin).await;
    let distinct: std::collections::HashSet<&String> = logged.iter().collect();
    assert_eq!(distinct.len(), logged.len(), "a tap is in the log twice");
    assert_eq!(
        logged.len() as u64,
        numbered,
        "taps numbered and taps logged"
    );
    // A server just restarted may still be catching up (a sync that had
    // nothing left to send waited for nothing): read at the last tap.
    let body = json!({
        "query": "{ kiosks { id taps missing lastCounter } }",
        "extensions": { "waitForPosition": last },
    });
    let (code, shown) = post_to(addr, "/graphql", Some(admin), body.to_string().as_bytes()).await;
    assert!(code.contains("200"), "{code}: {shown}");
    let shown: Value = serde_json::from_str(&shown).unwrap();
    let shown = &shown["data"];
    assert_eq!(
        shown["kiosks"],
        json!([{ "id": "hall-a-1", "taps": numbered, "missing": 0, "lastCounter": numbered }])
    );
    logged
}
