//! What every suite shares: the programs under test, a server in this
//! process or in its own, one HTTP client, and the GraphQL and token
//! helpers built on them.

mod http;
mod programs;
mod server;

use std::net::SocketAddr;

pub use http::{Answer, get, post_to, send};
pub use programs::{KIOSK, LECTERN, cli, kiosk, kiosk_child, kiosk_with_input, lectern};
use serde_json::{Value, json};
pub use server::{ServerProcess, TestApp, free_port};

use lectern_store::testkit::TestDb;

/// The verifier key (`name+id+base64`) of a hex Ed25519 public key, as a
/// log's key (`Alg::Ed25519`) or a witness's (`Alg::Cosignature`).
pub fn vkey_of(name: &str, alg: lectern_tlog::note::Alg, public_hex: &str) -> String {
    let public: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&public_hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    lectern_tlog::note::NoteKey::new(name, alg, public.try_into().unwrap())
        .unwrap()
        .vkey()
}

/// POSTs a GraphQL request as `token`; the whole answer (data and errors).
pub async fn gql(addr: SocketAddr, token: &str, query: &str, variables: Value) -> Value {
    let body = serde_json::to_vec(&json!({ "query": query, "variables": variables })).unwrap();
    let (status, body) = post_to(addr, "/graphql", Some(token), &body).await;
    assert!(status.contains("200"), "{status}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// `gql` that fails the test on any GraphQL error; returns `data`.
pub async fn ok(addr: SocketAddr, token: &str, query: &str, variables: Value) -> Value {
    let r = gql(addr, token, query, variables).await;
    assert!(r.get("errors").is_none(), "{query}: {r}");
    r["data"].clone()
}

/// A token from `lectern token create` for `person` (who must be on the
/// staff).
pub async fn token(url: &str, role: &str, person: &str) -> String {
    create_token(url, &["--role", role, "--person", person]).await
}

/// A token from `lectern token create` naming no person (an administrator
/// or auditor of a campus not yet imported).
pub async fn role_token(url: &str, role: &str) -> String {
    create_token(url, &["--role", role]).await
}

async fn create_token(url: &str, args: &[&str]) -> String {
    let mut all = vec!["token", "create"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--database-url", url]);
    let (code, out, err) = cli(all.iter().map(|a| a.to_string()).collect()).await;
    assert_eq!(code, 0, "{err}");
    out.trim().to_owned()
}

/// An administrator's token, made directly in the database (migrated
/// first: a server may not have run on it yet).
pub async fn admin_token(url: &str) -> String {
    db_token(url, "administrator", None).await
}

/// A token made directly in the database, without the CLI's check that
/// its person is on the staff (for a log of generic events that holds no
/// people).
pub async fn db_token(url: &str, role: &str, person: Option<&str>) -> String {
    let store = lectern_store::Store::open(url, lectern_store::StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let tokens =
        lectern_graphql::Tokens::new(lectern_projections::ReadDb::connect(url).await.unwrap());
    let principal = lectern_graphql::parse_principal(role, None, person, None).unwrap();
    let person = person.map(|p| lectern_domain::StaffNo::parse(p).unwrap());
    tokens
        .create(&principal, person.as_ref(), "test")
        .await
        .unwrap()
        .1
}

/// A synthetic campus of about `events` events in `db`, with every read
/// model caught up (for commands that read them).
pub async fn campus_caught_up(db: &TestDb, events: u64, seed: u64) -> lectern_synth::bulk::Synth {
    use lectern_projections::{Options, Projections, ReadDb};
    let store = db.store_with(lectern_projections::store_options()).await;
    store.migrate().await.unwrap();
    let campus = lectern_synth::bulk::generate(&store, events, seed)
        .await
        .unwrap();
    let read = ReadDb::connect(&db.url).await.unwrap();
    let projections = Projections::start(store.clone(), read, Options::default())
        .await
        .unwrap();
    projections
        .wait_for_all(
            store.head().await.unwrap(),
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    projections.stop().await;
    store.close().await;
    campus
}
