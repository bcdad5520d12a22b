//! The model catalog: parse `GET {api}/models`, choose the models offered for chat, route each
//! to its endpoint, and map them to the WIT `model-info` records.
//!
//! Design decision: the catalog is read *leniently*, one entry at a time. Enterprise endpoints
//! omit `billing`, `is_chat_default`, `is_chat_fallback`, `model_picker_enabled` and parts of
//! `capabilities.supports`, and GitHub adds fields without notice, so every field except `id`
//! is optional, a wrong-typed optional field reads as absent, and an entry that cannot be read
//! at all (not an object, no string `id`) is skipped with a warning instead of failing the
//! whole list (the failure behind "signed in but no models"). Only a body that is not a model
//! list at all is an error.
//!
//! The pipeline is `parse_models` (bytes → [`Model`]s + warnings) → [`select`] (what to offer)
//! → [`model_infos`] (WIT records with the default and fast-default flags).

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bindings::copilot_chat::extension::llm_provider::{
    ModelCapabilities, ModelInfo, ToolInputFormat,
};
use crate::error::{redact, Error, Upstream};

/// Input budget used when the catalog states neither `max_prompt_tokens` nor
/// `max_context_window_tokens` (the common size of Copilot chat models).
pub const DEFAULT_MAX_TOKEN_COUNT: u64 = 128_000;

/// `supported_endpoints` value for the OpenAI chat-completions API.
pub const CHAT_COMPLETIONS_PATH: &str = "/chat/completions";

/// `supported_endpoints` value for the OpenAI Responses API.
pub const RESPONSES_PATH: &str = "/responses";

/// Words in a model's id, name or family that mark a small, fast model; used to pick the
/// fast default when the catalog carries no billing data (enterprise).
const SMALL_MODEL_WORDS: [&str; 4] = ["mini", "nano", "flash", "haiku"];

/// At most this many skipped-entry warnings are listed one by one; the rest are counted.
const MAX_WARNINGS: usize = 20;

/// Server text quoted in a warning (a model id) is cut to this many characters.
const MAX_QUOTED_CHARS: usize = 80;

/// The `capabilities.type` of chat models.
const CHAT_KIND: &str = "chat";

/// The `policy.state` of a model the account may not use.
const POLICY_DISABLED: &str = "disabled";

/// The `policy.state` of a model the account may use.
pub const POLICY_ENABLED: &str = "enabled";

/// Appended to the display name of a model the account must enable before using it.
pub const NEEDS_ENABLEMENT_SUFFIX: &str = " (enable in GitHub settings)";

/// Where a user enables Copilot models for their account.
pub const POLICY_SETTINGS_URL: &str = "https://github.com/settings/copilot";

// ---------------------------------------------------------------------------------------------
// Domain type
// ---------------------------------------------------------------------------------------------

/// The API a model is called through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST {api}/chat/completions` (OpenAI chat format).
    ChatCompletions,
    /// `POST {api}/responses` (OpenAI Responses format; GPT-5.x and codex models).
    Responses,
}

impl Endpoint {
    /// The path appended to the API base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => CHAT_COMPLETIONS_PATH,
            Endpoint::Responses => RESPONSES_PATH,
        }
    }
}

/// One catalog entry, as read leniently from the server.
///
/// Booleans that the server may omit default to `false`, except `supports_streaming`, which
/// defaults to `true`: every Copilot chat model streams and enterprise catalogs omit the flag.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    /// Sent as `model` in requests.
    pub id: String,
    /// The server's display name, or the id when the name is missing or blank.
    pub name: String,
    pub vendor: Option<String>,
    pub version: Option<String>,
    /// `capabilities.type`: `chat`, `completion`, `embeddings` or anything newer.
    pub kind: Option<String>,
    pub family: Option<String>,
    pub tokenizer: Option<String>,
    /// `capabilities.limits.*`; a limit of 0 or of the wrong type reads as absent.
    pub max_context_window: Option<u64>,
    pub max_prompt_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub supports_streaming: bool,
    pub supports_tools: bool,
    pub supports_parallel_tools: bool,
    pub supports_vision: bool,
    /// `supports.thinking`, `supports.adaptive_thinking`, or any `reasoning_effort` level.
    pub supports_thinking: bool,
    /// `supports.reasoning_effort`, in server order (`low`, `medium`, `high`, ...).
    pub reasoning_efforts: Vec<String>,
    /// `supports.min_thinking_budget` / `max_thinking_budget` (Claude-style models that take a
    /// `thinking_budget` in tokens instead of an effort level).
    pub min_thinking_budget: Option<u64>,
    pub max_thinking_budget: Option<u64>,
    pub vision_max_image_bytes: Option<u64>,
    pub vision_media_types: Vec<String>,
    /// `billing.is_premium`; absent on enterprise catalogs.
    pub is_premium: Option<bool>,
    /// `billing.multiplier` (premium requests per call).
    pub multiplier: Option<f64>,
    pub preview: bool,
    /// `model_picker_enabled`; absent on enterprise catalogs.
    pub picker_enabled: Option<bool>,
    pub is_chat_default: bool,
    pub is_chat_fallback: bool,
    /// `policy.state`: `enabled`, `disabled`, `unconfigured`, `pending`, ...; absent = enabled.
    pub policy_state: Option<String>,
    pub policy_terms: Option<String>,
    /// `supported_endpoints`. When the server omits the field (older and enterprise catalogs)
    /// this holds [`CHAT_COMPLETIONS_PATH`] alone, the endpoint every such model answers on.
    pub endpoints: Vec<String>,
}

impl Model {
    /// The endpoint chat requests for this model go to: `/chat/completions` when listed (the
    /// format every client speaks), else `/responses` when listed, else `None`: the model is
    /// not offered for chat (for example one listing only `/v1/messages`).
    pub fn endpoint(&self) -> Option<Endpoint> {
        let listed = |path: &str| self.endpoints.iter().any(|e| e.trim() == path);
        if listed(CHAT_COMPLETIONS_PATH) {
            Some(Endpoint::ChatCompletions)
        } else if listed(RESPONSES_PATH) {
            Some(Endpoint::Responses)
        } else {
            None
        }
    }

    /// Whether the account may use the model without enabling it (policy absent or enabled).
    fn policy_enabled(&self) -> bool {
        self.policy_state
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(POLICY_ENABLED))
    }

    /// Whether the account must enable the model before using it: a policy state that is
    /// neither `enabled` nor `disabled` (`unconfigured`, `requires_consent`, `pending`, or a
    /// newer one).
    pub fn needs_enablement(&self) -> bool {
        !self.policy_enabled() && !self.policy_disabled()
    }

    /// Records that the account enabled the model (after a successful policy request).
    pub fn mark_enabled(&mut self) {
        self.policy_state = Some(POLICY_ENABLED.to_string());
    }

    fn policy_disabled(&self) -> bool {
        self.policy_state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(POLICY_DISABLED))
    }

    /// Whether the catalog says anything about what the model costs.
    fn has_billing(&self) -> bool {
        self.is_premium.is_some() || self.multiplier.is_some()
    }

    /// Whether the id, name or family names a small, fast model ("gpt-4o-mini",
    /// "gemini-2.0-flash", "claude-haiku-4.5"). Whole words only, so "gemini" is not "mini".
    fn looks_small(&self) -> bool {
        let fields = [
            Some(self.id.as_str()),
            Some(self.name.as_str()),
            self.family.as_deref(),
        ];
        fields.into_iter().flatten().any(|text| {
            text.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|word| {
                    SMALL_MODEL_WORDS
                        .iter()
                        .any(|w| word.eq_ignore_ascii_case(w))
                })
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Wire types: every field but `id` optional and lenient
// ---------------------------------------------------------------------------------------------

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
fn quote(text: &str) -> String {
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
            supports_thinking: supports.thinking == Some(true)
                || supports.adaptive_thinking == Some(true)
                || !reasoning_efforts.is_empty(),
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

// ---------------------------------------------------------------------------------------------
// Selection
// ---------------------------------------------------------------------------------------------

/// Chooses the models offered for chat, in the order to show them.
///
/// 1. Keep chat models: `capabilities.type == "chat"`, or type absent and the model has a chat
///    endpoint (an absent `supported_endpoints` counts as `/chat/completions`); embeddings and
///    completion models always state their type, so an untyped entry is a chat model in
///    practice.
/// 2. Drop models whose policy is `disabled`, and models with no chat endpoint.
/// 3. Drop repeated ids; the first usable entry wins.
/// 4. Prefer models the server shows in its picker (`model_picker_enabled` true or absent). If
///    none is, keep the policy-enabled ones (policy absent or `enabled`): catalogs have been
///    seen marking every model hidden, and the account's usable models must still show.
/// 5. The `is_chat_default` model first, the rest in server order.
pub fn select(models: Vec<Model>) -> Vec<Model> {
    select_with_report(models).0
}

/// Why the catalog shows fewer models than the server listed: for `doctor`, which is what a
/// user runs when models are missing.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Selection {
    /// Entries the server listed (after unreadable ones were skipped).
    pub listed: usize,
    /// Models offered.
    pub shown: usize,
    /// The rest, grouped by the reason they are not offered.
    pub hidden: Vec<HiddenGroup>,
}

/// Models left out for one reason.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct HiddenGroup {
    pub reason: String,
    pub ids: Vec<String>,
}

impl Selection {
    fn hide(&mut self, reason: &str, id: &str) {
        match self.hidden.iter_mut().find(|g| g.reason == reason) {
            Some(group) => group.ids.push(id.to_string()),
            None => self.hidden.push(HiddenGroup { reason: reason.to_string(), ids: vec![id.to_string()] }),
        }
    }
}

/// [`select`], saying what it left out and why.
pub fn select_with_report(models: Vec<Model>) -> (Vec<Model>, Selection) {
    let mut report = Selection { listed: models.len(), ..Selection::default() };
    let mut usable = Vec::with_capacity(models.len());
    for m in models {
        match unusable_reason(&m) {
            Some(reason) => report.hide(reason, &m.id),
            None => usable.push(m),
        }
    }
    let mut seen = std::collections::HashSet::with_capacity(usable.len());
    let mut unique = Vec::with_capacity(usable.len());
    for m in usable {
        if seen.insert(m.id.clone()) {
            unique.push(m);
        } else {
            report.hide("listed twice (the first entry is used)", &m.id);
        }
    }
    let (visible, hidden): (Vec<Model>, Vec<Model>) = unique
        .into_iter()
        .partition(|m| m.picker_enabled != Some(false));
    let chosen = if visible.is_empty() {
        let (enabled, not_enabled): (Vec<Model>, Vec<Model>) =
            hidden.into_iter().partition(Model::policy_enabled);
        for m in &not_enabled {
            report.hide("marked hidden by the server and its policy is not enabled", &m.id);
        }
        enabled
    } else {
        for m in &hidden {
            report.hide("marked hidden from the model picker by the server", &m.id);
        }
        visible
    };
    report.shown = chosen.len();
    (default_first(chosen), report)
}

/// Why a model cannot be offered for chat at all, if it cannot.
fn unusable_reason(m: &Model) -> Option<&'static str> {
    if !m.kind.as_deref().is_none_or(|k| k.eq_ignore_ascii_case(CHAT_KIND)) {
        Some("not a chat model (embeddings or completions)")
    } else if m.policy_disabled() {
        Some("disabled by the account's policy")
    } else if m.endpoint().is_none() {
        Some("speaks no endpoint this provider supports")
    } else {
        None
    }
}



fn default_first(mut models: Vec<Model>) -> Vec<Model> {
    if let Some(pos) = models.iter().position(|m| m.is_chat_default) {
        let default = models.remove(pos);
        models.insert(0, default);
    }
    models
}

/// The model used when the user has not picked one: the `is_chat_default` model, else the
/// first.
pub fn default_model(models: &[Model]) -> Option<&Model> {
    models
        .iter()
        .find(|m| m.is_chat_default)
        .or_else(|| models.first())
}

/// The fast default (for summaries, titles, quick edits):
///
/// 1. the `is_chat_fallback` model (Copilot's base model, free on every plan);
/// 2. else, among models that carry billing data, the cheapest: non-premium before unknown
///    before premium, then the lowest multiplier, then small-looking names, then server order.
///    Models without billing data never win this step by default;
/// 3. else (enterprise catalogs carry no billing) the first model whose id, name or family has
///    the word mini, nano, flash or haiku;
/// 4. else none: nothing in the catalog says which model is fast.
pub fn fast_model(models: &[Model]) -> Option<&Model> {
    if let Some(m) = models.iter().find(|m| m.is_chat_fallback) {
        return Some(m);
    }
    let cheapest = models.iter().filter(|m| m.has_billing()).min_by(|a, b| {
        premium_rank(a)
            .cmp(&premium_rank(b))
            .then(cost(a).total_cmp(&cost(b)))
            .then(b.looks_small().cmp(&a.looks_small()))
    });
    cheapest.or_else(|| models.iter().find(|m| m.looks_small()))
}

fn premium_rank(m: &Model) -> u8 {
    match m.is_premium {
        Some(false) => 0,
        None => 1,
        Some(true) => 2,
    }
}

fn cost(m: &Model) -> f64 {
    m.multiplier.unwrap_or(f64::INFINITY)
}

/// Finds a model by exact id.
pub fn find<'a>(models: &'a [Model], id: &str) -> Option<&'a Model> {
    models.iter().find(|m| m.id == id)
}

// ---------------------------------------------------------------------------------------------
// Mapping to WIT
// ---------------------------------------------------------------------------------------------

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
fn format_multiplier(x: f64) -> String {
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

/// Maps the selected models (see [`select`]) to WIT records, flagging [`default_model`] and
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

/// A table of the offered models with what the WIT `model-info` cannot carry (endpoint,
/// premium multiplier, preview, vision limits, reasoning levels, policy), then the models the
/// account must enable, each with the server's terms and the settings link.
pub fn models_markdown(models: &[Model]) -> String {
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
            m.endpoint().map_or("none", Endpoint::path).to_string(),
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
fn cell(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An individual (github.com) catalog: several vendors, an embeddings model, disabled and
    /// unconfigured policies, a responses-only model, a messages-only model, a duplicate id, a
    /// picker-hidden model, and the default listed after other chat models.
    const INDIVIDUAL: &str = r#"{
      "object": "list",
      "data": [
        {
          "id": "gpt-4.1", "name": "GPT-4.1", "object": "model", "vendor": "Azure OpenAI",
          "version": "gpt-4.1-2025-04-14", "preview": false, "model_picker_enabled": true,
          "model_picker_category": "versatile",
          "is_chat_default": false, "is_chat_fallback": true,
          "billing": { "is_premium": false, "multiplier": 0 },
          "policy": { "state": "enabled", "terms": "Enable access to GPT-4.1." },
          "supported_endpoints": ["/chat/completions", "/responses"],
          "capabilities": {
            "object": "model_capabilities", "type": "chat", "family": "gpt-4.1",
            "tokenizer": "o200k_base",
            "limits": {
              "max_context_window_tokens": 128000, "max_prompt_tokens": 128000,
              "max_output_tokens": 16384,
              "vision": { "max_prompt_image_size": 3145728, "max_prompt_images": 1,
                          "supported_media_types": ["image/jpeg", "image/png", "image/webp", "image/gif"] }
            },
            "supports": { "streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                          "vision": true, "structured_outputs": true }
          }
        },
        {
          "id": "text-embedding-3-small", "name": "Embedding V3 small", "vendor": "Azure OpenAI",
          "version": "text-embedding-3-small", "model_picker_enabled": false,
          "is_chat_default": false, "is_chat_fallback": false,
          "billing": { "is_premium": false, "multiplier": 0 },
          "capabilities": { "type": "embeddings", "family": "text-embedding-3-small",
                            "limits": { "max_inputs": 512 }, "supports": { "dimensions": true } }
        },
        {
          "id": "gemini-2.5-pro", "name": "Gemini 2.5 Pro", "vendor": "Google",
          "version": "gemini-2.5-pro", "preview": true, "model_picker_enabled": true,
          "is_chat_default": false, "is_chat_fallback": false,
          "billing": { "is_premium": true, "multiplier": 1, "restricted_to": ["pro", "pro_plus"] },
          "policy": { "state": "unconfigured", "terms": "Enable access to Gemini." },
          "supported_endpoints": ["/chat/completions"],
          "capabilities": {
            "type": "chat", "family": "gemini-2.5-pro", "tokenizer": "o200k_base",
            "limits": { "max_context_window_tokens": 1000000, "max_prompt_tokens": 128000,
                        "max_output_tokens": 64000 },
            "supports": { "streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                          "vision": true, "max_thinking_budget": 32768, "min_thinking_budget": 128 }
          }
        },
        {
          "id": "claude-opus-4", "name": "Claude Opus 4", "vendor": "Anthropic",
          "model_picker_enabled": true, "is_chat_default": false, "is_chat_fallback": false,
          "billing": { "is_premium": true, "multiplier": 10 },
          "policy": { "state": "disabled", "terms": "Enable access to Claude Opus 4." },
          "supported_endpoints": ["/chat/completions", "/v1/messages"],
          "capabilities": { "type": "chat", "family": "claude-opus-4",
                            "supports": { "streaming": true, "tool_calls": true } }
        },
        {
          "id": "gpt-5", "name": "GPT-5", "vendor": "Azure OpenAI", "version": "gpt-5",
          "model_picker_enabled": true, "is_chat_default": false, "is_chat_fallback": false,
          "billing": { "is_premium": true, "multiplier": 1 },
          "supported_endpoints": ["/responses", "ws:/responses"],
          "capabilities": {
            "type": "chat", "family": "gpt-5", "tokenizer": "o200k_base",
            "limits": { "max_context_window_tokens": 400000, "max_prompt_tokens": 272000,
                        "max_output_tokens": 128000 },
            "supports": { "streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                          "vision": true, "reasoning_effort": ["low", "medium", "high"] }
          }
        },
        {
          "id": "claude-messages-only", "name": "Claude Messages Only", "vendor": "Anthropic",
          "model_picker_enabled": true, "is_chat_default": false, "is_chat_fallback": false,
          "billing": { "is_premium": true, "multiplier": 1 },
          "supported_endpoints": ["/v1/messages"],
          "capabilities": { "type": "chat", "family": "claude-x" }
        },
        {
          "id": "claude-sonnet-4", "name": "Claude Sonnet 4", "vendor": "Anthropic",
          "version": "claude-sonnet-4", "model_picker_enabled": true,
          "is_chat_default": true, "is_chat_fallback": false,
          "billing": { "is_premium": true, "multiplier": 1 },
          "policy": { "state": "enabled", "terms": "Enable access to Claude Sonnet 4." },
          "supported_endpoints": ["/chat/completions", "/v1/messages"],
          "capabilities": {
            "type": "chat", "family": "claude-sonnet-4", "tokenizer": "o200k_base",
            "limits": { "max_context_window_tokens": 216000, "max_prompt_tokens": 128000,
                        "max_output_tokens": 16000,
                        "vision": { "max_prompt_image_size": 3145728,
                                    "supported_media_types": ["image/jpeg", "image/png"] } },
            "supports": { "streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                          "vision": true, "thinking": true, "adaptive_thinking": false }
          }
        },
        {
          "id": "gpt-4.1", "name": "GPT-4.1 (duplicate)", "vendor": "Azure OpenAI",
          "model_picker_enabled": true, "is_chat_default": false, "is_chat_fallback": false,
          "capabilities": { "type": "chat" }
        },
        {
          "id": "gpt-4o-mini", "name": "GPT-4o mini", "vendor": "Azure OpenAI",
          "model_picker_enabled": false, "is_chat_default": false, "is_chat_fallback": false,
          "billing": { "is_premium": false, "multiplier": 0 },
          "capabilities": { "type": "chat", "family": "gpt-4o-mini" }
        },
        {
          "id": "grok-code-fast-1", "name": "Grok Code Fast 1", "vendor": "xAI",
          "model_picker_enabled": true, "is_chat_default": false, "is_chat_fallback": false,
          "billing": { "is_premium": true, "multiplier": 0.25 },
          "supported_endpoints": ["/chat/completions"],
          "capabilities": { "type": "chat", "family": "grok-code",
                            "supports": { "streaming": true, "tool_calls": true } }
        }
      ]
    }"#;

    /// An enterprise catalog: no `billing`, `is_chat_default`, `is_chat_fallback`,
    /// `model_picker_enabled` or `supported_endpoints`, partial `supports`.
    const ENTERPRISE: &str = r#"{
      "data": [
        {
          "id": "gpt-4o", "name": "GPT-4o", "vendor": "Azure OpenAI", "version": "gpt-4o-2024-11-20",
          "capabilities": { "type": "chat", "family": "gpt-4o", "tokenizer": "o200k_base",
            "limits": { "max_context_window_tokens": 128000, "max_output_tokens": 4096 },
            "supports": { "tool_calls": true } }
        },
        {
          "id": "claude-3.5-sonnet", "name": "Claude 3.5 Sonnet", "vendor": "Anthropic",
          "capabilities": { "type": "chat", "family": "claude-3.5-sonnet",
            "limits": { "max_prompt_tokens": 90000 } }
        },
        {
          "id": "gemini-2.0-pro", "name": "Gemini 2.0 Pro", "vendor": "Google",
          "capabilities": { "type": "chat", "family": "gemini-2.0-pro" }
        },
        {
          "id": "o3-mini", "name": "o3-mini", "vendor": "Azure OpenAI",
          "capabilities": { "type": "chat", "family": "o3-mini",
            "supports": { "streaming": true, "tool_calls": true, "reasoning_effort": ["low", "medium", "high"] } }
        },
        {
          "id": "text-embedding-ada-002", "name": "Embedding V2 Ada",
          "capabilities": { "type": "embeddings", "family": "text-embedding-ada-002" }
        }
      ]
    }"#;

    fn parse(body: &str) -> (Vec<Model>, Vec<String>) {
        parse_models(body.as_bytes()).expect("fixture parses")
    }

    fn ids(models: &[Model]) -> Vec<&str> {
        models.iter().map(|m| m.id.as_str()).collect()
    }

    fn model(json: &str) -> Model {
        let body = format!(r#"{{"data":[{json}]}}"#);
        let (mut models, warnings) = parse(&body);
        assert!(warnings.is_empty(), "{warnings:?}");
        models.remove(0)
    }

    #[test]
    fn individual_catalog_parses_every_entry() {
        let (models, warnings) = parse(INDIVIDUAL);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(models.len(), 10);
        let gpt41 = &models[0];
        assert_eq!(gpt41.name, "GPT-4.1");
        assert_eq!(gpt41.vendor.as_deref(), Some("Azure OpenAI"));
        assert_eq!(gpt41.kind.as_deref(), Some("chat"));
        assert_eq!(gpt41.tokenizer.as_deref(), Some("o200k_base"));
        assert_eq!(gpt41.max_output_tokens, Some(16384));
        assert_eq!(gpt41.vision_max_image_bytes, Some(3_145_728));
        assert_eq!(gpt41.vision_media_types.len(), 4);
        assert!(gpt41.supports_tools && gpt41.supports_parallel_tools && gpt41.supports_vision);
        assert!(!gpt41.supports_thinking);
        assert_eq!(
            (gpt41.is_premium, gpt41.multiplier),
            (Some(false), Some(0.0))
        );
        assert_eq!(
            gpt41.policy_terms.as_deref(),
            Some("Enable access to GPT-4.1.")
        );
        assert!(gpt41.is_chat_fallback && !gpt41.is_chat_default);

        let gpt5 = find(&models, "gpt-5").unwrap();
        assert_eq!(gpt5.reasoning_efforts, ["low", "medium", "high"]);
        assert!(gpt5.supports_thinking);
        let sonnet = find(&models, "claude-sonnet-4").unwrap();
        assert!(sonnet.supports_thinking);
        assert!(sonnet.is_chat_default);
        // The first of two entries with the same id is the one found.
        assert_eq!(find(&models, "gpt-4.1").unwrap().name, "GPT-4.1");
        assert!(find(&models, "nope").is_none());
    }

    #[test]
    fn individual_catalog_selection() {
        let (models, _) = parse(INDIVIDUAL);
        let selected = select(models);
        // Default first; embeddings, disabled policy, messages-only, the duplicate and the
        // picker-hidden model are gone; unconfigured policy and responses-only stay.
        assert_eq!(
            ids(&selected),
            [
                "claude-sonnet-4",
                "gpt-4.1",
                "gemini-2.5-pro",
                "gpt-5",
                "grok-code-fast-1"
            ]
        );
        assert_eq!(selected[1].name, "GPT-4.1");
    }

    #[test]
    fn individual_catalog_model_infos() {
        let (models, _) = parse(INDIVIDUAL);
        let infos = model_infos(&select(models));
        let by_id = |id: &str| infos.iter().find(|i| i.id == id).unwrap();
        assert!(by_id("claude-sonnet-4").is_default);
        assert_eq!(infos.iter().filter(|i| i.is_default).count(), 1);
        // is_chat_fallback wins the fast default over cheaper-looking models.
        assert!(by_id("gpt-4.1").is_default_fast);
        assert_eq!(infos.iter().filter(|i| i.is_default_fast).count(), 1);
        assert_eq!(
            by_id("gemini-2.5-pro").name,
            "Gemini 2.5 Pro (Preview) (1x) (enable in GitHub settings)"
        );
        assert_eq!(by_id("grok-code-fast-1").name, "Grok Code Fast 1 (0.25x)");
        assert_eq!(by_id("gpt-4.1").name, "GPT-4.1");
        let gpt5 = by_id("gpt-5");
        assert_eq!(gpt5.max_token_count, 272_000);
        assert_eq!(gpt5.max_output_tokens, Some(128_000));
        assert!(gpt5.capabilities.supports_thinking);
        assert!(gpt5.capabilities.supports_images);
        assert!(gpt5.capabilities.supports_tool_choice_any);
        assert!(matches!(
            gpt5.capabilities.tool_input_format,
            ToolInputFormat::JsonSchema
        ));
    }

    #[test]
    fn enterprise_catalog_parses_and_selects() {
        let (models, warnings) = parse(ENTERPRISE);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(models.len(), 5);
        let gpt4o = &models[0];
        assert_eq!(
            (gpt4o.is_premium, gpt4o.multiplier, gpt4o.picker_enabled),
            (None, None, None)
        );
        assert!(!gpt4o.is_chat_default && !gpt4o.is_chat_fallback && !gpt4o.preview);
        assert!(
            gpt4o.supports_streaming,
            "absent streaming flag means streaming"
        );
        assert!(gpt4o.supports_tools && !gpt4o.supports_vision);
        assert_eq!(gpt4o.endpoints, [CHAT_COMPLETIONS_PATH]);
        assert_eq!(gpt4o.endpoint(), Some(Endpoint::ChatCompletions));

        let selected = select(models);
        assert_eq!(
            ids(&selected),
            ["gpt-4o", "claude-3.5-sonnet", "gemini-2.0-pro", "o3-mini"]
        );
        let infos = model_infos(&selected);
        assert!(
            infos[0].is_default,
            "no is_chat_default: the first model is the default"
        );
        // No billing anywhere: the fast default comes from the name, and "gemini" is not "mini".
        let fast: Vec<&str> = infos
            .iter()
            .filter(|i| i.is_default_fast)
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(fast, ["o3-mini"]);
        assert_eq!(infos[0].name, "GPT-4o");
        assert_eq!(infos[0].max_token_count, 128_000);
        assert_eq!(infos[0].max_output_tokens, Some(4096));
        assert_eq!(infos[1].max_token_count, 90_000);
        assert_eq!(infos[2].max_token_count, DEFAULT_MAX_TOKEN_COUNT);
        assert_eq!(infos[2].max_output_tokens, None);
    }

    #[test]
    fn enterprise_without_small_models_has_no_fast_default() {
        let selected = select(vec![
            model(r#"{"id":"gpt-4o","capabilities":{"type":"chat","family":"gpt-4o"}}"#),
            model(r#"{"id":"gemini-2.5-pro","name":"Gemini 2.5 Pro"}"#),
        ]);
        assert_eq!(
            selected.len(),
            2,
            "an untyped model with the assumed chat endpoint is kept"
        );
        assert!(fast_model(&selected).is_none());
        assert!(model_infos(&selected).iter().all(|i| !i.is_default_fast));
    }

    #[test]
    fn all_picker_disabled_falls_back_to_policy_enabled_models() {
        let body = r#"{"object":"list","data":[
          {"id":"a","model_picker_enabled":false,"policy":{"state":"enabled"},"capabilities":{"type":"chat"}},
          {"id":"b","model_picker_enabled":false,"policy":{"state":"unconfigured"},"capabilities":{"type":"chat"}},
          {"id":"c","model_picker_enabled":false,"capabilities":{"type":"chat"}},
          {"id":"d","model_picker_enabled":false,"policy":{"state":"disabled"},"capabilities":{"type":"chat"}},
          {"id":"e","model_picker_enabled":false,"policy":{"state":"enabled"},"capabilities":{"type":"embeddings"}},
          {"id":"f","model_picker_enabled":false,"is_chat_default":true,"policy":{"state":"pending"},"capabilities":{"type":"chat"}}
        ]}"#;
        let (models, _) = parse(body);
        assert_eq!(ids(&select(models)), ["a", "c"]);
    }

    #[test]
    fn picker_visible_models_exclude_hidden_ones() {
        let body = r#"{"data":[
          {"id":"hidden","model_picker_enabled":false,"capabilities":{"type":"chat"}},
          {"id":"shown","model_picker_enabled":true,"policy":{"state":"unconfigured"},"capabilities":{"type":"chat"}},
          {"id":"unknown","capabilities":{"type":"chat"}}
        ]}"#;
        let (models, _) = parse(body);
        assert_eq!(ids(&select(models)), ["shown", "unknown"]);
    }

    #[test]
    fn bad_entries_are_skipped_with_warnings() {
        let body = r#"{"object":"list","data":[
          {"id":"good-1","name":"Good 1","capabilities":{"type":"chat"}},
          42,
          {"name":"no id"},
          {"id":7},
          {"id":"   "},
          {"id":"odd-types","name":5,"vendor":["x"],"preview":"yes","is_chat_default":"true",
           "billing":"premium","policy":{"state":3},"supported_endpoints":"/responses",
           "capabilities":{"type":"chat","limits":{"max_prompt_tokens":"lots",
             "max_context_window_tokens":64000.0,"max_output_tokens":0},
             "supports":{"tool_calls":"yes","vision":true,"reasoning_effort":["low",1,"high"]}}},
          {"id":"good-2","capabilities":{"type":"chat"}}
        ]}"#;
        let (models, warnings) = parse(body);
        assert_eq!(ids(&models), ["good-1", "odd-types", "good-2"]);
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(warnings[0].contains("entry 1") && warnings[0].contains("a number"));
        assert!(warnings[1].contains("entry 2") && warnings[1].contains("no string `id`"));
        assert!(warnings[2].contains("entry 3"));
        assert!(warnings[3].contains("entry 4"));

        let odd = &models[1];
        assert_eq!(
            odd.name, "odd-types",
            "a non-string name falls back to the id"
        );
        assert_eq!(odd.vendor, None);
        assert!(!odd.preview && !odd.is_chat_default);
        assert_eq!((odd.is_premium, odd.multiplier), (None, None));
        assert_eq!(odd.policy_state, None);
        assert_eq!(odd.endpoint(), Some(Endpoint::ChatCompletions));
        assert_eq!(odd.max_prompt_tokens, None);
        assert_eq!(odd.max_context_window, Some(64_000));
        assert_eq!(odd.max_output_tokens, None, "a zero limit reads as absent");
        assert!(!odd.supports_tools && odd.supports_vision);
        assert_eq!(odd.reasoning_efforts, ["low", "high"]);
    }

    #[test]
    fn many_bad_entries_are_counted_not_listed() {
        let entries: Vec<String> = (0..30).map(|i| i.to_string()).collect();
        let body = format!(r#"{{"data":[{},{{"id":"ok"}}]}}"#, entries.join(","));
        let (models, warnings) = parse(&body);
        assert_eq!(ids(&models), ["ok"]);
        assert_eq!(warnings.len(), MAX_WARNINGS + 1);
        assert!(warnings[MAX_WARNINGS].starts_with("10 more"));
    }

    #[test]
    fn quoted_server_text_is_redacted_and_short() {
        let quoted = quote("ghu_secretsecret123");
        assert!(!quoted.contains("ghu_secret"), "{quoted}");
        let long = "m".repeat(500);
        assert_eq!(quote(&long).chars().count(), MAX_QUOTED_CHARS + 3);
    }

    #[test]
    fn malformed_bodies_are_upstream_errors() {
        for body in [
            &b"<html>502 Bad Gateway</html>"[..],
            b"",
            b"{\"object\":\"list\"}",
            b"{\"data\":\"nope\"}",
            b"{\"data\":null}",
            b"[]",
            b"\xff\xfe",
        ] {
            match parse_models(body) {
                Err(Error::Upstream(Upstream {
                    status: 200,
                    message,
                    request_id: None,
                })) => {
                    assert!(message.starts_with("malformed model list"), "{message}");
                }
                other => panic!("{:?}: unexpected {other:?}", String::from_utf8_lossy(body)),
            }
        }
        let (models, warnings) = parse(r#"{"data":[]}"#);
        assert!(models.is_empty() && warnings.is_empty());
    }

    #[test]
    fn truncated_bodies_never_panic() {
        let bytes = INDIVIDUAL.as_bytes();
        for end in 0..bytes.len() {
            let _ = parse_models(&bytes[..end]);
        }
    }

    #[test]
    fn default_model_goes_first() {
        let body = r#"{"data":[
          {"id":"one","capabilities":{"type":"chat"}},
          {"id":"two","capabilities":{"type":"chat"}},
          {"id":"three","is_chat_default":true,"capabilities":{"type":"chat"}},
          {"id":"four","capabilities":{"type":"chat"}}
        ]}"#;
        let (models, _) = parse(body);
        let selected = select(models);
        assert_eq!(ids(&selected), ["three", "one", "two", "four"]);
        assert_eq!(
            default_model(&selected).map(|m| m.id.as_str()),
            Some("three")
        );
        assert!(default_model(&[]).is_none());
    }

    #[test]
    fn fast_default_is_the_cheapest_billed_model() {
        let models = vec![
            model(r#"{"id":"premium-1x","billing":{"is_premium":true,"multiplier":1}}"#),
            model(r#"{"id":"premium-cheap","billing":{"is_premium":true,"multiplier":0.33}}"#),
            model(r#"{"id":"unbilled-mini"}"#),
            model(r#"{"id":"gpt-4.1","billing":{"is_premium":false,"multiplier":0}}"#),
            model(r#"{"id":"gpt-5-mini","billing":{"is_premium":false,"multiplier":0}}"#),
            model(r#"{"id":"gpt-4o","billing":{"is_premium":false,"multiplier":0}}"#),
        ];
        // Non-premium first; among equal costs the small-looking one; unbilled never wins.
        assert_eq!(
            fast_model(&models).map(|m| m.id.as_str()),
            Some("gpt-5-mini")
        );

        let premium_only = vec![models[0].clone(), models[1].clone(), models[2].clone()];
        assert_eq!(
            fast_model(&premium_only).map(|m| m.id.as_str()),
            Some("premium-cheap")
        );

        let mut with_fallback = models.clone();
        with_fallback.push(model(r#"{"id":"base","is_chat_fallback":true}"#));
        assert_eq!(
            fast_model(&with_fallback).map(|m| m.id.as_str()),
            Some("base")
        );
        assert!(fast_model(&[]).is_none());
    }

    #[test]
    fn limits_mapping() {
        let both = model(
            r#"{"id":"a","capabilities":{"limits":{"max_context_window_tokens":200000,"max_prompt_tokens":128000,"max_output_tokens":8192}}}"#,
        );
        let context_only =
            model(r#"{"id":"b","capabilities":{"limits":{"max_context_window_tokens":64000}}}"#);
        let none = model(r#"{"id":"c"}"#);
        let zero = model(r#"{"id":"d","capabilities":{"limits":{"max_prompt_tokens":0}}}"#);
        let info = |m: &Model| to_model_info(m, None, None);
        assert_eq!(
            (info(&both).max_token_count, info(&both).max_output_tokens),
            (128_000, Some(8192))
        );
        assert_eq!(info(&context_only).max_token_count, 64_000);
        assert_eq!(info(&none).max_token_count, DEFAULT_MAX_TOKEN_COUNT);
        assert_eq!(info(&none).max_output_tokens, None);
        assert_eq!(info(&zero).max_token_count, DEFAULT_MAX_TOKEN_COUNT);
        assert!(!info(&none).is_default && !info(&none).is_default_fast);
        let flagged = to_model_info(&none, Some("c"), Some("c"));
        assert!(flagged.is_default && flagged.is_default_fast);
    }

    #[test]
    fn capabilities_mapping() {
        let plain = to_model_info(&model(r#"{"id":"p"}"#), None, None).capabilities;
        assert!(!plain.supports_images && !plain.supports_tools && !plain.supports_thinking);
        assert!(!plain.supports_tool_choice_auto && !plain.supports_tool_choice_none);
        let rich = model(
            r#"{"id":"r","capabilities":{"supports":{"vision":true,"tool_calls":true,"adaptive_thinking":true}}}"#,
        );
        let caps = to_model_info(&rich, None, None).capabilities;
        assert!(caps.supports_images && caps.supports_tools && caps.supports_thinking);
        assert!(
            caps.supports_tool_choice_auto
                && caps.supports_tool_choice_any
                && caps.supports_tool_choice_none
        );
    }

    #[test]
    fn endpoint_routing() {
        let with = |endpoints: &str| {
            model(&format!(
                r#"{{"id":"m","supported_endpoints":{endpoints}}}"#
            ))
        };
        assert_eq!(
            with(r#"["/chat/completions","/responses"]"#).endpoint(),
            Some(Endpoint::ChatCompletions)
        );
        assert_eq!(
            with(r#"["/v1/messages","/chat/completions"]"#).endpoint(),
            Some(Endpoint::ChatCompletions)
        );
        assert_eq!(
            with(r#"["/responses","ws:/responses"]"#).endpoint(),
            Some(Endpoint::Responses)
        );
        assert_eq!(with(r#"["ws:/responses"]"#).endpoint(), None);
        assert_eq!(with(r#"["/v1/messages"]"#).endpoint(), None);
        assert_eq!(with("[]").endpoint(), None);
        assert_eq!(
            model(r#"{"id":"m"}"#).endpoint(),
            Some(Endpoint::ChatCompletions)
        );
        assert_eq!(Endpoint::ChatCompletions.path(), "/chat/completions");
        assert_eq!(Endpoint::Responses.path(), "/responses");
    }

    #[test]
    fn untyped_models_need_a_chat_endpoint() {
        let models = vec![
            model(r#"{"id":"untyped-listed","supported_endpoints":["/responses"]}"#),
            model(r#"{"id":"untyped-messages","supported_endpoints":["/v1/messages"]}"#),
            model(r#"{"id":"completion","capabilities":{"type":"completion"}}"#),
            model(r#"{"id":"Chat-caps","capabilities":{"type":"Chat"}}"#),
        ];
        assert_eq!(ids(&select(models)), ["untyped-listed", "Chat-caps"]);
    }

    #[test]
    fn models_markdown_lists_extras_and_models_to_enable() {
        let (models, _) = parse(INDIVIDUAL);
        let md = models_markdown(&select(models));
        let row = |id: &str| {
            md.lines()
                .find(|l| l.contains(&format!("`{id}`")) && l.starts_with('|'))
                .unwrap_or_else(|| panic!("no row for {id} in\n{md}"))
                .to_string()
        };
        assert_eq!(
            row("gpt-5"),
            "| GPT-5 (1x) | `gpt-5` | /responses | 272000 / 400000 / 128000 | yes (1x) | no | yes, parallel | yes | effort: low, medium, high |"
        );
        assert!(row("gpt-4.1").contains("| /chat/completions |"), "{md}");
        assert!(row("gpt-4.1").contains("yes (≤ 3.0 MB; image/jpeg, image/png, image/webp, image/gif)"), "{md}");
        assert!(row("grok-code-fast-1").contains("| yes (0.25x) |"), "{md}");
        assert!(row("gemini-2.5-pro").contains("| yes |"), "preview: {md}");
        assert!(md.contains("### Models to enable"), "{md}");
        assert!(md.contains("**Gemini 2.5 Pro** (`gemini-2.5-pro`, policy `unconfigured`): Enable access to Gemini."), "{md}");
        assert!(md.contains(POLICY_SETTINGS_URL));
        assert_eq!(models_markdown(&[]), "## Models\n\nNo models are known yet.\n");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn policy_states_that_need_enablement() {
        let with = |state: &str| model(&format!(r#"{{"id":"m","name":"M","policy":{{"state":"{state}"}}}}"#));
        for state in ["unconfigured", "requires_consent", "pending"] {
            let mut m = with(state);
            assert!(m.needs_enablement(), "{state}");
            assert_eq!(display_name(&m), "M (enable in GitHub settings)");
            m.mark_enabled();
            assert!(!m.needs_enablement());
            assert_eq!(display_name(&m), "M");
        }
        assert!(!with("enabled").needs_enablement());
        assert!(!with("disabled").needs_enablement());
        assert!(!model(r#"{"id":"m"}"#).needs_enablement());
    }

    #[test]
    fn display_names() {
        let preview_named = model(r#"{"id":"x","name":"Gemini 3 (Preview)","preview":true}"#);
        assert_eq!(display_name(&preview_named), "Gemini 3 (Preview)");
        let premium_no_multiplier = model(r#"{"id":"y","name":"Y","billing":{"is_premium":true}}"#);
        assert_eq!(display_name(&premium_no_multiplier), "Y");
        let not_premium =
            model(r#"{"id":"z","name":"Z","billing":{"is_premium":false,"multiplier":1}}"#);
        assert_eq!(display_name(&not_premium), "Z");
        let blank = model(r#"{"id":"blank-name","name":"  "}"#);
        assert_eq!(display_name(&blank), "blank-name");
        assert_eq!(format_multiplier(1.0), "1x");
        assert_eq!(format_multiplier(0.33), "0.33x");
        assert_eq!(format_multiplier(1.25), "1.25x");
        assert_eq!(format_multiplier(10.0), "10x");
        assert_eq!(format_multiplier(0.0), "0x");
    }

    #[test]
    fn the_selection_report_says_why_models_are_not_offered() {
        let body = br#"{"data":[
            {"id":"a","model_picker_enabled":true,"capabilities":{"type":"chat"}},
            {"id":"a","model_picker_enabled":true,"capabilities":{"type":"chat"}},
            {"id":"emb","capabilities":{"type":"embeddings"}},
            {"id":"off","policy":{"state":"disabled"},"capabilities":{"type":"chat"}},
            {"id":"msg","supported_endpoints":["/v1/messages"],"capabilities":{"type":"chat"}},
            {"id":"hid","model_picker_enabled":false,"capabilities":{"type":"chat"}}
        ]}"#;
        let (models, _) = parse_models(body).unwrap();
        let (chosen, report) = select_with_report(models);
        assert_eq!(chosen.len(), 1);
        assert_eq!((report.listed, report.shown), (6, 1));
        let reasons: Vec<(&str, Vec<&str>)> = report
            .hidden
            .iter()
            .map(|g| (g.reason.as_str(), g.ids.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("not a chat model (embeddings or completions)", vec!["emb"]),
                ("disabled by the account's policy", vec!["off"]),
                ("speaks no endpoint this provider supports", vec!["msg"]),
                ("listed twice (the first entry is used)", vec!["a"]),
                ("marked hidden from the model picker by the server", vec!["hid"]),
            ]
        );
    }
}
