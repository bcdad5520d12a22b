//! The provider's user settings, read from the host's settings JSON.
//!
//! Design decision: parsing never fails. Settings are typed by hand into an editor, so a typo
//! must not take the provider down: an unknown key is ignored, a wrong-typed or unusable
//! value keeps its default and yields a warning the caller logs. Values that end up in HTTP
//! headers are checked for control characters here, once, so no later step can inject a
//! header line.

use serde_json::{Map, Value};

/// `Copilot-Integration-Id` sent with every Copilot API call (what VS Code's chat sends;
/// enterprise endpoints reject session-token calls without one).
pub const DEFAULT_INTEGRATION_ID: &str = "vscode-chat";
/// `Editor-Version`; the Copilot API rejects unknown editors, `vscode/<ver>` always works.
pub const DEFAULT_EDITOR_VERSION: &str = "vscode/1.104.1";
/// `Editor-Plugin-Version`.
pub const DEFAULT_EDITOR_PLUGIN_VERSION: &str = "copilot-chat/0.31.0";
/// `User-Agent`.
pub const DEFAULT_USER_AGENT: &str = "GitHubCopilotChat/0.31.0";
/// `X-GitHub-Api-Version` (what VS Code's chat and Zed send).
pub const DEFAULT_API_VERSION: &str = "2025-05-01";
/// Whole-request timeout for non-streaming calls.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
/// Upper bound for `request_timeout_secs`; more than an hour is certainly a typo.
pub const MAX_REQUEST_TIMEOUT_SECS: u64 = 3600;
/// The public GitHub host.
pub const GITHUB_HOST: &str = "github.com";
/// The public GitHub REST API.
pub const GITHUB_API_BASE: &str = "https://api.github.com";
/// `endpoint_preference` value (and the default) meaning "follow the routing rule".
pub const ENDPOINT_AUTO: &str = "auto";
/// The `endpoint_preference` object key that applies to every model not named in it.
pub const ENDPOINT_ANY_MODEL: &str = "*";
/// The endpoints a preference may name: the `supported_endpoints` paths the provider speaks
/// (`catalog::model::Endpoint::path`; spelled here because settings sit below the catalog).
pub const PREFERABLE_ENDPOINTS: [&str; 3] = ["/chat/completions", "/responses", "/v1/messages"];

/// The provider's settings. Every field has a working default; see [`Settings::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `enterprise_uri`: the GitHub Enterprise (e.g. data-residency `https://acme.ghe.com`)
    /// the user signs in to. Decides which credential entry is used and where the token
    /// exchange goes (`https://api.<host>`). Unset: github.com.
    pub enterprise_uri: Option<String>,
    /// `github_api_url`: overrides the GitHub REST API base used for the token exchange
    /// (e.g. a loopback simulator). When set, it also serves as the Copilot API base of last
    /// resort. Trailing `/` is trimmed.
    pub github_api_url: Option<String>,
    /// `copilot_config_dir`: the directory holding `apps.json` / `hosts.json`, instead of
    /// the platform's `github-copilot` config directory. A leading `~/` means `$HOME`.
    pub copilot_config_dir: Option<String>,
    /// `integration_id`: the `Copilot-Integration-Id` header. Default `vscode-chat`.
    pub integration_id: String,
    /// `editor_version`: the `Editor-Version` header. Default `vscode/1.104.1`.
    pub editor_version: String,
    /// `editor_plugin_version`: the `Editor-Plugin-Version` header. Default
    /// `copilot-chat/0.31.0`.
    pub editor_plugin_version: String,
    /// `user_agent`: the `User-Agent` header. Default `GitHubCopilotChat/0.31.0`.
    pub user_agent: String,
    /// `api_version`: the `X-GitHub-Api-Version` header. Default `2025-05-01`.
    pub api_version: String,
    /// `request_timeout_secs`: whole-request timeout of non-streaming calls, and for a stream
    /// the wait for its headers and the longest silence between its chunks; 1 to 3600.
    /// Default 30.
    pub request_timeout_secs: u64,
    /// `enable_model_policies`: when true, a model whose policy is not yet enabled
    /// (`unconfigured`, `requires_consent`, `pending`) is enabled for the account with
    /// `POST {api}/models/{id}/policy`, once, as VS Code used to do. Default false: such
    /// models are listed as needing enablement in GitHub's settings.
    pub enable_model_policies: bool,
    /// `endpoint_preference`: which API a model is called through when its catalog entry
    /// lists several. Default: the routing rule for every model (see
    /// `catalog::model::Model::route`).
    pub endpoint_preference: EndpointPreference,
}

/// The `endpoint_preference` setting: a `supported_endpoints` path (or `auto`) for every
/// model, or an object mapping model ids to one, with `"*"` for the models it does not name:
/// `"/chat/completions"`, or `{"claude-sonnet-4.5": "/chat/completions", "*": "auto"}`.
///
/// A preference only chooses among the endpoints a model lists; for a model that does not
/// list the preferred one the routing rule applies. `auto` (and no setting) is the rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointPreference {
    /// The endpoint for models not named in `per_model`; `None` = the rule.
    pub any_model: Option<String>,
    /// `(model id, endpoint)`, in the order written; `None` endpoint = the rule (`auto`).
    pub per_model: Vec<(String, Option<String>)>,
}

impl EndpointPreference {
    /// The preferred endpoint path for `model_id`, if the user named one.
    pub fn for_model(&self, model_id: &str) -> Option<&str> {
        match self.per_model.iter().find(|(id, _)| id == model_id) {
            Some((_, endpoint)) => endpoint.as_deref(),
            None => self.any_model.as_deref(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enterprise_uri: None,
            github_api_url: None,
            copilot_config_dir: None,
            integration_id: DEFAULT_INTEGRATION_ID.to_string(),
            editor_version: DEFAULT_EDITOR_VERSION.to_string(),
            editor_plugin_version: DEFAULT_EDITOR_PLUGIN_VERSION.to_string(),
            user_agent: DEFAULT_USER_AGENT.to_string(),
            api_version: DEFAULT_API_VERSION.to_string(),
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
            enable_model_policies: false,
            endpoint_preference: EndpointPreference::default(),
        }
    }
}

impl Settings {
    /// Reads the settings JSON object leniently. Returns the settings and one warning per
    /// ignored value (never a secret: warnings name keys, not values). Malformed JSON or a
    /// non-object yields the defaults and a warning.
    pub fn parse(json: &str) -> (Settings, Vec<String>) {
        let mut warnings = Vec::new();
        let mut settings = Settings::default();
        let object = match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(map)) => map,
            // An absent settings document is `{}`, but tolerate an empty or `null` one too.
            Ok(Value::Null) => return (settings, warnings),
            Ok(_) => {
                warnings.push("settings: not a JSON object; using defaults".to_string());
                return (settings, warnings);
            }
            Err(_) if json.trim().is_empty() => return (settings, warnings),
            Err(e) => {
                warnings.push(format!(
                    "settings: malformed JSON at line {} column {}; using defaults",
                    e.line(),
                    e.column()
                ));
                return (settings, warnings);
            }
        };
        let mut reader = Reader {
            object: &object,
            warnings: &mut warnings,
        };
        settings.enterprise_uri = reader.optional("enterprise_uri", valid_enterprise_uri);
        settings.github_api_url = reader.optional("github_api_url", valid_http_url);
        settings.copilot_config_dir = reader.optional("copilot_config_dir", valid_path);
        reader.header_value("integration_id", &mut settings.integration_id);
        reader.header_value("editor_version", &mut settings.editor_version);
        reader.header_value("editor_plugin_version", &mut settings.editor_plugin_version);
        reader.header_value("user_agent", &mut settings.user_agent);
        reader.header_value("api_version", &mut settings.api_version);
        reader.timeout("request_timeout_secs", &mut settings.request_timeout_secs);
        reader.flag("enable_model_policies", &mut settings.enable_model_policies);
        settings.endpoint_preference = reader.endpoint_preference("endpoint_preference");
        (settings, warnings)
    }

    /// The GitHub host credentials and the exchange belong to: the lowercased host of
    /// `enterprise_uri` (scheme, user info, port, path, query stripped), else `github.com`.
    pub fn github_host(&self) -> String {
        self.enterprise_uri
            .as_deref()
            .and_then(|uri| split_authority(uri).map(|(host, _)| host))
            .unwrap_or_else(|| GITHUB_HOST.to_string())
    }

    /// Whether a GitHub Enterprise host (not github.com) is configured.
    pub fn is_enterprise(&self) -> bool {
        self.github_host() != GITHUB_HOST
    }

    /// The GitHub REST API base, without a trailing `/`: `github_api_url` if set; else
    /// `https://api.<host>[:port]` for an enterprise URI (how VS Code and the Copilot
    /// language server derive it); else `https://api.github.com`.
    pub fn github_api_base(&self) -> String {
        if let Some(url) = &self.github_api_url {
            return url.trim_end_matches('/').to_string();
        }
        match self.enterprise_uri.as_deref().and_then(split_authority) {
            Some((host, port)) if host != GITHUB_HOST => match port {
                Some(port) => format!("https://api.{host}:{port}"),
                None => format!("https://api.{host}"),
            },
            _ => GITHUB_API_BASE.to_string(),
        }
    }

    /// Whether the GitHub REST API base is the GitHub host's own: `github_api_url` unset, or
    /// an `https` URL on the host itself (GHES' `/api/v3`) or on `api.<host>`. Credentials
    /// from default places go only to such an API (see [`crate::auth::credentials::scope`]).
    pub fn api_is_home(&self) -> bool {
        let Some(url) = &self.github_api_url else {
            return true;
        };
        if !url.trim().to_ascii_lowercase().starts_with("https://") {
            return false;
        }
        let home = self.github_host();
        split_authority(url).is_some_and(|(host, _)| host == home || host == format!("api.{home}"))
    }

    /// The host (and port) of the GitHub REST API base, for messages.
    pub fn github_api_authority(&self) -> String {
        let base = self.github_api_base();
        match split_authority(&base) {
            Some((host, Some(port))) => format!("{host}:{port}"),
            Some((host, None)) => host,
            None => without_userinfo(&base),
        }
    }

    /// The whole-request timeout in milliseconds, as the HTTP API takes it.
    pub fn request_timeout_ms(&self) -> u32 {
        u32::try_from(self.request_timeout_secs.saturating_mul(1000)).unwrap_or(u32::MAX)
    }
}

/// Reads typed values out of the settings object, collecting warnings.
struct Reader<'a> {
    object: &'a Map<String, Value>,
    warnings: &'a mut Vec<String>,
}

impl Reader<'_> {
    /// An optional string; `null` and `""` mean unset. `check` normalises the value or says
    /// why it is unusable.
    fn optional(
        &mut self,
        key: &str,
        check: fn(&str) -> Result<String, &'static str>,
    ) -> Option<String> {
        match self.object.get(key)? {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => match check(s.trim()) {
                Ok(v) => Some(v),
                Err(why) => {
                    self.warn(key, why);
                    None
                }
            },
            _ => {
                self.warn(key, "expected a string");
                None
            }
        }
    }

    /// A string that goes into an HTTP header; unusable values keep the default.
    fn header_value(&mut self, key: &str, slot: &mut String) {
        match self.object.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.trim().is_empty() => self.warn(key, "must not be empty"),
            Some(Value::String(s)) if !is_header_safe(s.trim()) => {
                self.warn(key, "contains characters not allowed in an HTTP header")
            }
            Some(Value::String(s)) => *slot = s.trim().to_string(),
            Some(_) => self.warn(key, "expected a string"),
        }
    }

    fn timeout(&mut self, key: &str, slot: &mut u64) {
        match self.object.get(key) {
            None | Some(Value::Null) => {}
            Some(v) => match v.as_u64() {
                Some(n) if (1..=MAX_REQUEST_TIMEOUT_SECS).contains(&n) => *slot = n,
                _ => self.warn(key, "expected a whole number of seconds from 1 to 3600"),
            },
        }
    }

    /// A boolean; anything else keeps the default.
    fn flag(&mut self, key: &str, slot: &mut bool) {
        match self.object.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => *slot = *b,
            Some(_) => self.warn(key, "expected true or false"),
        }
    }

    /// `endpoint_preference`: a string for every model, or an object per model id (`"*"`
    /// for the rest). A value that names no endpoint this provider speaks is ignored with a
    /// warning (its model follows the rule); the rest of the object still applies.
    fn endpoint_preference(&mut self, key: &str) -> EndpointPreference {
        let mut preference = EndpointPreference::default();
        match self.object.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => match endpoint_choice(s) {
                Ok(choice) => preference.any_model = choice,
                Err(why) => self.warn(key, why),
            },
            Some(Value::Object(map)) => {
                for (model, value) in map {
                    let entry = format!("{key}.{}", quoted_key(model));
                    let choice = match value.as_str() {
                        Some(s) => endpoint_choice(s),
                        None => Err(ENDPOINT_CHOICES),
                    };
                    match choice {
                        Err(why) => self.warn(&entry, why),
                        Ok(choice) if model.trim() == ENDPOINT_ANY_MODEL => preference.any_model = choice,
                        Ok(_) if model.trim().is_empty() => self.warn(&entry, "expected a model id"),
                        Ok(choice) => preference.per_model.push((model.trim().to_string(), choice)),
                    }
                }
            }
            Some(_) => self.warn(
                key,
                "expected an endpoint such as \"/v1/messages\", or an object of model ids to endpoints",
            ),
        }
        preference
    }

    fn warn(&mut self, key: &str, why: &str) {
        self.warnings
            .push(format!("settings: `{key}` ignored: {why}"));
    }
}

/// What an `endpoint_preference` value may be.
const ENDPOINT_CHOICES: &str =
    "expected \"auto\", \"/chat/completions\", \"/responses\" or \"/v1/messages\"";

/// An `endpoint_preference` value: `Ok(None)` for `auto`, `Ok(Some(path))` for an endpoint.
fn endpoint_choice(value: &str) -> Result<Option<String>, &'static str> {
    let value = value.trim();
    if value.eq_ignore_ascii_case(ENDPOINT_AUTO) {
        return Ok(None);
    }
    PREFERABLE_ENDPOINTS
        .iter()
        .find(|p| p.eq_ignore_ascii_case(value))
        .map(|p| Some((*p).to_string()))
        .ok_or(ENDPOINT_CHOICES)
}

/// A model id from the settings, fit to quote in a warning (short, visible characters).
fn quoted_key(key: &str) -> String {
    let shown: String = key.chars().filter(|c| !c.is_control()).take(60).collect();
    format!("{shown:?}")
}

fn valid_enterprise_uri(uri: &str) -> Result<String, &'static str> {
    match split_authority(uri) {
        Some(_) => Ok(uri.to_string()),
        None => Err("expected a URL or host name such as https://acme.ghe.com"),
    }
}

fn valid_http_url(url: &str) -> Result<String, &'static str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("expected an http:// or https:// URL")?;
    if rest.is_empty() || !is_header_safe(url) || url.contains(' ') {
        return Err("expected an http:// or https:// URL");
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn valid_path(path: &str) -> Result<String, &'static str> {
    if path.chars().any(char::is_control) {
        return Err("contains control characters");
    }
    Ok(path.to_string())
}

/// Visible ASCII and spaces only: anything else could break or inject a header line.
fn is_header_safe(value: &str) -> bool {
    value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

/// `url` without the `user:password@` part of its authority, for anything shown.
pub fn without_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}{}{tail}", &authority[at + 1..]),
        None => url.to_string(),
    }
}

/// Splits `[scheme://][user@]host[:port][/path][?query][#fragment]` into the lowercased
/// host and the port. `None` when no plausible DNS host name is left.
pub(crate) fn split_authority(uri: &str) -> Option<(String, Option<u16>)> {
    let uri = uri.trim();
    let after_scheme = match uri.find("://") {
        Some(i) => uri.get(i + 3..)?,
        None => uri,
    };
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port.parse::<u16>().ok()?)),
        None => (authority, None),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let plausible = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    plausible.then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_api(enterprise: Option<&str>, api: Option<&str>) -> Settings {
        Settings {
            enterprise_uri: enterprise.map(str::to_string),
            github_api_url: api.map(str::to_string),
            ..Settings::default()
        }
    }

    #[test]
    fn the_api_is_home_only_on_the_github_hosts_own_https_url() {
        assert!(with_api(None, None).api_is_home());
        assert!(with_api(None, Some("https://api.github.com")).api_is_home());
        assert!(with_api(Some("https://acme.ghe.com"), None).api_is_home());
        assert!(with_api(Some("https://acme.ghe.com"), Some("https://api.acme.ghe.com")).api_is_home());
        assert!(with_api(Some("https://ghe.corp"), Some("https://ghe.corp/api/v3")).api_is_home());
        // Elsewhere, or in the clear: not the host's own API.
        assert!(!with_api(None, Some("http://127.0.0.1:8787")).api_is_home());
        assert!(!with_api(None, Some("http://api.github.com")).api_is_home());
        assert!(!with_api(None, Some("https://api.github.com.evil.example")).api_is_home());
        assert!(!with_api(None, Some("https://api.acme.ghe.com")).api_is_home());
        assert!(!with_api(Some("https://acme.ghe.com"), Some("https://api.github.com")).api_is_home());
    }

    #[test]
    fn userinfo_is_dropped_from_shown_urls() {
        assert_eq!(without_userinfo("https://user:pass@proxy.example:8080/x?y"), "https://proxy.example:8080/x?y");
        assert_eq!(without_userinfo("http://127.0.0.1:1/a@b"), "http://127.0.0.1:1/a@b");
        assert_eq!(without_userinfo("https://a:b@c@host"), "https://host");
        assert_eq!(with_api(None, Some("https://u:p@h.example")).github_api_authority(), "h.example");
    }

    #[test]
    fn defaults_from_empty_object() {
        let (s, w) = Settings::parse("{}");
        assert_eq!(s, Settings::default());
        assert!(w.is_empty());
        assert_eq!(s.integration_id, "vscode-chat");
        assert_eq!(s.editor_version, "vscode/1.104.1");
        assert_eq!(s.editor_plugin_version, "copilot-chat/0.31.0");
        assert_eq!(s.user_agent, "GitHubCopilotChat/0.31.0");
        assert_eq!(s.api_version, "2025-05-01");
        assert_eq!(s.request_timeout_secs, 30);
        assert_eq!(s.github_host(), "github.com");
        assert_eq!(s.github_api_base(), "https://api.github.com");
        assert!(!s.is_enterprise());
    }

    #[test]
    fn reads_every_key() {
        let (s, w) = Settings::parse(
            r#"{"enterprise_uri":"https://Acme.GHE.com/","github_api_url":"http://127.0.0.1:8080/",
                "copilot_config_dir":"/cfg","integration_id":"zed","editor_version":"Zed/0.200.0",
                "editor_plugin_version":"p/1","user_agent":"ua/1","api_version":"2025-10-01",
                "request_timeout_secs":5,"enable_model_policies":true,"unknown":[1,2]}"#,
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.enterprise_uri.as_deref(), Some("https://Acme.GHE.com/"));
        assert_eq!(s.github_api_url.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(s.copilot_config_dir.as_deref(), Some("/cfg"));
        assert_eq!(s.integration_id, "zed");
        assert_eq!(s.editor_version, "Zed/0.200.0");
        assert_eq!(s.editor_plugin_version, "p/1");
        assert_eq!(s.user_agent, "ua/1");
        assert_eq!(s.api_version, "2025-10-01");
        assert_eq!(s.request_timeout_secs, 5);
        assert_eq!(s.request_timeout_ms(), 5000);
        assert!(s.enable_model_policies);
        assert_eq!(s.github_host(), "acme.ghe.com");
        assert_eq!(s.github_api_base(), "http://127.0.0.1:8080");
    }

    #[test]
    fn wrong_types_warn_and_keep_defaults() {
        let (s, w) = Settings::parse(
            r#"{"enterprise_uri":42,"github_api_url":"ftp://x","integration_id":"",
                "editor_version":"a\r\nX-Evil: 1","user_agent":true,"request_timeout_secs":0,
                "api_version":null,"copilot_config_dir":""}"#,
        );
        assert_eq!(s, Settings::default());
        assert_eq!(w.len(), 6, "{w:?}");
        assert!(w.iter().any(|m| m.contains("`enterprise_uri`")));
        assert!(w.iter().any(|m| m.contains("`github_api_url`")));
        assert!(w.iter().any(|m| m.contains("`editor_version`")));
        assert!(w.iter().any(|m| m.contains("`request_timeout_secs`")));
        let (_, w) = Settings::parse(r#"{"request_timeout_secs":2.5}"#);
        assert_eq!(w.len(), 1);
        let (_, w) = Settings::parse(r#"{"request_timeout_secs":99999}"#);
        assert_eq!(w.len(), 1);
        let (s, w) = Settings::parse(r#"{"enable_model_policies":"yes"}"#);
        assert!(!s.enable_model_policies);
        assert!(w.len() == 1 && w[0].contains("`enable_model_policies`"), "{w:?}");
    }

    #[test]
    fn malformed_json_gives_defaults_and_warning() {
        let (s, w) = Settings::parse(r#"{"enterprise_uri": "#);
        assert_eq!(s, Settings::default());
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("malformed JSON at line 1"), "{w:?}");
        let (s, w) = Settings::parse("[1]");
        assert_eq!(s, Settings::default());
        assert!(w[0].contains("not a JSON object"));
        assert!(Settings::parse("").1.is_empty());
        assert!(Settings::parse("null").1.is_empty());
    }

    #[test]
    fn enterprise_host_forms() {
        let host = |uri: &str| Settings {
            enterprise_uri: Some(uri.into()),
            ..Settings::default()
        };
        assert_eq!(host("acme.ghe.com").github_host(), "acme.ghe.com");
        assert_eq!(host("https://acme.ghe.com").github_host(), "acme.ghe.com");
        assert_eq!(
            host("https://ACME.ghe.com:8443/login?x=1").github_host(),
            "acme.ghe.com"
        );
        assert_eq!(
            host("https://user@acme.ghe.com/").github_host(),
            "acme.ghe.com"
        );
        assert_eq!(
            host("https://acme.ghe.com:8443/").github_api_base(),
            "https://api.acme.ghe.com:8443"
        );
        assert_eq!(
            host("https://acme.ghe.com/").github_api_base(),
            "https://api.acme.ghe.com"
        );
        assert!(host("acme.ghe.com").is_enterprise());
        // An "enterprise" URI that is github.com itself behaves like the default.
        assert_eq!(
            host("https://github.com").github_api_base(),
            "https://api.github.com"
        );
        assert!(!host("https://github.com").is_enterprise());
        // Unusable URIs are rejected at parse time with a warning.
        for bad in [
            "https://",
            "https://a b.com",
            "https://x.com:notaport",
            "https://..com",
        ] {
            let json = serde_json::json!({ "enterprise_uri": bad }).to_string();
            let (s, w) = Settings::parse(&json);
            assert_eq!(s.enterprise_uri, None, "{bad}");
            assert_eq!(w.len(), 1, "{bad}");
        }
    }

    #[test]
    fn api_url_override_wins_over_enterprise() {
        let s = Settings {
            enterprise_uri: Some("https://acme.ghe.com".into()),
            github_api_url: Some("http://127.0.0.1:9/".into()),
            ..Settings::default()
        };
        assert_eq!(s.github_api_base(), "http://127.0.0.1:9");
        assert_eq!(s.github_host(), "acme.ghe.com");
    }

    #[test]
    fn endpoint_preference_global_or_per_model() {
        let (s, w) = Settings::parse("{}");
        assert!(w.is_empty());
        assert_eq!(s.endpoint_preference.for_model("claude-sonnet-4"), None);

        let (s, w) = Settings::parse(r#"{"endpoint_preference":" /chat/completions "}"#);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.endpoint_preference.for_model("any"), Some("/chat/completions"));

        let (s, w) = Settings::parse(
            r#"{"endpoint_preference":{"claude-sonnet-4":"/chat/completions","claude-opus-4":"auto","*":"/v1/messages"}}"#,
        );
        assert!(w.is_empty(), "{w:?}");
        let p = &s.endpoint_preference;
        assert_eq!(p.for_model("claude-sonnet-4"), Some("/chat/completions"));
        assert_eq!(p.for_model("claude-opus-4"), None, "auto: the rule, not the `*` value");
        assert_eq!(p.for_model("other"), Some("/v1/messages"));
        assert_eq!(Settings::parse(r#"{"endpoint_preference":"AUTO"}"#).0.endpoint_preference, EndpointPreference::default());
    }

    #[test]
    fn bad_endpoint_preferences_warn_and_keep_the_rest() {
        let (s, w) = Settings::parse(r#"{"endpoint_preference":"/v2/chat"}"#);
        assert_eq!(s.endpoint_preference, EndpointPreference::default());
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("`endpoint_preference`") && w[0].contains("/v1/messages"), "{w:?}");

        let (s, w) = Settings::parse(r#"{"endpoint_preference":{"a":"/responses","b":3,"c":"ws:/responses","":"auto"}}"#);
        assert_eq!(s.endpoint_preference.for_model("a"), Some("/responses"));
        assert_eq!(s.endpoint_preference.for_model("b"), None);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w.iter().any(|w| w.contains("endpoint_preference.\"b\"")), "{w:?}");

        let (_, w) = Settings::parse(r#"{"endpoint_preference":true}"#);
        assert_eq!(w.len(), 1);
    }
}
