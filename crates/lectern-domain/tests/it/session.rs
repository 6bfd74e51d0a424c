use chrono::{NaiveTime, Weekday};
use lectern_domain::*;
use uuid::Uuid;

use crate::fixtures::*;

pub fn sid() -> SessionId {
    Uuid::from_u128(0x5e55)
}

/// Centralized study of cs-dept, Tuesday 2 September 2008, 14:30-17:00.
pub fn scheduled() -> SessionEvent {
    SessionEvent::SessionScheduled(schedule())
}

pub fn schedule() -> Schedule {
    Schedule {
        id: sid(),
        kind: SessionKind::CentralizedStudy,
        title: name("Weekly study"),
        programme: None,
        organiser: slug("cs-dept"),
        venue: slug("hall-3"),
        window: TimeWindow::new(local(2008, 9, 2, 14, 30), local(2008, 9, 2, 17, 0)).unwrap(),
        check_in: CheckInRules::default(),
        audience: Audience::Units {
            units: vec![slug("school-cs")],
        },
        speakers: vec![],
        series: None,
    }
}

pub fn member(no: &str) -> Attendee {
    Attendee {
        staff_no: staff(no),
        unit: slug("cs-dept"),
        programmes: vec![],
    }
}

fn tap(holder: CardHolder, h: u32, m: u32) -> SessionCommand {
    SessionCommand::RecordTap {
        tap: Uuid::from_u128(u128::from(h * 100 + m)),
        card: card("04A1B2C3"),
        kiosk: "kiosk-3".into(),
        holder,
        at: local(2008, 9, 2, h, m),
        year_closed: false,
    }
}

fn outcome(
    history: Vec<SessionEvent>,
    command: &SessionCommand,
) -> (TapOutcome, Vec<SessionEvent>) {
    let s = Session::fold(&history).unwrap();
    s.decide_tap(command, &org()).unwrap()
}

#[test]
fn taps_are_present_until_start_plus_grace_then_late_then_refused() {
    let cases = [
        ((13, 59), TapOutcome::Rejected(RejectReason::NoSessionNow)),
        ((14, 0), TapOutcome::Recorded(AttendanceStatus::Present)),
        ((14, 40), TapOutcome::Recorded(AttendanceStatus::Present)),
        ((14, 41), TapOutcome::Recorded(AttendanceStatus::Late)),
        ((17, 0), TapOutcome::Recorded(AttendanceStatus::Late)),
        ((17, 1), TapOutcome::Rejected(RejectReason::SessionOver)),
    ];
    for ((h, m), expected) in cases {
        let (got, events) = outcome(
            vec![scheduled()],
            &tap(CardHolder::Active(member("2004001")), h, m),
        );
        assert_eq!(got, expected, "tap at {h}:{m:02}");
        assert_eq!(
            events.len(),
            1,
            "every tap at an open session leaves an event"
        );
    }
}

#[test]
fn a_second_tap_changes_nothing() {
    let first = given::<Session>([scheduled()])
        .when(|s| s.decide(&tap(CardHolder::Active(member("2004001")), 14, 20), &org()))
        .then(vec![SessionEvent::AttendanceRecorded {
            person: staff("2004001"),
            status: AttendanceStatus::Present,
            at: local(2008, 9, 2, 14, 20),
            method: Method::Card {
                tap: Uuid::from_u128(1420),
                card: card("04A1B2C3"),
                kiosk: "kiosk-3".into(),
            },
            replaces: None,
        }]);
    let (again, events) = first
        .decide_tap(&tap(CardHolder::Active(member("2004001")), 15, 0), &org())
        .unwrap();
    assert_eq!(
        again,
        TapOutcome::AlreadyCheckedIn(AttendanceStatus::Present)
    );
    assert!(events.is_empty());
}

#[test]
fn unknown_revoked_and_outside_cards_are_rejected_and_recorded() {
    let (o, e) = outcome(vec![scheduled()], &tap(CardHolder::Unknown, 14, 20));
    assert_eq!(o, TapOutcome::Rejected(RejectReason::UnknownCard));
    assert!(matches!(
        &e[..],
        [SessionEvent::TapRejected { person: None, .. }]
    ));
    let (o, _) = outcome(
        vec![scheduled()],
        &tap(
            CardHolder::Revoked {
                staff_no: staff("2004001"),
            },
            14,
            20,
        ),
    );
    assert_eq!(o, TapOutcome::Rejected(RejectReason::RevokedCard));
    let outsider = Attendee {
        unit: slug("union-office"),
        ..member("2004009")
    };
    let (o, e) = outcome(
        vec![scheduled()],
        &tap(CardHolder::Active(outsider), 14, 20),
    );
    assert_eq!(o, TapOutcome::Rejected(RejectReason::NotInAudience));
    assert!(matches!(
        &e[..],
        [SessionEvent::TapRejected {
            reason: RejectReason::NotInAudience,
            ..
        }]
    ));
}

#[test]
fn leave_before_the_session_excuses_and_closing_records_absences() {
    let org = org();
    let history = vec![
        scheduled(),
        SessionEvent::LeaveRequested {
            person: staff("2004002"),
            reason: "teaching a make-up class".into(),
            at: local(2008, 9, 1, 9, 0),
        },
        SessionEvent::LeaveApproved {
            person: staff("2004002"),
            approver: staff("2001001"),
        },
        SessionEvent::AttendanceRecorded {
            person: staff("2004001"),
            status: AttendanceStatus::Late,
            at: local(2008, 9, 2, 15, 0),
            method: Method::Hand {
                marker: staff("2001001"),
            },
            replaces: None,
        },
    ];
    given::<Session>(history.clone())
        .when(|s| {
            s.decide(
                &SessionCommand::RequestLeave {
                    person: staff("2004003"),
                    reason: "ill".into(),
                    at: local(2008, 9, 2, 14, 45),
                },
                &org,
            )
        })
        .then_err_containing("leave must be requested before the session starts");
    given::<Session>(history.clone())
        .when(|s| {
            s.decide(
                &SessionCommand::Close {
                    at: local(2008, 9, 2, 16, 0),
                    audience: vec![],
                    kiosks_behind: vec![],
                },
                &org,
            )
        })
        .then_err_containing("cannot close before it ends");
    let closed = given::<Session>(history)
        .when(|s| {
            s.decide(
                &SessionCommand::Close {
                    at: local(2008, 9, 2, 17, 5),
                    audience: vec![
                        staff("2004001"),
                        staff("2004002"),
                        staff("2004003"),
                        staff("2004003"),
                    ],
                    kiosks_behind: vec![],
                },
                &org,
            )
        })
        .then(vec![
            SessionEvent::AbsenceRecorded {
                person: staff("2004003"),
            },
            SessionEvent::SessionClosed {
                at: local(2008, 9, 2, 17, 5),
                kiosks_behind: vec![],
            },
        ]);
    assert_eq!(closed.roster[&staff("2004001")], AttendanceStatus::Late);
    assert_eq!(closed.roster[&staff("2004002")], AttendanceStatus::Excused);
    assert_eq!(closed.roster[&staff("2004003")], AttendanceStatus::Absent);
    // A tap read at 16:00 (late) reaching the server after the close
    // still counts, replacing the absence.
    let (outcome, _) = closed
        .decide_tap(&tap(CardHolder::Active(member("2004003")), 16, 0), &org)
        .unwrap();
    assert_eq!(outcome, TapOutcome::Recorded(AttendanceStatus::Late));

    // Corrections name the old status; a later one supersedes an earlier one.
    let mut s = closed;
    for (to, reason) in [
        (AttendanceStatus::Present, "card reader was down"),
        (AttendanceStatus::Late, "arrived 14:50"),
    ] {
        let events = s
            .decide(
                &SessionCommand::Correct {
                    person: staff("2004003"),
                    to,
                    reason: reason.into(),
                    corrector: staff("2001001"),
                    dispute: None,
                },
                &org,
            )
            .unwrap();
        for e in &events {
            s.apply(e).unwrap();
        }
    }
    assert_eq!(s.roster[&staff("2004003")], AttendanceStatus::Late);
}

#[test]
fn scheduling_checks_units_and_rules() {
    let org = org();
    let audience = schedule().audience;
    let command = |check_in: CheckInRules, audience: Audience| {
        SessionCommand::Schedule(Schedule {
            check_in,
            audience,
            ..schedule()
        })
    };
    given::<Session>([])
        .when(|s| s.decide(&command(CheckInRules::default(), audience.clone()), &org))
        .then(vec![scheduled()]);
    given::<Session>([])
        .when(|s| {
            s.decide(
                &command(
                    CheckInRules {
                        opens_minutes_before: 30,
                        grace_minutes: 200,
                    },
                    audience.clone(),
                ),
                &org,
            )
        })
        .then_err_containing(
            "invalid lateness grace \"200 minutes\": must not exceed the session's 150 minutes",
        );
    given::<Session>([])
        .when(|s| {
            s.decide(
                &command(
                    CheckInRules::default(),
                    Audience::Units {
                        units: vec![slug("physics")],
                    },
                ),
                &org,
            )
        })
        .then_err(DomainError::NotFound {
            what: "unit",
            id: "physics".into(),
        });
}

#[test]
fn seats_are_not_shared_and_cancelled_sessions_take_nothing() {
    let org = org();
    let with_seat = vec![
        scheduled(),
        SessionEvent::SeatAssigned {
            person: staff("2004001"),
            seat: "A-12".into(),
        },
    ];
    given::<Session>(with_seat.clone())
        .when(|s| {
            s.decide(
                &SessionCommand::AssignSeat {
                    person: staff("2004002"),
                    seat: " A-12 ".into(),
                },
                &org,
            )
        })
        .then_err_containing("seat \"A-12\" is already assigned to 2004001");
    let cancelled = given::<Session>(with_seat)
        .when(|s| {
            s.decide(
                &SessionCommand::Cancel {
                    reason: "typhoon".into(),
                },
                &org,
            )
        })
        .then(vec![SessionEvent::SessionCancelled {
            reason: "typhoon".into(),
        }]);
    assert!(!cancelled.accepts_taps_at(local(2008, 9, 2, 14, 30)));
}

#[test]
fn tuesday_series_skip_holidays() {
    let r = Recurrence {
        weekday: Weekday::Tue,
        start: NaiveTime::from_hms_opt(14, 30, 0).unwrap(),
        end: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
        from: date(2008, 9, 1),
        until: date(2008, 10, 31),
        // National Day week.
        holidays: vec![(date(2008, 9, 29), date(2008, 10, 5))],
    };
    let windows = r.expand(&Campus::default()).unwrap();
    let days: Vec<String> = windows
        .iter()
        .map(|w| Campus::default().date(w.start()).to_string())
        .collect();
    assert_eq!(
        days,
        [
            "2008-09-02",
            "2008-09-09",
            "2008-09-16",
            "2008-09-23",
            "2008-10-07",
            "2008-10-14",
            "2008-10-21",
            "2008-10-28"
        ]
    );
    assert_eq!(windows[0].start(), local(2008, 9, 2, 14, 30));
    assert_eq!(windows[0].end(), local(2008, 9, 2, 17, 0));
    let backwards = Recurrence {
        until: date(2008, 8, 1),
        ..r
    };
    assert!(
        backwards
            .expand(&Campus::default())
            .unwrap_err()
            .to_string()
            .contains("ends before it starts")
    );
}

#[test]
fn a_hand_mark_claims_an_arrival_in_the_window_and_not_in_the_future() {
    let mark = |h, m, now| SessionCommand::MarkByHand {
        person: member("2004001"),
        marker: staff("2001001"),
        at: local(2008, 9, 2, h, m),
        now,
    };
    // 15:00 is after start + grace (14:40): late, as the claim says, with
    // who claimed it.
    given::<Session>([scheduled()])
        .when(|s| s.decide(&mark(15, 0, local(2008, 9, 2, 15, 5)), &org()))
        .then(vec![SessionEvent::AttendanceRecorded {
            person: staff("2004001"),
            status: AttendanceStatus::Late,
            at: local(2008, 9, 2, 15, 0),
            method: Method::Hand {
                marker: staff("2001001"),
            },
            replaces: None,
        }]);
    // A claim the server's clock has not reached is refused...
    given::<Session>([scheduled()])
        .when(|s| s.decide(&mark(14, 35, local(2008, 9, 2, 14, 20)), &org()))
        .then_err_containing("is in the future (the server's time is 2008-09-02T06:20:00+00:00)");
    // ...and so is one outside the check-in window (opens 14:00, ends 17:00).
    given::<Session>([scheduled()])
        .when(|s| s.decide(&mark(17, 30, local(2008, 9, 2, 18, 0)), &org()))
        .then_err_containing("cannot be taken: SessionOver");
}

/// An offline kiosk's tap reaches the server after the close: read at 14:50
/// (after start 14:30 + grace 10 min), it is late, and it replaces the
/// absence the close recorded at 17:30; a correction made since the close
/// stands; once the year is closed the tap is kept for the auditors only.
#[test]
fn a_tap_read_in_time_counts_after_the_close() {
    let closed = vec![
        scheduled(),
        SessionEvent::AbsenceRecorded {
            person: staff("2004001"),
        },
        SessionEvent::SessionClosed {
            at: local(2008, 9, 2, 17, 30),
            kiosks_behind: vec![],
        },
    ];
    let late_tap = tap(CardHolder::Active(member("2004001")), 14, 50);
    let (o, e) = outcome(closed.clone(), &late_tap);
    assert_eq!(o, TapOutcome::Recorded(AttendanceStatus::Late));
    assert_eq!(
        e,
        vec![SessionEvent::AttendanceRecorded {
            person: staff("2004001"),
            status: AttendanceStatus::Late,
            at: local(2008, 9, 2, 14, 50),
            method: Method::Card {
                tap: Uuid::from_u128(1450),
                card: card("04A1B2C3"),
                kiosk: "kiosk-3".into(),
            },
            replaces: Some(AttendanceStatus::Absent),
        }]
    );
    let mut after = closed.clone();
    after.extend(e);
    let s = Session::fold(&after).unwrap();
    assert_eq!(s.roster[&staff("2004001")], AttendanceStatus::Late);

    // A tap read after the end (17:05) is still over, closed or not.
    let (o, _) = outcome(
        closed.clone(),
        &tap(CardHolder::Active(member("2004001")), 17, 5),
    );
    assert_eq!(o, TapOutcome::Rejected(RejectReason::SessionOver));

    // The chair corrected the absence to excused before the tap arrived:
    // the correction stands and the tap records nothing.
    let mut corrected = closed.clone();
    corrected.push(SessionEvent::AttendanceCorrected {
        person: staff("2004001"),
        from: Some(AttendanceStatus::Absent),
        to: AttendanceStatus::Excused,
        reason: "at a training".into(),
        corrector: staff("2001001"),
        dispute: None,
    });
    let (o, e) = outcome(corrected, &late_tap);
    assert_eq!(o, TapOutcome::AlreadyCheckedIn(AttendanceStatus::Excused));
    assert!(e.is_empty());

    // The year closed before the tap arrived: recorded, not applied.
    let SessionCommand::RecordTap {
        tap: id,
        card: c,
        kiosk,
        holder,
        at,
        ..
    } = late_tap
    else {
        unreachable!()
    };
    let frozen = SessionCommand::RecordTap {
        tap: id,
        card: c,
        kiosk,
        holder,
        at,
        year_closed: true,
    };
    let (o, e) = outcome(closed, &frozen);
    assert_eq!(o, TapOutcome::Rejected(RejectReason::YearClosed));
    assert!(matches!(
        &e[..],
        [SessionEvent::TapRejected {
            reason: RejectReason::YearClosed,
            ..
        }]
    ));
}
