//! A Messages request body mapped to the contract's request; `Err` is a sentence for a 400.

use serde_json::{json, Map, Value};

use crate::contract::llm_provider::{
    CompletionRequest, ImageData, MessageContent, MessageRole, RequestMessage, ThinkingContent,
    ToolChoice, ToolDefinition, ToolResult, ToolResultContent, ToolUse,
};

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
