//! The wasmtime runtime: loading, linking and driving one extension component.
//!
//! * `options`: what a load needs ([`HostOptions`]);
//! * `component`: the engine, compilation and the on-disk compiled-component cache;
//! * `limits`: the guest's memory limit (the store's resource limiter);
//! * `deadline`: the per-call deadline (epoch interruption and its ticker);
//! * `failure`: [`GuestFailure`], why a call failed on the host side;
//! * `stdio`: the guest's WASI stdout (discarded) and stderr (redacted into the log);
//! * `clock`: the host clock, also the guest's WASI wall clock;
//! * `imports`: the store's data and the guest's imports (each delegating to the sandbox);
//! * `instance`: the store behind its lock, export calls, replacement after a failure;
//! * `extension`: [`Extension`], loading and the typed export calls;
//! * `stream`: [`CompletionStream`], a completion driven by non-blocking polls.
//!
//! It may import `crate::contract`, `crate::sandbox`, `crate::log`, `crate::output` and
//! `crate::install` (the dev build of a missing component); never `serve` or the CLI.

pub mod clock;
mod component;
mod deadline;
mod extension;
mod failure;
mod imports;
mod instance;
pub mod limits;
mod options;
mod stdio;
mod wasi_link;
mod stream;

pub use component::precompile;
pub use deadline::DEFAULT_CALL_DEADLINE;
pub use extension::Extension;
pub use failure::GuestFailure;
pub use imports::{MAX_LOG_LINES_PER_CALL, MAX_REQUESTS_PER_CALL};
pub use options::{HostOptions, DEFAULT_HTTP_TIMEOUT};
pub use stream::{CompletionStream, READINESS_SAFETY_NET};
