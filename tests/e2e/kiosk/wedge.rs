//! A keyboard-wedge reader typing into the kiosk's stdin: decimal numbers
//! in the reader's byte order, with a line that is not a card skipped.

use lectern_store::testkit::TestDb;
use serde_json::Value;

use super::{Hall, every_tap_once, hall};
use crate::{kiosk, kiosk_with_input};

both_backends!(a_wedge_reader_types_cards_the_kiosk_records);

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
