//! Where the credential comes from, as seen through the sandboxed extension.

use std::collections::HashMap;

use copilot_chat_tests::*;
use copilot_host::ProviderError;

#[test]
fn no_credential_anywhere_is_not_signed_in_with_where_it_looked() {
    let h = Harness::with(Setup { signed_in: false, ..Setup::default() });
    assert!(!h.ext.is_authenticated(PROVIDER).expect("call"));
    match h.models() {
        Err(ProviderError::NotSignedIn(info)) => {
            let all = info.searched.join("\n");
            assert!(all.contains("GH_COPILOT_TOKEN"), "{all}");
            assert!(all.contains("apps.json"), "{all}");
            assert!(all.contains("hosts.json"), "{all}");
        }
        other => panic!("expected not-signed-in, got {other:?}"),
    }
    assert!(h.sim.requests().is_empty(), "nothing is sent without a credential");
}

#[test]
fn the_env_token_is_used_before_the_files() {
    let env_token = "ghu_envToken1111111111111111111111111";
    let h = Harness::with(Setup {
        env: HashMap::from([("GH_COPILOT_TOKEN".to_string(), env_token.to_string())]),
        sim: copilot_sim::SimConfig {
            oauth_tokens: vec![env_token.to_string(), DEMO_OAUTH_TOKEN.to_string()],
            ..copilot_sim::SimConfig::default()
        },
        ..Setup::default()
    });
    h.models().expect("models");
    let exchange = &h.sim.requests_to("/copilot_internal/v2/token")[0];
    assert_eq!(exchange.header("authorization"), Some(format!("token {env_token}").as_str()));
}

#[test]
fn hosts_json_is_read_when_apps_json_is_absent() {
    let h = Harness::with(Setup { signed_in: false, ..Setup::default() });
    h.config_dir.write(
        "hosts.json",
        &serde_json::json!({ "github.com": { "user": "sim-user", "oauth_token": DEMO_OAUTH_TOKEN } }).to_string(),
    );
    assert!(!h.model_ids().is_empty());
}

#[test]
fn a_malformed_apps_json_does_not_hide_a_valid_hosts_json() {
    let h = Harness::with(Setup { signed_in: false, ..Setup::default() });
    h.config_dir.write("apps.json", "{ not json");
    h.config_dir.write(
        "hosts.json",
        &serde_json::json!({ "github.com": { "oauth_token": DEMO_OAUTH_TOKEN } }).to_string(),
    );
    assert!(!h.model_ids().is_empty());
}

#[test]
fn an_entry_for_a_look_alike_host_is_not_used() {
    let h = Harness::with(Setup { signed_in: false, ..Setup::default() });
    h.config_dir.write("apps.json", &apps_json("github.com.evil.example", DEMO_OAUTH_TOKEN));
    assert!(matches!(h.models(), Err(ProviderError::NotSignedIn(_))));
}

/// A harness signed in only through `env`, whose simulator accepts `token`.
fn with_env(env: &[(&str, &str)], token: &str) -> Harness {
    Harness::with(Setup {
        signed_in: false,
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        sim: copilot_sim::SimConfig {
            oauth_tokens: vec![token.to_string()],
            ..copilot_sim::SimConfig::default()
        },
        ..Setup::default()
    })
}

fn exchanged_token(h: &Harness) -> String {
    let exchange = &h.sim.requests_to("/copilot_internal/v2/token")[0];
    exchange.header("authorization").unwrap_or_default().trim_start_matches("token ").to_string()
}

#[test]
fn every_env_source_yields_a_session() {
    let token = "ghu_envSource22222222222222222222222222";
    for env in [
        vec![("GITHUB_COPILOT_TOKEN", token)],
        vec![("GITHUB_TOKEN", token), ("CODESPACES", "true")],
        // A pasted session token (it holds `=`) is skipped for the next source.
        vec![("GH_COPILOT_TOKEN", "tid=abc;exp=1:mac"), ("GITHUB_COPILOT_TOKEN", token)],
    ] {
        let h = with_env(&env, token);
        assert!(!h.model_ids().is_empty(), "{env:?}");
        assert_eq!(exchanged_token(&h), token, "{env:?}");
        let last = h.sim.requests_to("/models").pop().expect("a models call");
        assert!(last.header("authorization").unwrap_or_default().starts_with("Bearer tid="));
    }
}

#[test]
fn github_token_outside_codespaces_is_not_used() {
    let token = "ghu_envSource33333333333333333333333333";
    let h = with_env(&[("GITHUB_TOKEN", token)], token);
    match h.models() {
        Err(ProviderError::NotSignedIn(info)) => {
            assert!(info.searched.join("\n").contains("GITHUB_TOKEN"), "{:?}", info.searched);
        }
        other => panic!("expected not-signed-in, got {other:?}"),
    }
    assert!(h.sim.requests().is_empty());
}

// ---- Scope (issue 12): credentials belong to a host. ----

/// Whether the simulator saw `token` on any request.
fn sim_saw(h: &Harness, token: &str) -> bool {
    h.sim.requests().iter().any(|r| {
        r.bearer() == Some(token) || r.headers.iter().any(|(_, v)| v.contains(token))
    })
}

#[test]
fn a_default_dir_credential_is_not_sent_to_a_loopback_api_url() {
    let h = Harness::with(Setup { default_config_dir: true, ..Setup::default() });
    let err = h.models().expect_err("the default-dir credential is withheld from the simulator");
    let ProviderError::NotSignedIn(info) = &err else { panic!("{err:?}") };
    let shown = format!("{info:?}");
    assert!(shown.contains("withheld"), "{shown}");
    assert!(!sim_saw(&h, DEMO_OAUTH_TOKEN), "the simulator received the default-dir credential");
    assert!(h.sim.requests().iter().all(|r| r.bearer().is_none()), "no credential at all went out");
}

#[test]
fn an_explicit_config_dir_credential_is_sent_to_the_loopback_api_url() {
    let h = Harness::new();
    assert!(!h.model_ids().is_empty());
    assert!(sim_saw(&h, DEMO_OAUTH_TOKEN), "the explicit credential reached the exchange");
}

#[test]
fn an_env_token_is_sent_to_the_loopback_api_url_even_beside_a_default_dir_one() {
    let h = Harness::with(Setup {
        default_config_dir: true,
        env: [("GH_COPILOT_TOKEN".to_string(), DEMO_OAUTH_TOKEN.to_string())].into(),
        ..Setup::default()
    });
    assert!(!h.model_ids().is_empty());
    assert!(sim_saw(&h, DEMO_OAUTH_TOKEN));
}
