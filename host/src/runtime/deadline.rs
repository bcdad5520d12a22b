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
use std::time::{Duration, Instant};

use wasmtime::{Engine, UpdateDeadline};

use crate::runtime::failure::DeadlineExceeded;

/// How often the epoch advances.
pub const TICK: Duration = Duration::from_millis(20);
/// The default deadline of one export call (guest time, not counting waits in host imports).
pub const DEFAULT_CALL_DEADLINE: Duration = Duration::from_secs(30);

/// The timing of the export call in progress, kept in the store's data.
#[derive(Debug)]
pub(crate) struct CallTimer {
    started: Instant,
    deadline: Duration,
    /// Time this call spent inside host imports that wait (network, disk).
    in_host: Duration,
}

impl Default for CallTimer {
    fn default() -> Self {
        CallTimer {
            started: Instant::now(),
            deadline: DEFAULT_CALL_DEADLINE,
            in_host: Duration::ZERO,
        }
    }
}

impl CallTimer {
    /// Adds time spent waiting in the host.
    pub(crate) fn add_host_time(&mut self, waited: Duration) {
        self.in_host += waited;
    }

    /// The guest time left, `None` once it ran out.
    fn left(&self) -> Option<Duration> {
        let guest = self.started.elapsed().saturating_sub(self.in_host);
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

/// What the store's epoch callback answers when the call's deadline in ticks passed: more
/// ticks while guest time is left, else [`DeadlineExceeded`].
pub(crate) fn on_epoch(timer: &CallTimer) -> wasmtime::Result<UpdateDeadline> {
    match timer.left() {
        Some(left) => Ok(UpdateDeadline::Continue(ticks(left))),
        None => Err(wasmtime::Error::new(DeadlineExceeded)),
    }
}

/// A fresh timer for a call with `deadline`, and the deadline in ticks to arm the store with.
pub(crate) fn start(deadline: Duration) -> (CallTimer, u64) {
    (
        CallTimer {
            started: Instant::now(),
            deadline,
            in_host: Duration::ZERO,
        },
        ticks(deadline),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_time_does_not_count() {
        let mut timer = CallTimer {
            started: Instant::now() - Duration::from_secs(50),
            deadline: Duration::from_secs(30),
            in_host: Duration::ZERO,
        };
        assert_eq!(timer.left(), None);
        timer.add_host_time(Duration::from_secs(45));
        let left = timer.left().expect("time left");
        assert!(left <= Duration::from_secs(25), "{left:?}");
        assert!(ticks(Duration::ZERO) >= 1);
    }
}
