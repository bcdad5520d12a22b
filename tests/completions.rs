//! Completions with full fidelity through the component (issue 5): the billing and vision
//! headers, images of every type and the checks against the model, reasoning round trips,
//! each failure as one typed error, the expired session replayed once, bounded retry, and
//! quota snapshots in the settings markdown. Every test asserts on the recorded requests as
//! well as on the events.

use copilot_chat_tests::*;
use copilot_host::{
    CompletionEvent, ImageData, MessageContent, MessageRole, ProviderError, RequestMessage,
    StopReason, StreamPoll, ToolResult, ToolResultContent, ToolUse,
};
use copilot_sim::{ChatScript, Fault, Route};
use serde_json::{json, Value};

const CHAT: &str = "/chat/completions";
const TOKEN: &str = "/copilot_internal/v2/token";
/// The default model of the simulator: vision (PNG, JPEG, GIF, WebP up to 3 MiB), tools.
const VISION_MODEL: &str = "gpt-4.1";
/// A simulator model without vision.
const PLAIN_MODEL: &str = "gpt-4o-mini";

const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==";
const JPEG_B64: &str = "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=";
const GIF_B64: &str = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
const WEBP_B64: &str = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==";

fn script(status: u16, headers: &[(&str, &str)], body: &str) -> ChatScript {
    ChatScript::status(status, body).with_headers(headers).chunked(4096)
}

fn image(source: &str) -> MessageContent {
    MessageContent::Image(ImageData {
        source: source.into(),
        width: None,
        height: None,
    })
}

fn message(role: MessageRole, content: Vec<MessageContent>) -> RequestMessage {
    RequestMessage {
        role,
        content,
        cache: false,
    }
}

fn chat_bodies(h: &Harness) -> Vec<Value> {
    h.sim
        .requests_to(CHAT)
        .iter()
        .map(|r| r.json().expect("JSON body"))
        .collect()
}

fn initiators(h: &Harness) -> Vec<String> {
    h.sim
        .requests_to(CHAT)
        .iter()
        .map(|r| r.header("x-initiator").unwrap_or("-").to_string())
        .collect()
}

// ----- billing and vision headers ------------------------------------------------------------

#[test]
fn a_five_step_tool_loop_bills_exactly_one_user_turn() {
    let h = Harness::new();
    let mut req = request(vec![user("read the files one by one")]);
    req.tools = vec![tool("read_file")];
    for step in 0..5 {
        let events = h.chat(VISION_MODEL, req.clone()).expect("chat");
        let uses: Vec<ToolUse> = events
            .iter()
            .filter_map(|e| match e {
                CompletionEvent::ToolUse(u) => Some(u.clone()),
                _ => None,
            })
            .collect();
        // Follow up with the results of whatever the model asked for (or a made-up call when it
        // answered in text), as an agent loop does.
        let uses = if uses.is_empty() {
            vec![ToolUse {
                id: format!("call_{step}"),
                name: "read_file".into(),
                input: r#"{"path":"x"}"#.into(),
                is_input_complete: true,
                thought_signature: None,
            }]
        } else {
            uses
        };
        let results = uses
            .iter()
            .map(|u| {
                MessageContent::ToolResult(ToolResult {
                    tool_use_id: u.id.clone(),
                    tool_name: u.name.clone(),
                    is_error: false,
                    content: ToolResultContent::Text(format!("contents for {}", u.id)),
                })
            })
            .collect();
        req.messages.push(message(
            MessageRole::Assistant,
            uses.into_iter().map(MessageContent::ToolUse).collect(),
        ));
        req.messages.push(message(MessageRole::User, results));
    }
    assert_eq!(initiators(&h), ["user", "agent", "agent", "agent", "agent"]);
    let last = chat_bodies(&h).pop().expect("a request");
    let roles: Vec<&str> = last["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(roles.first(), Some(&"user"));
    assert!(
        roles.contains(&"tool") && roles.contains(&"assistant"),
        "{roles:?}"
    );
    assert!(
        !roles[1..].contains(&"user"),
        "tool results became tool messages: {roles:?}"
    );
    // A new typed message after the loop is a user turn again.
    let mut next = req.clone();
    next.messages.push(user("thanks, now summarise"));
    h.chat(VISION_MODEL, next).expect("chat");
    assert_eq!(initiators(&h).last().map(String::as_str), Some("user"));
}

#[test]
fn images_of_every_type_carry_their_media_type_and_the_vision_header() {
    let h = Harness::new();
    h.chat(VISION_MODEL, request(vec![user("no picture")]))
        .expect("chat");
    let content = vec![
        MessageContent::Text("compare these".into()),
        image(PNG_B64),
        image(JPEG_B64),
        image(GIF_B64),
        image(&format!("data:image/png;base64,{WEBP_B64}")),
    ];
    h.chat(
        VISION_MODEL,
        request(vec![message(MessageRole::User, content)]),
    )
    .expect("chat");
    let sent = h.sim.requests_to(CHAT);
    assert_eq!(
        sent[0].header("copilot-vision-request"),
        None,
        "no image, no vision header"
    );
    assert_eq!(sent[1].header("copilot-vision-request"), Some("true"));
    let body = sent[1].json().expect("JSON");
    let urls: Vec<&str> = body["messages"][0]["content"]
        .as_array()
        .expect("content parts")
        .iter()
        .filter_map(|p| p["image_url"]["url"].as_str())
        .collect();
    assert_eq!(
        urls,
        [
            format!("data:image/png;base64,{PNG_B64}"),
            format!("data:image/jpeg;base64,{JPEG_B64}"),
            format!("data:image/gif;base64,{GIF_B64}"),
            format!("data:image/webp;base64,{WEBP_B64}"),
        ]
    );
    assert_eq!(
        body["messages"][0]["content"][0],
        json!({"type": "text", "text": "compare these"})
    );
}

#[test]
fn an_image_in_a_tool_result_sets_the_vision_header() {
    let h = Harness::new();
    let call = ToolUse {
        id: "shot_1".into(),
        name: "screenshot".into(),
        input: "{}".into(),
        is_input_complete: true,
        thought_signature: None,
    };
    let result = ToolResult {
        tool_use_id: "shot_1".into(),
        tool_name: "screenshot".into(),
        is_error: false,
        content: ToolResultContent::Image(ImageData {
            source: PNG_B64.into(),
            width: None,
            height: None,
        }),
    };
    let req = request(vec![
        user("take a screenshot"),
        message(MessageRole::Assistant, vec![MessageContent::ToolUse(call)]),
        message(MessageRole::User, vec![MessageContent::ToolResult(result)]),
    ]);
    h.chat(VISION_MODEL, req).expect("chat");
    let sent = &h.sim.requests_to(CHAT)[0];
    assert_eq!(sent.header("copilot-vision-request"), Some("true"));
    assert_eq!(sent.header("x-initiator"), Some("agent"));
    let body = sent.json().expect("JSON");
    assert_eq!(body["messages"][2]["role"], json!("tool"));
    assert_eq!(body["messages"][2]["tool_call_id"], json!("shot_1"));
    assert_eq!(
        body["messages"][2]["content"][0]["image_url"]["url"],
        json!(format!("data:image/png;base64,{PNG_B64}"))
    );
}

#[test]
fn images_the_model_cannot_take_are_refused_before_sending() {
    let h = Harness::new();
    let with_image = || {
        request(vec![message(
            MessageRole::User,
            vec![MessageContent::Text("what is this?".into()), image(PNG_B64)],
        )])
    };
    match h.chat(PLAIN_MODEL, with_image()) {
        Err(ProviderError::InvalidRequest(m)) => {
            assert!(m.contains("gpt-4o-mini does not accept images"), "{m}")
        }
        other => panic!("expected invalid-request, got {other:?}"),
    }
    // 3 MiB is the simulator's limit; this one decodes to a little more.
    let too_large = format!("{PNG_B64}{}", "A".repeat(4 * 1024 * 1024 + 64));
    match h.chat(
        VISION_MODEL,
        request(vec![message(MessageRole::User, vec![image(&too_large)])]),
    ) {
        Err(ProviderError::InvalidRequest(m)) => {
            assert!(m.contains("more than the 3145728 bytes"), "{m}")
        }
        other => panic!("expected invalid-request, got {other:?}"),
    }
    assert_eq!(h.count(CHAT), 0, "nothing was sent");
}

// ----- reasoning -----------------------------------------------------------------------------

#[test]
fn reasoning_round_trips_into_the_next_request() {
    let h = Harness::new();
    let chunk = |delta: Value, finish: Value| json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    h.sim.script_chat(ChatScript::sse(
        &[
            chunk(json!({"role": "assistant", "reasoning_text": "The user greets; "}), json!(null)),
            chunk(json!({"reasoning_text": "answer briefly."}), json!(null)),
            chunk(json!({"reasoning_opaque": "OPAQUE+/=="}), json!(null)),
            chunk(json!({"content": "Hi!"}), json!("stop")),
            json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13, "prompt_tokens_details": {"cached_tokens": 8}}}),
        ],
        true,
        7,
    ));
    let events = h
        .chat(VISION_MODEL, request(vec![user("hello")]))
        .expect("chat");
    let thinking: String = events
        .iter()
        .filter_map(|e| match e {
            CompletionEvent::Thinking(t) => Some(t.text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(thinking, "The user greets; answer briefly.");
    let details = events
        .iter()
        .find_map(|e| match e {
            CompletionEvent::ReasoningDetails(d) => Some(d.clone()),
            _ => None,
        })
        .expect("opaque reasoning is delivered");
    assert!(
        events.iter().any(
            |e| matches!(e, CompletionEvent::Usage(u) if u.cache_read_input_tokens == Some(8))
        ),
        "{events:?}"
    );

    let mut next = request(vec![
        user("hello"),
        message(
            MessageRole::Assistant,
            vec![
                MessageContent::Thinking(copilot_host::ThinkingContent {
                    text: thinking.clone(),
                    signature: None,
                }),
                MessageContent::RedactedThinking(details),
                MessageContent::Text("Hi!".into()),
            ],
        ),
        user("and now?"),
    ]);
    next.thinking_allowed = true;
    h.chat(VISION_MODEL, next).expect("chat");
    let body = chat_bodies(&h).pop().expect("second request");
    assert_eq!(body["messages"][1]["reasoning_text"], json!(thinking));
    assert_eq!(body["messages"][1]["reasoning_opaque"], json!("OPAQUE+/=="));
    assert_eq!(body["messages"][1]["content"], json!("Hi!"));
    assert!(
        body.get("reasoning_effort").is_none(),
        "gpt-4.1 lists no effort levels"
    );
}

// ----- typed errors --------------------------------------------------------------------------

#[test]
fn rate_limit_with_retry_after_in_seconds() {
    let h = Harness::new();
    h.sim.script_chat(script(
        429,
        &[("retry-after", "17"), ("x-request-id", "rl-1")],
        r#"{"error":{"message":"Sorry, you have been rate-limited.","code":"user_model_rate_limited"}}"#,
    ));
    match h.chat(VISION_MODEL, request(vec![user("hi")])) {
        Err(ProviderError::RateLimited(info)) => {
            assert_eq!(info.retry_after_secs, Some(17));
            assert_eq!(info.code.as_deref(), Some("user_model_rate_limited"));
            assert!(
                info.message.contains("rate-limited")
                    && info.message.contains("pick another model"),
                "{}",
                info.message
            );
            assert!(info.message.contains("request id rl-1"), "{}", info.message);
        }
        other => panic!("expected rate-limited, got {other:?}"),
    }
    assert_eq!(h.count(CHAT), 1, "a 17 s wait is not retried automatically");
}

#[test]
fn rate_limit_with_retry_after_as_an_http_date() {
    let h = Harness::new();
    let at = h.clock.now_unix() + 600;
    h.sim.script_chat(script(
        429,
        &[("retry-after", &http_date(at))],
        r#"{"error":{"message":"slow down","code":"rate_limited"}}"#,
    ));
    match h.chat(VISION_MODEL, request(vec![user("hi")])) {
        Err(ProviderError::RateLimited(info)) => {
            let secs = info.retry_after_secs.expect("seconds from the date");
            assert!((590..=600).contains(&secs), "{secs}");
        }
        other => panic!("expected rate-limited, got {other:?}"),
    }
}

#[test]
fn a_zero_wait_rate_limit_and_a_server_error_are_retried_once() {
    let h = Harness::new();
    h.sim.script_chat(script(
        429,
        &[("retry-after", "0")],
        r#"{"error":{"message":"try again","code":"rate_limited"}}"#,
    ));
    let events = h
        .chat(VISION_MODEL, request(vec![user("hi")]))
        .expect("answer after the retry");
    assert!(!text_of(&events).is_empty());
    assert_eq!(h.count(CHAT), 2);

    h.sim.clear_requests();
    h.sim.fault(
        Route::ChatCompletions,
        Fault::status(502, "<html>Bad Gateway</html>"),
        Some(1),
    );
    assert!(h.chat(VISION_MODEL, request(vec![user("hi")])).is_ok());
    let sent = h.sim.requests_to(CHAT);
    assert_eq!(sent.len(), 2);
    assert_ne!(
        sent[0].header("x-request-id"),
        sent[1].header("x-request-id"),
        "each attempt has its own id"
    );
    assert_eq!(sent[0].body, sent[1].body);

    h.sim.clear_requests();
    h.sim.fault(
        Route::ChatCompletions,
        Fault::status(500, r#"{"error":{"message":"internal error"}}"#),
        Some(2),
    );
    match h.chat(VISION_MODEL, request(vec![user("hi")])) {
        Err(ProviderError::Upstream(info)) => {
            assert_eq!(info.status, 500);
            assert_eq!(info.message, "internal error");
            assert!(
                info.request_id.is_some(),
                "the simulator's request id is kept"
            );
        }
        other => panic!("expected upstream, got {other:?}"),
    }
    assert_eq!(h.count(CHAT), 2, "one retry only");
}

#[test]
fn a_short_rate_limit_is_retried_once_at_its_time_on_the_host_clock() {
    let h = Harness::new();
    h.sim.script_chat(script(
        429,
        &[("retry-after", "2")],
        r#"{"error":{"message":"slow down","code":"rate_limited"}}"#,
    ));
    let stream = h
        .ext
        .stream(PROVIDER, VISION_MODEL, request(vec![user("hi")]))
        .expect("no trap")
        .expect("the stream is handed out at once; the refusal comes with the polls");
    // The polls read the 429 and plan the retry (the guest logs it); no poll sends it again
    // before the retry time.
    while !h
        .ext
        .logs()
        .iter()
        .any(|l| l.contains("rate-limited before any output"))
    {
        match h.ext.poll_stream_id(stream.id()) {
            Ok(Ok(StreamPoll::Pending)) => {}
            other => panic!("the refused stream is pending until its retry, got {other:?}"),
        }
        assert!(h.count(CHAT) <= 1, "nothing is sent again at once");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(h.count(CHAT), 1, "nothing is sent again at once");
    if let Ok(Ok(StreamPoll::Pending)) = h.ext.poll_stream_id(stream.id()) {
        assert_eq!(h.count(CHAT), 1, "a pending poll sends nothing");
    }
    // Move the host clock past the retry time instead of sleeping.
    h.clock.advance(2);
    let events: Vec<CompletionEvent> = stream
        .collect::<Result<_, _>>()
        .expect("one answer and no error");
    assert!(!text_of(&events).is_empty(), "{events:?}");
    let sent = h.sim.requests_to(CHAT);
    assert_eq!(sent.len(), 2, "exactly one retry");
    assert!(
        sent[1].at >= sent[0].at + 2,
        "the retry was sent at {} before the retry time {} + 2 on the host clock",
        sent[1].at,
        sent[0].at
    );
    assert_eq!(sent[0].body, sent[1].body);
}

#[test]
fn quota_exceeded_is_typed_with_guidance() {
    let h = Harness::new();
    h.sim.script_chat(script(
        402,
        &[("retry-after", "86400")],
        r#"{"error":{"message":"You have exceeded your monthly premium request allowance.","code":"quota_exceeded"}}"#,
    ));
    match h.chat(VISION_MODEL, request(vec![user("hi")])) {
        Err(ProviderError::QuotaExceeded(info)) => {
            assert_eq!(info.code.as_deref(), Some("quota_exceeded"));
            assert_eq!(info.retry_after_secs, Some(86_400));
            assert!(
                info.message.starts_with("You have exceeded"),
                "{}",
                info.message
            );
            assert!(
                info.message.contains("premium requests"),
                "{}",
                info.message
            );
        }
        other => panic!("expected quota-exceeded, got {other:?}"),
    }
    assert_eq!(h.count(CHAT), 1);
}

#[test]
fn context_too_long_carries_limit_and_actual() {
    let h = Harness::new();
    h.sim.script_chat(script(
        400,
        &[],
        r#"{"error":{"message":"prompt token count of 306234 exceeds the limit of 272000","code":"model_max_prompt_tokens_exceeded"}}"#,
    ));
    match h.chat(VISION_MODEL, request(vec![user("a long story")])) {
        Err(ProviderError::ContextTooLong(info)) => {
            assert_eq!((info.actual, info.limit), (Some(306_234), Some(272_000)))
        }
        other => panic!("expected context-too-long, got {other:?}"),
    }
    h.sim.script_chat(script(
        400,
        &[],
        r#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens.","code":"context_length_exceeded"}}"#,
    ));
    match h.chat(VISION_MODEL, request(vec![user("a long story")])) {
        Err(ProviderError::ContextTooLong(info)) => {
            assert_eq!((info.actual, info.limit), (Some(131_072), Some(128_000)))
        }
        other => panic!("expected context-too-long, got {other:?}"),
    }
}

// ----- expired session mid-session -----------------------------------------------------------

#[test]
fn an_expired_session_mid_session_is_exchanged_and_replayed_once() {
    let h = Harness::new();
    h.chat(VISION_MODEL, request(vec![user("first")]))
        .expect("first answer");
    assert_eq!(h.count(TOKEN), 1);
    h.sim.fault(
        Route::ChatCompletions,
        Fault::status(
            401,
            r#"{"error":{"message":"unauthorized: token expired","code":"unauthorized"}}"#,
        ),
        Some(1),
    );
    let events = h
        .chat(VISION_MODEL, request(vec![user("second")]))
        .expect("one answer, no error");
    assert!(
        matches!(
            events.last(),
            Some(CompletionEvent::Stop(StopReason::EndTurn))
        ),
        "{events:?}"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, CompletionEvent::Started))
            .count(),
        1
    );
    assert_eq!(h.count(TOKEN), 2, "exactly one more exchange");
    let sent = h.sim.requests_to(CHAT);
    assert_eq!(sent.len(), 3);
    assert_ne!(
        sent[1].bearer(),
        sent[2].bearer(),
        "the replay uses the new session token"
    );
    assert_eq!(sent[1].body, sent[2].body, "the same request is replayed");
}

#[test]
fn a_403_without_the_copilot_envelope_is_also_a_stale_session() {
    let h = Harness::new();
    h.sim.fault(
        Route::ChatCompletions,
        Fault::status(403, "Forbidden"),
        Some(1),
    );
    let events = h
        .chat(VISION_MODEL, request(vec![user("hi")]))
        .expect("one answer, no error");
    assert!(!text_of(&events).is_empty());
    assert_eq!((h.count(CHAT), h.count(TOKEN)), (2, 2));
}

#[test]
fn gemini_thought_signatures_round_trip() {
    let h = Harness::new();
    h.sim.script_chat(ChatScript::sse(
        &[
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "g_1", "type": "function",
                "function": {"name": "read_file", "arguments": "{\"path\":\"a.rs\"}", "thought_signature": "GEMINI-SIG=="}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        ],
        true,
        5,
    ));
    let mut req = request(vec![user("read a.rs")]);
    req.tools = vec![tool("read_file")];
    let events = h.chat("gemini-2.5-pro", req.clone()).expect("chat");
    let call = events
        .iter()
        .find_map(|e| match e {
            CompletionEvent::ToolUse(u) => Some(u.clone()),
            _ => None,
        })
        .expect("a tool call");
    assert_eq!(call.thought_signature.as_deref(), Some("GEMINI-SIG=="));
    req.messages.push(message(
        MessageRole::Assistant,
        vec![MessageContent::ToolUse(call)],
    ));
    req.messages.push(message(
        MessageRole::User,
        vec![MessageContent::ToolResult(ToolResult {
            tool_use_id: "g_1".into(),
            tool_name: "read_file".into(),
            is_error: false,
            content: ToolResultContent::Text("fn main() {}".into()),
        })],
    ));
    h.chat("gemini-2.5-pro", req).expect("chat");
    let body = chat_bodies(&h).pop().expect("request");
    assert_eq!(
        body["messages"][1]["tool_calls"][0]["function"]["thought_signature"],
        json!("GEMINI-SIG==")
    );
    assert_eq!(
        body["messages"][2],
        json!({"role": "tool", "tool_call_id": "g_1", "content": "fn main() {}"})
    );
}

#[test]
fn a_second_refusal_is_unauthorized() {
    let h = Harness::new();
    h.sim.fault(
        Route::ChatCompletions,
        Fault::status(
            401,
            r#"{"error":{"message":"unauthorized: token expired"}}"#,
        ),
        Some(2),
    );
    match h.chat(VISION_MODEL, request(vec![user("hi")])) {
        Err(ProviderError::Unauthorized(info)) => assert_eq!(info.status, 401),
        other => panic!("expected unauthorized, got {other:?}"),
    }
    assert_eq!(h.count(CHAT), 2, "replayed once, not looped");
    assert_eq!(h.count(TOKEN), 2);
}

// ----- stream endings ------------------------------------------------------------------------

#[test]
fn an_error_object_mid_stream_is_an_upstream_error() {
    let h = Harness::new();
    h.sim.script_chat(ChatScript::sse(
        &[
            json!({"choices": [{"index": 0, "delta": {"content": "Partial"}, "finish_reason": null}]}),
            json!({"choices": null, "error": {"message": "Sorry, the model failed to answer.", "code": "server_error"}}),
        ],
        false,
        4096,
    ));
    match h.chat(VISION_MODEL, request(vec![user("hi")])) {
        Err(ProviderError::Upstream(info)) => {
            assert_eq!(info.status, 500);
            assert_eq!(info.message, "Sorry, the model failed to answer.");
        }
        other => panic!("expected upstream, got {other:?}"),
    }
    assert_eq!(h.count(CHAT), 1, "output had started: no retry");
}

#[test]
fn content_filter_is_a_refusal() {
    let h = Harness::new();
    h.sim.script_chat(ChatScript::sse(
        &[json!({"choices": [{"index": 0, "delta": {"content": "I can"}, "finish_reason": "content_filter"}]})],
        true,
        4096,
    ));
    let events = h
        .chat(VISION_MODEL, request(vec![user("hi")]))
        .expect("chat");
    assert!(
        matches!(
            events.last(),
            Some(CompletionEvent::Stop(StopReason::Refusal))
        ),
        "{events:?}"
    );
}

// ----- quota ---------------------------------------------------------------------------------

#[test]
fn quota_shows_in_the_settings_markdown_from_the_account_then_from_answers() {
    let h = Harness::new();
    let markdown = || {
        h.ext
            .settings_markdown(PROVIDER)
            .expect("no trap")
            .expect("markdown")
    };
    // A fresh instance (as `doctor` is) asks the account's plan view once.
    let before = markdown();
    assert!(
        before.contains("* Premium requests: 87.5% left of 300 (262), resets 2026-12-01\n"),
        "{before}"
    );
    markdown();
    let asked = h.sim.requests_to("/copilot_internal/user");
    assert_eq!(asked.len(), 1, "asked once");
    assert_eq!(
        asked[0].bearer(),
        Some(DEMO_OAUTH_TOKEN),
        "with the OAuth token"
    );
    // Every completion answer brings fresher numbers in its headers.
    h.chat(VISION_MODEL, request(vec![user("hi")]))
        .expect("chat");
    let after = markdown();
    assert!(
        after.contains("* Premium requests: 87.5% left of 300 (262), resets 2026-12-01T00:00:00Z"),
        "{after}"
    );
    assert!(after.contains("* Chat: unlimited"), "{after}");
    assert_eq!(h.count("/copilot_internal/user"), 1);
}

// ----- helpers -------------------------------------------------------------------------------

/// `secs` (unix) as an IMF-fixdate, e.g. `Sun, 29 Nov 2026 02:00:00 GMT`.
fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (mut year, mut day_of_year) = (1970u64, days);
    loop {
        let len = if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 {
            366
        } else {
            365
        };
        if day_of_year < len {
            break;
        }
        day_of_year -= len;
        year += 1;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let lengths = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut month = 0;
    while day_of_year >= lengths[month] {
        day_of_year -= lengths[month];
        month += 1;
    }
    format!(
        "{}, {:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day_of_year + 1,
        MONTHS[month],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[test]
fn http_date_helper_matches_a_known_date() {
    assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(http_date(1_795_917_600), "Sun, 29 Nov 2026 02:00:00 GMT");
}

// ----- request options (issue 13) ------------------------------------------------------------

/// A request that sets every option the contract carries (those `endpoint` can take).
fn with_options(endpoint: &str) -> copilot_host::CompletionRequest {
    let mut r = request(vec![user("answer in JSON")]);
    r.tools = vec![copilot_host::ToolDefinition {
        name: "look".into(),
        description: "look around".into(),
        input_schema: r#"{"type":"object"}"#.into(),
    }];
    r.top_p = Some(0.5);
    r.parallel_tool_calls = Some(false);
    if endpoint != "/v1/messages" {
        r.response_format = Some(copilot_host::ResponseFormat::JsonSchema(copilot_host::JsonSchemaFormat {
            name: "out".into(),
            schema: r#"{"type":"object","properties":{"a":{"type":"string"}}}"#.into(),
            strict: Some(true),
            description: None,
        }));
    }
    if endpoint == CHAT {
        r.seed = Some(11);
        r.presence_penalty = Some(0.25);
        r.frequency_penalty = Some(0.75);
    }
    r
}

#[test]
fn every_endpoint_maps_the_request_options_into_its_body() {
    let h = Harness::new();
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});

    h.chat(VISION_MODEL, with_options(CHAT)).expect("chat");
    let body = chat_bodies(&h).pop().expect("a chat request");
    assert_eq!(body["response_format"], json!({"type": "json_schema", "json_schema": {"name": "out", "strict": true, "schema": schema}}));
    assert_eq!(
        [&body["top_p"], &body["seed"], &body["presence_penalty"], &body["frequency_penalty"], &body["parallel_tool_calls"]],
        [&json!(0.5), &json!(11), &json!(0.25), &json!(0.75), &json!(false)],
        "{body}"
    );

    let mut responses = with_options("/responses");
    responses.thinking_allowed = true;
    responses.reasoning_effort = Some("high".into());
    h.chat("gpt-5", responses).expect("responses");
    let body = h.sim.requests_to("/responses")[0].json().expect("JSON");
    assert_eq!(body["text"], json!({"format": {"type": "json_schema", "name": "out", "strict": true, "schema": schema}}));
    assert_eq!((&body["top_p"], &body["parallel_tool_calls"]), (&json!(0.5), &json!(false)), "{body}");
    assert_eq!(body["reasoning"]["effort"], "high");

    h.chat("claude-sonnet-4", with_options("/v1/messages")).expect("messages");
    let body = h.sim.requests_to("/v1/messages")[0].json().expect("JSON");
    assert_eq!(body["top_p"], json!(0.5), "{body}");
    assert_eq!(body["tool_choice"], json!({"type": "auto", "disable_parallel_tool_use": true}));
}

#[test]
fn an_option_the_endpoint_cannot_take_is_a_typed_error_naming_it() {
    let h = Harness::new();
    let mut seeded = request(vec![user("hi")]);
    seeded.seed = Some(1);
    for model in ["gpt-5", "claude-sonnet-4"] {
        match h.chat(model, seeded.clone()) {
            Err(ProviderError::InvalidRequest(message)) => assert!(message.contains("`seed`"), "{model}: {message}"),
            other => panic!("{model}: {other:?}"),
        }
    }
    let mut effort = request(vec![user("hi")]);
    effort.thinking_allowed = true;
    effort.reasoning_effort = Some("high".into());
    match h.chat(VISION_MODEL, effort) {
        Err(ProviderError::InvalidRequest(message)) => assert!(message.contains("reasoning effort"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.count(CHAT) + h.count("/responses") + h.count("/v1/messages"), 0, "nothing was sent");
}
