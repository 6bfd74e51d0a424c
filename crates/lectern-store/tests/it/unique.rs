//! Point 9: keys unique across streams, claimed and released with appends.

use lectern_store::{AppendRequest, Error, ExpectedVersion, UniqueKey};

use crate::support::{TestDb, ev};

both_backends!(a_key_has_one_owner, concurrent_claims_have_one_winner);

fn staff(no: &str) -> UniqueKey {
    UniqueKey::new("staff_no", no)
}

async fn a_key_has_one_owner(db: TestDb) {
    let store = db.store().await;
    store
        .submit(
            AppendRequest::new(
                "person-1",
                ExpectedVersion::NoStream,
                vec![ev("Registered", 1)],
            )
            .claim(staff("2005001")),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .key_owner("staff_no", "2005001")
            .await
            .unwrap()
            .as_deref(),
        Some("person-1")
    );

    let err = store
        .submit(
            AppendRequest::new(
                "person-2",
                ExpectedVersion::NoStream,
                vec![ev("Registered", 2)],
            )
            .claim(staff("2005001")),
        )
        .await
        .unwrap_err();
    match &err {
        Error::KeyTaken {
            scope,
            key,
            owner_stream,
        } => {
            assert_eq!(
                (scope.as_str(), key.as_str(), owner_stream.as_str()),
                ("staff_no", "2005001", "person-1")
            )
        }
        other => panic!("expected KeyTaken, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "staff_no \"2005001\" is already claimed by stream \"person-1\""
    );
    assert_eq!(
        store.head().await.unwrap(),
        1,
        "the refused append wrote nothing"
    );

    // Only the holder can release.
    let err = store
        .submit(
            AppendRequest::new("person-2", ExpectedVersion::Any, vec![ev("Left", 2)])
                .release(staff("2005001")),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::KeyNotHeld { .. }), "{err:?}");

    // A card revoked by its holder can be issued to someone else.
    store
        .submit(
            AppendRequest::new(
                "person-1",
                ExpectedVersion::Exact(1),
                vec![ev("Revoked", 1)],
            )
            .release(staff("2005001")),
        )
        .await
        .unwrap();
    assert_eq!(store.key_owner("staff_no", "2005001").await.unwrap(), None);
    store
        .submit(
            AppendRequest::new(
                "person-2",
                ExpectedVersion::NoStream,
                vec![ev("Registered", 2)],
            )
            .claim(staff("2005001")),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .key_owner("staff_no", "2005001")
            .await
            .unwrap()
            .as_deref(),
        Some("person-2")
    );

    // Claiming a key one already holds is a no-op.
    store
        .submit(
            AppendRequest::new("person-2", ExpectedVersion::Any, vec![ev("Touched", 2)])
                .claim(staff("2005001")),
        )
        .await
        .unwrap();
    // Release and claim by another in one transaction.
    store
        .submit_all(vec![
            AppendRequest::new("person-2", ExpectedVersion::Any, vec![ev("Revoked", 2)])
                .release(staff("2005001")),
            AppendRequest::new("person-3", ExpectedVersion::Any, vec![ev("Issued", 3)])
                .claim(staff("2005001")),
        ])
        .await
        .unwrap();
    assert_eq!(
        store
            .key_owner("staff_no", "2005001")
            .await
            .unwrap()
            .as_deref(),
        Some("person-3")
    );
    assert!(store.verify().await.unwrap().is_intact());
}

async fn concurrent_claims_have_one_winner(db: TestDb) {
    // Two stores (two pools, as two server processes) race for each key.
    let a = db.store().await;
    let b = db.store().await;
    let mut tasks = Vec::new();
    for i in 0..40u64 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let card = UniqueKey::new("card_uid", format!("04A1B2C{}", i % 4));
            store
                .submit(
                    AppendRequest::new(
                        format!("person-{i}"),
                        ExpectedVersion::NoStream,
                        vec![ev("CardIssued", i)],
                    )
                    .claim(card),
                )
                .await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(Error::KeyTaken { .. }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(won, 4, "one winner per key");
    assert_eq!(a.head().await.unwrap(), 4);
    assert!(a.verify().await.unwrap().is_intact());
}
