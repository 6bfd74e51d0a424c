//! `disputes`: appraisal disputes, who filed them about which lines,
//! the auditor assigned, and the outcome with the totals before and after.
//! A claim reads as erased once its filer's personal data is erased.

use lectern_domain::{Dispute, DisputeEvent};
use lectern_store::RecordedEvent;

use lectern_domain::personal::ERASED;

use super::{States, erased_person, text};
use crate::error::Result;
use crate::projector::{Cx, Projector, Table};

#[derive(Debug, Default)]
pub struct DisputesProjector {
    disputes: States<Dispute>,
}

impl Projector for DisputesProjector {
    const NAME: &'static str = "disputes";
    const VERSION: i64 = 2;
    const TABLES: &'static [Table] = &[Table {
        name: "disputes",
        columns: "id TEXT PRIMARY KEY, person TEXT NOT NULL, year BIGINT NOT NULL, \
                  positions TEXT NOT NULL, claim TEXT NOT NULL, filed_on TEXT NOT NULL, \
                  auditor TEXT, status TEXT NOT NULL, reasoning TEXT, correcting_events TEXT, \
                  total_before BIGINT, total_after BIGINT",
        indexes: &["person", "status"],
    }];
    const EVENT_TYPES: &'static [&'static str] = &[
        "DisputeFiled",
        "DisputeAssigned",
        "DisputeResolved",
        "PersonalDataErased",
    ];

    async fn apply(&mut self, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
        if let Some(person) = erased_person(event) {
            cx.exec(
                "UPDATE {disputes} SET claim = $2 WHERE person = $1",
                vec![person.into(), ERASED.into()],
            );
            return Ok(());
        }
        let Some(id) = event.stream_id.strip_prefix("dispute-") else {
            return Ok(());
        };
        let id = id.to_owned();
        let (_, e) = self.disputes.apply(event, cx).await?;
        match e {
            DisputeEvent::DisputeFiled {
                person,
                year,
                positions,
                claim,
                filed_on,
                ..
            } => cx.exec(
                "INSERT INTO {disputes} (id, person, year, positions, claim, filed_on, status) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'filed')",
                vec![
                    id.into(),
                    person.as_str().into(),
                    i64::from(year).into(),
                    text(&positions).into(),
                    claim.into(),
                    filed_on.into(),
                ],
            ),
            DisputeEvent::DisputeAssigned { auditor } => cx.exec(
                "UPDATE {disputes} SET auditor = $2, status = 'assigned' WHERE id = $1",
                vec![id.into(), auditor.as_str().into()],
            ),
            DisputeEvent::DisputeResolved {
                outcome,
                reasoning,
                correcting_events,
                total_before,
                total_after,
            } => cx.exec(
                "UPDATE {disputes} SET status = $2, reasoning = $3, correcting_events = $4, \
                 total_before = $5, total_after = $6 WHERE id = $1",
                vec![
                    id.into(),
                    text(&outcome).into(),
                    reasoning.into(),
                    text(&correcting_events).into(),
                    i64::from(total_before).into(),
                    i64::from(total_after).into(),
                ],
            ),
        }
        Ok(())
    }
}
