//! Provider-level tests of the completion path against a fake host: bounded automatic retry,
//! `retry-after` with the host clock, quota snapshots in the settings markdown, and image
//! checks before anything is sent. (Kept apart from `instance.rs`'s own tests so the
//! completion work and the stream routing can change independently.)

use std::cell::Cell;
use std::rc::Rc;

use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionEvent, CompletionRequest, ImageData, MessageContent,
};
use crate::error::Error;
use crate::host_api::HttpRequest;
use crate::provider::instance::Provider;
use crate::provider::stream::Step;
use crate::testing::{json_response, request_header, FakeHost, MemoryStream, StreamStep};

const OAUTH: &str = "ghu_completionTest00000000000000000000";
const EXCHANGE: &str = "https://api.github.com/copilot_internal/v2/token";
const API: &str = "https://api.test.githubcopilot.com";
/// 2026-11-29 02:00:00 UTC.
const NOW: u64 = 1_795_917_600;
const PREMIUM: &str = "ent=300&rem=87.5&ov=0&ovPerm=false&rst=2026-12-01T00:00:00Z";

fn chat_url() -> String {
    format!("{API}/chat/completions")
}

fn host() -> FakeHost {
    let host = FakeHost::new().with_env("GH_COPILOT_TOKEN", OAUTH).at(NOW);
    host.route(EXCHANGE, |_| {
        Ok(json_response(
            200,
            &format!(
                r#"{{"token":"tid=t;exp=1795920000:mac","expires_at":1795920000,"refresh_in":1500,"endpoints":{{"api":"{API}"}}}}"#
            ),
        ))
    });
    host.route(&format!("{API}/models"), |_| {
        Ok(json_response(
            200,
            r#"{"data":[
                {"id":"gpt-4.1","name":"GPT-4.1","is_chat_default":true,"supported_endpoints":["/chat/completions"],
                 "capabilities":{"type":"chat","limits":{"max_output_tokens":100,
                    "vision":{"max_prompt_image_size":64,"supported_media_types":["image/png","image/jpeg"]}},
                    "supports":{"tool_calls":true,"vision":true}}},
                {"id":"gpt-4o-mini","name":"GPT-4o mini","supported_endpoints":["/chat/completions"],
                 "capabilities":{"type":"chat","supports":{"tool_calls":true}}}]}"#,
        ))
    });
    host
}

fn answer() -> MemoryStream {
    answer_with(vec![])
}

fn answer_with(headers: Vec<(String, String)>) -> MemoryStream {
    let body = [
        r#"{"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":"stop"}]}"#,
        "[DONE]",
    ]
    .iter()
    .map(|l| format!("data: {l}\n\n"))
    .collect::<String>();
    MemoryStream::new(200, headers, vec![StreamStep::Data(body.into_bytes())])
}

fn failure(status: u16, headers: &[(&str, &str)], body: &str) -> MemoryStream {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    MemoryStream::new(
        status,
        headers,
        vec![StreamStep::Data(body.as_bytes().to_vec())],
    )
}

/// Routes chat requests to `replies` in order (the last one repeats) and counts them.
fn script(host: &FakeHost, replies: Vec<fn() -> MemoryStream>) -> Rc<Cell<usize>> {
    let calls = Rc::new(Cell::new(0));
    let seen = calls.clone();
    host.route_stream(&chat_url(), move |_| {
        let n = seen.get();
        seen.set(n + 1);
        let reply = replies.get(n).or(replies.last()).copied().unwrap_or(answer);
        Ok(Box::new(reply()))
    });
    calls
}

use crate::testing::{hello, user_request as user};

fn run(
    p: &mut Provider,
    host: &FakeHost,
    model: &str,
    req: &CompletionRequest,
) -> Result<Vec<CompletionEvent>, Error> {
    let id = p.start_stream(host, model, req)?;
    let mut events = Vec::new();
    loop {
        match p.step(host, &id, true)? {
            Step::Event(e) => events.push(e),
            Step::Pending => {}
            Step::Finished => return Ok(events),
        }
    }
}

fn chat_requests(host: &FakeHost) -> Vec<HttpRequest> {
    host.requests()
        .into_iter()
        .filter(|r| r.url == chat_url())
        .collect()
}

#[test]
fn a_server_error_before_output_is_retried_once_with_a_new_request_id() {
    let host = host();
    let calls = script(&host, vec![|| failure(502, &[], "bad gateway"), answer]);
    let events =
        run(&mut Provider::new(), &host, "gpt-4.1", &hello()).expect("answer after one retry");
    assert!(events
        .iter()
        .any(|e| matches!(e, CompletionEvent::Text(t) if t == "Hello")));
    assert_eq!(calls.get(), 2);
    let sent = chat_requests(&host);
    let ids: Vec<_> = sent
        .iter()
        .map(|r| request_header(r, "x-request-id"))
        .collect();
    assert!(ids[0].is_some() && ids[0] != ids[1], "{ids:?}");
    assert_eq!(sent[0].body, sent[1].body, "the same request is replayed");
}

/// A 502 whose headers are slow and whose body arrives in two pieces with a pause between.
fn slow_bad_gateway() -> MemoryStream {
    let steps = vec![
        StreamStep::Data(br#"{"error":{"message":"bad "#.to_vec()),
        StreamStep::Pending,
        StreamStep::Data(br#"gateway"}}"#.to_vec()),
    ];
    MemoryStream::new(502, vec![], steps).not_ready_for(2)
}

#[test]
fn polls_wait_for_slow_headers_and_error_bodies_then_retry_a_server_error_in_place() {
    let host = host();
    let calls = script(&host, vec![slow_bad_gateway, answer]);
    let mut p = Provider::new();
    let id = p.start_stream(&host, "gpt-4.1", &hello()).expect("sent");
    assert_eq!(calls.get(), 1);
    // Two polls before the headers, one while the error body is cut by a pause: nothing is
    // classified (nor sent again) until the body is whole.
    for _ in 0..3 {
        assert!(matches!(p.step(&host, &id, false), Ok(Step::Pending)));
        assert_eq!(calls.get(), 1);
    }
    let mut events = Vec::new();
    loop {
        match p.step(&host, &id, false).expect("answer after one retry") {
            Step::Event(e) => events.push(e),
            Step::Pending => {}
            Step::Finished => break,
        }
    }
    assert!(events
        .iter()
        .any(|e| matches!(e, CompletionEvent::Text(t) if t == "Hello")));
    assert_eq!(calls.get(), 2);
    assert!(host
        .logs()
        .iter()
        .any(|(_, m)| m.contains("bad gateway") && m.contains("retrying")));
    assert_eq!(p.open_streams(), 0);
}

#[test]
fn a_second_server_error_is_surfaced_with_its_request_id() {
    let host = host();
    let calls = script(
        &host,
        vec![|| {
            failure(
                503,
                &[("x-request-id", "srv-1")],
                r#"{"error":{"message":"overloaded"}}"#,
            )
        }],
    );
    match run(&mut Provider::new(), &host, "gpt-4.1", &hello()) {
        Err(Error::Upstream(u)) => {
            assert_eq!(
                (u.status, u.message.as_str(), u.request_id.as_deref()),
                (503, "overloaded", Some("srv-1"))
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(calls.get(), 2, "one retry, no more");
}

#[test]
fn a_rate_limit_without_wait_is_retried_and_one_with_a_wait_is_surfaced() {
    let host = host();
    let calls = script(
        &host,
        vec![|| failure(429, &[("retry-after", "0")], "slow"), answer],
    );
    assert!(run(&mut Provider::new(), &host, "gpt-4.1", &hello()).is_ok());
    assert_eq!(calls.get(), 2);

    let host = self::host();
    let calls = script(
        &host,
        vec![|| {
            failure(
                429,
                &[("retry-after", "30")],
                r#"{"error":{"message":"slow down","code":"user_global_rate_limited"}}"#,
            )
        }],
    );
    match run(&mut Provider::new(), &host, "gpt-4.1", &hello()) {
        Err(Error::RateLimited {
            retry_after_secs,
            code,
            message,
        }) => {
            assert_eq!(
                (retry_after_secs, code.as_deref()),
                (Some(30), Some("user_global_rate_limited"))
            );
            assert!(
                message.starts_with("slow down; your account is rate limited"),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(calls.get(), 1, "a real wait is the user's to take");
}

#[test]
fn retry_after_as_a_date_uses_the_host_clock() {
    let host = host();
    script(
        &host,
        vec![|| {
            failure(
                429,
                &[("Retry-After", "Sun, 29 Nov 2026 02:01:30 GMT")],
                "busy",
            )
        }],
    );
    let mut p = Provider::new();
    assert!(matches!(
        run(&mut p, &host, "gpt-4.1", &hello()),
        Err(Error::RateLimited {
            retry_after_secs: Some(90),
            ..
        })
    ));
    host.advance(60);
    assert!(matches!(
        run(&mut p, &host, "gpt-4.1", &hello()),
        Err(Error::RateLimited {
            retry_after_secs: Some(30),
            ..
        })
    ));
}

#[test]
fn quota_headers_show_in_the_settings_markdown_and_survive_answers_without_them() {
    let host = host();
    let mut p = Provider::new();
    assert!(!p.settings_markdown(&host).contains("Quota"));
    script(
        &host,
        vec![|| {
            answer_with(vec![(
                "x-quota-snapshot-premium_interactions".into(),
                PREMIUM.into(),
            )])
        }],
    );
    run(&mut p, &host, "gpt-4.1", &hello()).expect("answer");
    let md = p.settings_markdown(&host);
    assert!(
        md.contains("* Premium requests: 87.5% left of 300 (262), resets 2026-12-01T00:00:00Z"),
        "{md}"
    );

    script(&host, vec![answer]);
    run(&mut p, &host, "gpt-4.1", &hello()).expect("answer");
    assert!(
        p.settings_markdown(&host).contains("87.5% left"),
        "kept when an answer has no quota headers"
    );

    script(
        &host,
        vec![|| {
            failure(
                402,
                &[(
                    "x-quota-snapshot-premium_interactions",
                    "ent=300&rem=0&ov=0&ovPerm=false&rst=2026-12-01T00:00:00Z",
                )],
                r#"{"error":{"message":"You have exceeded your premium request allowance.","code":"quota_exceeded"}}"#,
            )
        }],
    );
    assert!(matches!(
        run(&mut p, &host, "gpt-4.1", &hello()),
        Err(Error::QuotaExceeded { .. })
    ));
    assert!(
        p.settings_markdown(&host).contains("0% left of 300 (0)"),
        "an error answer updates it too"
    );
}

#[test]
fn images_are_checked_before_anything_is_sent() {
    let host = host();
    let calls = script(&host, vec![answer]);
    let png = "iVBORw0KGgoAAAANSUhEUg==";
    let with_image = user(vec![
        MessageContent::Text("what is this?".into()),
        MessageContent::Image(ImageData {
            source: png.into(),
            width: None,
            height: None,
        }),
    ]);
    let mut p = Provider::new();
    match run(&mut p, &host, "gpt-4o-mini", &with_image) {
        Err(Error::InvalidRequest(m)) => assert!(m.contains("does not accept images"), "{m}"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(calls.get(), 0);
    run(&mut p, &host, "gpt-4.1", &with_image).expect("a vision model takes it");
    let sent = chat_requests(&host);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        request_header(&sent[0], "copilot-vision-request"),
        Some("true")
    );
    let too_big = user(vec![MessageContent::Image(ImageData {
        source: format!("{png}{}", "A".repeat(100)),
        width: None,
        height: None,
    })]);
    assert!(
        matches!(run(&mut p, &host, "gpt-4.1", &too_big), Err(Error::InvalidRequest(m)) if m.contains("more than the 64 bytes"))
    );
}

// ----- the waited retry of a short rate limit (see `retry`) ---------------------------------

fn limited_2s() -> MemoryStream {
    failure(429, &[("retry-after", "2")], r#"{"error":{"message":"slow down","code":"rate_limited"}}"#)
}

#[test]
fn a_short_rate_limit_is_waited_out_on_the_host_clock_without_blocking() {
    let host = host();
    let calls = script(&host, vec![limited_2s, answer]);
    let mut p = Provider::new();
    let id = p.start_stream(&host, "gpt-4.1", &hello()).expect("handed out, retry planned");
    assert_eq!(calls.get(), 1);
    // Polls answer pending (and send nothing) until the host clock reaches the retry time.
    for _ in 0..2 {
        assert!(matches!(p.step(&host, &id, false), Ok(Step::Pending)));
        assert_eq!(calls.get(), 1);
        assert_eq!(p.open_streams(), 1);
        host.advance(1);
    }
    let mut events = Vec::new();
    loop {
        match p.step(&host, &id, false).expect("answer after the waited retry") {
            Step::Event(e) => events.push(e),
            Step::Pending => {}
            Step::Finished => break,
        }
    }
    assert!(events.iter().any(|e| matches!(e, CompletionEvent::Text(t) if t == "Hello")));
    assert_eq!(calls.get(), 2);
    let sent = chat_requests(&host);
    assert_eq!(sent[0].body, sent[1].body, "the same request is sent again");
    assert_ne!(request_header(&sent[0], "x-request-id"), request_header(&sent[1], "x-request-id"));
    assert_eq!(p.open_streams(), 0);
}

#[test]
fn the_blocking_form_waits_for_the_retry_time_on_the_host_clock() {
    let host = host();
    let calls = script(&host, vec![limited_2s, answer]);
    let events = run(&mut Provider::new(), &host, "gpt-4.1", &hello()).expect("answer");
    assert!(events.iter().any(|e| matches!(e, CompletionEvent::Text(_))));
    assert_eq!(calls.get(), 2);
    assert!(host.clock.get() >= NOW + 2, "the fake clock moved through the pauses");
}

#[test]
fn a_second_short_rate_limit_is_surfaced_and_closing_a_waiting_stream_sends_nothing() {
    let host = host();
    let calls = script(&host, vec![limited_2s]);
    let mut p = Provider::new();
    match run(&mut p, &host, "gpt-4.1", &hello()) {
        Err(Error::RateLimited { retry_after_secs, .. }) => assert_eq!(retry_after_secs, Some(2)),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(calls.get(), 2, "one waited retry, no more");
    assert_eq!(p.open_streams(), 0, "the failed stream is freed");

    let id = p.start_stream(&host, "gpt-4.1", &hello()).expect("handed out");
    assert_eq!(p.open_streams(), 1);
    p.close_stream(&id).expect("close");
    host.advance(10);
    assert!(matches!(p.step(&host, &id, false), Ok(Step::Finished)));
    assert_eq!(calls.get(), 3, "the abandoned retry was never sent");
    assert_eq!(p.open_streams(), 0);
}
