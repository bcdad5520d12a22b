//! Which models are offered and how they are described: every offered model answers through
//! the endpoint it speaks, models needing enablement are marked (or enabled when the user
//! opted in), and a failed catalog fetch heals by itself with backoff and never empties a
//! good list.

use copilot_chat_tests::*;
use copilot_host::{CompletionEvent, ProviderError, StopReason};
use copilot_sim::{Fault, Route, SimConfig};
use serde_json::json;

/// Models in the simulator's catalog whose policy is not yet enabled.
const TO_ENABLE: [&str; 2] = ["gemini-2.5-pro", "claude-opus-4"];
const SUFFIX: &str = " (enable in GitHub settings)";

fn markdown(h: &Harness) -> String {
    h.ext
        .settings_markdown(PROVIDER)
        .expect("no trap")
        .expect("markdown")
}

#[test]
fn every_offered_model_answers_through_its_endpoint() {
    let h = Harness::new();
    let models = h.models().expect("models");
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    assert!(
        ids.contains(&"gpt-5"),
        "the responses-only model is offered: {ids:?}"
    );
    assert!(
        !ids.contains(&"grok-code-fast-1"),
        "a disabled policy is never offered: {ids:?}"
    );
    assert!(!ids.iter().any(|id| id.contains("embedding")), "{ids:?}");
    for model in &models {
        let counts = || (h.count("/chat/completions"), h.count("/responses"), h.count("/v1/messages"));
        let before = counts();
        let events = h
            .chat(&model.id, request(vec![user("hello")]))
            .unwrap_or_else(|e| panic!("{}: {e:?}", model.id));
        assert!(!text_of(&events).is_empty(), "{}", model.id);
        assert!(
            matches!(
                events.last(),
                Some(CompletionEvent::Stop(StopReason::EndTurn))
            ),
            "{}",
            model.id
        );
        let after = counts();
        // Responses-only GPT-5 on /responses, Claude on /v1/messages, the rest on chat.
        let expected = if model.id == "gpt-5" {
            (before.0, before.1 + 1, before.2)
        } else if model.id.starts_with("claude") {
            (before.0, before.1, before.2 + 1)
        } else {
            (before.0 + 1, before.1, before.2)
        };
        assert_eq!(after, expected, "{} went to the wrong endpoint", model.id);
    }
}

#[test]
fn models_needing_enablement_are_marked_by_default() {
    let h = Harness::new();
    let models = h.models().expect("models");
    for id in TO_ENABLE {
        let m = models
            .iter()
            .find(|m| m.id == id)
            .unwrap_or_else(|| panic!("{id} listed"));
        assert!(m.name.ends_with(SUFFIX), "{}", m.name);
    }
    let gpt41 = models.iter().find(|m| m.id == "gpt-4.1").expect("gpt-4.1");
    assert!(!gpt41.name.contains("enable"), "{}", gpt41.name);
    let opus = models
        .iter()
        .find(|m| m.id == "claude-opus-4")
        .expect("opus");
    assert_eq!(
        opus.name,
        format!("Claude Opus 4 (10x){SUFFIX}"),
        "the multiplier is shown"
    );
    assert!(
        h.sim
            .requests()
            .iter()
            .all(|r| !r.path.ends_with("/policy")),
        "nothing enabled without consent"
    );

    let md = markdown(&h);
    assert!(md.contains("### Models to enable"), "{md}");
    assert!(md.contains("https://github.com/settings/copilot"), "{md}");
    assert!(
        md.contains("(`claude-opus-4`, policy `requires_consent`)"),
        "{md}"
    );
    assert!(md.contains("| `gpt-5` | /responses |"), "{md}");
}

#[test]
fn the_setting_enables_each_model_once() {
    let h = Harness::with(Setup {
        settings: json!({ "enable_model_policies": true }),
        ..Setup::default()
    });
    let models = h.models().expect("models");
    for id in TO_ENABLE {
        let m = models
            .iter()
            .find(|m| m.id == id)
            .unwrap_or_else(|| panic!("{id} listed"));
        assert!(!m.name.contains("enable"), "{}", m.name);
        let sent = h.sim.requests_to(&format!("/models/{id}/policy"));
        assert_eq!(sent.len(), 1, "{id}");
        assert_eq!(sent[0].method, "POST");
        assert_eq!(sent[0].json(), Some(json!({"state": "enabled"})));
    }
    let policy_requests = || {
        h.sim
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/policy"))
            .count()
    };
    assert_eq!(
        policy_requests(),
        TO_ENABLE.len(),
        "only models that needed it"
    );
    // A new session token refetches the catalog; the server now says enabled, nothing is sent.
    h.clock.advance(SimConfig::default().token_ttl_secs + 1);
    h.models().expect("models");
    assert_eq!(h.count("/models"), 2);
    assert_eq!(policy_requests(), TO_ENABLE.len());
    assert!(!markdown(&h).contains("### Models to enable"));
}

#[test]
fn a_failed_first_fetch_is_retried_after_a_backoff() {
    let h = Harness::new();
    h.sim.fault(
        Route::Models,
        Fault::status(500, r#"{"error":{"message":"catalog down"}}"#),
        Some(1),
    );
    match h.models() {
        Err(ProviderError::Upstream(info)) => assert_eq!(info.status, 500),
        other => panic!("expected the upstream error, got {other:?}"),
    }
    // Within the backoff the error is answered again without hammering the server.
    assert!(h.models().is_err());
    assert_eq!(h.count("/models"), 1);
    h.clock.advance(31);
    let models = h.models().expect("healed after the backoff");
    assert!(models.len() >= 3);
    assert_eq!(h.count("/models"), 2);
}

#[test]
fn a_failed_refresh_keeps_the_last_good_list() {
    let h = Harness::new();
    let good = h.model_ids();
    // A new session token makes the catalog stale; its refetch fails.
    h.sim
        .fault(Route::Models, Fault::status(503, "unavailable"), Some(1));
    h.clock.advance(SimConfig::default().token_ttl_secs + 1);
    assert_eq!(h.model_ids(), good, "the last good list, not an empty one");
    assert_eq!(h.count("/models"), 2);
    assert_eq!(h.model_ids(), good);
    assert_eq!(h.count("/models"), 2, "no refetch during the backoff");
    h.clock.advance(31);
    assert_eq!(h.model_ids(), good);
    assert_eq!(h.count("/models"), 3, "refetched after the backoff");
    assert!(
        h.ext
            .logs()
            .iter()
            .any(|l| l.contains("keeping the last good list")),
        "{:?}",
        h.ext.logs()
    );
}

#[test]
fn a_refresh_on_demand_fetches_now_even_during_a_backoff() {
    let h = Harness::new();
    let good = h.model_ids();
    h.models().expect("cached");
    assert_eq!(h.count("/models"), 1);

    let refreshed = h.ext.refresh_models(PROVIDER).expect("no trap").expect("refresh");
    assert_eq!(refreshed.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), good);
    assert_eq!(h.count("/models"), 2, "a refresh always asks the server");
    assert_eq!(h.count("/copilot_internal/v2/token"), 1, "but reuses the session token");

    // A failed refresh answers the last good list, and starts a backoff...
    h.sim.fault(Route::Models, Fault::status(502, "bad gateway"), Some(1));
    let kept = h.ext.refresh_models(PROVIDER).expect("no trap").expect("last good list");
    assert_eq!(kept.len(), good.len());
    assert_eq!(h.count("/models"), 3);
    h.models().expect("models");
    assert_eq!(h.count("/models"), 3, "plain calls wait out the backoff");
    // ...which an explicit refresh does not wait for.
    h.ext.refresh_models(PROVIDER).expect("no trap").expect("refresh");
    assert_eq!(h.count("/models"), 4);
}

#[test]
fn a_catalog_hiding_every_model_still_offers_the_usable_ones() {
    let h = Harness::with(Setup {
        sim: SimConfig {
            picker_hidden: true,
            ..SimConfig::default()
        },
        ..Setup::default()
    });
    let ids = h.model_ids();
    // Policy-enabled chat models stay; models still needing enablement and disabled ones go.
    for id in ["gpt-4.1", "gpt-4o-mini", "claude-sonnet-4", "gpt-5"] {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
    }
    for id in [
        "gemini-2.5-pro",
        "claude-opus-4",
        "grok-code-fast-1",
        "text-embedding-3-small",
    ] {
        assert!(!ids.iter().any(|i| i == id), "{id} offered in {ids:?}");
    }
    assert!(h.models().expect("models")[0].is_default);
}

#[test]
fn token_counts_are_offline_estimates_that_grow_with_the_prompt() {
    let h = Harness::new();
    h.models().expect("models");
    let before = h.sim.requests().len();
    let count = |req: copilot_host::CompletionRequest| {
        h.ext
            .count_tokens(PROVIDER, "gpt-4.1", &req)
            .expect("no trap")
            .expect("a count")
    };
    // "Hello, world!" is 4 tokens; 3 per message and 3 for the reply frame it.
    assert_eq!(count(request(vec![user("Hello, world!")])), 10);
    let long = count(request(vec![user(
        &"The quick brown fox jumps. ".repeat(200),
    )]));
    assert!((1000..=1400).contains(&long), "{long}");
    assert_eq!(
        h.sim.requests().len(),
        before,
        "counting never calls the network"
    );
}
