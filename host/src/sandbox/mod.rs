//! The sandbox: everything the guest may reach, and the checks in front of it.
//!
//! * `manifest`: `extension.toml`, the capabilities the extension declares;
//! * `hosts`: HTTP host patterns and URL targets (pure, under both the manifest and the grants);
//! * `capabilities`: the grants (env names, readable directories, HTTP hosts) computed once at
//!   load, the guest's environment source, and the checked file reads;
//! * `http`: the guest's HTTP client (grant-checked, redirect-aware, streamed bodies);
//! * `credentials`: the per-extension secret store.
//!
//! Each check here is plain Rust, tested without wasmtime. It may import `crate::contract`
//! (the WIT types it answers with) and `crate::log`; never the runtime, `serve`, `install`,
//! `output` or the CLI, and nothing from wasmtime.

pub mod capabilities;
pub mod credentials;
pub mod hosts;
pub mod http;
pub mod manifest;
pub mod private_file;
