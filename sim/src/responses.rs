//! `POST /responses`: the OpenAI Responses API for responses-only models.
//!
//! Design: the same decision as chat (`answer`), framed as Responses events with `event:`
//! lines before `data:` lines and increasing `sequence_number`s: `response.created`,
//! `response.in_progress`, an optional reasoning item (delivered whole in
//! `output_item.done`, as Copilot does), then either a message item streamed through
//! `output_text.delta` events or function-call items streamed through
//! `function_call_arguments.delta`, and finally `response.completed` with usage. Models whose
//! `supported_endpoints` lack `/responses` get 400 `model_not_supported`.
//!
//! As the captures in `tests/captures/responses/` show, Copilot gives every event its own
//! opaque `item_id` (and every item and `response` object its own `id`): the deltas of one
//! message, its `output_item.done` and its copy in `response.completed` never share an id;
//! only `output_index` ties them. The simulator does the same ([`opaque_ids`]); `call_id`
//! stays stable.

use serde_json::{json, Value};

use crate::answer::{self, Answer, Ask};
use crate::catalog::{self, RESPONSES_ENDPOINT};
use crate::chat::with_quota_headers;
use crate::http::{Body, Response, Streamed};
use crate::reply;
use crate::server::Shared;
use crate::session;
use crate::Recorded;

/// `POST /responses`.
pub(crate) fn handle(shared: &Shared, rec: &Recorded) -> Response {
    if rec.method != "POST" {
        return reply::not_found();
    }
    let caller = match session::authorize(shared, rec) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let Some(body) = rec.json().filter(Value::is_object) else {
        return reply::invalid_body("the request body is not a JSON object");
    };
    let model = match catalog::requested(shared, caller, &body, RESPONSES_ENDPOINT) {
        Ok(model) => model,
        Err(response) => return response,
    };
    let items = input_items(&body["input"]);
    if items.is_empty() {
        return reply::invalid_body("input must be a non-empty string or array");
    }
    let answer = answer::compose(&ask_of(&body, &items, &model));
    let ids = || shared.ids.suffix();
    let run = Run {
        id: format!("resp_{}", ids()),
        created_at: shared.now(),
        model: model["id"].as_str().unwrap_or("unknown").to_string(),
        message_id: format!("msg_{}", ids()),
        reasoning_id: format!("rs_{}", ids()),
        call_ids: (0..answer.tool_calls.len()).map(|_| ids()).collect(),
    };
    let response = if body["stream"].as_bool().unwrap_or(false) {
        let mut events = events(&run, &answer);
        opaque_ids(&mut events, || shared.ids.opaque(OPAQUE_ID_LEN));
        let pieces = events
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
        reply::json(
            200,
            &run.response("completed", output(&run, &answer), Some(&answer)),
        )
    };
    with_quota_headers(response)
}

/// Length of the opaque ids (Copilot's are 408 to 416 base64 characters).
const OPAQUE_ID_LEN: usize = 408;

/// Gives every event's `item_id`, every item's `id` and every `response.id` a fresh opaque
/// value, as Copilot does.
fn opaque_ids(events: &mut [Value], mut fresh: impl FnMut() -> String) {
    for event in events {
        if event.get("item_id").is_some() {
            event["item_id"] = json!(fresh());
        }
        if event.get("item").is_some() {
            event["item"]["id"] = json!(fresh());
        }
        if let Some(response) = event.get_mut("response") {
            response["id"] = json!(fresh());
            if let Some(Value::Array(items)) = response.get_mut("output") {
                for item in items {
                    item["id"] = json!(fresh());
                }
            }
        }
    }
}

/// `input` as a list of items (a bare string is one user message).
fn input_items(input: &Value) -> Vec<Value> {
    match input {
        Value::String(text) => vec![json!({"type": "message", "role": "user", "content": text})],
        Value::Array(items) => items.clone(),
        _ => Vec::new(),
    }
}

fn ask_of(body: &Value, items: &[Value], model: &Value) -> Ask {
    let is_user = |item: &Value| item["role"] == "user";
    let last_user_text = items
        .iter()
        .rev()
        .find(|i| is_user(i))
        .and_then(|i| answer::content_text(&i["content"]));
    let place = last_user_text.as_deref().and_then(answer::named_place);
    let prompt_chars = items
        .iter()
        .filter_map(|i| {
            answer::content_text(&i["content"]).or_else(|| i["output"].as_str().map(str::to_string))
        })
        .map(|t| t.len())
        .sum::<usize>()
        + body["instructions"].as_str().map_or(0, str::len);
    let tool = if body["tool_choice"] == "none" {
        None
    } else {
        body["tools"]
            .as_array()
            .and_then(|t| t.first())
            .and_then(|t| Some((t["name"].as_str()?.to_string(), t["parameters"].clone())))
    };
    Ask {
        model: model["id"].as_str().unwrap_or("unknown").to_string(),
        last_user_text,
        place,
        user_turn: items.last().is_some_and(is_user),
        tool,
        reasoning: body["reasoning"]["effort"].is_string()
            && model["capabilities"]["supports"]
                .get("reasoning_effort")
                .is_some(),
        prompt_chars,
    }
}

/// Identity of one simulated response.
struct Run {
    id: String,
    created_at: u64,
    model: String,
    message_id: String,
    reasoning_id: String,
    call_ids: Vec<String>,
}

impl Run {
    /// The `response` object in a given state.
    fn response(&self, status: &str, output: Vec<Value>, answer: Option<&Answer>) -> Value {
        let usage = answer.map_or(Value::Null, |a| {
            json!({
                "input_tokens": a.prompt_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": a.completion_tokens,
                "output_tokens_details": {"reasoning_tokens": a.reasoning_tokens},
                "total_tokens": a.prompt_tokens + a.completion_tokens,
            })
        });
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "model": self.model,
            "output": output,
            "usage": usage,
        })
    }

    fn reasoning_item(&self, answer: &Answer) -> Value {
        json!({
            "id": self.reasoning_id,
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": answer.full_reasoning()}],
            "encrypted_content": format!("sim-encrypted-{}", self.reasoning_id),
        })
    }

    fn message_item(&self, text: &str, status: &str) -> Value {
        let content = if status == "completed" {
            json!([{"type": "output_text", "text": text, "annotations": []}])
        } else {
            json!([])
        };
        json!({"id": self.message_id, "type": "message", "status": status,
               "role": "assistant", "content": content})
    }

    fn call_item(&self, index: usize, call: &answer::ToolCall, done: bool) -> Value {
        let suffix = self.call_ids.get(index).map_or("", String::as_str);
        json!({
            "id": format!("fc_{suffix}"),
            "type": "function_call",
            "status": if done { "completed" } else { "in_progress" },
            "call_id": format!("call_{suffix}"),
            "name": call.name,
            "arguments": if done { call.arguments.as_str() } else { "" },
        })
    }
}

/// The complete output items of the answer.
fn output(run: &Run, answer: &Answer) -> Vec<Value> {
    let mut items = Vec::new();
    if !answer.reasoning.is_empty() {
        items.push(run.reasoning_item(answer));
    }
    if answer.tool_calls.is_empty() {
        items.push(run.message_item(&answer.full_text(), "completed"));
    }
    items.extend(
        answer
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, c)| run.call_item(i, c, true)),
    );
    items
}

/// Streamed events, each with its `type` and `sequence_number`.
fn events(run: &Run, answer: &Answer) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut push = |mut event: Value| {
        event["sequence_number"] = json!(out.len());
        out.push(event);
    };
    push(
        json!({"type": "response.created", "response": run.response("in_progress", vec![], None)}),
    );
    push(
        json!({"type": "response.in_progress", "response": run.response("in_progress", vec![], None)}),
    );
    let mut index = 0;
    if !answer.reasoning.is_empty() {
        let item = run.reasoning_item(answer);
        push(
            json!({"type": "response.output_item.added", "output_index": index,
                    "item": {"id": run.reasoning_id, "type": "reasoning", "summary": []}}),
        );
        push(json!({"type": "response.output_item.done", "output_index": index, "item": item}));
        index += 1;
    }
    if answer.tool_calls.is_empty() {
        let text = answer.full_text();
        let item_id = &run.message_id;
        push(
            json!({"type": "response.output_item.added", "output_index": index,
                    "item": run.message_item("", "in_progress")}),
        );
        push(
            json!({"type": "response.content_part.added", "item_id": item_id, "output_index": index,
                    "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
        );
        for piece in &answer.text {
            push(
                json!({"type": "response.output_text.delta", "item_id": item_id, "output_index": index,
                        "content_index": 0, "delta": piece}),
            );
        }
        push(
            json!({"type": "response.output_text.done", "item_id": item_id, "output_index": index,
                    "content_index": 0, "text": text}),
        );
        push(
            json!({"type": "response.content_part.done", "item_id": item_id, "output_index": index,
                    "content_index": 0, "part": {"type": "output_text", "text": text, "annotations": []}}),
        );
        push(
            json!({"type": "response.output_item.done", "output_index": index,
                    "item": run.message_item(&text, "completed")}),
        );
    }
    for (i, call) in answer.tool_calls.iter().enumerate() {
        let output_index = index + i;
        let added = run.call_item(i, call, false);
        let item_id = added["id"].clone();
        push(
            json!({"type": "response.output_item.added", "output_index": output_index, "item": added}),
        );
        for piece in answer::argument_pieces(&call.arguments) {
            push(
                json!({"type": "response.function_call_arguments.delta", "item_id": item_id,
                        "output_index": output_index, "delta": piece}),
            );
        }
        push(
            json!({"type": "response.function_call_arguments.done", "item_id": item_id,
                    "output_index": output_index, "arguments": call.arguments}),
        );
        push(
            json!({"type": "response.output_item.done", "output_index": output_index,
                    "item": run.call_item(i, call, true)}),
        );
    }
    push(json!({"type": "response.completed",
                "response": run.response("completed", output(run, answer), Some(answer))}));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(calls: usize) -> Run {
        Run {
            id: "resp_1".into(),
            created_at: 5,
            model: "gpt-5".into(),
            message_id: "msg_1".into(),
            reasoning_id: "rs_1".into(),
            call_ids: (0..calls).map(|i| format!("c{i}")).collect(),
        }
    }

    fn compose(tool: bool, reasoning: bool) -> Answer {
        answer::compose(&Ask {
            model: "gpt-5".into(),
            last_user_text: Some("hello there".into()),
            place: None,
            user_turn: true,
            tool: tool.then(|| {
                (
                    "search".to_string(),
                    json!({"properties": {"q": {"type": "string"}}}),
                )
            }),
            reasoning,
            prompt_chars: 11,
        })
    }

    #[test]
    fn text_events_are_ordered_and_reassemble() {
        let answer = compose(false, true);
        let events = events(&run(0), &answer);
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds.first(), Some(&"response.created"));
        assert_eq!(kinds.last(), Some(&"response.completed"));
        let text: String = events
            .iter()
            .filter(|e| e["type"] == "response.output_text.delta")
            .map(|e| e["delta"].as_str().unwrap())
            .collect();
        assert_eq!(text, answer.full_text());
        assert!(
            kinds
                .iter()
                .filter(|k| **k == "response.output_text.delta")
                .count()
                > 1
        );
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e["sequence_number"], i);
        }
        let done = events.last().unwrap();
        assert!(
            done["response"]["usage"]["output_tokens_details"]["reasoning_tokens"]
                .as_u64()
                .unwrap()
                > 0
        );
        assert_eq!(done["response"]["output"][0]["type"], "reasoning");
    }

    #[test]
    fn tool_events_carry_complete_arguments() {
        let answer = compose(true, false);
        let events = events(&run(answer.tool_calls.len()), &answer);
        let done: Vec<&Value> = events
            .iter()
            .filter(|e| e["type"] == "response.output_item.done")
            .collect();
        assert_eq!(done.len(), 2);
        assert_eq!(done[0]["item"]["type"], "function_call");
        let args: Value =
            serde_json::from_str(done[1]["item"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, json!({"q": "q 2"}));
    }

    #[test]
    fn every_event_gets_its_own_opaque_id_and_positions_tie_them() {
        let answer = compose(false, true);
        let mut events = events(&run(0), &answer);
        let mut n = 0;
        opaque_ids(&mut events, || {
            n += 1;
            format!("opaque{n}")
        });
        let ids: Vec<&str> = events
            .iter()
            .flat_map(|e| {
                let mut ids = vec![e["item_id"].as_str(), e["item"]["id"].as_str()];
                ids.push(e["response"]["id"].as_str());
                ids.extend(
                    e["response"]["output"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|i| i["id"].as_str()),
                );
                ids
            })
            .flatten()
            .collect();
        let distinct: std::collections::HashSet<&&str> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "{ids:?}");
        assert!(events
            .iter()
            .filter(|e| e["type"] == "response.output_text.delta")
            .all(|e| e["output_index"] == 1));
    }

    #[test]
    fn string_input_is_a_user_message() {
        let items = input_items(&json!("hi"));
        assert_eq!(items[0]["role"], "user");
        assert!(input_items(&json!(5)).is_empty());
    }
}
