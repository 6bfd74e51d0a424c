//! Taps made while the server is down.

use serde_json::{Value, json};

use lectern_server::config::ServeArgs;
use lectern_store::testkit::TestDb;

use super::{Hall, SESSION, every_tap_once, hall, status};
use crate::{TestApp, kiosk, ok};

both_backends!(
    taps_made_while_the_server_is_down_are_recorded_once,
    a_kiosk_registered_again_says_so_and_keeps_its_taps
);

async fn taps_made_while_the_server_is_down_are_recorded_once(db: TestDb) {
    let url = db.url.clone();
    let Hall {
        server,
        addr,
        admin,
        code,
        dir,
        data,
    } = hall(&url).await;
    let code = code.as_str();
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
    let server = TestApp::start_with(&ServeArgs {
        listen: Some(addr),
        ..TestApp::args(&url)
    })
    .await;
    let (status_code, _, err) = kiosk(&data, &["sync"]).await;
    assert_eq!(status_code, 0, "{err}");
    let after = status(&data).await;
    assert_eq!(after["backlog"], 0);
    // The sync took a sync point of this boot, kept in the kiosk's database.
    assert_eq!(
        after["clock"]["sync_point"]["boot"], after["clock"]["boot"],
        "{after}"
    );
    assert!(
        after["clock"]["sync_point"]["server_time"].is_string(),
        "{after}"
    );
    let (status_code, _, err) = kiosk(&data, &["sync"]).await;
    assert_eq!(status_code, 0, "{err}");
    assert_eq!(every_tap_once(&data, addr, &admin).await.len(), 501);
    let shown = ok(
        addr,
        &admin,
        "query($id: UUID!) { session(id: $id) { present } }",
        json!({ "id": SESSION }),
    )
    .await;
    assert_eq!(shown["session"]["present"], 2, "{shown}");
    server.stop().await;
}

/// An administrator registers the kiosk again (a replaced device): the
/// old box is told plainly, by `run --until-synced` and by `sync`, to enrol
/// with the new code instead of seeming offline; its tap waits in the
/// queue and, once the box is enrolled again, reaches the log (signed by
/// its old key, which still verifies it).
async fn a_kiosk_registered_again_says_so_and_keeps_its_taps(db: TestDb) {
    let url = db.url.clone();
    let Hall {
        server,
        addr,
        admin,
        dir,
        data,
        ..
    } = hall(&url).await;
    let again = ok(
        addr,
        &admin,
        "mutation { registerKiosk(id: \"hall-a-1\", venue: \"hall-a\") { code } }",
        json!({}),
    )
    .await;
    let code = again["registerKiosk"]["code"].as_str().unwrap().to_owned();

    let script = dir.path().join("one.txt");
    std::fs::write(&script, "tap 04A1B2C3D4E501\n").unwrap();
    let reader = format!("simulate:{}", script.display());
    let (status_code, out, err) = kiosk(
        &data,
        &["run", "--reader", &reader, "--headless", "--until-synced"],
    )
    .await;
    assert_ne!(status_code, 0, "{out}{err}");
    assert!(
        err.contains("this kiosk was registered again: enrol it with the new code")
            && err.contains("1 taps are kept until then"),
        "{err}"
    );
    let (status_code, _, err) = kiosk(&data, &["sync"]).await;
    assert_ne!(status_code, 0);
    assert!(err.contains("was registered again"), "{err}");
    assert_eq!(status(&data).await["backlog"], 1);

    super::enrol(&data, addr, &code).await;
    let (status_code, _, err) = kiosk(&data, &["sync"]).await;
    assert_eq!(status_code, 0, "{err}");
    assert_eq!(status(&data).await["backlog"], 0);
    let r = ok(
        addr,
        &admin,
        "{ kiosks { taps lastCounter missing } }",
        json!({}),
    )
    .await;
    assert_eq!(
        r["kiosks"][0],
        json!({ "taps": 1, "lastCounter": null, "missing": 0 }),
        "the tap continues the first enrolment's sequence: {r}"
    );
    server.stop().await;
}
