//! The `/chat/completions` stream: SSE `data` payloads in, typed [`CompletionEvent`]s out
//! (reference: copilot-protocol.md §4.3). Pure, no I/O, unit-tested with literal fixtures.
//!
//! [`ChatDecoder`] tolerates Copilot's quirks: empty, null or missing `choices`, usage-only
//! chunks, `message` in place of `delta`, several choices, tool-call fragments interleaved
//! across indexes. Text deltas and finish reasons, the bulk of every answer, take the fast path
//! in `fast`. [`ChatStream`] = `SseParser` + [`ChatDecoder`]: raw body bytes in, events out.
//!
//! Tool calls are accumulated and emitted whole (with `is_input_complete: true`) when the
//! answer finishes, because a half-received argument string is not JSON that a consumer could
//! use. `Stop` is emitted once, after every choice seen so far has a `finish_reason` (or at
//! `[DONE]` / end of body), so tool calls of a second choice are not cut off by the first.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::bindings::copilot_chat::extension::llm_provider::{CompletionEvent, StopReason, TokenUsage};
use crate::completion::chat::fast;
use crate::completion::decoder::{
    self, check_arguments, non_empty_str, thinking, Decoding, EventStream, StreamDecoder, UsageFields,
};
use crate::completion::sse::SseEvent;
use crate::error::Error;

/// The payload that ends a chat-completions stream.
const DONE_MARKER: &str = "[DONE]";
/// How a chat chunk is named in errors.
const CHUNK: &str = "chunk";
/// How a chat tool call is named in errors.
const TOOL_CALL: &str = "tool call";


/// Why a choice finished, ordered by which wins when several choices disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Finish {
    /// `stop`, or a reason we do not know.
    Stop,
    /// `tool_calls` or the legacy `function_call`.
    ToolCalls,
    /// `length`: the answer hit the token limit.
    Length,
    /// `content_filter`: the answer was withheld.
    ContentFilter,
}

impl Finish {
    fn parse(reason: &str) -> Finish {
        match reason {
            "tool_calls" | "function_call" => Finish::ToolCalls,
            "length" => Finish::Length,
            "content_filter" => Finish::ContentFilter,
            _ => Finish::Stop,
        }
    }
}

/// A tool call being assembled from its fragments.
#[derive(Debug)]
struct PendingCall {
    key: (u64, u64),
    id: String,
    name: String,
    arguments: String,
    thought_signature: Option<String>,
}

/// The decoding state of one chat-completions answer: chunks (SSE `data` payloads) in,
/// [`CompletionEvent`]s out.
///
/// Emits `Started` once before anything else; tool calls whole, in (choice, index) order,
/// right before the single `Stop`; `Usage` once, at `[DONE]` or the end of the body: the last
/// `usage` that counts anything (vendors differ in where the real figures ride: on the finish
/// chunk, on a trailing empty-`choices` chunk, or on the last of many chunks that each carry
/// an all-zero `usage`).
#[derive(Debug, Default)]
pub struct ChatState {
    started: bool,
    /// `[DONE]` was seen: later payloads are ignored.
    done: bool,
    /// `Stop` was emitted.
    stopped: bool,
    /// The strongest finish reason seen so far.
    finish: Option<Finish>,
    choices_seen: BTreeSet<u64>,
    choices_finished: BTreeSet<u64>,
    /// Calls in order of first fragment; emitted sorted by key, stable for equal keys.
    calls: Vec<PendingCall>,
    /// (choice index, tool index) → position in `calls` of the call receiving fragments.
    slots: BTreeMap<(u64, u64), usize>,
    /// Some tool call was seen in this answer (turns a plain `stop` into a tool-use stop).
    saw_tool_calls: bool,
    /// The latest usage that counts anything, emitted once when the answer ends.
    usage: Option<TokenUsage>,
}

/// Decodes chat-completions chunks into [`CompletionEvent`]s under the shared rules (see
/// [`Decoding`]): after an error every call returns that error again.
pub type ChatDecoder = Decoding<ChatState>;

impl ChatDecoder {
    /// Decodes one SSE `data` payload. Empty payloads (keep-alives) are ignored.
    ///
    /// Errors: a payload that is not a JSON object is [`Error::Upstream`] with status 502
    /// ("malformed stream chunk"); a chunk with a top-level `error` object is classified by
    /// its code: [`Error::RateLimited`] for rate-limit codes, [`Error::QuotaExceeded`] for
    /// quota codes, else [`Error::Upstream`] with status 500 (the stream itself was a 200, but
    /// the server failed while answering, so it counts as a transient server error).
    pub fn on_data(&mut self, data: &str) -> Result<Vec<CompletionEvent>, Error> {
        self.step(|state, out| state.data(data, out))
    }
}

impl ChatState {
    /// One SSE `data` payload (see [`ChatDecoder::on_data`]).
    fn data(&mut self, data: &str, events: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        let data = data.trim();
        if self.done || data.is_empty() {
            return Ok(());
        }
        if data == DONE_MARKER {
            decoder::start(&mut self.started, events);
            self.done = true;
            self.complete(events);
            self.flush_usage(events);
            return Ok(());
        }
        // Text deltas and finish reasons, the bulk of every answer, skip the `Value` tree.
        if let Some(choices) = fast::plain_choices(data) {
            decoder::start(&mut self.started, events);
            for (position, choice) in choices.into_iter().enumerate() {
                let index = choice.index.unwrap_or(position as u64);
                self.choices_seen.insert(index);
                if let Some(text) = choice.content.filter(|t| !t.is_empty()) {
                    events.push(CompletionEvent::Text(text.into_owned()));
                }
                if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
                    self.record_finish(index, &reason);
                }
            }
            if !self.stopped && self.finish.is_some() && self.choices_seen.is_subset(&self.choices_finished) {
                self.complete(events);
            }
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| decoder::malformed(CHUNK, &e.to_string()))?;
        let Value::Object(chunk) = chunk else {
            return Err(decoder::malformed(CHUNK, "a chunk is not a JSON object"));
        };
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(Error::from_stream_error(error));
        }
        decoder::start(&mut self.started, events);
        // Usage may ride on a chunk whose `choices` is empty (§4.3); it is kept for the end.
        if let Some(usage) = chunk.get("usage").and_then(usage_of) {
            self.usage = Some(usage);
        }
        if let Some(Value::Array(choices)) = chunk.get("choices") {
            for (position, choice) in choices.iter().enumerate() {
                self.on_choice(position, choice, events)?;
            }
        }
        if !self.stopped && self.finish.is_some() && self.choices_seen.is_subset(&self.choices_finished) {
            self.complete(events);
        }
        Ok(())
    }

    fn on_choice(&mut self, position: usize, choice: &Value, events: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        let Value::Object(choice) = choice else {
            return Ok(());
        };
        let index = choice.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
        self.choices_seen.insert(index);
        let delta = choice
            .get("delta")
            .filter(|d| d.is_object())
            .or_else(|| choice.get("message").filter(|m| m.is_object()));
        if let Some(delta) = delta {
            self.on_delta(index, delta, events)?;
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str).filter(|r| !r.is_empty()) {
            self.record_finish(index, reason);
        }
        Ok(())
    }

    /// Choice `index` finished for `reason`; the strongest reason of all choices wins.
    fn record_finish(&mut self, index: u64, reason: &str) {
        let finish = Finish::parse(reason);
        self.finish = Some(self.finish.map_or(finish, |f| f.max(finish)));
        self.choices_finished.insert(index);
    }

    fn on_delta(&mut self, choice: u64, delta: &Value, events: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        if let Some(text) = non_empty_str(delta, "reasoning_text") {
            events.push(thinking(text.to_string()));
        }
        if let Some(opaque) = non_empty_str(delta, "reasoning_opaque") {
            events.push(CompletionEvent::ReasoningDetails(json!({ "reasoning_opaque": opaque }).to_string()));
        }
        if let Some(text) = non_empty_str(delta, "content") {
            events.push(CompletionEvent::Text(text.to_string()));
        }
        if let Some(Value::Array(calls)) = delta.get("tool_calls") {
            for (position, call) in calls.iter().enumerate() {
                self.on_tool_call_fragment(choice, position, call)?;
            }
        }
        Ok(())
    }

    fn on_tool_call_fragment(&mut self, choice: u64, position: usize, call: &Value) -> Result<(), Error> {
        if !call.is_object() {
            return Ok(());
        }
        let index = call.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
        let function = call.get("function");
        let id = non_empty_str(call, "id");
        let slot = self.slot_for((choice, index), id);
        let Some(pending) = self.calls.get_mut(slot) else {
            return Ok(());
        };
        self.saw_tool_calls = true;
        if let Some(id) = id {
            pending.id = id.to_string();
        }
        if let Some(name) = function.and_then(|f| non_empty_str(f, "name")) {
            pending.name = name.to_string();
        }
        let signature = function
            .and_then(|f| non_empty_str(f, "thought_signature"))
            .or_else(|| non_empty_str(call, "thought_signature"));
        if let Some(signature) = signature {
            pending.thought_signature = Some(signature.to_string());
        }
        match function.and_then(|f| f.get("arguments")) {
            Some(Value::String(piece)) => append_arguments(&mut pending.arguments, piece)?,
            // A complete `message` may carry arguments as an object rather than JSON text.
            Some(v @ (Value::Object(_) | Value::Array(_))) => append_arguments(&mut pending.arguments, &v.to_string())?,
            _ => {}
        }
        Ok(())
    }

    /// The call that receives a fragment for `key`. A fragment whose `id` differs from the
    /// call already at that key starts a new call: some backends reuse index 0 for every
    /// parallel call, telling them apart only by id.
    fn slot_for(&mut self, key: (u64, u64), id: Option<&str>) -> usize {
        if let Some(&slot) = self.slots.get(&key) {
            let same = match (self.calls.get(slot), id) {
                (Some(call), Some(id)) => call.id.is_empty() || call.id == id,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if same {
                return slot;
            }
        }
        self.calls.push(PendingCall {
            key,
            id: String::new(),
            name: String::new(),
            arguments: String::new(),
            thought_signature: None,
        });
        let slot = self.calls.len() - 1;
        self.slots.insert(key, slot);
        slot
    }

    /// Emits every pending tool call, then `Stop` unless it was already sent.
    fn complete(&mut self, events: &mut Vec<CompletionEvent>) {
        let mut calls = std::mem::take(&mut self.calls);
        self.slots.clear();
        calls.sort_by_key(|c| c.key);
        events.extend(calls.into_iter().map(tool_event));
        if !self.stopped {
            self.stopped = true;
            events.push(CompletionEvent::Stop(self.stop_reason()));
        }
    }

    /// Emits the usage kept so far, once.
    fn flush_usage(&mut self, events: &mut Vec<CompletionEvent>) {
        if let Some(usage) = self.usage.take() {
            events.push(CompletionEvent::Usage(usage));
        }
    }

    fn stop_reason(&self) -> StopReason {
        match self.finish {
            Some(Finish::ContentFilter) => StopReason::Refusal,
            Some(Finish::Length) => StopReason::MaxTokens,
            Some(Finish::ToolCalls) => StopReason::ToolUse,
            // VSC treats `stop` with accumulated tool calls as a tool-call finish (§4.3).
            Some(Finish::Stop) | None if self.saw_tool_calls => StopReason::ToolUse,
            Some(Finish::Stop) | None => StopReason::EndTurn,
        }
    }
}

fn append_arguments(arguments: &mut String, piece: &str) -> Result<(), Error> {
    check_arguments(arguments.len().saturating_add(piece.len()), TOOL_CALL)?;
    arguments.push_str(piece);
    Ok(())
}

fn tool_event(call: PendingCall) -> CompletionEvent {
    // Without an id the editor could not send the result back; make a stable one.
    let id = if call.id.is_empty() {
        format!("call_{}_{}", call.key.0, call.key.1)
    } else {
        call.id
    };
    decoder::tool_use(id, call.name, call.arguments, call.thought_signature)
}

/// Chat completions name usage `prompt_tokens` / `completion_tokens`; Gemini adds its
/// reasoning as a top-level `reasoning_tokens` outside `completion_tokens`.
const USAGE_FIELDS: UsageFields = UsageFields {
    input: "prompt_tokens",
    output: "completion_tokens",
    input_details: "prompt_tokens_details",
    reasoning_outside_output: Some("reasoning_tokens"),
};

fn usage_of(usage: &Value) -> Option<TokenUsage> {
    decoder::usage(usage, &USAGE_FIELDS)
}

/// Raw `/chat/completions` body bytes in, [`CompletionEvent`]s out.
pub type ChatStream = EventStream<ChatState>;

impl StreamDecoder for ChatState {
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        if event.event.as_deref() == Some("error") {
            return Err(error_event(&event.data));
        }
        self.data(&event.data, out)
    }

    /// Flushes pending tool calls and `Stop` when a `finish_reason` was seen (a missing
    /// `[DONE]` is tolerated); without `[DONE]` and without any `finish_reason` the answer was
    /// cut off, which is [`Error::Network`].
    fn end(&mut self, out: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        if self.done || self.stopped || self.finish.is_some() {
            self.complete(out);
            self.flush_usage(out);
            return Ok(());
        }
        Err(decoder::cut_off("no finish_reason and no [DONE]"))
    }
}

/// An SSE event named `error`: its data is `{"error": {…}}`, a bare error object or text.
fn error_event(data: &str) -> Error {
    match serde_json::from_str::<Value>(data) {
        Ok(value) => match value.get("error").filter(|e| !e.is_null()) {
            Some(inner) => Error::from_stream_error(inner),
            None => Error::from_stream_error(&value),
        },
        Err(_) => Error::from_stream_error(&Value::String(data.to_string())),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::bindings::copilot_chat::extension::llm_provider::ThinkingContent;
    use crate::completion::decoder::MAX_TOOL_ARGUMENT_BYTES;
    use crate::completion::fixtures::{self, *};
    use crate::error::Upstream;

    /// Feeds `data` payloads to a fresh decoder and ends it; the first error is returned.
    pub(crate) fn decode_all(payloads: &[&str]) -> Result<Vec<CompletionEvent>, Error> {
        fixtures::decode_all::<ChatState>(payloads)
    }

    fn stream_chunks(chunks: &[&[u8]]) -> Result<Vec<CompletionEvent>, Error> {
        fixtures::stream_chunks::<ChatState>(chunks)
    }

    fn sse(payloads: &[&str]) -> String {
        payloads.iter().map(|p| format!("data: {p}\n\n")).collect()
    }

    // ----- stream decoding -------------------------------------------------------------------

    const EMPTY_FIRST: &str = r#"{"choices":[],"created":0,"id":"","prompt_filter_results":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"prompt_index":0}]}"#;
    const USAGE_ONLY: &str = r#"{"choices":[],"created":1,"id":"c1","model":"gpt-4.1","usage":{"completion_tokens":3,"prompt_tokens":12,"prompt_tokens_details":{"cached_tokens":4},"total_tokens":15}}"#;

    #[test]
    fn text_stream_with_empty_first_chunk_and_usage_only_chunk() {
        let events = decode_all(&[
            EMPTY_FIRST,
            r#"{"choices":[{"index":0,"delta":{"content":"Hel","role":"assistant"}}],"created":1,"id":"c1","model":"gpt-4.1"}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"lo"}}],"created":1,"id":"c1","model":"gpt-4.1"}"#,
            r#"{"choices":[{"index":0,"delta":{"content":null},"finish_reason":"stop"}],"created":1,"id":"c1"}"#,
            USAGE_ONLY,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[started(), text_ev("Hel"), text_ev("lo"), stop(StopReason::EndTurn), usage(12, 3, Some(4))])
        );
    }

    #[test]
    fn two_parallel_tool_calls_with_interleaved_fragments() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"read_file","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"grep","arguments":"{\"pat"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"path\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"tern\":\"fn \\\"x\\\"\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"src/a.rs\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            USAGE_ONLY,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[
                started(),
                tool_ev("call_a", "read_file", r#"{"path":"src/a.rs"}"#),
                tool_ev("call_b", "grep", r#"{"pattern":"fn \"x\""}"#),
                stop(StopReason::ToolUse),
                usage(12, 3, Some(4)),
            ])
        );
    }

    #[test]
    fn three_parallel_tool_calls_emitted_in_index_order_after_text() {
        // Index 2 starts before index 1; one chunk carries fragments of several calls; the
        // finish reason is a plain `stop`, which still means tool use.
        let events = decode_all(&[
            EMPTY_FIRST,
            r#"{"choices":[{"index":0,"delta":{"content":"Let me look."}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t0","function":{"name":"a","arguments":"{\"n\":"}},{"index":2,"id":"t2","function":{"name":"c","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"t1","function":{"name":"b","arguments":"{\"n\":1"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"function":{"arguments":"{\"n\":2}"}},{"index":0,"function":{"arguments":"0}"}},{"index":1,"function":{"arguments":"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"finish_reason":"stop","delta":{}}],"usage":{"prompt_tokens":5,"completion_tokens":9}}"#,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[
                started(),
                text_ev("Let me look."),
                tool_ev("t0", "a", r#"{"n":0}"#),
                tool_ev("t1", "b", r#"{"n":1}"#),
                tool_ev("t2", "c", r#"{"n":2}"#),
                stop(StopReason::ToolUse),
                // Usage is kept for the end of the answer (it may still be replaced).
                usage(5, 9, None),
            ])
        );
    }

    #[test]
    fn malformed_tool_json_becomes_a_parse_error_event() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"bad","function":{"name":"edit","arguments":"{\"path\": "}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"empty","function":{"name":"now"}}]}}]}"#,
            r#"{"choices":[{"index":0,"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(events.len(), 4, "{:?}", show(&events));
        match events.get(1) {
            Some(CompletionEvent::ToolUseJsonParseError(e)) => {
                assert_eq!((e.id.as_str(), e.tool_name.as_str(), e.raw_input.as_str()), ("bad", "edit", "{\"path\": "));
                assert!(!e.error.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(show(&events[2..]), show(&[tool_ev("empty", "now", "{}"), stop(StopReason::ToolUse)]));
    }

    #[test]
    fn finish_reasons_map_to_stop_reasons() {
        for (reason, expected) in [
            ("stop", StopReason::EndTurn),
            ("length", StopReason::MaxTokens),
            ("tool_calls", StopReason::ToolUse),
            ("function_call", StopReason::ToolUse),
            ("content_filter", StopReason::Refusal),
            ("something_new", StopReason::EndTurn),
        ] {
            let chunk = format!(r#"{{"choices":[{{"index":0,"delta":{{"content":"x"}},"finish_reason":"{reason}"}}]}}"#);
            let events = decode_all(&[&chunk, "[DONE]"]).unwrap();
            assert_eq!(show(&events), show(&[started(), text_ev("x"), stop(expected)]), "{reason}");
        }
    }

    #[test]
    fn stop_is_emitted_once() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            "[DONE]",
            r#"{"choices":[{"index":0,"delta":{"content":"after done"}}]}"#,
        ])
        .unwrap();
        assert_eq!(show(&events), show(&[started(), text_ev("a"), stop(StopReason::EndTurn)]));
    }

    #[test]
    fn mid_stream_error_object_is_an_upstream_error() {
        let mut decoder = ChatDecoder::new();
        let first = decoder.on_data(r#"{"choices":[{"index":0,"delta":{"content":"partial"}}]}"#).unwrap();
        assert_eq!(show(&first), show(&[started(), text_ev("partial")]));
        let err = decoder
            .on_data(r#"{"choices":null,"error":{"message":"Sorry, the upstream failed for ghu_abcdef123456","code":"server_error"}}"#)
            .unwrap_err();
        assert_eq!(
            err,
            Error::Upstream(Upstream {
                status: 500,
                message: "Sorry, the upstream failed for [redacted]".into(),
                request_id: None
            })
        );
        assert!(err.is_transient());
        assert_eq!(decoder.finish().unwrap_err(), err);
    }

    #[test]
    fn mid_stream_rate_limit_and_quota_are_typed() {
        let err = decode_all(&[r#"{"error":{"message":"slow down","code":"user_model_rate_limited"}}"#]).unwrap_err();
        assert_eq!(
            err,
            Error::RateLimited {
                message: "slow down; this model is rate limited for your account: wait or pick another model".into(),
                code: Some("user_model_rate_limited".into()),
                retry_after_secs: None
            }
        );
        let err = decode_all(&[r#"{"error":{"message":"out","type":"rate_limit_error"}}"#]).unwrap_err();
        assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
        let err = decode_all(&[r#"{"error":{"message":"no more","code":"free_quota_exceeded"}}"#]).unwrap_err();
        assert!(matches!(err, Error::QuotaExceeded { .. }), "{err:?}");
        let err = decode_all(&[r#"{"error":"plain text failure"}"#]).unwrap_err();
        assert_eq!(err, Error::Upstream(Upstream { status: 500, message: "plain text failure".into(), request_id: None }));
    }

    #[test]
    fn non_json_chunk_is_a_malformed_stream_error() {
        for bad in ["{\"choices\":[", "hello", "[1,2]", "42"] {
            match decode_all(&[bad]) {
                Err(Error::Upstream(u)) => {
                    assert_eq!(u.status, 502);
                    assert!(u.message.starts_with("malformed stream chunk"), "{}", u.message);
                }
                other => panic!("{bad}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn truncated_stream_is_a_network_error() {
        let err = decode_all(&[r#"{"choices":[{"index":0,"delta":{"content":"The answer is"}}]}"#]).unwrap_err();
        match err {
            Error::Network(m) => assert!(m.contains("ended before the answer was complete"), "{m}"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(decode_all(&[]), Err(Error::Network(_))));
        assert!(matches!(decode_all(&[EMPTY_FIRST]), Err(Error::Network(_))));
    }

    #[test]
    fn finish_reason_without_done_is_complete() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"x","function":{"name":"f","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"finish_reason":"tool_calls"}]}"#,
            USAGE_ONLY,
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[started(), tool_ev("x", "f", "{}"), stop(StopReason::ToolUse), usage(12, 3, Some(4))])
        );
    }

    #[test]
    fn done_flushes_pending_tool_calls_without_a_finish_reason() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"x","function":{"name":"f","arguments":"{\"a\":1}"}}]}}]}"#,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(show(&events), show(&[started(), tool_ev("x", "f", r#"{"a":1}"#), stop(StopReason::ToolUse)]));
        let events = decode_all(&["[DONE]"]).unwrap();
        assert_eq!(show(&events), show(&[started(), stop(StopReason::EndTurn)]));
    }

    #[test]
    fn message_in_place_of_delta_and_missing_or_null_choices() {
        let events = decode_all(&[
            r#"{"id":"x"}"#,
            r#"{"choices":null,"copilot_references":[]}"#,
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Whole","tool_calls":[{"id":"m1","type":"function","function":{"name":"f","arguments":{"k":true}}}]},"finish_reason":"tool_calls"}]}"#,
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[started(), text_ev("Whole"), tool_ev("m1", "f", r#"{"k":true}"#), stop(StopReason::ToolUse)])
        );
    }

    #[test]
    fn several_choices_stop_only_when_all_finished() {
        // Text on choice 0, tool calls on choice 1 with the same tool index 0 (keys differ).
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"content":"I'll check."}}]}"#,
            r#"{"choices":[{"index":1,"delta":{"tool_calls":[{"index":0,"id":"k1","function":{"name":"f","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"k0","function":{"name":"g","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"index":1,"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[started(), text_ev("I'll check."), tool_ev("k0", "g", "{}"), tool_ev("k1", "f", "{}"), stop(StopReason::ToolUse)])
        );
    }

    #[test]
    fn a_reused_index_with_a_new_id_is_a_new_call() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"g1","function":{"name":"a","arguments":"{\"x\":1}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"g2","function":{"name":"b","arguments":"{\"y\":2}","thought_signature":"sig2"}}]}}]}"#,
            r#"{"choices":[{"index":0,"finish_reason":"tool_calls"}]}"#,
        ])
        .unwrap();
        let mut second = tool_ev("g2", "b", r#"{"y":2}"#);
        if let CompletionEvent::ToolUse(u) = &mut second {
            u.thought_signature = Some("sig2".into());
        }
        assert_eq!(
            show(&events),
            show(&[started(), tool_ev("g1", "a", r#"{"x":1}"#), second, stop(StopReason::ToolUse)])
        );
    }

    #[test]
    fn oversized_tool_arguments_are_an_error() {
        let piece = "x".repeat(MAX_TOOL_ARGUMENT_BYTES / 2 + 1);
        let chunk = json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"big","function":{"name":"f","arguments":piece}}]}}]}).to_string();
        let mut decoder = ChatDecoder::new();
        decoder.on_data(&chunk).unwrap();
        assert!(matches!(decoder.on_data(&chunk), Err(Error::Upstream(Upstream { status: 502, .. }))));
    }

    // ----- raw bytes through ChatStream ------------------------------------------------------

    /// A body with every quirk: keep-alive comment, CRLF, empty-choices chunk, text, reasoning,
    /// interleaved tool calls with multi-byte text, finish, usage-only chunk and `[DONE]`.
    fn transcript() -> String {
        let mut body = String::from(": keep-alive\r\n\r\n");
        body.push_str(&sse(&[
            EMPTY_FIRST,
            r#"{"choices":[{"index":0,"delta":{"reasoning_text":"Plan: grep ✓","role":"assistant"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"reasoning_opaque":"opaq"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Searching für 🦀…"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"grep","arguments":"{\"q\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"read","arguments":"{\"path\":\"ü.rs\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"日本\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            USAGE_ONLY,
        ]));
        body.push_str("data: [DONE]\r\n\r\n");
        body
    }

    fn transcript_events() -> Vec<CompletionEvent> {
        vec![
            started(),
            CompletionEvent::Thinking(ThinkingContent { text: "Plan: grep ✓".into(), signature: None }),
            CompletionEvent::ReasoningDetails(r#"{"reasoning_opaque":"opaq"}"#.into()),
            text_ev("Searching für 🦀…"),
            tool_ev("call_1", "grep", r#"{"q":"日本"}"#),
            tool_ev("call_2", "read", r#"{"path":"ü.rs"}"#),
            stop(StopReason::ToolUse),
            usage(12, 3, Some(4)),
        ]
    }

    #[test]
    fn chat_stream_decodes_a_transcript() {
        let body = transcript();
        assert_eq!(show(&stream_chunks(&[body.as_bytes()]).unwrap()), show(&transcript_events()));
    }

    #[test]
    fn chat_stream_is_independent_of_chunking() {
        let body = transcript();
        let bytes = body.as_bytes();
        let expected = show(&transcript_events());
        for at in 0..=bytes.len() {
            let (a, b) = bytes.split_at(at);
            assert_eq!(show(&stream_chunks(&[a, b]).unwrap()), expected, "split at {at}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(show(&stream_chunks(&singles).unwrap()), expected, "byte by byte");
    }

    #[test]
    fn chat_stream_delivers_events_before_an_error_then_the_error() {
        let body = sse(&[
            r#"{"choices":[{"index":0,"delta":{"content":"partial"}}]}"#,
            r#"{"error":{"message":"boom","code":"internal"}}"#,
        ]);
        let mut stream = ChatStream::new();
        assert_eq!(show(&stream.push(body.as_bytes()).unwrap()), show(&[started(), text_ev("partial")]));
        let expected = Error::Upstream(Upstream { status: 500, message: "boom".into(), request_id: None });
        assert_eq!(stream.push(b"data: [DONE]\n\n").unwrap_err(), expected);
        assert_eq!(stream.finish().unwrap_err(), expected);
    }

    #[test]
    fn chat_stream_error_event_and_truncation() {
        let body = "event: error\ndata: {\"error\":{\"message\":\"too many\",\"code\":\"rate_limited\"}}\n\n";
        assert!(matches!(stream_chunks(&[body.as_bytes()]), Err(Error::RateLimited { .. })));
        let cut = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"half\"}}]}\n\ndata: {\"choices\":[{\"ind";
        assert!(matches!(stream_chunks(&[cut.as_bytes()]), Err(Error::Upstream(Upstream { status: 502, .. }))));
        let cut = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"half\"}}]}\n\n";
        assert!(matches!(stream_chunks(&[cut.as_bytes()]), Err(Error::Network(_))));
    }

    #[test]
    fn chat_stream_accepts_done_without_a_trailing_blank_line() {
        let body = format!("{}data: [DONE]", sse(&[r#"{"choices":[{"index":0,"delta":{"content":"hi"}}]}"#]));
        let events = stream_chunks(&[body.as_bytes()]).unwrap();
        assert_eq!(show(&events), show(&[started(), text_ev("hi"), stop(StopReason::EndTurn)]));
    }

    // ----- real captures (tests/captures/chat, issue 11) --------------------------------------

    const GEMINI: &[u8] = include_bytes!("../../../tests/captures/chat/gemini-3-pro-reasoning-tool.sse");
    const CLAUDE_TWO_CALLS: &[u8] =
        include_bytes!("../../../tests/captures/chat/claude-3.5-sonnet-two-tool-calls-index0.sse");

    #[test]
    fn gemini_usage_counts_reasoning_once_and_zero_usage_is_no_event() {
        // Every chunk has `usage`; three are all zeros. The last has `reasoning_tokens` 92
        // beside `completion_tokens` 31: output tokens are 123, and there is one usage event.
        let events = stream_chunks(&[GEMINI]).unwrap();
        let usages: Vec<&CompletionEvent> = events.iter().filter(|e| matches!(e, CompletionEvent::Usage(_))).collect();
        assert_eq!(show(&usages.into_iter().cloned().collect::<Vec<_>>()), show(&[usage(6009, 123, Some(0))]));
        assert!(matches!(events.last(), Some(CompletionEvent::Usage(_))), "usage comes when the body ends");
    }

    #[test]
    fn reasoning_inside_completion_tokens_is_not_counted_twice() {
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":40,"completion_tokens_details":{"reasoning_tokens":30}}}"#,
        ])
        .unwrap();
        assert_eq!(show(&events), show(&[started(), text_ev("x"), stop(StopReason::EndTurn), usage(5, 40, None)]));
        // The last usage that counts anything wins; zeros in between are ignored.
        let events = decode_all(&[
            r#"{"choices":[{"index":0,"delta":{"content":"x"}}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}"#,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(show(&events), show(&[started(), text_ev("x"), stop(StopReason::EndTurn), usage(5, 2, None)]));
    }

    #[test]
    fn claude_calls_reusing_index_zero_stay_separate() {
        let events = stream_chunks(&[CLAUDE_TWO_CALLS]).unwrap();
        let calls: Vec<(&str, &str)> = events
            .iter()
            .filter_map(|e| match e {
                CompletionEvent::ToolUseJsonParseError(e) => Some((e.id.as_str(), e.tool_name.as_str())),
                CompletionEvent::ToolUse(t) => Some((t.id.as_str(), t.name.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(
            calls,
            [("tooluse_448k6WHnTpS28K0Bd1bhgA", "edit_file"), ("tooluse_2SRF2HShTXOoLdGrjWuGiw", "edit_file")]
        );
    }
}
