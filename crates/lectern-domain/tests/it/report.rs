use std::collections::BTreeMap;

use lectern_domain::*;
use uuid::Uuid;

use crate::fixtures::*;

fn held(
    n: u128,
    kind: SessionKind,
    programme: Option<&str>,
    day: (i32, u32, u32),
    attendance: &[(&str, AttendanceStatus)],
    end: Option<SessionEvent>,
) -> Vec<SessionEvent> {
    let (y, m, d) = day;
    let mut events = vec![SessionEvent::SessionScheduled(Schedule {
        id: Uuid::from_u128(n),
        kind,
        title: name("Session"),
        programme: programme.map(slug),
        organiser: slug("cs-dept"),
        venue: slug("hall-1"),
        window: TimeWindow::new(local(y, m, d, 14, 30), local(y, m, d, 17, 0)).unwrap(),
        check_in: CheckInRules::default(),
        audience: Audience::Open,
        speakers: vec![],
        series: None,
    })];
    for (who, status) in attendance {
        events.push(match status {
            AttendanceStatus::Absent => SessionEvent::AbsenceRecorded { person: staff(who) },
            s => SessionEvent::AttendanceRecorded {
                person: staff(who),
                status: *s,
                at: local(y, m, d, 14, 30),
                method: Method::Hand {
                    marker: staff("2001001"),
                },
                replaces: None,
            },
        });
    }
    events.extend(end);
    events
}

fn closed() -> Option<SessionEvent> {
    Some(SessionEvent::SessionClosed {
        at: local(2009, 1, 1, 0, 0),
        kiosks_behind: vec![],
    })
}

#[test]
fn programme_report_counts_held_sessions_and_distinct_participants() {
    use AttendanceStatus::*;
    use SessionKind::*;
    let ytnp = Some("ytnp");
    let mut corrected = held(
        3,
        DemonstrationClass,
        ytnp,
        (2007, 4, 3),
        &[("2004003", Present)],
        None,
    );
    corrected.push(SessionEvent::AttendanceCorrected {
        person: staff("2004003"),
        from: Some(Present),
        to: Absent,
        reason: "left after ten minutes".into(),
        corrector: staff("2001001"),
        dispute: None,
    });
    corrected.extend(closed());
    let sessions = vec![
        held(
            1,
            TrainingLecture,
            ytnp,
            (2006, 3, 7),
            &[("2004001", Present), ("2004002", Late)],
            closed(),
        ),
        held(
            2,
            TrainingLecture,
            ytnp,
            (2006, 5, 9),
            &[("2004001", Present)],
            closed(),
        ),
        corrected,
        held(
            4,
            TeachingCompetition,
            ytnp,
            (2007, 11, 6),
            &[("2004004", Present)],
            Some(SessionEvent::SessionCancelled {
                reason: "moved".into(),
            }),
        ),
        held(
            5,
            TrainingLecture,
            ytnp,
            (2008, 3, 4),
            &[("2004005", Present)],
            None,
        ),
        held(
            6,
            Seminar,
            Some("ethics"),
            (2007, 9, 4),
            &[("2004006", Present)],
            closed(),
        ),
    ];
    let report = programme_report(&slug("ytnp"), &Campus::default(), &sessions).unwrap();
    assert_eq!(
        report.total.sessions,
        BTreeMap::from([(TrainingLecture, 2), (DemonstrationClass, 1)])
    );
    assert_eq!(report.total.participants, 2);
    assert_eq!(report.by_year[&2006].participants, 2);
    assert_eq!(
        report.by_year[&2007].sessions,
        BTreeMap::from([(DemonstrationClass, 1)])
    );
    assert_eq!(report.by_year[&2007].participants, 0);
    assert!(
        !report.by_year.contains_key(&2008),
        "a session not yet closed is not held"
    );
}

#[test]
fn unit_month_figures() {
    use AttendanceStatus::*;
    let mut with_leave = held(
        1,
        SessionKind::CentralizedStudy,
        None,
        (2008, 9, 2),
        &[("2004001", Present), ("2004002", Late), ("2004003", Absent)],
        None,
    );
    with_leave.insert(
        1,
        SessionEvent::LeaveRequested {
            person: staff("2004004"),
            reason: "conference".into(),
            at: local(2008, 9, 1, 9, 0),
        },
    );
    with_leave.insert(
        2,
        SessionEvent::LeaveApproved {
            person: staff("2004004"),
            approver: staff("2001001"),
        },
    );
    with_leave.extend(closed());
    let sessions = vec![
        with_leave,
        held(
            2,
            SessionKind::CentralizedStudy,
            None,
            (2008, 10, 7),
            &[("2004001", Present)],
            closed(),
        ),
    ];
    let tasks = vec![vec![
        StudyEvent::StudyTaskAssigned(Assignment {
            id: Uuid::from_u128(9),
            title: name("Teachers Law"),
            topic: StudyTopic::PoliticalTheory,
            audience: Audience::Open,
            assigner: staff("2001001"),
            assigned_on: date(2008, 9, 1),
            due: date(2008, 9, 30),
        }),
        StudyEvent::StudyTaskCompleted {
            person: staff("2004001"),
            evidence: "notes".into(),
            on: date(2008, 9, 12),
        },
        StudyEvent::StudyTaskCompleted {
            person: staff("2009999"),
            evidence: "notes".into(),
            on: date(2008, 9, 12),
        },
    ]];
    // cs-dept's people: 2004001-2004004 all year, except 2004002, who
    // moved to another unit on 2 September (the session's day): his late
    // arrival and 2009999's task count elsewhere.
    let mut members = UnitPeople::default();
    for i in [1, 3, 4] {
        members.insert(staff(&format!("200400{i}")), date(2008, 1, 1), None);
    }
    members.insert(staff("2004002"), date(2008, 1, 1), Some(date(2008, 9, 2)));
    let f = unit_month(
        &slug("cs-dept"),
        &Period::month(2008, 9).unwrap(),
        &Campus::default(),
        &sessions,
        &tasks,
        &members,
    )
    .unwrap();
    assert_eq!(
        f,
        UnitMonthFigures {
            sessions_held: 1,
            present: 1,
            late: 0,
            absent: 1,
            excused: 1,
            tasks_done: 1,
        }
    );
    // (present 1 + late 0) / expected 3 = 333 per thousand.
    assert_eq!(f.attendance_permille(), Some(333));
}
