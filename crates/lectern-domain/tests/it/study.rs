use lectern_domain::*;
use uuid::Uuid;

use crate::fixtures::*;
use crate::session::member;

fn assigned() -> StudyEvent {
    StudyEvent::StudyTaskAssigned(Assignment {
        id: Uuid::from_u128(1),
        title: name("Citizens' moral code outline"),
        topic: StudyTopic::PoliticalTheory,
        audience: Audience::Units {
            units: vec![slug("school-cs")],
        },
        assigner: staff("2001001"),
        assigned_on: date(2008, 9, 1),
        due: date(2008, 9, 30),
    })
}

#[test]
fn completion_needs_the_audience_and_evidence() {
    let org = org();
    given::<StudyTask>([assigned()])
        .when(|t| {
            t.decide(
                &StudyCommand::Complete {
                    person: member("2004001"),
                    evidence: " reading notes, 3 pages ".into(),
                    on: date(2008, 9, 20),
                },
                &org,
            )
        })
        .then(vec![StudyEvent::StudyTaskCompleted {
            person: staff("2004001"),
            evidence: "reading notes, 3 pages".into(),
            on: date(2008, 9, 20),
        }]);
    let outsider = Attendee {
        unit: slug("union-office"),
        ..member("2004009")
    };
    given::<StudyTask>([assigned()])
        .when(|t| {
            t.decide(
                &StudyCommand::Complete {
                    person: outsider,
                    evidence: "notes".into(),
                    on: date(2008, 9, 20),
                },
                &org,
            )
        })
        .then_err_containing("is not assigned to 2004009");
}

#[test]
fn closing_names_who_missed_it() {
    let org = org();
    let history = vec![
        assigned(),
        StudyEvent::StudyTaskCompleted {
            person: staff("2004001"),
            evidence: "notes".into(),
            on: date(2008, 9, 20),
        },
        // Completed after the due date: unfinished at the deadline.
        StudyEvent::StudyTaskCompleted {
            person: staff("2004002"),
            evidence: "notes".into(),
            on: date(2008, 10, 2),
        },
        StudyEvent::StudyTaskWaived {
            person: staff("2004003"),
            reason: "on sick leave".into(),
            waiver: staff("2001001"),
        },
    ];
    let audience: Vec<StaffNo> = (1..=4).map(|i| staff(&format!("200400{i}"))).collect();
    given::<StudyTask>(history.clone())
        .when(|t| {
            t.decide(
                &StudyCommand::Close {
                    today: date(2008, 9, 29),
                    audience: audience.clone(),
                },
                &org,
            )
        })
        .then_err_containing("is due on 2008-09-30; it cannot close on 2008-09-29");
    let closed = given::<StudyTask>(history)
        .when(|t| {
            t.decide(
                &StudyCommand::Close {
                    today: date(2008, 10, 5),
                    audience,
                },
                &org,
            )
        })
        .then(vec![StudyEvent::StudyTaskClosed {
            missed: vec![staff("2004002"), staff("2004004")],
        }]);
    // Four people, one state each: 2004001 in time (20 Sep), 2004002 late
    // (2 Oct, after the 30 Sep due date: unfinished at the deadline, so
    // named by the close and deducted, but counted as completed late),
    // 2004003 waived, 2004004 never.
    assert_eq!(
        closed.counts(),
        TaskCounts {
            completed: 1,
            completed_late: 1,
            waived: 1,
            missed: 1
        }
    );
    assert_eq!(
        closed.state_of(&staff("2004002")),
        Some(TaskState::CompletedLate)
    );
    assert_eq!(closed.state_of(&staff("2004004")), Some(TaskState::Missed));
    let err = closed
        .decide(
            &StudyCommand::Waive {
                person: staff("2004004"),
                reason: "late".into(),
                waiver: staff("2001001"),
            },
            &org,
        )
        .unwrap_err();
    assert!(err.to_string().contains("is closed"), "{err}");
}

#[test]
fn a_person_excused_from_a_task_does_not_also_complete_it() {
    given::<StudyTask>(vec![
        assigned(),
        StudyEvent::StudyTaskWaived {
            person: staff("2004003"),
            reason: "on sick leave".into(),
            waiver: staff("2001001"),
        },
    ])
    .when(|t| {
        t.decide(
            &StudyCommand::Complete {
                person: Attendee {
                    staff_no: staff("2004003"),
                    unit: slug("cs-dept"),
                    programmes: vec![],
                },
                evidence: "notes".into(),
                on: date(2008, 9, 20),
            },
            &org(),
        )
    })
    .then_err_containing("2004003 was excused from study task");
}

proptest::proptest! {
    /// The counts are the people named in each `state_of`, whatever mix of
    /// completions (in time or late), waivers (of completers too) and
    /// misses (named twice, or after a completion) a task holds.
    #[test]
    fn counts_are_each_persons_state(
        completed in proptest::collection::btree_map(0u8..40, 1u32..=60, 0..30),
        waived in proptest::collection::btree_set(0u8..40, 0..20),
        missed in proptest::option::of(proptest::collection::vec(0u8..40, 0..40)),
    ) {
        let no = |i: &u8| staff(&format!("20040{i:02}"));
        let day = |d: &u32| date(2008, 9, 1) + chrono::Days::new(u64::from(*d));
        let StudyEvent::StudyTaskAssigned(assignment) = assigned() else {
            unreachable!("assigned() assigns")
        };
        let task = StudyTask {
            assignment: Some(assignment),
            completed: completed.iter().map(|(p, d)| (no(p), day(d))).collect(),
            waived: waived.iter().map(no).collect(),
            missed: missed.map(|m| m.iter().map(no).collect()),
        };
        let mut expected = TaskCounts::default();
        for p in (0u8..40).map(|i| no(&i)) {
            match task.state_of(&p) {
                Some(TaskState::Completed) => expected.completed += 1,
                Some(TaskState::CompletedLate) => expected.completed_late += 1,
                Some(TaskState::Waived) => expected.waived += 1,
                Some(TaskState::Missed) => expected.missed += 1,
                None => {}
            }
        }
        proptest::prop_assert_eq!(task.counts(), expected);
    }
}
