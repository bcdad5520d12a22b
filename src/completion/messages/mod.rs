//! The `/v1/messages` endpoint (Anthropic Messages API, served by Copilot for Claude models):
//! `request` maps the body, `decode` reads the typed stream events. The block types below are
//! the wire vocabulary both directions share.
//!
//! May import `completion::{decoder, sse, image, request}`, `catalog` and the shared top-level
//! modules; never the other endpoints, `routing` or anything above.

pub mod decode;
pub mod request;

/// `type` of a text content block, in both directions.
pub const TEXT_BLOCK: &str = "text";
/// `type` of an extended-thinking block (text plus the `signature` that must come back).
pub const THINKING_BLOCK: &str = "thinking";
/// `type` of a thinking block the provider encrypted (its `data` must come back verbatim).
pub const REDACTED_THINKING_BLOCK: &str = "redacted_thinking";
/// `type` of a tool call block.
pub const TOOL_USE_BLOCK: &str = "tool_use";
