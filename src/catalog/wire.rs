//! The model list on the wire: `GET {api}/models` read *leniently*, one entry at a time.
//!
//! Design decision: the catalog is read *leniently*, one entry at a time. Enterprise endpoints
//! omit `billing`, `is_chat_default`, `is_chat_fallback`, `model_picker_enabled` and parts of
//! `capabilities.supports`, and GitHub adds fields without notice, so every field except `id`
//! is optional, a wrong-typed optional field reads as absent, and an entry that cannot be read
//! at all (not an object, no string `id`) is skipped with a warning instead of failing the
//! whole list (the failure behind "signed in but no models"). Only a body that is not a model
//! list at all is an error.
//!
//! [`parse_models`] is the first step of the catalog pipeline: bytes → [`Model`]s + warnings,
//! then `select` (what to offer), then `present` (WIT records, markdown).

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;

use crate::catalog::model::{Model, CHAT_COMPLETIONS_PATH};
use crate::error::{redact, Error, Upstream};

/// At most this many skipped-entry warnings are listed one by one; the rest are counted.
pub(super) const MAX_WARNINGS: usize = 20;

/// Server text quoted in a warning (a model id) is cut to this many characters.
pub(super) const MAX_QUOTED_CHARS: usize = 80;

/// `{ "object": "list", "data": [...] }`; entries stay raw JSON so each is read on its own.
#[derive(Deserialize)]
struct WireModelList {
    data: Vec<Value>,
}

#[derive(Deserialize)]
struct WireModel {
    id: String,
    #[serde(default, deserialize_with = "lenient")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    vendor: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    version: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    preview: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    model_picker_enabled: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    is_chat_default: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    is_chat_fallback: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    policy: Option<WirePolicy>,
    #[serde(default, deserialize_with = "lenient")]
    billing: Option<WireBilling>,
    #[serde(default, deserialize_with = "lenient_strings")]
    supported_endpoints: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient")]
    capabilities: Option<WireCapabilities>,
}

/// `policy.state` is kept as text: unknown states (`pending`, `requires_consent`, newer ones)
/// must not fail the entry.
#[derive(Default, Deserialize)]
struct WirePolicy {
    #[serde(default, deserialize_with = "lenient")]
    state: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    terms: Option<String>,
}

#[derive(Default, Deserialize)]
struct WireBilling {
    #[serde(default, deserialize_with = "lenient")]
    is_premium: Option<bool>,
    #[serde(default, deserialize_with = "lenient_multiplier")]
    multiplier: Option<f64>,
}

#[derive(Default, Deserialize)]
struct WireCapabilities {
    #[serde(rename = "type", default, deserialize_with = "lenient")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    family: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    tokenizer: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    limits: Option<WireLimits>,
    #[serde(default, deserialize_with = "lenient")]
    supports: Option<WireSupports>,
}

#[derive(Default, Deserialize)]
struct WireLimits {
    #[serde(default, deserialize_with = "lenient_count")]
    max_context_window_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    max_prompt_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    max_output_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    vision: Option<WireVision>,
}

#[derive(Default, Deserialize)]
struct WireVision {
    #[serde(default, deserialize_with = "lenient_count")]
    max_prompt_image_size: Option<u64>,
    #[serde(default, deserialize_with = "lenient_strings")]
    supported_media_types: Option<Vec<String>>,
}

#[derive(Default, Deserialize)]
struct WireSupports {
    #[serde(default, deserialize_with = "lenient")]
    streaming: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    tool_calls: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    parallel_tool_calls: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    vision: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    thinking: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    adaptive_thinking: Option<bool>,
    #[serde(default, deserialize_with = "lenient_strings")]
    reasoning_effort: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient")]
    min_thinking_budget: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    max_thinking_budget: Option<u64>,
}

/// Reads any JSON value and keeps it only if it has the expected type; a wrong type reads as
/// absent instead of failing the whole entry.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

/// A list of strings; non-string items are dropped, a non-list reads as absent.
fn lenient_strings<'de, D>(d: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(d)?;
    Ok(value.as_array().map(|items| {
        items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }))
}

/// A positive token or byte count. Integral floats (`128000.0`) are accepted; zero, negative,
/// fractional and non-numbers read as absent (a limit of 0 would make the model unusable).
fn lenient_count<'de, D>(d: D) -> Result<Option<u64>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(d)?;
    let count = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f < u64::MAX as f64)
            .map(|f| f as u64)
    });
    Ok(count.filter(|n| *n > 0))
}

/// A finite, non-negative billing multiplier.
fn lenient_multiplier<'de, D>(d: D) -> Result<Option<f64>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(d)?;
    Ok(value.as_f64().filter(|f| f.is_finite() && *f >= 0.0))
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parses a `/models` response body into models plus warnings for skipped entries.
///
/// A body that is not JSON, or has no `data` array, is
/// `Error::Upstream(Upstream { status: 200, message: "malformed model list: ...", request_id:
/// None })`: the server answered 200 with something that is not a catalog. A single bad entry
/// (not an object, no non-empty string `id`) is skipped with a warning and never fails the
/// list; a wrong-typed optional field reads as absent and keeps the model.
pub fn parse_models(body: &[u8]) -> Result<(Vec<Model>, Vec<String>), Error> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| malformed(&format!("the body is not JSON ({e})")))?;
    let list: WireModelList =
        serde_json::from_value(value).map_err(|_| malformed("it has no `data` array"))?;
    let mut models = Vec::with_capacity(list.data.len());
    let mut warnings = Vec::new();
    let mut skipped = 0usize;
    for (index, entry) in list.data.into_iter().enumerate() {
        match parse_entry(entry) {
            Ok(model) => models.push(model),
            Err(reason) => {
                skipped += 1;
                if warnings.len() < MAX_WARNINGS {
                    warnings.push(format!("model list entry {index} skipped: {reason}"));
                }
            }
        }
    }
    if skipped > warnings.len() {
        warnings.push(format!(
            "{} more model list entries skipped",
            skipped - warnings.len()
        ));
    }
    Ok((models, warnings))
}

fn malformed(detail: &str) -> Error {
    Error::Upstream(Upstream {
        status: 200,
        message: format!("malformed model list: {detail}"),
        request_id: None,
    })
}

/// Reads one `data` entry, or says why it cannot be used.
fn parse_entry(entry: Value) -> Result<Model, String> {
    let Some(object) = entry.as_object() else {
        return Err(format!("it is {}, not an object", json_kind(&entry)));
    };
    let id = match object.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => quote(id),
        _ => return Err("it has no string `id`".to_string()),
    };
    // Every other field is lenient, so this fails only on shapes serde itself rejects.
    let wire: WireModel =
        serde_json::from_value(entry).map_err(|_| format!("model {id} could not be read"))?;
    Ok(Model::from_wire(wire))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Server text made safe and short for a warning.
pub(super) fn quote(text: &str) -> String {
    let clean = redact(text);
    let mut out: String = clean.chars().take(MAX_QUOTED_CHARS).collect();
    if clean.chars().count() > MAX_QUOTED_CHARS {
        out.push('…');
    }
    format!("`{out}`")
}

impl Model {
    fn from_wire(w: WireModel) -> Model {
        let caps = w.capabilities.unwrap_or_default();
        let limits = caps.limits.unwrap_or_default();
        let vision = limits.vision.unwrap_or_default();
        let supports = caps.supports.unwrap_or_default();
        let policy = w.policy.unwrap_or_default();
        let billing = w.billing.unwrap_or_default();
        let reasoning_efforts = supports.reasoning_effort.unwrap_or_default();
        let name = w
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| w.id.clone());
        Model {
            name,
            vendor: w.vendor,
            version: w.version,
            kind: caps.kind,
            family: caps.family,
            tokenizer: caps.tokenizer,
            max_context_window: limits.max_context_window_tokens,
            max_prompt_tokens: limits.max_prompt_tokens,
            max_output_tokens: limits.max_output_tokens,
            supports_streaming: supports.streaming.unwrap_or(true),
            supports_tools: supports.tool_calls.unwrap_or(false),
            supports_parallel_tools: supports.parallel_tool_calls.unwrap_or(false),
            supports_vision: supports.vision.unwrap_or(false),
            // A thinking budget is how Claude Sonnet 4/4.5, Haiku 4.5 and Gemini 2.5/3 say they
            // think: real catalogs give them no `thinking` flag and no effort levels.
            supports_thinking: supports.thinking == Some(true)
                || supports.adaptive_thinking == Some(true)
                || !reasoning_efforts.is_empty()
                || supports.max_thinking_budget.is_some(),
            reasoning_efforts,
            min_thinking_budget: supports.min_thinking_budget,
            max_thinking_budget: supports.max_thinking_budget,
            vision_max_image_bytes: vision.max_prompt_image_size,
            vision_media_types: vision.supported_media_types.unwrap_or_default(),
            is_premium: billing.is_premium,
            multiplier: billing.multiplier,
            preview: w.preview.unwrap_or(false),
            picker_enabled: w.model_picker_enabled,
            is_chat_default: w.is_chat_default.unwrap_or(false),
            is_chat_fallback: w.is_chat_fallback.unwrap_or(false),
            policy_state: policy.state,
            policy_terms: policy.terms,
            // Catalogs without `supported_endpoints` predate `/responses`: such models answer
            // on `/chat/completions`.
            endpoints: w
                .supported_endpoints
                .unwrap_or_else(|| vec![CHAT_COMPLETIONS_PATH.to_string()]),
            id: w.id,
        }
    }
}
