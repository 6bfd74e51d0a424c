//! Reports: the administrators' everyday tables. Each is a GraphQL query
//! run in-process for a caller (so it answers exactly what the API answers,
//! with the same access rules) and flattened into a `Table`, which is
//! printed for a terminal or written as CSV (UTF-8 with a byte-order mark,
//! so that spreadsheet programs read Chinese correctly) or XLSX.

use std::fmt::Write as _;

use lectern_app::{Code, Error};
use lectern_graphql::{Api, Caller, LecternSchema};
use serde_json::{Value, json};
use uuid::Uuid;

/// A report's rows under its column headings.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    /// Each cell a string, a number or null.
    pub rows: Vec<Vec<Value>>,
}

/// The reports there are.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum Report {
    /// A programme's report: sessions held by kind and participants, per
    /// year and in total.
    Programme {
        #[arg(long)]
        programme: String,
    },
    /// A unit's month: sessions held, attendance, study tasks done, the
    /// study check and the union chair's report.
    UnitMonth {
        #[arg(long)]
        unit: String,
        #[arg(long)]
        year: i32,
        #[arg(long)]
        month: u32,
    },
    /// A person's year-end appraisal, one line per point.
    Appraisal {
        #[arg(long)]
        person: String,
        #[arg(long)]
        year: i32,
    },
    /// A unit's year-end appraisal, one line per point.
    UnitAppraisal {
        #[arg(long)]
        unit: String,
        #[arg(long)]
        year: i32,
    },
    /// The leadership group and every unit's union chair.
    Leadership,
    /// The awards register, by year and level.
    Awards {
        #[arg(long)]
        year: Option<i32>,
        /// national, provincial, city or university.
        #[arg(long)]
        level: Option<String>,
    },
    /// The attendance of one session.
    Session {
        #[arg(long)]
        id: Uuid,
    },
    /// What closing an appraisal year recorded for each person and unit,
    /// beside the total the log gives now: where a dispute starts.
    YearEnd {
        #[arg(long)]
        year: i32,
    },
}

const PROGRAMME: &str = "query($id: String!) { programme(id: $id) { id title
    report { year participants sessions { kind sessions } } } }";
const UNIT_MONTH: &str = "query($unit: String!, $year: Int!, $month: Int!) {
    unitMonth(unit: $unit, year: $year, month: $month) {
      figures { sessionsHeld present late absent excused tasksDone attendancePermille }
      pointsLost studyCheck { checkedOn checker notes } report { chair submittedOn narrative } } }";
const APPRAISAL: &str = "query($who: String!, $year: Int!) {
    appraisal(staffNo: $who, year: $year) { subject total
      lines { points rule ruleVersion date subject positions } } }";
const UNIT_APPRAISAL: &str = "query($unit: String!, $year: Int!) {
    unitAppraisal(unit: $unit, year: $year) { subject total
      lines { points rule ruleVersion date subject positions } } }";
const LEADERSHIP: &str = "{ leadershipGroup { role ofUnit staffNo name unit } }";
const AWARDS: &str = "query($year: Int, $level: AwardLevel) {
    awardsRegister(year: $year, level: $level) { year level categoryTitle nomineeKind
      nominee nomineeName ceremony conferredOn citation } }";
const YEAR_END: &str = "query($year: Int!) { yearEndRecord(year: $year) { year closed
    people { staffNo name recorded live } units { staffNo name recorded live } } }";
const SESSION: &str = "query($id: UUID!, $after: String) { session(id: $id) { title startsAt
    roster(first: 100, after: $after) { edges { node { staffNo name status leave checkedInAt } }
      pageInfo { hasNextPage endCursor } } } }";

fn columns(names: &[&str]) -> Vec<String> {
    names.iter().map(|c| (*c).to_owned()).collect()
}

/// The cells of `fields` in `object`, in order.
fn cells(object: &Value, fields: &[&str]) -> Vec<Value> {
    fields.iter().map(|f| object[*f].clone()).collect()
}

fn appraisal_table(title: String, a: &Value) -> Table {
    let mut rows: Vec<Vec<Value>> = a["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let positions = l["positions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(" ");
            let mut row = cells(l, &["date", "rule", "ruleVersion", "subject", "points"]);
            row.push(Value::String(positions));
            row
        })
        .collect();
    rows.push(vec![
        Value::Null,
        json!("total"),
        Value::Null,
        Value::Null,
        a["total"].clone(),
        Value::Null,
    ]);
    Table {
        title,
        columns: columns(&[
            "date",
            "rule",
            "version",
            "subject",
            "points",
            "log positions",
        ]),
        rows,
    }
}

impl Report {
    /// The report a download link names (see `lectern_graphql::REPORTS`),
    /// from its query parameters.
    pub fn from_params(kind: &str, params: &[(String, String)]) -> Result<Report, String> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("the {kind} report needs {name}"))
        };
        let int = |name: &str| -> Result<i64, String> {
            let v = get(name)?;
            v.parse()
                .map_err(|_| format!("invalid {name} {v:?}: a whole number"))
        };
        let year = || int("year").and_then(|y| i32::try_from(y).map_err(|e| e.to_string()));
        Ok(match kind {
            "programme" => Report::Programme {
                programme: get("programme")?,
            },
            "unit-month" => Report::UnitMonth {
                unit: get("unit")?,
                year: year()?,
                month: u32::try_from(int("month")?).map_err(|e| e.to_string())?,
            },
            "appraisal" => Report::Appraisal {
                person: get("person")?,
                year: year()?,
            },
            "unit-appraisal" => Report::UnitAppraisal {
                unit: get("unit")?,
                year: year()?,
            },
            "leadership" => Report::Leadership,
            "awards" => Report::Awards {
                year: get("year").ok().map(|_| year()).transpose()?,
                level: get("level").ok(),
            },
            "session" => Report::Session {
                id: get("id")?
                    .parse()
                    .map_err(|e| format!("invalid session id: {e}"))?,
            },
            "year-end" => Report::YearEnd { year: year()? },
            other => return Err(format!("unknown report {other:?}")),
        })
    }

    /// The query and its variables (the session report's first page).
    fn request(&self) -> (&'static str, Value) {
        match self {
            Report::Programme { programme } => (PROGRAMME, json!({ "id": programme })),
            Report::UnitMonth { unit, year, month } => (
                UNIT_MONTH,
                json!({ "unit": unit, "year": year, "month": month }),
            ),
            Report::Appraisal { person, year } => {
                (APPRAISAL, json!({ "who": person, "year": year }))
            }
            Report::UnitAppraisal { unit, year } => {
                (UNIT_APPRAISAL, json!({ "unit": unit, "year": year }))
            }
            Report::Leadership => (LEADERSHIP, json!({})),
            Report::Awards { year, level } => (AWARDS, json!({ "year": year, "level": level })),
            Report::Session { id } => (SESSION, json!({ "id": id })),
            Report::YearEnd { year } => (YEAR_END, json!({ "year": year })),
        }
    }

    /// A short name for files: `appraisal-T100042-2008`.
    pub fn file_stem(&self) -> String {
        match self {
            Report::Programme { programme } => format!("programme-{programme}"),
            Report::UnitMonth { unit, year, month } => {
                format!("unit-month-{unit}-{year}-{month:02}")
            }
            Report::Appraisal { person, year } => format!("appraisal-{person}-{year}"),
            Report::UnitAppraisal { unit, year } => format!("unit-appraisal-{unit}-{year}"),
            Report::Leadership => "leadership".to_owned(),
            Report::Awards { year, level } => format!(
                "awards{}{}",
                year.map_or(String::new(), |y| format!("-{y}")),
                level.as_ref().map_or(String::new(), |l| format!("-{l}"))
            ),
            Report::Session { id } => format!("session-{id}"),
            Report::YearEnd { year } => format!("year-end-{year}"),
        }
    }

    /// Flattens the query's `data` into the report's table.
    fn table(&self, data: &Value) -> Table {
        match self {
            Report::Programme { .. } => {
                let p = &data["programme"];
                let report = p["report"].as_array().cloned().unwrap_or_default();
                // One column per kind of session the programme held.
                let mut kinds: Vec<String> = Vec::new();
                for y in &report {
                    for k in y["sessions"].as_array().into_iter().flatten() {
                        let kind = k["kind"].as_str().unwrap_or_default().to_owned();
                        if !kinds.contains(&kind) {
                            kinds.push(kind);
                        }
                    }
                }
                let mut names = vec!["year".to_owned()];
                names.extend(kinds.iter().cloned());
                names.push("participants".to_owned());
                let rows = report
                    .iter()
                    .map(|y| {
                        let mut row = vec![if y["year"].is_null() {
                            json!("total")
                        } else {
                            y["year"].clone()
                        }];
                        for kind in &kinds {
                            let n = y["sessions"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .find(|k| k["kind"] == kind.as_str())
                                .map_or(json!(0), |k| k["sessions"].clone());
                            row.push(n);
                        }
                        row.push(y["participants"].clone());
                        row
                    })
                    .collect();
                Table {
                    title: format!(
                        "{} ({})",
                        p["title"].as_str().unwrap_or_default(),
                        p["id"].as_str().unwrap_or_default()
                    ),
                    columns: names,
                    rows,
                }
            }
            Report::UnitMonth { unit, year, month } => {
                let m = &data["unitMonth"];
                let f = &m["figures"];
                let mut row = cells(
                    f,
                    &[
                        "sessionsHeld",
                        "present",
                        "late",
                        "absent",
                        "excused",
                        "tasksDone",
                    ],
                );
                row.push(
                    f["attendancePermille"]
                        .as_i64()
                        .map_or(Value::Null, |p| json!(format!("{:.1}%", p as f64 / 10.0))),
                );
                row.push(m["pointsLost"].clone());
                row.push(m["studyCheck"]["checkedOn"].clone());
                row.push(m["studyCheck"]["checker"].clone());
                row.push(m["report"]["chair"].clone());
                row.push(m["report"]["submittedOn"].clone());
                Table {
                    title: format!("{unit} {year}-{month:02}"),
                    columns: columns(&[
                        "sessions held",
                        "present",
                        "late",
                        "absent",
                        "excused",
                        "study tasks done",
                        "attendance",
                        "points lost",
                        "study check on",
                        "checker",
                        "report by",
                        "report submitted on",
                    ]),
                    rows: vec![row],
                }
            }
            Report::Appraisal { person, year } => {
                appraisal_table(format!("{person} {year}"), &data["appraisal"])
            }
            Report::UnitAppraisal { unit, year } => {
                appraisal_table(format!("{unit} {year}"), &data["unitAppraisal"])
            }
            Report::YearEnd { year } => {
                let r = &data["yearEndRecord"];
                Table {
                    title: if r["closed"] == true {
                        format!("{year} year-end record")
                    } else {
                        format!("{year} year-end record: the year is not closed yet")
                    },
                    // People by staff number, then units by id.
                    columns: columns(&["who", "name", "recorded", "live", "difference"]),
                    rows: r["people"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .chain(r["units"].as_array().into_iter().flatten())
                        .map(|p| {
                            let mut row = cells(p, &["staffNo", "name", "recorded", "live"]);
                            let n = |k: &str| p[k].as_i64().unwrap_or(0);
                            row.push(json!(n("live") - n("recorded")));
                            row
                        })
                        .collect(),
                }
            }
            Report::Leadership => Table {
                title: "leadership group".to_owned(),
                columns: columns(&["role", "of unit", "staff no", "name", "unit"]),
                rows: data["leadershipGroup"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|l| cells(l, &["role", "ofUnit", "staffNo", "name", "unit"]))
                    .collect(),
            },
            Report::Awards { .. } => Table {
                title: self.file_stem(),
                columns: columns(&[
                    "year",
                    "level",
                    "award",
                    "nominee kind",
                    "nominee",
                    "name",
                    "ceremony",
                    "conferred on",
                    "citation",
                ]),
                rows: data["awardsRegister"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|n| {
                        cells(
                            n,
                            &[
                                "year",
                                "level",
                                "categoryTitle",
                                "nomineeKind",
                                "nominee",
                                "nomineeName",
                                "ceremony",
                                "conferredOn",
                                "citation",
                            ],
                        )
                    })
                    .collect(),
            },
            Report::Session { .. } => {
                let s = &data["session"];
                Table {
                    title: format!(
                        "{} {}",
                        s["title"].as_str().unwrap_or_default(),
                        s["startsAt"].as_str().unwrap_or_default()
                    ),
                    columns: columns(&["staff no", "name", "status", "leave", "checked in at"]),
                    rows: s["roster"]["edges"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|e| {
                            cells(
                                &e["node"],
                                &["staffNo", "name", "status", "leave", "checkedInAt"],
                            )
                        })
                        .collect(),
                }
            }
        }
    }
}

/// Runs `report` for `caller`: its query (every page of a session's
/// roster), its table. A refusal or a bad argument is the API's error,
/// code and message.
pub async fn run(
    schema: &LecternSchema,
    api: &Api,
    caller: &Caller,
    report: &Report,
) -> Result<Table, Error> {
    let (query, mut variables) = report.request();
    let mut table: Option<Table> = None;
    loop {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables.clone()));
        let response = lectern_graphql::execute(schema, api, request, Some(caller.clone())).await;
        if let Some(e) = response.errors.first() {
            let code = e
                .extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .map(|c| c.to_string().trim_matches('"').to_owned());
            let code = match code.as_deref() {
                None => Code::BadUserInput,
                Some(name) => Code::parse(name).unwrap_or(Code::Internal),
            };
            return Err(Error::new(code, e.message.clone()));
        }
        let data = response.data.into_json().map_err(Error::internal)?;
        let page = report.table(&data);
        match table.as_mut() {
            None => table = Some(page),
            Some(t) => t.rows.extend(page.rows),
        }
        let info = &data["session"]["roster"]["pageInfo"];
        if !matches!(report, Report::Session { .. }) || info["hasNextPage"] != true {
            break;
        }
        variables["after"] = info["endCursor"].clone();
    }
    Ok(table.expect("one page at least"))
}

/// How many terminal columns `s` takes (CJK characters take two).
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

fn text(cell: &Value) -> String {
    match cell {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Table {
    /// CSV (RFC 4180, written by the `csv` crate: fields with a comma,
    /// quote or line break quoted), UTF-8 with a byte-order mark, CRLF line
    /// ends; a header row.
    pub fn csv(&self) -> anyhow::Result<Vec<u8>> {
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .flexible(true)
            .from_writer("\u{feff}".as_bytes().to_vec());
        out.write_record(&self.columns)?;
        for row in &self.rows {
            out.write_record(row.iter().map(text))?;
        }
        Ok(out.into_inner().map_err(|e| e.into_error())?)
    }

    /// An Excel workbook of one sheet: the title in the first row, the
    /// column headings in bold in the second (frozen, so they stay in view),
    /// numbers as numbers, dates (`2008-11-04`) as dates, columns as wide
    /// as their contents.
    pub fn xlsx(&self) -> anyhow::Result<Vec<u8>> {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        // A sheet name: at most 31 characters, none of []:*?/\.
        let name: String = self
            .title
            .chars()
            .filter(|c| !"[]:*?/\\".contains(*c))
            .take(31)
            .collect();
        if !name.trim().is_empty() {
            sheet.set_name(name.trim())?;
        }
        let bold = Format::new().set_bold();
        let day = Format::new().set_num_format("yyyy-mm-dd");
        sheet.write_string_with_format(0, 0, &self.title, &bold)?;
        let mut widths: Vec<usize> = self.columns.iter().map(|c| display_width(c)).collect();
        for (col, heading) in self.columns.iter().enumerate() {
            sheet.write_string_with_format(1, col as u16, heading, &bold)?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            let r = r as u32 + 2;
            for (col, cell) in row.iter().enumerate() {
                match cell {
                    Value::Null => {}
                    Value::Number(n) => {
                        sheet.write_number(r, col as u16, n.as_f64().unwrap_or_default())?;
                    }
                    Value::String(s) if let Some(d) = calendar_date(s) => {
                        use chrono::Datelike;
                        let date = ExcelDateTime::from_ymd(
                            u16::try_from(d.year())?,
                            u8::try_from(d.month())?,
                            u8::try_from(d.day())?,
                        )?;
                        sheet.write_datetime_with_format(r, col as u16, &date, &day)?;
                    }
                    other => {
                        sheet.write_string(r, col as u16, text(other))?;
                    }
                }
                widths[col] = widths[col].max(display_width(&text(cell)));
            }
        }
        for (col, w) in widths.iter().enumerate() {
            sheet.set_column_width(col as u16, (*w as f64 + 2.0).min(80.0))?;
        }
        sheet.set_freeze_panes(2, 0)?;
        Ok(book.save_to_buffer()?)
    }

    /// The table for a terminal: the title, then aligned columns (wide
    /// characters count two).
    pub fn render(&self) -> String {
        let width = display_width;
        let cells: Vec<Vec<String>> = std::iter::once(self.columns.clone())
            .chain(self.rows.iter().map(|r| r.iter().map(text).collect()))
            .collect();
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|i| cells.iter().map(|r| width(&r[i])).max().unwrap_or(0))
            .collect();
        let mut out = format!("{}\n", self.title);
        for row in &cells {
            let mut line = String::new();
            for (i, c) in row.iter().enumerate() {
                let pad = widths[i] - width(c);
                let _ = write!(line, "{c}{}  ", " ".repeat(pad));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `GET /export/{report}.{csv|xlsx}?…`: a download link from the
/// `exportLink` query, run for the token it names.
pub(crate) fn router() -> axum::Router<crate::app::AppState> {
    axum::Router::new().route("/export/{file}", axum::routing::get(download))
}

async fn download(
    axum::extract::State(state): axum::extract::State<crate::app::AppState>,
    axum::extract::Path(file): axum::extract::Path<String>,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let answer = async {
        let (kind, format) = file.rsplit_once('.').ok_or_else(|| {
            Error::bad_input(format!("{file:?} is not REPORT.csv or REPORT.xlsx"))
        })?;
        let token = lectern_graphql::check_link(
            &state.api.link_key,
            kind,
            format,
            &query,
            state.api.app.clock.now(),
        )?;
        let caller = state.api.tokens.caller_by_id(&token).await?;
        let report = Report::from_params(kind, &query).map_err(Error::bad_input)?;
        let table = run(&state.schema, &state.api, &caller, &report).await?;
        let (bytes, content_type) = match format {
            "csv" => (
                table.csv().map_err(Error::internal)?,
                "text/csv; charset=utf-8",
            ),
            _ => (
                table.xlsx().map_err(Error::internal)?,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
        };
        Ok::<_, Error>((
            bytes,
            content_type,
            format!("{}.{format}", report.file_stem()),
        ))
    }
    .await;
    match answer {
        Ok((bytes, content_type, name)) => (
            [
                (header::CONTENT_TYPE, content_type.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => (crate::app::status(e.code), format!("{}\n", e.message)).into_response(),
    }
}

/// A cell's text that is a calendar date as the API gives one
/// (`2008-11-04`), within the years a spreadsheet counts (1900 to 9999).
fn calendar_date(text: &str) -> Option<chrono::NaiveDate> {
    let d = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    (text.len() == 10 && (1900..=9999).contains(&chrono::Datelike::year(&d))).then_some(d)
}
