//! What the chat-completions and responses decoders share: the body-bytes → events stream
//! around a decoder, and the events built the same way for every endpoint (a finished tool
//! call with its JSON input checked, token usage). The endpoints differ in how they find
//! these pieces on the wire, not in what they make of them.

use serde_json::Value;

use crate::error::Error;
use crate::completion::sse::{SseEvent, SseParser};

use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionEvent, TokenUsage, ToolUse, ToolUseJsonParseError,
};

/// An endpoint's stream decoder: SSE events in, completion events out.
pub trait SseDecoder {
    fn decode_event(&mut self, event: &SseEvent) -> Result<Vec<CompletionEvent>, Error>;
    /// The body ended; checks the answer was complete.
    fn finish(&mut self) -> Result<Vec<CompletionEvent>, Error>;
}

/// Raw body bytes in, [`CompletionEvent`]s out, for any endpoint's decoder.
///
/// When a call fails after some events were decoded in it, those events are returned and the
/// error comes from the next call (then from every call), so the events a consumer sees do not
/// depend on how the body was chunked.
#[derive(Debug, Default)]
pub struct EventStream<D> {
    parser: SseParser,
    decoder: D,
    failed: Option<Error>,
}

impl<D: SseDecoder + Default> EventStream<D> {
    /// A stream at the start of a body.
    pub fn new() -> Self {
        EventStream { parser: SseParser::new(), decoder: D::default(), failed: None }
    }

    /// Feeds the next body bytes.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<CompletionEvent>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut out = Vec::new();
        match self.parser.push(bytes).and_then(|sse| self.decode(sse, &mut out)) {
            Ok(()) => Ok(out),
            Err(e) => {
                self.failed = Some(e.clone());
                if out.is_empty() {
                    Err(e)
                } else {
                    Ok(out)
                }
            }
        }
    }

    /// The body ended: flushes the last event and checks the answer was complete. An error
    /// here drops the events of this call (there is no later call to carry it).
    pub fn finish(&mut self) -> Result<Vec<CompletionEvent>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut out = Vec::new();
        let result = self
            .parser
            .finish()
            .and_then(|sse| self.decode(sse, &mut out))
            .and_then(|()| self.decoder.finish())
            .map(|tail| out.extend(tail));
        if let Err(e) = result {
            self.failed = Some(e.clone());
            return Err(e);
        }
        Ok(out)
    }

    fn decode(&mut self, sse: Vec<SseEvent>, out: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        for event in &sse {
            out.extend(self.decoder.decode_event(event)?);
        }
        Ok(())
    }
}

/// A finished tool call: `ToolUse` when `arguments` is JSON (empty means `{}`, which is what
/// a call without parameters streams), `ToolUseJsonParseError` with the raw text otherwise.
pub fn tool_use(id: String, name: String, arguments: String, thought_signature: Option<String>) -> CompletionEvent {
    let input = if arguments.trim().is_empty() { "{}".to_string() } else { arguments };
    match serde_json::from_str::<Value>(&input) {
        Ok(_) => CompletionEvent::ToolUse(ToolUse {
            id,
            name,
            input,
            is_input_complete: true,
            thought_signature,
        }),
        Err(e) => CompletionEvent::ToolUseJsonParseError(ToolUseJsonParseError {
            id,
            tool_name: name,
            raw_input: input,
            error: e.to_string(),
        }),
    }
}

/// The names one endpoint gives the usage fields.
pub struct UsageFields {
    pub input: &'static str,
    pub output: &'static str,
    /// The object holding `cached_tokens`.
    pub input_details: &'static str,
}

/// Usage from `usage`, or `None` when it carries neither count.
pub fn usage(usage: &Value, fields: &UsageFields) -> Option<CompletionEvent> {
    let input = usage.get(fields.input).and_then(Value::as_u64);
    let output = usage.get(fields.output).and_then(Value::as_u64);
    if input.is_none() && output.is_none() {
        return None;
    }
    let cached = usage
        .get(fields.input_details)
        .and_then(|d| d.get("cached_tokens"))
        .and_then(Value::as_u64);
    Some(CompletionEvent::Usage(TokenUsage {
        input_tokens: input.unwrap_or(0),
        output_tokens: output.unwrap_or(0),
        cache_creation_input_tokens: None,
        cache_read_input_tokens: cached,
    }))
}

/// A string field that is present and not empty.
pub fn non_empty_str<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}
