//! The OpenAI Responses dialect (`POST /v1/responses`), translated to and from the WIT contract,
//! for Codex-style agents and newer OpenAI SDK code.
//!
//! Design decisions:
//! * Same shape as `openai.rs`: a pure parse (JSON in, a contract request out) and a pure
//!   [`ResponsesTranslator`] (completion events in, Responses stream events and the whole
//!   response object out), both unit-tested here with literal JSON; only [`handle`] at the end
//!   does I/O, with the server's helpers.
//! * `serve` keeps no state, so what needs it is refused with a 400 naming the field:
//!   `previous_response_id`, `conversation`, `store: true`, `background: true`, item
//!   references. An omitted `store` is taken as `false` (nothing is kept either way).
//! * Opaque reasoning round-trips through `encrypted_content`: a reasoning item's
//!   `encrypted_content` is the contract's reasoning state verbatim (a `reasoning-details`
//!   event, redacted thinking or a thinking signature), and a reasoning item sent back becomes
//!   redacted thinking in the assistant turn, which the extension echoes upstream.
//! * Anything the contract cannot express (non-function tools, remote or file images, files,
//!   log probabilities, ...) is a 400 naming the field, never dropped silently. `text.format`,
//!   `top_p`, `parallel_tool_calls` and `reasoning.effort` travel in the contract's request
//!   ([`RequestOptions`]).

use std::io;
use std::net::TcpStream;

use serde_json::{json, Map, Value};

use super::translate::{self as openai, RequestOptions};
use crate::serve::context::{unix_now, Context};
use crate::serve::wire;
use crate::contract::llm_provider::{
    CompletionEvent, CompletionRequest, ImageData, MessageContent, MessageRole, ProviderError, ResponseFormat,
    RequestMessage, StopReason, ThinkingContent, TokenUsage, ToolChoice, ToolDefinition,
    ToolResult, ToolResultContent, ToolUse,
};
use crate::runtime::CompletionStream;

/// The schema sent for a function tool that declares no parameters.
const EMPTY_SCHEMA: &str = r#"{"type":"object","properties":{}}"#;
/// The only `include` value with a meaning here: encrypted reasoning is always returned.
const INCLUDE_ENCRYPTED_REASONING: &str = "reasoning.encrypted_content";
/// Fields that need state kept between requests (or a server-side job), which `serve` has not.
const STATEFUL_FIELDS: [&str; 3] = ["previous_response_id", "conversation", "prompt"];
/// Fields that change the answer and that the contract cannot carry.
const UNSUPPORTED_FIELDS: [&str; 2] = ["top_logprobs", "max_tool_calls"];

/// A client mistake: a 400 with a sentence and, when one field is to blame, its name.
#[derive(Debug, PartialEq)]
pub struct BadRequest {
    /// What is wrong, for a person.
    pub message: String,
    /// The request field to blame, OpenAI's `param`.
    pub param: Option<String>,
}

impl BadRequest {
    fn new(message: impl Into<String>) -> BadRequest {
        BadRequest {
            message: message.into(),
            param: None,
        }
    }

    fn field(param: &str, message: impl Into<String>) -> BadRequest {
        BadRequest {
            message: message.into(),
            param: Some(param.to_string()),
        }
    }

    /// The OpenAI error body for it.
    pub fn body(&self) -> Value {
        error_body(
            &self.message,
            "invalid_request_error",
            None,
            self.param.as_deref(),
        )
    }
}

/// An OpenAI error body with `param`.
fn error_body(message: &str, kind: &str, code: Option<&str>, param: Option<&str>) -> Value {
    let mut body = openai::error_body(message, kind, code);
    body["error"]["param"] = json!(param);
    body
}

/// A parsed `POST /v1/responses` body.
#[derive(Debug)]
pub struct ResponsesRequest {
    /// The requested model id.
    pub model: String,
    /// Whether to answer with server-sent events.
    pub stream: bool,
    /// The request in the contract's shape.
    pub request: CompletionRequest,
    /// The request's own settings, repeated in the response object as the API does.
    pub echo: Map<String, Value>,
}

/// Parses and maps a Responses body.
pub fn parse_responses_request(body: &[u8]) -> Result<ResponsesRequest, BadRequest> {
    let body: Value = serde_json::from_slice(body)
        .map_err(|e| BadRequest::new(format!("the body is not valid JSON: {e}")))?;
    let Some(object) = body.as_object() else {
        return Err(BadRequest::new("the body must be a JSON object"));
    };
    refuse_unsupported(object)?;
    let model = match object.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        _ => {
            return Err(BadRequest::field(
                "model",
                "`model` is required (see GET /v1/models)",
            ))
        }
    };
    let stream = match object.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(BadRequest::field("stream", "`stream` must be a boolean")),
    };
    let mut messages = Vec::new();
    match object.get("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) if text.is_empty() => {}
        Some(Value::String(text)) => messages.push(RequestMessage {
            role: MessageRole::System,
            content: vec![MessageContent::Text(text.clone())],
            cache: false,
        }),
        Some(_) => {
            return Err(BadRequest::field(
                "instructions",
                "`instructions` must be a string",
            ))
        }
    }
    messages.extend(map_input(object.get("input"))?);
    let (tools, tool_choice) = tools_and_choice(object)?;
    let temperature = match object.get("temperature") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64().map(|t| t as f32),
        Some(_) => {
            return Err(BadRequest::field(
                "temperature",
                "`temperature` must be a number",
            ))
        }
    };
    let max_tokens = match object.get("max_output_tokens") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_u64().ok_or_else(|| {
            BadRequest::field(
                "max_output_tokens",
                "`max_output_tokens` must be a positive integer",
            )
        })?),
    };
    let mut request = CompletionRequest {
        messages,
        tools,
        tool_choice,
        // The Responses API has no stop sequences.
        stop_sequences: Vec::new(),
        temperature,
        thinking_allowed: thinking_allowed(object.get("reasoning"))?,
        max_tokens,
        response_format: None,
        top_p: None,
        seed: None,
        presence_penalty: None,
        frequency_penalty: None,
        parallel_tool_calls: None,
        reasoning_effort: None,
    };
    options(object)?.apply(&mut request);
    Ok(ResponsesRequest {
        model,
        stream,
        request,
        echo: echo(object),
    })
}

/// Refuses what needs state, a background job or a capability the contract lacks.
fn refuse_unsupported(object: &Map<String, Value>) -> Result<(), BadRequest> {
    let present = |key: &str| object.get(key).is_some_and(|v| !v.is_null());
    for field in STATEFUL_FIELDS {
        if present(field) {
            return Err(BadRequest::field(
                field,
                format!("`{field}` is not supported: this endpoint keeps no state between requests; send the whole conversation in `input`"),
            ));
        }
    }
    if object.get("store") == Some(&Value::Bool(true)) {
        return Err(BadRequest::field(
            "store",
            "`store: true` is not supported: this endpoint keeps no responses; send `store: false` (or omit it) and the whole conversation in `input`",
        ));
    }
    if object.get("background") == Some(&Value::Bool(true)) {
        return Err(BadRequest::field(
            "background",
            "`background: true` is not supported: answers are streamed or returned at once",
        ));
    }
    for field in UNSUPPORTED_FIELDS {
        if present(field) {
            return Err(BadRequest::field(
                field,
                format!("`{field}` is not supported by this endpoint"),
            ));
        }
    }
    if object.get("truncation").and_then(Value::as_str) == Some("auto") {
        return Err(BadRequest::field(
            "truncation",
            "`truncation: \"auto\"` is not supported: a conversation over the model's limit is an error here",
        ));
    }
    for value in object
        .get("include")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if value.as_str() != Some(INCLUDE_ENCRYPTED_REASONING) {
            return Err(BadRequest::field(
                "include",
                format!("`include` value {value} is not supported; only `{INCLUDE_ENCRYPTED_REASONING}` is"),
            ));
        }
    }
    Ok(())
}

/// `reasoning.effort: "none"` turns thinking off; any other effort (or none given) allows it.
/// Another level travels as the contract's `reasoning-effort` (see [`options`]); none given,
/// the extension picks the model's default one.
fn thinking_allowed(reasoning: Option<&Value>) -> Result<bool, BadRequest> {
    match reasoning {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Object(r)) => match r.get("effort") {
            None | Some(Value::Null) => Ok(true),
            Some(Value::String(effort)) => Ok(effort != "none"),
            Some(_) => Err(BadRequest::field(
                "reasoning.effort",
                "`reasoning.effort` must be a string",
            )),
        },
        Some(_) => Err(BadRequest::field(
            "reasoning",
            "`reasoning` must be an object",
        )),
    }
}

/// The options that travel in the contract's request (`text.format` is the Responses
/// spelling of `response_format`; `text` is the default and sends nothing).
fn options(object: &Map<String, Value>) -> Result<RequestOptions, BadRequest> {
    let field = |(field, message): (&str, String)| BadRequest::field(field, message);
    let response_format = match object.get("text").and_then(|t| t.get("format")) {
        None | Some(Value::Null) => None,
        Some(format) => match openai::response_format(format, "text.format", true).map_err(field)? {
            ResponseFormat::Text => None,
            other => Some(other),
        },
    };
    let reasoning_effort = match object.get("reasoning") {
        Some(Value::Object(r)) => openai::effort(r.get("effort"), "reasoning.effort").map_err(field)?,
        _ => None,
    };
    Ok(RequestOptions {
        response_format,
        top_p: openai::number(object, "top_p").map_err(field)?.map(|n| n as f32),
        parallel_tool_calls: openai::boolean(object, "parallel_tool_calls").map_err(field)?,
        reasoning_effort,
        ..RequestOptions::default()
    })
}

/// The request settings a response object repeats.
fn echo(object: &Map<String, Value>) -> Map<String, Value> {
    let mut echo = Map::new();
    let copy = |key: &str, default: Value| object.get(key).cloned().unwrap_or(default);
    echo.insert("instructions".into(), copy("instructions", Value::Null));
    echo.insert(
        "max_output_tokens".into(),
        copy("max_output_tokens", Value::Null),
    );
    echo.insert("metadata".into(), copy("metadata", json!({})));
    echo.insert(
        "parallel_tool_calls".into(),
        copy("parallel_tool_calls", json!(true)),
    );
    echo.insert("reasoning".into(), copy("reasoning", Value::Null));
    echo.insert("temperature".into(), copy("temperature", Value::Null));
    echo.insert(
        "text".into(),
        copy("text", json!({"format": {"type": "text"}})),
    );
    echo.insert("tool_choice".into(), copy("tool_choice", json!("auto")));
    echo.insert("tools".into(), copy("tools", json!([])));
    echo.insert("top_p".into(), copy("top_p", Value::Null));
    echo.insert("user".into(), copy("user", Value::Null));
    echo
}

/// Function tools, and the tool choice. A choice of one function (or of allowed tools) has
/// no contract counterpart, so only those tools are offered: the same constraint.
fn tools_and_choice(
    object: &Map<String, Value>,
) -> Result<(Vec<ToolDefinition>, Option<ToolChoice>), BadRequest> {
    let mut tools = Vec::new();
    let listed = match object.get("tools") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(tools)) => tools.as_slice(),
        Some(_) => return Err(BadRequest::field("tools", "`tools` must be an array")),
    };
    for (index, tool) in listed.iter().enumerate() {
        let kind = tool.get("type").and_then(Value::as_str).unwrap_or_default();
        if kind != "function" {
            let shown = if kind.is_empty() { "(no type)" } else { kind };
            return Err(BadRequest::field(
                &format!("tools[{index}].type"),
                format!("tools of type `{shown}` are not supported; only `function` tools are"),
            ));
        }
        let Some(name) = tool
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        else {
            return Err(BadRequest::field(
                &format!("tools[{index}].name"),
                "every function tool needs a `name`",
            ));
        };
        tools.push(ToolDefinition {
            name: name.to_string(),
            description: str_field(tool, "description"),
            input_schema: match tool.get("parameters") {
                None | Some(Value::Null) => EMPTY_SCHEMA.into(),
                Some(schema) => schema.to_string(),
            },
        });
    }
    let bad_choice = || {
        BadRequest::field(
            "tool_choice",
            "`tool_choice` must be auto, required, none, a function or allowed function tools",
        )
    };
    let choice =
        match object.get("tool_choice") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(match s.as_str() {
                "auto" => ToolChoice::Auto,
                "required" => ToolChoice::Any,
                "none" => ToolChoice::None,
                _ => return Err(bad_choice()),
            }),
            Some(choice) => match choice.get("type").and_then(Value::as_str) {
                Some("function") => {
                    let name = choice
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(bad_choice)?;
                    keep_tools(&mut tools, &[name])?;
                    Some(ToolChoice::Any)
                }
                Some("allowed_tools") => {
                    let mut names = Vec::new();
                    for allowed in choice
                        .get("tools")
                        .and_then(Value::as_array)
                        .ok_or_else(bad_choice)?
                    {
                        match (
                            allowed.get("type").and_then(Value::as_str),
                            allowed.get("name").and_then(Value::as_str),
                        ) {
                            (Some("function"), Some(name)) => names.push(name),
                            _ => {
                                return Err(BadRequest::field(
                                    "tool_choice.tools",
                                    "only function tools can be allowed",
                                ))
                            }
                        }
                    }
                    keep_tools(&mut tools, &names)?;
                    match choice.get("mode").and_then(Value::as_str) {
                        Some("required") => Some(ToolChoice::Any),
                        Some("auto") | None => Some(ToolChoice::Auto),
                        Some(_) => return Err(bad_choice()),
                    }
                }
                Some(other) => return Err(BadRequest::field(
                    "tool_choice",
                    format!(
                        "`tool_choice` of type `{other}` is not supported; only function tools are"
                    ),
                )),
                None => return Err(bad_choice()),
            },
        };
    Ok((tools, choice))
}

fn keep_tools(tools: &mut Vec<ToolDefinition>, names: &[&str]) -> Result<(), BadRequest> {
    if let Some(missing) = names.iter().find(|n| !tools.iter().any(|t| t.name == **n)) {
        return Err(BadRequest::field(
            "tool_choice",
            format!("`tool_choice` names `{missing}`, which is not in `tools`"),
        ));
    }
    tools.retain(|t| names.contains(&t.name.as_str()));
    Ok(())
}

fn str_field(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Where the next input item goes.
#[derive(PartialEq)]
enum Turn {
    None,
    Assistant,
    ToolResults,
}

/// Maps `input` (a string, or a list of items) to contract messages. Consecutive assistant
/// items (reasoning, text, function calls) make one assistant message; consecutive function
/// call outputs make one user message, as one turn's results do in the contract.
fn map_input(input: Option<&Value>) -> Result<Vec<RequestMessage>, BadRequest> {
    let items = match input {
        Some(Value::String(text)) => {
            return Ok(vec![RequestMessage {
                role: MessageRole::User,
                content: vec![MessageContent::Text(text.clone())],
                cache: false,
            }])
        }
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => return Err(BadRequest::field("input", "`input` is empty")),
        _ => {
            return Err(BadRequest::field(
                "input",
                "`input` must be a string or an array of items",
            ))
        }
    };
    let mut out: Vec<RequestMessage> = Vec::new();
    let mut turn = Turn::None;
    for (index, item) in items.iter().enumerate() {
        let at = |what: &str| format!("input[{index}]{what}");
        let kind = item.get("type").and_then(Value::as_str);
        // A message may leave out `type` (the "easy" input message).
        let kind = match (kind, item.get("role")) {
            (None, Some(_)) => "message",
            (Some(kind), _) => kind,
            (None, None) => {
                return Err(BadRequest::field(
                    &at(".type"),
                    "every input item needs a `type` (or a `role` for a message)",
                ))
            }
        };
        match kind {
            "message" => {
                let role = item.get("role").and_then(Value::as_str).unwrap_or_default();
                let content = item.get("content").unwrap_or(&Value::Null);
                let parts = content_parts(content, role == "user", &at(".content"))?;
                match role {
                    "assistant" => {
                        assistant(&mut out, &mut turn).extend(parts);
                        continue;
                    }
                    "user" => out.push(RequestMessage {
                        role: MessageRole::User,
                        content: parts,
                        cache: false,
                    }),
                    "system" | "developer" => out.push(RequestMessage {
                        role: MessageRole::System,
                        content: parts,
                        cache: false,
                    }),
                    other => {
                        return Err(BadRequest::field(
                            &at(".role"),
                            format!("message role `{other}` is not supported"),
                        ))
                    }
                }
                turn = Turn::None;
            }
            "function_call" => {
                let (Some(call_id), Some(name)) = (
                    item.get("call_id").and_then(Value::as_str),
                    item.get("name").and_then(Value::as_str),
                ) else {
                    return Err(BadRequest::field(
                        &at(""),
                        "every `function_call` item needs `call_id` and `name`",
                    ));
                };
                let input = match item.get("arguments") {
                    None | Some(Value::Null) => "{}".to_string(),
                    Some(Value::String(arguments)) => arguments.clone(),
                    Some(_) => {
                        return Err(BadRequest::field(
                            &at(".arguments"),
                            "`arguments` must be a JSON string",
                        ))
                    }
                };
                assistant(&mut out, &mut turn).push(MessageContent::ToolUse(ToolUse {
                    id: call_id.to_string(),
                    name: name.to_string(),
                    input,
                    is_input_complete: true,
                    thought_signature: None,
                }));
            }
            "reasoning" => {
                let parts = reasoning_parts(item);
                assistant(&mut out, &mut turn).extend(parts);
            }
            "function_call_output" => {
                let result = function_call_output(item, &items[..index], &at(""))?;
                match out.last_mut() {
                    Some(last) if turn == Turn::ToolResults => last.content.push(result),
                    _ => out.push(RequestMessage {
                        role: MessageRole::User,
                        content: vec![result],
                        cache: false,
                    }),
                }
                turn = Turn::ToolResults;
            }
            "item_reference" => {
                return Err(BadRequest::field(
                    &at(""),
                    "`item_reference` items are not supported: this endpoint keeps no items; send the item itself",
                ))
            }
            other => {
                return Err(BadRequest::field(
                    &at(".type"),
                    format!("input items of type `{other}` are not supported; only message, function_call, function_call_output and reasoning are"),
                ))
            }
        }
    }
    Ok(out)
}

/// The assistant message being built, started if the previous item was not an assistant one.
fn assistant<'a>(out: &'a mut Vec<RequestMessage>, turn: &mut Turn) -> &'a mut Vec<MessageContent> {
    if *turn != Turn::Assistant {
        out.push(RequestMessage {
            role: MessageRole::Assistant,
            content: Vec::new(),
            cache: false,
        });
        *turn = Turn::Assistant;
    }
    let last = out.len() - 1;
    &mut out[last].content
}

/// A reasoning item as thinking: its summary text, and its encrypted content (our own
/// reasoning state, see the module docs) as redacted thinking the extension sends back.
fn reasoning_parts(item: &Value) -> Vec<MessageContent> {
    let summary: Vec<&str> = item
        .get("summary")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("text").and_then(Value::as_str))
        .collect();
    let mut parts = Vec::new();
    let summary = summary.join("\n\n");
    if !summary.is_empty() {
        parts.push(MessageContent::Thinking(ThinkingContent {
            text: summary,
            signature: None,
        }));
    }
    if let Some(encrypted) = item
        .get("encrypted_content")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        parts.push(MessageContent::RedactedThinking(encrypted.to_string()));
    }
    parts
}

/// A string, or a list of `input_text` / `output_text` / `refusal` parts and (for a user)
/// `input_image` parts.
fn content_parts(
    content: &Value,
    images: bool,
    at: &str,
) -> Result<Vec<MessageContent>, BadRequest> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => Ok(vec![MessageContent::Text(text.clone())]),
        Value::Array(parts) => parts
            .iter()
            .enumerate()
            .map(|(i, part)| content_part(part, images, &format!("{at}[{i}]")))
            .collect(),
        _ => Err(BadRequest::field(
            at,
            "`content` must be a string or an array of parts",
        )),
    }
}

fn content_part(part: &Value, images: bool, at: &str) -> Result<MessageContent, BadRequest> {
    match part.get("type").and_then(Value::as_str) {
        Some("input_text" | "output_text" | "text") => {
            Ok(MessageContent::Text(str_field(part, "text")))
        }
        Some("refusal") => Ok(MessageContent::Text(str_field(part, "refusal"))),
        Some("input_image") if images => Ok(MessageContent::Image(image(part, at)?)),
        Some(other) => Err(BadRequest::field(
            &format!("{at}.type"),
            format!("content parts of type `{other}` are not supported here"),
        )),
        None => Err(BadRequest::field(at, "every content part needs a `type`")),
    }
}

fn image(part: &Value, at: &str) -> Result<ImageData, BadRequest> {
    if part.get("file_id").is_some_and(|f| !f.is_null()) {
        return Err(BadRequest::field(
            &format!("{at}.file_id"),
            "images by `file_id` are not supported: this endpoint stores no files; send a `data:` URL",
        ));
    }
    let url = part
        .get("image_url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !url.starts_with("data:") {
        return Err(BadRequest::field(
            &format!("{at}.image_url"),
            "images must be `data:` URLs; the extension does not fetch remote images",
        ));
    }
    Ok(ImageData {
        source: url.to_string(),
        width: None,
        height: None,
    })
}

/// A function call's output as a tool result; its name comes from the call with that id.
fn function_call_output(
    item: &Value,
    earlier: &[Value],
    at: &str,
) -> Result<MessageContent, BadRequest> {
    let Some(call_id) = item.get("call_id").and_then(Value::as_str) else {
        return Err(BadRequest::field(
            at,
            "every `function_call_output` item needs `call_id`",
        ));
    };
    let name = earlier
        .iter()
        .rev()
        .find(|e| {
            e.get("type").and_then(Value::as_str) == Some("function_call")
                && e.get("call_id").and_then(Value::as_str) == Some(call_id)
        })
        .and_then(|e| e.get("name").and_then(Value::as_str))
        .unwrap_or_default();
    let content = match item.get("output") {
        Some(Value::String(text)) => ToolResultContent::Text(text.clone()),
        None | Some(Value::Null) => ToolResultContent::Text(String::new()),
        Some(Value::Array(parts)) => output_parts(parts, at)?,
        Some(_) => {
            return Err(BadRequest::field(
                &format!("{at}.output"),
                "`output` must be a string or an array of parts",
            ))
        }
    };
    Ok(MessageContent::ToolResult(ToolResult {
        tool_use_id: call_id.to_string(),
        tool_name: name.to_string(),
        is_error: false,
        content,
    }))
}

/// A tool result is text, or exactly one image: the contract has no mixed result.
fn output_parts(parts: &[Value], at: &str) -> Result<ToolResultContent, BadRequest> {
    let at = format!("{at}.output");
    let kind = |p: &Value| p.get("type").and_then(Value::as_str).map(str::to_string);
    if let Some(other) = parts
        .iter()
        .filter_map(kind)
        .find(|k| k != "input_text" && k != "input_image")
    {
        return Err(BadRequest::field(
            &at,
            format!("output parts of type `{other}` are not supported; only input_text and input_image are"),
        ));
    }
    let images: Vec<&Value> = parts
        .iter()
        .filter(|p| kind(p).as_deref() == Some("input_image"))
        .collect();
    match (images.as_slice(), parts.len()) {
        ([], _) => Ok(ToolResultContent::Text(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect(),
        )),
        ([one], 1) => Ok(ToolResultContent::Image(image(one, &at)?)),
        _ => Err(BadRequest::field(
            &at,
            "a function call output must be text or a single image, not both or several images",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Answer translation
// ---------------------------------------------------------------------------------------------

/// The output item being streamed.
enum Open {
    Message {
        id: String,
        text: String,
    },
    Reasoning {
        id: String,
        summary: String,
        encrypted: Option<String>,
    },
}

/// Turns one completion's events into Responses stream events (each with its
/// `sequence_number`), and keeps the whole response object for a non-streaming answer.
pub struct ResponsesTranslator {
    id: String,
    created_at: u64,
    model: String,
    echo: Map<String, Value>,
    sequence: u64,
    /// Finished output items, in order; the open one is at index `output.len()`.
    output: Vec<Value>,
    open: Option<Open>,
    items: u64,
    stop: Option<StopReason>,
    usage: Option<TokenUsage>,
}

impl ResponsesTranslator {
    /// A translator for the response `id` to a request of `model` repeating `echo`.
    pub fn new(id: String, created_at: u64, model: String, echo: Map<String, Value>) -> Self {
        ResponsesTranslator {
            id,
            created_at,
            model,
            echo,
            sequence: 0,
            output: Vec::new(),
            open: None,
            items: 0,
            stop: None,
            usage: None,
        }
    }

    fn emit(&mut self, kind: &str, fields: Value) -> Value {
        let mut event = json!({"type": kind, "sequence_number": self.sequence});
        if let (Some(event), Value::Object(fields)) = (event.as_object_mut(), fields) {
            event.extend(fields);
        }
        self.sequence += 1;
        event
    }

    fn item_id(&mut self, prefix: &str) -> String {
        self.items += 1;
        let base = self.id.strip_prefix("resp_").unwrap_or(&self.id);
        format!("{prefix}_{base}{:02x}", self.items)
    }

    /// `response.created` and `response.in_progress`.
    pub fn start(&mut self) -> Vec<Value> {
        let snapshot = self.response_with("in_progress");
        vec![
            self.emit("response.created", json!({"response": snapshot})),
            self.emit("response.in_progress", json!({"response": snapshot})),
        ]
    }

    /// The events for one completion event (none for some).
    pub fn event(&mut self, event: &CompletionEvent) -> Vec<Value> {
        let mut out = Vec::new();
        match event {
            CompletionEvent::Started => {}
            CompletionEvent::Text(text) => {
                if !matches!(self.open, Some(Open::Message { .. })) {
                    self.close(&mut out);
                    self.open_message(&mut out);
                }
                if let Some(Open::Message { id, text: all }) = &mut self.open {
                    all.push_str(text);
                    let id = id.clone();
                    let index = self.output.len();
                    out.push(self.emit(
                        "response.output_text.delta",
                        json!({"item_id": id, "output_index": index, "content_index": 0, "delta": text, "logprobs": []}),
                    ));
                }
            }
            CompletionEvent::Thinking(thinking) => {
                self.thinking(&thinking.text, &mut out);
                if let Some(signature) = thinking.signature.as_deref().filter(|s| !s.is_empty()) {
                    self.reasoning_state(signature, &mut out);
                }
            }
            CompletionEvent::RedactedThinking(data) | CompletionEvent::ReasoningDetails(data) => {
                if !data.is_empty() {
                    self.reasoning_state(data, &mut out);
                }
            }
            CompletionEvent::ToolUse(tool) => {
                self.function_call(&tool.id, &tool.name, &tool.input, &mut out)
            }
            // Pass the model's raw arguments on: the client reports the bad JSON to the model.
            CompletionEvent::ToolUseJsonParseError(e) => {
                self.function_call(&e.id, &e.tool_name, &e.raw_input, &mut out)
            }
            CompletionEvent::Stop(reason) => {
                self.stop = Some(*reason);
                self.close(&mut out);
            }
            CompletionEvent::Usage(usage) => self.usage = Some(*usage),
        }
        out
    }

    fn open_message(&mut self, out: &mut Vec<Value>) {
        let id = self.item_id("msg");
        let index = self.output.len();
        out.push(self.emit(
            "response.output_item.added",
            json!({"output_index": index, "item": {"type": "message", "id": id, "status": "in_progress", "role": "assistant", "content": []}}),
        ));
        out.push(self.emit(
            "response.content_part.added",
            json!({"item_id": id, "output_index": index, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
        ));
        self.open = Some(Open::Message {
            id,
            text: String::new(),
        });
    }

    /// Summary text joins the open reasoning item, or starts one.
    fn thinking(&mut self, text: &str, out: &mut Vec<Value>) {
        if text.is_empty() {
            return;
        }
        if !matches!(self.open, Some(Open::Reasoning { .. })) {
            self.close(out);
            self.open_reasoning(out);
        }
        let index = self.output.len();
        let Some(Open::Reasoning { id, summary, .. }) = &mut self.open else {
            return;
        };
        let first = summary.is_empty();
        summary.push_str(text);
        let id = id.clone();
        if first {
            out.push(self.emit(
                "response.reasoning_summary_part.added",
                json!({"item_id": id, "output_index": index, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
            ));
        }
        out.push(self.emit(
            "response.reasoning_summary_text.delta",
            json!({"item_id": id, "output_index": index, "summary_index": 0, "delta": text}),
        ));
    }

    /// Opaque reasoning state goes into the open reasoning item's `encrypted_content` (a new
    /// item when there is none, or when the open one already carries some).
    fn reasoning_state(&mut self, state: &str, out: &mut Vec<Value>) {
        let fits = matches!(
            self.open,
            Some(Open::Reasoning {
                encrypted: None,
                ..
            })
        );
        if !fits {
            self.close(out);
            self.open_reasoning(out);
        }
        if let Some(Open::Reasoning { encrypted, .. }) = &mut self.open {
            *encrypted = Some(state.to_string());
        }
    }

    fn open_reasoning(&mut self, out: &mut Vec<Value>) {
        let id = self.item_id("rs");
        let index = self.output.len();
        out.push(self.emit(
            "response.output_item.added",
            json!({"output_index": index, "item": {"type": "reasoning", "id": id, "summary": []}}),
        ));
        self.open = Some(Open::Reasoning {
            id,
            summary: String::new(),
            encrypted: None,
        });
    }

    fn function_call(&mut self, call_id: &str, name: &str, arguments: &str, out: &mut Vec<Value>) {
        self.close(out);
        let id = self.item_id("fc");
        let index = self.output.len();
        let item = |arguments: &str, status: &str| json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": arguments, "status": status});
        out.push(self.emit(
            "response.output_item.added",
            json!({"output_index": index, "item": item("", "in_progress")}),
        ));
        out.push(self.emit(
            "response.function_call_arguments.delta",
            json!({"item_id": id, "output_index": index, "delta": arguments}),
        ));
        out.push(self.emit(
            "response.function_call_arguments.done",
            json!({"item_id": id, "output_index": index, "name": name, "arguments": arguments}),
        ));
        let done = item(arguments, "completed");
        out.push(self.emit(
            "response.output_item.done",
            json!({"output_index": index, "item": done}),
        ));
        self.output.push(done);
    }

    /// Finishes the open item, if any.
    fn close(&mut self, out: &mut Vec<Value>) {
        let index = self.output.len();
        let item = match self.open.take() {
            None => return,
            Some(Open::Message { id, text }) => {
                let part =
                    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
                out.push(self.emit(
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []}),
                ));
                out.push(self.emit(
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "part": part}),
                ));
                let status = if self.stop == Some(StopReason::MaxTokens) {
                    "incomplete"
                } else {
                    "completed"
                };
                json!({"type": "message", "id": id, "status": status, "role": "assistant", "content": [part]})
            }
            Some(Open::Reasoning {
                id,
                summary,
                encrypted,
            }) => {
                let mut parts = Vec::new();
                if !summary.is_empty() {
                    let part = json!({"type": "summary_text", "text": summary});
                    out.push(self.emit(
                        "response.reasoning_summary_text.done",
                        json!({"item_id": id, "output_index": index, "summary_index": 0, "text": summary}),
                    ));
                    out.push(self.emit(
                        "response.reasoning_summary_part.done",
                        json!({"item_id": id, "output_index": index, "summary_index": 0, "part": part}),
                    ));
                    parts.push(part);
                }
                let mut item = json!({"type": "reasoning", "id": id, "summary": parts});
                if let Some(encrypted) = encrypted {
                    item["encrypted_content"] = json!(encrypted);
                }
                item
            }
        };
        out.push(self.emit(
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        ));
        self.output.push(item);
    }

    /// The events after the last completion event: the open item's end, then
    /// `response.completed` (or `response.incomplete` when the answer was cut short).
    pub fn finish(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        self.close(&mut out);
        let response = self.response();
        let kind = if response["status"] == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        out.push(self.emit(kind, json!({"response": response})));
        out
    }

    /// `response.failed` for a failure after the stream began; `error` is an OpenAI error
    /// body (`{"error": {"message", "code", ...}}`).
    pub fn failed(&mut self, error: &Value) -> Value {
        let mut response = self.response_with("failed");
        response["error"] = json!({
            "code": error["error"]["code"].as_str().unwrap_or("server_error"),
            "message": error["error"]["message"],
        });
        self.emit("response.failed", json!({"response": response}))
    }

    /// The whole response object as it stands (after [`Self::finish`], the final one).
    pub fn response(&self) -> Value {
        let status = match self.stop {
            Some(StopReason::MaxTokens | StopReason::Refusal) => "incomplete",
            _ => "completed",
        };
        let mut response = self.response_with(status);
        let reason = match self.stop {
            Some(StopReason::MaxTokens) => Some("max_output_tokens"),
            Some(StopReason::Refusal) => Some("content_filter"),
            _ => None,
        };
        if let Some(reason) = reason {
            response["incomplete_details"] = json!({"reason": reason});
        }
        if let Some(usage) = &self.usage {
            response["usage"] = usage_json(usage);
        }
        response
    }

    fn response_with(&self, status: &str) -> Value {
        let mut response = Map::new();
        response.insert("id".into(), json!(self.id));
        response.insert("object".into(), json!("response"));
        response.insert("created_at".into(), json!(self.created_at));
        response.insert("status".into(), json!(status));
        response.insert("background".into(), json!(false));
        response.insert("error".into(), Value::Null);
        response.insert("incomplete_details".into(), Value::Null);
        response.insert("model".into(), json!(self.model));
        response.insert("output".into(), json!(self.output));
        response.insert("previous_response_id".into(), Value::Null);
        response.insert("store".into(), json!(false));
        response.insert("truncation".into(), json!("disabled"));
        response.insert("usage".into(), Value::Null);
        for (key, value) in &self.echo {
            response.insert(key.clone(), value.clone());
        }
        Value::Object(response)
    }
}

/// Usage as the Responses API spells it. The contract does not say how many output tokens
/// were reasoning, so `output_tokens_details` is left out rather than guessed.
fn usage_json(usage: &TokenUsage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cache_read_input_tokens.unwrap_or(0)},
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens.saturating_add(usage.output_tokens),
    })
}

// ---------------------------------------------------------------------------------------------
// The route
// ---------------------------------------------------------------------------------------------

/// `POST /v1/responses`.
pub(super) fn handle(
    ctx: &Context,
    request: &wire::Request,
    out: &mut TcpStream,
) -> io::Result<()> {
    let parsed = match parse_responses_request(&request.body) {
        Ok(parsed) => parsed,
        Err(bad) => return wire::write_json(out, 400, &[], &bad.body()),
    };
    let mut stream = match ctx
        .ext
        .stream(&ctx.provider, &parsed.model, parsed.request)
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return super::provider_failure(out, &error),
        Err(error) => return super::host_failure(out, &error),
    };
    // The status line waits for the first event, so an early failure gets a real status.
    let first = match stream.next_event() {
        Ok(Some(Ok(event))) => Some(event),
        Ok(None) => None,
        Ok(Some(Err(error))) => return super::provider_failure(out, &error),
        Err(error) => return super::host_failure(out, &error),
    };
    let n = ctx.next_id();
    let now = unix_now();
    let id = format!("resp_{now:x}{n:04x}");
    let mut translator = ResponsesTranslator::new(id, now, parsed.model, parsed.echo);
    if parsed.stream {
        stream_answer(ctx, &mut stream, &mut translator, first, out)
    } else {
        whole_answer(&mut stream, &mut translator, first, out)
    }
}

fn stream_answer(
    ctx: &Context,
    stream: &mut CompletionStream,
    translator: &mut ResponsesTranslator,
    first: Option<CompletionEvent>,
    out: &mut TcpStream,
) -> io::Result<()> {
    let mut events = wire::EventStream::start(out)?;
    let send = |events: &mut wire::EventStream<&mut TcpStream>, list: Vec<Value>| {
        list.iter().try_for_each(|e| {
            let kind = e["type"].as_str().unwrap_or_default();
            events.named(kind, &e.to_string())
        })
    };
    send(&mut events, translator.start())?;
    let mut next = first.map(Ok);
    loop {
        let event = match next.take() {
            Some(event) => event,
            None => match stream.next_event() {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(error) => Err(super::host_as_provider_error(&error)),
            },
        };
        match event {
            Ok(event) => send(&mut events, translator.event(&event))?,
            Err(error) => {
                let failed = translator.failed(&failure_body(&error));
                send(&mut events, vec![failed])?;
                return events.finish();
            }
        }
        if ctx.is_stopping() {
            return Ok(());
        }
    }
    send(&mut events, translator.finish())?;
    events.finish()
}

fn failure_body(error: &ProviderError) -> Value {
    openai::provider_error(error).1
}

fn whole_answer(
    stream: &mut CompletionStream,
    translator: &mut ResponsesTranslator,
    first: Option<CompletionEvent>,
    out: &mut TcpStream,
) -> io::Result<()> {
    if let Some(event) = &first {
        translator.event(event);
    }
    loop {
        match stream.next_event() {
            Ok(Some(Ok(event))) => {
                translator.event(&event);
            }
            Ok(None) => break,
            Ok(Some(Err(error))) => return super::provider_failure(out, &error),
            Err(error) => return super::host_failure(out, &error),
        }
    }
    translator.finish();
    wire::write_json(out, 200, &[], &translator.response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::llm_provider::{
        JsonSchemaFormat, NotSignedInInfo, ToolUseJsonParseError, UpstreamInfo,
    };

    fn parse(body: Value) -> Result<ResponsesRequest, BadRequest> {
        parse_responses_request(body.to_string().as_bytes())
    }

    fn refused(body: Value) -> BadRequest {
        parse(body).expect_err("a 400")
    }

    #[test]
    fn maps_a_codex_style_conversation() {
        let parsed = parse(json!({
            "model": "gpt-5",
            "instructions": "You are a coding agent.",
            "stream": true,
            "store": false,
            "parallel_tool_calls": false,
            "include": ["reasoning.encrypted_content"],
            "reasoning": {"effort": "high", "summary": "auto"},
            "max_output_tokens": 500,
            "temperature": 0.2,
            "tool_choice": "auto",
            "tools": [{"type": "function", "name": "shell", "description": "run", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}, "strict": false}],
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "cwd is /repo"}]},
                {"role": "user", "content": [
                    {"type": "input_text", "text": "what is here?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"}]},
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "list it"}], "encrypted_content": "{\"type\":\"reasoning\",\"encrypted_content\":\"E\"}"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking.", "annotations": []}]},
                {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "shell", "arguments": "{\"cmd\":\"ls\"}"},
                {"type": "function_call", "id": "fc_2", "call_id": "c2", "name": "shell", "arguments": "{\"cmd\":\"pwd\"}"},
                {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
                {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "/repo"}]},
                {"type": "message", "role": "user", "content": "thanks"},
            ],
        }))
        .unwrap();
        assert_eq!(parsed.model, "gpt-5");
        assert!(parsed.stream);
        let r = &parsed.request;
        assert_eq!((r.max_tokens, r.temperature), (Some(500), Some(0.2)));
        assert!(r.thinking_allowed);
        assert!(r.stop_sequences.is_empty());
        assert!(matches!(r.tool_choice, Some(ToolChoice::Auto)));
        assert_eq!(r.tools[0].name, "shell");
        let schema: Value = serde_json::from_str(&r.tools[0].input_schema).unwrap();
        assert_eq!(
            schema,
            json!({"type": "object", "properties": {"cmd": {"type": "string"}}})
        );
        let roles: Vec<&str> = r
            .messages
            .iter()
            .map(|m| match m.role {
                MessageRole::System => "system",
                MessageRole::User => "user",
                MessageRole::Assistant => "assistant",
            })
            .collect();
        assert_eq!(
            roles,
            ["system", "system", "user", "assistant", "user", "user"]
        );
        assert!(
            matches!(&r.messages[0].content[..], [MessageContent::Text(t)] if t == "You are a coding agent.")
        );
        assert!(matches!(r.messages[2].content[1], MessageContent::Image(_)));
        match &r.messages[3].content[..] {
            [MessageContent::Thinking(t), MessageContent::RedactedThinking(state), MessageContent::Text(text), MessageContent::ToolUse(a), MessageContent::ToolUse(b)] =>
            {
                assert_eq!(t.text, "list it");
                assert_eq!(state, r#"{"type":"reasoning","encrypted_content":"E"}"#);
                assert_eq!(text, "Looking.");
                assert_eq!((a.id.as_str(), a.input.as_str()), ("c1", r#"{"cmd":"ls"}"#));
                assert_eq!(b.id, "c2");
            }
            other => panic!("{other:?}"),
        }
        match &r.messages[4].content[..] {
            [MessageContent::ToolResult(a), MessageContent::ToolResult(b)] => {
                assert_eq!(
                    (a.tool_use_id.as_str(), a.tool_name.as_str()),
                    ("c1", "shell")
                );
                assert!(matches!(&a.content, ToolResultContent::Text(t) if t == "a.txt"));
                assert!(matches!(&b.content, ToolResultContent::Text(t) if t == "/repo"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parsed.request.parallel_tool_calls, Some(false));
        assert_eq!(r.reasoning_effort.as_deref(), Some("high"));
        assert_eq!(parsed.echo["tool_choice"], "auto");
        assert_eq!(parsed.echo["instructions"], "You are a coding agent.");
    }

    #[test]
    fn a_string_input_is_one_user_message_and_effort_none_turns_thinking_off() {
        let parsed =
            parse(json!({"model": "m", "input": "hi", "reasoning": {"effort": "none"}})).unwrap();
        assert!(!parsed.stream);
        assert!(!parsed.request.thinking_allowed);
        assert!(matches!(
            &parsed.request.messages[..],
            [RequestMessage {
                role: MessageRole::User,
                ..
            }]
        ));
        assert_eq!(parsed.echo["tools"], json!([]));
    }

    #[test]
    fn a_named_or_allowed_tool_choice_offers_only_those_tools() {
        let tools = json!([{"type": "function", "name": "a"}, {"type": "function", "name": "b"}, {"type": "function", "name": "c"}]);
        let parsed = parse(json!({"model": "m", "input": "x", "tools": tools, "tool_choice": {"type": "function", "name": "b"}})).unwrap();
        assert_eq!(parsed.request.tools.len(), 1);
        assert!(matches!(parsed.request.tool_choice, Some(ToolChoice::Any)));
        let parsed = parse(json!({"model": "m", "input": "x", "tools": tools, "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "a"}, {"type": "function", "name": "c"}]}})).unwrap();
        let names: Vec<&str> = parsed
            .request
            .tools
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["a", "c"]);
        assert!(matches!(parsed.request.tool_choice, Some(ToolChoice::Auto)));
        let bad = refused(
            json!({"model": "m", "input": "x", "tools": tools, "tool_choice": {"type": "function", "name": "z"}}),
        );
        assert!(bad.message.contains("`z`"), "{bad:?}");
    }

    #[test]
    fn function_call_outputs_are_text_or_one_image() {
        let call =
            json!({"type": "function_call", "call_id": "c", "name": "shot", "arguments": "{}"});
        let image = json!({"type": "input_image", "image_url": "data:image/png;base64,AAAA"});
        let with = |output: Value| {
            parse(
                json!({"model": "m", "input": [call.clone(), {"type": "function_call_output", "call_id": "c", "output": output}]}),
            )
        };
        let parsed = with(json!([image.clone()])).unwrap();
        match &parsed.request.messages[1].content[..] {
            [MessageContent::ToolResult(r)] => {
                assert_eq!(r.tool_name, "shot");
                assert!(matches!(r.content, ToolResultContent::Image(_)));
            }
            other => panic!("{other:?}"),
        }
        assert!(with(json!([image, {"type": "input_text", "text": "x"}]))
            .unwrap_err()
            .message
            .contains("single image"));
        assert_eq!(
            with(json!([{"type": "input_file", "file_id": "f"}]))
                .unwrap_err()
                .param
                .as_deref(),
            Some("input[1].output")
        );
    }

    #[test]
    fn refuses_what_needs_state_or_the_contract_cannot_carry() {
        let base = |extra: Value| {
            let mut body = json!({"model": "m", "input": "x"});
            if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
                body.extend(extra);
            }
            body
        };
        for (extra, param) in [
            (
                json!({"previous_response_id": "resp_1"}),
                "previous_response_id",
            ),
            (json!({"conversation": "conv_1"}), "conversation"),
            (json!({"store": true}), "store"),
            (json!({"background": true}), "background"),
            (json!({"top_logprobs": 2}), "top_logprobs"),
            (json!({"truncation": "auto"}), "truncation"),
            (
                json!({"include": ["message.output_text.logprobs"]}),
                "include",
            ),
            (json!({"tools": [{"type": "web_search"}]}), "tools[0].type"),
            (
                json!({"tool_choice": {"type": "file_search"}}),
                "tool_choice",
            ),
            (
                json!({"input": [{"type": "item_reference", "id": "msg_1"}]}),
                "input[0]",
            ),
            (
                json!({"input": [{"type": "web_search_call", "id": "ws"}]}),
                "input[0].type",
            ),
            (
                json!({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}]}),
                "input[0].content[0].image_url",
            ),
            (
                json!({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]}),
                "input[0].content[0].file_id",
            ),
            (
                json!({"input": [{"role": "user", "content": [{"type": "input_file", "file_data": "x"}]}]}),
                "input[0].content[0].type",
            ),
            (json!({"input": []}), "input"),
            (json!({"model": ""}), "model"),
            (json!({"max_output_tokens": -1}), "max_output_tokens"),
        ] {
            let bad = refused(base(extra.clone()));
            assert_eq!(bad.param.as_deref(), Some(param), "{extra}: {bad:?}");
            assert_eq!(bad.body()["error"]["type"], "invalid_request_error");
            assert_eq!(bad.body()["error"]["param"], param);
        }
        // Explicitly stateless requests and the one meaningful `include` are fine.
        assert!(parse(base(json!({"store": false, "background": false, "previous_response_id": null, "include": ["reasoning.encrypted_content"]}))).is_ok());
        assert!(parse_responses_request(b"[1]")
            .unwrap_err()
            .message
            .contains("object"));
        assert!(parse_responses_request(b"{oops")
            .unwrap_err()
            .message
            .contains("JSON"));
    }

    #[test]
    fn a_json_text_format_goes_into_the_request() {
        let format = json!({"type": "json_schema", "name": "x", "schema": {"type": "object"}, "strict": true});
        let parsed =
            parse(json!({"model": "m", "input": "x", "text": {"format": format}, "top_p": 0.5}))
                .unwrap();
        assert_eq!(
            parsed.request.response_format,
            Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: "x".into(),
                schema: r#"{"type":"object"}"#.into(),
                strict: Some(true),
                description: None,
            }))
        );
        assert_eq!(parsed.request.top_p, Some(0.5));
        let plain =
            parse(json!({"model": "m", "input": "x", "text": {"format": {"type": "text"}}}))
                .unwrap();
        assert_eq!(plain.request.response_format, None);
        assert_eq!((plain.request.top_p, plain.request.reasoning_effort.as_deref()), (None, None));
        let bad = parse(json!({"model": "m", "input": "x", "text": {"format": {"type": "json_schema"}}}))
            .unwrap_err();
        assert!(bad.message.contains("text.format"), "{}", bad.message);
    }

    fn translator() -> ResponsesTranslator {
        let echo = parse(json!({"model": "gpt-5", "input": "x", "instructions": "be brief"}))
            .unwrap()
            .echo;
        ResponsesTranslator::new("resp_abc".into(), 7, "gpt-5".into(), echo)
    }

    fn run(t: &mut ResponsesTranslator, events: Vec<CompletionEvent>) -> Vec<Value> {
        let mut out = t.start();
        for event in &events {
            out.extend(t.event(event));
        }
        out.extend(t.finish());
        out
    }

    fn types(events: &[Value]) -> Vec<&str> {
        events.iter().map(|e| e["type"].as_str().unwrap()).collect()
    }

    fn call(id: &str, input: &str) -> CompletionEvent {
        CompletionEvent::ToolUse(ToolUse {
            id: id.into(),
            name: "shell".into(),
            input: input.into(),
            is_input_complete: true,
            thought_signature: None,
        })
    }

    fn usage() -> CompletionEvent {
        CompletionEvent::Usage(TokenUsage {
            input_tokens: 10,
            output_tokens: 5,
            cache_creation_input_tokens: None,
            cache_read_input_tokens: Some(4),
        })
    }

    #[test]
    fn translates_reasoning_text_and_parallel_calls() {
        let mut t = translator();
        let state = r#"{"type":"reasoning","id":"rs_up","encrypted_content":"ENC"}"#;
        let events = run(
            &mut t,
            vec![
                CompletionEvent::Started,
                CompletionEvent::Thinking(ThinkingContent {
                    text: "Plan ".into(),
                    signature: None,
                }),
                CompletionEvent::Thinking(ThinkingContent {
                    text: "it.".into(),
                    signature: None,
                }),
                CompletionEvent::ReasoningDetails(state.into()),
                CompletionEvent::Text("Run".into()),
                CompletionEvent::Text("ning.".into()),
                call("c1", r#"{"cmd":"ls"}"#),
                call("c2", r#"{"cmd":"pwd"}"#),
                usage(),
                CompletionEvent::Stop(StopReason::ToolUse),
            ],
        );
        assert_eq!(
            types(&events),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        for (n, event) in events.iter().enumerate() {
            assert_eq!(event["sequence_number"], n as u64, "{event}");
        }
        assert_eq!(events[0]["response"]["status"], "in_progress");
        assert_eq!(events[0]["response"]["output"], json!([]));
        assert_eq!(events[0]["response"]["instructions"], "be brief");
        let reasoning = &events[8]["item"];
        assert_eq!(events[8]["output_index"], 0);
        assert_eq!(
            reasoning["summary"],
            json!([{"type": "summary_text", "text": "Plan it."}])
        );
        assert_eq!(
            reasoning["encrypted_content"], state,
            "the state goes back verbatim"
        );
        assert_eq!(events[11]["delta"], "Run");
        assert_eq!(events[11]["item_id"], events[9]["item"]["id"]);
        assert_eq!(
            (
                events[11]["output_index"].as_u64(),
                events[11]["content_index"].as_u64()
            ),
            (Some(1), Some(0))
        );
        assert_eq!(events[13]["text"], "Running.");
        assert_eq!(
            events[16]["item"]["arguments"], "",
            "arguments follow as deltas"
        );
        assert_eq!(events[17]["delta"], r#"{"cmd":"ls"}"#);
        assert_eq!(events[18]["name"], "shell");
        assert_eq!(events[19]["item"]["call_id"], "c1");
        assert_eq!(events[23]["item"]["call_id"], "c2");
        assert_eq!(events[23]["output_index"], 3);
        assert_ne!(events[19]["item"]["id"], events[23]["item"]["id"]);
        let done = &events[24]["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["object"], "response");
        assert_eq!(done["id"], "resp_abc");
        assert_eq!(done["output"].as_array().unwrap().len(), 4);
        assert_eq!(done["output"][1]["content"][0]["text"], "Running.");
        assert_eq!(
            done["usage"],
            json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 5, "total_tokens": 15})
        );
        assert_eq!(
            t.response(),
            *done,
            "the whole answer is the completed response"
        );
    }

    #[test]
    fn the_encrypted_content_round_trips_into_the_next_request() {
        let mut t = translator();
        run(
            &mut t,
            vec![
                CompletionEvent::RedactedThinking(r#"{"reasoning_opaque":"OPQ"}"#.into()),
                CompletionEvent::Text("hi".into()),
            ],
        );
        let output = t.response()["output"].clone();
        assert_eq!(output[0]["summary"], json!([]));
        let mut input = output.as_array().unwrap().clone();
        input.push(json!({"role": "user", "content": "again"}));
        let parsed = parse(json!({"model": "m", "input": input})).unwrap();
        match &parsed.request.messages[0].content[..] {
            [MessageContent::RedactedThinking(state), MessageContent::Text(text)] => {
                assert_eq!(state, r#"{"reasoning_opaque":"OPQ"}"#);
                assert_eq!(text, "hi");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cut_answer_is_incomplete_and_a_bad_tool_input_is_passed_on() {
        let mut t = translator();
        let events = run(
            &mut t,
            vec![
                CompletionEvent::ToolUseJsonParseError(ToolUseJsonParseError {
                    id: "c".into(),
                    tool_name: "shell".into(),
                    raw_input: "{oops".into(),
                    error: "bad".into(),
                }),
                CompletionEvent::Text("partial".into()),
                CompletionEvent::Stop(StopReason::MaxTokens),
            ],
        );
        let last = events.last().unwrap();
        assert_eq!(last["type"], "response.incomplete");
        assert_eq!(last["response"]["status"], "incomplete");
        assert_eq!(
            last["response"]["incomplete_details"]["reason"],
            "max_output_tokens"
        );
        assert_eq!(last["response"]["output"][0]["arguments"], "{oops");
        assert_eq!(last["response"]["output"][1]["status"], "incomplete");
        assert_eq!(
            last["response"]["usage"],
            Value::Null,
            "no usage was reported"
        );
    }

    #[test]
    fn a_mid_stream_failure_is_response_failed() {
        let mut t = translator();
        let mut events = t.start();
        events.extend(t.event(&CompletionEvent::Text("so far".into())));
        let error = ProviderError::Upstream(UpstreamInfo {
            status: 500,
            message: "boom".into(),
            request_id: None,
        });
        let failed = t.failed(&failure_body(&error));
        assert_eq!(failed["type"], "response.failed");
        assert_eq!(failed["sequence_number"], events.len() as u64);
        assert_eq!(failed["response"]["status"], "failed");
        assert_eq!(failed["response"]["error"]["code"], "upstream");
        assert!(failed["response"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("boom"));
        let early = failure_body(&ProviderError::NotSignedIn(NotSignedInInfo {
            searched: vec![],
        }));
        assert_eq!(early["error"]["code"], "not_signed_in");
    }
}
