//! The sandbox's promises (issue 6, item 3), tested through the extension where it can reach
//! them and through the host library's grants where it cannot: files outside the grants,
//! undeclared env vars and ungranted HTTP hosts are denied with a typed error; a denied file's
//! existence does not show; the OAuth token goes only to the exchange (or, in fallback, to the
//! configured Copilot API) and the session token never to the GitHub API; a redirect to
//! another host carries no `Authorization`; and no token shows in any log line, error or
//! `Debug` output of a broad set of flows (the secret scan).

use std::collections::HashMap;
use std::fmt::Debug;
use std::path::Path;
use std::time::Duration;

use copilot_chat_tests::*;
use copilot_host::{
    display_error, CredentialStore, EnvSource, Extension, FileError, HostOptions, LogSink, ProviderError,
};
use copilot_sim::{ChatScript, Fault, Route, Sim, SimConfig};
use serde_json::json;

const TOKEN_PATH: &str = "/copilot_internal/v2/token";
/// What the extension says about a file the host would not let it read.
const DENIED_REASON: &str = "not readable: the host did not grant access to this directory";
/// Past the catalog's first backoff (30 s on the host clock) after a failed fetch.
const PAST_CATALOG_BACKOFF_SECS: u64 = 31;

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a URL with a port")
}

/// The HTTP grant naming a simulator.
fn grant_of(sim: &Sim) -> String {
    format!("127.0.0.1:{}", port_of(&sim.url()))
}

fn default_model(h: &Harness) -> String {
    h.models()
        .expect("models")
        .into_iter()
        .find(|m| m.is_default)
        .expect("a default model")
        .id
}


// ---- files ----

/// The reason the extension gives for a searched file, `path: reason` with the path cut off.
fn reason_for<'a>(searched: &'a [String], file: &Path) -> Option<&'a str> {
    let prefix = format!("{}: ", file.display());
    searched.iter().find_map(|s| s.strip_prefix(prefix.as_str()))
}

#[cfg(unix)]
#[test]
fn files_outside_the_grants_are_denied_alike_whether_they_exist_or_not() {
    use std::os::unix::fs::symlink;
    let outside = TempDir::new("outside");
    outside.write("apps.json", &apps_json("github.com", DEMO_OAUTH_TOKEN));
    let h = Harness::with(Setup {
        signed_in: false,
        ..Setup::default()
    });
    let granted = h.config_dir.path();
    // Links inside the granted config dir: one to a file outside that exists (and holds a
    // usable token), one to a file outside that does not.
    symlink(outside.path().join("apps.json"), granted.join("apps.json")).expect("link");
    symlink(outside.path().join("hosts.json"), granted.join("hosts.json")).expect("link");
    let searched = match h.models() {
        Err(ProviderError::NotSignedIn(info)) => info.searched,
        other => panic!("expected not-signed-in, got {other:?}"),
    };
    assert_eq!(
        reason_for(&searched, &granted.join("apps.json")),
        Some(DENIED_REASON),
        "{searched:?}"
    );
    assert_eq!(
        reason_for(&searched, &granted.join("hosts.json")),
        Some(DENIED_REASON),
        "{searched:?}"
    );
    // A missing file inside the grant is still plainly missing.
    assert_eq!(
        reason_for(&searched, &granted.join("auth.db")),
        Some("not found"),
        "{searched:?}"
    );
    assert_eq!(
        h.count(TOKEN_PATH),
        0,
        "the token outside the grants was never used"
    );
    assert_eq!(h.ext.restarts(), 0);

    // The host's answer to direct reads: the same `denied` for an existing and a missing file
    // outside every grant, however the path is spelled.
    let grants = h.ext.grants();
    let existing = outside.path().join("apps.json");
    let missing = outside.path().join("nothing.json");
    let climb = |p: &Path| format!("{}/../../{}", granted.display(), p.display());
    for path in [
        existing.display().to_string(),
        missing.display().to_string(),
        climb(&existing),
        climb(&missing),
        "apps.json".to_string(),
    ] {
        assert_eq!(grants.read_file(&path), Err(FileError::Denied), "{path}");
    }
    assert_eq!(
        grants.read_file(&granted.join("auth.db").display().to_string()),
        Err(FileError::NotFound)
    );
}

// ---- env ----

/// Loads the component with the manifest in `extension_dir`, against `sim`.
fn load(extension_dir: &Path, sim: &Sim, config_dir: &Path, env: &HashMap<String, String>) -> Extension {
    let mut opts = HostOptions::new(extension_dir);
    opts.wasm = Some(component());
    opts.copilot_config_dir = Some(config_dir.to_path_buf());
    opts.github_api_url = Some(sim.url());
    opts.env = EnvSource::Map(env.clone());
    opts.credentials = CredentialStore::in_memory();
    opts.log = LogSink::Capture;
    Extension::load(opts).expect("load the extension")
}

#[test]
fn an_undeclared_env_var_is_invisible() {
    let manifest = std::fs::read_to_string(extension_dir().join("extension.toml")).expect("manifest");
    let declared = r#"env = ["GH_COPILOT_TOKEN", "GITHUB_COPILOT_TOKEN", "#;
    assert!(
        manifest.contains(declared),
        "the manifest's env line changed; update this test"
    );
    let stripped_dir = TempDir::new("manifest");
    stripped_dir.write("extension.toml", &manifest.replace(declared, r#"env = ["#));

    let sim = Sim::start(SimConfig::default()).expect("start simulator");
    let config = TempDir::new("config");
    let env = HashMap::from([("GH_COPILOT_TOKEN".to_string(), DEMO_OAUTH_TOKEN.to_string())]);

    // Not declared: the extension cannot see the token in the environment.
    let ext = load(stripped_dir.path(), &sim, config.path(), &env);
    assert!(!ext.grants().env_allowed("GH_COPILOT_TOKEN"));
    match ext.models(PROVIDER).expect("no trap") {
        Err(ProviderError::NotSignedIn(_)) => {}
        other => panic!("expected not-signed-in, got {other:?}"),
    }
    assert!(sim.requests().is_empty(), "nothing was sent");
    assert!(
        ext.logs()
            .iter()
            .any(|l| l.contains("denied env var GH_COPILOT_TOKEN")),
        "{:?}",
        ext.logs()
    );

    // Declared (the real manifest): the same environment signs in.
    let ext = load(&extension_dir(), &sim, config.path(), &env);
    assert!(!ext.models(PROVIDER).expect("no trap").expect("models").is_empty());
    assert_eq!(sim.requests_to(TOKEN_PATH).len(), 1);

    // Nothing else of the environment is answered.
    for name in ["PATH", "SSH_AUTH_SOCK", "AWS_SECRET_ACCESS_KEY", "GH_TOKEN", ""] {
        assert!(!ext.grants().env_allowed(name), "{name}");
    }
}

// ---- HTTP hosts ----

#[test]
fn an_ungranted_http_host_is_denied_with_a_typed_error_and_never_contacted() {
    let other = Sim::start(SimConfig::default()).expect("start simulator");
    let other_authority = grant_of(&other);
    // The exchange names a Copilot API the user never granted. (One off the Copilot domains,
    // such as `https://copilot.evil.example`, is not even tried since issue 12: see
    // `faults::an_exchange_naming_an_api_off_the_copilot_domains_is_not_followed`.)
    for (api, host) in [(other.url(), other_authority.as_str())] {
        let h = Harness::with(Setup {
            sim: SimConfig {
                api_url: Some(api.clone()),
                ..SimConfig::default()
            },
            ..Setup::default()
        });
        match h.models() {
            Err(ProviderError::Network(m)) => {
                assert!(m.contains("did not grant access") && m.contains(host), "{m}")
            }
            other => panic!("{api}: expected a denied network error, got {other:?}"),
        }
        assert!(
            h.ext
                .logs()
                .iter()
                .any(|l| l.contains("denied an HTTP request to")),
            "{:?}",
            h.ext.logs()
        );
        assert_eq!(h.ext.restarts(), 0);
    }
    assert!(
        other.requests().is_empty(),
        "the ungranted simulator was never contacted"
    );

    // What the grants admit, at the host level.
    let h = Harness::new();
    let grants = h.ext.grants();
    assert!(grants
        .check_url("https://api.github.com/copilot_internal/v2/token")
        .is_ok());
    assert!(grants
        .check_url("https://api.individual.githubcopilot.com/models")
        .is_ok());
    assert!(grants.check_url(&format!("{}/models", h.sim.url())).is_ok());
    for url in [
        "http://api.github.com/copilot_internal/v2/token", // plain HTTP off loopback
        "https://evil.example/",
        "https://api.github.com.evil.example/",
        "https://githubcopilot.com/", // `*.` does not admit the bare domain
        "https://api.github.com:8443/",
        "file:///etc/passwd",
        "not a url",
    ] {
        assert!(grants.check_url(url).is_err(), "{url}");
    }
    assert!(
        grants.check_url(&format!("{}/models", other.url())).is_err(),
        "another loopback port"
    );
}

// ---- which token goes where ----

/// A GitHub API simulator (the harness's) whose exchange points at a separate Copilot API.
fn split_apis() -> (Harness, Sim) {
    let copilot = Sim::start(SimConfig::default()).expect("start the Copilot API simulator");
    let h = Harness::with(Setup {
        sim: SimConfig {
            api_url: Some(copilot.url()),
            ..SimConfig::default()
        },
        extra_http_hosts: vec![grant_of(&copilot)],
        ..Setup::default()
    });
    copilot.trust_sessions_of(&h.sim);
    (h, copilot)
}

fn is_session_token(token: &str) -> bool {
    token.starts_with("tid=")
}

#[test]
fn the_oauth_token_goes_only_to_the_exchange_and_the_session_token_never_to_the_github_api() {
    let (h, copilot) = split_apis();
    // Before any completion, the settings text and details ask the GitHub API for the
    // account's quota (`/copilot_internal/user`, which takes the OAuth token).
    h.ext.settings_markdown(PROVIDER).expect("no trap");
    h.ext.details(PROVIDER).expect("no trap");
    let model = default_model(&h);
    let events = h.chat(&model, request(vec![user("hi")])).expect("chat");
    assert!(!text_of(&events).is_empty());
    let mut req = request(vec![user("use the tool")]);
    req.tools = vec![tool("read_file")];
    h.chat(&model, req).expect("chat with tools");

    let github = h.sim.requests();
    assert!(github.iter().any(|r| r.path == TOKEN_PATH));
    assert!(github.iter().any(|r| r.path == "/copilot_internal/user"));
    for r in &github {
        // The exchange, and the account's quota: both on the GitHub API itself.
        assert!(
            r.path == TOKEN_PATH || r.path == "/copilot_internal/user",
            "{} got a credential on the GitHub API",
            r.path
        );
        assert_eq!(r.bearer(), Some(DEMO_OAUTH_TOKEN), "{}", r.path);
    }
    let api = copilot.requests();
    assert!(api.iter().any(|r| r.path == "/chat/completions"));
    for r in &api {
        let token = r.bearer().unwrap_or_default();
        assert!(is_session_token(token), "{} got a non-session credential", r.path);
    }
}

#[test]
fn in_fallback_the_oauth_token_goes_to_the_configured_copilot_api_only() {
    let (h, copilot) = split_apis();
    h.sim
        .fault(Route::Token, Fault::status(503, "unavailable"), Some(1));
    assert!(!h.model_ids().is_empty(), "the fallback serves a catalog");
    // The exchange failed, so no Copilot API was named: the configured one (the API URL
    // override) got the OAuth token; the exchange's Copilot API got nothing.
    assert!(copilot.requests().is_empty());
    let fallback = h.sim.requests_to("/models");
    assert_eq!(fallback.len(), 1);
    assert_eq!(fallback[0].bearer(), Some(DEMO_OAUTH_TOKEN));

    // Next time the exchange works, and the session token goes to the Copilot API only.
    h.clock.advance(PAST_CATALOG_BACKOFF_SECS);
    let model = default_model(&h);
    h.chat(&model, request(vec![user("hi")])).expect("chat");
    for r in h.sim.requests() {
        assert!(
            !is_session_token(r.bearer().unwrap_or_default()),
            "{} got the session token",
            r.path
        );
    }
    assert!(!copilot.requests().is_empty());
    for r in copilot.requests() {
        assert!(is_session_token(r.bearer().unwrap_or_default()), "{}", r.path);
    }
}

// ---- redirects ----

#[test]
fn a_redirect_to_another_host_carries_no_authorization() {
    let elsewhere = Sim::start(SimConfig::default()).expect("start simulator");
    let h = Harness::with(Setup {
        extra_http_hosts: vec![grant_of(&elsewhere)],
        ..Setup::default()
    });
    let location = format!("{}/models", elsewhere.url());
    h.sim.fault(
        Route::Models,
        Fault::status_with_headers(302, &[("location", &location)], ""),
        Some(1),
    );
    // The other host, reached without credentials, refuses with 401; the extension then
    // exchanges again and retries at home, so the call may well succeed. Either way, no trap.
    let _ = h.models();
    assert_eq!(h.ext.restarts(), 0);
    let original = h.sim.requests_to("/models");
    assert!(is_session_token(original[0].bearer().unwrap_or_default()));
    let followed = elsewhere.requests_to("/models");
    assert_eq!(followed.len(), 1, "the redirect was followed");
    assert_eq!(followed[0].header("authorization"), None, "{:?}", followed[0]);

    // A chat POST redirected with 307 keeps its body but not its credentials.
    let h = Harness::with(Setup {
        extra_http_hosts: vec![grant_of(&elsewhere)],
        ..Setup::default()
    });
    let model = default_model(&h);
    let location = format!("{}/chat/completions", elsewhere.url());
    h.sim.fault(
        Route::ChatCompletions,
        Fault::status_with_headers(307, &[("location", &location)], ""),
        Some(1),
    );
    let _ = h.chat(&model, request(vec![user("hi")]));
    assert_eq!(h.ext.restarts(), 0);
    let followed = elsewhere.requests_to("/chat/completions");
    assert_eq!(followed.len(), 1);
    assert_eq!(followed[0].header("authorization"), None);
    assert!(followed[0].json().is_some(), "307 keeps the body");

    // The exchange follows no redirect: the OAuth token never leaves the exchange URL.
    elsewhere.clear_requests();
    let h = Harness::with(Setup {
        extra_http_hosts: vec![grant_of(&elsewhere)],
        ..Setup::default()
    });
    let location = format!("{}{TOKEN_PATH}", elsewhere.url());
    h.sim.fault(
        Route::Token,
        Fault::status_with_headers(302, &[("location", &location)], ""),
        None,
    );
    let _ = h.models();
    assert!(elsewhere.requests().is_empty(), "{:?}", elsewhere.requests());
    assert_eq!(h.ext.restarts(), 0);

    // A redirect to a host nobody granted is denied, and that host is never contacted.
    let ungranted = Sim::start(SimConfig::default()).expect("start simulator");
    let h = Harness::new();
    let location = format!("{}/models", ungranted.url());
    h.sim.fault(
        Route::Models,
        Fault::status_with_headers(302, &[("location", &location)], ""),
        Some(1),
    );
    match h.models() {
        Err(ProviderError::Network(m)) => assert!(m.contains("did not grant access"), "{m}"),
        other => panic!("expected a denied network error, got {other:?}"),
    }
    assert!(ungranted.requests().is_empty());
}

// ---- the secret scan ----

/// Everything a user or a log collector could see, gathered across flows.
#[derive(Default)]
struct Seen {
    texts: Vec<String>,
}

impl Seen {
    fn result<T: Debug>(&mut self, result: &Result<T, ProviderError>) {
        self.texts.push(format!("{result:?}"));
        if let Err(e) = result {
            self.texts.push(display_error(e));
            self.texts.push(format!("{e:#?}"));
        }
    }

    fn harness(&mut self, h: &Harness) {
        self.texts.extend(h.ext.logs());
        self.texts.push(format!("{:?}", h.ext.settings()));
        self.texts.push(format!("{:?}", h.ext.grants()));
    }
}

/// Every credential the simulators saw (the OAuth token and each session token).
fn secrets_seen_by(sims: &[&Sim]) -> Vec<String> {
    let mut secrets = vec![DEMO_OAUTH_TOKEN.to_string()];
    for sim in sims {
        for r in sim.requests() {
            if let Some(token) = r.bearer() {
                if !secrets.iter().any(|s| s == token) {
                    secrets.push(token.to_string());
                }
            }
        }
    }
    secrets
}

/// The distinctive parts of a secret: the whole, and what follows a short prefix (a redacted
/// form keeps the first few characters, nothing more); for a session token, its MAC.
fn needles(secret: &str) -> Vec<String> {
    let mut needles = vec![secret.to_string(), secret.chars().skip(8).collect()];
    if let Some((_, mac)) = secret.rsplit_once(':') {
        needles.push(mac.to_string());
    }
    needles.retain(|n| n.len() >= 12);
    needles
}

fn assert_no_secret(seen: &Seen, secrets: &[String]) {
    for text in &seen.texts {
        for secret in secrets {
            for needle in needles(secret) {
                assert!(!text.contains(&needle), "a token leaked into: {text}");
            }
        }
    }
}

/// Scans what `seen` gathered for every credential the simulators saw.
/// `planted` are tokens the test itself put into server answers.
fn scan(seen: &Seen, sims: &[Sim], planted: &[&str]) {
    let refs: Vec<&Sim> = sims.iter().collect();
    let mut secrets = secrets_seen_by(&refs);
    secrets.extend(planted.iter().map(|s| s.to_string()));
    assert_no_secret(seen, &secrets);
}

/// A session-token-shaped credential planted in server answers.
const PLANTED_SESSION: &str = "tid=planted;exp=1;sku=x:00ff00ff00ff00ff00ff00ff00ff00ff";

/// The text of a server answer that echoes both tokens back.
fn echo_of(session: &str) -> String {
    format!("token {DEMO_OAUTH_TOKEN} and Bearer {session} and {session} rejected")
}

#[test]
fn no_token_appears_in_the_outputs_of_chats_and_failing_chats() {
    let mut seen = Seen::default();
    let mut sims: Vec<Sim> = Vec::new();

    // Success: models, text and tool calls.
    let h = Harness::new();
    let model = default_model(&h);
    seen.result(&h.models());
    seen.result(&h.chat(&model, request(vec![user("hi")])));
    let mut req = request(vec![user("use the tool")]);
    req.tools = vec![tool("read_file")];
    seen.result(&h.chat(&model, req));
    let session = h.sim.requests_to("/models")[0]
        .bearer()
        .expect("a bearer")
        .to_string();

    // Servers that echo the credentials back in their error bodies and headers.
    let echo = echo_of(&session);
    let echo_json = json!({"error": {"message": echo, "code": "user_model_rate_limited"}}).to_string();
    // Two answers per status: a retried status uses both, others leave one for the next
    // round; either way every answer the extension reads echoes the tokens.
    for status in [400, 401, 403, 404, 413, 429, 500, 503] {
        for _ in 0..2 {
            h.sim.script_chat(
                ChatScript::status(status, echo_json.clone())
                    .with_header("x-request-id", &session)
                    .with_header("x-ratelimit-exceeded", DEMO_OAUTH_TOKEN),
            );
        }
        seen.result(&h.chat(&model, request(vec![user("hi")])));
    }
    // A stream whose events carry the tokens in an error event.
    let events = [json!({"error": {"message": echo}})];
    h.sim.script_chat(ChatScript::sse(&events, false, 0));
    seen.result(&h.chat(&model, request(vec![user("hi")])));
    seen.harness(&h);
    sims.push(h.sim);
    assert!(
        secrets_seen_by(&[&sims[0]]).iter().any(|s| is_session_token(s)),
        "session tokens were issued"
    );
    scan(&seen, &sims, &[]);
}

#[test]
fn no_token_appears_in_the_outputs_of_failing_exchanges() {
    let mut seen = Seen::default();
    let mut sims: Vec<Sim> = Vec::new();
    let echo = echo_of(PLANTED_SESSION);
    // The exchange refusing, rate limiting or failing, its answers echoing the OAuth token.
    for fault in [
        Fault::status_with_headers(401, &[], &json!({"message": echo}).to_string()),
        Fault::status_with_headers(
            403,
            &[],
            &json!({"message": echo, "error_details": {"message": echo}}).to_string(),
        ),
        Fault::status_with_headers(
            429,
            &[("retry-after", "5")],
            &json!({"message": echo}).to_string(),
        ),
        Fault::status_with_headers(500, &[], &echo),
        Fault::status_with_headers(200, &[], &json!({"token": "", "message": echo}).to_string()),
        Fault::Garbage,
    ] {
        let h = Harness::with(Setup {
            settings: json!({"request_timeout_secs": 1}),
            ..Setup::default()
        });
        h.sim.fault(Route::Token, fault, None);
        seen.result(&h.models());
        if let Ok(models) = h.models() {
            if let Some(m) = models.first() {
                seen.result(&h.chat(&m.id, request(vec![user("hi")])));
            }
        }
        h.sim.fault(
            Route::Models,
            Fault::status_with_headers(401, &[], &json!({"message": echo}).to_string()),
            None,
        );
        h.clock.advance(PAST_CATALOG_BACKOFF_SECS);
        seen.result(&h.models());
        seen.harness(&h);
        sims.push(h.sim);
    }
    scan(&seen, &sims, &[PLANTED_SESSION]);
}

#[test]
fn no_token_appears_in_the_outputs_of_timeouts_denials_and_sign_in_errors() {
    let mut seen = Seen::default();
    let mut sims: Vec<Sim> = Vec::new();
    // Timeouts.
    let h = Harness::with(Setup {
        settings: json!({"request_timeout_secs": 1}),
        ..Setup::default()
    });
    let model = default_model(&h);
    h.sim.fault(Route::ChatCompletions, Fault::Stall, Some(1));
    seen.result(&h.chat(&model, request(vec![user("hi")])));
    h.sim
        .fault(Route::Models, Fault::Delay(Duration::from_secs(3)), Some(1));
    h.clock.advance(2000);
    seen.result(&h.models());
    seen.harness(&h);
    sims.push(h.sim);

    // Not signed in, with a token in an env var the manifest does not declare.
    let h = Harness::with(Setup {
        signed_in: false,
        env: HashMap::from([("SOME_SECRET".to_string(), DEMO_OAUTH_TOKEN.to_string())]),
        ..Setup::default()
    });
    seen.result(&h.models());
    seen.harness(&h);
    sims.push(h.sim);

    // A token from the environment, and the host options that carry it.
    let env = HashMap::from([("GH_COPILOT_TOKEN".to_string(), DEMO_OAUTH_TOKEN.to_string())]);
    let h = Harness::with(Setup {
        signed_in: false,
        env: env.clone(),
        ..Setup::default()
    });
    seen.result(&h.models());
    seen.harness(&h);
    let mut opts = HostOptions::new(extension_dir());
    opts.env = EnvSource::Map(env);
    opts.settings = json!({"github_token": DEMO_OAUTH_TOKEN, "copilot_token": PLANTED_SESSION});
    seen.texts.push(format!("{opts:?}"));
    sims.push(h.sim);

    // A denied host.
    let h = Harness::with(Setup {
        sim: SimConfig {
            api_url: Some("https://copilot.evil.example".into()),
            ..SimConfig::default()
        },
        ..Setup::default()
    });
    seen.result(&h.models());
    seen.harness(&h);
    sims.push(h.sim);
    scan(&seen, &sims, &[PLANTED_SESSION]);
}

#[test]
fn the_scan_catches_a_leak() {
    let session = "tid=sim1;exp=1;sku=x:0123456789abcdef0123456789abcdef".to_string();
    let secrets = vec![DEMO_OAUTH_TOKEN.to_string(), session.clone()];
    for leak in [
        format!("sent {DEMO_OAUTH_TOKEN}"),
        format!("partly masked ghu_…{}", &DEMO_OAUTH_TOKEN[8..]),
        format!("authorization: Bearer {session}"),
        "mac 0123456789abcdef0123456789abcdef".to_string(),
    ] {
        let seen = Seen {
            texts: vec!["harmless".into(), leak.clone()],
        };
        let caught = std::panic::catch_unwind(|| assert_no_secret(&seen, &secrets)).is_err();
        assert!(caught, "missed: {leak}");
    }
    assert_no_secret(
        &Seen {
            texts: vec!["ghu_…[redacted] and tid=…[redacted]".into()],
        },
        &secrets,
    );
}

/// A config dir given as `~/…` in the settings is granted where the extension reads it.
#[test]
fn a_config_dir_under_home_in_the_settings_is_readable() {
    let sim = Sim::start(SimConfig::default()).expect("start simulator");
    let home = TempDir::new("home");
    std::fs::create_dir_all(home.path().join("cfg")).expect("mkdir");
    std::fs::write(
        home.path().join("cfg/apps.json"),
        apps_json("github.com", DEMO_OAUTH_TOKEN),
    )
    .expect("write");
    let mut opts = HostOptions::new(extension_dir());
    opts.wasm = Some(component());
    opts.github_api_url = Some(sim.url());
    opts.settings = json!({"copilot_config_dir": "~/cfg"});
    let home_dir = home.path().display().to_string();
    opts.env = EnvSource::Map(HashMap::from([("HOME".to_string(), home_dir)]));
    opts.credentials = CredentialStore::in_memory();
    opts.log = LogSink::Capture;
    let ext = Extension::load(opts).expect("load with a `~/` config dir");
    assert!(!ext.models(PROVIDER).expect("no trap").expect("models").is_empty());
    assert_eq!(sim.requests_to(TOKEN_PATH).len(), 1);
}
