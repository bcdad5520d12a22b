//! What a wire protocol's handler sees of the running server.
//!
//! Design decision: one sequence numbers both connections and completion ids, so an id is
//! unique for the life of the server; the stop flag lets a long streamed answer end early
//! when the server shuts down.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use crate::runtime::Extension;
use crate::serve::wire;

/// How the endpoint behaves beyond its defaults.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServeOptions {
    /// Let requests without the key use the Ollama routes (`/api/...`) only, refusing those
    /// with an `Origin` header or a non-loopback `Host` (`serve --ollama-keyless`).
    pub ollama_keyless: bool,
}

/// The server's state every protocol handler shares.
pub(crate) struct Context {
    /// The loaded extension (it serialises guest calls internally).
    pub ext: Arc<Extension>,
    /// The provider every route serves.
    pub provider: String,
    /// What the user asked of this server.
    pub options: ServeOptions,
    key: String,
    stopping: AtomicBool,
    next_id: AtomicU64,
}

impl Context {
    pub(crate) fn new(
        ext: Arc<Extension>,
        provider: String,
        key: String,
        options: ServeOptions,
    ) -> Context {
        Context {
            ext,
            provider,
            options,
            key,
            stopping: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
        }
    }

    /// The key every client must present.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Whether `given` is the key (compared without an early exit).
    pub(crate) fn key_ok(&self, given: &str) -> bool {
        same_key(given, &self.key)
    }

    /// Whether the request carries `Authorization: Bearer <key>`.
    pub(crate) fn bearer_ok(&self, request: &wire::Request) -> bool {
        let Some(value) = request.header("authorization") else {
            return false;
        };
        let Some((scheme, given)) = value.split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer") && self.key_ok(given.trim())
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

/// Compares without an early exit, so timing does not reveal how much of a guess matched.
pub(crate) fn same_key(given: &str, key: &str) -> bool {
    let (given, key) = (given.as_bytes(), key.as_bytes());
    let mut diff = given.len() ^ key.len();
    for (i, k) in key.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ k);
    }
    diff == 0
}
