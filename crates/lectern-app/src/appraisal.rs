//! Closing an appraisal year: the totals it records.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use lectern_audit::replay::{AsOf, replay_unit_knowing};
use lectern_domain::{
    Appraisal, AppraisalEvent, Campus, Period, Positioned, StaffNo, UnitId, appraise_entries,
};
use lectern_projections::{ReadDb, person_entries};
use lectern_store::Store;

use crate::error::{Error, Result};

/// Each of `people`'s appraisal for `year`, appraised as the API appraises a
/// person (the read models' ledger entries under the appraisal stream's
/// rules): what closing the year records.
pub async fn year_appraisals<'a>(
    db: &ReadDb,
    campus: &Campus,
    appraisal: &[Positioned<AppraisalEvent>],
    people: impl IntoIterator<Item = &'a StaffNo>,
    year: i32,
) -> Result<BTreeMap<StaffNo, Appraisal>> {
    let period = Period::year(year)?;
    let mut out = BTreeMap::new();
    for no in people {
        let entries = person_entries(db, campus, no, &period).await?;
        out.insert(
            no.clone(),
            appraise_entries(no, &period, appraisal, &entries)?,
        );
    }
    Ok(out)
}

/// Each of `units`' total for `year` on the campus date `today`, appraised
/// as the API appraises a unit, from its people's appraisals (`people`,
/// everyone's for the year, so that nobody is appraised twice).
pub async fn unit_year_totals<'a>(
    store: &Store,
    db: &ReadDb,
    campus: &Campus,
    people: &BTreeMap<StaffNo, Appraisal>,
    units: impl IntoIterator<Item = &'a UnitId>,
    year: i32,
    today: NaiveDate,
) -> Result<BTreeMap<UnitId, i32>> {
    let period = Period::year(year)?;
    let mut out = BTreeMap::new();
    for unit in units {
        let a = replay_unit_knowing(store, db, campus, unit, &period, AsOf::Now, today, people)
            .await
            .map_err(|e| Error::internal(format!("appraising unit {unit}: {e}")))?;
        out.insert(unit.clone(), a.total);
    }
    Ok(out)
}
