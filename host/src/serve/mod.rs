//! `serve`: the loaded provider as a local HTTP API on 127.0.0.1, for editors' generic
//! providers (Zed's `openai_compatible`, Continue, ...).
//!
//! * `server`: the shared core, protocol-independent: the loopback listener, the bearer key,
//!   the connection limit, a thread per connection, shutdown;
//! * `context`: what a protocol's handler sees of the running server (the extension, the
//!   provider, the stop flag, the id sequence);
//! * `wire`: the HTTP/1.1 request reader and response writers (JSON, server-sent events);
//! * one module per wire protocol: `openai` (Chat Completions and Responses, the Zed
//!   snippets), `anthropic` (Messages, with the model-id mapping), `ollama` (discovery and chat);
//! * `upstream`: opening a completion and classifying its early failure, shared by the newer
//!   protocols.
//!
//! It may import the library's public layers (`crate::runtime`, `crate::contract`,
//! `crate::output`, `crate::log`); never the CLI. Inside, the dependencies run one way:
//! `server` → protocols → `context`, `wire`; a protocol never imports `server` or another
//! protocol.

mod anthropic;
mod context;
mod ollama;
mod openai;
mod server;
mod upstream;
mod wire;

pub use anthropic::{resolve_model, MODEL_MAP_SETTING};
pub use context::ServeOptions;
pub use openai::zed::{
    claude_code_env, zed_key_env, zed_ollama_settings, zed_settings, ZED_OLLAMA_KEY_ENV,
    ZED_PROVIDER_NAME,
};
pub use openai::{
    parse_chat_request, parse_responses_request, ChatRequest, RequestOptions, ResponsesRequest,
    ResponsesTranslator, Translator, API_PREFIX,
};
pub use server::{Server, BODY_BUDGET_BYTES, HEAD_DEADLINE, MAX_CONNECTIONS, MAX_PENDING_HEADS};
