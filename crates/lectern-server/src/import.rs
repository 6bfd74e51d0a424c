//! Imports: units, people and cards from a CSV file (UTF-8, a byte-order
//! mark allowed) or the first sheet of an XLSX workbook, with a header row
//! naming the columns, in English or Chinese.
//!
//! Every row is checked and decided by the domain first, against the log
//! and the rows before it; a file with any bad row changes nothing and each
//! bad row is reported with its line number and reason. A valid file is
//! appended in one transaction. A row that is already true (the same unit,
//! person or card) is left alone, so importing the same file again changes
//! nothing.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use lectern_domain::{
    Aggregate, CARD_UID_KEY, CardUid, Name, ORG_STREAM, OrgCommand, OrgTree, Person, PersonCommand,
    Registration, StaffNo, UnitId, person_stream,
};
use lectern_projections::{append_request, load};
use lectern_store::{Metadata, Store};
use serde::de::DeserializeOwned;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// id, name, kind, parent (单位编号, 单位名称, 类型, 上级单位).
    Units,
    /// staff_no, name, unit, category, birth_date, hire_date (工号, 姓名,
    /// 单位, 类别, 出生日期, 入职日期).
    People,
    /// staff_no, card (工号, 卡号).
    Cards,
}

impl Kind {
    /// The columns, each with its accepted headings.
    fn columns(self) -> &'static [&'static [&'static str]] {
        match self {
            Kind::Units => &[
                &["id", "单位编号"],
                &["name", "单位名称"],
                &["kind", "类型"],
                &["parent", "上级单位"],
            ],
            Kind::People => &[
                &["staff_no", "工号"],
                &["name", "姓名"],
                &["unit", "单位"],
                &["category", "类别"],
                &["birth_date", "出生日期"],
                &["hire_date", "入职日期"],
            ],
            Kind::Cards => &[&["staff_no", "工号"], &["card", "卡号"]],
        }
    }
}

/// A bad row: its line in the file and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: usize,
    pub reason: String,
}

/// What an import did (or would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Rows that changed the record.
    pub applied: usize,
    /// Rows already true.
    pub unchanged: usize,
    /// The log position of the last event written (0 if none).
    pub position: u64,
}

/// The records of a CSV text (RFC 4180, read by the `csv` crate), each with
/// the line it starts on; a byte-order mark is skipped and blank lines are
/// not rows.
pub fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, RowError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Line ends as LF: the reader counts lines by LF, and would place a
    // record after a CRLF on the line before.
    let text = text.replace("\r\n", "\n");
    let line_of = |p: Option<&csv::Position>| p.map_or(1, |p| p.line() as usize);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| RowError {
            line: line_of(e.position()),
            reason: e.to_string(),
        })?;
        let fields = record.iter().map(str::to_owned).collect();
        records.push((line_of(record.position()), fields));
    }
    // Every quote of a well-formed file opens, closes or doubles one: an
    // odd count leaves a field open to the end of the file.
    if text.matches('"').count() % 2 == 1 {
        return Err(RowError {
            line: records.last().map_or(1, |r| r.0),
            reason: "a quoted field is not closed".into(),
        });
    }
    records.retain(|(_, r): &(usize, Vec<String>)| !(r.len() == 1 && r[0].trim().is_empty()));
    Ok(records)
}

/// Unit kinds by their Chinese names, as a personnel office's sheet
/// writes them.
const UNIT_KINDS: &[(&str, &str)] = &[
    ("大学", "university"),
    ("学校", "university"),
    ("校区", "campus"),
    ("学院", "school"),
    ("系", "department"),
    ("教研室", "department"),
    ("科室", "office"),
    ("处室", "office"),
    ("工会分会", "union_branch"),
    ("学习小组", "learning_group"),
];

/// Staff categories by their Chinese names.
const STAFF_CATEGORIES: &[(&str, &str)] = &[
    ("教师", "teacher"),
    ("管理", "administrator"),
    ("管理人员", "administrator"),
    ("工人", "worker"),
    ("工勤", "worker"),
];

/// A closed set's value, by its stored name (`department`) or a Chinese
/// name from `chinese` (`系`); a bad value is named with what is accepted.
fn parse_enum<T: DeserializeOwned>(
    what: &str,
    chinese: &[(&str, &str)],
    value: &str,
) -> Result<T, String> {
    let value = value.trim();
    let name = chinese
        .iter()
        .find(|(zh, _)| *zh == value)
        .map_or(value, |(_, en)| en);
    serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|e| {
        let reason = e.to_string();
        let accepted = reason
            .split_once("expected ")
            .map_or(reason.as_str(), |(_, a)| a);
        let zh: Vec<&str> = chinese.iter().map(|(zh, _)| *zh).collect();
        format!(
            "invalid {what} {value:?}: expected {accepted}, or in Chinese {}",
            zh.join(", ")
        )
    })
}

fn date(what: &str, value: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .map_err(|_| format!("invalid {what} {value:?}: expected a date as 2006-09-01"))
}

/// The rows as maps from column to value, checked against the header.
fn rows(
    kind: Kind,
    records: Vec<(usize, Vec<String>)>,
) -> Result<Vec<(usize, Vec<String>)>, Vec<RowError>> {
    let Some(((_, header), body)) = records.split_first() else {
        return Err(vec![RowError {
            line: 1,
            reason: "the file is empty: it needs a header row".into(),
        }]);
    };
    let mut at = Vec::new();
    let mut missing = Vec::new();
    for names in kind.columns() {
        match header
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
        {
            Some(i) => at.push(i),
            None => missing.push(names.join(" / ")),
        }
    }
    if !missing.is_empty() {
        return Err(vec![RowError {
            line: 1,
            reason: format!(
                "the header lacks the column(s) {}; it has {}",
                missing.join(", "),
                header.join(", ")
            ),
        }]);
    }
    Ok(body
        .iter()
        .map(|(line, r)| {
            (
                *line,
                at.iter()
                    .map(|&i| r.get(i).map_or(String::new(), |v| v.trim().to_owned()))
                    .collect(),
            )
        })
        .collect())
}

/// The rows of the first sheet of an XLSX workbook, each with its row
/// number: text as text, whole numbers without a decimal point (a staff
/// number typed as a number), dates as 2006-09-01.
pub fn parse_xlsx(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>, RowError> {
    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
    let unreadable = |e: String| RowError {
        line: 1,
        reason: format!("not a readable XLSX workbook: {e}"),
    };
    let mut book: Xlsx<std::io::Cursor<&[u8]>> = open_workbook_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e: calamine::XlsxError| unreadable(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| unreadable("it has no sheet".into()))?
        .map_err(|e: calamine::XlsxError| unreadable(e.to_string()))?;
    let first = range.start().map_or(0, |(row, _)| row as usize);
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).expect("a date");
    let cell = |d: &Data| match d {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(t) => (epoch + chrono::Days::new(t.as_f64().floor().max(0.0) as u64))
            .format("%Y-%m-%d")
            .to_string(),
        Data::Error(e) => format!("#{e:?}"),
    };
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, row)| (first + i + 1, row.iter().map(cell).collect::<Vec<_>>()))
        .filter(|(_, r)| r.iter().any(|c| !c.is_empty()))
        .collect())
}

/// The records of a file: XLSX if its name ends in `.xlsx`, else CSV
/// (UTF-8).
pub fn parse_file(name: &str, bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>, RowError> {
    if name.to_ascii_lowercase().ends_with(".xlsx") {
        return parse_xlsx(bytes);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| RowError {
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        reason: "not UTF-8 text: save the file as CSV UTF-8 (or as XLSX)".into(),
    })?;
    parse_csv(text)
}

/// Checks every row of the file `name` (`bytes`, CSV or XLSX) as `kind`
/// and, if all are good, appends them in one transaction. `Err` lists
/// every bad row (nothing written).
pub async fn import(
    store: &Store,
    kind: Kind,
    name: &str,
    bytes: &[u8],
) -> anyhow::Result<Result<Outcome, Vec<RowError>>> {
    let records = match parse_file(name, bytes) {
        Ok(r) => r,
        Err(e) => return Ok(Err(vec![e])),
    };
    let rows = match rows(kind, records) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let meta = Metadata {
        actor: Some("cli:import".into()),
        source: Some("import".into()),
        ..Metadata::default()
    };
    let (mut org, org_version) = load::<OrgTree>(store, ORG_STREAM, u64::MAX).await?;
    let mut errors = Vec::new();
    let mut outcome = Outcome::default();
    let mut requests = Vec::new();
    let bad = |line: usize, reason: String| RowError { line, reason };
    match kind {
        Kind::Units => {
            let mut events = Vec::new();
            for (line, r) in &rows {
                let command = (|| {
                    Ok::<_, String>(OrgCommand::EstablishUnit {
                        unit: UnitId::parse(&r[0]).map_err(|e| e.to_string())?,
                        name: Name::parse(&r[1]).map_err(|e| e.to_string())?,
                        kind: parse_enum("unit kind", UNIT_KINDS, &r[2])?,
                        parent: match r[3].as_str() {
                            "" => None,
                            p => Some(UnitId::parse(p).map_err(|e| e.to_string())?),
                        },
                    })
                })();
                let command = match command {
                    Ok(c) => c,
                    Err(e) => {
                        errors.push(bad(*line, e));
                        continue;
                    }
                };
                let OrgCommand::EstablishUnit {
                    unit,
                    name,
                    kind,
                    parent,
                } = &command
                else {
                    unreachable!("built above")
                };
                if let Some(u) = org.unit(unit) {
                    if (&u.name, &u.kind, &u.parent) == (name, kind, parent) {
                        outcome.unchanged += 1;
                    } else {
                        errors.push(bad(
                            *line,
                            format!("unit {unit} exists as {} ({:?}, under {:?}); rename or move it through the API", u.name, u.kind, u.parent.as_ref().map(UnitId::as_str)),
                        ));
                    }
                    continue;
                }
                match org.decide(&command) {
                    Ok(new) => {
                        for e in &new {
                            org.apply(e)?;
                        }
                        events.extend(new);
                        outcome.applied += 1;
                    }
                    Err(e) => errors.push(bad(*line, e.to_string())),
                }
            }
            if !events.is_empty() {
                requests.push(append_request(ORG_STREAM, org_version, &events, &[], &meta));
            }
        }
        Kind::People | Kind::Cards => {
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            let mut cards: BTreeMap<String, usize> = BTreeMap::new();
            for (line, r) in &rows {
                let no = match StaffNo::parse(&r[0]) {
                    Ok(no) => no,
                    Err(e) => {
                        errors.push(bad(*line, e.to_string()));
                        continue;
                    }
                };
                if let Some(first) = seen.insert(no.as_str().to_owned(), *line) {
                    errors.push(bad(
                        *line,
                        format!("staff number {no} is also on line {first}"),
                    ));
                    continue;
                }
                let command = (|| {
                    Ok::<_, String>(match kind {
                        Kind::People => PersonCommand::Register(Registration {
                            staff_no: no.clone(),
                            name: Name::parse(&r[1]).map_err(|e| e.to_string())?,
                            unit: UnitId::parse(&r[2]).map_err(|e| e.to_string())?,
                            category: parse_enum("staff category", STAFF_CATEGORIES, &r[3])?,
                            birth_date: Some(date("birth date", &r[4])?),
                            hire_date: date("hire date", &r[5])?,
                        }),
                        _ => PersonCommand::IssueCard {
                            uid: CardUid::parse(&r[1]).map_err(|e| e.to_string())?,
                        },
                    })
                })();
                let command = match command {
                    Ok(c) => c,
                    Err(e) => {
                        errors.push(bad(*line, e));
                        continue;
                    }
                };
                let (person, version) =
                    load::<Person>(store, &person_stream(&no), u64::MAX).await?;
                match (&command, &person.registered) {
                    (PersonCommand::Register(new), Some(old)) => {
                        if new == old {
                            outcome.unchanged += 1;
                        } else {
                            errors.push(bad(*line, format!("staff number {no} is registered already, as {} of {}; change the record through the API", old.name, old.unit)));
                        }
                        continue;
                    }
                    (PersonCommand::IssueCard { uid }, _) => {
                        if let Some(first) = cards.insert(uid.as_str().to_owned(), *line) {
                            errors.push(bad(*line, format!("card {uid} is also on line {first}")));
                            continue;
                        }
                        if person.card.as_ref() == Some(uid) {
                            outcome.unchanged += 1;
                            continue;
                        }
                        if let Some(holder) = store.key_owner(CARD_UID_KEY, uid.as_str()).await? {
                            errors
                                .push(bad(*line, format!("card {uid} is held already ({holder})")));
                            continue;
                        }
                    }
                    _ => {}
                }
                match person.decide(&command, &org) {
                    Ok(events) => {
                        let keys = Person::key_changes(&events);
                        requests.push(append_request(
                            &person_stream(&no),
                            version,
                            &events,
                            &keys,
                            &meta,
                        ));
                        outcome.applied += 1;
                    }
                    Err(e) => errors.push(bad(*line, e.to_string())),
                }
            }
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    if !requests.is_empty() {
        let appended = store.submit_all(requests).await.map_err(|e| match e {
            lectern_store::Error::WrongExpectedVersion { .. } => anyhow::anyhow!(
                "the records changed while the file was being checked; run the import again"
            ),
            e => e.into(),
        })?;
        outcome.position = appended.iter().map(|a| a.last_position).max().unwrap_or(0);
    }
    Ok(Ok(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_in_english_or_chinese() {
        use lectern_domain::{StaffCategory, UnitKind};
        let kind = |v| parse_enum::<UnitKind>("unit kind", UNIT_KINDS, v);
        assert_eq!(kind("学院"), Ok(UnitKind::School));
        assert_eq!(kind(" 科室 "), Ok(UnitKind::Office));
        assert_eq!(kind("department"), Ok(UnitKind::Department));
        let err = kind("研究所").unwrap_err();
        assert!(
            err.starts_with("invalid unit kind \"研究所\": expected one of `university`")
                && err.ends_with("or in Chinese 大学, 学校, 校区, 学院, 系, 教研室, 科室, 处室, 工会分会, 学习小组"),
            "{err}"
        );
        let category = |v| parse_enum::<StaffCategory>("staff category", STAFF_CATEGORIES, v);
        assert_eq!(category("教师"), Ok(StaffCategory::Teacher));
        assert_eq!(category("管理人员"), Ok(StaffCategory::Administrator));
        assert_eq!(category("worker"), Ok(StaffCategory::Worker));
    }

    #[test]
    fn csv_records_keep_their_line_and_a_broken_quote_is_named() {
        let text =
            "\u{feff}id,name\r\nA1,\"王, 小明\"\n\n  \nA2,\"two\nlines \"\"quoted\"\"\"\nA3,x\n";
        let rows = parse_csv(text).unwrap();
        let lines: Vec<usize> = rows.iter().map(|r| r.0).collect();
        assert_eq!(lines, [1, 2, 5, 7]);
        assert_eq!(rows[0].1, ["id", "name"]);
        assert_eq!(rows[1].1, ["A1", "王, 小明"]);
        assert_eq!(rows[2].1, ["A2", "two\nlines \"quoted\""]);
        let err = parse_csv("id,name\nA1,\"open\nA2,x\n").unwrap_err();
        assert_eq!(
            (err.line, err.reason.as_str()),
            (2, "a quoted field is not closed")
        );
    }
}
