//! `copilot-host`: a wasmtime host for language-model provider extensions of the
//! `copilot-chat:extension` contract (`wit/`).
//!
//! It loads an extension directory (`extension.toml` + a `wasm32-wasip2` component, built on
//! demand), grants exactly the capabilities the manifest declares plus what the user
//! configured, answers the guest's imports (files, env, settings, credentials, HTTP), and
//! drives its exports. [`Extension`] is the entry point; the `copilot-host` binary is a thin
//! CLI over it.

pub mod api_version;
pub mod archive;
mod bindings;
pub mod capabilities;
pub mod clock;
mod component;
pub mod credentials;
pub mod details;
pub mod devbuild;
pub mod http;
mod imports;
pub mod limits;
pub mod install;
pub mod log;
pub mod manifest;
mod options;
pub mod output;
pub mod package;
pub mod progress;
mod runtime;
pub mod serve;
mod stream;

/// The dev build: `build::ensure_component(dir)` builds `<dir>/extension.wasm` when needed.
pub mod build {
    pub use crate::devbuild::ensure_component;
}

pub use bindings::copilot_chat::extension::host::{
    Architecture, CredentialError, FileError, LogLevel, Os,
};
pub use bindings::copilot_chat::extension::http_client::{
    ChunkPoll, HttpError, HttpMethod, HttpRequest, HttpResponse, RedirectPolicy,
};
pub use bindings::copilot_chat::extension::llm_provider::{
    AccessDeniedInfo, CacheConfiguration, CompletionEvent, CompletionRequest, ContextTooLongInfo,
    DeviceFlowPrompt, ImageData, MessageContent, MessageRole, ModelCapabilities, ModelInfo,
    NotSignedInInfo, ProviderError, ProviderInfo, QuotaInfo, RateLimitInfo, RequestMessage,
    StopReason, StreamPoll, ThinkingContent, TokenUsage, ToolChoice, ToolDefinition,
    ToolInputFormat, ToolResult, ToolResultContent, ToolUse, ToolUseJsonParseError, UpstreamInfo,
};
pub use capabilities::EnvSource;
pub use clock::Clock;
pub use credentials::CredentialStore;
pub use log::{Level, LogSink, Logger};
pub use manifest::Manifest;
pub use options::{HostOptions, DEFAULT_HTTP_TIMEOUT};
pub use output::display_error;
pub use runtime::Extension;
pub use stream::CompletionStream;
