//! copilot-chat: a GitHub Copilot Chat language-model provider as a `wasm32-wasip2` component.
//!
//! This file only wires the WIT contract (`wit/`) to plain Rust modules. The folders are the
//! protocol steps, and dependencies run one way, down this list:
//!
//! * `guest` (wasm only): the WIT exports, and the [`host_api::HostApi`] over the imports.
//! * `provider`: ties the sides together and owns the instance's state.
//! * `completion`: requests out and streamed answers in, one folder per endpoint.
//! * `catalog`: which models the account may use, and how they are shown.
//! * `auth`: credentials, sign-in and the Copilot session token.
//! * shared by all: `error`, `settings`, `headers`, `host_api` (and `testing`, the fake host).
//!
//! Every module takes its inputs (bytes, `now`, settings, a [`host_api::HostApi`]) as
//! arguments so it is unit-tested natively, without wasm.

pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "extension",
    });
}

pub mod auth;
pub mod catalog;
pub mod completion;
pub mod error;
pub mod headers;
pub mod host_api;
pub mod provider;
pub mod settings;

#[cfg(test)]
pub mod testing;

#[cfg(target_arch = "wasm32")]
mod guest;

/// The contract version (`wit/extension.wit`'s package version, 0.2.0) as a custom section a
/// host reads before instantiating: major, minor, patch as big-endian u16, like Zed's
/// `zed:api-version`. `#[used]` keeps it through the linker.
#[cfg(target_arch = "wasm32")]
#[used]
#[link_section = "copilot-chat:api-version"]
static API_VERSION: [u8; 6] = [0, 0, 0, 2, 0, 0];
