//! A term at a small campus, through the public interfaces only (the
//! `lectern import` command, GraphQL, the kiosk program with a simulated
//! reader, and an offline kiosk's signed taps), on SQLite and PostgreSQL,
//! with every figure worked out by hand from the seed's rules. The server
//! runs on a manual clock: it decides every deadline and window.
//!
//! The campus (2008, campus time): the university `uni`; the school `cs`
//! with the department `cs-se` below it; the office `office`. All four are
//! set up on 1 August. Staff (imported): A0001 (administrator, uni), C0001
//! (cs, its union chair), T0001 and T0002 (cs-se), T0003 (cs, moves to office
//! on 10 September), T0004 (cs-se, hired 15 September).
//!
//! Scoring rules v1 from 1 January 2008: 100 base points; a person loses 5
//! per absence, 2 per late arrival, 3 per missed study task, gains 6 for a
//! city award; a unit loses 10 per late or missing monthly report (due the
//! 5th of the next month), 2 per absence and 1 per missed task of its
//! people (the unit and those below it, on the day), gains 8 for a city
//! collective award (seed: 记分考核, "a section or a person that does not
//! finish its study tasks or is absent loses study points").

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use lectern_domain::{Campus, Clock};
use lectern_kiosk_protocol::Outcome;
use lectern_store::testkit::TestDb;
use serde_json::{Value, json};

use crate::kiosk::enrol_as;
use crate::kiosk_api::{enrolled, outcomes};
use crate::{TestApp, admin_token, cli, kiosk, ok, token};

both_backends!(a_term_at_a_small_campus_adds_up);

/// `h:m` campus time on a day of 2008 (or 2009).
fn at(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Campus::default()
        .at(
            NaiveDate::from_ymd_opt(y, m, d).unwrap(),
            NaiveTime::from_hms_opt(h, mi, 0).unwrap(),
        )
        .unwrap()
}

const SESSION_A: &str = "0195f000-0000-7000-8000-0000000a0902";
const SESSION_B: &str = "0195f000-0000-7000-8000-0000000b0916";
const TASK: &str = "0195f000-0000-7000-8000-0000000c0930";

/// Cards by holder.
const CARDS: [(&str, &str); 5] = [
    ("C0001", "04C0000000C001"),
    ("T0001", "04C0000000D001"),
    ("T0002", "04C0000000D002"),
    ("T0003", "04C0000000D003"),
    ("T0004", "04C0000000D004"),
];

fn card(who: &str) -> &'static str {
    CARDS.iter().find(|(w, _)| *w == who).unwrap().1
}

async fn a_term_at_a_small_campus_adds_up(db: TestDb) {
    let url = db.url.clone();
    let clock = Clock::manual(at(2008, 8, 1, 9, 0));
    let server = TestApp::start_at(&url, clock.clone()).await;
    let addr = server.addr;
    let setup = admin_token(&url).await;
    for (id, kind, parent) in [
        ("uni", "university", None),
        ("cs", "school", Some("uni")),
        ("cs-se", "department", Some("cs")),
        ("office", "office", Some("uni")),
    ] {
        ok(
            addr,
            &setup,
            "mutation($id: String!, $kind: UnitKind!, $parent: String) {
               establishUnit(id: $id, name: $id, kind: $kind, parent: $parent) { position } }",
            json!({ "id": id, "kind": kind, "parent": parent }),
        )
        .await;
    }
    // The staff come from HR's spreadsheet, categories in Chinese.
    let dir = tempfile::tempdir().unwrap();
    let people = dir.path().join("people.csv");
    std::fs::write(
        &people,
        "\u{feff}工号,姓名,单位,类别,出生日期,入职日期\r\n\
         A0001,管理员,uni,管理,1970-01-01,2000-09-01\r\n\
         C0001,陈主席,cs,教师,1968-05-04,2000-09-01\r\n\
         T0001,王一,cs-se,教师,1980-03-04,2005-09-01\r\n\
         T0002,王二,cs-se,教师,1981-03-04,2005-09-01\r\n\
         T0003,王三,cs,教师,1982-03-04,2005-09-01\r\n\
         T0004,王四,cs-se,教师,1985-03-04,2008-09-15\r\n",
    )
    .unwrap();
    let args = [
        "import",
        "people",
        &people.display().to_string(),
        "--database-url",
        &url,
    ];
    let (code, out, err) = cli(args.iter().map(|a| a.to_string()).collect()).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("6 rows applied"), "{out}");
    let admin = token(&url, "administrator", "A0001").await;
    let args = [
        "token",
        "create",
        "--role",
        "union-chair",
        "--unit",
        "cs",
        "--person",
        "C0001",
        "--database-url",
        &url,
    ];
    let (code, chair, err) = cli(args.iter().map(|a| a.to_string()).collect()).await;
    assert_eq!(code, 0, "{err}");
    let chair = chair.trim().to_owned();
    for (who, uid) in CARDS {
        ok(
            addr,
            &admin,
            "mutation($no: String!, $uid: String!) { issueCard(staffNo: $no, uid: $uid) { position } }",
            json!({ "no": who, "uid": uid }),
        )
        .await;
    }
    let session = |id: &str, day: u32| {
        json!({ "id": id, "kind": "centralized_study", "title": format!("集中学习 9月{day}日"),
               "organiser": "cs", "venue": "hall-a", "audienceUnits": ["cs"],
               "startsAt": at(2008, 9, day, 14, 30), "endsAt": at(2008, 9, day, 16, 0) })
    };
    let setup = ok(
        addr,
        &admin,
        "mutation($a: ScheduleSessionInput!, $b: ScheduleSessionInput!, $task: UUID!) {
           g: grantRole(staffNo: \"C0001\", role: union_chair, unit: \"cs\") { position }
           r: adoptScoringRules(input: { version: 1, effectiveFrom: \"2008-01-01\", basePoints: 100,
             perAbsence: 5, perLate: 2, perMissedTask: 3, perLateReport: 10, reportDueDay: 5,
             awardBonus: [{ level: city, points: 6 }], unitPerMemberAbsence: 2,
             unitPerMemberMissedTask: 1, perMissingReport: 10,
             unitAwardBonus: [{ level: city, points: 8 }] }) { position }
           a: scheduleSession(input: $a) { position }
           b: scheduleSession(input: $b) { position }
           t: assignStudyTask(input: { id: $task, title: \"教师法\", topic: political_theory,
             audienceUnits: [\"cs\"], assignedOn: \"2008-08-28\", due: \"2008-09-30\" }) { task { id } }
           c1: defineAwardCategory(id: \"good-teacher\", title: \"优秀教师\", level: city,
             kind: individual, criteria: \"师德高尚\") { position }
           c2: defineAwardCategory(id: \"advanced-unit\", title: \"先进集体\", level: city,
             kind: collective, criteria: \"学习型组织\") { position }
           k: registerKiosk(id: \"hall-a-1\", venue: \"hall-a\") { code }
         }",
        json!({ "a": session(SESSION_A, 2), "b": session(SESSION_B, 16), "task": TASK }),
    )
    .await;
    // Hall A's kiosk runs the kiosk program; a second one (hall-a-2) is
    // offline from the start and syncs late.
    let data = dir.path().join("kiosk");
    enrol_as(
        &data,
        addr,
        "hall-a-1",
        setup["k"]["code"].as_str().unwrap(),
    )
    .await;
    let hall2 = enrolled(addr, &admin, "hall-a-2").await;
    let tap = |who: &'static str| {
        let data = data.clone();
        let dir = dir.path().to_owned();
        async move {
            let script = dir.join(format!("{who}.txt"));
            std::fs::write(&script, format!("tap {}\n", card(who))).unwrap();
            let reader = format!("simulate:{}", script.display());
            let (code, out, err) = kiosk(
                &data,
                &["run", "--reader", &reader, "--headless", "--until-synced"],
            )
            .await;
            assert_eq!(code, 0, "{out}{err}");
        }
    };

    // Session A, Tuesday 2 September, 14:30-16:00 (check-in from 14:00,
    // on time until 14:40): T0001 taps at 14:35 (present), T0002 at 14:50
    // (late); C0001 taps at 14:38 on hall-a-2, which is offline; T0003 does
    // not come. T0004 is not hired yet: not expected.
    clock.set(at(2008, 9, 2, 14, 35));
    tap("T0001").await;
    clock.set(at(2008, 9, 2, 14, 50));
    tap("T0002").await;
    clock.set(at(2008, 9, 2, 16, 30));
    let closed = ok(
        addr,
        &chair,
        "mutation($id: UUID!) { closeSession(id: $id) { session {
           present late absent kiosksBehind { kiosk backlog lastHeard } } } }",
        json!({ "id": SESSION_A }),
    )
    .await;
    assert_eq!(
        closed["closeSession"]["session"],
        json!({ "present": 1, "late": 1, "absent": 2, "kiosksBehind": [
            { "kiosk": "hall-a-2", "backlog": 0, "lastHeard": null }
        ] }),
        "C0001 and T0003 absent at the close; hall-a-2 never heard from"
    );
    // 16:40: hall-a-2's tap, read at 14:38, arrives: C0001 was present.
    clock.set(at(2008, 9, 2, 16, 40));
    let answer = hall2
        .post_taps(&[hall2.tap_ago(card("C0001"), 1, Duration::minutes(122))])
        .await;
    assert_eq!(outcomes(&answer), [Some(Outcome::Present)]);

    // 3 September: cs's August report, due by 5 September: in time.
    clock.set(at(2008, 9, 3, 10, 0));
    ok(
        addr,
        &chair,
        "mutation { submitMonthlyReport(unit: \"cs\", year: 2008, month: 8, narrative: \"八月\") { position } }",
        json!({}),
    )
    .await;
    // 10 September, Teachers' Day: T0003 moves to the office; C0001 and the
    // department cs-se are honoured at city level.
    clock.set(at(2008, 9, 10, 10, 0));
    ok(
        addr,
        &admin,
        "mutation {
           t: transferPerson(staffNo: \"T0003\", to: \"office\", effective: \"2008-09-10\") { position }
           n1: nominate(category: \"good-teacher\", year: 2008, nomineeStaffNo: \"C0001\", citation: \"c\") { position }
           e1: endorseNomination(category: \"good-teacher\", year: 2008, nomineeStaffNo: \"C0001\") { position }
           a1: conferAward(category: \"good-teacher\", year: 2008, nomineeStaffNo: \"C0001\",
             ceremony: \"教师节表彰大会\", on: \"2008-09-10\") { position }
           n2: nominate(category: \"advanced-unit\", year: 2008, nomineeUnit: \"cs-se\", citation: \"c\") { position }
           e2: endorseNomination(category: \"advanced-unit\", year: 2008, nomineeUnit: \"cs-se\") { position }
           a2: conferAward(category: \"advanced-unit\", year: 2008, nomineeUnit: \"cs-se\",
             ceremony: \"教师节表彰大会\", on: \"2008-09-10\") { position }
         }",
        json!({}),
    )
    .await;

    // Session B, Tuesday 16 September: T0002 asked for leave the day before
    // (approved: excused); T0001 taps at 14:35 (present); C0001 forgot his card
    // and is marked by hand at 14:45 (late); T0004, hired the day before,
    // does not come (absent). T0003 is the office's now: not expected.
    clock.set(at(2008, 9, 15, 10, 0));
    ok(
        addr,
        &chair,
        "mutation($id: UUID!) {
           r: requestLeave(id: $id, staffNo: \"T0002\", reason: \"外出培训\") { position }
           a: approveLeave(id: $id, staffNo: \"T0002\") { position } }",
        json!({ "id": SESSION_B }),
    )
    .await;
    clock.set(at(2008, 9, 16, 14, 35));
    tap("T0001").await;
    clock.set(at(2008, 9, 16, 14, 45));
    ok(
        addr,
        &admin,
        "mutation($id: UUID!) { markByHand(id: $id, staffNo: \"C0001\") { position } }",
        json!({ "id": SESSION_B }),
    )
    .await;
    clock.set(at(2008, 9, 16, 16, 30));
    ok(
        addr,
        &chair,
        "mutation($id: UUID!) { closeSession(id: $id) { position } }",
        json!({ "id": SESSION_B }),
    )
    .await;

    // The study task (due 30 September, for cs as of that day: C0001, T0001,
    // T0002, T0004): T0001 finishes on 20 September, C0001 is excused, T0002
    // finishes late on 2 October, T0004 never; closed on 8 October.
    for (day, month, mutation) in [
        (
            20,
            9,
            "completeStudyTask(id: $id, staffNo: \"T0001\", evidence: \"笔记\")",
        ),
        (
            25,
            9,
            "waiveStudyTask(id: $id, staffNo: \"C0001\", reason: \"出差\")",
        ),
        (
            2,
            10,
            "completeStudyTask(id: $id, staffNo: \"T0002\", evidence: \"笔记\")",
        ),
        (8, 10, "closeStudyTask(id: $id)"),
    ] {
        clock.set(at(2008, month, day, 10, 0));
        ok(
            addr,
            &admin,
            &format!("mutation($id: UUID!) {{ {mutation} {{ task {{ id }} }} }}"),
            json!({ "id": TASK }),
        )
        .await;
    }
    // 9 October: September's report, due the 5th: late. October's never
    // comes.
    clock.set(at(2008, 10, 9, 10, 0));
    ok(
        addr,
        &chair,
        "mutation { submitMonthlyReport(unit: \"cs\", year: 2008, month: 9, narrative: \"九月\") { position } }",
        json!({}),
    )
    .await;

    // 20 November: the figures.
    clock.set(at(2008, 11, 20, 10, 0));
    let q = |query: &'static str, vars: Value| {
        let admin = admin.clone();
        async move { ok(addr, &admin, query, vars).await }
    };
    // Session A: T0001 and C0001 present (C0001's tap replaced his absence), T0002
    // late, T0003 absent. Session B: T0001 present, C0001 late, T0002 excused, T0004
    // absent.
    let figures = "query($id: UUID!) { session(id: $id) { present late excused absent } }";
    for (id, want) in [
        (
            SESSION_A,
            json!({ "present": 2, "late": 1, "excused": 0, "absent": 1 }),
        ),
        (
            SESSION_B,
            json!({ "present": 1, "late": 1, "excused": 1, "absent": 1 }),
        ),
    ] {
        let r = q(figures, json!({ "id": id })).await;
        assert_eq!(r["session"], want, "session {id}");
    }
    // The task: one person in each state, adding up to its four people.
    let r = q(
        "query($id: UUID!) { studyTask(id: $id) { completed completedLate waived missed } }",
        json!({ "id": TASK }),
    )
    .await;
    assert_eq!(
        r["studyTask"],
        json!({ "completed": 1, "completedLate": 1, "waived": 1, "missed": 1 })
    );
    // Each person's year, line by line.
    let appraisal = "query($no: String!) { appraisal(staffNo: $no, year: 2008) {
                       total lines { rule points date } } }";
    let line = |rule: &str, points: i32, date: &str| json!({ "rule": rule, "points": points, "date": date });
    let base = line("base", 100, "2008-01-01");
    for (who, total, lines) in [
        ("A0001", 100, vec![base.clone()]),
        ("T0001", 100, vec![base.clone()]),
        // Late at A (-2); the task finished after its due date (-3).
        (
            "T0002",
            95,
            vec![
                base.clone(),
                line("late", -2, "2008-09-02"),
                line("missed_task", -3, "2008-09-30"),
            ],
        ),
        // Absent at A (-5); B was no longer his unit's.
        (
            "T0003",
            95,
            vec![base.clone(), line("absence", -5, "2008-09-02")],
        ),
        // Hired on 15 September: absent at B (-5), the task missed (-3).
        (
            "T0004",
            92,
            vec![
                base.clone(),
                line("absence", -5, "2008-09-16"),
                line("missed_task", -3, "2008-09-30"),
            ],
        ),
        // The city award (+6); late by hand at B (-2).
        (
            "C0001",
            104,
            vec![
                base.clone(),
                line("award", 6, "2008-09-10"),
                line("late", -2, "2008-09-16"),
            ],
        ),
    ] {
        let r = q(appraisal, json!({ "no": who })).await;
        assert_eq!(
            r["appraisal"],
            json!({ "total": total, "lines": lines }),
            "{who}"
        );
    }
    // September by unit, counting each unit's people on each day: cs has
    // everyone but A0001 (T0003 until 10 September, T0004 from the 15th); cs-se
    // T0001, T0002 and T0004; the office T0003 only from the 10th, after his
    // absence. Points lost: cs 2+3 (T0002) + 5 (T0003) + 5+3 (T0004) + 2 (C0001) =
    // 20; cs-se 5 + 8 = 13.
    let month = "query($unit: String!) { unitMonth(unit: $unit, year: 2008, month: 9) {
                   figures { sessionsHeld present late excused absent tasksDone } pointsLost } }";
    for (unit, want) in [
        (
            "cs",
            json!({ "figures": { "sessionsHeld": 2, "present": 3, "late": 2, "excused": 1,
                         "absent": 2, "tasksDone": 1 }, "pointsLost": 20 }),
        ),
        (
            "cs-se",
            json!({ "figures": { "sessionsHeld": 0, "present": 2, "late": 1, "excused": 1,
                            "absent": 1, "tasksDone": 1 }, "pointsLost": 13 }),
        ),
        (
            "office",
            json!({ "figures": { "sessionsHeld": 0, "present": 0, "late": 0, "excused": 0,
                             "absent": 0, "tasksDone": 0 }, "pointsLost": 0 }),
        ),
    ] {
        let r = q(month, json!({ "unit": unit })).await;
        assert_eq!(r["unitMonth"], want, "{unit}");
    }
    // The units' year so far (reports due from August, the month they were
    // set up): cs 100 - 10 (September's late) - 10 (October's missing) -
    // 2 - 2 (T0003's and T0004's absences) - 1 - 1 (T0002's and T0004's tasks) = 74;
    // cs-se 100 - 30 (August to October missing) - 2 - 1 - 1 + 8 (the city
    // collective award) = 74; the office 100 - 30 = 70.
    let unit = "query($unit: String!) { unitAppraisal(unit: $unit, year: 2008) {
                  total lines { rule points date } } }";
    let cs = q(unit, json!({ "unit": "cs" })).await;
    assert_eq!(
        cs["unitAppraisal"],
        json!({ "total": 74, "lines": [
            base,
            line("member_absence", -2, "2008-09-02"),
            line("member_absence", -2, "2008-09-16"),
            line("member_missed_task", -1, "2008-09-30"),
            line("member_missed_task", -1, "2008-09-30"),
            line("late_report", -10, "2008-10-09"),
            line("missing_report", -10, "2008-11-05"),
        ] })
    );
    for (u, total) in [("cs-se", 74), ("office", 70)] {
        let r = q(unit, json!({ "unit": u })).await;
        assert_eq!(r["unitAppraisal"]["total"], total, "{u}: {r}");
    }

    // 2 January 2009: the year closes, recording every person's and every
    // unit's total; the record equals the live totals.
    clock.set(at(2009, 1, 2, 9, 0));
    q(
        "mutation { closeAppraisalYear(year: 2008) { position } }",
        json!({}),
    )
    .await;
    let args = [
        "report",
        "year-end",
        "--year",
        "2008",
        "--database-url",
        &url,
    ];
    let (code, out, err) = cli(args.iter().map(|a| a.to_string()).collect()).await;
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            ["A0001", "管理员", "100", "100", "0"],
            ["C0001", "陈主席", "104", "104", "0"],
            ["T0001", "王一", "100", "100", "0"],
            ["T0002", "王二", "95", "95", "0"],
            ["T0003", "王三", "95", "95", "0"],
            ["T0004", "王四", "92", "92", "0"],
            // The units, closed on 2 January 2009: November's reports
            // (due 5 December) never came either: cs and cs-se 74 - 10, the
            // office 70 - 10; the university: August to November missing
            // (-40), its people's absences and tasks (-6): 54.
            ["cs", "cs", "64", "64", "0"],
            ["cs-se", "cs-se", "64", "64", "0"],
            ["office", "office", "60", "60", "0"],
            ["uni", "uni", "54", "54", "0"],
        ],
        "{out}"
    );
    // October's report, due in the closed year, can no longer be handed in:
    // that would change a recorded total.
    let late = crate::gql(
        addr,
        &chair,
        "mutation { submitMonthlyReport(unit: \"cs\", year: 2008, month: 10, narrative: \"十月\") { position } }",
        json!({}),
    )
    .await;
    assert_eq!(
        late["errors"][0]["extensions"]["code"], "CONFLICT",
        "{late}"
    );
    assert!(
        late["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("the 2008 appraisal year is closed, so submitting this report"),
        "{late}"
    );
    // cs's union chair sees cs and the department below it, no more.
    let mine = ok(
        addr,
        &chair,
        "{ yearEndRecord(year: 2008) { units { staffNo recorded live } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        mine["yearEndRecord"]["units"],
        json!([
            { "staffNo": "cs", "recorded": 64, "live": 64 },
            { "staffNo": "cs-se", "recorded": 64, "live": 64 },
        ])
    );
    server.stop().await;
}
