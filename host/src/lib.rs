//! `copilot-host`: a wasmtime host for language-model provider extensions of the
//! `copilot-chat:extension` contract (`wit/`).
//!
//! It loads an extension directory (`extension.toml` + a `wasm32-wasip2` component, built on
//! demand), grants exactly the capabilities the manifest declares plus what the user
//! configured, answers the guest's imports (files, env, settings, credentials, HTTP), and
//! drives its exports. [`Extension`] is the entry point; the `copilot-host` binary is a thin
//! CLI over it (its modules live in `cli/`, which this library never imports).
//!
//! The layers, each importing only those above it in this list:
//! * `log`: levelled logging and redaction;
//! * `contract`: the bindgen types of `wit/` and the contract version section;
//! * `output`: how results look (error sentences, event JSON, tables, the spinner);
//! * `sandbox`: manifest, capabilities, host patterns, the HTTP client, the secret store;
//! * `digest`: content hashes;
//! * `install`: installed extensions, the dev and registry builds, registry archives;
//! * `runtime`: wasmtime: options, component cache, limits, clock, imports, instance, streams;
//! * `serve`: the local HTTP API (shared core, one module per wire protocol).
//!
//! This file only wires them together and names the public API.

mod contract;
mod digest;
pub mod install;
pub mod log;
pub mod output;
mod runtime;
pub mod sandbox;
pub mod serve;

/// The dev build: `build::ensure_component(dir)` builds `<dir>/extension.wasm` when needed.
pub mod build {
    pub use crate::install::devbuild::ensure_component;
}

pub use contract::{api_version, plain_request};
pub use contract::host::{Architecture, CredentialError, FileError, LogLevel, Os};
pub use contract::http_client::{
    ChunkPoll, HttpError, HttpMethod, HttpRequest, HttpResponse, RedirectPolicy,
};
pub use contract::llm_provider::{
    AccessDeniedInfo, CacheConfiguration, CompletionEvent, CompletionRequest, ContextTooLongInfo,
    DeviceFlowPrompt, ImageData, JsonSchemaFormat, MessageContent, MessageRole, ModelCapabilities, ModelInfo,
    NotSignedInInfo, ProviderError, ProviderInfo, QuotaInfo, RateLimitInfo, RequestMessage,
    ResponseFormat, StopReason, StreamPoll, ThinkingContent, TokenUsage, ToolChoice, ToolDefinition,
    ToolInputFormat, ToolResult, ToolResultContent, ToolUse, ToolUseJsonParseError, UpstreamInfo,
};
pub use log::{Level, LogSink, Logger};
pub use output::display_error;
pub use runtime::clock::Clock;
pub use runtime::{
    limits, precompile, CompletionStream, Extension, GuestFailure, HostOptions,
    DEFAULT_CALL_DEADLINE, DEFAULT_HTTP_TIMEOUT, MAX_LOG_LINES_PER_CALL, MAX_REQUESTS_PER_CALL,
    READINESS_SAFETY_NET,
};
pub use sandbox::capabilities::EnvSource;
pub use sandbox::credentials::CredentialStore;
pub use sandbox::manifest::Manifest;
