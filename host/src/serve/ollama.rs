//! The Ollama API (`/api/version`, `/api/tags`, `/api/show`, `/api/chat`), translated to and
//! from the WIT contract, so clients that discover models from Ollama (Zed's Ollama provider,
//! Open WebUI, ...) list the Copilot models with their context sizes and capabilities.
//!
//! Design decisions:
//! * The translation is pure and unit-tested here; the handlers at the end move bytes.
//! * Ollama's tool calls have no ids, and its tool messages name the tool instead. Calls get
//!   ids `call_<message>_<n>` on the way in; a tool message answers the earliest unanswered
//!   call of the last assistant message with its `tool_name` (or the earliest one, or the one
//!   its `tool_call_id` names), and consecutive tool messages share one user turn.
//! * `think` absent means thinking is allowed (as in the OpenAI route); `false` turns it
//!   off; a level (`"high"`, ...) is the contract's reasoning effort. `format` (`"json"` or a
//!   JSON schema) is the contract's response format; `options.top_p`, `seed`,
//!   `presence_penalty` and `frequency_penalty` travel too, and the extension refuses what the
//!   model's endpoint cannot take. Other sampling options besides `temperature`,
//!   `num_predict` and `stop` are a 400. `num_ctx` and `keep_alive` are accepted with no
//!   effect: the model's context and residency are Copilot's.
//! * The opaque reasoning state (`reasoning-details`) has no place in Ollama's message, so
//!   it is not returned: a follow-up request sends the thinking text only.
//! * `/api/tags` describes a remote model honestly: size 0, format `copilot`, no parameter
//!   size or quantization, and a digest that is the SHA-256 of the model id (stable, not a
//!   blob). `/api/show` gives `general.architecture` and `<architecture>.context_length`
//!   (the input budget), which is where Zed reads a model's context size.
//! * Keyless mode (`serve --ollama-keyless`) lets requests without the key reach these routes
//!   only, and then refuses any request that has an `Origin` header or names a non-loopback
//!   `Host`, so a web page (directly, or through DNS rebinding) cannot spend the quota.

use std::io::Write;
use std::net::TcpStream;
use std::time::Instant;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::contract::llm_provider::{
    CompletionEvent, CompletionRequest, ImageData, JsonSchemaFormat, MessageContent, MessageRole,
    ModelInfo, ProviderError, RequestMessage, ResponseFormat, StopReason, ThinkingContent, TokenUsage, ToolDefinition,
    ToolResult, ToolResultContent, ToolUse,
};

use super::upstream::{self, blame, Blame, Failure, Turns};
use crate::serve::context::{unix_now, Context};
use crate::serve::wire;

/// The Ollama API version whose request and response shapes this endpoint follows.
pub const OLLAMA_API_VERSION: &str = "0.12.0";
/// `details.format` of every listed model.
const FORMAT: &str = "copilot";
/// The schema sent for a tool that declares no parameters.
const EMPTY_SCHEMA: &str = r#"{"type":"object","properties":{}}"#;
/// The name given to a `format` schema (Ollama's has none; the OpenAI shape needs one).
const SCHEMA_NAME: &str = "response";

/// A parsed `POST /api/chat` body.
#[derive(Debug)]
pub struct ChatRequest {
    /// The model id (a `:latest` tag removed).
    pub model: String,
    /// Whether to answer with JSON lines (Ollama's default) or one object.
    pub stream: bool,
    /// The request in the contract's shape.
    pub request: CompletionRequest,
}

/// The model id an Ollama name refers to: `gpt-4.1:latest` is `gpt-4.1`.
pub fn model_id(name: &str) -> &str {
    name.strip_suffix(":latest").unwrap_or(name)
}

/// Parses and maps an `/api/chat` body; `Err` is a sentence for a 400.
pub fn parse_chat_request(body: &[u8]) -> Result<ChatRequest, String> {
    let body: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let Some(object) = body.as_object() else {
        return Err("the body must be a JSON object".into());
    };
    for key in object.keys() {
        match key.as_str() {
            "model" | "messages" | "tools" | "stream" | "think" | "options" | "keep_alive" | "format" => {}
            other => {
                return Err(format!(
                    "`{other}` is not supported by this endpoint; remove it"
                ))
            }
        }
    }
    let model = match object.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model_id(model).to_string(),
        _ => return Err("`model` is required (see GET /api/tags)".into()),
    };
    let stream = match object.get("stream") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("`stream` must be a boolean".into()),
    };
    // `think: "high"` (a level) allows thinking at that effort; the extension checks the
    // level against the model's.
    let (thinking_allowed, reasoning_effort) = match object.get("think") {
        None | Some(Value::Null) => (true, None),
        Some(Value::Bool(b)) => (*b, None),
        Some(Value::String(level)) if !level.is_empty() => (true, Some(level.clone())),
        Some(_) => return Err("`think` must be `true`, `false` or an effort level such as `high`".into()),
    };
    let response_format = response_format(object.get("format"))?;
    let Some(Value::Array(messages)) = object.get("messages") else {
        return Err("`messages` must be an array".into());
    };
    let options = match object.get("options") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(options)) => options.clone(),
        Some(_) => return Err("`options` must be an object".into()),
    };
    let mut temperature = None;
    let mut max_tokens = None;
    let mut stop_sequences = Vec::new();
    let (mut top_p, mut seed, mut presence_penalty, mut frequency_penalty) = (None, None, None, None);
    for (key, value) in options.iter().filter(|(_, v)| !v.is_null()) {
        match key.as_str() {
            "temperature" => {
                temperature = Some(value.as_f64().ok_or("`options.temperature` must be a number")? as f32)
            }
            // -1 (no limit) and -2 (fill the context) leave the limit to the model.
            "num_predict" => match value.as_i64() {
                Some(n) if n > 0 => max_tokens = Some(n as u64),
                Some(-1 | -2) => {}
                _ => return Err("`options.num_predict` must be a positive integer, -1 or -2".into()),
            },
            "stop" => {
                stop_sequences = value
                    .as_array()
                    .ok_or("`options.stop` must be an array of strings")?
                    .iter()
                    .map(|s| s.as_str().map(str::to_string))
                    .collect::<Option<Vec<String>>>()
                    .ok_or("`options.stop` must be an array of strings")?;
            }
            "top_p" => top_p = Some(number(value, "top_p")?),
            "presence_penalty" => presence_penalty = Some(number(value, "presence_penalty")?),
            "frequency_penalty" => frequency_penalty = Some(number(value, "frequency_penalty")?),
            "seed" => {
                seed = Some(value.as_i64().ok_or("`options.seed` must be an integer")?)
            }
            "num_ctx" => {}
            other => {
                return Err(format!(
                    "`options.{other}` is not supported by this endpoint (the Copilot contract cannot carry it); remove it"
                ))
            }
        }
    }
    Ok(ChatRequest {
        model,
        stream,
        request: CompletionRequest {
            messages: map_messages(messages)?,
            tools: tools(object.get("tools"))?,
            tool_choice: None,
            stop_sequences,
            temperature,
            thinking_allowed,
            max_tokens,
            response_format,
            top_p,
            seed,
            presence_penalty,
            frequency_penalty,
            parallel_tool_calls: None,
            reasoning_effort,
        },
    })
}

/// A number in `options`.
fn number(value: &Value, key: &str) -> Result<f32, String> {
    value.as_f64().map(|n| n as f32).ok_or_else(|| format!("`options.{key}` must be a number"))
}

/// Ollama's `format`: `"json"` asks for any JSON object, a JSON schema (an object) for an
/// answer that follows it; absent, null or `""` is plain text.
fn response_format(format: Option<&Value>) -> Result<Option<ResponseFormat>, String> {
    match format {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s == "json" => Ok(Some(ResponseFormat::JsonObject)),
        Some(schema @ Value::Object(_)) => Ok(Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            // Ollama's schema has no name; OpenAI's format needs one.
            name: SCHEMA_NAME.to_string(),
            schema: schema.to_string(),
            strict: None,
            description: None,
        }))),
        Some(_) => Err("`format` must be \"json\" or a JSON schema object".into()),
    }
}

fn tools(value: Option<&Value>) -> Result<Vec<ToolDefinition>, String> {
    let listed = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(tools)) => tools,
        Some(_) => return Err("`tools` must be an array".into()),
    };
    listed
        .iter()
        .map(|tool| {
            let Some(function) = tool.get("function") else {
                return Err("only `function` tools are supported".to_string());
            };
            let Some(name) = function.get("name").and_then(Value::as_str) else {
                return Err("every tool needs `function.name`".to_string());
            };
            Ok(ToolDefinition {
                name: name.to_string(),
                description: function
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                input_schema: function
                    .get("parameters")
                    .filter(|p| !p.is_null())
                    .map(Value::to_string)
                    .unwrap_or_else(|| EMPTY_SCHEMA.into()),
            })
        })
        .collect()
}

fn content_text(message: &Value, index: usize) -> Result<String, String> {
    match message.get("content") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(format!("message {index}: `content` must be a string")),
    }
}

fn images(message: &Value, index: usize) -> Result<Vec<ImageData>, String> {
    match message.get("images") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(images)) => images
            .iter()
            .map(|i| match i.as_str() {
                Some(data) if !data.is_empty() => Ok(ImageData {
                    source: data.to_string(),
                    width: None,
                    height: None,
                }),
                _ => Err(format!("message {index}: `images` must be base64 strings")),
            })
            .collect(),
        Some(_) => Err(format!(
            "message {index}: `images` must be an array of base64 strings"
        )),
    }
}

fn map_messages(messages: &[Value]) -> Result<Vec<RequestMessage>, String> {
    let mut turns = Turns::default();
    // The last assistant message's calls that no tool message answered yet: (id, name).
    let mut pending: Vec<(String, String)> = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let text = content_text(message, index)?;
        let images = images(message, index)?;
        if !images.is_empty() && role != "user" {
            return Err(format!(
                "message {index}: only user messages may carry `images`"
            ));
        }
        let mapped = match role {
            "system" => RequestMessage {
                role: MessageRole::System,
                content: vec![MessageContent::Text(text)],
                cache: false,
            },
            "user" => {
                let mut content = vec![MessageContent::Text(text)];
                content.extend(images.into_iter().map(MessageContent::Image));
                RequestMessage {
                    role: MessageRole::User,
                    content,
                    cache: false,
                }
            }
            "assistant" => {
                let (message, calls) = assistant(message, index, text)?;
                pending = calls;
                message
            }
            "tool" => {
                let result = tool_result(message, index, text, &mut pending)?;
                turns.push_tool_result(result);
                continue;
            }
            other => return Err(format!("message {index} has unsupported role `{other}`")),
        };
        turns.push(mapped);
    }
    Ok(turns.into_messages())
}

type Calls = Vec<(String, String)>;

fn assistant(
    message: &Value,
    index: usize,
    text: String,
) -> Result<(RequestMessage, Calls), String> {
    let mut content = Vec::new();
    if let Some(thinking) = message
        .get("thinking")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        content.push(MessageContent::Thinking(ThinkingContent {
            text: thinking.to_string(),
            signature: None,
        }));
    }
    if !text.is_empty() {
        content.push(MessageContent::Text(text));
    }
    let mut calls = Vec::new();
    let listed = match message.get("tool_calls") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(calls)) => calls.as_slice(),
        Some(_) => return Err(format!("message {index}: `tool_calls` must be an array")),
    };
    for (n, call) in listed.iter().enumerate() {
        let Some(name) = call.pointer("/function/name").and_then(Value::as_str) else {
            return Err(format!(
                "message {index}: every tool call needs `function.name`"
            ));
        };
        let input = match call.pointer("/function/arguments") {
            None | Some(Value::Null) => "{}".to_string(),
            // Some clients send the OpenAI form, a JSON string.
            Some(Value::String(text)) => text.clone(),
            Some(arguments) => arguments.to_string(),
        };
        let id = call
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("call_{index}_{n}"));
        calls.push((id.clone(), name.to_string()));
        content.push(MessageContent::ToolUse(ToolUse {
            id,
            name: name.to_string(),
            input,
            is_input_complete: true,
            thought_signature: None,
        }));
    }
    let message = RequestMessage {
        role: MessageRole::Assistant,
        content,
        cache: false,
    };
    Ok((message, calls))
}

fn tool_result(
    message: &Value,
    index: usize,
    text: String,
    pending: &mut Calls,
) -> Result<MessageContent, String> {
    let named_id = message.get("tool_call_id").and_then(Value::as_str);
    let name = message
        .get("tool_name")
        .or_else(|| message.get("name"))
        .and_then(Value::as_str);
    let position = match (named_id, name) {
        (Some(id), _) => pending.iter().position(|(i, _)| i == id),
        (None, Some(name)) => pending.iter().position(|(_, n)| n == name),
        (None, None) => (!pending.is_empty()).then_some(0),
    };
    let Some(position) = position else {
        return Err(format!(
            "message {index}: a `tool` message must answer a call of the assistant message before it (by `tool_name`)"
        ));
    };
    let (id, name) = pending.remove(position);
    Ok(MessageContent::ToolResult(ToolResult {
        tool_use_id: id,
        tool_name: name,
        is_error: false,
        content: ToolResultContent::Text(text),
    }))
}

/// The architecture (family) word of a model id: `claude-sonnet-4` is `claude`.
fn architecture(id: &str) -> String {
    let word: String = id
        .split(['-', '.', ':', '/'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    if word.is_empty() {
        "copilot".into()
    } else {
        word.to_ascii_lowercase()
    }
}

fn details(model: &ModelInfo) -> Value {
    let family = architecture(&model.id);
    json!({
        "parent_model": "",
        "format": FORMAT,
        "family": family,
        "families": [family],
        "parameter_size": "",
        "quantization_level": "",
    })
}

fn digest(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `GET /api/tags` body. `modified_at` is `now`: the catalog is live, not downloaded.
pub fn tags_json(models: &[ModelInfo], now: &str) -> Value {
    let listed: Vec<Value> = models
        .iter()
        .map(|m| {
            json!({
                "name": m.id,
                "model": m.id,
                "modified_at": now,
                "size": 0,
                "digest": digest(&m.id),
                "details": details(m),
            })
        })
        .collect();
    json!({"models": listed})
}

/// What the model can do, in Ollama's words.
fn capabilities(model: &ModelInfo) -> Vec<&'static str> {
    let c = &model.capabilities;
    let mut out = vec!["completion"];
    if c.supports_tools {
        out.push("tools");
    }
    if c.supports_images {
        out.push("vision");
    }
    if c.supports_thinking {
        out.push("thinking");
    }
    out
}

/// The `POST /api/show` body for one model.
pub fn show_json(model: &ModelInfo, now: &str) -> Value {
    let arch = architecture(&model.id);
    let mut info = Map::new();
    info.insert("general.architecture".into(), json!(arch));
    info.insert("general.basename".into(), json!(model.name));
    info.insert(
        format!("{arch}.context_length"),
        json!(model.max_token_count),
    );
    json!({
        "license": "",
        "modelfile": "",
        "parameters": "",
        "template": "",
        "details": details(model),
        "model_info": info,
        "capabilities": capabilities(model),
        "modified_at": now,
    })
}

/// Ollama's `done_reason`.
pub fn done_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::ToolUse => "stop",
        StopReason::MaxTokens => "length",
        StopReason::Refusal => "refusal",
    }
}

/// Turns one completion's events into `/api/chat` chunks, and keeps the whole answer.
pub struct Translator {
    model: String,
    created_at: String,
    text: String,
    thinking: String,
    tool_calls: Vec<Value>,
    stop: Option<StopReason>,
    usage: Option<TokenUsage>,
}

impl Translator {
    /// A translator for one answer; `created_at` is stamped on every chunk.
    pub fn new(model: String, created_at: String) -> Translator {
        Translator {
            model,
            created_at,
            text: String::new(),
            thinking: String::new(),
            tool_calls: Vec::new(),
            stop: None,
            usage: None,
        }
    }

    fn chunk(&self, message: Value) -> Value {
        json!({"model": self.model, "created_at": self.created_at, "message": message, "done": false})
    }

    /// The chunk for one event, if it has one. `Err`: the model's tool input is not JSON,
    /// which Ollama's `arguments` object cannot carry.
    pub fn event(&mut self, event: &CompletionEvent) -> Result<Option<Value>, String> {
        Ok(match event {
            CompletionEvent::Text(text) => {
                self.text.push_str(text);
                Some(self.chunk(json!({"role": "assistant", "content": text})))
            }
            CompletionEvent::Thinking(thinking) if !thinking.text.is_empty() => {
                self.thinking.push_str(&thinking.text);
                Some(
                    self.chunk(
                        json!({"role": "assistant", "content": "", "thinking": thinking.text}),
                    ),
                )
            }
            CompletionEvent::ToolUse(tool) => {
                let input = if tool.input.trim().is_empty() {
                    "{}"
                } else {
                    tool.input.as_str()
                };
                let arguments: Value = serde_json::from_str(input).map_err(|e| {
                    format!(
                        "the model's arguments for tool `{}` are not JSON: {e}",
                        tool.name
                    )
                })?;
                let call = json!({"function": {"name": tool.name, "arguments": arguments}});
                self.tool_calls.push(call.clone());
                Some(self.chunk(json!({"role": "assistant", "content": "", "tool_calls": [call]})))
            }
            CompletionEvent::ToolUseJsonParseError(error) => {
                return Err(format!(
                    "the model's arguments for tool `{}` are not JSON ({})",
                    error.tool_name, error.error
                ))
            }
            CompletionEvent::Stop(reason) => {
                self.stop = Some(*reason);
                None
            }
            CompletionEvent::Usage(usage) => {
                self.usage = Some(*usage);
                None
            }
            CompletionEvent::Started
            | CompletionEvent::Thinking(_)
            | CompletionEvent::RedactedThinking(_)
            | CompletionEvent::ReasoningDetails(_) => None,
        })
    }

    fn done(&self, mut body: Value, total_ns: u64) -> Value {
        let usage = self.usage.unwrap_or(TokenUsage {
            input_tokens: 0,
            output_tokens: 0,
            cache_creation_input_tokens: None,
            cache_read_input_tokens: None,
        });
        body["done"] = json!(true);
        body["done_reason"] = json!(self.stop.map_or("stop", done_reason));
        body["total_duration"] = json!(total_ns);
        body["load_duration"] = json!(0);
        body["prompt_eval_count"] = json!(usage.input_tokens);
        body["prompt_eval_duration"] = json!(0);
        body["eval_count"] = json!(usage.output_tokens);
        body["eval_duration"] = json!(total_ns);
        body
    }

    /// The last line of a stream: an empty message, `done: true` and the counts.
    pub fn end(&self, total_ns: u64) -> Value {
        self.done(
            self.chunk(json!({"role": "assistant", "content": ""})),
            total_ns,
        )
    }

    /// The whole answer (`stream: false`).
    pub fn whole(&self, total_ns: u64) -> Value {
        let mut message = json!({"role": "assistant", "content": self.text});
        if !self.thinking.is_empty() {
            message["thinking"] = json!(self.thinking);
        }
        if !self.tool_calls.is_empty() {
            message["tool_calls"] = json!(self.tool_calls);
        }
        self.done(self.chunk(message), total_ns)
    }
}

/// Ollama's error body.
pub fn error_body(message: &str) -> Value {
    json!({"error": message})
}

/// The HTTP status, error body and `Retry-After` seconds for a provider error.
pub fn provider_error(error: &ProviderError) -> (u16, Value, Option<u64>) {
    let message = crate::output::display_error(error);
    let (status, retry) = match error {
        ProviderError::NotSignedIn(_) | ProviderError::Unauthorized(_) => (401, None),
        ProviderError::NoCopilotAccess(_) => (403, None),
        ProviderError::RateLimited(info) => (429, info.retry_after_secs),
        ProviderError::QuotaExceeded(info) => (429, info.retry_after_secs),
        ProviderError::ModelNotSupported(_) => (404, None),
        ProviderError::ContextTooLong(_)
        | ProviderError::InvalidRequest(_)
        | ProviderError::NotSupported(_) => (400, None),
        ProviderError::Upstream(info) => match blame(info) {
            Blame::Client(status) => (status, None),
            Blame::Service => (502, None),
            Blame::Host => (500, None),
        },
        ProviderError::Network(_) => (502, None),
    };
    (status, error_body(&message), retry)
}

fn failure_response(failure: &Failure) -> (u16, Value, Option<u64>) {
    match failure {
        Failure::Provider(error) => provider_error(error),
        Failure::Host(message) => (500, error_body(message), None),
    }
}

/// Whether `host` (a `Host` header value) names this machine's loopback.
fn loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    let name = name.to_ascii_lowercase();
    name == "localhost" || name == "::1" || name.starts_with("127.") && name.split('.').count() == 4
}

/// Why a request may not use the Ollama routes: `None` when it may.
pub(super) fn refusal(ctx: &Context, request: &wire::Request) -> Option<(u16, &'static str)> {
    if ctx.bearer_ok(request) {
        return None;
    }
    if !ctx.options.ollama_keyless {
        return Some((401, "missing or wrong API key: send `Authorization: Bearer <key>` with the key `copilot-host serve` printed (Zed: the Ollama provider's API key)"));
    }
    if request.header("origin").is_some() {
        return Some((
            403,
            "requests from web pages (with an `Origin` header) are refused in keyless mode",
        ));
    }
    if request.header("host").is_some_and(|h| !loopback_host(h)) {
        return Some((
            403,
            "requests for a host other than 127.0.0.1 or localhost are refused in keyless mode",
        ));
    }
    None
}

// ---- Handlers: bytes in, bytes out. ----

/// Serves `path` (under `/api`).
pub(super) fn route(
    ctx: &Context,
    request: &wire::Request,
    path: &str,
    out: &mut TcpStream,
) -> std::io::Result<()> {
    if let Some((status, why)) = refusal(ctx, request) {
        return wire::write_json(out, status, &[], &error_body(why));
    }
    match (request.method.as_str(), path) {
        ("GET" | "HEAD", "/api/version") => {
            wire::write_json(out, 200, &[], &json!({"version": OLLAMA_API_VERSION}))
        }
        ("GET" | "HEAD", "/api/tags") => match upstream::models(ctx) {
            Ok(models) => wire::write_json(out, 200, &[], &tags_json(&models, &now())),
            Err(failure) => write_failure(out, &failure),
        },
        ("POST", "/api/show") => show(ctx, request, out),
        ("POST", "/api/chat") => chat(ctx, request, out),
        _ => {
            let why = format!(
                "no route {} {}; the Ollama API here is GET /api/version, GET /api/tags, POST /api/show and POST /api/chat",
                request.method, request.path
            );
            wire::write_json(out, 404, &[], &error_body(&why))
        }
    }
}

fn now() -> String {
    upstream::rfc3339(unix_now())
}

fn write_failure(out: &mut impl Write, failure: &Failure) -> std::io::Result<()> {
    let (status, body, retry) = failure_response(failure);
    let headers: Vec<(&str, String)> = retry
        .map(|s| ("Retry-After", s.to_string()))
        .into_iter()
        .collect();
    wire::write_json(out, status, &headers, &body)
}

fn bad_request(out: &mut impl Write, why: &str) -> std::io::Result<()> {
    wire::write_json(out, 400, &[], &error_body(why))
}

/// The listed model named `name`; `Err` is already answered (404 or a failure).
fn find_model(
    ctx: &Context,
    name: &str,
    out: &mut impl Write,
) -> std::io::Result<Option<ModelInfo>> {
    let models = match upstream::models(ctx) {
        Ok(models) => models,
        Err(failure) => return write_failure(out, &failure).map(|()| None),
    };
    let id = model_id(name);
    match models.into_iter().find(|m| m.id == id) {
        Some(model) => Ok(Some(model)),
        None => {
            let why = format!("model '{name}' not found; GET /api/tags lists the Copilot models");
            wire::write_json(out, 404, &[], &error_body(&why)).map(|()| None)
        }
    }
}

fn show(ctx: &Context, request: &wire::Request, out: &mut TcpStream) -> std::io::Result<()> {
    let body: Value = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(e) => return bad_request(out, &format!("the body is not valid JSON: {e}")),
    };
    let Some(name) = body
        .get("model")
        .or_else(|| body.get("name"))
        .and_then(Value::as_str)
    else {
        return bad_request(out, "`model` is required");
    };
    match find_model(ctx, name, out)? {
        Some(model) => wire::write_json(out, 200, &[], &show_json(&model, &now())),
        None => Ok(()),
    }
}

fn chat(ctx: &Context, request: &wire::Request, out: &mut TcpStream) -> std::io::Result<()> {
    let started = Instant::now();
    let parsed = match parse_chat_request(&request.body) {
        Ok(parsed) => parsed,
        Err(why) => return bad_request(out, &why),
    };
    if find_model(ctx, &parsed.model, out)?.is_none() {
        return Ok(());
    }
    let upstream::Opened { mut stream, first } =
        match upstream::open(ctx, &parsed.model, parsed.request) {
            Ok(opened) => opened,
            Err(failure) => return write_failure(out, &failure),
        };
    let mut translator = Translator::new(parsed.model.clone(), now());
    let elapsed = || u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let mut next = first.map(Ok);
    if !parsed.stream {
        loop {
            let event = match next.take().or_else(|| upstream::next(&mut stream)) {
                None => break,
                Some(Ok(event)) => event,
                Some(Err(failure)) => return write_failure(out, &failure),
            };
            if let Err(why) = translator.event(&event) {
                return wire::write_json(out, 502, &[], &error_body(&why));
            }
        }
        return wire::write_json(out, 200, &[], &translator.whole(elapsed()));
    }
    let mut lines = wire::LineStream::start(out)?;
    loop {
        let event = match next.take().or_else(|| upstream::next(&mut stream)) {
            None => break,
            Some(Ok(event)) => event,
            // A failure mid-answer is an error line; no `done: true` marks it unfinished.
            Some(Err(failure)) => {
                lines.line(&failure_response(&failure).1)?;
                return lines.finish();
            }
        };
        match translator.event(&event) {
            Ok(Some(chunk)) => lines.line(&chunk)?,
            Ok(None) => {}
            Err(why) => {
                lines.line(&error_body(&why))?;
                return lines.finish();
            }
        }
        if ctx.is_stopping() {
            return Ok(());
        }
    }
    lines.line(&translator.end(elapsed()))?;
    lines.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::llm_provider::{
        ModelCapabilities, NotSignedInInfo, RateLimitInfo, ToolInputFormat, ToolUseJsonParseError,
    };

    fn parse(body: Value) -> Result<ChatRequest, String> {
        parse_chat_request(body.to_string().as_bytes())
    }

    fn model(id: &str, thinking: bool) -> ModelInfo {
        ModelInfo {
            id: id.into(),
            name: format!("Name of {id}"),
            max_token_count: 128_000,
            max_output_tokens: Some(16_000),
            capabilities: ModelCapabilities {
                supports_images: true,
                supports_tools: true,
                supports_tool_choice_auto: true,
                supports_tool_choice_any: true,
                supports_tool_choice_none: true,
                supports_thinking: thinking,
                tool_input_format: ToolInputFormat::JsonSchema,
            },
            is_default: false,
            is_default_fast: false,
        }
    }

    #[test]
    fn maps_a_zed_style_request() {
        // What Zed's Ollama provider sends: nulls for unset options, keep_alive, think.
        let chat = parse(json!({
            "model": "claude-sonnet-4:latest",
            "stream": true,
            "keep_alive": -1,
            "think": true,
            "options": {"num_ctx": 128000, "num_predict": 100, "stop": ["END"], "temperature": 0.5, "top_p": null},
            "tools": [{"type": "function", "function": {"name": "read", "description": "Read", "parameters": {"type": "object"}}}],
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "look", "images": ["iVBORw0KGgo="]},
                {"role": "assistant", "content": "", "thinking": "Need files.", "tool_calls": [
                    {"function": {"name": "read", "arguments": {"path": "a"}}},
                    {"function": {"name": "list", "arguments": {}}}]},
                {"role": "tool", "tool_name": "list", "content": "a b"},
                {"role": "tool", "tool_name": "read", "content": "contents"},
                {"role": "user", "content": "thanks"},
            ],
        }))
        .unwrap();
        assert_eq!(chat.model, "claude-sonnet-4");
        assert!(chat.stream);
        let r = chat.request;
        assert!(r.thinking_allowed);
        assert_eq!(r.temperature, Some(0.5));
        assert_eq!(r.max_tokens, Some(100));
        assert_eq!(r.stop_sequences, vec!["END".to_string()]);
        assert_eq!(r.tools[0].input_schema, r#"{"type":"object"}"#);
        assert_eq!(
            r.messages.len(),
            5,
            "two tool results share one user message"
        );
        match &r.messages[1].content[..] {
            [MessageContent::Text(t), MessageContent::Image(i)] => {
                assert_eq!(t, "look");
                assert_eq!(i.source, "iVBORw0KGgo=");
            }
            other => panic!("{other:?}"),
        }
        match &r.messages[2].content[..] {
            [MessageContent::Thinking(t), MessageContent::ToolUse(a), MessageContent::ToolUse(b)] =>
            {
                assert_eq!(t.text, "Need files.");
                assert_eq!(
                    (a.id.as_str(), a.input.as_str()),
                    ("call_2_0", r#"{"path":"a"}"#)
                );
                assert_eq!((b.id.as_str(), b.name.as_str()), ("call_2_1", "list"));
            }
            other => panic!("{other:?}"),
        }
        match &r.messages[3].content[..] {
            [MessageContent::ToolResult(a), MessageContent::ToolResult(b)] => {
                assert_eq!(
                    (a.tool_use_id.as_str(), a.tool_name.as_str()),
                    ("call_2_1", "list")
                );
                assert_eq!(
                    (b.tool_use_id.as_str(), b.tool_name.as_str()),
                    ("call_2_0", "read")
                );
                assert!(matches!(&b.content, ToolResultContent::Text(t) if t == "contents"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stream_defaults_on_and_think_false_turns_thinking_off() {
        let chat = parse(json!({"model": "m", "messages": []})).unwrap();
        assert!(chat.stream && chat.request.thinking_allowed);
        let chat =
            parse(json!({"model": "m", "messages": [], "stream": false, "think": false})).unwrap();
        assert!(!chat.stream && !chat.request.thinking_allowed);
    }

    #[test]
    fn format_options_and_think_levels_go_into_the_request() {
        let chat = parse(json!({"model": "m", "messages": [], "format": "json", "think": "high",
            "options": {"top_p": 0.5, "seed": 7, "presence_penalty": 0.25, "frequency_penalty": -1}}))
        .unwrap();
        let r = &chat.request;
        assert_eq!(r.response_format, Some(ResponseFormat::JsonObject));
        assert_eq!((r.top_p, r.seed), (Some(0.5), Some(7)));
        assert_eq!((r.presence_penalty, r.frequency_penalty), (Some(0.25), Some(-1.0)));
        assert!(r.thinking_allowed);
        assert_eq!(r.reasoning_effort.as_deref(), Some("high"));
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let chat = parse(json!({"model": "m", "messages": [], "format": schema})).unwrap();
        match &chat.request.response_format {
            Some(ResponseFormat::JsonSchema(f)) => {
                assert_eq!(f.name, SCHEMA_NAME);
                assert_eq!(serde_json::from_str::<Value>(&f.schema).unwrap(), schema);
            }
            other => panic!("{other:?}"),
        }
        let plain = parse(json!({"model": "m", "messages": [], "format": ""})).unwrap();
        assert_eq!(plain.request.response_format, None);
        assert_eq!(plain.request.reasoning_effort, None);
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        let err = |body: Value| parse(body).unwrap_err();
        assert!(err(json!({"model": "m", "messages": [], "format": 3})).contains("`format`"));
        assert!(
            err(json!({"model": "m", "messages": [], "options": {"top_k": 5}}))
                .contains("`options.top_k`")
        );
        assert!(
            err(json!({"model": "m", "messages": [], "options": {"seed": "x"}}))
                .contains("`options.seed`")
        );
        assert!(err(json!({"model": "m", "messages": [], "think": 3})).contains("`think`"));
        assert!(err(json!({"messages": []})).contains("model"));
        assert!(err(
            json!({"model": "m", "messages": [{"role": "tool", "tool_name": "x", "content": "y"}]})
        )
        .contains("tool"));
        assert!(err(json!({"model": "m", "messages": [{"role": "assistant", "content": "x", "images": ["AA"]}]})).contains("images"));
        assert!(err(json!({"model": "m", "messages": [], "raw": true})).contains("`raw`"));
    }

    #[test]
    fn discovery_bodies_carry_what_zed_reads() {
        let models = [model("claude-sonnet-4", true), model("gpt-4.1", false)];
        let tags = tags_json(&models, "2025-01-01T00:00:00Z");
        let first = &tags["models"][0];
        assert_eq!(first["name"], "claude-sonnet-4");
        assert_eq!(first["model"], "claude-sonnet-4");
        assert_eq!(first["size"], 0);
        assert_eq!(first["digest"].as_str().unwrap().len(), 64);
        assert_eq!(first["details"]["family"], "claude");
        assert_eq!(first["details"]["format"], "copilot");
        assert_eq!(tags["models"][1]["details"]["family"], "gpt");
        let show = show_json(&models[0], "2025-01-01T00:00:00Z");
        assert_eq!(
            show["capabilities"],
            json!(["completion", "tools", "vision", "thinking"])
        );
        assert_eq!(show["model_info"]["general.architecture"], "claude");
        assert_eq!(show["model_info"]["claude.context_length"], 128_000);
        let show = show_json(&models[1], "x");
        assert_eq!(
            show["capabilities"],
            json!(["completion", "tools", "vision"])
        );
        assert_eq!(show["model_info"]["gpt.context_length"], 128_000);
    }

    #[test]
    fn translates_a_stream_with_thinking_and_parallel_tool_calls() {
        let mut t = Translator::new("claude-sonnet-4".into(), "2025-01-01T00:00:00Z".into());
        let call = |id: &str, input: &str| {
            CompletionEvent::ToolUse(ToolUse {
                id: id.into(),
                name: "read".into(),
                input: input.into(),
                is_input_complete: true,
                thought_signature: None,
            })
        };
        assert!(t.event(&CompletionEvent::Started).unwrap().is_none());
        let thinking = t
            .event(&CompletionEvent::Thinking(ThinkingContent {
                text: "Hmm.".into(),
                signature: None,
            }))
            .unwrap()
            .unwrap();
        assert_eq!(
            thinking["message"],
            json!({"role": "assistant", "content": "", "thinking": "Hmm."})
        );
        assert_eq!(thinking["done"], false);
        assert!(t
            .event(&CompletionEvent::ReasoningDetails("{}".into()))
            .unwrap()
            .is_none());
        let text = t
            .event(&CompletionEvent::Text("Reading.".into()))
            .unwrap()
            .unwrap();
        assert_eq!(text["message"]["content"], "Reading.");
        let a = t.event(&call("c1", r#"{"path":"a"}"#)).unwrap().unwrap();
        assert_eq!(
            a["message"]["tool_calls"],
            json!([{"function": {"name": "read", "arguments": {"path": "a"}}}])
        );
        t.event(&call("c2", r#"{"path":"b"}"#)).unwrap();
        t.event(&CompletionEvent::Stop(StopReason::ToolUse))
            .unwrap();
        t.event(&CompletionEvent::Usage(TokenUsage {
            input_tokens: 12,
            output_tokens: 5,
            cache_creation_input_tokens: None,
            cache_read_input_tokens: None,
        }))
        .unwrap();
        let end = t.end(1000);
        assert_eq!(end["done"], true);
        assert_eq!(end["done_reason"], "stop");
        assert_eq!(end["message"], json!({"role": "assistant", "content": ""}));
        assert_eq!(
            (
                end["prompt_eval_count"].as_u64(),
                end["eval_count"].as_u64()
            ),
            (Some(12), Some(5))
        );
        let whole = t.whole(1000);
        assert_eq!(whole["message"]["content"], "Reading.");
        assert_eq!(whole["message"]["thinking"], "Hmm.");
        assert_eq!(
            whole["message"]["tool_calls"][1]["function"]["arguments"],
            json!({"path": "b"})
        );
        assert_eq!(whole["created_at"], "2025-01-01T00:00:00Z");
        let mut t = Translator::new("m".into(), "x".into());
        assert!(t
            .event(&CompletionEvent::ToolUseJsonParseError(
                ToolUseJsonParseError {
                    id: "c".into(),
                    tool_name: "read".into(),
                    raw_input: "{".into(),
                    error: "eof".into(),
                }
            ))
            .is_err());
        t.event(&CompletionEvent::Stop(StopReason::MaxTokens))
            .unwrap();
        assert_eq!(t.end(0)["done_reason"], "length");
    }

    #[test]
    fn errors_are_ollama_shaped() {
        let (status, body, _) = provider_error(&ProviderError::NotSignedIn(NotSignedInInfo {
            searched: vec![],
        }));
        assert_eq!(status, 401);
        assert!(body["error"].as_str().unwrap().contains("sign"));
        let (status, _, retry) = provider_error(&ProviderError::RateLimited(RateLimitInfo {
            message: "slow".into(),
            code: None,
            retry_after_secs: Some(3),
        }));
        assert_eq!((status, retry), (429, Some(3)));
    }

    #[test]
    fn only_loopback_hosts_pass() {
        for host in [
            "127.0.0.1:11434",
            "localhost",
            "LOCALHOST:1",
            "[::1]:80",
            "127.0.0.1",
        ] {
            assert!(loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:11434",
            "127.0.0.1.evil.example",
            "localhost.evil",
            "[::2]:1",
            "10.0.0.1",
        ] {
            assert!(!loopback_host(host), "{host}");
        }
    }
}
