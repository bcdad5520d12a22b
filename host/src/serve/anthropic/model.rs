//! Which Copilot model answers a model id an Anthropic client sends.

use serde_json::Value;

use super::MODEL_MAP_SETTING;
use crate::contract::llm_provider::ModelInfo;

/// The Copilot model that answers `requested`, by this rule (first match wins):
/// 1. `model_map` in the settings maps the exact id;
/// 2. a Copilot model has exactly that id;
/// 3. a Copilot model is the same Claude model once both ids are normalised: the `claude`
///    prefix, a date suffix (8 digits) and `-latest` dropped, the family (`opus`, `sonnet`,
///    `haiku`) and the version read in either order, `.` and `-` both separating version
///    parts, and a two-digit part read as two (`41` is 4.1) — so `claude-3-5-sonnet-20241022`
///    is `claude-3.5-sonnet` and `claude-sonnet-4-5-20250929` is `claude-sonnet-4.5`;
/// 4. the newest Copilot model of the same Claude family (plain ids only, not variants such
///    as `-thought`).
///
/// Only rules 1 and 2 ever pick a model that is not Claude. `Err` lists what is available.
pub fn resolve_model(
    requested: &str,
    models: &[ModelInfo],
    model_map: Option<&Value>,
) -> Result<String, String> {
    if let Some(target) = model_map
        .and_then(|m| m.get(requested))
        .and_then(Value::as_str)
    {
        return Ok(target.to_string());
    }
    if let Some(model) = models.iter().find(|m| m.id == requested) {
        return Ok(model.id.clone());
    }
    if let Some(wanted) = ClaudeId::parse(requested) {
        let parsed: Vec<(&ModelInfo, ClaudeId)> = models
            .iter()
            .filter_map(|m| ClaudeId::parse(&m.id).map(|c| (m, c)))
            .collect();
        if let Some((model, _)) = parsed.iter().find(|(_, c)| *c == wanted) {
            return Ok(model.id.clone());
        }
        if let Some((model, _)) = parsed
            .iter()
            .filter(|(_, c)| c.family == wanted.family && c.variant.is_empty())
            .max_by(|(_, a), (_, b)| a.version.cmp(&b.version))
        {
            return Ok(model.id.clone());
        }
    }
    let available: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    Err(format!(
        "model `{requested}` is not available through Copilot; available: {}. Map other ids to these with `{MODEL_MAP_SETTING}` in the settings file",
        available.join(", ")
    ))
}

/// A Claude model id taken apart (see [`resolve_model`]).
#[derive(Debug, PartialEq, Eq)]
struct ClaudeId {
    family: String,
    version: Vec<u32>,
    /// Other words (`thought`, ...), in order.
    variant: Vec<String>,
}

impl ClaudeId {
    fn parse(id: &str) -> Option<ClaudeId> {
        let id = id.to_ascii_lowercase();
        let mut words = id.split('-');
        if words.next()? != "claude" {
            return None;
        }
        let mut family = None;
        let mut version = Vec::new();
        let mut variant = Vec::new();
        for word in words {
            let digits = !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit());
            if word == "latest" || (digits && word.len() == 8) {
                continue;
            }
            if family.is_none() && matches!(word, "opus" | "sonnet" | "haiku") {
                family = Some(word.to_string());
            } else if digits && word.len() == 2 {
                version.extend(word.bytes().map(|b| u32::from(b - b'0')));
            } else if let Some(parts) = word
                .split('.')
                .map(|p| p.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()
            {
                version.extend(parts);
            } else {
                variant.push(word.to_string());
            }
        }
        Some(ClaudeId {
            family: family?,
            version,
            variant,
        })
    }
}
