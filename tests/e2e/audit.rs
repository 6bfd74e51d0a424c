//! Signed checkpoints from the command line, on SQLite and PostgreSQL: they
//! verify, survive a key rotation, and catch a forged checkpoint and a
//! history rewritten with a recomputed hash chain; a person's bundle is
//! exported and checked offline, and an edited one fails.

use lectern_store::testkit::TestDb;
use lectern_store::{ExpectedVersion, NewEvent, Store};

use crate::{TestApp, cli, db_token, gql, ok, role_token};

both_backends!(
    checkpoints_catch_forgery_and_rewritten_history,
    a_bundle_from_the_command_line
);

/// Appends generic events `from..to` (`Noted {"n": n}`) over three streams.
pub(crate) async fn append(store: &Store, from: u64, to: u64) {
    for n in from..to {
        let e = NewEvent::new("Noted", &serde_json::json!({ "n": n })).unwrap();
        store
            .append(format!("s-{}", n % 3), ExpectedVersion::Any, vec![e])
            .await
            .unwrap();
    }
}

/// Runs `lectern audit …` on the database off the runtime's threads.
async fn audit(url: &str, key: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<String> = vec!["audit".into()];
    all.extend(args.iter().map(|a| a.to_string()));
    all.extend(["--database-url".into(), url.into()]);
    if args[0] != "prove" && args[0] != "verify" {
        all.extend(["--checkpoint-key".into(), key.display().to_string()]);
    }
    cli(all).await
}

async fn checkpoints_catch_forgery_and_rewritten_history(db: TestDb) {
    let url = db.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("keys/checkpoint.key");
    let store = db.store_with(lectern_projections::store_options()).await;
    store.migrate().await.unwrap();
    let (code, out, err) = audit(&url, &key, &["checkpoint"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("the log is empty"), "{out}{err}");

    append(&store, 0, 20).await;
    let (code, out, err) = audit(&url, &key, &["checkpoint"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("checkpoint: size 20, root "), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is its owner's only");
    }
    append(&store, 20, 30).await;
    let (code, out, _) = audit(&url, &key, &["checkpoint"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("size 30"), "{out}");
    let (code, out, _) = audit(&url, &key, &["checkpoint"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("size 30"), "nothing new, the last one: {out}");

    // A new key: the old one is retired and still verifies its checkpoints.
    let (code, out, err) = audit(&url, &key, &["rotate-key"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("is retired"), "{err}");
    assert!(out.contains("has not grown"), "{out}");
    append(&store, 30, 35).await;
    let (code, out, _) = audit(&url, &key, &["checkpoint"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("size 35"), "{out}");
    let (code, out, _) = audit(&url, &key, &["checkpoints"]).await;
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("key ")).count(),
        2,
        "{out}"
    );
    assert_eq!(out.matches(", retired ").count(), 1, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("checkpoint ")).count(),
        3,
        "{out}"
    );
    let (code, out, _) = audit(&url, &key, &["verify"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("chain intact: 35 events"), "{out}");
    assert!(out.contains("3 signed checkpoints verify"), "{out}");

    // Proofs: an event is in a signed log, and a later signed log begins
    // with an earlier one; both check with no database, and an edited
    // proof or another key fails.
    let (code, proof, err) = audit(&url, &key, &["prove", "--position", "7"]).await;
    assert_eq!(code, 0, "{err}");
    let file = dir.path().join("proof.json");
    std::fs::write(&file, &proof).unwrap();
    let check = cli;
    let path = file.display().to_string();
    let (code, out, err) = check(vec!["audit".into(), "check-proof".into(), path.clone()]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("proof holds: the event at position 7"),
        "{out}"
    );
    assert!(out.contains("is in the log of 35 events"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&proof).unwrap();
    let published = v["public_key"].as_str().unwrap().to_owned();
    let (code, out, _) = check(vec![
        "audit".into(),
        "check-proof".into(),
        path.clone(),
        "--key".into(),
        published.clone(),
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    // The same key as a verifier key (as `audit checkpoint` prints it).
    let vkey = crate::vkey_of(
        "lectern.local/log",
        lectern_tlog::note::Alg::Ed25519,
        &published,
    );
    let (code, out, err) = check(vec![
        "audit".into(),
        "check-proof".into(),
        path.clone(),
        "--key".into(),
        vkey,
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = check(vec![
        "audit".into(),
        "check-proof".into(),
        path.clone(),
        "--key".into(),
        "cd".repeat(32),
    ])
    .await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not the trusted key"), "{out}");
    let mut edited = v.clone();
    edited["proof"]["chain_hash"] = serde_json::json!("00".repeat(32));
    std::fs::write(&file, edited.to_string()).unwrap();
    let (code, out, _) = check(vec!["audit".into(), "check-proof".into(), path.clone()]).await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("proof FAILS: the event at position 7"),
        "{out}"
    );
    let (code, between, err) = audit(&url, &key, &["prove", "--from", "20", "--to", "35"]).await;
    assert_eq!(code, 0, "{err}");
    std::fs::write(&file, &between).unwrap();
    let (code, out, _) = check(vec!["audit".into(), "check-proof".into(), path.clone()]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the log of 35 events signed at"), "{out}");
    let (code, _, err) = audit(&url, &key, &["prove", "--position", "36"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("signs positions 1 to 35"), "{err}");

    // The API gives the same proof, and the server serves the published
    // checkpoints.
    {
        let server = TestApp::start_with(&lectern_server::config::ServeArgs {
            publish_dir: Some(dir.path().join("keys/checkpoints")),
            ..TestApp::args(&url)
        })
        .await;
        let (status, latest) = crate::get(server.addr, "/checkpoint").await;
        assert_eq!(status, "200 OK", "{latest}");
        assert!(
            latest.contains("\n35\n"),
            "the latest, of 35 events: {latest}"
        );
        assert!(
            latest.contains("\n\n\u{2014} lectern.local/log "),
            "{latest}"
        );
        let (_, index) = crate::get(server.addr, "/checkpoints/index").await;
        assert_eq!(index, "20\n30\n35\n");
        let (_, at30) = crate::get(server.addr, "/checkpoints/log/30").await;
        assert!(at30.starts_with("lectern.local/log\n30\n"), "{at30}");
        let (status, _) = crate::get(server.addr, "/checkpoints/log/31").await;
        assert_eq!(status, "404 Not Found");
        let auditor = role_token(&url, "auditor").await;
        let r = ok(
            server.addr,
            &auditor,
            "{ inclusionProof(position: 7) }",
            serde_json::json!({}),
        )
        .await;
        let api: serde_json::Value =
            serde_json::from_str(r["inclusionProof"].as_str().unwrap()).unwrap();
        assert_eq!(api, v, "the API's proof is the CLI's");
        server.stop().await;
    }

    // A forged checkpoint (its root changed) is named.
    db.raw(&format!(
        "UPDATE checkpoints SET root = '{}' WHERE size = 20",
        "ab".repeat(32)
    ))
    .await
    .unwrap();
    let (code, out, _) = audit(&url, &key, &["verify"]).await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("checkpoint BROKEN: the checkpoint at size 20: the signature"),
        "{out}"
    );
    db.raw("DELETE FROM checkpoints WHERE size = 20")
        .await
        .unwrap();

    // History rewritten by someone with the database's keys: event 5
    // changed and every hash after it recomputed. The chain verifies; the
    // checkpoints do not, and no new one is signed over it.
    db.rewrite_history(&store, 5, "{\"n\":99}").await.unwrap();
    let (code, out, _) = audit(&url, &key, &["verify"]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("chain intact: 35 events"), "{out}");
    assert!(
        out.contains(
            "the checkpoint at size 30: the log's first 30 events are not those it signed"
        ),
        "{out}"
    );
    let (code, _, err) = audit(&url, &key, &["checkpoint"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("history was rewritten"), "{err}");
    let (code, _, err) = audit(&url, &key, &["prove", "--position", "7"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("history was rewritten"), "{err}");
    // The proof taken before still proves what the record was.
    std::fs::write(&file, &proof).unwrap();
    let (code, out, _) = check(vec!["audit".into(), "check-proof".into(), path.clone()]).await;
    assert_eq!(code, 0, "{out}");
    store.close().await;

    // The same through GraphQL: auditors see the report, anyone signed in
    // sees the checkpoints and keys.
    let server = TestApp::start(&url).await;
    let auditor = role_token(&url, "auditor").await;
    let report = ok(
        server.addr,
        &auditor,
        "{ auditVerify { intact events brokenAt checkpoints brokenCheckpoint checkpointProblem } }",
        serde_json::json!({}),
    )
    .await;
    let r = &report["auditVerify"];
    assert_eq!(
        (
            &r["intact"],
            &r["events"],
            &r["brokenAt"],
            &r["checkpoints"],
            &r["brokenCheckpoint"]
        ),
        (
            &serde_json::json!(false),
            &serde_json::json!(35),
            &serde_json::Value::Null,
            &serde_json::json!(2),
            &serde_json::json!(30)
        ),
        "{report}"
    );
    assert!(
        r["checkpointProblem"]
            .as_str()
            .unwrap()
            .contains("history was rewritten"),
        "{report}"
    );
    let refused = gql(
        server.addr,
        &auditor,
        "{ inclusionProof(position: 7) }",
        serde_json::json!({}),
    )
    .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "CONFLICT",
        "{refused}"
    );
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("history was rewritten"),
        "{refused}"
    );
    // Anyone signed in reads the checkpoints (this log of generic events
    // holds no people, so the token is made in the database directly).
    let staff = db_token(&url, "staff", Some("S0001")).await;
    let published = ok(
        server.addr,
        &staff,
        "{ checkpoints { size keyId signature note } checkpointKeys { keyId publicKey retiredAt } }",
        serde_json::json!({}),
    )
    .await;
    assert_eq!(
        published["checkpoints"].as_array().unwrap().len(),
        2,
        "{published}"
    );
    assert_eq!(
        published["checkpointKeys"].as_array().unwrap().len(),
        2,
        "{published}"
    );
    let note = published["checkpoints"][1]["note"].as_str().unwrap();
    assert!(
        note.starts_with("lectern.local/log\n35\n"),
        "the signed note: {published}"
    );
    server.stop().await;
}

async fn a_bundle_from_the_command_line(db: TestDb) {
    let url = db.url.clone();
    let campus = crate::campus_caught_up(&db, 3_000, 5).await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("checkpoint.key");
    let file = dir.path().join("bundle.json");
    let person = campus.people[1].to_string();
    let path = file.display().to_string();
    let (code, out, err) = audit(
        &url,
        &key,
        &[
            "export", "--person", &person, "--period", "2007", "--out", &path,
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains(&format!("wrote {path}: {person} 2007")),
        "{err}"
    );
    let check = |extra: &[&str]| {
        let mut args = vec!["audit".to_owned(), "check-bundle".to_owned(), path.clone()];
        args.extend(extra.iter().map(|a| a.to_string()));
        cli(args)
    };
    let (code, out, err) = check(&[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!("bundle holds: {person} 2007, ")),
        "{out}"
    );
    assert!(out.contains("base"), "the lines are printed: {out}");
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let key_hex = bundle["public_key"].as_str().unwrap().to_owned();
    let (code, out, _) = check(&["--key", &key_hex]).await;
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("the bundle's own key"), "{out}");
    // An edited event: the check fails and names it.
    let mut edited = bundle.clone();
    let last = edited["events"].as_array().unwrap().len() - 1;
    let position = edited["events"][last]["position"].as_u64().unwrap();
    let payload = edited["events"][last]["payload"]
        .as_str()
        .unwrap()
        .to_owned();
    edited["events"][last]["payload"] = serde_json::json!(format!("{payload} "));
    std::fs::write(&file, edited.to_string()).unwrap();
    let (code, out, _) = check(&[]).await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!("bundle FAILS: the event at position {position} (")),
        "{out}"
    );
    std::fs::write(&file, "{}").unwrap();
    let (code, _, err) = check(&[]).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("is not a bundle from `lectern audit export`"),
        "{err}"
    );
}
