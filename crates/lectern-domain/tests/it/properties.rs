//! Properties over generated histories: decisions only emit events their
//! fold accepts, folding is the same all at once or step by step, and the
//! attendance status is monotone in the tap time.

use chrono::Duration;
use lectern_domain::*;
use proptest::prelude::*;
use uuid::Uuid;

use crate::fixtures::*;
use crate::session::{member, scheduled};

const UNITS: [&str; 6] = ["ustc", "school-cs", "cs-dept", "union-office", "u4", "u5"];

fn org_command() -> impl Strategy<Value = OrgCommand> {
    let unit = || (0..UNITS.len()).prop_map(|i| slug(UNITS[i]));
    let kind = prop_oneof![
        Just(UnitKind::University),
        Just(UnitKind::School),
        Just(UnitKind::Department),
        Just(UnitKind::Office),
        Just(UnitKind::LearningGroup),
    ];
    prop_oneof![
        (unit(), kind, proptest::option::of(unit())).prop_map(|(unit, kind, parent)| {
            OrgCommand::EstablishUnit {
                unit,
                name: name("U"),
                kind,
                parent,
            }
        }),
        (unit(), unit()).prop_map(|(unit, parent)| OrgCommand::MoveUnit { unit, parent }),
        unit().prop_map(|unit| OrgCommand::DissolveUnit {
            unit,
            reason: "r".into()
        }),
        unit().prop_map(|unit| OrgCommand::RenameUnit {
            unit,
            name: name("V")
        }),
    ]
}

fn session_command() -> impl Strategy<Value = SessionCommand> {
    let person = || (0..4u32).prop_map(|i| format!("200400{i}"));
    // Minutes from 13:00 on the session's day.
    let minute = || (0..300i64).prop_map(|m| local(2008, 9, 2, 13, 0) + Duration::minutes(m));
    let status = prop_oneof![
        Just(AttendanceStatus::Present),
        Just(AttendanceStatus::Late),
        Just(AttendanceStatus::Excused),
        Just(AttendanceStatus::Absent),
    ];
    prop_oneof![
        (person(), minute(), 0..3u8).prop_map(|(p, at, k)| SessionCommand::RecordTap {
            tap: Uuid::new_v4(),
            card: card("04A1B2C3"),
            kiosk: "k".into(),
            holder: match k {
                0 => CardHolder::Unknown,
                1 => CardHolder::Revoked {
                    staff_no: staff(&p)
                },
                _ => CardHolder::Active(member(&p)),
            },
            at,
        }),
        (person(), minute()).prop_map(|(p, at)| SessionCommand::MarkByHand {
            person: member(&p),
            marker: staff("2001001"),
            at
        }),
        (person(), minute()).prop_map(|(p, at)| SessionCommand::RequestLeave {
            person: staff(&p),
            reason: "r".into(),
            at
        }),
        person().prop_map(|p| SessionCommand::ApproveLeave {
            person: staff(&p),
            approver: staff("2001001")
        }),
        minute().prop_map(|at| SessionCommand::Close {
            at,
            audience: (0..4).map(|i| staff(&format!("200400{i}"))).collect()
        }),
        (person(), status).prop_map(|(p, to)| SessionCommand::Correct {
            person: staff(&p),
            to,
            reason: "r".into(),
            corrector: staff("2001001"),
            dispute: None
        }),
    ]
}

/// Runs `commands`, keeping what each accepted decision emits; panics if a
/// decision emits an event its fold refuses. Returns the history and the
/// state reached step by step.
fn run<A: Aggregate, C>(
    start: Vec<A::Event>,
    commands: &[C],
    decide: impl Fn(&A, &C) -> Result<Vec<A::Event>>,
) -> (Vec<A::Event>, A) {
    let mut state = A::fold(&start).unwrap();
    let mut history = start;
    for c in commands {
        if let Ok(events) = decide(&state, c) {
            for e in events {
                state.apply(&e).unwrap_or_else(|err| {
                    panic!("decision emitted {e:?}, which the fold refuses: {err}")
                });
                history.push(e);
            }
        }
    }
    (history, state)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn org_decisions_fold_and_replay(commands in proptest::collection::vec(org_command(), 1..40)) {
        let (history, stepwise) = run::<OrgTree, _>(vec![], &commands, |s, c| s.decide(c));
        prop_assert_eq!(OrgTree::fold(&history).unwrap(), stepwise.clone());
        // Every unit but the root has an ancestor chain that ends at the root.
        for u in stepwise.units() {
            if u.kind != UnitKind::University {
                let chain = stepwise.ancestors(&u.id);
                prop_assert!(chain.last().is_some_and(|r| r.kind == UnitKind::University));
            }
        }
    }

    #[test]
    fn session_decisions_fold_and_replay(commands in proptest::collection::vec(session_command(), 1..40)) {
        let org = org();
        let (history, stepwise) = run::<Session, _>(vec![scheduled()], &commands, |s, c| s.decide(c, &org));
        prop_assert_eq!(Session::fold(&history).unwrap(), stepwise.clone());
        // Nobody is checked in twice.
        let recorded = history.iter().filter(|e| matches!(e, SessionEvent::AttendanceRecorded { .. })).count();
        prop_assert_eq!(recorded, stepwise.attended.len());
    }

    #[test]
    fn tap_status_is_monotone_in_time(a in 0..400i64, b in 0..400i64, grace in 0..60u32, opens in 0..120u32) {
        let window = TimeWindow::new(local(2008, 9, 2, 14, 30), local(2008, 9, 2, 17, 0)).unwrap();
        let rules = CheckInRules { opens_minutes_before: opens, grace_minutes: grace };
        let (early, late) = (a.min(b), a.max(b));
        let t = |m: i64| local(2008, 9, 2, 12, 0) + Duration::minutes(m);
        // Order: too early < present < late < over.
        let rank = |r: std::result::Result<AttendanceStatus, RejectReason>| match r {
            Err(RejectReason::NoSessionNow) => 0,
            Ok(AttendanceStatus::Present) => 1,
            Ok(AttendanceStatus::Late) => 2,
            Err(RejectReason::SessionOver) => 3,
            other => panic!("tap_status returned {other:?}"),
        };
        prop_assert!(rank(tap_status(&window, rules, t(early))) <= rank(tap_status(&window, rules, t(late))));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Over generated histories the explanation lines add up to the total,
    /// and every line names only positions of the history.
    #[test]
    fn appraisal_lines_sum_to_the_total(commands in proptest::collection::vec(session_command(), 1..40), absence in 0..5i32) {
        let org = org();
        let (history, _) = run::<Session, _>(vec![scheduled()], &commands, |s, c| s.decide(c, &org));
        let positioned: Vec<Positioned<SessionEvent>> = history
            .into_iter()
            .enumerate()
            .map(|(i, event)| Positioned { position: 100 + i as u64, occurred_at: local(2008, 9, 2, 12, 0), event })
            .collect();
        let book = vec![Positioned {
            position: 1,
            occurred_at: local(2008, 1, 1, 0, 0),
            event: AppraisalEvent::ScoringRulesAdopted {
                rules: ScoringRules { version: 1, effective_from: date(2008, 1, 1), base_points: 100, per_absence: absence, per_late: 1, per_missed_task: 2, award_bonus: Default::default(), per_late_report: 5, report_due_day: 5 },
            },
        }];
        for i in 0..4 {
            let who = staff(&format!("200400{i}"));
            let h = Histories { appraisal: &book, sessions: std::slice::from_ref(&positioned), ..Histories::default() };
            let a = appraise_person(&who, &Period::year(2008).unwrap(), &Campus::default(), &h).unwrap();
            prop_assert_eq!(a.total, a.lines.iter().map(|l| l.points).sum::<i32>());
            prop_assert!(a.total <= 100);
            for l in &a.lines {
                prop_assert!(l.positions.iter().all(|p| *p == 1 || (100..100 + positioned.len() as u64).contains(p)));
            }
        }
    }
}
