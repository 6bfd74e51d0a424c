//! A person's appraisal ledger from the read models: the entries
//! (`lectern_domain::Entry`) that can give them a line in a period, read in
//! one query instead of folding the streams behind them. The projectors
//! keep what an entry needs beside the rows they already have: the
//! positions behind a person's status at a session (`sessions`), a task's
//! assignment and close (`study`), an award's conferral (`awards`).
//! `lectern_domain::appraise_entries` turns the entries into lines; a test
//! compares the result with the fold over every stream of generated
//! histories.

use chrono::{DateTime, NaiveDate, Utc};
use lectern_domain::{AttendanceStatus, AwardLevel, Campus, Entry, Period, StaffNo};

use crate::error::{Error, Result};
use crate::sql::{ReadDb, Row, Val};

/// One row per entry: its kind, date (a timestamp for sessions), title,
/// status or level (`what`), JSON positions, the positions a task was
/// assigned and closed at (or an award conferred at) and an award's year.
const ENTRIES: &str = "\
    SELECT 'session' AS kind, s.starts_at AS date, s.title AS title, a.status AS what, \
           a.positions AS positions, CAST(NULL AS BIGINT) AS assigned, \
           CAST(NULL AS BIGINT) AS closed, CAST(NULL AS BIGINT) AS year \
    FROM rm_attendance a JOIN rm_sessions s ON s.id = a.session_id \
    WHERE a.staff_no = $1 AND a.starts_at >= $2 AND a.starts_at < $3 \
      AND a.status IN ('late', 'absent') AND s.status <> 'cancelled' \
    UNION ALL \
    SELECT 'task', t.due, t.title, NULL, NULL, t.assigned_position, t.closed_position, \
           CAST(NULL AS BIGINT) \
    FROM rm_task_people x JOIN rm_tasks t ON t.id = x.task_id \
    WHERE x.staff_no = $1 AND x.named_missing = 1 AND t.due >= $4 AND t.due <= $5 \
    UNION ALL \
    SELECT 'award', n.conferred_on, c.title, c.level, NULL, n.conferred_position, \
           CAST(NULL AS BIGINT), n.year \
    FROM rm_nominations n JOIN rm_award_categories c ON c.id = n.category \
    WHERE n.nominee_kind = 'person' AND n.nominee = $1 AND n.status = 'conferred' \
      AND n.conferred_on >= $4 AND n.conferred_on <= $5";

/// The entries of `person` whose lines may fall in `period` (sessions are
/// read a day either side of it, for the campus time zone; `Entry::line`
/// keeps those of the period).
pub async fn person_entries(
    db: &ReadDb,
    campus: &Campus,
    person: &StaffNo,
    period: &Period,
) -> Result<Vec<Entry>> {
    let from = period.from - chrono::Days::new(1);
    let until = period.until + chrono::Days::new(2);
    let rows = db
        .fetch(
            ENTRIES,
            &[
                Val::from(person.as_str()),
                Val::from(from),
                Val::from(until),
                Val::from(period.from),
                Val::from(period.until),
            ],
        )
        .await?;
    rows.iter().map(|r| entry(r, campus)).collect()
}

fn entry(r: &Row, campus: &Campus) -> Result<Entry> {
    let bad = |what: &str| Error::Corrupt(format!("ledger row {r:?}: {what}"));
    let position = |column: &str| {
        r.int_opt(column)
            .and_then(|p| u64::try_from(p).ok())
            .ok_or_else(|| bad("a position is missing"))
    };
    let date = || {
        NaiveDate::parse_from_str(&r.text("date"), "%Y-%m-%d")
            .map_err(|_| bad("a date is not a date"))
    };
    let what = || serde_json::Value::String(r.text("what"));
    Ok(match r.text("kind").as_str() {
        "session" => {
            let starts: DateTime<Utc> = DateTime::parse_from_rfc3339(&r.text("date"))
                .map_err(|_| bad("a start is not a timestamp"))?
                .with_timezone(&Utc);
            let status: AttendanceStatus =
                serde_json::from_value(what()).map_err(|_| bad("an unknown status"))?;
            Entry::Attendance {
                status,
                date: campus.date(starts),
                title: r.text("title"),
                positions: serde_json::from_str(&r.text("positions"))
                    .map_err(|_| bad("bad positions"))?,
            }
        }
        "task" => Entry::MissedTask {
            due: date()?,
            title: r.text("title"),
            assigned: position("assigned")?,
            closed: position("closed")?,
        },
        _ => {
            let level: AwardLevel =
                serde_json::from_value(what()).map_err(|_| bad("an unknown award level"))?;
            Entry::Award {
                level,
                title: r.text("title"),
                year: r
                    .int_opt("year")
                    .and_then(|y| i32::try_from(y).ok())
                    .ok_or_else(|| bad("a year is missing"))?,
                on: date()?,
                position: position("assigned")?,
            }
        }
    })
}
