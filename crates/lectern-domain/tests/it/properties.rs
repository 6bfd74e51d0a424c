//! Properties over generated histories: decisions only emit events their
//! fold accepts, the unit tree stays a tree, a session's roster and the
//! appraisal agree with a simple oracle of the scoring rules, and the
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
    let person = || (0..PEOPLE.len()).prop_map(|i| PEOPLE[i].to_owned());
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
            year_closed: false,
        }),
        (person(), minute()).prop_map(|(p, at)| SessionCommand::MarkByHand {
            person: member(&p),
            marker: staff("2001001"),
            at,
            now: at
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
            audience: PEOPLE.iter().map(|p| staff(p)).collect(),
            kiosks_behind: vec![],
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
/// state reached.
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

const PEOPLE: [&str; 4] = ["2004000", "2004001", "2004002", "2004003"];

/// The oracle of a person's final status at one session, read straight off
/// the history: the last attendance, absence or correction names it; an
/// approved leave with none of those makes it excused.
fn final_status(history: &[SessionEvent], who: &StaffNo) -> Option<AttendanceStatus> {
    let mut status = None;
    let mut excused = false;
    for e in history {
        match e {
            SessionEvent::AttendanceRecorded {
                person, status: s, ..
            } if person == who => status = Some(*s),
            SessionEvent::AbsenceRecorded { person } if person == who => {
                status = Some(AttendanceStatus::Absent)
            }
            SessionEvent::AttendanceCorrected { person, to, .. } if person == who => {
                status = Some(*to)
            }
            SessionEvent::LeaveApproved { person, .. } if person == who => excused = true,
            _ => {}
        }
    }
    status.or(excused.then_some(AttendanceStatus::Excused))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever was decided, the units form one tree: each unit's parent
    /// exists, walking up from any unit reaches the one university without
    /// visiting a unit twice, and no active unit hangs under a dissolved one.
    #[test]
    fn the_unit_tree_stays_a_tree(commands in proptest::collection::vec(org_command(), 1..40)) {
        let (_, tree) = run::<OrgTree, _>(vec![], &commands, |s, c| s.decide(c));
        let roots: Vec<_> = tree.units().filter(|u| u.parent.is_none()).collect();
        prop_assert!(roots.len() <= 1, "more than one root: {roots:?}");
        for u in tree.units() {
            let mut seen = std::collections::BTreeSet::new();
            let mut at = u;
            while let Some(parent) = &at.parent {
                prop_assert!(seen.insert(at.id.clone()), "a cycle through {}", at.id);
                let Some(p) = tree.unit(parent) else {
                    return Err(TestCaseError::fail(format!("{} has a missing parent {parent}", at.id)));
                };
                prop_assert!(u.dissolved || !p.dissolved, "{} is active under dissolved {}", u.id, p.id);
                at = p;
            }
            prop_assert_eq!(at.kind, UnitKind::University, "{} does not reach the university", u.id);
        }
    }

    /// The session's roster (what its decisions see) is the oracle's final
    /// status for everyone; nobody is checked in twice; after a close,
    /// everyone in the audience has a status.
    #[test]
    fn the_roster_follows_the_oracle(commands in proptest::collection::vec(session_command(), 1..40)) {
        let org = org();
        let (history, session) = run::<Session, _>(vec![scheduled()], &commands, |s, c| s.decide(c, &org));
        for p in PEOPLE {
            let who = staff(p);
            prop_assert_eq!(session.roster.get(&who).copied(), final_status(&history, &who), "{}", p);
            let checked_in = history.iter().filter(|e| matches!(e, SessionEvent::AttendanceRecorded { person, .. } if *person == who)).count();
            prop_assert!(checked_in <= 1, "{} checked in {} times", p, checked_in);
            if session.closed {
                prop_assert!(session.roster.contains_key(&who), "{} has no status after the close", p);
            }
        }
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

    /// Over generated histories of two sessions, each person's total is the
    /// base less the deductions the oracle counts by hand (a session that
    /// was cancelled counts nothing), and every line names positions of
    /// the history only.
    #[test]
    fn the_appraisal_total_follows_the_oracle(
        first in proptest::collection::vec(session_command(), 1..30),
        second in proptest::collection::vec(session_command(), 1..30),
        cancel_second in proptest::bool::ANY,
        per_absence in 0..5i32,
        per_late in 0..5i32,
    ) {
        let org = org();
        let second_schedule = {
            let mut s = crate::session::schedule();
            s.id = Uuid::from_u128(2);
            s
        };
        let mut histories = [
            run::<Session, _>(vec![scheduled()], &first, |s, c| s.decide(c, &org)).0,
            run::<Session, _>(vec![SessionEvent::SessionScheduled(second_schedule)], &second, |s, c| s.decide(c, &org)).0,
        ];
        if cancel_second {
            histories[1].push(SessionEvent::SessionCancelled { reason: "台风".into() });
        }
        let mut position = 100;
        let positioned: Vec<Vec<Positioned<SessionEvent>>> = histories
            .iter()
            .map(|h| {
                h.iter()
                    .map(|event| {
                        position += 1;
                        Positioned { position, occurred_at: local(2008, 9, 2, 12, 0), event: event.clone() }
                    })
                    .collect()
            })
            .collect();
        let book = vec![Positioned {
            position: 1,
            occurred_at: local(2008, 1, 1, 0, 0),
            event: AppraisalEvent::ScoringRulesAdopted {
                rules: ScoringRules { version: 1, effective_from: date(2008, 1, 1), base_points: 100, per_absence, per_late, per_missed_task: 2, award_bonus: Default::default(), per_late_report: 5, report_due_day: 5, unit: Default::default() },
            },
        }];
        for p in PEOPLE {
            let who = staff(p);
            let counted = if cancel_second { &histories[..1] } else { &histories[..] };
            let expected = 100 - counted
                .iter()
                .map(|h| match final_status(h, &who) {
                    Some(AttendanceStatus::Absent) => per_absence,
                    Some(AttendanceStatus::Late) => per_late,
                    _ => 0,
                })
                .sum::<i32>();
            let h = Histories { appraisal: &book, sessions: &positioned, ..Histories::default() };
            let a = appraise_person(&who, &Period::year(2008).unwrap(), &Campus::default(), &h).unwrap();
            prop_assert_eq!(a.total, expected, "{}: {:?}", p, a.lines);
            for l in &a.lines {
                prop_assert!(l.positions.iter().all(|p| *p == 1 || (101..=position).contains(p)));
            }
        }
    }
}
