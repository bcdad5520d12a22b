//! Unit tests of `session`, beside it so the module itself reads as its logic.

use super::*;
use crate::host_api::HttpError;
use crate::testing::{json_response, request_header, response, FakeHost};

const T0: u64 = 1_000_000;
const OAUTH: &str = "ghu_oauthSECRET";
const EXCHANGE: &str = "https://api.github.com/copilot_internal/v2/token";

fn credential() -> Credential {
    Credential {
        token: OAUTH.into(),
        source: "env GH_COPILOT_TOKEN".into(),
        login: None,
        api: None,
    }
}

fn envelope(
    token: &str,
    expires_at: u64,
    refresh_in: Option<u64>,
    api: Option<&str>,
) -> HttpResponse {
    let mut v = serde_json::json!({ "token": token, "expires_at": expires_at, "sku": "monthly_subscriber" });
    if let Some(r) = refresh_in {
        v["refresh_in"] = r.into();
    }
    if let Some(a) = api {
        v["endpoints"] = serde_json::json!({ "api": a, "proxy": "https://proxy.example" });
    }
    json_response(200, &v.to_string())
}

fn ok_envelope(token: &str) -> HttpResponse {
    envelope(
        token,
        T0 + 1800,
        Some(1500),
        Some("https://api.individual.githubcopilot.com/"),
    )
}

fn auth(cache: &mut SessionCache, host: &FakeHost, settings: &Settings) -> Auth {
    match cache.auth(host, settings, &credential()) {
        Ok(a) => a,
        Err(e) => panic!("auth failed: {e}"),
    }
}

fn auth_err(cache: &mut SessionCache, host: &FakeHost) -> Error {
    match cache.auth(host, &Settings::default(), &credential()) {
        Ok(a) => panic!("expected an error, got {a:?}"),
        Err(e) => e,
    }
}

#[test]
fn one_exchange_serves_many_requests() {
    let host = FakeHost::new().at(T0);
    host.queue(EXCHANGE, Ok(ok_envelope("tid=s1;exp=1:mac")));
    let mut cache = SessionCache::new();
    for _ in 0..5 {
        let a = auth(&mut cache, &host, &Settings::default());
        assert_eq!(a.bearer, "tid=s1;exp=1:mac");
        assert_eq!(a.api_base, "https://api.individual.githubcopilot.com");
        assert_eq!(a.kind, AuthKind::Session);
        host.advance(100);
    }
    assert_eq!(host.requests().len(), 1);
    let r = &host.requests()[0];
    assert_eq!(r.url, EXCHANGE);
    assert!(matches!(r.method, HttpMethod::Get));
    assert!(matches!(r.redirect_policy, RedirectPolicy::NoFollow));
    assert_eq!(r.timeout_ms, Some(30_000));
    assert_eq!(
        request_header(r, "authorization"),
        Some("token ghu_oauthSECRET")
    );
    assert_eq!(request_header(r, "editor-version"), Some("vscode/1.104.1"));
    assert_eq!(
        request_header(r, "editor-plugin-version"),
        Some("copilot-chat/0.31.0")
    );
    assert_eq!(
        request_header(r, "user-agent"),
        Some("GitHubCopilotChat/0.31.0")
    );
    assert_eq!(
        request_header(r, "x-github-api-version"),
        Some("2025-05-01")
    );
    assert_eq!(request_header(r, "accept"), Some("application/json"));
}

#[test]
fn an_oversized_exchange_answer_is_refused_by_size_and_falls_back() {
    let host = FakeHost::new().at(T0);
    let huge = format!("{{\"token\": \"{}\"}}", "x".repeat(MAX_EXCHANGE_ANSWER_BYTES as usize));
    host.queue(EXCHANGE, Ok(json_response(200, &huge)));
    let mut cache = SessionCache::new();
    let a = auth(&mut cache, &host, &Settings::default());
    // The raw OAuth token is used, and the log says why, with the limit.
    assert_eq!(a.kind, AuthKind::RawOAuth);
    assert_eq!(host.requests()[0].max_body_bytes, Some(MAX_EXCHANGE_ANSWER_BYTES));
    let expected = format!("the token exchange answer was larger than {MAX_EXCHANGE_ANSWER_BYTES} bytes");
    assert!(host.log_text().contains(&expected), "{}", host.log_text());
}

#[test]
fn refreshes_at_received_at_plus_refresh_in() {
    let host = FakeHost::new().at(T0);
    // The exchange takes 10 s: the refresh point counts from the answer's arrival.
    let clock = host.clock.clone();
    let answers =
        std::cell::RefCell::new(vec![ok_envelope("tid=s2:m"), ok_envelope("tid=s1:m")]);
    host.route(EXCHANGE, move |_| {
        clock.set(clock.get() + 10);
        answers.borrow_mut().pop().ok_or(HttpError::Timeout)
    });
    let mut cache = SessionCache::new();
    let s = Settings::default();
    assert_eq!(auth(&mut cache, &host, &s).bearer, "tid=s1:m");
    assert_eq!(
        cache.current().and_then(|i| i.refresh_at),
        Some(T0 + 10 + 1500)
    );
    host.set_now(T0 + 10 + 1499);
    assert_eq!(auth(&mut cache, &host, &s).bearer, "tid=s1:m");
    assert_eq!(host.request_count(EXCHANGE), 1);
    host.set_now(T0 + 10 + 1500);
    assert_eq!(auth(&mut cache, &host, &s).bearer, "tid=s2:m");
    assert_eq!(host.request_count(EXCHANGE), 2);
}

#[test]
fn without_refresh_in_refreshes_five_minutes_before_expiry() {
    let host = FakeHost::new().at(T0);
    host.queue(EXCHANGE, Ok(envelope("tid=a:m", T0 + 1800, None, None)));
    host.queue(EXCHANGE, Ok(envelope("tid=b:m", T0 + 3600, None, None)));
    let mut cache = SessionCache::new();
    let s = Settings::default();
    let a = auth(&mut cache, &host, &s);
    assert_eq!(a.api_base, DEFAULT_COPILOT_API);
    assert!(host
        .log_text()
        .contains("named no Copilot API endpoint; using https://api.githubcopilot.com"));
    host.set_now(T0 + 1499);
    assert_eq!(auth(&mut cache, &host, &s).bearer, "tid=a:m");
    host.set_now(T0 + 1500);
    assert_eq!(auth(&mut cache, &host, &s).bearer, "tid=b:m");
    assert_eq!(host.request_count(EXCHANGE), 2);
}

#[test]
fn short_lived_token_without_refresh_in_is_still_reused() {
    assert_eq!(refresh_point(T0, T0 + 120, None), T0 + 60);
    assert_eq!(refresh_point(T0, T0 + 1800, None), T0 + 1500);
    assert_eq!(refresh_point(T0, T0 - 5, None), T0 - 5);
    assert_eq!(refresh_point(T0, T0 + 1800, Some(u64::MAX)), u64::MAX);
}

#[test]
fn never_used_at_or_past_expires_at() {
    let host = FakeHost::new().at(T0);
    // refresh_in points past expires_at: expires_at wins.
    host.queue(
        EXCHANGE,
        Ok(envelope("tid=a:m", T0 + 1000, Some(3000), None)),
    );
    host.queue(
        EXCHANGE,
        Ok(envelope("tid=b:m", T0 + 5000, Some(1500), None)),
    );
    let mut cache = SessionCache::new();
    let s = Settings::default();
    auth(&mut cache, &host, &s);
    host.set_now(T0 + 999);
    assert_eq!(auth(&mut cache, &host, &s).bearer, "tid=a:m");
    host.set_now(T0 + 1000);
    assert_eq!(auth(&mut cache, &host, &s).bearer, "tid=b:m");
}

#[test]
fn local_clock_ahead_uses_fresh_token_once_and_warns() {
    // The server issued a 30-minute token, but the local clock is 40 minutes ahead: by
    // the local clock it expired 10 minutes ago. Decision: the fresh token serves the
    // request that asked for it, and is never reused past expires_at.
    let host = FakeHost::new().at(T0);
    host.queue(
        EXCHANGE,
        Ok(envelope("tid=a:m", T0 - 600, Some(1500), None)),
    );
    host.queue(
        EXCHANGE,
        Ok(envelope("tid=b:m", T0 - 590, Some(1500), None)),
    );
    let mut cache = SessionCache::new();
    let s = Settings::default();
    let a = auth(&mut cache, &host, &s);
    assert_eq!((a.bearer.as_str(), a.kind), ("tid=a:m", AuthKind::Session));
    assert!(host.log_text().contains("local clock is probably ahead"));
    host.advance(10);
    assert_eq!(auth(&mut cache, &host, &s).bearer, "tid=b:m");
    assert_eq!(host.request_count(EXCHANGE), 2);
}

#[test]
fn local_clock_behind_uses_refresh_in_not_expires_at() {
    // Local clock an hour behind: expires_at looks 90 minutes away, but refresh_in (a
    // duration) still refreshes after 25 minutes.
    let host = FakeHost::new().at(T0);
    host.queue(
        EXCHANGE,
        Ok(envelope("tid=a:m", T0 + 3600 + 1800, Some(1500), None)),
    );
    host.queue(
        EXCHANGE,
        Ok(envelope("tid=b:m", T0 + 3600 + 3600, Some(1500), None)),
    );
    let mut cache = SessionCache::new();
    let s = Settings::default();
    auth(&mut cache, &host, &s);
    host.set_now(T0 + 1499);
    assert_eq!(auth(&mut cache, &host, &s).bearer, "tid=a:m");
    host.set_now(T0 + 1500);
    assert_eq!(auth(&mut cache, &host, &s).bearer, "tid=b:m");
}

#[test]
fn transient_failures_fall_back_to_oauth_and_retry_next_time() {
    let failures: Vec<Result<HttpResponse, HttpError>> = vec![
        Ok(json_response(503, r#"{"message":"unavailable"}"#)),
        Ok(json_response(500, "")),
        Err(HttpError::Timeout),
        Err(HttpError::Connection("reset".into())),
        Ok(json_response(404, r#"{"message":"Not Found"}"#)),
        Ok(json_response(400, "bad")),
        Ok(json_response(200, "<html>captive portal</html>")),
        Ok(json_response(200, r#"{"token":"","expires_at":1}"#)),
    ];
    for failure in failures {
        let host = FakeHost::new().at(T0);
        let what = format!("{failure:?}");
        host.queue(EXCHANGE, failure);
        host.queue(EXCHANGE, Ok(ok_envelope("tid=s:m")));
        let mut cache = SessionCache::new();
        let s = Settings::default();
        let a = auth(&mut cache, &host, &s);
        assert_eq!(
            a,
            Auth {
                bearer: OAUTH.into(),
                api_base: DEFAULT_COPILOT_API.into(),
                kind: AuthKind::RawOAuth
            },
            "{what}"
        );
        let info = cache.current().expect("info");
        assert_eq!(info.kind, AuthKind::RawOAuth);
        assert!(info.fallback_reason.is_some());
        assert!(info.to_string().starts_with(
            "GitHub OAuth token used directly for https://api.githubcopilot.com because"
        ));
        let logs = host.logs();
        assert!(
            logs.iter()
                .any(|(l, m)| *l == LogLevel::Warn && m.contains("token exchange failed")),
            "{what}"
        );
        assert!(!host.log_text().contains(OAUTH), "{what}");
        assert!(
            !host.log_text().contains("Copilot answered"),
            "names GitHub's API, not Copilot's: {what}"
        );
        // Not cached: the next call exchanges again, and succeeds.
        let a = auth(&mut cache, &host, &s);
        assert_eq!(
            (a.bearer.as_str(), a.kind),
            ("tid=s:m", AuthKind::Session),
            "{what}"
        );
        assert_eq!(host.request_count(EXCHANGE), 2, "{what}");
    }
}

#[test]
fn fallback_prefers_last_known_api_then_override_then_host_default() {
    let sim = "http://127.0.0.1:4000";
    let s = Settings {
        github_api_url: Some(sim.into()),
        ..Settings::default()
    };
    let url = format!("{sim}{EXCHANGE_PATH}");
    let host = FakeHost::new().at(T0);
    host.queue(&url, Ok(json_response(502, "")));
    host.queue(
        &url,
        Ok(envelope(
            "tid=a:m",
            T0 + 1800,
            Some(1500),
            Some("http://127.0.0.1:4000/copilot/"),
        )),
    );
    host.queue(&url, Ok(json_response(502, "")));
    let mut cache = SessionCache::new();
    assert_eq!(auth(&mut cache, &host, &s).api_base, sim);
    assert_eq!(
        auth(&mut cache, &host, &s).api_base,
        "http://127.0.0.1:4000/copilot"
    );
    cache.invalidate();
    let a = auth(&mut cache, &host, &s);
    assert_eq!(
        (a.api_base.as_str(), a.kind),
        ("http://127.0.0.1:4000/copilot", AuthKind::RawOAuth)
    );
    assert_eq!(host.request_count(&url), 3);

    let ent = Settings {
        enterprise_uri: Some("https://acme.ghe.com".into()),
        ..Settings::default()
    };
    let host = FakeHost::new().at(T0);
    host.queue(
        "https://api.acme.ghe.com/copilot_internal/v2/token",
        Err(HttpError::Timeout),
    );
    let a = auth(&mut SessionCache::new(), &host, &ent);
    assert_eq!(a.api_base, "https://copilot-api.acme.ghe.com");
    assert_eq!(
        host.requests()[0].url,
        "https://api.acme.ghe.com/copilot_internal/v2/token"
    );
}

#[test]
fn definitive_answers_are_typed_errors_not_fallbacks() {
    let host = FakeHost::new().at(T0);
    host.queue(
        EXCHANGE,
        Ok(response(
            401,
            &[("x-github-request-id", "R1")],
            br#"{"message":"Bad credentials"}"#,
        )),
    );
    let mut cache = SessionCache::new();
    match auth_err(&mut cache, &host) {
        Error::Unauthorized(u) => {
            assert_eq!((u.status, u.request_id.as_deref()), (401, Some("R1")))
        }
        e => panic!("{e:?}"),
    }
    assert!(cache.current().is_none());

    host.queue(
        EXCHANGE,
        Ok(json_response(
            403,
            r#"{"message":"no access","error_details":{"message":"You do not have access to Copilot","notification_id":"no_copilot_access","url":"https://github.com/features/copilot","title":"Get"},"can_signup_for_limited":true}"#,
        )),
    );
    assert_eq!(
        auth_err(&mut cache, &host),
        Error::NoCopilotAccess {
            message: "You do not have access to Copilot".into(),
            notification_id: Some("no_copilot_access".into()),
            url: Some("https://github.com/features/copilot".into()),
        }
    );

    host.queue(
        EXCHANGE,
        Ok(json_response(
            403,
            r#"{"message":"Resource not accessible by personal access token"}"#,
        )),
    );
    assert_eq!(
        auth_err(&mut cache, &host),
        Error::NoCopilotAccess {
            message: "Resource not accessible by personal access token".into(),
            notification_id: None,
            url: None
        }
    );

    host.queue(
        EXCHANGE,
        Ok(json_response(
            403,
            r#"{"message":"API rate limit exceeded for user ID 1."}"#,
        )),
    );
    assert!(matches!(
        auth_err(&mut cache, &host),
        Error::RateLimited { .. }
    ));

    host.queue(
        EXCHANGE,
        Ok(response(429, &[("retry-after", "30")], b"slow down")),
    );
    match auth_err(&mut cache, &host) {
        Error::RateLimited {
            retry_after_secs, ..
        } => assert_eq!(retry_after_secs, Some(30)),
        e => panic!("{e:?}"),
    }
    // Errors are not cached either: each call asked again.
    assert_eq!(host.request_count(EXCHANGE), 5);
    assert!(!host.log_text().contains(OAUTH));
}

#[test]
fn oauth_token_only_in_the_exchange_authorization_header() {
    let host = FakeHost::new().at(T0);
    host.queue(EXCHANGE, Ok(ok_envelope("tid=s:m")));
    host.queue(EXCHANGE, Ok(ok_envelope("tid=t:m")));
    let mut cache = SessionCache::new();
    let s = Settings::default();
    let a = auth(&mut cache, &host, &s);
    assert!(!a.bearer.contains(OAUTH));
    host.advance(1500);
    auth(&mut cache, &host, &s);
    for r in host.requests() {
        assert_eq!(r.url, EXCHANGE);
        assert!(!r.url.contains(OAUTH));
        assert!(r.body.is_none());
        let carrying: Vec<&str> = r
            .headers
            .iter()
            .filter(|(_, v)| v.contains(OAUTH))
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(carrying, vec!["Authorization"]);
    }
    let logs = host.log_text();
    assert!(!logs.contains(OAUTH) && !logs.contains("tid=s"), "{logs}");
    let debug = format!("{a:?} {cache:?}");
    assert!(
        !debug.contains("tid=s") && !debug.contains(OAUTH),
        "{debug}"
    );
}

#[test]
fn another_credential_exchanges_again() {
    let host = FakeHost::new().at(T0);
    host.queue(EXCHANGE, Ok(ok_envelope("tid=one:m")));
    host.queue(EXCHANGE, Ok(ok_envelope("tid=two:m")));
    let mut cache = SessionCache::new();
    let s = Settings::default();
    auth(&mut cache, &host, &s);
    let other = Credential {
        token: "gho_other".into(),
        source: "x".into(),
        login: None,
        api: None,
    };
    let a = cache.auth(&host, &s, &other).expect("auth");
    assert_eq!(a.bearer, "tid=two:m");
    assert_eq!(
        request_header(&host.requests()[1], "authorization"),
        Some("token gho_other")
    );
}

#[test]
fn invalidate_and_clear() {
    let host = FakeHost::new().at(T0);
    for t in ["tid=1:m", "tid=2:m"] {
        host.queue(EXCHANGE, Ok(ok_envelope(t)));
    }
    let mut cache = SessionCache::new();
    let s = Settings::default();
    auth(&mut cache, &host, &s);
    let info = cache.current().expect("info");
    assert_eq!(
        info,
        SessionInfo {
            kind: AuthKind::Session,
            api_base: "https://api.individual.githubcopilot.com".into(),
            received_at: Some(T0),
            refresh_at: Some(T0 + 1500),
            expires_at: Some(T0 + 1800),
            sku: Some("monthly_subscriber".into()),
            fallback_reason: None,
            refused_api: None,
        }
    );
    assert_eq!(
        info.to_string(),
        format!("Copilot session token for https://api.individual.githubcopilot.com, refreshes at {}, expires at {}, plan monthly_subscriber", T0 + 1500, T0 + 1800)
    );
    cache.invalidate();
    assert_eq!(auth(&mut cache, &host, &s).bearer, "tid=2:m");
    cache.clear();
    assert!(cache.current().is_none());
    // After clear, even the last known API base is gone.
    host.queue(EXCHANGE, Err(HttpError::Timeout));
    assert_eq!(auth(&mut cache, &host, &s).api_base, DEFAULT_COPILOT_API);
}

#[test]
fn envelope_parsing_is_lenient_but_needs_token_and_expiry() {
    let e = parse_envelope(
        br#"{"token":"tid=x:m","expires_at":"1700","refresh_in":1500.0,"endpoints":{"api":"https://api.business.githubcopilot.com//"},"sku":"x","extra":{}}"#,
    )
    .expect("envelope");
    assert_eq!(e.expires_at, 1700);
    assert_eq!(e.refresh_in, Some(1500));
    assert_eq!(
        e.api.as_deref(),
        Some("https://api.business.githubcopilot.com")
    );
    let e = parse_envelope(
        br#"{"token":"t","expires_at":5,"refresh_in":0,"endpoints":{"api":"javascript:x"}}"#,
    )
    .expect("envelope");
    assert_eq!((e.refresh_in, e.api), (None, None));
    for bad in [
        &br#"{"expires_at":5}"#[..],
        br#"{"token":"","expires_at":5}"#,
        br#"{"token":"a\r\nb","expires_at":5}"#,
        br#"{"token":"tid=secret:m"}"#,
        br#"{"token":"t","expires_at":-1}"#,
        br#"[]"#,
        b"not json",
    ] {
        let err = parse_envelope(bad).expect_err("should fail");
        assert!(matches!(err, Error::Upstream(Upstream { status: 200, .. })));
        assert!(!format!("{err}").contains("secret"));
    }
    let d = format!(
        "{:?}",
        parse_envelope(br#"{"token":"tid=hidden:m","expires_at":5}"#).expect("ok")
    );
    assert!(!d.contains("hidden"));
}

#[test]
fn only_https_copilot_or_github_domains_or_the_simulators_origin_are_trusted() {
    let plain = Settings::default();
    for ok in [
        "https://api.githubcopilot.com",
        "https://api.individual.githubcopilot.com",
        "https://copilot-api.acme.ghe.com",
        "https://api.github.com/",
    ] {
        assert_eq!(trusted_api(ok, &plain), Ok(()), "{ok}");
    }
    for bad in [
        "http://api.githubcopilot.com",
        "https://githubcopilot.com.evil.example",
        "https://evilgithubcopilot.com",
        "https://127.0.0.1:4000",
        "https://user:pw@attacker.example",
    ] {
        let why = trusted_api(bad, &plain).expect_err(bad);
        assert!(!why.contains("pw"), "{why}");
    }
    let sim = Settings { github_api_url: Some("http://127.0.0.1:4000".into()), ..Settings::default() };
    assert_eq!(trusted_api("http://127.0.0.1:4000/copilot", &sim), Ok(()));
    assert_eq!(trusted_api("http://127.0.0.1:4001", &sim), Ok(()));
    assert!(trusted_api("http://attacker.example", &sim).is_err());
    assert!(trusted_api("http://127.0.0.1.attacker.example", &sim).is_err());
    let ghes = Settings { enterprise_uri: Some("https://ghe.corp".into()), ..Settings::default() };
    assert_eq!(trusted_api("https://copilot-api.ghe.corp", &ghes), Ok(()));
    assert!(trusted_api("https://copilot-api.ghe.corp", &plain).is_err());
}

#[test]
fn an_untrusted_endpoints_api_falls_back_to_the_default_base_with_a_warning() {
    let host = FakeHost::new().at(T0);
    host.queue(
        EXCHANGE,
        Ok(envelope("tid=e:m", T0 + 1800, Some(1500), Some("http://attacker.example:8080"))),
    );
    let mut cache = SessionCache::new();
    let a = auth(&mut cache, &host, &Settings::default());
    assert_eq!(a.api_base, DEFAULT_COPILOT_API);
    let refused = cache.current().and_then(|i| i.refused_api).expect("the refusal is recorded");
    assert!(refused.contains("attacker.example") && refused.contains("not https"), "{refused}");
    let logs = host.log_text();
    assert!(logs.contains("attacker.example") && logs.contains("not used"), "{logs}");
}
