//! The `/chat/completions` protocol step: request body and headers out, typed events in.
//!
//! Design: three pure pieces with no I/O, each unit-tested with literal fixtures.
//! * [`chat_body`] / [`request_headers`] map a WIT [`CompletionRequest`] to the OpenAI
//!   chat-completions body and the per-request headers Copilot expects
//!   (reference: copilot-protocol.md §4.1–4.2). The catalog entry of the model shapes the
//!   body: images are refused before sending when the model has no vision or the image is
//!   too large or of a type it does not take (a clear local error instead of an opaque 400),
//!   `max_tokens` is bounded, and `thinking_allowed` picks a `reasoning_effort` it lists.
//! * [`ChatDecoder`] turns SSE `data` payloads into [`CompletionEvent`]s, tolerating Copilot's
//!   quirks (§4.3): empty, null or missing `choices`, usage-only chunks, `message` in place
//!   of `delta`, several choices, tool-call fragments interleaved across indexes.
//! * [`ChatStream`] = [`SseParser`] + [`ChatDecoder`]: raw body bytes in, events out.
//!
//! Tool calls are accumulated and emitted whole (with `is_input_complete: true`) when the
//! answer finishes, because a half-received argument string is not JSON that a consumer could
//! use. `Stop` is emitted once, after every choice seen so far has a `finish_reason` (or at
//! `[DONE]` / end of body), so tool calls of a second choice are not cut off by the first.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionEvent, CompletionRequest, ImageData, MessageContent, MessageRole, RequestMessage,
    StopReason, ThinkingContent, ToolChoice, ToolDefinition, ToolResult,
    ToolResultContent, ToolUse,
};
use crate::catalog::model::Model;
use crate::events::{self, non_empty_str, EventStream, SseDecoder, UsageFields};
use crate::error::{clean_message, Error, Upstream};
use crate::sse::SseEvent;

/// The payload that ends a chat-completions stream.
const DONE_MARKER: &str = "[DONE]";
/// Status given to a stream chunk that is not JSON (a bad gateway, in effect).
const MALFORMED_CHUNK_STATUS: u16 = 502;
/// Bound on one tool call's accumulated argument text.
pub const MAX_TOOL_ARGUMENT_BYTES: usize = 16 * 1024 * 1024;
/// Base64 characters decoded to sniff an image type (12 bytes: enough for WebP's header).
const IMAGE_MAGIC_BYTES: usize = 12;
/// The scheme of inline image URLs, compared case-insensitively.
const DATA_SCHEME: &str = "data:";
/// Separator between several text parts folded into one string `content`.
const TEXT_PART_SEPARATOR: &str = "\n\n";

const HEADER_INITIATOR: &str = "X-Initiator";
const HEADER_INTENT: &str = "Openai-Intent";
const HEADER_VISION: &str = "Copilot-Vision-Request";
const INTENT_AGENT: &str = "conversation-agent";
const INTENT_PANEL: &str = "conversation-panel";
/// The reasoning effort sent when thinking is allowed and the model lists this level.
const DEFAULT_REASONING_EFFORT: &str = "medium";

// ---------------------------------------------------------------------------------------------
// Request mapping
// ---------------------------------------------------------------------------------------------

/// The `/chat/completions` body for `request` sent to `model_id`.
///
/// `model` is the catalog entry when the catalog lists the model (`None` lets the server
/// judge an unknown id). From it: `max_tokens` is bounded by the model's
/// `max_output_tokens` (and that limit is used alone when the request sets none); images are
/// checked against its vision support, size and media types ([`check_images`]);
/// `thinking_allowed` becomes `reasoning_effort` when the model lists effort levels
/// ([`reasoning_effort`]). Errors are [`Error::InvalidRequest`]: a tool schema or tool-use
/// input that is not JSON, content a role cannot carry (an image in an assistant message, a
/// tool use in a user message, …), an image whose type is not PNG, JPEG, GIF or WebP or that
/// the model cannot take, a non-finite temperature.
pub fn chat_body(model_id: &str, request: &CompletionRequest, model: Option<&Model>) -> Result<Value, Error> {
    if let Some(model) = model {
        check_images(request, model)?;
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model_id));
    body.insert("messages".into(), Value::Array(map_messages(&request.messages)?));
    body.insert("stream".into(), json!(true));
    body.insert("n".into(), json!(1));
    body.insert("stream_options".into(), json!({ "include_usage": true }));
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), temperature_json(t)?);
    }
    if !request.stop_sequences.is_empty() {
        body.insert("stop".into(), json!(request.stop_sequences));
    }
    if let Some(max) = bounded_max_tokens(request.max_tokens, model.and_then(|m| m.max_output_tokens)) {
        body.insert("max_tokens".into(), json!(max));
    }
    if request.thinking_allowed {
        if let Some(effort) = model.and_then(reasoning_effort) {
            body.insert("reasoning_effort".into(), json!(effort));
        } else if let Some(budget) = model.and_then(|m| thinking_budget(m, body.get("max_tokens").and_then(Value::as_u64))) {
            body.insert("thinking_budget".into(), json!(budget));
        }
    }
    if !request.tools.is_empty() {
        let tools = request.tools.iter().map(tool_json).collect::<Result<Vec<_>, _>>()?;
        body.insert("tools".into(), Value::Array(tools));
        // `tool_choice` without `tools` is rejected by the API, so it is sent only with them.
        if let Some(choice) = &request.tool_choice {
            body.insert("tool_choice".into(), json!(tool_choice_str(choice)));
        }
    }
    Ok(Value::Object(body))
}

/// The thinking budget asked for when the model takes one (VS Code's order of magnitude).
const DEFAULT_THINKING_BUDGET: u64 = 16_000;

/// The `reasoning_effort` to send when thinking is allowed: `medium` when the model lists it
/// (the level VS Code defaults to), else the middle of the listed levels; `None` when the
/// model lists none (its reasoning, if any, is not controlled through this field).
pub fn reasoning_effort(model: &Model) -> Option<&str> {
    let efforts = &model.reasoning_efforts;
    efforts
        .iter()
        .find(|e| e.as_str() == DEFAULT_REASONING_EFFORT)
        .or_else(|| efforts.get(efforts.len() / 2))
        .map(String::as_str)
}

/// The thinking budget (tokens) asked of a model whose reasoning is controlled by a budget
/// rather than effort levels (Claude through chat completions): [`DEFAULT_THINKING_BUDGET`]
/// within the model's `min..=max`, and below `max_tokens` when that is set (the budget counts
/// against the output). `None` when the model takes no budget or no budget fits.
pub fn thinking_budget(model: &Model, max_tokens: Option<u64>) -> Option<u64> {
    let max = model.max_thinking_budget?;
    let min = model.min_thinking_budget.unwrap_or(0);
    let mut budget = DEFAULT_THINKING_BUDGET.clamp(min.min(max), max);
    if let Some(limit) = max_tokens {
        budget = budget.min(limit.saturating_sub(1));
    }
    (budget >= min && budget > 0).then_some(budget)
}

/// Checks every image of `request` (in user messages and in tool results) against what
/// `model` accepts: vision at all, `vision_max_image_bytes` (decoded size) and
/// `vision_media_types` (the type sniffed from the bytes, or declared by a `data:` URL).
///
/// A model counts as accepting images when the catalog says `supports.vision` or gives
/// vision limits (some catalogs omit the flag but keep the limits).
pub fn check_images(request: &CompletionRequest, model: &Model) -> Result<(), Error> {
    let images = request.messages.iter().flat_map(|m| m.content.iter()).filter_map(|c| match c {
        MessageContent::Image(image) => Some(image),
        MessageContent::ToolResult(ToolResult { content: ToolResultContent::Image(image), .. }) => Some(image),
        _ => None,
    });
    let vision = model.supports_vision || model.vision_max_image_bytes.is_some() || !model.vision_media_types.is_empty();
    for (n, image) in images.enumerate() {
        if !vision {
            return Err(Error::InvalidRequest(format!(
                "{} does not accept images; remove the image or pick a model with vision",
                model.id
            )));
        }
        let info = image_info(image)?;
        if let Some(max) = model.vision_max_image_bytes {
            if info.bytes > max {
                return Err(Error::InvalidRequest(format!(
                    "image {} is {} bytes, more than the {max} bytes {} accepts; send a smaller image",
                    n + 1,
                    info.bytes,
                    model.id
                )));
            }
        }
        let listed = model.vision_media_types.iter().any(|t| t.trim().eq_ignore_ascii_case(&info.media_type));
        if !model.vision_media_types.is_empty() && !listed {
            return Err(Error::InvalidRequest(format!(
                "image {} is {}, which {} does not accept (it takes {})",
                n + 1,
                info.media_type,
                model.id,
                model.vision_media_types.join(", ")
            )));
        }
    }
    Ok(())
}

/// Per-request headers (§4.1): `X-Initiator`, `Openai-Intent` and, only when some message
/// carries an image, `Copilot-Vision-Request: true`.
///
/// `X-Initiator` is `user` only when the last message is a user message with text or an
/// image (a human turn); tool-result follow-ups are `agent`. Copilot bills premium requests
/// by this header, so an agent loop must not count as many user turns.
pub fn request_headers(request: &CompletionRequest) -> Vec<(String, String)> {
    let human_turn = request
        .messages
        .last()
        .is_some_and(|m| matches!(m.role, MessageRole::User) && m.content.iter().any(is_human_content));
    let intent = if request.tools.is_empty() { INTENT_PANEL } else { INTENT_AGENT };
    let mut headers = vec![
        (HEADER_INITIATOR.to_string(), if human_turn { "user" } else { "agent" }.to_string()),
        (HEADER_INTENT.to_string(), intent.to_string()),
    ];
    if request.messages.iter().any(|m| m.content.iter().any(carries_image)) {
        headers.push((HEADER_VISION.to_string(), "true".to_string()));
    }
    headers
}

fn is_human_content(content: &MessageContent) -> bool {
    match content {
        MessageContent::Text(t) => !t.trim().is_empty(),
        MessageContent::Image(_) => true,
        _ => false,
    }
}

fn carries_image(content: &MessageContent) -> bool {
    match content {
        MessageContent::Image(_) => true,
        MessageContent::ToolResult(r) => matches!(r.content, ToolResultContent::Image(_)),
        _ => false,
    }
}

/// JSON for a temperature, printed from its `f32` text so `0.1` stays `0.1` (not
/// `0.10000000149011612`).
fn temperature_json(t: f32) -> Result<Value, Error> {
    if !t.is_finite() {
        return Err(Error::InvalidRequest(format!("temperature must be a finite number, not {t}")));
    }
    let exact: f64 = t.to_string().parse().unwrap_or(f64::from(t));
    Ok(json!(exact))
}

fn bounded_max_tokens(requested: Option<u64>, model_limit: Option<u64>) -> Option<u64> {
    match (requested, model_limit) {
        (Some(r), Some(m)) => Some(r.min(m)),
        (r, m) => r.or(m),
    }
}

fn tool_choice_str(choice: &ToolChoice) -> &'static str {
    match choice {
        ToolChoice::Auto => "auto",
        // Copilot's OpenAI dialect names "must call some tool" `required`.
        ToolChoice::Any => "required",
        ToolChoice::None => "none",
    }
}

fn tool_json(tool: &ToolDefinition) -> Result<Value, Error> {
    let parameters: Value = serde_json::from_str(&tool.input_schema).map_err(|e| {
        Error::InvalidRequest(format!("tool `{}` has an input schema that is not JSON: {e}", tool.name))
    })?;
    Ok(json!({
        "type": "function",
        "function": { "name": tool.name, "description": tool.description, "parameters": parameters },
    }))
}

fn map_messages(messages: &[RequestMessage]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::with_capacity(messages.len());
    for message in messages {
        let mut mapped = match message.role {
            MessageRole::System => system_message(&message.content)?.into_iter().collect(),
            MessageRole::User => user_messages(&message.content)?,
            MessageRole::Assistant => assistant_message(&message.content)?.into_iter().collect(),
        };
        if message.cache {
            // The breakpoint marks the end of the cached prefix: the last message this one became.
            if let Some(Value::Object(last)) = mapped.last_mut() {
                last.insert("copilot_cache_control".into(), json!({ "type": "ephemeral" }));
            }
        }
        out.append(&mut mapped);
    }
    Ok(out)
}

/// `None` when the message has no text at all (an empty message is rejected upstream).
fn system_message(content: &[MessageContent]) -> Result<Option<Value>, Error> {
    let mut texts = Vec::new();
    for part in content {
        match part {
            MessageContent::Text(t) if t.is_empty() => {}
            MessageContent::Text(t) => texts.push(t.as_str()),
            other => return Err(misplaced(other, "a system message")),
        }
    }
    Ok((!texts.is_empty()).then(|| json!({ "role": "system", "content": texts.join(TEXT_PART_SEPARATOR) })))
}

/// A user message becomes one `tool` message per tool result, then one `user` message for
/// its text and images (if any): results must directly follow the assistant's tool calls.
fn user_messages(content: &[MessageContent]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    let mut parts = Vec::new();
    for part in content {
        match part {
            // Empty text blocks are dropped: some backends (Claude) reject them.
            MessageContent::Text(t) if t.is_empty() => {}
            MessageContent::Text(t) => parts.push(UserPart::Text(t)),
            MessageContent::Image(image) => parts.push(UserPart::Image(image_url(image)?)),
            MessageContent::ToolResult(result) => out.push(tool_message(result)?),
            other => return Err(misplaced(other, "a user message")),
        }
    }
    if let Some(content) = user_content(&parts) {
        out.push(json!({ "role": "user", "content": content }));
    }
    Ok(out)
}

enum UserPart<'a> {
    Text(&'a str),
    Image(String),
}

/// A plain string when there are no images (the form every model accepts), else parts.
fn user_content(parts: &[UserPart]) -> Option<Value> {
    if parts.is_empty() {
        return None;
    }
    if parts.iter().all(|p| matches!(p, UserPart::Text(_))) {
        let texts: Vec<&str> = parts
            .iter()
            .filter_map(|p| match p {
                UserPart::Text(t) => Some(*t),
                UserPart::Image(_) => None,
            })
            .collect();
        return Some(json!(texts.join(TEXT_PART_SEPARATOR)));
    }
    let values = parts
        .iter()
        .map(|p| match p {
            UserPart::Text(t) => json!({ "type": "text", "text": t }),
            UserPart::Image(url) => image_part(url),
        })
        .collect();
    Some(Value::Array(values))
}

fn image_part(url: &str) -> Value {
    json!({ "type": "image_url", "image_url": { "url": url } })
}

fn tool_message(result: &ToolResult) -> Result<Value, Error> {
    let content = match &result.content {
        ToolResultContent::Text(t) => json!(t),
        ToolResultContent::Image(image) => json!([image_part(&image_url(image)?)]),
    };
    Ok(json!({ "role": "tool", "tool_call_id": result.tool_use_id, "content": content }))
}

/// `None` when there is neither text nor a tool call: such an assistant message is invalid
/// for the API (its reasoning alone cannot be sent).
fn assistant_message(content: &[MessageContent]) -> Result<Option<Value>, Error> {
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    let mut reasoning_text = String::new();
    let mut reasoning_opaque = None;
    for part in content {
        match part {
            MessageContent::Text(t) if t.is_empty() => {}
            MessageContent::Text(t) => texts.push(t.as_str()),
            MessageContent::ToolUse(tool_use) => tool_calls.push(tool_call_json(tool_use)?),
            MessageContent::Thinking(thinking) => {
                // Streamed thinking arrives in pieces; the pieces concatenate back.
                reasoning_text.push_str(&thinking.text);
                if let Some(signature) = thinking.signature.as_deref().filter(|s| !s.is_empty()) {
                    reasoning_opaque = Some(opaque_of(signature));
                }
            }
            MessageContent::RedactedThinking(data) if data.is_empty() => {}
            MessageContent::RedactedThinking(data) => reasoning_opaque = Some(opaque_of(data)),
            other => return Err(misplaced(other, "an assistant message")),
        }
    }
    if texts.is_empty() && tool_calls.is_empty() {
        return Ok(None);
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    let content = if texts.is_empty() { Value::Null } else { json!(texts.join(TEXT_PART_SEPARATOR)) };
    message.insert("content".into(), content);
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    if !reasoning_text.is_empty() {
        message.insert("reasoning_text".into(), json!(reasoning_text));
    }
    if let Some(opaque) = reasoning_opaque {
        message.insert("reasoning_opaque".into(), json!(opaque));
    }
    Ok(Some(Value::Object(message)))
}

/// The opaque reasoning value to echo. Accepts either the raw value or the
/// `{"reasoning_opaque": "…"}` JSON that [`ChatDecoder`] emits as `reasoning-details`, so an
/// editor may store that event as redacted thinking (or a thinking signature) verbatim.
fn opaque_of(stored: &str) -> String {
    serde_json::from_str::<Value>(stored)
        .ok()
        .and_then(|v| v.get("reasoning_opaque").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| stored.to_string())
}

fn tool_call_json(tool_use: &ToolUse) -> Result<Value, Error> {
    let arguments = if tool_use.input.trim().is_empty() {
        "{}"
    } else {
        serde_json::from_str::<Value>(&tool_use.input).map_err(|e| {
            Error::InvalidRequest(format!(
                "the input of tool call `{}` (`{}`) is not JSON: {e}",
                tool_use.id, tool_use.name
            ))
        })?;
        tool_use.input.as_str()
    };
    let mut function = Map::new();
    function.insert("name".into(), json!(tool_use.name));
    function.insert("arguments".into(), json!(arguments));
    if let Some(signature) = &tool_use.thought_signature {
        // Gemini models need their signature back on the call (§4.3).
        function.insert("thought_signature".into(), json!(signature));
    }
    Ok(json!({ "id": tool_use.id, "type": "function", "function": function }))
}

fn misplaced(content: &MessageContent, place: &str) -> Error {
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

/// A `data:` URL for an image: base64 gets its media type from the bytes; a base64 `data:`
/// URL is re-labelled with the sniffed type (see `image_info`). Shared with `/responses`.
pub fn image_url(image: &ImageData) -> Result<String, Error> {
    image_info(image).map(|info| info.url)
}

/// What the request mapping knows about one image.
struct ImageInfo {
    /// The `data:` URL sent to the API.
    url: String,
    /// `image/png`, … : sniffed from the bytes when they are a known format, else declared.
    media_type: String,
    /// Decoded size in bytes.
    bytes: u64,
}

/// Reads an image source. Base64 gets its media type from the bytes' magic number
/// (whitespace such as base64 line breaks is removed). A base64 `data:` URL is re-labelled
/// with the sniffed type when it is PNG, JPEG, GIF or WebP (editors guess the type from file
/// names, and a wrong label makes the API refuse the image); any other `data:` URL passes
/// through with its declared type.
fn image_info(image: &ImageData) -> Result<ImageInfo, Error> {
    let source = image.source.trim();
    if source.get(..DATA_SCHEME.len()).is_some_and(|p| p.eq_ignore_ascii_case(DATA_SCHEME)) {
        return data_url_info(source);
    }
    let media_type = sniff_media_type(source).ok_or_else(|| {
        Error::InvalidRequest(
            "an image is neither a data: URL nor base64 PNG, JPEG, GIF or WebP data".to_string(),
        )
    })?;
    let payload: String = source.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    Ok(ImageInfo {
        bytes: base64_decoded_len(&payload),
        url: format!("data:{media_type};base64,{payload}"),
        media_type: media_type.to_string(),
    })
}

fn data_url_info(source: &str) -> Result<ImageInfo, Error> {
    let rest = source.get(DATA_SCHEME.len()..).unwrap_or_default();
    let Some((meta, payload)) = rest.split_once(',') else {
        return Err(Error::InvalidRequest("an image data: URL has no `,` before its data".to_string()));
    };
    let is_base64 = meta.to_ascii_lowercase().ends_with(";base64");
    let declared = meta.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if !is_base64 {
        return Ok(ImageInfo { url: source.to_string(), media_type: declared, bytes: payload.len() as u64 });
    }
    let payload: String = payload.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64_decoded_len(&payload);
    Ok(match sniff_media_type(&payload) {
        Some(sniffed) => ImageInfo { url: format!("data:{sniffed};base64,{payload}"), media_type: sniffed.to_string(), bytes },
        None => ImageInfo { url: source.to_string(), media_type: declared, bytes },
    })
}

/// Decoded length of base64 text without whitespace: 3 bytes per 4 characters, padding
/// excluded.
fn base64_decoded_len(payload: &str) -> u64 {
    let chars = payload.bytes().filter(|b| base64_value(*b).is_some()).count() as u64;
    chars * 3 / 4
}

fn sniff_media_type(base64: &str) -> Option<&'static str> {
    let bytes = decode_base64_prefix(base64, IMAGE_MAGIC_BYTES);
    match bytes.as_slice() {
        [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, ..] => Some("image/png"),
        [0xff, 0xd8, 0xff, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some("image/gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

/// Decodes up to `max` bytes from the start of standard or URL-safe base64, skipping
/// whitespace and stopping at padding or any other character.
fn decode_base64_prefix(text: &str, max: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(max);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in text.bytes() {
        if out.len() >= max {
            break;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        let Some(value) = base64_value(c) else { break };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn base64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Stream decoding
// ---------------------------------------------------------------------------------------------

/// Why a choice finished, ordered by which wins when several choices disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Finish {
    /// `stop`, or a reason we do not know.
    Stop,
    /// `tool_calls` or the legacy `function_call`.
    ToolCalls,
    /// `length`: the answer hit the token limit.
    Length,
    /// `content_filter`: the answer was withheld.
    ContentFilter,
}

impl Finish {
    fn parse(reason: &str) -> Finish {
        match reason {
            "tool_calls" | "function_call" => Finish::ToolCalls,
            "length" => Finish::Length,
            "content_filter" => Finish::ContentFilter,
            _ => Finish::Stop,
        }
    }
}

/// A tool call being assembled from its fragments.
#[derive(Debug)]
struct PendingCall {
    key: (u64, u64),
    id: String,
    name: String,
    arguments: String,
    thought_signature: Option<String>,
}

/// Decodes chat-completions chunks (SSE `data` payloads) into [`CompletionEvent`]s.
///
/// Emits `Started` once before anything else; `Usage` whenever a chunk carries `usage`
/// (also after `Stop`); tool calls whole, in (choice, index) order, right before the single
/// `Stop`. After an error every call returns that error again.
#[derive(Debug, Default)]
pub struct ChatDecoder {
    started: bool,
    /// `[DONE]` was seen: later payloads are ignored.
    done: bool,
    /// `Stop` was emitted.
    stopped: bool,
    /// The strongest finish reason seen so far.
    finish: Option<Finish>,
    choices_seen: BTreeSet<u64>,
    choices_finished: BTreeSet<u64>,
    /// Calls in order of first fragment; emitted sorted by key, stable for equal keys.
    calls: Vec<PendingCall>,
    /// (choice index, tool index) → position in `calls` of the call receiving fragments.
    slots: BTreeMap<(u64, u64), usize>,
    /// Some tool call was seen in this answer (turns a plain `stop` into a tool-use stop).
    saw_tool_calls: bool,
    failed: Option<Error>,
}

impl ChatDecoder {
    /// A decoder at the start of an answer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one SSE `data` payload. Empty payloads (keep-alives) are ignored.
    ///
    /// Errors: a payload that is not a JSON object is [`Error::Upstream`] with status 502
    /// ("malformed stream chunk"); a chunk with a top-level `error` object is classified by
    /// its code: [`Error::RateLimited`] for rate-limit codes, [`Error::QuotaExceeded`] for
    /// quota codes, else [`Error::Upstream`] with status 500 (the stream itself was a 200, but
    /// the server failed while answering, so it counts as a transient server error).
    pub fn on_data(&mut self, data: &str) -> Result<Vec<CompletionEvent>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.decode(data);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// The body ended. Flushes pending tool calls and `Stop` when a `finish_reason` was seen
    /// (a missing `[DONE]` is tolerated); without `[DONE]` and without any `finish_reason`
    /// the answer was cut off, which is [`Error::Network`].
    pub fn finish(&mut self) -> Result<Vec<CompletionEvent>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut events = Vec::new();
        if self.done || self.stopped || self.finish.is_some() {
            self.complete(&mut events);
            return Ok(events);
        }
        let e = Error::Network(
            "the stream ended before the answer was complete (no finish_reason and no [DONE]); \
             the connection may have dropped, retry"
                .to_string(),
        );
        self.failed = Some(e.clone());
        Err(e)
    }

    fn decode(&mut self, data: &str) -> Result<Vec<CompletionEvent>, Error> {
        let data = data.trim();
        let mut events = Vec::new();
        if self.done || data.is_empty() {
            return Ok(events);
        }
        if data == DONE_MARKER {
            self.start(&mut events);
            self.done = true;
            self.complete(&mut events);
            return Ok(events);
        }
        // Text deltas and finish reasons, the bulk of every answer, skip the `Value` tree.
        if let Some(choices) = crate::chat_fast::plain_choices(data) {
            self.start(&mut events);
            for (position, choice) in choices.into_iter().enumerate() {
                let index = choice.index.unwrap_or(position as u64);
                self.choices_seen.insert(index);
                if let Some(text) = choice.content.filter(|t| !t.is_empty()) {
                    events.push(CompletionEvent::Text(text.into_owned()));
                }
                if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
                    self.record_finish(index, &reason);
                }
            }
            if !self.stopped && self.finish.is_some() && self.choices_seen.is_subset(&self.choices_finished) {
                self.complete(&mut events);
            }
            return Ok(events);
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| malformed(&e.to_string()))?;
        let Value::Object(chunk) = chunk else {
            return Err(malformed("a chunk is not a JSON object"));
        };
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(Error::from_stream_error(error));
        }
        self.start(&mut events);
        // Usage first: it may ride on a chunk whose `choices` is empty (§4.3).
        if let Some(usage) = chunk.get("usage").and_then(usage_event) {
            events.push(usage);
        }
        if let Some(Value::Array(choices)) = chunk.get("choices") {
            for (position, choice) in choices.iter().enumerate() {
                self.on_choice(position, choice, &mut events)?;
            }
        }
        if !self.stopped && self.finish.is_some() && self.choices_seen.is_subset(&self.choices_finished) {
            self.complete(&mut events);
        }
        Ok(events)
    }

    fn start(&mut self, events: &mut Vec<CompletionEvent>) {
        if !self.started {
            self.started = true;
            events.push(CompletionEvent::Started);
        }
    }

    fn on_choice(&mut self, position: usize, choice: &Value, events: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        let Value::Object(choice) = choice else {
            return Ok(());
        };
        let index = choice.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
        self.choices_seen.insert(index);
        let delta = choice
            .get("delta")
            .filter(|d| d.is_object())
            .or_else(|| choice.get("message").filter(|m| m.is_object()));
        if let Some(delta) = delta {
            self.on_delta(index, delta, events)?;
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str).filter(|r| !r.is_empty()) {
            self.record_finish(index, reason);
        }
        Ok(())
    }

    /// Choice `index` finished for `reason`; the strongest reason of all choices wins.
    fn record_finish(&mut self, index: u64, reason: &str) {
        let finish = Finish::parse(reason);
        self.finish = Some(self.finish.map_or(finish, |f| f.max(finish)));
        self.choices_finished.insert(index);
    }

    fn on_delta(&mut self, choice: u64, delta: &Value, events: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        if let Some(text) = non_empty_str(delta, "reasoning_text") {
            events.push(CompletionEvent::Thinking(ThinkingContent {
                text: text.to_string(),
                signature: None,
            }));
        }
        if let Some(opaque) = non_empty_str(delta, "reasoning_opaque") {
            events.push(CompletionEvent::ReasoningDetails(json!({ "reasoning_opaque": opaque }).to_string()));
        }
        if let Some(text) = non_empty_str(delta, "content") {
            events.push(CompletionEvent::Text(text.to_string()));
        }
        if let Some(Value::Array(calls)) = delta.get("tool_calls") {
            for (position, call) in calls.iter().enumerate() {
                self.on_tool_call_fragment(choice, position, call)?;
            }
        }
        Ok(())
    }

    fn on_tool_call_fragment(&mut self, choice: u64, position: usize, call: &Value) -> Result<(), Error> {
        if !call.is_object() {
            return Ok(());
        }
        let index = call.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
        let function = call.get("function");
        let id = non_empty_str(call, "id");
        let slot = self.slot_for((choice, index), id);
        let Some(pending) = self.calls.get_mut(slot) else {
            return Ok(());
        };
        self.saw_tool_calls = true;
        if let Some(id) = id {
            pending.id = id.to_string();
        }
        if let Some(name) = function.and_then(|f| non_empty_str(f, "name")) {
            pending.name = name.to_string();
        }
        let signature = function
            .and_then(|f| non_empty_str(f, "thought_signature"))
            .or_else(|| non_empty_str(call, "thought_signature"));
        if let Some(signature) = signature {
            pending.thought_signature = Some(signature.to_string());
        }
        match function.and_then(|f| f.get("arguments")) {
            Some(Value::String(piece)) => append_arguments(&mut pending.arguments, piece)?,
            // A complete `message` may carry arguments as an object rather than JSON text.
            Some(v @ (Value::Object(_) | Value::Array(_))) => append_arguments(&mut pending.arguments, &v.to_string())?,
            _ => {}
        }
        Ok(())
    }

    /// The call that receives a fragment for `key`. A fragment whose `id` differs from the
    /// call already at that key starts a new call: some backends reuse index 0 for every
    /// parallel call, telling them apart only by id.
    fn slot_for(&mut self, key: (u64, u64), id: Option<&str>) -> usize {
        if let Some(&slot) = self.slots.get(&key) {
            let same = match (self.calls.get(slot), id) {
                (Some(call), Some(id)) => call.id.is_empty() || call.id == id,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if same {
                return slot;
            }
        }
        self.calls.push(PendingCall {
            key,
            id: String::new(),
            name: String::new(),
            arguments: String::new(),
            thought_signature: None,
        });
        let slot = self.calls.len() - 1;
        self.slots.insert(key, slot);
        slot
    }

    /// Emits every pending tool call, then `Stop` unless it was already sent.
    fn complete(&mut self, events: &mut Vec<CompletionEvent>) {
        let mut calls = std::mem::take(&mut self.calls);
        self.slots.clear();
        calls.sort_by_key(|c| c.key);
        events.extend(calls.into_iter().map(tool_event));
        if !self.stopped {
            self.stopped = true;
            events.push(CompletionEvent::Stop(self.stop_reason()));
        }
    }

    fn stop_reason(&self) -> StopReason {
        match self.finish {
            Some(Finish::ContentFilter) => StopReason::Refusal,
            Some(Finish::Length) => StopReason::MaxTokens,
            Some(Finish::ToolCalls) => StopReason::ToolUse,
            // VSC treats `stop` with accumulated tool calls as a tool-call finish (§4.3).
            Some(Finish::Stop) | None if self.saw_tool_calls => StopReason::ToolUse,
            Some(Finish::Stop) | None => StopReason::EndTurn,
        }
    }
}

fn append_arguments(arguments: &mut String, piece: &str) -> Result<(), Error> {
    if arguments.len().saturating_add(piece.len()) > MAX_TOOL_ARGUMENT_BYTES {
        return Err(Error::Upstream(Upstream {
            status: MALFORMED_CHUNK_STATUS,
            message: format!("a tool call's arguments exceeded {MAX_TOOL_ARGUMENT_BYTES} bytes"),
            request_id: None,
        }));
    }
    arguments.push_str(piece);
    Ok(())
}

fn tool_event(call: PendingCall) -> CompletionEvent {
    // Without an id the editor could not send the result back; make a stable one.
    let id = if call.id.is_empty() {
        format!("call_{}_{}", call.key.0, call.key.1)
    } else {
        call.id
    };
    events::tool_use(id, call.name, call.arguments, call.thought_signature)
}

/// Chat completions name usage `prompt_tokens` / `completion_tokens`.
const USAGE_FIELDS: UsageFields = UsageFields {
    input: "prompt_tokens",
    output: "completion_tokens",
    input_details: "prompt_tokens_details",
};

fn usage_event(usage: &Value) -> Option<CompletionEvent> {
    events::usage(usage, &USAGE_FIELDS)
}

fn malformed(detail: &str) -> Error {
    Error::Upstream(Upstream {
        status: MALFORMED_CHUNK_STATUS,
        message: format!("malformed stream chunk: {}", clean_message(detail)),
        request_id: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Body bytes → events
// ---------------------------------------------------------------------------------------------

/// Raw `/chat/completions` body bytes in, [`CompletionEvent`]s out.
pub type ChatStream = EventStream<ChatDecoder>;

impl SseDecoder for ChatDecoder {
    fn decode_event(&mut self, event: &SseEvent) -> Result<Vec<CompletionEvent>, Error> {
        if event.event.as_deref() == Some("error") {
            return Err(error_event(&event.data));
        }
        self.on_data(&event.data)
    }

    fn finish(&mut self) -> Result<Vec<CompletionEvent>, Error> {
        ChatDecoder::finish(self)
    }
}

/// An SSE event named `error`: its data is `{"error": {…}}`, a bare error object or text.
fn error_event(data: &str) -> Error {
    match serde_json::from_str::<Value>(data) {
        Ok(value) => match value.get("error").filter(|e| !e.is_null()) {
            Some(inner) => Error::from_stream_error(inner),
            None => Error::from_stream_error(&value),
        },
        Err(_) => Error::from_stream_error(&Value::String(data.to_string())),
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::copilot_chat::extension::llm_provider::TokenUsage;

    // ----- helpers ---------------------------------------------------------------------------

    fn request(messages: Vec<RequestMessage>) -> CompletionRequest {
        CompletionRequest {
            messages,
            tools: Vec::new(),
            tool_choice: None,
            stop_sequences: Vec::new(),
            temperature: None,
            thinking_allowed: false,
            max_tokens: None,
        }
    }

    fn message(role: MessageRole, content: Vec<MessageContent>) -> RequestMessage {
        RequestMessage { role, content, cache: false }
    }

    fn text(s: &str) -> MessageContent {
        MessageContent::Text(s.to_string())
    }

    fn image(source: &str) -> MessageContent {
        MessageContent::Image(ImageData { source: source.to_string(), width: None, height: None })
    }

    fn tool_use(id: &str, name: &str, input: &str) -> MessageContent {
        MessageContent::ToolUse(ToolUse {
            id: id.to_string(),
            name: name.to_string(),
            input: input.to_string(),
            is_input_complete: true,
            thought_signature: None,
        })
    }

    fn tool_result(id: &str, content: ToolResultContent) -> MessageContent {
        MessageContent::ToolResult(ToolResult {
            tool_use_id: id.to_string(),
            tool_name: "tool".to_string(),
            is_error: false,
            content,
        })
    }

    fn tool(name: &str, schema: &str) -> ToolDefinition {
        ToolDefinition {
            name: name.to_string(),
            description: format!("{name} things"),
            input_schema: schema.to_string(),
        }
    }

    fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        crate::host_api::header(headers, name)
    }

    const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUg==";
    const JPEG_B64: &str = "/9j/4AAQSkZJRg==";
    const GIF_B64: &str = "R0lGODlhAQABAIAA";
    const WEBP_B64: &str = "UklGRiQAAABXRUJQVlA4IA==";

    /// Events as comparable text (the generated WIT types implement `Debug`, not `PartialEq`).
    fn show(events: &[CompletionEvent]) -> Vec<String> {
        events.iter().map(|e| format!("{e:?}")).collect()
    }

    fn started() -> CompletionEvent {
        CompletionEvent::Started
    }

    fn text_ev(s: &str) -> CompletionEvent {
        CompletionEvent::Text(s.to_string())
    }

    fn stop(reason: StopReason) -> CompletionEvent {
        CompletionEvent::Stop(reason)
    }

    fn usage(input: u64, output: u64, cached: Option<u64>) -> CompletionEvent {
        CompletionEvent::Usage(TokenUsage {
            input_tokens: input,
            output_tokens: output,
            cache_creation_input_tokens: None,
            cache_read_input_tokens: cached,
        })
    }

    fn tool_ev(id: &str, name: &str, input: &str) -> CompletionEvent {
        CompletionEvent::ToolUse(ToolUse {
            id: id.to_string(),
            name: name.to_string(),
            input: input.to_string(),
            is_input_complete: true,
            thought_signature: None,
        })
    }

    /// Feeds `data` payloads to a fresh decoder and ends it; the first error is returned.
    fn decode_all(payloads: &[&str]) -> Result<Vec<CompletionEvent>, Error> {
        let mut decoder = ChatDecoder::new();
        let mut out = Vec::new();
        for p in payloads {
            out.extend(decoder.on_data(p)?);
        }
        out.extend(decoder.finish()?);
        Ok(out)
    }

    fn stream_chunks(chunks: &[&[u8]]) -> Result<Vec<CompletionEvent>, Error> {
        let mut stream = ChatStream::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(stream.push(c)?);
        }
        out.extend(stream.finish()?);
        Ok(out)
    }

    fn sse(payloads: &[&str]) -> String {
        payloads.iter().map(|p| format!("data: {p}\n\n")).collect()
    }

    // ----- request mapping -------------------------------------------------------------------

    #[test]
    fn body_maps_a_whole_conversation() {
        let mut req = request(vec![
            message(MessageRole::System, vec![text("You are terse.")]),
            message(MessageRole::User, vec![text("List src")]),
            message(
                MessageRole::Assistant,
                vec![
                    MessageContent::Thinking(ThinkingContent { text: "Need ".into(), signature: None }),
                    MessageContent::Thinking(ThinkingContent {
                        text: "ls.".into(),
                        signature: Some(r#"{"reasoning_opaque":"enc-1"}"#.into()),
                    }),
                    text("Listing."),
                    tool_use("call_1", "ls", r#"{"dir":"src"}"#),
                    tool_use("call_2", "pwd", ""),
                ],
            ),
            message(
                MessageRole::User,
                vec![
                    tool_result("call_1", ToolResultContent::Text("a.rs\nb.rs".into())),
                    tool_result("call_2", ToolResultContent::Text("/w".into())),
                ],
            ),
        ]);
        req.tools = vec![tool("ls", r#"{"type":"object","properties":{"dir":{"type":"string"}}}"#), tool("pwd", "{}")];
        req.tool_choice = Some(ToolChoice::Auto);
        req.temperature = Some(0.1);
        req.stop_sequences = vec!["END".into()];
        let body = chat_body("gpt-4.1", &req, None).unwrap();
        let expected = json!({
            "model": "gpt-4.1",
            "stream": true,
            "n": 1,
            "stream_options": { "include_usage": true },
            "temperature": 0.1,
            "stop": ["END"],
            "tools": [
                { "type": "function", "function": { "name": "ls", "description": "ls things",
                  "parameters": { "type": "object", "properties": { "dir": { "type": "string" } } } } },
                { "type": "function", "function": { "name": "pwd", "description": "pwd things", "parameters": {} } },
            ],
            "tool_choice": "auto",
            "messages": [
                { "role": "system", "content": "You are terse." },
                { "role": "user", "content": "List src" },
                { "role": "assistant", "content": "Listing.",
                  "reasoning_text": "Need ls.", "reasoning_opaque": "enc-1",
                  "tool_calls": [
                    { "id": "call_1", "type": "function", "function": { "name": "ls", "arguments": "{\"dir\":\"src\"}" } },
                    { "id": "call_2", "type": "function", "function": { "name": "pwd", "arguments": "{}" } },
                  ] },
                { "role": "tool", "tool_call_id": "call_1", "content": "a.rs\nb.rs" },
                { "role": "tool", "tool_call_id": "call_2", "content": "/w" },
            ],
        });
        assert_eq!(body, expected);
    }

    #[test]
    fn assistant_without_text_has_null_content_and_redacted_thinking_is_echoed() {
        let req = request(vec![message(
            MessageRole::Assistant,
            vec![MessageContent::RedactedThinking("opaque-raw".into()), tool_use("c", "t", "{}")],
        )]);
        let body = chat_body("m", &req, None).unwrap();
        assert_eq!(
            body["messages"],
            json!([{ "role": "assistant", "content": null, "reasoning_opaque": "opaque-raw",
                     "tool_calls": [{ "id": "c", "type": "function", "function": { "name": "t", "arguments": "{}" } }] }])
        );
    }

    #[test]
    fn thought_signature_is_echoed_on_the_function() {
        let req = request(vec![message(
            MessageRole::Assistant,
            vec![MessageContent::ToolUse(ToolUse {
                id: "c".into(),
                name: "t".into(),
                input: "{}".into(),
                is_input_complete: true,
                thought_signature: Some("sig".into()),
            })],
        )]);
        let body = chat_body("m", &req, None).unwrap();
        assert_eq!(body["messages"][0]["tool_calls"][0]["function"]["thought_signature"], json!("sig"));
    }

    #[test]
    fn empty_messages_are_dropped() {
        let req = request(vec![
            message(MessageRole::System, vec![text("")]),
            message(MessageRole::Assistant, vec![MessageContent::Thinking(ThinkingContent { text: "x".into(), signature: None })]),
            message(MessageRole::User, vec![text(""), text("hi")]),
        ]);
        let body = chat_body("m", &req, None).unwrap();
        assert_eq!(body["messages"], json!([{ "role": "user", "content": "hi" }]));
    }

    #[test]
    fn tool_results_come_before_the_rest_of_the_user_message() {
        let req = request(vec![message(
            MessageRole::User,
            vec![
                text("here:"),
                tool_result("c1", ToolResultContent::Text("ok".into())),
                text("and continue"),
                tool_result("c2", ToolResultContent::Image(ImageData { source: PNG_B64.into(), width: None, height: None })),
            ],
        )]);
        let body = chat_body("m", &req, None).unwrap();
        assert_eq!(
            body["messages"],
            json!([
                { "role": "tool", "tool_call_id": "c1", "content": "ok" },
                { "role": "tool", "tool_call_id": "c2", "content": [
                    { "type": "image_url", "image_url": { "url": format!("data:image/png;base64,{PNG_B64}") } } ] },
                { "role": "user", "content": "here:\n\nand continue" },
            ])
        );
    }

    #[test]
    fn images_get_their_media_type_from_the_bytes() {
        for (b64, media) in [(PNG_B64, "image/png"), (JPEG_B64, "image/jpeg"), (GIF_B64, "image/gif"), (WEBP_B64, "image/webp")] {
            let req = request(vec![message(MessageRole::User, vec![text("what is this?"), image(b64)])]);
            let body = chat_body("m", &req, None).unwrap();
            assert_eq!(
                body["messages"][0]["content"],
                json!([
                    { "type": "text", "text": "what is this?" },
                    { "type": "image_url", "image_url": { "url": format!("data:{media};base64,{b64}") } },
                ]),
                "{media}"
            );
        }
    }

    #[test]
    fn base64_line_breaks_are_removed_and_data_urls_pass_through() {
        let wrapped = "iVBORw0K\nGgoAAAAN\r\nSUhEUg==";
        let req = request(vec![message(MessageRole::User, vec![image(wrapped), image("data:image/svg+xml;base64,PHN2Zz4=")])]);
        let body = chat_body("m", &req, None).unwrap();
        assert_eq!(
            body["messages"][0]["content"],
            json!([
                { "type": "image_url", "image_url": { "url": format!("data:image/png;base64,{PNG_B64}") } },
                { "type": "image_url", "image_url": { "url": "data:image/svg+xml;base64,PHN2Zz4=" } },
            ])
        );
    }

    #[test]
    fn unknown_image_bytes_are_an_invalid_request() {
        let req = request(vec![message(MessageRole::User, vec![image("SGVsbG8gd29ybGQh")])]);
        assert!(matches!(chat_body("m", &req, None), Err(Error::InvalidRequest(_))));
        let req = request(vec![message(MessageRole::User, vec![image("")])]);
        assert!(matches!(chat_body("m", &req, None), Err(Error::InvalidRequest(_))));
    }

    #[test]
    fn tool_choice_maps_and_needs_tools() {
        for (choice, expected) in [(ToolChoice::Auto, "auto"), (ToolChoice::Any, "required"), (ToolChoice::None, "none")] {
            let mut req = request(vec![message(MessageRole::User, vec![text("hi")])]);
            req.tools = vec![tool("t", "{}")];
            req.tool_choice = Some(choice);
            assert_eq!(chat_body("m", &req, None).unwrap()["tool_choice"], json!(expected));
        }
        let mut req = request(vec![message(MessageRole::User, vec![text("hi")])]);
        req.tool_choice = Some(ToolChoice::Any);
        let body = chat_body("m", &req, None).unwrap();
        assert!(body.get("tool_choice").is_none() && body.get("tools").is_none());
        assert!(body.get("temperature").is_none() && body.get("stop").is_none() && body.get("max_tokens").is_none());
    }

    fn model(id: &str) -> Model {
        Model { id: id.to_string(), name: id.to_string(), ..Model::default() }
    }

    fn vision_model() -> Model {
        Model {
            supports_vision: true,
            vision_max_image_bytes: Some(16),
            vision_media_types: vec!["image/png".into(), "image/jpeg".into(), "image/gif".into()],
            ..model("gpt-4.1")
        }
    }

    #[test]
    fn max_tokens_is_bounded_by_the_model() {
        let mut req = request(vec![message(MessageRole::User, vec![text("hi")])]);
        let limited = Model { max_output_tokens: Some(16_384), ..model("m") };
        req.max_tokens = Some(64_000);
        assert_eq!(chat_body("m", &req, Some(&limited)).unwrap()["max_tokens"], json!(16_384));
        req.max_tokens = Some(1_000);
        assert_eq!(chat_body("m", &req, Some(&limited)).unwrap()["max_tokens"], json!(1_000));
        assert_eq!(chat_body("m", &req, None).unwrap()["max_tokens"], json!(1_000));
        req.max_tokens = None;
        assert_eq!(chat_body("m", &req, Some(&limited)).unwrap()["max_tokens"], json!(16_384));
    }

    #[test]
    fn images_are_checked_against_the_model() {
        let req = request(vec![message(MessageRole::User, vec![text("look"), image(PNG_B64)])]);
        let plain = model("gpt-4o-mini");
        match chat_body("gpt-4o-mini", &req, Some(&plain)) {
            Err(Error::InvalidRequest(m)) => assert!(m.contains("gpt-4o-mini does not accept images"), "{m}"),
            other => panic!("unexpected {other:?}"),
        }
        // The same image in a tool result is checked too.
        let in_result = request(vec![message(
            MessageRole::User,
            vec![tool_result("c", ToolResultContent::Image(ImageData { source: PNG_B64.into(), width: None, height: None }))],
        )]);
        assert!(matches!(chat_body("m", &in_result, Some(&plain)), Err(Error::InvalidRequest(_))));
        // Limits alone count as vision (catalogs that omit the flag).
        let limits_only = Model { vision_max_image_bytes: Some(1 << 20), ..model("m") };
        assert!(chat_body("m", &req, Some(&limits_only)).is_ok());

        let vision = vision_model();
        assert!(chat_body("gpt-4.1", &req, Some(&vision)).is_ok(), "16 bytes fit");
        let big = format!("{PNG_B64}AAAAAAAA");
        let req = request(vec![message(MessageRole::User, vec![image(&big)])]);
        match chat_body("gpt-4.1", &req, Some(&vision)) {
            Err(Error::InvalidRequest(m)) => assert!(m.contains("image 1 is 22 bytes, more than the 16 bytes gpt-4.1 accepts"), "{m}"),
            other => panic!("unexpected {other:?}"),
        }
        let req = request(vec![message(MessageRole::User, vec![image(PNG_B64), image(WEBP_B64)])]);
        match chat_body("gpt-4.1", &req, Some(&vision)) {
            Err(Error::InvalidRequest(m)) => assert!(m.contains("image 2 is image/webp"), "{m}"),
            other => panic!("unexpected {other:?}"),
        }
        // Unknown model (not in the catalog): the server judges.
        assert!(chat_body("x", &req, None).is_ok());
    }

    #[test]
    fn a_mislabelled_data_url_gets_the_sniffed_type() {
        let req = request(vec![message(MessageRole::User, vec![image(&format!("data:image/jpeg;base64,{PNG_B64}"))])]);
        let body = chat_body("m", &req, Some(&vision_model())).unwrap();
        assert_eq!(body["messages"][0]["content"][0]["image_url"]["url"], json!(format!("data:image/png;base64,{PNG_B64}")));
        let req = request(vec![message(MessageRole::User, vec![image("data:image/png;base64")])]);
        assert!(matches!(chat_body("m", &req, None), Err(Error::InvalidRequest(_))));
        let req = request(vec![message(MessageRole::User, vec![image("data:image/svg+xml;base64,PHN2Zz4=")])]);
        match chat_body("m", &req, Some(&vision_model())) {
            Err(Error::InvalidRequest(m)) => assert!(m.contains("image/svg+xml"), "{m}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn thinking_allowed_maps_to_the_models_reasoning_effort() {
        let mut req = request(vec![message(MessageRole::User, vec![text("think")])]);
        let efforts = |levels: &[&str]| Model { reasoning_efforts: levels.iter().map(|l| l.to_string()).collect(), ..model("m") };
        let with_medium = efforts(&["low", "medium", "high"]);
        assert!(chat_body("m", &req, Some(&with_medium)).unwrap().get("reasoning_effort").is_none(), "not allowed");
        req.thinking_allowed = true;
        assert_eq!(chat_body("m", &req, Some(&with_medium)).unwrap()["reasoning_effort"], json!("medium"));
        assert_eq!(chat_body("m", &req, Some(&efforts(&["low", "high"]))).unwrap()["reasoning_effort"], json!("high"));
        assert_eq!(chat_body("m", &req, Some(&efforts(&["minimal"]))).unwrap()["reasoning_effort"], json!("minimal"));
        let budget_only = Model { supports_thinking: true, ..model("claude") };
        assert!(chat_body("m", &req, Some(&budget_only)).unwrap().get("reasoning_effort").is_none());
        assert!(chat_body("m", &req, None).unwrap().get("reasoning_effort").is_none());
    }

    #[test]
    fn thinking_allowed_maps_to_a_budget_for_budget_models() {
        let mut req = request(vec![message(MessageRole::User, vec![text("think")])]);
        let claude = Model {
            supports_thinking: true,
            min_thinking_budget: Some(1024),
            max_thinking_budget: Some(32_000),
            max_output_tokens: Some(64_000),
            ..model("claude")
        };
        assert!(chat_body("claude", &req, Some(&claude)).unwrap().get("thinking_budget").is_none(), "not allowed");
        req.thinking_allowed = true;
        let body = chat_body("claude", &req, Some(&claude)).unwrap();
        assert_eq!(body["thinking_budget"], json!(16_000));
        assert!(body.get("reasoning_effort").is_none());
        // The budget stays below the output limit the request sets, and within the model's range.
        req.max_tokens = Some(4_000);
        assert_eq!(chat_body("claude", &req, Some(&claude)).unwrap()["thinking_budget"], json!(3_999));
        req.max_tokens = Some(900);
        assert!(chat_body("claude", &req, Some(&claude)).unwrap().get("thinking_budget").is_none(), "no budget fits");
        let small = Model { max_thinking_budget: Some(8_000), ..claude.clone() };
        req.max_tokens = None;
        assert_eq!(chat_body("claude", &req, Some(&small)).unwrap()["thinking_budget"], json!(8_000));
        // Effort levels win when a model lists both.
        let both = Model { reasoning_efforts: vec!["low".into(), "high".into()], ..claude };
        let body = chat_body("claude", &req, Some(&both)).unwrap();
        assert_eq!(body["reasoning_effort"], json!("high"));
        assert!(body.get("thinking_budget").is_none());
    }

    #[test]
    fn gemini_thought_signatures_round_trip() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"g1","function":{"name":"read","arguments":"{}","thought_signature":"SIG=="}}]}}]}"#,
            r#"{"choices":[{"index":0,"finish_reason":"tool_calls"}]}"#,
        ])
        .unwrap();
        let Some(CompletionEvent::ToolUse(used)) = events.get(1) else { panic!("{:?}", show(&events)) };
        assert_eq!(used.thought_signature.as_deref(), Some("SIG=="));
        let req = request(vec![message(MessageRole::Assistant, vec![MessageContent::ToolUse(used.clone())])]);
        let body = chat_body("gemini-2.5-pro", &req, None).unwrap();
        assert_eq!(body["messages"][0]["tool_calls"][0]["function"]["thought_signature"], json!("SIG=="));
    }

    #[test]
    fn cache_flag_marks_the_last_message_it_became() {
        let mut user = message(
            MessageRole::User,
            vec![tool_result("c1", ToolResultContent::Text("ok".into())), text("next")],
        );
        user.cache = true;
        let mut tools_only = message(MessageRole::User, vec![tool_result("c2", ToolResultContent::Text("ok".into()))]);
        tools_only.cache = true;
        let req = request(vec![message(MessageRole::System, vec![text("s")]), user, tools_only]);
        let body = chat_body("m", &req, None).unwrap();
        let cache = json!({ "type": "ephemeral" });
        assert!(body["messages"][0].get("copilot_cache_control").is_none());
        assert!(body["messages"][1].get("copilot_cache_control").is_none());
        assert_eq!(body["messages"][2]["copilot_cache_control"], cache);
        assert_eq!(body["messages"][3]["copilot_cache_control"], cache);
    }

    #[test]
    fn invalid_schema_or_tool_input_is_an_invalid_request() {
        let mut req = request(vec![message(MessageRole::User, vec![text("hi")])]);
        req.tools = vec![tool("broken", "{not json")];
        match chat_body("m", &req, None) {
            Err(Error::InvalidRequest(m)) => assert!(m.contains("broken"), "{m}"),
            other => panic!("unexpected {other:?}"),
        }
        let req = request(vec![message(MessageRole::Assistant, vec![tool_use("c", "t", "{\"a\":")])]);
        assert!(matches!(chat_body("m", &req, None), Err(Error::InvalidRequest(_))));
    }

    #[test]
    fn content_in_the_wrong_role_is_an_invalid_request() {
        for (role, content) in [
            (MessageRole::User, tool_use("c", "t", "{}")),
            (MessageRole::Assistant, image(PNG_B64)),
            (MessageRole::Assistant, tool_result("c", ToolResultContent::Text("x".into()))),
            (MessageRole::System, image(PNG_B64)),
        ] {
            let req = request(vec![message(role, vec![content])]);
            assert!(matches!(chat_body("m", &req, None), Err(Error::InvalidRequest(_))));
        }
    }

    #[test]
    fn non_finite_temperature_is_rejected() {
        let mut req = request(vec![message(MessageRole::User, vec![text("hi")])]);
        req.temperature = Some(f32::NAN);
        assert!(matches!(chat_body("m", &req, None), Err(Error::InvalidRequest(_))));
    }

    #[test]
    fn initiator_is_user_only_for_a_human_turn() {
        let human = request(vec![message(MessageRole::User, vec![text("hi")])]);
        let h = request_headers(&human);
        assert_eq!(header_value(&h, "X-Initiator"), Some("user"));
        assert_eq!(header_value(&h, "Openai-Intent"), Some("conversation-panel"));
        assert_eq!(header_value(&h, "Copilot-Vision-Request"), None);

        let mut follow_up = request(vec![
            message(MessageRole::User, vec![text("hi")]),
            message(MessageRole::Assistant, vec![tool_use("c", "t", "{}")]),
            message(MessageRole::User, vec![tool_result("c", ToolResultContent::Text("ok".into()))]),
        ]);
        follow_up.tools = vec![tool("t", "{}")];
        let h = request_headers(&follow_up);
        assert_eq!(header_value(&h, "X-Initiator"), Some("agent"));
        assert_eq!(header_value(&h, "Openai-Intent"), Some("conversation-agent"));

        let assistant_last = request(vec![message(MessageRole::Assistant, vec![text("…")])]);
        assert_eq!(header_value(&request_headers(&assistant_last), "X-Initiator"), Some("agent"));
        assert_eq!(header_value(&request_headers(&request(vec![])), "X-Initiator"), Some("agent"));
    }

    #[test]
    fn vision_header_only_with_an_image() {
        let with_image = request(vec![message(MessageRole::User, vec![image(JPEG_B64)])]);
        let h = request_headers(&with_image);
        assert_eq!(header_value(&h, "Copilot-Vision-Request"), Some("true"));
        assert_eq!(header_value(&h, "X-Initiator"), Some("user"));
        let image_result = request(vec![message(
            MessageRole::User,
            vec![tool_result("c", ToolResultContent::Image(ImageData { source: GIF_B64.into(), width: None, height: None }))],
        )]);
        let h = request_headers(&image_result);
        assert_eq!(header_value(&h, "Copilot-Vision-Request"), Some("true"));
        assert_eq!(header_value(&h, "X-Initiator"), Some("agent"));
    }

    // ----- stream decoding -------------------------------------------------------------------

    const EMPTY_FIRST: &str = r#"{"choices":[],"created":0,"id":"","prompt_filter_results":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"prompt_index":0}]}"#;
    const USAGE_ONLY: &str = r#"{"choices":[],"created":1,"id":"c1","model":"gpt-4.1","usage":{"completion_tokens":3,"prompt_tokens":12,"prompt_tokens_details":{"cached_tokens":4},"total_tokens":15}}"#;

    #[test]
    fn text_stream_with_empty_first_chunk_and_usage_only_chunk() {
        let events = decode_all(&[
            EMPTY_FIRST,
            r#"{"choices":[{"index":0,"delta":{"content":"Hel","role":"assistant"}}],"created":1,"id":"c1","model":"gpt-4.1"}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"lo"}}],"created":1,"id":"c1","model":"gpt-4.1"}"#,
            r#"{"choices":[{"index":0,"delta":{"content":null},"finish_reason":"stop"}],"created":1,"id":"c1"}"#,
            USAGE_ONLY,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[started(), text_ev("Hel"), text_ev("lo"), stop(StopReason::EndTurn), usage(12, 3, Some(4))])
        );
    }

    #[test]
    fn two_parallel_tool_calls_with_interleaved_fragments() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"read_file","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"grep","arguments":"{\"pat"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"path\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"tern\":\"fn \\\"x\\\"\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"src/a.rs\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            USAGE_ONLY,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[
                started(),
                tool_ev("call_a", "read_file", r#"{"path":"src/a.rs"}"#),
                tool_ev("call_b", "grep", r#"{"pattern":"fn \"x\""}"#),
                stop(StopReason::ToolUse),
                usage(12, 3, Some(4)),
            ])
        );
    }

    #[test]
    fn three_parallel_tool_calls_emitted_in_index_order_after_text() {
        // Index 2 starts before index 1; one chunk carries fragments of several calls; the
        // finish reason is a plain `stop`, which still means tool use.
        let events = decode_all(&[
            EMPTY_FIRST,
            r#"{"choices":[{"index":0,"delta":{"content":"Let me look."}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t0","function":{"name":"a","arguments":"{\"n\":"}},{"index":2,"id":"t2","function":{"name":"c","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"t1","function":{"name":"b","arguments":"{\"n\":1"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"function":{"arguments":"{\"n\":2}"}},{"index":0,"function":{"arguments":"0}"}},{"index":1,"function":{"arguments":"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"finish_reason":"stop","delta":{}}],"usage":{"prompt_tokens":5,"completion_tokens":9}}"#,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[
                started(),
                text_ev("Let me look."),
                usage(5, 9, None),
                tool_ev("t0", "a", r#"{"n":0}"#),
                tool_ev("t1", "b", r#"{"n":1}"#),
                tool_ev("t2", "c", r#"{"n":2}"#),
                stop(StopReason::ToolUse),
            ])
        );
    }

    #[test]
    fn malformed_tool_json_becomes_a_parse_error_event() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"bad","function":{"name":"edit","arguments":"{\"path\": "}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"empty","function":{"name":"now"}}]}}]}"#,
            r#"{"choices":[{"index":0,"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(events.len(), 4, "{:?}", show(&events));
        match events.get(1) {
            Some(CompletionEvent::ToolUseJsonParseError(e)) => {
                assert_eq!((e.id.as_str(), e.tool_name.as_str(), e.raw_input.as_str()), ("bad", "edit", "{\"path\": "));
                assert!(!e.error.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(show(&events[2..]), show(&[tool_ev("empty", "now", "{}"), stop(StopReason::ToolUse)]));
    }

    #[test]
    fn finish_reasons_map_to_stop_reasons() {
        for (reason, expected) in [
            ("stop", StopReason::EndTurn),
            ("length", StopReason::MaxTokens),
            ("tool_calls", StopReason::ToolUse),
            ("function_call", StopReason::ToolUse),
            ("content_filter", StopReason::Refusal),
            ("something_new", StopReason::EndTurn),
        ] {
            let chunk = format!(r#"{{"choices":[{{"index":0,"delta":{{"content":"x"}},"finish_reason":"{reason}"}}]}}"#);
            let events = decode_all(&[&chunk, "[DONE]"]).unwrap();
            assert_eq!(show(&events), show(&[started(), text_ev("x"), stop(expected)]), "{reason}");
        }
    }

    #[test]
    fn stop_is_emitted_once() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            "[DONE]",
            r#"{"choices":[{"index":0,"delta":{"content":"after done"}}]}"#,
        ])
        .unwrap();
        assert_eq!(show(&events), show(&[started(), text_ev("a"), stop(StopReason::EndTurn)]));
    }

    #[test]
    fn mid_stream_error_object_is_an_upstream_error() {
        let mut decoder = ChatDecoder::new();
        let first = decoder.on_data(r#"{"choices":[{"index":0,"delta":{"content":"partial"}}]}"#).unwrap();
        assert_eq!(show(&first), show(&[started(), text_ev("partial")]));
        let err = decoder
            .on_data(r#"{"choices":null,"error":{"message":"Sorry, the upstream failed for ghu_abcdef123456","code":"server_error"}}"#)
            .unwrap_err();
        assert_eq!(
            err,
            Error::Upstream(Upstream {
                status: 500,
                message: "Sorry, the upstream failed for [redacted]".into(),
                request_id: None
            })
        );
        assert!(err.is_transient());
        assert_eq!(decoder.finish().unwrap_err(), err);
    }

    #[test]
    fn mid_stream_rate_limit_and_quota_are_typed() {
        let err = decode_all(&[r#"{"error":{"message":"slow down","code":"user_model_rate_limited"}}"#]).unwrap_err();
        assert_eq!(
            err,
            Error::RateLimited {
                message: "slow down; this model is rate limited for your account: wait or pick another model".into(),
                code: Some("user_model_rate_limited".into()),
                retry_after_secs: None
            }
        );
        let err = decode_all(&[r#"{"error":{"message":"out","type":"rate_limit_error"}}"#]).unwrap_err();
        assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
        let err = decode_all(&[r#"{"error":{"message":"no more","code":"free_quota_exceeded"}}"#]).unwrap_err();
        assert!(matches!(err, Error::QuotaExceeded { .. }), "{err:?}");
        let err = decode_all(&[r#"{"error":"plain text failure"}"#]).unwrap_err();
        assert_eq!(err, Error::Upstream(Upstream { status: 500, message: "plain text failure".into(), request_id: None }));
    }

    #[test]
    fn non_json_chunk_is_a_malformed_stream_error() {
        for bad in ["{\"choices\":[", "hello", "[1,2]", "42"] {
            match decode_all(&[bad]) {
                Err(Error::Upstream(u)) => {
                    assert_eq!(u.status, 502);
                    assert!(u.message.starts_with("malformed stream chunk"), "{}", u.message);
                }
                other => panic!("{bad}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn truncated_stream_is_a_network_error() {
        let err = decode_all(&[r#"{"choices":[{"index":0,"delta":{"content":"The answer is"}}]}"#]).unwrap_err();
        match err {
            Error::Network(m) => assert!(m.contains("ended before the answer was complete"), "{m}"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(decode_all(&[]), Err(Error::Network(_))));
        assert!(matches!(decode_all(&[EMPTY_FIRST]), Err(Error::Network(_))));
    }

    #[test]
    fn finish_reason_without_done_is_complete() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"x","function":{"name":"f","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"finish_reason":"tool_calls"}]}"#,
            USAGE_ONLY,
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[started(), tool_ev("x", "f", "{}"), stop(StopReason::ToolUse), usage(12, 3, Some(4))])
        );
    }

    #[test]
    fn done_flushes_pending_tool_calls_without_a_finish_reason() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"x","function":{"name":"f","arguments":"{\"a\":1}"}}]}}]}"#,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(show(&events), show(&[started(), tool_ev("x", "f", r#"{"a":1}"#), stop(StopReason::ToolUse)]));
        let events = decode_all(&["[DONE]"]).unwrap();
        assert_eq!(show(&events), show(&[started(), stop(StopReason::EndTurn)]));
    }

    #[test]
    fn reasoning_text_and_opaque() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"reasoning_text":"Think","role":"assistant"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"reasoning_text":"ing."}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"reasoning_opaque":"ENC+/=="}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Answer"},"finish_reason":"stop"}]}"#,
            "[DONE]",
        ])
        .unwrap();
        let thinking = |t: &str| CompletionEvent::Thinking(ThinkingContent { text: t.into(), signature: None });
        assert_eq!(
            show(&events),
            show(&[
                started(),
                thinking("Think"),
                thinking("ing."),
                CompletionEvent::ReasoningDetails(r#"{"reasoning_opaque":"ENC+/=="}"#.into()),
                text_ev("Answer"),
                stop(StopReason::EndTurn),
            ])
        );
        // What the decoder emits round-trips into the next request.
        let req = request(vec![message(
            MessageRole::Assistant,
            vec![MessageContent::RedactedThinking(r#"{"reasoning_opaque":"ENC+/=="}"#.into()), text("Answer")],
        )]);
        assert_eq!(chat_body("m", &req, None).unwrap()["messages"][0]["reasoning_opaque"], json!("ENC+/=="));
    }

    #[test]
    fn message_in_place_of_delta_and_missing_or_null_choices() {
        let events = decode_all(&[
            r#"{"id":"x"}"#,
            r#"{"choices":null,"copilot_references":[]}"#,
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Whole","tool_calls":[{"id":"m1","type":"function","function":{"name":"f","arguments":{"k":true}}}]},"finish_reason":"tool_calls"}]}"#,
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[started(), text_ev("Whole"), tool_ev("m1", "f", r#"{"k":true}"#), stop(StopReason::ToolUse)])
        );
    }

    #[test]
    fn several_choices_stop_only_when_all_finished() {
        // Text on choice 0, tool calls on choice 1 with the same tool index 0 (keys differ).
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"content":"I'll check."}}]}"#,
            r#"{"choices":[{"index":1,"delta":{"tool_calls":[{"index":0,"id":"k1","function":{"name":"f","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"k0","function":{"name":"g","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"index":1,"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[started(), text_ev("I'll check."), tool_ev("k0", "g", "{}"), tool_ev("k1", "f", "{}"), stop(StopReason::ToolUse)])
        );
    }

    #[test]
    fn a_reused_index_with_a_new_id_is_a_new_call() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"g1","function":{"name":"a","arguments":"{\"x\":1}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"g2","function":{"name":"b","arguments":"{\"y\":2}","thought_signature":"sig2"}}]}}]}"#,
            r#"{"choices":[{"index":0,"finish_reason":"tool_calls"}]}"#,
        ])
        .unwrap();
        let mut second = tool_ev("g2", "b", r#"{"y":2}"#);
        if let CompletionEvent::ToolUse(u) = &mut second {
            u.thought_signature = Some("sig2".into());
        }
        assert_eq!(
            show(&events),
            show(&[started(), tool_ev("g1", "a", r#"{"x":1}"#), second, stop(StopReason::ToolUse)])
        );
    }

    #[test]
    fn oversized_tool_arguments_are_an_error() {
        let piece = "x".repeat(MAX_TOOL_ARGUMENT_BYTES / 2 + 1);
        let chunk = json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"big","function":{"name":"f","arguments":piece}}]}}]}).to_string();
        let mut decoder = ChatDecoder::new();
        decoder.on_data(&chunk).unwrap();
        assert!(matches!(decoder.on_data(&chunk), Err(Error::Upstream(Upstream { status: 502, .. }))));
    }

    // ----- raw bytes through ChatStream ------------------------------------------------------

    /// A body with every quirk: keep-alive comment, CRLF, empty-choices chunk, text, reasoning,
    /// interleaved tool calls with multi-byte text, finish, usage-only chunk and `[DONE]`.
    fn transcript() -> String {
        let mut body = String::from(": keep-alive\r\n\r\n");
        body.push_str(&sse(&[
            EMPTY_FIRST,
            r#"{"choices":[{"index":0,"delta":{"reasoning_text":"Plan: grep ✓","role":"assistant"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"reasoning_opaque":"opaq"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Searching für 🦀…"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"grep","arguments":"{\"q\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"read","arguments":"{\"path\":\"ü.rs\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"日本\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            USAGE_ONLY,
        ]));
        body.push_str("data: [DONE]\r\n\r\n");
        body
    }

    fn transcript_events() -> Vec<CompletionEvent> {
        vec![
            started(),
            CompletionEvent::Thinking(ThinkingContent { text: "Plan: grep ✓".into(), signature: None }),
            CompletionEvent::ReasoningDetails(r#"{"reasoning_opaque":"opaq"}"#.into()),
            text_ev("Searching für 🦀…"),
            tool_ev("call_1", "grep", r#"{"q":"日本"}"#),
            tool_ev("call_2", "read", r#"{"path":"ü.rs"}"#),
            stop(StopReason::ToolUse),
            usage(12, 3, Some(4)),
        ]
    }

    #[test]
    fn chat_stream_decodes_a_transcript() {
        let body = transcript();
        assert_eq!(show(&stream_chunks(&[body.as_bytes()]).unwrap()), show(&transcript_events()));
    }

    #[test]
    fn chat_stream_is_independent_of_chunking() {
        let body = transcript();
        let bytes = body.as_bytes();
        let expected = show(&transcript_events());
        for at in 0..=bytes.len() {
            let (a, b) = bytes.split_at(at);
            assert_eq!(show(&stream_chunks(&[a, b]).unwrap()), expected, "split at {at}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(show(&stream_chunks(&singles).unwrap()), expected, "byte by byte");
    }

    #[test]
    fn chat_stream_delivers_events_before_an_error_then_the_error() {
        let body = sse(&[
            r#"{"choices":[{"index":0,"delta":{"content":"partial"}}]}"#,
            r#"{"error":{"message":"boom","code":"internal"}}"#,
        ]);
        let mut stream = ChatStream::new();
        assert_eq!(show(&stream.push(body.as_bytes()).unwrap()), show(&[started(), text_ev("partial")]));
        let expected = Error::Upstream(Upstream { status: 500, message: "boom".into(), request_id: None });
        assert_eq!(stream.push(b"data: [DONE]\n\n").unwrap_err(), expected);
        assert_eq!(stream.finish().unwrap_err(), expected);
    }

    #[test]
    fn chat_stream_error_event_and_truncation() {
        let body = "event: error\ndata: {\"error\":{\"message\":\"too many\",\"code\":\"rate_limited\"}}\n\n";
        assert!(matches!(stream_chunks(&[body.as_bytes()]), Err(Error::RateLimited { .. })));
        let cut = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"half\"}}]}\n\ndata: {\"choices\":[{\"ind";
        assert!(matches!(stream_chunks(&[cut.as_bytes()]), Err(Error::Upstream(Upstream { status: 502, .. }))));
        let cut = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"half\"}}]}\n\n";
        assert!(matches!(stream_chunks(&[cut.as_bytes()]), Err(Error::Network(_))));
    }

    #[test]
    fn chat_stream_accepts_done_without_a_trailing_blank_line() {
        let body = format!("{}data: [DONE]", sse(&[r#"{"choices":[{"index":0,"delta":{"content":"hi"}}]}"#]));
        let events = stream_chunks(&[body.as_bytes()]).unwrap();
        assert_eq!(show(&events), show(&[started(), text_ev("hi"), stop(StopReason::EndTurn)]));
    }
}
