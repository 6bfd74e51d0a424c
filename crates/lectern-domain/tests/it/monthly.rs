use std::collections::BTreeMap;

use lectern_domain::*;

use crate::fixtures::*;

fn chair_of(unit: &str) -> Box<Person> {
    Box::new(
        Person::fold(&[
            registered("2001001", unit),
            PersonEvent::RoleGranted {
                role: Role::UnionChair { unit: slug(unit) },
            },
        ])
        .unwrap(),
    )
}

fn submit(chair: Box<Person>, on: chrono::NaiveDate) -> MonthlyCommand {
    MonthlyCommand::SubmitReport {
        unit: slug("cs-dept"),
        year: 2008,
        month: 9,
        chair,
        narrative: "Four Tuesday sessions; ethics month seminar held.".into(),
        figures: UnitMonthFigures {
            sessions_held: 4,
            present: 70,
            late: 4,
            absent: 2,
            excused: 4,
            tasks_done: 18,
        },
        submitted_on: on,
    }
}

#[test]
fn only_the_units_chair_reports_and_only_after_the_month() {
    given::<Monthly>([])
        .when(|m| m.decide(&submit(chair_of("union-office"), date(2008, 10, 3))))
        .then_err_containing("2001001 may not act as union chair");
    given::<Monthly>([])
        .when(|m| m.decide(&submit(chair_of("cs-dept"), date(2008, 9, 30))))
        .then_err_containing("can be submitted after the month ends on 2008-09-30");
    let submitted = given::<Monthly>([])
        .when(|m| m.decide(&submit(chair_of("cs-dept"), date(2008, 10, 3))))
        .then(vec![MonthlyEvent::MonthlyReportSubmitted {
            unit: slug("cs-dept"),
            year: 2008,
            month: 9,
            chair: staff("2001001"),
            narrative: "Four Tuesday sessions; ethics month seminar held.".into(),
            figures: UnitMonthFigures {
                sessions_held: 4,
                present: 70,
                late: 4,
                absent: 2,
                excused: 4,
                tasks_done: 18,
            },
            submitted_on: date(2008, 10, 3),
        }]);
    let err = submitted
        .decide(&submit(chair_of("cs-dept"), date(2008, 10, 4)))
        .unwrap_err();
    assert_eq!(err.code(), "CONFLICT");
}

#[test]
fn the_leadership_meets_monthly() {
    let leader = Box::new(
        Person::fold(&[
            registered("1990001", "ustc"),
            PersonEvent::RoleGranted {
                role: Role::LeadershipLeader,
            },
        ])
        .unwrap(),
    );
    let meeting = |on| MonthlyCommand::HoldMeeting {
        year: 2008,
        month: 9,
        on,
        chair: leader.clone(),
        attendees: vec![staff("2001001")],
        minutes: "deployed the ethics month".into(),
    };
    given::<Monthly>([])
        .when(|m| m.decide(&meeting(date(2008, 10, 1))))
        .then_err_containing("invalid meeting date \"2008-10-01\": is not in 2008-09");
    let held = given::<Monthly>([])
        .when(|m| m.decide(&meeting(date(2008, 9, 3))))
        .then(vec![MonthlyEvent::MonthlyMeetingHeld {
            year: 2008,
            month: 9,
            on: date(2008, 9, 3),
            chair: staff("1990001"),
            attendees: vec![staff("2001001")],
            minutes: "deployed the ethics month".into(),
        }]);
    assert!(held.decide(&meeting(date(2008, 9, 24))).is_err());
}

/// Scoring rules v1 from 1 January 2008 (report due on the 5th, 5 points a
/// late report), with `unit`'s rules, as the appraisal stream holds them.
fn rules_v1(unit: UnitRules) -> Vec<Positioned<AppraisalEvent>> {
    let rules = ScoringRules {
        version: 1,
        effective_from: date(2008, 1, 1),
        base_points: 100,
        per_absence: 5,
        per_late: 1,
        per_missed_task: 2,
        award_bonus: BTreeMap::new(),
        per_late_report: 5,
        report_due_day: 5,
        unit,
    };
    vec![Positioned {
        position: 1,
        occurred_at: local(2008, 1, 1, 0, 0),
        event: AppraisalEvent::ScoringRulesAdopted { rules },
    }]
}

/// cs-dept's report for a month of 2008, at `position`, submitted on a day.
fn report(position: u64, month: u32, submitted_on: chrono::NaiveDate) -> Positioned<MonthlyEvent> {
    Positioned {
        position,
        occurred_at: local(2008, 1, 1, 0, 0),
        event: MonthlyEvent::MonthlyReportSubmitted {
            unit: slug("cs-dept"),
            year: 2008,
            month,
            chair: staff("2001001"),
            narrative: "n".into(),
            figures: UnitMonthFigures::default(),
            submitted_on,
        },
    }
}

#[test]
fn a_late_report_costs_the_unit() {
    let appraisal = rules_v1(UnitRules::default());
    let monthly = vec![
        vec![report(10, 8, date(2008, 9, 5))],
        vec![report(20, 9, date(2008, 10, 9))],
    ];
    let h = Histories {
        appraisal: &appraisal,
        monthly: &monthly,
        ..Histories::default()
    };
    let people = UnitPeople::default();
    let facts = UnitFacts {
        today: date(2009, 1, 10),
        established: date(2008, 1, 1),
        people: &people,
        members: &[],
    };
    // Under rules without unit deductions, only the late report counts.
    let unit = appraise_unit(&slug("cs-dept"), &Period::year(2008).unwrap(), &h, &facts).unwrap();
    assert_eq!(unit.total, 95);
    assert_eq!(unit.lines[1].rule, "late_report");
    assert_eq!(unit.lines[1].positions, vec![20]);
    assert_eq!(
        unit.lines[1].subject,
        "monthly report for 2008-09, due 2008-10-05"
    );
    let other = appraise_unit(
        &slug("union-office"),
        &Period::year(2008).unwrap(),
        &h,
        &facts,
    )
    .unwrap();
    assert_eq!(other.total, 100);
}

/// The seed: a unit (科室) loses points when its people miss study or leave
/// tasks unfinished and when its monthly report is late or missing; a
/// collective award adds. Worked by hand for cs-dept in 2008, established
/// on 15 June, appraised on 20 November, under rules v1 (report due on
/// the 5th; late report 5, missing report 10, each absence of its people 2,
/// each missed task 1, a city collective award 8):
/// - base 100;
/// - May's report: the month ended before the unit existed, not due;
/// - June's (3 July) and August's (1 September) in time; July's on 9 August
///   is late: -5; September's (due 5 October) and October's (due 5
///   November) never came: -10 each; November's is not due yet;
/// - 2004001 (all year): absent 2 September -2, missed the task due 30
///   September -1, late 7 October (not a unit rule) 0;
/// - 2004002 (moved away on 1 September): absent 26 August -2; absent
///   9 September (no longer its people) 0;
/// - the city collective award of 10 September: +8.
///
/// 100 - 5 - 10 - 10 - 2 - 1 - 2 + 8 = 78.
#[test]
fn a_unit_answers_for_its_people_its_reports_and_its_awards() {
    let appraisal = rules_v1(UnitRules {
        per_member_absence: 2,
        per_member_missed_task: 1,
        per_missing_report: 10,
        award_bonus: BTreeMap::from([(AwardLevel::City, 8)]),
    });
    let monthly = vec![
        vec![report(10, 6, date(2008, 7, 3))],
        vec![report(11, 7, date(2008, 8, 9))],
        vec![report(12, 8, date(2008, 9, 1))],
    ];
    let award = |position, event| Positioned {
        position,
        occurred_at: local(2008, 9, 10, 0, 0),
        event,
    };
    let awards = vec![vec![
        award(
            20,
            AwardEvent::AwardCategoryDefined {
                category: slug("advanced-unit"),
                title: name("先进集体"),
                level: AwardLevel::City,
                kind: AwardKind::Collective,
                criteria: "c".into(),
                by_vote: false,
            },
        ),
        award(
            21,
            AwardEvent::AwardConferred {
                year: 2008,
                nominee: Nominee::Unit(slug("cs-dept")),
                ceremony: name("教师节表彰大会"),
                on: date(2008, 9, 10),
            },
        ),
    ]];
    let line = |points, rule, d, position| Line {
        points,
        rule,
        rule_version: Some(1),
        date: d,
        subject: "s".into(),
        positions: vec![position],
    };
    let person = |no: &str, lines| Appraisal {
        subject: no.into(),
        total: 0,
        lines,
    };
    let members = vec![
        person(
            "2004001",
            vec![
                line(-5, "absence", date(2008, 9, 2), 30),
                line(-2, "missed_task", date(2008, 9, 30), 31),
                line(-1, "late", date(2008, 10, 7), 32),
            ],
        ),
        person(
            "2004002",
            vec![
                line(-5, "absence", date(2008, 8, 26), 33),
                line(-5, "absence", date(2008, 9, 9), 34),
            ],
        ),
    ];
    let mut people = UnitPeople::default();
    people.insert(staff("2004001"), date(2008, 1, 1), None);
    people.insert(staff("2004002"), date(2008, 1, 1), Some(date(2008, 9, 1)));
    let h = Histories {
        appraisal: &appraisal,
        monthly: &monthly,
        awards: &awards,
        ..Histories::default()
    };
    let facts = UnitFacts {
        today: date(2008, 11, 20),
        established: date(2008, 6, 15),
        people: &people,
        members: &members,
    };
    let unit = appraise_unit(&slug("cs-dept"), &Period::year(2008).unwrap(), &h, &facts).unwrap();
    let got: Vec<(i32, &str, String)> = unit
        .lines
        .iter()
        .map(|l| (l.points, l.rule, l.date.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            (100, "base", "2008-01-01".into()),
            (-5, "late_report", "2008-08-09".into()),
            (-2, "member_absence", "2008-08-26".into()),
            (-2, "member_absence", "2008-09-02".into()),
            (8, "collective_award", "2008-09-10".into()),
            (-1, "member_missed_task", "2008-09-30".into()),
            (-10, "missing_report", "2008-10-05".into()),
            (-10, "missing_report", "2008-11-05".into()),
        ]
    );
    assert_eq!(unit.total, 78);
    assert_eq!(unit.lines[2].subject, "2004002: s");
    assert_eq!(
        unit.lines[6].subject,
        "monthly report for 2008-09, due 2008-10-05, not submitted"
    );
}
