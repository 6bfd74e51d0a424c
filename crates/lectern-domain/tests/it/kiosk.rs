use chrono::Duration;
use lectern_domain::*;
use uuid::Uuid;

use crate::fixtures::*;
use crate::session::{schedule, scheduled};

fn tapped(counter: u64) -> KioskEvent {
    KioskEvent::CardTapped {
        tap: Uuid::from_u128(u128::from(counter)),
        venue: slug("hall-3"),
        card: card("04A1B2C3"),
        kiosk_time: local(2008, 9, 2, 14, 20),
        counter,
        signature: "ab12".into(),
        decision: None,
        enrolment: None,
        clock: None,
    }
}

/// `tapped(counter)` with its venue, signature or enrolment changed.
fn tapped_with(
    counter: u64,
    change: impl FnOnce(&mut Slug, &mut String, &mut Option<u32>),
) -> KioskEvent {
    let mut e = tapped(counter);
    if let KioskEvent::CardTapped {
        venue,
        signature,
        enrolment,
        ..
    } = &mut e
    {
        change(venue, signature, enrolment);
    }
    e
}

#[test]
fn counters_move_forward_and_gaps_are_kept() {
    let ledger = given::<KioskLedger>([tapped(1), tapped(2)])
        .when(|k| k.decide(&tapped(5)))
        .then(vec![tapped(5)]);
    assert_eq!(ledger.gaps, vec![(3, 4)]);
    assert_eq!(ledger.taps, 3);
    given::<KioskLedger>([tapped(1), tapped(2)])
        .when(|k| k.decide(&tapped(2)))
        .then_err_containing("tap counter 2 does not follow 2");
    let unsigned = tapped_with(3, |_, signature, _| *signature = "not hex".into());
    given::<KioskLedger>([tapped(1)])
        .when(|k| k.decide(&unsigned))
        .then_err_containing("invalid tap signature \"not hex\"");
}

#[test]
fn a_kiosk_records_taps_only_for_its_venue() {
    let elsewhere = tapped_with(2, |venue, _, _| *venue = slug("hall-9"));
    given::<KioskLedger>([registered('a'), enrolled(), tapped(1)])
        .when(|k| k.decide(&elsewhere))
        .then_err_containing("for venue \"hall-9\" but the kiosk is registered at \"hall-3\"");
}

#[test]
fn a_tap_goes_to_the_session_open_at_its_venue() {
    let tuesday = Session::fold(&[scheduled()]).unwrap();
    let evening = Session::fold(&[SessionEvent::SessionScheduled(Schedule {
        id: Uuid::from_u128(2),
        window: TimeWindow::new(local(2008, 9, 2, 19, 0), local(2008, 9, 2, 21, 0)).unwrap(),
        ..schedule()
    })])
    .unwrap();
    let elsewhere = Session::fold(&[SessionEvent::SessionScheduled(Schedule {
        id: Uuid::from_u128(3),
        venue: slug("hall-9"),
        ..schedule()
    })])
    .unwrap();
    let all = [tuesday.clone(), evening.clone(), elsewhere];
    let at = |h, m| local(2008, 9, 2, h, m);
    assert_eq!(
        pick_session(&all, &slug("hall-3"), at(14, 20)),
        Some(&tuesday)
    );
    assert_eq!(
        pick_session(&all, &slug("hall-3"), at(18, 45)),
        Some(&evening)
    );
    assert_eq!(
        pick_session(&all, &slug("hall-3"), at(17, 30)),
        None,
        "no session now"
    );
    assert_eq!(pick_session(&all, &slug("hall-5"), at(14, 20)), None);
    // A tap no session takes is told the session is over for four hours
    // after one ended at its venue (the most recent), else "no session".
    assert_eq!(
        ended_session(&all, &slug("hall-3"), at(17, 30)),
        Some(&tuesday),
        "the 14:30-17:00 study is over"
    );
    assert_eq!(
        ended_session(&all, &slug("hall-3"), at(21, 0)),
        Some(&tuesday),
        "at 21:00 sharp the evening session has not ended"
    );
    assert_eq!(
        ended_session(&all, &slug("hall-3"), at(21, 1)),
        Some(&evening)
    );
    assert_eq!(ended_session(&all, &slug("hall-3"), at(14, 20)), None);
    assert_eq!(
        ended_session(&all, &slug("hall-3"), local(2008, 9, 3, 1, 1)),
        None,
        "four hours and a minute after the evening ended"
    );
    assert_eq!(ended_session(&all, &slug("hall-5"), at(17, 30)), None);
}

fn registered(code: char) -> KioskEvent {
    KioskEvent::KioskRegistered {
        venue: slug("hall-3"),
        code_hash: code.to_string().repeat(64),
        at: local(2008, 9, 1, 9, 0),
    }
}

fn enrolled() -> KioskEvent {
    KioskEvent::KioskEnrolled {
        public_key: "ab".repeat(32),
        version: "0.1.0".into(),
        at: local(2008, 9, 1, 9, 5),
    }
}

#[test]
fn a_kiosk_enrols_once_with_the_code_it_was_registered_with() {
    given::<KioskLedger>([])
        .when(|k| k.register(&slug("hall-3"), &"a".repeat(64), local(2008, 9, 1, 9, 0)))
        .then(vec![registered('a')]);
    given::<KioskLedger>([])
        .when(|k| k.register(&slug("hall-3"), "short", local(2008, 9, 1, 9, 0)))
        .then_err_containing("invalid enrolment code hash \"short\"");
    given::<KioskLedger>([])
        .when(|k| {
            k.enrol(
                "hall-3-1",
                &"a".repeat(64),
                &"ab".repeat(32),
                "0.1.0",
                local(2008, 9, 1, 9, 5),
            )
        })
        .then_err_containing("kiosk \"hall-3-1\" does not exist");
    let ledger = given::<KioskLedger>([registered('a')])
        .when(|k| {
            k.enrol(
                "hall-3-1",
                &"A".repeat(64),
                &"AB".repeat(32),
                "0.1.0",
                local(2008, 9, 1, 9, 5),
            )
        })
        .then(vec![enrolled()]);
    assert_eq!(ledger.public_key.as_deref(), Some("ab".repeat(32).as_str()));
    assert_eq!(ledger.pending_code, None);
    given::<KioskLedger>([registered('a')])
        .when(|k| {
            k.enrol(
                "hall-3-1",
                &"b".repeat(64),
                &"ab".repeat(32),
                "0.1.0",
                local(2008, 9, 1, 9, 5),
            )
        })
        .then_err_containing("is not the one issued for kiosk \"hall-3-1\"");
    given::<KioskLedger>([registered('a'), enrolled()])
        .when(|k| {
            k.enrol(
                "hall-3-1",
                &"a".repeat(64),
                &"cd".repeat(32),
                "0.1.0",
                local(2008, 9, 1, 9, 6),
            )
        })
        .then_err_containing("or it was used already");
    given::<KioskLedger>([registered('a')])
        .when(|k| {
            k.enrol(
                "hall-3-1",
                &"a".repeat(64),
                "xyz",
                "0.1.0",
                local(2008, 9, 1, 9, 5),
            )
        })
        .then_err_containing("invalid kiosk public key \"xyz\"");
    // A replaced device: registering again voids the old key until the
    // kiosk enrols with the new code; the tap ledger carries on.
    let ledger = given::<KioskLedger>([registered('a'), enrolled(), tapped(1), registered('c')])
        .when(|k| k.decide(&tapped(2)))
        .then(vec![tapped(2)]);
    assert_eq!((ledger.public_key, ledger.taps), (None, 2));
    given::<KioskLedger>([registered('a')])
        .when(|k| k.decide(&enrolled()))
        .then_err_containing("is not a card tap");
}

/// One tap with an absurd counter cannot block a kiosk: it is refused,
/// and the real taps after it are taken.
#[test]
fn a_counter_leaping_too_far_is_refused_and_the_next_taps_are_taken() {
    given::<KioskLedger>([tapped(1), tapped(2)])
        .when(|k| k.decide(&tapped(1_000_000_000)))
        .then_err_containing("tap counter 1000000000 jumps more than 100000 past 2");
    let ledger = given::<KioskLedger>([tapped(1), tapped(2)])
        .when(|k| k.decide(&tapped(3)))
        .then(vec![tapped(3)]);
    assert!(ledger.gaps.is_empty());
    // A jump within the bound is a gap, as before.
    let ledger = given::<KioskLedger>([tapped(1)])
        .when(|k| k.decide(&tapped(1 + MAX_COUNTER_JUMP)))
        .then(vec![tapped(1 + MAX_COUNTER_JUMP)]);
    assert_eq!(ledger.gaps, vec![(2, MAX_COUNTER_JUMP)]);
    // The bound holds from nothing too: a first tap counts from 0.
    given::<KioskLedger>([])
        .when(|k| k.decide(&tapped(MAX_COUNTER_JUMP + 1)))
        .then_err_containing("jumps more than 100000 past 0");
}

/// A replaced device enrols anew and counts from 1: its taps are taken,
/// not refused as "backwards", and each enrolment's gaps are its own.
#[test]
fn a_device_enrolled_anew_counts_from_one() {
    let history = [
        registered('a'),
        enrolled(),
        tapped(1),
        tapped(2),
        tapped(5),
        registered('b'),
        enrolled(),
    ];
    let ledger = given::<KioskLedger>(history.clone())
        .when(|k| k.decide(&tapped(1)))
        .then(vec![tapped(1)]);
    assert_eq!(ledger.last_counter, Some(1));
    assert!(ledger.gaps.is_empty(), "{:?}", ledger.gaps);
    // Taps 3 and 4 of the old device are still missing.
    assert_eq!((ledger.missing(), ledger.missing_ever()), (0, 2));
    let ledger = given::<KioskLedger>(history)
        .when(|k| k.decide(&tapped(3)))
        .then(vec![tapped(3)]);
    assert_eq!(ledger.gaps, vec![(1, 2)]);
    assert_eq!(ledger.missing_ever(), 4);
}

/// A tap signed by a replaced device's key, arriving after the new device
/// enrolled, continues the old device's sequence and leaves the new one's
/// alone.
#[test]
fn a_replaced_devices_taps_continue_its_own_sequence() {
    let of = |n: u32, counter: u64| tapped_with(counter, |_, _, enrolment| *enrolment = Some(n));
    let history = [
        registered('a'),
        enrolled(),
        of(1, 1),
        of(1, 2),
        registered('b'),
        enrolled(),
        of(2, 1),
    ];
    let ledger = given::<KioskLedger>(history.clone())
        .when(|k| k.decide(&of(1, 4)))
        .then(vec![of(1, 4)]);
    assert_eq!(ledger.earlier[0].last_counter, Some(4));
    assert_eq!(ledger.earlier[0].gaps, vec![(3, 3)]);
    assert_eq!((ledger.last_counter, ledger.missing_ever()), (Some(1), 1));
    given::<KioskLedger>(history.clone())
        .when(|k| k.decide(&of(1, 2)))
        .then_err_containing("tap counter 2 does not follow 2");
    given::<KioskLedger>(history)
        .when(|k| k.decide(&of(3, 1)))
        .then_err_containing("the kiosk has no such enrolment");
}

/// A tap is placed from the sync point of its boot nearest to it, before
/// or after it, by the monotonic time between them; another boot's points
/// say nothing about it.
#[test]
fn a_tap_is_placed_from_the_nearest_sync_point_of_its_boot() {
    let point = |boot: u32, secs: u64, minute: u32| SyncPoint {
        boot,
        mono_us: secs * 1_000_000,
        server_time: local(2008, 9, 2, 14, minute),
    };
    let points = [point(1, 100, 0), point(1, 700, 10), point(2, 100, 30)];
    let reading = |boot: u32, secs: u64| MonoReading {
        boot,
        mono_us: secs * 1_000_000,
    };
    // 14:00 at 100 s; the tap at 250 s is nearer that than 700 s.
    let early = SyncPoint::nearest(&points, reading(1, 250)).unwrap();
    assert_eq!(*early, points[0]);
    assert_eq!(
        early.place(reading(1, 250)),
        local(2008, 9, 2, 14, 2) + Duration::seconds(30)
    );
    // A tap before the point it is nearest: placed back from it.
    let late = SyncPoint::nearest(&points, reading(1, 640)).unwrap();
    assert_eq!(*late, points[1]);
    assert_eq!(late.place(reading(1, 640)), local(2008, 9, 2, 14, 9));
    assert_eq!(SyncPoint::nearest(&points, reading(3, 100)), None);
}
