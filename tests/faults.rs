//! The fault matrix (issue 6, item 1): every fault a user meets on the token exchange, the
//! catalog and a chat stream ends in a typed error or a transparent recovery, never a trap,
//! in a bounded time (short request timeouts, no sleeping in the tests), and the next request
//! works.

use std::time::Duration;

use copilot_chat_tests::*;
use copilot_host::{ProviderError, StopReason};
use copilot_sim::{ChatScript, Fault, Route, Sim, SimConfig};
use serde_json::{json, Value};

const TOKEN_PATH: &str = "/copilot_internal/v2/token";
/// The request timeout of scenarios that stall: short, so a stall ends quickly.
const SHORT_TIMEOUT_SECS: u64 = 1;
/// Past the catalog's first backoff (30 s on the host clock) after a failed fetch.
const PAST_CATALOG_BACKOFF_SECS: u64 = 31;
/// Above the guest's SSE line limit (8 MiB).
const OVERLONG_LINE_BYTES: usize = 9 * 1024 * 1024;
/// Several megabytes, but below the line limit.
const LONG_LINE_BYTES: usize = 4 * 1024 * 1024;
/// The size of the huge catalog: below the extension's own limit for a catalog answer.
const HUGE_CATALOG_BYTES: usize = 12 * 1024 * 1024;
/// The extension's limit for a catalog answer (`MAX_CATALOG_BYTES` in `src/provider/instance.rs`).
const CATALOG_LIMIT_BYTES: usize = 16 * 1024 * 1024;

fn quick() -> Harness {
    Harness::with(Setup {
        settings: json!({"request_timeout_secs": SHORT_TIMEOUT_SECS}),
        ..Setup::default()
    })
}

fn default_model(h: &Harness) -> String {
    h.models()
        .expect("models")
        .into_iter()
        .find(|m| m.is_default)
        .expect("a default model")
        .id
}

/// The extension lives, and both a chat and a models call work.
fn assert_next_request_works(h: &Harness, model: &str) {
    assert_eq!(h.ext.restarts(), 0, "the instance trapped");
    let events = h
        .chat(model, request(vec![user("hello again")]))
        .expect("the next chat works");
    assert!(!text_of(&events).is_empty(), "{events:?}");
    assert!(!h.model_ids().is_empty());
}


fn sse_status(status: u16, headers: &[(&str, &str)], body: &[u8]) -> ChatScript {
    ChatScript::status(status, body).with_headers(headers)
}

fn text_chunk(text: &str) -> Value {
    json!({"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4.1",
           "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
}

fn finish_chunk() -> Value {
    json!({"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4.1",
           "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
}

/// The message of the network error `result` must be (the transport giving up: timeout, cut,
/// refused); anything else fails the test.
fn expect_network(result: Result<Vec<copilot_host::CompletionEvent>, ProviderError>, what: &str) -> String {
    match result {
        Err(ProviderError::Network(message)) => message,
        other => panic!("{what}: expected a network error, got {other:?}"),
    }
}

// ---- the token exchange ----

#[test]
fn exchange_401_is_unauthorized_then_recovers() {
    let h = Harness::new();
    h.sim.fault(Route::Token, Fault::bad_credentials(), None);
    match h.models() {
        Err(ProviderError::Unauthorized(info)) => assert_eq!(info.status, 401),
        other => panic!("expected unauthorized, got {other:?}"),
    }
    h.sim.clear_faults();
    let model = default_model(&h);
    assert_next_request_works(&h, &model);
}

#[test]
fn exchange_403_is_no_copilot_access_then_recovers() {
    let h = Harness::new();
    h.sim.fault(Route::Token, Fault::no_copilot_access(), None);
    match h.models() {
        Err(ProviderError::NoCopilotAccess(info)) => {
            assert_eq!(info.notification_id.as_deref(), Some("no_copilot_access"));
        }
        other => panic!("expected no-copilot-access, got {other:?}"),
    }
    h.sim.clear_faults();
    h.sim.fault(
        Route::Token,
        Fault::status(403, r#"{"message":"Resource not accessible by integration"}"#),
        None,
    );
    // A 403 from the exchange means this account gets no Copilot, envelope or not.
    match h.models() {
        Err(ProviderError::NoCopilotAccess(info)) => {
            assert!(info.message.contains("not accessible"), "{info:?}")
        }
        other => panic!("expected no-copilot-access, got {other:?}"),
    }
    h.sim.clear_faults();
    let model = default_model(&h);
    assert_next_request_works(&h, &model);
}

#[test]
fn exchange_429_is_rate_limited_with_the_wait() {
    let h = Harness::new();
    h.sim.fault(
        Route::Token,
        Fault::status_with_headers(
            429,
            &[("retry-after", "42")],
            r#"{"message":"API rate limit exceeded"}"#,
        ),
        None,
    );
    match h.models() {
        Err(ProviderError::RateLimited(info)) => assert_eq!(info.retry_after_secs, Some(42)),
        other => panic!("expected rate-limited, got {other:?}"),
    }
    h.sim.clear_faults();
    let model = default_model(&h);
    assert_next_request_works(&h, &model);
}

#[test]
fn exchange_404_and_5xx_fall_back_transparently() {
    assert_fallback_heals(vec![
        ("404", Fault::status(404, r#"{"message":"Not Found"}"#)),
        ("500", Fault::status(500, "internal error")),
        ("503", Fault::status(503, "<html>unavailable</html>")),
    ]);
}

#[test]
fn exchange_timeout_and_garbage_fall_back_transparently() {
    assert_fallback_heals(vec![
        ("timeout", Fault::Stall),
        ("garbage", Fault::Garbage),
        (
            "truncated JSON",
            Fault::status(200, r#"{"token":"tid=x;exp=1","expires_at":"#),
        ),
    ]);
}

/// Faults after which the extension falls back to the raw OAuth token for this request and
/// exchanges again on the next one.
fn assert_fallback_heals(faults: Vec<(&str, Fault)>) {
    for (what, fault) in faults {
        let h = quick();
        h.sim.fault(Route::Token, fault, Some(1));
        let ids = match h.models() {
            Ok(models) => models.into_iter().map(|m| m.id).collect::<Vec<_>>(),
            Err(e) => panic!("{what}: expected the fallback to serve the catalog, got {e:?}"),
        };
        assert!(!ids.is_empty(), "{what}");
        // The fallback went to the Copilot API with the OAuth token itself.
        let models_call = h.sim.requests_to("/models").pop().expect("a catalog request");
        assert_eq!(models_call.bearer(), Some(DEMO_OAUTH_TOKEN), "{what}");
        assert_eq!(h.ext.restarts(), 0, "{what}");
        // The fallback is not cached: the next call exchanges again, and gets the full catalog.
        h.clock.advance(PAST_CATALOG_BACKOFF_SECS);
        let full = h.model_ids();
        assert_eq!(h.sim.issued_session_tokens(), 1, "{what}");
        assert!(full.len() >= ids.len(), "{what}: {full:?} vs {ids:?}");
        let model = default_model(&h);
        assert_next_request_works(&h, &model);
        assert_eq!(h.count(TOKEN_PATH), 2, "{what}");
    }
}

// ---- the catalog ----

#[test]
fn models_5xx_then_success_heals_after_the_backoff() {
    let h = Harness::new();
    h.sim
        .fault(Route::Models, Fault::status(502, "bad gateway"), Some(1));
    match h.models() {
        Err(ProviderError::Upstream(info)) => assert_eq!(info.status, 502),
        other => panic!("expected an upstream error, got {other:?}"),
    }
    h.clock.advance(PAST_CATALOG_BACKOFF_SECS);
    let model = default_model(&h);
    assert_next_request_works(&h, &model);
}

#[test]
fn slow_models_within_the_timeout_succeed_and_past_it_time_out() {
    let h = Harness::with(Setup {
        settings: json!({"request_timeout_secs": 3}),
        ..Setup::default()
    });
    h.sim
        .fault(Route::Models, Fault::Delay(Duration::from_millis(500)), Some(1));
    assert!(!h.model_ids().is_empty());

    let h = quick();
    h.sim
        .fault(Route::Models, Fault::Delay(Duration::from_secs(3)), Some(1));
    match h.models() {
        Err(ProviderError::Network(m)) => assert!(m.contains("timed out"), "{m}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    h.clock.advance(PAST_CATALOG_BACKOFF_SECS);
    let model = default_model(&h);
    assert_next_request_works(&h, &model);
}

#[test]
fn malformed_models_are_a_typed_error_then_recover() {
    let bodies = [
        "this is not JSON",
        r#"{"data": [{"id": "gpt-4.1", "capabilities": "#,
        r#"{"data": 42}"#,
        r#"[1, 2, 3]"#,
    ];
    for body in bodies {
        let h = Harness::new();
        h.sim.fault(Route::Models, Fault::status(200, body), Some(1));
        match h.models() {
            Err(
                ProviderError::Upstream(_) | ProviderError::InvalidRequest(_) | ProviderError::Network(_),
            ) => {}
            other => panic!("{body}: expected a typed error, got {other:?}"),
        }
        assert_eq!(h.ext.restarts(), 0);
        h.clock.advance(PAST_CATALOG_BACKOFF_SECS);
        let model = default_model(&h);
        assert_next_request_works(&h, &model);
    }
}

/// The simulator's full catalog, fetched the way the extension would.
fn full_catalog(sim: &Sim) -> Value {
    let read = |url: String, auth: String| -> Value {
        let mut response = ureq::get(&url)
            .header("authorization", &auth)
            .header("editor-version", "vscode/1.104.1")
            .call()
            .expect("the simulator answers");
        let text = response.body_mut().read_to_string().expect("a text body");
        serde_json::from_str(&text).expect("JSON")
    };
    let envelope = read(
        format!("{}{TOKEN_PATH}", sim.url()),
        format!("token {DEMO_OAUTH_TOKEN}"),
    );
    let session = envelope["token"].as_str().expect("a session token").to_string();
    read(format!("{}/models", sim.url()), format!("Bearer {session}"))
}

/// Bytes of unknown-field padding per model in the huge catalog.
const PADDING_BYTES_PER_MODEL: usize = 1024 * 1024;

/// The real models, each carrying a megabyte of a field the extension does not know, until the
/// body passes `size` bytes (written by hand: serde in a debug build is slow at this).
fn padded_catalog(originals: &[Value], size: usize) -> String {
    let padding = "p".repeat(PADDING_BYTES_PER_MODEL);
    let mut entries: Vec<String> = Vec::new();
    let mut total = 0;
    while total < size {
        for model in originals {
            let text = model.to_string();
            let entry = format!(
                r#"{{"x_padding":"{padding}",{}"#,
                text.strip_prefix('{').unwrap_or(&text)
            );
            total += entry.len();
            entries.push(entry);
            if total >= size {
                break;
            }
        }
    }
    let body = format!(r#"{{"object":"list","data":[{}]}}"#, entries.join(","));
    assert!(body.len() >= size);
    body
}

#[test]
fn a_huge_catalog_is_parsed_without_a_trap() {
    let h = Harness::new();
    let catalog = full_catalog(&h.sim);
    let originals = catalog["data"].as_array().expect("data").clone();
    let body = padded_catalog(&originals, HUGE_CATALOG_BYTES);
    h.sim.fault(Route::Models, Fault::status(200, &body), Some(1));
    let ids = h.model_ids();
    let mut expected: Vec<&str> = originals.iter().filter_map(|m| m["id"].as_str()).collect();
    expected.dedup();
    assert!(ids.iter().all(|id| expected.contains(&id.as_str())), "{ids:?}");
    assert!(!ids.is_empty());
    let model = default_model(&h);
    assert_next_request_works(&h, &model);
}

#[test]
fn a_catalog_over_the_extensions_limit_is_a_typed_error_not_a_trap() {
    let h = Harness::new();
    let catalog = full_catalog(&h.sim);
    let originals = catalog["data"].as_array().expect("data").clone();
    let body = padded_catalog(&originals, CATALOG_LIMIT_BYTES + 1024 * 1024);
    h.sim.fault(Route::Models, Fault::status(200, &body), Some(1));
    match h.models() {
        Err(ProviderError::Network(message)) => assert!(
            message.contains(&format!("the model catalog answer was larger than {CATALOG_LIMIT_BYTES} bytes")),
            "{message}"
        ),
        other => panic!("expected a typed size error, got {other:?}"),
    }
    assert_eq!(h.ext.restarts(), 0, "no trap, no restart");
    h.clock.advance(PAST_CATALOG_BACKOFF_SECS);
    let model = default_model(&h);
    assert_next_request_works(&h, &model);
}

#[test]
fn a_40_mb_token_exchange_answer_is_a_typed_fallback_not_a_trap() {
    let h = Harness::new();
    let huge = format!(r#"{{"token":"{}","expires_at":1}}"#, "x".repeat(40 * 1024 * 1024));
    h.sim.fault(Route::Token, Fault::status(200, &huge), Some(1));
    // The exchange answer is refused by size; the extension falls back to the OAuth token
    // (a degraded catalog, but an answer) and says why in the log.
    let ids = h.model_ids();
    assert!(!ids.is_empty());
    assert_eq!(h.ext.restarts(), 0, "no trap, no restart");
    let logs = h.ext.logs().join("\n");
    assert!(logs.contains("the token exchange answer was larger than"), "{logs}");
    let model = default_model(&h);
    assert_next_request_works(&h, &model);
}

// ---- chat ----

#[test]
fn chat_5xx_is_retried_once_then_typed() {
    let h = Harness::new();
    let model = default_model(&h);
    // One 5xx: the immediate retry hides it.
    h.sim.script_chat(sse_status(500, &[], b"oops"));
    let events = h
        .chat(&model, request(vec![user("hi")]))
        .expect("the retry succeeds");
    assert!(!text_of(&events).is_empty());
    // Two in a row: a typed upstream error.
    for _ in 0..2 {
        h.sim.script_chat(sse_status(
            502,
            &[("x-request-id", "req-502")],
            b"<html>bad gateway</html>",
        ));
    }
    match h.chat(&model, request(vec![user("hi")])) {
        Err(ProviderError::Upstream(info)) => {
            assert_eq!(info.status, 502);
            assert_eq!(info.request_id.as_deref(), Some("req-502"));
        }
        other => panic!("expected an upstream error, got {other:?}"),
    }
    assert_next_request_works(&h, &model);
}

#[test]
fn chat_429_is_rate_limited_with_the_wait() {
    let h = Harness::new();
    let model = default_model(&h);
    h.sim.script_chat(sse_status(
        429,
        &[("retry-after", "17"), ("content-type", "application/json")],
        br#"{"error":{"message":"Sorry, you have been rate-limited.","code":"user_model_rate_limited"}}"#,
    ));
    match h.chat(&model, request(vec![user("hi")])) {
        Err(ProviderError::RateLimited(info)) => assert_eq!(info.retry_after_secs, Some(17)),
        other => panic!("expected rate-limited, got {other:?}"),
    }
    assert_next_request_works(&h, &model);
}

#[test]
fn chat_connection_refused_is_a_network_error_and_a_restarted_api_serves_again() {
    // A separate Copilot API the exchange points at, so it can go away alone.
    let api = Sim::start(SimConfig::default()).expect("start the Copilot API simulator");
    let api_url = api.url();
    let port: u16 = api_url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port");
    let h = Harness::with(Setup {
        sim: SimConfig {
            api_url: Some(api_url.clone()),
            ..SimConfig::default()
        },
        extra_http_hosts: vec![format!("127.0.0.1:{port}")],
        ..Setup::default()
    });
    api.trust_sessions_of(&h.sim);
    let model = default_model(&h);
    drop(api);
    let message = expect_network(h.chat(&model, request(vec![user("hi")])), "refused");
    assert!(message.contains("connection"), "{message}");
    assert_eq!(h.ext.restarts(), 0);

    let api = Sim::start_on_port(SimConfig::default(), port).expect("restart on the same port");
    api.trust_sessions_of(&h.sim);
    assert_next_request_works(&h, &model);
    assert!(!api.requests_to("/chat/completions").is_empty());
}

#[test]
fn chat_stall_before_the_first_byte_times_out() {
    let h = quick();
    let model = default_model(&h);
    h.sim.fault(Route::ChatCompletions, Fault::Stall, Some(1));
    let message = expect_network(h.chat(&model, request(vec![user("hi")])), "stall before headers");
    assert!(message.contains("timed out"), "{message}");
    assert_next_request_works(&h, &model);
}

#[test]
fn chat_stall_mid_stream_times_out() {
    let h = quick();
    let model = default_model(&h);
    let mut script = ChatScript::sse(
        &[text_chunk("partial "), text_chunk("answer"), finish_chunk()],
        true,
        0,
    );
    script.stall_after = Some(script.body.len() / 3);
    h.sim.script_chat(script);
    let message = expect_network(h.chat(&model, request(vec![user("hi")])), "stall mid-stream");
    assert!(message.contains("timed out"), "{message}");
    assert_next_request_works(&h, &model);
}

#[test]
fn chat_disconnect_mid_event_is_a_network_error() {
    let h = Harness::new();
    let model = default_model(&h);
    let mut script = ChatScript::sse(
        &[text_chunk("partial "), text_chunk("answer"), finish_chunk()],
        true,
        7,
    );
    // Cut inside the second event's JSON.
    let first = format!("data: {}\n\n", text_chunk("partial ")).len();
    script.cut_after = Some(first + 20);
    h.sim.script_chat(script);
    expect_network(h.chat(&model, request(vec![user("hi")])), "disconnect");
    assert_next_request_works(&h, &model);
}

#[test]
fn chat_truncated_chunk_is_a_network_error() {
    let h = Harness::new();
    let model = default_model(&h);
    let partial = format!("data: {}\n\ndata: {{\"choices\":[{{\"ind", text_chunk("hello"));
    h.sim.fault(
        Route::ChatCompletions,
        Fault::truncated_chunk("text/event-stream", partial.as_bytes(), partial.len() + 200),
        Some(1),
    );
    expect_network(h.chat(&model, request(vec![user("hi")])), "truncated chunk");
    assert_next_request_works(&h, &model);
}

#[test]
fn utf8_split_across_chunks_survives_and_invalid_bytes_spoil_one_character() {
    let h = Harness::new();
    let model = default_model(&h);
    let text = "héllo wörld 🦀 ∑";
    h.sim
        .script_chat(ChatScript::sse(&[text_chunk(text), finish_chunk()], true, 1));
    let events = h.chat(&model, request(vec![user("hi")])).expect("chat");
    assert_eq!(text_of(&events), text);

    // Invalid UTF-8 (a lead byte without its continuation, a stray continuation, 0xFF),
    // delivered a byte at a time: decoded lossily, the rest of the answer intact.
    let mut body = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\xC3(b\x80c\xFFd\"},\"finish_reason\":null}]}\n\n".to_vec();
    body.extend_from_slice(format!("data: {}\n\ndata: [DONE]\n\n", finish_chunk()).as_bytes());
    h.sim
        .script_chat(sse_status(200, &[("content-type", "text/event-stream")], &body).chunked(1));
    let events = h
        .chat(&model, request(vec![user("hi")]))
        .expect("a lossy decode, not an error");
    assert_eq!(text_of(&events), "a\u{FFFD}(b\u{FFFD}c\u{FFFD}d");
    assert!(
        matches!(
            events.last(),
            Some(copilot_host::CompletionEvent::Stop(StopReason::EndTurn))
        ),
        "{events:?}"
    );
    assert_next_request_works(&h, &model);
}

#[test]
fn a_line_of_several_megabytes_is_fine_below_the_limit_and_typed_above_it() {
    let h = Harness::new();
    let model = default_model(&h);
    let long = "a".repeat(LONG_LINE_BYTES);
    h.sim.script_chat(ChatScript::sse(
        &[text_chunk(&long), finish_chunk()],
        true,
        64 * 1024,
    ));
    let events = h
        .chat(&model, request(vec![user("hi")]))
        .expect("a long line below the limit");
    assert_eq!(text_of(&events).len(), LONG_LINE_BYTES);

    let overlong = "b".repeat(OVERLONG_LINE_BYTES);
    h.sim.script_chat(ChatScript::sse(
        &[text_chunk(&overlong), finish_chunk()],
        true,
        64 * 1024,
    ));
    match h.chat(&model, request(vec![user("hi")])) {
        // Said as it is (issue 12): not "could not reach the Copilot service".
        Err(error @ ProviderError::Upstream(_)) => {
            let shown = copilot_host::output::display_error(&error);
            assert!(shown.contains("event line larger than 8 MiB"), "{shown}");
            assert!(!shown.contains("Could not reach"), "{shown}");
        }
        other => panic!(
            "expected a typed error for an overlong line, got {:?}",
            other.map(|e| e.len())
        ),
    }
    assert_next_request_works(&h, &model);
}

/// A chat answer that repeats `piece` until the client gives up ends in a typed error, and
/// the next request works.
fn assert_endless_answer_is_a_typed_error(piece: &[u8]) {
    let h = Harness::new();
    let model = default_model(&h);
    h.sim
        .fault(Route::ChatCompletions, Fault::Endless(piece.repeat(4096)), Some(1));
    match h.chat(&model, request(vec![user("hi")])) {
        Err(ProviderError::Upstream(_) | ProviderError::Network(_) | ProviderError::InvalidRequest(_)) => {}
        other => panic!("expected a typed error, got {:?}", other.map(|e| e.len())),
    }
    assert_next_request_works(&h, &model);
}

#[test]
fn an_endless_stream_without_newlines_ends_in_a_typed_error() {
    assert_endless_answer_is_a_typed_error(b"data: x");
}

#[test]
fn an_endless_event_of_data_lines_ends_in_a_typed_error() {
    // Every line ends, but the event never does: its data would grow without bound.
    assert_endless_answer_is_a_typed_error(b"data: xxxxxxxxxxxxxxxxxxxxxxxxxx\n");
}

#[test]
fn a_huge_error_body_is_read_only_in_part() {
    let h = Harness::new();
    let model = default_model(&h);
    let html = format!("<html>{}</html>", "overloaded ".repeat(2 * 1024 * 1024));
    for _ in 0..2 {
        h.sim
            .script_chat(sse_status(503, &[("content-type", "text/html")], html.as_bytes()));
    }
    match h.chat(&model, request(vec![user("hi")])) {
        Err(ProviderError::Upstream(info)) => {
            assert_eq!(info.status, 503);
            assert!(
                info.message.len() < 64 * 1024,
                "{} bytes of message",
                info.message.len()
            );
        }
        other => panic!("expected an upstream error, got {:?}", other.map(|e| e.len())),
    }
    assert_next_request_works(&h, &model);
}

/// The `/responses` endpoint (models that only speak it) shares the stream machinery; its
/// faults end the same way.
#[test]
fn responses_stall_cut_and_endless_streams_end_in_typed_errors() {
    const RESPONSES_MODEL: &str = "gpt-5";
    let h = quick();
    assert!(h.model_ids().iter().any(|id| id == RESPONSES_MODEL));
    let faults = [
        ("stall", Fault::Stall),
        (
            "truncated chunk",
            Fault::truncated_chunk("text/event-stream", b"event: response.created\ndata: {\"ty", 300),
        ),
        ("endless", Fault::Endless(b"data: ".repeat(8192))),
    ];
    for (what, fault) in faults {
        h.sim.fault(Route::Responses, fault, Some(1));
        match h.chat(RESPONSES_MODEL, request(vec![user("hi")])) {
            Err(
                ProviderError::Network(_) | ProviderError::Upstream(_) | ProviderError::InvalidRequest(_),
            ) => {}
            other => panic!("{what}: expected a typed error, got {:?}", other.map(|e| e.len())),
        }
        assert_eq!(h.ext.restarts(), 0, "{what}");
        let events = h
            .chat(RESPONSES_MODEL, request(vec![user("again")]))
            .expect("the next request works");
        assert!(!text_of(&events).is_empty(), "{what}");
    }
}

#[test]
fn chat_empty_or_malformed_http_replies_are_typed_errors() {
    let h = Harness::new();
    let model = default_model(&h);
    let replies: [(&str, &[u8]); 3] = [
        ("closed without a reply", b""),
        ("not HTTP", b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        (
            "a bad chunk size",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\ndata: x\r\n",
        ),
    ];
    for (what, raw) in replies {
        h.sim
            .fault(Route::ChatCompletions, Fault::Raw(raw.to_vec()), Some(1));
        match h.chat(&model, request(vec![user("hi")])) {
            Err(ProviderError::Network(_) | ProviderError::Upstream(_)) => {}
            other => panic!("{what}: expected a typed error, got {other:?}"),
        }
        assert_next_request_works(&h, &model);
    }
}

#[test]
fn an_exchange_naming_an_api_off_the_copilot_domains_is_not_followed() {
    // Issue 12: an `endpoints.api` that is neither https on a Copilot/GitHub domain nor on
    // loopback beside the simulator is not used; the default base (here the simulator) is.
    let h = Harness::new();
    let envelope = json!({
        "token": "tid=elsewhere;exp=4000000000:mac",
        "expires_at": 4_000_000_000u64,
        "refresh_in": 1500,
        "endpoints": {"api": "http://copilot.attacker.example:8080"},
    });
    h.sim.fault(Route::Token, Fault::status(200, &envelope.to_string()), Some(1));
    let models = h.models();
    let logs = h.ext.logs().join("\n");
    assert!(
        logs.contains("copilot.attacker.example") && logs.contains("not used"),
        "the refusal is logged: {logs}"
    );
    assert!(models.is_ok(), "{models:?}");
    let model = default_model(&h);
    assert_next_request_works(&h, &model);
}
