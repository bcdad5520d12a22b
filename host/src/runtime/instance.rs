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

use std::sync::atomic::{AtomicU64, Ordering};
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
            log,
        }
    }

    /// How long a pending stream waits without news (see [`crate::HostOptions::poll_safety_net`]).
    pub(crate) fn poll_safety_net(&self) -> Duration {
        self.spawner.poll_safety_net
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

/// Arms the per-call deadline and resets the per-call budgets before an export call.
fn begin_call(store: &mut Store<HostState>, limit: Duration, listener: Option<&Readiness>) {
    let (timer, ticks) = deadline::start(limit);
    store.data_mut().timer = timer;
    store.data_mut().begin_call(listener);
    store.set_epoch_deadline(ticks);
}
