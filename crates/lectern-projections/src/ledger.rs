//! A person's appraisal ledger from the read models: the entries
//! (`lectern_domain::Entry`) that can give them a line in a period, read in
//! one query instead of folding the streams behind them. The projectors
//! keep what an entry needs beside the rows they already have: the
//! positions behind a person's status at a session (`sessions`), a task's
//! assignment and close (`study`), an award's conferral (`awards`).
//! `lectern_domain::appraise_entries` turns the entries into lines; a test
//! compares the result with the fold over every stream of generated
//! histories.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use lectern_domain::{AttendanceStatus, AwardLevel, Campus, Entry, Period, StaffNo, UnitId};

use crate::error::{Error, Result};
use crate::figures::{subtree_pattern, subtree_people};
use crate::sql::{ReadDb, Row, Val};

/// One row per entry: whose, its kind, date (a timestamp for sessions),
/// title, status or level (`what`), JSON positions, the positions a task
/// was assigned and closed at (or an award conferred at) and an award's
/// year; `{who}` is the condition on the person (`$1`).
const ENTRIES: &str = "\
    SELECT a.staff_no AS who, 'session' AS kind, s.starts_at AS date, s.title AS title, a.status AS what, \
           a.positions AS positions, CAST(NULL AS BIGINT) AS assigned, \
           CAST(NULL AS BIGINT) AS closed, CAST(NULL AS BIGINT) AS year \
    FROM rm_attendance a JOIN rm_sessions s ON s.id = a.session_id \
    WHERE a.staff_no {who} AND a.starts_at >= $2 AND a.starts_at < $3 \
      AND a.status IN ('late', 'absent') AND s.status <> 'cancelled' \
    UNION ALL \
    SELECT x.staff_no, 'task', t.due, t.title, NULL, NULL, t.assigned_position, t.closed_position, \
           CAST(NULL AS BIGINT) \
    FROM rm_task_people x JOIN rm_tasks t ON t.id = x.task_id \
    WHERE x.staff_no {who} AND x.named_missing = 1 AND t.due >= $4 AND t.due <= $5 \
    UNION ALL \
    SELECT n.nominee, 'award', n.conferred_on, c.title, c.level, NULL, n.conferred_position, \
           CAST(NULL AS BIGINT), n.year \
    FROM rm_nominations n JOIN rm_award_categories c ON c.id = n.category \
    WHERE n.nominee_kind = 'person' AND n.nominee {who} AND n.status = 'conferred' \
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
    let rows = entry_rows(db, "= $1", Val::from(person.as_str()), period).await?;
    rows.iter().map(|r| entry(r, campus)).collect()
}

/// The entries of everyone who ever belonged to `unit` or a unit below it
/// (`rm_memberships`), by person, in one query: for a unit's appraisal.
pub async fn unit_entries(
    db: &ReadDb,
    campus: &Campus,
    unit: &UnitId,
    period: &Period,
) -> Result<BTreeMap<StaffNo, Vec<Entry>>> {
    let who = format!("IN ({})", subtree_people("$1"));
    let mut out: BTreeMap<StaffNo, Vec<Entry>> = BTreeMap::new();
    for r in entry_rows(db, &who, subtree_pattern(unit), period).await? {
        let no = r.text("who");
        let person = StaffNo::parse(&no)
            .map_err(|_| Error::Corrupt(format!("ledger row {r:?}: a bad staff number")))?;
        out.entry(person).or_default().push(entry(&r, campus)?);
    }
    Ok(out)
}

/// The ledger rows of the people `who` selects (see `ENTRIES`) for
/// `period` (sessions read a day either side, for the campus time zone).
async fn entry_rows(db: &ReadDb, who: &str, person: Val, period: &Period) -> Result<Vec<Row>> {
    let from = period.from - chrono::Days::new(1);
    let until = period.until + chrono::Days::new(2);
    db.fetch(
        &ENTRIES.replace("{who}", who),
        &[
            person,
            Val::from(from),
            Val::from(until),
            Val::from(period.from),
            Val::from(period.until),
        ],
    )
    .await
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
