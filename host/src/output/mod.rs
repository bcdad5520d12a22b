//! How results look to people and scripts: error sentences, event JSON, model tables.
//!
//! Design decision: everything user-visible is produced here from the typed values, once, so
//! the CLI, the demo and any embedder show errors and events the same way. Every string that
//! came from outside passes through [`crate::log::redact`] on its way out. `progress` draws
//! the terminal's spinner and decides on colours.
//!
//! A low layer: it may import `crate::contract` and `crate::log` only; never the sandbox, the
//! runtime, `serve`, `install` or the CLI.

pub mod progress;

use serde_json::{json, Map, Value};

use crate::contract::llm_provider::{
    CompletionEvent, ModelCapabilities, ModelInfo, ProviderError, StopReason, ToolInputFormat,
    UpstreamInfo,
};
use crate::log::redact;

/// Where users manage their Copilot subscription and policies.
const COPILOT_SETTINGS_URL: &str = "https://github.com/settings/copilot";
/// Settings keys whose values are never shown (matched as substrings, case-insensitively).
const SECRET_KEY_PARTS: [&str; 5] = ["token", "secret", "password", "key", "authorization"];
/// What replaces a hidden value.
pub const REDACTED: &str = "[redacted]";

/// One clear sentence: what happened and what to do. Never contains a token.
pub fn display_error(error: &ProviderError) -> String {
    let text = match error {
        ProviderError::NotSignedIn(info) => {
            let searched = if info.searched.is_empty() {
                String::new()
            } else {
                format!(" (looked in: {})", info.searched.join("; "))
            };
            format!("You are not signed in to GitHub Copilot{searched}; run `copilot-host sign-in` or sign in with another Copilot client, then try again.")
        }
        ProviderError::Unauthorized(up) => {
            format!("GitHub rejected the stored credential{}; sign in again with `copilot-host sign-in`.", upstream_detail(up))
        }
        ProviderError::NoCopilotAccess(info) => {
            let url = info.url.as_deref().unwrap_or(COPILOT_SETTINGS_URL);
            format!("This GitHub account cannot use Copilot: {}; check your subscription or your organization's policy at {url}.", sentence(&info.message))
        }
        ProviderError::RateLimited(info) => {
            let wait = match info.retry_after_secs {
                Some(secs) => format!("wait {secs} s"),
                None => "wait a moment".to_string(),
            };
            format!(
                "Copilot is rate limiting these requests ({}); {wait} and try again.",
                sentence(&info.message)
            )
        }
        ProviderError::QuotaExceeded(info) => {
            let when = match info.retry_after_secs {
                Some(secs) => format!("it resets in about {}", human_duration(secs)),
                None => "wait for it to reset".to_string(),
            };
            format!("Your Copilot quota is used up ({}); {when}, or see your plan at {COPILOT_SETTINGS_URL}.", sentence(&info.message))
        }
        ProviderError::ModelNotSupported(up) => {
            format!("That model is not available to this account{}; pick another one from `copilot-host models`.", upstream_detail(up))
        }
        ProviderError::ContextTooLong(info) => {
            let numbers = match (info.actual, info.limit) {
                (Some(actual), Some(limit)) => format!(" ({actual} tokens, the limit is {limit})"),
                (None, Some(limit)) => format!(" (the limit is {limit} tokens)"),
                _ => String::new(),
            };
            format!("The conversation is too long for this model{numbers}; shorten it or pick a model with a larger context.")
        }
        ProviderError::Network(detail) => {
            format!("Could not reach the Copilot service ({}); check your network connection or proxy settings and try again.", sentence(detail))
        }
        ProviderError::Upstream(up) if up.status == 0 => {
            format!("The extension failed: {}.", sentence(&up.message))
        }
        ProviderError::Upstream(up) => {
            format!(
                "The Copilot service answered with an error{}; try again later.",
                upstream_detail(up)
            )
        }
        ProviderError::InvalidRequest(detail) => {
            format!(
                "The request is invalid: {}; fix it and try again.",
                sentence(detail)
            )
        }
        ProviderError::NotSupported(detail) => {
            format!(
                "This extension does not support that yet: {}.",
                sentence(detail)
            )
        }
    };
    redact(&text)
}

/// ` (HTTP 401: Bad credentials; request id X)`, or empty.
fn upstream_detail(up: &UpstreamInfo) -> String {
    let mut parts = Vec::new();
    if up.status != 0 {
        parts.push(format!("HTTP {}", up.status));
    }
    let message = sentence(&up.message);
    if !message.is_empty() {
        parts.push(message);
    }
    let mut detail = parts.join(": ");
    if let Some(id) = &up.request_id {
        detail.push_str(&format!("; request id {id}"));
    }
    if detail.is_empty() {
        detail
    } else {
        format!(" ({detail})")
    }
}

/// A message without trailing punctuation, so it fits inside our sentence.
fn sentence(text: &str) -> String {
    text.trim().trim_end_matches(['.', ';', ' ']).to_string()
}

fn human_duration(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        _ => format!("{} h", secs / 3600),
    }
}

/// One completion event as the `chat --json` line object.
pub fn event_json(event: &CompletionEvent) -> Value {
    match event {
        CompletionEvent::Started => json!({"type": "started"}),
        CompletionEvent::Text(text) => json!({"type": "text", "text": text}),
        CompletionEvent::Thinking(t) => {
            json!({"type": "thinking", "text": t.text, "signature": t.signature})
        }
        CompletionEvent::RedactedThinking(data) => {
            json!({"type": "redacted_thinking", "data": data})
        }
        CompletionEvent::ToolUse(tool) => json!({
            "type": "tool_use",
            "id": tool.id,
            "name": tool.name,
            "input": serde_json::from_str::<Value>(&tool.input).unwrap_or_else(|_| Value::String(tool.input.clone())),
            "is_input_complete": tool.is_input_complete,
            "thought_signature": tool.thought_signature,
        }),
        CompletionEvent::ToolUseJsonParseError(e) => json!({
            "type": "tool_use_json_parse_error",
            "id": e.id,
            "tool_name": e.tool_name,
            "raw_input": e.raw_input,
            "error": e.error,
        }),
        CompletionEvent::Stop(reason) => {
            json!({"type": "stop", "reason": stop_reason_name(*reason)})
        }
        CompletionEvent::Usage(u) => json!({
            "type": "usage",
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cache_read_input_tokens": u.cache_read_input_tokens,
            "cache_creation_input_tokens": u.cache_creation_input_tokens,
        }),
        CompletionEvent::ReasoningDetails(data) => json!({
            "type": "reasoning_details",
            "data": serde_json::from_str::<Value>(data).unwrap_or_else(|_| Value::String(data.clone())),
        }),
    }
}

/// One JSON object on one line with its `type` key first (serde_json sorts keys otherwise),
/// so `chat --json` lines read naturally.
pub fn json_line(value: &Value) -> String {
    let Value::Object(map) = value else {
        return value.to_string();
    };
    let Some(kind) = map.get("type") else {
        return value.to_string();
    };
    let mut parts = vec![format!("\"type\":{kind}")];
    for (key, field) in map.iter().filter(|(k, _)| k.as_str() != "type") {
        parts.push(format!("{}:{field}", Value::String(key.clone())));
    }
    format!("{{{}}}", parts.join(","))
}

/// `end_turn`, `max_tokens`, `tool_use`, `refusal`.
pub fn stop_reason_name(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ToolUse => "tool_use",
        StopReason::Refusal => "refusal",
    }
}

/// A provider error as JSON (for `doctor --json`): `{"kind": ..., "message": <sentence>}`
/// plus the variant's fields.
pub fn error_json(error: &ProviderError) -> Value {
    let (kind, fields) = match error {
        ProviderError::NotSignedIn(i) => ("not_signed_in", json!({"searched": i.searched})),
        ProviderError::Unauthorized(u) => ("unauthorized", upstream_json(u)),
        ProviderError::NoCopilotAccess(i) => (
            "no_copilot_access",
            json!({"notification_id": i.notification_id, "url": i.url}),
        ),
        ProviderError::RateLimited(i) => (
            "rate_limited",
            json!({"code": i.code, "retry_after_secs": i.retry_after_secs}),
        ),
        ProviderError::QuotaExceeded(i) => (
            "quota_exceeded",
            json!({"code": i.code, "retry_after_secs": i.retry_after_secs}),
        ),
        ProviderError::ModelNotSupported(u) => ("model_not_supported", upstream_json(u)),
        ProviderError::ContextTooLong(i) => (
            "context_too_long",
            json!({"limit": i.limit, "actual": i.actual}),
        ),
        ProviderError::Network(_) => ("network", json!({})),
        ProviderError::Upstream(u) => ("upstream", upstream_json(u)),
        ProviderError::InvalidRequest(_) => ("invalid_request", json!({})),
        ProviderError::NotSupported(_) => ("not_supported", json!({})),
    };
    let mut object = Map::new();
    object.insert("kind".into(), kind.into());
    object.insert("message".into(), display_error(error).into());
    if let Value::Object(fields) = fields {
        object.extend(fields);
    }
    Value::Object(object)
}

fn upstream_json(up: &UpstreamInfo) -> Value {
    json!({"status": up.status, "request_id": up.request_id})
}

/// One model as the `models --json` element.
pub fn model_json(model: &ModelInfo) -> Value {
    let c = &model.capabilities;
    json!({
        "id": model.id,
        "name": model.name,
        "max_token_count": model.max_token_count,
        "max_output_tokens": model.max_output_tokens,
        "capabilities": {
            "supports_images": c.supports_images,
            "supports_tools": c.supports_tools,
            "supports_tool_choice_auto": c.supports_tool_choice_auto,
            "supports_tool_choice_any": c.supports_tool_choice_any,
            "supports_tool_choice_none": c.supports_tool_choice_none,
            "supports_thinking": c.supports_thinking,
            "tool_input_format": tool_input_format_name(c.tool_input_format),
        },
        "is_default": model.is_default,
        "is_default_fast": model.is_default_fast,
    })
}

fn tool_input_format_name(format: ToolInputFormat) -> &'static str {
    match format {
        ToolInputFormat::JsonSchema => "json_schema",
        ToolInputFormat::JsonSchemaSubset => "json_schema_subset",
        ToolInputFormat::Simplified => "simplified",
    }
}

fn flags(c: &ModelCapabilities) -> String {
    let mut flags = Vec::new();
    if c.supports_images {
        flags.push("vision");
    }
    if c.supports_tools {
        flags.push("tools");
    }
    if c.supports_thinking {
        flags.push("thinking");
    }
    flags.join(",")
}

/// A fixed-width table of models with a header row; `*` marks the default, `+` the default fast.
pub fn models_table(models: &[ModelInfo]) -> String {
    let header = ["", "ID", "NAME", "CONTEXT", "OUTPUT", "FLAGS"].map(str::to_string);
    let rows: Vec<[String; 6]> = models
        .iter()
        .map(|m| {
            let marker = format!(
                "{}{}",
                if m.is_default { "*" } else { "" },
                if m.is_default_fast { "+" } else { "" }
            );
            [
                marker,
                m.id.clone(),
                m.name.clone(),
                m.max_token_count.to_string(),
                m.max_output_tokens
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "-".into()),
                flags(&m.capabilities),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str("(* default, + default fast)\n");
    out
}

/// A copy of a settings value with secret-looking keys hidden and token-like strings masked.
pub fn redact_settings(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    let hidden = SECRET_KEY_PARTS.iter().any(|p| lower.contains(p)) && !v.is_null();
                    (
                        k.clone(),
                        if hidden {
                            Value::String(REDACTED.into())
                        } else {
                            redact_settings(v)
                        },
                    )
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_settings).collect()),
        Value::String(s) => Value::String(redact(s)),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::llm_provider::*;

    #[test]
    fn doctor_settings_never_show_a_password_inside_a_url() {
        let shown = redact_settings(&json!({
            "github_api_url": "https://alice:hunter2@ghe.example/api/v3",
            "enterprise_uri": "https://bob@acme.ghe.com",
        }))
        .to_string();
        assert!(!shown.contains("hunter2") && !shown.contains("alice") && !shown.contains("bob@"), "{shown}");
        assert!(shown.contains("ghe.example/api/v3") && shown.contains("acme.ghe.com"), "{shown}");
    }

    fn caps() -> ModelCapabilities {
        ModelCapabilities {
            supports_images: true,
            supports_tools: true,
            supports_tool_choice_auto: true,
            supports_tool_choice_any: false,
            supports_tool_choice_none: true,
            supports_thinking: false,
            tool_input_format: ToolInputFormat::JsonSchema,
        }
    }

    #[test]
    fn errors_are_one_actionable_sentence() {
        let e = ProviderError::RateLimited(RateLimitInfo {
            message: "Too many.".into(),
            code: None,
            retry_after_secs: Some(30),
        });
        assert_eq!(
            display_error(&e),
            "Copilot is rate limiting these requests (Too many); wait 30 s and try again."
        );
        let e = ProviderError::Unauthorized(UpstreamInfo {
            status: 401,
            message: "Bad credentials".into(),
            request_id: Some("R1".into()),
        });
        assert_eq!(display_error(&e), "GitHub rejected the stored credential (HTTP 401: Bad credentials; request id R1); sign in again with `copilot-host sign-in`.");
        let e = ProviderError::NotSignedIn(NotSignedInInfo {
            searched: vec!["GH_COPILOT_TOKEN: unset".into()],
        });
        assert!(display_error(&e).contains("sign-in"));
        let e = ProviderError::ContextTooLong(ContextTooLongInfo {
            message: String::new(),
            limit: Some(10),
            actual: Some(12),
        });
        assert!(display_error(&e).contains("12 tokens, the limit is 10"));
    }

    #[test]
    fn errors_never_show_tokens() {
        let e = ProviderError::Network("sent gho_abcdefghijklmnopqrstuvwxyz".into());
        assert!(!display_error(&e).contains("abcdefghijklmnop"));
    }

    #[test]
    fn events_serialise_as_documented() {
        let tool = CompletionEvent::ToolUse(ToolUse {
            id: "call_1".into(),
            name: "get_weather".into(),
            input: "{\"city\":\"Paris\"}".into(),
            is_input_complete: true,
            thought_signature: None,
        });
        let v = event_json(&tool);
        assert_eq!(v["type"], "tool_use");
        assert_eq!(v["input"]["city"], "Paris");
        let raw = CompletionEvent::ToolUse(ToolUse {
            id: "c".into(),
            name: "n".into(),
            input: "{oops".into(),
            is_input_complete: true,
            thought_signature: None,
        });
        assert_eq!(event_json(&raw)["input"], "{oops");
        assert_eq!(
            event_json(&CompletionEvent::Stop(StopReason::ToolUse)),
            json!({"type": "stop", "reason": "tool_use"})
        );
        let usage = CompletionEvent::Usage(TokenUsage {
            input_tokens: 3,
            output_tokens: 4,
            cache_creation_input_tokens: None,
            cache_read_input_tokens: Some(1),
        });
        assert_eq!(event_json(&usage)["cache_read_input_tokens"], 1);
        assert_eq!(
            event_json(&CompletionEvent::Started),
            json!({"type": "started"})
        );
        let line = json_line(&event_json(&CompletionEvent::Text("a\"b".into())));
        assert_eq!(line, r#"{"type":"text","text":"a\"b"}"#);
        assert_eq!(
            serde_json::from_str::<Value>(&line).unwrap()["text"],
            "a\"b"
        );
    }

    #[test]
    fn models_render_as_table_and_json() {
        let model = ModelInfo {
            id: "gpt-4o".into(),
            name: "GPT-4o".into(),
            max_token_count: 128000,
            max_output_tokens: Some(4096),
            capabilities: caps(),
            is_default: true,
            is_default_fast: false,
        };
        let table = models_table(std::slice::from_ref(&model));
        assert!(
            table.lines().nth(1).unwrap().starts_with("*  gpt-4o"),
            "{table}"
        );
        assert!(table.contains("vision,tools"));
        let v = model_json(&model);
        assert_eq!(v["max_token_count"], 128000);
        assert_eq!(v["capabilities"]["supports_images"], true);
        assert_eq!(v["is_default"], true);
    }

    #[test]
    fn settings_are_redacted() {
        let v = redact_settings(
            &json!({"github_api_url": "https://x", "oauth_token": "abc", "nested": {"api_key": "k"}, "note": "gho_1234567890abcdef"}),
        );
        assert_eq!(v["github_api_url"], "https://x");
        assert_eq!(v["oauth_token"], REDACTED);
        assert_eq!(v["nested"]["api_key"], REDACTED);
        assert!(!v["note"].as_str().unwrap().contains("1234567890"));
    }
}
