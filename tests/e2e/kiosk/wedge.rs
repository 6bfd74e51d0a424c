//! A keyboard-wedge reader typing into the kiosk's stdin: decimal numbers
//! in the reader's byte order, with a line that is not a card skipped.

use lectern_store::testkit::TestDb;
use serde_json::Value;

use super::{Hall, every_tap_once, hall};
use crate::{kiosk, kiosk_with_input};

both_backends!(
    a_wedge_reader_types_cards_the_kiosk_records,
    a_wedge_kiosk_stops_on_a_signal_with_its_reader_open
);

async fn a_wedge_reader_types_cards_the_kiosk_records(db: TestDb) {
    let url = db.url.clone();
    let Hall {
        server,
        addr,
        admin,
        dir: _dir, // the kiosk's data lives in it until the test ends
        data,
        ..
    } = hall(&url).await;

    // 04A1B2C3D4E501 typed least significant byte first, as many cheap
    // readers do; then something that is not a card; then 04A1B2C3D4E502.
    let typed = "534176955801860\nhello\n\n815651932512516\n";
    let (status, out, err) = kiosk_with_input(
        &data,
        &[
            "run",
            "--reader",
            "wedge",
            "--wedge-format",
            "7-lsb",
            "--headless",
            "--until-synced",
        ],
        typed,
    )
    .await;
    assert_eq!(status, 0, "{err}");
    assert!(
        err.contains("\"hello\""),
        "the skipped line is named: {err}"
    );
    let cards: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["card"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(cards, ["04A1B2C3D4E501", "04A1B2C3D4E502"]);
    assert_eq!(every_tap_once(&data, addr, &admin).await.len(), 2);

    let (status, _, err) = kiosk(
        &data,
        &["run", "--reader", "wedge", "--wedge-format", "5-lsb"],
    )
    .await;
    assert_ne!(status, 0);
    assert!(err.contains("wedge format \"5-lsb\""), "{err}");
    server.stop().await;
}

/// Ctrl-C (SIGINT) and SIGTERM (a service manager stopping it) end a
/// keyboard-wedge kiosk at once and cleanly, though its reader, the
/// terminal, never closes; each tap it took is in its queue or the log.
async fn a_wedge_kiosk_stops_on_a_signal_with_its_reader_open(db: TestDb) {
    let url = db.url.clone();
    let Hall {
        server,
        dir: _dir,
        data,
        ..
    } = hall(&url).await;
    for (signal, counter) in [("-INT", 1), ("-TERM", 2)] {
        let dir = data.clone();
        let status = tokio::task::spawn_blocking(move || stop_with(signal, &dir))
            .await
            .unwrap();
        assert!(status.success(), "{signal}: {status:?}");
        let (code, out, err) = kiosk(&data, &["status"]).await;
        assert_eq!(code, 0, "{err}");
        let last: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(last["last_counter"], counter, "{last}");
    }
    server.stop().await;
}

/// Runs a wedge kiosk, types a card, waits for its line, sends `signal`
/// and waits (at most 20 s) for it to end, its stdin still open.
fn stop_with(signal: &str, data: &std::path::Path) -> std::process::ExitStatus {
    use std::io::{BufRead, Write};
    let mut child = std::process::Command::new(crate::KIOSK)
        .arg("--data-dir")
        .arg(data)
        .args([
            "run",
            "--reader",
            "wedge",
            "--wedge-format",
            "7-lsb",
            "--headless",
        ])
        .env("LECTERN_LOG", "error")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start lectern-kiosk");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"534176955801860\n").unwrap();
    stdin.flush().unwrap();
    // The tap's line says the kiosk is reading; stdin stays open.
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("04A1B2C3D4E501"), "{line}");
    let sent = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    let status = wait
        .recv_timeout(std::time::Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("the kiosk stops on {signal} though stdin is open"))
        .unwrap();
    drop(stdin);
    status
}
