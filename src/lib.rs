//! copilot-chat: a GitHub Copilot Chat language-model provider as a `wasm32-wasip2` component.
//!
//! This file only wires the WIT contract (`wit/`) to plain Rust modules, split at protocol
//! steps. Every module takes its inputs (bytes, `now`, settings, a [`host_api::HostApi`]) as
//! arguments so it is unit-tested natively, without wasm.

pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "extension",
    });
}

pub mod catalog;
pub mod chat;
pub mod credentials;
pub mod error;
pub mod headers;
pub mod host_api;
pub mod provider;
pub mod session;
pub mod settings;
pub mod sse;

#[cfg(test)]
pub mod testing;

#[cfg(target_arch = "wasm32")]
mod guest;
