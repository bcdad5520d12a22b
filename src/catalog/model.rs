//! The catalog's domain type: one [`Model`] as the rest of the provider sees it, with the
//! endpoint it is called through and its policy state.

/// `supported_endpoints` value for the OpenAI chat-completions API.
pub const CHAT_COMPLETIONS_PATH: &str = "/chat/completions";

/// `supported_endpoints` value for the OpenAI Responses API.
pub const RESPONSES_PATH: &str = "/responses";

/// `supported_endpoints` value for the Anthropic Messages API.
pub const MESSAGES_PATH: &str = "/v1/messages";

/// The vendor name Anthropic's models carry in the catalog.
const ANTHROPIC_VENDOR: &str = "Anthropic";
/// The id / family prefix of Anthropic's models, for catalogs without `vendor`.
const CLAUDE_PREFIX: &str = "claude";

/// Words in a model's id, name or family that mark a small, fast model; used to pick the
/// fast default when the catalog carries no billing data (enterprise).
const SMALL_MODEL_WORDS: [&str; 4] = ["mini", "nano", "flash", "haiku"];

/// The `policy.state` of a model the account may not use.
const POLICY_DISABLED: &str = "disabled";

/// The `policy.state` of a model the account may use.
pub const POLICY_ENABLED: &str = "enabled";

/// The API a model is called through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST {api}/chat/completions` (OpenAI chat format).
    ChatCompletions,
    /// `POST {api}/responses` (OpenAI Responses format; GPT-5.x and codex models).
    Responses,
    /// `POST {api}/v1/messages` (Anthropic Messages format; Claude models).
    Messages,
}

impl Endpoint {
    /// The path appended to the API base URL (also its name in `supported_endpoints`).
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => CHAT_COMPLETIONS_PATH,
            Endpoint::Responses => RESPONSES_PATH,
            Endpoint::Messages => MESSAGES_PATH,
        }
    }

    /// The endpoint named by a `supported_endpoints` path, when this provider speaks it.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        match path.trim() {
            CHAT_COMPLETIONS_PATH => Some(Endpoint::ChatCompletions),
            RESPONSES_PATH => Some(Endpoint::Responses),
            MESSAGES_PATH => Some(Endpoint::Messages),
            _ => None,
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
    /// `supports.thinking`, `supports.adaptive_thinking`, any `reasoning_effort` level, or a
    /// `max_thinking_budget`.
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
    /// The endpoint chat requests for this model go to by default (the routing rule, no
    /// user preference); `None`: the model lists no endpoint this provider speaks (for
    /// example only `ws:/responses`), so it is not offered for chat. See [`Model::route`].
    pub fn endpoint(&self) -> Option<Endpoint> {
        self.route(None)
    }

    /// The endpoint chat requests for this model go to, given the user's `preferred` one
    /// (the `endpoint_preference` setting, a `supported_endpoints` path).
    ///
    /// The preferred endpoint wins when the model lists it; a preference the model cannot
    /// honour is ignored (it never makes a model unreachable). Otherwise the rule is:
    ///
    /// 1. `/v1/messages` for Anthropic's models (vendor `Anthropic`, or an id or family
    ///    starting with `claude`) that list it. The Messages API is Claude's own format, and
    ///    through it the extension gets what the chat-completions translation loses:
    ///    extended thinking comes back as `thinking` blocks with their `signature` (and
    ///    `redacted_thinking` blocks), which are sent back verbatim on the next turn so the
    ///    model keeps its reasoning across tool calls, and the request's cache flags become
    ///    `cache_control` breakpoints, so long conversations are read from the prompt cache
    ///    (reported as cache reads and writes in the usage) instead of being paid again.
    /// 2. `/chat/completions` when listed: the format every Copilot model speaks.
    /// 3. `/responses` when listed (GPT-5.x and codex models that list nothing else).
    /// 4. `/v1/messages` when listed (a model served only there, whatever its vendor).
    pub fn route(&self, preferred: Option<&str>) -> Option<Endpoint> {
        let listed = |endpoint: Endpoint| self.endpoints.iter().any(|e| e.trim() == endpoint.path());
        if let Some(endpoint) = preferred.and_then(Endpoint::from_path).filter(|e| listed(*e)) {
            return Some(endpoint);
        }
        if listed(Endpoint::Messages) && self.is_anthropic() {
            return Some(Endpoint::Messages);
        }
        [Endpoint::ChatCompletions, Endpoint::Responses, Endpoint::Messages]
            .into_iter()
            .find(|e| listed(*e))
    }

    /// Whether the model is one of Anthropic's (Claude): vendor `Anthropic`, or an id or
    /// family starting with `claude`.
    pub fn is_anthropic(&self) -> bool {
        let claude = |text: &str| {
            text.trim()
                .get(..CLAUDE_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(CLAUDE_PREFIX))
        };
        self.vendor.as_deref().is_some_and(|v| v.trim().eq_ignore_ascii_case(ANTHROPIC_VENDOR))
            || claude(&self.id)
            || self.family.as_deref().is_some_and(claude)
    }

    /// Whether the account may use the model without enabling it (policy absent or enabled).
    pub(super) fn policy_enabled(&self) -> bool {
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

    pub(super) fn policy_disabled(&self) -> bool {
        self.policy_state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(POLICY_DISABLED))
    }

    /// Whether the catalog says anything about what the model costs.
    pub(super) fn has_billing(&self) -> bool {
        self.is_premium.is_some() || self.multiplier.is_some()
    }

    /// Whether the id, name or family names a small, fast model ("gpt-4o-mini",
    /// "gemini-2.0-flash", "claude-haiku-4.5"). Whole words only, so "gemini" is not "mini".
    pub(super) fn looks_small(&self) -> bool {
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
