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

#[test]
fn a_late_report_costs_the_unit() {
    let rules = ScoringRules {
        version: 1,
        effective_from: date(2008, 1, 1),
        base_points: 100,
        per_absence: 2,
        per_late: 1,
        per_missed_task: 2,
        award_bonus: BTreeMap::new(),
        per_late_report: 5,
        report_due_day: 5,
    };
    let appraisal = vec![Positioned {
        position: 1,
        occurred_at: local(2008, 1, 1, 0, 0),
        event: AppraisalEvent::ScoringRulesAdopted { rules },
    }];
    let report = |position, month, submitted_on| Positioned {
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
    };
    let monthly = vec![
        vec![report(10, 8, date(2008, 9, 5))],
        vec![report(20, 9, date(2008, 10, 9))],
    ];
    let h = Histories {
        appraisal: &appraisal,
        monthly: &monthly,
        ..Histories::default()
    };
    let unit = appraise_unit(&slug("cs-dept"), &Period::year(2008).unwrap(), &h).unwrap();
    assert_eq!(unit.total, 95);
    assert_eq!(unit.lines[1].rule, "late_report");
    assert_eq!(unit.lines[1].positions, vec![20]);
    assert_eq!(
        unit.lines[1].subject,
        "monthly report for 2008-09, due 2008-10-05"
    );
    let other = appraise_unit(&slug("union-office"), &Period::year(2008).unwrap(), &h).unwrap();
    assert_eq!(other.total, 100);
}
