//! The `/v1/messages` request: a WIT [`CompletionRequest`] mapped to the Anthropic Messages
//! body (reference: copilot-protocol.md §4.5). Pure, no I/O, unit-tested with literal fixtures.
//!
//! What differs from the OpenAI-style bodies, and why:
//!
//! * System messages become the top-level `system` blocks; the other messages keep their
//!   content as typed blocks (`text`, `image` with a base64 source, `tool_use` with its input
//!   as a JSON object, `tool_result`, `thinking`, `redacted_thinking`). Consecutive messages
//!   of one role are joined, tool results lead their user turn (the API wants them first),
//!   and empty text is left out (the API refuses empty text blocks and empty turns).
//! * Thinking comes back as one `thinking` block per run of streamed pieces, with the
//!   `signature` the stream gave it; thinking without a signature (from another endpoint)
//!   cannot be verified by the API and is not sent. Redacted thinking is sent verbatim.
//! * A message whose `cache` flag is set gets `cache_control: {type: ephemeral}` on its last
//!   block: a prompt-cache breakpoint. The API allows [`MAX_CACHE_BREAKPOINTS`]; the last ones
//!   are kept, since the end of the shared prefix is what the next request reuses.
//! * `max_tokens` is required: the request's, bounded by the model's output limit, else that
//!   limit, else [`FALLBACK_MAX_TOKENS`].
//! * Thinking, when allowed and the model supports it, is `thinking: {type: enabled,
//!   budget_tokens}` with the budget the chat route computes, at least the API's minimum and
//!   below `max_tokens`. The API refuses a `temperature` with thinking, and thinking with a
//!   forced tool choice, so a temperature is then left out, and a forced tool choice wins over
//!   thinking.
//! * `top_p` maps; `parallel_tool_calls: false` becomes `tool_choice.disable_parallel_tool_use`.
//!   The API has no JSON response format, seed, penalties or effort levels: a request with one
//!   is refused naming it, never answered as if it had not been asked.

use serde_json::{json, Map, Value};

use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionRequest, ImageData, MessageContent, MessageRole, RequestMessage, ResponseFormat, ToolChoice,
    ToolDefinition, ToolResult, ToolResultContent, ToolUse,
};
use crate::catalog::model::Model;
use crate::completion::image::ReadImages;
use crate::completion::messages::{
    REDACTED_THINKING_BLOCK, TEXT_BLOCK, THINKING_BLOCK, TOOL_USE_BLOCK,
};
use crate::completion::request::{
    bounded_max_tokens, check_images, misplaced, not_carried, object, sampling_json, temperature_json,
    thinking_budget, tool_arguments, tool_parameters,
};
use crate::error::Error;

/// Prompt-cache breakpoints the Messages API accepts in one request.
pub const MAX_CACHE_BREAKPOINTS: usize = 4;
/// `max_tokens` when neither the request nor the catalog gives one (the field is required).
pub const FALLBACK_MAX_TOKENS: u64 = 8_192;
/// The smallest thinking budget the Messages API accepts.
pub const MIN_THINKING_BUDGET: u64 = 1_024;
/// The thinking budget asked of a model that supports thinking but states no budget range.
const DEFAULT_THINKING_BUDGET: u64 = 16_000;

/// The `/v1/messages` body for `request` sent to `model`.
///
/// Errors are [`Error::InvalidRequest`]: content a role cannot carry (an image or a tool use
/// in a system message, a tool result in an assistant message, …), an image the model
/// cannot take (see `check_images`) or whose type is unknown, a tool schema or tool input
/// that is not a JSON object, a non-finite temperature, and a conversation with no message
/// left to send.
pub fn messages_body(model: &Model, request: &CompletionRequest) -> Result<Value, Error> {
    refuse_uncarried(request)?;
    let mut images = check_images(request, model)?;
    let mut system = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    for message in &request.messages {
        match message.role {
            MessageRole::System => system_blocks(message, &mut system)?,
            MessageRole::User => push_turn(&mut turns, Role::User, user_blocks(message, &mut images)?, message.cache),
            MessageRole::Assistant => {
                push_turn(&mut turns, Role::Assistant, assistant_blocks(message)?, message.cache)
            }
        }
    }
    if turns.is_empty() {
        return Err(Error::InvalidRequest(
            "the conversation has no user or assistant message with content to send".to_string(),
        ));
    }
    limit_cache_breakpoints(&mut system, &mut turns);

    let max_tokens = bounded_max_tokens(request.max_tokens, model.max_output_tokens)
        .unwrap_or(FALLBACK_MAX_TOKENS)
        .max(1);
    let mut body = Map::new();
    body.insert("model".into(), json!(model.id));
    body.insert("max_tokens".into(), json!(max_tokens));
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    body.insert("messages".into(), Value::Array(turns.into_iter().map(Turn::into_json).collect()));
    body.insert("stream".into(), json!(true));
    if !request.stop_sequences.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop_sequences));
    }
    let forced_tool = !request.tools.is_empty() && matches!(request.tool_choice, Some(ToolChoice::Any));
    let budget = (request.thinking_allowed && !forced_tool)
        .then(|| messages_thinking_budget(model, max_tokens))
        .flatten();
    match budget {
        Some(budget) => {
            body.insert("thinking".into(), json!({ "type": "enabled", "budget_tokens": budget }));
        }
        None => {
            if let Some(t) = request.temperature {
                body.insert("temperature".into(), temperature_json(t)?);
            }
        }
    }
    if !request.tools.is_empty() {
        let tools = request.tools.iter().map(tool_json).collect::<Result<Vec<_>, _>>()?;
        body.insert("tools".into(), Value::Array(tools));
        // Like `tools`, a choice means nothing (and is refused) without tools.
        let serial = request.parallel_tool_calls == Some(false);
        if request.tool_choice.is_some() || serial {
            let choice = request.tool_choice.as_ref().unwrap_or(&ToolChoice::Auto);
            let mut choice = json!({ "type": tool_choice_type(choice) });
            // `none` calls no tool, so there is nothing to keep serial.
            if serial && !matches!(request.tool_choice, Some(ToolChoice::None)) {
                choice["disable_parallel_tool_use"] = json!(true);
            }
            body.insert("tool_choice".into(), choice);
        }
    }
    if let Some(p) = request.top_p {
        body.insert("top_p".into(), sampling_json("top_p", p)?);
    }
    Ok(Value::Object(body))
}

/// How the errors for a field this endpoint lacks name it.
const MESSAGES_API: &str = "the Anthropic Messages API (/v1/messages)";

/// Refuses the request fields the Messages API has no parameter for (JSON response formats,
/// seed, penalties, effort levels: Claude's thinking takes a budget).
fn refuse_uncarried(request: &CompletionRequest) -> Result<(), Error> {
    if matches!(request.response_format, Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema(_))) {
        return Err(not_carried("response_format", MESSAGES_API));
    }
    if request.seed.is_some() {
        return Err(not_carried("seed", MESSAGES_API));
    }
    if request.presence_penalty.is_some() {
        return Err(not_carried("presence_penalty", MESSAGES_API));
    }
    if request.frequency_penalty.is_some() {
        return Err(not_carried("frequency_penalty", MESSAGES_API));
    }
    if request.reasoning_effort.is_some() {
        return Err(not_carried("reasoning_effort", MESSAGES_API));
    }
    Ok(())
}

/// The thinking budget for the Messages API: the model's range as on the chat route (see
/// `thinking_budget`), or `DEFAULT_THINKING_BUDGET` for a model that supports thinking
/// without stating a range; at least [`MIN_THINKING_BUDGET`] and below `max_tokens`. `None`
/// when the model does not think or no budget fits.
pub fn messages_thinking_budget(model: &Model, max_tokens: u64) -> Option<u64> {
    let budget = match model.max_thinking_budget {
        Some(_) => thinking_budget(model, Some(max_tokens))?,
        None if model.supports_thinking => DEFAULT_THINKING_BUDGET.min(max_tokens.saturating_sub(1)),
        None => return None,
    };
    (budget >= MIN_THINKING_BUDGET && budget < max_tokens).then_some(budget)
}

fn tool_choice_type(choice: &ToolChoice) -> &'static str {
    match choice {
        ToolChoice::Auto => "auto",
        ToolChoice::Any => "any",
        ToolChoice::None => "none",
    }
}

fn tool_json(tool: &ToolDefinition) -> Result<Value, Error> {
    let schema = tool_parameters(tool)?;
    if !schema.is_object() {
        return Err(Error::InvalidRequest(format!(
            "tool `{}` has an input schema that is not a JSON object",
            tool.name
        )));
    }
    Ok(json!({ "name": tool.name, "description": tool.description, "input_schema": schema }))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Assistant,
}

/// One `messages` entry being built: consecutive messages of a role join one turn.
struct Turn {
    role: Role,
    blocks: Vec<Value>,
}

impl Turn {
    fn into_json(self) -> Value {
        let role = match self.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        object([("role", json!(role)), ("content", Value::Array(self.blocks))])
    }
}

/// Appends `blocks` as a turn of `role` (joining the previous turn of the same role); with
/// `cache`, the last block becomes a cache breakpoint. A message with no block adds nothing.
fn push_turn(turns: &mut Vec<Turn>, role: Role, mut blocks: Vec<Value>, cache: bool) {
    if blocks.is_empty() {
        return;
    }
    if cache {
        mark_cached(&mut blocks);
    }
    match turns.last_mut() {
        Some(last) if last.role == role => {
            // Tool results lead a user turn, so results of a later message move up.
            if role == Role::User {
                let (results, rest): (Vec<Value>, Vec<Value>) =
                    blocks.into_iter().partition(|b| b["type"] == "tool_result");
                let first_other = last.blocks.iter().position(|b| b["type"] != "tool_result");
                let at = first_other.unwrap_or(last.blocks.len());
                last.blocks.splice(at..at, results);
                last.blocks.extend(rest);
            } else {
                last.blocks.extend(blocks);
            }
        }
        _ => turns.push(Turn { role, blocks }),
    }
}

fn mark_cached(blocks: &mut [Value]) {
    if let Some(Value::Object(last)) = blocks.last_mut() {
        last.insert("cache_control".into(), json!({ "type": "ephemeral" }));
    }
}

/// Keeps the last [`MAX_CACHE_BREAKPOINTS`] `cache_control` marks, in prompt order (system
/// first, then the turns), and removes the earlier ones.
fn limit_cache_breakpoints(system: &mut [Value], turns: &mut [Turn]) {
    let blocks = system.iter_mut().chain(turns.iter_mut().flat_map(|t| t.blocks.iter_mut()));
    let mut marked: Vec<&mut Value> = blocks.filter(|b| b.get("cache_control").is_some()).collect();
    let excess = marked.len().saturating_sub(MAX_CACHE_BREAKPOINTS);
    for block in marked.iter_mut().take(excess) {
        if let Some(object) = block.as_object_mut() {
            object.remove("cache_control");
        }
    }
}

fn text_block(text: &str) -> Value {
    json!({ "type": TEXT_BLOCK, "text": text })
}

fn system_blocks(message: &RequestMessage, system: &mut Vec<Value>) -> Result<(), Error> {
    let mut blocks = Vec::new();
    for part in &message.content {
        match part {
            MessageContent::Text(t) if t.trim().is_empty() => {}
            MessageContent::Text(t) => blocks.push(text_block(t)),
            other => return Err(misplaced(other, "a system message")),
        }
    }
    if message.cache {
        mark_cached(&mut blocks);
    }
    system.extend(blocks);
    Ok(())
}

/// A user message's blocks, tool results first.
fn user_blocks<'a>(message: &'a RequestMessage, images: &mut ReadImages<'a>) -> Result<Vec<Value>, Error> {
    let mut results = Vec::new();
    let mut rest = Vec::new();
    for part in &message.content {
        match part {
            MessageContent::Text(t) if t.trim().is_empty() => {}
            MessageContent::Text(t) => rest.push(text_block(t)),
            MessageContent::Image(image) => rest.push(image_block(image, images)?),
            MessageContent::ToolResult(result) => results.push(tool_result_block(result, images)?),
            other => return Err(misplaced(other, "a user message")),
        }
    }
    results.extend(rest);
    Ok(results)
}

fn assistant_blocks(message: &RequestMessage) -> Result<Vec<Value>, Error> {
    let mut blocks = Vec::new();
    // A run of streamed thinking pieces: the text so far and the signature, once seen.
    let mut thinking: Option<(String, Option<String>)> = None;
    for part in &message.content {
        if let MessageContent::Thinking(piece) = part {
            let (text, signature) = thinking.get_or_insert_with(Default::default);
            text.push_str(&piece.text);
            if let Some(s) = piece.signature.as_deref().filter(|s| !s.trim().is_empty()) {
                *signature = Some(s.to_string());
            }
            continue;
        }
        flush_thinking(&mut thinking, &mut blocks);
        match part {
            MessageContent::Text(t) if t.trim().is_empty() => {}
            MessageContent::Text(t) => blocks.push(text_block(t)),
            MessageContent::ToolUse(tool_use) => blocks.push(tool_use_block(tool_use)?),
            MessageContent::RedactedThinking(data) if data.trim().is_empty() => {}
            MessageContent::RedactedThinking(data) => {
                blocks.push(json!({ "type": REDACTED_THINKING_BLOCK, "data": data }))
            }
            other => return Err(misplaced(other, "an assistant message")),
        }
    }
    flush_thinking(&mut thinking, &mut blocks);
    Ok(blocks)
}

/// Ends a run of thinking pieces: one `thinking` block when it has a signature (the API
/// verifies it; unsigned thinking from another endpoint cannot be sent back).
fn flush_thinking(thinking: &mut Option<(String, Option<String>)>, blocks: &mut Vec<Value>) {
    if let Some((text, Some(signature))) = thinking.take() {
        blocks.push(json!({ "type": THINKING_BLOCK, "thinking": text, "signature": signature }));
    }
}

fn tool_use_block(tool_use: &ToolUse) -> Result<Value, Error> {
    let input: Value = serde_json::from_str(tool_arguments(tool_use)?).unwrap_or_default();
    if !input.is_object() {
        return Err(Error::InvalidRequest(format!(
            "the input of tool call `{}` (`{}`) is not a JSON object",
            tool_use.id, tool_use.name
        )));
    }
    Ok(json!({ "type": TOOL_USE_BLOCK, "id": tool_use.id, "name": tool_use.name, "input": input }))
}

fn tool_result_block<'a>(result: &'a ToolResult, images: &mut ReadImages<'a>) -> Result<Value, Error> {
    let content = match &result.content {
        ToolResultContent::Text(t) => json!(t),
        ToolResultContent::Image(image) => Value::Array(vec![image_block(image, images)?]),
    };
    let mut block = Map::new();
    block.insert("type".into(), json!("tool_result"));
    block.insert("tool_use_id".into(), json!(result.tool_use_id));
    block.insert("content".into(), content);
    if result.is_error {
        block.insert("is_error".into(), json!(true));
    }
    Ok(Value::Object(block))
}

/// An `image` block with a base64 source and the media type sniffed from the bytes (the
/// data moves into the block).
fn image_block<'a>(image: &'a ImageData, images: &mut ReadImages<'a>) -> Result<Value, Error> {
    let (media_type, data) = images.take(image)?.into_base64()?;
    let source = object([
        ("type", json!("base64")),
        ("media_type", Value::String(media_type)),
        ("data", Value::String(data)),
    ]);
    Ok(object([("type", json!("image")), ("source", source)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::copilot_chat::extension::llm_provider::ThinkingContent;
    use crate::catalog::wire::parse_models;
    use crate::completion::fixtures::*;

    fn claude() -> Model {
        let body = r#"{"data":[{"id":"claude-sonnet-4","vendor":"Anthropic",
            "supported_endpoints":["/chat/completions","/v1/messages"],
            "capabilities":{"type":"chat","limits":{"max_output_tokens":16000,
                "vision":{"max_prompt_image_size":1000,"supported_media_types":["image/png","image/jpeg"]}},
              "supports":{"tool_calls":true,"vision":true,"max_thinking_budget":32000,"min_thinking_budget":1024}}}]}"#;
        parse_models(body.as_bytes()).expect("fixture").0.remove(0)
    }

    fn thinking_piece(text: &str, signature: Option<&str>) -> MessageContent {
        MessageContent::Thinking(ThinkingContent { text: text.into(), signature: signature.map(str::to_string) })
    }

    fn cached(mut m: RequestMessage) -> RequestMessage {
        m.cache = true;
        m
    }

    #[test]
    fn a_whole_conversation_maps_to_typed_blocks() {
        let mut req = request(vec![
            message(MessageRole::System, vec![text("Be terse.")]),
            message(MessageRole::User, vec![text("List src"), image(PNG_B64)]),
            message(
                MessageRole::Assistant,
                vec![
                    thinking_piece("Need ", None),
                    thinking_piece("ls.", Some("sig-1")),
                    MessageContent::RedactedThinking("enc-9".into()),
                    text("Listing."),
                    tool_use("toolu_1", "ls", r#"{"path":"src"}"#),
                    tool_use("toolu_2", "ls", ""),
                ],
            ),
            message(
                MessageRole::User,
                vec![
                    text("and?"),
                    tool_result("toolu_1", ToolResultContent::Text("a.rs".into())),
                    tool_result("toolu_2", ToolResultContent::Image(ImageData { source: JPEG_B64.into(), width: None, height: None })),
                ],
            ),
        ]);
        req.stop_sequences = vec!["END".into()];
        req.temperature = Some(0.1);
        req.tools = vec![tool("ls", r#"{"type":"object","properties":{"path":{"type":"string"}}}"#)];
        req.tool_choice = Some(ToolChoice::Auto);
        let body = messages_body(&claude(), &req).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "claude-sonnet-4",
                "max_tokens": 16000,
                "system": [{"type": "text", "text": "Be terse."}],
                "messages": [
                    {"role": "user", "content": [
                        {"type": "text", "text": "List src"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
                    ]},
                    {"role": "assistant", "content": [
                        {"type": "thinking", "thinking": "Need ls.", "signature": "sig-1"},
                        {"type": "redacted_thinking", "data": "enc-9"},
                        {"type": "text", "text": "Listing."},
                        {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {"path": "src"}},
                        {"type": "tool_use", "id": "toolu_2", "name": "ls", "input": {}},
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.rs"},
                        {"type": "tool_result", "tool_use_id": "toolu_2", "content": [
                            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": JPEG_B64}}]},
                        {"type": "text", "text": "and?"},
                    ]},
                ],
                "stream": true,
                "stop_sequences": ["END"],
                "temperature": 0.1,
                "tools": [{"name": "ls", "description": "ls things",
                           "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}],
                "tool_choice": {"type": "auto"},
            })
        );
    }

    #[test]
    fn unsigned_thinking_and_empty_text_are_left_out_and_same_roles_join() {
        let req = request(vec![
            message(MessageRole::User, vec![text("one")]),
            message(MessageRole::User, vec![text("  "), tool_result("t1", ToolResultContent::Text("r".into()))]),
            message(MessageRole::Assistant, vec![thinking_piece("from chat", None), text("")]),
            message(MessageRole::Assistant, vec![text("ok")]),
        ]);
        let body = messages_body(&claude(), &req).unwrap();
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "r"},
                    {"type": "text", "text": "one"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
            ])
        );
        assert!(body.get("system").is_none() && body.get("tools").is_none() && body.get("thinking").is_none());
    }

    #[test]
    fn cache_flags_become_the_last_four_breakpoints() {
        let req = request(vec![
            cached(message(MessageRole::System, vec![text("sys")])),
            cached(message(MessageRole::User, vec![text("u1")])),
            cached(message(MessageRole::Assistant, vec![text("a1")])),
            cached(message(MessageRole::User, vec![text("u2"), image(PNG_B64)])),
            cached(message(MessageRole::Assistant, vec![text("a2")])),
            message(MessageRole::User, vec![text("u3")]),
        ]);
        let body = messages_body(&claude(), &req).unwrap();
        let ephemeral = json!({"type": "ephemeral"});
        assert!(body["system"][0].get("cache_control").is_none(), "the oldest mark goes");
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages[0]["content"][0]["cache_control"], ephemeral);
        assert_eq!(messages[1]["content"][0]["cache_control"], ephemeral);
        assert!(messages[2]["content"][0].get("cache_control").is_none(), "only the last block");
        assert_eq!(messages[2]["content"][1]["cache_control"], ephemeral);
        assert_eq!(messages[3]["content"][0]["cache_control"], ephemeral);
        assert!(messages[4]["content"][0].get("cache_control").is_none());
        let marks = body.to_string().matches("cache_control").count();
        assert_eq!(marks, MAX_CACHE_BREAKPOINTS);
    }

    #[test]
    fn thinking_gets_a_budget_below_max_tokens_and_drops_temperature() {
        let mut req = request(vec![message(MessageRole::User, vec![text("think")])]);
        req.thinking_allowed = true;
        req.temperature = Some(0.5);
        let body = messages_body(&claude(), &req).unwrap();
        assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 15_999}));
        assert_eq!(body["max_tokens"], json!(16_000));
        assert!(body.get("temperature").is_none());

        req.max_tokens = Some(40_000);
        let body = messages_body(&claude(), &req).unwrap();
        assert_eq!(body["max_tokens"], json!(16_000), "bounded by the model");
        req.max_tokens = Some(1_024);
        let body = messages_body(&claude(), &req).unwrap();
        assert!(body.get("thinking").is_none(), "no budget of at least 1024 fits below 1024");
        assert_eq!(body["temperature"], json!(0.5));

        // A forced tool choice wins over thinking (the API refuses both together).
        req.max_tokens = None;
        req.tools = vec![tool("ls", "{}")];
        req.tool_choice = Some(ToolChoice::Any);
        let body = messages_body(&claude(), &req).unwrap();
        assert!(body.get("thinking").is_none());
        assert_eq!(body["tool_choice"], json!({"type": "any"}));

        // A model that thinks without a stated range gets the default budget.
        let mut plain = claude();
        plain.max_thinking_budget = None;
        plain.min_thinking_budget = None;
        plain.supports_thinking = true;
        assert_eq!(messages_thinking_budget(&plain, 32_000), Some(16_000));
        plain.supports_thinking = false;
        assert_eq!(messages_thinking_budget(&plain, 32_000), None);
    }

    #[test]
    fn max_tokens_is_always_sent() {
        let mut model = claude();
        model.max_output_tokens = None;
        let req = request(vec![message(MessageRole::User, vec![text("hi")])]);
        assert_eq!(messages_body(&model, &req).unwrap()["max_tokens"], json!(FALLBACK_MAX_TOKENS));
        let mut req = req;
        req.max_tokens = Some(77);
        assert_eq!(messages_body(&model, &req).unwrap()["max_tokens"], json!(77));
    }

    #[test]
    fn bad_requests_are_clear_errors() {
        let bad = |messages: Vec<RequestMessage>| match messages_body(&claude(), &request(messages)) {
            Err(Error::InvalidRequest(m)) => m,
            other => panic!("expected InvalidRequest, got {other:?}"),
        };
        assert!(bad(vec![message(MessageRole::System, vec![image(PNG_B64)])]).contains("system message"));
        assert!(bad(vec![message(MessageRole::User, vec![tool_use("t", "x", "{}")])]).contains("user message"));
        assert!(bad(vec![message(MessageRole::Assistant, vec![tool_use("t", "x", "[1]")])]).contains("JSON object"));
        assert!(bad(vec![message(MessageRole::System, vec![text("only a system prompt")])]).contains("no user or assistant"));
        assert!(bad(vec![message(MessageRole::User, vec![image(GIF_B64)])]).contains("image/gif"));
        let mut req = request(vec![message(MessageRole::User, vec![text("hi")])]);
        req.tools = vec![tool("t", "[]")];
        assert!(matches!(messages_body(&claude(), &req), Err(Error::InvalidRequest(m)) if m.contains("input schema")));
    }

    // ----- request options -------------------------------------------------------------------

    #[test]
    fn top_p_and_serial_tool_use_map_to_the_messages_fields() {
        let mut req = request(vec![message(MessageRole::User, vec![text("hi")])]);
        req.tools = vec![tool("f", r#"{"type":"object"}"#)];
        req.top_p = Some(0.75);
        req.parallel_tool_calls = Some(false);
        let body = messages_body(&claude(), &req).unwrap();
        assert_eq!(body["top_p"], json!(0.75));
        assert_eq!(body["tool_choice"], json!({"type": "auto", "disable_parallel_tool_use": true}));
        req.tool_choice = Some(ToolChoice::Any);
        let body = messages_body(&claude(), &req).unwrap();
        assert_eq!(body["tool_choice"], json!({"type": "any", "disable_parallel_tool_use": true}));
        req.parallel_tool_calls = Some(true);
        let body = messages_body(&claude(), &req).unwrap();
        assert_eq!(body["tool_choice"], json!({"type": "any"}));
        req.response_format = Some(ResponseFormat::Text);
        assert!(messages_body(&claude(), &req).is_ok());
    }

    #[test]
    fn fields_the_messages_api_lacks_are_refused_by_name() {
        for (field, set) in [
            ("response_format", (|r: &mut CompletionRequest| r.response_format = Some(ResponseFormat::JsonObject)) as fn(&mut CompletionRequest)),
            ("seed", |r| r.seed = Some(1)),
            ("presence_penalty", |r| r.presence_penalty = Some(0.5)),
            ("frequency_penalty", |r| r.frequency_penalty = Some(0.5)),
            ("reasoning_effort", |r| {
                r.thinking_allowed = true;
                r.reasoning_effort = Some("high".into());
            }),
        ] {
            let mut req = request(vec![message(MessageRole::User, vec![text("hi")])]);
            set(&mut req);
            let err = messages_body(&claude(), &req).unwrap_err();
            assert!(matches!(err, Error::InvalidRequest(_)));
            assert!(err.to_string().contains(&format!("`{field}`")), "{err}");
        }
    }
}
