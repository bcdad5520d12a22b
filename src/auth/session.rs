//! The token exchange (`GET {github api}/copilot_internal/v2/token`) and the session-token
//! cache.
//!
//! Design decisions:
//! * **One exchange serves every request until its refresh point.** The refresh point is
//!   `received_at + refresh_in` (a duration, so a wrong local clock does not matter), or
//!   without `refresh_in` five minutes before `expires_at`. A cached token is never used at or
//!   past `expires_at` by the local clock.
//! * **A wrong local clock never blocks work.** A token that was just received is used for the
//!   request that asked for it even when the local clock already reads past its `expires_at`
//!   (the server issued it a moment ago, so it is valid there); it is then not reused, so
//!   each later request exchanges again until the clock is fixed. That costs exchanges, never
//!   a stale token, and a warning names the cause.
//! * **Graceful fallback.** When the exchange fails in a way that may pass (transport error,
//!   timeout, 5xx, an unusable 200) or answers 400/404 (GitHub's answer for tokens of apps
//!   without the exchange, and on some data-residency tenants), the raw OAuth token is used
//!   as Bearer against the Copilot API, with a warning; the fallback is not cached, so the
//!   next request tries the exchange again. Definitive answers (401, 403, 429, other 4xx)
//!   are typed errors: falling back there would hide the reason from the user.
//! * **The OAuth token goes only to the exchange URL** (redirects not followed, so it cannot
//!   be carried elsewhere), except in the explicit fallback.
//!
//! The guest is single-threaded and [`SessionCache::auth`] takes `&mut self`, so exchanges are
//! single-flight by construction.

use std::fmt;

use serde_json::Value;

use crate::auth::credentials::Credential;
use crate::error::{Error, Upstream};
use crate::headers::exchange_headers;
use crate::host_api::{HostApi, HttpMethod, HttpRequest, HttpResponse, LogLevel, RedirectPolicy};
use crate::settings::Settings;

/// The most bytes of a token-exchange answer the extension accepts (a real one is about
/// 2 KiB): a larger one is a typed error, never a parse that grows the guest to its cap.
pub const MAX_EXCHANGE_ANSWER_BYTES: u64 = 256 * 1024;

/// Path of the token exchange under the GitHub REST API base.
pub const EXCHANGE_PATH: &str = "/copilot_internal/v2/token";
/// The Copilot API for github.com when the exchange names none.
pub const DEFAULT_COPILOT_API: &str = "https://api.githubcopilot.com";
/// Enterprise (`*.ghe.com`) Copilot API host prefix: `https://copilot-api.<host>`.
pub const ENTERPRISE_COPILOT_API_PREFIX: &str = "https://copilot-api.";
/// Without `refresh_in`, refresh this long before `expires_at` (what VS Code and Zed do).
pub const REFRESH_MARGIN_SECS: u64 = 300;

/// The useful part of a successful exchange answer. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenEnvelope {
    /// The Copilot session token (opaque).
    pub token: String,
    /// Unix seconds (server clock) after which the token is refused.
    pub expires_at: u64,
    /// Seconds after receipt when the client should exchange again (typically 1500).
    pub refresh_in: Option<u64>,
    /// `endpoints.api`: the Copilot API base for this account, without a trailing `/`.
    pub api: Option<String>,
    /// The plan SKU, e.g. `free_limited_copilot`.
    pub sku: Option<String>,
}

impl fmt::Debug for TokenEnvelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEnvelope")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("refresh_in", &self.refresh_in)
            .field("api", &self.api)
            .field("sku", &self.sku)
            .finish()
    }
}

/// Reads an exchange answer leniently: numbers may be strings, unknown fields are ignored,
/// an unusable `endpoints.api` is dropped. A missing or empty `token`, or a missing
/// `expires_at`, is an error (an `Upstream` with status 200; no body text is kept).
pub fn parse_envelope(body: &[u8]) -> Result<TokenEnvelope, Error> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        bad_envelope(&format!(
            "malformed JSON at line {} column {}",
            e.line(),
            e.column()
        ))
    })?;
    if !value.is_object() {
        return Err(bad_envelope("not a JSON object"));
    }
    let token = value
        .get("token")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad_envelope("no `token`"))?;
    // The token goes into an Authorization header: refuse anything that could break it.
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad_envelope("`token` has characters a header cannot carry"));
    }
    let expires_at = value
        .get("expires_at")
        .and_then(lenient_u64)
        .ok_or_else(|| bad_envelope("no `expires_at`"))?;
    Ok(TokenEnvelope {
        token: token.to_string(),
        expires_at,
        // 0 would mean "refresh before every request"; treat it as absent.
        refresh_in: value
            .get("refresh_in")
            .and_then(lenient_u64)
            .filter(|r| *r > 0),
        api: value
            .pointer("/endpoints/api")
            .and_then(Value::as_str)
            .and_then(clean_api_base),
        sku: value
            .get("sku")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    })
}

fn bad_envelope(why: &str) -> Error {
    Error::Upstream(Upstream {
        status: 200,
        message: format!("unusable token exchange answer: {why}"),
        request_id: None,
    })
}

/// A non-negative integer from a number (fractions dropped) or a numeric string.
fn lenient_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An `http(s)://` base without trailing `/`, or `None`.
fn clean_api_base(api: &str) -> Option<String> {
    let api = api.trim().trim_end_matches('/');
    let rest = api
        .strip_prefix("https://")
        .or_else(|| api.strip_prefix("http://"))?;
    let ok = !rest.is_empty() && api.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| api.to_string())
}

/// What the bearer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    /// A Copilot session token from the exchange.
    Session,
    /// The GitHub OAuth token itself (the exchange failed; degraded catalog likely).
    RawOAuth,
}

/// How to call the Copilot API right now. `Debug` never shows the bearer.
#[derive(Clone, PartialEq, Eq)]
pub struct Auth {
    /// The token for `Authorization: Bearer`.
    pub bearer: String,
    /// The Copilot API base URL, without a trailing `/`.
    pub api_base: String,
    /// Whether `bearer` is a session token or the fallback OAuth token.
    pub kind: AuthKind,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("bearer", &"[redacted]")
            .field("api_base", &self.api_base)
            .field("kind", &self.kind)
            .finish()
    }
}

/// The state of the last [`SessionCache::auth`], for `doctor`. Holds no token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// Session token, or the raw OAuth token after a failed exchange.
    pub kind: AuthKind,
    /// The Copilot API base in use.
    pub api_base: String,
    /// Local unix seconds when the exchange answer arrived (session only).
    pub received_at: Option<u64>,
    /// Local unix seconds from which the next request exchanges again (session only).
    pub refresh_at: Option<u64>,
    /// `expires_at` as the server sent it (session only).
    pub expires_at: Option<u64>,
    /// The plan SKU the exchange named (session only).
    pub sku: Option<String>,
    /// Why the exchange failed (fallback only; no token in it).
    pub fallback_reason: Option<String>,
    /// An `endpoints.api` the exchange named that was not used, and why.
    pub refused_api: Option<String>,
}

impl fmt::Display for SessionInfo {
    /// One line for humans (`doctor`, the settings view); times are unix seconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            AuthKind::Session => {
                write!(f, "Copilot session token for {}", self.api_base)?;
                if let (Some(refresh), Some(expires)) = (self.refresh_at, self.expires_at) {
                    write!(f, ", refreshes at {refresh}, expires at {expires}")?;
                }
                if let Some(sku) = &self.sku {
                    write!(f, ", plan {sku}")?;
                }
                Ok(())
            }
            AuthKind::RawOAuth => {
                write!(f, "GitHub OAuth token used directly for {}", self.api_base)?;
                if let Some(reason) = &self.fallback_reason {
                    write!(f, " because the token exchange failed: {reason}")?;
                }
                Ok(())
            }
        }
    }
}

/// A cached session token.
struct Session {
    token: String,
    api_base: String,
    received_at: u64,
    refresh_at: u64,
    expires_at: u64,
    sku: Option<String>,
}

impl Session {
    fn usable_at(&self, now: u64) -> bool {
        now < self.refresh_at && now < self.expires_at
    }

    fn auth(&self) -> Auth {
        Auth {
            bearer: self.token.clone(),
            api_base: self.api_base.clone(),
            kind: AuthKind::Session,
        }
    }
}

/// The last fallback, remembered only for [`SessionCache::current`].
struct Fallback {
    api_base: String,
    reason: String,
}

/// The in-memory session-token cache of one provider instance, keyed by the OAuth token.
#[derive(Default)]
pub struct SessionCache {
    /// The OAuth token everything below belongs to; another one resets the cache.
    owner: Option<String>,
    session: Option<Session>,
    /// The last `endpoints.api` the exchange named: the best fallback API base.
    last_api: Option<String>,
    /// The last `endpoints.api` refused by [`trusted_api`], with why (for `doctor`).
    refused_api: Option<String>,
    last_fallback: Option<Fallback>,
}

impl fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCache")
            .field("current", &self.current())
            .finish()
    }
}

/// Why an exchange did not give a usable envelope.
enum Failure {
    /// Use the raw OAuth token this time; the reason is safe to log.
    Fallback(String),
    /// A definitive answer, returned to the caller.
    Fail(Error),
}

impl SessionCache {
    /// An empty cache.
    pub fn new() -> Self {
        SessionCache::default()
    }

    /// The bearer and API base for the next Copilot API call: the cached session token while
    /// it is fresh, else a new exchange, else (on a transient failure or 400/404) the raw
    /// OAuth token. Definitive exchange answers come back as typed errors: 401
    /// `Unauthorized`, 403 `NoCopilotAccess` (or `RateLimited` for GitHub's rate-limit 403),
    /// 429 `RateLimited`.
    pub fn auth(
        &mut self,
        host: &dyn HostApi,
        settings: &Settings,
        credential: &Credential,
    ) -> Result<Auth, Error> {
        self.adopt(&credential.token);
        if let Some(session) = self
            .session
            .as_ref()
            .filter(|s| s.usable_at(host.now_unix()))
        {
            return Ok(session.auth());
        }
        self.session = None;
        match exchange(host, settings, &credential.token) {
            Ok((envelope, received_at)) => Ok(self.install(host, settings, envelope, received_at)),
            Err(Failure::Fallback(reason)) => {
                Ok(self.fall_back(host, settings, credential, reason))
            }
            Err(Failure::Fail(error)) => {
                self.last_fallback = None;
                Err(error)
            }
        }
    }

    /// Drops the session token (after the Copilot API refused it), so the next
    /// [`SessionCache::auth`] exchanges again. The last known API base is kept.
    pub fn invalidate(&mut self) {
        self.session = None;
    }

    /// Forgets everything (sign-out).
    pub fn clear(&mut self) {
        *self = SessionCache::new();
    }

    /// The cached session, or the last fallback, without any token; `None` before the first
    /// [`SessionCache::auth`], after an error and after [`SessionCache::clear`].
    pub fn current(&self) -> Option<SessionInfo> {
        if let Some(s) = &self.session {
            return Some(SessionInfo {
                kind: AuthKind::Session,
                api_base: s.api_base.clone(),
                received_at: Some(s.received_at),
                refresh_at: Some(s.refresh_at),
                expires_at: Some(s.expires_at),
                sku: s.sku.clone(),
                fallback_reason: None,
                refused_api: self.refused_api.clone(),
            });
        }
        self.last_fallback.as_ref().map(|f| SessionInfo {
            kind: AuthKind::RawOAuth,
            api_base: f.api_base.clone(),
            received_at: None,
            refresh_at: None,
            expires_at: None,
            sku: None,
            fallback_reason: Some(f.reason.clone()),
            refused_api: self.refused_api.clone(),
        })
    }

    /// Resets the cache when the credential changed (another account, or a new sign-in).
    fn adopt(&mut self, oauth: &str) {
        if self.owner.as_deref() != Some(oauth) {
            *self = SessionCache {
                owner: Some(oauth.to_string()),
                ..SessionCache::default()
            };
        }
    }

    fn install(
        &mut self,
        host: &dyn HostApi,
        settings: &Settings,
        envelope: TokenEnvelope,
        received_at: u64,
    ) -> Auth {
        let api_base = match envelope.api {
            Some(api) => match trusted_api(&api, settings) {
                Ok(()) => {
                    self.refused_api = None;
                    self.last_api = Some(api.clone());
                    api
                }
                Err(why) => {
                    let fallback = static_api_base(settings);
                    let shown = crate::settings::without_userinfo(&api);
                    host.log(
                        LogLevel::Warn,
                        &format!(
                            "the token exchange named the Copilot API {shown}, which is not used ({why}); using {fallback} instead"
                        ),
                    );
                    self.refused_api = Some(format!("{shown} ({why})"));
                    fallback
                }
            },
            None => {
                let api = static_api_base(settings);
                host.log(
                    LogLevel::Info,
                    &format!("the token exchange named no Copilot API endpoint; using {api}"),
                );
                api
            }
        };
        let refresh_at = refresh_point(received_at, envelope.expires_at, envelope.refresh_in);
        if envelope.expires_at <= received_at {
            host.log(
                LogLevel::Warn,
                &format!(
                    "the Copilot session token expires at {} but the local clock reads {received_at}; \
                     the local clock is probably ahead, so every request will exchange again until it is fixed",
                    envelope.expires_at
                ),
            );
        }
        host.log(
            LogLevel::Info,
            &format!(
                "Copilot session token received (API {api_base}, refresh in {} s, sku {})",
                refresh_at.saturating_sub(received_at),
                envelope.sku.as_deref().unwrap_or("unknown")
            ),
        );
        let session = Session {
            token: envelope.token,
            api_base,
            received_at,
            refresh_at,
            expires_at: envelope.expires_at,
            sku: envelope.sku,
        };
        // The fresh token serves this request even if the clock says it is already stale
        // (see the module notes); `usable_at` keeps it from being reused then.
        let auth = session.auth();
        self.session = Some(session);
        self.last_fallback = None;
        auth
    }

    fn fall_back(
        &mut self,
        host: &dyn HostApi,
        settings: &Settings,
        credential: &Credential,
        reason: String,
    ) -> Auth {
        let api_base = self
            .last_api
            .clone()
            .unwrap_or_else(|| static_api_base(settings));
        host.log(
            LogLevel::Warn,
            &format!(
                "Copilot token exchange failed ({reason}); using the GitHub OAuth token directly against {api_base} \
                 (fewer models may be available); the next request tries the exchange again"
            ),
        );
        self.last_fallback = Some(Fallback {
            api_base: api_base.clone(),
            reason,
        });
        Auth {
            bearer: credential.token.clone(),
            api_base,
            kind: AuthKind::RawOAuth,
        }
    }
}

/// When to exchange again: `received_at + refresh_in`; without it, `REFRESH_MARGIN_SECS`
/// before `expires_at`, but for a token that lives less than twice that margin, halfway
/// through its life (else it would be stale on arrival and every request would exchange).
/// `expires_at` is checked separately as a hard stop.
pub fn refresh_point(received_at: u64, expires_at: u64, refresh_in: Option<u64>) -> u64 {
    match refresh_in {
        Some(r) => received_at.saturating_add(r),
        None => {
            let lifetime = expires_at.saturating_sub(received_at);
            expires_at.saturating_sub(REFRESH_MARGIN_SECS.min(lifetime / 2))
        }
    }
}

/// The Copilot API base when the exchange names none: the API override itself when set (a
/// loopback simulator serves both APIs), `https://copilot-api.<host>` for an enterprise host,
/// else `https://api.githubcopilot.com`.
pub fn static_api_base(settings: &Settings) -> String {
    if settings.github_api_url.is_some() {
        return settings.github_api_base();
    }
    if settings.is_enterprise() {
        return format!("{ENTERPRISE_COPILOT_API_PREFIX}{}", settings.github_host());
    }
    DEFAULT_COPILOT_API.to_string()
}

/// Whether the exchange's `endpoints.api` may be used (issue 12): `https` on a Copilot or
/// GitHub domain (`githubcopilot.com`, `github.com`, `ghe.com` and their subdomains, the
/// enterprise host's domain), or, when `github_api_url` is explicitly a loopback URL (a
/// simulator), a loopback URL on this machine (the simulator itself, or a second one serving
/// the Copilot API apart): a loopback exchange never sends anything off the machine.
/// `Err` says why not, without the URL.
pub fn trusted_api(api: &str, settings: &Settings) -> Result<(), String> {
    if let Some(explicit) = settings.github_api_url.as_deref() {
        if is_loopback_origin(explicit) && is_loopback_origin(api) {
            return Ok(());
        }
    }
    let Some((scheme, host, _)) = origin(api) else {
        return Err("not a URL with a host".into());
    };
    if scheme != "https" {
        return Err("not https".into());
    }
    let enterprise = settings.github_host();
    let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    if ["githubcopilot.com", "github.com", "ghe.com"].iter().any(|d| under(d))
        || (settings.is_enterprise() && under(&enterprise))
    {
        Ok(())
    } else {
        Err(format!("{host} is not a Copilot or GitHub domain"))
    }
}

/// Lowercased scheme, host and port (the scheme's default when absent) of an `http(s)` URL.
fn origin(url: &str) -> Option<(String, String, u16)> {
    let (scheme, _) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let (host, port) = crate::settings::split_authority(url)?;
    Some((scheme, host, port.unwrap_or(default_port)))
}

fn is_loopback_origin(url: &str) -> bool {
    origin(url).is_some_and(|(_, host, _)| host == "127.0.0.1" || host == "localhost")
}

/// The exchange URL for these settings.
pub fn exchange_url(settings: &Settings) -> String {
    format!("{}{EXCHANGE_PATH}", settings.github_api_base())
}

/// Performs one exchange; returns the envelope and the local time its answer arrived.
fn exchange(
    host: &dyn HostApi,
    settings: &Settings,
    oauth: &str,
) -> Result<(TokenEnvelope, u64), Failure> {
    let request = HttpRequest {
        method: HttpMethod::Get,
        url: exchange_url(settings),
        headers: exchange_headers(settings, oauth),
        body: None,
        // A redirect would carry the OAuth token to another URL.
        redirect_policy: RedirectPolicy::NoFollow,
        timeout_ms: Some(settings.request_timeout_ms()),
        max_body_bytes: Some(MAX_EXCHANGE_ANSWER_BYTES),
    };
    let response = host
        .fetch(request)
        .map_err(|e| Failure::Fallback(Error::from_http("token exchange", e).to_string()))?;
    let received_at = host.now_unix();
    classify(&response).map(|envelope| (envelope, received_at))
}

/// Sorts an exchange answer into envelope, fallback or typed error.
fn classify(response: &HttpResponse) -> Result<TokenEnvelope, Failure> {
    let status = response.status;
    if (200..300).contains(&status) {
        return parse_envelope(&response.body).map_err(|e| Failure::Fallback(fallback_reason(e)));
    }
    let error = Error::from_response(status, &response.headers, &response.body);
    match status {
        400 | 404 | 500..=599 => Err(Failure::Fallback(fallback_reason(error))),
        // From the exchange, a 403 that is not a rate limit means no Copilot for this token,
        // even without Copilot's error envelope (e.g. "Resource not accessible by personal
        // access token").
        403 => Err(Failure::Fail(match error {
            Error::Unauthorized(u) => Error::NoCopilotAccess {
                message: u.message,
                notification_id: None,
                url: None,
            },
            other => other,
        })),
        _ => Err(Failure::Fail(error)),
    }
}

/// A log-safe reason (messages are already redacted) that names GitHub's API, not Copilot's.
fn fallback_reason(error: Error) -> String {
    match error {
        Error::Upstream(u) => match u.request_id {
            Some(id) => format!("HTTP {}: {} (request id {id})", u.status, u.message),
            None => format!("HTTP {}: {}", u.status, u.message),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
