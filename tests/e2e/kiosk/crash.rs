//! kill -9 drills: the kiosk killed at random moments while it takes and
//! sends taps, and the server killed while it takes batches. Afterwards
//! every tap the kiosk numbered is in the log exactly once, none is
//! missing, and every tap the kiosk showed is among them.

use std::collections::HashSet;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use lectern_store::testkit::TestDb;
use serde_json::Value;

use super::{Hall, campus, enrol, every_tap_once, hall, status};
use crate::{ServerProcess, admin_token, free_port, kiosk, kiosk_child};

both_backends!(
    a_killed_kiosk_loses_no_tap_and_counts_none_twice,
    a_killed_server_loses_no_tap_and_counts_none_twice
);

/// Kill moments: a fixed sequence, so a failure can be replayed.
struct Moments(u64);

impl Moments {
    fn next(&mut self, below_ms: u64) -> Duration {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Duration::from_millis((self.0 >> 33) % below_ms)
    }
}

/// A script of `n` taps, 5 ms apart: two teachers' cards and unknown ones.
fn script(dir: &Path, name: &str, n: usize) -> String {
    let mut lines = String::new();
    for i in 0..n {
        match i % 3 {
            0 => lines.push_str("tap 04A1B2C3D4E501\n"),
            1 => lines.push_str("tap 04A1B2C3D4E502\n"),
            _ => lines.push_str(&format!("tap 04EE{i:010X}\n")),
        }
        lines.push_str("sleep 0.005\n");
    }
    let path = dir.join(name);
    std::fs::write(&path, lines).unwrap();
    format!("simulate:{}", path.display())
}

/// Kills `child` with SIGKILL after `after`; returns what it printed.
async fn kill_after(mut child: Child, after: Duration) -> String {
    tokio::task::spawn_blocking(move || {
        std::thread::sleep(after);
        let _ = child.kill();
        let out = child.wait_with_output().expect("reap the child");
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap()
}

async fn a_killed_kiosk_loses_no_tap_and_counts_none_twice(db: TestDb) {
    let url = db.url.clone();
    let Hall {
        server,
        addr,
        admin,
        dir,
        data,
        ..
    } = hall(&url).await;
    let reader = script(dir.path(), "taps.txt", 30);

    let mut moments = Moments(7);
    let mut shown = HashSet::new();
    for _ in 0..20 {
        let child = kiosk_child(
            &data,
            &[
                "run",
                "--reader",
                &reader,
                "--headless",
                "--debounce-seconds",
                "0",
                "--until-synced",
            ],
        );
        let out = kill_after(child, moments.next(400)).await;
        // A line is printed only after its tap is committed; a line cut
        // short by the kill is not a shown tap.
        for line in out.lines() {
            if let Ok(v) = serde_json::from_str::<Value>(line) {
                shown.insert(v["tap"].as_str().unwrap().to_owned());
            }
        }
    }
    let (code, _, err) = kiosk(&data, &["sync"]).await;
    assert_eq!(code, 0, "{err}");
    let logged: HashSet<String> = every_tap_once(&data, addr, &admin)
        .await
        .into_iter()
        .collect();
    assert!(
        !shown.is_empty(),
        "the kiosk showed taps before it was killed"
    );
    assert!(
        shown.len() < 20 * 30,
        "some runs were killed before they ended ({} taps shown)",
        shown.len()
    );
    assert!(
        shown.is_subset(&logged),
        "{} shown taps are not in the log",
        shown.difference(&logged).count()
    );
    server.stop().await;
}

async fn a_killed_server_loses_no_tap_and_counts_none_twice(db: TestDb) {
    let url = db.url.clone();
    let addr = free_port();
    let admin = admin_token(&url).await;
    let mut server = ServerProcess::start(&url, addr).await;
    let code = campus(addr, &admin).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("kiosk");
    enrol(&data, addr, &code).await;
    server.kill();

    // 600 taps queue up with the server down.
    let reader = script(dir.path(), "taps.txt", 600);
    let (code, _, err) = kiosk(
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
    assert_eq!(code, 0, "{err}");
    assert_eq!(status(&data).await["backlog"], 600);

    // The server is killed while the kiosk sends them: first as soon as it
    // has answered the first of the three batches, then four times at
    // random moments.
    let server = ServerProcess::start(&url, addr).await;
    let mut sync = kiosk_child(&data, &["sync"]);
    let stdout = sync.stdout.take().unwrap();
    let first = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().map(|l| l.unwrap()).unwrap_or_default();
        // Keep the pipe drained until the sync ends.
        std::thread::spawn(move || lines.for_each(drop));
        first
    })
    .await
    .unwrap();
    drop(server); // kill -9
    assert!(first.starts_with("sent 200 taps; "), "{first}");
    let out = tokio::task::spawn_blocking(move || sync.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "the server died under the sync");
    let mut moments = Moments(11);
    for _ in 0..4 {
        let server = ServerProcess::start(&url, addr).await;
        let sync = kiosk_child(&data, &["sync"]);
        // Killed at a random moment of the sync.
        tokio::time::sleep(moments.next(300)).await;
        drop(server);
        let out = tokio::task::spawn_blocking(move || sync.wait_with_output().unwrap())
            .await
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "sync ends done or cut off: {:?}",
            out.status
        );
    }
    let mut server = ServerProcess::start(&url, addr).await;
    let (code, _, err) = kiosk(&data, &["sync"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(every_tap_once(&data, addr, &admin).await.len(), 600);
    server.kill();
}
