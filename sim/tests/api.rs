//! The simulator over real loopback HTTP: exchange, catalog by token kind, expiry, the
//! enterprise integration-id rule, chat streams, scripts and faults.

mod client;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use client::{open, read_reply, send, Reply};
use copilot_sim::{ChatScript, Fault, Route, Sim, SimConfig, DEMO_OAUTH_TOKEN};
use serde_json::{json, Value};

const TOKEN_PATH: &str = "/copilot_internal/v2/token";
const EDITOR: (&str, &str) = ("Editor-Version", "copilot-host/0.1.0");
const INTEGRATION: (&str, &str) = ("Copilot-Integration-Id", "copilot-chat-sim-test");
const START: u64 = 1_750_000_000;

/// A simulator whose clock the test moves.
fn sim_with_clock(enterprise: bool) -> (Sim, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(START));
    let clock = Arc::clone(&now);
    let config = SimConfig {
        enterprise,
        clock: Arc::new(move || clock.load(Ordering::SeqCst)),
        ..SimConfig::default()
    };
    (Sim::start(config).expect("sim starts"), now)
}

fn sim() -> Sim {
    Sim::start(SimConfig::default()).expect("sim starts")
}

fn exchange(sim: &Sim) -> Value {
    let auth = format!("token {DEMO_OAUTH_TOKEN}");
    let reply = send(
        &sim.url(),
        "GET",
        TOKEN_PATH,
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

fn session_token(sim: &Sim) -> String {
    exchange(sim)["token"].as_str().expect("token").to_string()
}

fn get_models(sim: &Sim, bearer: &str, extra: &[(&str, &str)]) -> Reply {
    let auth = format!("Bearer {bearer}");
    let mut headers = vec![("Authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    send(&sim.url(), "GET", "/models", &headers, b"")
}

fn model_ids(reply: &Reply) -> Vec<String> {
    reply.json()["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_string())
        .collect()
}

/// A simulator and a session token it issued for the demo OAuth token.
fn signed_in() -> (Sim, String) {
    let sim = sim();
    let token = session_token(&sim);
    (sim, token)
}

/// `POST /chat/completions` with [`chat_body`] for `model`.
fn chat(sim: &Sim, token: &str, model: &str, stream: bool) -> Reply {
    post_json(sim, "/chat/completions", token, &chat_body(model, stream))
}

/// Sends a streamed chat request on its own connection without reading the answer.
fn open_chat(sim: &Sim, token: &str) -> std::net::TcpStream {
    let auth = format!("Bearer {token}");
    let body = chat_body("gpt-4.1", true).to_string();
    open(
        &sim.url(),
        "POST",
        "/chat/completions",
        &[("Authorization", &auth), EDITOR],
        body.as_bytes(),
    )
}

fn post_json(sim: &Sim, path: &str, bearer: &str, body: &Value) -> Reply {
    let auth = format!("Bearer {bearer}");
    let headers = [
        ("Authorization", auth.as_str()),
        EDITOR,
        ("Content-Type", "application/json"),
    ];
    send(
        &sim.url(),
        "POST",
        path,
        &headers,
        body.to_string().as_bytes(),
    )
}

/// Waits until the simulator has recorded `n` requests to `path` (requests on other
/// connections race; this orders them). A generous cap turns a bug into a failure.
fn wait_for_requests(sim: &Sim, path: &str, n: usize) {
    for _ in 0..60_000 {
        if sim.requests_to(path).len() >= n {
            return;
        }
        thread::sleep(Duration::from_millis(1));
    }
    panic!("the simulator never received request {n} to {path}");
}

fn chat_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
    })
}

// ---- token exchange -------------------------------------------------------------------

#[test]
fn exchange_issues_unique_session_tokens_with_a_realistic_envelope() {
    let (sim, _) = sim_with_clock(false);
    let first = exchange(&sim);
    let token = first["token"].as_str().unwrap();
    let expected_prefix = format!(
        "tid=sim1;exp={};sku=copilot_for_business_seat;proxy-ep=proxy.sim;st=dotcom;chat=1:",
        START + 1800
    );
    assert!(token.starts_with(&expected_prefix), "{token}");
    let mac = &token[expected_prefix.len()..];
    assert!(
        !mac.is_empty() && mac.chars().all(|c| c.is_ascii_hexdigit()),
        "{mac}"
    );
    assert_eq!(first["expires_at"], START + 1800);
    assert_eq!(first["refresh_in"], 1500);
    assert_eq!(first["endpoints"]["api"], sim.url());
    for key in ["proxy", "telemetry", "origin-tracker"] {
        assert!(first["endpoints"][key].is_string(), "{key}");
    }
    assert_eq!(first["chat_enabled"], true);
    assert!(first["sku"].is_string());

    let auth = format!("Bearer {DEMO_OAUTH_TOKEN}");
    let second = send(
        &sim.url(),
        "GET",
        TOKEN_PATH,
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(second.status, 200);
    assert!(second.header("x-github-request-id").is_some());
    assert_ne!(second.json()["token"], first["token"]);
    assert!(second.json()["token"]
        .as_str()
        .unwrap()
        .starts_with("tid=sim2;"));
    assert_eq!(sim.issued_session_tokens(), 2);
    assert_eq!(sim.requests_to(TOKEN_PATH).len(), 2);
    assert_eq!(
        sim.requests_to(TOKEN_PATH)[1].bearer(),
        Some(DEMO_OAUTH_TOKEN)
    );
}

#[test]
fn exchange_rejects_unknown_or_missing_tokens() {
    let sim = sim();
    for headers in [vec![("Authorization", "token ghu_unknown")], vec![]] {
        let reply = send(&sim.url(), "GET", TOKEN_PATH, &headers, b"");
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.json(),
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        );
        assert!(reply.header("x-github-request-id").is_some());
    }
    assert_eq!(sim.issued_session_tokens(), 0);
}

#[test]
fn refresh_in_can_be_omitted_and_ttl_configured() {
    let config = SimConfig {
        refresh_in_secs: None,
        token_ttl_secs: 60,
        clock: Arc::new(|| 1000),
        ..SimConfig::default()
    };
    let sim = Sim::start(config).unwrap();
    let envelope = exchange(&sim);
    assert!(envelope.get("refresh_in").is_none());
    assert_eq!(envelope["expires_at"], 1060);
}

// ---- catalog ---------------------------------------------------------------------------

#[test]
fn session_token_gets_the_full_catalog_and_raw_oauth_the_degraded_one() {
    let (sim, token) = signed_in();
    let full = get_models(&sim, &token, &[EDITOR]);
    assert_eq!(full.status, 200);
    assert_eq!(full.json()["object"], "list");
    let ids = model_ids(&full);
    for id in [
        "gpt-4.1",
        "gpt-4o-mini",
        "claude-sonnet-4",
        "gemini-2.5-pro",
        "gpt-5",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
    }
    let data = full.json()["data"].clone();
    let gpt41 = data
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "gpt-4.1")
        .unwrap()
        .clone();
    assert_eq!(gpt41["is_chat_default"], true);
    assert_eq!(gpt41["billing"]["is_premium"], false);
    assert!(gpt41["capabilities"]["limits"]["max_prompt_tokens"].is_u64());

    let degraded = get_models(&sim, DEMO_OAUTH_TOKEN, &[EDITOR]);
    assert_eq!(degraded.status, 200);
    assert_eq!(model_ids(&degraded), vec!["gpt-4o-mini".to_string()]);
}

#[test]
fn models_require_a_known_token_and_an_editor_version() {
    let sim = sim();
    let reply = get_models(&sim, "ghu_unknown", &[EDITOR]);
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["code"], "unauthorized");
    let reply = send(&sim.url(), "GET", "/models", &[EDITOR], b"");
    assert_eq!(reply.status, 401);

    let token = session_token(&sim);
    let reply = get_models(&sim, &token, &[]);
    assert_eq!(reply.status, 400);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(
        reply.text(),
        "bad request: missing Editor-Version header for IDE auth"
    );
}

#[test]
fn session_tokens_expire_by_the_injected_clock() {
    let (sim, now) = sim_with_clock(false);
    let token = session_token(&sim);
    now.store(START + 1799, Ordering::SeqCst);
    assert_eq!(get_models(&sim, &token, &[EDITOR]).status, 200);
    now.store(START + 1800, Ordering::SeqCst);
    let expired = get_models(&sim, &token, &[EDITOR]);
    assert_eq!(expired.status, 401);
    assert_eq!(
        expired.json(),
        json!({"error": {"message": "unauthorized: token expired", "code": "unauthorized"}})
    );
    let fresh = session_token(&sim);
    assert_eq!(get_models(&sim, &fresh, &[EDITOR]).status, 200);
}

#[test]
fn forged_session_token_is_rejected() {
    let sim = sim();
    let real = session_token(&sim);
    let forged = real.replace("tid=sim1", "tid=sim9");
    assert_eq!(get_models(&sim, &forged, &[EDITOR]).status, 401);
}

#[test]
fn enterprise_requires_integration_id_with_session_tokens_and_omits_fields() {
    let (sim, _) = sim_with_clock(true);
    let token = session_token(&sim);
    let missing = get_models(&sim, &token, &[EDITOR]);
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.json(),
        json!({"error": {"message": "missing required Copilot-Integration-Id header", "code": "bad_request"}})
    );
    let chat = chat(&sim, &token, "gpt-4.1", true);
    assert_eq!(chat.status, 400);

    let ok = get_models(&sim, &token, &[EDITOR, INTEGRATION]);
    assert_eq!(ok.status, 200);
    let data = ok.json()["data"].as_array().unwrap().clone();
    assert!(data.len() > 1);
    assert!(data
        .iter()
        .all(|m| m.get("billing").is_none() && m.get("is_chat_fallback").is_none()));
    assert!(data
        .iter()
        .any(|m| m["capabilities"].get("supports").is_none()));

    // The raw OAuth token is not held to the rule, but only sees the degraded catalog.
    let raw = get_models(&sim, DEMO_OAUTH_TOKEN, &[EDITOR]);
    assert_eq!(raw.status, 200);
    assert_eq!(model_ids(&raw), vec!["gpt-4o-mini".to_string()]);
}

#[test]
fn policy_can_be_enabled() {
    let (sim, token) = signed_in();
    let state = |sim: &Sim| {
        let reply = get_models(sim, &token, &[EDITOR]);
        let data = reply.json()["data"].clone();
        data.as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == "gemini-2.5-pro")
            .unwrap()["policy"]["state"]
            .clone()
    };
    assert_eq!(state(&sim), "unconfigured");
    let reply = post_json(
        &sim,
        "/models/gemini-2.5-pro/policy",
        &token,
        &json!({"state": "enabled"}),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(state(&sim), "enabled");
    let unknown = post_json(
        &sim,
        "/models/nope/policy",
        &token,
        &json!({"state": "enabled"}),
    );
    assert_eq!(unknown.status, 404);
}

// ---- chat completions ------------------------------------------------------------------

#[test]
fn default_chat_stream_has_the_real_world_shape() {
    let (sim, token) = signed_in();
    let reply = chat(&sim, &token, "gpt-4.1", true);
    assert_eq!(reply.status, 200);
    assert!(reply.complete);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    assert_eq!(reply.header("transfer-encoding"), Some("chunked"));
    assert!(reply.header("x-request-id").is_some());
    assert_eq!(
        reply.header("x-quota-snapshot-premium_interactions"),
        Some("ent=300&rem=87.5&ov=0&ovPerm=false&rst=2026-12-01T00:00:00Z")
    );
    assert_eq!(reply.sse_data().last().map(String::as_str), Some("[DONE]"));

    let events = reply.sse_json();
    let first = &events[0];
    assert_eq!(first["choices"], json!([]));
    assert_eq!(first["id"], "");
    assert!(first["prompt_filter_results"].is_array());
    assert_eq!(events[1]["choices"][0]["delta"]["role"], "assistant");

    let contents: Vec<&str> = events
        .iter()
        .filter_map(|e| e["choices"].get(0)?["delta"]["content"].as_str())
        .filter(|c| !c.is_empty())
        .collect();
    assert!(
        contents.len() > 2,
        "content split over chunks: {contents:?}"
    );
    let text = contents.concat();
    assert!(text.contains("Copilot simulator"), "{text}");
    assert!(text.contains("capital of France?"), "{text}");

    let finish = &events[events.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage_chunk = events.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    let usage = &usage_chunk["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);
}

#[test]
fn tools_on_a_user_turn_give_two_interleaved_parallel_calls() {
    let (sim, token) = signed_in();
    // OpenAI-style interleaving by index (Claude streams its calls one after another).
    let mut body = chat_body("gpt-4.1", true);
    body["tools"] = json!([{"type": "function", "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }}]);
    let reply = post_json(&sim, "/chat/completions", &token, &body);
    assert_eq!(reply.status, 200);
    let events = reply.sse_json();
    let mut args = [String::new(), String::new()];
    let mut order = Vec::new();
    let mut names = Vec::new();
    for event in &events {
        for call in event["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let index = call["index"].as_u64().unwrap() as usize;
            if let Some(name) = call["function"]["name"].as_str() {
                names.push((
                    index,
                    name.to_string(),
                    call["id"].as_str().unwrap().to_string(),
                ));
            }
            let piece = call["function"]["arguments"].as_str().unwrap_or("");
            if !piece.is_empty() {
                order.push(index);
            }
            args[index].push_str(piece);
        }
    }
    assert_eq!(names.len(), 2);
    assert_eq!(names[0].1, "get_weather");
    assert_eq!(names[1].1, "get_weather");
    assert_ne!(names[0].2, names[1].2);
    assert!(
        order.windows(2).any(|w| w[0] != w[1]),
        "interleaved: {order:?}"
    );
    for a in &args {
        let parsed: Value = serde_json::from_str(a).unwrap();
        assert!(parsed["city"].is_string());
    }
    let finish = &events[events.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
}

#[test]
fn non_streamed_chat_is_a_completion_object() {
    let (sim, token) = signed_in();
    let reply = chat(&sim, &token, "gpt-4.1", false);
    assert_eq!(reply.status, 200);
    let v = reply.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("Copilot simulator"));
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn unsupported_models_are_rejected_per_token_kind() {
    let (sim, token) = signed_in();
    let expected = json!({"error": {
        "message": "The requested model is not supported.",
        "code": "model_not_supported", "param": "model", "type": "invalid_request_error"}});
    for model in [
        "no-such-model",
        "gpt-5",
        "grok-code-fast-1",
        "text-embedding-3-small",
    ] {
        let reply = chat(&sim, &token, model, true);
        assert_eq!(reply.status, 400, "{model}");
        assert_eq!(reply.json(), expected, "{model}");
    }
    let raw_default = post_json(
        &sim,
        "/chat/completions",
        DEMO_OAUTH_TOKEN,
        &chat_body("gpt-4.1", true),
    );
    assert_eq!(raw_default.status, 400);
    let raw_mini = post_json(
        &sim,
        "/chat/completions",
        DEMO_OAUTH_TOKEN,
        &chat_body("gpt-4o-mini", true),
    );
    assert_eq!(raw_mini.status, 200);
}

#[test]
fn queued_scripts_are_played_once_each_in_order() {
    let (sim, token) = signed_in();
    let event = json!({"choices": [{"index": 0, "delta": {"content": "scripted!"}}]});
    sim.script_chat(ChatScript::sse(std::slice::from_ref(&event), true, 5));
    sim.script_chat(
        ChatScript::status(
            429,
            r#"{"error":{"message":"rate limited","code":"rate_limited"}}"#,
        )
        .with_header("retry-after", "7"),
    );
    let first = chat(&sim, &token, "gpt-4.1", true);
    assert_eq!(first.status, 200);
    assert!(first.complete);
    assert_eq!(first.text(), format!("data: {event}\n\ndata: [DONE]\n\n"));
    let second = chat(&sim, &token, "gpt-4.1", true);
    assert_eq!(second.status, 429);
    assert_eq!(second.header("retry-after"), Some("7"));
    assert!(second.header("x-request-id").is_some());
    let third = chat(&sim, &token, "gpt-4.1", true);
    assert!(third.text().contains("Copilot simulator"));
    let recorded = sim.requests_to("/chat/completions");
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[0].json().unwrap()["model"], "gpt-4.1");
}

#[test]
fn a_cut_script_closes_the_connection_mid_body() {
    let (sim, token) = signed_in();
    let mut script = ChatScript::sse(&[json!({"a": 1}), json!({"b": 2})], true, 3);
    script.cut_after = Some(10);
    sim.script_chat(script);
    let reply = chat(&sim, &token, "gpt-4.1", true);
    assert_eq!(reply.status, 200);
    assert!(!reply.complete);
    assert_eq!(reply.body, b"data: {\"a\"");
}

// ---- responses and user -----------------------------------------------------------------

#[test]
fn responses_streams_events_for_responses_only_models() {
    let (sim, token) = signed_in();
    let body = json!({"model": "gpt-5", "stream": true, "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi there"}]}]});
    let reply = post_json(&sim, "/responses", &token, &body);
    assert_eq!(reply.status, 200);
    let text = reply.text();
    assert!(
        text.starts_with("event: response.created\ndata: "),
        "{text}"
    );
    let events = reply.sse_json();
    let deltas: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert!(deltas.contains("hi there"));
    let done = events.last().unwrap();
    assert_eq!(done["type"], "response.completed");
    assert!(done["response"]["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let wrong = post_json(
        &sim,
        "/responses",
        &token,
        &json!({"model": "gpt-4.1", "input": "x"}),
    );
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.json()["error"]["code"], "model_not_supported");
}

#[test]
fn user_endpoint_takes_the_oauth_token_only() {
    let sim = sim();
    let auth = format!("token {DEMO_OAUTH_TOKEN}");
    let reply = send(
        &sim.url(),
        "GET",
        "/copilot_internal/user",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(reply.status, 200);
    let v = reply.json();
    assert_eq!(v["login"], "sim-user");
    assert_eq!(v["copilot_plan"], "individual");
    assert!(v["quota_snapshots"]["premium_interactions"]["entitlement"].is_u64());
    assert!(v["quota_reset_date"].is_string());
    let session = format!("Bearer {}", session_token(&sim));
    let reply = send(
        &sim.url(),
        "GET",
        "/copilot_internal/user",
        &[("Authorization", &session)],
        b"",
    );
    assert_eq!(reply.status, 401);
}

// ---- faults, recording, concurrency -----------------------------------------------------

#[test]
fn counted_faults_apply_to_the_next_requests_only() {
    let sim = sim();
    let retry = Fault::status_with_headers(
        429,
        &[("retry-after", "3")],
        r#"{"message":"API rate limit exceeded"}"#,
    );
    sim.fault(Route::Token, retry, Some(2));
    let auth = format!("token {DEMO_OAUTH_TOKEN}");
    let get = || {
        send(
            &sim.url(),
            "GET",
            TOKEN_PATH,
            &[("Authorization", &auth)],
            b"",
        )
    };
    for _ in 0..2 {
        let reply = get();
        assert_eq!(reply.status, 429);
        assert_eq!(reply.header("retry-after"), Some("3"));
        assert!(reply.header("x-github-request-id").is_some());
    }
    assert_eq!(get().status, 200);
    assert_eq!(
        sim.requests_to(TOKEN_PATH).len(),
        3,
        "faulted requests are recorded"
    );
    assert_eq!(sim.issued_session_tokens(), 1);
}

#[test]
fn permanent_faults_last_until_cleared() {
    let sim = sim();
    sim.fault(Route::Token, Fault::no_copilot_access(), None);
    let auth = format!("token {DEMO_OAUTH_TOKEN}");
    for _ in 0..3 {
        let reply = send(
            &sim.url(),
            "GET",
            TOKEN_PATH,
            &[("Authorization", &auth)],
            b"",
        );
        assert_eq!(reply.status, 403);
        assert_eq!(
            reply.json()["error_details"]["notification_id"],
            "no_copilot_access"
        );
    }
    sim.clear_faults();
    assert_eq!(
        send(
            &sim.url(),
            "GET",
            TOKEN_PATH,
            &[("Authorization", &auth)],
            b""
        )
        .status,
        200
    );
}

#[test]
fn garbage_and_delay_faults() {
    let (sim, token) = signed_in();
    sim.fault(Route::Models, Fault::Garbage, Some(1));
    sim.fault(
        Route::Models,
        Fault::Delay(Duration::from_millis(5)),
        Some(1),
    );
    let garbage = get_models(&sim, &token, &[EDITOR]);
    assert_eq!(garbage.status, 200);
    assert!(serde_json::from_slice::<Value>(&garbage.body).is_err());
    let delayed = get_models(&sim, &token, &[EDITOR]);
    assert_eq!(delayed.status, 200);
    assert!(model_ids(&delayed).len() > 1);
}

#[test]
fn bad_credentials_fault_on_user() {
    let sim = sim();
    sim.fault(Route::User, Fault::bad_credentials(), Some(1));
    let auth = format!("token {DEMO_OAUTH_TOKEN}");
    let reply = send(
        &sim.url(),
        "GET",
        "/copilot_internal/user",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["message"], "Bad credentials");
}

#[test]
fn a_stall_holds_one_request_without_blocking_others_and_drop_releases_it() {
    let (sim, token) = signed_in();
    sim.fault(Route::ChatCompletions, Fault::Stall, Some(1));
    let stalled = open_chat(&sim, &token);
    let waiter = thread::spawn(move || read_reply(stalled));
    wait_for_requests(&sim, "/chat/completions", 1);

    // Other requests, including chat on another connection, are served meanwhile.
    assert_eq!(get_models(&sim, &token, &[EDITOR]).status, 200);
    let next = chat(&sim, &token, "gpt-4.1", true);
    assert_eq!(next.status, 200);

    drop(sim);
    let reply = waiter.join().expect("client thread");
    assert!(
        reply.is_none(),
        "the stalled request got no response: {reply:?}"
    );
}

#[test]
fn a_script_stalled_mid_stream_is_released_by_drop() {
    let (sim, token) = signed_in();
    sim.script_chat(ChatScript::sse(&[json!({"x": 1}), json!({"y": 2})], true, 4).stalled_after(8));
    let stream = open_chat(&sim, &token);
    let waiter = thread::spawn(move || read_reply(stream));
    // Another request completes while the script holds its connection.
    assert_eq!(get_models(&sim, &token, &[EDITOR]).status, 200);
    drop(sim);
    let reply = waiter
        .join()
        .expect("client thread")
        .expect("headers were sent");
    assert_eq!(reply.status, 200);
    assert!(!reply.complete);
    assert_eq!(reply.body, b"data: {\"");
}

#[test]
fn requests_are_recorded_with_query_headers_and_body_and_can_be_cleared() {
    let sim = sim();
    let reply = send(
        &sim.url(),
        "POST",
        "/nowhere?a=1&b=2",
        &[("X-Test", "yes")],
        b"payload",
    );
    assert_eq!(reply.status, 404);
    assert!(reply.header("x-github-request-id").is_some());
    let all = sim.requests();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].method, "POST");
    assert_eq!(all[0].path, "/nowhere");
    assert_eq!(all[0].query, "a=1&b=2");
    assert_eq!(all[0].header("x-test"), Some("yes"));
    assert_eq!(all[0].body, b"payload");
    sim.clear_requests();
    assert!(sim.requests().is_empty());
}

#[test]
fn keep_alive_connections_serve_several_requests() {
    use std::io::{BufRead, BufReader, Read, Write};
    let sim = sim();
    let host = sim.url().trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&host).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for _ in 0..2 {
        write!(stream, "GET /copilot_internal/v2/token HTTP/1.1\r\nHost: {host}\r\nAuthorization: token {DEMO_OAUTH_TOKEN}\r\n\r\n").unwrap();
        let mut length = 0;
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        assert!(serde_json::from_slice::<Value>(&body).unwrap()["token"].is_string());
    }
    assert_eq!(sim.issued_session_tokens(), 2);
}

#[test]
fn a_raw_fault_is_written_verbatim_and_the_connection_closes() {
    let sim = sim();
    sim.fault(
        Route::ChatCompletions,
        Fault::truncated_chunk("text/event-stream", b"data: {\"a\"", 0x40),
        Some(1),
    );
    let mut stream = open(&sim.url(), "POST", "/chat/completions", &[], b"{}");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut raw).expect("read to the close");
    let text = String::from_utf8(raw).expect("text");
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n40\r\ndata: {\"a\""), "{text}");
}

#[test]
fn an_endless_fault_streams_until_the_client_hangs_up() {
    let sim = sim();
    sim.fault(
        Route::ChatCompletions,
        Fault::Endless(b"xyz".to_vec()),
        Some(1),
    );
    let mut stream = open(&sim.url(), "POST", "/chat/completions", &[], b"{}");
    // Far more than any single piece: the body keeps coming.
    let mut buf = vec![0u8; 64 * 1024];
    std::io::Read::read_exact(&mut stream, &mut buf).expect("an endless body");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.contains("transfer-encoding: chunked") && text.contains("3\r\nxyz\r\n"));
    drop(stream);
    // The handler notices the hang-up; the next request is served normally.
    assert_eq!(send(&sim.url(), "GET", "/models", &[], b"").status, 401);
}

#[test]
fn a_second_simulator_can_serve_the_copilot_api_for_the_first() {
    let copilot = sim();
    let github = Sim::start(SimConfig {
        api_url: Some(copilot.url()),
        ..SimConfig::default()
    })
    .unwrap();
    let envelope = exchange(&github);
    assert_eq!(envelope["endpoints"]["api"], json!(copilot.url()));
    let token = envelope["token"].as_str().unwrap().to_string();
    // Unknown to the Copilot API until it trusts the issuer.
    assert_eq!(get_models(&copilot, &token, &[EDITOR]).status, 401);
    copilot.trust_sessions_of(&github);
    assert_eq!(get_models(&copilot, &token, &[EDITOR]).status, 200);
    assert_eq!(copilot.issued_session_tokens(), 0);
}

// ---- /v1/messages ----

#[test]
fn messages_stream_in_anthropic_events_and_refuse_what_the_service_refuses() {
    let (sim, token) = signed_in();
    let body = json!({
        "model": "claude-haiku-4.5", "max_tokens": 100, "stream": true,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
    });
    let reply = post_json(&sim, "/v1/messages", &token, &body);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let text = reply.text();
    assert!(text.starts_with("event: message_start\ndata: "), "{text}");
    let events = reply.sse_json();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds[..2], ["message_start", "ping"]);
    assert_eq!(kinds.last(), Some(&"message_stop"));
    let signature: String = events
        .iter()
        .filter(|e| e["delta"]["type"] == "signature_delta")
        .map(|e| e["delta"]["signature"].as_str().unwrap())
        .collect();
    let thinking: String = events
        .iter()
        .filter(|e| e["delta"]["type"] == "thinking_delta")
        .map(|e| e["delta"]["thinking"].as_str().unwrap())
        .collect();
    assert!(signature.starts_with("sim-sig-") && !thinking.is_empty());

    // The thinking block comes back with its signature: accepted; tampered: refused.
    let follow_up = |signature: &str| {
        json!({
            "model": "claude-haiku-4.5", "max_tokens": 100, "stream": true,
            "messages": [
                {"role": "user", "content": "hello"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": thinking, "signature": signature},
                    {"type": "text", "text": "hi"}]},
                {"role": "user", "content": "again"},
            ],
        })
    };
    assert_eq!(post_json(&sim, "/v1/messages", &token, &follow_up(&signature)).status, 200);
    let refused = post_json(&sim, "/v1/messages", &token, &follow_up("sim-sig-0"));
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["type"], "error");
    assert_eq!(refused.json()["error"]["type"], "invalid_request_error");

    let mut no_max = body.clone();
    no_max.as_object_mut().unwrap().remove("max_tokens");
    assert_eq!(post_json(&sim, "/v1/messages", &token, &no_max).status, 400);
    let empty = json!({"model": "claude-haiku-4.5", "max_tokens": 10, "messages": [{"role": "user", "content": []}]});
    let reply = post_json(&sim, "/v1/messages", &token, &empty);
    assert_eq!(reply.status, 400);
    assert!(reply.json()["error"]["message"].as_str().unwrap().contains("non-empty content"));
    // A model that does not list /v1/messages is not served there.
    let gpt = json!({"model": "gpt-4.1", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(post_json(&sim, "/v1/messages", &token, &gpt).status, 400);
    // Faults apply to the route like any other.
    sim.fault(Route::Messages, Fault::status(503, "busy"), Some(1));
    assert_eq!(post_json(&sim, "/v1/messages", &token, &body).status, 503);
}
