//! Personal fields: sealed before hashing, opened on read, read as erased
//! once their person's key is destroyed; a retried append seals to the same
//! bytes; the sealed prefix is refused in what is appended unsealed.

use lectern_store::personal::{Erased, Subject};
use lectern_store::{Error, ExpectedVersion, NewEvent, PersonalFields, StoreOptions};
use serde_json::json;

use crate::support::TestDb;

both_backends!(an_event_of_two_persons_is_sealed_and_erased_field_by_field);

async fn an_event_of_two_persons_is_sealed_and_erased_field_by_field(db: TestDb) {
    let store = db
        .store_with(StoreOptions {
            personal: PersonalFields::new()
                .declare("Pair", "a_note", Subject::Field("a"), Erased::Text)
                .declare("Pair", "b_note", Subject::Field("b"), Erased::Null),
            ..StoreOptions::default()
        })
        .await;
    let payload = json!({ "a": "P1", "b": "P2", "a_note": "secret A", "b_note": ["secret", "B"] });
    let event = NewEvent::new("Pair", &payload).unwrap();
    store
        .append("pair-1", ExpectedVersion::NoStream, vec![event.clone()])
        .await
        .unwrap();
    let stored = store.read_stored(0, 10).await.unwrap();
    assert!(
        !stored[0].payload.contains("secret"),
        "{}",
        stored[0].payload
    );
    assert!(stored[0].payload.contains("lectern-sealed:v1:b_note:P2:"));
    let read = store.read_all(0, 10, None).await.unwrap();
    assert_eq!(read[0].payload_json().unwrap(), payload);
    assert_eq!(read[0].hash, stored[0].hash);

    // A retry of the same append is recognised: sealed to the same bytes.
    store
        .append("pair-1", ExpectedVersion::NoStream, vec![event])
        .await
        .unwrap();
    assert_eq!(store.head().await.unwrap(), 1);

    assert!(store.erase_personal_key("P1").await.unwrap());
    assert!(!store.erase_personal_key("P1").await.unwrap(), "once");
    let read = store.read_all(0, 10, None).await.unwrap();
    assert_eq!(
        read[0].payload_json().unwrap(),
        json!({ "a": "P1", "b": "P2", "a_note": "[erased]", "b_note": ["secret", "B"] })
    );
    assert!(store.verify().await.unwrap().is_intact());

    // Nothing more about P1's personal data can be recorded; the prefix is
    // refused where it was not sealed.
    let more = NewEvent::new("Pair", &json!({ "a": "P1", "b": "P2", "a_note": "x" })).unwrap();
    let err = store
        .append("pair-2", ExpectedVersion::Any, vec![more])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidAppend(m) if m.contains("personal data of P1 was erased")),
        "{err}"
    );
    let forged = NewEvent::new(
        "Pair",
        &json!({ "a": "P3", "b": "P2", "c": "lectern-sealed:v1:a_note:P3:AAAA" }),
    )
    .unwrap();
    let err = store
        .append("pair-3", ExpectedVersion::Any, vec![forged])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("is kept for sealed personal data"),
        "{err}"
    );
    // Another process's erasure reaches this one's reads.
    let other = db
        .store_with(StoreOptions {
            personal: store.personal_fields().clone(),
            ..StoreOptions::default()
        })
        .await;
    other.erase_personal_key("P2").await.unwrap();
    let read = store.read_all(0, 10, None).await.unwrap();
    assert_eq!(read[0].payload_json().unwrap()["b_note"], json!(null));
    other.close().await;
    store.close().await;
}
