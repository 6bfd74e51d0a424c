use lectern_domain::*;
use uuid::Uuid;

use crate::fixtures::*;

fn file(filed_on: chrono::NaiveDate, deadline: Option<chrono::NaiveDate>) -> DisputeCommand {
    DisputeCommand::File {
        dispute: Uuid::from_u128(1),
        person: staff("2004001"),
        year: 2008,
        positions: vec![31],
        claim: "I was at the study session; the reader was down".into(),
        filed_on,
        deadline,
        lines: vec![1, 31],
    }
}

fn auditor(no: &str, role: bool) -> Box<Person> {
    let mut events = vec![registered(no, "union-office")];
    if role {
        events.push(PersonEvent::RoleGranted {
            role: Role::Auditor,
        });
    }
    Box::new(Person::fold(&events).unwrap())
}

#[test]
fn the_filing_deadline_counts_working_days() {
    // Wednesday 31 December 2008 + 10 working days = Wednesday 14 January 2009.
    assert_eq!(filing_deadline(date(2008, 12, 31), 10), date(2009, 1, 14));
    let deadline = Some(date(2009, 1, 14));
    given::<Dispute>([])
        .when(|d| d.decide(&file(date(2009, 1, 15), deadline)))
        .then_err(DomainError::Refused(
            "disputes about 2008 had to be filed by 2009-01-14; it is 2009-01-15".into(),
        ));
    given::<Dispute>([])
        .when(|d| d.decide(&file(date(2009, 1, 14), deadline)))
        .then(vec![DisputeEvent::DisputeFiled {
            dispute: Uuid::from_u128(1),
            person: staff("2004001"),
            year: 2008,
            positions: vec![31],
            claim: "I was at the study session; the reader was down".into(),
            filed_on: date(2009, 1, 14),
        }]);
}

#[test]
fn an_auditor_resolves_it() {
    let filed = Dispute::fold(&[])
        .unwrap()
        .decide(&file(date(2009, 1, 5), None))
        .unwrap();
    given::<Dispute>(filed.clone())
        .when(|d| {
            d.decide(&DisputeCommand::Assign {
                auditor: auditor("2001009", false),
            })
        })
        .then_err(DomainError::Refused("2001009 is not an auditor".into()));
    given::<Dispute>(filed.clone())
        .when(|d| {
            d.decide(&DisputeCommand::Assign {
                auditor: auditor("2004001", true),
            })
        })
        .then_err_containing("cannot audit their own dispute");
    let mut assigned = filed;
    assigned.push(DisputeEvent::DisputeAssigned {
        auditor: staff("2001009"),
    });
    given::<Dispute>(assigned.clone())
        .when(|d| {
            d.decide(&DisputeCommand::Resolve {
                outcome: Outcome::Upheld,
                reasoning: "the kiosk log shows the reader offline".into(),
                correcting_events: vec![],
                total_before: 97,
                total_after: 100,
            })
        })
        .then_err_containing("names the events that correct the record");
    given::<Dispute>(assigned)
        .when(|d| {
            d.decide(&DisputeCommand::Resolve {
                outcome: Outcome::Upheld,
                reasoning: "the kiosk log shows the reader offline".into(),
                correcting_events: vec![Uuid::from_u128(77)],
                total_before: 97,
                total_after: 100,
            })
        })
        .then(vec![DisputeEvent::DisputeResolved {
            outcome: Outcome::Upheld,
            reasoning: "the kiosk log shows the reader offline".into(),
            correcting_events: vec![Uuid::from_u128(77)],
            total_before: 97,
            total_after: 100,
        }]);
}

#[test]
fn only_the_filers_own_lines_can_be_disputed() {
    // 2004001's 2008 lines cite positions 1 and 31; 32 is someone else's.
    let mut command = file(date(2009, 1, 12), Some(date(2009, 1, 23)));
    if let DisputeCommand::File { positions, .. } = &mut command {
        *positions = vec![31, 32];
    }
    given::<Dispute>([])
        .when(|d| d.decide(&command))
        .then_err_containing(
            "invalid disputed position \"32\": is not behind a line of 2004001's 2008 appraisal",
        );
}
