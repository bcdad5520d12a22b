//! The live instance behind an [`Extension`](crate::Extension): its `Store` and exports
//! behind one lock, and its replacement after a failure.
//!
//! Design decision: every export call goes through [`Shared::call`], which takes the lock for
//! that one call only. A call that fails on the host side (a trap, the memory cap, the per-call
//! deadline) leaves the instance in an unknown state and wasmtime cannot re-enter it, so the
//! instance is dropped on the spot (its HTTP streams and their threads go with it) and the next
//! call instantiates a fresh one from the same compiled component. Each instance has a
//! generation number: a completion stream remembers the generation it was started on, and a
//! poll of a stream whose instance is gone ends it with [`GuestFailure::Restarted`] instead of
//! reaching a new instance that never heard of it (or, worse, one that reused its id).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

use crate::contract::Exports;
use crate::log::{Level, Logger};
use crate::runtime::deadline;
use crate::runtime::failure::{classify, GuestFailure};
use crate::runtime::imports::{HostContext, HostState};
use crate::runtime::limits::MemoryMeter;
use crate::sandbox::http::Readiness;

/// How a fresh instance is made: everything [`Shared`] needs to replace a failed one.
pub(crate) struct Spawner {
    pub engine: Engine,
    pub component: Component,
    pub linker: Linker<HostState>,
    /// The imports' context, cloned into each new instance.
    pub context: HostContext,
    /// Builds the WASI context of a new instance (clock, discarded stdout, captured stderr).
    pub wasi: Box<dyn Fn() -> (wasmtime_wasi::WasiCtx, crate::runtime::stdio::GuestStderr) + Send + Sync>,
    pub max_memory: usize,
    pub meter: Arc<MemoryMeter>,
    pub deadline: Duration,
    /// See [`crate::HostOptions::poll_safety_net`].
    pub poll_safety_net: Duration,
}

impl Spawner {
    /// Instantiates the component in a fresh store, under the per-call deadline.
    pub(crate) fn spawn(&self) -> anyhow::Result<Live> {
        let (wasi, stderr) = (self.wasi)();
        self.meter.reset_current();
        let state = HostState::new(
            wasi,
            self.context.clone(),
            self.max_memory,
            self.meter.clone(),
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_callback(|mut ctx| deadline::on_epoch(&mut ctx.data_mut().timer));
        begin_call(&mut store, self.deadline, None);
        let exports = Exports::instantiate(&mut store, &self.component, &self.linker).map_err(|e| {
            anyhow::anyhow!(
                "the component does not fit this host's contract (wit/) or failed to start: {}; rebuild it against this version",
                e.root_cause()
            )
        })?;
        Ok(Live {
            store,
            exports,
            stderr,
        })
    }
}

/// One instance: its store, its exports, and its captured stderr.
pub(crate) struct Live {
    store: Store<HostState>,
    exports: Exports,
    stderr: crate::runtime::stdio::GuestStderr,
}

struct Slot {
    live: Option<Live>,
    generation: u64,
}

/// The part an extension and each of its [`CompletionStream`](crate::CompletionStream)s keep
/// alive.
pub(crate) struct Shared {
    slot: Mutex<Slot>,
    spawner: Spawner,
    /// How many instances were discarded so far (also the current generation).
    restarts: AtomicU64,
    /// Completion streams waiting for news now.
    waiting: AtomicUsize,
    /// A running average of how long waits for news took (ns; see [`Shared::wait_for_news`]).
    typical_wait_ns: AtomicU64,
    log: Logger,
}

impl Shared {
    /// The shared part of an extension whose first instance is `first`.
    pub(crate) fn new(first: Live, spawner: Spawner, log: Logger) -> Shared {
        Shared {
            slot: Mutex::new(Slot {
                live: Some(first),
                generation: 0,
            }),
            spawner,
            restarts: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
            typical_wait_ns: AtomicU64::new(0),
            log,
        }
    }

    /// How long a pending stream waits without news (see [`crate::HostOptions::poll_safety_net`]).
    pub(crate) fn poll_safety_net(&self) -> Duration {
        self.spawner.poll_safety_net
    }

    /// Waits for `signal` to move past `seen` (see [`Readiness::wait_for_change`]); whether it
    /// did. Only a wait that `may_spin` (a stream's waits before its first event) spins.
    ///
    /// Waking a sleeping thread costs tens of microseconds on some machines (virtual ones
    /// above all): with a server on the same machine, most of the time to first event of a
    /// short answer. So when news has lately come within [`QUICK_WAIT`] (a running average of
    /// past waits), the only waiting stream, on a machine with a core to spare, watches its
    /// signal for up to [`SPIN_FOR`] before it sleeps. Against a remote service waits take milliseconds,
    /// the average says so, and nobody spins; under concurrency nobody spins either, so no
    /// core is burnt while others have work.
    pub(crate) fn wait_for_news(
        &self,
        signal: &Readiness,
        seen: u64,
        timeout: Duration,
        may_spin: bool,
    ) -> bool {
        let alone = self.waiting.fetch_add(1, Ordering::AcqRel) == 0;
        // Only waits that may spin are timed: the average is of those (for a first event: how
        // soon the server answers).
        let started = may_spin.then(std::time::Instant::now);
        let spin = may_spin
            && alone
            && self.typical_wait_ns.load(Ordering::Relaxed) < QUICK_WAIT.as_nanos() as u64
            && spare_core();
        let changed = (spin && spin_until_changed(signal, seen)) || signal.wait_for_change(seen, timeout);
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        if let Some(started) = started {
            // An eighth of each new wait: a few slow waits stop the spinning, a few quick ones
            // bring it back. Concurrent updates may lose a sample; it stays an average.
            let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let average = self.typical_wait_ns.load(Ordering::Relaxed);
            let next = average - average / WAIT_AVERAGE_WEIGHT + took / WAIT_AVERAGE_WEIGHT;
            self.typical_wait_ns.store(next, Ordering::Relaxed);
        }
        changed
    }

    /// The linear-memory meter of the current instance (read without the instance lock).
    pub(crate) fn memory(&self) -> &MemoryMeter {
        &self.spawner.meter
    }

    /// How many instances were discarded after a failed call.
    pub(crate) fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Runs one export call on the current instance (a fresh one if the last was discarded).
    pub(crate) fn call<R>(
        &self,
        export: &str,
        f: impl FnOnce(&Exports, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> anyhow::Result<R> {
        self.call_at(export, None, None, f).map(|(r, _)| r)
    }

    /// Like [`Shared::call`], but only on instance `generation` when one is given (a stream's
    /// own instance), with the HTTP streams the call opens or looks at waking `listener` (a
    /// completion stream's signal); answers the generation the call ran on.
    pub(crate) fn call_at<R>(
        &self,
        export: &str,
        generation: Option<u64>,
        listener: Option<&Readiness>,
        f: impl FnOnce(&Exports, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> anyhow::Result<(R, u64)> {
        let mut slot = self.lock();
        if generation.is_some_and(|g| g != slot.generation) {
            return Err(GuestFailure::Restarted.into());
        }
        if slot.live.is_none() {
            let fresh = self.spawner.spawn().map_err(|e| {
                GuestFailure::Unavailable(format!("{e:#}"))
            })?;
            self.log.log(Level::Info, "host", "started a fresh extension instance");
            slot.live = Some(fresh);
        }
        let current = slot.generation;
        let live = slot.live.as_mut().expect("an instance was just ensured");
        begin_call(&mut live.store, self.spawner.deadline, listener);
        let result = f(&live.exports, &mut live.store);
        live.stderr.flush_to(&self.log, result.is_err());
        match result {
            Ok(value) => Ok((value, current)),
            Err(error) => {
                let failure = classify(export, &error, self.spawner.deadline);
                // The full report (with the wasm backtrace) is for developers only.
                self.log.log(
                    Level::Debug,
                    "host",
                    &format!("`{export}` failed: {error:?}"),
                );
                self.log.log(Level::Warn, "host", &failure.to_string());
                self.discard(&mut slot);
                Err(failure.into())
            }
        }
    }

    /// The lock; a host panic while it was held discards the instance it guarded.
    fn lock(&self) -> MutexGuard<'_, Slot> {
        match self.slot.lock() {
            Ok(guard) => guard,
            Err(poisoned) => {
                self.slot.clear_poison();
                let mut guard = poisoned.into_inner();
                if guard.live.is_some() {
                    self.discard(&mut guard);
                }
                guard
            }
        }
    }

    fn discard(&self, slot: &mut Slot) {
        slot.live = None;
        slot.generation += 1;
        self.restarts.fetch_add(1, Ordering::Relaxed);
        // Dropping the instance dropped its HTTP streams, and each woke whoever waited on it,
        // so a waiting completion stream looks again and finds its instance gone.
    }

    /// Whether instance `generation` is still the live one.
    pub(crate) fn is_current(&self, generation: u64) -> bool {
        self.restarts() == generation
    }
}

/// How long the only waiting stream watches its signal before it sleeps.
const SPIN_FOR: Duration = Duration::from_micros(200);
/// Waits this short on average (news from a server on the same machine) make spinning worth
/// it; a remote service's answers take milliseconds.
const QUICK_WAIT: Duration = Duration::from_millis(1);
/// Each new wait is this fraction (1/n) of the running average of waits.
const WAIT_AVERAGE_WEIGHT: u64 = 8;
/// Checks of the signal between two readings of the clock while spinning.
const SPINS_PER_CLOCK_READ: u32 = 64;

/// Whether this machine has more than one core (spinning on one core only delays the thread
/// being waited for).
fn spare_core() -> bool {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from)) > 1
}

/// Watches `signal` for up to [`SPIN_FOR`], yielding the core between short bursts; whether
/// it moved past `seen`.
fn spin_until_changed(signal: &Readiness, seen: u64) -> bool {
    let until = std::time::Instant::now() + SPIN_FOR;
    loop {
        for _ in 0..SPINS_PER_CLOCK_READ {
            if signal.generation() != seen {
                return true;
            }
            std::hint::spin_loop();
        }
        if std::time::Instant::now() >= until {
            return false;
        }
        // A thread this one waits for (the request's sender, a server on the same machine)
        // may be queued on this very core: let it run.
        std::thread::yield_now();
    }
}

/// Arms the per-call deadline and resets the per-call budgets before an export call.
fn begin_call(store: &mut Store<HostState>, limit: Duration, listener: Option<&Readiness>) {
    let (timer, ticks) = deadline::start(limit);
    store.data_mut().timer = timer;
    store.data_mut().begin_call(listener);
    store.set_epoch_deadline(ticks);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spinning_sees_news_that_came_and_gives_up_when_none_comes() {
        let signal = Readiness::new();
        let seen = signal.generation();
        assert!(!spin_until_changed(&signal, seen), "no news: gives up after SPIN_FOR");
        signal.notify();
        assert!(spin_until_changed(&signal, seen), "news before the spin");
        let later = signal.generation();
        let notifier = {
            let signal = signal.clone();
            std::thread::spawn(move || signal.notify())
        };
        // The news arrives while spinning, or (on a busy machine) only during the sleep after.
        let seen_it = spin_until_changed(&signal, later)
            || signal.wait_for_change(later, Duration::from_secs(10));
        assert!(seen_it);
        notifier.join().expect("the notifier ends");
    }
}
