//! Points 3, 11 and 12: positions are gap-free and in commit order under
//! concurrent writers in several "processes"; migrations are repeatable.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lectern_store::{ExpectedVersion, Store};

use crate::support::{TestDb, ev};

both_backends!(
    a_tailing_reader_sees_exactly_the_final_order,
    migrations_can_run_again,
);

/// Eight writers over three independent stores append while a reader on a
/// fourth tails by position; after each round the reader's sequence must be
/// the final log, with nothing skipped and nothing repeated.
async fn a_tailing_reader_sees_exactly_the_final_order(db: TestDb) {
    let stores: Vec<Store> = vec![db.store().await, db.store().await, db.store().await];
    let reader = db.store().await;
    let rounds = if db.is_postgres() { 12 } else { 6 };
    let mut tailed: Vec<u64> = Vec::new();
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_millis(400);
        let mut writers = Vec::new();
        for w in 0..8usize {
            let store = stores[w % stores.len()].clone();
            writers.push(tokio::spawn(async move {
                let stream = format!("W{w}");
                let mut n = 0u64;
                while Instant::now() < deadline {
                    store
                        .append(
                            &stream,
                            ExpectedVersion::Any,
                            vec![ev("Tick", n), ev("Tock", n)],
                        )
                        .await
                        .unwrap();
                    n += 1;
                }
                n
            }));
        }
        let tail = {
            let reader = reader.clone();
            let stop = stop.clone();
            let mut after = tailed.last().copied().unwrap_or(0);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    let done = stop.load(Ordering::Relaxed);
                    let page = reader.read_all(after, 500, None).await.unwrap();
                    for e in &page {
                        seen.push(e.position);
                    }
                    if let Some(last) = page.last() {
                        after = last.position;
                    }
                    if done && page.is_empty() {
                        return seen;
                    }
                    tokio::task::yield_now().await;
                }
            })
        };
        let mut appended = 0;
        for w in writers {
            appended += w.await.unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        tailed.extend(tail.await.unwrap());
        let head = reader.head().await.unwrap();
        assert!(appended > 0, "round {round} appended nothing");
        let expected: Vec<u64> = (1..=head).collect();
        assert_eq!(
            tailed.len() as u64,
            head,
            "round {round}: tailed {} of {head}",
            tailed.len()
        );
        assert_eq!(
            tailed, expected,
            "round {round}: the tail differs from the log"
        );
    }
    let v = reader.verify().await.unwrap();
    assert!(v.is_intact(), "{v:?}");
    // Each writer's stream is gap-free too.
    for w in 0..8 {
        let events = reader
            .read_stream(&format!("W{w}"), 1, 1_000_000)
            .await
            .unwrap();
        assert!(
            events
                .iter()
                .enumerate()
                .all(|(i, e)| e.stream_version == i as u64 + 1)
        );
    }
}

async fn migrations_can_run_again(db: TestDb) {
    let store = db.store().await;
    store
        .append("P", ExpectedVersion::Any, vec![ev("A", 1)])
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let again = db.store().await;
    assert_eq!(again.head().await.unwrap(), 1);
}
