//! Device-flow tests against a scripted host: every poll's requests are counted, and time only
//! moves when the test moves the fake clock.

use super::*;
use crate::auth::credentials::StoredToken;
use crate::testing::{json_response, FakeHost};

pub(crate) const CODE_URL: &str = "https://github.com/login/device/code";
pub(crate) const TOKEN_URL: &str = "https://github.com/login/oauth/access_token";
pub(crate) const USER_URL: &str = "https://api.github.com/user";

pub(crate) fn device_code_answer() -> &'static str {
    r#"{"device_code":"dev-secret-123","user_code":"ABCD-1234","verification_uri":"https://github.com/login/device","expires_in":900,"interval":5}"#
}

fn started(host: &FakeHost) -> DeviceFlow {
    host.queue(CODE_URL, Ok(json_response(200, device_code_answer())));
    let (flow, prompt) = start(host, &Settings::default()).expect("start");
    assert_eq!(
        prompt,
        Prompt {
            user_code: "ABCD-1234".into(),
            verification_url: "https://github.com/login/device".into(),
            expires_in_secs: 900
        }
    );
    flow
}

fn stored(host: &FakeHost) -> Option<StoredToken> {
    host.credentials
        .borrow()
        .get(STORED_TOKEN_KEY)
        .map(|t| StoredToken::parse(t).expect("stored json"))
}

#[test]
fn start_posts_the_copilot_client_id_as_a_form() {
    let host = FakeHost::new();
    let flow = started(&host);
    let req = &host.requests()[0];
    assert_eq!(req.method, HttpMethod::Post);
    assert_eq!(
        String::from_utf8_lossy(req.body.as_deref().unwrap_or_default()),
        "client_id=Iv1.b507a08c87ecfe98&scope=read%3Auser"
    );
    assert_eq!(
        crate::testing::request_header(req, "accept"),
        Some("application/json")
    );
    assert!(!format!("{flow:?}").contains("dev-secret-123"));
    let wit = Prompt {
        user_code: "C".into(),
        verification_url: "https://x".into(),
        expires_in_secs: 9,
    }
    .device_flow_prompt();
    assert!(wit.description.contains("https://x") && wit.description.contains('C'));
}

#[test]
fn pending_then_slow_down_then_success_respects_the_interval() {
    let host = FakeHost::new().at(1000);
    let mut flow = started(&host);
    let s = Settings::default();
    // Too early: no request at all.
    assert_eq!(flow.poll(&host, &s), Ok(Poll::Pending));
    host.advance(4);
    assert_eq!(flow.poll(&host, &s), Ok(Poll::Pending));
    assert_eq!(host.request_count(TOKEN_URL), 0);
    host.advance(1);
    host.queue(
        TOKEN_URL,
        Ok(json_response(200, r#"{"error":"authorization_pending"}"#)),
    );
    assert_eq!(flow.poll(&host, &s), Ok(Poll::Pending));
    assert_eq!(host.request_count(TOKEN_URL), 1);
    let body =
        String::from_utf8_lossy(host.requests()[1].body.as_deref().unwrap_or_default()).to_string();
    assert_eq!(body, "client_id=Iv1.b507a08c87ecfe98&device_code=dev-secret-123&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code");
    host.advance(5);
    host.queue(
        TOKEN_URL,
        Ok(json_response(200, r#"{"error":"slow_down","interval":7}"#)),
    );
    assert_eq!(flow.poll(&host, &s), Ok(Poll::Pending));
    // slow_down: max(5 + 5, 7) = 10 s before the next request.
    host.advance(9);
    assert_eq!(flow.poll(&host, &s), Ok(Poll::Pending));
    assert_eq!(host.request_count(TOKEN_URL), 2);
    host.advance(1);
    host.queue(
        TOKEN_URL,
        Ok(json_response(
            200,
            r#"{"access_token":"ghu_newDeviceToken","token_type":"bearer","scope":""}"#,
        )),
    );
    host.queue(
        USER_URL,
        Ok(json_response(200, r#"{"login":"octocat","id":1}"#)),
    );
    assert_eq!(
        flow.poll(&host, &s),
        Ok(Poll::SignedIn {
            login: Some("octocat".into())
        })
    );
    let saved = stored(&host).expect("stored");
    assert_eq!(
        (
            saved.host.as_str(),
            saved.token.as_str(),
            saved.login.as_deref()
        ),
        ("github.com", "ghu_newDeviceToken", Some("octocat"))
    );
    let user_req = host
        .requests()
        .into_iter()
        .find(|r| r.url == USER_URL)
        .expect("user request");
    assert_eq!(
        crate::testing::request_header(&user_req, "authorization"),
        Some("token ghu_newDeviceToken")
    );
}

#[test]
fn slow_down_without_interval_adds_five_seconds() {
    let host = FakeHost::new();
    let mut flow = started(&host);
    host.advance(5);
    host.queue(
        TOKEN_URL,
        Ok(json_response(200, r#"{"error":"slow_down"}"#)),
    );
    assert_eq!(flow.poll(&host, &Settings::default()), Ok(Poll::Pending));
    host.advance(9);
    assert_eq!(flow.poll(&host, &Settings::default()), Ok(Poll::Pending));
    assert_eq!(host.request_count(TOKEN_URL), 1, "10 s have not passed");
}

#[test]
fn denial_and_expiry_are_typed_and_end_the_flow() {
    let host = FakeHost::new();
    let mut flow = started(&host);
    host.advance(5);
    host.queue(TOKEN_URL, Ok(json_response(200, r#"{"error":"access_denied","error_description":"The user has denied your application access."}"#)));
    match flow.poll(&host, &Settings::default()) {
        Err(Error::NotSignedIn { searched }) => {
            assert!(searched[0].contains("denied"), "{searched:?}")
        }
        other => panic!("{other:?}"),
    }
    let mut flow = started(&host);
    host.advance(5);
    host.queue(
        TOKEN_URL,
        Ok(json_response(200, r#"{"error":"expired_token"}"#)),
    );
    assert!(matches!(
        flow.poll(&host, &Settings::default()),
        Err(Error::NotSignedIn { .. })
    ));
    // Expiry by the host clock: no request is made.
    let mut flow = started(&host);
    let before = host.request_count(TOKEN_URL);
    host.advance(900);
    match flow.poll(&host, &Settings::default()) {
        Err(Error::NotSignedIn { searched }) => {
            assert!(searched[0].contains("expired"), "{searched:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(host.request_count(TOKEN_URL), before);
    assert!(stored(&host).is_none());
}

#[test]
fn other_errors_and_bad_answers_are_upstream_errors() {
    let host = FakeHost::new();
    host.queue(CODE_URL, Ok(json_response(200, r#"{"error":"device_flow_disabled","error_description":"Device Flow must be explicitly enabled"}"#)));
    match start(&host, &Settings::default()) {
        Err(Error::Upstream(u)) => assert!(u.message.contains("device_flow_disabled"), "{u:?}"),
        other => panic!("{other:?}"),
    }
    for body in [
        "[]",
        "{}",
        r#"{"device_code":"d","user_code":"U","verification_uri":"javascript:alert(1)"}"#,
    ] {
        host.queue(CODE_URL, Ok(json_response(200, body)));
        assert!(
            matches!(start(&host, &Settings::default()), Err(Error::Upstream(_))),
            "{body}"
        );
    }
    host.queue(
        CODE_URL,
        Ok(json_response(404, r#"{"message":"Not Found"}"#)),
    );
    assert!(start(&host, &Settings::default()).is_err());
    let mut flow = started(&host);
    host.advance(5);
    host.queue(
        TOKEN_URL,
        Ok(json_response(200, r#"{"error":"incorrect_device_code"}"#)),
    );
    assert!(matches!(
        flow.poll(&host, &Settings::default()),
        Err(Error::Upstream(_))
    ));
}

#[test]
fn a_failed_login_lookup_still_signs_in_and_a_broken_store_is_an_error() {
    let host = FakeHost::new();
    let mut flow = started(&host);
    host.advance(5);
    host.queue(
        TOKEN_URL,
        Ok(json_response(200, r#"{"access_token":"ghu_tok"}"#)),
    );
    host.queue(USER_URL, Ok(json_response(500, "{}")));
    assert_eq!(
        flow.poll(&host, &Settings::default()),
        Ok(Poll::SignedIn { login: None })
    );
    assert_eq!(stored(&host).map(|s| s.token), Some("ghu_tok".into()));

    let mut host = FakeHost::new();
    let mut flow = started(&host);
    host.credential_error = Some(crate::host_api::CredentialError::Unavailable(
        "locked".into(),
    ));
    host.advance(5);
    host.queue(
        TOKEN_URL,
        Ok(json_response(200, r#"{"access_token":"ghu_tok2"}"#)),
    );
    host.queue(USER_URL, Ok(json_response(200, r#"{"login":"x"}"#)));
    match flow.poll(&host, &Settings::default()) {
        Err(Error::InvalidRequest(m)) => assert!(
            m.contains("could not store") && !m.contains("ghu_tok2"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn enterprise_and_loopback_bases() {
    let s = |json: &str| Settings::parse(json).0;
    assert_eq!(login_base(&Settings::default()), "https://github.com");
    assert_eq!(
        login_base(&s(r#"{"enterprise_uri":"https://acme.ghe.com"}"#)),
        "https://acme.ghe.com"
    );
    assert_eq!(
        login_base(&s(r#"{"github_api_url":"http://127.0.0.1:4000/"}"#)),
        "http://127.0.0.1:4000"
    );
    assert_eq!(
        login_base(&s(r#"{"github_api_url":"https://api.example.com"}"#)),
        "https://github.com"
    );
    // The enterprise token is stored for the enterprise host.
    let host = FakeHost::new();
    let settings = s(r#"{"enterprise_uri":"https://acme.ghe.com"}"#);
    host.queue(
        "https://acme.ghe.com/login/device/code",
        Ok(json_response(200, device_code_answer())),
    );
    let (mut flow, _) = start(&host, &settings).expect("start");
    host.advance(5);
    host.queue(
        "https://acme.ghe.com/login/oauth/access_token",
        Ok(json_response(200, r#"{"access_token":"ghu_acme"}"#)),
    );
    host.queue(
        "https://api.acme.ghe.com/user",
        Ok(json_response(200, r#"{"login":"emp"}"#)),
    );
    assert_eq!(
        flow.poll(&host, &settings),
        Ok(Poll::SignedIn {
            login: Some("emp".into())
        })
    );
    assert_eq!(stored(&host).map(|s| s.host), Some("acme.ghe.com".into()));
}
