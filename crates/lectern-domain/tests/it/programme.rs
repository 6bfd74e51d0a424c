use std::collections::BTreeMap;

use lectern_domain::*;

use crate::fixtures::*;

fn launched() -> ProgrammeEvent {
    ProgrammeEvent::ProgrammeLaunched(Launch {
        eligibility: Some(Eligibility::young_teachers()),
        ..launch()
    })
}

fn launch() -> Launch {
    Launch {
        id: slug("ytnp"),
        kind: ProgrammeKind::YoungTeacherNavigation,
        title: name("青年教师教育教学导航计划"),
        launched_on: date(2005, 9, 1),
        eligibility: None,
    }
}

/// A teacher born on `born`, hired on `hired`.
fn teacher(
    no: &str,
    born: chrono::NaiveDate,
    hired: chrono::NaiveDate,
    category: StaffCategory,
) -> Box<Person> {
    Box::new(
        Person::fold(&[PersonEvent::PersonRegistered(Registration {
            staff_no: staff(no),
            name: name("张"),
            unit: slug("cs-dept"),
            category,
            birth_date: Some(born),
            hire_date: hired,
        })])
        .unwrap(),
    )
}

#[test]
fn launching_the_navigation_programme_sets_the_default_rule() {
    given::<Programme>([])
        .when(|p| p.decide(&ProgrammeCommand::Launch(launch())))
        .then(vec![launched()]);
}

#[test]
fn one_annual_plan_per_year() {
    let targets = BTreeMap::from([
        (SessionKind::TrainingLecture, 6),
        (SessionKind::DemonstrationClass, 3),
        (SessionKind::TeachingCompetition, 1),
    ]);
    let plan = ProgrammeCommand::IssuePlan {
        year: 2006,
        targets: targets.clone(),
    };
    given::<Programme>([launched()])
        .when(|p| p.decide(&plan))
        .then(vec![ProgrammeEvent::AnnualPlanIssued {
            year: 2006,
            targets,
        }]);
    given::<Programme>([launched()])
        .when(|p| {
            p.decide(&ProgrammeCommand::IssuePlan {
                year: 2004,
                targets: BTreeMap::new(),
            })
        })
        .then_err_containing(
            "invalid plan year \"2004\": is before the programme's launch in 2005",
        );
    given::<Programme>([])
        .when(|p| p.decide(&plan))
        .then_err(DomainError::Refused(
            "the programme has not been launched".into(),
        ));
}

#[test]
fn eligibility_is_age_or_recent_hire() {
    let on = date(2007, 3, 1);
    // 30 years old: eligible by age.
    given::<Programme>([launched()])
        .when(|p| {
            p.decide(&ProgrammeCommand::Enrol {
                person: teacher(
                    "2001001",
                    date(1977, 1, 1),
                    date(2001, 9, 1),
                    StaffCategory::Teacher,
                ),
                on,
            })
        })
        .then(vec![ProgrammeEvent::ParticipantEnrolled {
            person: staff("2001001"),
            on,
        }]);
    // 45, but hired in 2005: eligible as a recent hire.
    given::<Programme>([launched()])
        .when(|p| {
            p.decide(&ProgrammeCommand::Enrol {
                person: teacher(
                    "2005002",
                    date(1962, 1, 1),
                    date(2005, 9, 1),
                    StaffCategory::Teacher,
                ),
                on,
            })
        })
        .then(vec![ProgrammeEvent::ParticipantEnrolled {
            person: staff("2005002"),
            on,
        }]);
    // 45 and hired in 1990: not eligible, and told why.
    given::<Programme>([launched()])
        .when(|p| {
            p.decide(&ProgrammeCommand::Enrol {
                person: teacher("1990003", date(1962, 1, 1), date(1990, 9, 1), StaffCategory::Teacher),
                on,
            })
        })
        .then_err(DomainError::Refused(
            "not eligible: 1990003 is 45 on 2007-03-01 (over 35) and was hired on 1990-09-01 (over 3 years before)"
                .into(),
        ));
    // Not a teacher.
    given::<Programme>([launched()])
        .when(|p| {
            p.decide(&ProgrammeCommand::Enrol {
                person: teacher(
                    "2006004",
                    date(1980, 1, 1),
                    date(2006, 9, 1),
                    StaffCategory::Worker,
                ),
                on,
            })
        })
        .then_err_containing("2006004 is Worker staff");
    // Twice.
    given::<Programme>([
        launched(),
        ProgrammeEvent::ParticipantEnrolled {
            person: staff("2001001"),
            on,
        },
    ])
    .when(|p| {
        p.decide(&ProgrammeCommand::Enrol {
            person: teacher(
                "2001001",
                date(1977, 1, 1),
                date(2001, 9, 1),
                StaffCategory::Teacher,
            ),
            on,
        })
    })
    .then_err_containing("2001001 is already enrolled in \"ytnp\"");
}

#[test]
fn programme_event_shape() {
    assert_eq!(
        serde_json::to_string(&launched()).unwrap(),
        r#"{"type":"ProgrammeLaunched","programme":"ytnp","kind":"young_teacher_navigation","title":"青年教师教育教学导航计划","launched_on":"2005-09-01","eligibility":{"categories":["teacher"],"max_age":35,"hired_within_years":3}}"#
    );
}
