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
use crate::sql::{ReadDb, Val, Values};

/// One row per entry: kind, date (a timestamp for sessions), title,
/// status or level, JSON positions, two positions and a year.
const ENTRIES: &str = "\
    SELECT 'session', s.starts_at, s.title, a.status, a.positions, \
           CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT) \
    FROM rm_attendance a JOIN rm_sessions s ON s.id = a.session_id \
    WHERE a.staff_no = $1 AND a.starts_at >= $2 AND a.starts_at < $3 \
      AND a.status IN ('late', 'absent') AND s.status <> 'cancelled' \
    UNION ALL \
    SELECT 'task', t.due, t.title, NULL, NULL, t.assigned_position, t.closed_position, \
           CAST(NULL AS BIGINT) \
    FROM rm_task_people x JOIN rm_tasks t ON t.id = x.task_id \
    WHERE x.staff_no = $1 AND x.state = 'missed' AND t.due >= $4 AND t.due <= $5 \
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

fn entry(r: &Values, campus: &Campus) -> Result<Entry> {
    let text = |i: usize| r[i].as_str().unwrap_or_default();
    let bad = |what: &str| Error::Corrupt(format!("ledger row {r:?}: {what}"));
    let position = |i: usize| {
        r[i].as_i64()
            .and_then(|p| u64::try_from(p).ok())
            .ok_or_else(|| bad("a position is missing"))
    };
    let date = |i: usize| {
        NaiveDate::parse_from_str(text(i), "%Y-%m-%d").map_err(|_| bad("a date is not a date"))
    };
    let named = |i: usize| serde_json::Value::String(text(i).to_owned());
    Ok(match text(0) {
        "session" => {
            let starts: DateTime<Utc> = DateTime::parse_from_rfc3339(text(1))
                .map_err(|_| bad("a start is not a timestamp"))?
                .with_timezone(&Utc);
            let status: AttendanceStatus =
                serde_json::from_value(named(3)).map_err(|_| bad("an unknown status"))?;
            Entry::Attendance {
                status,
                date: campus.date(starts),
                title: text(2).to_owned(),
                positions: serde_json::from_str(text(4)).map_err(|_| bad("bad positions"))?,
            }
        }
        "task" => Entry::MissedTask {
            due: date(1)?,
            title: text(2).to_owned(),
            assigned: position(5)?,
            closed: position(6)?,
        },
        _ => {
            let level: AwardLevel =
                serde_json::from_value(named(3)).map_err(|_| bad("an unknown award level"))?;
            Entry::Award {
                level,
                title: text(2).to_owned(),
                year: r[7]
                    .as_i64()
                    .and_then(|y| i32::try_from(y).ok())
                    .ok_or_else(|| bad("a year is missing"))?,
                on: date(1)?,
                position: position(5)?,
            }
        }
    })
}
