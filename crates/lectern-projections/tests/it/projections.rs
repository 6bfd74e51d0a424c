//! Projectors against generated histories: the read models equal the
//! domain folds, survive being killed anywhere, rebuild beside live
//! readers, and report where they stand.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lectern_domain::*;
use lectern_projections::{
    Error, Options, Projections, ReadDb, Row, Stmt, Val, commit, person_entries, projector_names,
    rebuild, unit_month_figures,
};
use lectern_store::Store;
use lectern_store::testkit::TestDb;

use lectern_synth::history::{Folds, fold_all, generate};

both_backends!(
    read_models_equal_the_folds,
    ledgers_and_figures_equal_the_folds,
    a_killed_projector_resumes_without_loss,
    rebuild_swaps_beside_live_readers,
    lag_waits_and_versions,
    a_failing_projector_stops_only_itself,
    a_missing_integer_and_a_number_share_one_statement,
);

const WAIT: Duration = Duration::from_secs(60);

async fn start(store: &Store, read: &ReadDb, batch_size: usize) -> Projections {
    let opts = Options {
        batch_size,
        ..Options::default()
    };
    Projections::start(store.clone(), read.clone(), opts)
        .await
        .expect("start projections")
}

async fn caught_up(p: &Projections, store: &Store) {
    let head = store.head().await.unwrap();
    p.wait_for_all(head, WAIT)
        .await
        .expect("read models catch up");
}

fn text(v: &Val) -> Option<&str> {
    v.as_str()
}

/// Rows as values in select order: these tests compare whole rows of
/// the read models with what the folds give, column by column.
type Values = Vec<Val>;

trait Cells {
    fn cells(self) -> Vec<Values>;
}

impl Cells for Vec<Row> {
    fn cells(self) -> Vec<Values> {
        self.iter().map(|r| r.values().to_vec()).collect()
    }
}

async fn rows(read: &ReadDb, sql: &str) -> Vec<Values> {
    read.fetch(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .cells()
}

/// Every read-model table, in a stable order.
async fn dump(read: &ReadDb) -> Vec<Vec<Values>> {
    let mut out = Vec::new();
    for sql in [
        "SELECT * FROM rm_units ORDER BY id",
        "SELECT * FROM rm_people ORDER BY staff_no",
        "SELECT * FROM rm_sessions ORDER BY id",
        "SELECT * FROM rm_attendance ORDER BY session_id, staff_no",
        "SELECT * FROM rm_programmes ORDER BY id",
        "SELECT * FROM rm_programme_plans ORDER BY programme, year, kind",
        "SELECT * FROM rm_programme_notices ORDER BY programme, seq",
        "SELECT * FROM rm_programme_participants ORDER BY programme, staff_no",
        "SELECT * FROM rm_programme_report ORDER BY programme, year",
        "SELECT * FROM rm_tasks ORDER BY id",
        "SELECT * FROM rm_task_people ORDER BY task_id, staff_no",
        "SELECT * FROM rm_award_categories ORDER BY id",
        "SELECT * FROM rm_nominations ORDER BY category, year, nominee_kind, nominee",
        "SELECT * FROM rm_exemplars ORDER BY category, seq",
        "SELECT * FROM rm_leadership_meetings ORDER BY year, month",
        "SELECT * FROM rm_unit_months ORDER BY unit, year, month",
        "SELECT * FROM rm_disputes ORDER BY id",
        // last_seen is when the event was recorded: the same in a rebuild.
        "SELECT * FROM rm_kiosks ORDER BY id",
    ] {
        out.push(rows(read, sql).await);
    }
    out
}

fn json<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v).unwrap() {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Checks every read model against the folds of the same events.
async fn assert_matches_folds(read: &ReadDb, f: &Folds) {
    assert_programmes_match(read, f).await;
    assert_tasks_match(read, f).await;
    assert_awards_match(read, f).await;
    assert_monthly_matches(read, f).await;
    let kiosks = rows(
        read,
        "SELECT id, taps, last_counter, gaps, missing FROM rm_kiosks ORDER BY id",
    )
    .await;
    assert_eq!(kiosks.len(), f.kiosks.len());
    for (row, (id, k)) in kiosks.iter().zip(&f.kiosks) {
        assert_eq!(text(&row[0]), Some(id.as_str()));
        assert_eq!(row[1].as_i64(), Some(k.taps as i64));
        assert_eq!(row[2].as_i64(), k.last_counter.map(|c| c as i64));
        assert_eq!(text(&row[3]), Some(json(&k.gaps).as_str()));
        let missing: u64 = k.gaps.iter().map(|(a, b)| b - a + 1).sum();
        assert_eq!(row[4].as_i64(), Some(missing as i64));
    }
    let disputes = rows(
        read,
        "SELECT id, person, year, auditor, status FROM rm_disputes ORDER BY id",
    )
    .await;
    assert_eq!(disputes.len(), f.disputes.len());
    for (row, (id, d)) in disputes.iter().zip(&f.disputes) {
        let (_, person, year) = d.filed.as_ref().unwrap();
        assert_eq!(text(&row[0]), Some(id.as_str()));
        assert_eq!(
            (text(&row[1]), row[2].as_i64()),
            (Some(person.as_str()), Some(i64::from(*year)))
        );
        assert_eq!(text(&row[3]), d.auditor.as_ref().map(|a| a.as_str()));
        let status = match (&d.outcome, &d.auditor) {
            (Some(o), _) => json(o),
            (None, Some(_)) => "assigned".into(),
            (None, None) => "filed".into(),
        };
        assert_eq!(text(&row[4]), Some(status.as_str()));
    }
    let units = rows(
        read,
        "SELECT id, name, kind, parent, dissolved, path FROM rm_units ORDER BY id",
    )
    .await;
    let expected: Vec<_> = f.org.units().collect();
    assert_eq!(units.len(), expected.len(), "one row per unit");
    for (row, u) in units.iter().zip(&expected) {
        assert_eq!(text(&row[0]), Some(u.id.as_str()));
        assert_eq!(text(&row[1]), Some(u.name.as_str()));
        assert_eq!(text(&row[2]), Some(json(&u.kind).as_str()));
        assert_eq!(text(&row[3]), u.parent.as_ref().map(|p| p.as_str()));
        assert_eq!(row[4].as_i64(), Some(i64::from(u.dissolved)));
        let mut path: Vec<&str> = f
            .org
            .ancestors(&u.id)
            .iter()
            .rev()
            .map(|a| a.id.as_str())
            .collect();
        path.push(u.id.as_str());
        assert_eq!(
            text(&row[5]),
            Some(format!("/{}/", path.join("/")).as_str())
        );
    }

    let people = rows(
        read,
        "SELECT staff_no, name, unit, left_on, card, roles FROM rm_people ORDER BY staff_no",
    )
    .await;
    let registered: Vec<_> = f
        .people
        .iter()
        .filter(|(_, p)| p.registered.is_some())
        .collect();
    assert_eq!(
        people.len(),
        registered.len(),
        "one row per registered person"
    );
    for (row, (no, p)) in people.iter().zip(&registered) {
        assert_eq!(text(&row[0]), Some(no.as_str()));
        assert_eq!(
            text(&row[1]),
            p.registered.as_ref().map(|r| r.name.as_str())
        );
        assert_eq!(text(&row[2]), p.unit.as_ref().map(|u| u.as_str()));
        assert_eq!(
            text(&row[3]).map(str::to_owned),
            p.left_on.map(|d| d.to_string())
        );
        assert_eq!(text(&row[4]), p.card.as_ref().map(|c| c.as_str()));
        assert_eq!(
            text(&row[5]),
            Some(serde_json::to_string(&p.roles).unwrap().as_str())
        );
    }

    let sessions = rows(
        read,
        "SELECT id, status, present, late, excused, absent, venue FROM rm_sessions ORDER BY id",
    )
    .await;
    assert_eq!(sessions.len(), f.sessions.len(), "one row per session");
    for (row, (id, s)) in sessions.iter().zip(&f.sessions) {
        let schedule = s.schedule.as_ref().unwrap();
        assert_eq!(text(&row[0]), Some(id.as_str()));
        let status = if s.cancelled {
            "cancelled"
        } else if s.closed {
            "closed"
        } else {
            "scheduled"
        };
        assert_eq!(text(&row[1]), Some(status), "status of {id}");
        for (i, st) in [
            AttendanceStatus::Present,
            AttendanceStatus::Late,
            AttendanceStatus::Excused,
            AttendanceStatus::Absent,
        ]
        .into_iter()
        .enumerate()
        {
            let n = s.roster.values().filter(|v| **v == st).count() as i64;
            assert_eq!(row[2 + i].as_i64(), Some(n), "{st:?} count of {id}");
        }
        assert_eq!(text(&row[6]), Some(schedule.venue.as_str()));
        let attendance = read
            .fetch(
                "SELECT staff_no, status, leave, seat FROM rm_attendance WHERE session_id = $1 ORDER BY staff_no",
                &[Val::from(id.as_str())],
            )
            .await
            .unwrap()
        .cells();
        let mut known: Vec<&StaffNo> = s
            .roster
            .keys()
            .chain(s.leave.keys())
            .chain(s.seats.keys())
            .collect();
        known.sort();
        known.dedup();
        assert_eq!(
            attendance.len(),
            known.len(),
            "people known to session {id}"
        );
        for (row, no) in attendance.iter().zip(known) {
            assert_eq!(text(&row[0]), Some(no.as_str()));
            assert_eq!(
                text(&row[1]).map(str::to_owned),
                s.roster.get(no).map(json),
                "status of {no} at {id}"
            );
            let leave = s.leave.get(no).map(|l| format!("{l:?}").to_lowercase());
            assert_eq!(
                text(&row[2]).map(str::to_owned),
                leave,
                "leave of {no} at {id}"
            );
            assert_eq!(
                text(&row[3]),
                s.seats.get(no).map(String::as_str),
                "seat of {no} at {id}"
            );
        }
    }
}

async fn read_models_equal_the_folds(db: TestDb) {
    let store = db.store_with(lectern_projections::store_options()).await;
    let read = ReadDb::connect(&db.url).await.unwrap();
    generate(&store, 7, 30, 10, 500).await;
    let p = start(&store, &read, 50).await;
    caught_up(&p, &store).await;
    let folds = fold_all(&store).await;
    // The history exercises what the read models show.
    let sessions = || folds.sessions.values();
    assert!(sessions().any(|s| s.closed) && sessions().any(|s| s.cancelled));
    assert!(sessions().any(|s| !s.leave.is_empty()) && sessions().any(|s| !s.seats.is_empty()));
    assert!(sessions().any(|s| s.roster.values().any(|v| *v == AttendanceStatus::Late)));
    assert!(folds.people.values().any(|p| p.left_on.is_some()));
    let ytnp = &folds.programmes["ytnp"];
    assert!(!ytnp.participants.is_empty() && ytnp.participants.len() < 30);
    let report = programme_report(
        &ytnp.launch.as_ref().unwrap().id,
        &Campus::default(),
        &folds.session_histories,
    )
    .unwrap();
    assert!(report.total.participants > 0, "{report:?}");
    let tasks = || folds.tasks.values();
    assert!(tasks().any(|t| t.missed.as_ref().is_some_and(|m| !m.is_empty())));
    assert!(tasks().any(|t| !t.completed.is_empty()) && tasks().any(|t| !t.waived.is_empty()));
    let good = &folds.awards["good-teacher"];
    assert!(good.nominations.values().any(|n| n.votes > 1));
    assert!(good.nominations.values().any(|n| n.conferred));
    assert!(
        folds
            .monthly
            .values()
            .any(|m| m.report.is_some() && m.checked)
    );
    assert_eq!(folds.monthly[LEADERSHIP_STREAM].meetings, vec![(2007, 2)]);
    assert!(folds.disputes.values().any(|d| d.auditor.is_some()));
    assert_eq!(folds.kiosks["hall-a-1"].gaps, vec![(4, 6)]);
    assert_matches_folds(&read, &folds).await;

    // Followed live: more history while the projectors run.
    generate(&store, 8, 40, 6, 300).await;
    caught_up(&p, &store).await;
    let folds = fold_all(&store).await;
    assert_eq!(folds.people.len(), 40);
    assert_matches_folds(&read, &folds).await;
    p.stop().await;
}

fn rules(version: u32, from: (i32, u32, u32), per_late: i32) -> AppraisalEvent {
    AppraisalEvent::ScoringRulesAdopted {
        rules: ScoringRules {
            version,
            effective_from: chrono::NaiveDate::from_ymd_opt(from.0, from.1, from.2).unwrap(),
            base_points: 100,
            per_absence: 5,
            per_late,
            per_missed_task: 3,
            award_bonus: [
                (AwardLevel::National, 20),
                (AwardLevel::Provincial, 10),
                (AwardLevel::City, 6),
                (AwardLevel::University, 4),
            ]
            .into_iter()
            .collect(),
            per_late_report: 10,
            report_due_day: 5,
            unit: Default::default(),
        },
    }
}

/// Every stream's events with their positions.
async fn positioned_streams(
    store: &Store,
) -> BTreeMap<String, Vec<(u64, chrono::DateTime<chrono::Utc>, String)>> {
    let mut streams: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for e in store.read_all(0, usize::MAX >> 1, None).await.unwrap() {
        streams.entry(e.stream_id.clone()).or_default().push((
            e.position,
            e.occurred_at,
            e.payload.clone(),
        ));
    }
    streams
}

fn decoded<E: DomainEvent>(
    events: &[(u64, chrono::DateTime<chrono::Utc>, String)],
) -> Vec<Positioned<E>> {
    events
        .iter()
        .map(|(position, occurred_at, payload)| Positioned {
            position: *position,
            occurred_at: *occurred_at,
            event: serde_json::from_str(payload).unwrap(),
        })
        .collect()
}

/// The API's appraisals and unit months read the ledger entries and the
/// figures from the read models; they equal the domain's folds over every
/// stream, for every person and unit, by year and by month, with rules
/// that change within the period.
async fn ledgers_and_figures_equal_the_folds(db: TestDb) {
    let store = db.store_with(lectern_projections::store_options()).await;
    let read = ReadDb::connect(&db.url).await.unwrap();
    let adopted = [rules(1, (2007, 1, 1), 2), rules(2, (2007, 3, 8), 3)];
    commit(
        &store,
        APPRAISAL_STREAM,
        0,
        &adopted,
        &[],
        &lectern_store::Metadata::default(),
    )
    .await
    .unwrap();
    // A seed whose history gives every kind of line (asserted below).
    generate(&store, 4, 30, 24, 900).await;
    let p = start(&store, &read, 64).await;
    caught_up(&p, &store).await;
    let streams = positioned_streams(&store).await;
    let pick = |prefix: &str| -> Vec<&Vec<_>> {
        streams
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .collect()
    };
    let appraisal: Vec<Positioned<AppraisalEvent>> = decoded(&streams[APPRAISAL_STREAM]);
    let sessions: Vec<Vec<Positioned<SessionEvent>>> =
        pick("session-").into_iter().map(|v| decoded(v)).collect();
    let tasks: Vec<Vec<Positioned<StudyEvent>>> =
        pick("task-").into_iter().map(|v| decoded(v)).collect();
    let awards: Vec<Vec<Positioned<AwardEvent>>> =
        pick("award-").into_iter().map(|v| decoded(v)).collect();
    let histories = Histories {
        appraisal: &appraisal,
        sessions: &sessions,
        tasks: &tasks,
        awards: &awards,
        monthly: &[],
    };
    let campus = Campus::default();
    let periods = [
        Period::year(2007).unwrap(),
        Period::month(2007, 3).unwrap(),
        Period::month(2007, 4).unwrap(),
    ];
    let folds = fold_all(&store).await;
    let mut rules_seen = BTreeMap::new();
    for no in folds.people.keys() {
        let no = StaffNo::parse(no).unwrap();
        for period in &periods {
            let fold = appraise_person(&no, period, &campus, &histories).unwrap();
            let entries = person_entries(&read, &campus, &no, period).await.unwrap();
            let api = appraise_entries(&no, period, &appraisal, &entries).unwrap();
            assert_eq!(api, fold, "{no} over {period:?}");
            for l in &fold.lines {
                *rules_seen.entry((l.rule, l.rule_version)).or_insert(0) += 1;
            }
        }
    }
    // The history gives lines of every kind, under both versions.
    for kind in [
        ("late", Some(1)),
        ("late", Some(2)),
        ("absence", Some(2)),
        ("missed_task", Some(2)),
        ("award", Some(2)),
    ] {
        assert!(rules_seen.contains_key(&kind), "{kind:?}: {rules_seen:?}");
    }

    let session_events: Vec<Vec<SessionEvent>> = folds.session_histories.clone();
    let task_events: Vec<Vec<StudyEvent>> = tasks
        .iter()
        .map(|h| h.iter().map(|p| p.event.clone()).collect())
        .collect();
    let mut held = 0;
    for unit in folds.org.units().map(|u| &u.id) {
        // The unit's people over time, from the person streams: the unit
        // and the units below it.
        let mut members = UnitPeople::default();
        for (no, spans) in &folds.memberships {
            for (u, since, until) in spans {
                if folds.org.is_within(u, unit) {
                    members.insert(StaffNo::parse(no).unwrap(), *since, *until);
                }
            }
        }
        for month in 2..=4 {
            let period = Period::month(2007, month).unwrap();
            let fold = unit_month(
                unit,
                &period,
                &campus,
                &session_events,
                &task_events,
                &members,
            )
            .unwrap();
            let read_model = unit_month_figures(&read, &campus, unit, &period)
                .await
                .unwrap();
            assert_eq!(read_model, fold, "{unit} in 2007-{month:02}");
            held += fold.sessions_held;
        }
    }
    assert!(held > 0, "some units held sessions");
    p.stop().await;
}

async fn a_killed_projector_resumes_without_loss(db: TestDb) {
    let store = db.store_with(lectern_projections::store_options()).await;
    let read = ReadDb::connect(&db.url).await.unwrap();
    generate(&store, 11, 25, 8, 400).await;
    let head = store.head().await.unwrap();
    // Killed again and again, at a position or wherever it happens to be.
    for k in 1..=4u64 {
        let p = start(&store, &read, 7).await;
        p.wait_for(head * k / 5, WAIT).await.unwrap();
        p.abort();
        let p = start(&store, &read, 7).await;
        p.abort();
    }
    generate(&store, 12, 25, 4, 200).await;
    let p = start(&store, &read, 7).await;
    caught_up(&p, &store).await;
    p.stop().await;
    let resumed = dump(&read).await;
    assert_matches_folds(&read, &fold_all(&store).await).await;

    let rebuilt = rebuild(&store, &read, None, Options::default())
        .await
        .unwrap();
    assert_eq!(rebuilt.len(), projector_names().len());
    assert_eq!(
        dump(&read).await,
        resumed,
        "a clean rebuild gives the same rows"
    );
}

async fn rebuild_swaps_beside_live_readers(db: TestDb) {
    let store = db.store_with(lectern_projections::store_options()).await;
    let read = ReadDb::connect(&db.url).await.unwrap();
    generate(&store, 21, 30, 4, 100).await;
    let p = start(&store, &read, 100).await;
    caught_up(&p, &store).await;
    let generation = |read: ReadDb| async move {
        read.fetch(
            "SELECT generation FROM lectern_projections WHERE name = 'people'",
            &[],
        )
        .await
        .unwrap()
        .cells()[0][0]
            .as_i64()
            .unwrap()
    };
    let before = generation(read.clone()).await;

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (read, stop) = (read.clone(), stop.clone());
        tokio::spawn(async move {
            let mut reads = 0u32;
            while !stop.load(Ordering::Relaxed) || reads == 0 {
                let n = read
                    .fetch("SELECT COUNT(*) FROM rm_people", &[])
                    .await
                    .expect("read during rebuild")
                    .cells();
                assert_eq!(n[0][0].as_i64(), Some(30), "readers see a whole read model");
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        })
    };
    for _ in 0..2 {
        let out = rebuild(&store, &read, Some("people"), Options::default())
            .await
            .unwrap();
        assert_eq!(out, vec![("people", store.head().await.unwrap())]);
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.await.unwrap() > 0);
    assert_eq!(generation(read.clone()).await, before + 2);

    // The live runner follows the new generation.
    generate(&store, 22, 35, 1, 10).await;
    caught_up(&p, &store).await;
    let n = read
        .fetch("SELECT COUNT(*) FROM rm_people", &[])
        .await
        .unwrap()
        .cells();
    assert_eq!(n[0][0].as_i64(), Some(35));
    assert_matches_folds(&read, &fold_all(&store).await).await;

    let err = rebuild(&store, &read, Some("persons"), Options::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no projector is named \"persons\"; the projectors are: org, people, sessions, programmes, study, awards, monthly, disputes, kiosks, flags"
    );
    p.stop().await;
}

async fn lag_waits_and_versions(db: TestDb) {
    let store = db.store_with(lectern_projections::store_options()).await;
    let read = ReadDb::connect(&db.url).await.unwrap();
    let p = start(&store, &read, 100).await;
    p.wait_for(0, WAIT).await.unwrap();
    generate(&store, 31, 10, 2, 40).await;
    caught_up(&p, &store).await;
    let head = store.head().await.unwrap();
    for s in p.status().await.unwrap() {
        assert_eq!((s.position, s.lag), (head, 0), "{} is caught up", s.name);
    }
    match p.wait_for(head + 5, Duration::from_millis(100)).await {
        Err(Error::Timeout {
            wanted, reached, ..
        }) => assert_eq!((wanted, reached), (head + 5, head)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    p.stop().await;

    // A projector whose stored version is not the code's is rebuilt on start.
    read.execute(&["UPDATE lectern_projections SET version = 0 WHERE name = 'org'".to_owned()])
        .await
        .unwrap();
    let gen_sql = "SELECT generation, version FROM lectern_projections WHERE name = 'org'";
    let before = rows(&read, gen_sql).await[0][0].as_i64().unwrap();
    let p = start(&store, &read, 100).await;
    caught_up(&p, &store).await;
    let after = rows(&read, gen_sql).await;
    assert_eq!(after[0][0].as_i64(), Some(before + 1));
    assert_eq!(after[0][1].as_i64(), Some(1));
    assert_matches_folds(&read, &fold_all(&store).await).await;
    p.stop().await;
}

/// An event one projector cannot fold (a study task's "completion" that
/// names nobody) stops that projector at its position and nothing else:
/// the others reach the head, a wait ends at once naming it instead of
/// timing out, and its status says where and why.
async fn a_failing_projector_stops_only_itself(db: TestDb) {
    let store = db.store_with(lectern_projections::store_options()).await;
    let read = ReadDb::connect(&db.url).await.unwrap();
    let p = start(&store, &read, 100).await;
    generate(&store, 7, 6, 1, 10).await;
    caught_up(&p, &store).await;
    let poisoned = store
        .append(
            "task-0195f000-0000-7000-8000-0000000000aa",
            lectern_store::ExpectedVersion::Any,
            vec![
                lectern_store::NewEvent::from_json("StudyTaskCompleted", r#"{"nobody":true}"#)
                    .unwrap(),
            ],
        )
        .await
        .unwrap()
        .last_position;
    let started = std::time::Instant::now();
    match p.wait_for(poisoned, WAIT).await {
        Err(Error::Failed(f)) => {
            assert_eq!((f.projector, f.position), ("study", poisoned), "{f:?}");
            assert!(f.reason.contains("StudyTaskCompleted"), "{f:?}");
        }
        other => panic!("expected the study projector's failure, got {other:?}"),
    }
    assert!(
        started.elapsed() < WAIT / 2,
        "the wait ended on the failure, not on its timeout"
    );
    let failures = p.failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    for s in p.status().await.unwrap() {
        if s.name == "study" {
            assert!(s.position < poisoned, "{s:?}");
            assert_eq!(s.failure.as_ref().map(|f| f.position), Some(poisoned));
        } else {
            assert!(s.failure.is_none(), "{s:?}");
        }
    }
    // The others go on: an event after the poisoned one is folded.
    let (_, version) = lectern_projections::load::<OrgTree>(&store, ORG_STREAM, u64::MAX)
        .await
        .unwrap();
    let after = commit(
        &store,
        ORG_STREAM,
        version,
        &[OrgEvent::UnitEstablished {
            unit: UnitId::parse("after-poison").unwrap(),
            name: Name::parse("毒后").unwrap(),
            kind: UnitKind::Office,
            parent: None,
        }],
        &[],
        &lectern_store::Metadata::default(),
    )
    .await
    .unwrap()
    .last_position;
    let org_reached = async {
        loop {
            let s = p.status().await.unwrap();
            if s.iter().any(|s| s.name == "org" && s.position >= after) {
                break;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(WAIT, org_reached)
        .await
        .expect("the org read model folds past the poisoned event");
    let established = rows(&read, "SELECT id FROM rm_units WHERE id = 'after-poison'").await;
    assert_eq!(established.len(), 1);
    assert_eq!(p.failures().len(), 1, "still only the study projector");
    p.stop().await;
}

async fn assert_programmes_match(read: &ReadDb, f: &Folds) {
    let campus = Campus::default();
    for (id, p) in &f.programmes {
        let launch = p.launch.as_ref().unwrap();
        let row = &read
            .fetch(
                "SELECT kind, title FROM rm_programmes WHERE id = $1",
                &[Val::from(id.as_str())],
            )
            .await
            .unwrap()
            .cells()[0];
        assert_eq!(text(&row[0]), Some(json(&launch.kind).as_str()));
        assert_eq!(text(&row[1]), Some(launch.title.as_str()));
        let participants = read
            .fetch("SELECT staff_no FROM rm_programme_participants WHERE programme = $1 ORDER BY staff_no", &[Val::from(id.as_str())])
            .await
            .unwrap()
        .cells();
        let expected: Vec<&str> = p.participants.keys().map(|s| s.as_str()).collect();
        let got: Vec<&str> = participants.iter().map(|r| text(&r[0]).unwrap()).collect();
        assert_eq!(got, expected, "participants of {id}");

        let report = programme_report(&launch.id, &campus, &f.session_histories).unwrap();
        let rows = read
            .fetch("SELECT year, sessions, participants FROM rm_programme_report WHERE programme = $1 ORDER BY year", &[Val::from(id.as_str())])
            .await
            .unwrap()
        .cells();
        let mut expected = vec![(
            0i64,
            json(&report.total.sessions),
            i64::from(report.total.participants),
        )];
        expected.extend(report.by_year.iter().map(|(y, fig)| {
            (
                i64::from(*y),
                json(&fig.sessions),
                i64::from(fig.participants),
            )
        }));
        let got: Vec<(i64, String, i64)> = rows
            .iter()
            .map(|r| {
                (
                    r[0].as_i64().unwrap(),
                    text(&r[1]).unwrap().to_owned(),
                    r[2].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, expected, "programme report of {id}");
    }
}

async fn assert_tasks_match(read: &ReadDb, f: &Folds) {
    let tasks = rows(
        read,
        "SELECT id, status, completed, completed_late, waived, missed FROM rm_tasks ORDER BY id",
    )
    .await;
    assert_eq!(tasks.len(), f.tasks.len(), "one row per task");
    for (row, (id, t)) in tasks.iter().zip(&f.tasks) {
        assert_eq!(text(&row[0]), Some(id.as_str()));
        let status = if t.missed.is_some() { "closed" } else { "open" };
        assert_eq!(text(&row[1]), Some(status));
        // One state per person, so the counts add up to everyone the task
        // has a line for.
        let c = t.counts();
        let counts: Vec<Option<i64>> = row[2..6].iter().map(|v| v.as_i64()).collect();
        let want = [c.completed, c.completed_late, c.waived, c.missed];
        assert_eq!(counts, want.map(|n| Some(n as i64)), "counts of task {id}");
        let everyone: std::collections::BTreeSet<&StaffNo> = t
            .completed
            .keys()
            .chain(&t.waived)
            .chain(t.missed.iter().flatten())
            .collect();
        assert_eq!(want.iter().sum::<u64>(), everyone.len() as u64);
        let people = read
            .fetch(
                "SELECT staff_no, state FROM rm_task_people WHERE task_id = $1 ORDER BY staff_no",
                &[Val::from(id.as_str())],
            )
            .await
            .unwrap()
            .cells();
        let states: Vec<(String, String)> = everyone
            .iter()
            .map(|p| (p.as_str().to_owned(), json(&t.state_of(p).unwrap())))
            .collect();
        let expected: BTreeMap<&str, &str> = states
            .iter()
            .map(|(p, s)| (p.as_str(), s.trim_matches('"')))
            .collect();
        let got: BTreeMap<&str, &str> = people
            .iter()
            .map(|r| (text(&r[0]).unwrap(), text(&r[1]).unwrap()))
            .collect();
        assert_eq!(got, expected, "people of task {id}");
    }
}

async fn assert_awards_match(read: &ReadDb, f: &Folds) {
    let categories = rows(
        read,
        "SELECT id, level, kind, by_vote FROM rm_award_categories ORDER BY id",
    )
    .await;
    assert_eq!(categories.len(), f.awards.len());
    for (row, (id, a)) in categories.iter().zip(&f.awards) {
        let c = a.category.as_ref().unwrap();
        assert_eq!(text(&row[0]), Some(id.as_str()));
        assert_eq!(text(&row[1]), Some(json(&c.level).as_str()));
        assert_eq!(row[3].as_i64(), Some(i64::from(c.by_vote)));
        let noms = read
            .fetch(
                "SELECT year, nominee_kind, nominee, endorsed, votes, status FROM rm_nominations WHERE category = $1 ORDER BY year, nominee_kind, nominee",
                &[Val::from(id.as_str())],
            )
            .await
            .unwrap()
        .cells();
        assert_eq!(noms.len(), a.nominations.len(), "nominations of {id}");
        for (row, ((year, nominee), n)) in noms.iter().zip(&a.nominations) {
            let (kind, who) = match nominee {
                Nominee::Person(p) => ("person", p.as_str()),
                Nominee::Unit(u) => ("unit", u.as_str()),
            };
            assert_eq!(row[0].as_i64(), Some(i64::from(*year)));
            assert_eq!((text(&row[1]), text(&row[2])), (Some(kind), Some(who)));
            assert_eq!(row[3].as_i64(), Some(i64::from(n.endorsed)));
            assert_eq!(row[4].as_i64(), Some(i64::from(n.votes)), "votes for {who}");
            let status = if n.revoked {
                "revoked"
            } else if n.conferred {
                "conferred"
            } else {
                "nominated"
            };
            assert_eq!(text(&row[5]), Some(status), "status of {who}");
        }
    }
}

async fn assert_monthly_matches(read: &ReadDb, f: &Folds) {
    let meetings = rows(
        read,
        "SELECT year, month FROM rm_leadership_meetings ORDER BY year, month",
    )
    .await;
    let expected: Vec<(i64, i64)> = f
        .monthly
        .get(LEADERSHIP_STREAM)
        .map(|m| {
            m.meetings
                .iter()
                .map(|(y, m)| (i64::from(*y), i64::from(*m)))
                .collect()
        })
        .unwrap_or_default();
    let got: Vec<(i64, i64)> = meetings
        .iter()
        .map(|r| (r[0].as_i64().unwrap(), r[1].as_i64().unwrap()))
        .collect();
    assert_eq!(got, expected);
    for (stream, m) in f
        .monthly
        .iter()
        .filter(|(s, _)| s.starts_with("unit-month-"))
    {
        let rest = stream.strip_prefix("unit-month-").unwrap();
        let mut parts = rest.rsplitn(3, '-');
        let (mo, y, unit) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let row = read
            .fetch(
                "SELECT checked_on, report_chair, submitted_on FROM rm_unit_months WHERE unit = $1 AND year = $2 AND month = $3",
                &[Val::from(unit), Val::Int(y.parse().unwrap()), Val::Int(mo.parse().unwrap())],
            )
            .await
            .unwrap()
        .cells();
        assert_eq!(row.len(), 1, "{stream}");
        assert_eq!(row[0][0].as_str().is_some(), m.checked, "{stream} checked");
        let report = m
            .report
            .as_ref()
            .map(|(chair, on)| (chair.as_str().to_owned(), on.to_string()));
        let got = row[0][1]
            .as_str()
            .map(|c| (c.to_owned(), row[0][2].as_str().unwrap().to_owned()));
        assert_eq!(got, report, "{stream} report");
    }
}

fn leaders(status: &[lectern_projections::Status]) -> Vec<&'static str> {
    status.iter().filter(|s| s.leader).map(|s| s.name).collect()
}

/// Two servers on one PostgreSQL database: each projector runs in one of
/// them (the first to take its lease), the other follows its checkpoint
/// (read-your-writes holds in both), and takes over when the first dies.
#[tokio::test]
async fn two_servers_on_postgres_run_each_projector_once_and_fail_over() {
    let db = TestDb::postgres().await;
    let opts = Options {
        batch_size: 50,
        lease_retry: Duration::from_millis(50),
        ..Options::default()
    };
    let (store_a, store_b) = (
        db.store_with(lectern_projections::store_options()).await,
        db.store_with(lectern_projections::store_options()).await,
    );
    let read_a = ReadDb::connect(&db.url).await.unwrap();
    let read_b = ReadDb::connect(&db.url).await.unwrap();
    generate(&store_a, 41, 20, 4, 200).await;
    let a = Projections::start(store_a.clone(), read_a.clone(), opts.clone())
        .await
        .unwrap();
    caught_up(&a, &store_a).await;
    let all = projector_names();
    assert_eq!(
        leaders(&a.status().await.unwrap()),
        all,
        "alone, A runs all"
    );

    let b = Projections::start(store_b.clone(), read_b.clone(), opts)
        .await
        .unwrap();
    // B writes; B's read models (A's work) show it once B has waited.
    generate(&store_b, 42, 30, 4, 200).await;
    caught_up(&b, &store_b).await;
    assert_matches_folds(&read_b, &fold_all(&store_b).await).await;
    assert_eq!(leaders(&b.status().await.unwrap()), Vec::<&str>::new());
    assert_eq!(leaders(&a.status().await.unwrap()), all);
    // A waited position that only some projectors' events reach is still
    // reached by all of them in the follower.
    let head = store_b.head().await.unwrap();
    for s in b.status().await.unwrap() {
        assert_eq!((s.position, s.lag), (head, 0), "{} in B", s.name);
    }

    // A dies: its connections drop and B takes every projector over.
    a.abort();
    read_a.close().await;
    store_a.close().await;
    generate(&store_b, 43, 35, 4, 200).await;
    caught_up(&b, &store_b).await;
    b.wait_leading(WAIT)
        .await
        .expect("B takes every projector over");
    assert_eq!(leaders(&b.status().await.unwrap()), all);
    assert_matches_folds(&read_b, &fold_all(&store_b).await).await;
    b.stop().await;
}

/// A lease is held by one process at a time, is free again when its holder
/// gives it up, and tells its holder when it is lost.
#[tokio::test]
async fn a_postgres_lease_has_one_holder_at_a_time() {
    use lectern_projections::Leases;
    let db = TestDb::postgres().await;
    let read_a = ReadDb::connect(&db.url).await.unwrap();
    let read_b = ReadDb::connect(&db.url).await.unwrap();
    let (a, b) = (Leases::new(&read_a), Leases::new(&read_b));
    let mut held = a.try_acquire("checkpoint-signer").await.unwrap().unwrap();
    assert!(held.held());
    assert!(b.try_acquire("checkpoint-signer").await.unwrap().is_none());
    let other = b.try_acquire("projector:people").await.unwrap();
    assert!(other.is_some_and(|l| l.held()), "another name is free");
    a.check().await;
    assert!(held.held(), "a healthy connection keeps its leases");

    a.close().await;
    assert!(!held.held());
    held.lost().await;
    let taken = b.try_acquire("checkpoint-signer").await.unwrap();
    assert!(
        taken.is_some_and(|l| l.held()),
        "B takes it once A gives it up"
    );
    assert!(a.try_acquire("checkpoint-signer").await.unwrap().is_none());
    b.close().await;
}

/// On SQLite there is one server: every lease is granted.
#[tokio::test]
async fn every_lease_is_granted_on_sqlite() {
    use lectern_projections::Leases;
    let sqlite = TestDb::sqlite().await;
    let read = ReadDb::connect(&sqlite.url).await.unwrap();
    let local = Leases::new(&read);
    for _ in 0..2 {
        assert!(
            local
                .try_acquire("x")
                .await
                .unwrap()
                .is_some_and(|l| l.held())
        );
    }
}

/// One statement on one connection (a transaction) takes a missing integer
/// and then a number in the same place, in either order: PostgreSQL types
/// the parameter when the statement is first prepared, so the missing one
/// must be bound as an integer (`Val::int_or_null`), as the kiosks read
/// model binds a kiosk's last counter before and after its first tap.
async fn a_missing_integer_and_a_number_share_one_statement(db: TestDb) {
    let read = ReadDb::connect(&db.url).await.unwrap();
    read.execute(&["CREATE TABLE counters (id BIGINT PRIMARY KEY, last BIGINT)".into()])
        .await
        .unwrap();
    let insert = |id: i64, last: Option<u64>| Stmt {
        sql: Arc::from("INSERT INTO counters (id, last) VALUES ($1, $2)"),
        args: vec![Val::Int(id), Val::int_or_null(last)],
    };
    read.transact(
        None,
        &[insert(1, None), insert(2, Some(7)), insert(3, None)],
    )
    .await
    .unwrap();
    let rows = read
        .fetch("SELECT id, last FROM counters ORDER BY id", &[])
        .await
        .unwrap();
    let got: Vec<(Option<i64>, Option<i64>)> = rows
        .iter()
        .map(|r| (r.int_opt("id"), r.int_opt("last")))
        .collect();
    assert_eq!(got, [(Some(1), None), (Some(2), Some(7)), (Some(3), None)]);
}
