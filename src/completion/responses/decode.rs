//! The `/responses` stream (OpenAI Responses API, reference: copilot-protocol.md §4.4): typed
//! SSE events in, [`CompletionEvent`]s out. Pure, no I/O, unit-tested with literal fixtures.
//!
//! [`ResponsesDecoder`] emits a function call whole when its `output_item.done` arrives (its
//! arguments are then complete JSON); calls still open at `response.completed` are flushed in
//! output order. Text and reasoning summaries that were never streamed as deltas (Copilot
//! sends some summaries only in `output_item.done`) are taken from the finished item, so
//! nothing is shown twice.
//!
//! Events are tied together by position (`output_index`), never by `item_id`: Copilot gives
//! every event its own opaque, encrypted `item_id` (the deltas, the `output_item.done` and the
//! items of `response.completed` of one message never share one), so anything keyed by id
//! printed an answer three times (issue 11). An event without an `output_index` belongs to
//! the item the stream is at (the last index seen). [`ResponsesStream`] = `SseParser` + [`ResponsesDecoder`]: raw body
//! bytes in, events out.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::bindings::copilot_chat::extension::llm_provider::{CompletionEvent, StopReason};
use crate::completion::decoder::{
    self, non_empty_str, thinking, Decoding, EventStream, StreamDecoder, UsageFields,
};
use crate::completion::responses::{FUNCTION_CALL_ITEM, MESSAGE_ITEM, REASONING_ITEM};
use crate::completion::sse::SseEvent;
use crate::error::{Error, Upstream, MID_STREAM_ERROR_STATUS};

/// How a Responses stream event is named in errors.
const EVENT: &str = "event";
/// How a Responses function call is named in errors.
const FUNCTION_CALL: &str = "function call";
/// Separator between several text parts (instructions, summary parts).
const TEXT_PART_SEPARATOR: &str = "\n\n";

/// A function call being assembled from its events.
#[derive(Debug)]
struct PendingCall {
    output_index: u64,
    call_id: String,
    name: String,
    arguments: String,
}

/// The decoding state of one Responses answer: stream events (SSE `data` payloads, typed by
/// their `type` field) in, [`CompletionEvent`]s out.
///
/// Emits `Started` once before anything else; text and thinking as they stream; each function
/// call whole at its `output_item.done`; at `response.completed` the open calls, `Usage` and
/// `Stop` (`ToolUse` when calls were emitted, else `EndTurn`); at `response.incomplete`
/// `MaxTokens` or `Refusal`.
#[derive(Debug, Default)]
pub struct ResponsesState {
    started: bool,
    /// A terminal event (`completed`, `incomplete`) was handled: later payloads are ignored.
    stopped: bool,
    calls: Vec<PendingCall>,
    emitted_calls: bool,
    /// The `output_index` of the item the stream is at: events without one belong to it.
    current: u64,
    /// Items (by `output_index`) already handled at their `output_item.done`, so the output
    /// of `response.completed` does not repeat them.
    done_items: BTreeSet<u64>,
    /// Items (by `output_index`) whose text / summary arrived as deltas: their `done` and
    /// `response.completed` must not repeat it.
    streamed_text: BTreeSet<u64>,
    streamed_summary: BTreeSet<u64>,
    /// The (item, summary index) of the last summary delta, to separate summary parts.
    last_summary: Option<(u64, u64)>,
}

/// Decodes Responses stream events into [`CompletionEvent`]s under the shared rules (see
/// [`Decoding`]): after an error every call returns that error again.
pub type ResponsesDecoder = Decoding<ResponsesState>;

impl ResponsesDecoder {
    /// Decodes one SSE event: `name` is its `event:` line (used only when the payload has no
    /// `type`), `data` its payload. Empty payloads are ignored.
    ///
    /// Errors: a payload that is not a JSON object is [`Error::Upstream`] with status 502;
    /// `response.failed` and `error` events are classified by their code:
    /// [`Error::RateLimited`], [`Error::QuotaExceeded`], [`Error::ContextTooLong`],
    /// [`Error::ModelNotSupported`], else [`Error::Upstream`] with status 500.
    pub fn on_event(
        &mut self,
        name: Option<&str>,
        data: &str,
    ) -> Result<Vec<CompletionEvent>, Error> {
        self.step(|state, out| state.event(name, data, out))
    }
}

impl ResponsesState {
    /// One SSE event (see [`ResponsesDecoder::on_event`]).
    fn event(
        &mut self,
        name: Option<&str>,
        data: &str,
        events: &mut Vec<CompletionEvent>,
    ) -> Result<(), Error> {
        let data = data.trim();
        if self.stopped || data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let value: Value = match serde_json::from_str(data) {
            Ok(value) => value,
            // An `event: error` may carry plain text.
            Err(_) if name == Some("error") => return Err(Error::from_stream_error(&json!(data))),
            Err(e) => return Err(decoder::malformed(EVENT, &e.to_string())),
        };
        if !value.is_object() {
            return Err(decoder::malformed(EVENT, "an event is not a JSON object"));
        }
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .or(name)
            .unwrap_or_default();
        let nested_error = value
            .get("error")
            .filter(|e| e.is_object() || e.is_string());
        match kind {
            "error" => return Err(Error::from_stream_error(nested_error.unwrap_or(&value))),
            "response.failed" => return Err(failed_error(&value)),
            // A chat-style `{"error": {...}}` without a type is an error too.
            "" if nested_error.is_some() => {
                return Err(Error::from_stream_error(nested_error.unwrap_or(&value)))
            }
            _ => {}
        }
        decoder::start(&mut self.started, events);
        match kind {
            "response.output_text.delta" => self.on_text_delta(&value, events),
            "response.reasoning_summary_text.delta" => self.on_summary_delta(&value, events),
            "response.output_item.added" => self.on_item_added(&value),
            "response.function_call_arguments.delta" => self.on_arguments(&value, false)?,
            "response.function_call_arguments.done" => self.on_arguments(&value, true)?,
            "response.output_item.done" => {
                let output_index = self.position(&value);
                if let Some(item) = value.get("item") {
                    self.on_item_done(item, output_index, events)?;
                }
            }
            "response.completed" => self.on_completed(&value, events)?,
            "response.incomplete" => self.on_incomplete(&value, events),
            _ => {}
        }
        Ok(())
    }

    /// The `output_index` an event refers to; without one, the item the stream is at.
    fn position(&mut self, value: &Value) -> u64 {
        if let Some(index) = value.get("output_index").and_then(Value::as_u64) {
            self.current = index;
        }
        self.current
    }

    fn on_text_delta(&mut self, value: &Value, events: &mut Vec<CompletionEvent>) {
        let index = self.position(value);
        if let Some(delta) = non_empty_str(value, "delta") {
            self.streamed_text.insert(index);
            events.push(CompletionEvent::Text(delta.to_string()));
        }
    }

    fn on_summary_delta(&mut self, value: &Value, events: &mut Vec<CompletionEvent>) {
        let key = self.position(value);
        let Some(delta) = non_empty_str(value, "delta") else {
            return;
        };
        let part = value
            .get("summary_index")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let mut text = String::new();
        if let Some((last_item, last_part)) = self.last_summary {
            if last_item == key && last_part != part {
                text.push_str(TEXT_PART_SEPARATOR);
            }
        }
        text.push_str(delta);
        self.last_summary = Some((key, part));
        self.streamed_summary.insert(key);
        events.push(thinking(text));
    }

    fn on_item_added(&mut self, value: &Value) {
        let output_index = self.position(value);
        let Some(item) = value
            .get("item")
            .filter(|i| item_type(i) == Some(FUNCTION_CALL_ITEM))
        else {
            return;
        };
        let arguments = item
            .get("arguments")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.calls.push(PendingCall {
            output_index,
            call_id: non_empty_str(item, "call_id")
                .unwrap_or_default()
                .to_string(),
            name: non_empty_str(item, "name").unwrap_or_default().to_string(),
            arguments: arguments.to_string(),
        });
    }

    /// The open call at `output_index`, if any.
    fn call_position(&self, output_index: u64) -> Option<usize> {
        self.calls.iter().position(|c| c.output_index == output_index)
    }

    /// An argument delta appends; `arguments.done` carries the whole text and replaces it.
    fn on_arguments(&mut self, value: &Value, whole: bool) -> Result<(), Error> {
        let output_index = self.position(value);
        let Some(pos) = self.call_position(output_index) else {
            return Ok(());
        };
        let Some(call) = self.calls.get_mut(pos) else {
            return Ok(());
        };
        if whole {
            if let Some(arguments) = value.get("arguments").and_then(Value::as_str) {
                decoder::check_arguments(arguments.len(), FUNCTION_CALL)?;
                call.arguments = arguments.to_string();
            }
        } else if let Some(piece) = value.get("delta").and_then(Value::as_str) {
            decoder::check_arguments(call.arguments.len().saturating_add(piece.len()), FUNCTION_CALL)?;
            call.arguments.push_str(piece);
        }
        Ok(())
    }

    /// The item at `output_index` is finished: whatever of it was not shown yet is shown.
    fn on_item_done(
        &mut self,
        item: &Value,
        output_index: u64,
        events: &mut Vec<CompletionEvent>,
    ) -> Result<(), Error> {
        if !self.done_items.insert(output_index) {
            return Ok(());
        }
        match item_type(item) {
            Some(FUNCTION_CALL_ITEM) => {
                let mut call = match self.call_position(output_index) {
                    Some(pos) => self.calls.remove(pos),
                    None => PendingCall {
                        output_index,
                        call_id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    },
                };
                // The finished item is authoritative where it says something.
                if let Some(call_id) = non_empty_str(item, "call_id") {
                    call.call_id = call_id.to_string();
                }
                if let Some(name) = non_empty_str(item, "name") {
                    call.name = name.to_string();
                }
                if let Some(arguments) = non_empty_str(item, "arguments") {
                    decoder::check_arguments(arguments.len(), FUNCTION_CALL)?;
                    call.arguments = arguments.to_string();
                }
                self.emit_call(call, events);
            }
            Some(REASONING_ITEM) => {
                if !self.streamed_summary.contains(&output_index) {
                    let summary = summary_text(item);
                    if !summary.is_empty() {
                        events.push(thinking(summary));
                    }
                }
                if let Some(encrypted) = non_empty_str(item, "encrypted_content") {
                    let mut details = Map::new();
                    details.insert("type".into(), json!(REASONING_ITEM));
                    if let Some(id) = non_empty_str(item, "id") {
                        details.insert("id".into(), json!(id));
                    }
                    details.insert("encrypted_content".into(), json!(encrypted));
                    events.push(CompletionEvent::ReasoningDetails(
                        Value::Object(details).to_string(),
                    ));
                }
            }
            Some(MESSAGE_ITEM) if !self.streamed_text.contains(&output_index) => {
                let text = message_text(item);
                if !text.is_empty() {
                    events.push(CompletionEvent::Text(text));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn emit_call(&mut self, call: PendingCall, events: &mut Vec<CompletionEvent>) {
        self.emitted_calls = true;
        events.push(tool_event(call));
    }

    /// Items the stream never finished (or never streamed) are taken from the final output
    /// (whose position in `output` is the item's `output_index`), then the open calls are
    /// flushed in output order.
    fn finish_items(
        &mut self,
        response: Option<&Value>,
        events: &mut Vec<CompletionEvent>,
    ) -> Result<(), Error> {
        if let Some(Value::Array(output)) = response.and_then(|r| r.get("output")) {
            for (index, item) in output.iter().enumerate() {
                self.on_item_done(item, index as u64, events)?;
            }
        }
        let mut open = std::mem::take(&mut self.calls);
        open.sort_by_key(|c| c.output_index);
        for call in open {
            self.emit_call(call, events);
        }
        Ok(())
    }

    fn on_completed(
        &mut self,
        value: &Value,
        events: &mut Vec<CompletionEvent>,
    ) -> Result<(), Error> {
        let response = value.get("response");
        self.finish_items(response, events)?;
        if let Some(usage) = response.and_then(|r| r.get("usage")).and_then(usage_event) {
            events.push(usage);
        }
        let reason = if self.emitted_calls {
            StopReason::ToolUse
        } else {
            StopReason::EndTurn
        };
        self.stop(reason, events);
        Ok(())
    }

    /// `incomplete_details.reason`: `max_output_tokens` → `MaxTokens`, `content_filter` →
    /// `Refusal`; an unknown reason also ends the answer short, so it reads as `MaxTokens`.
    fn on_incomplete(&mut self, value: &Value, events: &mut Vec<CompletionEvent>) {
        let response = value.get("response");
        // Open calls are cut off: emitting them shows the consumer what was lost (as parse
        // errors when their JSON is incomplete).
        let mut open = std::mem::take(&mut self.calls);
        open.sort_by_key(|c| c.output_index);
        for call in open {
            self.emit_call(call, events);
        }
        if let Some(usage) = response.and_then(|r| r.get("usage")).and_then(usage_event) {
            events.push(usage);
        }
        let reason = response
            .and_then(|r| r.get("incomplete_details"))
            .and_then(|d| d.get("reason"))
            .and_then(Value::as_str);
        let stop = match reason {
            Some("content_filter") => StopReason::Refusal,
            _ => StopReason::MaxTokens,
        };
        self.stop(stop, events);
    }

    fn stop(&mut self, reason: StopReason, events: &mut Vec<CompletionEvent>) {
        self.stopped = true;
        events.push(CompletionEvent::Stop(reason));
    }
}

fn item_type(item: &Value) -> Option<&str> {
    item.get("type").and_then(Value::as_str)
}

/// The summary parts of a reasoning item, joined by blank lines.
fn summary_text(item: &Value) -> String {
    let parts: Vec<&str> = item
        .get("summary")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| non_empty_str(p, "text"))
                .collect()
        })
        .unwrap_or_default();
    parts.join(TEXT_PART_SEPARATOR)
}

/// The `output_text` parts of a message item, concatenated.
fn message_text(item: &Value) -> String {
    item.get("content")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter(|p| p.get("type").and_then(Value::as_str) == Some("output_text"))
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

fn tool_event(call: PendingCall) -> CompletionEvent {
    // Without a call id the editor could not send the result back; make a stable one (not
    // the item id: Copilot's are opaque, encrypted and hundreds of bytes long).
    let id = if call.call_id.is_empty() {
        format!("call_{}", call.output_index)
    } else {
        call.call_id
    };
    decoder::tool_use(id, call.name, call.arguments, None)
}

/// The Responses API names usage `input_tokens` / `output_tokens`.
const USAGE_FIELDS: UsageFields = UsageFields {
    input: "input_tokens",
    output: "output_tokens",
    input_details: "input_tokens_details",
    // Reasoning is counted inside `output_tokens` (`output_tokens_details.reasoning_tokens`).
    reasoning_outside_output: None,
};

/// `usage` of a finished response.
fn usage_event(usage: &Value) -> Option<CompletionEvent> {
    decoder::usage(usage, &USAGE_FIELDS).map(CompletionEvent::Usage)
}

/// `response.failed`: the error is in `response.error`.
fn failed_error(value: &Value) -> Error {
    match value
        .get("response")
        .and_then(|r| r.get("error"))
        .filter(|e| !e.is_null())
    {
        Some(error) => Error::from_stream_error(error),
        None => Error::Upstream(Upstream {
            status: MID_STREAM_ERROR_STATUS,
            message: "the response failed without saying why".to_string(),
            request_id: None,
        }),
    }
}


/// Raw `/responses` body bytes in, [`CompletionEvent`]s out.
pub type ResponsesStream = EventStream<ResponsesState>;

impl StreamDecoder for ResponsesState {
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        self.event(event.event.as_deref(), &event.data, out)
    }

    /// Without `response.completed` or `response.incomplete` the answer was cut off, which is
    /// [`Error::Network`].
    fn end(&mut self, _out: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        if self.stopped {
            return Ok(());
        }
        Err(decoder::cut_off("no response.completed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::completion::decoder::MAX_TOOL_ARGUMENT_BYTES;
    use crate::completion::fixtures::{self, *};

    fn thinking_ev(s: &str) -> CompletionEvent {
        thinking(s.into())
    }

    /// Feeds `data` payloads to a fresh decoder and ends it; the first error is returned.
    fn decode_all(payloads: &[&str]) -> Result<Vec<CompletionEvent>, Error> {
        fixtures::decode_all::<ResponsesState>(payloads)
    }

    fn stream_chunks(chunks: &[&[u8]]) -> Result<Vec<CompletionEvent>, Error> {
        fixtures::stream_chunks::<ResponsesState>(chunks)
    }

    /// Frames payloads as Copilot does: an `event:` line naming the type, then `data:`.
    fn sse(payloads: &[&str]) -> String {
        fixtures::typed_sse(payloads, "\r\n")
    }

    const CREATED: &str = r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","output":[]}}"#;
    const COMPLETED: &str = r#"{"type":"response.completed","response":{"id":"resp_1","status":"completed","usage":{"input_tokens":40,"input_tokens_details":{"cached_tokens":8},"output_tokens":12,"output_tokens_details":{"reasoning_tokens":4},"total_tokens":52}}}"#;

    // ----- decoding --------------------------------------------------------------------------

    #[test]
    fn text_stream_with_usage() {
        let events = decode_all(&[
            CREATED,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}}"#,
            r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hel"}"#,
            r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"lo"}"#,
            r#"{"type":"response.output_text.done","item_id":"msg_1","text":"Hello"}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"id":"msg_1","type":"message","content":[{"type":"output_text","text":"Hello"}]}}"#,
            COMPLETED,
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[
                CompletionEvent::Started,
                text_ev("Hel"),
                text_ev("lo"),
                usage(40, 12, Some(8)),
                stop(StopReason::EndTurn)
            ])
        );
    }

    #[test]
    fn function_calls_are_whole_and_in_order() {
        let events = decode_all(&[
            CREATED,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"id":"fc_1","type":"function_call","call_id":"call_a","name":"read","arguments":""}}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"{\"p\":"}"#,
            r#"{"type":"response.output_item.added","output_index":1,"item":{"id":"fc_2","type":"function_call","call_id":"call_b","name":"grep","arguments":""}}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc_2","output_index":1,"delta":"{\"q\":\"日本\"}"}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"\"a.rs\"}"}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"id":"fc_1","type":"function_call","call_id":"call_a","name":"read","arguments":"{\"p\":\"a.rs\"}"}}"#,
            r#"{"type":"response.output_item.done","output_index":1,"item":{"id":"fc_2","type":"function_call","call_id":"call_b","name":"grep"}}"#,
            COMPLETED,
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[
                CompletionEvent::Started,
                tool_ev("call_a", "read", r#"{"p":"a.rs"}"#),
                tool_ev("call_b", "grep", r#"{"q":"日本"}"#),
                usage(40, 12, Some(8)),
                stop(StopReason::ToolUse),
            ])
        );
    }

    #[test]
    fn open_calls_flush_at_completed_and_bad_json_is_a_parse_error_event() {
        let events = decode_all(&[
            r#"{"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","call_id":"c2","name":"b"}}"#,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","call_id":"c1","name":"a"}}"#,
            r#"{"type":"response.function_call_arguments.delta","output_index":0,"delta":"{\"x\":"}"#,
            r#"{"type":"response.function_call_arguments.done","output_index":1,"arguments":"{\"y\":2}"}"#,
            r#"{"type":"response.completed","response":{"status":"completed"}}"#,
        ])
        .unwrap();
        assert_eq!(events.len(), 4, "{:?}", show(&events));
        match &events[1] {
            CompletionEvent::ToolUseJsonParseError(e) => {
                assert_eq!((e.id.as_str(), e.raw_input.as_str()), ("c1", "{\"x\":"))
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            show(&events[2..]),
            show(&[tool_ev("c2", "b", r#"{"y":2}"#), stop(StopReason::ToolUse)])
        );
    }

    #[test]
    fn reasoning_summary_and_encrypted_content() {
        // Streamed summary parts are separated; the done item repeats nothing but the details.
        let events = decode_all(&[
            r#"{"type":"response.output_item.added","output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}}"#,
            r#"{"type":"response.reasoning_summary_text.delta","item_id":"rs_1","summary_index":0,"delta":"Plan"}"#,
            r#"{"type":"response.reasoning_summary_text.delta","item_id":"rs_1","summary_index":0,"delta":" A."}"#,
            r#"{"type":"response.reasoning_summary_text.delta","item_id":"rs_1","summary_index":1,"delta":"Then B."}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"Plan A."}],"encrypted_content":"ENC=="}}"#,
            r#"{"type":"response.output_text.delta","item_id":"m","delta":"Done"}"#,
            COMPLETED,
        ])
        .unwrap();
        let details = CompletionEvent::ReasoningDetails(
            r#"{"encrypted_content":"ENC==","id":"rs_1","type":"reasoning"}"#.into(),
        );
        assert_eq!(
            show(&events),
            show(&[
                CompletionEvent::Started,
                thinking_ev("Plan"),
                thinking_ev(" A."),
                thinking_ev("\n\nThen B."),
                details.clone(),
                text_ev("Done"),
                usage(40, 12, Some(8)),
                stop(StopReason::EndTurn),
            ])
        );
        // Copilot-hosted models deliver the summary only in the done item.
        let events = decode_all(&[
            r#"{"type":"response.output_item.done","output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"One."},{"type":"summary_text","text":"Two."}],"encrypted_content":"ENC=="}}"#,
            COMPLETED,
        ])
        .unwrap();
        assert_eq!(
            show(&events[1..3]),
            show(&[thinking_ev("One.\n\nTwo."), details])
        );
    }

    #[test]
    fn completed_output_fills_in_what_was_not_streamed_without_repeats() {
        let completed = r#"{"type":"response.completed","response":{"output":[
            {"id":"msg_1","type":"message","content":[{"type":"output_text","text":"Whole answer"}]},
            {"id":"fc_1","type":"function_call","call_id":"c1","name":"f","arguments":"{}"}],
            "usage":{"input_tokens":3,"output_tokens":2}}}"#;
        let events = decode_all(&[completed]).unwrap();
        assert_eq!(
            show(&events),
            show(&[
                CompletionEvent::Started,
                text_ev("Whole answer"),
                tool_ev("c1", "f", "{}"),
                usage(3, 2, None),
                stop(StopReason::ToolUse)
            ])
        );
        let events = decode_all(&[
            r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"delta":"Whole answer"}"#,
            r#"{"type":"response.output_item.done","output_index":1,"item":{"id":"fc_1","type":"function_call","call_id":"c1","name":"f","arguments":"{}"}}"#,
            completed,
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[
                CompletionEvent::Started,
                text_ev("Whole answer"),
                tool_ev("c1", "f", "{}"),
                usage(3, 2, None),
                stop(StopReason::ToolUse)
            ])
        );
    }

    #[test]
    fn incomplete_maps_to_max_tokens_or_refusal() {
        for (reason, expected) in [
            ("max_output_tokens", StopReason::MaxTokens),
            ("content_filter", StopReason::Refusal),
            ("other", StopReason::MaxTokens),
        ] {
            let incomplete = format!(
                r#"{{"type":"response.incomplete","response":{{"status":"incomplete","incomplete_details":{{"reason":"{reason}"}},"usage":{{"input_tokens":1,"output_tokens":9}}}}}}"#
            );
            let events = decode_all(&[
                r#"{"type":"response.output_text.delta","delta":"cut"}"#,
                &incomplete,
            ])
            .unwrap();
            assert_eq!(
                show(&events),
                show(&[
                    CompletionEvent::Started,
                    text_ev("cut"),
                    usage(1, 9, None),
                    stop(expected)
                ]),
                "{reason}"
            );
        }
    }

    #[test]
    fn failed_and_error_events_are_typed() {
        let failed = |code: &str| {
            format!(
                r#"{{"type":"response.failed","response":{{"status":"failed","error":{{"code":"{code}","message":"went wrong for ghu_abcdef123456"}}}}}}"#
            )
        };
        match decode_all(&[&failed("server_error")]) {
            Err(Error::Upstream(u)) => {
                assert_eq!(u.status, 500);
                assert_eq!(u.message, "went wrong for [redacted]");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            decode_all(&[&failed("rate_limit_exceeded")]),
            Err(Error::RateLimited { .. })
        ));
        assert!(matches!(
            decode_all(&[&failed("insufficient_quota")]),
            Err(Error::QuotaExceeded { .. })
        ));
        assert!(matches!(
            decode_all(&[&failed("context_length_exceeded")]),
            Err(Error::ContextTooLong { .. })
        ));
        assert!(matches!(
            decode_all(&[&failed("model_not_supported")]),
            Err(Error::ModelNotSupported(_))
        ));
        assert!(matches!(
            decode_all(&[r#"{"type":"response.failed","response":{"error":null}}"#]),
            Err(Error::Upstream(Upstream { status: 500, .. }))
        ));
        let err = decode_all(&[
            r#"{"type":"error","code":"rate_limited","message":"slow down","param":null}"#,
        ])
        .unwrap_err();
        // Both endpoints classify stream errors the same way (`Error::from_stream_error`),
        // guidance included.
        assert_eq!(
            err,
            Error::RateLimited {
                message: format!("slow down; {}", crate::error::rate_limit_guidance(Some("rate_limited"))),
                code: Some("rate_limited".into()),
                retry_after_secs: None
            }
        );
        assert!(matches!(
            decode_all(&[r#"{"error":{"message":"boom"}}"#]),
            Err(Error::Upstream(_))
        ));
        // The error repeats on every later call.
        let mut decoder = ResponsesDecoder::new();
        assert!(decoder
            .on_event(None, r#"{"type":"error","message":"x"}"#)
            .is_err());
        assert!(decoder.on_event(None, COMPLETED).is_err());
        assert!(decoder.finish().is_err());
    }

    #[test]
    fn malformed_and_truncated_streams_are_errors() {
        for bad in ["{\"type\":", "hello", "[1]", "7"] {
            match decode_all(&[bad]) {
                Err(Error::Upstream(u)) => assert_eq!(u.status, 502, "{bad}"),
                other => panic!("{bad}: unexpected {other:?}"),
            }
        }
        match decode_all(&[
            CREATED,
            r#"{"type":"response.output_text.delta","delta":"half"}"#,
        ]) {
            Err(Error::Network(m)) => assert!(m.contains("response.completed"), "{m}"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(decode_all(&[]), Err(Error::Network(_))));
        // After the terminal event, anything else is ignored.
        let events = decode_all(&[
            COMPLETED,
            r#"{"type":"response.output_text.delta","delta":"late"}"#,
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[
                CompletionEvent::Started,
                usage(40, 12, Some(8)),
                stop(StopReason::EndTurn)
            ])
        );
    }

    #[test]
    fn oversized_arguments_are_an_error() {
        let piece = "x".repeat(MAX_TOOL_ARGUMENT_BYTES / 2 + 1);
        let added = r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","call_id":"c","name":"f"}}"#;
        let delta = json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": piece}).to_string();
        let mut decoder = ResponsesDecoder::new();
        decoder.on_event(None, added).unwrap();
        decoder.on_event(None, &delta).unwrap();
        assert!(matches!(
            decoder.on_event(None, &delta),
            Err(Error::Upstream(Upstream { status: 502, .. }))
        ));
    }

    // ----- raw bytes through ResponsesStream -------------------------------------------------

    fn transcript() -> String {
        let mut body = String::from(": keep-alive\n\n");
        body.push_str(&sse(&[
            CREATED,
            r#"{"type":"response.in_progress","response":{"status":"in_progress"}}"#,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"id":"rs_9","type":"reasoning","summary":[]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"id":"rs_9","type":"reasoning","summary":[{"type":"summary_text","text":"Grep ✓"}],"encrypted_content":"E/+="}}"#,
            r#"{"type":"response.output_item.added","output_index":1,"item":{"id":"msg_9","type":"message","content":[]}}"#,
            r#"{"type":"response.output_text.delta","item_id":"msg_9","output_index":1,"delta":"Suche für 🦀…"}"#,
            r#"{"type":"response.output_item.done","output_index":1,"item":{"id":"msg_9","type":"message","content":[{"type":"output_text","text":"Suche für 🦀…"}]}}"#,
            r#"{"type":"response.output_item.added","output_index":2,"item":{"id":"fc_1","type":"function_call","call_id":"call_1","name":"grep","arguments":""}}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":2,"delta":"{\"q\":"}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":2,"delta":"\"日本\"}"}"#,
            r#"{"type":"response.output_item.done","output_index":2,"item":{"id":"fc_1","type":"function_call","call_id":"call_1","name":"grep","arguments":"{\"q\":\"日本\"}"}}"#,
            r#"{"type":"response.output_item.added","output_index":3,"item":{"id":"fc_2","type":"function_call","call_id":"call_2","name":"read","arguments":""}}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc_2","output_index":3,"delta":"{\"path\":\"ü.rs\"}"}"#,
            r#"{"type":"response.output_item.done","output_index":3,"item":{"id":"fc_2","type":"function_call","call_id":"call_2","name":"read","arguments":"{\"path\":\"ü.rs\"}"}}"#,
            COMPLETED,
        ]));
        body
    }

    fn transcript_events() -> Vec<CompletionEvent> {
        vec![
            CompletionEvent::Started,
            thinking_ev("Grep ✓"),
            CompletionEvent::ReasoningDetails(
                r#"{"encrypted_content":"E/+=","id":"rs_9","type":"reasoning"}"#.into(),
            ),
            text_ev("Suche für 🦀…"),
            tool_ev("call_1", "grep", r#"{"q":"日本"}"#),
            tool_ev("call_2", "read", r#"{"path":"ü.rs"}"#),
            usage(40, 12, Some(8)),
            stop(StopReason::ToolUse),
        ]
    }

    #[test]
    fn stream_decodes_a_transcript() {
        let body = transcript();
        assert_eq!(
            show(&stream_chunks(&[body.as_bytes()]).unwrap()),
            show(&transcript_events())
        );
    }

    #[test]
    fn stream_is_independent_of_chunking() {
        let body = transcript();
        let bytes = body.as_bytes();
        let expected = show(&transcript_events());
        for at in 0..=bytes.len() {
            let (a, b) = bytes.split_at(at);
            assert_eq!(
                show(&stream_chunks(&[a, b]).unwrap()),
                expected,
                "split at {at}"
            );
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(
            show(&stream_chunks(&singles).unwrap()),
            expected,
            "byte by byte"
        );
    }

    #[test]
    fn stream_delivers_events_before_an_error_then_the_error() {
        let body = sse(&[
            r#"{"type":"response.output_text.delta","delta":"partial"}"#,
            r#"{"type":"error","code":"server_error","message":"boom"}"#,
        ]);
        let mut stream = ResponsesStream::new();
        assert_eq!(
            show(&stream.push(body.as_bytes()).unwrap()),
            show(&[CompletionEvent::Started, text_ev("partial")])
        );
        let expected = Error::Upstream(Upstream {
            status: 500,
            message: "boom".into(),
            request_id: None,
        });
        assert_eq!(stream.push(COMPLETED.as_bytes()).unwrap_err(), expected);
        assert_eq!(stream.finish().unwrap_err(), expected);
        // A plain-text `event: error`.
        assert!(matches!(
            stream_chunks(&[b"event: error\ndata: overloaded\n\n"]),
            Err(Error::Upstream(_))
        ));
        // Cut before the end.
        let cut = sse(&[r#"{"type":"response.output_text.delta","delta":"half"}"#]);
        assert!(matches!(
            stream_chunks(&[cut.as_bytes()]),
            Err(Error::Network(_))
        ));
    }

    // ----- real captures (tests/captures/responses, issue 11) ---------------------------------

    const REASONING_TEXT: &[u8] =
        include_bytes!("../../../tests/captures/responses/gpt-5-reasoning-text-2026-02.sse");
    const FUNCTION_CALL: &[u8] =
        include_bytes!("../../../tests/captures/responses/gpt-5-reasoning-function-call-2026-02.sse");

    #[test]
    fn opaque_per_event_item_ids_do_not_repeat_the_answer() {
        // Copilot gives the deltas, `output_item.done` and `response.completed` of one message
        // different opaque ids: keyed by id the answer came out three times.
        let events = stream_chunks(&[REASONING_TEXT]).unwrap();
        let text: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                CompletionEvent::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text.concat(), "7 multiplied by 8 equals 56.");
        let thinking: String = events
            .iter()
            .filter_map(|e| match e {
                CompletionEvent::Thinking(t) => Some(t.text.as_str()),
                _ => None,
            })
            .collect();
        assert!(thinking.starts_with("**Calculating multiplication**"), "{thinking}");
        assert_eq!(thinking.matches("**Calculating multiplication**").count(), 1);
        assert_eq!(events.last().map(|e| format!("{e:?}")), Some(format!("{:?}", stop(StopReason::EndTurn))));
    }

    #[test]
    fn a_function_call_is_emitted_once_across_opaque_ids() {
        let events = stream_chunks(&[FUNCTION_CALL]).unwrap();
        assert_eq!(
            show(&events),
            show(&[
                CompletionEvent::Started,
                tool_ev(
                    "call_V51pK4uGw2A3HcqtS0gFjwFS",
                    "read_file",
                    r#"{"path":"/var/folders/b5/mwkw4_410fjc67g81rsp2wxc0000gn/T/opal_live_test_99.txt"}"#
                ),
                usage(180, 307, Some(0)),
                stop(StopReason::ToolUse),
            ])
        );
    }

    #[test]
    fn arguments_done_and_completed_output_do_not_repeat_a_call_with_other_ids() {
        let events = decode_all(&[
            r#"{"type":"response.output_item.added","output_index":0,"item":{"id":"A","type":"function_call","call_id":"c","name":"f","arguments":""}}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"B","output_index":0,"delta":"{\"a\":"}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"C","output_index":0,"delta":"1}"}"#,
            r#"{"type":"response.function_call_arguments.done","item_id":"D","output_index":0,"arguments":"{\"a\":1}"}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"id":"E","type":"function_call","call_id":"c","name":"f","arguments":"{\"a\":1}"}}"#,
            r#"{"type":"response.completed","response":{"id":"F","output":[{"id":"G","type":"function_call","call_id":"c","name":"f","arguments":"{\"a\":1}"}]}}"#,
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[CompletionEvent::Started, tool_ev("c", "f", r#"{"a":1}"#), stop(StopReason::ToolUse)])
        );
    }
}
