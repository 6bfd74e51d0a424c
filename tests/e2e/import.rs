//! Imports from CSV and XLSX through the `lectern` binary, on SQLite and PostgreSQL:
//! all or nothing, every bad row named with its line, idempotent.

use lectern_store::testkit::TestDb;

both_backends!(imports_are_all_or_nothing_and_idempotent);

/// A spreadsheet row: staff number, name, category, birth date.
type Row<'a> = (&'a str, &'a str, &'a str, (u16, u8, u8));

/// Runs `lectern import KIND FILE` on the database off the runtime's threads.
async fn import(url: &str, kind: &str, file: &std::path::Path) -> (i32, String, String) {
    let args = [
        "import".to_owned(),
        kind.to_owned(),
        file.display().to_string(),
        "--database-url".to_owned(),
        url.to_owned(),
    ];
    crate::cli(args.to_vec()).await
}

async fn imports_are_all_or_nothing_and_idempotent(db: TestDb) {
    let url = db.url.clone();
    let store = db.store_with(lectern_projections::store_options()).await;
    store.migrate().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };

    // Units, as a spreadsheet program saves CSV: a byte-order mark,
    // Chinese headings, CRLF, a quoted name with a comma, kinds in either
    // language.
    let units = write(
        "units.csv",
        "\u{feff}单位编号,单位名称,类型,上级单位\r\nuni,某某大学,大学,\r\n\
         cs,\"计算机学院, 软件学院\",学院,uni\r\ncs-se,软件工程系,department,cs\r\n",
    );
    let (code, out, err) = import(&url, "units", &units).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 rows applied, 0 already so"), "{out}");
    let head = store.head().await.unwrap();
    let (code, out, _) = import(&url, "units", &units).await;
    assert_eq!(code, 0);
    assert!(out.contains("0 rows applied, 3 already so"), "{out}");
    assert_eq!(
        store.head().await.unwrap(),
        head,
        "the same file again changes nothing"
    );

    // People: one bad file reports every bad row and imports none.
    let bad = write(
        "bad.csv",
        "staff_no,name,unit,category,birth_date,hire_date\n\
         T0001,王小明,cs-se,teacher,1980-03-04,2005-09-01\n\
         T0002,李四,nowhere,teacher,1979-01-01,2005-09-01\n\
         T0003,张三,cs-se,professor,1979-01-01,2005-09-01\n\
         T0004,赵五,cs-se,teacher,1979-13-01,2005-09-01\n\
         T0001,王小明,cs-se,teacher,1980-03-04,2005-09-01\n",
    );
    let (code, out, err) = import(&url, "people", &bad).await;
    assert_eq!(code, 2, "{out}{err}");
    let path = bad.display().to_string();
    for (line, needle) in [
        (3, "nowhere"),
        (4, "invalid staff category \"professor\""),
        (5, "invalid birth date \"1979-13-01\""),
        (6, "staff number T0001 is also on line 2"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("{path}:{line}: ")) && l.contains(needle)),
            "line {line} ({needle}): {err}"
        );
    }
    assert!(
        !err.contains(&format!("{path}:2:")),
        "line 2 is good: {err}"
    );
    assert!(err.contains("nothing imported: 4 bad row(s)"), "{err}");
    assert_eq!(
        store.head().await.unwrap(),
        head,
        "a bad file imports nothing"
    );
    let missing = write("missing.csv", "staff_no,name\nT0001,王小明\n");
    let (code, _, err) = import(&url, "people", &missing).await;
    assert_eq!(code, 2);
    assert!(
        err.contains(":1: the header lacks the column(s) unit / 单位"),
        "{err}"
    );

    let people = write(
        "people.csv",
        "staff_no,name,unit,category,birth_date,hire_date\n\
         T0001,王小明,cs-se,teacher,1980-03-04,2005-09-01\n\
         T0002,李四,cs-se,worker,1979-01-01,2005-09-01\n",
    );
    let (code, out, err) = import(&url, "people", &people).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 rows applied"), "{out}");
    let (_, out, _) = import(&url, "people", &people).await;
    assert!(out.contains("0 rows applied, 2 already so"), "{out}");
    let changed = write(
        "changed.csv",
        "工号,姓名,单位,类别,出生日期,入职日期\nT0002,李四四,cs-se,worker,1979-01-01,2005-09-01\n",
    );
    let (code, _, err) = import(&url, "people", &changed).await;
    assert_eq!(code, 2);
    assert!(
        err.contains(":2: staff number T0002 is registered already, as 李四 of cs-se"),
        "{err}"
    );

    // People from a spreadsheet: dates as dates, a heading row, a bad row
    // named by its row number.
    let workbook = |rows: &[Row]| {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        let day = Format::new().set_num_format("yyyy-mm-dd");
        for (c, h) in ["工号", "姓名", "单位", "类别", "出生日期", "入职日期"]
            .iter()
            .enumerate()
        {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        for (r, (no, name, category, (y, m, d))) in rows.iter().enumerate() {
            let r = r as u32 + 1;
            sheet.write_string(r, 0, *no).unwrap();
            sheet.write_string(r, 1, *name).unwrap();
            sheet.write_string(r, 2, "cs-se").unwrap();
            sheet.write_string(r, 3, *category).unwrap();
            let birth = ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
            sheet
                .write_datetime_with_format(r, 4, &birth, &day)
                .unwrap();
            let hired = ExcelDateTime::from_ymd(2006, 9, 1).unwrap();
            sheet
                .write_datetime_with_format(r, 5, &hired, &day)
                .unwrap();
        }
        book.save_to_buffer().unwrap()
    };
    let xlsx = dir.path().join("people.xlsx");
    std::fs::write(
        &xlsx,
        workbook(&[
            ("T0005", "周六", "teacher", (1985, 6, 30)),
            ("T0006", "吴七", "intern", (1986, 1, 2)),
        ]),
    )
    .unwrap();
    let (code, _, err) = import(&url, "people", &xlsx).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("people.xlsx:3: invalid staff category \"intern\""),
        "{err}"
    );
    std::fs::write(
        &xlsx,
        workbook(&[("T0005", "周六", "teacher", (1985, 6, 30))]),
    )
    .unwrap();
    let (code, out, err) = import(&url, "people", &xlsx).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 rows applied"), "{out}");
    let (_, out, _) = import(&url, "people", &xlsx).await;
    assert!(out.contains("0 rows applied, 1 already so"), "{out}");
    let registered = store.read_stream("person-T0005", 1, 1).await.unwrap();
    assert!(
        registered[0]
            .payload
            .contains("\"birth_date\":\"1985-06-30\""),
        "{}",
        registered[0].payload
    );
    std::fs::write(&xlsx, b"not a workbook").unwrap();
    let (code, _, err) = import(&url, "people", &xlsx).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("people.xlsx:1: not a readable XLSX workbook"),
        "{err}"
    );

    // Cards: a card twice in a file, a card someone holds, then good ones.
    let cards = write("cards.csv", "工号,卡号\nT0001,04A1B2C3\nT0002,04A1B2C4\n");
    let (code, out, err) = import(&url, "cards", &cards).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 rows applied"), "{out}");
    let (_, out, _) = import(&url, "cards", &cards).await;
    assert!(out.contains("0 rows applied, 2 already so"), "{out}");
    let clash = write("clash.csv", "staff_no,card\nT0002,04A1B2C3\nT0009,zz\n");
    let (code, _, err) = import(&url, "cards", &clash).await;
    assert_eq!(code, 2);
    assert!(err.contains(":2: card 04A1B2C3 is held already"), "{err}");
    assert!(err.contains(":3: "), "{err}");
    assert!(store.verify().await.unwrap().is_intact());
}
