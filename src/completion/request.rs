//! What every endpoint's request mapping shares: the parts of a WIT request that every
//! OpenAI-style body spells the same way (temperature, token bound, tool choice, a tool's
//! schema, a tool call's input), the checks and budgets every endpoint takes from the
//! model's catalog entry (images, thinking budget) and the error for content a role cannot
//! carry.

use serde_json::{json, Value};

use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionRequest, JsonSchemaFormat, MessageContent, ToolChoice, ToolDefinition, ToolResult, ToolResultContent,
    ToolUse,
};
use crate::catalog::model::Model;
use crate::completion::image::{read_image, ReadImages};
use crate::error::Error;

/// Separator between several text parts folded into one string.
pub const TEXT_PART_SEPARATOR: &str = "\n\n";

/// JSON for a temperature, printed from its `f32` text so `0.1` stays `0.1` (not
/// `0.10000000149011612`).
pub fn temperature_json(t: f32) -> Result<Value, Error> {
    if !t.is_finite() {
        return Err(Error::InvalidRequest(format!("temperature must be a finite number, not {t}")));
    }
    let exact: f64 = t.to_string().parse().unwrap_or(f64::from(t));
    Ok(json!(exact))
}

/// The output-token bound to send: the request's, bounded by the model's limit, or either
/// alone.
pub fn bounded_max_tokens(requested: Option<u64>, model_limit: Option<u64>) -> Option<u64> {
    match (requested, model_limit) {
        (Some(r), Some(m)) => Some(r.min(m)),
        (r, m) => r.or(m),
    }
}

pub fn tool_choice_str(choice: &ToolChoice) -> &'static str {
    match choice {
        ToolChoice::Auto => "auto",
        // Copilot's OpenAI dialect names "must call some tool" `required`.
        ToolChoice::Any => "required",
        ToolChoice::None => "none",
    }
}

/// A tool's input schema as JSON (`parameters`).
pub fn tool_parameters(tool: &ToolDefinition) -> Result<Value, Error> {
    serde_json::from_str(&tool.input_schema).map_err(|e| {
        Error::InvalidRequest(format!("tool `{}` has an input schema that is not JSON: {e}", tool.name))
    })
}

/// A tool call's input as the `arguments` text to send: checked to be JSON, `{}` when empty.
pub fn tool_arguments(tool_use: &ToolUse) -> Result<&str, Error> {
    if tool_use.input.trim().is_empty() {
        return Ok("{}");
    }
    serde_json::from_str::<Value>(&tool_use.input).map_err(|e| {
        Error::InvalidRequest(format!(
            "the input of tool call `{}` (`{}`) is not JSON: {e}",
            tool_use.id, tool_use.name
        ))
    })?;
    Ok(tool_use.input.as_str())
}

/// A JSON object of `fields`, moved in: `json!` serialises a value it is given again (a deep
/// copy), which for a part carrying an image is a copy of megabytes.
pub fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(fields.into_iter().map(|(key, value)| (key.to_string(), value)).collect())
}

/// Content that a message of some role (`place`) cannot carry.
pub fn misplaced(content: &MessageContent, place: &str) -> Error {
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

/// The thinking budget asked for when the model takes one (VS Code's order of magnitude).
const DEFAULT_THINKING_BUDGET: u64 = 16_000;

/// The thinking budget (tokens) asked of a model whose reasoning is controlled by a budget
/// rather than effort levels (Claude, through chat completions or Messages): `DEFAULT_THINKING_BUDGET`
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
///
/// Each image is read once here; the reads are returned for the body builder
/// ([`ReadImages::take`]), so a large image is not scanned again.
pub fn check_images<'a>(request: &'a CompletionRequest, model: &Model) -> Result<ReadImages<'a>, Error> {
    let images = request.messages.iter().flat_map(|m| m.content.iter()).filter_map(|c| match c {
        MessageContent::Image(image) => Some(image),
        MessageContent::ToolResult(ToolResult { content: ToolResultContent::Image(image), .. }) => Some(image),
        _ => None,
    });
    let vision = model.supports_vision || model.vision_max_image_bytes.is_some() || !model.vision_media_types.is_empty();
    let mut read_images = ReadImages::default();
    for (n, image) in images.enumerate() {
        if !vision {
            return Err(Error::InvalidRequest(format!(
                "{} does not accept images; remove the image or pick a model with vision",
                model.id
            )));
        }
        let read = read_image(image)?;
        let (media_type, bytes) = (read.media_type(), read.bytes());
        if let Some(max) = model.vision_max_image_bytes {
            if bytes > max {
                return Err(Error::InvalidRequest(format!(
                    "image {} is {} bytes, more than the {max} bytes {} accepts; send a smaller image",
                    n + 1,
                    bytes,
                    model.id
                )));
            }
        }
        let listed = model.vision_media_types.iter().any(|t| t.trim().eq_ignore_ascii_case(media_type));
        if !model.vision_media_types.is_empty() && !listed {
            return Err(Error::InvalidRequest(format!(
                "image {} is {}, which {} does not accept (it takes {})",
                n + 1,
                media_type,
                model.id,
                model.vision_media_types.join(", ")
            )));
        }
        read_images.keep(image, read);
    }
    Ok(read_images)
}

/// JSON for an optional sampling number named `field` (`top_p`, a penalty), printed from its
/// `f32` text like [`temperature_json`]; a non-finite value is refused naming the field.
pub fn sampling_json(field: &str, value: f32) -> Result<Value, Error> {
    if !value.is_finite() {
        return Err(Error::InvalidRequest(format!("`{field}` must be a finite number, not {value}")));
    }
    let exact: f64 = value.to_string().parse().unwrap_or(f64::from(value));
    Ok(json!(exact))
}

/// The error for a request field that `endpoint` has no way to carry: the request is
/// refused rather than answered as if the field had not been sent.
pub fn not_carried(field: &str, endpoint: &str) -> Error {
    Error::InvalidRequest(format!(
        "`{field}` cannot be honoured: {endpoint} has no such parameter; leave it out"
    ))
}

/// A JSON-schema response format's schema as JSON (it must be a JSON object).
pub fn response_schema(format: &JsonSchemaFormat) -> Result<Value, Error> {
    let schema: Value = serde_json::from_str(&format.schema).map_err(|e| {
        Error::InvalidRequest(format!("the schema of response format `{}` is not JSON: {e}", format.name))
    })?;
    if !schema.is_object() {
        return Err(Error::InvalidRequest(format!(
            "the schema of response format `{}` is not a JSON object",
            format.name
        )));
    }
    if format.name.trim().is_empty() {
        return Err(Error::InvalidRequest("a JSON-schema response format needs a `name`".to_string()));
    }
    Ok(schema)
}

/// The reasoning effort `request` asks for, checked against the levels `model` lists.
///
/// `None` when the request names none. An effort without `thinking_allowed` contradicts
/// itself and is refused. With a catalog entry, the level must be one the model lists; a
/// model that lists none is refused unless `unlisted_ok` (the Responses route, where a
/// reasoning model without listed levels takes the standard ones). Without a catalog entry
/// the server judges.
pub fn requested_effort<'a>(
    request: &'a CompletionRequest,
    model: Option<&Model>,
    unlisted_ok: bool,
) -> Result<Option<&'a str>, Error> {
    let Some(effort) = request.reasoning_effort.as_deref() else {
        return Ok(None);
    };
    if !request.thinking_allowed {
        return Err(Error::InvalidRequest(format!(
            "`reasoning_effort` `{effort}` was given with thinking turned off; allow thinking or leave the effort out"
        )));
    }
    let Some(model) = model else {
        return Ok(Some(effort));
    };
    let levels = &model.reasoning_efforts;
    if levels.iter().any(|l| l == effort) || (levels.is_empty() && unlisted_ok && model.supports_thinking) {
        return Ok(Some(effort));
    }
    Err(Error::InvalidRequest(if levels.is_empty() {
        format!("`reasoning_effort` `{effort}` cannot be honoured: {} takes no reasoning effort levels", model.id)
    } else {
        format!(
            "`reasoning_effort` `{effort}` is not supported by {}; it takes {}",
            model.id,
            levels.join(", ")
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::copilot_chat::extension::llm_provider::{ImageData, MessageRole};
    use crate::completion::fixtures::*;

    #[test]
    fn an_object_is_its_fields_in_key_order() {
        let value = object([("b", json!([1, "two"])), ("a", Value::String("x".repeat(3))), ("c", object([]))]);
        assert_eq!(value, json!({ "a": "xxx", "b": [1, "two"], "c": {} }));
        assert_eq!(serde_json::to_string(&value).unwrap(), r#"{"a":"xxx","b":[1,"two"],"c":{}}"#);
    }

    #[test]
    fn checked_images_are_handed_on_read() {
        let gif = ImageData { source: GIF_B64.into(), width: None, height: None };
        let req = request(vec![message(
            MessageRole::User,
            vec![image(PNG_B64), tool_result("t", ToolResultContent::Image(gif)), text("and?")],
        )]);
        let model = Model { id: "m".into(), supports_vision: true, ..Model::default() };
        let mut images = check_images(&req, &model).unwrap();
        let content = &req.messages[0].content;
        let (MessageContent::Image(png), MessageContent::ToolResult(ToolResult { content: ToolResultContent::Image(gif), .. })) =
            (&content[0], &content[1])
        else {
            panic!("fixture");
        };
        let first = images.take(png).unwrap();
        assert_eq!((first.media_type(), first.bytes()), ("image/png", 16));
        assert_eq!(first.into_url(), format!("data:image/png;base64,{PNG_B64}"));
        assert_eq!(images.take(gif).unwrap().into_url(), format!("data:image/gif;base64,{GIF_B64}"));
        // A refused image is refused by the check, as before.
        let small = Model { vision_max_image_bytes: Some(15), ..model };
        match check_images(&req, &small) {
            Err(Error::InvalidRequest(m)) => assert!(m.contains("image 1 is 16 bytes, more than the 15 bytes m accepts"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
