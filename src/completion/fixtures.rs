//! Test builders shared by every endpoint's request and decoder tests (compiled only under
//! `cfg(test)`): WIT requests and messages in, WIT events out, events as comparable text, and
//! the two ways to drive an endpoint's decoder (event by event, or raw body chunks).

use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionEvent, CompletionRequest, ImageData, MessageContent, MessageRole, RequestMessage,
    StopReason, TokenUsage, ToolDefinition, ToolResult, ToolResultContent, ToolUse,
};
use crate::completion::decoder::{Decoding, EventStream, StreamDecoder};
use crate::completion::sse::SseEvent;
use crate::error::Error;

/// Tiny base64 images of each format the image check knows (just their magic bytes).
pub const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUg==";
pub const JPEG_B64: &str = "/9j/4AAQSkZJRg==";
pub const GIF_B64: &str = "R0lGODlhAQABAIAA";
pub const WEBP_B64: &str = "UklGRiQAAABXRUJQVlA4IA==";

/// A request with `messages` and nothing else set.
pub fn request(messages: Vec<RequestMessage>) -> CompletionRequest {
    CompletionRequest {
        messages,
        tools: Vec::new(),
        tool_choice: None,
        stop_sequences: Vec::new(),
        temperature: None,
        thinking_allowed: false,
        max_tokens: None,
        response_format: None,
        top_p: None,
        seed: None,
        presence_penalty: None,
        frequency_penalty: None,
        parallel_tool_calls: None,
        reasoning_effort: None,
    }
}

pub fn message(role: MessageRole, content: Vec<MessageContent>) -> RequestMessage {
    RequestMessage { role, content, cache: false }
}

pub fn text(s: &str) -> MessageContent {
    MessageContent::Text(s.to_string())
}

pub fn image(source: &str) -> MessageContent {
    MessageContent::Image(ImageData { source: source.to_string(), width: None, height: None })
}

pub fn tool_use(id: &str, name: &str, input: &str) -> MessageContent {
    MessageContent::ToolUse(ToolUse {
        id: id.to_string(),
        name: name.to_string(),
        input: input.to_string(),
        is_input_complete: true,
        thought_signature: None,
    })
}

pub fn tool_result(id: &str, content: ToolResultContent) -> MessageContent {
    MessageContent::ToolResult(ToolResult {
        tool_use_id: id.to_string(),
        tool_name: "tool".to_string(),
        is_error: false,
        content,
    })
}

pub fn tool(name: &str, schema: &str) -> ToolDefinition {
    ToolDefinition {
        name: name.to_string(),
        description: format!("{name} things"),
        input_schema: schema.to_string(),
    }
}

/// Events as comparable text (the generated WIT types implement `Debug`, not `PartialEq`).
pub fn show(events: &[CompletionEvent]) -> Vec<String> {
    events.iter().map(|e| format!("{e:?}")).collect()
}

pub fn started() -> CompletionEvent {
    CompletionEvent::Started
}

pub fn text_ev(s: &str) -> CompletionEvent {
    CompletionEvent::Text(s.to_string())
}

pub fn stop(reason: StopReason) -> CompletionEvent {
    CompletionEvent::Stop(reason)
}

pub fn usage(input: u64, output: u64, cached: Option<u64>) -> CompletionEvent {
    CompletionEvent::Usage(TokenUsage {
        input_tokens: input,
        output_tokens: output,
        cache_creation_input_tokens: None,
        cache_read_input_tokens: cached,
    })
}

pub fn tool_ev(id: &str, name: &str, input: &str) -> CompletionEvent {
    CompletionEvent::ToolUse(ToolUse {
        id: id.to_string(),
        name: name.to_string(),
        input: input.to_string(),
        is_input_complete: true,
        thought_signature: None,
    })
}

/// Feeds unnamed SSE events with `payloads` as their data to a fresh `D` and ends it; the
/// first error is returned.
pub fn decode_all<D: StreamDecoder + Default>(payloads: &[&str]) -> Result<Vec<CompletionEvent>, Error> {
    let mut decoding = Decoding::<D>::new();
    let mut out = Vec::new();
    for p in payloads {
        let event = SseEvent { event: None, data: p.to_string() };
        decoding.event(&event, &mut out)?;
    }
    out.extend(decoding.finish()?);
    Ok(out)
}

/// Frames `payloads` as Copilot does on the typed routes (Responses, Messages): an `event:`
/// line naming the payload's `type` (`message` when it has none), then `data:`, each line
/// ended by `line_end` (`\n` or `\r\n`).
pub fn typed_sse(payloads: &[&str], line_end: &str) -> String {
    payloads
        .iter()
        .map(|p| {
            let kind = serde_json::from_str::<serde_json::Value>(p)
                .ok()
                .and_then(|v| v.get("type").and_then(serde_json::Value::as_str).map(str::to_string))
                .unwrap_or_else(|| "message".into());
            format!("event: {kind}{line_end}data: {p}{line_end}{line_end}")
        })
        .collect()
}

/// Feeds raw body `chunks` to a fresh stream over `D` and ends it; the first error is returned.
pub fn stream_chunks<D: StreamDecoder + Default>(chunks: &[&[u8]]) -> Result<Vec<CompletionEvent>, Error> {
    let mut stream = EventStream::<D>::new();
    let mut out = Vec::new();
    for c in chunks {
        out.extend(stream.push(c)?);
    }
    out.extend(stream.finish()?);
    Ok(out)
}
