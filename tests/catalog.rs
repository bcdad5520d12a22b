//! The model catalog: the seed bug (a raw OAuth token sees a degraded catalog, a session
//! token the full one) and enterprise endpoints that omit fields and require
//! `Copilot-Integration-Id`.

use copilot_chat_tests::*;
use copilot_sim::{Fault, Route, SimConfig};

#[test]
fn the_exchanged_token_sees_the_full_catalog() {
    let h = Harness::new();
    let models = h.models().expect("models");
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    assert!(ids.len() >= 3, "full catalog expected, got {ids:?}");
    // Exactly one default, and it comes first.
    assert!(models[0].is_default);
    assert_eq!(models.iter().filter(|m| m.is_default).count(), 1);
    // No embeddings model, no disabled model, no duplicates.
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "duplicate ids in {ids:?}");
    assert!(!ids.iter().any(|id| id.contains("embedding")), "{ids:?}");
    for m in &models {
        assert!(m.max_token_count > 0, "{} has no input budget", m.id);
    }
}

#[test]
fn the_raw_token_sees_less_than_the_exchanged_token() {
    // The seed bug, made visible: force the raw-token path by failing the exchange.
    let h = Harness::new();
    let full = h.model_ids();
    let h2 = Harness::new();
    h2.sim.fault(Route::Token, Fault::status(503, "unavailable"), None);
    let degraded = h2.model_ids();
    assert!(degraded.len() < full.len(), "degraded {degraded:?} vs full {full:?}");
}

#[test]
fn enterprise_catalog_without_billing_fields_parses_and_sends_the_integration_id() {
    let h = Harness::with(Setup {
        sim: SimConfig { enterprise: true, ..SimConfig::default() },
        ..Setup::default()
    });
    let models = h.models().expect("enterprise models");
    assert!(models.len() >= 3, "got {:?}", models.iter().map(|m| &m.id).collect::<Vec<_>>());
    assert_eq!(models.iter().filter(|m| m.is_default).count(), 1);
    let request = &h.sim.requests_to("/models")[0];
    assert_eq!(request.header("copilot-integration-id"), Some("vscode-chat"));
    // And chat works there too.
    let events = h.chat(&models[0].id, request_with_text("hello")).expect("chat");
    assert!(!text_of(&events).is_empty());
}

#[test]
fn the_integration_id_setting_is_sent() {
    let h = Harness::with(Setup {
        sim: SimConfig { enterprise: true, ..SimConfig::default() },
        settings: serde_json::json!({ "integration_id": "jetbrains-chat" }),
        ..Setup::default()
    });
    h.models().expect("models");
    let request = &h.sim.requests_to("/models")[0];
    assert_eq!(request.header("copilot-integration-id"), Some("jetbrains-chat"));
}

#[test]
fn the_catalog_is_cached_for_the_session() {
    let h = Harness::new();
    h.models().expect("models");
    h.models().expect("models");
    assert_eq!(h.count("/models"), 1);
}

fn request_with_text(text: &str) -> copilot_host::CompletionRequest {
    request(vec![user(text)])
}
