//! `kiosks`: each kiosk's tap ledger as the log knows it: venue, taps,
//! last counter, counter gaps (missing taps), when it was last heard from,
//! and the difference between its clock and the server's at that moment.

use lectern_domain::{KioskEvent, KioskLedger};
use lectern_store::RecordedEvent;

use super::{States, text};
use crate::error::Result;
use crate::projector::{Cx, Projector, Table};

#[derive(Debug, Default)]
pub struct KiosksProjector {
    ledgers: States<KioskLedger>,
}

impl Projector for KiosksProjector {
    const NAME: &'static str = "kiosks";
    const VERSION: i64 = 1;
    const TABLES: &'static [Table] = &[Table {
        name: "kiosks",
        columns: "id TEXT PRIMARY KEY, venue TEXT NOT NULL, taps BIGINT NOT NULL, \
                  last_counter BIGINT, gaps TEXT NOT NULL, missing BIGINT NOT NULL, \
                  last_tap_at TEXT NOT NULL, last_seen TEXT NOT NULL, \
                  clock_skew_ms BIGINT NOT NULL",
        indexes: &["venue"],
    }];
    const EVENT_TYPES: &'static [&'static str] = &["CardTapped"];

    async fn apply(&mut self, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
        let Some(kiosk) = event.stream_id.strip_prefix("kiosk-") else {
            return Ok(());
        };
        let kiosk = kiosk.to_owned();
        let (ledger, e) = self.ledgers.apply(event, cx).await?;
        let KioskEvent::CardTapped {
            venue, kiosk_time, ..
        } = e;
        let missing: u64 = ledger.gaps.iter().map(|(a, b)| b - a + 1).sum();
        let skew = (kiosk_time - event.recorded_at).num_milliseconds();
        cx.exec(
            "INSERT INTO {kiosks} (id, venue, taps, last_counter, gaps, missing, last_tap_at, \
             last_seen, clock_skew_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO UPDATE SET venue = excluded.venue, taps = excluded.taps, \
             last_counter = excluded.last_counter, gaps = excluded.gaps, \
             missing = excluded.missing, last_tap_at = excluded.last_tap_at, \
             last_seen = excluded.last_seen, clock_skew_ms = excluded.clock_skew_ms",
            vec![
                kiosk.into(),
                venue.as_str().into(),
                ledger.taps.into(),
                ledger.last_counter.into(),
                text(&ledger.gaps).into(),
                missing.into(),
                kiosk_time.into(),
                event.recorded_at.into(),
                skew.into(),
            ],
        );
        Ok(())
    }
}
