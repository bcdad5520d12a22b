//! GitHub device-flow sign-in (RFC 8628), for users with no credential anywhere.
//!
//! Design decision: the guest never waits. [`start`] asks GitHub for a code and returns what
//! to show; each [`DeviceFlow::poll`] is at most ONE request, and none at all before the
//! interval GitHub asked for has passed since the last one, judged by the host's clock. The
//! host owns the waiting and may call as often as it likes; `slow_down` and expiry are
//! honoured here, so a host cannot make us hammer GitHub. On approval the token is stored in
//! the host's secret store with the host it belongs to (see
//! [`crate::auth::credentials::StoredToken`]), after asking GitHub for the login when it can.

use serde_json::Value;

use crate::bindings::copilot_chat::extension::llm_provider::DeviceFlowPrompt;
use crate::auth::credentials::{StoredToken, COPILOT_APP_CLIENT_ID, STORED_TOKEN_KEY};
use crate::error::{redact, Error, Upstream};
use crate::host_api::{HostApi, HttpMethod, HttpRequest, LogLevel, RedirectPolicy};
use crate::settings::Settings;

/// The most bytes of a device-flow or `/user` answer the extension accepts (real ones are
/// a few hundred).
pub const MAX_OAUTH_ANSWER_BYTES: u64 = 64 * 1024;

/// Where the device code is requested, under the login base.
pub const DEVICE_CODE_PATH: &str = "/login/device/code";
/// Where the token is polled for, under the login base.
pub const ACCESS_TOKEN_PATH: &str = "/login/oauth/access_token";
/// The scope asked for; the Copilot app is a GitHub App, so it barely matters.
pub const DEVICE_SCOPE: &str = "read:user";
/// RFC 8628's grant type.
pub const DEVICE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Added to the interval on `slow_down` when GitHub names no new interval.
pub const SLOW_DOWN_STEP_SECS: u64 = 5;
/// GitHub's defaults, used when the answer omits them.
const DEFAULT_INTERVAL_SECS: u64 = 5;
const DEFAULT_EXPIRES_IN_SECS: u64 = 900;
/// Bounds on what the server may ask for, so a hostile answer cannot stall or flood us.
const MIN_INTERVAL_SECS: u64 = 1;
const MAX_INTERVAL_SECS: u64 = 120;
const MAX_EXPIRES_IN_SECS: u64 = 3600;
/// Longest user code and URL we show.
const MAX_USER_CODE_CHARS: usize = 32;
const MAX_URL_CHARS: usize = 2048;
const MAX_LOGIN_CHARS: usize = 100;
/// Whole-request timeout of sign-in calls.
const REQUEST_TIMEOUT_MS: u32 = 30_000;

/// What to show the user while they approve the sign-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub user_code: String,
    pub verification_url: String,
    pub expires_in_secs: u64,
}

impl Prompt {
    /// The WIT record, with the texts a host shows around the code.
    pub fn device_flow_prompt(&self) -> DeviceFlowPrompt {
        DeviceFlowPrompt {
            user_code: self.user_code.clone(),
            verification_url: self.verification_url.clone(),
            headline: "Sign in to GitHub Copilot".to_string(),
            description: format!(
                "Open {} in a browser and enter the code {} to let this editor use your Copilot subscription.",
                self.verification_url, self.user_code
            ),
            connect_button_label: "Connect to GitHub".to_string(),
            success_headline: "Signed in to GitHub Copilot".to_string(),
            success_message: "Copilot models are now available.".to_string(),
            expires_in_secs: self.expires_in_secs,
        }
    }
}

/// A device-flow sign-in in progress. `Debug` hides the device code.
pub struct DeviceFlow {
    device_code: String,
    /// The GitHub host the token will belong to.
    github_host: String,
    login_base: String,
    interval: u64,
    expires_at: u64,
    /// No request before this instant (host clock, unix seconds).
    next_poll_at: u64,
}

impl std::fmt::Debug for DeviceFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceFlow")
            .field("device_code", &"[redacted]")
            .field("github_host", &self.github_host)
            .field("interval", &self.interval)
            .field("expires_at", &self.expires_at)
            .field("next_poll_at", &self.next_poll_at)
            .finish()
    }
}

/// What one poll found.
#[derive(Debug, PartialEq, Eq)]
pub enum Poll {
    /// Not approved yet (or too early to ask); poll again later.
    Pending,
    /// Approved; the token is stored. Carries the login when GitHub told it.
    SignedIn { login: Option<String> },
}

/// The base serving `/login/device/code` and `/login/oauth/access_token`: a loopback
/// `github_api_url` (a simulator) serves them itself; otherwise the GitHub host's site
/// (`https://github.com`, `https://acme.ghe.com`).
pub fn login_base(settings: &Settings) -> String {
    match settings.github_api_url.as_deref() {
        Some(url) if is_loopback(url) => url.trim_end_matches('/').to_string(),
        _ => format!("https://{}", settings.github_host()),
    }
}

fn is_loopback(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    matches!(host, "127.0.0.1" | "localhost" | "::1")
}

/// Asks GitHub for a device code. `Err` when GitHub cannot be reached or refuses.
pub fn start(host: &dyn HostApi, settings: &Settings) -> Result<(DeviceFlow, Prompt), Error> {
    let base = login_base(settings);
    let body = format!(
        "client_id={COPILOT_APP_CLIENT_ID}&scope={}",
        form_encode(DEVICE_SCOPE)
    );
    let answer = post_form(host, settings, &format!("{base}{DEVICE_CODE_PATH}"), body)?;
    if let Some(code) = answer.get("error").and_then(Value::as_str) {
        return Err(oauth_error(code, &answer));
    }
    let text = |key: &str| answer.get(key).and_then(Value::as_str).map(str::trim);
    let device_code = text("device_code")
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| bad_answer("no device_code"))?
        .to_string();
    let user_code = text("user_code")
        .filter(|c| {
            !c.is_empty()
                && c.chars().count() <= MAX_USER_CODE_CHARS
                && !c.chars().any(char::is_control)
        })
        .ok_or_else(|| bad_answer("no user_code"))?
        .to_string();
    let verification_url = text("verification_uri")
        .filter(|u| is_http_url(u))
        .ok_or_else(|| bad_answer("no verification_uri"))?
        .to_string();
    let number = |key: &str| answer.get(key).and_then(Value::as_u64);
    let interval = number("interval")
        .unwrap_or(DEFAULT_INTERVAL_SECS)
        .clamp(MIN_INTERVAL_SECS, MAX_INTERVAL_SECS);
    let expires_in = number("expires_in")
        .unwrap_or(DEFAULT_EXPIRES_IN_SECS)
        .clamp(MIN_INTERVAL_SECS, MAX_EXPIRES_IN_SECS);
    let now = host.now_unix();
    let flow = DeviceFlow {
        device_code,
        github_host: settings.github_host(),
        login_base: base,
        interval,
        expires_at: now.saturating_add(expires_in),
        next_poll_at: now.saturating_add(interval),
    };
    let prompt = Prompt {
        user_code,
        verification_url,
        expires_in_secs: expires_in,
    };
    Ok((flow, prompt))
}

impl DeviceFlow {
    /// One step: no request before the interval has passed; otherwise one poll. Expiry,
    /// denial and other refusals are errors (the flow is over; start again).
    pub fn poll(&mut self, host: &dyn HostApi, settings: &Settings) -> Result<Poll, Error> {
        let now = host.now_unix();
        if now >= self.expires_at {
            return Err(ended("the code expired before it was approved"));
        }
        if now < self.next_poll_at {
            return Ok(Poll::Pending);
        }
        let body = format!(
            "client_id={COPILOT_APP_CLIENT_ID}&device_code={}&grant_type={}",
            form_encode(&self.device_code),
            form_encode(DEVICE_GRANT_TYPE)
        );
        let url = format!("{}{ACCESS_TOKEN_PATH}", self.login_base);
        let answer = post_form(host, settings, &url, body);
        // Whatever happened, the next request waits a full interval from now.
        self.next_poll_at = host.now_unix().max(now).saturating_add(self.interval);
        let answer = answer?;
        if let Some(token) = answer.get("access_token").and_then(Value::as_str) {
            let token = token.trim();
            if token.is_empty()
                || !token.bytes().all(|b| b.is_ascii_graphic())
                || token.contains('=')
            {
                return Err(bad_answer("an unusable access_token"));
            }
            return self.finish(host, settings, token);
        }
        match answer.get("error").and_then(Value::as_str) {
            Some("authorization_pending") => Ok(Poll::Pending),
            Some("slow_down") => {
                let asked = answer.get("interval").and_then(Value::as_u64).unwrap_or(0);
                self.interval = asked
                    .max(self.interval.saturating_add(SLOW_DOWN_STEP_SECS))
                    .min(MAX_INTERVAL_SECS);
                self.next_poll_at = now.saturating_add(self.interval);
                host.log(
                    LogLevel::Info,
                    &format!(
                        "sign-in: GitHub asked to slow down; polling every {} s",
                        self.interval
                    ),
                );
                Ok(Poll::Pending)
            }
            Some("expired_token") => Err(ended("the code expired before it was approved")),
            Some("access_denied") => Err(ended("the sign-in was denied in the browser")),
            Some(code) => Err(oauth_error(code, &answer)),
            None => Err(bad_answer("neither access_token nor error")),
        }
    }

    /// Learns the login, stores the token with its host.
    fn finish(&self, host: &dyn HostApi, settings: &Settings, token: &str) -> Result<Poll, Error> {
        let login = fetch_login(host, settings, token);
        let stored = StoredToken {
            host: self.github_host.clone(),
            token: token.to_string(),
            login: login.clone(),
            // The scope rule sends this token only to the API it was made against.
            api: Some(settings.github_api_base()),
        };
        host.store_credential(STORED_TOKEN_KEY, &stored.to_json())
            .map_err(|e| {
                Error::InvalidRequest(format!(
                    "signed in, but the host could not store the token: {}",
                    redact(&format!("{e:?}"))
                ))
            })?;
        Ok(Poll::SignedIn { login })
    }
}

/// `GET {github api}/user` with the new token; `None` (logged) when it fails: the login is
/// only for display.
fn fetch_login(host: &dyn HostApi, settings: &Settings, token: &str) -> Option<String> {
    let request = HttpRequest {
        method: HttpMethod::Get,
        url: format!("{}/user", settings.github_api_base()),
        headers: vec![
            ("Authorization".into(), format!("token {token}")),
            ("Accept".into(), "application/vnd.github+json".into()),
            ("User-Agent".into(), settings.user_agent.clone()),
        ],
        body: None,
        redirect_policy: RedirectPolicy::FollowLimit(5),
        timeout_ms: Some(REQUEST_TIMEOUT_MS),
        max_body_bytes: Some(MAX_OAUTH_ANSWER_BYTES),
    };
    let login = match host.fetch(request) {
        Ok(r) if (200..300).contains(&r.status) => serde_json::from_slice::<Value>(&r.body)
            .ok()
            .and_then(|v| {
                v.get("login")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .map(str::to_string)
            })
            .filter(|l| {
                !l.is_empty()
                    && l.chars().count() <= MAX_LOGIN_CHARS
                    && !l.chars().any(char::is_control)
            }),
        Ok(r) => {
            host.log(
                LogLevel::Warn,
                &format!("sign-in: GitHub answered {} for the user's login", r.status),
            );
            None
        }
        Err(e) => {
            host.log(
                LogLevel::Warn,
                &format!(
                    "sign-in: could not ask GitHub for the login: {}",
                    Error::from(e)
                ),
            );
            None
        }
    };
    login
}

/// POSTs a form and reads the JSON answer; a non-2xx status is classified as usual.
fn post_form(
    host: &dyn HostApi,
    settings: &Settings,
    url: &str,
    body: String,
) -> Result<Value, Error> {
    let request = HttpRequest {
        method: HttpMethod::Post,
        url: url.to_string(),
        headers: vec![
            ("Accept".into(), "application/json".into()),
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("User-Agent".into(), settings.user_agent.clone()),
        ],
        body: Some(body.into_bytes()),
        redirect_policy: RedirectPolicy::FollowLimit(5),
        timeout_ms: Some(REQUEST_TIMEOUT_MS),
        max_body_bytes: Some(MAX_OAUTH_ANSWER_BYTES),
    };
    let response = host.fetch(request)?;
    if !(200..300).contains(&response.status) {
        return Err(Error::from_response_at(
            response.status,
            &response.headers,
            &response.body,
            host.now_unix(),
        ));
    }
    serde_json::from_slice::<Value>(&response.body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| bad_answer("a body that is not a JSON object"))
}

/// The flow is over for a reason the user can act on: sign in again.
fn ended(why: &str) -> Error {
    Error::NotSignedIn {
        searched: vec![format!(
            "device-flow sign-in: {why}; start the sign-in again"
        )],
    }
}

fn bad_answer(what: &str) -> Error {
    Error::Upstream(Upstream {
        status: 200,
        message: format!("GitHub's device-flow answer had {what}"),
        request_id: None,
    })
}

/// Any other OAuth error (`device_flow_disabled`, `incorrect_client_credentials`, ...).
fn oauth_error(code: &str, answer: &Value) -> Error {
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    let description = answer
        .get("error_description")
        .and_then(Value::as_str)
        .map(|d| format!(": {}", redact(&d.chars().take(300).collect::<String>())))
        .unwrap_or_default();
    Error::Upstream(Upstream {
        status: 200,
        message: format!("GitHub refused the device-flow sign-in ({code}){description}"),
        request_id: None,
    })
}

fn is_http_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.chars().count() <= MAX_URL_CHARS
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `application/x-www-form-urlencoded` value encoding.
fn form_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
