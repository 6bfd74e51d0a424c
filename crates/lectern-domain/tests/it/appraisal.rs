use std::collections::BTreeMap;

use lectern_domain::*;
use uuid::Uuid;

use crate::fixtures::*;

fn rules(version: u32, from: chrono::NaiveDate, absence: i32) -> ScoringRules {
    ScoringRules {
        version,
        effective_from: from,
        base_points: 100,
        per_absence: absence,
        per_late: 1,
        per_missed_task: 2,
        award_bonus: BTreeMap::from([(AwardLevel::Provincial, 6), (AwardLevel::University, 2)]),
        per_late_report: 5,
        report_due_day: 5,
        unit: Default::default(),
    }
}

fn at<E>(position: u64, event: E) -> Positioned<E> {
    Positioned {
        position,
        occurred_at: local(2008, 1, 1, 0, 0),
        event,
    }
}

/// A session on `year`-`month`-`day` at 14:30 with `events` after
/// scheduling, positions from `first`.
fn session(
    first: u64,
    year: i32,
    month: u32,
    day: u32,
    events: Vec<SessionEvent>,
) -> Vec<Positioned<SessionEvent>> {
    let scheduled = SessionEvent::SessionScheduled(Schedule {
        id: Uuid::from_u128(u128::from(first)),
        kind: SessionKind::CentralizedStudy,
        title: name(&format!("Study {month}-{day}")),
        programme: None,
        organiser: slug("cs-dept"),
        venue: slug("hall-3"),
        window: TimeWindow::new(
            local(year, month, day, 14, 30),
            local(year, month, day, 17, 0),
        )
        .unwrap(),
        check_in: CheckInRules::default(),
        audience: Audience::Units {
            units: vec![slug("cs-dept")],
        },
        speakers: vec![],
        series: None,
    });
    std::iter::once(scheduled)
        .chain(events)
        .enumerate()
        .map(|(i, e)| at(first + i as u64, e))
        .collect()
}

/// Two study tasks due in October: one missed by me, one I completed.
fn tasks() -> Vec<Vec<Positioned<StudyEvent>>> {
    let assigned = |task: u128| {
        StudyEvent::StudyTaskAssigned(Assignment {
            id: Uuid::from_u128(task),
            title: name("Teachers' professional ethics code"),
            topic: StudyTopic::PoliticalTheory,
            audience: Audience::Units {
                units: vec![slug("cs-dept")],
            },
            assigner: staff("2001001"),
            assigned_on: date(2008, 9, 1),
            due: date(2008, 10, 31),
        })
    };
    vec![
        vec![
            at(80, assigned(1)),
            at(
                81,
                StudyEvent::StudyTaskCompleted {
                    person: staff("2004002"),
                    evidence: "notes".into(),
                    on: date(2008, 10, 1),
                },
            ),
            at(82, StudyEvent::StudyTaskClosed { missed: vec![me()] }),
        ],
        vec![
            at(83, assigned(2)),
            at(
                84,
                StudyEvent::StudyTaskCompleted {
                    person: me(),
                    evidence: "notes".into(),
                    on: date(2008, 10, 1),
                },
            ),
            at(85, StudyEvent::StudyTaskClosed { missed: vec![] }),
        ],
    ]
}

/// An excellent-teacher award conferred on Teachers' Day 2008, and a
/// provincial one conferred and then revoked.
fn awards() -> Vec<Vec<Positioned<AwardEvent>>> {
    let category = |id: &str, level| AwardEvent::AwardCategoryDefined {
        category: slug(id),
        title: name(id),
        level,
        kind: AwardKind::Individual,
        criteria: String::new(),
        by_vote: false,
    };
    let conferred = AwardEvent::AwardConferred {
        year: 2008,
        nominee: Nominee::Person(me()),
        ceremony: name("Teachers' Day commendation conference"),
        on: date(2008, 9, 10),
    };
    vec![
        vec![
            at(92, category("excellent-teacher", AwardLevel::University)),
            at(95, conferred.clone()),
        ],
        vec![
            at(96, category("provincial-exemplar", AwardLevel::Provincial)),
            at(97, conferred),
            at(
                98,
                AwardEvent::AwardRevoked {
                    year: 2008,
                    nominee: Nominee::Person(me()),
                    reason: "plagiarism found".into(),
                },
            ),
        ],
    ]
}

fn me() -> StaffNo {
    staff("2004001")
}

#[test]
fn a_year_is_explained_line_by_line() {
    let appraisal = vec![
        at(
            1,
            AppraisalEvent::ScoringRulesAdopted {
                rules: rules(1, date(2008, 1, 1), 2),
            },
        ),
        at(
            2,
            AppraisalEvent::ScoringRulesAdopted {
                rules: rules(2, date(2008, 9, 1), 3),
            },
        ),
        at(
            90,
            AppraisalEvent::PointsAdjusted {
                person: me(),
                points: 5,
                reason: "organised the ethics month seminar".into(),
                adjuster: staff("2001001"),
                on: date(2008, 9, 20),
                dispute: None,
            },
        ),
    ];
    let late = |m, d| SessionEvent::AttendanceRecorded {
        person: me(),
        status: AttendanceStatus::Late,
        at: local(2008, m, d, 14, 50),
        method: Method::Hand {
            marker: staff("2001001"),
        },
        replaces: None,
    };
    let sessions = vec![
        // March: absent under v1 (-2).
        session(
            10,
            2008,
            3,
            4,
            vec![SessionEvent::AbsenceRecorded { person: me() }],
        ),
        // September: late under v2 (-1).
        session(20, 2008, 9, 2, vec![late(9, 2)]),
        // October: absent under v2 (-3).
        session(
            30,
            2008,
            10,
            7,
            vec![SessionEvent::AbsenceRecorded { person: me() }],
        ),
        // November: absent, then corrected to present: nothing.
        session(
            40,
            2008,
            11,
            4,
            vec![
                SessionEvent::AbsenceRecorded { person: me() },
                SessionEvent::AttendanceCorrected {
                    person: me(),
                    from: Some(AttendanceStatus::Absent),
                    to: AttendanceStatus::Present,
                    reason: "reader was down".into(),
                    corrector: staff("2001001"),
                    dispute: None,
                },
            ],
        ),
        // Cancelled: nothing. Someone else's absence: nothing.
        session(
            50,
            2008,
            11,
            11,
            vec![
                SessionEvent::AbsenceRecorded { person: me() },
                SessionEvent::SessionCancelled {
                    reason: "typhoon".into(),
                },
            ],
        ),
        session(
            60,
            2008,
            11,
            18,
            vec![SessionEvent::AbsenceRecorded {
                person: staff("2004002"),
            }],
        ),
        // 2009: outside the period.
        session(
            70,
            2009,
            1,
            6,
            vec![SessionEvent::AbsenceRecorded { person: me() }],
        ),
    ];
    let h = Histories {
        appraisal: &appraisal,
        sessions: &sessions,
        tasks: &tasks(),
        awards: &awards(),
        monthly: &[],
    };
    let year =
        appraise_person(&me(), &Period::year(2008).unwrap(), &Campus::default(), &h).unwrap();
    /// points, rule, version, date, positions
    type Row<'a> = (i32, &'a str, Option<u32>, String, Vec<u64>);
    let got: Vec<Row<'_>> = year
        .lines
        .iter()
        .map(|l| {
            (
                l.points,
                l.rule,
                l.rule_version,
                l.date.to_string(),
                l.positions.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (100, "base", Some(1), "2008-01-01".into(), vec![1]),
            (-2, "absence", Some(1), "2008-03-04".into(), vec![11]),
            (-1, "late", Some(2), "2008-09-02".into(), vec![21]),
            (2, "award", Some(2), "2008-09-10".into(), vec![95]),
            (5, "adjustment", None, "2008-09-20".into(), vec![90]),
            (-3, "absence", Some(2), "2008-10-07".into(), vec![31]),
            (
                -2,
                "missed_task",
                Some(2),
                "2008-10-31".into(),
                vec![80, 82]
            ),
        ]
    );
    assert_eq!(year.total, 99);
    assert_eq!(year.total, year.lines.iter().map(|l| l.points).sum::<i32>());

    let september = appraise_person(
        &me(),
        &Period::month(2008, 9).unwrap(),
        &Campus::default(),
        &h,
    )
    .unwrap();
    assert_eq!(september.total, 6, "{:?}", september.lines);
}

#[test]
fn rules_are_versioned_and_years_close() {
    let v1 = AppraisalEvent::ScoringRulesAdopted {
        rules: rules(1, date(2008, 1, 1), 2),
    };
    given::<RuleBook>([v1.clone()])
        .when(|b| {
            b.decide(&AppraisalCommand::AdoptRules {
                rules: rules(1, date(2008, 6, 1), 3),
            })
        })
        .then_err_containing(
            "invalid rules version \"1\": must be greater than the current version 1",
        );
    given::<RuleBook>([v1.clone()])
        .when(|b| {
            b.decide(&AppraisalCommand::AdoptRules {
                rules: rules(2, date(2007, 6, 1), 3),
            })
        })
        .then_err_containing("is before version 1's 2008-01-01");
    given::<RuleBook>([v1.clone()])
        .when(|b| {
            b.decide(&AppraisalCommand::AdoptRules {
                rules: rules(2, date(2008, 6, 1), -3),
            })
        })
        .then_err_containing("invalid absence deduction \"-3\"");
    let closed = AppraisalEvent::AppraisalPeriodClosed {
        year: 2008,
        results: BTreeMap::from([(me(), 99)]),
        units: BTreeMap::new(),
    };
    let adjust = |dispute| AppraisalCommand::AdjustPoints {
        person: me(),
        points: 3,
        reason: "late correction".into(),
        adjuster: staff("2001001"),
        on: date(2008, 12, 1),
        dispute,
    };
    given::<RuleBook>([v1.clone(), closed.clone()])
        .when(|b| b.decide(&adjust(None)))
        .then_err(DomainError::Refused(
            "2008 is closed: only an upheld dispute changes its points".into(),
        ));
    // An upheld dispute's resolution adjusts a closed year, naming itself.
    let dispute = uuid::Uuid::from_u128(7);
    given::<RuleBook>([v1, closed])
        .when(|b| b.decide(&adjust(Some(dispute))))
        .then(vec![AppraisalEvent::PointsAdjusted {
            person: me(),
            points: 3,
            reason: "late correction".into(),
            adjuster: staff("2001001"),
            on: date(2008, 12, 1),
            dispute: Some(dispute),
        }]);
}

#[test]
fn a_year_closes_only_once_it_has_ended() {
    let close = |today| AppraisalCommand::ClosePeriod {
        year: 2008,
        results: BTreeMap::from([(me(), 99)]),
        units: BTreeMap::from([(slug("cs-dept"), 95)]),
        today,
    };
    // On its last day the year is still running (the server's date decides).
    given::<RuleBook>([])
        .when(|b| b.decide(&close(date(2008, 12, 31))))
        .then_err(DomainError::Refused(
            "the 2008 appraisal year ends on 2008-12-31 and can be closed from 2009-01-01; \
             today is 2008-12-31"
                .into(),
        ));
    given::<RuleBook>([])
        .when(|b| b.decide(&close(date(2007, 6, 1))))
        .then_err_containing("today is 2007-06-01");
    given::<RuleBook>([])
        .when(|b| b.decide(&close(date(2009, 1, 1))))
        .then(vec![AppraisalEvent::AppraisalPeriodClosed {
            year: 2008,
            results: BTreeMap::from([(me(), 99)]),
            units: BTreeMap::from([(slug("cs-dept"), 95)]),
        }]);
}

#[test]
fn periods() {
    let feb = Period::month(2008, 2).unwrap();
    assert_eq!(feb.until, date(2008, 2, 29));
    assert!(
        Period::month(2008, 13)
            .unwrap_err()
            .to_string()
            .contains("\"2008-13\"")
    );
}
