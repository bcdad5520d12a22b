//! The `llm-provider-details` answer: the facts `model-info` cannot carry, as one JSON object.
//!
//! Design decision: WIT's `model-info` (Zed's shape) has no place for billing, the endpoint, the
//! policy state, reasoning levels, image limits, the full token limits or the tokenizer, and
//! the contract has no quota at all. Rather than growing the records (which would break every
//! Zed-shaped host), one export answers JSON built here from what the provider already holds:
//! the parsed catalog ([`Model`]), the latest quota snapshot ([`Quota`]) and the session
//! state ([`SessionInfo`]). It is a pure function of those, so it is tested natively, and it
//! never holds a secret: neither model facts nor quotas nor `SessionInfo` carry a token.

use serde_json::{json, Map, Value};

use crate::catalog::model::Model;
use crate::settings::EndpointPreference;
use crate::provider::quota::{Quota, QuotaSnapshot};
use crate::auth::session::{AuthKind, SessionInfo};

/// `session.kind` for a Copilot session token.
const KIND_SESSION: &str = "session";
/// `session.kind` when the OAuth token is used directly (the exchange failed).
const KIND_OAUTH: &str = "oauth";

/// The details object: `{"models": {id: {...}}, "quota": {...} | null, "session": {...} | null}`.
/// `models` holds the catalog the provider already knows (empty before the first listing);
/// each model's `endpoint` is the one its requests go to under the user's `preference`.
pub fn details(
    models: Option<&[Model]>,
    preference: &EndpointPreference,
    quota: Option<&Quota>,
    session: Option<&SessionInfo>,
) -> Value {
    let models: Map<String, Value> = models
        .unwrap_or_default()
        .iter()
        .map(|m| (m.id.clone(), model_details(m, preference.for_model(&m.id))))
        .collect();
    json!({
        "models": models,
        "quota": quota.map(quota_details),
        "session": session.map(session_details),
    })
}

/// `endpoint_source` when the user's `endpoint_preference` chose the endpoint.
const SOURCE_SETTING: &str = "setting";
/// `endpoint_source` when the routing rule (`Model::route`) chose it.
const SOURCE_RULE: &str = "rule";

/// One model's facts beyond `model-info`. `endpoint` is the API its requests go to (given
/// the user's `preferred` endpoint for it), `endpoint_source` says whether the setting or
/// the routing rule chose it, and `endpoints` lists every endpoint the catalog names.
pub fn model_details(m: &Model, preferred: Option<&str>) -> Value {
    let route = m.route(preferred);
    let source = match (route, preferred) {
        (Some(route), Some(preferred)) if route.path() == preferred => SOURCE_SETTING,
        _ => SOURCE_RULE,
    };
    json!({
        "vendor": m.vendor,
        "endpoint": route.map(|e| e.path()),
        "endpoint_source": route.map(|_| source),
        "endpoints": m.endpoints,
        "premium": m.is_premium,
        "multiplier": m.multiplier,
        "preview": m.preview,
        "needs_enablement": m.needs_enablement(),
        "reasoning_efforts": m.reasoning_efforts,
        "vision": m.supports_vision.then(|| json!({
            "max_image_bytes": m.vision_max_image_bytes,
            "media_types": m.vision_media_types,
        })),
        "context_window": m.max_context_window,
        "max_prompt_tokens": m.max_prompt_tokens,
        "max_output_tokens": m.max_output_tokens,
        "tokenizer": m.tokenizer,
    })
}

/// The quota: the premium-requests snapshot up front (what `doctor` shows), then every one.
pub fn quota_details(q: &Quota) -> Value {
    json!({
        "premium": q.premium().map(snapshot_details),
        "snapshots": q.snapshots.iter().map(snapshot_details).collect::<Vec<_>>(),
    })
}

fn snapshot_details(s: &QuotaSnapshot) -> Value {
    json!({
        "name": s.name,
        "unlimited": s.unlimited(),
        "entitlement": s.entitlement,
        "remaining_percent": s.remaining_percent,
        "remaining_requests": s.remaining_requests(),
        "overage_used": s.overage_used,
        "overage_permitted": s.overage_permitted,
        "resets_at": s.resets_at,
    })
}

/// The session state without any token: which bearer kind, the API base, the times, the plan.
pub fn session_details(s: &SessionInfo) -> Value {
    let kind = match s.kind {
        AuthKind::Session => KIND_SESSION,
        AuthKind::RawOAuth => KIND_OAUTH,
    };
    json!({
        "kind": kind,
        "api_base": s.api_base,
        "received_at": s.received_at,
        "refresh_at": s.refresh_at,
        "expires_at": s.expires_at,
        "sku": s.sku,
        "fallback_reason": s.fallback_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::wire::parse_models;

    const CATALOG: &str = r#"{"data":[
        {"id":"claude-sonnet-4","name":"Claude Sonnet 4","vendor":"Anthropic","preview":true,
         "billing":{"is_premium":true,"multiplier":1.5},"policy":{"state":"unconfigured"},
         "supported_endpoints":["/chat/completions"],
         "capabilities":{"type":"chat","tokenizer":"o200k_base",
            "limits":{"max_context_window_tokens":200000,"max_prompt_tokens":128000,"max_output_tokens":16000,
                      "vision":{"max_prompt_image_size":3145728,"supported_media_types":["image/png","image/webp"]}},
            "supports":{"tool_calls":true,"vision":true,"reasoning_effort":["low","high"]}}},
        {"id":"gpt-5-codex","name":"GPT-5 Codex","supported_endpoints":["/responses"],
         "capabilities":{"type":"chat"}},
        {"id":"claude-opus-5","name":"Claude Opus 5","vendor":"Anthropic",
         "supported_endpoints":["/v1/messages","/chat/completions"],"capabilities":{"type":"chat"}}]}"#;

    fn models() -> Vec<Model> {
        parse_models(CATALOG.as_bytes()).expect("catalog").0
    }

    #[test]
    fn models_carry_what_model_info_cannot() {
        let all = models();
        let d = details(Some(&all), &EndpointPreference::default(), None, None);
        let claude = &d["models"]["claude-sonnet-4"];
        assert_eq!(claude["vendor"], "Anthropic");
        assert_eq!(claude["endpoint"], "/chat/completions");
        assert_eq!(claude["premium"], true);
        assert_eq!(claude["multiplier"], 1.5);
        assert_eq!(claude["preview"], true);
        assert_eq!(claude["needs_enablement"], true);
        assert_eq!(claude["reasoning_efforts"], json!(["low", "high"]));
        assert_eq!(
            claude["vision"],
            json!({"max_image_bytes": 3145728, "media_types": ["image/png", "image/webp"]})
        );
        assert_eq!(claude["context_window"], 200000);
        assert_eq!(claude["max_prompt_tokens"], 128000);
        assert_eq!(claude["max_output_tokens"], 16000);
        assert_eq!(claude["tokenizer"], "o200k_base");
        let codex = &d["models"]["gpt-5-codex"];
        assert_eq!(codex["endpoint"], "/responses");
        assert_eq!(codex["endpoint_source"], "rule");
        assert_eq!(codex["endpoints"], json!(["/responses"]));
        let opus = &d["models"]["claude-opus-5"];
        assert_eq!(opus["endpoint"], "/v1/messages");
        assert_eq!(opus["endpoint_source"], "rule");
        assert_eq!(codex["vision"], Value::Null, "no vision, no limits");
        assert_eq!(codex["premium"], Value::Null, "unknown stays unknown");
        assert_eq!(d["quota"], Value::Null);
        assert_eq!(d["session"], Value::Null);
    }

    #[test]
    fn the_endpoint_preference_shows_in_the_route() {
        let all = models();
        let (settings, _) = crate::settings::Settings::parse(
            r#"{"endpoint_preference":{"claude-opus-5":"/chat/completions","*":"/v1/messages"}}"#,
        );
        let d = details(Some(&all), &settings.endpoint_preference, None, None);
        let opus = &d["models"]["claude-opus-5"];
        assert_eq!((&opus["endpoint"], &opus["endpoint_source"]), (&json!("/chat/completions"), &json!("setting")));
        // `*` asks for /v1/messages, which the others do not list: the rule routes them.
        let codex = &d["models"]["gpt-5-codex"];
        assert_eq!((&codex["endpoint"], &codex["endpoint_source"]), (&json!("/responses"), &json!("rule")));
    }

    #[test]
    fn no_catalog_yet_is_an_empty_object() {
        assert_eq!(details(None, &EndpointPreference::default(), None, None)["models"], json!({}));
    }

    #[test]
    fn quota_puts_premium_first_with_requests_left_and_the_reset() {
        let headers = vec![
            (
                "x-quota-snapshot-chat".to_string(),
                "ent=-1&rem=100".to_string(),
            ),
            (
                "X-Quota-Snapshot-Premium_Interactions".to_string(),
                "ent=300&rem=87.5&ov=0&ovPerm=false&rst=2026-12-01T00:00:00Z".to_string(),
            ),
        ];
        let quota = Quota::from_headers(&headers).expect("quota");
        let d = details(None, &EndpointPreference::default(), Some(&quota), None);
        let premium = &d["quota"]["premium"];
        assert_eq!(premium["remaining_requests"], 262);
        assert_eq!(premium["entitlement"], 300);
        assert_eq!(premium["resets_at"], "2026-12-01T00:00:00Z");
        assert_eq!(premium["overage_permitted"], false);
        let snapshots = d["quota"]["snapshots"].as_array().expect("list");
        assert_eq!(snapshots.len(), 2);
        assert_eq!(snapshots[1]["name"], "chat");
        assert_eq!(snapshots[1]["unlimited"], true);
        assert_eq!(snapshots[1]["remaining_requests"], Value::Null);
    }

    #[test]
    fn the_session_has_times_and_plan_but_no_token() {
        let info = SessionInfo {
            kind: AuthKind::Session,
            api_base: "https://api.individual.githubcopilot.com".into(),
            received_at: Some(100),
            refresh_at: Some(1600),
            expires_at: Some(1900),
            sku: Some("copilot_for_individuals".into()),
            fallback_reason: None,
            refused_api: None,
        };
        let d = details(None, &EndpointPreference::default(), None, Some(&info));
        assert_eq!(d["session"]["kind"], "session");
        assert_eq!(d["session"]["expires_at"], 1900);
        assert_eq!(d["session"]["sku"], "copilot_for_individuals");
        let raw = SessionInfo {
            kind: AuthKind::RawOAuth,
            sku: None,
            ..info
        };
        assert_eq!(details(None, &EndpointPreference::default(), None, Some(&raw))["session"]["kind"], "oauth");
    }
}
