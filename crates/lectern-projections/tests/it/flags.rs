//! The `flags` projector: what the proxy-tap rules find in the raw taps is
//! recorded once as flag events, whatever order the taps arrive in and
//! however often the projector starts again or is rebuilt.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use lectern_domain::*;
use lectern_projections::{Error, Options, Projections, ReadDb, Val, commit, load, rebuild};
use lectern_store::testkit::TestDb;
use lectern_store::{Metadata, Store};
use uuid::Uuid;

both_backends!(
    flags_are_found_and_recorded_once,
    a_rebuild_records_the_flags_and_shows_them,
    leave_late_lines_and_wrong_venues_are_flagged_by_the_configured_thresholds,
    a_failing_analyzer_holds_up_no_writer
);

const WAIT: StdDuration = StdDuration::from_secs(60);

/// Tuesday 4 March 2008, 14:00 on campus (06:00 UTC), plus `week` weeks
/// and `secs` seconds.
fn at(week: i64, secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2008, 3, 4, 6, 0, 0).unwrap()
        + Duration::weeks(week)
        + Duration::seconds(secs)
}

/// Records a tap of `card` (held by `person`) at `kiosk` (in `venue`) for
/// the session of week `week`, as the server decided it.
#[allow(clippy::too_many_arguments)]
async fn tap(
    store: &Store,
    kiosk: &str,
    venue: &str,
    card: &str,
    person: &str,
    week: i64,
    secs: i64,
    outcome: TapOutcome,
) -> u64 {
    let stream = kiosk_stream(kiosk);
    let (ledger, version) = load::<KioskLedger>(store, &stream, u64::MAX).await.unwrap();
    let when = at(week, secs);
    let session = session_id(week, venue);
    let event = KioskEvent::CardTapped {
        tap: Uuid::now_v7(),
        venue: Slug::parse(venue).unwrap(),
        card: CardUid::parse(card).unwrap(),
        kiosk_time: when,
        counter: ledger.last_counter.unwrap_or(0) + 1,
        signature: "ab".repeat(32),
        decision: Some(TapDecision {
            at: when,
            clock_offset_ms: 0,
            placed: None,
            person: Some(StaffNo::parse(person).unwrap()),
            session: Some(session),
            outcome,
        }),
        enrolment: None,
        clock: None,
    };
    let events = ledger.decide(&event).unwrap();
    commit(store, &stream, version, &events, &[], &Metadata::default())
        .await
        .unwrap()
        .last_position
}

/// The session at `venue` on the Tuesday of week `week`.
fn session_id(week: i64, venue: &str) -> SessionId {
    Uuid::from_u128(
        0x5e55_0000 + u128::try_from(week).unwrap() * 16 + u128::from(venue == "hall-b"),
    )
}

/// Schedules the session at `venue` in week `week`: 14:00 to 16:00, check-in
/// from 13:30, present until 14:10 (600 s).
async fn schedule(store: &Store, week: i64, venue: &str) {
    let id = session_id(week, venue);
    let event = SessionEvent::SessionScheduled(Schedule {
        id,
        kind: SessionKind::CentralizedStudy,
        title: Name::parse("Tuesday study").unwrap(),
        programme: None,
        organiser: Slug::parse("cs-dept").unwrap(),
        venue: Slug::parse(venue).unwrap(),
        window: TimeWindow::new(at(week, 0), at(week, 7200)).unwrap(),
        check_in: CheckInRules::default(),
        audience: Audience::Open,
        speakers: vec![],
        series: None,
    });
    commit(
        store,
        &session_stream(id),
        0,
        &[event],
        &[],
        &Metadata::default(),
    )
    .await
    .unwrap();
}

/// Records `person`'s leave from the session at `venue` in week `week`,
/// requested and approved.
async fn leave(store: &Store, week: i64, venue: &str, person: &str) {
    let stream = session_stream(session_id(week, venue));
    let person = StaffNo::parse(person).unwrap();
    let (_, version) = load::<Session>(store, &stream, u64::MAX).await.unwrap();
    let events = [
        SessionEvent::LeaveRequested {
            person: person.clone(),
            reason: "a training in Beijing".to_owned(),
            at: at(week, -86_400),
        },
        SessionEvent::LeaveApproved {
            person,
            approver: StaffNo::parse("C0001").unwrap(),
        },
    ];
    commit(store, &stream, version, &events, &[], &Metadata::default())
        .await
        .unwrap();
}

const PRESENT: TapOutcome = TapOutcome::Recorded(AttendanceStatus::Present);

/// Waits until the read models have everything, flag events the projector
/// appended included.
async fn settled(p: &Projections, store: &Store) -> u64 {
    loop {
        let head = store.head().await.unwrap();
        p.wait_for_all(head, WAIT).await.unwrap();
        if store.head().await.unwrap() == head {
            return head;
        }
    }
}

/// `(key, rule, taps, status, people)` of every flag, by key.
async fn flags(read: &ReadDb) -> Vec<(String, String, i64, String, String)> {
    read.fetch(
        "SELECT key, rule, taps, status, people FROM rm_flags ORDER BY key",
        &[],
    )
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        (
            r.text("key"),
            r.text("rule"),
            r.int_opt("taps").unwrap(),
            r.text("status"),
            r.text("people"),
        )
    })
    .collect()
}

async fn count(read: &ReadDb, sql: &str) -> i64 {
    read.fetch(sql, &[] as &[Val]).await.unwrap()[0]
        .int_opt("n")
        .unwrap()
}

/// Worked by hand, in the order the taps reach the server:
/// - weeks 0–3: T0001 and T0002 tap one second apart at k-a (hall-a),
///   T0003 five seconds after T0002: the pair T0001/T0002 is read together
///   at four sessions, flagged once with 8 taps; T0003 never;
/// - week 0: T0004's card at k-a at 14:00:30, and at k-b (hall-b) at
///   14:06:30, a tap that kiosk k-b delivers only after week 3's taps: one
///   `two_venues` flag, with 2 taps;
/// - week 1: T0005's revoked card read at k-a: one `revoked_card` flag.
///
/// So 3 flags and 11 taps behind them. A rebuild and a fresh start record
/// nothing again; week 4's pair adds its 2 taps to the pair's flag.
async fn flags_are_found_and_recorded_once(db: TestDb) {
    let store = db.store_with(lectern_projections::store_options()).await;
    let read = ReadDb::connect(&db.url).await.unwrap();
    let p = Projections::start(store.clone(), read.clone(), Options::default())
        .await
        .unwrap();
    for week in 0..4 {
        tap(
            &store, "k-a", "hall-a", "04000001", "T0001", week, 0, PRESENT,
        )
        .await;
        tap(
            &store, "k-a", "hall-a", "04000002", "T0002", week, 1, PRESENT,
        )
        .await;
        tap(
            &store, "k-a", "hall-a", "04000003", "T0003", week, 6, PRESENT,
        )
        .await;
        if week == 0 {
            tap(&store, "k-a", "hall-a", "04000004", "T0004", 0, 30, PRESENT).await;
        }
        if week == 1 {
            let revoked = TapOutcome::Rejected(RejectReason::RevokedCard);
            tap(&store, "k-a", "hall-a", "04000005", "T0005", 1, 40, revoked).await;
        }
    }
    // k-b, offline since week 0, syncs.
    tap(
        &store, "k-b", "hall-b", "04000004", "T0004", 0, 390, PRESENT,
    )
    .await;
    settled(&p, &store).await;

    let found = flags(&read).await;
    let keys: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(keys.len(), 3, "{found:?}");
    assert_eq!(keys[0], "burst_together-T0001-T0002-2008");
    assert!(keys[1].starts_with("revoked_card-"), "{keys:?}");
    assert!(keys[2].starts_with("two_venues-"), "{keys:?}");
    let summary: Vec<(&str, i64, &str, &str)> = found
        .iter()
        .map(|f| (f.1.as_str(), f.2, f.3.as_str(), f.4.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("burst_together", 8, "open", r#"["T0001","T0002"]"#),
            ("revoked_card", 1, "open", r#"["T0005"]"#),
            ("two_venues", 2, "open", r#"["T0004"]"#),
        ]
    );
    assert_eq!(
        count(&read, "SELECT COUNT(*) AS n FROM rm_flag_evidence").await,
        11
    );
    assert_eq!(
        count(&read, "SELECT COUNT(*) AS n FROM rm_flag_people").await,
        4
    );
    let evidence = read
        .fetch(
            "SELECT kiosk, venue, card, staff_no FROM rm_flag_evidence \
             WHERE key LIKE 'two_venues-%' ORDER BY read_at",
            &[],
        )
        .await
        .unwrap();
    let evidence: Vec<String> = evidence
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r.text("kiosk"),
                r.text("venue"),
                r.text("card"),
                r.text("staff_no")
            )
        })
        .collect();
    assert_eq!(
        evidence,
        ["k-a hall-a 04000004 T0004", "k-b hall-b 04000004 T0004"]
    );
    // The flags are events: one FlagRaised each, recorded by the analyzer.
    let (flag, _) = load::<Flag>(&store, "flag-burst_together-T0001-T0002-2008", u64::MAX)
        .await
        .unwrap();
    assert_eq!(flag.rule, Some(FlagRule::BurstTogether));
    assert_eq!(flag.evidence.len(), 8);

    // Rebuilt, and started afresh: nothing is recorded twice.
    let head = store.head().await.unwrap();
    p.stop().await;
    rebuild(&store, &read, Some("flags"), Options::default())
        .await
        .unwrap();
    assert_eq!(
        store.head().await.unwrap(),
        head,
        "a rebuild appends nothing"
    );
    assert_eq!(flags(&read).await, found);
    let p = Projections::start(store.clone(), read.clone(), Options::default())
        .await
        .unwrap();
    // Week 4: the pair again, the fifth session.
    tap(&store, "k-a", "hall-a", "04000001", "T0001", 4, 0, PRESENT).await;
    tap(&store, "k-a", "hall-a", "04000002", "T0002", 4, 2, PRESENT).await;
    settled(&p, &store).await;
    let after = flags(&read).await;
    assert_eq!(after.len(), 3);
    assert_eq!(after[0].2, 10, "{after:?}");
    let (_, version) = load::<Flag>(&store, "flag-burst_together-T0001-T0002-2008", u64::MAX)
        .await
        .unwrap();
    assert_eq!(version, 2, "raised, then the fifth session's taps added");
    p.stop().await;
}

/// Taps recorded while no analyzer ran: a rebuild of `flags` records the
/// revoked card's flag, and shows it once it is recorded (the rebuild
/// catches up with the events it appended before it swaps).
async fn a_rebuild_records_the_flags_and_shows_them(db: TestDb) {
    let store = db.store_with(lectern_projections::store_options()).await;
    let read = ReadDb::connect(&db.url).await.unwrap();
    let revoked = TapOutcome::Rejected(RejectReason::RevokedCard);
    tap(&store, "k-a", "hall-a", "04000005", "T0005", 0, 0, revoked).await;
    tap(&store, "k-a", "hall-a", "04000001", "T0001", 0, 5, PRESENT).await;
    let before = store.head().await.unwrap();
    rebuild(&store, &read, Some("flags"), Options::default())
        .await
        .unwrap();
    assert_eq!(store.head().await.unwrap(), before + 1, "one FlagRaised");
    let found = flags(&read).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, "revoked_card");
}

/// With `last_sessions` and `wrong_venue_sessions` configured as 2, worked
/// by hand (sessions at hall-a in weeks 0 and 1 and at hall-b in week 0,
/// present until 14:10):
/// - T0007 taps at k-a 50 s before the late line, T0008 at k-c 5 s before
///   it, both weeks: `last_seconds` with 4 taps at the second week (the
///   default, 4 sessions, would not flag them). T0010, 61 s before the
///   line both weeks, is in no flag.
/// - T0006's card is read at hall-b at 14:20 in week 0; their leave from
///   hall-a's session that afternoon is approved afterwards: `on_leave`,
///   1 tap.
/// - T0009's card is refused as not expected at hall-a at 14:05 and at
///   hall-b at 15:05 (an hour apart: no `two_venues`): `wrong_venue`, 2
///   taps. T0011's, refused at hall-a only (twice), is not flagged.
/// - T0012 is on leave from hall-b's session too; their card is read at
///   hall-a at 16:01, after that session ended: not flagged.
/// - T0013's card is read at hall-a at 14:00 and at hall-b at 14:10:10:
///   more than the 10 minutes' walk, no `two_venues`.
async fn leave_late_lines_and_wrong_venues_are_flagged_by_the_configured_thresholds(db: TestDb) {
    let store = db.store_with(lectern_projections::store_options()).await;
    let read = ReadDb::connect(&db.url).await.unwrap();
    let opts = Options {
        flags: FlagThresholds {
            last_sessions: 2,
            wrong_venue_sessions: 2,
            ..FlagThresholds::default()
        },
        ..Options::default()
    };
    let p = Projections::start(store.clone(), read.clone(), opts)
        .await
        .unwrap();
    schedule(&store, 0, "hall-a").await;
    schedule(&store, 1, "hall-a").await;
    schedule(&store, 0, "hall-b").await;
    for week in 0..2 {
        tap(
            &store, "k-a", "hall-a", "04000010", "T0010", week, 539, PRESENT,
        )
        .await;
        tap(
            &store, "k-a", "hall-a", "04000007", "T0007", week, 550, PRESENT,
        )
        .await;
        tap(
            &store, "k-c", "hall-a", "04000008", "T0008", week, 595, PRESENT,
        )
        .await;
    }
    let on_leave = tap(
        &store, "k-b", "hall-b", "04000006", "T0006", 0, 1200, PRESENT,
    )
    .await;
    leave(&store, 0, "hall-a", "T0006").await;
    let refused = TapOutcome::Rejected(RejectReason::NotInAudience);
    tap(
        &store, "k-a", "hall-a", "04000009", "T0009", 0, 300, refused,
    )
    .await;
    tap(
        &store, "k-b", "hall-b", "04000009", "T0009", 0, 3900, refused,
    )
    .await;
    tap(
        &store, "k-a", "hall-a", "04000011", "T0011", 0, 310, refused,
    )
    .await;
    tap(
        &store, "k-c", "hall-a", "04000011", "T0011", 0, 320, refused,
    )
    .await;
    leave(&store, 0, "hall-b", "T0012").await;
    tap(
        &store, "k-a", "hall-a", "04000012", "T0012", 0, 7260, PRESENT,
    )
    .await;
    tap(&store, "k-a", "hall-a", "04000013", "T0013", 0, 0, PRESENT).await;
    tap(
        &store, "k-b", "hall-b", "04000013", "T0013", 0, 610, PRESENT,
    )
    .await;
    settled(&p, &store).await;

    let found = flags(&read).await;
    let summary: Vec<(&str, i64, &str)> = found
        .iter()
        .map(|f| (f.1.as_str(), f.2, f.4.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("last_seconds", 4, r#"["T0007","T0008"]"#),
            ("on_leave", 1, r#"["T0006"]"#),
            ("wrong_venue", 2, r#"["T0009"]"#),
        ],
        "{found:?}"
    );
    assert_eq!(found[0].0, "last_seconds-T0007-T0008-2008");
    assert!(
        found[1]
            .0
            .ends_with(&format!("-{}", session_id(0, "hall-a"))),
        "{found:?}"
    );
    assert_eq!(found[2].0, "wrong_venue-T0009-2008");
    let leave_taps = read
        .fetch(
            "SELECT position FROM rm_flag_evidence WHERE key LIKE 'on_leave-%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(leave_taps.len(), 1);
    assert_eq!(
        leave_taps[0].int_opt("position"),
        Some(i64::try_from(on_leave).unwrap())
    );
    p.stop().await;
}

/// The analyzer is not awaited: with its read model stopped at a flag
/// event it cannot read, a writer's wait (`wait_for`) still returns once
/// the other read models have the tap after it, and the position shown is
/// theirs; `wait_for_all` names the analyzer's failure.
async fn a_failing_analyzer_holds_up_no_writer(db: TestDb) {
    let store = db.store_with(lectern_projections::store_options()).await;
    let read = ReadDb::connect(&db.url).await.unwrap();
    let p = Projections::start(store.clone(), read.clone(), Options::default())
        .await
        .unwrap();
    let poisoned = store
        .append(
            "flag-poisoned",
            lectern_store::ExpectedVersion::Any,
            vec![lectern_store::NewEvent::from_json("FlagRaised", r#"{"nobody":true}"#).unwrap()],
        )
        .await
        .unwrap()
        .last_position;
    let after = tap(&store, "k-a", "hall-a", "04000001", "T0001", 0, 0, PRESENT).await;
    p.wait_for(after, WAIT).await.unwrap();
    assert!(p.position() >= after);
    match p.wait_for_all(after, WAIT).await {
        Err(Error::Failed(f)) => {
            assert_eq!((f.projector, f.position), ("flags", poisoned), "{f:?}");
        }
        other => panic!("expected the flags projector's failure, got {other:?}"),
    }
    p.stop().await;
}
