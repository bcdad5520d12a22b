//! `serve` speaking Anthropic Messages (`/v1/messages`) and the Ollama API (`/api/...`), from
//! the outside: real HTTP against the endpoint, which drives the real component against the
//! simulator.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use copilot_chat_tests::*;
use copilot_host::serve::{ServeOptions, Server};
use copilot_sim::{ChatScript, Sim};
use serde_json::{json, Value};

/// A 1×1 PNG, base64.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

struct Served {
    server: Server,
    ext: Arc<copilot_host::Extension>,
    sim: Sim,
    _config_dir: TempDir,
}

fn serve_with(setup: Setup, options: ServeOptions) -> Served {
    let Harness { sim, ext, config_dir, .. } = Harness::with(setup);
    let ext = Arc::new(ext);
    let server = Server::start_with(ext.clone(), PROVIDER, None, options).expect("start the server");
    Served { server, ext, sim, _config_dir: config_dir }
}

/// The endpoint with every model called through `/chat/completions` upstream, so these tests
/// assert on one upstream shape: they test the Anthropic and Ollama translation in front of the
/// provider, not the provider's own route choice (tests/messages.rs covers `/v1/messages`).
fn serve() -> Served {
    serve_with(
        Setup {
            settings: json!({"endpoint_preference": "/chat/completions"}),
            ..Setup::default()
        },
        ServeOptions::default(),
    )
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// How a request carries the key.
#[derive(Clone, Copy)]
enum Key<'a> {
    XApiKey(&'a str),
    Bearer(&'a str),
    None,
}

impl Served {
    fn root(&self) -> String {
        self.server.root_url()
    }

    fn post(&self, path: &str, body: &Value, key: Key) -> ureq::http::Response<ureq::Body> {
        let mut request = agent()
            .post(format!("{}{path}", self.root()))
            .header("Content-Type", "application/json")
            .header("anthropic-version", "2023-06-01");
        match key {
            Key::XApiKey(k) => request = request.header("x-api-key", k),
            Key::Bearer(k) => request = request.header("Authorization", format!("Bearer {k}")),
            Key::None => {}
        }
        request.send(body.to_string()).expect("POST")
    }

    fn post_json(&self, path: &str, body: &Value, key: Key) -> (u16, Value, Option<String>) {
        let mut response = self.post(path, body, key);
        let status = response.status().as_u16();
        let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = response.body_mut().read_to_string().expect("body");
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON body ({e}): {text}")), retry)
    }

    fn get(&self, path: &str, key: Key) -> (u16, Value) {
        let mut request = agent().get(format!("{}{path}", self.root()));
        if let Key::Bearer(k) = key {
            request = request.header("Authorization", format!("Bearer {k}"));
        }
        let mut response = request.call().expect("GET");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().expect("body");
        (status, serde_json::from_str(&text).expect("JSON body"))
    }

    fn key(&self) -> Key<'_> {
        Key::XApiKey(self.server.key())
    }

    fn bearer(&self) -> Key<'_> {
        Key::Bearer(self.server.key())
    }

    /// A streamed Messages answer as (event name, data) pairs.
    fn messages_stream(&self, body: &Value) -> Vec<(String, Value)> {
        let response = self.post("/v1/messages", body, self.key());
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("text/event-stream"));
        sse_events(BufReader::new(response.into_body().into_reader()))
    }

    /// A streamed Ollama chat as its JSON lines.
    fn ollama_stream(&self, body: &Value) -> Vec<Value> {
        let response = self.post("/api/chat", body, self.bearer());
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("application/x-ndjson"));
        BufReader::new(response.into_body().into_reader())
            .lines()
            .map_while(Result::ok)
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(&l).expect("each line is JSON"))
            .collect()
    }

    fn upstream(&self, n: usize) -> Value {
        self.sim.requests_to("/chat/completions")[n].json().expect("JSON upstream body")
    }

    fn upstream_count(&self) -> usize {
        self.sim.requests_to("/chat/completions").len()
    }

    fn direct_text(&self, model: &str, prompt: &str) -> String {
        let events = self
            .ext
            .stream(PROVIDER, model, request(vec![user(prompt)]))
            .expect("no trap")
            .expect("stream")
            .collect::<Result<Vec<_>, _>>()
            .expect("events");
        text_of(&events)
    }
}

fn sse_events(reader: impl BufRead) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    let mut name = None;
    for line in reader.lines().map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("event: ") {
            name = Some(n.to_string());
        } else if let Some(data) = line.strip_prefix("data: ") {
            let data: Value = serde_json::from_str(data).expect("each data line is JSON");
            let name = name.take().expect("every data line follows an event line");
            assert_eq!(data["type"], json!(name), "the event name is the data's type");
            events.push((name, data));
        }
    }
    events
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

fn deltas<'a>(events: &'a [(String, Value)], kind: &str, field: &str) -> String {
    events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == kind)
        .filter_map(|(_, d)| d["delta"][field].as_str())
        .collect()
}

fn messages_body(model: &str, stream: bool, messages: Value) -> Value {
    json!({"model": model, "max_tokens": 4096, "stream": stream, "messages": messages})
}

fn read_tool() -> Value {
    json!([{"name": "read_file", "description": "Read a file",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}])
}

// ---- Anthropic Messages ----

#[test]
fn a_streamed_message_has_anthropics_event_sequence() {
    let s = serve();
    let direct = s.direct_text("claude-sonnet-4", "hello there");
    let events = s.messages_stream(&messages_body(
        "claude-sonnet-4-20250514",
        true,
        json!([{"role": "user", "content": "hello there"}]),
    ));
    let seen = names(&events);
    assert_eq!(&seen[..3], ["message_start", "ping", "content_block_start"], "{seen:?}");
    assert_eq!(&seen[seen.len() - 3..], ["content_block_stop", "message_delta", "message_stop"]);
    let start = &events[0].1["message"];
    assert!(start["id"].as_str().unwrap_or_default().starts_with("msg_"), "{start}");
    assert_eq!(start["role"], "assistant");
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["model"], "claude-sonnet-4", "the alias resolved to the Copilot model");
    assert_eq!(events[2].1["content_block"], json!({"type": "text", "text": ""}));
    assert_eq!(deltas(&events, "text_delta", "text"), direct);
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert!(delta["usage"]["output_tokens"].as_u64().unwrap_or(0) > 0, "{delta}");
    assert!(delta["usage"]["input_tokens"].as_u64().unwrap_or(0) > 0, "{delta}");
    assert_eq!(s.upstream(0)["model"], "claude-sonnet-4");
}

#[test]
fn a_whole_message_with_a_bearer_key_and_system_blocks() {
    let s = serve();
    let mut body = messages_body("claude-sonnet-4", false, json!([{"role": "user", "content": [{"type": "text", "text": "hello"}]}]));
    body["system"] = json!([{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]);
    body["temperature"] = json!(0.2);
    body["stop_sequences"] = json!(["STOP"]);
    let (status, message, _) = s.post_json("/v1/messages", &body, s.bearer());
    assert_eq!(status, 200, "{message}");
    assert_eq!(message["type"], "message");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(message["stop_sequence"], Value::Null);
    assert_eq!(message["content"][0]["type"], "text");
    assert_eq!(message["content"][0]["text"].as_str().unwrap_or_default(), s.direct_text("claude-sonnet-4", "hello"));
    assert!(message["usage"]["output_tokens"].as_u64().unwrap_or(0) > 0, "{message}");
    let upstream = s.upstream(0);
    assert_eq!(upstream["messages"][0]["role"], "system");
    assert_eq!(upstream["messages"][0]["content"], "be brief");
    assert_eq!(upstream["stop"], json!(["STOP"]));
    assert_eq!(upstream["temperature"], json!(0.2));
}

#[test]
fn parallel_tool_calls_and_their_results_round_trip() {
    let s = serve();
    let mut body = messages_body("claude-sonnet-4-20250514", true, json!([{"role": "user", "content": "read the files"}]));
    body["tools"] = read_tool();
    body["tool_choice"] = json!({"type": "auto"});
    let events = s.messages_stream(&body);
    let starts: Vec<&Value> = events
        .iter()
        .filter(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "tool_use")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(starts.len(), 2, "{events:?}");
    let mut calls = Vec::new();
    for start in &starts {
        let index = &start["index"];
        assert_eq!(start["content_block"]["input"], json!({}));
        let json_text: String = events
            .iter()
            .filter(|(_, d)| d["index"] == *index && d["delta"]["type"] == "input_json_delta")
            .filter_map(|(_, d)| d["delta"]["partial_json"].as_str())
            .collect();
        let input: Value = serde_json::from_str(&json_text).expect("the deltas join into JSON");
        assert!(input["path"].is_string(), "{input}");
        calls.push(json!({"type": "tool_use", "id": start["content_block"]["id"], "name": "read_file", "input": input}));
    }
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    let stop = events.iter().find(|(n, _)| n == "message_delta").expect("message_delta");
    assert_eq!(stop.1["delta"]["stop_reason"], "tool_use");

    let mut follow_up = messages_body("claude-sonnet-4-20250514", false, json!([
        {"role": "user", "content": "read the files"},
        {"role": "assistant", "content": calls},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": calls[0]["id"], "content": "contents 0"},
            {"type": "tool_result", "tool_use_id": calls[1]["id"], "content": [{"type": "text", "text": "contents 1"}]},
        ]},
    ]));
    follow_up["tools"] = read_tool();
    let (status, answer, _) = s.post_json("/v1/messages", &follow_up, s.key());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["stop_reason"], "end_turn");
    assert!(!answer["content"][0]["text"].as_str().unwrap_or_default().is_empty());
    let upstream = s.upstream(1);
    let tools: Vec<&Value> = upstream["messages"].as_array().expect("messages").iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(tools.len(), 2, "{upstream}");
    assert_eq!(tools[0]["tool_call_id"], calls[0]["id"]);
    assert_eq!(tools[1]["content"], "contents 1");
    let assistant = upstream["messages"].as_array().expect("messages").iter().find(|m| m["role"] == "assistant").expect("assistant");
    assert_eq!(assistant["tool_calls"][1]["id"], calls[1]["id"]);
}

#[test]
fn images_travel_as_data_urls_and_url_images_are_refused() {
    let s = serve();
    let image = json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}});
    let body = messages_body("claude-sonnet-4", false, json!([{"role": "user", "content": [{"type": "text", "text": "what is it?"}, image]}]));
    let (status, answer, _) = s.post_json("/v1/messages", &body, s.key());
    assert_eq!(status, 200, "{answer}");
    let upstream = s.upstream(0);
    let parts = upstream["messages"][0]["content"].as_array().expect("parts");
    assert_eq!(parts[1]["image_url"]["url"], format!("data:image/png;base64,{PNG}"));

    let remote = json!({"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}});
    let body = messages_body("claude-sonnet-4", false, json!([{"role": "user", "content": [remote]}]));
    let (status, error, _) = s.post_json("/v1/messages", &body, s.key());
    assert_eq!(status, 400);
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(error["error"]["message"].as_str().unwrap_or_default().contains("url"), "{error}");
    assert_eq!(s.upstream_count(), 1, "the refused request never went upstream");
}

#[test]
fn thinking_streams_with_a_signature_that_comes_back() {
    let s = serve();
    let mut body = messages_body("claude-sonnet-4-20250514", true, json!([{"role": "user", "content": "think first"}]));
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 2048});
    let events = s.messages_stream(&body);
    let first = events.iter().find(|(n, _)| n == "content_block_start").expect("a block");
    assert_eq!(first.1["content_block"], json!({"type": "thinking", "thinking": "", "signature": ""}));
    let thinking = deltas(&events, "thinking_delta", "thinking");
    assert!(!thinking.is_empty(), "{events:?}");
    let signature = deltas(&events, "signature_delta", "signature");
    assert!(!signature.is_empty(), "{events:?}");
    assert!(!deltas(&events, "text_delta", "text").is_empty());
    assert!(s.upstream(0)["thinking_budget"].is_number(), "thinking was asked for upstream");

    // Not streamed: the same blocks in the message, and sent back they reach Copilot.
    body["stream"] = json!(false);
    let (status, message, _) = s.post_json("/v1/messages", &body, s.key());
    assert_eq!(status, 200, "{message}");
    let block = &message["content"][0];
    assert_eq!(block["type"], "thinking");
    assert_eq!(block["thinking"], json!(thinking));
    // Each answer has its own opaque state: same shape, not the same value.
    let signature = block["signature"].as_str().expect("a signature").to_string();
    assert!(signature.contains("reasoning_opaque"), "{signature}");
    let follow_up = messages_body("claude-sonnet-4", false, json!([
        {"role": "user", "content": "think first"},
        {"role": "assistant", "content": message["content"]},
        {"role": "user", "content": "and now?"},
    ]));
    let (status, answer, _) = s.post_json("/v1/messages", &follow_up, s.key());
    assert_eq!(status, 200, "{answer}");
    let upstream = s.upstream(2);
    let assistant = upstream["messages"].as_array().expect("messages").iter().find(|m| m["role"] == "assistant").expect("assistant").clone();
    assert_eq!(assistant["reasoning_text"], json!(thinking));
    let opaque: Value = serde_json::from_str(&signature).expect("the signature is the reasoning details JSON");
    assert_eq!(assistant["reasoning_opaque"], opaque["reasoning_opaque"]);
}

#[test]
fn errors_are_anthropic_shaped_with_real_statuses() {
    let s = serve();
    let body = messages_body("claude-sonnet-4", false, json!([{"role": "user", "content": "hi"}]));
    for key in [Key::None, Key::XApiKey("cph-guess"), Key::Bearer("cph-guess")] {
        let (status, error, _) = s.post_json("/v1/messages", &body, key);
        assert_eq!(status, 401);
        assert_eq!(error["type"], "error");
        assert_eq!(error["error"]["type"], "authentication_error");
    }
    let (status, error, _) = s.post_json("/v1/messages", &messages_body("gpt-99", false, json!([{"role": "user", "content": "hi"}])), s.key());
    assert_eq!(status, 404);
    assert_eq!(error["error"]["type"], "not_found_error");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("gpt-99") && message.contains("claude-sonnet-4") && message.contains("model_map"), "{message}");
    let (status, error, _) = s.post_json("/v1/messages", &json!({"model": "claude-sonnet-4", "messages": []}), s.key());
    assert_eq!(status, 400);
    assert!(error["error"]["message"].as_str().unwrap_or_default().contains("max_tokens"));
    let mut top_k = body.clone();
    top_k["top_k"] = json!(5);
    let (status, error, _) = s.post_json("/v1/messages", &top_k, s.key());
    assert_eq!(status, 400);
    assert!(error["error"]["message"].as_str().unwrap_or_default().contains("`top_k`"));
    let (status, error, _) = s.post_json("/v1/messages/batches", &body, s.key());
    assert_eq!(status, 404);
    assert_eq!(error["error"]["type"], "not_found_error");
    assert_eq!(s.upstream_count(), 0, "nothing went upstream");

    // Copilot refusing the model is a 404; rate limiting a 429 with retry-after.
    s.sim.script_chat(ChatScript {
        status: 400,
        headers: vec![],
        body: br#"{"error":{"message":"The requested model is not supported.","code":"model_not_supported"}}"#.to_vec(),
        chunk_size: 4096,
        stall_after: None,
        cut_after: None,
    });
    let (status, error, _) = s.post_json("/v1/messages", &body, s.key());
    assert_eq!(status, 404, "{error}");
    assert_eq!(error["error"]["type"], "not_found_error");
}

#[test]
fn a_failure_mid_stream_is_an_error_event() {
    let s = serve();
    let first = json!({"choices": [{"index": 0, "delta": {"content": "partial "}, "finish_reason": null}]});
    let rest = json!({"choices": [{"index": 0, "delta": {"content": "never"}, "finish_reason": "stop"}]});
    let mut script = ChatScript::sse(&[first.clone(), rest], true, 0);
    script.cut_after = Some(format!("data: {first}\n\n").len());
    s.sim.script_chat(script);
    let events = s.messages_stream(&messages_body("claude-sonnet-4", true, json!([{"role": "user", "content": "hi"}])));
    assert_eq!(deltas(&events, "text_delta", "text"), "partial ");
    let (name, error) = events.last().expect("events");
    assert_eq!(name, "error", "{events:?}");
    assert_eq!(error["error"]["type"], "overloaded_error");
    assert!(!names(&events).contains(&"message_stop"));
}

#[test]
fn count_tokens_is_the_extensions_estimate() {
    let s = serve();
    let body = json!({"model": "claude-sonnet-4-20250514", "messages": [{"role": "user", "content": "count these words please"}]});
    let (status, counted, _) = s.post_json("/v1/messages/count_tokens", &body, s.key());
    assert_eq!(status, 200, "{counted}");
    let direct = s
        .ext
        .count_tokens(PROVIDER, "claude-sonnet-4", &request(vec![user("count these words please")]))
        .expect("no trap")
        .expect("count");
    assert_eq!(counted, json!({"input_tokens": direct}));
    let mut longer = body.clone();
    longer["system"] = json!("a much longer system prompt that adds quite a few tokens to the count");
    let (_, more, _) = s.post_json("/v1/messages/count_tokens", &longer, s.key());
    assert!(more["input_tokens"].as_u64() > counted["input_tokens"].as_u64(), "{more}");
    assert_eq!(s.upstream_count(), 0, "counting calls nothing upstream");
}

#[test]
fn model_map_in_the_settings_overrides_the_rule() {
    let setup = Setup {
        settings: json!({"model_map": {"claude-3-5-haiku-latest": "gpt-4.1"}}),
        ..Setup::default()
    };
    let s = serve_with(setup, ServeOptions::default());
    let body = messages_body("claude-3-5-haiku-latest", false, json!([{"role": "user", "content": "hi"}]));
    let (status, message, _) = s.post_json("/v1/messages", &body, s.key());
    assert_eq!(status, 200, "{message}");
    assert_eq!(message["model"], "gpt-4.1");
    assert_eq!(s.upstream(0)["model"], "gpt-4.1");
    // Without a map entry the rule applies: the family's newest model (Opus here).
    let body = messages_body("claude-opus-4-1-20250805", false, json!([{"role": "user", "content": "hi"}]));
    let (status, message, _) = s.post_json("/v1/messages", &body, s.key());
    assert_eq!(status, 200, "{message}");
    assert_eq!(message["model"], "claude-opus-4");
}

#[test]
fn twenty_concurrent_messages_complete() {
    let s = Arc::new(serve());
    let threads: Vec<_> = (0..20)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || {
                let prompt = format!("concurrent message {i}");
                let stream = i % 2 == 0;
                let body = messages_body("claude-sonnet-4", stream, json!([{"role": "user", "content": prompt}]));
                if stream {
                    let events = s.messages_stream(&body);
                    assert_eq!(names(&events).last(), Some(&"message_stop"));
                    deltas(&events, "text_delta", "text")
                } else {
                    let (status, message, _) = s.post_json("/v1/messages", &body, s.key());
                    assert_eq!(status, 200, "{message}");
                    message["content"][0]["text"].as_str().unwrap_or_default().to_string()
                }
            })
        })
        .collect();
    for (i, thread) in threads.into_iter().enumerate() {
        let text = thread.join().expect("a client thread");
        assert!(text.contains(&format!("message {i}")), "answer {i} echoes its own prompt: {text}");
    }
}

// ---- Ollama ----

#[test]
fn ollama_discovery_lists_models_with_context_and_capabilities() {
    let s = serve();
    let (status, version) = s.get("/api/version", s.bearer());
    assert_eq!(status, 200);
    assert!(version["version"].is_string());
    let (status, tags) = s.get("/api/tags", s.bearer());
    assert_eq!(status, 200, "{tags}");
    let listed: Vec<&str> = tags["models"].as_array().expect("models").iter().filter_map(|m| m["name"].as_str()).collect();
    let direct = s.ext.models(PROVIDER).expect("no trap").expect("models");
    assert_eq!(listed, direct.iter().map(|m| m.id.as_str()).collect::<Vec<_>>());
    for m in tags["models"].as_array().expect("models") {
        assert_eq!(m["model"], m["name"]);
        assert!(m["modified_at"].as_str().unwrap_or_default().ends_with('Z'), "{m}");
        assert_eq!(m["size"], 0);
        for field in ["format", "family", "parameter_size", "quantization_level"] {
            assert!(m["details"][field].is_string(), "{m}");
        }
    }
    let sonnet = direct.iter().find(|m| m.id == "claude-sonnet-4").expect("claude-sonnet-4 is listed");
    let (status, show, _) = s.post_json("/api/show", &json!({"model": "claude-sonnet-4"}), s.bearer());
    assert_eq!(status, 200, "{show}");
    let arch = show["model_info"]["general.architecture"].as_str().expect("architecture");
    assert_eq!(show["model_info"][format!("{arch}.context_length")], json!(sonnet.max_token_count));
    let capabilities: Vec<&str> = show["capabilities"].as_array().expect("capabilities").iter().filter_map(Value::as_str).collect();
    assert!(capabilities.contains(&"completion") && capabilities.contains(&"tools"), "{capabilities:?}");
    assert_eq!(capabilities.contains(&"vision"), sonnet.capabilities.supports_images);
    assert_eq!(capabilities.contains(&"thinking"), sonnet.capabilities.supports_thinking);
    let (status, missing, _) = s.post_json("/api/show", &json!({"model": "llama3:latest"}), s.bearer());
    assert_eq!(status, 404);
    assert!(missing["error"].as_str().unwrap_or_default().contains("llama3"));
}

#[test]
fn ollama_chat_streams_json_lines_by_default() {
    let s = serve();
    let direct = s.direct_text("gpt-4.1", "hello there");
    let lines = s.ollama_stream(&json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hello there"}]}));
    let (last, chunks) = lines.split_last().expect("lines");
    assert!(chunks.iter().all(|c| c["done"] == false && c["model"] == "gpt-4.1"));
    let text: String = chunks.iter().filter_map(|c| c["message"]["content"].as_str()).collect();
    assert_eq!(text, direct);
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(last["message"], json!({"role": "assistant", "content": ""}));
    assert!(last["prompt_eval_count"].as_u64().unwrap_or(0) > 0, "{last}");
    assert!(last["eval_count"].as_u64().unwrap_or(0) > 0, "{last}");

    let (status, whole, _) = s.post_json(
        "/api/chat",
        &json!({"model": "gpt-4.1:latest", "stream": false, "options": {"temperature": 0.3, "num_predict": 200},
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]}),
        s.bearer(),
    );
    assert_eq!(status, 200, "{whole}");
    assert_eq!(whole["done"], true);
    assert_eq!(whole["message"]["role"], "assistant");
    assert_eq!(whole["message"]["content"], json!(direct));
    let upstream = s.upstream(2);
    assert_eq!(upstream["messages"][0]["content"], "be brief");
    assert_eq!(upstream["temperature"], json!(0.3));
    assert_eq!(upstream["max_tokens"], json!(200));
}

#[test]
fn ollama_tools_images_and_thinking() {
    let s = serve();
    let tools = json!([{"type": "function", "function": {"name": "read_file", "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}]);
    let (status, answer, _) = s.post_json(
        "/api/chat",
        &json!({"model": "gpt-4.1", "stream": false, "tools": tools, "messages": [{"role": "user", "content": "read the files"}]}),
        s.bearer(),
    );
    assert_eq!(status, 200, "{answer}");
    let calls = answer["message"]["tool_calls"].as_array().expect("tool_calls").clone();
    assert_eq!(calls.len(), 2, "{answer}");
    for call in &calls {
        assert_eq!(call["function"]["name"], "read_file");
        assert!(call["function"]["arguments"]["path"].is_string(), "arguments are an object: {call}");
    }
    // Zed's follow-up: the calls echoed, results named by tool, no ids anywhere.
    let lines = s.ollama_stream(&json!({"model": "gpt-4.1", "tools": tools, "messages": [
        {"role": "user", "content": "read the files"},
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "tool_name": "read_file", "content": "contents 0"},
        {"role": "tool", "tool_name": "read_file", "content": "contents 1"},
    ]}));
    assert_eq!(lines.last().expect("lines")["done"], true);
    let upstream = s.upstream(1);
    let messages = upstream["messages"].as_array().expect("messages");
    let ids: Vec<&Value> = messages.iter().find(|m| m["role"] == "assistant").expect("assistant")["tool_calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| &c["id"])
        .collect();
    let results: Vec<&Value> = messages.iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(results.len(), 2);
    assert_eq!(&results[0]["tool_call_id"], ids[0]);
    assert_eq!(&results[1]["tool_call_id"], ids[1]);
    assert_eq!(results[1]["content"], "contents 1");

    let (status, answer, _) = s.post_json(
        "/api/chat",
        &json!({"model": "claude-sonnet-4", "stream": false, "messages": [{"role": "user", "content": "what is it?", "images": [PNG]}]}),
        s.bearer(),
    );
    assert_eq!(status, 200, "{answer}");
    let parts = s.upstream(2)["messages"][0]["content"].clone();
    let url = parts[1]["image_url"]["url"].as_str().unwrap_or_default().to_string();
    assert!(url.starts_with("data:image/png;base64,") && url.ends_with(PNG), "{parts}");

    let lines = s.ollama_stream(&json!({"model": "claude-sonnet-4", "think": true, "options": {"num_predict": 4096},
        "messages": [{"role": "user", "content": "think first"}]}));
    let thinking: String = lines.iter().filter_map(|l| l["message"]["thinking"].as_str()).collect();
    assert!(!thinking.is_empty(), "{lines:?}");
    let lines = s.ollama_stream(&json!({"model": "claude-sonnet-4", "think": false, "messages": [{"role": "user", "content": "no thinking"}]}));
    assert!(lines.iter().all(|l| l["message"]["thinking"].is_null()), "{lines:?}");
}

#[test]
fn ollama_errors_have_its_shape() {
    let s = serve();
    let (status, error) = s.get("/api/tags", Key::None);
    assert_eq!(status, 401);
    assert!(error["error"].is_string());
    let (status, error) = s.get("/api/tags", Key::Bearer("cph-guess"));
    assert_eq!(status, 401, "{error}");
    let (status, error, _) = s.post_json("/api/chat", &json!({"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}), s.bearer());
    assert_eq!(status, 404);
    assert!(error["error"].as_str().unwrap_or_default().contains("no-such-model"));
    let (status, error, _) = s.post_json("/api/chat", &json!({"model": "gpt-4.1", "format": "yaml", "messages": []}), s.bearer());
    assert_eq!(status, 400);
    assert!(error["error"].as_str().unwrap_or_default().contains("format"));
    let (status, _, _) = s.post_json("/api/pull", &json!({"model": "llama3"}), s.bearer());
    assert_eq!(status, 404);
    assert_eq!(s.upstream_count(), 0);
}

/// One raw request, so the `Host` and `Origin` headers are exactly what a browser would send.
fn raw(server: &Server, head: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    stream.write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[test]
fn keyless_ollama_refuses_web_pages_and_only_opens_the_ollama_routes() {
    let s = serve_with(Setup::default(), ServeOptions { ollama_keyless: true });
    let host = format!("Host: {}", s.server.addr());
    let (status, body) = raw(&s.server, &format!("GET /api/tags HTTP/1.1\r\n{host}"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"models\""));
    let (status, _) = raw(&s.server, "GET /api/version HTTP/1.1\r\nHost: localhost:11434");
    assert_eq!(status, 200);
    let (status, body) = raw(&s.server, &format!("GET /api/tags HTTP/1.1\r\n{host}\r\nOrigin: https://evil.example"));
    assert_eq!(status, 403);
    assert!(body.contains("Origin"), "{body}");
    let (status, _) = raw(&s.server, "GET /api/tags HTTP/1.1\r\nHost: evil.example:11434");
    assert_eq!(status, 403, "a DNS-rebound name is refused");
    // The key still opens everything, even from a page.
    let (status, _) = raw(&s.server, &format!("GET /api/tags HTTP/1.1\r\n{host}\r\nOrigin: https://x\r\nAuthorization: Bearer {}", s.server.key()));
    assert_eq!(status, 200);
    // The other protocols still need the key.
    let (status, _) = raw(&s.server, &format!("GET /v1/models HTTP/1.1\r\n{host}"));
    assert_eq!(status, 401);
    let (status, body) = raw(&s.server, &format!("POST /v1/messages HTTP/1.1\r\n{host}\r\nContent-Length: 2\r\n\r\n{{}}"));
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("authentication_error"));
    // Keyless chat works.
    let chat = json!({"model": "gpt-4.1", "stream": false, "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let (status, body) = raw(&s.server, &format!("POST /api/chat HTTP/1.1\r\n{host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{chat}", chat.len()));
    assert_eq!(status, 200, "{body}");
    // Without keyless mode the same request needs the key.
    let keyed = serve();
    let (status, _) = raw(&keyed.server, &format!("GET /api/tags HTTP/1.1\r\nHost: {}", keyed.server.addr()));
    assert_eq!(status, 401);
}

#[test]
fn twenty_concurrent_ollama_chats_complete() {
    let s = Arc::new(serve());
    let threads: Vec<_> = (0..20)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || {
                let body = json!({"model": "gpt-4.1", "stream": i % 2 == 0,
                    "messages": [{"role": "user", "content": format!("concurrent chat {i}")}]});
                if i % 2 == 0 {
                    let lines = s.ollama_stream(&body);
                    assert_eq!(lines.last().expect("lines")["done"], true);
                    lines.iter().filter_map(|l| l["message"]["content"].as_str()).collect::<String>()
                } else {
                    let (status, whole, _) = s.post_json("/api/chat", &body, s.bearer());
                    assert_eq!(status, 200, "{whole}");
                    whole["message"]["content"].as_str().unwrap_or_default().to_string()
                }
            })
        })
        .collect();
    for (i, thread) in threads.into_iter().enumerate() {
        let text = thread.join().expect("a client thread");
        assert!(text.contains(&format!("chat {i}")), "answer {i} echoes its own prompt: {text}");
    }
}
