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
}
