use lectern_domain::*;

use crate::fixtures::*;

fn good_teacher() -> AwardEvent {
    AwardEvent::AwardCategoryDefined {
        category: slug("good-teacher-in-my-mind"),
        title: name("我心目中的好老师"),
        level: AwardLevel::University,
        kind: AwardKind::Individual,
        criteria: "chosen by a vote of staff and students".into(),
        by_vote: true,
    }
}

fn nominated(no: &str) -> AwardEvent {
    AwardEvent::NominationSubmitted {
        year: 2008,
        nominee: Nominee::Person(staff(no)),
        nominator: staff("2001001"),
        citation: "thirty years at the lectern".into(),
    }
}

fn vote(voter: &str, nominee: &str) -> AwardCommand {
    AwardCommand::Vote {
        year: 2008,
        voter: staff(voter),
        nominee: Nominee::Person(staff(nominee)),
    }
}

#[test]
fn one_vote_per_voter_per_year_and_none_for_oneself() {
    let org = org();
    let history = vec![good_teacher(), nominated("2004001"), nominated("2004002")];
    let voted = given::<Award>(history.clone())
        .when(|a| a.decide(&vote("2004003", "2004001"), &org))
        .then(vec![AwardEvent::VoteCast {
            year: 2008,
            voter: staff("2004003"),
            nominee: Nominee::Person(staff("2004001")),
        }]);
    assert_eq!(
        voted.nominations[&(2008, Nominee::Person(staff("2004001")))].votes,
        1
    );
    let err = voted.decide(&vote("2004003", "2004002"), &org).unwrap_err();
    assert_eq!(
        err.to_string(),
        "2004003 has already voted in \"good-teacher-in-my-mind\" for 2008"
    );
    given::<Award>(history.clone())
        .when(|a| a.decide(&vote("2004001", "2004001"), &org))
        .then_err(DomainError::Refused(
            "2004001 cannot vote for themselves".into(),
        ));
    given::<Award>(history)
        .when(|a| a.decide(&vote("2004003", "2004009"), &org))
        .then_err_containing("staff member 2004009 is not nominated for 2008");
}

#[test]
fn conferment_needs_endorsement_and_collectives_go_to_units() {
    let org = org();
    let collective = AwardEvent::AwardCategoryDefined {
        category: slug("special-contribution"),
        title: name("Collective special-contribution award"),
        level: AwardLevel::University,
        kind: AwardKind::Collective,
        criteria: String::new(),
        by_vote: false,
    };
    given::<Award>([collective.clone()])
        .when(|a| {
            a.decide(
                &AwardCommand::Nominate {
                    year: 2008,
                    nominee: Nominee::Person(staff("2004001")),
                    nominator: staff("2001001"),
                    citation: String::new(),
                },
                &org,
            )
        })
        .then_err_containing("is a Collective award; staff member 2004001 cannot be nominated");
    let unit = Nominee::Unit(slug("cs-dept"));
    let confer = AwardCommand::Confer {
        year: 2008,
        nominee: unit.clone(),
        ceremony: name("Teachers' Day commendation conference"),
        on: date(2008, 9, 10),
    };
    let nominated = vec![
        collective,
        AwardEvent::NominationSubmitted {
            year: 2008,
            nominee: unit.clone(),
            nominator: staff("2001001"),
            citation: "weekly study kept every Tuesday".into(),
        },
    ];
    given::<Award>(nominated.clone())
        .when(|a| a.decide(&confer, &org))
        .then_err_containing("the nomination of unit \"cs-dept\" for 2008 is not endorsed");
    let mut endorsed = nominated;
    endorsed.push(AwardEvent::NominationEndorsed {
        year: 2008,
        nominee: unit.clone(),
        endorser: staff("2001002"),
    });
    let holder = given::<Award>(endorsed)
        .when(|a| a.decide(&confer, &org))
        .then(vec![AwardEvent::AwardConferred {
            year: 2008,
            nominee: unit.clone(),
            ceremony: name("Teachers' Day commendation conference"),
            on: date(2008, 9, 10),
        }]);
    let featured = holder
        .decide(
            &AwardCommand::Feature {
                year: 2008,
                nominee: unit,
                channel: Channel::Newspaper,
                story: "A department that studies together".into(),
                on: date(2008, 9, 15),
            },
            &org,
        )
        .unwrap();
    assert!(matches!(
        &featured[..],
        [AwardEvent::ExemplarFeatured {
            channel: Channel::Newspaper,
            ..
        }]
    ));
}
