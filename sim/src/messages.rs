//! `POST /v1/messages`: the Anthropic Messages API Copilot serves for Claude models.
//!
//! Design: the same decision as chat (`answer`), framed as Anthropic stream events with an
//! `event:` line before each `data:` line, in the shape the 2026-08 Copilot capture shows:
//! `message_start` (usage with the input side: input, cache reads, cache writes, and
//! `output_tokens` 1), a `ping`, then the content blocks tied by `index` (a `thinking` block
//! streamed as `thinking_delta`s and closed by `signature_delta`s when the request enables
//! thinking and the model thinks; then either a text block of `text_delta`s or parallel
//! `tool_use` blocks whose input streams as `input_json_delta`s, the first one empty), then
//! `message_delta` (stop reason, the whole usage again, Copilot's `copilot_usage` and
//! `context_management`) and `message_stop`. A queued `ChatScript` wins over all of it, as on
//! `/chat/completions`.
//!
//! Like the real service it refuses, with Anthropic's error envelope: a body without a
//! positive `max_tokens`, an empty `messages`, a user turn with empty content, a `tool_use`
//! not answered by a `tool_result` in the next turn, and a `thinking` block whose `signature`
//! this simulator did not issue for that text (signatures are a MAC of the thinking text, so
//! a client must send back exactly what it received). Prompt caching: the tokens up to the
//! last `cache_control` breakpoint are reported as cache reads.

use serde_json::{json, Value};

use crate::answer::{self, Answer, Ask};
use crate::catalog::{self, MESSAGES_ENDPOINT};
use crate::chat::with_quota_headers;
use crate::http::{Body, Response, Streamed};
use crate::reply;
use crate::server::Shared;
use crate::session;
use crate::Recorded;

/// Prefix of the thinking signatures this simulator issues.
const SIGNATURE_PREFIX: &str = "sim-sig-";
/// Characters per estimated token (as in `answer`).
const CHARS_PER_TOKEN: usize = 4;

/// An Anthropic-shaped error answer: `{"type":"error","error":{"type","message"},"request_id"}`.
pub(crate) fn anthropic_error(shared: &Shared, status: u16, kind: &str, message: &str) -> Response {
    reply::json(
        status,
        &json!({
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": format!("req_{}", shared.ids.suffix()),
        }),
    )
}

fn invalid(shared: &Shared, message: &str) -> Response {
    anthropic_error(shared, 400, "invalid_request_error", message)
}

/// `POST /v1/messages`.
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
        return invalid(shared, "the request body is not a JSON object");
    };
    let model = match catalog::requested(shared, caller, &body, MESSAGES_ENDPOINT) {
        Ok(model) => model,
        Err(response) => return response,
    };
    if body["max_tokens"].as_u64().is_none_or(|n| n == 0) {
        return invalid(shared, "max_tokens: Field required");
    }
    let Some(messages) = body["messages"].as_array().filter(|m| !m.is_empty()) else {
        return invalid(shared, "messages: at least one message is required");
    };
    if let Err(message) = check_messages(shared, messages) {
        return invalid(shared, &message);
    }
    let answer = answer::compose(&ask_of(&body, messages, &model));
    let run = Run {
        id: format!("msg_{}", shared.ids.suffix()),
        model: model["id"].as_str().unwrap_or("unknown").to_string(),
        call_ids: (0..answer.tool_calls.len()).map(|_| format!("toolu_{}", shared.ids.suffix())).collect(),
        signature: signature(shared, &answer.full_reasoning()),
        cache_read: estimate_tokens(cached_prefix_chars(&body)),
    };
    let response = if body["stream"].as_bool().unwrap_or(false) {
        let pieces = events(&run, &answer)
            .iter()
            .map(|e| {
                let kind = e["type"].as_str().unwrap_or("message");
                format!("event: {kind}\ndata: {e}\n\n").into_bytes()
            })
            .collect();
        Response {
            status: 200,
            headers: vec![
                ("content-type".into(), reply::SSE.into()),
                ("cache-control".into(), "no-cache".into()),
            ],
            body: Body::Streamed(Streamed::whole(pieces)),
        }
    } else {
        reply::json(200, &run.message(&answer))
    };
    with_quota_headers(response)
}

/// The signature this simulator gives (and expects back for) a thinking text.
fn signature(shared: &Shared, thinking: &str) -> String {
    format!("{SIGNATURE_PREFIX}{}", shared.ids.mac(thinking))
}

/// What the real API refuses in `messages`, with its error message.
fn check_messages(shared: &Shared, messages: &[Value]) -> Result<(), String> {
    for (n, message) in messages.iter().enumerate() {
        let role = message["role"].as_str().unwrap_or_default();
        let content = &message["content"];
        let empty = match content {
            Value::String(s) => s.is_empty(),
            Value::Array(blocks) => blocks.is_empty(),
            _ => true,
        };
        if empty {
            return Err(format!("messages.{n}: {role} messages must have non-empty content"));
        }
        let blocks = content.as_array().map(Vec::as_slice).unwrap_or_default();
        for (b, block) in blocks.iter().enumerate() {
            if block["type"] == "thinking" {
                let text = block["thinking"].as_str().unwrap_or_default();
                if block["signature"].as_str() != Some(signature(shared, text).as_str()) {
                    return Err(format!("messages.{n}.content.{b}: Invalid `signature` in `thinking` block"));
                }
            }
        }
        let uses: Vec<&str> = blocks
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .filter_map(|b| b["id"].as_str())
            .collect();
        let next = messages.get(n + 1).and_then(|m| m["content"].as_array());
        let answered = |id: &str| {
            next.is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result" && b["tool_use_id"] == id))
        };
        let orphans: Vec<&str> = uses.into_iter().filter(|id| !answered(id)).collect();
        if !orphans.is_empty() {
            return Err(format!(
                "messages.{n}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. \
                 Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                orphans.join(", ")
            ));
        }
    }
    Ok(())
}

/// Text of a content value: a string, or the `text` of its text blocks.
fn text_of(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(blocks) => {
            let texts: Vec<&str> = blocks
                .iter()
                .filter(|b| b["type"] == "text")
                .filter_map(|b| b["text"].as_str())
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

/// Characters of prompt text in a content value (text and tool results).
fn chars_of(content: &Value) -> usize {
    match content {
        Value::String(s) => s.len(),
        Value::Array(blocks) => blocks.iter().map(block_chars).sum(),
        _ => 0,
    }
}

fn block_chars(block: &Value) -> usize {
    block["text"].as_str().map_or(0, str::len) + chars_of(&block["content"])
}

/// Characters of the prompt up to and including the last `cache_control` breakpoint (system
/// blocks first, then the messages); 0 without one.
fn cached_prefix_chars(body: &Value) -> usize {
    let system = body["system"].as_array().into_iter().flatten();
    let messages = body["messages"].as_array().into_iter().flatten();
    let blocks = system.chain(messages.flat_map(|m| m["content"].as_array().into_iter().flatten()));
    let mut total = 0;
    let mut cached = 0;
    for block in blocks {
        total += block_chars(block);
        if block.get("cache_control").is_some() {
            cached = total;
        }
    }
    cached
}

fn estimate_tokens(chars: usize) -> u64 {
    chars.div_ceil(CHARS_PER_TOKEN) as u64
}

fn ask_of(body: &Value, messages: &[Value], model: &Value) -> Ask {
    let is_user = |m: &Value| m["role"] == "user";
    let last_user_text = messages.iter().rev().filter(|m| is_user(m)).find_map(|m| text_of(&m["content"]));
    let system_chars = match &body["system"] {
        Value::String(s) => s.len(),
        other => chars_of(other),
    };
    let prompt_chars = system_chars + messages.iter().map(|m| chars_of(&m["content"])).sum::<usize>();
    // A user turn that only returns tool results continues the agent loop.
    let returns_results = |m: &Value| {
        m["content"]
            .as_array()
            .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"))
    };
    let tool = if body["tool_choice"]["type"] == "none" {
        None
    } else {
        body["tools"]
            .as_array()
            .and_then(|t| t.first())
            .and_then(|t| Some((t["name"].as_str()?.to_string(), t["input_schema"].clone())))
    };
    let supports = &model["capabilities"]["supports"];
    let thinks = supports.get("max_thinking_budget").is_some() || supports["thinking"] == true;
    let place = last_user_text.as_deref().and_then(answer::named_place);
    Ask {
        model: model["id"].as_str().unwrap_or("unknown").to_string(),
        last_user_text,
        place,
        user_turn: messages.last().is_some_and(|m| is_user(m) && !returns_results(m)),
        tool,
        reasoning: body["thinking"]["type"] == "enabled" && thinks,
        prompt_chars,
    }
}

/// Identity of one simulated message.
struct Run {
    id: String,
    model: String,
    call_ids: Vec<String>,
    /// The signature of the answer's thinking text.
    signature: String,
    /// Prompt tokens read from the cache (the prefix up to the last breakpoint).
    cache_read: u64,
}

impl Run {
    fn stop_reason(answer: &Answer) -> &'static str {
        if answer.tool_calls.is_empty() {
            "end_turn"
        } else {
            "tool_use"
        }
    }

    /// Usage as the Messages API counts it: input excludes the cache reads.
    fn usage(&self, answer: &Answer, output_tokens: u64) -> Value {
        json!({
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": self.cache_read,
            "input_tokens": answer.prompt_tokens.saturating_sub(self.cache_read),
            "output_tokens": output_tokens,
        })
    }

    /// The whole message (the non-streaming answer).
    fn message(&self, answer: &Answer) -> Value {
        let mut content = Vec::new();
        if !answer.reasoning.is_empty() {
            content.push(json!({"type": "thinking", "thinking": answer.full_reasoning(), "signature": self.signature}));
        }
        if answer.tool_calls.is_empty() {
            content.push(json!({"type": "text", "text": answer.full_text()}));
        }
        for (i, call) in answer.tool_calls.iter().enumerate() {
            let input: Value = serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
            content.push(json!({"type": "tool_use", "id": self.call_ids[i], "name": call.name, "input": input}));
        }
        json!({
            "id": self.id, "type": "message", "role": "assistant", "model": self.model,
            "content": content, "stop_reason": Run::stop_reason(answer), "stop_sequence": null,
            "usage": self.usage(answer, answer.completion_tokens),
        })
    }
}

/// The streamed events, each with its `type`.
fn events(run: &Run, answer: &Answer) -> Vec<Value> {
    let mut out = vec![
        json!({"type": "message_start", "message": {
            "content": [], "id": run.id, "model": run.model, "role": "assistant",
            "stop_details": null, "stop_reason": null, "stop_sequence": null, "type": "message",
            "usage": {
                "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": run.cache_read,
                "input_tokens": answer.prompt_tokens.saturating_sub(run.cache_read),
                "output_tokens": 1,
            },
        }}),
        json!({"type": "ping"}),
    ];
    let mut index = 0;
    if !answer.reasoning.is_empty() {
        out.push(json!({"type": "content_block_start", "index": index,
                        "content_block": {"type": "thinking", "thinking": "", "signature": ""}}));
        for piece in &answer.reasoning {
            out.push(json!({"type": "content_block_delta", "index": index,
                            "delta": {"type": "thinking_delta", "thinking": piece}}));
        }
        // The signature comes in two pieces, as long signatures do.
        let (a, b) = run.signature.split_at(run.signature.len() / 2);
        for piece in [a, b] {
            out.push(json!({"type": "content_block_delta", "index": index,
                            "delta": {"type": "signature_delta", "signature": piece}}));
        }
        out.push(json!({"type": "content_block_stop", "index": index}));
        index += 1;
    }
    if answer.tool_calls.is_empty() {
        out.push(json!({"type": "content_block_start", "index": index,
                        "content_block": {"type": "text", "text": ""}}));
        for piece in &answer.text {
            out.push(json!({"type": "content_block_delta", "index": index,
                            "delta": {"type": "text_delta", "text": piece}}));
        }
        out.push(json!({"type": "content_block_stop", "index": index}));
    }
    for (i, call) in answer.tool_calls.iter().enumerate() {
        let at = index + i;
        out.push(json!({"type": "content_block_start", "index": at,
                        "content_block": {"type": "tool_use", "id": run.call_ids[i], "name": call.name, "input": {}}}));
        let mut pieces = vec![String::new()];
        pieces.extend(answer::argument_pieces(&call.arguments));
        for piece in pieces {
            out.push(json!({"type": "content_block_delta", "index": at,
                            "delta": {"type": "input_json_delta", "partial_json": piece}}));
        }
        out.push(json!({"type": "content_block_stop", "index": at}));
    }
    out.push(json!({
        "type": "message_delta",
        "context_management": {"applied_edits": []},
        "copilot_usage": {"token_details": [], "total_nano_aiu": 0},
        "delta": {"stop_details": null, "stop_reason": Run::stop_reason(answer), "stop_sequence": null},
        "usage": run.usage(answer, answer.completion_tokens),
    }));
    out.push(json!({"type": "message_stop"}));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(calls: usize) -> Run {
        Run {
            id: "msg_1".into(),
            model: "claude-sonnet-4".into(),
            call_ids: (0..calls).map(|i| format!("toolu_{i}")).collect(),
            signature: "sim-sig-abcd".into(),
            cache_read: 3,
        }
    }

    fn compose(tool: bool, reasoning: bool) -> Answer {
        answer::compose(&Ask {
            model: "claude-sonnet-4".into(),
            last_user_text: Some("hello there".into()),
            place: None,
            user_turn: true,
            tool: tool.then(|| ("search".to_string(), json!({"properties": {"q": {"type": "string"}}}))),
            reasoning,
            prompt_chars: 40,
        })
    }

    #[test]
    fn text_and_thinking_events_are_ordered_by_index() {
        let answer = compose(false, true);
        let events = events(&run(0), &answer);
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds[..2], ["message_start", "ping"]);
        assert_eq!(kinds[kinds.len() - 2..], ["message_delta", "message_stop"]);
        let of = |index: u64, delta: &str, field: &str| -> String {
            events
                .iter()
                .filter(|e| e["index"] == index && e["delta"]["type"] == delta)
                .map(|e| e["delta"][field].as_str().unwrap())
                .collect()
        };
        assert_eq!(of(0, "thinking_delta", "thinking"), answer.full_reasoning());
        assert_eq!(of(0, "signature_delta", "signature"), "sim-sig-abcd");
        assert_eq!(of(1, "text_delta", "text"), answer.full_text());
        let delta = &events[events.len() - 2];
        assert_eq!(delta["delta"]["stop_reason"], "end_turn");
        assert_eq!(delta["usage"]["cache_read_input_tokens"], 3);
        assert_eq!(delta["usage"]["input_tokens"], answer.prompt_tokens - 3);
    }

    #[test]
    fn tool_blocks_carry_their_input_in_pieces() {
        let answer = compose(true, false);
        let events = events(&run(2), &answer);
        let input = |index: u64| -> String {
            events
                .iter()
                .filter(|e| e["index"] == index && e["delta"]["type"] == "input_json_delta")
                .map(|e| e["delta"]["partial_json"].as_str().unwrap())
                .collect()
        };
        assert_eq!(serde_json::from_str::<Value>(&input(0)).unwrap(), json!({"q": "q 1"}));
        assert_eq!(serde_json::from_str::<Value>(&input(1)).unwrap(), json!({"q": "q 2"}));
        assert_eq!(events[events.len() - 2]["delta"]["stop_reason"], "tool_use");
        let message = run(2).message(&answer);
        assert_eq!(message["content"][1]["id"], "toolu_1");
    }

    #[test]
    fn the_cached_prefix_ends_at_the_last_breakpoint() {
        let body = json!({
            "system": [{"type": "text", "text": "abcd", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "12345678", "cache_control": {"type": "ephemeral"}}]},
                {"role": "user", "content": [{"type": "text", "text": "tail"}]},
            ],
        });
        assert_eq!(cached_prefix_chars(&body), 12);
        assert_eq!(cached_prefix_chars(&json!({"messages": []})), 0);
    }
}
