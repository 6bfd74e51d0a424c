use lectern_domain::*;

use crate::fixtures::*;

#[test]
fn a_unit_is_established_under_an_active_parent() {
    given::<OrgTree>(org_history())
        .when(|s| {
            s.decide(&OrgCommand::EstablishUnit {
                unit: slug("cs-group-1"),
                name: name("Learning group 1"),
                kind: UnitKind::LearningGroup,
                parent: Some(slug("cs-dept")),
            })
        })
        .then(vec![established_named(
            "cs-group-1",
            "Learning group 1",
            UnitKind::LearningGroup,
            "cs-dept",
        )]);
}

fn established_named(unit: &str, n: &str, kind: UnitKind, parent: &str) -> OrgEvent {
    OrgEvent::UnitEstablished {
        unit: slug(unit),
        name: name(n),
        kind,
        parent: Some(slug(parent)),
    }
}

#[test]
fn tree_rules_are_enforced() {
    let establish = |unit: &str, kind, parent: Option<&str>| OrgCommand::EstablishUnit {
        unit: slug(unit),
        name: name("X"),
        kind,
        parent: parent.map(slug),
    };
    given::<OrgTree>(org_history())
        .when(|s| {
            s.decide(&establish(
                "cs-dept",
                UnitKind::Department,
                Some("school-cs"),
            ))
        })
        .then_err(DomainError::AlreadyExists {
            what: "unit",
            id: "cs-dept".into(),
        });
    given::<OrgTree>(org_history())
        .when(|s| s.decide(&establish("x", UnitKind::Department, Some("nowhere"))))
        .then_err(DomainError::NotFound {
            what: "unit",
            id: "nowhere".into(),
        });
    given::<OrgTree>(org_history())
        .when(|s| s.decide(&establish("other-u", UnitKind::University, None)))
        .then_err_containing("there is already a university, \"ustc\"");
    given::<OrgTree>(org_history())
        .when(|s| s.decide(&establish("x", UnitKind::Department, None)))
        .then_err_containing("needs a parent unit");
    given::<OrgTree>(org_history())
        .when(|s| s.decide(&establish("campus-2", UnitKind::Campus, Some("school-cs"))))
        .then_err_containing(
            "a Campus unit (\"campus-2\") cannot sit under the School unit \"school-cs\"",
        );
}

#[test]
fn moves_refuse_cycles_and_dissolution_refuses_orphans() {
    given::<OrgTree>(org_history())
        .when(|s| {
            s.decide(&OrgCommand::MoveUnit {
                unit: slug("school-cs"),
                parent: slug("cs-dept"),
            })
        })
        .then_err_containing("cannot move under \"cs-dept\", which lies within it");
    let after = given::<OrgTree>(org_history())
        .when(|s| {
            s.decide(&OrgCommand::MoveUnit {
                unit: slug("cs-dept"),
                parent: slug("ustc"),
            })
        })
        .then(vec![OrgEvent::UnitMoved {
            unit: slug("cs-dept"),
            parent: slug("ustc"),
        }]);
    assert!(after.is_within(&slug("cs-dept"), &slug("ustc")));
    assert!(!after.is_within(&slug("cs-dept"), &slug("school-cs")));

    given::<OrgTree>(org_history())
        .when(|s| {
            s.decide(&OrgCommand::DissolveUnit {
                unit: slug("school-cs"),
                reason: "merged".into(),
            })
        })
        .then_err_containing("still has the unit \"cs-dept\" under it");
    let mut history = org_history();
    history.push(OrgEvent::UnitDissolved {
        unit: slug("cs-dept"),
        reason: "merged".into(),
    });
    given::<OrgTree>(history.clone())
        .when(|s| {
            s.decide(&OrgCommand::DissolveUnit {
                unit: slug("school-cs"),
                reason: " merged ".into(),
            })
        })
        .then(vec![OrgEvent::UnitDissolved {
            unit: slug("school-cs"),
            reason: "merged".into(),
        }]);
    given::<OrgTree>(history)
        .when(|s| {
            s.decide(&OrgCommand::RenameUnit {
                unit: slug("cs-dept"),
                name: name("New"),
            })
        })
        .then_err(DomainError::Refused("unit \"cs-dept\" is dissolved".into()));
}

#[test]
fn renaming_to_the_same_name_changes_nothing() {
    given::<OrgTree>(org_history())
        .when(|s| {
            s.decide(&OrgCommand::RenameUnit {
                unit: slug("cs-dept"),
                name: name("Unit cs-dept"),
            })
        })
        .then(vec![]);
}

#[test]
fn the_fold_refuses_impossible_histories() {
    let err = OrgTree::fold(&[OrgEvent::UnitRenamed {
        unit: slug("ghost"),
        name: name("Ghost"),
    }])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "event UnitRenamed does not apply: no unit \"ghost\""
    );
}
