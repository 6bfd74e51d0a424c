//! Point 7: reads by stream and by position, filtered, paged.

use futures_util::TryStreamExt;
use lectern_store::{ExpectedVersion, StoreOptions};

use crate::support::{TestDb, ev};

both_backends!(
    reads_by_stream_and_position,
    the_whole_log_streams_in_pages,
    events_are_found_by_id
);

async fn reads_by_stream_and_position(db: TestDb) {
    let store = db.store().await;
    for i in 0..30u64 {
        let t = if i % 3 == 0 { "Tapped" } else { "Recorded" };
        store
            .append(format!("P{}", i % 2), ExpectedVersion::Any, vec![ev(t, i)])
            .await
            .unwrap();
    }
    let p1 = store.read_stream("P1", 5, 100).await.unwrap();
    assert_eq!(p1.len(), 11);
    assert_eq!(p1[0].stream_version, 5);
    assert!(p1.iter().all(|e| e.stream_id == "P1"));
    assert!(
        p1.windows(2)
            .all(|w| w[1].stream_version == w[0].stream_version + 1)
    );
    assert_eq!(store.read_stream("P1", 1, 3).await.unwrap().len(), 3);
    assert!(store.read_stream("nobody", 1, 3).await.unwrap().is_empty());

    let page = store.read_all(10, 5, None).await.unwrap();
    let positions: Vec<u64> = page.iter().map(|e| e.position).collect();
    assert_eq!(positions, vec![11, 12, 13, 14, 15]);
    assert_eq!(page[0].payload, r#"{"n":10}"#);

    let tapped = store
        .read_all(0, 100, Some(&["Tapped".to_owned()]))
        .await
        .unwrap();
    assert_eq!(tapped.len(), 10);
    assert!(tapped.iter().all(|e| e.event_type == "Tapped"));
    let after = store
        .read_all(20, 100, Some(&["Tapped".to_owned()]))
        .await
        .unwrap();
    let positions: Vec<u64> = after.iter().map(|e| e.position).collect();
    assert_eq!(positions, vec![22, 25, 28]);
}

async fn the_whole_log_streams_in_pages(db: TestDb) {
    let store = db
        .store_with(StoreOptions {
            page_size: 64,
            ..StoreOptions::default()
        })
        .await;
    // 2,000 events in 20 transactions of 100.
    for b in 0..20u64 {
        let reqs = (0..100u64)
            .map(|i| {
                lectern_store::AppendRequest::new(
                    format!("P{i}"),
                    ExpectedVersion::Any,
                    vec![ev(if i % 2 == 0 { "Even" } else { "Odd" }, b * 100 + i)],
                )
            })
            .collect();
        store.submit_all(reqs).await.unwrap();
    }
    let all: Vec<_> = store.stream_all(0, None).try_collect().await.unwrap();
    assert_eq!(all.len(), 2000);
    assert!(
        all.iter()
            .enumerate()
            .all(|(i, e)| e.position == i as u64 + 1)
    );
    let odd: Vec<_> = store
        .stream_all(1000, Some(vec!["Odd".to_owned()]))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(odd.len(), 500);
    assert!(
        odd.iter()
            .all(|e| e.event_type == "Odd" && e.position > 1000)
    );
}

async fn events_are_found_by_id(db: TestDb) {
    let store = db.store().await;
    let mut ids = Vec::new();
    for i in 0..5u64 {
        let e = ev("Tapped", i);
        ids.push(e.event_id());
        store
            .append("K", ExpectedVersion::Any, vec![e])
            .await
            .unwrap();
    }
    let unknown = uuid::Uuid::now_v7();
    let found = store.read_ids(&[ids[3], unknown, ids[1]]).await.unwrap();
    let got: Vec<(u64, uuid::Uuid)> = found.iter().map(|e| (e.position, e.event_id)).collect();
    assert_eq!(got, vec![(2, ids[1]), (4, ids[3])]);
    assert_eq!(found[1].payload, r#"{"n":3}"#);
    assert!(store.read_ids(&[unknown]).await.unwrap().is_empty());
    assert!(store.read_ids(&[]).await.unwrap().is_empty());
}
