//! `POST /chat/completions`: scripted answers and the default simulated stream.
//!
//! Design: after authentication a queued `ChatScript` wins (tests use it to play exact
//! transcripts, errors and broken streams); otherwise the request is validated like the real
//! service (unknown or responses-only model: 400 `model_not_supported`) and answered with the
//! quirks real clients trip over: a first chunk with empty `choices` and only
//! `prompt_filter_results`, a role-only delta, content split over several chunks, parallel
//! tool calls whose argument deltas interleave, a finish chunk, a usage-only chunk with empty
//! `choices`, then `[DONE]`. Reasoning deltas (`reasoning_text`, `reasoning_opaque`) come first
//! when the request asks for thinking and the model supports it.
//!
//! Vendors differ where real captures (`tests/captures/chat/`) show they do: Claude models
//! stream parallel tool calls one after the other, every one at `tool_calls[].index` 0 and
//! told apart only by a new `id`; Gemini models put an all-zero `usage` on every chunk and the
//! real one on the finish chunk, with `reasoning_tokens` at the top level of `usage` and not
//! counted in `completion_tokens`.

use serde_json::{json, Value};

use crate::answer::{self, Answer, Ask};
use crate::catalog::{self, CHAT_ENDPOINT};
use crate::http::{Body, Response, Streamed};
use crate::replay::Replay;
use crate::reply;
use crate::server::Shared;
use crate::session;
use crate::Recorded;

/// The last event of an OpenAI-style stream.
const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";
/// Quota headers the real service attaches to completions.
const QUOTA_HEADERS: [(&str, &str); 2] = [
    (
        "x-quota-snapshot-premium_interactions",
        "ent=300&rem=87.5&ov=0&ovPerm=false&rst=2026-12-01T00:00:00Z",
    ),
    (
        "x-quota-snapshot-chat",
        "ent=-1&rem=100.0&ov=0&ovPerm=false&rst=2026-12-01T00:00:00Z",
    ),
];
/// `system_fingerprint` of simulated chunks.
const FINGERPRINT: &str = "fp_copilot_sim";

/// A scripted answer to one `/chat/completions` request, played byte for byte.
#[derive(Clone, Debug)]
pub struct ChatScript {
    /// HTTP status.
    pub status: u16,
    /// Response headers (request-id headers are added when absent).
    pub headers: Vec<(String, String)>,
    /// The exact body bytes.
    pub body: Vec<u8>,
    /// Write the body in pieces of this many bytes, flushing each (`0`: one piece).
    pub chunk_size: usize,
    /// Stop sending after this many body bytes and hold the connection open until the
    /// simulator is dropped.
    pub stall_after: Option<usize>,
    /// Close the connection after this many body bytes (the body is left unterminated).
    pub cut_after: Option<usize>,
}

impl ChatScript {
    /// A 200 SSE stream of `data: {json}\n\n` events, plus `data: [DONE]\n\n` if `done`.
    pub fn sse(events: &[Value], done: bool, chunk_size: usize) -> ChatScript {
        let mut body: Vec<u8> = events.iter().flat_map(sse_event).collect();
        if done {
            body.extend_from_slice(DONE_EVENT);
        }
        ChatScript::status(200, body)
            .with_header("content-type", reply::SSE)
            .chunked(chunk_size)
    }

    /// A `status` answer whose body is exactly `body`, in one piece (the content type is
    /// inferred from the body unless a header sets it).
    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> ChatScript {
        ChatScript {
            status,
            headers: Vec::new(),
            body: body.into(),
            chunk_size: 0,
            stall_after: None,
            cut_after: None,
        }
    }

    /// This script with one more response header.
    pub fn with_header(mut self, name: &str, value: &str) -> ChatScript {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// This script with these response headers added.
    pub fn with_headers(mut self, headers: &[(&str, &str)]) -> ChatScript {
        self.headers
            .extend(headers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        self
    }

    /// This script written in pieces of `chunk_size` bytes, each flushed.
    pub fn chunked(mut self, chunk_size: usize) -> ChatScript {
        self.chunk_size = chunk_size;
        self
    }

    /// This script stalling after `bytes` body bytes (held open until the simulator drops).
    pub fn stalled_after(mut self, bytes: usize) -> ChatScript {
        self.stall_after = Some(bytes);
        self
    }

    /// This script cut off (connection closed) after `bytes` body bytes.
    pub fn cut_off_after(mut self, bytes: usize) -> ChatScript {
        self.cut_after = Some(bytes);
        self
    }

    /// The response that plays this script (a missing `content-type` is inferred).
    pub(crate) fn into_response(self) -> Response {
        let replay = Replay {
            status: self.status,
            headers: self.headers,
            body: self.body,
            chunk_size: self.chunk_size,
        };
        replay.into_response_cut(self.stall_after, self.cut_after)
    }
}

/// One SSE event carrying `value` as JSON.
fn sse_event(value: &Value) -> Vec<u8> {
    format!("data: {value}\n\n").into_bytes()
}

/// Adds the quota headers of completions.
pub(crate) fn with_quota_headers(mut response: Response) -> Response {
    for (name, value) in QUOTA_HEADERS {
        response = response.with_default_header(name, value);
    }
    response
}

/// `POST /chat/completions`.
pub(crate) fn handle(shared: &Shared, rec: &Recorded) -> Response {
    if rec.method != "POST" {
        return reply::not_found();
    }
    let caller = match session::authorize(shared, rec) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    if let Some(script) = shared.pop_script() {
        return script.into_response();
    }
    let Some(body) = rec.json().filter(Value::is_object) else {
        return reply::invalid_body("the request body is not a JSON object");
    };
    let model = match catalog::requested(shared, caller, &body, CHAT_ENDPOINT) {
        Ok(model) => model,
        Err(response) => return response,
    };
    let Some(messages) = body["messages"].as_array().filter(|m| !m.is_empty()) else {
        return reply::invalid_body("messages must be a non-empty array");
    };
    let answer = answer::compose(&ask_of(&body, messages, &model));
    let frame = Frame {
        id: format!("chatcmpl-{}", shared.ids.suffix()),
        created: shared.now(),
        model: model["version"].as_str().unwrap_or("unknown").to_string(),
        call_prefix: format!("call_{}", shared.ids.suffix()),
        opaque: format!("sim-opaque-{}", shared.ids.suffix()),
        flavor: Flavor::of(model["id"].as_str().unwrap_or_default()),
    };
    let response = if body["stream"].as_bool().unwrap_or(false) {
        let mut pieces: Vec<Vec<u8>> = stream_events(&frame, &answer)
            .iter()
            .map(sse_event)
            .collect();
        pieces.push(DONE_EVENT.to_vec());
        Response {
            status: 200,
            headers: vec![
                ("content-type".into(), reply::SSE.into()),
                ("cache-control".into(), "no-cache".into()),
            ],
            body: Body::Streamed(Streamed::whole(pieces)),
        }
    } else {
        reply::json(200, &completion(&frame, &answer))
    };
    with_quota_headers(response)
}

/// The decision inputs of a chat request.
fn ask_of(body: &Value, messages: &[Value], model: &Value) -> Ask {
    let last_user_text = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| answer::content_text(&m["content"]));
    let place = last_user_text.as_deref().and_then(answer::named_place);
    let prompt_chars = messages
        .iter()
        .filter_map(|m| answer::content_text(&m["content"]))
        .map(|t| t.len())
        .sum();
    let wants_reasoning =
        body["thinking_budget"].is_number() || body["reasoning_effort"].is_string();
    let supports = &model["capabilities"]["supports"];
    let can_reason =
        supports.get("max_thinking_budget").is_some() || supports.get("reasoning_effort").is_some();
    Ask {
        model: model["id"].as_str().unwrap_or("unknown").to_string(),
        last_user_text,
        place,
        user_turn: messages.last().is_some_and(|m| m["role"] == "user"),
        tool: first_tool(body),
        reasoning: wants_reasoning && can_reason,
        prompt_chars,
    }
}

/// Name and parameters of the first offered tool, unless `tool_choice` is `"none"`.
fn first_tool(body: &Value) -> Option<(String, Value)> {
    if body["tool_choice"] == "none" {
        return None;
    }
    let tool = body["tools"].as_array()?.first()?;
    // The nested OpenAI shape, or the flat one some clients send.
    let function = if tool["function"].is_object() {
        &tool["function"]
    } else {
        tool
    };
    let name = function["name"].as_str()?.to_string();
    Some((name, function["parameters"].clone()))
}

/// How a vendor shapes its stream (as the captures show).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    /// OpenAI / Azure: interleaved parallel calls by index, a trailing usage-only chunk.
    OpenAi,
    /// Anthropic: parallel calls one after the other, all at index 0, each with a new id.
    Claude,
    /// Google: zero usage on every chunk, the real one (with top-level `reasoning_tokens`)
    /// on the finish chunk.
    Gemini,
}

impl Flavor {
    fn of(model_id: &str) -> Flavor {
        if model_id.starts_with("claude") {
            Flavor::Claude
        } else if model_id.starts_with("gemini") {
            Flavor::Gemini
        } else {
            Flavor::OpenAi
        }
    }
}

/// Identity shared by the chunks of one completion.
struct Frame {
    id: String,
    created: u64,
    model: String,
    call_prefix: String,
    opaque: String,
    flavor: Flavor,
}

impl Frame {
    fn call_id(&self, index: usize) -> String {
        format!("{}_{index}", self.call_prefix)
    }

    /// A chunk with one choice carrying `delta` (and a finish reason).
    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        let mut chunk = json!({
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            "created": self.created,
            "id": self.id,
            "model": self.model,
            "object": "chat.completion.chunk",
            "system_fingerprint": FINGERPRINT,
        });
        if self.flavor == Flavor::Gemini {
            chunk["usage"] = json!({
                "completion_tokens": 0, "prompt_tokens": 0,
                "prompt_tokens_details": {"cached_tokens": 0},
                "total_tokens": 0, "reasoning_tokens": 0,
            });
        }
        chunk
    }
}

/// Azure content-filter verdicts, all "safe".
fn filter_results() -> Value {
    let safe = json!({"filtered": false, "severity": "safe"});
    json!({"hate": safe, "self_harm": safe, "sexual": safe, "violence": safe})
}

fn usage(answer: &Answer) -> Value {
    json!({
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": answer.reasoning_tokens},
    })
}

/// Gemini's usage: `completion_tokens` counts the visible output only, `reasoning_tokens`
/// sits beside it at the top level.
fn gemini_usage(answer: &Answer) -> Value {
    let visible = answer.completion_tokens - answer.reasoning_tokens;
    json!({
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": visible,
        "reasoning_tokens": answer.reasoning_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
    })
}

fn finish_reason(answer: &Answer) -> &'static str {
    if answer.tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    }
}

/// The events of a streamed completion, without the final `[DONE]`.
fn stream_events(frame: &Frame, answer: &Answer) -> Vec<Value> {
    let mut events = vec![json!({
        "choices": [],
        "created": 0,
        "id": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": filter_results()}],
    })];
    events.push(frame.chunk(json!({"content": "", "role": "assistant"}), None));
    events.extend(
        answer
            .reasoning
            .iter()
            .map(|r| frame.chunk(json!({"content": null, "reasoning_text": r}), None)),
    );
    if !answer.reasoning.is_empty() {
        events.push(frame.chunk(
            json!({"content": null, "reasoning_opaque": frame.opaque}),
            None,
        ));
    }
    events.extend(
        answer
            .text
            .iter()
            .map(|t| frame.chunk(json!({"content": t}), None)),
    );
    match frame.flavor {
        Flavor::Claude => events.extend(sequential_tool_call_events(frame, answer)),
        _ => events.extend(tool_call_events(frame, answer)),
    }
    let mut finish = frame.chunk(json!({"content": null}), Some(finish_reason(answer)));
    if frame.flavor == Flavor::Gemini {
        finish["usage"] = gemini_usage(answer);
        events.push(finish);
        return events;
    }
    events.push(finish);
    events.push(json!({
        "choices": [],
        "created": frame.created,
        "id": frame.id,
        "model": frame.model,
        "usage": usage(answer),
    }));
    events
}

/// Claude's tool calls: one after the other, each opened by a chunk with its new `id` and
/// name (no `arguments`), then an empty `arguments`, then the pieces, every one at index 0.
fn sequential_tool_call_events(frame: &Frame, answer: &Answer) -> Vec<Value> {
    let delta = |calls: Value| json!({"content": null, "tool_calls": calls});
    let mut events = Vec::new();
    for (i, call) in answer.tool_calls.iter().enumerate() {
        events.push(frame.chunk(
            delta(json!([{"function": {"name": call.name}, "id": frame.call_id(i),
                           "index": 0, "type": "function"}])),
            None,
        ));
        events.push(frame.chunk(delta(json!([{"function": {"arguments": ""}, "index": 0}])), None));
        for piece in answer::argument_pieces(&call.arguments) {
            events.push(frame.chunk(
                delta(json!([{"function": {"arguments": piece}, "index": 0}])),
                None,
            ));
        }
    }
    events
}

/// Tool-call deltas: each call's head (id, name), then argument pieces interleaved by index.
fn tool_call_events(frame: &Frame, answer: &Answer) -> Vec<Value> {
    let delta = |calls: Value| json!({"content": null, "tool_calls": calls});
    let mut events: Vec<Value> = answer
        .tool_calls
        .iter()
        .enumerate()
        .map(|(i, call)| {
            frame.chunk(
                delta(json!([{
                    "index": i, "id": frame.call_id(i), "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }])),
                None,
            )
        })
        .collect();
    let split: Vec<Vec<String>> = answer
        .tool_calls
        .iter()
        .map(|c| answer::argument_pieces(&c.arguments))
        .collect();
    let rounds = split.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..rounds {
        for (i, pieces) in split.iter().enumerate() {
            if let Some(piece) = pieces.get(round) {
                let call = json!([{"index": i, "function": {"arguments": piece}}]);
                events.push(frame.chunk(delta(call), None));
            }
        }
    }
    events
}

/// A non-streamed `chat.completion`.
fn completion(frame: &Frame, answer: &Answer) -> Value {
    let mut message = json!({"role": "assistant", "content": null});
    if !answer.text.is_empty() {
        message["content"] = json!(answer.full_text());
    }
    if !answer.reasoning.is_empty() {
        message["reasoning_text"] = json!(answer.full_reasoning());
        message["reasoning_opaque"] = json!(frame.opaque);
    }
    if !answer.tool_calls.is_empty() {
        let calls: Vec<Value> = answer
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                json!({"id": frame.call_id(i), "type": "function",
                       "function": {"name": c.name, "arguments": c.arguments}})
            })
            .collect();
        message["tool_calls"] = json!(calls);
    }
    json!({
        "choices": [{
            "index": 0,
            "finish_reason": finish_reason(answer),
            "message": message,
            "content_filter_results": filter_results(),
        }],
        "created": frame.created,
        "id": frame.id,
        "model": frame.model,
        "object": "chat.completion",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": filter_results()}],
        "system_fingerprint": FINGERPRINT,
        "usage": usage(answer),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        flavored(Flavor::OpenAi)
    }

    fn flavored(flavor: Flavor) -> Frame {
        Frame {
            id: "chatcmpl-x".into(),
            created: 7,
            model: "gpt-4.1-2025-04-14".into(),
            call_prefix: "call_x".into(),
            opaque: "op".into(),
            flavor,
        }
    }

    fn tool_answer() -> Answer {
        answer::compose(&tool_answer_ask())
    }

    fn tool_answer_ask() -> Ask {
        Ask {
            model: "gpt-4.1".into(),
            last_user_text: Some("hi".into()),
            place: None,
            user_turn: true,
            tool: Some((
                "read_file".into(),
                json!({"properties": {"path": {"type": "string"}}}),
            )),
            reasoning: false,
            prompt_chars: 2,
        }
    }

    #[test]
    fn sse_script_body() {
        let s = ChatScript::sse(&[json!({"a": 1})], true, 4);
        assert_eq!(s.body, b"data: {\"a\":1}\n\ndata: [DONE]\n\n");
        let Body::Streamed(streamed) = s.into_response().body else {
            panic!("not streamed");
        };
        assert!(streamed.pieces.iter().all(|p| p.len() <= 4));
        assert_eq!(
            streamed.pieces.concat(),
            b"data: {\"a\":1}\n\ndata: [DONE]\n\n"
        );
    }

    #[test]
    fn tool_call_arguments_interleave_and_reassemble() {
        let events = stream_events(&frame(), &tool_answer());
        let mut order = Vec::new();
        let mut args = [String::new(), String::new()];
        for e in &events {
            for call in e["choices"][0]["delta"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let i = call["index"].as_u64().unwrap() as usize;
                if let Some(piece) = call["function"]["arguments"].as_str() {
                    args[i].push_str(piece);
                    if !piece.is_empty() {
                        order.push(i);
                    }
                }
            }
        }
        assert_eq!(&order[..4], &[0, 1, 0, 1]);
        let first: Value = serde_json::from_str(&args[0]).unwrap();
        assert_eq!(first, json!({"path": "path 1"}));
        let finish = &events[events.len() - 2];
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn claude_calls_share_index_zero_and_differ_by_id() {
        let events = stream_events(&flavored(Flavor::Claude), &tool_answer());
        let calls: Vec<&Value> = events
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["tool_calls"].get(0))
            .collect();
        assert!(calls.iter().all(|c| c["index"] == 0));
        let ids: Vec<&str> = calls.iter().filter_map(|c| c["id"].as_str()).collect();
        assert_eq!(ids, ["call_x_0", "call_x_1"]);
        let opening = calls.iter().find(|c| c["id"].is_string()).unwrap();
        assert!(opening["function"].get("arguments").is_none());
    }

    #[test]
    fn gemini_puts_zero_usage_on_every_chunk_and_reasoning_beside_completion() {
        let mut ask = tool_answer_ask();
        ask.tool = None;
        ask.reasoning = true;
        let answer = answer::compose(&ask);
        let events = stream_events(&flavored(Flavor::Gemini), &answer);
        let (last, interim) = events[1..].split_last().unwrap();
        assert!(interim.iter().all(|e| e["usage"]["total_tokens"] == 0));
        let usage = &last["usage"];
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
        assert_eq!(usage["reasoning_tokens"], answer.reasoning_tokens);
        assert_eq!(
            usage["completion_tokens"].as_u64().unwrap() + answer.reasoning_tokens,
            answer.completion_tokens
        );
        assert!(usage.get("completion_tokens_details").is_none());
    }

    #[test]
    fn non_streamed_completion_carries_tool_calls() {
        let v = completion(&frame(), &tool_answer());
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            v["choices"][0]["message"]["tool_calls"][1]["id"],
            "call_x_1"
        );
        assert!(v["usage"]["total_tokens"].as_u64().unwrap() > 0);
    }

    #[test]
    fn first_tool_reads_nested_and_flat_shapes() {
        let nested =
            json!({"tools": [{"type": "function", "function": {"name": "a", "parameters": {}}}]});
        assert_eq!(first_tool(&nested).map(|t| t.0), Some("a".into()));
        let flat = json!({"tools": [{"type": "function", "name": "b"}]});
        assert_eq!(first_tool(&flat).map(|t| t.0), Some("b".into()));
        let off = json!({"tools": [{"name": "b"}], "tool_choice": "none"});
        assert!(first_tool(&off).is_none());
        assert!(first_tool(&json!({"tools": []})).is_none());
    }
}
