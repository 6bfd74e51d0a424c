//! Architecture invariant: lectern-domain does no I/O and depends on no
//! async, database or web crate.

#[test]
fn manifest_has_no_io_dependencies() {
    let manifest = include_str!("../../Cargo.toml");
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("a [dependencies] table");
    for banned in [
        "tokio",
        "sqlx",
        "axum",
        "async-graphql",
        "lectern-store",
        "hyper",
        "reqwest",
        "futures",
    ] {
        assert!(
            !deps.lines().any(|l| l.trim_start().starts_with(banned)),
            "lectern-domain must not depend on {banned}"
        );
    }
}
