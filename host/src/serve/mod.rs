//! `serve`: the loaded provider as a local HTTP API on 127.0.0.1, for editors' generic
//! providers (Zed's `openai_compatible`, Continue, ...).
//!
//! * `server`: the shared core, protocol-independent: the loopback listener, the bearer key,
//!   the connection limit, a thread per connection, shutdown;
//! * `context`: what a protocol's handler sees of the running server (the extension, the
//!   provider, the stop flag, the id sequence);
//! * `wire`: the HTTP/1.1 request reader and response writers (JSON, server-sent events);
//! * one module per wire protocol: `openai` (routes, translation, the Zed snippet).
//!
//! It may import the library's public layers (`crate::runtime`, `crate::contract`,
//! `crate::output`, `crate::log`); never the CLI. Inside, the dependencies run one way:
//! `server` → protocols → `context`, `wire`; a protocol never imports `server` or another
//! protocol.

mod context;
mod openai;
mod server;
mod wire;

pub use openai::zed::{zed_key_env, zed_settings, ZED_PROVIDER_NAME};
pub use openai::{parse_chat_request, ChatRequest, Translator, API_PREFIX};
pub use server::{Server, MAX_CONNECTIONS};
