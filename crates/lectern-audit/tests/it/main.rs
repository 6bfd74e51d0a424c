//! Replay against the read models, on SQLite and PostgreSQL, over a
//! generated campus.
#![allow(unreachable_pub)] // a test binary exports nothing

#[macro_use]
extern crate lectern_store; // both_backends!

use chrono::{NaiveDate, TimeZone, Utc};
use lectern_audit::bundle::{self, Bundle};
use lectern_audit::checkpoints::Signer;
use lectern_audit::replay::{self, AsOf, replay_person};
use lectern_domain::{APPRAISAL_STREAM, Campus, Period, appraise_entries};
use lectern_projections::{Options, Projections, ReadDb, Val, person_entries, positioned};
use lectern_store::testkit::TestDb;

both_backends!(replay_at_the_head_equals_the_read_models);

async fn replay_at_the_head_equals_the_read_models(db: TestDb) {
    let store = db.store_with(lectern_projections::store_options()).await;
    store.migrate().await.unwrap();
    let campus = lectern_synth::bulk::generate(&store, 15_000, 3)
        .await
        .unwrap();
    let read = ReadDb::connect(&db.url).await.unwrap();
    let projections = Projections::start(store.clone(), read.clone(), Options::default())
        .await
        .unwrap();
    projections
        .wait_for(
            store.head().await.unwrap(),
            std::time::Duration::from_secs(120),
        )
        .await
        .unwrap();
    let place = Campus::default();
    let appraisal = positioned(&store, APPRAISAL_STREAM, u64::MAX)
        .await
        .unwrap();
    let year = Period::year(2007).unwrap();
    let spring = Period::month(2007, 3).unwrap();
    let cutoff = Utc.with_ymd_and_hms(2007, 3, 15, 0, 0, 0).unwrap();
    let mut lines = 0;
    let keys = tempfile::tempdir().unwrap();
    let signer = Signer::create(&keys.path().join("checkpoint.key")).unwrap();
    let mut bundled = 0;
    let mut attendance = 0;
    for (i, person) in campus.people.iter().step_by(3).enumerate() {
        for period in [&year, &spring] {
            let entries = person_entries(&read, &place, person, period).await.unwrap();
            let from_read_models = appraise_entries(person, period, &appraisal, &entries).unwrap();
            let replayed = replay_person(&store, &read, &place, person, period, AsOf::Now)
                .await
                .unwrap();
            assert_eq!(replayed, from_read_models, "{person} in {period:?}");
            lines += replayed.lines.iter().filter(|l| l.rule != "base").count();
        }
        // As it happened by mid-March: only what occurred by then, and the
        // same lines as the full replay for those dates.
        let full = replay_person(&store, &read, &place, person, &year, AsOf::Now)
            .await
            .unwrap();
        let early = replay_person(&store, &read, &place, person, &year, AsOf::Occurred(cutoff))
            .await
            .unwrap();
        let day = NaiveDate::from_ymd_opt(2007, 3, 14).unwrap();
        let before = |a: &lectern_domain::Appraisal| {
            a.lines
                .iter()
                .filter(|l| l.rule != "base" && l.date <= day)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(before(&early), before(&full), "{person}");
        assert!(
            early
                .lines
                .iter()
                .all(|l| l.rule == "base" || l.date <= day + chrono::Duration::days(1)),
            "{person}: {early:?}"
        );
        // As the system showed before the log held anything: nothing.
        let nothing = replay_person(
            &store,
            &read,
            &place,
            person,
            &year,
            AsOf::Recorded(Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap()),
        )
        .await
        .unwrap();
        assert_eq!((nothing.total, nothing.lines.len()), (0, 0), "{person}");
        let recorded_now = replay_person(
            &store,
            &read,
            &place,
            person,
            &year,
            AsOf::Recorded(Utc::now()),
        )
        .await
        .unwrap();
        assert_eq!(recorded_now, full);
        // Attendance replayed from the session streams equals the read
        // model's; as the system showed before the log began: nothing.
        let sessions = replay::sessions_of(&read, &place, person, &year)
            .await
            .unwrap();
        let replayed = replay::replay_attendance(&store, person, &sessions, AsOf::Now)
            .await
            .unwrap();
        assert_eq!(replayed.len(), sessions.len());
        for r in &replayed {
            let row = read
                .fetch(
                    "SELECT status, leave FROM rm_attendance WHERE staff_no = $1 \
                     AND session_id = $2",
                    &[Val::from(person.as_str()), Val::from(r.session.to_string())],
                )
                .await
                .unwrap();
            let status = r.status.map(|s| format!("{s:?}").to_lowercase());
            let leave = r.leave.map(|l| format!("{l:?}").to_lowercase());
            assert_eq!(
                (status, leave),
                (row[0].opt("status"), row[0].opt("leave")),
                "{person} at {}",
                r.session
            );
            attendance += 1;
        }
        let early = replay::replay_attendance(
            &store,
            person,
            &sessions,
            AsOf::Recorded(Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap()),
        )
        .await
        .unwrap();
        assert!(early.is_empty(), "{person}: {early:?}");
        // The history holds the events behind every line, and no one
        // else's.
        let history = replay::replay_history(&store, &read, &place, person, &year, AsOf::Now)
            .await
            .unwrap();
        for l in &full.lines {
            for p in &l.positions {
                assert!(
                    history.iter().any(|e| e.position == *p),
                    "{person}: line {l:?}"
                );
            }
        }
        assert!(history.iter().all(|e| replay::concerns(person, e)));
        // A bundle of the year checks offline and gives the same lines,
        // from the events about the person alone.
        if i % 3 == 0 {
            let b = bundle::export(&store, &read, &place, person, 2007, Some(&signer))
                .await
                .unwrap();
            let checked = b.check(Some(&hex(&signer.public()))).unwrap();
            assert_eq!(checked.lines, bundle::lines_of(&full), "{person}");
            assert_eq!(checked.total, full.total);
            assert!(
                b.events.iter().all(|e| !e.payload.contains("\"person\"")
                    || e.payload.contains(&format!("\"person\":\"{person}\""))),
                "{person}: no one else's events"
            );
            bundled += 1;
            if bundled == 1 {
                edited_bundles_are_named(&b);
            }
        }
    }
    // A unit's month replayed equals the read model's figures; as the
    // system showed before the log began, nothing was held.
    let mut held = 0;
    for unit in &campus.units {
        for month in [3, 9] {
            let period = Period::month(2007, month).unwrap();
            let replayed =
                replay::replay_unit_month(&store, &read, &place, unit, &period, AsOf::Now)
                    .await
                    .unwrap();
            let figures = lectern_projections::unit_month_figures(&read, &place, unit, &period)
                .await
                .unwrap();
            assert_eq!(replayed, figures, "{unit} in 2007-{month:02}");
            held += replayed.sessions_held;
        }
        let before = replay::replay_unit_month(
            &store,
            &read,
            &place,
            unit,
            &spring,
            AsOf::Recorded(Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap()),
        )
        .await
        .unwrap();
        assert_eq!(before, Default::default(), "{unit}");
        let history = replay::replay_unit_history(&store, unit, 2007, AsOf::Now)
            .await
            .unwrap();
        assert!(
            history.iter().any(|e| e.event_type == "UnitEstablished"),
            "{unit}: {} events",
            history.len()
        );
    }
    assert!(held > 10, "sessions held in the months compared ({held})");
    assert!(bundled >= 3, "bundles checked ({bundled})");
    assert!(attendance >= 50, "attendance compared ({attendance})");
    assert!(lines >= 20, "late and absence lines to compare ({lines})");
    projections.stop().await;
}

fn hex(b: &[u8]) -> String {
    lectern_audit::checkpoints::hex(b)
}

/// Each edit of a good bundle fails its check, and the failure names it.
fn edited_bundles_are_named(good: &Bundle) {
    let fails = |what: &str, edit: &dyn Fn(&mut Bundle), needle: &str| {
        let mut b = good.clone();
        edit(&mut b);
        let e = b.check(None).expect_err(what).to_string();
        assert!(e.contains(needle), "{what}: {e}");
    };
    let scored = good
        .lines
        .iter()
        .find(|l| l.rule != "base")
        .expect("a line besides the base points");
    let behind = scored.positions[0];
    let at = good
        .events
        .iter()
        .position(|e| e.position == behind)
        .unwrap();
    fails(
        "an edited payload",
        &|b| b.events[at].payload = b.events[at].payload.replacen('"', "\"edited\":1,\"", 1),
        &format!("the event at position {behind} ("),
    );
    fails(
        "an edited time",
        &|b| b.events[at].occurred_at += chrono::Duration::seconds(1),
        &format!("the event at position {behind} ("),
    );
    fails(
        "an edited proof",
        &|b| b.events[0].proof[0] = "00".repeat(32),
        "is not as the log of the checkpoint holds it",
    );
    fails(
        "a moved event",
        &|b| b.events[at].position += 1,
        "is not as the log of the checkpoint holds it",
    );
    fails(
        "a dropped event",
        &|b| {
            b.events.remove(at);
        },
        "the bundled events give",
    );
    fails(
        "an edited line",
        &|b| {
            let l = b.lines.iter_mut().find(|l| l.rule != "base").unwrap();
            l.points = 0;
        },
        "the bundled events give",
    );
    fails(
        "an edited total",
        &|b| b.total += 5,
        "the bundle states a total of",
    );
    fails(
        "a forged checkpoint",
        &|b| b.checkpoint.root = "11".repeat(32),
        "signature",
    );
    let mut b = good.clone();
    b.format = "something-else".into();
    assert!(
        b.check(None)
            .unwrap_err()
            .to_string()
            .contains("bundle format")
    );
    let other = "22".repeat(32);
    let e = good.check(Some(&other)).unwrap_err().to_string();
    assert!(e.contains("not the trusted key"), "{e}");
}
