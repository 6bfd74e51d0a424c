//! The authorization matrix: every role against a representative query and
//! mutation of every area, allowed and refused. A refused mutation writes
//! nothing.

use lectern_graphql::Caller;
use lectern_store::testkit::TestDb;
use serde_json::{Value, json};

use crate::support::*;

both_backends!(
    every_role_against_every_area,
    card_uids_are_for_administrators,
    a_chair_expects_only_the_chairs_own_people
);

/// `None`: allowed (and succeeds); `Some(code)`: refused with that code.
type Expect = Option<&'static str>;
const OK: Expect = None;
const FORBIDDEN: Expect = Some("FORBIDDEN");
const UNAUTHENTICATED: Expect = Some("UNAUTHENTICATED");
/// Allowed, and refused for the input (no such record yet).
const BAD_USER_INPUT: Expect = Some("BAD_USER_INPUT");

async fn check(
    t: &TestApi,
    who: &str,
    caller: Option<Caller>,
    query: &str,
    vars: Value,
    expect: Expect,
) {
    let head = t.api.app.store.head().await.unwrap();
    let r = t.run(caller, query, vars).await;
    match expect {
        None => assert!(
            r.get("errors").is_none(),
            "{who} should be allowed {query}: {r}"
        ),
        Some(code) => {
            assert_eq!(
                r["errors"][0]["extensions"]["code"], code,
                "{who} should be refused {query}: {r}"
            );
            assert_eq!(
                t.api.app.store.head().await.unwrap(),
                head,
                "a refusal wrote nothing"
            );
        }
    }
}

async fn every_role_against_every_area(db: TestDb) {
    let t = TestApi::campus(db).await;
    // The administrator comes last, so that the others meet the state the
    // set-up left.
    let roles: Vec<(&str, Option<Caller>)> = vec![
        ("union chair", Some(chair())),
        ("auditor", Some(auditor())),
        ("staff", Some(staff())),
        ("kiosk", Some(kiosk())),
        ("anonymous", None),
        ("administrator", Some(admin())),
    ];
    // Expectations per role, in the order of `roles`.
    let cases: Vec<(&str, Value, [Expect; 6])> = vec![
        // The unit tree.
        (
            "{ units { id } }",
            json!({}),
            [OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "{ leadershipGroup { role ofUnit staffNo } }",
            json!({}),
            [OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "mutation($id: String!) { establishUnit(id: $id, name: $id, kind: office, parent: \"uni\") { position } }",
            json!({ "id": "new-office" }),
            [
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                UNAUTHENTICATED,
                OK,
            ],
        ),
        // People.
        (
            "{ person(staffNo: \"S0001\") { name } }",
            json!({}),
            [OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "{ person(staffNo: \"M0001\") { name } }",
            json!({}),
            [FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "{ people { edges { node { staffNo } } } }",
            json!({}),
            [OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "mutation { grantRole(staffNo: \"M0001\", role: leadership_member) { position } }",
            json!({}),
            [
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                UNAUTHENTICATED,
                OK,
            ],
        ),
        // Sessions.
        (
            "query($id: UUID!) { session(id: $id) { title roster { edges { node { staffNo } } } } }",
            json!({ "id": CS_SESSION }),
            [OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "query($id: UUID!) { session(id: $id) { title } }",
            json!({ "id": MATH_SESSION }),
            [FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "query { attendance(staffNo: \"S0001\") { status } }",
            json!({}),
            [OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        // Staff request leave for themselves; the chair for themselves.
        (
            "mutation($id: UUID!) { requestLeave(id: $id, reason: \"外出培训\") { position } }",
            json!({ "id": CS_SESSION }),
            [OK, FORBIDDEN, OK, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "mutation($id: UUID!) { approveLeave(id: $id, staffNo: \"S0001\") { position } }",
            json!({ "id": CS_SESSION }),
            // The chair decided first: the administrator is allowed, and
            // the domain refuses a second decision.
            [
                OK,
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                UNAUTHENTICATED,
                Some("CONFLICT"),
            ],
        ),
        (
            "mutation($id: UUID!) { cancelSession(id: $id, reason: \"holiday\") { position } }",
            json!({ "id": MATH_SESSION }),
            [
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                UNAUTHENTICATED,
                OK,
            ],
        ),
        // Programmes.
        (
            "{ programmes { id report { participants } } }",
            json!({}),
            [OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "mutation { launchProgramme(input: { id: \"ethics-2007\", kind: ethics_month, title: \"师德建设教育月\", launchedOn: \"2007-09-01\" }) { position } }",
            json!({}),
            [
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                UNAUTHENTICATED,
                OK,
            ],
        ),
        // Study tasks.
        (
            "{ studyTasks { edges { node { id records { edges { cursor } } } } } }",
            json!({}),
            [OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "mutation { assignStudyTask(input: { title: \"学习十七大报告\", topic: political_theory, audienceUnits: [\"cs-dept\"], assignedOn: \"2007-03-01\", due: \"2007-03-10\" }) { position } }",
            json!({}),
            [OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "mutation { assignStudyTask(input: { title: \"数学教学法\", topic: job_skills, audienceUnits: [\"math-dept\"], assignedOn: \"2007-03-01\", due: \"2007-03-10\" }) { position } }",
            json!({}),
            [
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                UNAUTHENTICATED,
                OK,
            ],
        ),
        // Awards.
        (
            "{ awardCategories { id } awardsRegister { nominee } nominations { votes } exemplars { story } }",
            json!({}),
            [OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "mutation($id: String!) { defineAwardCategory(id: $id, title: \"优秀教师\", level: city, kind: individual, criteria: \"师德\") { position } }",
            json!({ "id": "excellent-teacher" }),
            [
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                UNAUTHENTICATED,
                OK,
            ],
        ),
        // Monthly reporting.
        (
            "{ unitMonth(unit: \"cs-dept\", year: 2007, month: 3) { figures { sessionsHeld } report { chair } } leadershipMeetings { month } }",
            json!({}),
            [OK, OK, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "{ unitMonth(unit: \"math-dept\", year: 2007, month: 3) { figures { sessionsHeld } } }",
            json!({}),
            [FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "mutation { submitMonthlyReport(unit: \"cs-dept\", year: 2007, month: 3, narrative: \"x\") { position } }",
            json!({}),
            // Allowed to try; the domain refuses people without the
            // union chair role of the unit (set-up grants none).
            [
                Some("CONFLICT"),
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                UNAUTHENTICATED,
                Some("CONFLICT"),
            ],
        ),
        // Appraisal and disputes.
        (
            "{ appraisal(staffNo: \"S0001\", year: 2007) { total lines { rule } } scoringRules { version } disputes { id } }",
            json!({}),
            [OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "{ appraisal(staffNo: \"M0001\", year: 2007) { total } }",
            json!({}),
            [FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "mutation { adjustPoints(staffNo: \"S0001\", points: 2, reason: \"补录\", on: \"2007-05-01\") { position } }",
            json!({}),
            [
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                UNAUTHENTICATED,
                OK,
            ],
        ),
        (
            // Staff may file, about lines of their own appraisal only: S0001
            // has none in 2006.
            "mutation { fileDispute(year: 2006, positions: [1], claim: \"当天请假\") { position } }",
            json!({}),
            [
                FORBIDDEN,
                FORBIDDEN,
                BAD_USER_INPUT,
                FORBIDDEN,
                UNAUTHENTICATED,
                FORBIDDEN,
            ],
        ),
        (
            "mutation { resolveDispute(id: \"0195f000-0000-7000-8000-00000000dddd\", outcome: rejected, reasoning: \"x\") { position } }",
            json!({}),
            [
                FORBIDDEN,
                Some("NOT_FOUND"),
                FORBIDDEN,
                FORBIDDEN,
                UNAUTHENTICATED,
                FORBIDDEN,
            ],
        ),
        // Operations and the raw log.
        (
            "{ events(first: 3) { position } }",
            json!({}),
            [FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "{ projections { name lag } }",
            json!({}),
            [FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "{ kiosks { id missing clockSkewMs } }",
            json!({}),
            [FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "{ auditVerify { intact events checkpoints } }",
            json!({}),
            [FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            // No checkpoint is signed in this test: a clear refusal for
            // those allowed to ask.
            "{ inclusionProof(position: 1) }",
            json!({}),
            [
                FORBIDDEN,
                BAD_USER_INPUT,
                FORBIDDEN,
                FORBIDDEN,
                UNAUTHENTICATED,
                BAD_USER_INPUT,
            ],
        ),
        (
            "{ checkpoints { size root } checkpointKeys { keyId publicKey } }",
            json!({}),
            [OK, OK, OK, FORBIDDEN, UNAUTHENTICATED, OK],
        ),
        (
            "mutation { registerKiosk(id: \"hall-a-1\", venue: \"hall-a\") { position } }",
            json!({}),
            [
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                UNAUTHENTICATED,
                OK,
            ],
        ),
    ];
    for (query, vars, expects) in cases {
        for ((who, caller), expect) in roles.iter().zip(expects) {
            check(&t, who, caller.clone(), query, vars.clone(), expect).await;
        }
    }

    // A staff member may not act for someone else, nor a chair outside
    // their subtree.
    let (code, message) = t
        .err(
            Some(staff()),
            "mutation($id: UUID!) { requestLeave(id: $id, staffNo: \"C0001\", reason: \"x\") { position } }",
            json!({ "id": CS_SESSION }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
    assert_eq!(
        message,
        "staff member S0001 may not request leave for C0001"
    );
    let (code, message) = t
        .err(
            Some(chair()),
            "mutation($id: UUID!) { approveLeave(id: $id, staffNo: \"M0001\") { position } }",
            json!({ "id": MATH_SESSION }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
    assert_eq!(
        message,
        "the union chair of school-cs may not decide leave at this session (organised by math-dept, outside school-cs)"
    );

    // Scopes filter lists: the chair sees their subtree, staff themselves.
    let units = t.ok(chair(), "{ units { id } }", json!({})).await;
    assert_eq!(
        units["units"],
        json!([{ "id": "school-cs" }, { "id": "cs-dept" }])
    );
    let people = t
        .ok(
            chair(),
            "{ people { edges { node { staffNo } } } }",
            json!({}),
        )
        .await;
    let nos: Vec<&str> = people["people"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["staffNo"].as_str().unwrap())
        .collect();
    assert_eq!(nos, ["C0001", "S0001"]);
    let people = t
        .ok(
            staff(),
            "{ people { edges { node { staffNo } } } }",
            json!({}),
        )
        .await;
    assert_eq!(people["people"]["edges"].as_array().unwrap().len(), 1);
    let sessions = t
        .ok(
            other_staff(),
            "{ sessions { edges { node { organiser } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        sessions["sessions"]["edges"],
        json!([{ "node": { "organiser": "math-dept" } }])
    );
}

async fn card_uids_are_for_administrators(db: TestDb) {
    let t = TestApi::campus(db).await;
    let q = "{ person(staffNo: \"S0001\") { card } }";
    assert_eq!(
        t.ok(admin(), q, json!({})).await["person"]["card"],
        "04A1B2C5"
    );
    for caller in [chair(), auditor(), staff()] {
        assert_eq!(
            t.ok(caller, q, json!({})).await["person"]["card"],
            "****B2C5"
        );
    }
    // In the raw log too: the auditor sees the event's position and hash,
    // the card masked; the administrator the whole UID.
    let q = "{ events(stream: \"person-S0001\") { eventType payload hash } }";
    let issued = |r: Value| {
        r["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["eventType"] == "CardIssued")
            .cloned()
            .unwrap()
    };
    let full = issued(t.ok(admin(), q, json!({})).await);
    let masked = issued(t.ok(auditor(), q, json!({})).await);
    assert_eq!(full["payload"], r#"{"type":"CardIssued","uid":"04A1B2C5"}"#);
    assert_eq!(
        masked["payload"],
        r#"{"type":"CardIssued","uid":"****B2C5"}"#
    );
    assert_eq!(masked["hash"], full["hash"]);
}

/// The chair of school-cs schedules sessions organised in school-cs that
/// expect its own staff (or nobody: open); expecting math-dept's, the
/// whole university's or a programme's cohort is refused, naming why, and
/// writes nothing. An administrator may.
async fn a_chair_expects_only_the_chairs_own_people(db: TestDb) {
    let t = TestApi::campus(db).await;
    let schedule =
        "mutation($input: ScheduleSessionInput!) { scheduleSession(input: $input) { position } }";
    let input = |audience: Value| {
        let mut v = json!({ "kind": "centralized_study", "title": "集中学习",
            "organiser": "school-cs", "venue": "hall-a",
            "startsAt": "2030-03-05T06:30:00Z", "endsAt": "2030-03-05T08:00:00Z" });
        for (k, x) in audience.as_object().unwrap() {
            v[k] = x.clone();
        }
        json!({ "input": v })
    };
    for (audience, expect) in [
        (json!({ "audienceUnits": ["cs-dept"] }), OK),
        (json!({ "audienceUnits": ["school-cs"] }), OK),
        (json!({}), OK),
        (json!({ "audienceUnits": ["math-dept"] }), FORBIDDEN),
        (json!({ "audienceUnits": ["cs-dept", "uni"] }), FORBIDDEN),
        (json!({ "audienceCohort": "ytnp" }), FORBIDDEN),
    ] {
        check(
            &t,
            "union chair",
            Some(chair()),
            schedule,
            input(audience.clone()),
            expect,
        )
        .await;
    }
    let r = t
        .run(
            Some(chair()),
            schedule,
            input(json!({ "audienceUnits": ["math-dept"] })),
        )
        .await;
    assert_eq!(
        r["errors"][0]["message"],
        "the union chair of school-cs may not schedule a session expecting the staff of \
         math-dept, outside school-cs (an administrator schedules it)"
    );
    check(
        &t,
        "administrator",
        Some(admin()),
        schedule,
        input(json!({ "audienceUnits": ["math-dept", "cs-dept"] })),
        OK,
    )
    .await;
}
