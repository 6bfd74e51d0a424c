//! `/graphql` over HTTP on a running server, on SQLite and PostgreSQL:
//! tokens from the CLI, mutations and queries, refusals, limits, and a
//! rebuild from the CLI while the server answers.

use std::net::SocketAddr;

use lectern_store::testkit::TestDb;
use serde_json::{Value, json};

use crate::{TestApp, cli, get, gql, ok, post_to, role_token, token};

both_backends!(
    graphql_over_http,
    no_input_stops_the_server,
    every_area_over_http,
    kiosks_register_and_enrol,
    subscriptions_over_websocket
);

/// POSTs `body` to `/graphql`; returns the status and the body.
async fn post(addr: SocketAddr, token: Option<&str>, body: &[u8]) -> (String, String) {
    post_to(addr, "/graphql", token, body).await
}

async fn graphql_over_http(db: TestDb) {
    let url = db.url.clone();
    let server = TestApp::start(&url).await;
    let addr = server.addr;

    let s = |v: &str| v.to_owned();
    let (code, admin, err) = cli(vec![
        s("token"),
        s("create"),
        s("--role"),
        s("administrator"),
        s("--label"),
        s("test admin"),
        s("--database-url"),
        url.clone(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("it is shown once"), "{err}");
    let admin = admin.trim().to_owned();
    // A token names only people and units the log knows.
    let create = |args: &[&str]| {
        let mut all = vec![s("token"), s("create")];
        all.extend(args.iter().map(|a| s(a)));
        all.extend([s("--database-url"), url.clone()]);
        cli(all)
    };
    let (code, out, err) = create(&["--role", "staff", "--person", "S0001"]).await;
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains("staff number S0001 is not on the staff"),
        "{err}"
    );
    let (code, out, err) = create(&["--role", "union-chair", "--unit", "cs"]).await;
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("unit cs does not exist"), "{err}");
    let r = gql(
        addr,
        &admin,
        "mutation {
           a: establishUnit(id: \"uni\", name: \"大学\", kind: university) { position }
           b: establishUnit(id: \"cs\", name: \"计算机学院\", kind: school, parent: \"uni\") { position }
           registerPerson(input: { staffNo: \"S0001\", name: \"王小明\", unit: \"cs\",
             category: teacher, birthDate: \"1980-03-04\", hireDate: \"2005-09-01\" }) {
             position person { name unit }
           }
         }",
        json!({}),
    )
    .await;
    assert_eq!(
        r["data"]["registerPerson"]["person"],
        json!({ "name": "王小明", "unit": "cs" }),
        "{r}"
    );
    let (code, staff, err) = create(&["--role", "staff", "--person", "S0001"]).await;
    assert_eq!(code, 0, "{err}");
    let staff = staff.trim().to_owned();
    let (code, _, err) = create(&["--role", "union-chair", "--unit", "cs"]).await;
    assert_eq!(code, 0, "{err}");
    let r = gql(
        addr,
        &staff,
        "{ me { staffNo name } units { id headCount } }",
        json!({}),
    )
    .await;
    assert_eq!(
        r["data"]["me"],
        json!({ "staffNo": "S0001", "name": "王小明" }),
        "{r}"
    );
    assert_eq!(
        r["data"]["units"],
        json!([{ "id": "uni", "headCount": 1 }, { "id": "cs", "headCount": 1 }])
    );
    let r = gql(
        addr,
        &staff,
        "mutation { renameUnit(id: \"cs\", name: \"x\") { position } }",
        json!({}),
    )
    .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");

    // Refusals at the door.
    let (_, body) = post(
        addr,
        Some("lct_not-a-token"),
        br#"{"query":"{ units { id } }"}"#,
    )
    .await;
    let r: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{r}"
    );
    let (_, body) = post(addr, None, br#"{"query":"{ units { id } }"}"#).await;
    let r: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{r}"
    );
    // The scheme in any case, then one space or more (RFC 7235).
    for (header, accepted) in [
        (format!("bearer  {admin}"), true),
        (format!("BEARER {admin}"), true),
        (format!("Bearer\u{20}\u{20}\u{20}{admin}"), true),
        (format!("Bearer{admin}"), false),
        (format!("Basic {admin}"), false),
        ("Bearer ".to_owned(), false),
    ] {
        let answer = crate::send(
            addr,
            "POST",
            "/graphql",
            &[
                ("content-type", "application/json"),
                ("authorization", &header),
            ],
            br#"{"query":"{ units { id } }"}"#,
        )
        .await;
        let r: Value = serde_json::from_str(&answer.body).unwrap();
        if accepted {
            assert!(r["errors"].is_null(), "{header:?}: {r}");
        } else {
            assert_eq!(
                r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                "{header:?}: {r}"
            );
        }
    }
    let (_, body) = post(addr, Some(&admin), b"units please").await;
    let r: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    let huge = format!(
        r#"{{"query":"{{ units {{ id }} }}","variables":{{"pad":"{}"}}}}"#,
        "x".repeat(70_000)
    );
    let (status, body) = post(addr, Some(&admin), huge.as_bytes()).await;
    assert!(status.contains("413"), "{status}");
    let r: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );

    // A rebuild from the CLI while the server answers.
    let (code, out, err) = cli(vec![
        s("rebuild"),
        s("--projector"),
        s("people"),
        s("--database-url"),
        url.clone(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("rebuilt people up to position 3"), "{out}");
    let r = gql(
        addr,
        &admin,
        "{ people { edges { node { staffNo } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        r["data"]["people"]["edges"][0]["node"]["staffNo"], "S0001",
        "{r}"
    );
    let (code, _, err) = cli(vec![
        s("rebuild"),
        s("--projector"),
        s("persons"),
        s("--database-url"),
        url.clone(),
    ])
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("no projector is named \"persons\""), "{err}");

    let (status, body) = get(addr, "/readyz").await;
    assert!(status.contains("200"), "{status}");
    let ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (ready["head"].as_u64(), ready["projected"].as_u64()),
        (Some(3), Some(3))
    );

    // The console is served from the binary.
    let (status, page) = get(addr, "/graphiql").await;
    assert!(status.contains("200"), "{status}");
    assert!(
        page.contains(r#"<script src="/graphiql/graphiql.js"></script>"#),
        "{page}"
    );
    let (status, css) = get(addr, "/graphiql/graphiql.css").await;
    assert!(
        status.contains("200") && css.contains(".graphiql-container"),
        "{status}"
    );

    let (status, metrics) = get(addr, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    for line in [
        "lectern_http_requests_total{route=\"/graphql\",status=\"200\"} ",
        "lectern_http_requests_total{route=\"/graphql\",status=\"413\"} 1",
        "lectern_http_request_duration_seconds_count{route=\"/graphql\"} ",
        "lectern_events_appended_total 3",
        "lectern_log_head_position 3",
        "lectern_projection_lag{projector=\"people\"} 0",
        "lectern_projection_position{projector=\"sessions\"} 3",
        // Alone on its database, the server runs every projector.
        "lectern_projection_leader{projector=\"kiosks\"} 1",
        // The OpenMetrics text of the Prometheus client, ended as it must be.
        "# TYPE lectern_http_requests counter\n",
        "# EOF\n",
    ] {
        assert!(metrics.contains(line), "{line:?} missing from\n{metrics}");
    }
    // No kiosk has tapped yet: no kiosk has samples.
    assert!(!metrics.contains("lectern_kiosk_taps_total{"), "{metrics}");
    // Every metric is in the operators' table.
    let documented = include_str!("../../deploy/README.md");
    for family in metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
    {
        assert!(
            documented.contains(&format!("| `{family}")),
            "{family} is not listed in deploy/README.md"
        );
    }

    // Tokens can be listed and revoked from the CLI.
    let (_, list, _) = cli(vec![
        s("token"),
        s("list"),
        s("--database-url"),
        url.clone(),
    ])
    .await;
    let id = list
        .lines()
        .find(|l| l.contains("staff"))
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_owned();
    assert!(!list.contains(&staff), "secrets are never listed");
    let (code, _, err) = cli(vec![
        s("token"),
        s("revoke"),
        id,
        s("--database-url"),
        url.clone(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let r = gql(addr, &staff, "{ me { name } }", json!({})).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{r}"
    );

    server.stop().await;
}

/// Each area of the API through the real server: a mutation and the query
/// that shows it, from the unit tree to the raw events.
async fn every_area_over_http(db: TestDb) {
    let url = db.url.clone();
    // The server's clock reads the real time except where a step sets it.
    let clock = lectern_domain::Clock::manual(chrono::Utc::now());
    let server = TestApp::start_at(&url, clock.clone()).await;
    let addr = server.addr;
    let admin = role_token(&url, "administrator").await;

    // Units and people.
    ok(
        addr,
        &admin,
        "mutation {
           a: establishUnit(id: \"uni\", name: \"大学\", kind: university) { position }
           b: establishUnit(id: \"cs\", name: \"计算机学院\", kind: school, parent: \"uni\") { position }
           c: registerPerson(input: { staffNo: \"A0001\", name: \"李华\", unit: \"uni\",
             category: administrator, birthDate: \"1970-01-01\", hireDate: \"1995-09-01\" }) { position }
           d: registerPerson(input: { staffNo: \"S0001\", name: \"王小明\", unit: \"cs\",
             category: teacher, birthDate: \"1980-03-04\", hireDate: \"2005-09-01\" }) { position }
           issueCard(staffNo: \"S0001\", uid: \"04A1B2C3\") { position }
           adoptScoringRules(input: { version: 1, effectiveFrom: \"2007-01-01\", basePoints: 100,
             perAbsence: 5, perLate: 2, perMissedTask: 3, perLateReport: 10, reportDueDay: 5,
             awardBonus: [{ level: university, points: 5 }] }) { position }
         }",
        json!({}),
    )
    .await;
    // Tokens name people on the staff: an administrator and an auditor who
    // record who decided, and a teacher.
    let admin = token(&url, "administrator", "A0001").await;
    let auditor = token(&url, "auditor", "A0001").await;
    let staff = token(&url, "staff", "S0001").await;
    let people = ok(
        addr,
        &staff,
        "{ person(staffNo: \"S0001\") { name unit card } }",
        json!({}),
    )
    .await;
    assert_eq!(people["person"]["name"], "王小明");
    assert_ne!(
        people["person"]["card"], "04A1B2C3",
        "staff see a masked card"
    );

    // Sessions: scheduled, attended late, closed; the roster and the
    // person's attendance show it.
    let id = "0195f000-0000-7000-8000-0000000d0d0d";
    ok(
        addr,
        &admin,
        "mutation($id: UUID!) {
           scheduleSession(input: { id: $id, kind: centralized_study, title: \"集中学习\",
             organiser: \"cs\", venue: \"hall-a\", audienceUnits: [\"cs\"],
             startsAt: \"2007-03-06T06:00:00Z\", endsAt: \"2007-03-06T07:30:00Z\" }) { position }
           markByHand(id: $id, staffNo: \"S0001\", at: \"2007-03-06T06:20:00Z\") { position }
           closeSession(id: $id) { position }
         }",
        json!({ "id": id }),
    )
    .await;
    let roster = ok(
        addr,
        &admin,
        "query($id: UUID!) { session(id: $id) { status late roster { edges { node { staffNo status } } } } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        roster["session"],
        json!({ "status": "closed", "late": 1,
                "roster": { "edges": [{ "node": { "staffNo": "S0001", "status": "late" } }] } })
    );
    let mine = ok(
        addr,
        &staff,
        "{ attendance(staffNo: \"S0001\") { status session { title } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        mine["attendance"],
        json!([{ "status": "late", "session": { "title": "集中学习" } }])
    );

    // Programmes.
    ok(
        addr,
        &admin,
        "mutation {
           launchProgramme(input: { id: \"ytnp\", kind: young_teacher_navigation,
             title: \"青年教师导航计划\", launchedOn: \"2005-09-01\" }) { position }
           enrolParticipant(programme: \"ytnp\", staffNo: \"S0001\", on: \"2007-03-01\") { position }
         }",
        json!({}),
    )
    .await;
    let programme = ok(
        addr,
        &admin,
        "{ programme(id: \"ytnp\") { title participants { edges { node { staffNo } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        programme["programme"],
        json!({ "title": "青年教师导航计划", "participants": { "edges": [{ "node": { "staffNo": "S0001" } }] } })
    );

    // Study tasks: assigned by the administrator, completed by the staff member.
    let task = "0195f000-0000-7000-8000-0000000e0e0e";
    ok(
        addr,
        &admin,
        "mutation($id: UUID!) { assignStudyTask(input: { id: $id, title: \"学习十七大报告\",
           topic: political_theory, audienceUnits: [\"cs\"],
           assignedOn: \"2007-03-01\", due: \"2007-03-10\" }) { position } }",
        json!({ "id": task }),
    )
    .await;
    // Completed on 5 March 2007 by the server's clock, in time.
    clock.set(
        lectern_domain::Campus::default()
            .at(
                chrono::NaiveDate::from_ymd_opt(2007, 3, 5).unwrap(),
                chrono::NaiveTime::from_hms_opt(20, 0, 0).unwrap(),
            )
            .unwrap(),
    );
    ok(
        addr,
        &staff,
        "mutation($id: UUID!) { completeStudyTask(id: $id, evidence: \"读书笔记\") { position } }",
        json!({ "id": task }),
    )
    .await;
    clock.set(chrono::Utc::now());
    let record = ok(
        addr,
        &staff,
        "{ studyRecord(staffNo: \"S0001\") { taskId state } }",
        json!({}),
    )
    .await;
    assert_eq!(
        record["studyRecord"],
        json!([{ "taskId": task, "state": "completed" }])
    );

    // Awards.
    ok(
        addr,
        &admin,
        "mutation {
           defineAwardCategory(id: \"good-teacher\", title: \"我心目中的好老师\",
             level: university, kind: individual, criteria: \"学生投票\", byVote: false) { position }
           nominate(category: \"good-teacher\", year: 2007, nomineeStaffNo: \"S0001\", citation: \"教书育人\") { position }
           endorseNomination(category: \"good-teacher\", year: 2007, nomineeStaffNo: \"S0001\") { position }
           conferAward(category: \"good-teacher\", year: 2007, nomineeStaffNo: \"S0001\",
             ceremony: \"教师节表彰大会\", on: \"2007-09-10\") { position }
         }",
        json!({}),
    )
    .await;
    let register = ok(
        addr,
        &auditor,
        "{ awardsRegister(year: 2007) { nominee status } }",
        json!({}),
    )
    .await;
    assert_eq!(
        register["awardsRegister"],
        json!([{ "nominee": "S0001", "status": "conferred" }])
    );

    // The unit's month and the person's appraisal, from the read models.
    let month = ok(
        addr,
        &admin,
        "{ unitMonth(unit: \"cs\", year: 2007, month: 3) { figures { sessionsHeld late tasksDone } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        month["unitMonth"]["figures"],
        json!({ "sessionsHeld": 1, "late": 1, "tasksDone": 1 })
    );
    let appraisal = ok(
        addr,
        &staff,
        "{ appraisal(staffNo: \"S0001\", year: 2007) { total lines { rule points } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        appraisal["appraisal"],
        json!({ "total": 103, "lines": [
            { "rule": "base", "points": 100 },
            { "rule": "late", "points": -2 },
            { "rule": "award", "points": 5 },
        ] })
    );
    // Replayed from the log: as of now it is the same; as it stood (or was
    // recorded) before anything was entered, there was nothing.
    let now = chrono::Utc::now() + chrono::Duration::minutes(1);
    let replayed = ok(
        addr,
        &staff,
        "query($t: DateTime!) {
           now: appraisal(staffNo: \"S0001\", year: 2007, asOf: $t) { total lines { rule points } }
           shown: appraisal(staffNo: \"S0001\", year: 2007, asOf: $t, asRecorded: true) { total }
           before: appraisal(staffNo: \"S0001\", year: 2007, asOf: \"2001-01-01T00:00:00Z\", asRecorded: true) { total lines { rule } }
         }",
        json!({ "t": now }),
    )
    .await;
    assert_eq!(replayed["now"], appraisal["appraisal"], "{replayed}");
    assert_eq!(replayed["shown"]["total"], 103, "{replayed}");
    assert_eq!(
        replayed["before"],
        json!({ "total": 0, "lines": [] }),
        "{replayed}"
    );
    let refused = gql(
        addr,
        &staff,
        "{ appraisal(staffNo: \"S0001\", year: 2007, asRecorded: true) { total } }",
        json!({}),
    )
    .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    let args = [
        "replay",
        "--person",
        "S0001",
        "--year",
        "2007",
        "--database-url",
        &url,
    ];
    let (code, out, err) = cli(args.iter().map(|a| a.to_string()).collect()).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("S0001 2007-01-01–2007-12-31: 103 points\n"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("   -2  2007-03-06  late") && l.contains("[positions ")),
        "{out}"
    );
    let args = [
        "replay",
        "--person",
        "S0001",
        "--year",
        "2007",
        "--as-of",
        "2001-01-01T00:00:00Z",
        "--as-recorded",
        "--database-url",
        &url,
    ];
    let (code, out, err) = cli(args.iter().map(|a| a.to_string()).collect()).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(": 0 points (as recorded by 2001-01-01"),
        "{out}"
    );
    let replay = |extra: &[&str]| {
        let mut args: Vec<String> = ["replay", "--year", "2007", "--database-url", &url]
            .iter()
            .map(|a| a.to_string())
            .collect();
        args.extend(extra.iter().map(|a| a.to_string()));
        cli(args)
    };
    let (code, out, err) = replay(&["--person", "S0001", "--show", "attendance"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("S0001 2007-01-01–2007-12-31: 1 sessions\n"),
        "{out}"
    );
    assert!(out.contains(" late "), "{out}");
    let (code, out, err) = replay(&["--person", "S0001", "--show", "history"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("PersonRegistered"), "{out}");
    assert!(out.contains("AttendanceRecorded"), "{out}");
    let (code, out, err) = replay(&["--unit", "cs", "--show", "attendance"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "2007-03: 1 sessions held, present 0, late 1, absent 0, excused 0, study tasks done 1"
        ),
        "{out}"
    );
    let (code, _, err) = replay(&["--person", "S0001", "--unit", "cs"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("cannot be used with"), "{err}");
    // Nobody by that number or name: refused, not a 100-point year.
    let (code, out, err) = replay(&["--person", "NOBODY1"]).await;
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(
        err.contains("staff member NOBODY1 does not exist in the log"),
        "{err}"
    );
    let (code, _, err) = replay(&["--unit", "nowhere", "--show", "attendance"]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("unit nowhere does not exist in the log"),
        "{err}"
    );

    // Reports: the same answers as the API, printed or written as CSV.
    let report = |extra: &[&str]| {
        let mut args: Vec<String> = vec!["report".into()];
        args.extend(extra.iter().map(|a| a.to_string()));
        args.extend(["--database-url".to_owned(), url.clone()]);
        cli(args)
    };
    let (code, out, err) = report(&["appraisal", "--person", "S0001", "--year", "2007"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("S0001 2007\ndate "), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("2007-03-06  late ") && l.contains("集中学习")),
        "{out}"
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .split_whitespace()
            .eq(["total", "103"]),
        "{out}"
    );
    let (code, out, err) = report(&[
        "unit-month",
        "--unit",
        "cs",
        "--year",
        "2007",
        "--month",
        "3",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines().skip(1);
    let (head, row) = (lines.next().unwrap(), lines.next().unwrap());
    let lost = head.find("points lost").expect("a points lost column");
    assert_eq!(
        row[lost..].split_whitespace().next(),
        Some("2"),
        "S0001 was late (-2): {out}"
    );
    let (code, out, err) = report(&["programme", "--programme", "ytnp"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("青年教师导航计划 (ytnp)\nyear"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("session.csv");
    let (code, _, err) =
        report(&["session", "--id", id, "--out", &csv.display().to_string()]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 rows"), "{err}");
    let bytes = std::fs::read(&csv).unwrap();
    assert!(
        bytes.starts_with(b"\xef\xbb\xbf"),
        "a byte-order mark first"
    );
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert_eq!(
        text.lines().next(),
        Some("staff no,name,status,leave,checked in at")
    );
    assert!(text.contains("S0001,王小明,late,"), "{text}");
    let xlsx = dir.path().join("appraisal.xlsx");
    let (code, _, err) = report(&[
        "appraisal",
        "--person",
        "S0001",
        "--year",
        "2007",
        "--out",
        &xlsx.display().to_string(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let mut book = zip::ZipArchive::new(std::fs::File::open(&xlsx).unwrap()).unwrap();
    let mut part = |name: &str| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut book.by_name(name).unwrap(), &mut text).unwrap();
        text
    };
    let strings = part("xl/sharedStrings.xml");
    for s in ["S0001 2007", "log positions", "集中学习", "total"] {
        assert!(strings.contains(s), "{s} in {strings}");
    }
    let sheet = part("xl/worksheets/sheet1.xml");
    assert!(
        sheet.contains("ySplit=\"2\"") && sheet.contains("state=\"frozen\""),
        "{sheet}"
    );
    assert!(sheet.contains("<cols>"), "column widths: {sheet}");
    assert!(sheet.contains("<v>-2</v>"), "points are numbers: {sheet}");
    // Dates are dates: a day's serial number with a date format, not text.
    assert!(!strings.contains(">2007-"), "dates as text: {strings}");
    assert!(
        part("xl/styles.xml").contains("yyyy"),
        "a date format in the styles"
    );
    let serial = |y, m, d| {
        (chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
            - chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap())
        .num_days()
    };
    assert!(
        (serial(2007, 1, 1)..=serial(2007, 12, 31)).any(|n| sheet.contains(&format!("<v>{n}</v>"))),
        "a 2007 date as a number: {sheet}"
    );
    let (code, _, err) = report(&[
        "appraisal",
        "--person",
        "S0001",
        "--year",
        "2007",
        "--out",
        "x.pdf",
    ])
    .await;
    assert_ne!(code, 0);
    assert!(err.contains("give a file ending in .csv or .xlsx"), "{err}");
    let (code, _, err) = report(&["appraisal", "--person", "NOBODY1", "--year", "2007"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("staff member NOBODY1 does not exist"), "{err}");
    let unknown_unit = [
        "unit-month",
        "--unit",
        "nowhere",
        "--year",
        "2007",
        "--month",
        "3",
    ];
    let (code, _, err) = report(&unknown_unit).await;
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("unit \"nowhere\" does not exist"), "{err}");

    // Download links: signed, for the caller's own access, not alterable.
    let link = |who: String, vars: serde_json::Value| async move {
        let r = gql(
            addr,
            &who,
            "query($report: Report!, $format: Format!, $params: ExportParams!) {
               exportLink(report: $report, format: $format, params: $params) { url expiresAt } }",
            vars,
        )
        .await;
        r["data"]["exportLink"]["url"]
            .as_str()
            .map(str::to_owned)
            .ok_or(r)
    };
    let own = link(
        staff.clone(),
        json!({ "report": "appraisal", "format": "csv", "params": { "person": "S0001", "year": 2007 } }),
    )
    .await
    .unwrap();
    assert!(own.starts_with("/export/appraisal.csv?"), "{own}");
    let (status, body) = get(addr, &own).await;
    assert!(status.contains("200"), "{status} {body}");
    assert!(
        body.starts_with("\u{feff}date,rule,version,subject,points,log positions"),
        "{body}"
    );
    assert!(body.contains(",total,,,103,"), "{body}");
    // Another server on the same database honours the link: the key is
    // the database's, not the process's.
    let other = TestApp::start(&url).await;
    let (status, body) = get(other.addr, &own).await;
    assert!(status.contains("200"), "{status} {body}");
    assert!(body.contains(",total,,,103,"), "{body}");
    other.stop().await;
    let (status, body) = get(addr, &own.replace("year=2007", "year=2006")).await;
    assert!(status.contains("403"), "{status} {body}");
    assert!(body.contains("signature does not match"), "{body}");
    let theirs = link(
        staff.clone(),
        json!({ "report": "appraisal", "format": "xlsx", "params": { "person": "A0001", "year": 2007 } }),
    )
    .await
    .unwrap();
    let (status, body) = get(addr, &theirs).await;
    assert!(
        status.contains("403"),
        "staff read their own records only: {status} {body}"
    );
    // A link stops working when its token is revoked.
    let tokens =
        lectern_graphql::Tokens::new(lectern_projections::ReadDb::connect(&url).await.unwrap());
    let no = lectern_domain::StaffNo::parse("S0001").unwrap();
    let (info, secret) = tokens
        .create(
            &lectern_graphql::Principal::Staff { person: no.clone() },
            Some(&no),
            "a link to revoke",
        )
        .await
        .unwrap();
    let doomed = link(
        secret,
        json!({ "report": "appraisal", "format": "csv", "params": { "person": "S0001", "year": 2007 } }),
    )
    .await
    .unwrap();
    let (status, _) = get(addr, &doomed).await;
    assert!(status.contains("200"), "{status}");
    tokens.revoke(&info.id, chrono::Utc::now()).await.unwrap();
    let (status, body) = get(addr, &doomed).await;
    assert!(status.contains("401"), "{status} {body}");
    let book = link(
        admin.clone(),
        json!({ "report": "leadership", "format": "xlsx", "params": {} }),
    )
    .await
    .unwrap();
    let (status, _) = get(addr, &book).await;
    assert!(status.contains("200"), "{status}");
    for (vars, needle) in [
        (
            json!({ "report": "payroll", "format": "csv", "params": {} }),
            "enumeration type \"Report\" does not contain the value \"payroll\"",
        ),
        (
            json!({ "report": "appraisal", "format": "pdf", "params": { "person": "S0001", "year": 2007 } }),
            "enumeration type \"Format\" does not contain the value \"pdf\"",
        ),
        (
            json!({ "report": "appraisal", "format": "csv", "params": { "person": "S0001" } }),
            "needs params.year",
        ),
        (
            json!({ "report": "leadership", "format": "csv", "params": { "year": 2007 } }),
            "takes no params.year",
        ),
    ] {
        let r = link(staff.clone(), vars).await.unwrap_err();
        let message = r["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{needle}: {r}");
    }

    // Disputes, kiosks, projections and the raw log, as an auditor sees them.
    let ops = ok(
        addr,
        &auditor,
        "{ disputes { id } kiosks { id } projections { name lag } events(first: 2) { position eventType } }",
        json!({}),
    )
    .await;
    assert_eq!(ops["disputes"], json!([]));
    assert_eq!(ops["kiosks"], json!([]));
    assert!(
        ops["projections"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["lag"] == 0),
        "{ops}"
    );
    assert_eq!(
        ops["events"],
        json!([{ "position": 1, "eventType": "UnitEstablished" }, { "position": 2, "eventType": "UnitEstablished" }])
    );
    server.stop().await;
}

/// An administrator registers a kiosk and gets a one-time code; the kiosk
/// enrols with it and its new key over `/kiosk/v1/enrol`; the code does
/// not work twice, and bad requests get a 4xx that names the problem.
async fn kiosks_register_and_enrol(db: TestDb) {
    use lectern_kiosk_protocol::KioskKey;
    let url = db.url.clone();
    let server = TestApp::start(&url).await;
    let addr = server.addr;
    let admin = role_token(&url, "administrator").await;
    let auditor = role_token(&url, "auditor").await;
    let register = "mutation { registerKiosk(id: \"hall-a-1\", venue: \"hall-a\") { kiosk venue code position } }";
    let r = gql(addr, &auditor, register, json!({})).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
    let r = ok(addr, &admin, register, json!({})).await;
    let code = r["registerKiosk"]["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 19, "{r}");
    assert_eq!(r["registerKiosk"]["venue"], "hall-a");
    let status = "{ kiosks { id venue enrolled publicKey version registeredAt taps lastSeen } }";
    let r = ok(addr, &admin, status, json!({})).await;
    assert_eq!(r["kiosks"][0]["enrolled"], false, "{r}");
    assert!(r["kiosks"][0]["registeredAt"].is_string(), "{r}");
    assert_eq!(r["kiosks"][0]["lastSeen"], Value::Null);
    // The log keeps the code's hash, never the code.
    let events = ok(
        addr,
        &admin,
        "{ events(stream: \"kiosk-hall-a-1\") { payload } }",
        json!({}),
    )
    .await;
    assert!(!events.to_string().contains(&code), "{events}");

    let key = KioskKey::generate().unwrap();
    let enrol = |code: &str, public_key: &str| {
        serde_json::to_vec(&json!({
            "kiosk": "hall-a-1", "code": code, "public_key": public_key, "version": "0.1.0"
        }))
        .unwrap()
    };
    let (status_line, body) = post_to(
        addr,
        "/kiosk/v1/enrol",
        None,
        &enrol(&code.to_lowercase(), &key.public_hex()),
    )
    .await;
    assert!(status_line.contains("200"), "{status_line}: {body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (answer["kiosk"].as_str(), answer["venue"].as_str()),
        (Some("hall-a-1"), Some("hall-a"))
    );
    let r = ok(addr, &admin, status, json!({})).await;
    assert_eq!(
        (
            &r["kiosks"][0]["enrolled"],
            &r["kiosks"][0]["publicKey"],
            &r["kiosks"][0]["version"]
        ),
        (&json!(true), &json!(key.public_hex()), &json!("0.1.0")),
        "{r}"
    );

    // Refusals, each a 4xx naming what is wrong.
    let other = KioskKey::generate().unwrap().public_hex();
    for (body, status_code, needle) in [
        (enrol(&code, &other), "409", "or it was used already".to_owned()),
        (
            serde_json::to_vec(&json!({ "kiosk": "hall-z-9", "code": code, "public_key": other, "version": "0.1.0" })).unwrap(),
            "404",
            "kiosk \"hall-z-9\" does not exist".to_owned(),
        ),
        (enrol(&code, "abc"), "400", "kiosk public key is not valid: \"abc\"".to_owned()),
        (b"not json".to_vec(), "400", "the body is not an enrolment request".to_owned()),
        (
            serde_json::to_vec(&json!({ "kiosk": "Hall A", "code": code, "public_key": other, "version": "1" })).unwrap(),
            "400",
            "Hall A".to_owned(),
        ),
    ] {
        let (status_line, answer) = post_to(addr, "/kiosk/v1/enrol", None, &body).await;
        assert!(status_line.contains(status_code), "{status_line}: {answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert!(answer["error"].as_str().unwrap().contains(&needle), "{answer}");
    }

    // The same from the command line (`enroll` is an alias of `register`).
    let args = [
        "kiosk",
        "enroll",
        "--kiosk",
        "hall-b-1",
        "--venue",
        "hall-b",
        "--database-url",
        &url,
    ];
    let (code_status, printed, err) = cli(args.iter().map(|a| a.to_string()).collect()).await;
    assert_eq!(code_status, 0, "{err}");
    assert!(
        err.contains("registered kiosk hall-b-1 for venue hall-b"),
        "{err}"
    );
    let request = serde_json::to_vec(&json!({
        "kiosk": "hall-b-1", "code": printed.trim(), "public_key": other, "version": "0.1.0"
    }))
    .unwrap();
    let (status_line, answer) = post_to(addr, "/kiosk/v1/enrol", None, &request).await;
    assert!(status_line.contains("200"), "{status_line}: {answer}");
    let args = [
        "kiosk",
        "register",
        "--kiosk",
        "Hall B",
        "--venue",
        "hall-b",
        "--database-url",
        &url,
    ];
    let (code_status, _, err) = cli(args.iter().map(|a| a.to_string()).collect()).await;
    assert_ne!(code_status, 0);
    assert!(err.contains("\"Hall B\""), "{err}");
    server.stop().await;
}

pub(crate) type WebSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/graphql/ws` (graphql-transport-ws), authenticated in
/// `connection_init`, and subscribes to `query` as subscription "1".
pub(crate) async fn subscribe(addr: SocketAddr, token: &str, query: &str) -> WebSocket {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } })))
        .await
        .unwrap();
    let ack = next_message(&mut ws).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    ws.send(send(
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
    ))
    .await
    .unwrap();
    ws
}

/// The next text message on `ws` as JSON (at most 20 s away).
pub(crate) async fn next_message(ws: &mut WebSocket) -> Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let m = tokio::time::timeout(std::time::Duration::from_secs(20), ws.next())
            .await
            .expect("a message within 20 s")
            .expect("the socket is open")
            .expect("a WebSocket message");
        if let Message::Text(t) = m {
            return serde_json::from_str::<Value>(&t).unwrap();
        }
    }
}

/// A subscription over WebSocket (graphql-transport-ws), authenticated in
/// `connection_init`, sees a mutation made over HTTP.
async fn subscriptions_over_websocket(db: TestDb) {
    let url = db.url.clone();
    let server = TestApp::start(&url).await;
    let addr = server.addr;
    let (code, token, err) = cli(vec![
        "token".into(),
        "create".into(),
        "--role".into(),
        "auditor".into(),
        "--database-url".into(),
        url.clone(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let (_, admin, _) = cli(vec![
        "token".into(),
        "create".into(),
        "--role".into(),
        "administrator".into(),
        "--database-url".into(),
        url.clone(),
    ])
    .await;

    let mut ws = subscribe(
        addr,
        token.trim(),
        "subscription { events { position eventType } }",
    )
    .await;
    let r = gql(
        addr,
        admin.trim(),
        "mutation { establishUnit(id: \"uni\", name: \"大学\", kind: university) { position } }",
        json!({}),
    )
    .await;
    assert!(r.get("errors").is_none(), "{r}");
    let m = next_message(&mut ws).await;
    assert_eq!(m["type"], "next", "{m}");
    assert_eq!(
        m["payload"]["data"]["events"],
        json!({ "position": 1, "eventType": "UnitEstablished" })
    );
    ws.close(None).await.unwrap();
    server.stop().await;
}

/// Text PostgreSQL cannot hold, a search too long for a LIKE, a request
/// of many replays, and an event already in a log that a projector cannot
/// fold: each is refused or contained, and the server goes on.
async fn no_input_stops_the_server(db: TestDb) {
    let url = db.url.clone();
    let server = TestApp::start(&url).await;
    let addr = server.addr;
    let admin = role_token(&url, "administrator").await;
    ok(
        addr,
        &admin,
        "mutation {
           a: establishUnit(id: \"uni\", name: \"大学\", kind: university) { position }
           b: establishUnit(id: \"cs\", name: \"计算机学院\", kind: school, parent: \"uni\") { position }
           registerPerson(input: { staffNo: \"S0001\", name: \"王小明\", unit: \"cs\",
             category: teacher, birthDate: \"1980-03-04\", hireDate: \"2005-09-01\" }) { position }
         }",
        json!({}),
    )
    .await;
    let admin = token(&url, "administrator", "S0001").await;
    ok(
        addr,
        &admin,
        "mutation {
           launchProgramme(input: { id: \"ytnp\", kind: young_teacher_navigation,
             title: \"青年教师导航工程\", launchedOn: \"2006-09-01\" }) { position }
           assignStudyTask(input: { id: \"0195f000-0000-7000-8000-0000000e0e0e\", title: \"教师法\",
             topic: political_theory, audienceUnits: [\"cs\"], assignedOn: \"2026-09-01\",
             due: \"2030-09-30\" }) { position }
         }",
        json!({}),
    )
    .await;
    let staff = token(&url, "staff", "S0001").await;
    let store = lectern_store::Store::open(&url, lectern_store::StoreOptions::default())
        .await
        .unwrap();
    let head = store.head().await.unwrap();

    // A NUL, in a variable or a literal, is refused naming where it is.
    let r = gql(
        addr,
        &staff,
        "mutation($id: UUID!, $evidence: String!) {
           completeStudyTask(id: $id, evidence: $evidence) { position } }",
        json!({ "id": "0195f000-0000-7000-8000-0000000e0e0e", "evidence": "a\u{0}b" }),
    )
    .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    assert_eq!(
        r["errors"][0]["message"],
        "the variable $evidence holds a NUL character (U+0000), which Lectern does not store; \
         remove it",
        "{r}"
    );
    let r = gql(
        addr,
        &admin,
        r#"mutation { issueNotice(programme: "ytnp", title: "通知",
             body: "第一\u0000第二", issuedOn: "2026-09-01") { position } }"#,
        json!({}),
    )
    .await;
    refused(
        &r,
        "BAD_USER_INPUT",
        "the argument body of issueNotice holds a NUL",
    );
    assert_eq!(store.head().await.unwrap(), head, "nothing was written");

    // A search is a name or a staff number, not a 50,000-character pattern.
    let long = "王".repeat(20_000);
    let r = gql(
        addr,
        &admin,
        "query($s: String) { people(search: $s) { edges { node { staffNo } } } }",
        json!({ "s": long }),
    )
    .await;
    refused(&r, "BAD_USER_INPUT", "search is 20000 characters long");

    // Replays weigh what they cost: seven in one request are taken, eight
    // are too many, and so are two verifications of the log.
    let replays = |n: u32| -> String {
        let fields: String = (0..n)
            .map(|i| {
                format!(
                    "a{i}: appraisal(staffNo: \"S0001\", year: 2026, \
                     asOf: \"2026-10-0{}T00:00:00Z\") {{ total }} ",
                    1 + i % 9
                )
            })
            .collect();
        format!("{{ {fields} }}")
    };
    ok(addr, &staff, &replays(7), json!({})).await;
    let r = gql(addr, &staff, &replays(8), json!({})).await;
    refused(&r, "BAD_USER_INPUT", "too complex");
    let r = gql(
        addr,
        &admin,
        "{ a: auditVerify { intact } b: auditVerify { intact } }",
        json!({}),
    )
    .await;
    refused(&r, "BAD_USER_INPUT", "too complex");
    ok(addr, &admin, "{ auditVerify { intact } }", json!({})).await;
    // A request that does not parse still carries a code.
    let r = gql(addr, &staff, "{ me { name }", json!({})).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );

    // An event a projector cannot fold (as an older log might hold) stops
    // that projector only, and says so at once.
    let poisoned = store
        .append(
            "task-0195f000-0000-7000-8000-0000000000aa",
            lectern_store::ExpectedVersion::Any,
            vec![
                lectern_store::NewEvent::from_json("StudyTaskCompleted", r#"{"nobody":true}"#)
                    .unwrap(),
            ],
        )
        .await
        .unwrap()
        .last_position;
    let started = std::time::Instant::now();
    let r = gql(
        addr,
        &admin,
        "mutation { renameUnit(id: \"cs\", name: \"计算机科学学院\") { position } }",
        json!({}),
    )
    .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "UNAVAILABLE", "{r}");
    let message = r["errors"][0]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains(&format!(
            "the study read model stopped at log position {poisoned}"
        )),
        "{message}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the write ended on the failure, not on the 10 s wait"
    );
    let (status, body) = get(addr, "/readyz").await;
    assert!(status.contains("503"), "{status}: {body}");
    let ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["status"], "projector failed", "{ready}");
    assert_eq!(ready["failed"][0]["projector"], "study", "{ready}");
    assert_eq!(ready["failed"][0]["position"], poisoned, "{ready}");
    let (_, metrics) = get(addr, "/metrics").await;
    assert!(
        metrics.contains("lectern_projection_failed{projector=\"study\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("lectern_projection_failed{projector=\"org\"} 0"),
        "{metrics}"
    );
    // The rename itself was recorded.
    assert_eq!(store.head().await.unwrap(), poisoned + 1);
    // So is a kiosk's registration, whose wait for the read models is the
    // write path's own: it too answers UNAVAILABLE naming the projector.
    let r = gql(
        addr,
        &admin,
        "mutation { registerKiosk(id: \"hall-a-1\", venue: \"hall-a\") { code } }",
        json!({}),
    )
    .await;
    refused(
        &r,
        "UNAVAILABLE",
        "the study read model stopped at log position",
    );
    let r = ok(addr, &admin, "{ projections { name failedAt } }", json!({})).await;
    let failed: Vec<&Value> = r["projections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["failedAt"].is_null())
        .collect();
    assert_eq!(failed, [&json!({ "name": "study", "failedAt": poisoned })]);
    store.close().await;
    server.stop().await;
}

/// Asserts that `r` was refused with `code`, in a message that says `says`.
fn refused(r: &Value, code: &str, says: &str) {
    let e = &r["errors"][0];
    assert_eq!(e["extensions"]["code"], code, "{r}");
    assert!(
        e["message"].as_str().unwrap_or_default().contains(says),
        "{says:?} not in {r}"
    );
}
