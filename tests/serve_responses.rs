//! `serve`'s OpenAI Responses route (`POST /v1/responses`) from the outside, and the
//! chat-completions refusals: a real HTTP client against the endpoint, which drives the real
//! component against the simulator.

use std::io::{BufRead, BufReader};
use std::sync::Arc;

use copilot_chat_tests::*;
use copilot_host::serve::Server;
use copilot_sim::{ChatScript, Sim};
use serde_json::{json, Value};

/// A served extension with the pieces that must outlive the server.
struct Served {
    server: Server,
    sim: Sim,
    _ext: Arc<copilot_host::Extension>,
    _config_dir: TempDir,
}

fn serve() -> Served {
    let Harness { sim, ext, config_dir, .. } = Harness::new();
    let ext = Arc::new(ext);
    let server = Server::start(ext.clone(), PROVIDER, None).expect("start the server");
    Served { server, sim, _ext: ext, _config_dir: config_dir }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// A model answered through Copilot's chat-completions API.
const CHAT_MODEL: &str = "gpt-4.1";
/// A model answered through Copilot's Responses API, with reasoning.
const RESPONSES_MODEL: &str = "gpt-5";

fn post(url: &str, path: &str, key: Option<&str>, body: &Value) -> ureq::http::Response<ureq::Body> {
    let mut request = agent().post(format!("{url}{path}")).header("Content-Type", "application/json");
    if let Some(key) = key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    request.send(body.to_string()).expect("POST")
}

fn json_of(mut response: ureq::http::Response<ureq::Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("body");
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON body ({e}): {text}")))
}

/// A streamed answer's events; each `event:` name must match its data's `type`.
fn events_of(response: ureq::http::Response<ureq::Body>) -> Vec<Value> {
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok());
    assert_eq!(content_type, Some("text/event-stream"));
    let mut events = Vec::new();
    let mut name = None;
    for line in BufReader::new(response.into_body().into_reader()).lines().map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("event: ") {
            name = Some(n.to_string());
        } else if let Some(data) = line.strip_prefix("data: ") {
            let event: Value = serde_json::from_str(data).expect("each event is JSON");
            assert_eq!(name.take().as_deref(), event["type"].as_str(), "{event}");
            events.push(event);
        }
    }
    events
}

impl Served {
    fn responses(&self, body: &Value) -> (u16, Value) {
        json_of(post(&self.server.url(), "/responses", Some(self.server.key()), body))
    }

    fn responses_stream(&self, body: &Value) -> Vec<Value> {
        events_of(post(&self.server.url(), "/responses", Some(self.server.key()), body))
    }

    fn chat(&self, body: &Value) -> (u16, Value) {
        json_of(post(&self.server.url(), "/chat/completions", Some(self.server.key()), body))
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["type"].as_str()).collect()
}

fn output_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["type"] == "message")
        .flat_map(|item| item["content"].as_array().into_iter().flatten())
        .filter_map(|part| part["text"].as_str())
        .collect()
}

fn read_tool() -> Value {
    json!([{"type": "function", "name": "read_file", "description": "Read a file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}])
}

#[test]
fn a_whole_response_object() {
    let s = serve();
    let (status, body) = s.responses(&json!({
        "model": CHAT_MODEL, "instructions": "be brief", "input": "hello there", "store": false, "max_output_tokens": 200,
    }));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["model"], CHAT_MODEL);
    assert!(body["id"].as_str().unwrap_or_default().starts_with("resp_"), "{body}");
    assert_eq!(body["instructions"], "be brief");
    let text = output_text(&body);
    assert!(text.contains("hello there"), "the simulator echoes the prompt: {text}");
    assert_eq!(body["output"][0]["role"], "assistant");
    let usage = &body["usage"];
    assert!(usage["input_tokens"].as_u64().unwrap_or(0) > 0, "{usage}");
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(usage["input_tokens"].as_u64().unwrap_or(0) + usage["output_tokens"].as_u64().unwrap_or(0))
    );
    let upstream = s.sim.requests_to("/chat/completions")[0].json().expect("JSON");
    assert_eq!(upstream["messages"][0], json!({"role": "system", "content": "be brief"}));
    assert_eq!(upstream["messages"][1]["content"], "hello there");
    assert_eq!(upstream["max_tokens"], 200);
}

#[test]
fn a_streamed_response_with_reasoning_round_trips_its_encrypted_content() {
    let s = serve();
    let events = s.responses_stream(&json!({
        "model": RESPONSES_MODEL, "input": "hello there", "stream": true,
        "reasoning": {"effort": "medium", "summary": "auto"}, "include": ["reasoning.encrypted_content"],
    }));
    let kinds = types(&events);
    assert_eq!(&kinds[..2], ["response.created", "response.in_progress"]);
    assert_eq!(kinds.last(), Some(&"response.completed"));
    for (n, event) in events.iter().enumerate() {
        assert_eq!(event["sequence_number"], n as u64);
    }
    for kind in [
        "response.reasoning_summary_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.added",
        "response.content_part.done",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let deltas: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .filter_map(|e| e["delta"].as_str())
        .collect();
    let completed = &events.last().expect("events")["response"];
    assert_eq!(deltas, output_text(completed));
    let reasoning = completed["output"]
        .as_array()
        .and_then(|o| o.iter().find(|i| i["type"] == "reasoning"))
        .expect("a reasoning item")
        .clone();
    assert!(!reasoning["summary"][0]["text"].as_str().unwrap_or_default().is_empty(), "{reasoning}");
    let encrypted = reasoning["encrypted_content"].as_str().expect("encrypted content").to_string();
    assert!(completed["usage"]["output_tokens"].as_u64().unwrap_or(0) > 0);

    // The whole output goes back as input, as a stateless agent (Codex) sends it.
    let mut input = vec![json!({"role": "user", "content": "hello there"})];
    input.extend(completed["output"].as_array().expect("output").iter().cloned());
    input.push(json!({"role": "user", "content": "and again"}));
    let (status, body) = s.responses(&json!({"model": RESPONSES_MODEL, "input": input, "store": false}));
    assert_eq!(status, 200, "{body}");
    let upstream = s.sim.requests_to("/responses")[1].json().expect("JSON");
    let sent: Vec<&Value> = upstream["input"].as_array().expect("input").iter().filter(|i| i["type"] == "reasoning").collect();
    assert_eq!(sent.len(), 1, "{upstream}");
    let original: Value = serde_json::from_str(&encrypted).expect("our state is JSON");
    assert_eq!(sent[0]["encrypted_content"], original["encrypted_content"], "Copilot gets its own reasoning back");
}

#[test]
fn function_calls_and_their_outputs() {
    let s = serve();
    let events = s.responses_stream(&json!({
        "model": CHAT_MODEL, "input": "read the files", "stream": true, "tools": read_tool(), "tool_choice": "auto",
    }));
    let calls: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done" && e["item"]["type"] == "function_call")
        .map(|e| &e["item"])
        .collect();
    assert_eq!(calls.len(), 2, "the simulator calls in parallel: {events:?}");
    let argument_deltas: Vec<&Value> = events.iter().filter(|e| e["type"] == "response.function_call_arguments.delta").collect();
    assert_eq!(argument_deltas.len(), 2);
    for (call, delta) in calls.iter().zip(&argument_deltas) {
        assert_eq!(call["name"], "read_file");
        assert_eq!(delta["item_id"], call["id"]);
        let args: Value = serde_json::from_str(call["arguments"].as_str().expect("arguments")).expect("JSON arguments");
        assert!(args["path"].is_string(), "{args}");
    }
    assert_ne!(calls[0]["call_id"], calls[1]["call_id"]);
    assert_eq!(events.last().expect("events")["response"]["status"], "completed");
    let upstream = s.sim.requests_to("/chat/completions")[0].json().expect("JSON");
    assert_eq!(upstream["tools"][0]["function"]["name"], "read_file");
    assert_eq!(upstream["tool_choice"], "auto");

    let mut input = vec![json!({"role": "user", "content": "read the files"})];
    for call in &calls {
        input.push((*call).clone());
    }
    for (i, call) in calls.iter().enumerate() {
        input.push(json!({"type": "function_call_output", "call_id": call["call_id"], "output": format!("contents {i}")}));
    }
    let (status, body) = s.responses(&json!({"model": CHAT_MODEL, "input": input, "tools": read_tool()}));
    assert_eq!(status, 200, "{body}");
    assert!(!output_text(&body).is_empty(), "{body}");
    let upstream = s.sim.requests_to("/chat/completions")[1].json().expect("JSON");
    let messages = upstream["messages"].as_array().expect("messages");
    let assistant = messages.iter().find(|m| m["role"] == "assistant").expect("the calls go back");
    assert_eq!(assistant["tool_calls"][0]["id"], calls[0]["call_id"]);
    let results: Vec<&Value> = messages.iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(results.len(), 2, "{upstream}");
    assert_eq!(results[1]["tool_call_id"], calls[1]["call_id"]);
    assert_eq!(results[1]["content"], "contents 1");
}

#[test]
fn images_go_upstream_as_data_urls() {
    let s = serve();
    let image = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let (status, body) = s.responses(&json!({"model": CHAT_MODEL, "input": [{"role": "user", "content": [
        {"type": "input_text", "text": "what is this?"}, {"type": "input_image", "image_url": image}]}]}));
    assert_eq!(status, 200, "{body}");
    let upstream = s.sim.requests_to("/chat/completions")[0].json().expect("JSON");
    let parts = upstream["messages"][0]["content"].as_array().expect("parts");
    assert!(parts.iter().any(|p| p["image_url"]["url"] == image), "{upstream}");
}

#[test]
fn client_mistakes_are_400s_naming_the_field_and_reach_nothing() {
    let s = serve();
    for (body, param) in [
        (json!({"model": CHAT_MODEL, "input": "x", "previous_response_id": "resp_1"}), "previous_response_id"),
        (json!({"model": CHAT_MODEL, "input": "x", "store": true}), "store"),
        (json!({"model": CHAT_MODEL, "input": "x", "background": true}), "background"),
        (json!({"model": CHAT_MODEL, "input": "x", "tools": [{"type": "web_search_preview"}]}), "tools[0].type"),
        (json!({"model": CHAT_MODEL, "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "https://example.com/x.png"}]}]}), "input[0].content[0].image_url"),
        (json!({"input": "x"}), "model"),
    ] {
        let (status, answer) = s.responses(&body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["type"], "invalid_request_error");
        assert_eq!(answer["error"]["param"], param, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap_or_default().contains('`'), "{answer}");
    }
    let (status, answer) = json_of(post(&s.server.url(), "/responses", Some(s.server.key()), &json!("not an object")));
    assert_eq!(status, 400, "{answer}");
    assert!(s.sim.requests_to("/chat/completions").is_empty() && s.sim.requests_to("/responses").is_empty());
}

#[test]
fn a_wrong_key_and_an_unknown_model() {
    let s = serve();
    let body = json!({"model": CHAT_MODEL, "input": "hi"});
    let url = s.server.url();
    for key in [None, Some("cph-guess")] {
        let (status, answer) = json_of(post(&url, "/responses", key, &body));
        assert_eq!(status, 401, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_api_key");
    }
    assert!(s.sim.requests_to("/chat/completions").is_empty(), "no request went upstream");

    let (status, answer) = s.responses(&json!({"model": "no-such-model", "input": "hi", "stream": true}));
    assert_eq!(status, 404, "an early failure is a status, not a 200 stream: {answer}");
    assert_eq!(answer["error"]["code"], "model_not_found");
    let (status, _) = json_of(agent().get(format!("{url}/responses")).header("Authorization", format!("Bearer {}", s.server.key())).call().expect("GET"));
    assert_eq!(status, 405);
}

#[test]
fn a_failure_mid_stream_is_response_failed() {
    let s = serve();
    let first = json!({"choices": [{"index": 0, "delta": {"content": "first "}, "finish_reason": null}]});
    let rest = json!({"choices": [{"index": 0, "delta": {"content": "never"}, "finish_reason": "stop"}]});
    let mut script = ChatScript::sse(&[first.clone(), rest], true, 0);
    script.cut_after = Some(format!("data: {first}\n\n").len());
    s.sim.script_chat(script);
    let events = s.responses_stream(&json!({"model": CHAT_MODEL, "input": "cut", "stream": true}));
    assert!(events.iter().any(|e| e["type"] == "response.output_text.delta" && e["delta"] == "first "), "{events:?}");
    let last = events.last().expect("events");
    assert_eq!(last["type"], "response.failed", "{events:?}");
    assert_eq!(last["response"]["status"], "failed");
    assert!(!last["response"]["error"]["message"].as_str().unwrap_or_default().is_empty(), "{last}");
    assert!(!types(&events).contains(&"response.completed"));
}

#[test]
fn chat_completions_refuse_what_they_cannot_honour() {
    let s = serve();
    let messages = json!([{"role": "user", "content": "hi"}]);
    for (extra, field) in [
        (json!({"n": 2}), "`n`"),
        (json!({"functions": [{"name": "f", "parameters": {}}]}), "`functions`"),
        (json!({"function_call": "auto"}), "`function_call`"),
        (json!({"logprobs": true, "top_logprobs": 2}), "`top_logprobs`"),
        (json!({"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}}), "`audio`"),
    ] {
        let mut body = json!({"model": CHAT_MODEL, "messages": messages});
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra.clone()) {
            body.extend(extra);
        }
        let (status, answer) = s.chat(&body);
        assert_eq!(status, 400, "{extra}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{extra}: {message}");
    }
    assert!(s.sim.requests_to("/chat/completions").is_empty());
    // What the contract carries is accepted and travels (tests/serve_options.rs).
    let (status, answer) = s.chat(&json!({"model": CHAT_MODEL, "messages": messages, "n": 1, "top_p": 0.5, "parallel_tool_calls": true}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(s.sim.requests_to("/chat/completions")[0].json().expect("JSON")["top_p"], json!(0.5));
}

#[test]
fn twenty_concurrent_responses_complete() {
    let s = serve();
    let url = s.server.url();
    let key = s.server.key().to_string();
    let clients: Vec<_> = (0..20)
        .map(|i| {
            let (url, key) = (url.clone(), key.clone());
            std::thread::spawn(move || {
                let model = if i % 2 == 0 { CHAT_MODEL } else { RESPONSES_MODEL };
                let prompt = format!("question number {i}");
                let stream = i % 4 < 2;
                let body = json!({"model": model, "input": prompt, "stream": stream});
                let response = post(&url, "/responses", Some(&key), &body);
                let answer = if stream {
                    events_of(response).pop().expect("events")["response"].clone()
                } else {
                    let (status, answer) = json_of(response);
                    assert_eq!(status, 200, "{answer}");
                    answer
                };
                (prompt, answer)
            })
        })
        .collect();
    for client in clients {
        let (prompt, answer) = client.join().expect("a client thread");
        assert_eq!(answer["status"], "completed", "{answer}");
        assert!(output_text(&answer).contains(&prompt), "each answer is its own: {prompt} / {answer}");
    }
}
