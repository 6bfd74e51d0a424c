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
/// whose path matches the parameter `param` (`?` or `$n`) holds, a
/// `subtree_pattern`.
pub fn subtree_people(param: &str) -> String {
    format!(
        "SELECT m.staff_no FROM rm_memberships m WHERE m.unit IN ({})",
        subtree_units(param)
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
    // Most people belong to the unit for the whole period: their statuses
    // are counted by the database. Only the rows of those who joined or
    // left during it are read, each checked against the day it fell on.
    let steady = format!(
        "SELECT m.staff_no FROM rm_memberships m WHERE m.unit IN ({}) \
         AND m.since <= $4 AND (m.until IS NULL OR m.until > $5)",
        subtree_units("$3")
    );
    let closed_in_period = "FROM rm_attendance a JOIN rm_sessions s ON s.id = a.session_id \
         WHERE s.status = 'closed' AND a.starts_at >= $1 AND a.starts_at < $2 \
         AND a.status IS NOT NULL";
    let params = [
        Val::from(from),
        Val::from(until),
        subtree.clone(),
        Val::from(period.from),
        Val::from(period.until),
    ];
    let counted = db
        .fetch(
            &format!(
                "SELECT a.status, COUNT(*) AS n {closed_in_period} \
                 AND a.staff_no IN ({steady}) GROUP BY a.status"
            ),
            &params,
        )
        .await?;
    for r in counted {
        let n = r
            .int_opt("n")
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0);
        *status_count(&mut f, &r.text("status"))? += n;
    }
    let rows = db
        .fetch(
            &format!(
                "SELECT a.staff_no, a.status, a.starts_at {closed_in_period} \
                 AND a.staff_no IN ({}) AND a.staff_no NOT IN ({steady})",
                subtree_people("$3")
            ),
            &params,
        )
        .await?;
    // Each session's start is turned into a campus date once.
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
        if people.on(&person, day) {
            *status_count(&mut f, &r.text("status"))? += 1;
        }
    }
    let done = db
        .fetch(
            &format!(
                "SELECT x.staff_no, x.done_on FROM rm_task_people x \
                 WHERE x.done_on >= $1 AND x.done_on <= $2 AND x.staff_no IN ({})",
                subtree_people("$3")
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

/// The figure counting attendance status `status` (as `AttendanceStatus`
/// is stored, snake case).
fn status_count<'a>(f: &'a mut UnitMonthFigures, status: &str) -> Result<&'a mut u32> {
    Ok(match status {
        "present" => &mut f.present,
        "late" => &mut f.late,
        "absent" => &mut f.absent,
        "excused" => &mut f.excused,
        _ => {
            return Err(Error::Corrupt(format!(
                "rm_attendance holds a bad status {status:?}"
            )));
        }
    })
}
