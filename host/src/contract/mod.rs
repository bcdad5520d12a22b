//! The WIT contract (`wit/`) as the host sees it: the types and traits `bindgen!` generates
//! from it, and the contract version a component carries in its `api-version` section.
//!
//! This is the bottom layer: every other part of the library imports its types from here.
//! It may import only `crate::log`; never the sandbox, the runtime, `serve`, `install`,
//! `output` or the CLI.

pub mod api_version;
mod bindings;

pub(crate) use bindings::copilot_chat::extension::{host, http_client, llm_provider};
/// The world's exports (and the `add_to_linker` for its imports).
pub(crate) use bindings::Extension as Exports;
