//! `llm-provider-details` through the component (issues 4 and 5): the facts `model-info`
//! cannot carry for every listed model, the quota (from the account, then from answers), and
//! the session state, with no secret anywhere in the JSON.

use copilot_chat_tests::*;
use serde_json::Value;

fn details(h: &Harness) -> Value {
    h.ext
        .details(PROVIDER)
        .expect("no trap, valid JSON")
        .expect("the provider answers details")
}

#[test]
fn every_listed_model_has_its_details_and_no_catalog_is_fetched_for_them() {
    let h = Harness::new();
    let before = details(&h);
    assert_eq!(
        before["models"],
        serde_json::json!({}),
        "nothing listed yet"
    );
    assert_eq!(h.count("/models"), 0, "details never fetch the catalog");

    let ids = h.model_ids();
    let after = details(&h);
    let models = after["models"].as_object().expect("an object by id");
    for id in &ids {
        let m = models
            .get(id)
            .unwrap_or_else(|| panic!("{id} has no details: {after}"));
        assert!(m["endpoint"].is_string(), "{id}: {m}");
        assert!(
            m.get("premium").is_some() && m.get("multiplier").is_some(),
            "{id}: {m}"
        );
        assert!(
            m["needs_enablement"].is_boolean() && m["preview"].is_boolean(),
            "{id}: {m}"
        );
    }
    let gpt = &models["gpt-4.1"];
    assert!(
        gpt["vision"]["max_image_bytes"]
            .as_u64()
            .is_some_and(|b| b > 0),
        "{gpt}"
    );
    assert_eq!(h.count("/models"), 1);
    assert_eq!(after["session"]["kind"], "session");
    assert!(after["session"]["expires_at"].as_u64().is_some(), "{after}");
}

#[test]
fn quota_comes_from_the_account_then_from_completion_answers() {
    let h = Harness::new();
    let first = details(&h);
    let premium = &first["quota"]["premium"];
    assert_eq!(premium["remaining_requests"], 262, "{first}");
    assert_eq!(premium["entitlement"], 300, "{first}");
    assert_eq!(h.count("/copilot_internal/user"), 1);

    h.chat("gpt-4.1", request(vec![user("hi")])).expect("chat");
    let second = details(&h);
    assert_eq!(
        second["quota"]["premium"]["resets_at"], "2026-12-01T00:00:00Z",
        "the answer's headers replace the account view: {second}"
    );
    assert!(
        second["quota"]["snapshots"]
            .as_array()
            .is_some_and(|s| s.len() > 1),
        "{second}"
    );
    assert_eq!(h.count("/copilot_internal/user"), 1, "asked once");
}

#[test]
fn no_secret_appears_and_an_unknown_provider_has_none() {
    let h = Harness::new();
    h.model_ids();
    h.chat("gpt-4.1", request(vec![user("hi")])).expect("chat");
    let text = details(&h).to_string();
    assert!(!text.contains(DEMO_OAUTH_TOKEN), "{text}");
    let sessions = h.sim.requests_to("/chat/completions");
    let bearer = sessions[0].bearer().expect("a bearer");
    assert!(
        !text.contains(bearer),
        "the session token stays private: {text}"
    );
    assert_eq!(h.ext.details("someone-else").expect("no trap"), None);
}
