//! The appraisal stream in memory, shared by every appraisal a server
//! answers.

use std::sync::{Arc, Mutex};

use lectern_domain::{APPRAISAL_STREAM, AppraisalEvent, Positioned};
use lectern_projections::decode;
use lectern_store::Store;

use crate::error::Result;

/// The appraisal stream (rules, adjustments, year closes) in memory: every
/// appraisal needs all of it, and it only grows. It is topped up from the
/// log when the read models have moved since it was last checked, so an
/// appraisal is never older than the read models it is computed with.
#[derive(Clone, Default)]
pub(crate) struct AppraisalLog {
    known: Arc<Mutex<Known>>,
}

#[derive(Default)]
struct Known {
    events: Arc<Vec<Positioned<AppraisalEvent>>>,
    /// The read models' position when the log was last read.
    checked_at: Option<u64>,
}

impl AppraisalLog {
    /// The stream as the log holds it, at least up to `position` (the
    /// read models' position now).
    pub(crate) async fn read(
        &self,
        store: &Store,
        position: u64,
    ) -> Result<Arc<Vec<Positioned<AppraisalEvent>>>> {
        let mut events = {
            let known = self.known.lock().expect("not poisoned");
            if known.checked_at.is_some_and(|c| c >= position) {
                return Ok(known.events.clone());
            }
            known.events.clone()
        };
        loop {
            let fresh = store
                .read_stream(APPRAISAL_STREAM, events.len() as u64 + 1, 1000)
                .await?;
            if fresh.is_empty() {
                break;
            }
            let mut grown = Vec::with_capacity(events.len() + fresh.len());
            grown.extend(events.iter().cloned());
            for e in &fresh {
                grown.push(Positioned {
                    position: e.position,
                    occurred_at: e.occurred_at,
                    event: decode(e)?,
                });
            }
            events = Arc::new(grown);
        }
        let mut known = self.known.lock().expect("not poisoned");
        if known.events.len() <= events.len() {
            known.events = events.clone();
            known.checked_at = known.checked_at.max(Some(position));
        }
        Ok(events)
    }
}
