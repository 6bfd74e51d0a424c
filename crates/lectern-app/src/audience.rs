//! Who a session or a study task expects.

use chrono::NaiveDate;
use lectern_domain::{Audience, Programme, ProgrammeId, StaffNo, programme_stream};
use lectern_projections::{ReadDb, Val, load, subtree_pattern, subtree_units};
use lectern_store::Store;

use crate::error::Result;

/// Everyone an audience names on the campus date `on`: the staff of its
/// units (and the units below) that day, hired by then, not yet gone, in
/// the unit they belonged to then (read from `db`, the primary's read
/// models or a replica's); or a programme's participants from the log;
/// nobody for an open audience.
pub async fn members_of(
    store: &Store,
    db: &ReadDb,
    audience: &Audience,
    on: NaiveDate,
) -> Result<Vec<StaffNo>> {
    match audience {
        Audience::Open => Ok(vec![]),
        Audience::Cohort { programme } => enrolled(store, programme).await,
        Audience::Units { units } => {
            let mut out = Vec::new();
            for u in units {
                let rows = db
                    .fetch(
                        &format!(
                            "SELECT staff_no FROM rm_memberships WHERE since <= $2 \
                             AND (until IS NULL OR until > $2) AND unit IN ({})",
                            subtree_units("$1")
                        ),
                        &[subtree_pattern(u), Val::from(on)],
                    )
                    .await?;
                for r in rows {
                    out.push(StaffNo::parse(&r.text("staff_no"))?);
                }
            }
            out.sort();
            out.dedup();
            Ok(out)
        }
    }
}

/// The participants of a programme.
async fn enrolled(store: &Store, programme: &ProgrammeId) -> Result<Vec<StaffNo>> {
    let p = load::<Programme>(store, &programme_stream(programme), u64::MAX)
        .await?
        .0;
    Ok(p.participants.into_keys().collect())
}
