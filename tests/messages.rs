//! The Anthropic Messages route (`POST {api}/v1/messages`, issue 11) end to end: the built
//! component under the host against the simulator, whose Claude models list `/v1/messages`
//! (`claude-sonnet-4` beside `/chat/completions`, `claude-haiku-4.5` alone). Routing and its
//! override, the request body and headers as recorded, streamed text, parallel tools, the
//! thinking round trip (the simulator refuses a signature it did not issue for that text),
//! images, cache breakpoints, `max_tokens`, errors and the 401 replay.

use copilot_chat_tests::*;
use copilot_host::{
    CompletionEvent, CompletionRequest, ImageData, MessageContent, MessageRole, ProviderError,
    RequestMessage, StopReason, ToolChoice, ToolResult, ToolResultContent, ToolUse,
};
use copilot_sim::{ChatScript, Fault, Route};
use serde_json::{json, Value};

const MESSAGES: &str = "/v1/messages";
const CHAT: &str = "/chat/completions";
const TOKEN_PATH: &str = "/copilot_internal/v2/token";
/// Lists `/chat/completions` and `/v1/messages`.
const BOTH: &str = "claude-sonnet-4";
/// Lists only `/v1/messages`.
const ONLY: &str = "claude-haiku-4.5";
/// A 1x1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn bodies(h: &Harness) -> Vec<Value> {
    h.sim.requests_to(MESSAGES).iter().map(|r| r.json().expect("JSON body")).collect()
}

fn last_body(h: &Harness) -> Value {
    bodies(h).pop().expect("a /v1/messages request")
}

fn msg(role: MessageRole, content: Vec<MessageContent>) -> RequestMessage {
    RequestMessage { role, content, cache: false }
}

fn tool_uses(events: &[CompletionEvent]) -> Vec<ToolUse> {
    events
        .iter()
        .filter_map(|e| match e {
            CompletionEvent::ToolUse(u) => Some(u.clone()),
            _ => None,
        })
        .collect()
}

fn details(h: &Harness) -> Value {
    h.ext.details(PROVIDER).expect("no trap").expect("details")
}

/// A scripted 200 SSE answer of Anthropic events (`event:` + `data:` lines).
fn anthropic_sse(events: &[Value]) -> ChatScript {
    let body: String = events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or("message")))
        .collect();
    ChatScript::status(200, body).with_header("content-type", "text/event-stream")
}

// ----- routing -----------------------------------------------------------------------------

#[test]
fn claude_models_are_offered_and_routed_to_messages_with_the_route_in_details() {
    let h = Harness::new();
    let ids = h.model_ids();
    assert!(ids.iter().any(|i| i == ONLY), "the messages-only model is offered: {ids:?}");
    let d = details(&h);
    for id in [BOTH, ONLY] {
        assert_eq!(d["models"][id]["endpoint"], json!(MESSAGES), "{id}: {d}");
        assert_eq!(d["models"][id]["endpoint_source"], json!("rule"), "{id}: {d}");
    }
    assert_eq!(d["models"]["gpt-4.1"]["endpoint"], json!(CHAT));
    assert_eq!(d["models"][BOTH]["endpoints"], json!([CHAT, MESSAGES]));

    for id in [BOTH, ONLY] {
        let events = h.chat(id, request(vec![user("hello")])).expect("chat");
        assert!(text_of(&events).contains("simulator"), "{events:?}");
    }
    assert_eq!(h.count(MESSAGES), 2);
    assert_eq!(h.count(CHAT), 0, "Claude never went to chat completions");
}

#[test]
fn the_endpoint_preference_overrides_the_rule_where_the_model_lists_it() {
    let h = Harness::with(Setup {
        settings: json!({"endpoint_preference": {BOTH: "/chat/completions", "*": "/responses"}}),
        ..Setup::default()
    });
    h.models().expect("models");
    let d = details(&h);
    assert_eq!(d["models"][BOTH]["endpoint"], json!(CHAT), "{d}");
    assert_eq!(d["models"][BOTH]["endpoint_source"], json!("setting"), "{d}");
    // `*` asks for /responses, which the haiku model does not list: the rule routes it.
    assert_eq!(d["models"][ONLY]["endpoint"], json!(MESSAGES), "{d}");
    assert_eq!(d["models"][ONLY]["endpoint_source"], json!("rule"), "{d}");

    h.chat(BOTH, request(vec![user("hello")])).expect("chat");
    h.chat(ONLY, request(vec![user("hello")])).expect("chat");
    assert_eq!((h.count(CHAT), h.count(MESSAGES)), (1, 1));
}

#[test]
fn a_bad_endpoint_preference_is_a_warning_and_the_rule_applies() {
    let h = Harness::with(Setup { settings: json!({"endpoint_preference": "/v2/chat"}), ..Setup::default() });
    h.chat(BOTH, request(vec![user("hello")])).expect("chat");
    assert_eq!(h.count(MESSAGES), 1);
    let logs = h.ext.logs().join("\n");
    assert!(logs.contains("`endpoint_preference` ignored"), "{logs}");
}

// ----- the request and streamed text --------------------------------------------------------

#[test]
fn text_streams_and_the_request_is_an_anthropic_body_with_copilot_headers() {
    let h = Harness::new();
    let mut req = request(vec![system("Be brief."), user("hello there")]);
    req.temperature = Some(0.2);
    req.stop_sequences = vec!["STOP".into()];
    let events = h.chat(BOTH, req).expect("chat");
    assert!(matches!(events.first(), Some(CompletionEvent::Started)), "{events:?}");
    assert!(matches!(events.last(), Some(CompletionEvent::Stop(StopReason::EndTurn))), "{events:?}");
    assert!(text_of(&events).contains("You said: \"hello there\""), "{events:?}");
    let usage = events.iter().find_map(|e| match e {
        CompletionEvent::Usage(u) => Some(u.clone()),
        _ => None,
    });
    let usage = usage.expect("usage");
    assert!(usage.input_tokens > 0 && usage.output_tokens > 0, "{usage:?}");
    assert_eq!(usage.cache_read_input_tokens, Some(0), "no breakpoint, nothing cached");

    let recorded = h.sim.requests_to(MESSAGES).pop().expect("request");
    let body = recorded.json().expect("JSON");
    assert_eq!(body["model"], json!(BOTH));
    assert_eq!(body["system"], json!([{"type": "text", "text": "Be brief."}]));
    assert_eq!(body["messages"], json!([{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]));
    assert_eq!(body["max_tokens"], json!(16_000), "the model's output limit");
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["temperature"], json!(0.2));
    assert_eq!(body["stop_sequences"], json!(["STOP"]));
    assert!(body.get("n").is_none() && body.get("thinking").is_none());
    assert_eq!(recorded.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(recorded.header("x-initiator"), Some("user"));
    assert_eq!(recorded.header("copilot-integration-id"), Some("vscode-chat"));
    assert!(recorded.header("editor-version").is_some());
    let bearer = recorded.bearer().expect("a bearer");
    assert!(bearer.starts_with("tid="), "the session token, not the OAuth token");
}

#[test]
fn max_tokens_comes_from_the_request_within_the_model_limit() {
    let h = Harness::new();
    let mut req = request(vec![user("hi")]);
    req.max_tokens = Some(100);
    h.chat(ONLY, req.clone()).expect("chat");
    assert_eq!(last_body(&h)["max_tokens"], json!(100));
    req.max_tokens = Some(1_000_000);
    h.chat(ONLY, req.clone()).expect("chat");
    assert_eq!(last_body(&h)["max_tokens"], json!(32_000));
    req.max_tokens = None;
    h.chat(ONLY, req).expect("chat");
    assert_eq!(last_body(&h)["max_tokens"], json!(32_000));
}

// ----- tools ---------------------------------------------------------------------------------

#[test]
fn parallel_tool_calls_and_their_results_round_trip() {
    let h = Harness::new();
    let mut req = request(vec![user("read two files")]);
    req.tools = vec![tool("read_file")];
    req.tool_choice = Some(ToolChoice::Auto);
    let events = h.chat(BOTH, req.clone()).expect("chat");
    let calls = tool_uses(&events);
    assert_eq!(calls.len(), 2, "{events:?}");
    assert_ne!(calls[0].id, calls[1].id);
    let inputs: Vec<Value> = calls.iter().map(|c| serde_json::from_str(&c.input).expect("JSON input")).collect();
    assert_eq!(inputs, [json!({"path": "path 1"}), json!({"path": "path 2"})]);
    assert!(calls.iter().all(|c| c.name == "read_file" && c.is_input_complete));
    assert!(matches!(events.last(), Some(CompletionEvent::Stop(StopReason::ToolUse))));
    let body = last_body(&h);
    assert_eq!(body["tools"][0]["name"], json!("read_file"));
    assert_eq!(body["tools"][0]["input_schema"]["required"], json!(["path"]));
    assert_eq!(body["tool_choice"], json!({"type": "auto"}));

    // The next turn returns both results; the simulator refuses a tool_use left unanswered.
    req.messages.push(msg(MessageRole::Assistant, calls.iter().cloned().map(MessageContent::ToolUse).collect()));
    req.messages.push(msg(
        MessageRole::User,
        calls
            .iter()
            .map(|c| {
                MessageContent::ToolResult(ToolResult {
                    tool_use_id: c.id.clone(),
                    tool_name: c.name.clone(),
                    is_error: false,
                    content: ToolResultContent::Text(format!("contents of {}", c.id)),
                })
            })
            .collect(),
    ));
    let events = h.chat(BOTH, req).expect("follow-up");
    assert!(text_of(&events).contains("simulator"), "{events:?}");
    let recorded = h.sim.requests_to(MESSAGES).pop().unwrap();
    assert_eq!(recorded.header("x-initiator"), Some("agent"), "a tool-result turn is not billed as a user turn");
    let body = recorded.json().unwrap();
    assert_eq!(body["messages"][1]["content"][0]["type"], json!("tool_use"));
    assert_eq!(body["messages"][1]["content"][1]["input"], json!({"path": "path 2"}));
    assert_eq!(
        body["messages"][2]["content"][1],
        json!({"type": "tool_result", "tool_use_id": calls[1].id, "content": format!("contents of {}", calls[1].id)})
    );
}

#[test]
fn an_unanswered_tool_use_gets_the_services_400_as_a_typed_error() {
    let h = Harness::new();
    let req = request(vec![
        user("go"),
        msg(
            MessageRole::Assistant,
            vec![MessageContent::ToolUse(ToolUse {
                id: "toolu_1".into(),
                name: "read_file".into(),
                input: "{}".into(),
                is_input_complete: true,
                thought_signature: None,
            })],
        ),
        user("and then?"),
    ]);
    match h.chat(BOTH, req) {
        Err(ProviderError::Upstream(info)) => {
            assert_eq!(info.status, 400);
            assert!(info.message.contains("`tool_use` ids were found without `tool_result`"), "{info:?}");
            assert!(info.request_id.is_some(), "the request id of the body or the headers");
        }
        other => panic!("expected a 400, got {other:?}"),
    }
    assert_eq!(h.count(MESSAGES), 1, "a 400 is not retried");
}

// ----- thinking ------------------------------------------------------------------------------

#[test]
fn thinking_round_trips_with_the_signature_received() {
    let h = Harness::new();
    let mut req = request(vec![user("think it through")]);
    req.thinking_allowed = true;
    let events = h.chat(BOTH, req.clone()).expect("chat");
    let body = last_body(&h);
    let budget = body["thinking"]["budget_tokens"].as_u64().expect("a thinking budget");
    assert_eq!(body["thinking"]["type"], json!("enabled"));
    assert!((1_024..16_000).contains(&budget), "{budget}");

    // What an editor keeps of the answer: the thinking pieces, the signature, the text.
    let mut kept = Vec::new();
    let mut thought = String::new();
    let mut signature = None;
    for e in &events {
        match e {
            CompletionEvent::Thinking(t) => {
                thought.push_str(&t.text);
                if t.signature.is_some() {
                    signature = t.signature.clone();
                }
                kept.push(MessageContent::Thinking(t.clone()));
            }
            CompletionEvent::Text(t) => kept.push(MessageContent::Text(t.clone())),
            _ => {}
        }
    }
    let signature = signature.expect("the thinking block's signature is delivered");
    assert!(!thought.is_empty());

    req.messages.push(msg(MessageRole::Assistant, kept));
    req.messages.push(user("go on"));
    h.chat(BOTH, req).expect("the simulator accepts the signature it issued");
    let body = last_body(&h);
    assert_eq!(
        body["messages"][1]["content"][0],
        json!({"type": "thinking", "thinking": thought, "signature": signature})
    );
    assert_eq!(body["messages"][1]["content"][1]["type"], json!("text"));
}

#[test]
fn a_tampered_signature_is_refused_by_the_service() {
    let h = Harness::new();
    let req = request(vec![
        user("hi"),
        msg(
            MessageRole::Assistant,
            vec![
                MessageContent::Thinking(copilot_host::ThinkingContent { text: "hmm".into(), signature: Some("sim-sig-forged".into()) }),
                MessageContent::Text("hello".into()),
            ],
        ),
        user("again"),
    ]);
    match h.chat(BOTH, req) {
        Err(ProviderError::Upstream(info)) => assert!(info.message.contains("signature"), "{info:?}"),
        other => panic!("expected a 400, got {other:?}"),
    }
}

// ----- images and caching ---------------------------------------------------------------------

#[test]
fn images_go_as_base64_sources_with_the_sniffed_type() {
    let h = Harness::new();
    let req = request(vec![msg(
        MessageRole::User,
        vec![
            MessageContent::Text("what is this?".into()),
            // Labelled JPEG by the editor, PNG by its bytes.
            MessageContent::Image(ImageData { source: format!("data:image/jpeg;base64,{PNG}"), width: None, height: None }),
        ],
    )]);
    h.chat(ONLY, req).expect("chat");
    let recorded = h.sim.requests_to(MESSAGES).pop().unwrap();
    let body = recorded.json().unwrap();
    assert_eq!(
        body["messages"][0]["content"][1],
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}})
    );
    assert_eq!(recorded.header("copilot-vision-request"), Some("true"));
}

#[test]
fn cache_flags_become_breakpoints_and_cache_reads_are_reported() {
    let h = Harness::new();
    let mut sys = system("You are a careful assistant with a long, stable prompt.");
    sys.cache = true;
    let mut first = user("first question about the project");
    first.cache = true;
    let req = request(vec![sys, first, msg(MessageRole::Assistant, vec![MessageContent::Text("an answer".into())]), user("next")]);
    let events = h.chat(BOTH, req).expect("chat");
    let body = last_body(&h);
    let ephemeral = json!({"type": "ephemeral"});
    assert_eq!(body["system"][0]["cache_control"], ephemeral);
    assert_eq!(body["messages"][0]["content"][0]["cache_control"], ephemeral);
    assert!(body["messages"][1]["content"][0].get("cache_control").is_none());
    assert!(body["messages"][2]["content"][0].get("cache_control").is_none());
    let cached = events.iter().find_map(|e| match e {
        CompletionEvent::Usage(u) => u.cache_read_input_tokens,
        _ => None,
    });
    assert!(cached.is_some_and(|n| n > 0), "{events:?}");

    // Five flags: only the last four are sent.
    let mut many: Vec<RequestMessage> = (0..5)
        .flat_map(|i| {
            let mut u = user(&format!("question {i}"));
            u.cache = true;
            [u, msg(MessageRole::Assistant, vec![MessageContent::Text(format!("answer {i}"))])]
        })
        .collect();
    many.push(user("last"));
    h.chat(BOTH, request(many)).expect("chat");
    let body = last_body(&h);
    assert_eq!(body.to_string().matches("cache_control").count(), 4);
    assert!(body["messages"][0]["content"][0].get("cache_control").is_none(), "the oldest goes");
    assert_eq!(body["messages"][2]["content"][0]["cache_control"], ephemeral);
}

// ----- errors and retries --------------------------------------------------------------------

#[test]
fn http_errors_are_typed() {
    let h = Harness::new();
    h.models().expect("models");
    let exchanges = h.count(TOKEN_PATH);

    h.sim.fault(
        Route::Messages,
        Fault::status(403, r#"{"type":"error","error":{"type":"permission_error","message":"not allowed here"},"request_id":"req_403"}"#),
        Some(1),
    );
    match h.chat(BOTH, request(vec![user("hi")])) {
        Err(ProviderError::Upstream(info)) => {
            assert_eq!(info.status, 403);
            assert!(info.request_id.is_some(), "{info:?}");
            assert!(info.message.contains("not allowed here"));
        }
        other => panic!("expected a 403, got {other:?}"),
    }
    assert_eq!(h.count(TOKEN_PATH), exchanges, "a provider's 403 is not a refused token");

    h.sim.fault(
        Route::Messages,
        Fault::status_with_headers(
            429,
            &[("retry-after", "17")],
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your rate limit"}}"#,
        ),
        Some(1),
    );
    match h.chat(BOTH, request(vec![user("hi")])) {
        Err(ProviderError::RateLimited(info)) => {
            assert_eq!(info.retry_after_secs, Some(17));
            assert_eq!(info.code.as_deref(), Some("rate_limit_error"));
        }
        other => panic!("expected rate-limited, got {other:?}"),
    }

    let before = h.count(MESSAGES);
    h.sim.fault(Route::Messages, Fault::status(529, r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#), Some(1));
    let events = h.chat(BOTH, request(vec![user("hi")])).expect("one overloaded answer is retried");
    assert!(text_of(&events).contains("simulator"));
    assert_eq!(h.count(MESSAGES) - before, 2);

    let before = h.count(MESSAGES);
    h.sim.fault(Route::Messages, Fault::status(500, "oops"), Some(2));
    match h.chat(BOTH, request(vec![user("hi")])) {
        Err(ProviderError::Upstream(info)) => assert_eq!(info.status, 500),
        other => panic!("expected a 500, got {other:?}"),
    }
    assert_eq!(h.count(MESSAGES) - before, 2, "retried once, then typed");
    h.chat(BOTH, request(vec![user("hi")])).expect("works again");
}

#[test]
fn a_mid_stream_error_event_ends_the_stream_after_what_was_shown() {
    let h = Harness::new();
    h.models().expect("models");
    h.sim.script_chat(anthropic_sse(&[
        json!({"type": "message_start", "message": {"usage": {"input_tokens": 5, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Partial answer"}}),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ]));
    let stream = h.ext.stream(PROVIDER, BOTH, request(vec![user("hi")])).expect("no trap").expect("stream");
    let mut shown = Vec::new();
    let mut failure = None;
    for item in stream {
        match item {
            Ok(e) => shown.push(e),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    assert_eq!(text_of(&shown), "Partial answer");
    match failure {
        Some(ProviderError::RateLimited(info)) => assert!(info.message.contains("Overloaded"), "{info:?}"),
        other => panic!("expected the overloaded error, got {other:?}"),
    }
    assert_eq!(h.count(MESSAGES), 1, "output was shown: no retry");
}

#[test]
fn a_refused_session_token_is_exchanged_again_and_the_request_replayed_once() {
    let h = Harness::new();
    h.models().expect("models");
    let exchanges = h.count(TOKEN_PATH);
    h.sim.fault(Route::Messages, Fault::status(401, "unauthorized: token expired"), Some(1));
    let events = h.chat(BOTH, request(vec![user("hi")])).expect("the replay succeeds");
    assert!(text_of(&events).contains("simulator"));
    assert_eq!(h.count(TOKEN_PATH), exchanges + 1, "one new exchange");
    let sent = h.sim.requests_to(MESSAGES);
    assert_eq!(sent.len(), 2);
    assert_ne!(sent[0].bearer(), sent[1].bearer(), "replayed with the fresh session token");
    assert_eq!(sent[0].body, sent[1].body, "the same request");

    // Refused twice: a typed error, no loop.
    h.sim.fault(Route::Messages, Fault::status(401, "unauthorized: token expired"), Some(2));
    assert!(matches!(h.chat(BOTH, request(vec![user("hi")])), Err(ProviderError::Unauthorized(_))));
}

#[test]
fn a_request_the_model_cannot_take_fails_before_sending() {
    let h = Harness::new();
    let req: CompletionRequest = request(vec![system("only a system prompt")]);
    assert!(matches!(h.chat(BOTH, req), Err(ProviderError::InvalidRequest(_))));
    assert_eq!(h.count(MESSAGES), 0);
}
