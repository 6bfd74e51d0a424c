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
    let other = another_process(&db, &store).await;
    other.erase_personal_key("P2").await.unwrap();
    let read = store.read_all(0, 10, None).await.unwrap();
    assert_eq!(read[0].payload_json().unwrap()["b_note"], json!(null));
    other.close().await;
    store.close().await;
}

both_backends!(processes_making_a_persons_first_key_agree_on_the_stored_one);

/// A person's first key is stored with the first event sealed under it. A
/// process that made another key for the same person is told which one the
/// table holds and seals its append again; one erased reads as erased.
async fn processes_making_a_persons_first_key_agree_on_the_stored_one(db: TestDb) {
    let options = || StoreOptions {
        personal: PersonalFields::new().declare("Note", "text", Subject::Field("p"), Erased::Text),
        ..StoreOptions::default()
    };
    let note =
        |p: &str, text: &str| NewEvent::new("Note", &json!({ "p": p, "text": text })).unwrap();
    let a = db.store_with(options()).await;
    let b = db.store_with(options()).await;
    a.append("n-1", ExpectedVersion::NoStream, vec![note("P1", "from a")])
        .await
        .unwrap();
    // `b` has no key of P1's in its cache: it makes one, and the writer
    // finds `a`'s stored.
    b.append("n-2", ExpectedVersion::NoStream, vec![note("P1", "from b")])
        .await
        .unwrap();
    // Many appends of this process at once about a new person: one key.
    let appends = (0..20).map(|n| {
        let a = a.clone();
        let event = note("P3", &format!("note {n}"));
        async move {
            a.append(format!("m-{n}"), ExpectedVersion::NoStream, vec![event])
                .await
        }
    });
    for result in futures_util::future::join_all(appends).await {
        result.unwrap();
    }
    // Where `b`'s writer stores new keys with the events in one round trip:
    // a head `b` knows no longer (`a` appended since) undoes the key of P5
    // with the events, and the append is made again; then, knowing the
    // head, `b` finds `a`'s key of P4 stored first, and nothing of its
    // first sealing is stored.
    for (store, stream, p, text) in [
        (&a, "n-4", "P4", "from a"),
        (&b, "n-5", "P5", "from b about P5"),
        (&b, "n-6", "P4", "from b"),
        (&a, "n-7", "P4", "again from a"),
    ] {
        store
            .append(stream, ExpectedVersion::NoStream, vec![note(p, text)])
            .await
            .unwrap();
    }
    let fresh = db.store_with(options()).await;
    for store in [&a, &b, &fresh] {
        let texts: Vec<String> = store
            .read_all(0, 100, None)
            .await
            .unwrap()
            .iter()
            .map(|e| {
                e.payload_json().unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(texts.len(), 26);
        assert_eq!(texts[..2], ["from a", "from b"]);
        assert!(
            texts[2..22].iter().all(|t| t.starts_with("note ")),
            "{texts:?}"
        );
        assert_eq!(
            texts[22..],
            ["from a", "from b about P5", "from b", "again from a"]
        );
    }
    assert!(fresh.verify().await.unwrap().is_intact());

    // Erased by `a` before `b` knew of P2: `b`'s append is refused, and
    // nothing of it is stored.
    a.erase_personal_key("P2").await.unwrap();
    let err = b
        .append(
            "n-3",
            ExpectedVersion::NoStream,
            vec![note("P2", "too late")],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidAppend(m) if m.contains("personal data of P2 was erased")),
        "{err}"
    );
    assert_eq!(b.head().await.unwrap(), 26);
    for store in [a, b, fresh] {
        store.close().await;
    }
}

both_backends!(an_event_naming_many_persons_is_sealed_for_each);

async fn an_event_naming_many_persons_is_sealed_for_each(db: TestDb) {
    const WHO: [&str; 10] = ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"];
    const NOTES: [&str; 10] = ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"];
    let fields = WHO
        .iter()
        .zip(NOTES)
        .fold(PersonalFields::new(), |f, (who, note)| {
            f.declare("Many", note, Subject::Field(who), Erased::Text)
        });
    let store = db
        .store_with(StoreOptions {
            personal: fields,
            ..StoreOptions::default()
        })
        .await;
    let mut payload = serde_json::Map::new();
    for (n, (who, note)) in WHO.iter().zip(NOTES).enumerate() {
        payload.insert((*who).into(), json!(format!("S{n}")));
        payload.insert(note.into(), json!(format!("private text {n}")));
    }
    let payload = serde_json::Value::Object(payload);
    store
        .append(
            "many-1",
            ExpectedVersion::NoStream,
            vec![NewEvent::new("Many", &payload).unwrap()],
        )
        .await
        .unwrap();
    let stored = &store.read_stored(0, 1).await.unwrap()[0].payload;
    assert!(!stored.contains("private text"), "{stored}");
    assert_eq!(stored.matches("lectern-sealed:v1:").count(), 10);
    let read = store.read_all(0, 1, None).await.unwrap();
    assert_eq!(read[0].payload_json().unwrap(), payload);
    // A process that has none of the keys yet finds them all.
    let fresh = another_process(&db, &store).await;
    let read = fresh.read_all(0, 1, None).await.unwrap();
    assert_eq!(read[0].payload_json().unwrap(), payload);
    fresh.close().await;
    store.close().await;
}

both_backends!(a_large_batch_is_sealed_whole_whether_its_persons_have_keys_or_not);

/// Batches of many appends: their persons with keys and without (each gets
/// one, once), a person erased refusing the whole batch, and every note
/// sealed and read back.
async fn a_large_batch_is_sealed_whole_whether_its_persons_have_keys_or_not(db: TestDb) {
    let store = db
        .store_with(StoreOptions {
            personal: PersonalFields::new().declare(
                "Note",
                "text",
                Subject::Field("p"),
                Erased::Text,
            ),
            ..StoreOptions::default()
        })
        .await;
    let note =
        |p: &str, text: &str| NewEvent::new("Note", &json!({ "p": p, "text": text })).unwrap();
    let batch = |from: usize, persons: usize| -> Vec<lectern_store::AppendRequest> {
        (from..from + 600)
            .map(|n| {
                lectern_store::AppendRequest::new(
                    format!("s-{n}"),
                    ExpectedVersion::NoStream,
                    vec![note(&format!("P{}", n % persons), &format!("note {n}"))],
                )
            })
            .collect()
    };
    // P0..P9 have keys after the first batch; the second names P0..P19.
    store.submit_all(batch(0, 10)).await.unwrap();
    store.submit_all(batch(600, 20)).await.unwrap();
    let stored = store.read_stored(0, 2000).await.unwrap();
    assert_eq!(stored.len(), 1200);
    assert!(
        stored
            .iter()
            .all(|e| !e.payload.contains("note ") && e.payload.contains("lectern-sealed:v1:text:")),
        "a note was stored in the clear"
    );
    let fresh = another_process(&db, &store).await;
    for reader in [&store, &fresh] {
        let read = reader.read_all(0, 2000, None).await.unwrap();
        for (n, e) in read.iter().enumerate() {
            assert_eq!(
                e.payload_json().unwrap(),
                json!({ "p": format!("P{}", n % if n < 600 { 10 } else { 20 }), "text": format!("note {n}") })
            );
        }
    }
    for p in 0..20 {
        assert!(store.has_personal_key(&format!("P{p}")).await.unwrap());
    }
    // One erased person in a large batch refuses all of it.
    store.erase_personal_key("P13").await.unwrap();
    let err = store.submit_all(batch(1200, 20)).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidAppend(m) if m.contains("personal data of P13 was erased")),
        "{err}"
    );
    assert_eq!(store.head().await.unwrap(), 1200);
    fresh.close().await;
    store.close().await;
}

/// The same database opened by another process with the same personal
/// fields (its own key cache).
async fn another_process(db: &TestDb, store: &lectern_store::Store) -> lectern_store::Store {
    db.store_with(StoreOptions {
        personal: store.personal_fields().clone(),
        ..StoreOptions::default()
    })
    .await
}
