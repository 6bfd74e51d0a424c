//! An outside witness speaking C2SP tlog-witness, written here (none can be
//! reached from the test machine): `lectern audit checkpoint` submits each
//! checkpoint to it with a consistency proof, keeps and publishes its
//! cosignature, and `audit verify --witness` demands a quorum. A log
//! rewritten and re-signed with the real key is refused by the witness.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use lectern_store::testkit::TestDb;
use lectern_tlog::note::{Alg, NoteKey, NoteSigner, TreeHead};
use lectern_tlog::witness::{WitnessError, check_extension, parse_add_checkpoint};

use crate::audit::append;
use crate::cli;

both_backends!(an_outside_witness_cosigns_and_refuses_a_rewrite);

/// A witness of one log: the latest checkpoint it cosigned, and what it
/// answered each time.
struct Witness {
    signer: NoteSigner,
    log: NoteKey,
    latest: Mutex<Option<TreeHead>>,
    answers: Mutex<Vec<u16>>,
}

/// The witness's answer: status, content type, body.
fn decide(w: &Witness, body: &str) -> (StatusCode, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    let (old, proof, note) = match parse_add_checkpoint(body) {
        Ok(request) => request,
        Err(e) => return (StatusCode::BAD_REQUEST, TEXT, e.to_string()),
    };
    let mut latest = w.latest.lock().unwrap();
    let held = latest.as_ref().map_or(0, |h| h.size);
    if old != held {
        return (
            StatusCode::CONFLICT,
            "text/x.tlog.size",
            format!("{held}\n"),
        );
    }
    match check_extension(latest.as_ref(), &note, &proof, &w.log) {
        Ok(head) => {
            *latest = Some(head);
            let line = w.signer.cosign(&note.body, 1_796_000_000).line();
            (StatusCode::OK, TEXT, line)
        }
        Err(e) => {
            let status = match e {
                WitnessError::Unsigned { .. } => StatusCode::FORBIDDEN,
                WitnessError::Origin { .. } => StatusCode::NOT_FOUND,
                WitnessError::Forked { .. } => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            (status, TEXT, e.to_string())
        }
    }
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: String) -> axum::response::Response {
    let (status, kind, text) = decide(&w, &body);
    w.answers.lock().unwrap().push(status.as_u16());
    (status, [(header::CONTENT_TYPE, kind)], text).into_response()
}

async fn an_outside_witness_cosigns_and_refuses_a_rewrite(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    // The log's key, made here so the witness can be told it first.
    let seed = [42u8; 32];
    let key_file = dir.path().join("checkpoint.key");
    std::fs::write(&key_file, format!("{}\n", lectern_tlog::hex(&seed))).unwrap();
    let origin = "lectern.test.example/log";
    let log = NoteSigner::new(origin, Alg::Ed25519, &seed).unwrap();
    let witness = Arc::new(Witness {
        signer: NoteSigner::new("witness.test.example/w1", Alg::Cosignature, &[5; 32]).unwrap(),
        log: log.key().clone(),
        latest: Mutex::new(None),
        answers: Mutex::new(Vec::new()),
    });
    let wkey = witness.signer.key().vkey();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .route("/w1/add-checkpoint", axum::routing::post(add_checkpoint))
        .with_state(witness.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let published = dir.path().join("published");
    let config = dir.path().join("lectern.toml");
    std::fs::write(
        &config,
        format!(
            "checkpoint_key = {:?}\ncheckpoint_origin = {origin:?}\ncheckpoint_publish_dir = {:?}\n\
             witnesses = [{{ url = \"http://{addr}/w1\", key = {wkey:?} }}]\n",
            key_file.display().to_string(),
            published.display().to_string()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend([
            "--config".into(),
            config.display().to_string(),
            "--database-url".into(),
            db.url.clone(),
        ]);
        cli(all)
    };
    let store = db.store_with(lectern_projections::store_options()).await;
    append(&store, 0, 20).await;
    let (code, out, err) = run(&["audit", "checkpoint"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("trust it with --key {}", log.key().vkey())),
        "{out}"
    );
    append(&store, 20, 30).await;
    let (code, out, err) = run(&["audit", "checkpoint"]).await;
    assert_eq!(code, 0, "{out}{err}");
    // Both cosigned: the first from nothing, the second from 20 by proof.
    assert_eq!(*witness.answers.lock().unwrap(), vec![200, 200]);
    assert_eq!(witness.latest.lock().unwrap().as_ref().unwrap().size, 30);
    let note = std::fs::read_to_string(published.join("log/30")).unwrap();
    assert!(
        note.contains("\u{2014} witness.test.example/w1 "),
        "published with its cosignature: {note}"
    );
    assert_eq!(
        note,
        std::fs::read_to_string(published.join("checkpoint")).unwrap()
    );

    let vkey = log.key().vkey();
    let copy = published.display().to_string();
    let (code, out, err) = run(&[
        "audit",
        "verify",
        "--key",
        &vkey,
        "--published",
        &copy,
        "--witness",
        &wkey,
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(
            "witnesses: the checkpoint at size 30 carries cosignatures of 1 of the 1 witnesses \
             named (witness.test.example/w1), 1 required"
        ),
        "{out}"
    );
    // A quorum of two named witnesses, one of which never saw the log.
    let other = NoteSigner::new("witness.test.example/w2", Alg::Cosignature, &[6; 32]).unwrap();
    let other = other.key().vkey();
    let (code, out, _) = run(&[
        "audit",
        "verify",
        "--key",
        &vkey,
        "--published",
        &copy,
        "--witness",
        &wkey,
        "--witness",
        &other,
    ])
    .await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(
            "witnesses BROKEN: the checkpoint at size 30 carries cosignatures of 1 of the 2"
        ) && out.contains("2 required; missing: witness.test.example/w2"),
        "{out}"
    );
    let (code, out, _) = run(&[
        "audit",
        "verify",
        "--key",
        &vkey,
        "--witness",
        &wkey,
        "--witness",
        &other,
        "--quorum",
        "1",
    ])
    .await;
    assert_eq!(code, 0, "one of two suffices with --quorum 1: {out}");

    // The log rewritten, its checkpoints and the witness's cosignatures
    // deleted and the published copy moved away: the real key signs it,
    // but the witness refuses it.
    db.rewrite_history(&store, 5, "{\"n\":99}").await.unwrap();
    store.close().await;
    db.raw("DELETE FROM checkpoints; DELETE FROM checkpoint_cosignatures")
        .await
        .unwrap();
    let store = db.store_with(lectern_projections::store_options()).await;
    append(&store, 30, 32).await;
    let elsewhere = dir.path().join("elsewhere").display().to_string();
    let (code, out, err) = run(&["audit", "checkpoint", "--publish-dir", &elsewhere]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        *witness.answers.lock().unwrap(),
        vec![200, 200, 409, 422],
        "asked from nothing, it answers that it holds 30; from 30 the proof fails"
    );
    assert_eq!(witness.latest.lock().unwrap().as_ref().unwrap().size, 30);
    let (code, out, _) = run(&["audit", "verify", "--key", &vkey, "--witness", &wkey]).await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(
            "witnesses BROKEN: the checkpoint at size 32 carries cosignatures of 0 of the 1"
        ),
        "{out}"
    );
    store.close().await;
    server.abort();
}
