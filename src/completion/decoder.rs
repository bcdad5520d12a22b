//! One shape for an endpoint's stream decoder, and what every endpoint's decoder shares.
//!
//! An endpoint implements [`StreamDecoder`]: one SSE event in, completion events pushed to an
//! output list; at the end of the body, the closing events or why the answer is incomplete.
//! The rules every endpoint follows live here once, not in each decoder: [`Decoding`] makes a
//! failure sticky and drops the events of the call that failed, [`EventStream`] feeds raw body
//! bytes through the SSE parser. The events built the same way for every endpoint (`Started`
//! once, thinking, a finished tool call with its JSON input checked, token usage) and the
//! shared stream errors (malformed, oversized tool arguments, cut off) are helpers below. The
//! endpoints differ in how they find these pieces on the wire, not in what they make of them.
//!
//! Events are pushed into the caller's list, so decoding an event allocates no list of its
//! own and nothing is boxed per event.

use serde_json::Value;

use crate::completion::sse::{SseEvent, SseParser};
use crate::error::{clean_message, Error, Upstream};

use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionEvent, ThinkingContent, TokenUsage, ToolUse, ToolUseJsonParseError,
};

/// Bound on one tool call's accumulated argument text, for every endpoint.
pub const MAX_TOOL_ARGUMENT_BYTES: usize = 16 * 1024 * 1024;
/// Status given to a stream event that cannot be read (a bad gateway, in effect).
pub const MALFORMED_STATUS: u16 = 502;

/// An endpoint's stream decoder: the decoding state of one answer.
///
/// Both methods push to `out` and may push some events before they fail: the caller
/// ([`Decoding`]) drops what a failing call pushed, so an implementation does not undo.
pub trait StreamDecoder {
    /// Decodes one SSE event.
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<CompletionEvent>) -> Result<(), Error>;
    /// The body ended: pushes what is still pending (tool calls, `Stop`), or fails when the
    /// answer was cut off.
    fn end(&mut self, out: &mut Vec<CompletionEvent>) -> Result<(), Error>;
}

/// A [`StreamDecoder`] under the rules every endpoint shares: the events of a call that
/// fails are dropped, and after an error every call returns that error again.
#[derive(Debug, Default)]
pub struct Decoding<D> {
    decoder: D,
    failed: Option<Error>,
}

impl<D: StreamDecoder + Default> Decoding<D> {
    /// A decoder at the start of an answer.
    pub fn new() -> Self {
        Decoding { decoder: D::default(), failed: None }
    }

    /// Decodes one SSE event into `out`.
    pub fn event(&mut self, event: &SseEvent, out: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        self.step_into(out, |decoder, out| decoder.decode(event, out))
    }

    /// The body ended; checks the answer was complete.
    pub fn finish(&mut self) -> Result<Vec<CompletionEvent>, Error> {
        self.step(StreamDecoder::end)
    }

    /// One decoding step (`f` on the decoder) under the shared rules; its events returned.
    pub fn step(
        &mut self,
        f: impl FnOnce(&mut D, &mut Vec<CompletionEvent>) -> Result<(), Error>,
    ) -> Result<Vec<CompletionEvent>, Error> {
        let mut out = Vec::new();
        self.step_into(&mut out, f)?;
        Ok(out)
    }

    fn step_into(
        &mut self,
        out: &mut Vec<CompletionEvent>,
        f: impl FnOnce(&mut D, &mut Vec<CompletionEvent>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mark = out.len();
        if let Err(e) = f(&mut self.decoder, out) {
            out.truncate(mark);
            self.failed = Some(e.clone());
            return Err(e);
        }
        Ok(())
    }
}

/// Raw body bytes in, [`CompletionEvent`]s out, for any endpoint's decoder.
///
/// When a call fails after some events were decoded in it, those events are returned and the
/// error comes from the next call (then from every call), so the events a consumer sees do not
/// depend on how the body was chunked.
#[derive(Debug, Default)]
pub struct EventStream<D> {
    parser: SseParser,
    decoding: Decoding<D>,
    failed: Option<Error>,
}

impl<D: StreamDecoder + Default> EventStream<D> {
    /// A stream at the start of a body.
    pub fn new() -> Self {
        EventStream { parser: SseParser::new(), decoding: Decoding::new(), failed: None }
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
            .and_then(|()| self.decoding.finish())
            .map(|tail| out.extend(tail));
        if let Err(e) = result {
            self.failed = Some(e.clone());
            return Err(e);
        }
        Ok(out)
    }

    fn decode(&mut self, sse: Vec<SseEvent>, out: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        for event in &sse {
            self.decoding.event(event, out)?;
        }
        Ok(())
    }
}

/// `Started`, the first time it is asked for in an answer (`started` remembers).
pub fn start(started: &mut bool, out: &mut Vec<CompletionEvent>) {
    if !*started {
        *started = true;
        out.push(CompletionEvent::Started);
    }
}

/// Reasoning shown to the user (it carries no signature of its own on these endpoints).
pub fn thinking(text: String) -> CompletionEvent {
    CompletionEvent::Thinking(ThinkingContent { text, signature: None })
}

/// Checks a tool call's argument text of `len` bytes against [`MAX_TOOL_ARGUMENT_BYTES`];
/// `call` names the call in the error ("tool call", "function call").
pub fn check_arguments(len: usize, call: &str) -> Result<(), Error> {
    if len > MAX_TOOL_ARGUMENT_BYTES {
        return Err(Error::Upstream(Upstream {
            status: MALFORMED_STATUS,
            message: format!("a {call}'s arguments exceeded {MAX_TOOL_ARGUMENT_BYTES} bytes"),
            request_id: None,
        }));
    }
    Ok(())
}

/// A stream `what` ("chunk", "event") that cannot be read, with the (cleaned) reason.
pub fn malformed(what: &str, detail: &str) -> Error {
    Error::Upstream(Upstream {
        status: MALFORMED_STATUS,
        message: format!("malformed stream {what}: {}", clean_message(detail)),
        request_id: None,
    })
}

/// The body ended before the answer did (`missing` says what never came).
pub fn cut_off(missing: &str) -> Error {
    Error::Network(format!(
        "the stream ended before the answer was complete ({missing}); \
         the connection may have dropped, retry"
    ))
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
    /// A top-level count of reasoning tokens that `output` leaves out (Gemini through
    /// `/chat/completions` reports `reasoning_tokens` beside `completion_tokens`, which then
    /// counts only the visible text). A count under `*_tokens_details` is already part of
    /// `output` and is never added.
    pub reasoning_outside_output: Option<&'static str>,
}

/// Usage from `usage`, or `None` when it carries no count at all or only zeros (Gemini sends
/// an all-zero `usage` on every chunk before the real one: that is no usage event). Output
/// tokens include reasoning however the vendor reports it.
pub fn usage(usage: &Value, fields: &UsageFields) -> Option<TokenUsage> {
    let count = |key: &str| usage.get(key).and_then(Value::as_u64);
    let input = count(fields.input).unwrap_or(0);
    let reasoning = fields.reasoning_outside_output.and_then(count).unwrap_or(0);
    let output = count(fields.output).unwrap_or(0).saturating_add(reasoning);
    let cached = usage
        .get(fields.input_details)
        .and_then(|d| d.get("cached_tokens"))
        .and_then(Value::as_u64);
    if input == 0 && output == 0 && cached.unwrap_or(0) == 0 {
        return None;
    }
    Some(TokenUsage {
        input_tokens: input,
        output_tokens: output,
        cache_creation_input_tokens: None,
        cache_read_input_tokens: cached,
    })
}

/// A string field that is present and not empty.
pub fn non_empty_str<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}
