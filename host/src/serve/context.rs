//! What a wire protocol's handler sees of the running server.
//!
//! Design decision: one sequence numbers both connections and completion ids, so an id is
//! unique for the life of the server; the stop flag lets a long streamed answer end early
//! when the server shuts down.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use crate::runtime::Extension;

/// The server's state every protocol handler shares.
pub(crate) struct Context {
    /// The loaded extension (it serialises guest calls internally).
    pub ext: Arc<Extension>,
    /// The provider every route serves.
    pub provider: String,
    stopping: AtomicBool,
    next_id: AtomicU64,
}

impl Context {
    pub(crate) fn new(ext: Arc<Extension>, provider: String) -> Context {
        Context {
            ext,
            provider,
            stopping: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
        }
    }

    /// Whether the server is shutting down.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Marks the server as shutting down.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// The next number of the server's one sequence.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::SeqCst)
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
