//! Token exchange, caching, refresh and fallback, proved by counting and inspecting the
//! requests the simulator recorded.

use std::time::Duration;

use copilot_chat_tests::*;
use copilot_host::ProviderError;
use copilot_sim::{Fault, Route, SimConfig};

const TOKEN_PATH: &str = "/copilot_internal/v2/token";

#[test]
fn oauth_token_goes_only_to_the_exchange_and_session_token_everywhere_else() {
    let h = Harness::new();
    assert!(!h.model_ids().is_empty());
    let events = h.chat(&h.model_ids()[0], request(vec![user("hi")])).expect("chat");
    assert!(!text_of(&events).is_empty());

    let exchanges = h.sim.requests_to(TOKEN_PATH);
    assert_eq!(exchanges.len(), 1);
    assert_eq!(exchanges[0].header("authorization"), Some(format!("token {DEMO_OAUTH_TOKEN}").as_str()));
    assert!(exchanges[0].header("editor-version").is_some());

    for r in h.sim.requests().iter().filter(|r| r.path != TOKEN_PATH) {
        let auth = r.header("authorization").unwrap_or_default();
        assert!(auth.starts_with("Bearer tid="), "{} sent {auth:?}", r.path);
        assert!(!auth.contains(DEMO_OAUTH_TOKEN));
        assert_eq!(r.header("copilot-integration-id"), Some("vscode-chat"), "{}", r.path);
        assert!(r.header("editor-version").is_some(), "{}", r.path);
        assert!(r.header("editor-plugin-version").is_some(), "{}", r.path);
        assert!(r.header("user-agent").is_some(), "{}", r.path);
        assert!(r.header("x-github-api-version").is_some(), "{}", r.path);
    }
}

#[test]
fn one_exchange_serves_every_call_until_the_refresh_point() {
    let h = Harness::new();
    let model = h.model_ids()[0].clone();
    for _ in 0..5 {
        h.models().expect("models");
    }
    for _ in 0..3 {
        h.chat(&model, request(vec![user("again")])).expect("chat");
    }
    assert_eq!(h.count(TOKEN_PATH), 1, "one exchange inside the TTL");

    // refresh_in is 1500 s: just before it, the cached token still serves.
    h.clock.advance(1499);
    h.models().expect("models");
    assert_eq!(h.count(TOKEN_PATH), 1);

    h.clock.advance(2);
    h.models().expect("models");
    assert_eq!(h.count(TOKEN_PATH), 2, "a new exchange after the refresh point");
    h.chat(&model, request(vec![user("after refresh")])).expect("chat");
    assert_eq!(h.count(TOKEN_PATH), 2);

    // Every API call after the refresh uses the new session token.
    let tokens: Vec<String> = h
        .sim
        .requests_to("/chat/completions")
        .iter()
        .map(|r| r.header("authorization").unwrap_or_default().to_string())
        .collect();
    assert_ne!(tokens.first(), tokens.last());
}

#[test]
fn without_refresh_in_the_token_is_refreshed_five_minutes_before_expiry() {
    let h = Harness::with(Setup {
        sim: SimConfig { refresh_in_secs: None, ..SimConfig::default() },
        ..Setup::default()
    });
    h.models().expect("models");
    h.clock.advance(1800 - 300 - 1);
    h.models().expect("models");
    assert_eq!(h.count(TOKEN_PATH), 1);
    h.clock.advance(2);
    h.models().expect("models");
    assert_eq!(h.count(TOKEN_PATH), 2);
}

#[test]
fn server_error_on_the_exchange_falls_back_to_the_raw_token_then_retries() {
    let h = Harness::new();
    h.sim.fault(Route::Token, Fault::status(502, "bad gateway"), Some(1));
    let degraded = h.model_ids();
    assert!(!degraded.is_empty(), "fallback still lists what the raw token may use");
    let models_calls = h.sim.requests_to("/models");
    assert_eq!(models_calls[0].header("authorization"), Some(format!("Bearer {DEMO_OAUTH_TOKEN}").as_str()));
    assert!(h.ext.logs().iter().any(|l| l.contains("exchange")), "the fallback is logged");

    // The next call exchanges again and gets the full catalog.
    let full = h.model_ids();
    assert_eq!(h.count(TOKEN_PATH), 2);
    assert!(full.len() > degraded.len(), "full {full:?} vs degraded {degraded:?}");
    let last = h.sim.requests_to("/models").pop().expect("a models request");
    assert!(last.header("authorization").unwrap_or_default().starts_with("Bearer tid="));
}

#[test]
fn exchange_timeout_falls_back_to_the_raw_token() {
    let h = Harness::with(Setup {
        settings: serde_json::json!({ "request_timeout_secs": 1 }),
        ..Setup::default()
    });
    h.sim.fault(Route::Token, Fault::Delay(Duration::from_secs(4)), Some(1));
    assert!(!h.model_ids().is_empty());
    let first_models = &h.sim.requests_to("/models")[0];
    assert_eq!(first_models.header("authorization"), Some(format!("Bearer {DEMO_OAUTH_TOKEN}").as_str()));
}

#[test]
fn a_missing_exchange_endpoint_falls_back_to_the_raw_token() {
    let h = Harness::new();
    h.sim.fault(Route::Token, Fault::status(404, r#"{"message":"Not Found"}"#), Some(1));
    assert!(!h.model_ids().is_empty());
}

#[test]
fn bad_credentials_are_a_typed_error_not_a_degraded_catalog() {
    let h = Harness::new();
    h.sim.fault(Route::Token, Fault::bad_credentials(), None);
    match h.models() {
        Err(ProviderError::Unauthorized(info)) => {
            assert_eq!(info.status, 401);
            assert!(info.message.contains("Bad credentials"));
        }
        other => panic!("expected unauthorized, got {other:?}"),
    }
    assert_eq!(h.count("/models"), 0, "no API call with a rejected credential");
}

#[test]
fn no_copilot_access_carries_the_server_message_and_link() {
    let h = Harness::new();
    h.sim.fault(Route::Token, Fault::no_copilot_access(), None);
    match h.models() {
        Err(ProviderError::NoCopilotAccess(info)) => {
            assert!(!info.message.is_empty());
            assert_eq!(info.notification_id.as_deref(), Some("no_copilot_access"));
            assert!(info.url.is_some());
        }
        other => panic!("expected no-copilot-access, got {other:?}"),
    }
}

#[test]
fn a_session_token_refused_early_is_exchanged_again_once() {
    let h = Harness::new();
    h.models().expect("models");
    h.sim.fault(
        Route::Models,
        Fault::status(401, r#"{"error":{"message":"unauthorized: token expired","code":"unauthorized"}}"#),
        Some(1),
    );
    // Force a catalog refetch by refreshing the session at its refresh point.
    h.clock.advance(1501);
    let ids = h.model_ids();
    assert!(!ids.is_empty());
    assert_eq!(h.count(TOKEN_PATH), 3, "initial, refresh, and one re-exchange after the 401");
}
