//! `kiosks`: each kiosk's enrolment and tap ledger as the log knows it:
//! venue, whether it is enrolled (its public key and version), taps, last
//! counter, counter gaps (missing taps), when it was last heard from, and
//! the difference between its clock and the server's at that moment.

use lectern_domain::{KioskEvent, KioskLedger};
use lectern_store::RecordedEvent;

use super::{States, text};
use crate::error::Result;
use crate::projector::{Cx, Projector, Table};
use crate::sql::Val;

#[derive(Debug, Default)]
pub struct KiosksProjector {
    ledgers: States<KioskLedger>,
}

impl Projector for KiosksProjector {
    const NAME: &'static str = "kiosks";
    const VERSION: i64 = 3;
    const TABLES: &'static [Table] = &[Table {
        name: "kiosks",
        columns: "id TEXT PRIMARY KEY, venue TEXT NOT NULL, taps BIGINT NOT NULL, \
                  last_counter BIGINT, gaps TEXT NOT NULL, missing BIGINT NOT NULL, \
                  last_tap_at TEXT, last_seen TEXT, clock_skew_ms BIGINT, \
                  registered_at TEXT, public_key TEXT, version TEXT",
        indexes: &["venue"],
    }];
    const EVENT_TYPES: &'static [&'static str] =
        &["CardTapped", "KioskRegistered", "KioskEnrolled"];

    async fn apply(&mut self, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
        let Some(kiosk) = event.stream_id.strip_prefix("kiosk-") else {
            return Ok(());
        };
        let kiosk = kiosk.to_owned();
        let (ledger, e) = self.ledgers.apply(event, cx).await?;
        let (venue, kiosk_time) = match e {
            KioskEvent::CardTapped {
                venue, kiosk_time, ..
            } => (venue, kiosk_time),
            KioskEvent::KioskRegistered { .. } | KioskEvent::KioskEnrolled { .. } => {
                let venue = ledger.venue.as_ref().map_or("", |v| v.as_str()).to_owned();
                let registered = matches!(e, KioskEvent::KioskRegistered { .. });
                cx.exec(
                    "INSERT INTO {kiosks} (id, venue, taps, gaps, missing, registered_at, \
                     public_key, version, last_counter) \
                     VALUES ($1, $2, 0, $6, 0, $3, $4, $5, $7) \
                     ON CONFLICT (id) DO UPDATE SET venue = excluded.venue, \
                     registered_at = COALESCE(excluded.registered_at, {kiosks}.registered_at), \
                     public_key = excluded.public_key, \
                     version = excluded.version, gaps = excluded.gaps, \
                     last_counter = excluded.last_counter",
                    vec![
                        kiosk.into(),
                        venue.into(),
                        registered.then_some(event.recorded_at).into(),
                        ledger.public_key.clone().into(),
                        ledger.version.clone().into(),
                        text(&ledger.gaps).into(),
                        Val::int_or_null(ledger.last_counter),
                    ],
                );
                return Ok(());
            }
        };
        let missing = ledger.missing_ever();
        let skew = (kiosk_time - event.recorded_at).num_milliseconds();
        cx.exec(
            "INSERT INTO {kiosks} (id, venue, taps, last_counter, gaps, missing, last_tap_at, \
             last_seen, clock_skew_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO UPDATE SET venue = excluded.venue, taps = excluded.taps, \
             last_counter = excluded.last_counter, gaps = excluded.gaps, \
             missing = excluded.missing, last_tap_at = excluded.last_tap_at, \
             last_seen = excluded.last_seen, clock_skew_ms = excluded.clock_skew_ms",
            vec![
                kiosk.into(),
                venue.as_str().into(),
                ledger.taps.into(),
                Val::int_or_null(ledger.last_counter),
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
