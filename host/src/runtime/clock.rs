//! The host's wall clock: real time plus a shared offset that tests move forward.
//!
//! Design decision: time is never faked by sleeping. The same `Clock` feeds the guest's WASI
//! wall clock and (through [`Clock::as_fn`]) the simulator, so a test that calls
//! [`Clock::advance`] moves both sides of a token expiry at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Real time (or a frozen instant) plus an offset in seconds. Cheap to clone; clones share
/// the offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicU64>,
    /// When set, the clock stands still at this instant (plus the offset): tests that assert
    /// "not yet at the refresh point" must not depend on how fast the machine runs.
    frozen_at: Option<Duration>,
}

impl Clock {
    /// The system clock with no offset.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock stopped at the current real time; only [`Clock::advance`] moves it.
    pub fn frozen() -> Clock {
        Clock { offset_secs: Arc::default(), frozen_at: Some(real_now()) }
    }

    /// A clock stopped at `unix_secs`; only [`Clock::advance`] moves it. Replaying a recorded
    /// token exchange at the moment it was recorded keeps its `expires_at` in the future.
    pub fn frozen_at(unix_secs: u64) -> Clock {
        Clock { offset_secs: Arc::default(), frozen_at: Some(Duration::from_secs(unix_secs)) }
    }

    /// Moves this clock (and every clone of it) forward by `secs` seconds.
    pub fn advance(&self, secs: u64) {
        self.offset_secs.fetch_add(secs, Ordering::SeqCst);
    }

    /// The current offset in seconds.
    pub fn offset_secs(&self) -> u64 {
        self.offset_secs.load(Ordering::SeqCst)
    }

    /// Time since the Unix epoch, offset included.
    pub fn now(&self) -> Duration {
        let base = self.frozen_at.unwrap_or_else(real_now);
        base.saturating_add(Duration::from_secs(self.offset_secs()))
    }

    /// Unix seconds, offset included.
    pub fn now_unix(&self) -> u64 {
        self.now().as_secs()
    }

    /// The clock as a plain function (for `copilot_sim::SimConfig::clock`).
    pub fn as_fn(&self) -> Arc<dyn Fn() -> u64 + Send + Sync> {
        let clock = self.clone();
        Arc::new(move || clock.now_unix())
    }
}

/// Real time since the Unix epoch. A system clock before 1970 is a broken machine; treat it
/// as the epoch.
fn real_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO)
}

/// The guest's `wasi:clocks/wall-clock`, answered by a [`Clock`].
pub(crate) struct WasiWallClock(pub(crate) Clock);

impl wasmtime_wasi::HostWallClock for WasiWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        self.0.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let clock = Clock::frozen();
        let start = clock.now();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(clock.now(), start);
        clock.clone().advance(1500);
        assert_eq!(clock.now(), start + Duration::from_secs(1500));
    }

    #[test]
    fn advance_is_shared_by_clones_and_the_fn() {
        let clock = Clock::system();
        let copy = clock.clone();
        let as_fn = clock.as_fn();
        let before = as_fn();
        copy.advance(3600);
        assert_eq!(clock.offset_secs(), 3600);
        assert!(as_fn() >= before + 3600);
        assert!(clock.now_unix() >= before + 3600);
    }
}
