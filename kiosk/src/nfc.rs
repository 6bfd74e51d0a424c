//! Readers through libnfc (`nfc1`, cargo feature `nfc`): an ACR122U, a
//! PN532 on a serial line, or any device libnfc knows.
//!
//! libnfc blocks, so the reader runs on a thread of its own that owns the
//! device and sends each card's UID to the kiosk. It polls for ISO14443A
//! targets in bounded polls (libnfc's InAutoPoll: the chip waits in the
//! field, the thread does not spin), takes only a target with a UID,
//! waits for the card to leave the field before it reads again, and after
//! any device error closes the device and opens it again, waiting longer
//! each time (up to `MAX_REOPEN_WAIT`).

use std::sync::Arc;
use std::time::Duration;

use lectern_domain::CardUid;
use nfc1::target_info::TargetInfo;
use nfc1::{BaudRate, Modulation, ModulationType};
use tokio::sync::mpsc;

use crate::Faults;

/// Polls per call and the period of each (libnfc rounds to 150 ms units).
const POLLS: u8 = 2;
const POLL_PERIOD: Duration = Duration::from_millis(150);
/// How often the thread checks that a read card is still in the field.
const PRESENCE_CHECK: Duration = Duration::from_millis(100);
const MAX_REOPEN_WAIT: Duration = Duration::from_secs(5);

/// The card's UID as the domain writes it, if the target has one.
pub fn uid_of(info: &TargetInfo) -> Option<CardUid> {
    let TargetInfo::Iso14443a(a) = info else {
        return None;
    };
    if a.uid_len == 0 || a.uid_len > a.uid.len() {
        return None;
    }
    let hex: String = a.uid[..a.uid_len]
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    CardUid::parse(&hex).ok()
}

/// Starts the reader thread for `connstring` (libnfc's first device when
/// none); cards arrive on the returned channel, and what keeps the reader
/// from reading goes to `faults` (cleared once it is open again). The
/// thread ends when the channel's receiver is dropped.
pub fn start(connstring: Option<String>, faults: Arc<Faults>) -> mpsc::Receiver<CardUid> {
    let (cards, received) = mpsc::channel(16);
    std::thread::Builder::new()
        .name("nfc-reader".into())
        .spawn(move || read_forever(connstring.as_deref(), &cards, &faults))
        .expect("a thread for the card reader");
    received
}

fn read_forever(connstring: Option<&str>, cards: &mpsc::Sender<CardUid>, faults: &Faults) {
    let mut wait = Duration::from_millis(250);
    let what = connstring.unwrap_or("the first libnfc device");
    while !cards.is_closed() {
        match session(connstring, cards, faults) {
            Ok(()) => return,
            Err(e) => {
                faults.set_reader(Some(format!("{what}: {e}")));
                tracing::warn!("card reader {what}: {e}; opening it again in {wait:?}");
                std::thread::sleep(wait);
                wait = (wait * 2).min(MAX_REOPEN_WAIT);
            }
        }
    }
}

/// One open device: reads cards until an error (returned) or until the
/// kiosk stops listening (`Ok`).
fn session(
    connstring: Option<&str>,
    cards: &mpsc::Sender<CardUid>,
    faults: &Faults,
) -> nfc1::Result<()> {
    let mut context = nfc1::Context::new()?;
    let mut device = match connstring {
        Some(c) => context.open_with_connstring(c)?,
        None => context.open()?,
    };
    device.initiator_init()?;
    faults.set_reader(None);
    tracing::info!(
        "card reader {:?} open through {:?}",
        device.name(),
        device.connstring()
    );
    let modulation = Modulation {
        modulation_type: ModulationType::Iso14443a,
        baud_rate: BaudRate::Baud106,
    };
    loop {
        if cards.is_closed() {
            return Ok(());
        }
        let target = match device.initiator_poll_target(&[modulation], POLLS, POLL_PERIOD) {
            Ok(t) => t,
            // Nothing came into the field during the poll.
            Err(nfc1::Error::Timeout) => continue,
            Err(e) => return Err(e),
        };
        let Some(card) = uid_of(&target.target_info) else {
            continue;
        };
        if cards.blocking_send(card).is_err() {
            return Ok(());
        }
        // One tap per presentation: wait until the card leaves.
        while device.initiator_target_is_present(&target).is_ok() {
            std::thread::sleep(PRESENCE_CHECK);
        }
    }
}
