//! A Responses request body mapped to the contract's request, or the 400 that names what it cannot carry.

use serde_json::{json, Map, Value};

use crate::serve::openai::translate::{self as openai, RequestOptions};
use crate::contract::llm_provider::{
    CompletionRequest, ImageData, MessageContent, MessageRole, RequestMessage, ResponseFormat,
    ThinkingContent, ToolChoice, ToolDefinition, ToolResult, ToolResultContent, ToolUse,
};

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

