use lectern_domain::*;

use crate::fixtures::*;

fn register(no: &str, unit: &str) -> PersonCommand {
    PersonCommand::Register(Registration {
        staff_no: staff(no),
        name: name("王小明"),
        unit: slug(unit),
        category: StaffCategory::Teacher,
        birth_date: Some(date(1978, 5, 4)),
        hire_date: date(2004, 9, 1),
    })
}

#[test]
fn registration_checks_the_unit_and_dates() {
    let org = org();
    let person = given::<Person>([])
        .when(|p| p.decide(&register("2004001", "cs-dept"), &org))
        .then(vec![registered("2004001", "cs-dept")]);
    assert_eq!(person.age_on(date(2008, 5, 3)), Some(29));
    assert_eq!(person.age_on(date(2008, 5, 4)), Some(30));

    given::<Person>([])
        .when(|p| p.decide(&register("2004001", "nowhere"), &org))
        .then_err(DomainError::NotFound {
            what: "unit",
            id: "nowhere".into(),
        });
    given::<Person>([registered("2004001", "cs-dept")])
        .when(|p| p.decide(&register("2004001", "cs-dept"), &org))
        .then_err(DomainError::AlreadyExists {
            what: "staff member",
            id: "2004001".into(),
        });
    let child_labour = PersonCommand::Register(Registration {
        staff_no: staff("2004002"),
        name: name("李"),
        unit: slug("cs-dept"),
        category: StaffCategory::Worker,
        birth_date: Some(date(2000, 1, 1)),
        hire_date: date(2008, 1, 1),
    });
    given::<Person>([])
        .when(|p| p.decide(&child_labour, &org))
        .then_err_containing("invalid hire date \"2008-01-01\"");
}

#[test]
fn a_new_card_replaces_the_old_and_keys_follow() {
    let org = org();
    let events = vec![
        PersonEvent::CardRevoked {
            uid: card("04A1B2C3"),
            reason: RevocationReason::Replaced,
        },
        PersonEvent::CardIssued {
            uid: card("04D4E5F6"),
        },
    ];
    given::<Person>([
        registered("2004001", "cs-dept"),
        PersonEvent::CardIssued {
            uid: card("04A1B2C3"),
        },
    ])
    .when(|p| {
        p.decide(
            &PersonCommand::IssueCard {
                uid: card("04d4e5f6"),
            },
            &org,
        )
    })
    .then(events.clone());
    assert_eq!(
        Person::key_changes(&events),
        vec![
            KeyChange::Release {
                scope: CARD_UID_KEY,
                key: "04A1B2C3".into()
            },
            KeyChange::Claim {
                scope: CARD_UID_KEY,
                key: "04D4E5F6".into()
            },
        ]
    );
    assert_eq!(
        Person::key_changes(&[registered("2004001", "cs-dept")]),
        vec![KeyChange::Claim {
            scope: STAFF_NO_KEY,
            key: "2004001".into()
        }]
    );
    given::<Person>([registered("2004001", "cs-dept")])
        .when(|p| {
            p.decide(
                &PersonCommand::RevokeCard {
                    uid: card("04A1B2C3"),
                    reason: RevocationReason::Lost,
                },
                &org,
            )
        })
        .then_err_containing("card 04A1B2C3 is not the active card of staff member 2004001");
}

#[test]
fn transfers_roles_and_leaving() {
    let org = org();
    let history = vec![
        registered("2004001", "cs-dept"),
        PersonEvent::CardIssued {
            uid: card("04A1B2C3"),
        },
        PersonEvent::RoleGranted {
            role: Role::UnionChair {
                unit: slug("cs-dept"),
            },
        },
    ];
    given::<Person>(history.clone())
        .when(|p| {
            p.decide(
                &PersonCommand::Transfer {
                    to: slug("union-office"),
                    effective: date(2007, 3, 1),
                },
                &org,
            )
        })
        .then(vec![PersonEvent::PersonTransferred {
            from: slug("cs-dept"),
            to: slug("union-office"),
            effective: date(2007, 3, 1),
        }]);
    given::<Person>(history.clone())
        .when(|p| {
            p.decide(
                &PersonCommand::GrantRole {
                    role: Role::UnionChair {
                        unit: slug("cs-dept"),
                    },
                },
                &org,
            )
        })
        .then_err_containing("already has the role");
    let left = given::<Person>(history)
        .when(|p| {
            p.decide(
                &PersonCommand::Leave {
                    on: date(2008, 7, 31),
                    reason: "retired".into(),
                },
                &org,
            )
        })
        .then(vec![
            PersonEvent::CardRevoked {
                uid: card("04A1B2C3"),
                reason: RevocationReason::Left,
            },
            PersonEvent::RoleRevoked {
                role: Role::UnionChair {
                    unit: slug("cs-dept"),
                },
            },
            PersonEvent::PersonLeft {
                on: date(2008, 7, 31),
                reason: "retired".into(),
            },
        ]);
    let err = left
        .decide(
            &PersonCommand::IssueCard {
                uid: card("04FFFFFF"),
            },
            &org,
        )
        .unwrap_err();
    assert_eq!(err.to_string(), "staff member 2004001 left on 2008-07-31");
}
