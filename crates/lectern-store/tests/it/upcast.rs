//! Point 10: old payloads are upcast on read; stored bytes never change.

use lectern_store::{ExpectedVersion, NewEvent, StoreOptions, Upcasters};
use serde_json::json;

use crate::support::TestDb;

both_backends!(old_payloads_are_upcast_on_read);

async fn old_payloads_are_upcast_on_read(db: TestDb) {
    let plain = db.store().await;
    let v1 = NewEvent::new("CardTapped", &json!({"card": "04a1"})).unwrap();
    let v3 = NewEvent::new(
        "CardTapped",
        &json!({"card_uid": "04A1", "reader": "kiosk-1"}),
    )
    .unwrap()
    .with_schema_version(3);
    plain
        .append("kiosk-1", ExpectedVersion::NoStream, vec![v1, v3])
        .await
        .unwrap();
    let before = plain.head_hash().await.unwrap();

    let upcasters = Upcasters::new()
        .register("CardTapped", 1, |mut v| {
            let card = v["card"].as_str().ok_or("no card")?.to_uppercase();
            v = json!({ "card_uid": card });
            Ok(v)
        })
        .register("CardTapped", 2, |mut v| {
            v["reader"] = json!("unknown");
            Ok(v)
        });
    let store = db
        .store_with(StoreOptions {
            upcasters,
            ..StoreOptions::default()
        })
        .await;
    let read = store.read_stream("kiosk-1", 1, 10).await.unwrap();
    assert_eq!(read[0].schema_version, 3);
    assert_eq!(
        read[0].payload_json().unwrap(),
        json!({"card_uid": "04A1", "reader": "unknown"})
    );
    assert_eq!(read[1].schema_version, 3);
    assert_eq!(
        read[1].payload_json().unwrap(),
        json!({"card_uid": "04A1", "reader": "kiosk-1"})
    );

    // The stored bytes, and so the chain, are untouched.
    let raw = plain.read_stream("kiosk-1", 1, 10).await.unwrap();
    assert_eq!(raw[0].payload, r#"{"card":"04a1"}"#);
    assert_eq!(raw[0].schema_version, 1);
    assert_eq!(store.head_hash().await.unwrap(), before);
    assert!(store.verify().await.unwrap().is_intact());

    // An upcaster that refuses names the event.
    let failing = db
        .store_with(StoreOptions {
            upcasters: Upcasters::new()
                .register("CardTapped", 1, |_| Err("card missing".to_owned())),
            ..StoreOptions::default()
        })
        .await;
    let err = failing.read_all(0, 10, None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot upcast CardTapped v1 at position 1: card missing"
    );
}
