//! Operations drills from deploy/README.md, run as tests: a PostgreSQL
//! backup restored into a new database verifies, rebuilds and gives the
//! same answers.

use std::process::Command;

use lectern_store::testkit::TestDb;

use crate::cli;

/// Runs a PostgreSQL client tool; panics with its output if it fails.
fn tool(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} (PostgreSQL's client tools) cannot run: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_backup_restores_verifies_and_answers_the_same() {
    let (Some(source), Some(target)) = (TestDb::postgres().await, TestDb::postgres().await) else {
        return;
    };
    let campus = crate::campus_caught_up(&source, 4_000, 21).await;

    // As deploy/README.md says: pg_dump, pg_restore into a new database.
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("lectern.dump").display().to_string();
    let (from, to) = (source.url.clone(), target.url.clone());
    tokio::task::spawn_blocking(move || {
        tool("pg_dump", &["--format=custom", "--file", &dump, &from]);
        tool("pg_restore", &["--no-owner", "--dbname", &to, &dump]);
    })
    .await
    .unwrap();

    // The restored log is the same chain; the read models rebuild from it.
    let verify = |url: &str| {
        cli(vec![
            "audit".into(),
            "verify".into(),
            "--database-url".into(),
            url.into(),
        ])
    };
    let (code, original, err) = verify(&source.url).await;
    assert_eq!(code, 0, "{err}");
    let (code, restored, err) = verify(&target.url).await;
    assert_eq!(code, 0, "{restored}{err}");
    assert_eq!(restored, original, "the same count and head hash");
    let (code, out, err) = cli(vec![
        "rebuild".into(),
        "--database-url".into(),
        target.url.clone(),
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");

    // The same answers from both.
    let person = campus.people[2].to_string();
    let unit = campus.units[0].to_string();
    let session = campus.sessions[0].0.to_string();
    for report in [
        vec!["appraisal", "--person", &person, "--year", "2007"],
        vec![
            "unit-month",
            "--unit",
            &unit,
            "--year",
            "2007",
            "--month",
            "3",
        ],
        vec!["session", "--id", &session],
    ] {
        let ask = |url: &str| {
            let mut args: Vec<String> = vec!["report".into()];
            args.extend(report.iter().map(|a| a.to_string()));
            args.extend(["--database-url".into(), url.to_owned()]);
            cli(args)
        };
        let (code, before, err) = ask(&source.url).await;
        assert_eq!(code, 0, "{err}");
        let (code, after, err) = ask(&target.url).await;
        assert_eq!(code, 0, "{err}");
        assert_eq!(after, before, "{report:?}");
        assert!(before.lines().count() > 2, "{report:?}: {before}");
    }
}
