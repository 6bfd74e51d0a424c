//! Points 5 and 6: the hash chain names the first altered position, and the
//! database refuses UPDATE and DELETE.

use lectern_store::{GENESIS, Problem, Store};

use crate::support::{TestDb, fill};

both_backends!(
    an_untouched_log_verifies,
    an_edited_payload_is_found,
    a_deleted_row_is_found,
    swapped_rows_are_found,
    the_database_refuses_update_and_delete,
);

/// SQL that lifts the append-only guard, as a superuser would.
fn unguard(db: &TestDb) -> &'static str {
    if db.is_postgres() {
        "ALTER TABLE events DISABLE TRIGGER USER;"
    } else {
        "DROP TRIGGER events_refuse_update; DROP TRIGGER events_refuse_delete;"
    }
}

async fn ten(db: &TestDb) -> Store {
    let store = db.store().await;
    fill(&store, "P1", 5).await;
    fill(&store, "P2", 5).await;
    store
}

async fn an_untouched_log_verifies(db: TestDb) {
    let store = db.store().await;
    let empty = store.verify().await.unwrap();
    assert!(empty.is_intact());
    assert_eq!((empty.checked, empty.head), (0, None));

    fill(&store, "P1", 10).await;
    let v = store.verify().await.unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.checked, 10);
    let (head, hash) = store.head_hash().await.unwrap();
    assert_eq!(v.head, Some((head, hash)));
    let events = store.read_all(0, 100, None).await.unwrap();
    assert_eq!(events[0].prev_hash, GENESIS);
    for pair in events.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    for e in &events {
        assert_eq!(e.computed_hash(), e.hash);
    }
}

async fn an_edited_payload_is_found(db: TestDb) {
    let store = ten(&db).await;
    let sql = format!(
        "{} UPDATE events SET payload = '{{\"n\":99}}' WHERE position = 4;",
        unguard(&db)
    );
    db.raw(&sql).await.unwrap();
    let v = store.verify().await.unwrap();
    let bad = v.first_bad.expect("tampering found");
    assert_eq!((bad.position, bad.problem), (4, Problem::HashMismatch));
    assert_eq!(v.checked, 3);
    assert_eq!(
        bad.to_string(),
        "event at position 4 was altered (its hash does not match its contents)"
    );
}

async fn a_deleted_row_is_found(db: TestDb) {
    let store = ten(&db).await;
    db.raw(&format!(
        "{} DELETE FROM events WHERE position = 6;",
        unguard(&db)
    ))
    .await
    .unwrap();
    let bad = store
        .verify()
        .await
        .unwrap()
        .first_bad
        .expect("deletion found");
    assert_eq!((bad.position, bad.problem), (6, Problem::Missing));
}

async fn swapped_rows_are_found(db: TestDb) {
    let store = ten(&db).await;
    // The two rows trade places: each keeps its own (valid) hash.
    db.raw(&format!(
        "{} UPDATE events SET position = 1000003 WHERE position = 3; \
         UPDATE events SET position = 3 WHERE position = 7; \
         UPDATE events SET position = 7 WHERE position = 1000003;",
        unguard(&db)
    ))
    .await
    .unwrap();
    let bad = store.verify().await.unwrap().first_bad.expect("swap found");
    assert_eq!(bad.position, 3);
    assert_eq!(bad.problem, Problem::PrevHashMismatch);
}

async fn the_database_refuses_update_and_delete(db: TestDb) {
    let store = ten(&db).await;
    for sql in [
        "UPDATE events SET payload = '{}' WHERE position = 2",
        "UPDATE events SET stream_version = stream_version",
        "DELETE FROM events WHERE position = 10",
        "DELETE FROM events",
    ] {
        let err = db.raw(sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    if db.is_postgres() {
        let err = db.raw("TRUNCATE events").await.expect_err("truncate");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    let v = store.verify().await.unwrap();
    assert!(v.is_intact());
    assert_eq!(v.checked, 10);
}
