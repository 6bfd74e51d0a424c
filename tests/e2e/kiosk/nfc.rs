//! The libnfc reader (feature `nfc`) through the real libnfc driver,
//! answered by a PN532 emulator on a pseudo-terminal (the one the build
//! machine provides beside the repository): taps read by the kiosk, one
//! per presentation, recorded by the server.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use lectern_store::testkit::TestDb;
use serde_json::Value;

use super::{Hall, every_tap_once, hall};
use crate::kiosk;

both_backends!(cards_read_through_libnfc_are_recorded);

async fn cards_read_through_libnfc_are_recorded(db: TestDb) {
    let url = db.url.clone();
    let Hall {
        server,
        addr,
        admin,
        dir,
        data,
        ..
    } = hall(&url).await;
    // The roster, so that the kiosk names the teachers.
    let script = dir.path().join("none.txt");
    std::fs::write(&script, "").unwrap();
    let reader = format!("simulate:{}", script.display());
    let (status, _, err) = kiosk(&data, &["run", "--reader", &reader, "--until-synced"]).await;
    assert_eq!(status, 0, "{err}");

    let emulator = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/tools/pn532emu/pn532emu.py"
    );
    let mut emu = Command::new("python3")
        .args([emulator, "--stdin", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pn532emu (python3)");
    let mut pty = String::new();
    BufReader::new(emu.stdout.take().unwrap())
        .read_line(&mut pty)
        .unwrap();
    let pty = pty.trim().to_owned();
    assert!(pty.starts_with("/dev/"), "pn532emu printed {pty:?}");

    let mut reading = Command::new(crate::KIOSK)
        .arg("--data-dir")
        .arg(&data)
        .args([
            "run",
            "--reader",
            &format!("nfc:pn532_uart:{pty}:115200"),
            "--headless",
            "--debounce-seconds",
            "0",
        ])
        .env("LIBNFC_AUTO_SCAN", "false")
        .env("LECTERN_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lectern-kiosk");
    // The same card twice (it leaves the field in between), another, and
    // a card nobody holds.
    let mut actions = emu.stdin.take().unwrap();
    for action in [
        "tap 04A1B2C3D4E501",
        "sleep 0.5",
        "tap 04A1B2C3D4E501",
        "sleep 0.5",
        "tap 04A1B2C3D4E502",
        "sleep 0.5",
        "tap DEADBEEF",
    ] {
        writeln!(actions, "{action}").unwrap();
    }
    actions.flush().unwrap();
    let out = reading.stdout.take().unwrap();
    let lines = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || {
            BufReader::new(out)
                .lines()
                .take(4)
                .map(|l| serde_json::from_str::<Value>(&l.unwrap()).unwrap())
                .collect::<Vec<_>>()
        }),
    )
    .await
    .expect("four taps read within a minute")
    .unwrap();
    let seen: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["card"].as_str().unwrap(), l["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("04A1B2C3D4E501", "present"),
            ("04A1B2C3D4E501", "already_checked_in"),
            ("04A1B2C3D4E502", "present"),
            ("DEADBEEF", "unknown_card"),
        ]
    );
    assert_eq!(lines[0]["name"], "王小明");
    reading.kill().unwrap();
    reading.wait().unwrap();
    writeln!(actions, "quit").unwrap();
    drop(actions);
    emu.wait().unwrap();

    let (status, _, err) = kiosk(&data, &["sync"]).await;
    assert_eq!(status, 0, "{err}");
    assert_eq!(every_tap_once(&data, addr, &admin).await.len(), 4);
    server.stop().await;
}
