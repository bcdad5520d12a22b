//! Completion events built the same way for every endpoint: a finished tool call (its JSON
//! input checked) and token usage. The chat-completions and responses decoders differ in how
//! they find these pieces on the wire, not in what they make of them.

use serde_json::Value;

use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionEvent, TokenUsage, ToolUse, ToolUseJsonParseError,
};

/// A finished tool call: `ToolUse` when `arguments` is JSON (empty means `{}`, which is what
/// a call without parameters streams), `ToolUseJsonParseError` with the raw text otherwise.
pub fn tool_use(id: String, name: String, arguments: String, thought_signature: Option<String>) -> CompletionEvent {
    let input = if arguments.trim().is_empty() { "{}".to_string() } else { arguments };
    match serde_json::from_str::<Value>(&input) {
        Ok(_) => CompletionEvent::ToolUse(ToolUse {
            id,
            name,
            input,
            is_input_complete: true,
            thought_signature,
        }),
        Err(e) => CompletionEvent::ToolUseJsonParseError(ToolUseJsonParseError {
            id,
            tool_name: name,
            raw_input: input,
            error: e.to_string(),
        }),
    }
}

/// The names one endpoint gives the usage fields.
pub struct UsageFields {
    pub input: &'static str,
    pub output: &'static str,
    /// The object holding `cached_tokens`.
    pub input_details: &'static str,
}

/// Usage from `usage`, or `None` when it carries neither count.
pub fn usage(usage: &Value, fields: &UsageFields) -> Option<CompletionEvent> {
    let input = usage.get(fields.input).and_then(Value::as_u64);
    let output = usage.get(fields.output).and_then(Value::as_u64);
    if input.is_none() && output.is_none() {
        return None;
    }
    let cached = usage
        .get(fields.input_details)
        .and_then(|d| d.get("cached_tokens"))
        .and_then(Value::as_u64);
    Some(CompletionEvent::Usage(TokenUsage {
        input_tokens: input.unwrap_or(0),
        output_tokens: output.unwrap_or(0),
        cache_creation_input_tokens: None,
        cache_read_input_tokens: cached,
    }))
}

/// A string field that is present and not empty.
pub fn non_empty_str<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}
