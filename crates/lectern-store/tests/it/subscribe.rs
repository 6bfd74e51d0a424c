//! Point 8: subscriptions catch up, then follow live commits, from this
//! process and (PostgreSQL) from others, each event once.

use std::time::{Duration, Instant};

use lectern_store::{ExpectedVersion, Store, StoreOptions};

use crate::support::{TestDb, ev, fill, within};

both_backends!(
    catches_up_then_follows_live,
    a_commit_wakes_a_waiting_subscriber,
    a_filtered_subscription_moves_past_other_types,
);

/// Options under which only a notification can wake a subscriber.
fn no_polling() -> StoreOptions {
    StoreOptions {
        poll_interval: Duration::from_secs(3600),
        page_size: 7,
        ..StoreOptions::default()
    }
}

async fn catches_up_then_follows_live(db: TestDb) {
    let store = db.store_with(no_polling()).await;
    fill(&store, "P", 20).await;
    let mut sub = store.subscribe(5, None);
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..30u64 {
                store
                    .append("Q", ExpectedVersion::Any, vec![ev("Live", i)])
                    .await
                    .unwrap();
            }
        })
    };
    let mut seen = Vec::new();
    while seen.len() < 45 {
        let e = within("live events", sub.next()).await.unwrap();
        seen.push(e.position);
    }
    writer.await.unwrap();
    let expected: Vec<u64> = (6..=50).collect();
    assert_eq!(seen, expected, "every event once, in order");
    assert_eq!(sub.checkpoint(), 50);
}

/// A subscriber that has read everything and parked (polling is off) is
/// woken by the commit notice alone: in process by the writer, across
/// processes by PostgreSQL's LISTEN/NOTIFY. Broken notices leave it parked
/// for an hour, and `within` fails the test.
async fn a_commit_wakes_a_waiting_subscriber(db: TestDb) {
    let store = db.store_with(no_polling()).await;
    wakes_after_parking(&store, &store, 1, "in-process wake-up").await;
    if db.is_postgres() {
        // A writer with its own pool, as another server process would be.
        let other = db.store_with(no_polling()).await;
        wakes_after_parking(&store, &other, 2, "cross-process wake-up").await;
    }
}

/// Parks a subscriber of `reader` after the current head, appends through
/// `writer` once it is parked, and checks it wakes with event `position`.
async fn wakes_after_parking(reader: &Store, writer: &Store, position: u64, what: &str) {
    let mut parked = reader.parked();
    let mut sub = reader.subscribe(position - 1, None);
    let waiting = tokio::spawn(async move {
        let e = sub.next().await.unwrap();
        (e.position, Instant::now())
    });
    within("the subscriber to park", parked.wait_for(|n| *n == 1))
        .await
        .unwrap();
    let sent = Instant::now();
    writer
        .append("P", ExpectedVersion::Any, vec![ev("A", position)])
        .await
        .unwrap();
    let (woken_at, woke) = within(what, waiting).await.unwrap();
    assert_eq!(woken_at, position);
    eprintln!("{what} after {:?}", woke - sent);
}

async fn a_filtered_subscription_moves_past_other_types(db: TestDb) {
    let store = db.store_with(no_polling()).await;
    fill(&store, "P", 10).await;
    let mut sub = store.subscribe(0, Some(vec!["Wanted".to_owned()]));
    store
        .append("P", ExpectedVersion::Any, vec![ev("Wanted", 1)])
        .await
        .unwrap();
    let e = within("filtered event", sub.next()).await.unwrap();
    assert_eq!((e.position, e.event_type.as_str()), (11, "Wanted"));
    fill(&store, "P", 3).await;
    store
        .append("P", ExpectedVersion::Any, vec![ev("Wanted", 2)])
        .await
        .unwrap();
    let e = within("second filtered event", sub.next()).await.unwrap();
    assert_eq!(e.position, 15);
}
