//! Streaming chat through the component: text, parallel tool calls through re-chunked SSE,
//! and HTTP errors on the stream as typed errors.

use copilot_chat_tests::*;
use copilot_host::{CompletionEvent, ProviderError, StopReason};
use copilot_sim::ChatScript;
use serde_json::json;

fn default_model(h: &Harness) -> String {
    h.models().expect("models").into_iter().find(|m| m.is_default).expect("a default model").id
}

#[test]
fn text_streams_from_started_to_stop_with_usage() {
    let h = Harness::new();
    let model = default_model(&h);
    let events = h.chat(&model, request(vec![system("be brief"), user("hello there")])).expect("chat");
    assert!(matches!(events.first(), Some(CompletionEvent::Started)), "{events:?}");
    assert!(matches!(events.last(), Some(CompletionEvent::Stop(StopReason::EndTurn))), "{events:?}");
    assert!(!text_of(&events).is_empty());
    assert!(events.iter().any(|e| matches!(e, CompletionEvent::Usage(u) if u.input_tokens > 0)), "{events:?}");

    let sent = &h.sim.requests_to("/chat/completions")[0];
    let body = sent.json().expect("JSON body");
    assert_eq!(body["model"], json!(model));
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["messages"][0], json!({"role": "system", "content": "be brief"}));
    assert_eq!(body["messages"][1]["role"], json!("user"));
    assert_eq!(sent.header("x-initiator"), Some("user"));
    assert_eq!(sent.header("copilot-vision-request"), None);
}

fn tool_call_transcript() -> Vec<serde_json::Value> {
    let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
        json!({"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4.1",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    vec![
        json!({"choices": [], "id": "", "prompt_filter_results": [{"prompt_index": 0}]}),
        chunk(json!({"role": "assistant", "content": null, "tool_calls": [
            {"index": 0, "id": "call_a", "type": "function", "function": {"name": "read_file", "arguments": ""}}]}), json!(null)),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"pa"}}]}), json!(null)),
        chunk(json!({"tool_calls": [
            {"index": 1, "id": "call_b", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\""}}]}), json!(null)),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "th\": \"a.rs\"}"}}]}), json!(null)),
        chunk(json!({"tool_calls": [{"index": 1, "function": {"arguments": ": \"b.rs\"}"}}]}), json!(null)),
        chunk(json!({}), json!("tool_calls")),
        json!({"choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}}),
    ]
}

#[test]
fn parallel_tool_calls_arrive_whole_and_in_order_at_any_chunking() {
    let h = Harness::new();
    let model = default_model(&h);
    for chunk_size in [1, 3, 17, 4096] {
        h.sim.script_chat(ChatScript::sse(&tool_call_transcript(), true, chunk_size));
        let mut req = request(vec![user("read both files")]);
        req.tools = vec![tool("read_file")];
        let events = h.chat(&model, req).expect("chat");
        let uses: Vec<(String, serde_json::Value)> = events
            .iter()
            .filter_map(|e| match e {
                CompletionEvent::ToolUse(t) => Some((t.id.clone(), serde_json::from_str(&t.input).expect("complete JSON input"))),
                _ => None,
            })
            .collect();
        assert_eq!(
            uses,
            vec![("call_a".to_string(), json!({"path": "a.rs"})), ("call_b".to_string(), json!({"path": "b.rs"}))],
            "chunk size {chunk_size}"
        );
        assert!(matches!(events.last(), Some(CompletionEvent::Stop(StopReason::ToolUse))), "{events:?}");
    }
    let sent = h.sim.requests_to("/chat/completions").pop().expect("request");
    let body = sent.json().expect("JSON");
    assert_eq!(body["tools"][0]["function"]["name"], json!("read_file"));
}

#[test]
fn the_simulator_default_tool_answer_has_two_calls() {
    let h = Harness::new();
    let model = default_model(&h);
    let mut req = request(vec![user("use the tool")]);
    req.tools = vec![tool("read_file")];
    let events = h.chat(&model, req).expect("chat");
    let n = events.iter().filter(|e| matches!(e, CompletionEvent::ToolUse(_))).count();
    assert_eq!(n, 2, "{events:?}");
}

#[test]
fn an_error_status_is_a_typed_error_not_an_empty_stream() {
    let h = Harness::new();
    let model = default_model(&h);
    h.sim.script_chat(
        ChatScript::status(
            400,
            r#"{"error":{"message":"The requested model is not supported.","code":"model_not_supported"}}"#,
        )
        .with_header("x-request-id", "req-123"),
    );
    match h.chat(&model, request(vec![user("hi")])) {
        Err(ProviderError::ModelNotSupported(info)) => {
            assert_eq!(info.status, 400);
            assert!(info.message.contains("not supported"));
            assert_eq!(info.request_id.as_deref(), Some("req-123"));
        }
        other => panic!("expected model-not-supported, got {other:?}"),
    }

    // A 5xx before any output is retried once (issue 5), so the second answer decides.
    for _ in 0..2 {
        h.sim.script_chat(ChatScript {
            status: 503,
            headers: vec![],
            body: b"upstream overloaded".to_vec(),
            chunk_size: 4096,
            stall_after: None,
            cut_after: None,
        });
    }
    match h.chat(&model, request(vec![user("hi")])) {
        Err(ProviderError::Upstream(info)) => {
            assert_eq!(info.status, 503);
            assert!(info.message.contains("overloaded"));
        }
        other => panic!("expected upstream error, got {other:?}"),
    }
}

#[test]
fn a_stream_cut_before_the_end_is_an_error() {
    let h = Harness::new();
    let model = default_model(&h);
    let events = vec![
        json!({"choices": [{"index": 0, "delta": {"content": "partial"}, "finish_reason": null}]}),
    ];
    h.sim.script_chat(ChatScript::sse(&events, false, 4096));
    match h.chat(&model, request(vec![user("hi")])) {
        Err(ProviderError::Network(m)) => assert!(m.contains("ended"), "{m}"),
        other => panic!("expected a network error, got {other:?}"),
    }
}

#[test]
fn an_unknown_stream_id_is_an_error_and_close_is_idempotent() {
    let h = Harness::new();
    let model = default_model(&h);
    // An id the extension never handed out: a typed error, and the instance lives on.
    for id in ["copilot-stream-999", "garbage"] {
        assert!(matches!(h.ext.poll_stream_id(id).expect("no trap"), Err(ProviderError::InvalidRequest(_))));
        assert!(matches!(h.ext.close_stream_id(id).expect("no trap"), Err(ProviderError::InvalidRequest(_))));
    }
    let stream = h.ext.stream(PROVIDER, &model, request(vec![user("hi")])).expect("no trap").expect("stream");
    let id = stream.id().to_string();
    let events: Vec<_> = stream.collect::<Result<_, _>>().expect("events");
    assert!(!events.is_empty());
    // A finished stream freed itself; closing it (twice) is still fine and polling says finished.
    assert!(h.ext.close_stream_id(&id).expect("no trap").is_ok());
    assert!(h.ext.close_stream_id(&id).expect("no trap").is_ok());
    assert!(matches!(h.ext.poll_stream_id(&id).expect("no trap"), Ok(copilot_host::StreamPoll::Finished)));
    assert!(!h.model_ids().is_empty());
}

#[test]
fn thinking_on_a_budget_model_sends_a_budget_and_streams_thinking() {
    // Claude goes to /v1/messages by default; this is the chat-completions dialect.
    let h = Harness::with(Setup {
        settings: serde_json::json!({"endpoint_preference": {"claude-sonnet-4": "/chat/completions"}}),
        ..Setup::default()
    });
    let mut req = request(vec![user("think it through")]);
    req.thinking_allowed = true;
    let events = h.chat("claude-sonnet-4", req).expect("chat");
    let body = h.sim.requests_to("/chat/completions")[0].json().expect("JSON");
    let budget = body["thinking_budget"].as_u64().expect("a thinking budget");
    assert!((1_024..=32_000).contains(&budget), "{budget}");
    assert!(body.get("reasoning_effort").is_none());
    assert!(events.iter().any(|e| matches!(e, CompletionEvent::Thinking(t) if !t.text.is_empty())), "{events:?}");
}
