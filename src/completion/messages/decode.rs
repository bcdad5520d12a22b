//! The `/v1/messages` stream (Anthropic Messages API, reference: copilot-protocol.md §4.5 and
//! the capture notes): typed SSE events in, [`CompletionEvent`]s out. Pure, no I/O,
//! unit-tested with literal fixtures.
//!
//! Content blocks are tied together by their `index` only (never by an id): a block opens
//! with `content_block_start`, grows with `content_block_delta`s and closes with
//! `content_block_stop`, and blocks of different indexes may interleave. Text and thinking
//! are shown as they stream; a thinking block's `signature` (streamed as `signature_delta`)
//! is emitted when the block closes, as a `thinking` event with empty text and the signature,
//! so the editor can send the block back on the next turn; a redacted-thinking block is
//! emitted whole when it opens; a `tool_use` block becomes one tool-use event with its input
//! when it closes (its `input_json_delta` pieces must add up to JSON). Usage comes in two
//! halves: `message_start` has the input side (input, cache reads, cache writes), and
//! `message_delta` the output side (and, from Copilot, the input side again); one `Usage`
//! event merges them at `message_delta`. `stop_reason` in `message_delta` is the `Stop`,
//! emitted at `message_stop` (or at the end of the body when that never came).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionEvent, StopReason, ThinkingContent, TokenUsage,
};
use crate::completion::decoder::{self, non_empty_str, thinking, EventStream, StreamDecoder};
use crate::completion::messages::{
    REDACTED_THINKING_BLOCK, TEXT_BLOCK, THINKING_BLOCK, TOOL_USE_BLOCK,
};
use crate::completion::sse::SseEvent;
use crate::error::Error;

/// How a Messages stream event is named in errors.
const EVENT: &str = "event";
/// How a Messages tool call is named in errors.
const TOOL_CALL: &str = "tool call";

/// A content block between its start and its stop.
#[derive(Debug)]
enum Block {
    /// Text (or a block type this decoder does not show): its deltas are shown as they come.
    Text,
    /// Extended thinking: the signature pieces collected until the block stops.
    Thinking { signature: String },
    /// A tool call: its input JSON text collected until the block stops.
    ToolUse { id: String, name: String, input: String },
    /// A block whose deltas are ignored (redacted thinking, server-side tools, newer types).
    Other,
}

/// Token counts as the Messages API reports them: `input` excludes the cache reads and
/// writes, which are counted apart (the same split as the WIT `token-usage`).
#[derive(Debug, Default)]
struct Usage {
    input: u64,
    output: u64,
    cache_creation: Option<u64>,
    cache_read: Option<u64>,
}

/// The decoding state of one Messages answer.
#[derive(Debug, Default)]
pub struct MessagesState {
    started: bool,
    /// Open blocks by `index`.
    blocks: BTreeMap<u64, Block>,
    /// Whether a tool call was emitted (an unknown stop reason then reads as `ToolUse`).
    emitted_calls: bool,
    /// The usage of `message_start`, merged into the one of `message_delta`.
    usage: Usage,
    /// `message_delta` arrived (the answer is complete once the body ends).
    delta_seen: bool,
    /// The `stop_reason` of `message_delta`, mapped and emitted at `message_stop`.
    stop_reason: Option<String>,
    /// `message_stop` was handled: later events are ignored.
    stopped: bool,
}

impl MessagesState {
    fn event(&mut self, name: Option<&str>, data: &str, out: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        let data = data.trim();
        if self.stopped || data.is_empty() {
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
        let kind = value.get("type").and_then(Value::as_str).or(name).unwrap_or_default();
        if kind == "error" {
            let error = value.get("error").filter(|e| e.is_object() || e.is_string());
            return Err(Error::from_stream_error(error.unwrap_or(&value)));
        }
        if kind == "ping" {
            return Ok(());
        }
        decoder::start(&mut self.started, out);
        match kind {
            "message_start" => self.on_message_start(&value),
            "content_block_start" => self.on_block_start(&value, out)?,
            "content_block_delta" => self.on_block_delta(&value, out)?,
            "content_block_stop" => self.on_block_stop(&value, out),
            "message_delta" => self.on_message_delta(&value, out),
            "message_stop" => self.on_message_stop(out),
            _ => {}
        }
        Ok(())
    }

    fn on_message_start(&mut self, value: &Value) {
        if let Some(usage) = value.get("message").and_then(|m| m.get("usage")) {
            merge_usage(&mut self.usage, usage);
        }
    }

    fn on_block_start(&mut self, value: &Value, out: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        let index = block_index(value)?;
        let block = value.get("content_block").unwrap_or(&Value::Null);
        let opened = match block.get("type").and_then(Value::as_str) {
            Some(TEXT_BLOCK) => {
                if let Some(text) = non_empty_str(block, "text") {
                    out.push(CompletionEvent::Text(text.to_string()));
                }
                Block::Text
            }
            Some(THINKING_BLOCK) => {
                if let Some(text) = non_empty_str(block, THINKING_BLOCK) {
                    out.push(thinking(text.to_string()));
                }
                let signature = non_empty_str(block, "signature").unwrap_or_default().to_string();
                Block::Thinking { signature }
            }
            Some(REDACTED_THINKING_BLOCK) => {
                if let Some(data) = non_empty_str(block, "data") {
                    out.push(CompletionEvent::RedactedThinking(data.to_string()));
                }
                Block::Other
            }
            Some(TOOL_USE_BLOCK) => {
                // The input streams as JSON text; a non-empty `input` here (a whole call in
                // one event) stands when no delta follows.
                let input = block
                    .get("input")
                    .filter(|i| i.as_object().is_some_and(|o| !o.is_empty()))
                    .map(Value::to_string)
                    .unwrap_or_default();
                decoder::check_arguments(input.len(), TOOL_CALL)?;
                Block::ToolUse {
                    id: non_empty_str(block, "id").map_or_else(|| format!("toolu_{index}"), str::to_string),
                    name: non_empty_str(block, "name").unwrap_or_default().to_string(),
                    input,
                }
            }
            _ => Block::Other,
        };
        // A start for an index still open closes the old block first (nothing is lost).
        if let Some(old) = self.blocks.insert(index, opened) {
            self.close(old, out);
        }
        Ok(())
    }

    fn on_block_delta(&mut self, value: &Value, out: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        let index = block_index(value)?;
        let delta = value.get("delta").unwrap_or(&Value::Null);
        let kind = delta.get("type").and_then(Value::as_str).unwrap_or_default();
        // A delta for a block that never started is shown by its own type.
        let block = self.blocks.entry(index).or_insert_with(|| match kind {
            "thinking_delta" | "signature_delta" => Block::Thinking { signature: String::new() },
            "input_json_delta" => Block::ToolUse { id: format!("toolu_{index}"), name: String::new(), input: String::new() },
            "text_delta" => Block::Text,
            _ => Block::Other,
        });
        match (kind, block) {
            ("text_delta", Block::Text) => {
                if let Some(text) = non_empty_str(delta, "text") {
                    out.push(CompletionEvent::Text(text.to_string()));
                }
            }
            ("thinking_delta", Block::Thinking { .. }) => {
                if let Some(text) = non_empty_str(delta, THINKING_BLOCK) {
                    out.push(thinking(text.to_string()));
                }
            }
            ("signature_delta", Block::Thinking { signature }) => {
                if let Some(piece) = delta.get("signature").and_then(Value::as_str) {
                    decoder::check_arguments(signature.len().saturating_add(piece.len()), "thinking signature")?;
                    signature.push_str(piece);
                }
            }
            ("input_json_delta", Block::ToolUse { input, .. }) => {
                if let Some(piece) = delta.get("partial_json").and_then(Value::as_str) {
                    decoder::check_arguments(input.len().saturating_add(piece.len()), TOOL_CALL)?;
                    input.push_str(piece);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn on_block_stop(&mut self, value: &Value, out: &mut Vec<CompletionEvent>) {
        let Some(index) = value.get("index").and_then(Value::as_u64) else {
            return;
        };
        if let Some(block) = self.blocks.remove(&index) {
            self.close(block, out);
        }
    }

    /// What a closed block still owes: a thinking block its signature, a tool call itself.
    fn close(&mut self, block: Block, out: &mut Vec<CompletionEvent>) {
        match block {
            Block::Thinking { signature } if !signature.is_empty() => {
                out.push(CompletionEvent::Thinking(ThinkingContent { text: String::new(), signature: Some(signature) }));
            }
            Block::ToolUse { id, name, input } => {
                self.emitted_calls = true;
                out.push(decoder::tool_use(id, name, input, None));
            }
            _ => {}
        }
    }

    /// Closes every open block in index order (the answer ended with some still open).
    fn close_all(&mut self, out: &mut Vec<CompletionEvent>) {
        for (_, block) in std::mem::take(&mut self.blocks) {
            self.close(block, out);
        }
    }

    fn on_message_delta(&mut self, value: &Value, out: &mut Vec<CompletionEvent>) {
        self.delta_seen = true;
        if let Some(usage) = value.get("usage").filter(|u| u.is_object()) {
            merge_usage(&mut self.usage, usage);
            let usage = &self.usage;
            out.push(CompletionEvent::Usage(TokenUsage {
                input_tokens: usage.input,
                output_tokens: usage.output,
                cache_creation_input_tokens: usage.cache_creation,
                cache_read_input_tokens: usage.cache_read,
            }));
        }
        let reason = value.get("delta").and_then(|d| d.get("stop_reason")).and_then(Value::as_str);
        if let Some(reason) = reason {
            self.stop_reason = Some(reason.to_string());
        }
    }

    /// `stop_reason` → `Stop`. `end_turn`, `stop_sequence` and `pause_turn` end the turn;
    /// `max_tokens` and `model_context_window_exceeded` cut the answer short; `refusal` is a
    /// refusal; an unknown or missing reason is `ToolUse` after a tool call, else `EndTurn`.
    fn map_stop(&self, reason: Option<&str>) -> StopReason {
        match reason.unwrap_or_default() {
            "tool_use" => StopReason::ToolUse,
            "max_tokens" | "model_context_window_exceeded" => StopReason::MaxTokens,
            "refusal" => StopReason::Refusal,
            "end_turn" | "stop_sequence" | "pause_turn" => StopReason::EndTurn,
            _ if self.emitted_calls => StopReason::ToolUse,
            _ => StopReason::EndTurn,
        }
    }

    fn on_message_stop(&mut self, out: &mut Vec<CompletionEvent>) {
        self.close_all(out);
        self.stopped = true;
        let reason = self.map_stop(self.stop_reason.as_deref());
        out.push(CompletionEvent::Stop(reason));
    }
}

impl StreamDecoder for MessagesState {
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        self.event(event.event.as_deref(), &event.data, out)
    }

    /// Without `message_stop` the answer is complete when `message_delta` came (its stop is
    /// emitted now); without either it was cut off, which is [`Error::Network`].
    fn end(&mut self, out: &mut Vec<CompletionEvent>) -> Result<(), Error> {
        if self.stopped {
            return Ok(());
        }
        if self.delta_seen {
            self.on_message_stop(out);
            return Ok(());
        }
        Err(decoder::cut_off("no message_delta and no message_stop"))
    }
}

/// A block event's `index`; an event without one cannot be tied to its block.
fn block_index(value: &Value) -> Result<u64, Error> {
    value
        .get("index")
        .and_then(Value::as_u64)
        .ok_or_else(|| decoder::malformed(EVENT, "a content block event has no index"))
}

/// Overwrites `usage` with the counts `wire` carries (the Messages API reports cumulative
/// counts, so a later figure replaces an earlier one).
fn merge_usage(usage: &mut Usage, wire: &Value) {
    let count = |key: &str| wire.get(key).and_then(Value::as_u64);
    if let Some(n) = count("input_tokens") {
        usage.input = n;
    }
    if let Some(n) = count("output_tokens") {
        usage.output = n;
    }
    if let Some(n) = count("cache_creation_input_tokens") {
        usage.cache_creation = Some(n);
    }
    if let Some(n) = count("cache_read_input_tokens") {
        usage.cache_read = Some(n);
    }
}

/// Raw `/v1/messages` body bytes in, [`CompletionEvent`]s out.
pub type MessagesStream = EventStream<MessagesState>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::completion::decoder::MAX_TOOL_ARGUMENT_BYTES;
    use crate::completion::fixtures::{self, *};

    fn stream_chunks(chunks: &[&[u8]]) -> Result<Vec<CompletionEvent>, Error> {
        fixtures::stream_chunks::<MessagesState>(chunks)
    }

    /// Frames payloads as Copilot does: an `event:` line naming the type, then `data:`.
    fn sse(payloads: &[&str]) -> String {
        fixtures::typed_sse(payloads, "\n")
    }

    fn decode(payloads: &[&str]) -> Result<Vec<CompletionEvent>, Error> {
        stream_chunks(&[sse(payloads).as_bytes()])
    }

    fn thinking_ev(text: &str, signature: Option<&str>) -> CompletionEvent {
        CompletionEvent::Thinking(ThinkingContent { text: text.into(), signature: signature.map(str::to_string) })
    }

    fn full_usage(input: u64, output: u64, created: Option<u64>, read: Option<u64>) -> CompletionEvent {
        CompletionEvent::Usage(TokenUsage {
            input_tokens: input,
            output_tokens: output,
            cache_creation_input_tokens: created,
            cache_read_input_tokens: read,
        })
    }

    /// The shape of the 2026-08 Copilot capture (captures/messages/…SCRUBBED…): usage with
    /// cache fields and `cache_creation` details at the start, `copilot_usage` and
    /// `context_management` beside the final usage.
    const START: &str = r#"{"message":{"content":[],"id":"id_000","model":"claude-opus-5","role":"assistant","stop_details":null,"stop_reason":null,"stop_sequence":null,"type":"message","usage":{"cache_creation":{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":1366},"cache_creation_input_tokens":1366,"cache_read_input_tokens":621048,"inference_geo":"placeholder","input_tokens":94,"output_tokens":2}},"type":"message_start"}"#;
    const DELTA_END_TURN: &str = r#"{"context_management":{"applied_edits":[]},"copilot_usage":{"token_details":[],"total_nano_aiu":32195650000},"delta":{"stop_details":null,"stop_reason":"end_turn","stop_sequence":null},"type":"message_delta","usage":{"cache_creation_input_tokens":1366,"cache_read_input_tokens":621048,"input_tokens":94,"output_tokens":97,"output_tokens_details":{"thinking_tokens":0}}}"#;
    const STOP: &str = r#"{"type":"message_stop"}"#;

    fn text_transcript() -> Vec<&'static str> {
        vec![
            START,
            r#"{"content_block":{"text":"","type":"text"},"index":0,"type":"content_block_start"}"#,
            r#"{"type":"ping"}"#,
            r#"{"delta":{"text":"Hel","type":"text_delta"},"index":0,"type":"content_block_delta"}"#,
            r#"{"delta":{"text":"lo ’","type":"text_delta"},"index":0,"type":"content_block_delta"}"#,
            r#"{"index":0,"type":"content_block_stop"}"#,
            DELTA_END_TURN,
            STOP,
        ]
    }

    #[test]
    fn text_stream_with_cache_usage() {
        let events = decode(&text_transcript()).unwrap();
        assert_eq!(
            show(&events),
            show(&[
                started(),
                text_ev("Hel"),
                text_ev("lo ’"),
                full_usage(94, 97, Some(1366), Some(621048)),
                stop(StopReason::EndTurn),
            ])
        );
    }

    #[test]
    fn usage_from_message_start_is_kept_when_the_delta_has_only_output() {
        let events = decode(&[
            r#"{"type":"message_start","message":{"usage":{"input_tokens":12,"cache_read_input_tokens":5,"output_tokens":1}}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"Hi"}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":30}}"#,
            STOP,
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[started(), text_ev("Hi"), full_usage(12, 30, None, Some(5)), stop(StopReason::MaxTokens)])
        );
    }

    #[test]
    fn parallel_tool_calls_are_tied_by_index() {
        let events = decode(&[
            START,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Reading."}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_a","name":"read","input":{}}}"#,
            r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_b","name":"grep","input":{}}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#,
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"q\":"}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"path\":\"a"}}"#,
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"fn\"}"}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":".rs\"}"}}"#,
            r#"{"type":"content_block_stop","index":2}"#,
            r#"{"type":"content_block_stop","index":1}"#,
            r#"{"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_c","name":"now","input":{}}}"#,
            r#"{"type":"content_block_stop","index":3}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":40}}"#,
            STOP,
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[
                started(),
                text_ev("Reading."),
                tool_ev("toolu_b", "grep", r#"{"q":"fn"}"#),
                tool_ev("toolu_a", "read", r#"{"path":"a.rs"}"#),
                tool_ev("toolu_c", "now", "{}"),
                full_usage(94, 40, Some(1366), Some(621048)),
                stop(StopReason::ToolUse),
            ])
        );
    }

    #[test]
    fn bad_tool_json_is_a_parse_error_event() {
        let events = decode(&[
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_x","name":"edit","input":{}}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"}}"#,
            STOP,
        ])
        .unwrap();
        assert!(
            matches!(&events[1], CompletionEvent::ToolUseJsonParseError(e) if e.id == "toolu_x" && e.tool_name == "edit" && e.raw_input == "{\"a\":"),
            "{events:?}"
        );
        assert!(matches!(events.last(), Some(CompletionEvent::Stop(StopReason::ToolUse))));
    }

    #[test]
    fn thinking_streams_and_its_signature_closes_the_block() {
        let events = decode(&[
            START,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me "}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"think."}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"Cj4="}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"ENC=="}}"#,
            r#"{"type":"content_block_stop","index":1}"#,
            r#"{"type":"content_block_start","index":2,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"Done."}}"#,
            r#"{"type":"content_block_stop","index":2}"#,
            DELTA_END_TURN,
            STOP,
        ])
        .unwrap();
        assert_eq!(
            show(&events),
            show(&[
                started(),
                thinking_ev("Let me ", None),
                thinking_ev("think.", None),
                thinking_ev("", Some("EqQBCj4=")),
                CompletionEvent::RedactedThinking("ENC==".into()),
                text_ev("Done."),
                full_usage(94, 97, Some(1366), Some(621048)),
                stop(StopReason::EndTurn),
            ])
        );
    }

    #[test]
    fn error_events_are_typed_errors() {
        let overloaded = decode(&[
            START,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        ]);
        assert!(
            matches!(&overloaded, Err(Error::RateLimited { code: Some(c), .. }) if c == "overloaded_error"),
            "{overloaded:?}"
        );
        let api = decode(&[r#"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#]);
        assert!(matches!(&api, Err(Error::Upstream(u)) if u.status == 500 && u.message.contains("Internal")), "{api:?}");
        let text = stream_chunks(&[b"event: error\ndata: upstream went away\n\n"]);
        assert!(matches!(&text, Err(Error::Upstream(u)) if u.message.contains("went away")), "{text:?}");
    }

    #[test]
    fn events_before_an_error_in_the_same_read_are_delivered_first() {
        let mut stream = MessagesStream::new();
        let body = sse(&[
            START,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"partial"}}"#,
            r#"{"type":"error","error":{"type":"api_error","message":"boom"}}"#,
        ]);
        let first = stream.push(body.as_bytes()).unwrap();
        assert_eq!(show(&first), show(&[started(), text_ev("partial")]));
        assert!(matches!(stream.push(b""), Err(Error::Upstream(_))));
        assert!(matches!(stream.finish(), Err(Error::Upstream(_))));
    }

    #[test]
    fn a_missing_message_stop_is_tolerated_after_message_delta_but_not_before() {
        let mut transcript = text_transcript();
        transcript.pop();
        let events = decode(&transcript).unwrap();
        assert!(matches!(events.last(), Some(CompletionEvent::Stop(StopReason::EndTurn))), "{events:?}");
        transcript.pop();
        assert!(matches!(decode(&transcript), Err(Error::Network(_))));
        assert!(matches!(stream_chunks(&[]), Err(Error::Network(_))));
    }

    #[test]
    fn open_blocks_at_message_stop_are_closed_and_stop_reasons_map() {
        let events = decode(&[
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"ls","input":{"path":"."}}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"something_new"}}"#,
            STOP,
        ])
        .unwrap();
        assert_eq!(show(&events), show(&[started(), tool_ev("toolu_1", "ls", r#"{"path":"."}"#), stop(StopReason::ToolUse)]));
        for (reason, expected) in [
            ("end_turn", StopReason::EndTurn),
            ("stop_sequence", StopReason::EndTurn),
            ("max_tokens", StopReason::MaxTokens),
            ("refusal", StopReason::Refusal),
            ("tool_use", StopReason::ToolUse),
            ("pause_turn", StopReason::EndTurn),
        ] {
            let delta = format!(r#"{{"type":"message_delta","delta":{{"stop_reason":"{reason}"}}}}"#);
            let events = decode(&[&delta, STOP]).unwrap();
            assert_eq!(show(&events), show(&[started(), stop(expected)]), "{reason}");
        }
    }

    #[test]
    fn malformed_events_are_errors_and_unknown_ones_are_ignored() {
        assert!(matches!(decode(&["{not json"]), Err(Error::Upstream(u)) if u.status == decoder::MALFORMED_STATUS));
        assert!(matches!(decode(&["[1]"]), Err(Error::Upstream(_))));
        assert!(matches!(
            decode(&[r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}}"#]),
            Err(Error::Upstream(u)) if u.message.contains("index")
        ));
        let events = decode(&[
            r#"{"type":"something_new","x":1}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srv","name":"web_search"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"}}"#,
            STOP,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"after the end"}}"#,
        ])
        .unwrap();
        assert_eq!(show(&events), show(&[started(), stop(StopReason::EndTurn)]));
    }

    #[test]
    fn oversized_tool_input_is_refused() {
        let big = "x".repeat(MAX_TOOL_ARGUMENT_BYTES / 2 + 1);
        let delta = format!(r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"input_json_delta","partial_json":"{big}"}}}}"#);
        let start = r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"n","input":{}}}"#;
        // Event by event: each delta line alone is past the SSE parser's line bound.
        let result = fixtures::decode_all::<MessagesState>(&[start, &delta, &delta]);
        assert!(matches!(&result, Err(Error::Upstream(u)) if u.message.contains("exceeded")), "{result:?}");
    }

    #[test]
    fn stream_is_independent_of_chunking() {
        let mut payloads = text_transcript();
        payloads.insert(5, r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"ls","input":{}}}"#);
        payloads.insert(6, r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"p\":\"é\"}"}}"#);
        payloads.insert(7, r#"{"type":"content_block_stop","index":1}"#);
        let body = sse(&payloads);
        let bytes = body.as_bytes();
        let whole = stream_chunks(&[bytes]).unwrap();
        assert!(whole.iter().any(|e| matches!(e, CompletionEvent::ToolUse(t) if t.input == r#"{"p":"é"}"#)));
        for at in 0..=bytes.len() {
            let (a, b) = bytes.split_at(at);
            assert_eq!(show(&stream_chunks(&[a, b]).unwrap()), show(&whole), "split at {at}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(show(&stream_chunks(&singles).unwrap()), show(&whole));
    }
}
