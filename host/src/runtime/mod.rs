//! The wasmtime runtime: loading, linking and driving one extension component.
//!
//! * `options`: what a load needs ([`HostOptions`]);
//! * `component`: the engine, compilation and the on-disk compiled-component cache;
//! * `limits`: the guest's memory limit (the store's resource limiter);
//! * `clock`: the host clock, also the guest's WASI wall clock;
//! * `imports`: the store's data and the guest's imports (each delegating to the sandbox);
//! * `instance`: the store behind its lock, export calls, poisoning after a trap;
//! * `extension`: [`Extension`], loading and the typed export calls;
//! * `stream`: [`CompletionStream`], a completion driven by non-blocking polls.
//!
//! It may import `crate::contract`, `crate::sandbox`, `crate::log`, `crate::output` and
//! `crate::install` (the dev build of a missing component); never `serve` or the CLI.

pub mod clock;
mod component;
mod extension;
mod imports;
mod instance;
pub mod limits;
mod options;
mod stream;

pub use component::precompile;
pub use extension::Extension;
pub use options::{HostOptions, DEFAULT_HTTP_TIMEOUT};
pub use stream::CompletionStream;
