//! The provider details (`llm-provider-details`) merged into what the CLI prints.
//!
//! Design decision: the guest answers one JSON object (per-model facts `model-info` cannot
//! carry, the quota, the session); the host does not re-model it. `models --json` attaches each
//! model's entry as `details` unchanged, and `doctor` keeps only the quota summary users ask
//! for (premium requests left and the reset date), so new guest facts reach `--json` users
//! without a host change. Everything here reads leniently: a missing or odd field is `null`.

use serde_json::{json, Value};

use copilot_host::output::model_json;
use copilot_host::ModelInfo;

/// `model_json` plus `"details"`: the model's entry of the provider details (`null` when the
/// provider gave none for it).
pub fn model_json_with_details(model: &ModelInfo, details: Option<&Value>) -> Value {
    let mut value = model_json(model);
    let entry = details
        .and_then(|d| d.get("models"))
        .and_then(|m| m.get(&model.id))
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert("details".to_string(), entry);
    }
    value
}

/// The `routes` of `doctor --json`: the API each offered model is called through, as
/// `{"/v1/messages": ["claude-sonnet-4", ...], ...}` (endpoints sorted, ids in the catalog's
/// order); a model the details do not cover is listed under `"unknown"`.
pub fn routes_summary(models: &[ModelInfo], details: Option<&Value>) -> Value {
    let mut routes = serde_json::Map::new();
    for model in models {
        let endpoint = details
            .and_then(|d| d.get("models"))
            .and_then(|m| m.get(&model.id))
            .and_then(|m| m.get("endpoint"))
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let ids = routes.entry(endpoint.to_string()).or_insert_with(|| json!([]));
        if let Some(list) = ids.as_array_mut() {
            list.push(json!(model.id));
        }
    }
    Value::Object(routes)
}

/// The `doctor` text lines of a [`routes_summary`], one per endpoint, e.g.
/// `  route     /v1/messages: claude-sonnet-4, claude-haiku-4.5`.
pub fn routes_text(routes: &Value) -> String {
    let mut out = String::new();
    for (endpoint, ids) in routes.as_object().into_iter().flatten() {
        let ids: Vec<&str> = ids.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        out.push_str(&format!("  route     {endpoint}: {}\n", ids.join(", ")));
    }
    out
}

/// The quota section of `doctor --json`: premium requests left, the entitlement, whether
/// unlimited, the reset date, and every snapshot; `null` when the provider knows no quota.
pub fn quota_summary(details: Option<&Value>) -> Value {
    let Some(quota) = details
        .and_then(|d| d.get("quota"))
        .filter(|q| q.is_object())
    else {
        return Value::Null;
    };
    let premium = quota.get("premium").filter(|p| p.is_object());
    let field = |name: &str| {
        premium
            .and_then(|p| p.get(name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    json!({
        "premium_remaining": field("remaining_requests"),
        "premium_entitlement": field("entitlement"),
        "premium_remaining_percent": field("remaining_percent"),
        "premium_unlimited": field("unlimited"),
        "resets_at": field("resets_at"),
        "snapshots": quota.get("snapshots").cloned().unwrap_or_else(|| json!([])),
    })
}

/// One `doctor` text line for a [`quota_summary`], e.g.
/// `  quota     262 of 300 premium requests left, resets 2026-12-01`.
pub fn quota_text(summary: &Value) -> String {
    if !summary.is_object() {
        return "  quota     unknown (no quota seen yet)\n".to_string();
    }
    let left = if summary["premium_unlimited"].as_bool() == Some(true) {
        "unlimited premium requests".to_string()
    } else {
        match (
            summary["premium_remaining"].as_u64(),
            summary["premium_entitlement"].as_i64(),
        ) {
            (Some(left), Some(of)) => format!("{left} of {of} premium requests left"),
            (Some(left), None) => format!("{left} premium requests left"),
            _ => "premium requests not reported".to_string(),
        }
    };
    match summary["resets_at"].as_str() {
        Some(reset) => format!("  quota     {left}, resets {reset}\n"),
        None => format!("  quota     {left}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use copilot_host::{ModelCapabilities, ToolInputFormat};

    fn model(id: &str) -> ModelInfo {
        ModelInfo {
            id: id.into(),
            name: id.into(),
            max_token_count: 1000,
            max_output_tokens: None,
            capabilities: ModelCapabilities {
                supports_images: false,
                supports_tools: true,
                supports_tool_choice_auto: true,
                supports_tool_choice_any: true,
                supports_tool_choice_none: true,
                supports_thinking: false,
                tool_input_format: ToolInputFormat::JsonSchema,
            },
            is_default: true,
            is_default_fast: false,
        }
    }

    fn details() -> Value {
        json!({
            "models": {"gpt-4.1": {"premium": false, "endpoint": "/chat/completions"}},
            "quota": {
                "premium": {"remaining_requests": 262, "entitlement": 300, "remaining_percent": 87.5,
                            "unlimited": false, "resets_at": "2026-12-01"},
                "snapshots": [{"name": "premium_interactions"}],
            },
            "session": null,
        })
    }

    #[test]
    fn each_model_gains_its_details_entry() {
        let d = details();
        let with = model_json_with_details(&model("gpt-4.1"), Some(&d));
        assert_eq!(with["id"], "gpt-4.1");
        assert_eq!(with["details"]["endpoint"], "/chat/completions");
        assert_eq!(
            model_json_with_details(&model("other"), Some(&d))["details"],
            Value::Null
        );
        assert_eq!(
            model_json_with_details(&model("gpt-4.1"), None)["details"],
            Value::Null
        );
    }

    #[test]
    fn the_quota_summary_and_its_line() {
        let d = details();
        let summary = quota_summary(Some(&d));
        assert_eq!(summary["premium_remaining"], 262);
        assert_eq!(summary["resets_at"], "2026-12-01");
        assert_eq!(
            quota_text(&summary),
            "  quota     262 of 300 premium requests left, resets 2026-12-01\n"
        );
        assert_eq!(quota_summary(Some(&json!({"quota": null}))), Value::Null);
        assert_eq!(quota_summary(None), Value::Null);
        assert!(quota_text(&Value::Null).contains("unknown"));
        let unlimited = json!({"quota": {"premium": {"unlimited": true}}});
        assert_eq!(
            quota_text(&quota_summary(Some(&unlimited))),
            "  quota     unlimited premium requests\n"
        );
    }

    #[test]
    fn routes_group_the_models_by_endpoint() {
        let d = json!({"models": {
            "gpt-4.1": {"endpoint": "/chat/completions"},
            "claude-sonnet-4": {"endpoint": "/v1/messages"},
            "claude-haiku-4.5": {"endpoint": "/v1/messages"},
        }});
        let models = [model("claude-sonnet-4"), model("gpt-4.1"), model("claude-haiku-4.5"), model("new")];
        let routes = routes_summary(&models, Some(&d));
        assert_eq!(
            routes,
            json!({"/chat/completions": ["gpt-4.1"], "/v1/messages": ["claude-sonnet-4", "claude-haiku-4.5"], "unknown": ["new"]})
        );
        assert_eq!(
            routes_text(&routes),
            "  route     /chat/completions: gpt-4.1\n  route     /v1/messages: claude-sonnet-4, claude-haiku-4.5\n  route     unknown: new\n"
        );
        assert_eq!(routes_text(&Value::Null), "");
    }
}
