//! The per-call deadline: how long one export call may keep the guest running.
//!
//! Design decision: wasmtime's epoch interruption (compiled into the guest's code, so it is
//! part of the compiled-cache key) checks a counter that one process-wide ticker thread bumps
//! every [`TICK`]. Each call sets its deadline in ticks; when it passes, the store's callback
//! decides. The deadline counts the guest's own time only: time spent inside host imports that
//! wait on the network or the disk (each bounded by its own timeout) is subtracted, so a slow
//! but healthy model list is not killed while a guest spinning in a loop is. When the guest's
//! time is used up the callback raises [`DeadlineExceeded`]; the call fails and the instance
//! is replaced (see `instance`).

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{Engine, UpdateDeadline};

use crate::runtime::failure::DeadlineExceeded;

/// How often the epoch advances.
pub const TICK: Duration = Duration::from_millis(20);
/// The default deadline of one export call (guest time, not counting waits in host imports).
pub const DEFAULT_CALL_DEADLINE: Duration = Duration::from_secs(30);

/// The timing of the export call in progress, kept in the store's data.
///
/// It reads no clock when a call starts (every streamed event is a call): the time a call has
/// run is known from the ticks granted to it, since the callback only runs when they are used
/// up. The call started somewhere within its first tick, so one tick less than granted is a
/// lower bound, and the deadline fires at most one [`TICK`] late, never early.
#[derive(Debug)]
pub(crate) struct CallTimer {
    /// Ticks granted so far (at the start, then by each callback that let the call go on).
    granted: u64,
    deadline: Duration,
    /// Time this call spent inside host imports that wait (network, disk).
    in_host: Duration,
}

impl Default for CallTimer {
    fn default() -> Self {
        start(DEFAULT_CALL_DEADLINE).0
    }
}

impl CallTimer {
    /// Adds time spent waiting in the host.
    pub(crate) fn add_host_time(&mut self, waited: Duration) {
        self.in_host += waited;
    }

    /// How long the call has certainly run when its granted ticks are used up.
    fn ran(&self) -> Duration {
        let ticks = u32::try_from(self.granted.saturating_sub(1)).unwrap_or(u32::MAX);
        TICK.saturating_mul(ticks)
    }

    /// The guest time left, `None` once it ran out.
    fn left(&self) -> Option<Duration> {
        let guest = self.ran().saturating_sub(self.in_host);
        self.deadline.checked_sub(guest).filter(|d| !d.is_zero())
    }
}

/// Starts the ticker once per engine (there is one engine per process).
pub(crate) fn start_ticker(engine: &Engine) {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let engine = engine.weak();
        let spawned = std::thread::Builder::new()
            .name("copilot-host-epoch".into())
            .spawn(move || loop {
                std::thread::sleep(TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            });
        // Without the ticker no deadline fires; calls still work, so carry on.
        drop(spawned);
    });
}

fn ticks(d: Duration) -> u64 {
    (d.as_millis() / TICK.as_millis()).max(1) as u64 + 1
}

/// What the store's epoch callback answers when the call's granted ticks are used up: more
/// ticks while guest time is left, else [`DeadlineExceeded`].
pub(crate) fn on_epoch(timer: &mut CallTimer) -> wasmtime::Result<UpdateDeadline> {
    match timer.left() {
        Some(left) => {
            let more = ticks(left);
            timer.granted = timer.granted.saturating_add(more);
            Ok(UpdateDeadline::Continue(more))
        }
        None => Err(wasmtime::Error::new(DeadlineExceeded)),
    }
}

/// A fresh timer for a call with `deadline`, and the deadline in ticks to arm the store with.
pub(crate) fn start(deadline: Duration) -> (CallTimer, u64) {
    let granted = ticks(deadline);
    (
        CallTimer {
            granted,
            deadline,
            in_host: Duration::ZERO,
        },
        granted,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_time_does_not_count() {
        // A 30 s deadline: when its ticks are used up, ~30 s have passed.
        let (mut timer, armed) = start(Duration::from_secs(30));
        assert_eq!(armed, timer.granted);
        assert!(timer.ran() >= Duration::from_secs(30) - TICK, "{:?}", timer.ran());
        assert_eq!(timer.left(), None, "all guest time: the deadline");
        // 20 s of it waited on the network: 10 s of guest time so far, 20 s left.
        timer.add_host_time(Duration::from_secs(20));
        let left = timer.left().expect("time left");
        assert_eq!(left, Duration::from_secs(20));
        assert!(ticks(Duration::ZERO) >= 1);
    }

    #[test]
    fn each_callback_that_lets_the_call_go_on_grants_what_is_left() {
        let (mut timer, _) = start(Duration::from_millis(200));
        timer.add_host_time(Duration::from_millis(150));
        let before = timer.granted;
        match on_epoch(&mut timer) {
            Ok(UpdateDeadline::Continue(more)) => assert_eq!(timer.granted, before + more),
            _ => panic!("150 ms of host time leave guest time"),
        }
        // The granted ticks used up again with no more host time: the deadline.
        assert!(on_epoch(&mut timer).is_err());
    }
}
