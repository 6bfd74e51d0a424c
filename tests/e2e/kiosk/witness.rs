//! Kiosks witness the log: each accepts a checkpoint only by a consistency
//! proof from the one it saw, cosigns it, and raises an alarm when the
//! server shows it a log that does not extend what it, or another kiosk,
//! saw. Here the database is rewritten and re-signed with the real key
//! between two kiosks' syncs (a split view): both raise the alarm.

use serde_json::json;

use lectern_server::config::ServeArgs;
use lectern_store::testkit::TestDb;

use super::{Hall, enrol_as, hall};
use crate::{TestApp, cli, kiosk, ok};

both_backends!(
    two_kiosks_shown_different_histories_both_raise_the_alarm,
    a_kiosk_enrolled_with_the_log_key_refuses_any_other
);

/// One tap by kiosk `data`, synced: a roster (the log witnessed) and a
/// heartbeat (its cosignature or alarm).
async fn sync_once(dir: &std::path::Path, data: &std::path::Path) {
    let script = dir.join("tap.txt");
    std::fs::write(&script, "tap 04A1B2C3D4E501\n").unwrap();
    let reader = format!("simulate:{}", script.display());
    let (code, out, err) = kiosk(
        data,
        &["run", "--reader", &reader, "--headless", "--until-synced"],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
}

/// `lectern audit checkpoint`; returns the size signed.
async fn sign(url: &str, key: &std::path::Path, publish: &std::path::Path) -> u64 {
    let (code, out, err) = cli(vec![
        "audit".into(),
        "checkpoint".into(),
        "--database-url".into(),
        url.into(),
        "--checkpoint-key".into(),
        key.display().to_string(),
        "--publish-dir".into(),
        publish.display().to_string(),
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    out.split("checkpoint: size ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap()
        .parse()
        .unwrap()
}

/// Each kiosk's witness alarm, as the `kiosks` query shows it.
async fn alarms(addr: std::net::SocketAddr, admin: &str) -> Vec<(String, bool, Option<String>)> {
    let r = ok(
        addr,
        admin,
        "{ kiosks { id alarms { kind } heartbeat { witnessAlarm } } }",
        json!({}),
    )
    .await;
    r["kiosks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["id"].as_str().unwrap().to_owned(),
                k["alarms"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["kind"] == "log_not_extended"),
                k["heartbeat"]["witnessAlarm"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

async fn two_kiosks_shown_different_histories_both_raise_the_alarm(db: TestDb) {
    let url = db.url.clone();
    let Hall {
        server,
        addr,
        admin,
        dir,
        data,
        ..
    } = hall(&url).await;
    let second = ok(
        addr,
        &admin,
        "mutation { registerKiosk(id: \"hall-a-2\", venue: \"hall-a\") { code } }",
        json!({}),
    )
    .await;
    let other = dir.path().join("kiosk-2");
    enrol_as(
        &other,
        addr,
        "hall-a-2",
        second["registerKiosk"]["code"].as_str().unwrap(),
    )
    .await;
    let key = dir.path().join("checkpoint.key");
    let published = dir.path().join("published");

    // Honest: kiosk 1 takes the first checkpoint as it is, and the second
    // by its consistency proof; its cosignatures reach the server.
    let first = sign(&url, &key, &published).await;
    sync_once(dir.path(), &data).await;
    let witnessed = super::status(&data).await;
    assert_eq!(witnessed["witness"]["size"], first, "{witnessed}");
    let second = sign(&url, &key, &published).await;
    assert!(
        second > first,
        "the tap grew the log: {first} then {second}"
    );
    sync_once(dir.path(), &data).await;
    let witnessed = super::status(&data).await;
    assert_eq!(witnessed["witness"]["size"], second, "{witnessed}");
    assert_eq!(witnessed["witness"]["alarm"], serde_json::Value::Null);
    assert!(
        alarms(addr, &admin)
            .await
            .iter()
            .all(|(_, raised, _)| !raised),
        "no alarm while the log only grows"
    );
    let kiosk1 = ok(addr, &admin, "{ kiosks { id publicKey } }", json!({})).await;
    let public = kiosk1["kiosks"][0]["publicKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let witness = crate::vkey_of(
        "lectern-kiosk/hall-a-1",
        lectern_tlog::note::Alg::Cosignature,
        &public,
    );
    let (code, out, err) = cli(vec![
        "audit".into(),
        "verify".into(),
        "--database-url".into(),
        url.clone(),
        "--witness".into(),
        witness.clone(),
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "witnesses: the checkpoint at size {second} carries cosignatures of 1 of the 1 \
             witnesses named (lectern-kiosk/hall-a-1)"
        )),
        "the kiosk's cosignature counts as a witness's: {out}"
    );

    // Someone with the database's keys rewrites event 3, recomputes the
    // chain, deletes the checkpoints and has the real key sign the result
    // (publishing it elsewhere). Kiosk 2 has seen nothing before.
    server.stop().await;
    let store = db.store_with(lectern_projections::store_options()).await;
    db.rewrite_history(&store, 3, "{\"rewritten\":true}")
        .await
        .unwrap();
    store.close().await;
    db.raw("DELETE FROM checkpoints").await.unwrap();
    let forged = sign(&url, &key, &dir.path().join("elsewhere")).await;
    assert!(forged > second, "the last tap grew the log: {forged}");
    let server = TestApp::start_with(&ServeArgs {
        listen: Some(addr),
        ..TestApp::args(&url)
    })
    .await;

    // Kiosk 2 takes the forged checkpoint as its first, but is shown kiosk
    // 1's view with a proof the forged log cannot make: a split view.
    sync_once(dir.path(), &other).await;
    let status2 = super::status(&other).await;
    let alarm2 = status2["witness"]["alarm"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        alarm2.starts_with(&format!(
            "split view: lectern-kiosk/hall-a-1 was shown a log of {second} events that the log \
             shown to this kiosk does not extend: the log of {forged} events does not begin with \
             the log of {second} events seen before (the consistency proof fails)"
        )),
        "{status2}"
    );
    // Kiosk 1 is shown the forged checkpoint with a proof from the one it
    // cosigned.
    sync_once(dir.path(), &data).await;
    let status1 = super::status(&data).await;
    let alarm1 = status1["witness"]["alarm"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        alarm1.starts_with(&format!(
            "the server showed this kiosk a log that does not extend the one it saw: the log of \
             {forged} events does not begin with the log of {second} events seen before"
        )),
        "{status1}"
    );
    assert_eq!(status1["witness"]["size"], second, "it keeps what it saw");

    // Both alarms reach the server: the kiosks query and the metric.
    let seen = alarms(addr, &admin).await;
    assert_eq!(
        seen,
        vec![
            ("hall-a-1".to_owned(), true, Some(alarm1)),
            ("hall-a-2".to_owned(), true, Some(alarm2)),
        ]
    );
    let (status, metrics) = crate::get(addr, "/metrics").await;
    assert_eq!(status, "200 OK");
    for kiosk in ["hall-a-1", "hall-a-2"] {
        assert!(
            metrics.contains(&format!(
                "lectern_kiosk_witness_alarms{{kiosk=\"{kiosk}\"}} 1"
            )),
            "{metrics}"
        );
    }
    server.stop().await;
}

/// `lectern-kiosk enrol … --log-key KEY` of kiosk `id` (at hall-a).
async fn enrol_pinned(
    data: &std::path::Path,
    addr: std::net::SocketAddr,
    id: &str,
    code: &str,
    key: &str,
) -> (i32, String) {
    let server = format!("http://{addr}");
    let (status, _, err) = kiosk(
        data,
        &[
            "enrol",
            "--server",
            &server,
            "--kiosk",
            id,
            "--code",
            code,
            "--log-key",
            key,
        ],
    )
    .await;
    (status, err)
}

async fn a_kiosk_enrolled_with_the_log_key_refuses_any_other(db: TestDb) {
    let url = db.url.clone();
    let Hall {
        server,
        addr,
        admin,
        dir,
        ..
    } = hall(&url).await;
    let register = |id: &'static str| {
        let admin = admin.clone();
        async move {
            let r = ok(
                addr,
                &admin,
                &format!(
                    "mutation {{ registerKiosk(id: \"{id}\", venue: \"hall-a\") {{ code }} }}"
                ),
                json!({}),
            )
            .await;
            r["registerKiosk"]["code"].as_str().unwrap().to_owned()
        }
    };
    // The log's key, made here so it can be given at enrolment.
    let key = dir.path().join("checkpoint.key");
    std::fs::write(&key, format!("{}\n", "2a".repeat(32))).unwrap();
    let log = lectern_tlog::note::NoteSigner::new(
        "lectern.local/log",
        lectern_tlog::note::Alg::Ed25519,
        &[0x2a; 32],
    )
    .unwrap();
    let other = lectern_tlog::note::NoteSigner::new(
        "lectern.local/log",
        lectern_tlog::note::Alg::Ed25519,
        &[7; 32],
    )
    .unwrap();
    // A key that is not one is refused, naming it.
    let code = register("hall-a-3").await;
    let pinned = dir.path().join("pinned");
    let bad = "lectern.local/log+00000000+AQ";
    let (status, err) = enrol_pinned(&pinned, addr, "hall-a-3", &code, bad).await;
    assert_ne!(status, 0);
    assert!(err.contains(&format!("--log-key {bad:?}")), "{err}");
    // Pinned to the log's key: the checkpoint is accepted.
    let (status, err) = enrol_pinned(&pinned, addr, "hall-a-3", &code, &log.key().vkey()).await;
    assert_eq!(status, 0, "{err}");
    // Pinned to another key: the same checkpoint raises the alarm.
    let wrong = dir.path().join("wrong");
    let code = register("hall-a-4").await;
    let (status, err) = enrol_pinned(&wrong, addr, "hall-a-4", &code, &other.key().vkey()).await;
    assert_eq!(status, 0, "{err}");
    let size = sign(&url, &key, &dir.path().join("published")).await;
    sync_once(dir.path(), &pinned).await;
    let accepted = super::status(&pinned).await;
    assert_eq!(accepted["witness"]["size"], size, "{accepted}");
    assert_eq!(accepted["witness"]["log_key"], log.key().vkey());
    assert_eq!(accepted["witness"]["alarm"], serde_json::Value::Null);
    sync_once(dir.path(), &wrong).await;
    let refused = super::status(&wrong).await;
    assert_eq!(refused["witness"]["size"], 0, "{refused}");
    let alarm = refused["witness"]["alarm"].as_str().unwrap_or_default();
    assert_eq!(
        alarm,
        format!(
            "the server showed this kiosk a checkpoint it cannot trust: the checkpoint of {size} \
             events is not signed by the log key {}",
            other.key().vkey()
        )
    );
    server.stop().await;
}
