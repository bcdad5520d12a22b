//! The provider around the device flow: sign-in, sign-out and fresh credentials, against a
//! scripted host (moved here from the flow's own tests: they drive the whole provider).

use crate::auth::oauth::tests::{device_code_answer, CODE_URL, TOKEN_URL, USER_URL};
use crate::error::Error;
use crate::provider::instance::Provider;
use crate::testing::{json_response, request_header, FakeHost};

const EXCHANGE: &str = "https://api.github.com/copilot_internal/v2/token";
const API: &str = "https://api.example.githubcopilot.com";
const APPS: &str = "/home/u/.config/github-copilot/apps.json";

/// A host whose exchange accepts `accepted` OAuth tokens and whose catalog has one model.
fn world(accepted: &'static [&'static str]) -> FakeHost {
    let host = FakeHost::new().with_env("HOME", "/home/u");
    accept(&host, accepted);
    host.route(&format!("{API}/models"), |_| {
        Ok(json_response(200, r#"{"data":[{"id":"gpt-4.1","name":"GPT-4.1","is_chat_default":true,"model_picker_enabled":true,"capabilities":{"type":"chat","limits":{"max_prompt_tokens":1000,"max_output_tokens":100},"supports":{}},"supported_endpoints":["/chat/completions"]}]}"#))
    });
    host
}

/// From now on the exchange accepts only `accepted` (others get 401).
fn accept(host: &FakeHost, accepted: &'static [&'static str]) {
    host.route(EXCHANGE, move |req| {
        let auth = request_header(req, "authorization").unwrap_or_default().to_string();
        if accepted.iter().any(|t| auth == format!("token {t}")) {
            Ok(json_response(200, &format!(r#"{{"token":"tid=t;exp=2000000:mac","expires_at":2000000,"refresh_in":1500,"endpoints":{{"api":"{API}"}}}}"#)))
        } else {
            Ok(json_response(401, r#"{"message":"Bad credentials"}"#))
        }
    });
}

fn apps(token: &str) -> Vec<u8> {
    format!(r#"{{"github.com:Iv1.b507a08c87ecfe98":{{"user":"u","oauth_token":"{token}"}}}}"#)
        .into_bytes()
}

fn exchanged_with(host: &FakeHost) -> Vec<String> {
    host.requests()
        .iter()
        .filter(|r| r.url == EXCHANGE)
        .filter_map(|r| request_header(r, "authorization").map(str::to_string))
        .collect()
}

#[test]
fn sign_in_then_sign_out() {
    let host = world(&["ghu_device"]);
    let mut p = Provider::new();
    assert!(matches!(p.models(&host), Err(Error::NotSignedIn { .. })));
    assert!(
        matches!(p.poll_sign_in(&host), Err(Error::InvalidRequest(_))),
        "no flow yet"
    );
    host.queue(CODE_URL, Ok(json_response(200, device_code_answer())));
    let prompt = p.start_sign_in(&host).expect("start");
    assert_eq!(prompt.user_code, "ABCD-1234");
    assert_eq!(p.poll_sign_in(&host), Ok(false));
    host.advance(5);
    host.queue(
        TOKEN_URL,
        Ok(json_response(200, r#"{"access_token":"ghu_device"}"#)),
    );
    host.queue(USER_URL, Ok(json_response(200, r#"{"login":"octo"}"#)));
    assert_eq!(p.poll_sign_in(&host), Ok(true));
    assert!(p.is_authenticated(&host));
    assert_eq!(p.models(&host).expect("models").len(), 1);
    assert_eq!(exchanged_with(&host), ["token ghu_device"]);
    assert!(
        p.settings_markdown(&host).contains("octo"),
        "the login is reported"
    );
    p.reset(&host).expect("sign out");
    assert!(host.credentials.borrow().is_empty());
    assert!(matches!(p.models(&host), Err(Error::NotSignedIn { .. })));
    assert!(!p.is_authenticated(&host));
}

#[test]
fn an_ended_flow_is_forgotten() {
    let host = world(&[]);
    let mut p = Provider::new();
    host.queue(CODE_URL, Ok(json_response(200, device_code_answer())));
    p.start_sign_in(&host).expect("start");
    host.advance(5);
    host.queue(
        TOKEN_URL,
        Ok(json_response(200, r#"{"error":"access_denied"}"#)),
    );
    assert!(matches!(
        p.poll_sign_in(&host),
        Err(Error::NotSignedIn { .. })
    ));
    assert!(matches!(
        p.poll_sign_in(&host),
        Err(Error::InvalidRequest(_))
    ));
}

#[test]
fn a_missing_credential_is_looked_for_again_on_the_next_call() {
    let mut host = world(&["ghu_later"]);
    let mut p = Provider::new();
    assert!(matches!(p.models(&host), Err(Error::NotSignedIn { .. })));
    host.files.insert(APPS.to_string(), apps("ghu_later"));
    assert_eq!(p.models(&host).expect("found now").len(), 1);
}

#[test]
fn a_401_from_the_exchange_reads_the_files_again() {
    let mut host = world(&["ghu_old", "ghu_new"]);
    host.files.insert(APPS.to_string(), apps("ghu_old"));
    let mut p = Provider::new();
    p.models(&host).expect("models");
    // The old token is revoked and the user signed in again elsewhere; the session ends.
    accept(&host, &["ghu_new"]);
    host.files.insert(APPS.to_string(), apps("ghu_new"));
    host.advance(2_000_000);
    p.models(&host)
        .expect("the new token is found after the 401");
    assert_eq!(
        exchanged_with(&host),
        ["token ghu_old", "token ghu_old", "token ghu_new"]
    );
}

#[test]
fn nothing_failed_means_no_re_read() {
    let mut host = world(&["ghu_a", "ghu_b"]);
    host.files.insert(APPS.to_string(), apps("ghu_a"));
    let mut p = Provider::new();
    p.models(&host).expect("models");
    host.files.insert(APPS.to_string(), apps("ghu_b"));
    p.models(&host).expect("models");
    assert_eq!(exchanged_with(&host), ["token ghu_a"]);
}
