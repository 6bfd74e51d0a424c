//! `lectern demo` through the binary, on SQLite and PostgreSQL: a smaller
//! campus (1,500 staff, weekly study in two units) with the whole
//! programme, whose report must say 24 / 12 / 4 / 480 as the source
//! document does.

use lectern_projections::{ReadDb, Val};
use lectern_store::testkit::TestDb;

both_backends!(the_demo_campus_reports_what_the_source_document_does);

/// The printed table's `total` row, by column name.
fn total_row(table: &str) -> std::collections::BTreeMap<String, String> {
    let header = table
        .lines()
        .find(|l| l.starts_with("year"))
        .unwrap_or_else(|| panic!("no header in {table}"));
    let total = table
        .lines()
        .find(|l| l.starts_with("total"))
        .unwrap_or_else(|| panic!("no total row in {table}"));
    header
        .split_whitespace()
        .map(str::to_owned)
        .zip(total.split_whitespace().map(str::to_owned))
        .collect()
}

async fn count(db: &ReadDb, sql: &str, args: &[Val]) -> i64 {
    // The one number a `SELECT COUNT(*) ...` answers.
    db.fetch(sql, args).await.unwrap()[0].values()[0]
        .as_i64()
        .unwrap()
}

async fn the_demo_campus_reports_what_the_source_document_does(db: TestDb) {
    let url = db.url.clone();
    // The data directory keeps the demo's tokens.
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().display().to_string();
    let demo = |extra: &[&str]| {
        let mut args: Vec<String> = [
            "demo",
            "--staff",
            "1500",
            "--study-units",
            "2",
            "--no-serve",
            "--database-url",
            &url,
            "--data-dir",
            &data_dir,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        crate::cli(args)
    };
    let (code, out, err) = demo(&[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("made "), "{out}");
    assert!(out.contains("events/s through the command path"), "{out}");
    assert!(out.contains("/graphiql"), "{out}");
    assert!(out.contains("/pages"), "{out}");
    let tokens_of = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| {
                let l = l.trim_start();
                ["administrator (", "auditor (", "union chair (", "staff ("]
                    .iter()
                    .any(|role| l.starts_with(role))
            })
            .filter_map(|l| l.rsplit_once(' ').map(|(_, t)| t.to_owned()))
            .collect()
    };
    let first_tokens = tokens_of(&out);
    assert_eq!(first_tokens.len(), 4, "{out}");
    assert!(first_tokens.iter().all(|t| t.starts_with("lct_")), "{out}");

    // The programme report: 24 lectures, 12 demonstration classes, 4
    // competitions, 480 distinct teachers.
    let (code, table, err) = crate::cli(
        [
            "report",
            "programme",
            "--programme",
            "ytnp",
            "--database-url",
            &url,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
    )
    .await;
    assert_eq!(code, 0, "{table}{err}");
    let total = total_row(&table);
    assert_eq!(total["training_lecture"], "24", "{table}");
    assert_eq!(total["demonstration_class"], "12", "{table}");
    assert_eq!(total["teaching_competition"], "4", "{table}");
    assert_eq!(total["participants"], "480", "{table}");

    let store = db.store_with(lectern_projections::store_options()).await;
    let read = ReadDb::connect(&url).await.unwrap();
    let head = store.head().await.unwrap();
    // The size printed is the log's.
    assert!(out.contains(&format!("made {head} events")), "{out}");

    // Taps went through the server's ingestion: each is a CardTapped
    // carrying the server's decision, and the present and late ones are
    // attendance events naming the tap.
    let mut taps = 0;
    let mut decided = 0;
    let mut after = 0;
    loop {
        let page = store
            .read_all(after, 5000, Some(&["CardTapped".to_owned()]))
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = last.position;
        taps += page.len();
        decided += page
            .iter()
            .filter(|e| e.payload.contains("\"decision\":{"))
            .count();
    }
    assert!(taps > 10_000, "{taps} taps");
    assert_eq!(decided, taps, "every tap carries the server's decision");
    assert!(out.contains(&format!("{taps} card taps")), "{out}");
    let by_card = count(
        &read,
        "SELECT COUNT(*) FROM rm_attendance WHERE method LIKE $1",
        &[Val::from("%card%")],
    )
    .await;
    assert!(by_card > 10_000, "{by_card} check-ins by card");

    // 44 units; the leadership group and a union chair for every staffed unit.
    assert_eq!(count(&read, "SELECT COUNT(*) FROM rm_units", &[]).await, 44);
    let (code, roster, err) = crate::cli(
        ["report", "leadership", "--database-url", &url]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    )
    .await;
    assert_eq!(code, 0, "{roster}{err}");
    assert_eq!(roster.matches("union_chair").count(), 36, "{roster}");
    assert!(roster.contains("leader"), "{roster}");

    // Awards at all four levels, conferred on Teachers' Day, some by vote.
    let levels = count(
        &read,
        "SELECT COUNT(DISTINCT c.level) FROM rm_nominations n \
         JOIN rm_award_categories c ON c.id = n.category WHERE n.status = 'conferred'",
        &[],
    )
    .await;
    assert_eq!(levels, 4);
    assert!(
        count(
            &read,
            "SELECT COUNT(*) FROM rm_nominations WHERE votes > 0",
            &[]
        )
        .await
            > 0
    );

    // Two disputes about 2008: one upheld with a correction naming it,
    // one rejected; both resolved with totals.
    let disputes = read
        .fetch(
            "SELECT status, total_before, total_after, correcting_events FROM rm_disputes \
             ORDER BY status",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(disputes.len(), 2);
    let (rejected, upheld) = (&disputes[0], &disputes[1]);
    assert_eq!(
        (rejected.text("status"), upheld.text("status")),
        ("rejected".into(), "upheld".into())
    );
    assert_eq!(rejected.int("total_before"), rejected.int("total_after"));
    assert_eq!(
        upheld.int("total_after") - upheld.int("total_before"),
        5,
        "an absence excused gives back its 5 points"
    );
    assert!(upheld.text("correcting_events").len() > 10);

    // Monthly reports from every studying unit, a few of them late; study
    // tasks done; four years closed.
    let reports = "SELECT COUNT(*) FROM rm_unit_months WHERE submitted_on IS NOT NULL";
    assert!(count(&read, reports, &[]).await >= 2 * 30);
    assert_eq!(count(&read, "SELECT COUNT(*) FROM rm_tasks", &[]).await, 8);

    // The log verifies.
    let (code, out, err) = crate::cli(
        ["audit", "verify", "--database-url", &url]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");

    // Run again, it finds its campus and adds nothing, and shows the same
    // four tokens rather than making four more.
    let (code, out, err) = demo(&[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("holds the demo campus already"), "{err}");
    assert_eq!(store.head().await.unwrap(), head);
    assert_eq!(tokens_of(&out), first_tokens, "{out}");
    assert_eq!(
        count(&read, "SELECT COUNT(*) FROM lectern_tokens", &[]).await,
        4
    );
    store.close().await;
    read.close().await;

    // Another log is never mixed with the demo's.
    let other = tempfile::tempdir().unwrap();
    let units = other.path().join("units.csv");
    std::fs::write(&units, "id,name,kind,parent\nuni,某某大学,university,\n").unwrap();
    let dir = other.path().display().to_string();
    let (code, out, err) = crate::lectern(&[
        "import",
        "units",
        units.to_str().unwrap(),
        "--data-dir",
        &dir,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = crate::lectern(&["demo", "--no-serve", "--data-dir", &dir]);
    assert_eq!(code, 1);
    assert!(
        err.contains("holds another event log (1 events); the demo needs an empty database"),
        "{err}"
    );

    // A demo stopped while it was made is not served as if it were whole.
    let stopped = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/lectern.db", stopped.path().display());
    let store = lectern_store::Store::open(&url, lectern_store::StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let meta = lectern_store::Metadata {
        source: Some("demo".into()),
        ..Default::default()
    };
    let first = lectern_store::NewEvent::new("UnitEstablished", &serde_json::json!({}))
        .unwrap()
        .with_metadata(&meta);
    store
        .append("org", lectern_store::ExpectedVersion::NoStream, vec![first])
        .await
        .unwrap();
    store.close().await;
    let dir = stopped.path().display().to_string();
    let (code, _, err) = crate::lectern(&["demo", "--no-serve", "--data-dir", &dir]);
    assert_eq!(code, 1);
    assert!(
        err.contains("holds a demo campus that was not finished"),
        "{err}"
    );
}
