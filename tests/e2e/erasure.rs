//! Personal data erased without breaking the chain, on SQLite and
//! PostgreSQL: personal fields are stored sealed; erasure is refused for
//! current staff, during an open dispute and inside the retention period
//! (ten years after leaving, worked by hand below); after it the log, a
//! proof and a bundle made before still verify, the appraisal replays the
//! same, the fields read as erased, and none of the original text is left
//! in the database's files (SQLite) or in a dump (PostgreSQL).

use chrono::{DateTime, TimeZone, Utc};
use lectern_domain::Clock;
use lectern_store::testkit::TestDb;
use serde_json::{Value, json};

use crate::{TestApp, admin_token, cli, gql, ok, post_to, token};

both_backends!(
    personal_data_is_erased_and_the_record_still_proves_itself,
    a_log_older_than_sealing_keeps_its_personal_data_in_the_clear
);

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    // Campus time (UTC+8).
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap() - chrono::Duration::hours(8)
}

const SESSION: &str = "0195f000-0000-7000-8000-0000000e0902";
const TASK: &str = "0195f000-0000-7000-8000-0000000e0930";

/// What T0009 and T0011 told the university, erased at the end.
const ERASED: [&str; 8] = [
    "Wang Kesan 王可删",
    "1950-03-04",
    "at a training in Beijing that day 北京培训",
    "notes on the Teachers Law 教师法笔记",
    "I was at a training in Shanghai that day 上海进修",
    "moved to Shenzhen 调往深圳",
    "Li Likai 李离开",
    "retired early 提前退休",
];
/// T0010 stays: their name must still be found where the search looks.
const KEPT: &str = "Zhao Liuxia 赵留下";

async fn lectern(args: &[&str]) -> (i32, String, String) {
    cli(args.iter().map(|a| a.to_string()).collect()).await
}

/// The error code and message of a refused request.
fn refusal(r: &Value) -> (String, String) {
    let e = &r["errors"][0];
    (
        e["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        e["message"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Every byte of the database as it rests: the SQLite file and its
/// write-ahead log, or a PostgreSQL dump.
async fn database_bytes(db: &TestDb) -> Vec<u8> {
    if db.is_postgres() {
        let out = std::process::Command::new("pg_dump")
            .args(["--dbname", &db.url])
            .output()
            .expect("pg_dump runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    } else {
        let path = db.url.strip_prefix("sqlite://").unwrap();
        let mut bytes = std::fs::read(path).unwrap();
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        bytes
    }
}

fn holds(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

async fn personal_data_is_erased_and_the_record_still_proves_itself(db: TestDb) {
    let url = db.url.clone();
    let clock = Clock::manual(at(2008, 8, 1, 9, 0));
    let server = TestApp::start_at(&url, clock.clone()).await;
    let addr = server.addr;
    let setup_token = admin_token(&url).await;
    let setup = ok(
        addr,
        &setup_token,
        "mutation($n9: String!, $n10: String!, $n11: String!, $born: NaiveDate!,
                  $session: ScheduleSessionInput!) {
           u: establishUnit(id: \"uni\", name: \"大学\", kind: university) { position }
           c: establishUnit(id: \"cs\", name: \"计算机学院\", kind: school, parent: \"uni\") { position }
           p9: registerPerson(input: { staffNo: \"T0009\", name: $n9, unit: \"cs\", category: teacher,
                 birthDate: $born, hireDate: \"2000-09-01\" }) { position }
           p10: registerPerson(input: { staffNo: \"T0010\", name: $n10, unit: \"cs\", category: teacher,
                 birthDate: \"1960-06-07\", hireDate: \"2000-09-01\" }) { position }
           p11: registerPerson(input: { staffNo: \"T0011\", name: $n11, unit: \"cs\", category: teacher,
                 birthDate: \"1955-01-02\", hireDate: \"2000-09-01\" }) { position }
           a: registerPerson(input: { staffNo: \"A0002\", name: \"审计员\", unit: \"uni\",
                 category: administrator, birthDate: \"1970-01-01\", hireDate: \"2000-09-01\" }) { position }
           a1: registerPerson(input: { staffNo: \"A0001\", name: \"管理员\", unit: \"uni\",
                 category: administrator, birthDate: \"1970-01-01\", hireDate: \"2000-09-01\" }) { position }
           g: grantRole(staffNo: \"A0002\", role: auditor) { position }
           r: adoptScoringRules(input: { version: 1, effectiveFrom: \"2008-01-01\", basePoints: 100,
             perAbsence: 5, perLate: 2, perMissedTask: 3, perLateReport: 10, reportDueDay: 5,
             awardBonus: [], unitPerMemberAbsence: 2, unitPerMemberMissedTask: 1,
             perMissingReport: 10, unitAwardBonus: [] }) { position }
           s: scheduleSession(input: $session) { position }
         }",
        json!({
            "n9": ERASED[0], "n10": KEPT, "n11": ERASED[6], "born": ERASED[1],
            "session": { "id": SESSION, "kind": "centralized_study", "title": "集中学习 9月2日",
              "organiser": "cs", "venue": "hall-a", "audienceUnits": ["cs"],
              "startsAt": at(2008, 9, 2, 14, 30), "endsAt": at(2008, 9, 2, 16, 0) },
        }),
    )
    .await;
    let registered = setup["p9"]["position"].as_u64().unwrap();
    let admin = token(&url, "administrator", "A0001").await;
    ok(
        addr,
        &admin,
        "mutation($task: UUID!) { assignStudyTask(input: { id: $task, title: \"教师法\",
           topic: political_theory, audienceUnits: [\"cs\"], assignedOn: \"2008-08-28\",
           due: \"2008-09-30\" }) { task { id } } }",
        json!({ "task": TASK }),
    )
    .await;

    // T0009 asks for leave (never approved) and is absent; finishes the
    // study task; disputes the absence; leaves on 1 July 2009, as T0011 does.
    clock.set(at(2008, 9, 1, 10, 0));
    ok(
        addr,
        &admin,
        "mutation($id: UUID!, $why: String!) { requestLeave(id: $id, staffNo: \"T0009\", reason: $why) { position } }",
        json!({ "id": SESSION, "why": ERASED[2] }),
    )
    .await;
    clock.set(at(2008, 9, 2, 16, 30));
    ok(
        addr,
        &admin,
        "mutation($id: UUID!) { closeSession(id: $id) { position } }",
        json!({ "id": SESSION }),
    )
    .await;
    clock.set(at(2008, 9, 20, 10, 0));
    ok(
        addr,
        &admin,
        "mutation($id: UUID!, $e: String!) { completeStudyTask(id: $id, staffNo: \"T0009\", evidence: $e) { task { id } } }",
        json!({ "id": TASK, "e": ERASED[3] }),
    )
    .await;
    clock.set(at(2008, 10, 8, 10, 0));
    ok(
        addr,
        &admin,
        "mutation($id: UUID!) { closeStudyTask(id: $id) { task { id } } }",
        json!({ "id": TASK }),
    )
    .await;
    clock.set(at(2008, 11, 3, 10, 0));
    let t0009 = token(&url, "staff", "T0009").await;
    let lines = ok(
        addr,
        &t0009,
        "{ appraisal(staffNo: \"T0009\", year: 2008) { total lines { rule positions } } }",
        json!({}),
    )
    .await;
    let absence: Vec<Value> = lines["appraisal"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rule"] == "absence")
        .map(|l| l["positions"].as_array().unwrap().clone())
        .unwrap_or_else(|| panic!("an absence line: {lines}"));
    let filed = ok(
        addr,
        &t0009,
        "mutation($p: [Int!]!, $claim: String!) { fileDispute(year: 2008, positions: $p, claim: $claim) { dispute { id } } }",
        json!({ "p": absence, "claim": ERASED[4] }),
    )
    .await;
    let dispute = filed["fileDispute"]["dispute"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    clock.set(at(2009, 7, 1, 10, 0));
    for (who, why) in [("T0009", ERASED[5]), ("T0011", ERASED[7])] {
        ok(
            addr,
            &admin,
            "mutation($no: String!, $why: String!) { recordLeaving(staffNo: $no, on: \"2009-07-01\", reason: $why) { position } }",
            json!({ "no": who, "why": why }),
        )
        .await;
    }

    // The log holds none of it in the clear: every personal field is sealed.
    let store = db.store_with(lectern_projections::store_options()).await;
    let stored = store.read_stored(0, 100_000).await.unwrap();
    for text in ERASED.iter().chain([&KEPT]) {
        let found: Vec<u64> = stored
            .iter()
            .filter(|e| e.payload.contains(text))
            .map(|e| e.position)
            .collect();
        assert!(found.is_empty(), "{text:?} in the clear at {found:?}");
    }
    let opened = store.read_all(registered - 1, 1, None).await.unwrap();
    assert!(
        opened[0].payload.contains(ERASED[0]),
        "{}",
        opened[0].payload
    );

    // Before the erasure: a checkpoint, a proof of T0009's registration, a
    // bundle of their 2008 appraisal, and the appraisal replayed.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("checkpoint.key").display().to_string();
    let (code, out, err) = lectern(&[
        "audit",
        "checkpoint",
        "--database-url",
        &url,
        "--checkpoint-key",
        &key,
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let size_of = |out: &str| {
        out.split("size ")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .unwrap_or_else(|| panic!("a checkpoint's size: {out}"))
            .to_owned()
    };
    let before = size_of(&out);
    let vkey = out
        .split("--key ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("the verifier key: {out}"))
        .to_owned();
    let position = registered.to_string();
    let (code, proof, err) = lectern(&[
        "audit",
        "prove",
        "--position",
        &position,
        "--database-url",
        &url,
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let proof_file = dir.path().join("proof.json").display().to_string();
    std::fs::write(&proof_file, &proof).unwrap();
    let bundle_file = dir.path().join("bundle.json").display().to_string();
    let (code, out, err) = lectern(&[
        "audit",
        "export",
        "--person",
        "T0009",
        "--period",
        "2008",
        "--out",
        &bundle_file,
        "--database-url",
        &url,
        "--checkpoint-key",
        &key,
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let replay = || {
        let url = url.clone();
        async move {
            let (code, out, err) = lectern(&[
                "replay",
                "--person",
                "T0009",
                "--year",
                "2008",
                "--database-url",
                &url,
            ])
            .await;
            assert_eq!(code, 0, "{err}");
            out
        }
    };
    let replayed_before = replay().await;
    assert!(
        replayed_before.contains("95 points"),
        "100 less one absence: {replayed_before}"
    );

    // Refused: someone still on the staff; an open dispute; inside the
    // retention period. T0009 left on 2009-07-01: ten years later is
    // 2019-07-01, the first day the erasure is allowed.
    let erase = "mutation($no: String!) { erasePersonalData(staffNo: $no) {
        position rule keyDestroyed unsealedEvents filesCleared
        person { name birthDate leftOn personalDataErasedAt } } }";
    clock.set(at(2030, 1, 1, 10, 0));
    let (code, message) = refusal(&gql(addr, &admin, erase, json!({ "no": "T0010" })).await);
    assert_eq!(code, "CONFLICT");
    assert!(
        message.contains("staff member T0010 has not left the university"),
        "{message}"
    );
    let (code, message) = refusal(&gql(addr, &admin, erase, json!({ "no": "T0009" })).await);
    assert_eq!(code, "CONFLICT");
    assert!(
        message.contains(&format!("T0009 has an open appraisal dispute ({dispute})")),
        "{message}"
    );
    let (code, message) = refusal(&gql(addr, &admin, erase, json!({ "no": "NOBODY9" })).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("NOT_FOUND", "no staff member NOBODY9")
    );
    let auditor = token(&url, "auditor", "A0002").await;
    ok(
        addr,
        &admin,
        "mutation($id: UUID!) { assignDispute(id: $id, auditor: \"A0002\") { dispute { id } } }",
        json!({ "id": dispute }),
    )
    .await;
    ok(
        addr,
        &auditor,
        "mutation($id: UUID!) { resolveDispute(id: $id, outcome: rejected, reasoning: \"签到记录为准\") { dispute { id } } }",
        json!({ "id": dispute }),
    )
    .await;
    clock.set(at(2019, 6, 30, 23, 59));
    let (code, message) = refusal(&gql(addr, &admin, erase, json!({ "no": "T0009" })).await);
    assert_eq!(code, "CONFLICT");
    assert!(
        message.contains(
            "staff member T0009 left on 2009-07-01; their personal data is kept 10 years after \
             leaving, until 2019-07-01"
        ),
        "{message}"
    );
    let (has_key,) = (store.has_personal_key("T0009").await.unwrap(),);
    assert!(has_key, "a refusal leaves the key");

    clock.set(at(2019, 7, 1, 9, 0));
    let erased = ok(addr, &admin, erase, json!({ "no": "T0009" })).await;
    let e = &erased["erasePersonalData"];
    assert_eq!(
        (&e["keyDestroyed"], &e["unsealedEvents"], &e["person"]),
        (
            &json!(true),
            &json!(0),
            &json!({ "name": "[erased]", "birthDate": null, "leftOn": "2009-07-01",
                     "personalDataErasedAt": at(2019, 7, 1, 9, 0).to_rfc3339() })
        ),
        "{erased}"
    );
    assert!(
        e["rule"].as_str().unwrap().starts_with(
            "left on 2009-07-01; personal data kept 10 years after leaving \
             (personal_data.retention_years), until 2019-07-01"
        ),
        "{erased}"
    );
    assert!(!store.has_personal_key("T0009").await.unwrap());
    let (code, message) = refusal(&gql(addr, &admin, erase, json!({ "no": "T0009" })).await);
    assert_eq!(code, "CONFLICT");
    assert!(message.contains("was erased already"), "{message}");
    // The same from the command line (by the system's clock): T0011, and a
    // refusal for T0010.
    let (code, out, err) = lectern(&["person", "erase", "T0011", "--database-url", &url]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("erased the personal data of T0011 at position"),
        "{out}"
    );
    assert!(out.contains("name \"[erased]\", birth date null"), "{out}");
    let (code, _, err) = lectern(&["person", "erase", "T0010", "--database-url", &url]).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("staff member T0010 has not left the university"),
        "{err}"
    );

    // What the API shows: erased fields, the figures unchanged.
    let body = json!({
        "query": "{ a: person(staffNo: \"T0009\") { name birthDate }
           b: person(staffNo: \"T0011\") { name birthDate }
           c: person(staffNo: \"T0010\") { name }
           d: disputes { person claim status }
           e: appraisal(staffNo: \"T0009\", year: 2008) { total } }",
        // The command line's erasure, as this server's read models show it.
        "extensions": { "waitForPosition": store.head().await.unwrap() },
    });
    let (status, shown) =
        post_to(addr, "/graphql", Some(&admin), body.to_string().as_bytes()).await;
    assert!(status.contains("200"), "{status}: {shown}");
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        shown["data"],
        json!({
            "a": { "name": "[erased]", "birthDate": null },
            "b": { "name": "[erased]", "birthDate": null },
            "c": { "name": KEPT },
            "d": [{ "person": "T0009", "claim": "[erased]", "status": "rejected" }],
            "e": { "total": 95 },
        }),
        "{shown}"
    );
    server.stop().await;

    // The record still proves itself: the chain and checkpoint under the
    // trusted key, the proof and the bundle made before, the replay.
    let (code, out, err) =
        lectern(&["audit", "verify", "--key", &vkey, "--database-url", &url]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("chain intact"), "{out}");
    let (code, out, err) = lectern(&["audit", "check-proof", &proof_file, "--key", &vkey]).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = lectern(&["audit", "check-bundle", &bundle_file, "--key", &vkey]).await;
    assert_eq!(code, 0, "{out}{err}");
    // A checkpoint signed after the erasures extends the one before.
    let (code, out, err) = lectern(&[
        "audit",
        "checkpoint",
        "--database-url",
        &url,
        "--checkpoint-key",
        &key,
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let after = size_of(&out);
    assert_ne!(after, before, "{out}");
    let (code, consistency, err) = lectern(&[
        "audit",
        "prove",
        "--from",
        &before,
        "--to",
        &after,
        "--database-url",
        &url,
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    std::fs::write(&proof_file, &consistency).unwrap();
    let (code, out, err) = lectern(&["audit", "check-proof", &proof_file, "--key", &vkey]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        replay().await,
        replayed_before,
        "the appraisal replays the same"
    );
    let (code, history, err) = lectern(&[
        "replay",
        "--person",
        "T0009",
        "--year",
        "2008",
        "--show",
        "history",
        "--database-url",
        &url,
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        history.contains("LeaveRequested") && history.contains("\"[erased]\""),
        "{history}"
    );

    // Nothing of it is left in the database as it rests; the name kept is.
    let bytes = database_bytes(&db).await;
    for text in ERASED {
        assert!(!holds(&bytes, text), "{text:?} is still in the database");
    }
    assert!(holds(&bytes, KEPT), "the search finds what was not erased");

    // A key that does not open its fields is named, not read as erased.
    let other = "ab".repeat(32);
    db.raw(&if db.is_postgres() {
        format!("UPDATE personal_keys SET key = decode('{other}', 'hex') WHERE subject = 'T0010'")
    } else {
        format!("UPDATE personal_keys SET key = X'{other}' WHERE subject = 'T0010'")
    })
    .await
    .unwrap();
    let fresh = db.store_with(lectern_projections::store_options()).await;
    let err = fresh.read_stream("person-T0010", 1, 10).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("does not open under the key of T0010"),
        "{err}"
    );
    fresh.close().await;
    store.close().await;
}

/// A log written before personal fields were sealed: `lectern migrate` says
/// up to where, those events stay as they were, new ones are sealed, and an
/// erasure counts what it cannot reach.
async fn a_log_older_than_sealing_keeps_its_personal_data_in_the_clear(db: TestDb) {
    use lectern_domain::{
        OrgEvent, PersonEvent, Registration, StaffCategory, UnitId, UnitKind, person_stream,
    };
    use lectern_projections::commit;
    let url = db.url.clone();
    // Written as an older Lectern wrote: nothing sealed.
    let old = db.store_with(lectern_store::StoreOptions::default()).await;
    let meta = lectern_store::Metadata::default();
    let uni = UnitId::parse("uni").unwrap();
    commit(
        &old,
        lectern_domain::ORG_STREAM,
        0,
        &[OrgEvent::UnitEstablished {
            unit: uni.clone(),
            name: lectern_domain::Name::parse("大学").unwrap(),
            kind: UnitKind::University,
            parent: None,
        }],
        &[],
        &meta,
    )
    .await
    .unwrap();
    let no = lectern_domain::StaffNo::parse("T0001").unwrap();
    let date = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    commit(
        &old,
        &person_stream(&no),
        0,
        &[
            PersonEvent::PersonRegistered(Registration {
                staff_no: no.clone(),
                name: lectern_domain::Name::parse(KEPT).unwrap(),
                unit: uni.clone(),
                category: StaffCategory::Teacher,
                birth_date: Some(date(1950, 1, 2)),
                hire_date: date(1980, 9, 1),
            }),
            PersonEvent::PersonLeft {
                on: date(2000, 7, 1),
                reason: "retired 退休".into(),
            },
        ],
        &[],
        &meta,
    )
    .await
    .unwrap();
    old.close().await;
    // The database as it was before migration 8.
    db.raw(
        "DROP TABLE personal_keys; DROP TABLE personal_protection; \
         DELETE FROM _sqlx_migrations WHERE version = 8",
    )
    .await
    .unwrap();
    let (code, out, err) = lectern(&["migrate", "--database-url", &url]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "personal data: events 1 to 3 were written before personal data was sealed; their \
             personal fields stay in the clear and cannot be erased. Events from position 4 on \
             seal them under each person's key"
        ),
        "{out}"
    );

    let clock = Clock::manual(at(2030, 1, 1, 9, 0));
    let server = TestApp::start_at(&url, clock).await;
    let admin = admin_token(&url).await;
    ok(
        server.addr,
        &admin,
        "mutation($name: String!) { registerPerson(input: { staffNo: \"T0002\", name: $name,
           unit: \"uni\", category: teacher, birthDate: \"1960-01-02\", hireDate: \"1990-09-01\" }) { position } }",
        json!({ "name": ERASED[0] }),
    )
    .await;
    let erased = ok(
        server.addr,
        &admin,
        "mutation { erasePersonalData(staffNo: \"T0001\") { unsealedEvents keyDestroyed person { name } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        erased["erasePersonalData"],
        json!({ "unsealedEvents": 2, "keyDestroyed": false, "person": { "name": "[erased]" } }),
        "the read models' copy is erased; the log's two old events are not"
    );
    server.stop().await;
    let store = db.store_with(lectern_projections::store_options()).await;
    let stored = store.read_stored(0, 100).await.unwrap();
    assert!(stored[1].payload.contains(KEPT), "{}", stored[1].payload);
    assert!(
        stored.iter().all(|e| !e.payload.contains(ERASED[0])),
        "registered after the upgrade: sealed"
    );
    store.close().await;
}
