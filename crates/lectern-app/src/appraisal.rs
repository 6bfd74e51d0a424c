//! Closing an appraisal year: the totals it records.

use std::collections::BTreeMap;

use lectern_domain::{AppraisalEvent, Campus, Period, Positioned, StaffNo, appraise_entries};
use lectern_projections::{ReadDb, person_entries};

use crate::error::Result;

/// Each of `people`'s total for `year`, appraised as the API appraises a
/// person (the read models' ledger entries under the appraisal stream's
/// rules): what closing the year records.
pub async fn year_totals<'a>(
    db: &ReadDb,
    campus: &Campus,
    appraisal: &[Positioned<AppraisalEvent>],
    people: impl IntoIterator<Item = &'a StaffNo>,
    year: i32,
) -> Result<BTreeMap<StaffNo, i32>> {
    let period = Period::year(year)?;
    let mut totals = BTreeMap::new();
    for no in people {
        let entries = person_entries(db, campus, no, &period).await?;
        let total = appraise_entries(no, &period, appraisal, &entries)?.total;
        totals.insert(no.clone(), total);
    }
    Ok(totals)
}
