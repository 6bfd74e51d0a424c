//! Replay against the read models, on SQLite and PostgreSQL, over a
//! generated campus.
#![allow(unreachable_pub)] // a test binary exports nothing

#[macro_use]
extern crate lectern_store; // both_backends!

use chrono::{NaiveDate, TimeZone, Utc};
use lectern_audit::replay::{AsOf, replay_person};
use lectern_domain::{APPRAISAL_STREAM, Campus, Period, appraise_entries};
use lectern_projections::{Options, Projections, ReadDb, person_entries, positioned};
use lectern_store::testkit::TestDb;

both_backends!(replay_at_the_head_equals_the_read_models);

async fn replay_at_the_head_equals_the_read_models(db: TestDb) {
    let store = db.store().await;
    store.migrate().await.unwrap();
    let campus = lectern_server::synth::generate(&store, 15_000, 3)
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
    for person in campus.people.iter().step_by(3) {
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
    }
    assert!(lines >= 20, "late and absence lines to compare ({lines})");
    projections.stop().await;
}
