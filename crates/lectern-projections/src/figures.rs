//! A unit's monthly figures from the read models: the sessions it
//! organised and held in the month (`sessions`), and what its people (the
//! staff of the unit and the units below it on each day, `people`'s
//! memberships) did: their statuses at the sessions closed in the month,
//! and the study tasks they completed (`study`). The same figures as the
//! domain's `unit_month` fold over the streams; a test compares the two on
//! generated histories.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use lectern_domain::{Campus, Period, StaffNo, UnitId, UnitMonthFigures, UnitPeople};

use crate::error::{Error, Result};
use crate::sql::{ReadDb, Val};

/// The `LIKE` pattern of the paths of `unit` and the units below it.
pub fn subtree_pattern(unit: &UnitId) -> Val {
    Val::from(format!("%/{}/%", unit.as_str()))
}

/// SQL selecting the units whose path matches the parameter `param` (`?`
/// or `$n`) holds, a `subtree_pattern`.
///
/// Select rows through this (`unit IN (…)`), so that they are found by
/// their unit's index: a join that tests each membership's unit path
/// against the pattern scans every membership (0.7 ms on the demo campus
/// against 0.08 ms). The pattern is cast: SQLite compiles a statement again
/// each time a parameter given straight to `LIKE` is bound anew (its LIKE
/// optimisation may depend on the value), which cost a unit's month a tenth
/// of its time.
pub fn subtree_units(param: &str) -> String {
    format!("SELECT id FROM rm_units WHERE path LIKE CAST({param} AS TEXT)")
}

/// SQL selecting the staff number of everyone who ever belonged to a unit
/// whose path matches parameter `$n` (a `subtree_pattern`).
pub fn subtree_people(n: usize) -> String {
    format!(
        "SELECT m.staff_no FROM rm_memberships m WHERE m.unit IN ({})",
        subtree_units(&format!("${n}"))
    )
}

/// Who belonged to `unit` or a unit below it, and when (from the people
/// area's memberships).
pub async fn unit_people(db: &ReadDb, unit: &UnitId) -> Result<UnitPeople> {
    let rows = db
        .fetch(
            &format!(
                "SELECT m.staff_no, m.since, m.until FROM rm_memberships m WHERE m.unit IN ({})",
                subtree_units("$1")
            ),
            &[subtree_pattern(unit)],
        )
        .await?;
    let date = |v: Option<String>| -> Result<Option<NaiveDate>> {
        v.map(|d| {
            NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|_| Error::Corrupt(format!("rm_memberships holds a bad date {d:?}")))
        })
        .transpose()
    };
    let mut people = UnitPeople::default();
    for r in rows {
        let no = r.text("staff_no");
        let person = StaffNo::parse(&no).map_err(|_| {
            Error::Corrupt(format!("rm_memberships holds a bad staff number {no:?}"))
        })?;
        let since = date(r.opt("since"))?
            .ok_or_else(|| Error::Corrupt(format!("a membership of {no} has no start")))?;
        people.insert(person, since, date(r.opt("until"))?);
    }
    Ok(people)
}

/// The figures of `unit` for the month `period` (see `Period::month`).
pub async fn unit_month_figures(
    db: &ReadDb,
    campus: &Campus,
    unit: &UnitId,
    period: &Period,
) -> Result<UnitMonthFigures> {
    let midnight = NaiveTime::MIN;
    let at = |d| {
        campus
            .at(d, midnight)
            .map_err(|e| Error::Corrupt(format!("campus time of {d}: {e}")))
    };
    let (from, until) = (at(period.from)?, at(period.until + chrono::Days::new(1))?);
    let people = unit_people(db, unit).await?;
    let mut f = UnitMonthFigures::default();
    let held = db
        .fetch(
            "SELECT COUNT(*) AS held FROM rm_sessions WHERE organiser = $1 AND status = 'closed' \
             AND starts_at >= $2 AND starts_at < $3",
            &[Val::from(unit.as_str()), Val::from(from), Val::from(until)],
        )
        .await?;
    f.sessions_held = held
        .first()
        .and_then(|r| r.int_opt("held"))
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0);
    let subtree = subtree_pattern(unit);
    let rows = db
        .fetch(
            &format!(
                "SELECT a.staff_no, a.status, a.starts_at FROM rm_attendance a \
                 JOIN rm_sessions s ON s.id = a.session_id \
                 WHERE s.status = 'closed' AND a.starts_at >= $1 AND a.starts_at < $2 \
                 AND a.status IS NOT NULL AND a.staff_no IN ({})",
                subtree_people(3)
            ),
            &[Val::from(from), Val::from(until), subtree.clone()],
        )
        .await?;
    // A year of a large unit is a hundred thousand rows of a few hundred
    // sessions: each session's start is turned into a campus date once.
    let mut days: HashMap<String, NaiveDate> = HashMap::new();
    for r in rows {
        let Ok(person) = StaffNo::parse(&r.text("staff_no")) else {
            continue;
        };
        let starts_at = r.text("starts_at");
        let day = match days.get(&starts_at) {
            Some(day) => *day,
            None => {
                let starts = DateTime::parse_from_rfc3339(&starts_at)
                    .map_err(|_| Error::Corrupt(format!("rm_attendance holds a bad start {r:?}")))?
                    .with_timezone(&Utc);
                *days.entry(starts_at).or_insert(campus.date(starts))
            }
        };
        if !people.on(&person, day) {
            continue;
        }
        // As `AttendanceStatus` is stored (snake case).
        match r.text("status").as_str() {
            "present" => f.present += 1,
            "late" => f.late += 1,
            "absent" => f.absent += 1,
            "excused" => f.excused += 1,
            _ => {
                return Err(Error::Corrupt(format!(
                    "rm_attendance holds a bad status {r:?}"
                )));
            }
        }
    }
    let done = db
        .fetch(
            &format!(
                "SELECT x.staff_no, x.done_on FROM rm_task_people x \
                 WHERE x.done_on >= $1 AND x.done_on <= $2 AND x.staff_no IN ({})",
                subtree_people(3)
            ),
            &[Val::from(period.from), Val::from(period.until), subtree],
        )
        .await?;
    for r in done {
        let (Ok(person), Ok(on)) = (
            StaffNo::parse(&r.text("staff_no")),
            NaiveDate::parse_from_str(&r.text("done_on"), "%Y-%m-%d"),
        ) else {
            continue;
        };
        if people.on(&person, on) {
            f.tasks_done += 1;
        }
    }
    Ok(f)
}
