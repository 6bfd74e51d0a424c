//! Helpers of the store's own suite.

use std::time::Duration;

use lectern_store::{ExpectedVersion, NewEvent, Store};

pub use lectern_store::testkit::TestDb;

/// A small JSON event of type `t` carrying `n`.
pub fn ev(t: &str, n: u64) -> NewEvent {
    NewEvent::new(t, &serde_json::json!({ "n": n })).expect("event")
}

/// Appends `count` events, one per append, to `stream`.
pub async fn fill(store: &Store, stream: &str, count: u64) {
    for n in 0..count {
        store
            .append(stream, ExpectedVersion::Any, vec![ev("Filled", n)])
            .await
            .expect("append");
    }
}

/// Bounds a wait that must end (a subscription delivering).
pub async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}
