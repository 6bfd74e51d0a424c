//! Proxy-tap flags: each rule and its honest near miss, worked by hand,
//! their review, and the flags of a day whatever order its taps arrive in.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use lectern_domain::*;
use proptest::prelude::*;
use uuid::Uuid;

/// Tuesday 4 March 2008, 14:00 on campus (06:00 UTC), plus `secs`.
fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2008, 3, 4, 6, 0, 0).unwrap() + Duration::seconds(secs)
}

fn session(n: u128) -> SessionId {
    Uuid::from_u128(0x5e55_0000 + n)
}

/// Tap `n` of `card` (held by `person`) at `kiosk` in `venue` for session
/// `s`, `secs` after 14:00.
fn tap(n: u64, card: &str, person: &str, kiosk: &str, venue: &str, s: u128, secs: i64) -> SeenTap {
    SeenTap {
        position: n,
        tap: Uuid::from_u128(u128::from(n)),
        kiosk: kiosk.to_owned(),
        venue: Slug::parse(venue).unwrap(),
        card: CardUid::parse(card).unwrap(),
        person: Some(StaffNo::parse(person).unwrap()),
        at: at(secs),
        session: Some(session(s)),
        revoked: false,
    }
}

fn positions(f: &Finding) -> Vec<u64> {
    f.evidence.iter().map(|e| e.position).collect()
}

/// One card at hall-a at 14:00 and at hall-b at 14:06: six minutes is less
/// than the default ten between any two halls, so it is flagged, with both
/// taps and the holder. At 14:10 (exactly ten minutes) it is not; with the
/// walk between the two halls configured as five minutes, 14:06 is not
/// either. The same hall twice is never this rule's business.
#[test]
fn one_card_at_two_venues_too_close_in_time() {
    let t = FlagThresholds::default();
    let a = tap(1, "04A1B2C3", "T0001", "k-a", "hall-a", 1, 0);
    let b = tap(2, "04A1B2C3", "T0001", "k-b", "hall-b", 2, 6 * 60);
    let f = two_venues(&a, &b, &t).expect("flagged");
    assert_eq!(f.rule, FlagRule::TwoVenues);
    assert_eq!(positions(&f), [1, 2]);
    assert_eq!(f.people, [StaffNo::parse("T0001").unwrap()]);
    // Whichever tap is seen first, the same flag.
    assert_eq!(two_venues(&b, &a, &t), Some(f));

    let near_miss = tap(3, "04A1B2C3", "T0001", "k-b", "hall-b", 2, 10 * 60);
    assert_eq!(two_venues(&a, &near_miss, &t), None);
    let mut walk = FlagThresholds::default();
    walk.travel.insert(
        (
            Slug::parse("hall-b").unwrap(),
            Slug::parse("hall-a").unwrap(),
        ),
        Duration::minutes(5),
    );
    assert_eq!(two_venues(&a, &b, &walk), None);
    let same_hall = tap(4, "04A1B2C3", "T0001", "k-a2", "hall-a", 1, 30);
    assert_eq!(two_venues(&a, &same_hall, &t), None);
    let other_card = tap(5, "04FFFFFF", "T0002", "k-b", "hall-b", 2, 60);
    assert_eq!(two_venues(&a, &other_card, &t), None);
}

/// T0001 and T0002's cards read 1 second apart at kiosk k-a, at four
/// Tuesdays of 2008: read together at each (2 s is the line), flagged at
/// the fourth with all eight taps. T0003, 3 seconds after T0002 each time,
/// is never read together with either; and three sessions are not enough.
#[test]
fn two_cards_read_together_session_after_session() {
    let t = FlagThresholds::default();
    let mut analyzer = Analyzer::new(t.clone(), Campus::default());
    let mut found = Vec::new();
    let week = 7 * 24 * 3600;
    for s in 0..4u64 {
        let base = week * i64::try_from(s).unwrap();
        let n = s * 10;
        for x in [
            tap(n + 1, "04000001", "T0001", "k-a", "hall-a", s.into(), base),
            tap(
                n + 2,
                "04000002",
                "T0002",
                "k-a",
                "hall-a",
                s.into(),
                base + 1,
            ),
            tap(
                n + 3,
                "04000003",
                "T0003",
                "k-a",
                "hall-a",
                s.into(),
                base + 4,
            ),
        ] {
            found.push((s, analyzer.see(x)));
        }
    }
    let flagged: Vec<_> = found.iter().filter(|(_, f)| !f.is_empty()).collect();
    assert_eq!(flagged.len(), 1, "{found:?}");
    let (s, f) = flagged[0];
    assert_eq!(*s, 3, "at the fourth session");
    assert_eq!(f.len(), 1);
    let f = &f[0];
    assert_eq!(f.rule, FlagRule::BurstTogether);
    assert_eq!(f.key, "burst_together-T0001-T0002-2008");
    assert_eq!(
        f.people,
        [
            StaffNo::parse("T0001").unwrap(),
            StaffNo::parse("T0002").unwrap()
        ]
    );
    assert_eq!(positions(f), [1, 2, 11, 12, 21, 22, 31, 32]);

    // The fifth session adds its two taps to the same flag.
    let more = [
        tap(41, "04000001", "T0001", "k-a", "hall-a", 4, 4 * week),
        tap(42, "04000002", "T0002", "k-a", "hall-a", 4, 4 * week + 2),
    ];
    assert_eq!(analyzer.see(more[0].clone()), vec![]);
    let fifth = analyzer.see(more[1].clone());
    assert_eq!(fifth.len(), 1);
    assert_eq!(fifth[0].key, f.key);
    assert_eq!(positions(&fifth[0]), [1, 2, 11, 12, 21, 22, 31, 32, 41, 42]);

    // Read together: the same kiosk and session, two people, within 2 s.
    let a = tap(1, "04000001", "T0001", "k-a", "hall-a", 9, 0);
    assert!(read_together(
        &a,
        &tap(2, "04000002", "T0002", "k-a", "hall-a", 9, 2),
        &t
    ));
    assert!(!read_together(
        &a,
        &tap(2, "04000002", "T0002", "k-a", "hall-a", 9, 3),
        &t
    ));
    assert!(!read_together(
        &a,
        &tap(2, "04000002", "T0002", "k-b", "hall-a", 9, 1),
        &t
    ));
    assert!(!read_together(
        &a,
        &tap(2, "04000002", "T0002", "k-a", "hall-a", 8, 1),
        &t
    ));
    assert!(!read_together(
        &a,
        &tap(2, "04000009", "T0001", "k-a", "hall-a", 9, 1),
        &t
    ));
}

/// A card the registry knows as revoked, read: flagged on the tap, once.
#[test]
fn a_revoked_card_read() {
    let mut analyzer = Analyzer::new(FlagThresholds::default(), Campus::default());
    let mut lost = tap(7, "04ABCDEF", "T0005", "k-a", "hall-a", 1, 0);
    lost.revoked = true;
    let f = analyzer.see(lost.clone());
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule, FlagRule::RevokedCard);
    assert_eq!(positions(&f[0]), [7]);
    assert_eq!(f[0].people, [StaffNo::parse("T0005").unwrap()]);
    assert_eq!(analyzer.see(lost), vec![], "a tap seen again adds nothing");
}

/// A flag records a finding once; a review needs a reason and happens once.
#[test]
fn a_flag_is_raised_once_and_reviewed_once() {
    let finding = Finding {
        key: "revoked_card-1".to_owned(),
        rule: FlagRule::RevokedCard,
        people: vec![StaffNo::parse("T0005").unwrap()],
        evidence: vec![Evidence {
            position: 7,
            tap: Uuid::from_u128(7),
        }],
    };
    let flag = Flag::default();
    assert!(matches!(
        flag.review(
            "revoked_card-1",
            Verdict::Confirmed,
            "lent",
            &StaffNo::parse("C0001").unwrap(),
            at(0)
        ),
        Err(DomainError::NotFound { .. })
    ));
    let raised = flag.record(&finding);
    assert_eq!(
        raised,
        vec![FlagEvent::FlagRaised {
            rule: FlagRule::RevokedCard,
            rule_version: 1,
            people: finding.people.clone(),
            evidence: finding.evidence.clone(),
        }]
    );
    let flag = Flag::fold(&raised).unwrap();
    assert_eq!(flag.record(&finding), vec![], "found again: nothing new");
    let chair = StaffNo::parse("C0001").unwrap();
    let err = flag
        .review("revoked_card-1", Verdict::Dismissed, "  ", &chair, at(0))
        .unwrap_err();
    assert_eq!(err.code(), "BAD_USER_INPUT");
    let reviewed = flag
        .review(
            "revoked_card-1",
            Verdict::Dismissed,
            " found the card in the hall ",
            &chair,
            at(60),
        )
        .unwrap();
    assert_eq!(
        reviewed,
        vec![FlagEvent::FlagReviewed {
            verdict: Verdict::Dismissed,
            reason: "found the card in the hall".to_owned(),
            reviewer: chair.clone(),
            at: at(60),
        }]
    );
    let mut flag = flag;
    flag.apply(&reviewed[0]).unwrap();
    let again = flag
        .review(
            "revoked_card-1",
            Verdict::Confirmed,
            "second thoughts",
            &chair,
            at(120),
        )
        .unwrap_err();
    assert_eq!(
        again.to_string(),
        "flag \"revoked_card-1\" was already dismissed by C0001"
    );
}

/// The flags found in the end: each key with the union of its evidence.
fn flags_of(order: &[SeenTap]) -> BTreeMap<String, BTreeSet<u64>> {
    let mut analyzer = Analyzer::new(FlagThresholds::default(), Campus::default());
    let mut flags: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for t in order {
        for f in analyzer.see(t.clone()) {
            flags
                .entry(f.key.clone())
                .or_default()
                .extend(positions(&f));
        }
    }
    flags
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Taps of a few cards at two halls over five Tuesdays, some of them
    /// revoked, arriving in any order (kiosks that sync late): the flags of
    /// the finished days are the same as in the order they were read.
    #[test]
    fn the_flags_of_a_finished_day_do_not_depend_on_arrival_order(
        taps in prop::collection::vec((0u8..6, 0u8..2, 0u8..5, 0i64..900, prop::bool::weighted(0.05)), 1..80),
        seed in any::<u64>(),
    ) {
        let week = 7 * 24 * 3600;
        let read: Vec<SeenTap> = taps
            .iter()
            .enumerate()
            .map(|(i, (card, hall, week_no, secs, revoked))| {
                let n = u64::try_from(i).unwrap() + 1;
                let mut t = tap(
                    n,
                    &format!("040000{card:02}"),
                    &format!("T000{card}"),
                    &format!("k-{hall}"),
                    &format!("hall-{hall}"),
                    u128::from(*week_no) * 2 + u128::from(*hall),
                    i64::from(*week_no) * week + secs,
                );
                t.revoked = *revoked;
                t
            })
            .collect();
        let mut in_time = read.clone();
        in_time.sort_by_key(|t| (t.at, t.tap));
        // A shuffle by the seed.
        let mut shuffled = read.clone();
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, usize::try_from(x % (i as u64 + 1)).unwrap());
        }
        let expected = flags_of(&in_time);
        prop_assert_eq!(flags_of(&shuffled), expected.clone());
        let mut reversed = in_time;
        reversed.reverse();
        prop_assert_eq!(flags_of(&reversed), expected);
    }
}
