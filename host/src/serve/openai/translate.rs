//! The OpenAI chat-completions dialect, translated to and from the WIT contract.
//!
//! Design decision: the translation is pure (JSON in, WIT values out, and back), with no I/O,
//! so every mapping is unit-tested here and the server only moves bytes. Tool results become
//! `tool-result` content of a user message, the way editors send them through the contract,
//! and a tool result's name is recovered from the assistant message that made the call.
//! Anything the contract cannot express faithfully (remote image URLs, unknown roles) is a
//! 400 with a sentence, never silently dropped.

use serde_json::{json, Map, Value};

use crate::contract::llm_provider::{
    CompletionEvent, CompletionRequest, ImageData, JsonSchemaFormat, MessageContent, MessageRole,
    ModelInfo, ProviderError, RequestMessage, ResponseFormat, StopReason, TokenUsage, ToolChoice, ToolDefinition, ToolResult,
    ToolResultContent, ToolUse,
};
use crate::serve::upstream::{blame, Blame, Turns};

/// `owned_by` of every listed model.
pub const OWNER: &str = "copilot-host";
/// The schema sent for a tool that declares no parameters.
const EMPTY_SCHEMA: &str = r#"{"type":"object","properties":{}}"#;

/// A parsed `POST /v1/chat/completions` body.
#[derive(Debug)]
pub struct ChatRequest {
    /// The requested model id.
    pub model: String,
    /// Whether to answer with server-sent events.
    pub stream: bool,
    /// `stream_options.include_usage`: send a final usage chunk.
    pub include_usage: bool,
    /// The request in the contract's shape (with the [`RequestOptions`] applied).
    pub request: CompletionRequest,
}

/// Request options that change the answer, beyond the basic fields, as every protocol
/// captures them before they go into the contract's request ([`RequestOptions::apply`]).
/// Whether an endpoint can take one is the extension's call: it refuses what it cannot
/// send with an invalid-request error naming the field.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RequestOptions {
    pub response_format: Option<ResponseFormat>,
    pub top_p: Option<f32>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub parallel_tool_calls: Option<bool>,
    /// A reasoning effort level other than `none` (which turns thinking off instead).
    pub reasoning_effort: Option<String>,
}

impl RequestOptions {
    /// The chat-completions options; `Err` names the field and says what is wrong.
    pub fn capture(object: &Map<String, Value>) -> Result<RequestOptions, (&'static str, String)> {
        let response_format = match object.get("response_format") {
            None | Some(Value::Null) => None,
            Some(format) => Some(response_format(format, "response_format", false)?),
        };
        Ok(RequestOptions {
            response_format,
            top_p: number(object, "top_p")?.map(|n| n as f32),
            seed: match object.get("seed") {
                None | Some(Value::Null) => None,
                Some(seed) => Some(
                    seed.as_i64()
                        .ok_or(("seed", "`seed` must be an integer".to_string()))?,
                ),
            },
            presence_penalty: number(object, "presence_penalty")?.map(|n| n as f32),
            frequency_penalty: number(object, "frequency_penalty")?.map(|n| n as f32),
            parallel_tool_calls: boolean(object, "parallel_tool_calls")?,
            reasoning_effort: effort(object.get("reasoning_effort"), "reasoning_effort")?,
        })
    }

    /// Puts the options into `request`.
    pub fn apply(self, request: &mut CompletionRequest) {
        request.response_format = self.response_format;
        request.top_p = self.top_p;
        request.seed = self.seed;
        request.presence_penalty = self.presence_penalty;
        request.frequency_penalty = self.frequency_penalty;
        request.parallel_tool_calls = self.parallel_tool_calls;
        request.reasoning_effort = self.reasoning_effort;
    }
}

/// An effort level field (`reasoning_effort`, `reasoning.effort`): `None` when absent or
/// `none` (thinking off, see the callers' `thinking_allowed`), else the level.
pub fn effort(
    value: Option<&Value>,
    field: &'static str,
) -> Result<Option<String>, (&'static str, String)> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(level)) if level == "none" => Ok(None),
        Some(Value::String(level)) if !level.is_empty() => Ok(Some(level.clone())),
        Some(_) => Err((field, format!("`{field}` must be an effort level such as `low`, `medium` or `high`"))),
    }
}

/// A response format as OpenAI spells it: `{type: text | json_object | json_schema}`, the
/// schema's fields nested under `json_schema` (chat completions) or beside `type` (`flat`,
/// the Responses API's `text.format`). `field` names the field in errors.
pub fn response_format(
    format: &Value,
    field: &'static str,
    flat: bool,
) -> Result<ResponseFormat, (&'static str, String)> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => {
            let spec = if flat { Some(format) } else { format.get("json_schema") };
            let Some(spec) = spec.filter(|s| s.is_object()) else {
                return Err((field, format!("`{field}` of type `json_schema` needs a `json_schema` object")));
            };
            let name = match spec.get("name") {
                Some(Value::String(name)) if !name.is_empty() => name.clone(),
                _ => return Err((field, format!("`{field}` of type `json_schema` needs a `name`"))),
            };
            let schema = match spec.get("schema") {
                Some(schema @ Value::Object(_)) => schema.to_string(),
                // OpenAI treats a missing schema as "any JSON object".
                None | Some(Value::Null) => "{}".to_string(),
                Some(_) => return Err((field, format!("the `schema` of `{field}` must be a JSON object"))),
            };
            let strict = match spec.get("strict") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => return Err((field, format!("the `strict` of `{field}` must be a boolean"))),
            };
            let description = match spec.get("description") {
                None | Some(Value::Null) => None,
                Some(Value::String(d)) => Some(d.clone()),
                Some(_) => return Err((field, format!("the `description` of `{field}` must be a string"))),
            };
            Ok(ResponseFormat::JsonSchema(JsonSchemaFormat { name, schema, strict, description }))
        }
        Some(other) => Err((field, format!("`{field}` type `{other}` is not supported; use `text`, `json_object` or `json_schema`"))),
        None => Err((field, format!("`{field}` needs a `type`"))),
    }
}

/// An optional number field.
pub fn number(
    object: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<f64>, (&'static str, String)> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err((key, format!("`{key}` must be a number"))),
    }
}

/// An optional boolean field.
pub fn boolean(
    object: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<bool>, (&'static str, String)> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err((key, format!("`{key}` must be a boolean"))),
    }
}

/// Refuses fields that change the answer and that the contract cannot carry, each with a
/// sentence naming it.
fn refuse_unsupported(object: &Map<String, Value>) -> Result<(), String> {
    let present = |key: &str| object.get(key).is_some_and(|v| !v.is_null());
    if let Some(n) = object.get("n").filter(|n| !n.is_null()) {
        if n.as_u64() != Some(1) {
            return Err(format!("`n` = {n} is not supported: this endpoint answers one choice; send `n: 1` or leave it out"));
        }
    }
    for legacy in ["functions", "function_call"] {
        if present(legacy) {
            return Err(format!("`{legacy}` (the legacy function-calling API) is not supported; use `tools` and `tool_choice`"));
        }
    }
    if object
        .get("logprobs")
        .is_some_and(|v| v.as_bool() == Some(true))
        || present("top_logprobs")
    {
        let field = if present("top_logprobs") {
            "top_logprobs"
        } else {
            "logprobs"
        };
        return Err(format!("`{field}` is not supported: Copilot returns no log probabilities through this endpoint"));
    }
    if present("audio") {
        return Err("`audio` is not supported: this endpoint answers text only".into());
    }
    if let Some(modalities) = object.get("modalities").and_then(Value::as_array) {
        if modalities.iter().any(|m| m.as_str() != Some("text")) {
            return Err(
                "`modalities` other than `text` are not supported: this endpoint answers text only"
                    .into(),
            );
        }
    }
    if object
        .get("logit_bias")
        .is_some_and(|b| b.as_object().is_some_and(|b| !b.is_empty()))
    {
        return Err("`logit_bias` is not supported by this endpoint".into());
    }
    if present("web_search_options") {
        return Err(
            "`web_search_options` is not supported: this endpoint has no web search".into(),
        );
    }
    Ok(())
}

/// Parses and maps a chat-completions body; `Err` is a sentence for a 400.
pub fn parse_chat_request(body: &[u8]) -> Result<ChatRequest, String> {
    let body: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let Some(object) = body.as_object() else {
        return Err("the body must be a JSON object".into());
    };
    refuse_unsupported(object)?;
    let model = match object.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        _ => return Err("`model` is required (see GET /v1/models)".into()),
    };
    let Some(Value::Array(messages)) = object.get("messages") else {
        return Err("`messages` must be an array".into());
    };
    let stream = object
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let include_usage = object
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (tools, tool_choice) = tools_and_choice(object)?;
    let mut request = CompletionRequest {
        messages: map_messages(messages)?,
        tools,
        tool_choice,
        stop_sequences: stop_sequences(object.get("stop"))?,
        temperature: object
            .get("temperature")
            .and_then(Value::as_f64)
            .map(|t| t as f32),
        thinking_allowed: object.get("reasoning_effort").is_none_or(|v| v != "none"),
        max_tokens: object
            .get("max_completion_tokens")
            .or_else(|| object.get("max_tokens"))
            .and_then(Value::as_u64),
        response_format: None,
        top_p: None,
        seed: None,
        presence_penalty: None,
        frequency_penalty: None,
        parallel_tool_calls: None,
        reasoning_effort: None,
    };
    RequestOptions::capture(object).map_err(|(_, why)| why)?.apply(&mut request);
    Ok(ChatRequest {
        model,
        stream,
        include_usage,
        request,
    })
}

fn stop_sequences(stop: Option<&Value>) -> Result<Vec<String>, String> {
    match stop {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "`stop` entries must be strings".to_string())
            })
            .collect(),
        Some(_) => Err("`stop` must be a string or an array of strings".into()),
    }
}

/// Tools, and the tool choice. A choice naming one function has no WIT counterpart, so it
/// becomes "must call a tool" with only that tool offered: the same constraint.
fn tools_and_choice(
    object: &Map<String, Value>,
) -> Result<(Vec<ToolDefinition>, Option<ToolChoice>), String> {
    let mut tools = Vec::new();
    for tool in object
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(function) = tool.get("function") else {
            return Err("only `function` tools are supported".into());
        };
        let Some(name) = function.get("name").and_then(Value::as_str) else {
            return Err("every tool needs `function.name`".into());
        };
        tools.push(ToolDefinition {
            name: name.to_string(),
            description: str_field(function, "description"),
            input_schema: function
                .get("parameters")
                .map(Value::to_string)
                .unwrap_or_else(|| EMPTY_SCHEMA.into()),
        });
    }
    let choice = match object.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => ToolChoice::Auto,
            "required" => ToolChoice::Any,
            "none" => ToolChoice::None,
            _ => return Err("`tool_choice` must be auto, required, none or a function".into()),
        }),
        Some(named) => {
            let Some(name) = named.pointer("/function/name").and_then(Value::as_str) else {
                return Err("`tool_choice` must be auto, required, none or a function".into());
            };
            tools.retain(|t| t.name == name);
            if tools.is_empty() {
                return Err(format!(
                    "`tool_choice` names `{name}`, which is not in `tools`"
                ));
            }
            Some(ToolChoice::Any)
        }
    };
    Ok((tools, choice))
}

fn str_field(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Maps the message list. Consecutive `tool` messages share one user message, as one turn's
/// results do in the contract.
fn map_messages(messages: &[Value]) -> Result<Vec<RequestMessage>, String> {
    let mut turns = Turns::default();
    for (index, message) in messages.iter().enumerate() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let content = message.get("content").unwrap_or(&Value::Null);
        let mapped = match role {
            "system" | "developer" => RequestMessage {
                role: MessageRole::System,
                content: content_parts(content, false)?,
                cache: false,
            },
            "user" => RequestMessage {
                role: MessageRole::User,
                content: content_parts(content, true)?,
                cache: false,
            },
            "assistant" => assistant_message(message, content)?,
            "tool" => {
                let result = tool_result(message, content, &messages[..index])?;
                turns.push_tool_result(result);
                continue;
            }
            other => return Err(format!("message {index} has unsupported role `{other}`")),
        };
        turns.push(mapped);
    }
    Ok(turns.into_messages())
}

/// A string, or an array of `text` (and, where allowed, `image_url`) parts.
fn content_parts(content: &Value, images: bool) -> Result<Vec<MessageContent>, String> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => Ok(vec![MessageContent::Text(text.clone())]),
        Value::Array(parts) => parts.iter().map(|p| content_part(p, images)).collect(),
        _ => Err("`content` must be a string, an array of parts or null".into()),
    }
}

fn content_part(part: &Value, images: bool) -> Result<MessageContent, String> {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => Ok(MessageContent::Text(str_field(part, "text"))),
        Some("image_url") if images => Ok(MessageContent::Image(image(part)?)),
        Some(other) => Err(format!(
            "content parts of type `{other}` are not supported here"
        )),
        None => Err("every content part needs a `type`".into()),
    }
}

fn image(part: &Value) -> Result<ImageData, String> {
    let url = part
        .pointer("/image_url/url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !url.starts_with("data:") {
        return Err(
            "images must be `data:` URLs; the extension does not fetch remote images".into(),
        );
    }
    Ok(ImageData {
        source: url.to_string(),
        width: None,
        height: None,
    })
}

fn assistant_message(message: &Value, content: &Value) -> Result<RequestMessage, String> {
    let mut parts = content_parts(content, false)?;
    // Clients send `"content": ""` beside tool calls; an empty text part means nothing.
    parts.retain(|p| !matches!(p, MessageContent::Text(t) if t.is_empty()));
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(id), Some(name)) = (
            call.get("id").and_then(Value::as_str),
            call.pointer("/function/name").and_then(Value::as_str),
        ) else {
            return Err("every assistant `tool_calls` entry needs `id` and `function.name`".into());
        };
        parts.push(MessageContent::ToolUse(ToolUse {
            id: id.to_string(),
            name: name.to_string(),
            input: call
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .unwrap_or("{}")
                .to_string(),
            is_input_complete: true,
            thought_signature: None,
        }));
    }
    Ok(RequestMessage {
        role: MessageRole::Assistant,
        content: parts,
        cache: false,
    })
}

/// A `tool` message as a tool result; its name comes from the earlier call with that id.
fn tool_result(
    message: &Value,
    content: &Value,
    earlier: &[Value],
) -> Result<MessageContent, String> {
    let Some(id) = message.get("tool_call_id").and_then(Value::as_str) else {
        return Err("every `tool` message needs `tool_call_id`".into());
    };
    let name = earlier
        .iter()
        .rev()
        .flat_map(|m| {
            m.get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .find(|call| call.get("id").and_then(Value::as_str) == Some(id))
        .and_then(|call| call.pointer("/function/name").and_then(Value::as_str))
        .or_else(|| message.get("name").and_then(Value::as_str))
        .unwrap_or_default();
    Ok(MessageContent::ToolResult(ToolResult {
        tool_use_id: id.to_string(),
        tool_name: name.to_string(),
        is_error: false,
        content: tool_result_content(content)?,
    }))
}

/// A tool result is text, or exactly one image: the contract has no mixed result.
fn tool_result_content(content: &Value) -> Result<ToolResultContent, String> {
    let parts = match content {
        Value::String(text) => return Ok(ToolResultContent::Text(text.clone())),
        Value::Null => return Ok(ToolResultContent::Text(String::new())),
        Value::Array(parts) => parts,
        _ => {
            return Err("a `tool` message's `content` must be a string or an array of parts".into())
        }
    };
    let images: Vec<&Value> = parts
        .iter()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some("image_url"))
        .collect();
    match (images.as_slice(), parts.len()) {
        ([], _) => Ok(ToolResultContent::Text(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect(),
        )),
        ([image], 1) => Ok(ToolResultContent::Image(self::image(image)?)),
        _ => Err("a tool result must be text or a single image, not both or several images".into()),
    }
}

/// The `GET /v1/models` body. Extra fields say what editors need to configure a model.
pub fn models_json(models: &[ModelInfo]) -> Value {
    let data: Vec<Value> = models
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "object": "model",
                "created": 0,
                "owned_by": OWNER,
                "name": m.name,
                "context_length": m.max_token_count,
                "max_output_tokens": m.max_output_tokens,
                "supports_tools": m.capabilities.supports_tools,
                "supports_images": m.capabilities.supports_images,
            })
        })
        .collect();
    json!({"object": "list", "data": data})
}

/// `stop`, `length`, `tool_calls`, `content_filter`.
pub fn finish_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn => "stop",
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::Refusal => "content_filter",
    }
}

fn usage_json(usage: &TokenUsage) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens.saturating_add(usage.output_tokens),
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_input_tokens.unwrap_or(0)},
    })
}

/// Turns one completion's events into chat-completion chunks, and also keeps the whole answer
/// for a non-streaming response.
pub struct Translator {
    id: String,
    created: u64,
    model: String,
    text: String,
    reasoning: String,
    tool_calls: Vec<Value>,
    finish: Option<&'static str>,
    usage: Option<TokenUsage>,
}

impl Translator {
    /// A translator for one response.
    pub fn new(id: String, created: u64, model: String) -> Translator {
        Translator {
            id,
            created,
            model,
            text: String::new(),
            reasoning: String::new(),
            tool_calls: Vec::new(),
            finish: None,
            usage: None,
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    }

    /// The chunk for one event, if it has one (usage is held for the end).
    pub fn event(&mut self, event: &CompletionEvent) -> Option<Value> {
        match event {
            CompletionEvent::Started => {
                Some(self.chunk(json!({"role": "assistant", "content": ""}), None))
            }
            CompletionEvent::Text(text) => {
                self.text.push_str(text);
                Some(self.chunk(json!({"content": text}), None))
            }
            CompletionEvent::Thinking(thinking) => {
                self.reasoning.push_str(&thinking.text);
                Some(self.chunk(json!({"reasoning_content": thinking.text}), None))
            }
            CompletionEvent::ToolUse(tool) => {
                Some(self.tool_call(&tool.id, &tool.name, &tool.input))
            }
            // Pass the model's raw arguments on: the client reports the bad JSON to the model.
            CompletionEvent::ToolUseJsonParseError(e) => {
                Some(self.tool_call(&e.id, &e.tool_name, &e.raw_input))
            }
            CompletionEvent::Stop(reason) => {
                let finish = finish_reason(*reason);
                self.finish = Some(finish);
                Some(self.chunk(json!({}), Some(finish)))
            }
            CompletionEvent::Usage(usage) => {
                self.usage = Some(*usage);
                None
            }
            CompletionEvent::RedactedThinking(_) | CompletionEvent::ReasoningDetails(_) => None,
        }
    }

    fn tool_call(&mut self, id: &str, name: &str, arguments: &str) -> Value {
        let call = json!({
            "id": id,
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        });
        let mut delta_call = call.clone();
        delta_call["index"] = json!(self.tool_calls.len());
        self.tool_calls.push(call);
        self.chunk(json!({"tool_calls": [delta_call]}), None)
    }

    /// The chunks after the last event: a finish chunk if the stream ended without `stop`,
    /// and the usage chunk when asked for.
    pub fn end(&mut self, include_usage: bool) -> Vec<Value> {
        let mut chunks = Vec::new();
        if self.finish.is_none() {
            let finish = self.implied_finish();
            self.finish = Some(finish);
            chunks.push(self.chunk(json!({}), Some(finish)));
        }
        if include_usage {
            if let Some(usage) = &self.usage {
                chunks.push(json!({
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": usage_json(usage),
                }));
            }
        }
        chunks
    }

    fn implied_finish(&self) -> &'static str {
        if self.tool_calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        }
    }

    /// The whole answer as a non-streaming `chat.completion`.
    pub fn completion(&self) -> Value {
        let mut message = json!({
            "role": "assistant",
            "content": if self.text.is_empty() && !self.tool_calls.is_empty() { Value::Null } else { json!(self.text) },
        });
        if !self.reasoning.is_empty() {
            message["reasoning_content"] = json!(self.reasoning);
        }
        if !self.tool_calls.is_empty() {
            message["tool_calls"] = json!(self.tool_calls);
        }
        let mut body = json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": message,
                "finish_reason": self.finish.unwrap_or_else(|| self.implied_finish()),
            }],
        });
        if let Some(usage) = &self.usage {
            body["usage"] = usage_json(usage);
        }
        body
    }
}

/// An OpenAI-style error body.
pub fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "code": code}})
}

/// The HTTP status, error body and `Retry-After` seconds for a provider error.
pub fn provider_error(error: &ProviderError) -> (u16, Value, Option<u64>) {
    let message = crate::output::display_error(error);
    let (status, kind, code, retry) = match error {
        ProviderError::NotSignedIn(_) => (401, "authentication_error", "not_signed_in", None),
        ProviderError::Unauthorized(_) => (401, "authentication_error", "unauthorized", None),
        ProviderError::NoCopilotAccess(_) => (403, "permission_error", "no_copilot_access", None),
        ProviderError::RateLimited(info) => (
            429,
            "rate_limit_error",
            "rate_limited",
            info.retry_after_secs,
        ),
        ProviderError::QuotaExceeded(info) => (
            429,
            "insufficient_quota",
            "insufficient_quota",
            info.retry_after_secs,
        ),
        ProviderError::ModelNotSupported(_) => {
            (404, "invalid_request_error", "model_not_found", None)
        }
        ProviderError::ContextTooLong(_) => (
            400,
            "invalid_request_error",
            "context_length_exceeded",
            None,
        ),
        ProviderError::Network(_) => (502, "api_error", "network", None),
        ProviderError::Upstream(info) => match blame(info) {
            Blame::Client(404) => (404, "invalid_request_error", "not_found", None),
            Blame::Client(413) => (413, "invalid_request_error", "request_too_large", None),
            Blame::Client(status) => (status, "invalid_request_error", "invalid_request", None),
            Blame::Service => (502, "api_error", "upstream", None),
            Blame::Host => (500, "server_error", "host", None),
        },
        ProviderError::InvalidRequest(_) => (400, "invalid_request_error", "invalid_request", None),
        ProviderError::NotSupported(_) => (501, "invalid_request_error", "not_supported", None),
    };
    (status, error_body(&message, kind, Some(code)), retry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::llm_provider::{
        ModelCapabilities, NotSignedInInfo, RateLimitInfo, ToolInputFormat,
    };

    fn parse(body: Value) -> Result<ChatRequest, String> {
        parse_chat_request(body.to_string().as_bytes())
    }

    #[test]
    fn maps_messages_tools_and_options() {
        let chat = parse(json!({
            "model": "gpt-4.1",
            "stream": true,
            "stream_options": {"include_usage": true},
            "temperature": 0.5,
            "max_tokens": 100,
            "stop": "END",
            "tools": [{"type": "function", "function": {"name": "read", "description": "d", "parameters": {"type": "object"}}}],
            "tool_choice": "required",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "read", "arguments": "{\"p\":1}"}},
                    {"id": "c2", "type": "function", "function": {"name": "read", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "one"},
                {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "two"}]},
            ],
        }))
        .unwrap();
        assert_eq!(chat.model, "gpt-4.1");
        assert!(chat.stream && chat.include_usage);
        let r = chat.request;
        assert_eq!(r.temperature, Some(0.5));
        assert_eq!(r.max_tokens, Some(100));
        assert_eq!(r.stop_sequences, vec!["END".to_string()]);
        assert!(matches!(r.tool_choice, Some(ToolChoice::Any)));
        assert_eq!(r.tools[0].input_schema, r#"{"type":"object"}"#);
        assert_eq!(
            r.messages.len(),
            4,
            "two tool results share one user message"
        );
        assert!(matches!(r.messages[1].content[1], MessageContent::Image(_)));
        match &r.messages[2].content[..] {
            [MessageContent::ToolUse(a), MessageContent::ToolUse(b)] => {
                assert_eq!((a.id.as_str(), a.input.as_str()), ("c1", "{\"p\":1}"));
                assert_eq!(b.id, "c2");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(r.messages[3].role, MessageRole::User));
        match &r.messages[3].content[..] {
            [MessageContent::ToolResult(a), MessageContent::ToolResult(b)] => {
                assert_eq!(
                    (a.tool_use_id.as_str(), a.tool_name.as_str()),
                    ("c1", "read")
                );
                assert!(matches!(&b.content, ToolResultContent::Text(t) if t == "two"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tool_results_are_text_or_one_image() {
        let call = json!({"role": "assistant", "content": "", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "shot", "arguments": "{}"}}]});
        let image =
            json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}});
        let with = |content: Value| {
            parse(
                json!({"model": "m", "messages": [call.clone(), {"role": "tool", "tool_call_id": "c", "content": content}]}),
            )
        };
        let chat = with(json!([image.clone()])).unwrap();
        assert!(
            chat.request.messages[0].content.len() == 1,
            "the empty assistant text is dropped"
        );
        match &chat.request.messages[1].content[..] {
            [MessageContent::ToolResult(r)] => {
                assert!(matches!(r.content, ToolResultContent::Image(_)))
            }
            other => panic!("{other:?}"),
        }
        assert!(with(json!([image, {"type": "text", "text": "x"}]))
            .unwrap_err()
            .contains("single image"));
        assert!(with(json!(5)).is_err());
    }

    #[test]
    fn a_named_tool_choice_offers_only_that_tool() {
        let chat = parse(json!({
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "b"}}],
            "tool_choice": {"type": "function", "function": {"name": "b"}},
        }))
        .unwrap();
        assert_eq!(chat.request.tools.len(), 1);
        assert_eq!(chat.request.tools[0].name, "b");
        assert!(matches!(chat.request.tool_choice, Some(ToolChoice::Any)));
    }

    #[test]
    fn rejects_what_the_contract_cannot_express() {
        let user = json!([{"role": "user", "content": "x"}]);
        assert!(parse(json!({"messages": user}))
            .unwrap_err()
            .contains("model"));
        assert!(parse(json!({"model": "m"}))
            .unwrap_err()
            .contains("messages"));
        assert!(
            parse(json!({"model": "m", "messages": [{"role": "function", "content": "x"}]}))
                .unwrap_err()
                .contains("role")
        );
        let remote = json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]);
        assert!(parse(json!({"model": "m", "messages": remote}))
            .unwrap_err()
            .contains("data:"));
        assert!(parse(json!({"model": "m", "messages": user, "stop": 3})).is_err());
        assert!(parse_chat_request(b"{oops").unwrap_err().contains("JSON"));
    }

    #[test]
    fn refuses_fields_that_would_change_the_answer_unseen() {
        let with = |extra: Value| {
            let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
            if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
                body.extend(extra);
            }
            parse(body)
        };
        for (extra, field) in [
            (json!({"n": 2}), "`n`"),
            (json!({"functions": [{"name": "f"}]}), "`functions`"),
            (json!({"function_call": "auto"}), "`function_call`"),
            (json!({"logprobs": true}), "`logprobs`"),
            (
                json!({"logprobs": true, "top_logprobs": 3}),
                "`top_logprobs`",
            ),
            (
                json!({"audio": {"voice": "alloy", "format": "wav"}}),
                "`audio`",
            ),
            (json!({"modalities": ["text", "audio"]}), "`modalities`"),
            (json!({"logit_bias": {"50256": -100}}), "`logit_bias`"),
            (json!({"web_search_options": {}}), "`web_search_options`"),
            (json!({"seed": "x"}), "`seed`"),
            (json!({"response_format": {}}), "`response_format`"),
        ] {
            let why = with(extra.clone()).expect_err("a 400");
            assert!(why.contains(field), "{extra}: {why}");
        }
        for fine in [
            json!({"n": 1, "logprobs": false, "modalities": ["text"], "logit_bias": {}}),
            json!({"n": null, "functions": null, "audio": null}),
        ] {
            assert!(with(fine.clone()).is_ok(), "{fine}");
        }
    }

    #[test]
    fn request_options_go_into_the_request() {
        let chat = parse(json!({
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "answer", "strict": true, "description": "d",
                "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}},
            "top_p": 0.5, "seed": 42, "presence_penalty": 0.5, "frequency_penalty": -0.5,
            "parallel_tool_calls": false, "reasoning_effort": "high",
        }))
        .unwrap();
        let r = &chat.request;
        let Some(ResponseFormat::JsonSchema(f)) = &r.response_format else {
            panic!("{:?}", r.response_format)
        };
        assert_eq!((f.name.as_str(), f.strict, f.description.as_deref()), ("answer", Some(true), Some("d")));
        assert_eq!(
            serde_json::from_str::<Value>(&f.schema).unwrap(),
            json!({"type": "object", "properties": {"n": {"type": "integer"}}})
        );
        assert_eq!((r.top_p, r.seed), (Some(0.5), Some(42)));
        assert_eq!((r.presence_penalty, r.frequency_penalty), (Some(0.5), Some(-0.5)));
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert_eq!(r.reasoning_effort.as_deref(), Some("high"));
        assert!(r.thinking_allowed);

        let off = parse(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "reasoning_effort": "none", "response_format": {"type": "json_object"}}))
        .unwrap();
        assert_eq!(off.request.reasoning_effort, None);
        assert!(!off.request.thinking_allowed);
        assert_eq!(off.request.response_format, Some(ResponseFormat::JsonObject));

        for (bad, field) in [
            (json!({"type": "json_schema"}), "json_schema"),
            (json!({"type": "json_schema", "json_schema": {"schema": {}}}), "name"),
            (json!({"type": "json_schema", "json_schema": {"name": "n", "schema": 3}}), "schema"),
            (json!({"type": "xml"}), "xml"),
            (json!({}), "type"),
        ] {
            let err = parse(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                "response_format": bad})).unwrap_err();
            assert!(err.contains("response_format") && err.contains(field), "{err}");
        }
    }

    #[test]
    fn translates_a_stream_into_chunks_and_a_whole_answer() {
        let mut t = Translator::new("chatcmpl-1".into(), 7, "m".into());
        assert_eq!(
            t.event(&CompletionEvent::Started).unwrap()["choices"][0]["delta"]["role"],
            "assistant"
        );
        assert_eq!(
            t.event(&CompletionEvent::Text("Hi".into())).unwrap()["choices"][0]["delta"]["content"],
            "Hi"
        );
        let call = t
            .event(&CompletionEvent::ToolUse(ToolUse {
                id: "c".into(),
                name: "read".into(),
                input: "{}".into(),
                is_input_complete: true,
                thought_signature: None,
            }))
            .unwrap();
        assert_eq!(call["choices"][0]["delta"]["tool_calls"][0]["index"], 0);
        assert_eq!(
            call["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
            "read"
        );
        let usage = TokenUsage {
            input_tokens: 3,
            output_tokens: 4,
            cache_creation_input_tokens: None,
            cache_read_input_tokens: Some(1),
        };
        assert!(t.event(&CompletionEvent::Usage(usage)).is_none());
        assert_eq!(
            t.event(&CompletionEvent::Stop(StopReason::ToolUse))
                .unwrap()["choices"][0]["finish_reason"],
            "tool_calls"
        );
        let end = t.end(true);
        assert_eq!(end.len(), 1, "stop was seen: only the usage chunk");
        assert_eq!(end[0]["usage"]["total_tokens"], 7);
        let whole = t.completion();
        assert_eq!(whole["choices"][0]["message"]["content"], "Hi");
        assert_eq!(whole["choices"][0]["message"]["tool_calls"][0]["id"], "c");
        assert_eq!(whole["usage"]["prompt_tokens_details"]["cached_tokens"], 1);
    }

    #[test]
    fn a_stream_without_stop_still_finishes() {
        let mut t = Translator::new("i".into(), 0, "m".into());
        t.event(&CompletionEvent::Text("x".into()));
        let end = t.end(false);
        assert_eq!(end.len(), 1);
        assert_eq!(end[0]["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn provider_errors_get_statuses_and_retry_after() {
        let (status, body, _) = provider_error(&ProviderError::NotSignedIn(NotSignedInInfo {
            searched: vec![],
        }));
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "not_signed_in");
        let (status, _, retry) = provider_error(&ProviderError::RateLimited(RateLimitInfo {
            message: "slow".into(),
            code: None,
            retry_after_secs: Some(9),
        }));
        assert_eq!((status, retry), (429, Some(9)));
    }

    #[test]
    fn models_are_listed_the_openai_way() {
        let model = ModelInfo {
            id: "gpt-4.1".into(),
            name: "GPT-4.1".into(),
            max_token_count: 128000,
            max_output_tokens: Some(16384),
            capabilities: ModelCapabilities {
                supports_images: true,
                supports_tools: true,
                supports_tool_choice_auto: true,
                supports_tool_choice_any: true,
                supports_tool_choice_none: true,
                supports_thinking: false,
                tool_input_format: ToolInputFormat::JsonSchema,
            },
            is_default: true,
            is_default_fast: false,
        };
        let body = models_json(&[model]);
        assert_eq!(body["object"], "list");
        assert_eq!(body["data"][0]["id"], "gpt-4.1");
        assert_eq!(body["data"][0]["object"], "model");
        assert_eq!(body["data"][0]["context_length"], 128000);
    }
}
