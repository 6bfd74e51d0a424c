//! Every way of altering the record an attacker with the database's keys
//! has, one row each, on SQLite and PostgreSQL: `lectern audit verify`,
//! given the trusted key and the published copy of the checkpoints, names
//! each. The last six pass a check of the database alone (shown in the
//! row): only what was published outside it, or a trusted key, finds them.
//!
//! Every row starts from the same log: 35 generic events, checkpoints
//! signed and published at 20, 30 and 35.

use std::path::{Path, PathBuf};

use lectern_store::testkit::TestDb;

use crate::audit::append;
use crate::cli;

both_backends!(every_tampering_is_named);

/// What a row does to the database, the log or the published copy.
enum Tamper {
    /// SQL run as the database's owner, with the append-only guard lifted.
    Sql(&'static str),
    /// SQL whose text differs by backend: (SQLite, PostgreSQL).
    SqlBy(&'static str, &'static str),
    /// Event `position` changed and every later hash recomputed, then SQL.
    Rewrite(u64, &'static str),
    /// Event 5 rewritten, every checkpoint row and key deleted, and the
    /// log signed again with a key of the attacker's, published elsewhere.
    OwnKey,
    /// Event 5 rewritten, every checkpoint row deleted, then `lectern
    /// audit checkpoint` run with the real key: it refuses (the published
    /// copy disagrees); run again publishing elsewhere, it signs.
    ResignRewritten,
}

struct Row {
    what: &'static str,
    tamper: Tamper,
    /// A check of the database alone (its own keys, no published copy)
    /// passes.
    passes_alone: bool,
    /// What `audit verify --key … --published …` prints.
    says: &'static [&'static str],
}

const ROWS: &[Row] = &[
    Row {
        what: "an event's payload edited",
        tamper: Tamper::Sql("UPDATE events SET payload = '{\"n\":99}' WHERE position = 4"),
        passes_alone: false,
        says: &["chain BROKEN: event at position 4 was altered"],
    },
    Row {
        what: "an event's type edited",
        tamper: Tamper::Sql("UPDATE events SET event_type = 'Forged' WHERE position = 4"),
        passes_alone: false,
        says: &["chain BROKEN: event at position 4 was altered"],
    },
    Row {
        what: "an event moved to another stream",
        tamper: Tamper::Sql("UPDATE events SET stream_id = 's-9' WHERE position = 4"),
        passes_alone: false,
        says: &["chain BROKEN: event at position 4 was altered"],
    },
    Row {
        what: "an event's stream version edited",
        tamper: Tamper::Sql("UPDATE events SET stream_version = 999 WHERE position = 4"),
        passes_alone: false,
        says: &["chain BROKEN: event at position 4 was altered"],
    },
    Row {
        what: "an event's schema version edited",
        tamper: Tamper::Sql("UPDATE events SET schema_version = 2 WHERE position = 4"),
        passes_alone: false,
        says: &["chain BROKEN: event at position 4 was altered"],
    },
    Row {
        what: "an event's metadata edited",
        tamper: Tamper::Sql(
            "UPDATE events SET metadata = '{\"by\":\"someone else\"}' WHERE position = 4",
        ),
        passes_alone: false,
        says: &["chain BROKEN: event at position 4 was altered"],
    },
    Row {
        what: "an event's id edited",
        tamper: Tamper::SqlBy(
            "UPDATE events SET event_id = X'00000000000000000000000000000001' WHERE position = 4",
            "UPDATE events SET event_id = '00000000-0000-0000-0000-000000000001' WHERE position = 4",
        ),
        passes_alone: false,
        says: &["chain BROKEN: event at position 4 was altered"],
    },
    Row {
        what: "when an event happened edited",
        tamper: Tamper::SqlBy(
            "UPDATE events SET occurred_at = occurred_at - 86400000000 WHERE position = 4",
            "UPDATE events SET occurred_at = occurred_at - interval '1 day' WHERE position = 4",
        ),
        passes_alone: false,
        says: &["chain BROKEN: event at position 4 was altered"],
    },
    Row {
        what: "when an event was recorded edited",
        tamper: Tamper::SqlBy(
            "UPDATE events SET recorded_at = recorded_at + 1000000 WHERE position = 4",
            "UPDATE events SET recorded_at = recorded_at + interval '1 second' WHERE position = 4",
        ),
        passes_alone: false,
        says: &["chain BROKEN: event at position 4 was altered"],
    },
    Row {
        what: "an event's stored hash replaced",
        tamper: Tamper::Sql("UPDATE events SET hash = prev_hash WHERE position = 4"),
        passes_alone: false,
        says: &["chain BROKEN: event at position 4 was altered"],
    },
    Row {
        what: "an event's link to the one before replaced",
        tamper: Tamper::Sql("UPDATE events SET prev_hash = hash WHERE position = 4"),
        passes_alone: false,
        says: &["chain BROKEN: event at position 4 "],
    },
    Row {
        what: "an event in the middle deleted",
        tamper: Tamper::Sql("DELETE FROM events WHERE position = 6"),
        passes_alone: false,
        says: &["chain BROKEN: event at position 6 is missing"],
    },
    Row {
        what: "the first event deleted",
        tamper: Tamper::Sql("DELETE FROM events WHERE position = 1"),
        passes_alone: false,
        says: &["chain BROKEN: event at position 1 is missing"],
    },
    Row {
        what: "two events swapped",
        tamper: Tamper::Sql(
            "UPDATE events SET position = 1000003 WHERE position = 3; \
             UPDATE events SET position = 3 WHERE position = 7; \
             UPDATE events SET position = 7 WHERE position = 1000003",
        ),
        passes_alone: false,
        says: &["chain BROKEN: event at position 3 does not link to the event before it"],
    },
    Row {
        what: "an event copied to the end",
        tamper: Tamper::SqlBy(
            "INSERT INTO events (position, stream_id, stream_version, event_id, event_type, \
             schema_version, payload, metadata, occurred_at, recorded_at, prev_hash, hash) \
             SELECT 36, 's-copy', 1, X'000000000000000000000000000000aa', event_type, \
             schema_version, payload, metadata, occurred_at, recorded_at, prev_hash, hash \
             FROM events WHERE position = 10",
            "INSERT INTO events (position, stream_id, stream_version, event_id, event_type, \
             schema_version, payload, metadata, occurred_at, recorded_at, prev_hash, hash) \
             SELECT 36, 's-copy', 1, '00000000-0000-0000-0000-0000000000aa', event_type, \
             schema_version, payload, metadata, occurred_at, recorded_at, prev_hash, hash \
             FROM events WHERE position = 10",
        ),
        passes_alone: false,
        says: &["chain BROKEN: event at position 36 "],
    },
    Row {
        what: "the last event deleted, its checkpoint kept",
        tamper: Tamper::Sql("DELETE FROM events WHERE position = 35"),
        passes_alone: false,
        says: &[
            "checkpoint BROKEN: the checkpoint at size 35: the log's first 34 events do not verify",
        ],
    },
    Row {
        what: "a checkpoint's root edited",
        tamper: Tamper::Sql(
            "UPDATE checkpoints SET root = 'abababababababababababababababababababababababababababababababab' WHERE size = 20",
        ),
        passes_alone: false,
        says: &[
            "checkpoint BROKEN: the checkpoint at size 20: the signature of the checkpoint at size 20 does not verify",
            "published copy BROKEN: the database's checkpoint at size 20 has root abab",
        ],
    },
    Row {
        what: "a checkpoint's signature edited",
        tamper: Tamper::Sql(
            "UPDATE checkpoints SET signature = CASE WHEN substr(signature, 1, 2) = '00' THEN '11' \
             ELSE '00' END || substr(signature, 3) WHERE size = 30",
        ),
        passes_alone: false,
        says: &[
            "checkpoint BROKEN: the checkpoint at size 30: the signature of the checkpoint at size 30 does not verify",
        ],
    },
    Row {
        what: "a checkpoint's head hash edited",
        tamper: Tamper::Sql("UPDATE checkpoints SET head_hash = root WHERE size = 30"),
        passes_alone: false,
        says: &[
            "checkpoint BROKEN: the checkpoint at size 30: the signature of the checkpoint at size 30 does not verify",
        ],
    },
    Row {
        what: "the checkpoint key's public key replaced",
        tamper: Tamper::Sql(
            "UPDATE checkpoint_keys SET public_key = 'cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd'",
        ),
        passes_alone: false,
        says: &["checkpoint BROKEN: the checkpoint at size 20: it is signed with key"],
    },
    Row {
        what: "history rewritten before the last checkpoint, every hash recomputed",
        tamper: Tamper::Rewrite(5, ""),
        passes_alone: false,
        says: &[
            "chain intact: 35 events",
            "checkpoint BROKEN: the checkpoint at size 20: the log's first 20 events are not those it signed",
            "published copy BROKEN: the log's first 20 events are not those the published checkpoint at size 20 signed",
        ],
    },
    // The six a check of the database alone passes.
    Row {
        what: "the last events deleted, with the checkpoint that covered them",
        tamper: Tamper::Sql(
            "DELETE FROM events WHERE position > 30; DELETE FROM checkpoints WHERE size = 35",
        ),
        passes_alone: true,
        says: &[
            "published copy BROKEN: the published checkpoint at size 35 is missing from the database",
            "published copy BROKEN: the log holds 30 events, fewer than the 35 of the published checkpoint (events were deleted)",
        ],
    },
    Row {
        what: "history rewritten after the database's last checkpoint",
        tamper: Tamper::Rewrite(33, "DELETE FROM checkpoints WHERE size = 35"),
        passes_alone: true,
        says: &[
            "chain intact: 35 events",
            "published copy BROKEN: the published checkpoint at size 35 is missing from the database",
            "published copy BROKEN: the log's first 35 events are not those the published checkpoint at size 35 signed (history was rewritten)",
        ],
    },
    Row {
        what: "a checkpoint row deleted",
        tamper: Tamper::Sql("DELETE FROM checkpoints WHERE size = 30"),
        passes_alone: true,
        says: &[
            "published copy BROKEN: the published checkpoint at size 30 is missing from the database (checkpoint rows were deleted)",
        ],
    },
    Row {
        what: "history rewritten and every checkpoint deleted",
        tamper: Tamper::Rewrite(5, "DELETE FROM checkpoints"),
        passes_alone: true,
        says: &[
            "checkpoints intact: 0 signed checkpoints",
            "published copy BROKEN: the published checkpoint at size 20 is missing from the database",
            "published copy BROKEN: the log's first 20 events are not those the published checkpoint at size 20 signed (history was rewritten)",
        ],
    },
    Row {
        what: "history rewritten and re-signed with a key inserted into the database",
        tamper: Tamper::OwnKey,
        passes_alone: true,
        says: &[
            "checkpoint BROKEN: the checkpoint at size 35: it is signed with key",
            "which is not a trusted key (a key inserted into the database?)",
            "published copy BROKEN: the database's checkpoint at size 35 has root",
            "published copy BROKEN: the log's first 20 events are not those the published checkpoint at size 20 signed",
        ],
    },
    Row {
        what: "history rewritten and re-signed by `lectern audit checkpoint` with the real key",
        tamper: Tamper::ResignRewritten,
        passes_alone: true,
        says: &[
            "published copy BROKEN: the database's checkpoint at size 35 has root",
            "(the database's was re-signed)",
            "published copy BROKEN: the log's first 35 events are not those the published checkpoint at size 35 signed (history was rewritten)",
        ],
    },
];

/// SQL that lifts the append-only guard, as the database's owner can.
fn unguard(db: &TestDb) -> &'static str {
    if db.is_postgres() {
        "ALTER TABLE events DISABLE TRIGGER USER;"
    } else {
        "DROP TRIGGER events_refuse_update; DROP TRIGGER events_refuse_delete;"
    }
}

/// `lectern audit ARGS --database-url URL`.
async fn audit(url: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["audit".to_owned()];
    all.extend(args.iter().map(|a| a.to_string()));
    all.extend(["--database-url".into(), url.into()]);
    cli(all).await
}

/// `audit checkpoint` with `key`, publishing in `published`.
async fn sign(url: &str, key: &Path, published: &Path) -> (i32, String, String) {
    audit(
        url,
        &[
            "checkpoint",
            "--checkpoint-key",
            &key.display().to_string(),
            "--publish-dir",
            &published.display().to_string(),
        ],
    )
    .await
}

/// The same log for every row; returns the trusted key as `audit
/// checkpoint` printed it.
async fn baseline(db: &TestDb, key: &Path, published: &Path) -> String {
    let store = db.store_with(lectern_projections::store_options()).await;
    store.migrate().await.unwrap();
    let mut vkey = String::new();
    for (from, to) in [(0, 20), (20, 30), (30, 35)] {
        append(&store, from, to).await;
        let (code, out, err) = sign(&db.url, key, published).await;
        assert_eq!(code, 0, "{out}{err}");
        vkey = out
            .split("trust it with --key ")
            .nth(1)
            .expect("the key to trust")
            .trim()
            .to_owned();
    }
    store.close().await;
    vkey
}

async fn every_tampering_is_named(first: TestDb) {
    let postgres = first.is_postgres();
    let mut db = Some(first);
    for row in ROWS {
        let db = match db.take() {
            Some(db) => db,
            None if postgres => TestDb::postgres().await,
            None => TestDb::sqlite().await,
        };
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("checkpoint.key");
        let published: PathBuf = dir.path().join("published");
        let vkey = baseline(&db, &key, &published).await;
        match &row.tamper {
            Tamper::Sql(sql) => db.raw(&format!("{} {sql}", unguard(&db))).await.unwrap(),
            Tamper::SqlBy(sqlite, pg) => {
                let sql = if postgres { pg } else { sqlite };
                db.raw(&format!("{} {sql}", unguard(&db))).await.unwrap()
            }
            Tamper::Rewrite(position, then) => {
                let store = db.store_with(lectern_projections::store_options()).await;
                db.rewrite_history(&store, *position, "{\"n\":99}")
                    .await
                    .unwrap();
                store.close().await;
                if !then.is_empty() {
                    db.raw(then).await.unwrap();
                }
            }
            Tamper::OwnKey => {
                let store = db.store_with(lectern_projections::store_options()).await;
                db.rewrite_history(&store, 5, "{\"n\":99}").await.unwrap();
                store.close().await;
                db.raw("DELETE FROM checkpoints; DELETE FROM checkpoint_keys")
                    .await
                    .unwrap();
                let (code, out, err) = sign(
                    &db.url,
                    &dir.path().join("mine.key"),
                    &dir.path().join("mine"),
                )
                .await;
                assert_eq!(code, 0, "{}: {out}{err}", row.what);
            }
            Tamper::ResignRewritten => {
                let store = db.store_with(lectern_projections::store_options()).await;
                db.rewrite_history(&store, 5, "{\"n\":99}").await.unwrap();
                store.close().await;
                db.raw("DELETE FROM checkpoints").await.unwrap();
                let (code, _, err) = sign(&db.url, &key, &published).await;
                assert_ne!(code, 0, "{}: the server's signer refuses", row.what);
                assert!(
                    err.contains(
                        "the log's first 35 events are not those of the checkpoint published in"
                    ),
                    "{}: {err}",
                    row.what
                );
                let (code, out, err) = sign(&db.url, &key, &dir.path().join("elsewhere")).await;
                assert_eq!(code, 0, "{}: {out}{err}", row.what);
            }
        }

        let (code, out, err) = audit(&db.url, &["verify"]).await;
        assert!(
            err.contains("WARNING: no trusted key given"),
            "{}: {err}",
            row.what
        );
        assert_eq!(
            code == 0,
            row.passes_alone,
            "{}: the database alone {}: {out}",
            row.what,
            if row.passes_alone { "passes" } else { "fails" }
        );
        let copy = published.display().to_string();
        let (code, out, err) =
            audit(&db.url, &["verify", "--key", &vkey, "--published", &copy]).await;
        assert_eq!(code, 2, "{}: {out}{err}", row.what);
        assert!(!err.contains("WARNING"), "{}: {err}", row.what);
        for says in row.says {
            assert!(
                out.contains(says),
                "{}: expected {says:?} in\n{out}",
                row.what
            );
        }
    }
}
