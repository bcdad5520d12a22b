//! The Anthropic Messages dialect (`POST /v1/messages`, `POST /v1/messages/count_tokens`),
//! translated to and from the WIT contract, for Claude Code and other Anthropic-SDK clients.
//!
//! Design decisions:
//! * The translation is pure (JSON in, contract values out, and back) and unit-tested here;
//!   the handlers at the end of the file only move bytes.
//! * Nothing is dropped silently. A request field that changes the answer and that the
//!   contract cannot carry (`top_k`, server tools, URL images, documents, ...) is a 400 naming
//!   it; `top_p` and `tool_choice.disable_parallel_tool_use` travel in the contract's request. Fields that do not change the answer are accepted and have no effect:
//!   `metadata`, `service_tier`, `cache_control` on tools (a block's `cache_control` marks its
//!   message as a cache breakpoint, which the contract carries), and `thinking.budget_tokens`
//!   (the extension picks the budget for the model from `max_tokens`).
//! * Thinking: the contract's thinking events become `thinking` blocks; the opaque reasoning
//!   state that the extension emits as `reasoning-details` becomes the block's `signature`
//!   (or a `redacted_thinking` block when no thinking text came before it), and a signature
//!   or redacted block sent back goes to the contract's thinking content unchanged, where the
//!   extension reads it.
//! * A tool result is text or one image in the contract. A result with both (or several
//!   images) keeps its text as the result and its images follow in the same user turn.
//! * `stop_reason` is `end_turn`, `max_tokens`, `tool_use` or `refusal`; the contract does not
//!   say which stop sequence ended an answer, so `stop_sequence` is never reported (a stop
//!   at a stop sequence reads as `end_turn`).
//! * Usage follows Anthropic's meaning: `input_tokens` excludes the cached part, which is
//!   `cache_read_input_tokens`. A stream's `message_start` carries 0 input tokens; the real
//!   counts come in `message_delta`, as Anthropic's newer streams do.
//! * Model ids: see [`resolve_model`].
//! * Statuses: a client's mistake is 4xx; Copilot unreachable or failing is 503
//!   `overloaded_error` (clients retry it); a host failure, or model output a block cannot
//!   carry (tool input that is not JSON), is 500 `api_error`.

use std::io::Write;
use std::net::TcpStream;

use serde_json::{json, Map, Value};

use crate::contract::llm_provider::{
    CompletionEvent, CompletionRequest, ImageData, MessageContent, MessageRole, ModelInfo,
    ProviderError, RequestMessage, StopReason, ThinkingContent, TokenUsage, ToolChoice,
    ToolDefinition, ToolResult, ToolResultContent, ToolUse,
};

use super::upstream::{self, blame, Blame, Failure};
use crate::serve::context::{unix_now, Context};
use crate::serve::wire;

/// The settings key mapping client model ids to Copilot model ids.
pub const MODEL_MAP_SETTING: &str = "model_map";

/// Body fields that are honoured.
const HONOURED: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "system",
    "stream",
    "temperature",
    "top_p",
    "stop_sequences",
    "tools",
    "tool_choice",
    "thinking",
];
/// Body fields accepted with no effect, because they do not change the answer.
const NO_EFFECT: &[&str] = &["metadata", "service_tier"];

/// A parsed `POST /v1/messages` (or `count_tokens`) body.
#[derive(Debug)]
pub struct MessagesRequest {
    /// The model id as the client sent it.
    pub model: String,
    /// Whether to answer with server-sent events.
    pub stream: bool,
    /// The request in the contract's shape.
    pub request: CompletionRequest,
}

/// Parses and maps a Messages body; `Err` is a sentence for a 400. `count_only` is the
/// `count_tokens` form, which has no `max_tokens` or `stream`.
pub fn parse_messages_request(body: &[u8], count_only: bool) -> Result<MessagesRequest, String> {
    let body: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let Some(object) = body.as_object() else {
        return Err("the body must be a JSON object".into());
    };
    for key in object.keys() {
        let allowed = HONOURED.contains(&key.as_str()) || NO_EFFECT.contains(&key.as_str());
        if !allowed
            || (count_only
                && matches!(
                    key.as_str(),
                    "stream" | "max_tokens" | "stop_sequences" | "temperature" | "top_p"
                ))
        {
            return Err(format!(
                "`{key}` is not supported by this endpoint (the Copilot contract cannot carry it); remove it"
            ));
        }
    }
    let model = match object.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        _ => return Err("`model` is required".into()),
    };
    let max_tokens = match object.get("max_tokens") {
        Some(value) => match value.as_u64() {
            Some(n) if n > 0 => Some(n),
            _ => return Err("`max_tokens` must be a positive integer".into()),
        },
        None if count_only => None,
        None => return Err("`max_tokens` is required".into()),
    };
    let stream = match object.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("`stream` must be a boolean".into()),
    };
    let temperature = match object.get("temperature") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_f64() {
            Some(t) if (0.0..=1.0).contains(&t) => Some(t as f32),
            _ => return Err("`temperature` must be a number from 0 to 1".into()),
        },
    };
    let top_p = match object.get("top_p") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_f64() {
            Some(p) if (0.0..=1.0).contains(&p) => Some(p as f32),
            _ => return Err("`top_p` must be a number from 0 to 1".into()),
        },
    };
    let Some(Value::Array(messages)) = object.get("messages") else {
        return Err("`messages` must be an array".into());
    };
    let mut mapped = system(object.get("system"))?;
    mapped.extend(map_messages(messages)?);
    let (tools, tool_choice, serial) = tools_and_choice(object)?;
    Ok(MessagesRequest {
        model,
        stream,
        request: CompletionRequest {
            messages: mapped,
            tools,
            tool_choice,
            stop_sequences: stop_sequences(object.get("stop_sequences"))?,
            temperature,
            thinking_allowed: thinking_allowed(object.get("thinking"))?,
            max_tokens,
            response_format: None,
            top_p,
            seed: None,
            presence_penalty: None,
            frequency_penalty: None,
            parallel_tool_calls: serial.then_some(false),
            reasoning_effort: None,
        },
    })
}

fn thinking_allowed(thinking: Option<&Value>) -> Result<bool, String> {
    let Some(thinking) = thinking.filter(|v| !v.is_null()) else {
        return Ok(false);
    };
    match thinking.get("type").and_then(Value::as_str) {
        Some("enabled") => match thinking.get("budget_tokens") {
            None => Ok(true),
            Some(budget) if budget.as_u64().is_some() => Ok(true),
            Some(_) => Err("`thinking.budget_tokens` must be a positive integer".into()),
        },
        Some("disabled") => Ok(false),
        _ => Err("`thinking.type` must be `enabled` or `disabled`".into()),
    }
}

fn stop_sequences(value: Option<&Value>) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "`stop_sequences` entries must be strings".to_string())
            })
            .collect(),
        Some(_) => Err("`stop_sequences` must be an array of strings".into()),
    }
}

/// `system` as a string or text blocks: one system message (none when absent or empty).
fn system(value: Option<&Value>) -> Result<Vec<RequestMessage>, String> {
    let (content, cache) = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(text)) => (vec![MessageContent::Text(text.clone())], false),
        Some(Value::Array(blocks)) => {
            let mut content = Vec::new();
            let mut cache = false;
            for block in blocks {
                if block.get("type").and_then(Value::as_str) != Some("text") {
                    return Err("`system` blocks must be of type `text`".into());
                }
                cache |= has_cache_control(block);
                content.push(MessageContent::Text(text_of(block, "system")?));
            }
            (content, cache)
        }
        Some(_) => return Err("`system` must be a string or an array of text blocks".into()),
    };
    if content.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![RequestMessage {
        role: MessageRole::System,
        content,
        cache,
    }])
}

fn has_cache_control(block: &Value) -> bool {
    block.get("cache_control").is_some_and(|c| !c.is_null())
}

fn text_of(block: &Value, place: &str) -> Result<String, String> {
    block
        .get("text")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("a `text` block in {place} needs a string `text`"))
}

/// Tools and the tool choice. A choice naming one tool has no contract counterpart, so it
/// becomes "must call a tool" with only that tool offered: the same constraint.
/// The tools, the choice among them, and whether `tool_choice.disable_parallel_tool_use`
/// asks for one call at a time.
fn tools_and_choice(
    object: &Map<String, Value>,
) -> Result<(Vec<ToolDefinition>, Option<ToolChoice>, bool), String> {
    let mut tools = Vec::new();
    let listed = match object.get("tools") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(tools)) => tools.as_slice(),
        Some(_) => return Err("`tools` must be an array".into()),
    };
    for tool in listed {
        let kind = tool.get("type").and_then(Value::as_str).unwrap_or("custom");
        if kind != "custom" {
            return Err(format!(
                "tools of type `{kind}` (Anthropic server tools) are not supported; only custom tools with `input_schema`"
            ));
        }
        let Some(name) = tool.get("name").and_then(Value::as_str) else {
            return Err("every tool needs a `name`".into());
        };
        let Some(schema) = tool.get("input_schema").filter(|s| s.is_object()) else {
            return Err(format!("tool `{name}` needs an `input_schema` object"));
        };
        tools.push(ToolDefinition {
            name: name.to_string(),
            description: tool
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            input_schema: schema.to_string(),
        });
    }
    let mut serial = false;
    let choice = match object.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(choice) => {
            serial = match choice.get("disable_parallel_tool_use") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err("`tool_choice.disable_parallel_tool_use` must be a boolean".into())
                }
            };
            Some(match choice.get("type").and_then(Value::as_str) {
                Some("auto") => ToolChoice::Auto,
                Some("any") => ToolChoice::Any,
                Some("none") => ToolChoice::None,
                Some("tool") => {
                    let Some(name) = choice.get("name").and_then(Value::as_str) else {
                        return Err("`tool_choice` of type `tool` needs a `name`".into());
                    };
                    tools.retain(|t| t.name == name);
                    if tools.is_empty() {
                        return Err(format!(
                            "`tool_choice` names `{name}`, which is not in `tools`"
                        ));
                    }
                    ToolChoice::Any
                }
                _ => return Err("`tool_choice.type` must be auto, any, tool or none".into()),
            })
        }
    };
    Ok((tools, choice, serial))
}

fn map_messages(messages: &[Value]) -> Result<Vec<RequestMessage>, String> {
    let mut out = Vec::with_capacity(messages.len());
    for (index, message) in messages.iter().enumerate() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let content = message.get("content").unwrap_or(&Value::Null);
        let blocks = match content {
            Value::String(text) => vec![json!({"type": "text", "text": text})],
            Value::Array(blocks) => blocks.clone(),
            _ => {
                return Err(format!(
                    "message {index}: `content` must be a string or an array of blocks"
                ))
            }
        };
        let cache = blocks.iter().any(has_cache_control);
        let (role, content) = match role {
            "user" => (MessageRole::User, user_content(index, &blocks, &messages[..index])?),
            "assistant" => (MessageRole::Assistant, assistant_content(index, &blocks)?),
            other => {
                return Err(format!(
                    "message {index} has role `{other}`; only `user` and `assistant` (put instructions in `system`)"
                ))
            }
        };
        out.push(RequestMessage {
            role,
            content,
            cache,
        });
    }
    Ok(out)
}

fn block_type(block: &Value) -> &str {
    block
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn user_content(
    index: usize,
    blocks: &[Value],
    earlier: &[Value],
) -> Result<Vec<MessageContent>, String> {
    let mut content = Vec::new();
    // Images of tool results that cannot be the result itself follow all results.
    let mut trailing_images = Vec::new();
    for block in blocks {
        match block_type(block) {
            "text" => content.push(MessageContent::Text(text_of(block, "a message")?)),
            "image" => content.push(MessageContent::Image(image(block)?)),
            "tool_result" => {
                let (result, images) = tool_result(block, earlier)?;
                content.push(MessageContent::ToolResult(result));
                trailing_images.extend(images.into_iter().map(MessageContent::Image));
            }
            other => {
                return Err(format!(
                    "message {index}: blocks of type `{other}` are not supported in a user message"
                ))
            }
        }
    }
    content.extend(trailing_images);
    Ok(content)
}

fn assistant_content(index: usize, blocks: &[Value]) -> Result<Vec<MessageContent>, String> {
    let mut content = Vec::new();
    for block in blocks {
        match block_type(block) {
            "text" => content.push(MessageContent::Text(text_of(block, "a message")?)),
            "tool_use" => {
                let (Some(id), Some(name)) = (
                    block.get("id").and_then(Value::as_str),
                    block.get("name").and_then(Value::as_str),
                ) else {
                    return Err(format!("message {index}: a `tool_use` block needs `id` and `name`"));
                };
                let input = match block.get("input") {
                    None | Some(Value::Null) => "{}".to_string(),
                    Some(input) => input.to_string(),
                };
                content.push(MessageContent::ToolUse(ToolUse {
                    id: id.to_string(),
                    name: name.to_string(),
                    input,
                    is_input_complete: true,
                    thought_signature: None,
                }));
            }
            "thinking" => {
                let text = block
                    .get("thinking")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let signature = block
                    .get("signature")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty());
                content.push(MessageContent::Thinking(ThinkingContent {
                    text: text.to_string(),
                    signature: signature.map(str::to_string),
                }));
            }
            "redacted_thinking" => {
                let data = block.get("data").and_then(Value::as_str).unwrap_or_default();
                content.push(MessageContent::RedactedThinking(data.to_string()));
            }
            other => {
                return Err(format!(
                    "message {index}: blocks of type `{other}` are not supported in an assistant message"
                ))
            }
        }
    }
    Ok(content)
}

/// A base64 image block. A `url` source is refused: the contract carries image bytes only.
fn image(block: &Value) -> Result<ImageData, String> {
    let source = block.get("source").unwrap_or(&Value::Null);
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {}
        Some("url") => {
            return Err(
                "image `source.type` `url` is not supported: send the image as `base64` (the extension does not fetch URLs)"
                    .into(),
            )
        }
        _ => return Err("an image block needs a `source` of type `base64`".into()),
    }
    let (Some(media_type), Some(data)) = (
        source.get("media_type").and_then(Value::as_str),
        source.get("data").and_then(Value::as_str),
    ) else {
        return Err("an image `source` needs `media_type` and `data`".into());
    };
    if !media_type.starts_with("image/") || media_type.contains([';', ',']) {
        return Err(format!(
            "image `media_type` `{media_type}` is not an image type"
        ));
    }
    Ok(ImageData {
        source: format!("data:{media_type};base64,{data}"),
        width: None,
        height: None,
    })
}

/// A `tool_result` block and the images that cannot be its content (see the module doc).
fn tool_result(block: &Value, earlier: &[Value]) -> Result<(ToolResult, Vec<ImageData>), String> {
    let Some(id) = block.get("tool_use_id").and_then(Value::as_str) else {
        return Err("a `tool_result` block needs `tool_use_id`".into());
    };
    let name = earlier
        .iter()
        .rev()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .filter_map(|m| m.get("content").and_then(Value::as_array))
        .flatten()
        .find(|b| block_type(b) == "tool_use" && b.get("id").and_then(Value::as_str) == Some(id))
        .and_then(|b| b.get("name").and_then(Value::as_str))
        .unwrap_or_default();
    let is_error = block
        .get("is_error")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (content, extra) = match block.get("content") {
        None | Some(Value::Null) => (ToolResultContent::Text(String::new()), Vec::new()),
        Some(Value::String(text)) => (ToolResultContent::Text(text.clone()), Vec::new()),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::new();
            let mut images = Vec::new();
            for part in parts {
                match block_type(part) {
                    "text" => texts.push(text_of(part, "a tool result")?),
                    "image" => images.push(image(part)?),
                    other => {
                        return Err(format!(
                            "blocks of type `{other}` are not supported in a tool result"
                        ))
                    }
                }
            }
            if texts.is_empty() && images.len() == 1 {
                (ToolResultContent::Image(images.remove(0)), Vec::new())
            } else {
                (ToolResultContent::Text(texts.join("\n")), images)
            }
        }
        Some(_) => return Err("a `tool_result`'s `content` must be a string or blocks".into()),
    };
    Ok((
        ToolResult {
            tool_use_id: id.to_string(),
            tool_name: name.to_string(),
            is_error,
            content,
        },
        extra,
    ))
}

/// The Copilot model that answers `requested`, by this rule (first match wins):
/// 1. `model_map` in the settings maps the exact id;
/// 2. a Copilot model has exactly that id;
/// 3. a Copilot model is the same Claude model once both ids are normalised: the `claude`
///    prefix, a date suffix (8 digits) and `-latest` dropped, the family (`opus`, `sonnet`,
///    `haiku`) and the version read in either order, `.` and `-` both separating version
///    parts, and a two-digit part read as two (`41` is 4.1) — so `claude-3-5-sonnet-20241022`
///    is `claude-3.5-sonnet` and `claude-sonnet-4-5-20250929` is `claude-sonnet-4.5`;
/// 4. the newest Copilot model of the same Claude family (plain ids only, not variants such
///    as `-thought`).
///
/// Only rules 1 and 2 ever pick a model that is not Claude. `Err` lists what is available.
pub fn resolve_model(
    requested: &str,
    models: &[ModelInfo],
    model_map: Option<&Value>,
) -> Result<String, String> {
    if let Some(target) = model_map
        .and_then(|m| m.get(requested))
        .and_then(Value::as_str)
    {
        return Ok(target.to_string());
    }
    if let Some(model) = models.iter().find(|m| m.id == requested) {
        return Ok(model.id.clone());
    }
    if let Some(wanted) = ClaudeId::parse(requested) {
        let parsed: Vec<(&ModelInfo, ClaudeId)> = models
            .iter()
            .filter_map(|m| ClaudeId::parse(&m.id).map(|c| (m, c)))
            .collect();
        if let Some((model, _)) = parsed.iter().find(|(_, c)| *c == wanted) {
            return Ok(model.id.clone());
        }
        if let Some((model, _)) = parsed
            .iter()
            .filter(|(_, c)| c.family == wanted.family && c.variant.is_empty())
            .max_by(|(_, a), (_, b)| a.version.cmp(&b.version))
        {
            return Ok(model.id.clone());
        }
    }
    let available: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    Err(format!(
        "model `{requested}` is not available through Copilot; available: {}. Map other ids to these with `{MODEL_MAP_SETTING}` in the settings file",
        available.join(", ")
    ))
}

/// A Claude model id taken apart (see [`resolve_model`]).
#[derive(Debug, PartialEq, Eq)]
struct ClaudeId {
    family: String,
    version: Vec<u32>,
    /// Other words (`thought`, ...), in order.
    variant: Vec<String>,
}

impl ClaudeId {
    fn parse(id: &str) -> Option<ClaudeId> {
        let id = id.to_ascii_lowercase();
        let mut words = id.split('-');
        if words.next()? != "claude" {
            return None;
        }
        let mut family = None;
        let mut version = Vec::new();
        let mut variant = Vec::new();
        for word in words {
            let digits = !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit());
            if word == "latest" || (digits && word.len() == 8) {
                continue;
            }
            if family.is_none() && matches!(word, "opus" | "sonnet" | "haiku") {
                family = Some(word.to_string());
            } else if digits && word.len() == 2 {
                version.extend(word.bytes().map(|b| u32::from(b - b'0')));
            } else if let Some(parts) = word
                .split('.')
                .map(|p| p.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()
            {
                version.extend(parts);
            } else {
                variant.push(word.to_string());
            }
        }
        Some(ClaudeId {
            family: family?,
            version,
            variant,
        })
    }
}

/// Anthropic's name for a stop reason.
pub fn stop_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ToolUse => "tool_use",
        StopReason::Refusal => "refusal",
    }
}

fn usage_json(usage: Option<&TokenUsage>) -> Value {
    let usage = usage.copied().unwrap_or(TokenUsage {
        input_tokens: 0,
        output_tokens: 0,
        cache_creation_input_tokens: None,
        cache_read_input_tokens: None,
    });
    let cached = usage.cache_read_input_tokens.unwrap_or(0);
    json!({
        "input_tokens": usage.input_tokens.saturating_sub(cached),
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens.unwrap_or(0),
        "cache_read_input_tokens": cached,
    })
}

/// One server-sent event: its name and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub event: &'static str,
    pub data: Value,
}

fn sse(event: &'static str, data: Value) -> Sse {
    Sse { event, data }
}

/// The kind of the content block that is open in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
}

/// Turns one completion's events into Anthropic stream events, and keeps the content blocks
/// for the non-streaming message.
pub struct Translator {
    id: String,
    model: String,
    blocks: Vec<Value>,
    open: Option<Open>,
    stop: Option<StopReason>,
    usage: Option<TokenUsage>,
}

impl Translator {
    /// A translator for one message.
    pub fn new(id: String, model: String) -> Translator {
        Translator {
            id,
            model,
            blocks: Vec::new(),
            open: None,
            stop: None,
            usage: None,
        }
    }

    /// `message_start` and a `ping`, sent before any block.
    pub fn start(&self) -> Vec<Sse> {
        let mut message = self.message_shell();
        message["content"] = json!([]);
        message["usage"] = usage_json(None);
        vec![
            sse(
                "message_start",
                json!({"type": "message_start", "message": message}),
            ),
            sse("ping", json!({"type": "ping"})),
        ]
    }

    fn message_shell(&self) -> Value {
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
        })
    }

    fn index(&self) -> usize {
        self.blocks.len().saturating_sub(1)
    }

    fn close(&mut self, out: &mut Vec<Sse>) {
        if self.open.take().is_some() {
            out.push(self.stop_event());
        }
    }

    fn stop_event(&self) -> Sse {
        sse(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": self.index()}),
        )
    }

    /// Opens a block (closing any open one) and returns its start event.
    fn begin(&mut self, block: Value, open: Option<Open>, out: &mut Vec<Sse>) {
        self.close(out);
        self.blocks.push(block.clone());
        self.open = open;
        out.push(sse(
            "content_block_start",
            json!({"type": "content_block_start", "index": self.index(), "content_block": block}),
        ));
    }

    fn delta(&self, delta: Value) -> Sse {
        sse(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": self.index(), "delta": delta}),
        )
    }

    /// Signs the open thinking block with `signature` and closes it.
    fn sign(&mut self, signature: &str, out: &mut Vec<Sse>) {
        if let Some(block) = self.blocks.last_mut() {
            block["signature"] = json!(signature);
        }
        out.push(self.delta(json!({"type": "signature_delta", "signature": signature})));
        self.close(out);
    }

    /// The stream events for one completion event. `Err` is a sentence for an `error` event:
    /// the model produced tool input that is not JSON, which a `tool_use` block cannot carry.
    pub fn event(&mut self, event: &CompletionEvent) -> Result<Vec<Sse>, String> {
        let mut out = Vec::new();
        match event {
            CompletionEvent::Started => {}
            CompletionEvent::Text(text) => {
                if self.open != Some(Open::Text) {
                    self.begin(
                        json!({"type": "text", "text": ""}),
                        Some(Open::Text),
                        &mut out,
                    );
                }
                if let Some(block) = self.blocks.last_mut() {
                    let joined = format!("{}{text}", block["text"].as_str().unwrap_or_default());
                    block["text"] = json!(joined);
                }
                out.push(self.delta(json!({"type": "text_delta", "text": text})));
            }
            CompletionEvent::Thinking(thinking) => {
                if self.open != Some(Open::Thinking) {
                    self.begin(
                        json!({"type": "thinking", "thinking": "", "signature": ""}),
                        Some(Open::Thinking),
                        &mut out,
                    );
                }
                if !thinking.text.is_empty() {
                    if let Some(block) = self.blocks.last_mut() {
                        let joined = format!(
                            "{}{}",
                            block["thinking"].as_str().unwrap_or_default(),
                            thinking.text
                        );
                        block["thinking"] = json!(joined);
                    }
                    out.push(
                        self.delta(json!({"type": "thinking_delta", "thinking": thinking.text})),
                    );
                }
                if let Some(signature) = thinking.signature.as_deref().filter(|s| !s.is_empty()) {
                    self.sign(signature, &mut out);
                }
            }
            CompletionEvent::ReasoningDetails(details) => {
                if self.open == Some(Open::Thinking) {
                    self.sign(details, &mut out);
                } else {
                    self.redacted(details, &mut out);
                }
            }
            CompletionEvent::RedactedThinking(data) => self.redacted(data, &mut out),
            CompletionEvent::ToolUse(tool) => {
                let input = if tool.input.trim().is_empty() {
                    "{}"
                } else {
                    tool.input.as_str()
                };
                let parsed: Value = serde_json::from_str(input).map_err(|e| {
                    format!(
                        "the model's input for tool `{}` is not JSON: {e}",
                        tool.name
                    )
                })?;
                self.begin(
                    json!({"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}}),
                    None,
                    &mut out,
                );
                if let Some(block) = self.blocks.last_mut() {
                    block["input"] = parsed;
                }
                out.push(self.delta(json!({"type": "input_json_delta", "partial_json": input})));
                out.push(self.stop_event());
            }
            CompletionEvent::ToolUseJsonParseError(error) => {
                return Err(format!(
                    "the model's input for tool `{}` is not JSON ({}), so it cannot be sent as a `tool_use` block",
                    error.tool_name, error.error
                ));
            }
            CompletionEvent::Stop(reason) => {
                self.stop = Some(*reason);
                self.close(&mut out);
            }
            CompletionEvent::Usage(usage) => self.usage = Some(*usage),
        }
        Ok(out)
    }

    fn redacted(&mut self, data: &str, out: &mut Vec<Sse>) {
        self.begin(
            json!({"type": "redacted_thinking", "data": data}),
            None,
            out,
        );
        out.push(self.stop_event());
    }

    fn final_stop(&self) -> &'static str {
        match self.stop {
            Some(reason) => stop_reason(reason),
            None if self.blocks.iter().any(|b| b["type"] == "tool_use") => "tool_use",
            None => "end_turn",
        }
    }

    /// The events after the last completion event: close, `message_delta`, `message_stop`.
    pub fn end(&mut self) -> Vec<Sse> {
        let mut out = Vec::new();
        self.close(&mut out);
        out.push(sse(
            "message_delta",
            json!({
                "type": "message_delta",
                "delta": {"stop_reason": self.final_stop(), "stop_sequence": null},
                "usage": usage_json(self.usage.as_ref()),
            }),
        ));
        out.push(sse("message_stop", json!({"type": "message_stop"})));
        out
    }

    /// The whole answer as a non-streaming message.
    pub fn message(&self) -> Value {
        let mut message = self.message_shell();
        message["content"] = Value::Array(self.blocks.clone());
        message["stop_reason"] = json!(self.final_stop());
        message["usage"] = usage_json(self.usage.as_ref());
        message
    }
}

/// `{"type":"error","error":{"type":…,"message":…}}`.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// The HTTP status, error body and `retry-after` seconds for a provider error.
pub fn provider_error(error: &ProviderError) -> (u16, Value, Option<u64>) {
    let message = crate::output::display_error(error);
    let (status, kind, retry) = match error {
        ProviderError::NotSignedIn(_) | ProviderError::Unauthorized(_) => {
            (401, "authentication_error", None)
        }
        ProviderError::NoCopilotAccess(_) => (403, "permission_error", None),
        ProviderError::RateLimited(info) => (429, "rate_limit_error", info.retry_after_secs),
        ProviderError::QuotaExceeded(info) => (429, "rate_limit_error", info.retry_after_secs),
        ProviderError::ModelNotSupported(_) => (404, "not_found_error", None),
        ProviderError::ContextTooLong(info) => {
            // Claude Code recognises "prompt is too long" and compacts the conversation.
            let detail = match (info.actual, info.limit) {
                (Some(actual), Some(limit)) => {
                    format!("prompt is too long: {actual} tokens > {limit} maximum. ")
                }
                _ => "prompt is too long. ".to_string(),
            };
            return (
                400,
                error_body("invalid_request_error", &format!("{detail}{message}")),
                None,
            );
        }
        ProviderError::InvalidRequest(_) | ProviderError::NotSupported(_) => {
            (400, "invalid_request_error", None)
        }
        ProviderError::Upstream(info) => match blame(info) {
            Blame::Client(404) => (404, "not_found_error", None),
            Blame::Client(413) => (413, "request_too_large", None),
            Blame::Client(status) => (status, "invalid_request_error", None),
            Blame::Service => (503, "overloaded_error", None),
            Blame::Host => (500, "api_error", None),
        },
        ProviderError::Network(_) => (503, "overloaded_error", None),
    };
    (status, error_body(kind, &message), retry)
}

fn failure_response(failure: &Failure) -> (u16, Value, Option<u64>) {
    match failure {
        Failure::Provider(error) => provider_error(error),
        Failure::Host(message) => (500, error_body("api_error", message), None),
    }
}

// ---- Handlers: bytes in, bytes out. ----

/// Whether the request carries the key as `x-api-key` or `Authorization: Bearer`.
pub(super) fn authorized(ctx: &Context, request: &wire::Request) -> bool {
    let api_key = request
        .header("x-api-key")
        .is_some_and(|given| ctx.key_ok(given.trim()));
    api_key || ctx.bearer_ok(request)
}

/// Serves `path` (already without `/v1`): `/messages` or `/messages/count_tokens`.
pub(super) fn route(
    ctx: &Context,
    request: &wire::Request,
    path: &str,
    out: &mut TcpStream,
) -> std::io::Result<()> {
    if !authorized(ctx, request) {
        let body = error_body(
            "authentication_error",
            "missing or wrong API key: send the key `copilot-host serve` printed as `x-api-key` or `Authorization: Bearer`",
        );
        return wire::write_json(out, 401, &[], &body);
    }
    match (request.method.as_str(), path) {
        ("POST", "/messages") => messages(ctx, request, out),
        ("POST", "/messages/count_tokens") => count_tokens(ctx, request, out),
        _ => {
            let body = error_body(
                "not_found_error",
                &format!(
                    "no route {} {}; the Anthropic API here is POST /v1/messages and POST /v1/messages/count_tokens",
                    request.method, request.path
                ),
            );
            wire::write_json(out, 404, &[], &body)
        }
    }
}

fn write_failure(out: &mut impl Write, failure: &Failure) -> std::io::Result<()> {
    let (status, body, retry) = failure_response(failure);
    let headers: Vec<(&str, String)> = retry
        .map(|s| ("retry-after", s.to_string()))
        .into_iter()
        .collect();
    wire::write_json(out, status, &headers, &body)
}

fn bad_request(out: &mut impl Write, why: &str) -> std::io::Result<()> {
    wire::write_json(out, 400, &[], &error_body("invalid_request_error", why))
}

/// The parsed body and the Copilot model it resolves to; `Err` is already answered.
fn prepare(
    ctx: &Context,
    request: &wire::Request,
    count_only: bool,
    out: &mut impl Write,
) -> std::io::Result<Option<(MessagesRequest, String)>> {
    let parsed = match parse_messages_request(&request.body, count_only) {
        Ok(parsed) => parsed,
        Err(why) => return bad_request(out, &why).map(|()| None),
    };
    let models = match upstream::models(ctx) {
        Ok(models) => models,
        Err(failure) => return write_failure(out, &failure).map(|()| None),
    };
    let map = ctx.ext.settings().get(MODEL_MAP_SETTING);
    match resolve_model(&parsed.model, &models, map) {
        Ok(model) => Ok(Some((parsed, model))),
        Err(why) => {
            wire::write_json(out, 404, &[], &error_body("not_found_error", &why)).map(|()| None)
        }
    }
}

fn count_tokens(
    ctx: &Context,
    request: &wire::Request,
    out: &mut TcpStream,
) -> std::io::Result<()> {
    let Some((parsed, model)) = prepare(ctx, request, true, out)? else {
        return Ok(());
    };
    match upstream::count_tokens(ctx, &model, &parsed.request) {
        Ok(count) => wire::write_json(out, 200, &[], &json!({"input_tokens": count})),
        Err(failure) => write_failure(out, &failure),
    }
}

fn messages(ctx: &Context, request: &wire::Request, out: &mut TcpStream) -> std::io::Result<()> {
    let Some((parsed, model)) = prepare(ctx, request, false, out)? else {
        return Ok(());
    };
    let upstream::Opened { mut stream, first } =
        match upstream::open(ctx, &model, parsed.request) {
            Ok(opened) => opened,
            Err(failure) => return write_failure(out, &failure),
        };
    let n = ctx.next_id();
    let id = format!("msg_{:x}{n:06x}", unix_now());
    let mut translator = Translator::new(id, model);
    let mut next = first.map(Ok);
    if !parsed.stream {
        loop {
            let event = match next.take().or_else(|| upstream::next(&mut stream)) {
                None => break,
                Some(Ok(event)) => event,
                Some(Err(failure)) => return write_failure(out, &failure),
            };
            if let Err(why) = translator.event(&event) {
                return wire::write_json(out, 500, &[], &error_body("api_error", &why));
            }
        }
        translator.end();
        return wire::write_json(out, 200, &[], &translator.message());
    }
    let mut events = wire::EventStream::start(out)?;
    for e in translator.start() {
        events.named(e.event, &e.data.to_string())?;
    }
    loop {
        let event = match next.take().or_else(|| upstream::next(&mut stream)) {
            None => break,
            Some(Ok(event)) => event,
            // A failure mid-answer is an `error` event; no `message_stop` marks it unfinished.
            Some(Err(failure)) => {
                let (_, body, _) = failure_response(&failure);
                events.named("error", &body.to_string())?;
                return events.finish();
            }
        };
        match translator.event(&event) {
            Ok(sent) => {
                for e in sent {
                    events.named(e.event, &e.data.to_string())?;
                }
            }
            Err(why) => {
                events.named("error", &error_body("api_error", &why).to_string())?;
                return events.finish();
            }
        }
        if ctx.is_stopping() {
            return Ok(());
        }
    }
    for e in translator.end() {
        events.named(e.event, &e.data.to_string())?;
    }
    events.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::llm_provider::{
        ContextTooLongInfo, ModelCapabilities, RateLimitInfo, ToolInputFormat,
        ToolUseJsonParseError, UpstreamInfo,
    };

    fn parse(body: Value) -> Result<MessagesRequest, String> {
        parse_messages_request(body.to_string().as_bytes(), false)
    }

    fn model(id: &str) -> ModelInfo {
        ModelInfo {
            id: id.into(),
            name: id.into(),
            max_token_count: 128_000,
            max_output_tokens: Some(16_000),
            capabilities: ModelCapabilities {
                supports_images: true,
                supports_tools: true,
                supports_tool_choice_auto: true,
                supports_tool_choice_any: true,
                supports_tool_choice_none: true,
                supports_thinking: true,
                tool_input_format: ToolInputFormat::JsonSchema,
            },
            is_default: false,
            is_default_fast: false,
        }
    }

    #[test]
    fn maps_a_claude_code_style_request() {
        let m = parse(json!({
            "model": "claude-sonnet-4-20250514",
            "max_tokens": 32000,
            "stream": true,
            "temperature": 1,
            "stop_sequences": ["END"],
            "metadata": {"user_id": "u"},
            "system": [
                {"type": "text", "text": "You are Claude Code."},
                {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
            ],
            "thinking": {"type": "enabled", "budget_tokens": 10000},
            "tools": [{"name": "Read", "description": "Read a file", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}, "cache_control": {"type": "ephemeral"}}],
            "tool_choice": {"type": "auto"},
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                ]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "Need to read.", "signature": "{\"reasoning_opaque\":\"enc\"}"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "text", "text": "Reading."},
                    {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "a"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"path": "b"}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "one"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true, "content": [{"type": "text", "text": "no such file"}], "cache_control": {"type": "ephemeral"}},
                ]},
            ],
        }))
        .unwrap();
        assert_eq!(m.model, "claude-sonnet-4-20250514");
        assert!(m.stream);
        let r = m.request;
        assert_eq!(r.max_tokens, Some(32000));
        assert_eq!(r.temperature, Some(1.0));
        assert_eq!(r.stop_sequences, vec!["END".to_string()]);
        assert!(r.thinking_allowed);
        assert!(matches!(r.tool_choice, Some(ToolChoice::Auto)));
        assert_eq!(r.tools[0].name, "Read");
        assert!(r.tools[0].input_schema.contains("\"path\""));
        assert_eq!(r.messages.len(), 4);
        assert!(matches!(r.messages[0].role, MessageRole::System));
        assert_eq!(r.messages[0].content.len(), 2);
        assert!(
            r.messages[0].cache,
            "a system block's cache_control marks the message"
        );
        match &r.messages[1].content[1] {
            MessageContent::Image(image) => assert_eq!(image.source, "data:image/png;base64,AAAA"),
            other => panic!("{other:?}"),
        }
        match &r.messages[2].content[..] {
            [MessageContent::Thinking(t), MessageContent::RedactedThinking(d), MessageContent::Text(text), MessageContent::ToolUse(a), MessageContent::ToolUse(b)] =>
            {
                assert_eq!(t.text, "Need to read.");
                assert_eq!(
                    t.signature.as_deref(),
                    Some("{\"reasoning_opaque\":\"enc\"}")
                );
                assert_eq!(d, "opaque");
                assert_eq!(text, "Reading.");
                assert_eq!(
                    (a.id.as_str(), a.input.as_str()),
                    ("toolu_1", r#"{"path":"a"}"#)
                );
                assert_eq!(b.id, "toolu_2");
            }
            other => panic!("{other:?}"),
        }
        assert!(r.messages[3].cache);
        match &r.messages[3].content[..] {
            [MessageContent::ToolResult(a), MessageContent::ToolResult(b)] => {
                assert_eq!(
                    (a.tool_use_id.as_str(), a.tool_name.as_str()),
                    ("toolu_1", "Read")
                );
                assert!(!a.is_error);
                assert!(b.is_error);
                assert!(matches!(&b.content, ToolResultContent::Text(t) if t == "no such file"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tool_result_images_are_carried() {
        let call = json!({"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "shot", "input": {}}]});
        let image = json!({"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "BBBB"}});
        let with = |content: Value| {
            parse(json!({"model": "m", "max_tokens": 5, "messages": [call.clone(),
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": content}]}]}))
            .unwrap()
            .request
        };
        let r = with(json!([image.clone()]));
        match &r.messages[1].content[..] {
            [MessageContent::ToolResult(result)] => {
                assert!(
                    matches!(&result.content, ToolResultContent::Image(i) if i.source == "data:image/jpeg;base64,BBBB")
                )
            }
            other => panic!("{other:?}"),
        }
        let r = with(json!([{"type": "text", "text": "here"}, image]));
        match &r.messages[1].content[..] {
            [MessageContent::ToolResult(result), MessageContent::Image(i)] => {
                assert!(matches!(&result.content, ToolResultContent::Text(t) if t == "here"));
                assert!(i.source.ends_with("BBBB"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tool_choice_forms() {
        let base = |choice: Value| {
            parse(
                json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
                "tools": [{"name": "a", "input_schema": {"type": "object"}}, {"name": "b", "input_schema": {"type": "object"}}],
                "tool_choice": choice}),
            )
        };
        assert!(matches!(
            base(json!({"type": "any"})).unwrap().request.tool_choice,
            Some(ToolChoice::Any)
        ));
        assert!(matches!(
            base(json!({"type": "none"})).unwrap().request.tool_choice,
            Some(ToolChoice::None)
        ));
        let named = base(json!({"type": "tool", "name": "b"})).unwrap().request;
        assert_eq!(named.tools.len(), 1);
        assert_eq!(named.tools[0].name, "b");
        assert!(matches!(named.tool_choice, Some(ToolChoice::Any)));
        assert!(base(json!({"type": "tool", "name": "c"}))
            .unwrap_err()
            .contains("`c`"));
        let serial = base(json!({"type": "auto", "disable_parallel_tool_use": true})).unwrap().request;
        assert_eq!(serial.parallel_tool_calls, Some(false));
        assert!(matches!(serial.tool_choice, Some(ToolChoice::Auto)));
        assert_eq!(base(json!({"type": "auto"})).unwrap().request.parallel_tool_calls, None);
        assert!(base(json!({"type": "auto", "disable_parallel_tool_use": "yes"}))
            .unwrap_err()
            .contains("disable_parallel_tool_use"));
    }

    #[test]
    fn refuses_what_the_contract_cannot_carry_naming_the_field() {
        let user = json!([{"role": "user", "content": "x"}]);
        let err = |body: Value| parse(body).unwrap_err();
        let sampled = parse(json!({"model": "m", "max_tokens": 5, "messages": user, "top_p": 0.9})).unwrap();
        assert_eq!(sampled.request.top_p, Some(0.9));
        assert!(
            err(json!({"model": "m", "max_tokens": 5, "messages": user, "top_p": 2}))
                .contains("`top_p`")
        );
        assert!(
            err(json!({"model": "m", "max_tokens": 5, "messages": user, "seed": 1}))
                .contains("`seed`")
        );
        assert!(
            err(json!({"model": "m", "max_tokens": 5, "messages": user, "top_k": 5}))
                .contains("`top_k`")
        );
        assert!(err(json!({"model": "m", "messages": user})).contains("max_tokens"));
        assert!(err(json!({"max_tokens": 5, "messages": user})).contains("model"));
        assert!(
            err(json!({"model": "m", "max_tokens": 5, "messages": user, "temperature": 2}))
                .contains("temperature")
        );
        let url_image = json!([{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}]);
        assert!(err(json!({"model": "m", "max_tokens": 5, "messages": url_image})).contains("url"));
        let document = json!([{"role": "user", "content": [{"type": "document", "source": {}}]}]);
        assert!(
            err(json!({"model": "m", "max_tokens": 5, "messages": document})).contains("document")
        );
        let server_tool = json!([{"type": "web_search_20250305", "name": "web_search"}]);
        assert!(err(
            json!({"model": "m", "max_tokens": 5, "messages": user, "tools": server_tool})
        )
        .contains("web_search_20250305"));
        assert!(err(
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]})
        )
        .contains("system"));
        assert!(parse_messages_request(b"{oops", false)
            .unwrap_err()
            .contains("JSON"));
        // count_tokens takes neither max_tokens nor stream.
        let count = parse_messages_request(
            json!({"model": "m", "messages": user})
                .to_string()
                .as_bytes(),
            true,
        )
        .unwrap();
        assert_eq!(count.request.max_tokens, None);
        assert!(parse_messages_request(
            json!({"model": "m", "messages": user, "stream": true})
                .to_string()
                .as_bytes(),
            true
        )
        .unwrap_err()
        .contains("`stream`"));
    }

    #[test]
    fn model_ids_resolve_by_the_documented_rule() {
        let models: Vec<ModelInfo> = [
            "gpt-4.1",
            "claude-3.5-sonnet",
            "claude-3.7-sonnet",
            "claude-3.7-sonnet-thought",
            "claude-sonnet-4",
            "claude-sonnet-4.5",
            "claude-opus-4",
            "claude-opus-41",
            "claude-haiku-4.5",
        ]
        .iter()
        .map(|id| model(id))
        .collect();
        let resolve = |id: &str| resolve_model(id, &models, None);
        assert_eq!(resolve("gpt-4.1").unwrap(), "gpt-4.1");
        assert_eq!(resolve("claude-sonnet-4").unwrap(), "claude-sonnet-4");
        assert_eq!(
            resolve("claude-sonnet-4-20250514").unwrap(),
            "claude-sonnet-4"
        );
        assert_eq!(
            resolve("claude-sonnet-4-5-20250929").unwrap(),
            "claude-sonnet-4.5"
        );
        assert_eq!(
            resolve("claude-3-5-sonnet-latest").unwrap(),
            "claude-3.5-sonnet"
        );
        assert_eq!(
            resolve("claude-3-7-sonnet-20250219").unwrap(),
            "claude-3.7-sonnet"
        );
        assert_eq!(
            resolve("claude-opus-4-1-20250805").unwrap(),
            "claude-opus-41"
        );
        assert_eq!(
            resolve("claude-haiku-4-5-20251001").unwrap(),
            "claude-haiku-4.5"
        );
        // No exact Claude match: the family's newest plain model.
        assert_eq!(
            resolve("claude-3-5-haiku-latest").unwrap(),
            "claude-haiku-4.5"
        );
        assert_eq!(resolve("claude-sonnet-5").unwrap(), "claude-sonnet-4.5");
        assert_eq!(resolve("claude-opus-4-5").unwrap(), "claude-opus-41");
        // Never a non-Claude model by the rule.
        let no_haiku: Vec<ModelInfo> = ["gpt-4.1", "claude-sonnet-4"]
            .iter()
            .map(|id| model(id))
            .collect();
        let err = resolve_model("claude-3-5-haiku-latest", &no_haiku, None).unwrap_err();
        assert!(
            err.contains("gpt-4.1, claude-sonnet-4") && err.contains("model_map"),
            "{err}"
        );
        assert!(resolve("gpt-4").is_err());
        // The user's map wins, and may name anything.
        let map = json!({"claude-3-5-haiku-latest": "gpt-4.1", "claude-sonnet-4": "claude-opus-4"});
        assert_eq!(
            resolve_model("claude-3-5-haiku-latest", &no_haiku, Some(&map)).unwrap(),
            "gpt-4.1"
        );
        assert_eq!(
            resolve_model("claude-sonnet-4", &models, Some(&map)).unwrap(),
            "claude-opus-4"
        );
    }

    fn tool_use(id: &str, input: &str) -> CompletionEvent {
        CompletionEvent::ToolUse(ToolUse {
            id: id.into(),
            name: "Read".into(),
            input: input.into(),
            is_input_complete: true,
            thought_signature: None,
        })
    }

    fn names(events: &[Sse]) -> Vec<&'static str> {
        events.iter().map(|e| e.event).collect()
    }

    #[test]
    fn translates_thinking_text_and_parallel_tool_calls() {
        let mut t = Translator::new("msg_1".into(), "claude-sonnet-4".into());
        let start = t.start();
        assert_eq!(names(&start), ["message_start", "ping"]);
        assert_eq!(start[0].data["message"]["content"], json!([]));
        assert_eq!(start[0].data["message"]["usage"]["input_tokens"], 0);
        let mut all = Vec::new();
        let events = [
            CompletionEvent::Started,
            CompletionEvent::Thinking(ThinkingContent {
                text: "Let me ".into(),
                signature: None,
            }),
            CompletionEvent::Thinking(ThinkingContent {
                text: "think.".into(),
                signature: None,
            }),
            CompletionEvent::ReasoningDetails(r#"{"reasoning_opaque":"enc-1"}"#.into()),
            CompletionEvent::Text("Reading ".into()),
            CompletionEvent::Text("both.".into()),
            tool_use("call_a", r#"{"path":"a"}"#),
            tool_use("call_b", r#"{"path":"b"}"#),
            CompletionEvent::Stop(StopReason::ToolUse),
            CompletionEvent::Usage(TokenUsage {
                input_tokens: 50,
                output_tokens: 7,
                cache_creation_input_tokens: None,
                cache_read_input_tokens: Some(20),
            }),
        ];
        for event in &events {
            all.extend(t.event(event).unwrap());
        }
        all.extend(t.end());
        assert_eq!(
            names(&all),
            [
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        assert_eq!(
            all[0].data["content_block"],
            json!({"type": "thinking", "thinking": "", "signature": ""})
        );
        assert_eq!(
            all[1].data["delta"],
            json!({"type": "thinking_delta", "thinking": "Let me "})
        );
        assert_eq!(
            all[3].data["delta"],
            json!({"type": "signature_delta", "signature": r#"{"reasoning_opaque":"enc-1"}"#})
        );
        assert_eq!(all[5].data["index"], 1);
        assert_eq!(
            all[6].data["delta"],
            json!({"type": "text_delta", "text": "Reading "})
        );
        assert_eq!(
            all[9].data["content_block"],
            json!({"type": "tool_use", "id": "call_a", "name": "Read", "input": {}})
        );
        assert_eq!(
            all[10].data["delta"],
            json!({"type": "input_json_delta", "partial_json": r#"{"path":"a"}"#})
        );
        assert_eq!(all[12].data["index"], 3);
        assert_eq!(all[15].data["delta"]["stop_reason"], "tool_use");
        assert_eq!(
            all[15].data["usage"],
            json!({"input_tokens": 30, "output_tokens": 7, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 20})
        );

        let whole = t.message();
        assert_eq!(whole["type"], "message");
        assert_eq!(whole["stop_reason"], "tool_use");
        assert_eq!(
            whole["content"],
            json!([
                {"type": "thinking", "thinking": "Let me think.", "signature": r#"{"reasoning_opaque":"enc-1"}"#},
                {"type": "text", "text": "Reading both."},
                {"type": "tool_use", "id": "call_a", "name": "Read", "input": {"path": "a"}},
                {"type": "tool_use", "id": "call_b", "name": "Read", "input": {"path": "b"}},
            ])
        );
    }

    #[test]
    fn opaque_reasoning_alone_is_a_redacted_block_and_stops_map() {
        let mut t = Translator::new("m".into(), "x".into());
        let sent = t
            .event(&CompletionEvent::ReasoningDetails("opaque".into()))
            .unwrap();
        assert_eq!(names(&sent), ["content_block_start", "content_block_stop"]);
        assert_eq!(
            sent[0].data["content_block"],
            json!({"type": "redacted_thinking", "data": "opaque"})
        );
        t.event(&CompletionEvent::Text("hi".into())).unwrap();
        t.event(&CompletionEvent::Stop(StopReason::MaxTokens))
            .unwrap();
        let end = t.end();
        assert_eq!(end[0].data["delta"]["stop_reason"], "max_tokens");
        assert_eq!(
            t.message()["content"][1],
            json!({"type": "text", "text": "hi"})
        );
        // Without a stop event the reason is implied.
        let mut t = Translator::new("m".into(), "x".into());
        t.event(&tool_use("c", "")).unwrap();
        assert_eq!(t.message()["stop_reason"], "tool_use");
        assert_eq!(t.message()["content"][0]["input"], json!({}));
        assert_eq!(stop_reason(StopReason::Refusal), "refusal");
        assert_eq!(stop_reason(StopReason::EndTurn), "end_turn");
    }

    #[test]
    fn bad_tool_json_is_an_error_not_a_block() {
        let mut t = Translator::new("m".into(), "x".into());
        let err = t
            .event(&CompletionEvent::ToolUseJsonParseError(
                ToolUseJsonParseError {
                    id: "c".into(),
                    tool_name: "Read".into(),
                    raw_input: "{oops".into(),
                    error: "expected value".into(),
                },
            ))
            .unwrap_err();
        assert!(err.contains("Read"));
    }

    #[test]
    fn provider_errors_take_anthropic_types_and_statuses() {
        let (status, body, retry) = provider_error(&ProviderError::RateLimited(RateLimitInfo {
            message: "slow".into(),
            code: None,
            retry_after_secs: Some(9),
        }));
        assert_eq!((status, retry), (429, Some(9)));
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "rate_limit_error");
        let (status, body, _) =
            provider_error(&ProviderError::ContextTooLong(ContextTooLongInfo {
                message: "too long".into(),
                limit: Some(100),
                actual: Some(150),
            }));
        assert_eq!(status, 400);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("prompt is too long: 150 tokens > 100 maximum"));
        let upstream = |status| {
            ProviderError::Upstream(UpstreamInfo {
                status,
                message: "x".into(),
                request_id: None,
            })
        };
        assert_eq!(provider_error(&upstream(502)).0, 503);
        assert_eq!(
            provider_error(&upstream(502)).1["error"]["type"],
            "overloaded_error"
        );
        assert_eq!(provider_error(&upstream(0)).0, 500);
        assert_eq!(
            provider_error(&ProviderError::Network("down".into())).0,
            503
        );
        assert_eq!(
            provider_error(&ProviderError::ModelNotSupported(UpstreamInfo {
                status: 400,
                message: "x".into(),
                request_id: None
            }))
            .1["error"]["type"],
            "not_found_error"
        );
    }
}
