//! `copilot-host serve` from the outside: a real HTTP client against the OpenAI-compatible
//! endpoint, which drives the real component against the simulator.

use std::io::{BufRead, BufReader};
use std::sync::{mpsc, Arc};

use copilot_chat_tests::*;
use copilot_host::serve::Server;
use copilot_sim::{ChatScript, Sim};
use serde_json::{json, Value};

/// A served extension with the pieces that must outlive the server.
struct Served {
    server: Server,
    ext: Arc<copilot_host::Extension>,
    sim: Sim,
    _config_dir: TempDir,
}

fn serve() -> Served {
    let Harness { sim, ext, config_dir, .. } = Harness::new();
    let ext = Arc::new(ext);
    let server = Server::start(ext.clone(), PROVIDER, None).expect("start the server");
    Served { server, ext, sim, _config_dir: config_dir }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

impl Served {
    fn get(&self, path: &str, key: Option<&str>) -> (u16, Value) {
        let mut request = agent().get(format!("{}{path}", self.server.url()));
        if let Some(key) = key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let mut response = request.call().expect("GET");
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().expect("body");
        (status, serde_json::from_str(&body).expect("JSON body"))
    }

    fn post(&self, body: &Value, key: Option<&str>) -> ureq::http::Response<ureq::Body> {
        let mut request = agent()
            .post(format!("{}/chat/completions", self.server.url()))
            .header("Content-Type", "application/json");
        if let Some(key) = key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        request.send(body.to_string()).expect("POST")
    }

    fn post_json(&self, body: &Value) -> (u16, Value) {
        let mut response = self.post(body, Some(self.server.key()));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().expect("body");
        (status, serde_json::from_str(&text).expect("JSON body"))
    }

    /// A streamed answer's `data:` payloads, the `[DONE]` marker included.
    fn post_stream(&self, body: &Value) -> Vec<String> {
        let response = self.post(body, Some(self.server.key()));
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("text/event-stream"));
        data_lines(BufReader::new(response.into_body().into_reader())).collect()
    }

    fn default_model(&self) -> String {
        let models = self.ext.models(PROVIDER).expect("no trap").expect("models");
        models.into_iter().find(|m| m.is_default).expect("a default model").id
    }
}

fn data_lines(reader: impl BufRead) -> impl Iterator<Item = String> {
    reader
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| line.strip_prefix("data: ").map(str::to_string))
}

fn chunks(data: &[String]) -> Vec<Value> {
    data.iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str(d).expect("each event is JSON"))
        .collect()
}

fn streamed_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

fn finish_reasons(chunks: &[Value]) -> Vec<String> {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str().map(str::to_string))
        .collect()
}

fn chat_body(model: &str, stream: bool, messages: Value) -> Value {
    json!({"model": model, "stream": stream, "stream_options": {"include_usage": true}, "messages": messages})
}

#[test]
fn models_are_listed_with_the_key() {
    let s = serve();
    let (status, body) = s.get("/models", Some(s.server.key()));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "list");
    let listed: Vec<&str> = body["data"].as_array().expect("data").iter().filter_map(|m| m["id"].as_str()).collect();
    let direct = s.ext.models(PROVIDER).expect("no trap").expect("models");
    let direct: Vec<&str> = direct.iter().map(|m| m.id.as_str()).collect();
    assert!(!listed.is_empty());
    assert_eq!(listed, direct);
    assert!(s.server.url().starts_with("http://127.0.0.1:"));

    let (status, one) = s.get(&format!("/models/{}", listed[0]), Some(s.server.key()));
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["id"], listed[0]);
    let (status, missing) = s.get("/models/no-such-model", Some(s.server.key()));
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["code"], "model_not_found");
}

#[test]
fn a_missing_or_wrong_key_is_401_and_reaches_nothing() {
    let s = serve();
    assert_eq!(s.get("/models", None).0, 401);
    let wrong = format!("{}x", s.server.key());
    let (status, body) = s.get("/models", Some(&wrong));
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_api_key");
    let chat = chat_body("gpt-4.1", false, json!([{"role": "user", "content": "hi"}]));
    assert_eq!(s.post(&chat, None).status().as_u16(), 401);
    assert_eq!(s.post(&chat, Some("cph-guess")).status().as_u16(), 401);
    assert!(s.sim.requests_to("/chat/completions").is_empty(), "no request went upstream");
    // Unknown routes also need the key, then say what exists.
    assert_eq!(s.get("/nothing", None).0, 401);
    let (status, body) = s.get("/nothing", Some(s.server.key()));
    assert_eq!(status, 404);
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("/v1/chat/completions"));
}

#[test]
fn a_streamed_answer_is_the_same_text_as_the_extension_gives() {
    let s = serve();
    let model = s.default_model();
    let direct = s
        .ext
        .stream(PROVIDER, &model, request(vec![user("hello there")]))
        .expect("no trap")
        .expect("stream")
        .collect::<Result<Vec<_>, _>>()
        .expect("events");
    let data = s.post_stream(&chat_body(&model, true, json!([{"role": "user", "content": "hello there"}])));
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    let chunks = chunks(&data);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[0]["object"], "chat.completion.chunk");
    let text = streamed_text(&chunks);
    assert!(!text.is_empty());
    assert_eq!(text, text_of(&direct));
    assert_eq!(finish_reasons(&chunks), vec!["stop".to_string()]);
    let usage = chunks.last().expect("a usage chunk");
    assert!(usage["usage"]["prompt_tokens"].as_u64().unwrap_or(0) > 0, "{usage}");
    assert_eq!(usage["choices"], json!([]));
}

#[test]
fn a_tool_call_round_trip() {
    let s = serve();
    let model = s.default_model();
    let tools = json!([{"type": "function", "function": {
        "name": "read_file", "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}]);
    let mut body = chat_body(&model, true, json!([{"role": "user", "content": "read the files"}]));
    body["tools"] = tools.clone();
    let chunks = chunks(&s.post_stream(&body));
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
        .collect();
    assert_eq!(calls.len(), 2, "{chunks:?}");
    assert_eq!(calls[0]["index"], 0);
    assert_eq!(calls[1]["index"], 1);
    for call in &calls {
        assert_eq!(call["function"]["name"], "read_file");
        let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().expect("arguments")).expect("JSON arguments");
        assert!(args["path"].is_string(), "{args}");
    }
    assert_eq!(finish_reasons(&chunks), vec!["tool_calls".to_string()]);
    let upstream = s.sim.requests_to("/chat/completions")[0].json().expect("JSON");
    assert_eq!(upstream["tools"][0]["function"]["name"], "read_file");

    // Answer both calls; the follow-up is a text answer.
    let assistant_calls: Vec<Value> = calls
        .iter()
        .map(|c| json!({"id": c["id"], "type": "function", "function": c["function"]}))
        .collect();
    let mut messages = vec![
        json!({"role": "user", "content": "read the files"}),
        json!({"role": "assistant", "content": null, "tool_calls": assistant_calls}),
    ];
    for (i, call) in calls.iter().enumerate() {
        messages.push(json!({"role": "tool", "tool_call_id": call["id"], "content": format!("contents {i}")}));
    }
    let mut body = chat_body(&model, false, Value::Array(messages));
    body["tools"] = tools;
    let (status, answer) = s.post_json(&body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert!(!answer["choices"][0]["message"]["content"].as_str().unwrap_or_default().is_empty());
    let upstream = s.sim.requests_to("/chat/completions")[1].json().expect("JSON");
    let sent: Vec<&Value> = upstream["messages"].as_array().expect("messages").iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(sent.len(), 2, "{upstream}");
    assert_eq!(sent[0]["tool_call_id"], calls[0]["id"]);
    assert_eq!(sent[1]["content"], "contents 1");
}

#[test]
fn a_whole_answer_without_streaming() {
    let s = serve();
    let model = s.default_model();
    let (status, body) = s.post_json(&chat_body(&model, false, json!([
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}])));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], json!(model));
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert!(!body["choices"][0]["message"]["content"].as_str().unwrap_or_default().is_empty());
    assert!(body["usage"]["total_tokens"].as_u64().unwrap_or(0) > 0, "{body}");
    let upstream = s.sim.requests_to("/chat/completions")[0].json().expect("JSON");
    assert_eq!(upstream["messages"][0], json!({"role": "system", "content": "be brief"}));
}

#[test]
fn failures_get_real_statuses() {
    let s = serve();
    let (status, body) = s.post_json(&json!({"messages": []}));
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("model"));
    s.sim.script_chat(ChatScript::status(
        400,
        r#"{"error":{"message":"The requested model is not supported.","code":"model_not_supported"}}"#,
    ));
    let (status, body) = s.post_json(&chat_body("no-such-model", true, json!([{"role": "user", "content": "hi"}])));
    assert_eq!(status, 404, "an early failure of a stream is a status, not a 200: {body}");
    assert_eq!(body["error"]["code"], "model_not_found");
}

#[test]
fn two_streams_interleave() {
    let s = serve();
    let model = s.default_model();
    // The first answer stalls after its first event, until the simulator is dropped.
    let first_event = json!({"choices": [{"index": 0, "delta": {"content": "first "}, "finish_reason": null}]});
    let rest = json!({"choices": [{"index": 0, "delta": {"content": "never"}, "finish_reason": "stop"}]});
    let mut script = ChatScript::sse(&[first_event.clone(), rest], true, 0);
    script.stall_after = Some(format!("data: {first_event}\n\n").len());
    s.sim.script_chat(script);

    let (seen_tx, seen_rx) = mpsc::channel();
    let url = format!("{}/chat/completions", s.server.url());
    let key = s.server.key().to_string();
    let body = chat_body(&model, true, json!([{"role": "user", "content": "stall"}]));
    let stalled = std::thread::spawn(move || {
        let response = agent()
            .post(url)
            .header("Authorization", format!("Bearer {key}"))
            .send(body.to_string())
            .expect("POST");
        let mut data = Vec::new();
        for line in data_lines(BufReader::new(response.into_body().into_reader())) {
            if line.contains("first ") {
                let _ = seen_tx.send(());
            }
            data.push(line);
        }
        data
    });
    seen_rx.recv().expect("the first stream delivers its first event");

    // While the first is stalled mid-answer, a second one runs to the end.
    let data = s.post_stream(&chat_body(&model, true, json!([{"role": "user", "content": "hello"}])));
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert!(!streamed_text(&chunks(&data)).is_empty());

    // Releasing the stall ends the first stream, unfinished (no `[DONE]`).
    let Served { server, sim, .. } = s;
    drop(sim);
    let first = stalled.join().expect("the first client thread");
    assert!(first.iter().any(|d| d.contains("first ")));
    assert_ne!(first.last().map(String::as_str), Some("[DONE]"), "{first:?}");
    server.shutdown();
}

#[test]
fn shutdown_stops_accepting() {
    let s = serve();
    let url = s.server.url();
    let Served { server, .. } = s;
    server.shutdown();
    let result = agent().get(format!("{url}/models")).call();
    assert!(result.is_err(), "nothing listens after shutdown");
}
