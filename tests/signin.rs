//! Credentials from `auth.db` (and its WAL), device-flow sign-in, sign-out, and fresh
//! credentials without a restart: the real component under the host against the simulator.
//! Time moves only through the shared clock (`h.clock.advance`), never by sleeping.

mod sqlite_fixture;

use copilot_chat_tests::*;
use copilot_host::{
    Clock, CredentialStore, EnvSource, Extension, HostOptions, LogSink, ProviderError,
};
use copilot_sim::{DeviceStep, Fault, Route, Sim, SimConfig};

use sqlite_fixture::{build_db, build_wal, page, Frame, Table, TokenRowSpec};

const PAGE_SIZE: usize = 1024;
const ACCESS_TOKEN_PATH: &str = "/login/oauth/access_token";
const EXCHANGE_PATH: &str = "/copilot_internal/v2/token";

fn not_signed_in() -> Harness {
    Harness::with(Setup {
        signed_in: false,
        ..Setup::default()
    })
}

fn write_bytes(h: &Harness, name: &str, bytes: &[u8]) {
    std::fs::write(h.config_dir.path().join(name), bytes).expect("write test file");
}

fn auth_db(rows: &[TokenRowSpec]) -> Vec<u8> {
    build_db(PAGE_SIZE, &[Table::oauth_tokens(rows)])
}

/// The `authorization` headers of every token exchange so far.
fn exchanged_with(h: &Harness) -> Vec<String> {
    h.sim
        .requests_to(EXCHANGE_PATH)
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_string))
        .collect()
}

fn markdown(h: &Harness) -> String {
    h.ext
        .settings_markdown(PROVIDER)
        .expect("call")
        .expect("markdown")
}

#[test]
fn a_token_in_auth_db_yields_a_session() {
    let h = not_signed_in();
    write_bytes(
        &h,
        "auth.db",
        &auth_db(&[
            TokenRowSpec::encrypted(1, "github.com", COPILOT_APP, "sim-user", 9_000),
            TokenRowSpec::plain(
                2,
                "github.com",
                COPILOT_APP,
                "sim-user",
                DEMO_OAUTH_TOKEN,
                5_000,
            ),
            TokenRowSpec::plain(
                3,
                "acme.ghe.com",
                COPILOT_APP,
                "emp",
                "ghu_enterpriseOnly000000000000000000",
                9_999,
            ),
        ]),
    );
    assert!(!h.model_ids().is_empty());
    assert_eq!(exchanged_with(&h), [format!("token {DEMO_OAUTH_TOKEN}")]);
    assert!(markdown(&h).contains("auth.db (app Iv1.b507a08c87ecfe98)"));
}

#[test]
fn a_token_only_in_the_wal_yields_a_session() {
    let h = not_signed_in();
    let before = auth_db(&[]);
    let after = auth_db(&[TokenRowSpec::plain(
        1,
        "github.com",
        COPILOT_APP,
        "sim-user",
        DEMO_OAUTH_TOKEN,
        1,
    )]);
    write_bytes(&h, "auth.db", &before);
    write_bytes(
        &h,
        "auth.db-wal",
        &build_wal(
            PAGE_SIZE,
            (11, 22),
            &[Frame {
                page: 2,
                data: page(&after, PAGE_SIZE, 2),
                commit_size: 2,
            }],
            false,
        ),
    );
    assert!(!h.model_ids().is_empty());
}

#[test]
fn an_encrypted_only_or_corrupt_auth_db_says_why() {
    let h = not_signed_in();
    write_bytes(
        &h,
        "auth.db",
        &auth_db(&[TokenRowSpec::encrypted(
            1,
            "github.com",
            COPILOT_APP,
            "u",
            1,
        )]),
    );
    match h.models() {
        Err(ProviderError::NotSignedIn(info)) => {
            let all = info.searched.join("\n");
            assert!(
                all.contains("auth.db: 1 row(s) for github.com but none usable: 1 encrypted"),
                "{all}"
            );
        }
        other => panic!("expected not-signed-in, got {other:?}"),
    }
    let mut corrupt = auth_db(&[TokenRowSpec::plain(
        1,
        "github.com",
        COPILOT_APP,
        "u",
        DEMO_OAUTH_TOKEN,
        1,
    )]);
    corrupt[PAGE_SIZE] = 0x42; // page 2 is no longer a b-tree page
    write_bytes(&h, "auth.db", &corrupt);
    match h.models() {
        Err(ProviderError::NotSignedIn(info)) => {
            let all = info.searched.join("\n");
            assert!(
                all.contains("auth.db: corrupt: page 2 has b-tree page type 0x42"),
                "{all}"
            );
            assert!(!all.contains(DEMO_OAUTH_TOKEN));
        }
        other => panic!("expected not-signed-in, got {other:?}"),
    }
}

#[test]
fn a_credential_that_appears_later_is_found_on_the_next_call() {
    let h = not_signed_in();
    assert!(matches!(h.models(), Err(ProviderError::NotSignedIn(_))));
    write_bytes(
        &h,
        "auth.db",
        &auth_db(&[TokenRowSpec::plain(
            1,
            "github.com",
            COPILOT_APP,
            "u",
            DEMO_OAUTH_TOKEN,
            1,
        )]),
    );
    assert!(!h.model_ids().is_empty());
}

#[test]
fn a_401_from_the_exchange_rereads_and_finds_a_new_token() {
    let new_token = "ghu_signedInAgainElsewhere00000000000";
    let h = Harness::with(Setup {
        sim: SimConfig {
            oauth_tokens: vec![DEMO_OAUTH_TOKEN.to_string(), new_token.to_string()],
            ..SimConfig::default()
        },
        ..Setup::default()
    });
    assert!(!h.model_ids().is_empty());
    // A changed file alone is not re-read while nothing fails.
    h.config_dir
        .write("apps.json", &apps_json("github.com", new_token));
    assert!(!h.model_ids().is_empty());
    assert_eq!(exchanged_with(&h), [format!("token {DEMO_OAUTH_TOKEN}")]);
    // The session ends and the old token is refused: the file is read again.
    h.sim.fault(
        Route::Token,
        Fault::status(401, r#"{"message":"Bad credentials"}"#),
        Some(1),
    );
    h.clock.advance(copilot_sim::DEFAULT_TOKEN_TTL_SECS + 60);
    assert!(!h.model_ids().is_empty());
    assert_eq!(
        exchanged_with(&h),
        [
            format!("token {DEMO_OAUTH_TOKEN}"),
            format!("token {DEMO_OAUTH_TOKEN}"),
            format!("token {new_token}")
        ]
    );
}

/// Polls like a host would: wait one default interval, poll, until signed in or an error.
fn poll_until_done(h: &Harness) -> Result<bool, ProviderError> {
    for _ in 0..40 {
        h.clock.advance(copilot_sim::DEVICE_INTERVAL_SECS);
        match h
            .ext
            .poll_sign_in(PROVIDER)
            .expect("poll call must not trap")
        {
            Ok(false) => continue,
            other => return other,
        }
    }
    Ok(false)
}

#[test]
fn device_flow_through_pending_and_slow_down_to_success() {
    let h = not_signed_in();
    h.sim.script_device_flow(vec![
        DeviceStep::Pending,
        DeviceStep::SlowDown,
        DeviceStep::Approve,
    ]);
    let prompt = h
        .ext
        .start_sign_in(PROVIDER)
        .expect("call")
        .expect("prompt");
    assert!(!prompt.user_code.is_empty());
    assert_eq!(
        prompt.verification_url,
        format!("{}/login/device", h.sim.url())
    );
    assert_eq!(prompt.expires_in_secs, copilot_sim::DEVICE_EXPIRES_IN_SECS);
    let start = &h.sim.requests_to("/login/device/code")[0];
    assert_eq!(
        String::from_utf8_lossy(&start.body),
        "client_id=Iv1.b507a08c87ecfe98&scope=read%3Auser"
    );
    assert_eq!(poll_until_done(&h), Ok(true));
    // Exactly one request per scripted step: a poll sooner than the interval would have been
    // answered `slow_down` by the simulator and shown up as an extra request.
    assert_eq!(h.sim.requests_to(ACCESS_TOKEN_PATH).len(), 3);
    let token = h.sim.device_tokens().pop().expect("a token was issued");
    assert!(h.ext.is_authenticated(PROVIDER).expect("call"));
    assert!(!h.model_ids().is_empty());
    assert_eq!(exchanged_with(&h), [format!("token {token}")]);
    let md = markdown(&h);
    assert!(
        md.contains(copilot_sim::DEVICE_LOGIN) && !md.contains(&token),
        "{md}"
    );
}

#[test]
fn device_flow_denied() {
    let h = not_signed_in();
    h.sim
        .script_device_flow(vec![DeviceStep::Pending, DeviceStep::Deny]);
    h.ext
        .start_sign_in(PROVIDER)
        .expect("call")
        .expect("prompt");
    match poll_until_done(&h) {
        Err(ProviderError::NotSignedIn(info)) => {
            assert!(info.searched.join(" ").contains("denied"), "{info:?}")
        }
        other => panic!("expected a denial, got {other:?}"),
    }
    assert!(!h.ext.is_authenticated(PROVIDER).expect("call"));
    // The flow is over: polling again is an error, not a request.
    let before = h.sim.requests_to(ACCESS_TOKEN_PATH).len();
    assert!(matches!(
        h.ext.poll_sign_in(PROVIDER).expect("call"),
        Err(ProviderError::InvalidRequest(_))
    ));
    assert_eq!(h.sim.requests_to(ACCESS_TOKEN_PATH).len(), before);
}

#[test]
fn device_flow_expires_by_the_clock_and_by_the_server() {
    let h = not_signed_in();
    h.ext
        .start_sign_in(PROVIDER)
        .expect("call")
        .expect("prompt");
    h.clock.advance(copilot_sim::DEVICE_EXPIRES_IN_SECS);
    match h.ext.poll_sign_in(PROVIDER).expect("call") {
        Err(ProviderError::NotSignedIn(info)) => {
            assert!(info.searched.join(" ").contains("expired"), "{info:?}")
        }
        other => panic!("expected expiry, got {other:?}"),
    }
    assert!(
        h.sim.requests_to(ACCESS_TOKEN_PATH).is_empty(),
        "an expired code is not polled"
    );

    h.sim.script_device_flow(vec![DeviceStep::Expire]);
    h.ext
        .start_sign_in(PROVIDER)
        .expect("call")
        .expect("prompt");
    assert!(matches!(
        poll_until_done(&h),
        Err(ProviderError::NotSignedIn(_))
    ));
}

#[test]
fn sign_out_clears_everything() {
    let h = not_signed_in();
    h.ext
        .start_sign_in(PROVIDER)
        .expect("call")
        .expect("prompt");
    assert_eq!(poll_until_done(&h), Ok(true));
    assert!(!h.model_ids().is_empty());
    h.ext
        .reset_credentials(PROVIDER)
        .expect("call")
        .expect("sign out");
    assert!(!h.ext.is_authenticated(PROVIDER).expect("call"));
    let before = h.sim.requests().len();
    assert!(matches!(h.models(), Err(ProviderError::NotSignedIn(_))));
    assert_eq!(
        h.sim.requests().len(),
        before,
        "no cached session or endpoint survives"
    );
    let md = markdown(&h);
    assert!(md.contains("Not signed in"), "{md}");
}

#[test]
fn doctor_report_without_a_credential_names_every_place_and_the_fix() {
    let h = not_signed_in();
    let md = markdown(&h);
    let dir = h.config_dir.path().display().to_string();
    for place in [
        "env GH_COPILOT_TOKEN",
        "apps.json",
        "hosts.json",
        "auth.db",
        "stored sign-in",
    ] {
        assert!(md.contains(place), "{place} missing in {md}");
    }
    assert!(md.contains(&dir), "{md}");
    assert!(md.contains("copilot-host sign-in"), "{md}");
    assert!(md.contains("<!-- copilot-doctor:"), "{md}");
}

/// A fresh machine: `HOME` exists but holds no `.config/github-copilot` (the manifest's default
/// grant), and no Copilot config dir is configured; only `copilot-host sign-in` was used.
fn fresh_machine() -> Harness {
    let clock = Clock::frozen();
    let sim = Sim::start(SimConfig {
        clock: clock.as_fn(),
        ..SimConfig::default()
    })
    .expect("start simulator");
    let home = TempDir::new("fresh-home");
    let mut opts = HostOptions::new(extension_dir());
    opts.wasm = Some(component());
    opts.github_api_url = Some(sim.url());
    opts.env = EnvSource::Map(
        [("HOME".to_string(), home.path().display().to_string())]
            .into_iter()
            .collect(),
    );
    opts.clock = clock.clone();
    opts.credentials = CredentialStore::in_memory();
    opts.log = LogSink::Capture;
    let ext = Extension::load(opts).expect("load the extension");
    Harness {
        sim,
        ext,
        clock,
        config_dir: home,
    }
}

/// The JSON report the doctor embeds in the settings markdown.
fn doctor_json(md: &str) -> serde_json::Value {
    let start =
        md.find("<!-- copilot-doctor:").expect("report marker") + "<!-- copilot-doctor:".len();
    let end = md[start..].find("-->").expect("report end") + start;
    serde_json::from_str(md[start..end].trim()).expect("report JSON")
}

#[test]
fn doctor_on_a_fresh_machine_after_sign_in_lists_no_problem() {
    let h = fresh_machine();
    let default_dir = h.config_dir.path().join(".config/github-copilot");
    assert!(!default_dir.exists());
    h.sim.script_device_flow(vec![DeviceStep::Approve]);
    h.ext
        .start_sign_in(PROVIDER)
        .expect("call")
        .expect("prompt");
    assert_eq!(poll_until_done(&h), Ok(true));
    assert!(!h.model_ids().is_empty());
    let report = doctor_json(&markdown(&h));
    assert_eq!(report["problems"], serde_json::json!([]), "{report:#}");
    let sources = report["sources"].as_array().expect("sources");
    let dir = default_dir.display().to_string();
    // The API here is the loopback simulator, so the default place is withheld (its
    // credentials belong to github.com) rather than read: either way it is no problem, and
    // never reported as a directory the host did not grant.
    let entry = sources
        .iter()
        .find(|s| s["source"].as_str().is_some_and(|source| source.starts_with(&dir)))
        .unwrap_or_else(|| panic!("{dir} not listed: {report:#}"));
    let result = entry["result"].as_str().expect("a result");
    assert!(result.starts_with("withheld: a default place"), "{report:#}");
    assert!(!result.contains("grant"), "{report:#}");
    assert!(report["credential"]["source"]
        .as_str()
        .is_some_and(|s| s.starts_with("stored sign-in")));
}

#[test]
fn doctor_on_a_fresh_machine_before_sign_in_says_sign_in() {
    let h = fresh_machine();
    let report = doctor_json(&markdown(&h));
    let problems = report["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 1, "{report:#}");
    assert!(
        problems[0]["fix"]
            .as_str()
            .is_some_and(|f| f.contains("copilot-host sign-in")),
        "{report:#}"
    );
}
