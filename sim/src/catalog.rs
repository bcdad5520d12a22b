//! Model catalog fixtures, `GET /models` and `POST /models/{id}/policy`.
//!
//! Design: one list of realistic model entries (several vendors, every field a client has to
//! cope with) rendered in two shapes. The individual shape is the full one. The enterprise
//! shape drops what enterprise endpoints omit: `billing`, `is_chat_fallback`,
//! `model_picker_category`, and some `capabilities.supports` members (all of them for some
//! models). Who asks decides what is listed: a session token sees every model; a raw OAuth
//! token sees the DEGRADED catalog, which is only `gpt-4o-mini` (the "signed in but only one
//! model" symptom behind the seed bug), and may use only that model.
//!
//! Claude: `claude-sonnet-4` and `claude-opus-4` list both `/chat/completions` and
//! `/v1/messages` (as every Claude model in the 2026 captures does); `claude-haiku-4.5` lists
//! only `/v1/messages` (a shape no capture shows yet, but the one a client must not drop).
//!
//! Policy: `policy` absent means enabled; `gemini-2.5-pro` starts "unconfigured" and
//! `claude-opus-4` "requires_consent" (usable, but a picker should ask for consent),
//! `grok-code-fast-1` is "disabled" (listed, never usable).
//! `POST /models/{id}/policy {"state":"enabled"}` enables a model for this simulator.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::http::Response;
use crate::reply;
use crate::server::Shared;
use crate::session::{self, Caller};
use crate::Recorded;

/// The only model a raw OAuth token may list and use.
pub(crate) const DEGRADED_MODEL: &str = "gpt-4o-mini";
/// Endpoint name of chat completions in `supported_endpoints`.
pub(crate) const CHAT_ENDPOINT: &str = "/chat/completions";
/// Endpoint name of the Responses API in `supported_endpoints`.
pub(crate) const RESPONSES_ENDPOINT: &str = "/responses";
/// Endpoint name of the Anthropic Messages API in `supported_endpoints`.
pub(crate) const MESSAGES_ENDPOINT: &str = "/v1/messages";
/// Policy state that makes a model unusable.
const POLICY_DISABLED: &str = "disabled";
/// The only state a client may set through the policy endpoint.
const POLICY_ENABLED: &str = "enabled";
/// Image types accepted by the vision models.
const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "image/gif"];

/// Policy states set through the policy endpoint, by model id.
pub(crate) type Policies = HashMap<String, String>;

/// Which `capabilities.supports` members the enterprise shape omits.
enum EnterpriseSupports {
    Keep,
    Omit(&'static [&'static str]),
    OmitAll,
}

struct Fixture {
    model: Value,
    enterprise: EnterpriseSupports,
}

fn vision_limits(max_images: u32) -> Value {
    json!({
        "max_prompt_image_size": 3_145_728,
        "max_prompt_images": max_images,
        "supported_media_types": IMAGE_TYPES,
    })
}

fn fixtures() -> Vec<Fixture> {
    vec![
        Fixture {
            model: json!({
                "id": "gpt-4.1", "name": "GPT-4.1", "object": "model",
                "vendor": "Azure OpenAI", "version": "gpt-4.1-2025-04-14", "preview": false,
                "model_picker_enabled": true, "model_picker_category": "versatile",
                "is_chat_default": true, "is_chat_fallback": false,
                "billing": {"is_premium": false, "multiplier": 0},
                "policy": {"state": "enabled", "terms": "Enable access to the latest GPT-4.1 model from OpenAI."},
                "supported_endpoints": [CHAT_ENDPOINT],
                "capabilities": {
                    "object": "model_capabilities", "type": "chat", "family": "gpt-4.1", "tokenizer": "o200k_base",
                    "limits": {"max_context_window_tokens": 128_000, "max_prompt_tokens": 128_000,
                               "max_output_tokens": 16_384, "vision": vision_limits(1)},
                    "supports": {"streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                                 "vision": true, "structured_outputs": true},
                },
            }),
            enterprise: EnterpriseSupports::Omit(&["structured_outputs"]),
        },
        Fixture {
            model: json!({
                "id": "gpt-4o-mini", "name": "GPT-4o mini", "object": "model",
                "vendor": "Azure OpenAI", "version": "gpt-4o-mini-2024-07-18", "preview": false,
                "model_picker_enabled": true, "model_picker_category": "lightweight",
                "is_chat_default": false, "is_chat_fallback": true,
                "billing": {"is_premium": false, "multiplier": 0},
                "supported_endpoints": [CHAT_ENDPOINT],
                "capabilities": {
                    "object": "model_capabilities", "type": "chat", "family": "gpt-4o-mini", "tokenizer": "o200k_base",
                    "limits": {"max_context_window_tokens": 128_000, "max_prompt_tokens": 12_288,
                               "max_output_tokens": 4_096},
                    "supports": {"streaming": true, "tool_calls": true, "parallel_tool_calls": true},
                },
            }),
            enterprise: EnterpriseSupports::Keep,
        },
        Fixture {
            model: json!({
                "id": "claude-sonnet-4", "name": "Claude Sonnet 4", "object": "model",
                "vendor": "Anthropic", "version": "claude-sonnet-4", "preview": false,
                "model_picker_enabled": true, "model_picker_category": "versatile",
                "is_chat_default": false, "is_chat_fallback": false,
                "billing": {"is_premium": true, "multiplier": 1,
                            "restricted_to": ["pro", "pro_plus", "business", "enterprise"]},
                "policy": {"state": "enabled", "terms": "Enable access to the latest Claude Sonnet 4 model from Anthropic."},
                "supported_endpoints": [CHAT_ENDPOINT, MESSAGES_ENDPOINT],
                "capabilities": {
                    "object": "model_capabilities", "type": "chat", "family": "claude-sonnet-4", "tokenizer": "o200k_base",
                    "limits": {"max_context_window_tokens": 216_000, "max_prompt_tokens": 128_000,
                               "max_output_tokens": 16_000, "max_non_streaming_output_tokens": 16_000,
                               "vision": vision_limits(5)},
                    "supports": {"streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                                 "vision": true, "max_thinking_budget": 32_000, "min_thinking_budget": 1_024},
                },
            }),
            enterprise: EnterpriseSupports::Omit(&["parallel_tool_calls"]),
        },
        Fixture {
            model: json!({
                "id": "gemini-2.5-pro", "name": "Gemini 2.5 Pro", "object": "model",
                "vendor": "Google", "version": "gemini-2.5-pro", "preview": false,
                "model_picker_enabled": true, "model_picker_category": "powerful",
                "is_chat_default": false, "is_chat_fallback": false,
                "billing": {"is_premium": true, "multiplier": 1},
                "policy": {"state": "unconfigured", "terms": "Enable access to the latest Gemini 2.5 Pro model from Google. [Learn more](https://docs.github.com/copilot)."},
                "supported_endpoints": [CHAT_ENDPOINT],
                "capabilities": {
                    "object": "model_capabilities", "type": "chat", "family": "gemini-2.5-pro", "tokenizer": "o200k_base",
                    "limits": {"max_context_window_tokens": 128_000, "max_prompt_tokens": 128_000,
                               "max_output_tokens": 64_000, "vision": vision_limits(1)},
                    "supports": {"streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                                 "vision": true, "max_thinking_budget": 32_768, "min_thinking_budget": 128},
                },
            }),
            enterprise: EnterpriseSupports::Omit(&[
                "parallel_tool_calls",
                "max_thinking_budget",
                "min_thinking_budget",
            ]),
        },
        Fixture {
            model: json!({
                "id": "gpt-5", "name": "GPT-5", "object": "model",
                "vendor": "Azure OpenAI", "version": "gpt-5", "preview": false,
                "model_picker_enabled": true, "model_picker_category": "powerful",
                "is_chat_default": false, "is_chat_fallback": false,
                "billing": {"is_premium": true, "multiplier": 1},
                "policy": {"state": "enabled", "terms": "Enable access to the latest GPT-5 model from OpenAI."},
                "supported_endpoints": [RESPONSES_ENDPOINT],
                "capabilities": {
                    "object": "model_capabilities", "type": "chat", "family": "gpt-5", "tokenizer": "o200k_base",
                    "limits": {"max_context_window_tokens": 400_000, "max_prompt_tokens": 128_000,
                               "max_output_tokens": 128_000, "vision": vision_limits(1)},
                    "supports": {"streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                                 "vision": true, "structured_outputs": true,
                                 "reasoning_effort": ["minimal", "low", "medium", "high"]},
                },
            }),
            enterprise: EnterpriseSupports::Keep,
        },
        Fixture {
            model: json!({
                "id": "grok-code-fast-1", "name": "Grok Code Fast 1", "object": "model",
                "vendor": "xAI", "version": "grok-code-fast-1", "preview": true,
                "model_picker_enabled": true, "model_picker_category": "lightweight",
                "is_chat_default": false, "is_chat_fallback": false,
                "billing": {"is_premium": true, "multiplier": 0.25},
                "policy": {"state": POLICY_DISABLED, "terms": "Enable access to the Grok Code Fast 1 model from xAI."},
                "supported_endpoints": [CHAT_ENDPOINT],
                "capabilities": {
                    "object": "model_capabilities", "type": "chat", "family": "grok-code", "tokenizer": "o200k_base",
                    "limits": {"max_context_window_tokens": 128_000, "max_prompt_tokens": 128_000,
                               "max_output_tokens": 64_000},
                    "supports": {"streaming": true, "tool_calls": true},
                },
            }),
            enterprise: EnterpriseSupports::OmitAll,
        },
        Fixture {
            model: json!({
                "id": "claude-opus-4", "name": "Claude Opus 4", "object": "model",
                "vendor": "Anthropic", "version": "claude-opus-4", "preview": false,
                "model_picker_enabled": true, "model_picker_category": "powerful",
                "is_chat_default": false, "is_chat_fallback": false,
                "billing": {"is_premium": true, "multiplier": 10, "restricted_to": ["pro_plus", "enterprise"]},
                "policy": {"state": "requires_consent", "terms": "Enable access to the latest Claude Opus 4 model from Anthropic."},
                "supported_endpoints": [CHAT_ENDPOINT, MESSAGES_ENDPOINT],
                "capabilities": {
                    "object": "model_capabilities", "type": "chat", "family": "claude-opus-4", "tokenizer": "o200k_base",
                    "limits": {"max_context_window_tokens": 200_000, "max_prompt_tokens": 128_000,
                               "max_output_tokens": 32_000, "vision": vision_limits(5)},
                    "supports": {"streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                                 "vision": true, "thinking": true},
                },
            }),
            enterprise: EnterpriseSupports::Omit(&["parallel_tool_calls"]),
        },
        Fixture {
            model: json!({
                "id": "claude-haiku-4.5", "name": "Claude Haiku 4.5", "object": "model",
                "vendor": "Anthropic", "version": "claude-haiku-4.5", "preview": false,
                "model_picker_enabled": true, "model_picker_category": "lightweight",
                "is_chat_default": false, "is_chat_fallback": false,
                "billing": {"is_premium": true, "multiplier": 0.33},
                "policy": {"state": "enabled", "terms": "Enable access to the latest Claude Haiku 4.5 model from Anthropic."},
                "supported_endpoints": [MESSAGES_ENDPOINT],
                "capabilities": {
                    "object": "model_capabilities", "type": "chat", "family": "claude-haiku-4.5", "tokenizer": "o200k_base",
                    "limits": {"max_context_window_tokens": 200_000, "max_prompt_tokens": 128_000,
                               "max_output_tokens": 32_000, "vision": vision_limits(5)},
                    "supports": {"streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                                 "vision": true, "max_thinking_budget": 32_000, "min_thinking_budget": 1_024},
                },
            }),
            enterprise: EnterpriseSupports::Omit(&["parallel_tool_calls"]),
        },
        Fixture {
            model: json!({
                "id": "text-embedding-3-small", "name": "Embedding V3 small", "object": "model",
                "vendor": "Azure OpenAI", "version": "text-embedding-3-small", "preview": false,
                "model_picker_enabled": false,
                "is_chat_default": false, "is_chat_fallback": false,
                "billing": {"is_premium": false, "multiplier": 0},
                "capabilities": {
                    "object": "model_capabilities", "type": "embeddings", "family": "text-embedding-3-small",
                    "tokenizer": "cl100k_base",
                    "limits": {"max_inputs": 512},
                    "supports": {"dimensions": true},
                },
            }),
            enterprise: EnterpriseSupports::OmitAll,
        },
    ]
}

/// Drops the fields enterprise endpoints omit.
fn enterprise_shape(fixture: Fixture) -> Value {
    let mut model = fixture.model;
    if let Some(map) = model.as_object_mut() {
        for field in ["billing", "is_chat_fallback", "model_picker_category"] {
            map.remove(field);
        }
    }
    if let Some(caps) = model.get_mut("capabilities").and_then(Value::as_object_mut) {
        match fixture.enterprise {
            EnterpriseSupports::Keep => {}
            EnterpriseSupports::OmitAll => {
                caps.remove("supports");
            }
            EnterpriseSupports::Omit(members) => {
                if let Some(supports) = caps.get_mut("supports").and_then(Value::as_object_mut) {
                    for member in members {
                        supports.remove(*member);
                    }
                }
            }
        }
    }
    model
}

/// Applies policy states set through the policy endpoint.
fn apply_policies(mut model: Value, policies: &Policies) -> Value {
    let state = model
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| policies.get(id))
        .cloned();
    if let (Some(state), Some(map)) = (state, model.as_object_mut()) {
        let terms = map
            .get("policy")
            .and_then(|p| p.get("terms"))
            .cloned()
            .unwrap_or(Value::String(String::new()));
        map.insert("policy".into(), json!({"state": state, "terms": terms}));
    }
    model
}

/// The models `caller` may list, in the shape this simulator serves.
pub(crate) fn models_for(shared: &Shared, caller: Caller) -> Vec<Value> {
    let policies = shared.policies().clone();
    fixtures()
        .into_iter()
        .filter(|f| caller == Caller::Session || f.model["id"] == DEGRADED_MODEL)
        .map(|f| {
            if shared.config.enterprise {
                enterprise_shape(f)
            } else {
                f.model
            }
        })
        .map(|m| apply_policies(m, &policies))
        .map(|m| hide_from_picker(m, shared.config.picker_hidden))
        .collect()
}

/// Marks the model hidden from the picker when the simulated plan hides every model.
fn hide_from_picker(mut model: Value, hidden: bool) -> Value {
    if let (true, Some(map)) = (hidden, model.as_object_mut()) {
        map.insert("model_picker_enabled".into(), Value::Bool(false));
    }
    model
}

/// The entry for `id` if `caller` may see it.
pub(crate) fn find(shared: &Shared, caller: Caller, id: &str) -> Option<Value> {
    models_for(shared, caller)
        .into_iter()
        .find(|m| m["id"] == id)
}

/// The model a completion request's `model` names, when `caller` may use it through
/// `endpoint`; otherwise the real service's `model_not_supported` answer.
pub(crate) fn requested(
    shared: &Shared,
    caller: Caller,
    body: &Value,
    endpoint: &str,
) -> Result<Value, Response> {
    body["model"]
        .as_str()
        .and_then(|id| find(shared, caller, id))
        .filter(|m| serves(m, endpoint))
        .ok_or_else(reply::model_not_supported)
}

/// Whether `model` can be used through `endpoint`: a chat model whose policy is not
/// disabled and whose `supported_endpoints` (chat completions when absent) list it.
pub(crate) fn serves(model: &Value, endpoint: &str) -> bool {
    let is_chat = model["capabilities"]["type"] == "chat";
    let disabled = model["policy"]["state"] == POLICY_DISABLED;
    let listed = match model["supported_endpoints"].as_array() {
        Some(list) => list.iter().any(|e| e == endpoint),
        None => endpoint == CHAT_ENDPOINT,
    };
    is_chat && !disabled && listed
}

/// The model id of a `/models/{id}/policy` path.
pub(crate) fn policy_model_id(path: &str) -> Option<&str> {
    let id = path.strip_prefix("/models/")?.strip_suffix("/policy")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// `GET /models` and `POST /models/{id}/policy`.
pub(crate) fn handle(shared: &Shared, rec: &Recorded) -> Response {
    if let Some(id) = policy_model_id(&rec.path) {
        return set_policy(shared, rec, id);
    }
    if rec.method != "GET" {
        return reply::not_found();
    }
    match session::authorize(shared, rec) {
        Ok(caller) => reply::json(
            200,
            &json!({"object": "list", "data": models_for(shared, caller)}),
        ),
        Err(response) => response,
    }
}

fn set_policy(shared: &Shared, rec: &Recorded, id: &str) -> Response {
    if rec.method != "POST" {
        return reply::not_found();
    }
    let caller = match session::authorize(shared, rec) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    if find(shared, caller, id).is_none() {
        return reply::copilot_error(404, "model not found", "not_found");
    }
    let state = rec
        .json()
        .and_then(|b| b["state"].as_str().map(str::to_string));
    if state.as_deref() != Some(POLICY_ENABLED) {
        return reply::invalid_body("state must be \"enabled\"");
    }
    shared
        .policies()
        .insert(id.to_string(), POLICY_ENABLED.to_string());
    reply::json(200, &json!({"state": POLICY_ENABLED}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn individual() -> Vec<Value> {
        fixtures().into_iter().map(|f| f.model).collect()
    }

    fn enterprise() -> Vec<Value> {
        fixtures().into_iter().map(enterprise_shape).collect()
    }

    #[test]
    fn ids_are_unique_and_exactly_one_default_and_fallback() {
        let models = individual();
        let ids: HashSet<_> = models.iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), models.len());
        let defaults: Vec<_> = models
            .iter()
            .filter(|m| m["is_chat_default"] == true)
            .collect();
        assert_eq!(defaults.len(), 1);
        assert_eq!(defaults[0]["id"], "gpt-4.1");
        let fallbacks: Vec<_> = models
            .iter()
            .filter(|m| m["is_chat_fallback"] == true)
            .collect();
        assert_eq!(fallbacks.len(), 1);
        assert_eq!(fallbacks[0]["id"], DEGRADED_MODEL);
    }

    #[test]
    fn individual_shape_is_complete() {
        for m in individual() {
            for field in [
                "id",
                "name",
                "vendor",
                "version",
                "model_picker_enabled",
                "billing",
                "capabilities",
            ] {
                assert!(m.get(field).is_some(), "{} lacks {field}", m["id"]);
            }
            assert!(m["capabilities"]["supports"].is_object(), "{}", m["id"]);
        }
        let vendors: HashSet<_> = individual()
            .iter()
            .map(|m| m["vendor"].to_string())
            .collect();
        assert!(vendors.len() >= 4);
    }

    #[test]
    fn enterprise_shape_omits_fields() {
        let models = enterprise();
        assert_eq!(models.len(), individual().len());
        for m in &models {
            assert!(m.get("billing").is_none());
            assert!(m.get("is_chat_fallback").is_none());
            assert!(m.get("model_picker_category").is_none());
        }
        let without_supports = models
            .iter()
            .filter(|m| m["capabilities"].get("supports").is_none())
            .count();
        assert!(without_supports >= 1);
        let gpt41 = models.iter().find(|m| m["id"] == "gpt-4.1").unwrap();
        assert!(gpt41["capabilities"]["supports"]
            .get("structured_outputs")
            .is_none());
        assert_eq!(gpt41["capabilities"]["supports"]["streaming"], true);
    }

    #[test]
    fn endpoint_rules() {
        let by_id = |id: &str| individual().into_iter().find(|m| m["id"] == id).unwrap();
        assert!(serves(&by_id("gpt-4.1"), CHAT_ENDPOINT));
        assert!(!serves(&by_id("gpt-4.1"), RESPONSES_ENDPOINT));
        assert!(!serves(&by_id("gpt-5"), CHAT_ENDPOINT));
        assert!(serves(&by_id("gpt-5"), RESPONSES_ENDPOINT));
        assert!(!serves(&by_id("grok-code-fast-1"), CHAT_ENDPOINT));
        assert!(!serves(&by_id("text-embedding-3-small"), CHAT_ENDPOINT));
        assert!(serves(&by_id("gemini-2.5-pro"), CHAT_ENDPOINT));
    }

    #[test]
    fn policy_override_and_paths() {
        let mut policies = Policies::new();
        policies.insert("gemini-2.5-pro".into(), "enabled".into());
        let gemini = individual()
            .into_iter()
            .find(|m| m["id"] == "gemini-2.5-pro")
            .unwrap();
        let updated = apply_policies(gemini, &policies);
        assert_eq!(updated["policy"]["state"], "enabled");
        assert!(updated["policy"]["terms"]
            .as_str()
            .unwrap()
            .contains("Gemini"));
        assert_eq!(policy_model_id("/models/gpt-5/policy"), Some("gpt-5"));
        assert_eq!(policy_model_id("/models//policy"), None);
        assert_eq!(policy_model_id("/models/a/b/policy"), None);
        assert_eq!(policy_model_id("/models"), None);
    }
}
