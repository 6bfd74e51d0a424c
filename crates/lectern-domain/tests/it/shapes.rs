//! The stored JSON shape of events is a contract: these pins make any change
//! to it visible in review. Change a shape only with a new schema version
//! and an upcaster.

use lectern_domain::*;
use uuid::Uuid;

use crate::fixtures::*;

fn json<E: DomainEvent>(e: &E) -> String {
    serde_json::to_string(e).unwrap()
}

fn round_trip<E: DomainEvent>(e: &E) {
    let back: E = serde_json::from_str(&json(e)).unwrap();
    assert_eq!(&back, e);
}

#[test]
fn org_events() {
    let e = established("cs-dept", UnitKind::Department, Some("school-cs"));
    assert_eq!(
        json(&e),
        r#"{"type":"UnitEstablished","unit":"cs-dept","name":"Unit cs-dept","kind":"department","parent":"school-cs"}"#
    );
    assert_eq!((e.event_type(), e.schema_version()), ("UnitEstablished", 1));
    round_trip(&e);
}

#[test]
fn person_events() {
    let e = registered("2004001", "cs-dept");
    assert_eq!(
        json(&e),
        r#"{"type":"PersonRegistered","staff_no":"2004001","name":"王小明","unit":"cs-dept","category":"teacher","birth_date":"1978-05-04","hire_date":"2004-09-01"}"#
    );
    round_trip(&e);
    let e = PersonEvent::RoleGranted {
        role: Role::UnionChair {
            unit: slug("cs-dept"),
        },
    };
    assert_eq!(
        json(&e),
        r#"{"type":"RoleGranted","role":{"role":"union_chair","unit":"cs-dept"}}"#
    );
    round_trip(&e);
}

#[test]
fn session_events() {
    let e = crate::session::scheduled();
    assert_eq!(
        json(&e),
        r#"{"type":"SessionScheduled","session":"00000000-0000-0000-0000-000000005e55","kind":"centralized_study","title":"Weekly study","programme":null,"organiser":"cs-dept","venue":"hall-3","window":{"start":"2008-09-02T06:30:00Z","end":"2008-09-02T09:00:00Z"},"check_in":{"opens_minutes_before":30,"grace_minutes":10},"audience":{"kind":"units","units":["school-cs"]},"speakers":[],"series":null}"#
    );
    round_trip(&e);
    let e = SessionEvent::AttendanceRecorded {
        person: staff("2004001"),
        status: AttendanceStatus::Late,
        at: local(2008, 9, 2, 14, 50),
        method: Method::Card {
            tap: Uuid::from_u128(7),
            card: card("04A1B2C3"),
            kiosk: "kiosk-3".into(),
        },
        replaces: None,
    };
    assert_eq!(
        json(&e),
        r#"{"type":"AttendanceRecorded","person":"2004001","status":"late","at":"2008-09-02T06:50:00Z","method":{"by":"card","tap":"00000000-0000-0000-0000-000000000007","card":"04A1B2C3","kiosk":"kiosk-3"}}"#
    );
    round_trip(&e);
}

#[test]
fn invalid_stored_values_do_not_deserialize() {
    let bad = r#"{"type":"CardIssued","uid":"not-hex"}"#;
    let err = serde_json::from_str::<PersonEvent>(bad).unwrap_err();
    assert!(err.to_string().contains("invalid card UID"), "{err}");
}

#[test]
fn study_appraisal_award_dispute_and_monthly_events() {
    use std::collections::BTreeMap;
    let pins: Vec<(String, &str)> = vec![
        (
            json(&StudyEvent::StudyTaskClosed {
                missed: vec![staff("2004001")],
            }),
            r#"{"type":"StudyTaskClosed","missed":["2004001"]}"#,
        ),
        (
            json(&AppraisalEvent::ScoringRulesAdopted {
                rules: ScoringRules {
                    version: 2,
                    effective_from: date(2008, 9, 1),
                    base_points: 100,
                    per_absence: 3,
                    per_late: 1,
                    per_missed_task: 2,
                    award_bonus: BTreeMap::from([(AwardLevel::National, 10)]),
                    per_late_report: 5,
                    report_due_day: 5,
                    unit: Default::default(),
                },
            }),
            r#"{"type":"ScoringRulesAdopted","rules":{"version":2,"effective_from":"2008-09-01","base_points":100,"per_absence":3,"per_late":1,"per_missed_task":2,"award_bonus":{"national":10},"per_late_report":5,"report_due_day":5}}"#,
        ),
        (
            json(&AwardEvent::VoteCast {
                year: 2008,
                voter: staff("2004003"),
                nominee: Nominee::Person(staff("2004001")),
            }),
            r#"{"type":"VoteCast","year":2008,"voter":"2004003","nominee":{"kind":"person","id":"2004001"}}"#,
        ),
        (
            json(&DisputeEvent::DisputeResolved {
                outcome: Outcome::Rejected,
                reasoning: "the log shows no tap".into(),
                correcting_events: vec![],
                total_before: 97,
                total_after: 97,
            }),
            r#"{"type":"DisputeResolved","outcome":"rejected","reasoning":"the log shows no tap","correcting_events":[],"total_before":97,"total_after":97}"#,
        ),
        (
            json(&MonthlyEvent::MonthlyStudyCheckCompleted {
                unit: slug("cs-dept"),
                year: 2008,
                month: 9,
                checker: staff("2001001"),
                on: date(2008, 9, 30),
                notes: "all notebooks seen".into(),
            }),
            r#"{"type":"MonthlyStudyCheckCompleted","unit":"cs-dept","year":2008,"month":9,"checker":"2001001","on":"2008-09-30","notes":"all notebooks seen"}"#,
        ),
    ];
    let tap = KioskEvent::CardTapped {
        tap: Uuid::from_u128(5),
        venue: slug("hall-3"),
        card: card("04A1B2C3"),
        kiosk_time: local(2008, 9, 2, 14, 20),
        counter: 17,
        signature: "ab12".into(),
        decision: None,
        enrolment: None,
        clock: None,
    };
    let KioskEvent::CardTapped {
        tap: id,
        venue,
        card: uid,
        kiosk_time,
        counter,
        signature,
        ..
    } = tap.clone()
    else {
        unreachable!("a tap")
    };
    let decided = KioskEvent::CardTapped {
        tap: id,
        venue,
        card: uid,
        kiosk_time,
        counter,
        signature,
        decision: Some(TapDecision {
            at: local(2008, 9, 2, 14, 21),
            clock_offset_ms: 60_000,
            placed: Some(Placed::SyncPoint(SyncPoint {
                boot: 3,
                mono_us: 5_000_000,
                server_time: local(2008, 9, 2, 14, 20),
            })),
            person: Some(staff("2001001")),
            session: Some(Uuid::from_u128(9)),
            outcome: TapOutcome::Recorded(AttendanceStatus::Late),
        }),
        enrolment: Some(2),
        clock: Some(MonoReading {
            boot: 3,
            mono_us: 65_000_000,
        }),
    };
    let pins: Vec<(String, &str)> = pins
        .into_iter()
        .chain([
            (
                json(&tap),
                r#"{"type":"CardTapped","tap":"00000000-0000-0000-0000-000000000005","venue":"hall-3","card":"04A1B2C3","kiosk_time":"2008-09-02T06:20:00Z","counter":17,"signature":"ab12"}"#,
            ),
            (
                json(&decided),
                r#"{"type":"CardTapped","tap":"00000000-0000-0000-0000-000000000005","venue":"hall-3","card":"04A1B2C3","kiosk_time":"2008-09-02T06:20:00Z","counter":17,"signature":"ab12","decision":{"at":"2008-09-02T06:21:00Z","clock_offset_ms":60000,"placed":{"by":"sync_point","boot":3,"mono_us":5000000,"server_time":"2008-09-02T06:20:00Z"},"person":"2001001","session":"00000000-0000-0000-0000-000000000009","outcome":{"recorded":"late"}},"enrolment":2,"clock":{"boot":3,"mono_us":65000000}}"#,
            ),
        ])
        .collect();
    for (got, want) in pins {
        assert_eq!(got, want);
    }
}

#[test]
fn flag_events() {
    let tap = Uuid::from_u128(7);
    let e = FlagEvent::FlagRaised {
        rule: FlagRule::TwoVenues,
        rule_version: 1,
        people: vec![staff("2004001")],
        evidence: vec![Evidence { position: 42, tap }],
    };
    assert_eq!(
        json(&e),
        r#"{"type":"FlagRaised","rule":"two_venues","rule_version":1,"people":["2004001"],"evidence":[{"position":42,"tap":"00000000-0000-0000-0000-000000000007"}]}"#
    );
    round_trip(&e);
    let e = FlagEvent::FlagEvidenceAdded {
        evidence: vec![Evidence { position: 43, tap }],
    };
    assert_eq!(
        json(&e),
        r#"{"type":"FlagEvidenceAdded","evidence":[{"position":43,"tap":"00000000-0000-0000-0000-000000000007"}]}"#
    );
    round_trip(&e);
    let e = FlagEvent::FlagReviewed {
        verdict: Verdict::Dismissed,
        reason: "同行".to_owned(),
        reviewer: staff("2004002"),
        at: chrono::DateTime::parse_from_rfc3339("2008-03-04T07:00:00Z")
            .unwrap()
            .to_utc(),
    };
    assert_eq!(
        json(&e),
        r#"{"type":"FlagReviewed","verdict":"dismissed","reason":"同行","reviewer":"2004002","at":"2008-03-04T07:00:00Z"}"#
    );
    round_trip(&e);
}
