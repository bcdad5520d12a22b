//! The `/responses` request (OpenAI Responses API, reference: copilot-protocol.md §4.4): a
//! WIT [`CompletionRequest`] mapped to the Responses body. Pure, no I/O, unit-tested with
//! literal fixtures.
//!
//! System text becomes `instructions`, every other message becomes input items (`message`,
//! `function_call`, `function_call_output`, `reasoning`), tools are flat. The per-request
//! headers are the chat ones (`chat::request::request_headers`): Copilot bills by them the
//! same way. Opaque reasoning round-trips as JSON: the decoder emits `reasoning-details` as
//! `{"type":"reasoning","id":…,"encrypted_content":…}` and [`responses_body`] turns that text,
//! found in a later assistant message as redacted thinking or a thinking signature, back into
//! a `reasoning` input item. The body always says `store: false`: Copilot keeps no state over
//! HTTP, so the encrypted reasoning is the only way a model sees its earlier thoughts.

use serde_json::{json, Map, Value};

use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionRequest, MessageContent, MessageRole, ResponseFormat, ToolDefinition, ToolResult,
    ToolResultContent, ToolUse,
};
use crate::catalog::model::Model;
use crate::completion::image::ReadImages;
use crate::completion::request::{
    bounded_max_tokens, check_images, misplaced, not_carried, object, requested_effort, response_schema,
    sampling_json, temperature_json, tool_arguments, tool_choice_str, tool_parameters,
    TEXT_PART_SEPARATOR,
};
use crate::completion::responses::{FUNCTION_CALL_ITEM, MESSAGE_ITEM, REASONING_ITEM};
use crate::error::Error;

/// Effort asked for when thinking is allowed and the model lists `medium` (or lists no levels):
/// VS Code's default.
pub const DEFAULT_REASONING_EFFORT: &str = "medium";
/// The `include` entry that makes the server return encrypted reasoning with `store: false`.
const INCLUDE_ENCRYPTED_REASONING: &str = "reasoning.encrypted_content";

/// The `/responses` body for `request` sent to `model`.
///
/// * `instructions`: the text of every system message, joined by a blank line.
/// * `input`: user text and images as a `message` item (`input_text`, `input_image` with a
///   data-URL string); tool results as `function_call_output` items placed before it;
///   assistant reasoning (our own `reasoning-details` JSON), text and tool uses as `reasoning`,
///   `message` (`output_text`) and `function_call` items, in that order.
/// * `max_output_tokens`: the request's `max_tokens` bounded by the model's limit, or the
///   model's limit alone.
/// * `reasoning: {effort, summary: "auto"}` and `include: ["reasoning.encrypted_content"]`
///   only when `thinking_allowed` and the model supports reasoning.
/// * `temperature` only for models without reasoning (reasoning models reject it).
///   `stop_sequences` are not sent: the Responses API has no such parameter.
/// * `text.format` for a response format (flat: `{type: json_schema, name, schema, strict?,
///   description?}`), `top_p`, `parallel_tool_calls` (with tools), and an explicit reasoning
///   effort in place of the default level.
///
/// Errors are [`Error::InvalidRequest`]: a tool schema or tool-use input that is not JSON,
/// content a role cannot carry, an image the model cannot take (vision, size, media type: see
/// [`check_images`], as on the other routes) or that is neither a data URL nor
/// PNG/JPEG/GIF/WebP, a
/// non-finite temperature or `top_p`, a `seed` or penalty (the Responses API has none), a
/// response-format schema that is not a JSON object, an effort level the model does not list.
pub fn responses_body(model: &Model, request: &CompletionRequest) -> Result<Value, Error> {
    let mut images = check_images(request, model)?;
    if request.seed.is_some() {
        return Err(not_carried("seed", RESPONSES_API));
    }
    if request.presence_penalty.is_some() {
        return Err(not_carried("presence_penalty", RESPONSES_API));
    }
    if request.frequency_penalty.is_some() {
        return Err(not_carried("frequency_penalty", RESPONSES_API));
    }
    let effort = requested_effort(request, Some(model), true)?;
    let mut body = Map::new();
    body.insert("model".into(), json!(model.id));
    let (instructions, input) = map_messages(request, &mut images)?;
    if !instructions.is_empty() {
        body.insert(
            "instructions".into(),
            json!(instructions.join(TEXT_PART_SEPARATOR)),
        );
    }
    body.insert("input".into(), Value::Array(input));
    body.insert("stream".into(), json!(true));
    body.insert("store".into(), json!(false));
    if let Some(max) = bounded_max_tokens(request.max_tokens, model.max_output_tokens) {
        body.insert("max_output_tokens".into(), json!(max));
    }
    if let Some(t) = request.temperature.filter(|_| !model.supports_thinking) {
        body.insert("temperature".into(), temperature_json(t)?);
    }
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(tool_json)
            .collect::<Result<Vec<_>, _>>()?;
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = &request.tool_choice {
            body.insert("tool_choice".into(), json!(tool_choice_str(choice)));
        }
        if let Some(parallel) = request.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), json!(parallel));
        }
    }
    if let Some(t) = request.top_p {
        body.insert("top_p".into(), sampling_json("top_p", t)?);
    }
    if let Some(format) = &request.response_format {
        body.insert("text".into(), json!({ "format": text_format_json(format)? }));
    }
    if request.thinking_allowed && model.supports_thinking {
        let effort = effort.unwrap_or_else(|| reasoning_effort(&model.reasoning_efforts));
        body.insert("reasoning".into(), json!({ "effort": effort, "summary": "auto" }));
        body.insert("include".into(), json!([INCLUDE_ENCRYPTED_REASONING]));
    }
    Ok(Value::Object(body))
}

/// How the errors for a field this endpoint lacks name it.
const RESPONSES_API: &str = "the Responses API (/responses)";

/// The Responses API's `text.format`: flat, unlike chat's `response_format` (`{type:
/// json_schema, name, schema, strict?, description?}`).
fn text_format_json(format: &ResponseFormat) -> Result<Value, Error> {
    Ok(match format {
        ResponseFormat::Text => json!({ "type": "text" }),
        ResponseFormat::JsonObject => json!({ "type": "json_object" }),
        ResponseFormat::JsonSchema(f) => {
            let mut out = Map::new();
            out.insert("type".into(), json!("json_schema"));
            out.insert("name".into(), json!(f.name));
            out.insert("schema".into(), response_schema(f)?);
            if let Some(strict) = f.strict {
                out.insert("strict".into(), json!(strict));
            }
            if let Some(description) = &f.description {
                out.insert("description".into(), json!(description));
            }
            Value::Object(out)
        }
    })
}

/// `medium` when the model lists it or lists nothing; otherwise the middle listed level (the
/// catalog lists levels from lowest to highest).
fn reasoning_effort(levels: &[String]) -> &str {
    if levels.is_empty() || levels.iter().any(|l| l == DEFAULT_REASONING_EFFORT) {
        return DEFAULT_REASONING_EFFORT;
    }
    levels
        .get(levels.len() / 2)
        .map_or(DEFAULT_REASONING_EFFORT, String::as_str)
}

/// A flat function tool (the Responses API does not nest it under `function`).
fn tool_json(tool: &ToolDefinition) -> Result<Value, Error> {
    let parameters = tool_parameters(tool)?;
    Ok(json!({
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": parameters,
        "strict": false,
    }))
}

/// (instructions, input items).
fn map_messages<'a>(
    request: &'a CompletionRequest,
    images: &mut ReadImages<'a>,
) -> Result<(Vec<String>, Vec<Value>), Error> {
    let mut instructions = Vec::new();
    let mut input = Vec::new();
    for message in &request.messages {
        match message.role {
            MessageRole::System => instructions.extend(system_texts(&message.content)?),
            MessageRole::User => input.extend(user_items(&message.content, images)?),
            MessageRole::Assistant => input.extend(assistant_items(&message.content)?),
        }
    }
    Ok((instructions, input))
}

fn system_texts(content: &[MessageContent]) -> Result<Vec<String>, Error> {
    let mut texts = Vec::new();
    for part in content {
        match part {
            MessageContent::Text(t) if t.is_empty() => {}
            MessageContent::Text(t) => texts.push(t.clone()),
            other => return Err(misplaced(other, "a system message")),
        }
    }
    Ok(texts)
}

/// Tool results first (they answer the previous assistant turn's calls), then one user
/// `message` item with the text and images, if any.
fn user_items<'a>(content: &'a [MessageContent], images: &mut ReadImages<'a>) -> Result<Vec<Value>, Error> {
    let mut items = Vec::new();
    let mut parts = Vec::new();
    for part in content {
        match part {
            MessageContent::Text(t) if t.is_empty() => {}
            MessageContent::Text(t) => parts.push(json!({ "type": "input_text", "text": t })),
            MessageContent::Image(image) => parts.push(input_image(images.take(image)?.into_url())),
            MessageContent::ToolResult(result) => items.push(function_call_output(result, images)?),
            other => return Err(misplaced(other, "a user message")),
        }
    }
    if !parts.is_empty() {
        items.push(object([("type", json!(MESSAGE_ITEM)), ("role", json!("user")), ("content", Value::Array(parts))]));
    }
    Ok(items)
}

/// An `input_image` part; the URL moves into the body (`json!` would copy a multi-megabyte
/// string).
fn input_image(data_url: String) -> Value {
    // `image_url` is a plain string here, not the chat API's `{url}` object (§4.4).
    object([("type", json!("input_image")), ("image_url", Value::String(data_url))])
}

fn function_call_output<'a>(result: &'a ToolResult, images: &mut ReadImages<'a>) -> Result<Value, Error> {
    let output = match &result.content {
        ToolResultContent::Text(t) => json!(t),
        ToolResultContent::Image(image) => Value::Array(vec![input_image(images.take(image)?.into_url())]),
    };
    Ok(object([
        ("type", json!("function_call_output")),
        ("call_id", json!(result.tool_use_id)),
        ("output", output),
    ]))
}

/// Reasoning items, then the text as one `message`, then the function calls: the order the
/// model produced them in.
fn assistant_items(content: &[MessageContent]) -> Result<Vec<Value>, Error> {
    let mut reasoning = Vec::new();
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    for part in content {
        match part {
            MessageContent::Text(t) if t.is_empty() => {}
            MessageContent::Text(t) => texts.push(t.as_str()),
            MessageContent::ToolUse(tool_use) => calls.push(function_call(tool_use)?),
            // Summary text alone cannot be sent back; only its encrypted item can.
            MessageContent::Thinking(thinking) => {
                reasoning.extend(thinking.signature.as_deref().and_then(reasoning_item));
            }
            MessageContent::RedactedThinking(data) => reasoning.extend(reasoning_item(data)),
            other => return Err(misplaced(other, "an assistant message")),
        }
    }
    let mut items = reasoning;
    if !texts.is_empty() {
        items.push(json!({
            "type": MESSAGE_ITEM,
            "role": "assistant",
            "content": [{ "type": "output_text", "text": texts.join(TEXT_PART_SEPARATOR) }],
        }));
    }
    items.extend(calls);
    Ok(items)
}

/// The `reasoning` input item for stored reasoning details, or `None` when the text is not
/// ours (for example the chat API's `{"reasoning_opaque": …}`, which `/responses` cannot use).
fn reasoning_item(stored: &str) -> Option<Value> {
    let value: Value = serde_json::from_str(stored).ok()?;
    if value.get("type").and_then(Value::as_str) != Some(REASONING_ITEM) {
        return None;
    }
    let encrypted = value
        .get("encrypted_content")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())?;
    let mut item = Map::new();
    item.insert("type".into(), json!(REASONING_ITEM));
    if let Some(id) = value
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        item.insert("id".into(), json!(id));
    }
    item.insert("summary".into(), json!([]));
    item.insert("encrypted_content".into(), json!(encrypted));
    Some(Value::Object(item))
}

fn function_call(tool_use: &ToolUse) -> Result<Value, Error> {
    let arguments = tool_arguments(tool_use)?;
    Ok(json!({
        "type": FUNCTION_CALL_ITEM,
        "call_id": tool_use.id,
        "name": tool_use.name,
        "arguments": arguments,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::copilot_chat::extension::llm_provider::{ImageData, ThinkingContent, ToolChoice};
    use crate::completion::fixtures::*;
    use crate::catalog::wire::parse_models;

    // ----- helpers ---------------------------------------------------------------------------

    fn gpt5() -> Model {
        let body = r#"{"data":[{"id":"gpt-5","supported_endpoints":["/responses"],
            "capabilities":{"type":"chat","limits":{"max_output_tokens":128000},
            "supports":{"tool_calls":true,"vision":true,"reasoning_effort":["minimal","low","medium","high"]}}}]}"#;
        parse_models(body.as_bytes()).expect("fixture").0.remove(0)
    }

    fn plain_model() -> Model {
        let body = r#"{"data":[{"id":"plain","supported_endpoints":["/responses"],"capabilities":{"type":"chat"}}]}"#;
        parse_models(body.as_bytes()).expect("fixture").0.remove(0)
    }

    // ----- request mapping -------------------------------------------------------------------

    #[test]
    fn body_maps_instructions_messages_and_fixed_fields() {
        let mut req = request(vec![
            message(MessageRole::System, vec![text("be brief")]),
            message(MessageRole::System, vec![text(""), text("use Rust")]),
            message(
                MessageRole::User,
                vec![
                    text("hi"),
                    text(""),
                    MessageContent::Image(ImageData {
                        source: PNG_B64.into(),
                        width: None,
                        height: None,
                    }),
                ],
            ),
            message(MessageRole::Assistant, vec![text("Hello.")]),
        ]);
        req.max_tokens = Some(500_000);
        req.temperature = Some(0.1);
        req.stop_sequences = vec!["END".into()];
        let body = responses_body(&gpt5(), &req).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "gpt-5",
                "instructions": "be brief\n\nuse Rust",
                "input": [
                    {"type": "message", "role": "user", "content": [
                        {"type": "input_text", "text": "hi"},
                        {"type": "input_image", "image_url": format!("data:image/png;base64,{PNG_B64}")},
                    ]},
                    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello."}]},
                ],
                "stream": true,
                "store": false,
                "max_output_tokens": 128000,
            })
        );
        // A model without reasoning keeps the temperature; the request's limit applies alone.
        let mut req = request(vec![message(MessageRole::User, vec![text("x")])]);
        req.temperature = Some(0.1);
        req.max_tokens = Some(77);
        let body = responses_body(&plain_model(), &req).unwrap();
        assert_eq!(body["temperature"], json!(0.1));
        assert_eq!(body["max_output_tokens"], json!(77));
        assert!(body.get("instructions").is_none());
        req.temperature = Some(f32::NAN);
        assert!(matches!(
            responses_body(&plain_model(), &req),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn tools_are_flat_and_tool_choice_maps() {
        let mut req = request(vec![message(MessageRole::User, vec![text("x")])]);
        req.tools = vec![ToolDefinition {
            name: "read".into(),
            description: "reads".into(),
            input_schema: r#"{"type":"object"}"#.into(),
        }];
        for (choice, expected) in [
            (ToolChoice::Auto, "auto"),
            (ToolChoice::Any, "required"),
            (ToolChoice::None, "none"),
        ] {
            req.tool_choice = Some(choice);
            let body = responses_body(&gpt5(), &req).unwrap();
            assert_eq!(
                body["tools"],
                json!([{"type": "function", "name": "read", "description": "reads", "parameters": {"type": "object"}, "strict": false}])
            );
            assert_eq!(body["tool_choice"], json!(expected));
        }
        req.tools[0].input_schema = "{nope".into();
        assert!(matches!(
            responses_body(&gpt5(), &req),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn tool_round_trip_items() {
        let req = request(vec![
            message(MessageRole::User, vec![text("read it")]),
            message(
                MessageRole::Assistant,
                vec![
                    text("Reading."),
                    tool_use("call_1", "read", r#"{"p":"a"}"#),
                    tool_use("call_2", "now", ""),
                ],
            ),
            message(
                MessageRole::User,
                vec![
                    tool_result("call_1", ToolResultContent::Text("contents".into())),
                    tool_result(
                        "call_2",
                        ToolResultContent::Image(ImageData {
                            source: PNG_B64.into(),
                            width: None,
                            height: None,
                        }),
                    ),
                ],
            ),
        ]);
        let body = responses_body(&gpt5(), &req).unwrap();
        let input = body["input"].as_array().unwrap();
        assert_eq!(input.len(), 6);
        assert_eq!(
            input[1],
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Reading."}]})
        );
        assert_eq!(
            input[2],
            json!({"type": "function_call", "call_id": "call_1", "name": "read", "arguments": "{\"p\":\"a\"}"})
        );
        assert_eq!(input[3]["arguments"], json!("{}"));
        assert_eq!(
            input[4],
            json!({"type": "function_call_output", "call_id": "call_1", "output": "contents"})
        );
        assert_eq!(input[5]["output"][0]["type"], json!("input_image"));
        let bad = request(vec![message(
            MessageRole::Assistant,
            vec![tool_use("c", "f", "{oops")],
        )]);
        assert!(matches!(
            responses_body(&gpt5(), &bad),
            Err(Error::InvalidRequest(_))
        ));
        let misplaced = request(vec![message(
            MessageRole::User,
            vec![tool_use("c", "f", "{}")],
        )]);
        assert!(matches!(
            responses_body(&gpt5(), &misplaced),
            Err(Error::InvalidRequest(_))
        ));
        let system_image = request(vec![message(
            MessageRole::System,
            vec![MessageContent::Image(ImageData {
                source: PNG_B64.into(),
                width: None,
                height: None,
            })],
        )]);
        assert!(matches!(
            responses_body(&gpt5(), &system_image),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn images_are_checked_against_the_models_vision_as_on_the_other_routes() {
        let with_image = request(vec![message(
            MessageRole::User,
            vec![
                text("what is this?"),
                MessageContent::Image(ImageData {
                    source: PNG_B64.into(),
                    width: None,
                    height: None,
                }),
            ],
        )]);
        assert!(responses_body(&gpt5(), &with_image).is_ok());
        match responses_body(&plain_model(), &with_image) {
            Err(Error::InvalidRequest(message)) => {
                assert!(message.contains("plain does not accept images"), "{message}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn reasoning_only_when_allowed_and_supported_and_echoed_back() {
        let mut req = request(vec![message(MessageRole::User, vec![text("think")])]);
        let body = responses_body(&gpt5(), &req).unwrap();
        assert!(body.get("reasoning").is_none() && body.get("include").is_none());
        req.thinking_allowed = true;
        let body = responses_body(&gpt5(), &req).unwrap();
        assert_eq!(
            body["reasoning"],
            json!({"effort": "medium", "summary": "auto"})
        );
        assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
        assert!(responses_body(&plain_model(), &req)
            .unwrap()
            .get("reasoning")
            .is_none());

        // What the decoder emits as reasoning details becomes a reasoning item again; text
        // that is not ours is dropped.
        let details = r#"{"type":"reasoning","id":"rs_1","encrypted_content":"ENC"}"#;
        let req = request(vec![message(
            MessageRole::Assistant,
            vec![
                MessageContent::Thinking(ThinkingContent {
                    text: "summary".into(),
                    signature: Some(details.into()),
                }),
                MessageContent::RedactedThinking(r#"{"reasoning_opaque":"chat-only"}"#.into()),
                MessageContent::RedactedThinking("not json".into()),
                tool_use("c1", "f", "{}"),
            ],
        )]);
        let body = responses_body(&gpt5(), &req).unwrap();
        assert_eq!(
            body["input"],
            json!([
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "ENC"},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            ])
        );
    }

    #[test]
    fn effort_levels() {
        let levels = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(reasoning_effort(&[]), "medium");
        assert_eq!(
            reasoning_effort(&levels(&["low", "medium", "high"])),
            "medium"
        );
        assert_eq!(reasoning_effort(&levels(&["low", "high"])), "high");
        assert_eq!(reasoning_effort(&levels(&["low", "high", "xhigh"])), "high");
        assert_eq!(reasoning_effort(&levels(&["low"])), "low");
    }

    // ----- request options -------------------------------------------------------------------

    #[test]
    fn options_map_to_the_responses_fields() {
        let mut req = request(vec![message(MessageRole::User, vec![text("count")])]);
        req.tools = vec![tool("f", r#"{"type":"object"}"#)];
        req.response_format = Some(ResponseFormat::JsonSchema(
            crate::bindings::copilot_chat::extension::llm_provider::JsonSchemaFormat {
                name: "answer".into(),
                schema: r#"{"type":"object"}"#.into(),
                strict: Some(true),
                description: None,
            },
        ));
        req.top_p = Some(0.5);
        req.parallel_tool_calls = Some(false);
        req.thinking_allowed = true;
        req.reasoning_effort = Some("low".into());
        let body = responses_body(&gpt5(), &req).unwrap();
        assert_eq!(
            body["text"],
            json!({"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}, "strict": true}})
        );
        assert_eq!(body["top_p"], json!(0.5));
        assert_eq!(body["parallel_tool_calls"], json!(false));
        assert_eq!(body["reasoning"], json!({"effort": "low", "summary": "auto"}));
        req.response_format = Some(ResponseFormat::JsonObject);
        let body = responses_body(&gpt5(), &req).unwrap();
        assert_eq!(body["text"], json!({"format": {"type": "json_object"}}));
    }

    #[test]
    fn fields_the_responses_api_lacks_are_refused_by_name() {
        for (field, set) in [
            ("seed", (|r: &mut CompletionRequest| r.seed = Some(1)) as fn(&mut CompletionRequest)),
            ("presence_penalty", |r| r.presence_penalty = Some(0.5)),
            ("frequency_penalty", |r| r.frequency_penalty = Some(0.5)),
        ] {
            let mut req = request(vec![message(MessageRole::User, vec![text("hi")])]);
            set(&mut req);
            let err = responses_body(&gpt5(), &req).unwrap_err();
            assert!(matches!(err, Error::InvalidRequest(_)));
            assert!(err.to_string().contains(&format!("`{field}`")), "{err}");
        }
        let mut req = request(vec![message(MessageRole::User, vec![text("hi")])]);
        req.thinking_allowed = true;
        req.reasoning_effort = Some("max".into());
        let err = responses_body(&gpt5(), &req).unwrap_err().to_string();
        assert!(err.contains("minimal, low, medium, high"), "{err}");
        req.reasoning_effort = Some("high".into());
        assert!(responses_body(&plain_model(), &req).unwrap_err().to_string().contains("no reasoning effort"));
    }
}
