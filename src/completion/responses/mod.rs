//! The `/responses` endpoint (OpenAI Responses API), for models whose catalog entry lists
//! `/responses` but not `/chat/completions` (GPT-5.x, codex): `request` maps the body,
//! `decode` reads the typed stream events. The item types below are the wire vocabulary both
//! directions share.
//!
//! May import `completion::{events, sse, image}`, `catalog` and the shared top-level modules;
//! never the other endpoint, `routing` or anything above.

pub mod decode;
pub mod request;

/// `type` of the reasoning item, in both directions.
pub const REASONING_ITEM: &str = "reasoning";
/// `type` of a function-call item, in both directions.
pub const FUNCTION_CALL_ITEM: &str = "function_call";
/// `type` of a message item, in both directions.
pub const MESSAGE_ITEM: &str = "message";
