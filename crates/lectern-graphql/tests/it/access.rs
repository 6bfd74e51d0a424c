//! The authorization matrix. The access table (`lectern_graphql::access`)
//! names the roles of every root field: a request for each field is run by
//! every role and must get past the door exactly where the table says, and
//! `docs/access.md` is the table as generated. Then every role against a
//! representative query and mutation of every area, with what it answers.
//! A refused request writes nothing.

use lectern_graphql::Caller;
use lectern_graphql::access::{Operation, Role, TABLE};
use lectern_store::testkit::TestDb;
use serde_json::{Value, json};

use crate::support::*;

both_backends!(
    the_access_table_holds_for_every_field,
    every_role_against_every_area,
    card_uids_are_for_administrators,
    a_chair_expects_only_the_chairs_own_people,
    the_pages_know_who_signed_in_and_rank_units_within_reach,
    proxy_flags_reach_the_chairs_of_the_people_flagged
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

const NO_SESSION: &str = "0195f000-0000-7000-8000-000000000000";

/// A request for every root field, in the order of the table. Targets lie
/// within every allowed role's reach (the chair's subtree, the staff
/// member's own records) or do not exist (an allowed caller then meets
/// NOT_FOUND, which is past the door).
fn sample(operation: Operation, field: &str) -> Option<(String, Value)> {
    let q = |s: &str| Some((s.to_owned(), json!({})));
    let none = NO_SESSION;
    let session = CS_SESSION;
    let m = |body: String| Some((format!("mutation {{ {body} }}"), json!({})));
    match (operation, field) {
        (Operation::Query, "units") => q("{ units { id } }"),
        (Operation::Query, "unit") => q("{ unit(id: \"cs-dept\") { id } }"),
        (Operation::Query, "people") => q("{ people { edges { node { staffNo } } } }"),
        (Operation::Query, "leadershipGroup") => q("{ leadershipGroup { __typename } }"),
        (Operation::Query, "person") => q("{ person(staffNo: \"S0001\") { name } }"),
        (Operation::Query, "me") => q("{ me { __typename } }"),
        (Operation::Query, "signedIn") => q("{ signedIn { role } }"),
        (Operation::Query, "unitRanking") => q("{ unitRanking(year: 2026) { unit } }"),
        (Operation::Query, "sessions") => q("{ sessions { edges { node { id } } } }"),
        (Operation::Query, "session") => Some((
            format!("{{ session(id: \"{session}\") {{ title }} }}"),
            json!({}),
        )),
        (Operation::Query, "heldTaps") => q("{ heldTaps(year: 2026) { __typename } }"),
        (Operation::Query, "attendance") => q("{ attendance(staffNo: \"S0001\") { __typename } }"),
        (Operation::Query, "programmes") => q("{ programmes { __typename } }"),
        (Operation::Query, "programme") => q("{ programme(id: \"nope\") { __typename } }"),
        (Operation::Query, "studyTasks") => q("{ studyTasks { __typename } }"),
        (Operation::Query, "studyTask") => Some((
            format!("{{ studyTask(id: \"{none}\") {{ __typename }} }}"),
            json!({}),
        )),
        (Operation::Query, "studyRecord") => q("{ studyRecord(staffNo: \"S0001\") { __typename } }"),
        (Operation::Query, "awardCategories") => q("{ awardCategories { __typename } }"),
        (Operation::Query, "nominations") => q("{ nominations { __typename } }"),
        (Operation::Query, "awardsRegister") => q("{ awardsRegister { __typename } }"),
        (Operation::Query, "exemplars") => q("{ exemplars { __typename } }"),
        (Operation::Query, "unitHistory") => {
            q("{ unitHistory(unit: \"cs-dept\", year: 2026) { __typename } }")
        }
        (Operation::Query, "unitMonth") => {
            q("{ unitMonth(unit: \"cs-dept\", year: 2026, month: 9) { __typename } }")
        }
        (Operation::Query, "leadershipMeetings") => q("{ leadershipMeetings { __typename } }"),
        (Operation::Query, "yearEndRecord") => q("{ yearEndRecord(year: 2026) { __typename } }"),
        (Operation::Query, "appraisal") => {
            q("{ appraisal(staffNo: \"S0001\", year: 2026) { __typename } }")
        }
        (Operation::Query, "history") => {
            q("{ history(staffNo: \"S0001\", year: 2026) { __typename } }")
        }
        (Operation::Query, "unitAppraisal") => {
            q("{ unitAppraisal(unit: \"cs-dept\", year: 2026) { __typename } }")
        }
        (Operation::Query, "scoringRules") => q("{ scoringRules { __typename } }"),
        (Operation::Query, "disputes") => q("{ disputes { __typename } }"),
        (Operation::Query, "exportLink") => q(
            "{ exportLink(report: appraisal, format: csv, params: { person: \"S0001\", year: 2026 }) { __typename } }",
        ),
        (Operation::Query, "projections") => q("{ projections { __typename } }"),
        (Operation::Query, "auditVerify") => q("{ auditVerify { __typename } }"),
        (Operation::Query, "checkpoints") => q("{ checkpoints { __typename } }"),
        (Operation::Query, "inclusionProof") => q("{ inclusionProof(position: 1) }"),
        (Operation::Query, "checkpointKeys") => q("{ checkpointKeys { __typename } }"),
        (Operation::Query, "kiosks") => q("{ kiosks { __typename } }"),
        (Operation::Query, "events") => q("{ events(first: 1) { __typename } }"),
        (Operation::Mutation, "establishUnit") => m(
            "establishUnit(id: \"cs-lab\", name: \"实验室\", kind: office, parent: \"cs-dept\") { position }".into(),
        ),
        (Operation::Mutation, "renameUnit") => {
            m("renameUnit(id: \"cs-dept\", name: \"计算机系\") { position }".into())
        }
        (Operation::Mutation, "moveUnit") => {
            m("moveUnit(id: \"nope\", parent: \"uni\") { position }".into())
        }
        (Operation::Mutation, "dissolveUnit") => {
            m("dissolveUnit(id: \"nope\", reason: \"合并\") { position }".into())
        }
        (Operation::Mutation, "registerPerson") => m(
            "registerPerson(input: { staffNo: \"N0001\", name: \"新人\", unit: \"cs-dept\", \
             category: teacher, birthDate: \"1990-01-01\", hireDate: \"2020-09-01\" }) { position }"
                .into(),
        ),
        (Operation::Mutation, "transferPerson") => m(
            "transferPerson(staffNo: \"NOBODY1\", to: \"cs-dept\", effective: \"2026-01-05\") { position }"
                .into(),
        ),
        (Operation::Mutation, "recordLeaving") => m(
            "recordLeaving(staffNo: \"NOBODY1\", on: \"2026-01-05\", reason: \"退休\") { position }"
                .into(),
        ),
        (Operation::Mutation, "issueCard") => {
            m("issueCard(staffNo: \"NOBODY1\", uid: \"04FFFFFF\") { position }".into())
        }
        (Operation::Mutation, "revokeCard") => m(
            "revokeCard(staffNo: \"NOBODY1\", uid: \"04FFFFFF\", reason: lost) { position }".into(),
        ),
        (Operation::Mutation, "erasePersonalData") => {
            m("erasePersonalData(staffNo: \"NOBODY1\") { position }".into())
        }
        (Operation::Mutation, "grantRole") => {
            m("grantRole(staffNo: \"NOBODY1\", role: leadership_member) { position }".into())
        }
        (Operation::Mutation, "revokeRole") => {
            m("revokeRole(staffNo: \"NOBODY1\", role: leadership_member) { position }".into())
        }
        (Operation::Mutation, "scheduleSession") => Some((
            "mutation($input: ScheduleSessionInput!) { scheduleSession(input: $input) { position } }"
                .into(),
            json!({ "input": {
                "id": "0195f000-0000-7000-8000-0000000000ee", "kind": "centralized_study",
                "title": "加场学习", "organiser": "cs-dept", "venue": "hall-a",
                "startsAt": "2030-09-03T07:00:00Z", "endsAt": "2030-09-03T08:30:00Z",
                "audienceUnits": ["cs-dept"],
            }}),
        )),
        (Operation::Mutation, "cancelSession") => {
            m(format!("cancelSession(id: \"{none}\", reason: \"x\") {{ position }}"))
        }
        (Operation::Mutation, "rescheduleSession") => m(format!(
            "rescheduleSession(id: \"{none}\", startsAt: \"2030-09-03T07:00:00Z\", \
             endsAt: \"2030-09-03T08:30:00Z\", venue: \"hall-a\") {{ position }}"
        )),
        (Operation::Mutation, "assignSeat") => m(format!(
            "assignSeat(id: \"{none}\", staffNo: \"S0001\", seat: \"A1\") {{ position }}"
        )),
        (Operation::Mutation, "markByHand") => m(format!(
            "markByHand(id: \"{none}\", staffNo: \"S0001\") {{ position }}"
        )),
        (Operation::Mutation, "requestLeave") => m(format!(
            "requestLeave(id: \"{session}\", reason: \"外出培训\") {{ position }}"
        )),
        (Operation::Mutation, "approveLeave") => m(format!(
            "approveLeave(id: \"{none}\", staffNo: \"S0001\") {{ position }}"
        )),
        (Operation::Mutation, "rejectLeave") => m(format!(
            "rejectLeave(id: \"{none}\", staffNo: \"S0001\", reason: \"x\") {{ position }}"
        )),
        (Operation::Mutation, "closeSession") => {
            m(format!("closeSession(id: \"{none}\") {{ position }}"))
        }
        (Operation::Mutation, "correctAttendance") => m(format!(
            "correctAttendance(id: \"{none}\", staffNo: \"S0001\", to: present, reason: \"x\") \
             {{ position }}"
        )),
        (Operation::Mutation, "launchProgramme") => m(
            "launchProgramme(input: { id: \"reading\", kind: campaign, title: \"读书月\", \
             launchedOn: \"2026-09-01\" }) { position }"
                .into(),
        ),
        (Operation::Mutation, "issueAnnualPlan") => m(
            "issueAnnualPlan(programme: \"nope\", year: 2026, targets: []) { position }".into(),
        ),
        (Operation::Mutation, "issueNotice") => m(
            "issueNotice(programme: \"nope\", title: \"通知\", body: \"x\", issuedOn: \"2026-09-01\") \
             { position }"
                .into(),
        ),
        (Operation::Mutation, "enrolParticipant") => m(
            "enrolParticipant(programme: \"nope\", staffNo: \"S0001\", on: \"2026-09-01\") { position }"
                .into(),
        ),
        (Operation::Mutation, "assignStudyTask") => m(
            "assignStudyTask(input: { title: \"读原著\", topic: political_theory, \
             audienceUnits: [\"cs-dept\"], assignedOn: \"2030-09-01\", due: \"2030-09-30\" }) \
             { position }"
                .into(),
        ),
        (Operation::Mutation, "completeStudyTask") => m(format!(
            "completeStudyTask(id: \"{none}\", evidence: \"读书笔记\") {{ position }}"
        )),
        (Operation::Mutation, "waiveStudyTask") => m(format!(
            "waiveStudyTask(id: \"{none}\", staffNo: \"S0001\", reason: \"x\") {{ position }}"
        )),
        (Operation::Mutation, "closeStudyTask") => {
            m(format!("closeStudyTask(id: \"{none}\") {{ position }}"))
        }
        (Operation::Mutation, "defineAwardCategory") => m(
            "defineAwardCategory(id: \"good-teacher\", title: \"优秀教师\", level: university, \
             kind: individual, criteria: \"x\") { position }"
                .into(),
        ),
        (Operation::Mutation, "nominate") => m(
            "nominate(category: \"nope\", year: 2026, nomineeStaffNo: \"S0001\", citation: \"x\") \
             { position }"
                .into(),
        ),
        (Operation::Mutation, "endorseNomination") => m(
            "endorseNomination(category: \"nope\", year: 2026, nomineeStaffNo: \"S0001\") { position }"
                .into(),
        ),
        (Operation::Mutation, "vote") => m(
            "vote(category: \"nope\", year: 2026, nomineeStaffNo: \"S0001\") { position }".into(),
        ),
        (Operation::Mutation, "conferAward") => m(
            "conferAward(category: \"nope\", year: 2026, nomineeStaffNo: \"S0001\", ceremony: \"x\", \
             on: \"2026-09-10\") { position }"
                .into(),
        ),
        (Operation::Mutation, "revokeAward") => m(
            "revokeAward(category: \"nope\", year: 2026, nomineeStaffNo: \"S0001\", reason: \"x\") \
             { position }"
                .into(),
        ),
        (Operation::Mutation, "featureExemplar") => m(
            "featureExemplar(category: \"nope\", year: 2026, nomineeStaffNo: \"S0001\", \
             channel: campus_web, story: \"x\", on: \"2026-09-10\") { position }"
                .into(),
        ),
        (Operation::Mutation, "holdLeadershipMeeting") => m(
            "holdLeadershipMeeting(year: 2026, month: 9, on: \"2026-09-08\", attendees: [], \
             minutes: \"x\") { position }"
                .into(),
        ),
        (Operation::Mutation, "completeStudyCheck") => m(
            "completeStudyCheck(unit: \"cs-dept\", year: 2026, month: 9, on: \"2026-09-28\", \
             notes: \"x\") { position }"
                .into(),
        ),
        (Operation::Mutation, "submitMonthlyReport") => m(
            "submitMonthlyReport(unit: \"cs-dept\", year: 2026, month: 9, narrative: \"x\") \
             { position }"
                .into(),
        ),
        (Operation::Mutation, "adoptScoringRules") => m(
            "adoptScoringRules(input: { version: 0, effectiveFrom: \"2026-01-01\", basePoints: 100, \
             perAbsence: 2, perLate: 1, perMissedTask: 2, perLateReport: 1, reportDueDay: 5, \
             awardBonus: [] }) { position }"
                .into(),
        ),
        (Operation::Mutation, "adjustPoints") => m(
            "adjustPoints(staffNo: \"NOBODY1\", points: 1, reason: \"x\", on: \"2026-09-01\") \
             { position }"
                .into(),
        ),
        (Operation::Mutation, "closeAppraisalYear") => {
            m("closeAppraisalYear(year: 2999) { position }".into())
        }
        (Operation::Mutation, "fileDispute") => m(
            "fileDispute(year: 2026, positions: [1], claim: \"那天我在\") { position }".into(),
        ),
        (Operation::Mutation, "assignDispute") => m(format!(
            "assignDispute(id: \"{none}\", auditor: \"M0001\") {{ position }}"
        )),
        (Operation::Mutation, "resolveDispute") => m(format!(
            "resolveDispute(id: \"{none}\", outcome: upheld, reasoning: \"x\") {{ position }}"
        )),
        (Operation::Mutation, "registerKiosk") => m(
            "registerKiosk(id: \"hall-b-1\", venue: \"hall-b\") { __typename }".into(),
        ),
        (Operation::Subscription, "sessionAttendance") => Some((
            format!("subscription {{ sessionAttendance(id: \"{none}\") {{ __typename }} }}"),
            json!({}),
        )),
        (Operation::Subscription, "events") => q("subscription { events { position } }"),
        (Operation::Query, "proxyFlags") => q("{ proxyFlags { key } }"),
        (Operation::Mutation, "reviewProxyFlag") => m(
            "reviewProxyFlag(key: \"revoked_card-nope\", verdict: dismissed, reason: \"x\") { key }"
                .into(),
        ),
        (Operation::Subscription, "proxyFlagRaised") => {
            q("subscription { proxyFlagRaised(after: 999999999) { key } }")
        }
        _ => None,
    }
}

/// Every root field of the schema's SDL, by operation.
fn schema_fields() -> Vec<(Operation, String)> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let doc = async_graphql::parser::parse_schema(lectern_graphql::sdl()).unwrap();
    let mut out = Vec::new();
    for def in doc.definitions {
        let TypeSystemDefinition::Type(t) = def else {
            continue;
        };
        let operation = match t.node.name.node.as_str() {
            "Query" => Operation::Query,
            "Mutation" => Operation::Mutation,
            "Subscription" => Operation::Subscription,
            _ => continue,
        };
        if let TypeKind::Object(o) = &t.node.kind {
            for f in &o.fields {
                out.push((operation, f.node.name.node.to_string()));
            }
        }
    }
    out
}

/// The first response of a request (a subscription's first event, or its
/// refusal).
async fn first_answer(t: &TestApi, caller: Option<Caller>, query: &str, vars: Value) -> Value {
    use futures_util::StreamExt;
    if !query.starts_with("subscription") {
        return t.run(caller, query, vars).await;
    }
    let mut request =
        async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(vars));
    if let Some(c) = caller {
        request = request.data(c);
    }
    let mut stream = t.schema.execute_stream(request);
    serde_json::to_value(stream.next().await.expect("a first answer")).unwrap()
}

async fn the_access_table_holds_for_every_field(db: TestDb) {
    // The table names every root field of the schema once, and no other.
    let fields = schema_fields();
    for (operation, field) in &fields {
        let rows = TABLE
            .iter()
            .filter(|r| r.operation == *operation && r.field == field)
            .count();
        assert_eq!(
            rows, 1,
            "{operation:?} {field}: {rows} rows in the access table"
        );
    }
    for rule in TABLE {
        assert!(
            fields.contains(&(rule.operation, rule.field.to_owned())),
            "the access table names {:?} {}, which the schema lacks",
            rule.operation,
            rule.field
        );
    }
    // docs/access.md is the table.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/access.md");
    let generated = lectern_graphql::access::table_markdown();
    if std::env::var("LECTERN_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
    }
    assert!(
        std::fs::read_to_string(&path).unwrap_or_default() == generated,
        "docs/access.md is stale: run `LECTERN_BLESS=1 cargo test -p lectern-graphql access` \
         and commit the result"
    );

    let t = TestApi::campus(db).await;
    let roles: Vec<(Option<Role>, &str, Option<Caller>)> = vec![
        (Some(Role::UnionChair), "union chair", Some(chair())),
        (Some(Role::Auditor), "auditor", Some(auditor())),
        (Some(Role::Staff), "staff", Some(staff())),
        (None, "kiosk", Some(kiosk())),
        (None, "anonymous", None),
        (Some(Role::Administrator), "administrator", Some(admin())),
    ];
    for rule in TABLE {
        let (query, vars) = sample(rule.operation, rule.field)
            .unwrap_or_else(|| panic!("no sample request for {:?} {}", rule.operation, rule.field));
        for (role, who, caller) in &roles {
            let head = t.api.app.store.head().await.unwrap();
            let r = first_answer(&t, caller.clone(), &query, vars.clone()).await;
            let code = r["errors"][0]["extensions"]["code"].as_str();
            let allowed = role.is_some_and(|role| rule.roles.contains(&role));
            if allowed {
                assert!(
                    !matches!(code, Some("FORBIDDEN" | "UNAUTHENTICATED" | "BAD_REQUEST")),
                    "the table lets {who} call {}, but {query} answered {r}",
                    rule.field
                );
            } else {
                let expected = if caller.is_none() {
                    "UNAUTHENTICATED"
                } else {
                    "FORBIDDEN"
                };
                assert_eq!(
                    code,
                    Some(expected),
                    "the table refuses {who} {}, but {query} answered {r}",
                    rule.field
                );
                assert_eq!(
                    t.api.app.store.head().await.unwrap(),
                    head,
                    "{who}'s refused {} wrote nothing",
                    rule.field
                );
            }
        }
    }
}

async fn the_pages_know_who_signed_in_and_rank_units_within_reach(db: TestDb) {
    let t = TestApi::campus(db).await;
    t.ok(
        admin(),
        "mutation { grantRole(staffNo: \"M0001\", role: leadership_member) { position } }",
        json!({}),
    )
    .await;
    let who = "{ signedIn { role staffNo unit leadership timeZone years } }";
    let r = t.run(Some(chair()), who, json!({})).await;
    // The campus's two sessions start a week from now.
    let years: i64 = (chrono::Utc::now() + chrono::Duration::days(7))
        .format("%Y")
        .to_string()
        .parse()
        .unwrap();
    assert_eq!(
        r["data"]["signedIn"],
        json!({ "role": "union-chair", "staffNo": "C0001", "unit": "school-cs",
                "leadership": false, "timeZone": "Asia/Shanghai", "years": [years] }),
        "{r}"
    );
    let r = t.run(Some(other_staff()), who, json!({})).await;
    assert_eq!(r["data"]["signedIn"]["leadership"], true, "{r}");
    assert_eq!(r["data"]["signedIn"]["role"], "staff", "{r}");

    // The units below the top for whoever reaches them all, below the
    // chair's unit for the chair, none for staff outside the leadership
    // group; nobody was expected anywhere, so the order is the units'.
    let rank = |under: Option<&str>| match under {
        Some(u) => format!(
            "{{ unitRanking(year: 2030, under: \"{u}\") {{ unit figures {{ attendancePermille }} }} }}"
        ),
        None => "{ unitRanking(year: 2030) { unit figures { attendancePermille } } }".to_owned(),
    };
    let units = |r: &Value| -> Vec<String> {
        r["data"]["unitRanking"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|u| u["unit"].as_str().unwrap().to_owned())
            .collect()
    };
    for (who, caller) in [
        ("administrator", admin()),
        ("auditor", auditor()),
        ("leadership member", other_staff()),
    ] {
        let r = t.run(Some(caller), &rank(None), json!({})).await;
        assert_eq!(units(&r), ["school-cs", "school-math"], "{who}: {r}");
    }
    let r = t.run(Some(chair()), &rank(None), json!({})).await;
    assert_eq!(units(&r), ["cs-dept"], "{r}");
    let r = t.run(Some(staff()), &rank(None), json!({})).await;
    assert!(units(&r).is_empty(), "{r}");
    let r = t.run(Some(chair()), &rank(Some("uni")), json!({})).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
    let r = t
        .run(Some(admin()), &rank(Some("nowhere")), json!({}))
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "NOT_FOUND", "{r}");
    let r = t
        .run(
            Some(admin()),
            "{ unitRanking(year: 2030, month: 13) { unit } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
}

/// Records a tap of `card` (held by `person`) at `kiosk` in `venue`,
/// `secs` after 14:00 on Tuesday 4 March 2008, as the server decided it.
async fn raw_tap(
    t: &TestApi,
    kiosk: &str,
    venue: &str,
    card: &str,
    person: &str,
    secs: i64,
    outcome: lectern_domain::TapOutcome,
) {
    use lectern_domain::*;
    let store = &t.api.app.store;
    let stream = kiosk_stream(kiosk);
    let (ledger, version) = lectern_projections::load::<KioskLedger>(store, &stream, u64::MAX)
        .await
        .unwrap();
    let when = chrono::DateTime::parse_from_rfc3339("2008-03-04T06:00:00Z")
        .unwrap()
        .to_utc()
        + chrono::Duration::seconds(secs);
    let event = KioskEvent::CardTapped {
        tap: uuid::Uuid::now_v7(),
        venue: Slug::parse(venue).unwrap(),
        card: CardUid::parse(card).unwrap(),
        kiosk_time: when,
        counter: ledger.last_counter.unwrap_or(0) + 1,
        signature: "ab".repeat(32),
        decision: Some(TapDecision {
            at: when,
            clock_offset_ms: 0,
            placed: None,
            person: Some(StaffNo::parse(person).unwrap()),
            session: None,
            outcome,
        }),
        enrolment: None,
        clock: None,
    };
    let events = ledger.decide(&event).unwrap();
    lectern_projections::commit(store, &stream, version, &events, &[], &Default::default())
        .await
        .unwrap();
}

/// S0001 (cs-dept) has their card read at hall-a and, three minutes
/// later, at hall-b: a `two_venues` flag about S0001. M0001's (math-dept)
/// revoked card is read: a `revoked_card` flag about M0001. The chair of
/// school-cs sees and reviews only the first; the auditor sees both with
/// card UIDs masked; staff see none. A review happens once, with a reason.
/// `asOf` shows them as the log held them.
async fn proxy_flags_reach_the_chairs_of_the_people_flagged(db: TestDb) {
    use lectern_domain::{AttendanceStatus, RejectReason, TapOutcome};
    let t = TestApi::campus(db).await;
    let present = TapOutcome::Recorded(AttendanceStatus::Present);
    raw_tap(&t, "k-a", "hall-a", "04A1B2C5", "S0001", 0, present).await;
    raw_tap(&t, "k-b", "hall-b", "04A1B2C5", "S0001", 180, present).await;
    let revoked = TapOutcome::Rejected(RejectReason::RevokedCard);
    raw_tap(&t, "k-a", "hall-a", "04A1B2C6", "M0001", 60, revoked).await;
    // The analyzer appends the flags: wait until nothing more comes.
    let p = &t.api.app.projections;
    loop {
        let head = t.api.app.store.head().await.unwrap();
        p.wait_for_all(head, std::time::Duration::from_secs(30))
            .await
            .unwrap();
        if t.api.app.store.head().await.unwrap() == head {
            break;
        }
    }
    let q =
        "{ proxyFlags { key rule ruleVersion people status taps { kiosk venue card staffNo } } }";
    let all = t.ok(admin(), q, json!({})).await;
    let flags = all["proxyFlags"].as_array().unwrap();
    assert_eq!(flags.len(), 2, "{all}");
    // Newest first: the revoked card's flag was raised last.
    assert_eq!(flags[0]["rule"], "revoked_card", "{all}");
    assert_eq!(flags[0]["people"], json!(["M0001"]));
    assert_eq!(flags[0]["ruleVersion"], 1);
    assert_eq!(flags[1]["rule"], "two_venues");
    assert_eq!(flags[1]["people"], json!(["S0001"]));
    assert_eq!(
        flags[1]["taps"],
        json!([
            { "kiosk": "k-a", "venue": "hall-a", "card": "04A1B2C5", "staffNo": "S0001" },
            { "kiosk": "k-b", "venue": "hall-b", "card": "04A1B2C5", "staffNo": "S0001" },
        ])
    );
    let revoked_key = flags[0]["key"].as_str().unwrap().to_owned();
    let two_venues = flags[1]["key"].as_str().unwrap().to_owned();

    let chair_sees = t.ok(chair(), "{ proxyFlags { key } }", json!({})).await;
    assert_eq!(chair_sees["proxyFlags"], json!([{ "key": two_venues }]));
    let audited = t.ok(auditor(), q, json!({})).await;
    assert_eq!(
        audited["proxyFlags"][1]["taps"][0]["card"], "****B2C5",
        "{audited}"
    );
    let r = t.run(Some(staff()), q, json!({})).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
    let by = t
        .ok(admin(), "{ a: proxyFlags(person: \"M0001\") { key } b: proxyFlags(rule: two_venues, unit: \"cs-dept\") { key } c: proxyFlags(unit: \"math-dept\", rule: two_venues) { key } }", json!({}))
        .await;
    assert_eq!(
        by,
        json!({ "a": [{ "key": revoked_key }], "b": [{ "key": two_venues }], "c": [] })
    );

    let before_review = chrono::Utc::now();
    let review = "mutation($key: String!, $verdict: FlagVerdict!, $reason: String!) {
        reviewProxyFlag(key: $key, verdict: $verdict, reason: $reason) { status reviewer reason } }";
    let r = t
        .run(
            Some(chair()),
            review,
            json!({ "key": revoked_key, "verdict": "confirmed", "reason": "借卡" }),
        )
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
    let r = t
        .run(
            Some(admin()),
            review,
            json!({ "key": revoked_key, "verdict": "confirmed", "reason": " " }),
        )
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    let r = t
        .ok(
            chair(),
            review,
            json!({ "key": two_venues, "verdict": "dismissed", "reason": "两个会场相邻" }),
        )
        .await;
    assert_eq!(
        r["reviewProxyFlag"],
        json!({ "status": "dismissed", "reviewer": "C0001", "reason": "两个会场相邻" })
    );
    let r = t
        .run(
            Some(admin()),
            review,
            json!({ "key": two_venues, "verdict": "confirmed", "reason": "x" }),
        )
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "CONFLICT", "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already dismissed by C0001"),
        "{r}"
    );
    let r = t
        .run(
            Some(admin()),
            review,
            json!({ "key": "two_venues-nope", "verdict": "confirmed", "reason": "x" }),
        )
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "NOT_FOUND", "{r}");

    // As the log held them: before the review both were open, now one is;
    // in 2008, before the log recorded any, there were none.
    let as_of = "query($t: DateTime!, $s: FlagStatus) {
        proxyFlags(asOf: $t, status: $s) { key status reviewer taps { kiosk } } }";
    let then = t
        .ok(admin(), as_of, json!({ "t": before_review, "s": "open" }))
        .await;
    assert_eq!(
        then["proxyFlags"],
        json!([
            { "key": revoked_key, "status": "open", "reviewer": null, "taps": [{ "kiosk": "k-a" }] },
            { "key": two_venues, "status": "open", "reviewer": null,
              "taps": [{ "kiosk": "k-a" }, { "kiosk": "k-b" }] },
        ])
    );
    let now = t
        .ok(
            admin(),
            as_of,
            json!({ "t": chrono::Utc::now(), "s": "open" }),
        )
        .await;
    assert_eq!(
        now["proxyFlags"],
        json!([{ "key": revoked_key, "status": "open", "reviewer": null, "taps": [{ "kiosk": "k-a" }] }])
    );
    let before = t
        .ok(
            admin(),
            as_of,
            json!({ "t": "2008-01-01T00:00:00Z", "s": null }),
        )
        .await;
    assert_eq!(before["proxyFlags"], json!([]));

    // The chair's subscription from the start of the log: their flag only.
    let first = first_answer(
        &t,
        Some(chair()),
        "subscription { proxyFlagRaised(after: 0) { key } }",
        json!({}),
    )
    .await;
    assert_eq!(
        first["data"]["proxyFlagRaised"]["key"], two_venues,
        "{first}"
    );
}
