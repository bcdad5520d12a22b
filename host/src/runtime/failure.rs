//! Why an export call failed on the host side (the guest never answered), as one typed error.
//!
//! Design decision: wasmtime reports a trap as an error whose outermost context is the wasm
//! backtrace, so printing it (`{error}`) shows the backtrace to the user. The runtime
//! classifies every failure once, here, into a short sentence without it; the full report goes
//! to the log at debug level only. Callers receive a [`GuestFailure`] inside `anyhow::Error`
//! and can `downcast_ref` it.

use std::fmt;
use std::time::Duration;

/// A host-side failure of one export call. The instance it happened on is discarded; the next
/// call runs on a fresh one.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GuestFailure {
    /// The call ran past the per-call deadline ([`crate::HostOptions::call_deadline`]).
    Deadline {
        /// The deadline, in whole seconds (at least 1 in messages).
        secs: u64,
    },
    /// The guest tried to grow its linear memory past the host's limit.
    OutOfMemory {
        /// The limit, in bytes.
        limit_bytes: usize,
    },
    /// The guest trapped (a panic, an `unreachable`, a WASI call this host does not provide).
    Crashed {
        /// The export that was running.
        export: String,
        /// wasmtime's one-line description of the trap (no backtrace).
        reason: String,
    },
    /// A stream's instance was replaced after another call failed; this stream's state is gone.
    Restarted,
    /// The request was larger than this host hands the guest in one call.
    TooLarge {
        /// The request's size in bytes (strings and lists summed).
        bytes: usize,
        /// The limit in bytes.
        limit_bytes: usize,
    },
    /// A fresh instance could not be started (should not happen after a first good load).
    Unavailable(String),
}

impl fmt::Display for GuestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuestFailure::Deadline { secs } => write!(
                f,
                "the extension did not answer within {secs} s; it was restarted"
            ),
            GuestFailure::OutOfMemory { limit_bytes } => write!(
                f,
                "the extension ran out of memory (the host's limit is {} MiB); it was restarted",
                limit_bytes / (1024 * 1024)
            ),
            GuestFailure::Crashed { export, reason } => write!(
                f,
                "the extension crashed in `{export}` ({reason}); it was restarted"
            ),
            GuestFailure::Restarted => write!(
                f,
                "the extension was restarted while this answer was streaming; ask again"
            ),
            GuestFailure::TooLarge { bytes, limit_bytes } => write!(
                f,
                "the request is {bytes} bytes, over the {limit_bytes} bytes this host hands the extension at once; shorten it"
            ),
            GuestFailure::Unavailable(why) => {
                write!(f, "the extension could not be restarted: {why}")
            }
        }
    }
}

impl std::error::Error for GuestFailure {}

/// The error the epoch callback raises when a call's guest time runs out; recognised by
/// [`classify`].
#[derive(Debug)]
pub(crate) struct DeadlineExceeded;

impl fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the per-call deadline passed")
    }
}

impl std::error::Error for DeadlineExceeded {}

/// The error the memory limiter raises; recognised by [`classify`].
#[derive(Debug)]
pub(crate) struct MemoryCapExceeded {
    pub(crate) limit_bytes: usize,
    pub(crate) wanted_bytes: usize,
}

impl fmt::Display for MemoryCapExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the extension tried to grow its memory to {} MiB, over the host's limit of {} MiB",
            self.wanted_bytes / (1024 * 1024),
            self.limit_bytes / (1024 * 1024)
        )
    }
}

impl std::error::Error for MemoryCapExceeded {}

/// Classifies the error of a failed export call.
pub(crate) fn classify(export: &str, error: &wasmtime::Error, deadline: Duration) -> GuestFailure {
    if error.downcast_ref::<DeadlineExceeded>().is_some()
        || matches!(error.downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::Interrupt))
    {
        return GuestFailure::Deadline {
            secs: deadline.as_secs().max(1),
        };
    }
    if let Some(cap) = error.downcast_ref::<MemoryCapExceeded>() {
        return GuestFailure::OutOfMemory {
            limit_bytes: cap.limit_bytes,
        };
    }
    let reason = match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        // Not a trap: the root cause is the host's own message (never the backtrace context).
        None => error.root_cause().to_string(),
    };
    GuestFailure::Crashed {
        export: export.to_string(),
        reason: first_line(&reason).to_string(),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_limit_and_the_restart() {
        let d = GuestFailure::Deadline { secs: 30 }.to_string();
        assert!(d.contains("within 30 s") && d.contains("restarted"), "{d}");
        let m = GuestFailure::OutOfMemory {
            limit_bytes: 256 * 1024 * 1024,
        }
        .to_string();
        assert!(m.contains("256 MiB"), "{m}");
    }

    #[test]
    fn classification_sees_through_context() {
        let deadline = Duration::from_secs(7);
        let e = wasmtime::Error::new(DeadlineExceeded).context("wasm backtrace: ...");
        assert_eq!(classify("x", &e, deadline), GuestFailure::Deadline { secs: 7 });
        let e = wasmtime::Error::new(MemoryCapExceeded {
            limit_bytes: 1 << 20,
            wanted_bytes: 2 << 20,
        })
        .context("wasm backtrace:\n  0: f");
        assert_eq!(
            classify("x", &e, deadline),
            GuestFailure::OutOfMemory { limit_bytes: 1 << 20 }
        );
        let e = wasmtime::Error::new(wasmtime::Trap::UnreachableCodeReached)
            .context("error while executing at wasm backtrace:\n    0: 0x1 - f");
        match classify("llm-count-tokens", &e, deadline) {
            GuestFailure::Crashed { export, reason } => {
                assert_eq!(export, "llm-count-tokens");
                assert!(!reason.contains("backtrace"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
