//! Whole flows through the API, error codes and messages, limits, paging
//! and read-your-writes.

use lectern_graphql::{Caller, MAX_PAGE, Principal, Tokens};
use lectern_store::testkit::TestDb;
use serde_json::json;

use crate::support::*;

both_backends!(
    a_session_from_schedule_to_correction,
    errors_name_the_offending_value,
    limits_refuse_before_running,
    pages_and_read_your_writes,
    tokens_are_stored_hashed_and_revocable,
    subscriptions_follow_the_log,
    a_programme_from_launch_to_report,
    a_study_task_from_assignment_to_close,
    an_award_from_vote_to_register,
    a_unit_month_from_sessions_to_report,
    an_appraisal_explained_and_disputed,
    a_session_expects_its_units_staff_as_of_its_day,
);

async fn an_appraisal_explained_and_disputed(db: TestDb) {
    let t = TestApi::campus(db).await;
    let id = "0195f000-0000-7000-8000-0000000c0c0c";
    t.ok(
        admin(),
        "mutation($id: UUID!) {
           adoptScoringRules(input: { version: 1, effectiveFrom: \"2007-01-01\", basePoints: 100,
             perAbsence: 5, perLate: 2, perMissedTask: 3, perLateReport: 10, reportDueDay: 5,
             awardBonus: [{ level: university, points: 5 }] }) { position }
           scheduleSession(input: { id: $id, kind: centralized_study, title: \"集中学习\",
             organiser: \"school-cs\", venue: \"hall-a\", audienceUnits: [\"school-cs\"],
             startsAt: \"2007-03-06T06:00:00Z\", endsAt: \"2007-03-06T07:30:00Z\" }) { position }
           markByHand(id: $id, staffNo: \"S0001\", at: \"2007-03-06T06:20:00Z\") { position }
           closeSession(id: $id) { position }
           adjustPoints(staffNo: \"S0001\", points: 3, reason: \"优秀学习笔记\", on: \"2007-06-01\") { position }
           grantRole(staffNo: \"M0001\", role: auditor) { position }
         }",
        json!({ "id": id }),
    )
    .await;
    let q = "query($who: String!) { appraisal(staffNo: $who, year: 2007) { subject total lines { points rule ruleVersion date subject positions } } }";
    let a = t.ok(staff(), q, json!({ "who": "S0001" })).await;
    let a = &a["appraisal"];
    assert_eq!(a["total"], 101, "{a}");
    let lines = a["lines"].as_array().unwrap();
    let rules: Vec<&str> = lines.iter().map(|l| l["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["base", "late", "adjustment"]);
    assert_eq!(
        lines
            .iter()
            .map(|l| l["points"].as_i64().unwrap())
            .sum::<i64>(),
        101
    );
    assert_eq!(lines[1]["subject"], "集中学习");
    assert_eq!(lines[1]["ruleVersion"], 1);
    assert!(!lines[1]["positions"].as_array().unwrap().is_empty());
    let chair_view = t.ok(chair(), q, json!({ "who": "C0001" })).await;
    assert_eq!(chair_view["appraisal"]["total"], 95, "absent: 100 - 5");
    // The API folds only the streams the read models pick; the fold over
    // every stream of the log gives the same lines.
    for who in ["S0001", "C0001", "M0001", "A0001"] {
        let api = t.ok(admin(), q, json!({ "who": who })).await;
        let full = full_fold(&t, who, 2007).await;
        assert_eq!(api["appraisal"]["lines"], full, "lines of {who}");
    }
    let month = t
        .ok(
            staff(),
            "{ appraisal(staffNo: \"S0001\", year: 2007, month: 3) { total lines { rule } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        month["appraisal"],
        json!({ "total": -2, "lines": [{ "rule": "late" }] })
    );
    let unit = t
        .ok(
            chair(),
            "{ unitAppraisal(unit: \"school-cs\", year: 2007) { total } }",
            json!({}),
        )
        .await;
    assert_eq!(unit["unitAppraisal"]["total"], 100);
    // Replayed: the same now; nothing before the log held anything.
    let replayed = t
        .ok(
            chair(),
            "query($t: DateTime!) {
               now: unitAppraisal(unit: \"school-cs\", year: 2007, asOf: $t) { total lines { rule points } }
               then: unitAppraisal(unit: \"school-cs\", year: 2007, asOf: \"2001-01-01T00:00:00Z\", asRecorded: true) { total lines { rule } }
             }",
            json!({ "t": chrono::Utc::now() + chrono::Duration::minutes(1) }),
        )
        .await;
    assert_eq!(replayed["now"]["total"], 100, "{replayed}");
    assert_eq!(
        replayed["then"],
        json!({ "total": 0, "lines": [] }),
        "{replayed}"
    );

    // The year closes; staff dispute lines within ten working days.
    t.ok(
        admin(),
        "mutation { closeAppraisalYear(year: 2007) { position } }",
        json!({}),
    )
    .await;
    // A closed year is frozen: a correction would move S0001's recorded
    // 101 points, so only a dispute may change them.
    let (code, message) = t
        .err(
            Some(admin()),
            "mutation($id: UUID!) { correctAttendance(id: $id, staffNo: \"S0001\", to: present,
               reason: \"忘记带卡\") { position } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    assert_eq!(
        message,
        "the 2007 appraisal year is closed, so a correction would change recorded points: \
         the person files a dispute (fileDispute) and an auditor resolves it"
    );
    let still = t.ok(staff(), q, json!({ "who": "S0001" })).await;
    assert_eq!(still["appraisal"]["total"], 101, "{still}");
    let late_line = lines[1]["positions"][0].as_u64().unwrap();
    let file = "mutation($p: [Int!]!, $year: Int! = 2007) { fileDispute(year: $year, positions: $p, claim: \"我那天在上课\") { dispute { id status person filedOn } } }";
    // A year closed long ago: its filing window is over.
    let closed_2006 = lectern_store::NewEvent::new(
        "AppraisalPeriodClosed",
        &json!({ "type": "AppraisalPeriodClosed", "year": 2006, "results": {} }),
    )
    .unwrap()
    .occurred_at("2007-01-10T02:00:00Z".parse().unwrap());
    t.api
        .app
        .store
        .append(
            "appraisal",
            lectern_store::ExpectedVersion::Any,
            vec![closed_2006],
        )
        .await
        .unwrap();
    let (code, message) = t
        .err(
            Some(staff()),
            file,
            json!({ "p": [late_line], "year": 2006 }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    assert!(
        message.starts_with("disputes about 2006 had to be filed by 2007-01-24; it is "),
        "{message}"
    );
    // The window is configurable: with 10,000 working days it is open, and
    // the filing is judged on its lines: the 2007 line is not one of
    // S0001's 2006 appraisal, which has none.
    let wide = t.api.clone().with_dispute_working_days(10_000);
    let schema = lectern_graphql::build_schema(wide.clone());
    let request = async_graphql::Request::new(file).variables(async_graphql::Variables::from_json(
        json!({ "p": [late_line], "year": 2006 }),
    ));
    let response = lectern_graphql::execute(&schema, &wide, request, Some(staff())).await;
    assert_eq!(
        response.errors[0].message,
        format!(
            "invalid disputed position \"{late_line}\": is not behind a line of S0001's 2006 \
             appraisal (its lines cite [])"
        )
    );
    // Nor can anyone dispute a position that is not behind a line of their
    // own: another person's event, or no event at all.
    for other in [1, 999_999] {
        let (code, message) = t.err(Some(staff()), file, json!({ "p": [other] })).await;
        assert_eq!(code, "BAD_USER_INPUT", "{message}");
        assert!(
            message.contains(&format!(
                "\"{other}\": is not behind a line of S0001's 2007"
            )),
            "{message}"
        );
    }
    let today = chrono::Utc::now().date_naive();
    let filed = t.ok(staff(), file, json!({ "p": [late_line] })).await;
    let d = &filed["fileDispute"]["dispute"];
    assert_eq!(
        (d["status"].as_str(), d["person"].as_str()),
        (Some("filed"), Some("S0001"))
    );
    let filed_on = d["filedOn"].as_str().unwrap();
    assert!(
        filed_on == today.to_string() || filed_on == today.succ_opt().unwrap().to_string(),
        "filed today on the campus clock: {filed_on}"
    );
    // Its year's filing deadline: ten Monday-to-Friday days after the
    // campus date 2007 was closed (today, give or take the campus's
    // midnight), counted here by hand.
    let deadlines = t
        .ok(staff(), "{ disputes { year filingDeadline } }", json!({}))
        .await;
    let deadline: chrono::NaiveDate = deadlines["disputes"][0]["filingDeadline"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let ten_working_days_after = |mut day: chrono::NaiveDate| {
        let mut left = 10;
        while left > 0 {
            day = day.succ_opt().unwrap();
            if !matches!(day.format("%a").to_string().as_str(), "Sat" | "Sun") {
                left -= 1;
            }
        }
        day
    };
    assert!(
        [today, today.succ_opt().unwrap()]
            .map(ten_working_days_after)
            .contains(&deadline),
        "{deadlines}"
    );
    assert_eq!(deadlines["disputes"][0]["year"], 2007, "{deadlines}");
    let assigned = t
        .ok(admin(), "mutation($id: UUID!) { assignDispute(id: $id, auditor: \"M0001\") { dispute { status auditor } } }", json!({ "id": d["id"] }))
        .await;
    assert_eq!(
        assigned["assignDispute"]["dispute"],
        json!({ "status": "assigned", "auditor": "M0001" })
    );
    let (code, _) = t
        .err(
            Some(admin()),
            "mutation($id: UUID!) { assignDispute(id: $id, auditor: \"S0001\") { position } }",
            json!({ "id": d["id"] }),
        )
        .await;
    assert_eq!(code, "CONFLICT", "the filer is no auditor");
    let seen = t.ok(other_staff(), "{ disputes { id } }", json!({})).await;
    assert_eq!(
        seen["disputes"],
        json!([]),
        "staff see their own disputes only"
    );
    let seen = t
        .ok(
            auditor(),
            "{ disputes(status: assigned) { positions } }",
            json!({}),
        )
        .await;
    assert_eq!(seen["disputes"], json!([{ "positions": [late_line] }]));

    // Resolutions: only with corrections when upheld, none when rejected.
    let resolve = "mutation($id: UUID!, $outcome: Outcome!, $fix: [AttendanceFixInput!]! = [],
                            $points: [PointsFixInput!]! = []) {
        resolveDispute(id: $id, outcome: $outcome, reasoning: \"签到记录有误，教务处名单为准\",
                       attendance: $fix, adjustments: $points) {
          dispute { status reasoning totalBefore totalAfter correctingEvents } } }";
    let fix = json!([{ "session": id, "to": "present" }]);
    for (outcome, fix, code) in [
        ("upheld", json!([]), "BAD_USER_INPUT"),
        (
            "upheld",
            json!([{ "session": CS_SESSION, "to": "present" }]),
            "BAD_USER_INPUT",
        ),
        ("rejected", fix.clone(), "BAD_USER_INPUT"),
        ("settled", json!([]), "BAD_USER_INPUT"),
    ] {
        let (c, message) = t
            .err(
                Some(auditor()),
                resolve,
                json!({ "id": d["id"], "outcome": outcome, "fix": fix }),
            )
            .await;
        assert_eq!(c, code, "{outcome}: {message}");
    }
    let (code, message) = t
        .err(
            Some(staff()),
            resolve,
            json!({ "id": d["id"], "outcome": "upheld", "fix": fix }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN", "{message}");
    let before_fix = chrono::Utc::now();
    // Upheld: the late check-in becomes present; the correction names the
    // dispute and is appended with the resolution; the totals are the
    // year's close (101) and the corrected year (103).
    let upheld = t
        .ok(
            auditor(),
            resolve,
            json!({ "id": d["id"], "outcome": "upheld", "fix": fix }),
        )
        .await;
    let r = &upheld["resolveDispute"]["dispute"];
    assert_eq!(
        (&r["status"], &r["totalBefore"], &r["totalAfter"]),
        (&json!("upheld"), &json!(101), &json!(103)),
        "{r}"
    );
    let ids: Vec<uuid::Uuid> = serde_json::from_value(r["correctingEvents"].clone()).unwrap();
    let corrections = t.api.app.store.read_ids(&ids).await.unwrap();
    assert_eq!(corrections.len(), 1, "{r}");
    let payload: serde_json::Value = serde_json::from_str(&corrections[0].payload).unwrap();
    assert_eq!(
        (
            &payload["type"],
            &payload["dispute"],
            &payload["to"],
            &payload["corrector"]
        ),
        (
            &json!("AttendanceCorrected"),
            &d["id"],
            &json!("present"),
            &json!("M0001")
        ),
        "{payload}"
    );
    let after = t.ok(staff(), q, json!({ "who": "S0001" })).await;
    assert_eq!(after["appraisal"]["total"], 103, "{after}");
    // The year-end record keeps what the close recorded (101) beside what
    // the log gives now (103, after the upheld dispute); staff see their
    // own line, and a year not closed has no record.
    let record = "query($year: Int!) { yearEndRecord(year: $year) { closed
        people { staffNo name recorded live } } }";
    let mine = t.ok(staff(), record, json!({ "year": 2007 })).await;
    assert_eq!(
        mine["yearEndRecord"],
        json!({ "closed": true, "people": [
            { "staffNo": "S0001", "name": "王小明", "recorded": 101, "live": 103 }
        ] })
    );
    let all = t.ok(admin(), record, json!({ "year": 2007 })).await;
    let people = all["yearEndRecord"]["people"].as_array().unwrap();
    assert_eq!(people.len(), 4, "everyone on the staff at the close: {all}");
    let theirs = t.ok(chair(), record, json!({ "year": 2007 })).await;
    let numbers: Vec<&str> = theirs["yearEndRecord"]["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["staffNo"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["C0001", "S0001"], "the chair's subtree: {theirs}");
    let open = t.ok(admin(), record, json!({ "year": 2008 })).await;
    assert_eq!(
        open["yearEndRecord"],
        json!({ "closed": false, "people": [] })
    );
    // Replayed: what the system showed before the fix, what is true now.
    let seen = t
        .ok(
            staff(),
            "query($t: DateTime!) {
               then: attendance(staffNo: \"S0001\", asOf: $t, asRecorded: true) { status }
               now: attendance(staffNo: \"S0001\") { status }
               was: appraisal(staffNo: \"S0001\", year: 2007, asOf: $t, asRecorded: true) { total }
               history(staffNo: \"S0001\", year: 2007) { eventType payload }
               before: history(staffNo: \"S0001\", year: 2007, asOf: $t, asRecorded: true) { eventType }
             }",
            json!({ "t": before_fix }),
        )
        .await;
    assert_eq!(seen["then"], json!([{ "status": "late" }]), "{seen}");
    assert_eq!(seen["now"], json!([{ "status": "present" }]), "{seen}");
    assert_eq!(seen["was"]["total"], 101, "{seen}");
    let types = |h: &serde_json::Value| -> Vec<String> {
        h.as_array()
            .unwrap()
            .iter()
            .map(|e| e["eventType"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(types(&seen["history"]).contains(&"AttendanceCorrected".to_owned()));
    assert!(!types(&seen["before"]).contains(&"AttendanceCorrected".to_owned()));
    assert!(
        types(&seen["before"]).contains(&"PersonRegistered".to_owned()),
        "{seen}"
    );
    let issued = seen["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["eventType"] == "CardIssued")
        .expect("the card issued");
    assert!(
        issued["payload"].as_str().unwrap().contains("\"****B2C5\""),
        "cards are masked for staff: {issued}"
    );
    let (code, message) = t
        .err(
            Some(auditor()),
            resolve,
            json!({ "id": d["id"], "outcome": "upheld", "fix": fix }),
        )
        .await;
    assert_eq!(code, "CONFLICT", "{message}");
    assert!(message.contains("resolved already"), "{message}");

    // A second dispute is rejected: nothing changes, the reasoning stays.
    let adjustment = lines[2]["positions"][0].as_u64().unwrap();
    let filed = t.ok(staff(), file, json!({ "p": [adjustment] })).await;
    let second = filed["fileDispute"]["dispute"]["id"].clone();
    t.ok(
        admin(),
        "mutation($id: UUID!) { assignDispute(id: $id, auditor: \"M0001\") { position } }",
        json!({ "id": second }),
    )
    .await;
    let rejected = t
        .ok(
            auditor(),
            resolve,
            json!({ "id": second, "outcome": "rejected" }),
        )
        .await;
    assert_eq!(
        rejected["resolveDispute"]["dispute"],
        json!({ "status": "rejected", "reasoning": "签到记录有误，教务处名单为准",
                "totalBefore": 103, "totalAfter": 103, "correctingEvents": [] })
    );
}

async fn a_unit_month_from_sessions_to_report(db: TestDb) {
    let t = TestApi::campus(db).await;
    // A Tuesday afternoon study of school-cs in March 2007 (campus time).
    let id = "0195f000-0000-7000-8000-0000000b0b0b";
    t.ok(
        admin(),
        "mutation($id: UUID!) {
           scheduleSession(input: { id: $id, kind: centralized_study, title: \"集中学习\",
             organiser: \"school-cs\", venue: \"hall-a\", audienceUnits: [\"school-cs\"],
             startsAt: \"2007-03-06T06:00:00Z\", endsAt: \"2007-03-06T07:30:00Z\" }) { position }
           markByHand(id: $id, staffNo: \"S0001\", at: \"2007-03-06T06:05:00Z\") { position }
           closeSession(id: $id) { session { present absent } }
           grantRole(staffNo: \"C0001\", role: union_chair, unit: \"school-cs\") { position }
           a: grantRole(staffNo: \"A0001\", role: leadership_leader) { position }
         }",
        json!({ "id": id }),
    )
    .await;
    let q = "{ unitMonth(unit: \"school-cs\", year: 2007, month: 3) {
                 figures { sessionsHeld present late absent excused tasksDone attendancePermille }
                 studyCheck { checker notes } report { chair narrative submittedOn figures { sessionsHeld } } } }";
    let before = t.ok(chair(), q, json!({})).await;
    assert_eq!(
        before["unitMonth"],
        json!({ "figures": { "sessionsHeld": 1, "present": 1, "late": 0, "absent": 1, "excused": 0,
                             "tasksDone": 0, "attendancePermille": 500 },
                "studyCheck": null, "report": null })
    );
    // Replayed from the streams: the same figures now; none before the
    // log held anything. The unit's history holds its establishment.
    let replayed = t
        .ok(
            chair(),
            "query($t: DateTime!) {
               now: unitMonth(unit: \"school-cs\", year: 2007, month: 3, asOf: $t) {
                 figures { sessionsHeld present absent } }
               then: unitMonth(unit: \"school-cs\", year: 2007, month: 3,
                               asOf: \"2001-01-01T00:00:00Z\", asRecorded: true) {
                 figures { sessionsHeld present } }
               unitHistory(unit: \"school-cs\", year: 2007) { eventType }
             }",
            json!({ "t": chrono::Utc::now() + chrono::Duration::minutes(1) }),
        )
        .await;
    assert_eq!(
        replayed["now"]["figures"],
        json!({ "sessionsHeld": 1, "present": 1, "absent": 1 }),
        "{replayed}"
    );
    assert_eq!(
        replayed["then"]["figures"],
        json!({ "sessionsHeld": 0, "present": 0 })
    );
    assert_eq!(
        replayed["unitHistory"],
        json!([{ "eventType": "UnitEstablished" }])
    );
    let group = t
        .ok(
            staff(),
            "{ leadershipGroup { role ofUnit staffNo name } }",
            json!({}),
        )
        .await;
    assert_eq!(
        group["leadershipGroup"],
        json!([
            { "role": "leadership_leader", "ofUnit": null, "staffNo": "A0001", "name": "管理员" },
            { "role": "union_chair", "ofUnit": "school-cs", "staffNo": "C0001", "name": "陈主席" },
        ])
    );
    // The server's date decides: on 30 March the month has not ended.
    let day = |d| chrono::NaiveDate::from_ymd_opt(2007, 3, d).unwrap();
    t.set_clock(day(30), 17, 0);
    let (code, message) = t
        .err(
            Some(chair()),
            "mutation { submitMonthlyReport(unit: \"school-cs\", year: 2007, month: 3, narrative: \"x\") { position } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    assert!(
        message.contains("after the month ends on 2007-03-31"),
        "{message}"
    );
    t.set_clock(day(31) + chrono::Days::new(2), 9, 30);
    t.ok(
        chair(),
        "mutation {
           completeStudyCheck(unit: \"school-cs\", year: 2007, month: 3, on: \"2007-03-31\", notes: \"笔记齐全\") { position }
           submitMonthlyReport(unit: \"school-cs\", year: 2007, month: 3, narrative: \"本月集中学习一次\") { position }
         }",
        json!({}),
    )
    .await;
    let after = t.ok(admin(), q, json!({})).await;
    assert_eq!(
        after["unitMonth"]["studyCheck"],
        json!({ "checker": "C0001", "notes": "笔记齐全" })
    );
    assert_eq!(
        after["unitMonth"]["report"],
        json!({ "chair": "C0001", "narrative": "本月集中学习一次", "submittedOn": "2007-04-02",
                "figures": { "sessionsHeld": 1 } })
    );
    t.ok(
        admin(),
        "mutation { holdLeadershipMeeting(year: 2007, month: 3, on: \"2007-03-27\", attendees: [\"A0001\", \"C0001\"], minutes: \"部署师德建设月\") { position } }",
        json!({}),
    )
    .await;
    let m = t
        .ok(
            staff(),
            "{ leadershipMeetings(year: 2007) { month chair attendees } }",
            json!({}),
        )
        .await;
    assert_eq!(
        m["leadershipMeetings"],
        json!([{ "month": 3, "chair": "A0001", "attendees": ["A0001", "C0001"] }])
    );
}

async fn an_award_from_vote_to_register(db: TestDb) {
    let t = TestApi::campus(db).await;
    t.ok(
        admin(),
        "mutation { defineAwardCategory(id: \"good-teacher\", title: \"我心目中的好老师\",
           level: university, kind: individual, criteria: \"学生投票\", byVote: true) { position } }",
        json!({}),
    )
    .await;
    let nominate = "mutation($who: String!) { nominate(category: \"good-teacher\", year: 2007,
                      nomineeStaffNo: $who, citation: \"教书育人\") { position } }";
    t.ok(chair(), nominate, json!({ "who": "S0001" })).await;
    let (code, _) = t
        .err(Some(chair()), nominate, json!({ "who": "M0001" }))
        .await;
    assert_eq!(code, "FORBIDDEN");
    t.ok(admin(), nominate, json!({ "who": "M0001" })).await;
    let vote = "mutation($who: String!) { vote(category: \"good-teacher\", year: 2007, nomineeStaffNo: $who) { position } }";
    let (code, message) = t.err(Some(staff()), vote, json!({ "who": "S0001" })).await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("CONFLICT", "S0001 cannot vote for themselves")
    );
    t.ok(staff(), vote, json!({ "who": "M0001" })).await;
    let (code, message) = t.err(Some(staff()), vote, json!({ "who": "M0001" })).await;
    assert_eq!(code, "CONFLICT");
    assert!(message.contains("has already voted"), "{message}");
    t.ok(other_staff(), vote, json!({ "who": "S0001" })).await;
    t.ok(chair(), vote, json!({ "who": "S0001" })).await;
    let (code, _) = t
        .err(Some(auditor()), vote, json!({ "who": "S0001" }))
        .await;
    assert_eq!(code, "FORBIDDEN");
    t.ok(
        admin(),
        "mutation {
           endorseNomination(category: \"good-teacher\", year: 2007, nomineeStaffNo: \"S0001\") { position }
           conferAward(category: \"good-teacher\", year: 2007, nomineeStaffNo: \"S0001\",
             ceremony: \"教师节表彰大会\", on: \"2007-09-10\") { position }
           featureExemplar(category: \"good-teacher\", year: 2007, nomineeStaffNo: \"S0001\",
             channel: campus_web, story: \"扎根讲台\", on: \"2007-09-12\") { position }
         }",
        json!({}),
    )
    .await;
    let r = t
        .ok(
            staff(),
            "{ awardsRegister(year: 2007) { nominee nomineeName level votes status ceremony conferredOn }
               nominations(category: \"good-teacher\") { nominee votes }
               exemplars { nominee channel } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r["awardsRegister"],
        json!([{ "nominee": "S0001", "nomineeName": "王小明", "level": "university", "votes": 2,
                 "status": "conferred", "ceremony": "教师节表彰大会", "conferredOn": "2007-09-10" }])
    );
    assert_eq!(
        r["nominations"],
        json!([{ "nominee": "S0001", "votes": 2 }, { "nominee": "M0001", "votes": 1 }])
    );
    assert_eq!(
        r["exemplars"],
        json!([{ "nominee": "S0001", "channel": "campus_web" }])
    );
    t.ok(
        admin(),
        "mutation { revokeAward(category: \"good-teacher\", year: 2007, nomineeStaffNo: \"S0001\", reason: \"材料不实\") { position } }",
        json!({}),
    )
    .await;
    let r = t.ok(admin(), "{ a: awardsRegister { nominee } b: awardsRegister(includeRevoked: true) { status revokedReason } }", json!({})).await;
    assert_eq!(r["a"], json!([]));
    assert_eq!(
        r["b"],
        json!([{ "status": "revoked", "revokedReason": "材料不实" }])
    );
}

async fn a_study_task_from_assignment_to_close(db: TestDb) {
    let t = TestApi::campus(db).await;
    let id = "0195f000-0000-7000-8000-0000000057d1";
    let assigned = t
        .ok(
            chair(),
            "mutation($id: UUID!) { assignStudyTask(input: { id: $id, title: \"学习十七大报告\",
               topic: political_theory, audienceUnits: [\"cs-dept\"],
               assignedOn: \"2007-03-01\", due: \"2007-03-10\" }) { task { status assigner } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        assigned["assignStudyTask"]["task"],
        json!({ "status": "open", "assigner": "C0001" })
    );
    // The server's date dates a completion and decides when a task closes.
    let march = |d| chrono::NaiveDate::from_ymd_opt(2007, 3, d).unwrap();
    t.set_clock(march(5), 20, 0);
    t.ok(
        staff(),
        "mutation($id: UUID!) { completeStudyTask(id: $id, evidence: \"读书笔记三篇\") { position } }",
        json!({ "id": id }),
    )
    .await;
    let (code, message) = t
        .err(
            Some(other_staff()),
            "mutation($id: UUID!) { completeStudyTask(id: $id, evidence: \"x\") { position } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    assert!(message.contains("is not assigned to M0001"), "{message}");
    t.set_clock(march(9), 17, 0);
    let (code, message) = t
        .err(
            Some(chair()),
            "mutation($id: UUID!) { closeStudyTask(id: $id) { position } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    assert!(message.contains("is due on 2007-03-10"), "{message}");
    t.set_clock(march(11), 9, 0);
    let closed = t
        .ok(
            chair(),
            "mutation($id: UUID!) { closeStudyTask(id: $id) {
               task { status completed missed records { edges { node { staffNo state doneOn note } } } }
             } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        closed["closeStudyTask"]["task"],
        json!({ "status": "closed", "completed": 1, "missed": 1, "records": { "edges": [
            { "node": { "staffNo": "C0001", "state": "missed", "doneOn": null, "note": null } },
            { "node": { "staffNo": "S0001", "state": "completed", "doneOn": "2007-03-05", "note": "读书笔记三篇" } },
        ] } })
    );
    let own = t
        .ok(
            staff(),
            "{ studyRecord(staffNo: \"S0001\") { taskId state } }",
            json!({}),
        )
        .await;
    assert_eq!(
        own["studyRecord"],
        json!([{ "taskId": id, "state": "completed" }])
    );
    let seen = t
        .ok(
            staff(),
            "query($id: UUID!) { studyTask(id: $id) { records { edges { node { staffNo } } } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        seen["studyTask"]["records"]["edges"],
        json!([{ "node": { "staffNo": "S0001" } }])
    );
}

async fn a_programme_from_launch_to_report(db: TestDb) {
    let t = TestApi::campus(db).await;
    let launched = t
        .ok(
            admin(),
            "mutation {
               launchProgramme(input: { id: \"ytnp\", kind: young_teacher_navigation,
                 title: \"青年教师导航计划\", launchedOn: \"2005-09-01\" }) {
                 programme { id kind eligibility }
               }
               issueAnnualPlan(programme: \"ytnp\", year: 2007, targets: [
                 { kind: training_lecture, target: 6 }, { kind: teaching_competition, target: 1 }
               ]) { position }
               issueNotice(programme: \"ytnp\", title: \"导航计划通知\", body: \"各学院……\", issuedOn: \"2007-02-20\") { position }
               a: enrolParticipant(programme: \"ytnp\", staffNo: \"S0001\", on: \"2007-03-01\") { position }
             }",
            json!({}),
        )
        .await;
    assert_eq!(
        launched["launchProgramme"]["programme"]["eligibility"],
        r#"{"categories":["teacher"],"hired_within_years":3,"max_age":35}"#
    );
    // The eligibility rule decides: born in 1980, hired in 2005, enrolling in 2030.
    let (code, message) = t
        .err(
            Some(admin()),
            "mutation { enrolParticipant(programme: \"ytnp\", staffNo: \"M0001\", on: \"2030-03-01\") { position } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    assert!(
        message.starts_with("not eligible: M0001 is 49 on 2030-03-01"),
        "{message}"
    );

    // A training lecture of the programme, held and closed.
    let start = chrono::Utc::now() - chrono::Duration::hours(3);
    let id = "0195f000-0000-7000-8000-00000000a0a0";
    t.ok(
        admin(),
        "mutation($input: ScheduleSessionInput!) { scheduleSession(input: $input) { position } }",
        json!({ "input": {
            "id": id, "kind": "training_lecture", "title": "如何上好第一堂课", "programme": "ytnp",
            "organiser": "school-cs", "venue": "hall-a", "audienceCohort": "ytnp",
            "startsAt": start.to_rfc3339(), "endsAt": (start + chrono::Duration::minutes(90)).to_rfc3339(),
        }}),
    )
    .await;
    t.ok(
        chair(),
        "mutation($id: UUID!, $at: DateTime!) {
           markByHand(id: $id, staffNo: \"S0001\", at: $at) { position }
         }",
        json!({ "id": id, "at": start.to_rfc3339() }),
    )
    .await;
    let closed = t
        .ok(
            chair(),
            "mutation($id: UUID!) { closeSession(id: $id) { session { present absent } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        closed["closeSession"]["session"],
        json!({ "present": 1, "absent": 0 })
    );
    let year = i64::from(chrono::Datelike::year(
        &(start + chrono::Duration::hours(8)),
    ));
    let p = t
        .ok(
            staff(),
            "{ programme(id: \"ytnp\") {
                 plans { year kind target }
                 notices { title }
                 participants { edges { node { staffNo name enrolledOn } } }
                 report { year sessions { kind sessions } participants }
               } }",
            json!({}),
        )
        .await;
    let p = &p["programme"];
    assert_eq!(p["plans"].as_array().unwrap().len(), 2);
    assert_eq!(p["notices"], json!([{ "title": "导航计划通知" }]));
    assert_eq!(
        p["participants"]["edges"],
        json!([{ "node": { "staffNo": "S0001", "name": "王小明", "enrolledOn": "2007-03-01" } }])
    );
    let lecture = json!([{ "kind": "training_lecture", "sessions": 1 }]);
    assert_eq!(
        p["report"],
        json!([
            { "year": year, "sessions": lecture, "participants": 1 },
            { "year": null, "sessions": lecture, "participants": 1 },
        ])
    );
    let by_programme = t
        .ok(
            admin(),
            "{ people(programme: \"ytnp\") { edges { node { staffNo } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        by_programme["people"]["edges"],
        json!([{ "node": { "staffNo": "S0001" } }])
    );
    let searched = t
        .ok(admin(), "{ a: people(search: \"小明\") { edges { cursor } } b: people(search: \"m000\") { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(searched["a"]["edges"], json!([{ "cursor": "S0001" }]));
    assert_eq!(searched["b"]["edges"], json!([{ "cursor": "M0001" }]));
    // Staff see only themselves among the participants.
    let other = t
        .ok(
            other_staff(),
            "{ programme(id: \"ytnp\") { participants { edges { cursor } } } }",
            json!({}),
        )
        .await;
    assert_eq!(other["programme"]["participants"]["edges"], json!([]));
}

async fn a_session_from_schedule_to_correction(db: TestDb) {
    let t = TestApi::campus(db).await;
    let start = chrono::Utc::now() - chrono::Duration::hours(3);
    let id = "0195f000-0000-7000-8000-0000000f1f1f";
    let scheduled = t
        .ok(
            chair(),
            "mutation($input: ScheduleSessionInput!) {
               scheduleSession(input: $input) { position session { status kind organiser } }
             }",
            json!({ "input": {
                "id": id, "kind": "training_lecture", "title": "青年教师导航讲座",
                "organiser": "cs-dept", "venue": "hall-b",
                "startsAt": start.to_rfc3339(),
                "endsAt": (start + chrono::Duration::minutes(90)).to_rfc3339(),
                "audienceUnits": ["school-cs"],
            }}),
        )
        .await;
    assert_eq!(
        scheduled["scheduleSession"]["session"],
        json!({ "status": "scheduled", "kind": "training_lecture", "organiser": "cs-dept" })
    );
    // The chair marks a teacher who forgot their card, then closes: the
    // chair themself, expected and absent, is recorded absent.
    let marked = t
        .ok(
            chair(),
            "mutation($id: UUID!, $at: DateTime!) {
               markByHand(id: $id, staffNo: \"S0001\", at: $at) { position session { present late } }
             }",
            json!({ "id": id, "at": (start + chrono::Duration::minutes(20)).to_rfc3339() }),
        )
        .await;
    assert_eq!(
        marked["markByHand"]["session"],
        json!({ "present": 0, "late": 1 })
    );
    let closed = t
        .ok(
            chair(),
            "mutation($id: UUID!) { closeSession(id: $id) { position session { status late absent } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        closed["closeSession"]["session"],
        json!({ "status": "closed", "late": 1, "absent": 1 })
    );
    let roster = t
        .ok(
            admin(),
            "query($id: UUID!) { session(id: $id) { roster { edges { node { staffNo name status method } } } } }",
            json!({ "id": id }),
        )
        .await;
    let edges = &roster["session"]["roster"]["edges"];
    assert_eq!(edges[0]["node"]["staffNo"], "C0001");
    assert_eq!(edges[0]["node"]["status"], "absent");
    assert_eq!(edges[1]["node"]["name"], "王小明");
    assert_eq!(edges[1]["node"]["status"], "late");
    assert_eq!(
        edges[1]["node"]["method"],
        json!(r#"{"by":"hand","marker":"C0001"}"#)
    );
    // Corrected by hand list: the latest correction wins.
    let corrected = t
        .ok(
            chair(),
            "mutation($id: UUID!) {
               correctAttendance(id: $id, staffNo: \"S0001\", to: present, reason: \"签到表\") {
                 session { present late absent }
               }
             }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        corrected["correctAttendance"]["session"],
        json!({ "present": 1, "late": 0, "absent": 1 })
    );
    let history = t
        .ok(
            staff(),
            "{ attendance(staffNo: \"S0001\") { status session { title } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        history["attendance"],
        json!([{ "status": "present", "session": { "title": "青年教师导航讲座" } }])
    );
    // The events carry who decided.
    let events = t
        .ok(
            auditor(),
            "{ events(first: 100) { eventType metadata } }",
            json!({}),
        )
        .await;
    let corrected = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["eventType"] == "AttendanceCorrected")
        .unwrap();
    assert_eq!(
        corrected["metadata"],
        r#"{"actor":"token:test","source":"graphql"}"#
    );
}

async fn errors_name_the_offending_value(db: TestDb) {
    let t = TestApi::campus(db).await;
    let cases = [
        (
            "{ person(staffNo: \"Z9999\") { name } }",
            "NOT_FOUND",
            "staff member Z9999 does not exist",
        ),
        (
            "{ person(staffNo: \"no!\") { name } }",
            "BAD_USER_INPUT",
            "invalid staff number \"no!\"",
        ),
        (
            "mutation { establishUnit(id: \"cs-dept\", name: \"x\", kind: department, parent: \"uni\") { position } }",
            "CONFLICT",
            "unit \"cs-dept\" already exists",
        ),
        (
            "mutation { issueCard(staffNo: \"M0001\", uid: \"04A1B2C5\") { position } }",
            "CONFLICT",
            "card_uid \"04A1B2C5\" is already claimed by stream \"person-S0001\"",
        ),
        (
            "mutation { issueCard(staffNo: \"M0001\", uid: \"XYZ\") { position } }",
            "BAD_USER_INPUT",
            "invalid card UID \"XYZ\"",
        ),
        (
            "mutation { registerPerson(input: { staffNo: \"N0001\", name: \"新人\", unit: \"cs-dept\", category: \"professor\", birthDate: \"1990-01-01\", hireDate: \"2015-01-01\" }) { position } }",
            "BAD_USER_INPUT",
            "Invalid value for argument \"input.category\", enumeration type \"StaffCategory\" does not contain the value \"professor\"",
        ),
        (
            "{ people(first: 500) { edges { cursor } } }",
            "BAD_USER_INPUT",
            "first: 500 is out of range; ask for 1 to 100 items a page",
        ),
        (
            "{ session(id: \"0195f000-0000-7000-8000-000000000000\") { title } }",
            "NOT_FOUND",
            "session 0195f000-0000-7000-8000-000000000000 does not exist",
        ),
        (
            "mutation { markByHand(id: \"0195f000-0000-7000-8000-0000000a7a7a\", staffNo: \"S0001\") { position } }",
            "CONFLICT",
            "S0001 is not in the audience of session 0195f000-0000-7000-8000-0000000a7a7a",
        ),
    ];
    for (query, code, message) in cases {
        let (c, m) = t.err(Some(admin()), query, json!({})).await;
        assert_eq!(c, code, "{query}: {m}");
        assert!(
            m.starts_with(message),
            "{query}: {m:?} should start with {message:?}"
        );
    }
    // A decision that records who made it needs a token tied to a person.
    let mut admin_without_person = admin();
    admin_without_person.person = None;
    let (c, m) = t
        .err(
            Some(admin_without_person),
            "mutation($id: UUID!) { markByHand(id: $id, staffNo: \"S0001\") { position } }",
            json!({ "id": CS_SESSION }),
        )
        .await;
    assert_eq!(c, "BAD_USER_INPUT");
    assert!(m.contains("--person"), "{m}");
}

/// The schema query GraphiQL sends when it opens (graphql-js's
/// `getIntrospectionQuery`), with no token.
const GRAPHIQL_INTROSPECTION: &str = "query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}";

async fn limits_refuse_before_running(db: TestDb) {
    let t = TestApi::campus(db).await;
    let head = t.api.app.store.head().await.unwrap();
    // Depth is counted before the schema is consulted: 11 levels.
    let deep = "{ people { edges { node { a { b { c { d { e { f { g { h } } } } } } } } } } }";
    let r = t.run(Some(admin()), deep, json!({})).await;
    assert_eq!(
        r["errors"][0]["message"],
        "people is nested 11 levels deep (`ofType` not counted); at most 10 are allowed",
        "{r}"
    );
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    assert!(r.get("data").is_none_or(|d| d.is_null()));
    // GraphiQL's schema query is answered without a token (its chain of
    // seven `ofType` is not depth), while a query that nests the schema's
    // lists in each other (types, their fields, their arguments' types'
    // fields: the schema's size to the fourth power) is refused.
    let schema = t.run(None, GRAPHIQL_INTROSPECTION, json!({})).await;
    assert!(schema.get("errors").is_none(), "{schema}");
    assert_eq!(schema["data"]["__schema"]["queryType"]["name"], "Query");
    assert!(
        schema["data"]["__schema"]["types"]
            .as_array()
            .unwrap()
            .len()
            > 50
    );
    let blowup = "{ __schema { types { fields { args { type { fields { name } } } } } } }";
    let r = t.run(None, blowup, json!({})).await;
    let message = r["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("__schema nests 4 lists of the schema"),
        "{r}"
    );
    let wide = format!(
        "{{ {} }}",
        (0..4)
            .map(|i| format!("p{i}: people(first: {MAX_PAGE}) {{ edges {{ cursor node {{ staffNo name unit category birthDate hireDate }} }} }}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let r = t.run(Some(admin()), &wide, json!({})).await;
    assert_eq!(r["errors"][0]["message"], "Query is too complex.", "{r}");
    // A refused mutation never ran.
    let r = t
        .run(
            Some(admin()),
            &format!("mutation {{ establishUnit(id: \"too-deep\", name: \"x\", kind: office, parent: \"uni\") {{ position }} }} {deep}"),
            json!({}),
        )
        .await;
    assert!(r["errors"][0]["message"].is_string(), "{r}");
    assert_eq!(t.api.app.store.head().await.unwrap(), head);
}

async fn pages_and_read_your_writes(db: TestDb) {
    let t = TestApi::campus(db).await;
    let q = "query($after: String) { people(first: 3, after: $after) { edges { cursor node { staffNo } } pageInfo { hasNextPage hasPreviousPage } } }";
    let first = t.ok(admin(), q, json!({})).await;
    let page = &first["people"];
    assert_eq!(page["edges"].as_array().unwrap().len(), 3);
    assert_eq!(
        page["pageInfo"],
        json!({ "hasNextPage": true, "hasPreviousPage": false })
    );
    let next = t
        .ok(admin(), q, json!({ "after": page["edges"][2]["cursor"] }))
        .await;
    assert_eq!(
        next["people"]["edges"],
        json!([{ "cursor": "S0001", "node": { "staffNo": "S0001" } }])
    );
    assert_eq!(next["people"]["pageInfo"]["hasNextPage"], false);

    // Raw events of one stream, after a position.
    let org = t
        .ok(
            auditor(),
            "{ events(stream: \"org\", after: 2, first: 2) { position streamVersion eventType } }",
            json!({}),
        )
        .await;
    assert_eq!(
        org["events"],
        json!([
            { "position": 3, "streamVersion": 3, "eventType": "UnitEstablished" },
            { "position": 4, "streamVersion": 4, "eventType": "UnitEstablished" },
        ])
    );

    // A mutation returns its position, and its own read already shows it.
    let r = t
        .ok(admin(), "mutation { renameUnit(id: \"cs-dept\", name: \"计算机系\") { position unit { name } } }", json!({}))
        .await;
    let position = r["renameUnit"]["position"].as_u64().unwrap();
    assert_eq!(r["renameUnit"]["unit"]["name"], "计算机系");
    assert_eq!(position, t.api.app.store.head().await.unwrap());
    // A query may ask to read at least that position.
    let mut request = async_graphql::Request::new("{ unit(id: \"cs-dept\") { name } }");
    request.extensions.insert(
        "waitForPosition".into(),
        async_graphql::Value::from(position),
    );
    let r = serde_json::to_value(
        lectern_graphql::execute(&t.schema, &t.api, request, Some(admin())).await,
    )
    .unwrap();
    assert_eq!(r["data"]["unit"]["name"], "计算机系", "{r}");
    let mut request = async_graphql::Request::new("{ unit(id: \"cs-dept\") { name } }");
    request
        .extensions
        .insert("waitForPosition".into(), async_graphql::Value::from("soon"));
    let r = serde_json::to_value(
        lectern_graphql::execute(&t.schema, &t.api, request, Some(admin())).await,
    )
    .unwrap();
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
}

async fn tokens_are_stored_hashed_and_revocable(db: TestDb) {
    let t = TestApi::campus(db).await;
    let tokens: &Tokens = &t.api.tokens;
    let unit = lectern_domain::UnitId::parse("school-cs").unwrap();
    let person = lectern_domain::StaffNo::parse("C0001").unwrap();
    let (info, secret) = tokens
        .create(
            &Principal::UnionChair { unit: unit.clone() },
            Some(&person),
            "chair of CS",
        )
        .await
        .unwrap();
    assert!(secret.starts_with("lct_") && secret.len() == 68, "{secret}");
    let caller = tokens.authenticate(&secret).await.unwrap();
    assert_eq!(caller.principal, Principal::UnionChair { unit });
    assert_eq!(caller.person, Some(person));
    assert_eq!(caller.token_id, info.id);
    // Only the hash is stored.
    let stored = t
        .api
        .db()
        .fetch("SELECT hash FROM lectern_tokens", &[])
        .await
        .unwrap();
    assert!(
        stored
            .iter()
            .all(|r| r.opt("hash").as_deref() != Some(secret.as_str()))
    );
    assert_eq!(tokens.list().await.unwrap().len(), 1);
    // Other servers on the same database: one that checked the token a
    // moment ago trusts it for its cache time (an hour here, so that a slow
    // machine cannot outlast it); one that looks every time does not; the
    // server that revoked it refuses it at once.
    let elsewhere = Tokens::new(t.api.db().clone()).with_ttl(std::time::Duration::from_secs(3600));
    let strict = Tokens::new(t.api.db().clone()).with_ttl(std::time::Duration::ZERO);
    elsewhere.authenticate(&secret).await.unwrap();
    strict.authenticate(&secret).await.unwrap();
    tokens.revoke(&info.id, chrono::Utc::now()).await.unwrap();
    let e = tokens.authenticate(&secret).await.unwrap_err();
    assert_eq!(e.code.as_str(), "UNAUTHENTICATED");
    let e = strict.authenticate(&secret).await.unwrap_err();
    assert_eq!(e.code.as_str(), "UNAUTHENTICATED");
    assert_eq!(
        elsewhere.authenticate(&secret).await.unwrap().token_id,
        info.id,
        "trusted for its cache time after it was checked"
    );
    let e = tokens
        .revoke(&info.id, chrono::Utc::now())
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        format!("no active token has the id {:?}", info.id)
    );
    assert!(tokens.list().await.unwrap()[0].revoked_at.is_some());
    let e = lectern_graphql::parse_principal("union-chair", None, None, None).unwrap_err();
    assert_eq!(e.message, "the role \"union-chair\" needs a unit");
    let e = lectern_graphql::parse_principal("root", None, None, None).unwrap_err();
    assert!(e.message.starts_with("unknown role \"root\""));
}

async fn subscriptions_follow_the_log(db: TestDb) {
    use futures_util::StreamExt;
    let t = TestApi::campus(db).await;
    let head = t.api.app.store.head().await.unwrap();
    let subscribe = |caller: Caller, q: &str| {
        t.schema
            .execute_stream(async_graphql::Request::new(q).data(caller))
            .map(|r| serde_json::to_value(r).unwrap())
    };
    let q = format!(
        "subscription {{ sessionAttendance(id: \"{CS_SESSION}\", after: {head}) {{ staffNo leave status }} }}"
    );
    let mut chair_feed = Box::pin(subscribe(chair(), &q));
    let mut own_feed = Box::pin(subscribe(staff(), &q));
    t.ok(
        chair(),
        &format!(
            "mutation {{ requestLeave(id: \"{CS_SESSION}\", reason: \"会议\") {{ position }} }}"
        ),
        json!({}),
    )
    .await;
    t.ok(
        staff(),
        &format!(
            "mutation {{ requestLeave(id: \"{CS_SESSION}\", reason: \"出差\") {{ position }} }}"
        ),
        json!({}),
    )
    .await;
    let first = next(&mut chair_feed).await;
    assert_eq!(
        first["data"]["sessionAttendance"],
        json!({ "staffNo": "C0001", "leave": "requested", "status": null })
    );
    let second = next(&mut chair_feed).await;
    assert_eq!(second["data"]["sessionAttendance"]["staffNo"], "S0001");
    // Staff follow their own line only.
    let own = next(&mut own_feed).await;
    assert_eq!(
        own["data"]["sessionAttendance"]["staffNo"], "S0001",
        "{own}"
    );
    // Refused at subscription time.
    let mut refused = Box::pin(subscribe(other_staff(), &q));
    let r = next(&mut refused).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");

    // The event feed replays from a position, then goes live.
    let mut feed = Box::pin(subscribe(
        auditor(),
        &format!(
            "subscription {{ events(after: {}) {{ position eventType }} }}",
            head - 1
        ),
    ));
    let e = next(&mut feed).await;
    assert_eq!(e["data"]["events"]["position"], head);
    for expected in ["LeaveRequested", "LeaveRequested"] {
        let e = next(&mut feed).await;
        assert_eq!(e["data"]["events"]["eventType"], expected);
    }
    let mut refused = Box::pin(subscribe(staff(), "subscription { events { position } }"));
    let r = next(&mut refused).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
}

/// The next item of a subscription, which must come.
async fn next<S: futures_util::Stream<Item = serde_json::Value> + Unpin>(
    s: &mut S,
) -> serde_json::Value {
    use futures_util::StreamExt;
    tokio::time::timeout(std::time::Duration::from_secs(20), s.next())
        .await
        .expect("the subscription delivers in time")
        .expect("the subscription is open")
}

/// A person's appraisal lines folded over every stream of the log.
async fn full_fold(t: &TestApi, who: &str, year: i32) -> serde_json::Value {
    use lectern_domain::*;
    use std::collections::BTreeMap;
    let mut streams: BTreeMap<String, Vec<lectern_store::RecordedEvent>> = BTreeMap::new();
    for e in t.api.app.store.read_all(0, 1 << 20, None).await.unwrap() {
        streams.entry(e.stream_id.clone()).or_default().push(e);
    }
    fn positioned<E: DomainEvent>(events: &[lectern_store::RecordedEvent]) -> Vec<Positioned<E>> {
        events
            .iter()
            .map(|e| Positioned {
                position: e.position,
                occurred_at: e.occurred_at,
                event: serde_json::from_str(&e.payload).unwrap(),
            })
            .collect()
    }
    let pick = |prefix: &'static str| {
        streams
            .iter()
            .filter(move |(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
    };
    let appraisal = streams
        .get(APPRAISAL_STREAM)
        .map(|v| positioned(v))
        .unwrap_or_default();
    let sessions: Vec<_> = pick("session-").map(|v| positioned(v)).collect();
    let tasks: Vec<_> = pick("task-").map(|v| positioned(v)).collect();
    let awards: Vec<_> = pick("award-").map(|v| positioned(v)).collect();
    let histories = Histories {
        appraisal: &appraisal,
        sessions: &sessions,
        tasks: &tasks,
        awards: &awards,
        monthly: &[],
    };
    let a = appraise_person(
        &StaffNo::parse(who).unwrap(),
        &Period::year(year).unwrap(),
        &Campus::default(),
        &histories,
    )
    .unwrap();
    let lines: Vec<serde_json::Value> = a
        .lines
        .iter()
        .map(|l| json!({ "points": l.points, "rule": l.rule, "ruleVersion": l.rule_version, "date": l.date.to_string(), "subject": l.subject, "positions": l.positions }))
        .collect();
    json!(lines)
}

/// Who a session expects is the staff of its units on its day, not on the
/// day it is closed (the seed: strict attendance at each unit's Tuesday
/// study; absences cost points). Tuesday 6 March 2007, school-cs, closed
/// weeks later:
/// - C0001 (cs-dept since 2005) did not come: absent;
/// - S0001 (cs-dept) marked by hand at 14:20, after the 10-minute grace: late;
/// - T0002 was in cs-dept until a transfer effective 20 March: absent;
/// - T0001 was in math-dept until the same transfer into cs-dept: not expected;
/// - N0001, hired on 1 April into cs-dept: not expected;
/// - L0001 left on 1 March: not expected.
///
/// So present 0, late 1, absent 2; T0002 loses 5 points, nobody else one
/// for this session.
async fn a_session_expects_its_units_staff_as_of_its_day(db: TestDb) {
    let t = TestApi::campus(db).await;
    let id = "0195f000-0000-7000-8000-0000000d0d0d";
    for (no, unit, hired) in [
        ("T0001", "math-dept", "2005-09-01"),
        ("T0002", "cs-dept", "2005-09-01"),
        ("N0001", "cs-dept", "2007-04-01"),
        ("L0001", "cs-dept", "2005-09-01"),
    ] {
        t.ok(
            admin(),
            "mutation($no: String!, $unit: String!, $hired: NaiveDate!) {
               registerPerson(input: { staffNo: $no, name: $no, unit: $unit,
                 category: teacher, birthDate: \"1980-03-04\", hireDate: $hired }) { position }
             }",
            json!({ "no": no, "unit": unit, "hired": hired }),
        )
        .await;
    }
    t.ok(
        admin(),
        "mutation($id: UUID!) {
           a: transferPerson(staffNo: \"T0001\", to: \"cs-dept\", effective: \"2007-03-20\") { position }
           b: transferPerson(staffNo: \"T0002\", to: \"math-dept\", effective: \"2007-03-20\") { position }
           c: recordLeaving(staffNo: \"L0001\", on: \"2007-03-01\", reason: \"调离\") { position }
           adoptScoringRules(input: { version: 1, effectiveFrom: \"2007-01-01\", basePoints: 100,
             perAbsence: 5, perLate: 2, perMissedTask: 3, perLateReport: 10, reportDueDay: 5,
             awardBonus: [], unitPerMemberAbsence: 2, unitPerMemberMissedTask: 1,
             perMissingReport: 10 }) { position }
           scheduleSession(input: { id: $id, kind: centralized_study, title: \"集中学习\",
             organiser: \"school-cs\", venue: \"hall-a\", audienceUnits: [\"school-cs\"],
             startsAt: \"2007-03-06T06:00:00Z\", endsAt: \"2007-03-06T07:30:00Z\" }) { position }
           markByHand(id: $id, staffNo: \"S0001\", at: \"2007-03-06T06:20:00Z\") { position }
         }",
        json!({ "id": id }),
    )
    .await;
    // Closed on 2 April, after the transfers, the leaving and the hire.
    t.set_clock(chrono::NaiveDate::from_ymd_opt(2007, 4, 2).unwrap(), 9, 0);
    let closed = t
        .ok(
            admin(),
            "mutation($id: UUID!) { closeSession(id: $id) { session { present late absent
               roster { edges { node { staffNo status } } } } } }",
            json!({ "id": id }),
        )
        .await;
    let session = &closed["closeSession"]["session"];
    assert_eq!(
        (&session["present"], &session["late"], &session["absent"]),
        (&json!(0), &json!(1), &json!(2)),
        "{session}"
    );
    assert_eq!(
        session["roster"]["edges"],
        json!([
            { "node": { "staffNo": "C0001", "status": "absent" } },
            { "node": { "staffNo": "S0001", "status": "late" } },
            { "node": { "staffNo": "T0002", "status": "absent" } },
        ])
    );
    let q =
        "query($who: String!) { appraisal(staffNo: $who, year: 2007) { total lines { rule } } }";
    let t2 = t.ok(admin(), q, json!({ "who": "T0002" })).await;
    assert_eq!(t2["appraisal"]["total"], 95, "{t2}");
    for who in ["T0001", "N0001"] {
        let a = t.ok(admin(), q, json!({ "who": who })).await;
        assert_eq!(
            a["appraisal"]["lines"],
            json!([{ "rule": "base" }]),
            "{who} was not expected: {a}"
        );
    }

    // A unit's month counts its people (the unit and those below it) as of
    // the session's day, and pointsLost the same people's deductions:
    // cs-dept had C0001 (absent, -5), S0001 (late, -2) and T0002 (absent,
    // -5, transferred away only on 20 March): late 1, absent 2, 12 lost;
    // school-cs above it the same; math-dept none of them (T0002 arrived
    // after the session). No unit organised it but school-cs.
    let month = "query($unit: String!) { unitMonth(unit: $unit, year: 2007, month: 3) {
                   figures { sessionsHeld present late absent } pointsLost } }";
    for (unit, held, late, absent, lost) in [
        ("cs-dept", 0, 1, 2, 12),
        ("school-cs", 1, 1, 2, 12),
        ("math-dept", 0, 0, 0, 0),
    ] {
        let m = t.ok(admin(), month, json!({ "unit": unit })).await;
        assert_eq!(
            m["unitMonth"],
            json!({ "figures": { "sessionsHeld": held, "present": 0, "late": late,
                    "absent": absent }, "pointsLost": lost }),
            "{unit}"
        );
    }
    // Over the year the same: C0001 and S0001 were in cs-dept all year,
    // T0002 only until 20 March, so the ranking under school-cs counts the
    // three of them for cs-dept, its one department.
    let ranking = t
        .ok(
            admin(),
            "{ unitRanking(year: 2007, under: \"school-cs\") {
                 unit figures { present late absent attendancePermille } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        ranking["unitRanking"],
        json!([
            { "unit": "cs-dept", "figures": { "present": 0, "late": 1, "absent": 2,
              "attendancePermille": 333 } },
        ]),
        "{ranking}"
    );
    // The unit's appraisal (rules v1: 2 per absence of its people): the
    // absences of C0001 and T0002 on 6 March cost cs-dept and school-cs 4
    // each; math-dept nothing. Reports: the units were set up today, so
    // none was due in 2007.
    let unit = "query($unit: String!) { unitAppraisal(unit: $unit, year: 2007) {
                  total lines { rule points subject } } }";
    for (u, total) in [("cs-dept", 96), ("school-cs", 96), ("math-dept", 100)] {
        let a = t.ok(admin(), unit, json!({ "unit": u })).await;
        assert_eq!(a["unitAppraisal"]["total"], total, "{u}: {a}");
    }
    let a = t.ok(admin(), unit, json!({ "unit": "cs-dept" })).await;
    assert_eq!(
        a["unitAppraisal"]["lines"],
        json!([
            { "rule": "base", "points": 100, "subject": "base points for 2007" },
            { "rule": "member_absence", "points": -2, "subject": "C0001: 集中学习" },
            { "rule": "member_absence", "points": -2, "subject": "T0002: 集中学习" },
        ]),
        "{a}"
    );
}
