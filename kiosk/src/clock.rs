//! The kiosk's clocks: the wall clock (which an operator, NTP or a dead
//! battery may set anywhere) and the monotonic clock of the machine's
//! boot, which nobody sets. Taps and requests carry both; the server
//! places them by the monotonic one against the kiosk's sync points.
//!
//! On Linux the monotonic clock is `CLOCK_BOOTTIME` (it keeps counting
//! through suspend) and the boot is the kernel's boot id, so a kiosk
//! program restarted without a reboot keeps its sync points. Elsewhere the
//! boot is the program's run. Tests use a manual clock.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chrono::{DateTime, Duration, Utc};

/// What the clocks read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Now {
    pub wall: DateTime<Utc>,
    /// The machine's boot (the kernel's boot id).
    pub boot: String,
    /// Microseconds on the boot's monotonic clock.
    pub mono_us: u64,
}

/// The system's clocks, or manual ones for tests. Cheap to clone; clones
/// of a manual clock share it.
#[derive(Debug, Clone, Default)]
pub struct KioskClock {
    manual: Option<Arc<Mutex<Now>>>,
}

impl KioskClock {
    pub fn system() -> KioskClock {
        KioskClock::default()
    }

    /// Clocks that read `wall`, at a monotonic reading of one hour into a
    /// boot named `boot`, until moved.
    pub fn manual(wall: DateTime<Utc>, boot: &str) -> KioskClock {
        KioskClock {
            manual: Some(Arc::new(Mutex::new(Now {
                wall,
                boot: boot.to_owned(),
                mono_us: 3_600_000_000,
            }))),
        }
    }

    pub fn now(&self) -> Now {
        match &self.manual {
            Some(m) => m.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            None => Now {
                wall: Utc::now(),
                boot: boot_id().to_owned(),
                mono_us: monotonic_us(),
            },
        }
    }

    fn with(&self, f: impl FnOnce(&mut Now)) {
        let m = self.manual.as_ref().expect("only a manual clock moves");
        f(&mut m.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Time passes: both clocks move by `by`.
    ///
    /// # Panics
    /// On the system clock, as the other movers.
    pub fn advance(&self, by: Duration) {
        let micros = u64::try_from(by.num_microseconds().unwrap_or(0)).unwrap_or(0);
        self.with(|n| {
            n.wall += by;
            n.mono_us += micros;
        });
    }

    /// Someone sets the wall clock (the monotonic one does not move).
    pub fn set_wall(&self, wall: DateTime<Utc>) {
        self.with(|n| n.wall = wall);
    }

    /// The machine restarts as boot `boot`, its wall clock reading `wall`
    /// and its monotonic clock starting again.
    pub fn reboot(&self, boot: &str, wall: DateTime<Utc>) {
        self.with(|n| {
            n.boot = boot.to_owned();
            n.wall = wall;
            n.mono_us = 20_000_000;
        });
    }
}

/// The kernel's id of this boot, or one made for this run of the program.
fn boot_id() -> &'static str {
    static BOOT: OnceLock<String> = OnceLock::new();
    BOOT.get_or_init(|| {
        #[cfg(target_os = "linux")]
        if let Ok(id) = std::fs::read_to_string("/proc/sys/kernel/random/boot_id") {
            return id.trim().to_owned();
        }
        format!("run-{}", uuid::Uuid::new_v4())
    })
}

/// Microseconds on the boot's monotonic clock.
fn monotonic_us() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
        u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000
            + u64::try_from(t.tv_nsec / 1_000).unwrap_or(0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        static START: OnceLock<std::time::Instant> = OnceLock::new();
        u64::try_from(
            START
                .get_or_init(std::time::Instant::now)
                .elapsed()
                .as_micros(),
        )
        .unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_monotonic_clock_moves_forward_in_one_boot() {
        let clock = KioskClock::system();
        let (a, b) = (clock.now(), clock.now());
        assert_eq!(a.boot, b.boot);
        assert!(b.mono_us >= a.mono_us && a.mono_us > 0, "{a:?} {b:?}");
    }

    #[test]
    fn a_manual_clock_separates_wall_and_monotonic_time() {
        let start = DateTime::parse_from_rfc3339("2008-09-02T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = KioskClock::manual(start, "b1");
        let first = clock.now();
        clock.advance(Duration::minutes(5));
        clock.set_wall(start);
        let later = clock.now();
        assert_eq!(later.wall, start);
        assert_eq!(later.mono_us - first.mono_us, 300_000_000);
        clock.reboot("b2", start);
        assert_eq!(clock.now().boot, "b2");
    }
}
