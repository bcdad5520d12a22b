//! What every endpoint's request mapping shares: the parts of a WIT request that every
//! OpenAI-style body spells the same way (temperature, token bound, tool choice, a tool's
//! schema, a tool call's input) and the error for content a role cannot carry.

use serde_json::{json, Value};

use crate::bindings::copilot_chat::extension::llm_provider::{
    MessageContent, ToolChoice, ToolDefinition, ToolUse,
};
use crate::error::Error;

/// Separator between several text parts folded into one string.
pub const TEXT_PART_SEPARATOR: &str = "\n\n";

/// JSON for a temperature, printed from its `f32` text so `0.1` stays `0.1` (not
/// `0.10000000149011612`).
pub fn temperature_json(t: f32) -> Result<Value, Error> {
    if !t.is_finite() {
        return Err(Error::InvalidRequest(format!("temperature must be a finite number, not {t}")));
    }
    let exact: f64 = t.to_string().parse().unwrap_or(f64::from(t));
    Ok(json!(exact))
}

/// The output-token bound to send: the request's, bounded by the model's limit, or either
/// alone.
pub fn bounded_max_tokens(requested: Option<u64>, model_limit: Option<u64>) -> Option<u64> {
    match (requested, model_limit) {
        (Some(r), Some(m)) => Some(r.min(m)),
        (r, m) => r.or(m),
    }
}

pub fn tool_choice_str(choice: &ToolChoice) -> &'static str {
    match choice {
        ToolChoice::Auto => "auto",
        // Copilot's OpenAI dialect names "must call some tool" `required`.
        ToolChoice::Any => "required",
        ToolChoice::None => "none",
    }
}

/// A tool's input schema as JSON (`parameters`).
pub fn tool_parameters(tool: &ToolDefinition) -> Result<Value, Error> {
    serde_json::from_str(&tool.input_schema).map_err(|e| {
        Error::InvalidRequest(format!("tool `{}` has an input schema that is not JSON: {e}", tool.name))
    })
}

/// A tool call's input as the `arguments` text to send: checked to be JSON, `{}` when empty.
pub fn tool_arguments(tool_use: &ToolUse) -> Result<&str, Error> {
    if tool_use.input.trim().is_empty() {
        return Ok("{}");
    }
    serde_json::from_str::<Value>(&tool_use.input).map_err(|e| {
        Error::InvalidRequest(format!(
            "the input of tool call `{}` (`{}`) is not JSON: {e}",
            tool_use.id, tool_use.name
        ))
    })?;
    Ok(tool_use.input.as_str())
}

/// Content that a message of some role (`place`) cannot carry.
pub fn misplaced(content: &MessageContent, place: &str) -> Error {
    let what = match content {
        MessageContent::Text(_) => "text",
        MessageContent::Image(_) => "an image",
        MessageContent::ToolUse(_) => "a tool use",
        MessageContent::ToolResult(_) => "a tool result",
        MessageContent::Thinking(_) => "thinking",
        MessageContent::RedactedThinking(_) => "redacted thinking",
    };
    Error::InvalidRequest(format!("{what} cannot be part of {place}"))
}
