//! How the catalog is shown: the WIT `model-info` records (display name, limits, flags) and
//! the models table of `llm-provider-settings-markdown`.

use crate::bindings::copilot_chat::extension::llm_provider::{
    ModelCapabilities, ModelInfo, ToolInputFormat,
};
use crate::catalog::model::{Endpoint, Model};
use crate::catalog::select::{default_model, fast_model};
use crate::error::redact;
use crate::settings::EndpointPreference;

/// Input budget used when the catalog states neither `max_prompt_tokens` nor
/// `max_context_window_tokens` (the common size of Copilot chat models).
pub const DEFAULT_MAX_TOKEN_COUNT: u64 = 128_000;

/// Appended to the display name of a model the account must enable before using it.
pub const NEEDS_ENABLEMENT_SUFFIX: &str = " (enable in GitHub settings)";

/// Where a user enables Copilot models for their account.
pub const POLICY_SETTINGS_URL: &str = "https://github.com/settings/copilot";

/// The name shown to the user: the server's name, plus " (Preview)" for preview models (unless
/// the name already says so), plus the premium-request multiplier such as " (1x)" or
/// " (0.33x)" when the model is premium and the multiplier is known, plus
/// [`NEEDS_ENABLEMENT_SUFFIX`] when the account has not enabled the model yet.
pub fn display_name(m: &Model) -> String {
    let mut name = m.name.clone();
    if m.preview && !name.to_ascii_lowercase().contains("(preview)") {
        name.push_str(" (Preview)");
    }
    if let (Some(true), Some(multiplier)) = (m.is_premium, m.multiplier) {
        name.push_str(&format!(" ({})", format_multiplier(multiplier)));
    }
    if m.needs_enablement() {
        name.push_str(NEEDS_ENABLEMENT_SUFFIX);
    }
    name
}

/// `1.0` → `1x`, `0.33` → `0.33x`, `1.25` → `1.25x` (two decimals at most).
pub(super) fn format_multiplier(x: f64) -> String {
    let fixed = format!("{x:.2}");
    let trimmed = fixed.trim_end_matches('0').trim_end_matches('.');
    format!("{trimmed}x")
}

/// Maps one model to the WIT record.
///
/// `max_token_count` (the input budget) is `max_prompt_tokens`, else
/// `max_context_window_tokens`, else [`DEFAULT_MAX_TOKEN_COUNT`]. Tool choice auto/any/none
/// follow `tool_calls`: Copilot accepts every `tool_choice` form for tool-capable models.
pub fn to_model_info(m: &Model, default_id: Option<&str>, fast_id: Option<&str>) -> ModelInfo {
    ModelInfo {
        id: m.id.clone(),
        name: display_name(m),
        max_token_count: m
            .max_prompt_tokens
            .or(m.max_context_window)
            .unwrap_or(DEFAULT_MAX_TOKEN_COUNT),
        max_output_tokens: m.max_output_tokens,
        capabilities: ModelCapabilities {
            supports_images: m.supports_vision,
            supports_tools: m.supports_tools,
            supports_tool_choice_auto: m.supports_tools,
            supports_tool_choice_any: m.supports_tools,
            supports_tool_choice_none: m.supports_tools,
            supports_thinking: m.supports_thinking,
            tool_input_format: ToolInputFormat::JsonSchema,
        },
        is_default: default_id == Some(m.id.as_str()),
        is_default_fast: fast_id == Some(m.id.as_str()),
    }
}

/// Maps the selected models (see [`crate::catalog::select::select`]) to WIT records, flagging [`default_model`] and
/// [`fast_model`].
pub fn model_infos(selected: &[Model]) -> Vec<ModelInfo> {
    let default_id = default_model(selected).map(|m| m.id.as_str());
    let fast_id = fast_model(selected).map(|m| m.id.as_str());
    selected
        .iter()
        .map(|m| to_model_info(m, default_id, fast_id))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Markdown for `llm-provider-settings-markdown`
// ---------------------------------------------------------------------------------------------

/// A table of the offered models with what the WIT `model-info` cannot carry (the endpoint
/// each is called through, given the user's `preference`,
/// premium multiplier, preview, vision limits, reasoning levels, policy), then the models the
/// account must enable, each with the server's terms and the settings link.
pub fn models_markdown(models: &[Model], preference: &EndpointPreference) -> String {
    let mut md = String::from("## Models\n\n");
    if models.is_empty() {
        md.push_str("No models are known yet.\n");
        return md;
    }
    md.push_str(
        "| Model | Id | Endpoint | Input / context / output tokens | Premium | Preview | Tools | Vision | Reasoning |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for m in models {
        let cells = [
            cell(&display_name(m)),
            format!("`{}`", cell(&m.id)),
            m.route(preference.for_model(&m.id)).map_or("none", Endpoint::path).to_string(),
            limits_cell(m),
            premium_cell(m),
            yes_no(m.preview).to_string(),
            tools_cell(m),
            vision_cell(m),
            reasoning_cell(m),
        ];
        md.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    let pending: Vec<&Model> = models.iter().filter(|m| m.needs_enablement()).collect();
    if !pending.is_empty() {
        md.push_str(&format!(
            "\n### Models to enable\n\nEnable these in [GitHub settings]({POLICY_SETTINGS_URL}), or set \
             `\"enable_model_policies\": true` to let this provider enable them for you.\n\n"
        ));
        for m in pending {
            let state = m.policy_state.as_deref().unwrap_or_default();
            md.push_str(&format!("* **{}** (`{}`, policy `{}`)", cell(&m.name), cell(&m.id), cell(state)));
            if let Some(terms) = m.policy_terms.as_deref().filter(|t| !t.trim().is_empty()) {
                md.push_str(&format!(": {}", cell(terms)));
            }
            md.push('\n');
        }
    }
    md
}

/// Server text made safe for one table cell: one line, pipes escaped, tokens redacted.
pub(super) fn cell(text: &str) -> String {
    redact(text)
        .replace(['\n', '\r'], " ")
        .replace('|', "\\|")
}

fn yes_no(flag: bool) -> &'static str {
    if flag {
        "yes"
    } else {
        "no"
    }
}

fn count_or_dash(n: Option<u64>) -> String {
    n.map_or_else(|| "–".to_string(), |n| n.to_string())
}

fn limits_cell(m: &Model) -> String {
    format!(
        "{} / {} / {}",
        count_or_dash(m.max_prompt_tokens.or(m.max_context_window)),
        count_or_dash(m.max_context_window),
        count_or_dash(m.max_output_tokens)
    )
}

fn premium_cell(m: &Model) -> String {
    match (m.is_premium, m.multiplier) {
        (Some(true), Some(x)) => format!("yes ({})", format_multiplier(x)),
        (Some(true), None) => "yes".to_string(),
        (Some(false), _) => "no".to_string(),
        (None, Some(x)) => format_multiplier(x),
        (None, None) => "unknown".to_string(),
    }
}

fn tools_cell(m: &Model) -> String {
    match (m.supports_tools, m.supports_parallel_tools) {
        (true, true) => "yes, parallel".to_string(),
        (true, false) => "yes".to_string(),
        (false, _) => "no".to_string(),
    }
}

fn vision_cell(m: &Model) -> String {
    if !m.supports_vision {
        return "no".to_string();
    }
    let mut parts = Vec::new();
    if let Some(bytes) = m.vision_max_image_bytes {
        parts.push(format!("≤ {:.1} MB", bytes as f64 / (1024.0 * 1024.0)));
    }
    if !m.vision_media_types.is_empty() {
        let types: Vec<String> = m.vision_media_types.iter().map(|t| cell(t)).collect();
        parts.push(types.join(", "));
    }
    if parts.is_empty() {
        "yes".to_string()
    } else {
        format!("yes ({})", parts.join("; "))
    }
}

fn reasoning_cell(m: &Model) -> String {
    match (m.supports_thinking, m.reasoning_efforts.is_empty()) {
        (false, _) => "no".to_string(),
        (true, true) => "yes".to_string(),
        (true, false) => {
            let levels: Vec<String> = m.reasoning_efforts.iter().map(|l| cell(l)).collect();
            format!("effort: {}", levels.join(", "))
        }
    }
}

