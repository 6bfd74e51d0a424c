//! Points 1, 2 and 4: expected versions, idempotency, group commit.

use std::collections::HashSet;

use lectern_store::{AppendRequest, Error, ExpectedVersion, NewEvent};
use uuid::Uuid;

use crate::support::{TestDb, ev};

both_backends!(
    expected_versions_are_checked,
    a_conflict_writes_nothing,
    reappending_an_event_id_returns_the_original_positions,
    reusing_an_event_id_with_other_content_is_an_error,
    concurrent_appends_share_a_commit_and_fail_alone,
    submit_all_is_atomic,
    invalid_appends_name_the_value,
    text_a_backend_cannot_hold_is_refused_on_both,
);

async fn expected_versions_are_checked(db: TestDb) {
    let store = db.store().await;
    let a = store
        .append(
            "P1",
            ExpectedVersion::NoStream,
            vec![ev("A", 1), ev("A", 2)],
        )
        .await
        .unwrap();
    assert_eq!(
        (a.first_position, a.last_position, a.stream_version),
        (1, 2, 2)
    );
    assert!(!a.duplicate);

    let err = store
        .append("P1", ExpectedVersion::NoStream, vec![ev("A", 3)])
        .await
        .unwrap_err();
    match &err {
        Error::WrongExpectedVersion {
            stream_id,
            expected,
            actual,
        } => {
            assert_eq!(stream_id, "P1");
            assert_eq!(*expected, ExpectedVersion::NoStream);
            assert_eq!(*actual, Some(2));
        }
        other => panic!("expected a version conflict, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "stream \"P1\": expected no stream, but it is at version 2"
    );
    assert!(err.is_conflict());

    let err = store
        .append("P1", ExpectedVersion::Exact(1), vec![ev("A", 3)])
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("expected version 1, but it is at version 2"),
        "{err}"
    );

    let err = store
        .append("P2", ExpectedVersion::Exact(3), vec![ev("A", 3)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::WrongExpectedVersion { actual: None, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("but it does not exist"), "{err}");

    let b = store
        .append("P1", ExpectedVersion::Exact(2), vec![ev("A", 3)])
        .await
        .unwrap();
    assert_eq!((b.first_position, b.stream_version), (3, 3));
    let c = store
        .append("P1", ExpectedVersion::Any, vec![ev("A", 4)])
        .await
        .unwrap();
    assert_eq!((c.first_position, c.stream_version), (4, 4));
    let d = store
        .append("P2", ExpectedVersion::Any, vec![ev("B", 1)])
        .await
        .unwrap();
    assert_eq!((d.first_position, d.stream_version), (5, 1));
}

async fn a_conflict_writes_nothing(db: TestDb) {
    let store = db.store().await;
    store
        .append("P1", ExpectedVersion::NoStream, vec![ev("A", 1)])
        .await
        .unwrap();
    for _ in 0..3 {
        store
            .append(
                "P1",
                ExpectedVersion::Exact(7),
                vec![ev("A", 2), ev("A", 3)],
            )
            .await
            .unwrap_err();
    }
    assert_eq!(store.head().await.unwrap(), 1);
    assert_eq!(store.read_stream("P1", 1, 100).await.unwrap().len(), 1);
    // A fresh store (cold cache) sees the same.
    let again = db.store().await;
    assert_eq!(again.head().await.unwrap(), 1);
    let next = again
        .append("P1", ExpectedVersion::Exact(1), vec![ev("A", 2)])
        .await
        .unwrap();
    assert_eq!(next.first_position, 2);
    assert!(again.verify().await.unwrap().is_intact());
}

async fn reappending_an_event_id_returns_the_original_positions(db: TestDb) {
    let store = db.store().await;
    store
        .append("P0", ExpectedVersion::Any, vec![ev("X", 0)])
        .await
        .unwrap();
    let events = vec![ev("A", 1), ev("A", 2)];
    let first = store
        .append("P1", ExpectedVersion::NoStream, events.clone())
        .await
        .unwrap();
    assert_eq!((first.first_position, first.last_position), (2, 3));
    store
        .append("P0", ExpectedVersion::Any, vec![ev("X", 1)])
        .await
        .unwrap();

    // The retry carries a stale expected version, as a retry would.
    let again = store
        .append("P1", ExpectedVersion::NoStream, events.clone())
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (
            again.first_position,
            again.last_position,
            again.stream_version
        ),
        (2, 3, 2)
    );
    assert_eq!(store.head().await.unwrap(), 4);

    // From a store that has never seen the ids (the careful path) as well.
    let other = db.store().await;
    let third = other
        .append("P1", ExpectedVersion::Any, events)
        .await
        .unwrap();
    assert!(third.duplicate);
    assert_eq!(third.first_position, 2);
    assert_eq!(other.head().await.unwrap(), 4);
    assert!(store.verify().await.unwrap().is_intact());
}

async fn reusing_an_event_id_with_other_content_is_an_error(db: TestDb) {
    let store = db.store().await;
    let id = Uuid::now_v7();
    let original = NewEvent::new("CardTapped", &serde_json::json!({"card": "04A1"}))
        .unwrap()
        .with_id(id);
    store
        .append("K1", ExpectedVersion::Any, vec![original])
        .await
        .unwrap();

    let forged = NewEvent::new("CardTapped", &serde_json::json!({"card": "FFFF"}))
        .unwrap()
        .with_id(id);
    let err = store
        .append("K1", ExpectedVersion::Any, vec![forged.clone()])
        .await
        .unwrap_err();
    match &err {
        Error::EventIdReused {
            event_id, position, ..
        } => assert_eq!((*event_id, *position), (id, 1)),
        other => panic!("expected EventIdReused, got {other:?}"),
    }
    assert!(err.to_string().contains(&id.to_string()), "{err}");

    // Same payload on another stream is a reuse too.
    let moved = NewEvent::new("CardTapped", &serde_json::json!({"card": "04A1"}))
        .unwrap()
        .with_id(id);
    let err = store
        .append("K2", ExpectedVersion::Any, vec![moved])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EventIdReused { .. }), "{err:?}");

    // Part stored, part new: refused as a whole.
    let err = store
        .append("K1", ExpectedVersion::Any, vec![ev("B", 1), forged])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EventIdReused { .. }), "{err:?}");
    assert_eq!(store.head().await.unwrap(), 1);
}

async fn concurrent_appends_share_a_commit_and_fail_alone(db: TestDb) {
    let store = db.store().await;
    store
        .append("S-bad", ExpectedVersion::NoStream, vec![ev("A", 0)])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..64u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            if i % 8 == 7 {
                // Wrong on purpose: the stream exists.
                store
                    .append("S-bad", ExpectedVersion::NoStream, vec![ev("A", i)])
                    .await
            } else {
                store
                    .append(format!("S{i}"), ExpectedVersion::NoStream, vec![ev("A", i)])
                    .await
            }
        }));
    }
    let mut ok = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(Error::WrongExpectedVersion { .. }) => conflicts += 1,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!((ok, conflicts), (56, 8));
    let all = store.read_all(0, 1000, None).await.unwrap();
    assert_eq!(all.len(), 57);
    // Events of one group commit share their recorded_at: fewer commits than appends.
    let commits: HashSet<_> = all.iter().skip(1).map(|e| e.recorded_at).collect();
    assert!(
        commits.len() < 56,
        "{} commits for 56 appends: no batching",
        commits.len()
    );
    assert!(store.verify().await.unwrap().is_intact());
}

async fn submit_all_is_atomic(db: TestDb) {
    let store = db.store().await;
    store
        .append("B", ExpectedVersion::NoStream, vec![ev("A", 0)])
        .await
        .unwrap();
    let err = store
        .submit_all(vec![
            AppendRequest::new("A", ExpectedVersion::NoStream, vec![ev("A", 1)]),
            AppendRequest::new("B", ExpectedVersion::NoStream, vec![ev("A", 2)]),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WrongExpectedVersion { ref stream_id, .. } if stream_id == "B"));
    assert_eq!(store.head().await.unwrap(), 1);

    let done = store
        .submit_all(vec![
            AppendRequest::new("A", ExpectedVersion::NoStream, vec![ev("A", 1)]),
            AppendRequest::new("A", ExpectedVersion::Exact(1), vec![ev("A", 2)]),
            AppendRequest::new("B", ExpectedVersion::Exact(1), vec![ev("A", 3)]),
        ])
        .await
        .unwrap();
    let got: Vec<_> = done
        .iter()
        .map(|a| (a.first_position, a.stream_version))
        .collect();
    assert_eq!(got, vec![(2, 1), (3, 2), (4, 2)]);
}

async fn invalid_appends_name_the_value(db: TestDb) {
    let store = db.store().await;
    let err = store
        .append(" ", ExpectedVersion::Any, vec![ev("A", 1)])
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "invalid append: stream id \" \" is empty");
    let err = store
        .append("P", ExpectedVersion::Any, vec![])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid append: append to stream \"P\" has no events"
    );
    let err = NewEvent::from_json("A", "{not json").unwrap_err();
    assert!(err.to_string().contains("\"{not json\""), "{err}");
    let e = ev("A", 1);
    let err = store
        .append("P", ExpectedVersion::Any, vec![e.clone(), e.clone()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&e.event_id().to_string()), "{err}");
    assert_eq!(store.head().await.unwrap(), 0);
}

/// PostgreSQL's text and jsonb hold no NUL; SQLite's do. Both refuse it, so
/// a log never holds an event one backend could not have stored; an
/// escaped backslash before `u0000` is ordinary text and is stored.
async fn text_a_backend_cannot_hold_is_refused_on_both(db: TestDb) {
    let store = db.store().await;
    let nul = serde_json::json!({ "evidence": "a\u{0}b" });
    let e = NewEvent::new("StudyTaskCompleted", &nul).unwrap();
    let err = store
        .append("task-1", ExpectedVersion::Any, vec![e])
        .await
        .unwrap_err();
    assert!(
        matches!(err, lectern_store::Error::Unstorable { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "append to stream \"task-1\": the payload of a StudyTaskCompleted event holds a NUL \
         character (U+0000), which the event log does not store"
    );
    let err = store
        .append("task-\u{0}", ExpectedVersion::Any, vec![ev("A", 1)])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("the stream id"), "{err}");
    let meta = lectern_store::Metadata {
        actor: Some("a\u{0}".into()),
        ..lectern_store::Metadata::default()
    };
    let err = store
        .append(
            "P",
            ExpectedVersion::Any,
            vec![ev("A", 1).with_metadata(&meta)],
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("the metadata of a A event"),
        "{err}"
    );
    assert_eq!(store.head().await.unwrap(), 0, "nothing was written");
    // A backslash followed by "u0000" is text, not a NUL.
    let text = serde_json::json!({ "evidence": "C:\\u0000\\path" });
    store
        .append(
            "P",
            ExpectedVersion::Any,
            vec![NewEvent::new("A", &text).unwrap()],
        )
        .await
        .unwrap();
    let read = store.read_all(0, 10, None).await.unwrap();
    let stored: serde_json::Value = serde_json::from_str(&read[0].payload).unwrap();
    assert_eq!(stored, text);
}
