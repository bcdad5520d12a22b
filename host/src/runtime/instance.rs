//! The live instance behind an [`Extension`](crate::Extension): its `Store` and exports
//! behind one lock, the readiness signal its HTTP streams raise, and the poisoning after a
//! trap.
//!
//! Design decision: every export call goes through [`Shared::call`], which takes the lock for
//! that one call only; a trap poisons the instance (wasmtime cannot re-enter it), so every later
//! call fails fast with a message that says so. Both the extension and each of its completion
//! streams hold this part, so neither module needs the other.

use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail};
use wasmtime::Store;

use crate::contract::Exports;
use crate::log::{Level, Logger};
use crate::runtime::imports::HostState;
use crate::runtime::limits::MemoryMeter;
use crate::sandbox::http::Readiness;

/// The part an extension and each of its [`CompletionStream`](crate::CompletionStream)s keep
/// alive.
pub(crate) struct Shared {
    live: Mutex<Live>,
    pub(crate) readiness: Readiness,
    /// Why the instance is unusable, once it trapped.
    poisoned: Mutex<Option<String>>,
    /// The instance's linear memory, readable without the instance lock.
    memory: Arc<MemoryMeter>,
    log: Logger,
}

struct Live {
    store: Store<HostState>,
    exports: Exports,
}

impl Shared {
    /// The shared part of a freshly instantiated extension.
    pub(crate) fn new(
        store: Store<HostState>,
        exports: Exports,
        readiness: Readiness,
        memory: Arc<MemoryMeter>,
        log: Logger,
    ) -> Shared {
        Shared {
            live: Mutex::new(Live { store, exports }),
            readiness,
            poisoned: Mutex::new(None),
            memory,
            log,
        }
    }

    /// The instance's linear-memory meter (read without the instance lock).
    pub(crate) fn memory(&self) -> &MemoryMeter {
        &self.memory
    }

    /// Runs one export call under the store lock; a trap poisons the instance.
    pub(crate) fn call<R>(
        &self,
        export: &str,
        f: impl FnOnce(&Exports, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> anyhow::Result<R> {
        if let Some(reason) = self.poison_reason() {
            bail!("the extension crashed earlier ({reason}) and this instance is unusable; load the extension again");
        }
        let mut live = self.live.lock().map_err(|_| {
            anyhow!(
                "the extension instance is unusable after a host panic; load the extension again"
            )
        })?;
        let Live { store, exports } = &mut *live;
        f(exports, store).map_err(|error| self.poison(export, &error))
    }

    pub(crate) fn poison_reason(&self) -> Option<String> {
        self.poisoned
            .lock()
            .map(|p| p.clone())
            .unwrap_or_else(|_| Some("host panic".into()))
    }

    fn poison(&self, export: &str, error: &wasmtime::Error) -> anyhow::Error {
        let reason = match error.downcast_ref::<wasmtime::Trap>() {
            Some(trap) => format!("trap in `{export}`: {trap}"),
            None => format!("failure in `{export}`: {error}"),
        };
        self.log
            .log(Level::Error, "host", &format!("{reason}\n{error:?}"));
        if let Ok(mut poisoned) = self.poisoned.lock() {
            poisoned.get_or_insert_with(|| reason.clone());
        }
        anyhow!("the extension crashed ({reason}); this instance is now unusable, load the extension again")
    }
}
