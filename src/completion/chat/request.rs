//! The `/chat/completions` request: a WIT [`CompletionRequest`] mapped to the OpenAI
//! chat-completions body and the per-request headers Copilot expects (reference:
//! copilot-protocol.md §4.1–4.2). Pure, no I/O, unit-tested with literal fixtures.
//!
//! The catalog entry of the model shapes the body: images are refused before sending when the
//! model has no vision or the image is too large or of a type it does not take (a clear local
//! error instead of an opaque 400), `max_tokens` is bounded, and `thinking_allowed` picks a
//! `reasoning_effort` it lists.

use serde_json::{json, Map, Value};

use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionRequest, MessageContent, MessageRole, RequestMessage, ResponseFormat,
    ToolDefinition, ToolResult, ToolResultContent, ToolUse,
};
use crate::catalog::model::Model;
use crate::completion::image::ReadImages;
use crate::completion::request::{
    bounded_max_tokens, check_images, misplaced, object, requested_effort, response_schema,
    sampling_json, temperature_json, thinking_budget, tool_arguments, tool_choice_str,
    tool_parameters, TEXT_PART_SEPARATOR,
};
use crate::error::Error;


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
/// the model cannot take, a non-finite temperature, `top_p` or penalty, a response-format
/// schema that is not a JSON object, and a `reasoning_effort` the model does not list (see
/// `requested_effort`).
///
/// The request options travel as OpenAI spells them: `response_format` (`json_schema` nests
/// its name, schema, strict and description), `top_p`, `seed`, `presence_penalty`,
/// `frequency_penalty`, `parallel_tool_calls` (with tools only, as the API requires) and an
/// explicit `reasoning_effort` in place of the default level.
pub fn chat_body(model_id: &str, request: &CompletionRequest, model: Option<&Model>) -> Result<Value, Error> {
    // Each image is read once: by the check when the model is known, else while mapping.
    let mut images = match model {
        Some(model) => check_images(request, model)?,
        None => ReadImages::default(),
    };
    let mut body = Map::new();
    body.insert("model".into(), json!(model_id));
    body.insert("messages".into(), Value::Array(map_messages(&request.messages, &mut images)?));
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
    if let Some(t) = request.top_p {
        body.insert("top_p".into(), sampling_json("top_p", t)?);
    }
    if let Some(seed) = request.seed {
        body.insert("seed".into(), json!(seed));
    }
    if let Some(p) = request.presence_penalty {
        body.insert("presence_penalty".into(), sampling_json("presence_penalty", p)?);
    }
    if let Some(p) = request.frequency_penalty {
        body.insert("frequency_penalty".into(), sampling_json("frequency_penalty", p)?);
    }
    if let Some(format) = &request.response_format {
        body.insert("response_format".into(), response_format_json(format)?);
    }
    if let Some(effort) = requested_effort(request, model, false)? {
        body.insert("reasoning_effort".into(), json!(effort));
    } else if request.thinking_allowed {
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
        // Like `tool_choice`, the API accepts it only alongside tools (without tools there
        // is no call to make in parallel, so nothing is lost).
        if let Some(parallel) = request.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), json!(parallel));
        }
    }
    Ok(Value::Object(body))
}

/// OpenAI's `response_format`: `{type: text}`, `{type: json_object}` or `{type: json_schema,
/// json_schema: {name, schema, strict?, description?}}`.
fn response_format_json(format: &ResponseFormat) -> Result<Value, Error> {
    Ok(match format {
        ResponseFormat::Text => json!({ "type": "text" }),
        ResponseFormat::JsonObject => json!({ "type": "json_object" }),
        ResponseFormat::JsonSchema(f) => {
            let mut inner = Map::new();
            inner.insert("name".into(), json!(f.name));
            inner.insert("schema".into(), response_schema(f)?);
            if let Some(strict) = f.strict {
                inner.insert("strict".into(), json!(strict));
            }
            if let Some(description) = &f.description {
                inner.insert("description".into(), json!(description));
            }
            json!({ "type": "json_schema", "json_schema": inner })
        }
    })
}

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

fn tool_json(tool: &ToolDefinition) -> Result<Value, Error> {
    let parameters = tool_parameters(tool)?;
    Ok(json!({
        "type": "function",
        "function": { "name": tool.name, "description": tool.description, "parameters": parameters },
    }))
}

fn map_messages<'a>(messages: &'a [RequestMessage], images: &mut ReadImages<'a>) -> Result<Vec<Value>, Error> {
    let mut out = Vec::with_capacity(messages.len());
    for message in messages {
        let mut mapped = match message.role {
            MessageRole::System => system_message(&message.content)?.into_iter().collect(),
            MessageRole::User => user_messages(&message.content, images)?,
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
fn user_messages<'a>(content: &'a [MessageContent], images: &mut ReadImages<'a>) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    let mut parts = Vec::new();
    for part in content {
        match part {
            // Empty text blocks are dropped: some backends (Claude) reject them.
            MessageContent::Text(t) if t.is_empty() => {}
            MessageContent::Text(t) => parts.push(UserPart::Text(t)),
            MessageContent::Image(image) => parts.push(UserPart::Image(images.take(image)?.into_url())),
            MessageContent::ToolResult(result) => out.push(tool_message(result, images)?),
            other => return Err(misplaced(other, "a user message")),
        }
    }
    if let Some(content) = user_content(parts) {
        out.push(object([("role", json!("user")), ("content", content)]));
    }
    Ok(out)
}

enum UserPart<'a> {
    Text(&'a str),
    Image(String),
}

/// A plain string when there are no images (the form every model accepts), else parts.
fn user_content(parts: Vec<UserPart>) -> Option<Value> {
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
        .into_iter()
        .map(|p| match p {
            UserPart::Text(t) => json!({ "type": "text", "text": t }),
            UserPart::Image(url) => image_part(url),
        })
        .collect();
    Some(Value::Array(values))
}

/// An image part; the URL moves into the body (`json!` would copy a multi-megabyte string).
fn image_part(url: String) -> Value {
    object([("type", json!("image_url")), ("image_url", object([("url", Value::String(url))]))])
}

fn tool_message<'a>(result: &'a ToolResult, images: &mut ReadImages<'a>) -> Result<Value, Error> {
    let content = match &result.content {
        ToolResultContent::Text(t) => json!(t),
        ToolResultContent::Image(image) => Value::Array(vec![image_part(images.take(image)?.into_url())]),
    };
    Ok(object([("role", json!("tool")), ("tool_call_id", json!(result.tool_use_id)), ("content", content)]))
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
    let arguments = tool_arguments(tool_use)?;
    let mut function = Map::new();
    function.insert("name".into(), json!(tool_use.name));
    function.insert("arguments".into(), json!(arguments));
    if let Some(signature) = &tool_use.thought_signature {
        // Gemini models need their signature back on the call (§4.3).
        function.insert("thought_signature".into(), json!(signature));
    }
    Ok(json!({ "id": tool_use.id, "type": "function", "function": function }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::copilot_chat::extension::llm_provider::{ImageData, ThinkingContent, ToolChoice};
    use crate::completion::fixtures::*;

    // ----- helpers ---------------------------------------------------------------------------

    fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        crate::host_api::header(headers, name)
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
    fn images_read_by_the_check_give_the_body_read_without_it() {
        let wrapped = format!("{}\n{}", &PNG_B64[..8], &PNG_B64[8..]);
        let mislabelled = format!("data:image/jpeg;base64,{JPEG_B64}");
        let req = request(vec![message(
            MessageRole::User,
            vec![
                image(&wrapped),
                tool_result("t1", ToolResultContent::Image(ImageData { source: GIF_B64.into(), width: None, height: None })),
                text("compare"),
                image(&mislabelled),
            ],
        )]);
        let vision = Model { vision_max_image_bytes: Some(1 << 20), ..vision_model() };
        let checked = chat_body("m", &req, Some(&vision)).unwrap();
        assert_eq!(checked["messages"], chat_body("m", &req, None).unwrap()["messages"]);
        assert_eq!(
            checked["messages"],
            json!([
                { "role": "tool", "tool_call_id": "t1",
                  "content": [ { "type": "image_url", "image_url": { "url": format!("data:image/gif;base64,{GIF_B64}") } } ] },
                { "role": "user", "content": [
                    { "type": "image_url", "image_url": { "url": format!("data:image/png;base64,{PNG_B64}") } },
                    { "type": "text", "text": "compare" },
                    { "type": "image_url", "image_url": { "url": format!("data:image/jpeg;base64,{JPEG_B64}") } } ] },
            ])
        );
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

    // ----- request options -------------------------------------------------------------------

    fn schema_format() -> ResponseFormat {
        ResponseFormat::JsonSchema(crate::bindings::copilot_chat::extension::llm_provider::JsonSchemaFormat {
            name: "answer".into(),
            schema: r#"{"type":"object","properties":{"n":{"type":"integer"}}}"#.into(),
            strict: Some(true),
            description: Some("the count".into()),
        })
    }

    fn reasoning_model() -> Model {
        let body = r#"{"data":[{"id":"o4","capabilities":{"type":"chat",
            "supports":{"tool_calls":true,"reasoning_effort":["low","medium","high"]}}}]}"#;
        crate::catalog::wire::parse_models(body.as_bytes()).expect("fixture").0.remove(0)
    }

    #[test]
    fn options_map_to_the_chat_fields() {
        let mut req = request(vec![message(MessageRole::User, vec![text("count")])]);
        req.tools = vec![tool("f", r#"{"type":"object"}"#)];
        req.response_format = Some(schema_format());
        req.top_p = Some(0.9);
        req.seed = Some(-7);
        req.presence_penalty = Some(0.5);
        req.frequency_penalty = Some(-0.25);
        req.parallel_tool_calls = Some(false);
        req.thinking_allowed = true;
        req.reasoning_effort = Some("high".into());
        let body = chat_body("o4", &req, Some(&reasoning_model())).unwrap();
        assert_eq!(
            body["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "answer", "strict": true,
                "description": "the count",
                "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}})
        );
        assert_eq!(body["top_p"], json!(0.9));
        assert_eq!(body["seed"], json!(-7));
        assert_eq!(body["presence_penalty"], json!(0.5));
        assert_eq!(body["frequency_penalty"], json!(-0.25));
        assert_eq!(body["parallel_tool_calls"], json!(false));
        assert_eq!(body["reasoning_effort"], json!("high"));

        req.response_format = Some(ResponseFormat::JsonObject);
        req.reasoning_effort = None;
        let body = chat_body("o4", &req, Some(&reasoning_model())).unwrap();
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
        assert_eq!(body["reasoning_effort"], json!("medium"));
    }

    #[test]
    fn unset_options_send_nothing() {
        let req = request(vec![message(MessageRole::User, vec![text("hi")])]);
        let body = chat_body("m", &req, None).unwrap();
        for key in ["response_format", "top_p", "seed", "presence_penalty", "frequency_penalty", "parallel_tool_calls", "reasoning_effort"] {
            assert!(body.get(key).is_none(), "{key}: {body}");
        }
    }

    #[test]
    fn an_effort_the_model_does_not_list_is_refused_naming_the_levels() {
        let mut req = request(vec![message(MessageRole::User, vec![text("hi")])]);
        req.thinking_allowed = true;
        req.reasoning_effort = Some("xhigh".into());
        let err = chat_body("o4", &req, Some(&reasoning_model())).unwrap_err().to_string();
        assert!(err.contains("xhigh") && err.contains("low, medium, high"), "{err}");
        req.thinking_allowed = false;
        req.reasoning_effort = Some("low".into());
        let err = chat_body("o4", &req, Some(&reasoning_model())).unwrap_err().to_string();
        assert!(err.contains("reasoning_effort"), "{err}");
        let mut bad = request(vec![message(MessageRole::User, vec![text("hi")])]);
        bad.top_p = Some(f32::NAN);
        assert!(chat_body("m", &bad, None).unwrap_err().to_string().contains("top_p"));
        bad.top_p = None;
        bad.response_format = Some(ResponseFormat::JsonSchema(crate::bindings::copilot_chat::extension::llm_provider::JsonSchemaFormat {
            name: "x".into(), schema: "[1]".into(), strict: None, description: None,
        }));
        assert!(chat_body("m", &bad, None).unwrap_err().to_string().contains("schema"));
    }
}
