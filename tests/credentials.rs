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
