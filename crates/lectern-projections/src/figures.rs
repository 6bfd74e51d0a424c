//! A unit's monthly figures from the read models, in one query: the
//! sessions it organised and held in the month with their roster counts
//! (`sessions`), and the study tasks its members completed (`study`,
//! `people`). The same figures as the domain's `unit_month` fold over the
//! streams; a test compares the two on generated histories.

use chrono::NaiveTime;
use lectern_domain::{Campus, Period, UnitId, UnitMonthFigures};

use crate::error::{Error, Result};
use crate::sql::{ReadDb, Val};

const FIGURES: &str = "\
    SELECT COUNT(*) AS held, CAST(COALESCE(SUM(present), 0) AS BIGINT) AS present, \
           CAST(COALESCE(SUM(late), 0) AS BIGINT) AS late, \
           CAST(COALESCE(SUM(absent), 0) AS BIGINT) AS absent, \
           CAST(COALESCE(SUM(excused), 0) AS BIGINT) AS excused, \
           (SELECT COUNT(*) FROM rm_task_people x JOIN rm_people p ON p.staff_no = x.staff_no \
            WHERE p.unit = $1 AND x.done_on >= $4 AND x.done_on <= $5) AS tasks_done \
    FROM rm_sessions \
    WHERE organiser = $1 AND status = 'closed' AND starts_at >= $2 AND starts_at < $3";

/// The figures of `unit` for the month `period` (see `Period::month`); the
/// unit's members are its people now.
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
    let rows = db
        .fetch(
            FIGURES,
            &[
                Val::from(unit.as_str()),
                Val::from(at(period.from)?),
                Val::from(at(period.until + chrono::Days::new(1))?),
                Val::from(period.from),
                Val::from(period.until),
            ],
        )
        .await?;
    let n = |column: &str| {
        rows.first()
            .and_then(|r| r.int_opt(column))
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0)
    };
    Ok(UnitMonthFigures {
        sessions_held: n("held"),
        present: n("present"),
        late: n("late"),
        absent: n("absent"),
        excused: n("excused"),
        tasks_done: n("tasks_done"),
    })
}
