//! The committed `schema.graphql` is the schema the code builds, so every
//! API change shows in review. `LECTERN_BLESS=1 cargo test -p
//! lectern-graphql sdl` rewrites it.

use std::path::Path;

#[test]
fn schema_graphql_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema.graphql");
    let sdl = lectern_graphql::sdl();
    if std::env::var("LECTERN_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &sdl).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == sdl,
        "schema.graphql is stale: run `LECTERN_BLESS=1 cargo test -p lectern-graphql sdl` and \
         commit the result"
    );
}
