//! One error type for the whole provider, classified once where a failure is first seen
//! (an HTTP status and body, a transport error, a missing credential) and mapped to the WIT
//! `provider-error` variant only at the edge, in `guest.rs`.
//!
//! No variant ever holds a token: server text passes through [`redact`] before it is kept.
//!
//! HTTP answers are classified by [`Error::from_response_at`], which takes the host clock so
//! that a `retry-after` given as an HTTP date becomes seconds to wait (`from_response`, without
//! a clock, reads only delta-seconds). Rate-limit and quota messages carry what to do for the
//! server's code and the request id, since their WIT records have no field for either.
//! [`Error::retry_now`] is the single rule for the provider's bounded automatic retry.

use std::fmt;

use crate::host_api::{header, HttpError};

/// An HTTP answer from GitHub or Copilot that is not a success.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub status: u16,
    pub message: String,
    pub request_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// No credential anywhere; `searched` says where we looked and why each place failed.
    NotSignedIn { searched: Vec<String> },
    /// The credential was rejected.
    Unauthorized(Upstream),
    /// The account has no Copilot access (403 with Copilot's error envelope).
    NoCopilotAccess {
        message: String,
        notification_id: Option<String>,
        url: Option<String>,
    },
    RateLimited {
        message: String,
        code: Option<String>,
        retry_after_secs: Option<u64>,
    },
    QuotaExceeded {
        message: String,
        code: Option<String>,
        retry_after_secs: Option<u64>,
    },
    ModelNotSupported(Upstream),
    ContextTooLong {
        message: String,
        limit: Option<u64>,
        actual: Option<u64>,
    },
    /// Transport failure: connection, timeout, TLS, denied by the sandbox.
    Network(String),
    /// Any other non-success answer.
    Upstream(Upstream),
    InvalidRequest(String),
    NotSupported(String),
}

impl Error {
    /// Classifies a non-success HTTP answer from the Copilot API (or GitHub's API) without a
    /// clock: a `retry-after` given as an HTTP date yields no wait. Prefer
    /// [`Error::from_response_at`] where the time is known.
    pub fn from_response(status: u16, headers: &[(String, String)], body: &[u8]) -> Error {
        classify(status, headers, body, None)
    }

    /// Classifies a non-success HTTP answer; `now` (unix seconds, the host clock) turns a
    /// `retry-after` HTTP date into seconds to wait.
    ///
    /// Bodies are `{"error": {"message", "code"}}`, `{"message", "error_details"}` (Copilot's
    /// access envelope) or plain text; all are read leniently. Rate-limit (429) and quota
    /// (402) messages get what to do for their code appended, and the request id when the
    /// server sent one (their WIT records have no request-id field).
    pub fn from_response_at(status: u16, headers: &[(String, String)], body: &[u8], now: u64) -> Error {
        classify(status, headers, body, Some(now))
    }

    /// Whether a request that failed this way before any output may be sent again at once:
    /// a server error (5xx), or a rate limit that asks for no wait (`retry-after: 0`).
    pub fn retry_now(&self) -> bool {
        match self {
            Error::Upstream(u) => (500..=599).contains(&u.status),
            Error::RateLimited { retry_after_secs: Some(0), .. } => true,
            _ => false,
        }
    }

    /// Whether the failure may pass on retry (transport errors, 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Network(_) => true,
            Error::Upstream(u) => u.status >= 500,
            _ => false,
        }
    }
}

/// The shared classifier of [`Error::from_response`] and [`Error::from_response_at`].
fn classify(status: u16, headers: &[(String, String)], body: &[u8], now: Option<u64>) -> Error {
    let parsed = ErrorBody::parse(body);
    let request_id = header(headers, "x-request-id")
        .or_else(|| header(headers, "x-github-request-id"))
        .map(|s| clip(&redact(s.trim())))
        .filter(|s| !s.is_empty())
        .or_else(|| parsed.request_id.clone());
    let message = parsed
        .message
        .clone()
        .unwrap_or_else(|| default_message(status).to_string());
    let upstream = Upstream { status, message: message.clone(), request_id: request_id.clone() };
    let code = parsed.code.clone();
    let retry_after_secs = header(headers, "retry-after").and_then(|v| parse_retry_after(v, now));
    match status {
        400 if code.as_deref() == Some("model_not_supported") => Error::ModelNotSupported(upstream),
        400 | 413 if is_context_too_long(code.as_deref(), &message) => {
            let (actual, limit) = parse_token_counts(&message);
            Error::ContextTooLong { message, limit, actual }
        }
        401 => Error::Unauthorized(upstream),
        402 => {
            let message = with_request_id(format!("{message}; {}", quota_guidance(code.as_deref())), &request_id);
            Error::QuotaExceeded { message, code, retry_after_secs }
        }
        403 if parsed.has_envelope => Error::NoCopilotAccess {
            message: parsed.details_message.unwrap_or(message),
            notification_id: parsed.notification_id,
            url: parsed.url,
        },
        403 if message.starts_with("API rate limit exceeded") => {
            Error::RateLimited { message: with_request_id(message, &request_id), code, retry_after_secs }
        }
        // An Anthropic-shaped 403 (`permission_error`, `/v1/messages`) comes from the model
        // provider behind Copilot, which accepted the session token: a new token would not
        // help, so it is not a refused credential.
        403 if parsed.anthropic => Error::Upstream(upstream),
        403 => Error::Unauthorized(upstream),
        429 => {
            // The code may come only as a header (`x-ratelimit-exceeded: <code>`).
            let code = code.or_else(|| {
                header(headers, "x-ratelimit-exceeded").map(|c| clip(&redact(c.trim()))).filter(|c| !c.is_empty())
            });
            let message = with_request_id(format!("{message}; {}", rate_limit_guidance(code.as_deref())), &request_id);
            Error::RateLimited { message, code, retry_after_secs }
        }
        // 503 with a rate-limit code is the upstream model provider throttling (§4.6).
        503 if code.as_deref().is_some_and(is_rate_limit_code) => {
            let message = with_request_id(format!("{message}; {}", rate_limit_guidance(code.as_deref())), &request_id);
            Error::RateLimited { message, code, retry_after_secs }
        }
        _ => Error::Upstream(upstream),
    }
}

fn with_request_id(message: String, request_id: &Option<String>) -> String {
    format!("{message}{}", rid(request_id))
}

/// Whether a server code names a rate limit (`rate_limited`, `user_model_rate_limited`, …).
fn is_rate_limit_code(code: &str) -> bool {
    let code = code.to_ascii_lowercase();
    code.contains("rate_limit") || code == "model_overloaded"
}

/// What to do about a 402, per Copilot's quota codes (§4.6).
pub fn quota_guidance(code: Option<&str>) -> &'static str {
    match code {
        Some("free_quota_exceeded") => {
            "the monthly Copilot Free limit is reached: upgrade your plan or wait for the monthly reset"
        }
        Some("quota_exceeded") => {
            "the premium requests of your plan are used up: enable paid premium requests or upgrade \
             (ask your administrator on an organization plan), pick a model included in your plan, or wait for the reset"
        }
        Some("overage_limit_reached") => {
            "the budget for paid premium requests is spent: raise it in your GitHub billing settings or wait for the reset"
        }
        Some("billing_not_configured") => {
            "premium requests need a billing entity: choose one in your GitHub Copilot settings"
        }
        Some("session_quota_exceeded") => "this session's quota is used up: start a new session or wait",
        _ => "wait for the quota to reset or pick a model included in your plan",
    }
}

/// What to do about a 429, per Copilot's rate-limit codes (§4.6).
pub fn rate_limit_guidance(code: Option<&str>) -> &'static str {
    match code {
        Some("user_model_rate_limited") => "this model is rate limited for your account: wait or pick another model",
        Some("user_global_rate_limited") => "your account is rate limited across all models: wait before retrying",
        Some("integration_rate_limited") => "this editor integration is rate limited: wait and retry",
        Some("model_overloaded") | Some("overloaded_error") => {
            "the model is overloaded: pick another model or retry shortly"
        }
        Some("agent_mode_limit_exceeded") => "the agent-mode request limit is reached: wait, or continue without tools",
        Some("extension_blocked") => "Copilot blocked requests from this client for now: wait before retrying",
        _ => "wait and retry",
    }
}

impl Error {
    /// A transport failure of the request for `what` (e.g. "token exchange"): like
    /// `From<HttpError>`, but an oversized answer names what it was.
    pub fn from_http(what: &str, e: HttpError) -> Error {
        match e {
            HttpError::TooLarge(limit) => {
                Error::Network(format!("the {what} answer was larger than {limit} bytes"))
            }
            other => Error::from(other),
        }
    }
}

impl From<HttpError> for Error {
    fn from(e: HttpError) -> Error {
        Error::Network(match e {
            HttpError::Denied(host) => format!(
                "the host did not grant access to {host}; add it to the host's allowed hosts"
            ),
            HttpError::Timeout => "the request timed out".to_string(),
            HttpError::Connection(m) => format!("connection failed: {}", redact(&m)),
            HttpError::Tls(m) => format!("TLS failed: {}", redact(&m)),
            HttpError::TooLarge(limit) => format!("the answer was larger than {limit} bytes"),
            HttpError::Other(m) => redact(&m),
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotSignedIn { searched } => {
                write!(f, "not signed in to GitHub Copilot")?;
                if !searched.is_empty() {
                    write!(f, " (looked in: {})", searched.join("; "))?;
                }
                write!(f, "; sign in with `copilot-host sign-in` or set GH_COPILOT_TOKEN")
            }
            Error::Unauthorized(u) => write!(
                f,
                "GitHub rejected the credential ({}: {}); sign out and sign in again{}",
                u.status,
                u.message,
                rid(&u.request_id)
            ),
            Error::NoCopilotAccess { message, url, .. } => {
                write!(f, "this GitHub account has no Copilot access: {message}")?;
                if let Some(url) = url {
                    write!(f, " (see {url})")?;
                }
                Ok(())
            }
            Error::RateLimited { message, retry_after_secs, .. } => {
                write!(f, "rate limited by Copilot: {message}")?;
                match retry_after_secs {
                    Some(s) => write!(f, "; retry in {s} s"),
                    None => write!(f, "; wait a moment and retry"),
                }
            }
            Error::QuotaExceeded { message, .. } => write!(
                f,
                "Copilot quota exhausted: {message}; wait for the reset or pick an included model"
            ),
            Error::ModelNotSupported(u) => write!(
                f,
                "the model is not supported for this request: {}; pick another model{}",
                u.message,
                rid(&u.request_id)
            ),
            Error::ContextTooLong { message, limit, actual } => {
                write!(f, "the conversation is too long for this model: {message}")?;
                if let (Some(l), Some(a)) = (limit, actual) {
                    write!(f, " ({a} tokens, limit {l})")?;
                }
                write!(f, "; shorten it or start a new one")
            }
            Error::Network(m) => write!(f, "network error: {m}; check the connection and retry"),
            Error::Upstream(u) => write!(
                f,
                "Copilot answered {}: {}{}",
                u.status,
                u.message,
                rid(&u.request_id)
            ),
            Error::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            Error::NotSupported(m) => write!(f, "not supported yet: {m}"),
        }
    }
}

fn rid(request_id: &Option<String>) -> String {
    request_id
        .as_ref()
        .map(|r| format!(" (request id {r})"))
        .unwrap_or_default()
}

fn default_message(status: u16) -> &'static str {
    match status {
        400 => "bad request",
        401 => "unauthorized",
        402 => "payment required",
        403 => "forbidden",
        404 => "not found",
        429 => "too many requests",
        500..=599 => "server error",
        _ => "unexpected status",
    }
}

/// The fields of an error body we use, from any of its known shapes.
#[derive(Default)]
struct ErrorBody {
    message: Option<String>,
    code: Option<String>,
    has_envelope: bool,
    details_message: Option<String>,
    notification_id: Option<String>,
    url: Option<String>,
    /// The Anthropic envelope (`/v1/messages`): `{"type": "error", "error": {"type",
    /// "message"}, "request_id"}`.
    anthropic: bool,
    /// The Anthropic envelope's `request_id` (used when no request-id header came).
    request_id: Option<String>,
}

const MAX_MESSAGE_CHARS: usize = 500;

impl ErrorBody {
    fn parse(body: &[u8]) -> ErrorBody {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            return ErrorBody {
                message: (!text.is_empty()).then(|| clip(&redact(text))),
                ..ErrorBody::default()
            };
        };
        let str_at = |v: &serde_json::Value, k: &str| {
            v.get(k).and_then(|x| x.as_str()).map(|s| clip(&redact(s)))
        };
        let inner = value.get("error").filter(|e| e.is_object()).unwrap_or(&value);
        let mut out = ErrorBody {
            message: str_at(inner, "message").or_else(|| value.get("error").and_then(|e| e.as_str()).map(|s| clip(&redact(s)))),
            code: str_at(inner, "code").or_else(|| str_at(inner, "type")),
            anthropic: value.get("type").and_then(|t| t.as_str()) == Some("error")
                && value.get("error").is_some_and(|e| e.is_object()),
            request_id: str_at(&value, "request_id").filter(|r| !r.trim().is_empty()),
            ..ErrorBody::default()
        };
        if let Some(details) = value.get("error_details").filter(|d| d.is_object()) {
            out.has_envelope = true;
            out.details_message = str_at(details, "message");
            out.notification_id = str_at(details, "notification_id");
            out.url = str_at(details, "url");
        }
        out
    }
}

/// Status given to an `error` that arrives inside a 200 stream: the server failed after it
/// had started answering, which is a server error.
pub const MID_STREAM_ERROR_STATUS: u16 = 500;

impl Error {
    /// Classifies an `error` value found inside a 200 stream, on either endpoint (an object
    /// `{code, message, type?, param?}`, or just a string): rate limits and quotas with what to
    /// do, context too long, model not supported, anything else a server error.
    pub fn from_stream_error(error: &serde_json::Value) -> Error {
        use serde_json::Value;
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| error.as_str())
            .filter(|m| !m.trim().is_empty())
            .map(clean_message)
            .unwrap_or_else(|| "the server reported an error while answering".to_string());
        let code = match error.get("code") {
            Some(Value::String(s)) if !s.is_empty() => Some(clean_message(s)),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => error
                .get("type")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(clean_message),
        };
        let lower = code.as_deref().unwrap_or_default().to_ascii_lowercase();
        let upstream = |message: String| Upstream { status: MID_STREAM_ERROR_STATUS, message, request_id: None };
        let overloaded = lower == "model_overloaded" || lower == "overloaded_error";
        if lower.contains("rate_limit") || lower.contains("ratelimit") || overloaded || lower == "429" {
            let message = format!("{message}; {}", rate_limit_guidance(code.as_deref()));
            Error::RateLimited { message, code, retry_after_secs: None }
        } else if lower.contains("quota") || lower == "overage_limit_reached" || lower == "402" {
            let message = format!("{message}; {}", quota_guidance(code.as_deref()));
            Error::QuotaExceeded { message, code, retry_after_secs: None }
        } else if lower.contains("context_length") || lower.contains("max_prompt_tokens") {
            Error::ContextTooLong { message, limit: None, actual: None }
        } else if lower == "model_not_supported" {
            Error::ModelNotSupported(upstream(message))
        } else {
            Error::Upstream(upstream(message))
        }
    }
}

/// Server text fit to keep in an error: trimmed, tokens redacted, length clipped.
pub fn clean_message(text: &str) -> String {
    clip(&redact(text.trim()))
}

fn clip(s: &str) -> String {
    if s.chars().count() <= MAX_MESSAGE_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX_MESSAGE_CHARS).collect();
    out.push('…');
    out
}

fn is_context_too_long(code: Option<&str>, message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    matches!(code, Some("model_max_prompt_tokens_exceeded") | Some("context_length_exceeded"))
        || lower.contains("exceeds the limit")
        || lower.contains("maximum context length")
        || lower.contains("prompt is too long")
}

/// Pulls `(actual, limit)` out of the known shapes of a context-too-long message:
/// * Copilot: "prompt token count of 140000 exceeds the limit of 128000";
/// * OpenAI: "This model's maximum context length is 128000 tokens. However, your messages
///   resulted in 140000 tokens" (or "… you requested 140000 tokens");
/// * Anthropic: "prompt is too long: 212000 tokens > 200000 maximum".
///
/// A count that is not found is `None`; numbers are never guessed by position.
fn parse_token_counts(message: &str) -> (Option<u64>, Option<u64>) {
    let lower = message.to_ascii_lowercase();
    let after = |phrase: &str| lower.find(phrase).and_then(|i| first_number(&lower[i + phrase.len()..]));
    if lower.contains("exceeds the limit") {
        return (after("count of").or_else(|| first_number(&lower)), after("limit of"));
    }
    if lower.contains("maximum context length") {
        let actual = after("resulted in").or_else(|| after("you requested"));
        return (actual, after("maximum context length is"));
    }
    if let Some(i) = lower.find("tokens >") {
        return (after("too long:"), first_number(&lower[i..]));
    }
    (None, None)
}

/// The first run of ASCII digits in `text`, if it starts within a few words (so "limit of
/// 128000" is read, while a number much further on is not taken for it).
fn first_number(text: &str) -> Option<u64> {
    const MAX_GAP_CHARS: usize = 16;
    let start = text.find(|c: char| c.is_ascii_digit()).filter(|i| *i <= MAX_GAP_CHARS)?;
    let digits: String = text[start..].chars().take_while(|c| c.is_ascii_digit() || *c == ',').filter(|c| *c != ',').collect();
    digits.parse().ok()
}

/// `retry-after` in seconds. HTTP-date values need the clock (see [`parse_retry_after`]);
/// here they yield `None`.
pub fn parse_retry_after_secs(value: &str) -> Option<u64> {
    value.trim().parse::<u64>().ok()
}

/// `retry-after` as seconds to wait: either delta-seconds, or an HTTP date (RFC 9110:
/// IMF-fixdate, or the obsolete RFC 850 and asctime forms) compared with `now` (unix
/// seconds). A date in the past means no wait (0). A date without `now`, or text that is
/// neither, is `None`.
pub fn parse_retry_after(value: &str, now: Option<u64>) -> Option<u64> {
    let value = value.trim();
    if let Some(secs) = parse_retry_after_secs(value) {
        return Some(secs);
    }
    let at = parse_http_date(value)?;
    Some(at.saturating_sub(now?))
}

/// Month abbreviations of HTTP dates, in calendar order.
const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// Parses an HTTP date to unix seconds. Accepts `Sun, 06 Nov 1994 08:49:37 GMT`,
/// `Sunday, 06-Nov-94 08:49:37 GMT` and `Sun Nov  6 08:49:37 1994`: the day name is ignored,
/// the other fields are found by their shape, so the order of day, month and year may vary.
pub fn parse_http_date(value: &str) -> Option<u64> {
    let mut day = None;
    let mut month = None;
    let mut year = None;
    let mut time = None;
    for token in value.split(|c: char| c.is_whitespace() || c == ',' || c == '-').filter(|t| !t.is_empty()) {
        if token.contains(':') {
            time = Some(parse_clock(token)?);
        } else if let Some(m) = MONTHS.iter().position(|m| token.eq_ignore_ascii_case(m)) {
            month = Some(m as u64 + 1);
        } else if token.bytes().all(|b| b.is_ascii_digit()) {
            let n: u64 = token.parse().ok()?;
            match token.len() {
                1 | 2 if day.is_none() => day = Some(n),
                // RFC 850 two-digit years: 70..99 are 19xx, the rest 20xx.
                2 => year = Some(if n >= 70 { 1900 + n } else { 2000 + n }),
                4 => year = Some(n),
                _ => return None,
            }
        } else if !(token.eq_ignore_ascii_case("GMT") || token.eq_ignore_ascii_case("UTC") || token.chars().all(|c| c.is_ascii_alphabetic())) {
            return None;
        }
    }
    let (day, month, year, (h, m, s)) = (day?, month?, year?, time?);
    if !(1..=31).contains(&day) || year < 1970 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + h * 3_600 + m * 60 + s)
}

/// `hh:mm:ss` to its parts, each in range.
fn parse_clock(token: &str) -> Option<(u64, u64, u64)> {
    let mut parts = token.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    (parts.next().is_none() && h < 24 && m < 60 && s <= 60).then_some((h, m, s))
}

/// Days from 1970-01-01 to a proleptic Gregorian date (year ≥ 1970). Counts whole 400-year
/// eras from 0000-03-01, so leap days fall at the end of each shifted year.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let year_of_era = y % 400;
    let shifted_month = (month + 9) % 12; // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719_468 days separate 0000-03-01 from 1970-01-01.
    (era * 146_097 + day_of_era).saturating_sub(719_468)
}

/// Replaces anything that looks like a GitHub or Copilot token with `[redacted]`.
///
/// GitHub tokens start with `gh?_` (`ghu_`, `gho_`, `ghp_`, `ghs_`, `ghr_`) or `github_pat_`;
/// Copilot session tokens are `key=value;...` strings starting with `tid=`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((start, kind)) = find_secret(rest) {
        out.push_str(&rest[..start]);
        out.push_str("[redacted]");
        let after = &rest[start..];
        let end = match kind {
            SecretKind::Session => after
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',')
                .unwrap_or(after.len()),
            SecretKind::GitHub => after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len()),
        };
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

enum SecretKind {
    GitHub,
    Session,
}

fn find_secret(text: &str) -> Option<(usize, SecretKind)> {
    let bytes = text.as_bytes();
    let mut best: Option<(usize, SecretKind)> = None;
    for (i, _) in text.char_indices() {
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if !boundary {
            continue;
        }
        let tail = &bytes[i..];
        let github = tail.len() >= 8
            && ((tail[0] == b'g'
                && tail[1] == b'h'
                && matches!(tail[2], b'u' | b'o' | b'p' | b's' | b'r')
                && tail[3] == b'_')
                || tail.starts_with(b"github_pat_"));
        if github {
            best = Some((i, SecretKind::GitHub));
            break;
        }
        if tail.starts_with(b"tid=") {
            best = Some((i, SecretKind::Session));
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn model_not_supported_is_typed() {
        let body = br#"{"error":{"message":"The requested model is not supported.","code":"model_not_supported"}}"#;
        let e = Error::from_response(400, &h(&[("x-request-id", "abc")]), body);
        assert_eq!(
            e,
            Error::ModelNotSupported(Upstream {
                status: 400,
                message: "The requested model is not supported.".into(),
                request_id: Some("abc".into())
            })
        );
    }

    #[test]
    fn context_too_long_carries_counts() {
        let body = br#"{"error":{"message":"prompt token count of 140000 exceeds the limit of 128000","code":"model_max_prompt_tokens_exceeded"}}"#;
        match Error::from_response(400, &[], body) {
            Error::ContextTooLong { limit, actual, .. } => {
                assert_eq!((actual, limit), (Some(140000), Some(128000)));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn access_envelope_is_no_copilot_access() {
        let body = br#"{"message":"no access","error_details":{"message":"You do not have access to Copilot.","notification_id":"no_copilot_access","title":"Get Copilot","url":"https://github.com/features/copilot"},"can_signup_for_limited":true}"#;
        assert_eq!(
            Error::from_response(403, &[], body),
            Error::NoCopilotAccess {
                message: "You do not have access to Copilot.".into(),
                notification_id: Some("no_copilot_access".into()),
                url: Some("https://github.com/features/copilot".into()),
            }
        );
    }

    #[test]
    fn rate_limit_reads_retry_after() {
        let body = br#"{"error":{"message":"slow down","code":"user_model_rate_limited"}}"#;
        assert_eq!(
            Error::from_response(429, &h(&[("Retry-After", "17"), ("x-request-id", "r-9")]), body),
            Error::RateLimited {
                message: "slow down; this model is rate limited for your account: wait or pick another model (request id r-9)".into(),
                code: Some("user_model_rate_limited".into()),
                retry_after_secs: Some(17)
            }
        );
    }

    /// 2026-11-29 02:00:00 UTC.
    const NOW: u64 = 1_795_917_600;

    #[test]
    fn http_dates_in_all_three_forms() {
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(784_111_777));
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Sun, 29 Nov 2026 02:00:00 GMT"), Some(NOW));
        assert_eq!(parse_http_date("Thu, 29 Feb 2024 12:00:00 GMT"), Some(1_709_208_000));
        for bad in ["", "soon", "Sun, 06 Nov 1994", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:00:00 GMT", "06 Nov 1994 08:49:37 +0100x"] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn retry_after_as_seconds_or_date() {
        assert_eq!(parse_retry_after(" 30 ", None), Some(30));
        assert_eq!(parse_retry_after("Sun, 29 Nov 2026 02:00:42 GMT", Some(NOW)), Some(42));
        assert_eq!(parse_retry_after("Sun, 29 Nov 2026 01:59:00 GMT", Some(NOW)), Some(0), "a past date means now");
        assert_eq!(parse_retry_after("Sun, 29 Nov 2026 02:00:42 GMT", None), None, "no clock, no wait");
        assert_eq!(parse_retry_after("-5", Some(NOW)), None);
        let body = br#"{"error":{"message":"Too many requests","code":"rate_limited"}}"#;
        let headers = h(&[("retry-after", "Sun, 29 Nov 2026 02:01:00 GMT")]);
        match Error::from_response_at(429, &headers, body, NOW) {
            Error::RateLimited { retry_after_secs, code, .. } => {
                assert_eq!((retry_after_secs, code.as_deref()), (Some(60), Some("rate_limited")));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(Error::from_response(429, &headers, body), Error::RateLimited { retry_after_secs: None, .. }));
    }

    #[test]
    fn rate_limit_code_from_header_and_guidance_per_code() {
        let e = Error::from_response_at(429, &h(&[("x-ratelimit-exceeded", "model_overloaded")]), b"busy", NOW);
        match e {
            Error::RateLimited { message, code, retry_after_secs } => {
                assert_eq!(code.as_deref(), Some("model_overloaded"));
                assert_eq!(message, "busy; the model is overloaded: pick another model or retry shortly");
                assert_eq!(retry_after_secs, None);
            }
            other => panic!("unexpected {other:?}"),
        }
        for code in ["user_global_rate_limited", "integration_rate_limited", "agent_mode_limit_exceeded", "extension_blocked"] {
            assert_ne!(rate_limit_guidance(Some(code)), rate_limit_guidance(None), "{code}");
        }
        let body = br#"{"error":{"message":"upstream throttled","code":"rate_limited"}}"#;
        assert!(matches!(Error::from_response(503, &[], body), Error::RateLimited { .. }));
    }

    #[test]
    fn quota_codes_carry_guidance_and_request_id() {
        let cases = [
            ("free_quota_exceeded", "monthly Copilot Free limit"),
            ("quota_exceeded", "enable paid premium requests"),
            ("overage_limit_reached", "billing settings"),
            ("billing_not_configured", "billing entity"),
            ("session_quota_exceeded", "new session"),
            ("something_else", "wait for the quota to reset"),
        ];
        for (code, hint) in cases {
            let body = format!(r#"{{"error":{{"message":"You have no quota left.","code":"{code}"}}}}"#);
            let headers = h(&[("retry-after", "3600"), ("x-github-request-id", "GH:1")]);
            match Error::from_response_at(402, &headers, body.as_bytes(), NOW) {
                Error::QuotaExceeded { message, code: got, retry_after_secs } => {
                    assert!(message.starts_with("You have no quota left."), "{message}");
                    assert!(message.contains(hint), "{code}: {message}");
                    assert!(message.ends_with("(request id GH:1)"), "{message}");
                    assert_eq!((got.as_deref(), retry_after_secs), (Some(code), Some(3600)));
                }
                other => panic!("{code}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn context_too_long_in_every_known_shape() {
        let cases: [(&[u8], Option<u64>, Option<u64>); 5] = [
            (br#"{"error":{"message":"prompt token count of 306234 exceeds the limit of 272000","code":"model_max_prompt_tokens_exceeded"}}"#, Some(306_234), Some(272_000)),
            (br#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 140123 tokens. Please reduce the length of the messages.","type":"invalid_request_error","code":"context_length_exceeded"}}"#, Some(140_123), Some(128_000)),
            (br#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, you requested 9000 tokens (8000 in the messages, 1000 in the completion).","code":"context_length_exceeded"}}"#, Some(9_000), Some(8_192)),
            (br#"{"error":{"message":"prompt is too long: 212000 tokens > 200000 maximum","type":"invalid_request_error"}}"#, Some(212_000), Some(200_000)),
            (br#"{"error":{"message":"context too large","code":"model_max_prompt_tokens_exceeded"}}"#, None, None),
        ];
        for (body, actual, limit) in cases {
            match Error::from_response(400, &[], body) {
                Error::ContextTooLong { actual: a, limit: l, message } => {
                    assert_eq!((a, l), (actual, limit), "{message}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(matches!(Error::from_response(413, &[], b"prompt token count of 5 exceeds the limit of 4"), Error::ContextTooLong { .. }));
    }

    #[test]
    fn server_errors_keep_the_request_id_and_may_be_retried_now() {
        let e = Error::from_response(502, &h(&[("X-Request-Id", "abc-1")]), b"<html>Bad Gateway</html>");
        assert_eq!(e, Error::Upstream(Upstream { status: 502, message: "<html>Bad Gateway</html>".into(), request_id: Some("abc-1".into()) }));
        assert!(e.retry_now());
        let e = Error::from_response(500, &[], br#"{"error":{"message":"internal","code":"server_error"}}"#);
        assert!(e.retry_now() && e.to_string().contains("internal"));
        assert!(Error::from_response(429, &h(&[("retry-after", "0")]), b"").retry_now());
        assert!(!Error::from_response(429, &h(&[("retry-after", "3")]), b"").retry_now());
        assert!(!Error::from_response(429, &[], b"").retry_now());
        assert!(!Error::from_response(400, &[], b"bad").retry_now());
        assert!(!Error::Network("reset".into()).retry_now());
    }

    #[test]
    fn plain_text_body_becomes_message() {
        let e = Error::from_response(400, &[], b"bad request: missing Editor-Version header for IDE auth\n");
        assert_eq!(
            e,
            Error::Upstream(Upstream {
                status: 400,
                message: "bad request: missing Editor-Version header for IDE auth".into(),
                request_id: None
            })
        );
    }

    #[test]
    fn server_errors_are_transient() {
        assert!(Error::from_response(502, &[], b"").is_transient());
        assert!(!Error::from_response(401, &[], b"").is_transient());
    }

    #[test]
    fn redacts_tokens_everywhere() {
        let s = redact("token ghu_abcDEF123456 and tid=1;exp=2;proxy-ep=x:mac, gho_zz and github_pat_11AA_bb ok");
        assert_eq!(s, "token [redacted] and [redacted], [redacted] and [redacted] ok");
        assert_eq!(redact("xghu_notatoken"), "xghu_notatoken");
        let e = Error::from_response(401, &[], br#"{"message":"Bad credentials for ghu_secret123456"}"#);
        assert!(!format!("{e} {e:?}").contains("ghu_secret"));
    }

    /// The Anthropic envelope of `/v1/messages` errors (captures/errors/messages-400-*.json).
    #[test]
    fn anthropic_error_bodies_are_classified() {
        let orphan = br#"{
  "type": "error",
  "error": {
    "type": "invalid_request_error",
    "message": "messages.2: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1. Each `tool_use` block must have a corresponding `tool_result` block in the next message."
  },
  "request_id": "req_011CeEJ2uemj8utFA8w7BRJP"
}"#;
        match Error::from_response(400, &[], orphan) {
            Error::Upstream(u) => {
                assert_eq!(u.status, 400);
                assert!(u.message.starts_with("messages.2: `tool_use` ids"), "{}", u.message);
                assert_eq!(u.request_id.as_deref(), Some("req_011CeEJ2uemj8utFA8w7BRJP"));
            }
            other => panic!("{other:?}"),
        }
        let header = vec![("x-request-id".to_string(), "hdr-1".to_string())];
        assert!(matches!(Error::from_response(400, &header, orphan), Error::Upstream(u) if u.request_id.as_deref() == Some("hdr-1")));

        let too_long = br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 212000 tokens > 200000 maximum"}}"#;
        assert_eq!(
            Error::from_response(400, &[], too_long),
            Error::ContextTooLong {
                message: "prompt is too long: 212000 tokens > 200000 maximum".into(),
                limit: Some(200000),
                actual: Some(212000)
            }
        );

        let permission = br#"{"type":"error","error":{"type":"permission_error","message":"not allowed"}}"#;
        assert!(matches!(Error::from_response(403, &[], permission), Error::Upstream(u) if u.status == 403));
        // A bare 403 is still a refused token (exchanged again by the provider).
        assert!(matches!(Error::from_response(403, &[], b"forbidden"), Error::Unauthorized(_)));

        let limited = br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#;
        let retry = vec![("retry-after".to_string(), "3".to_string())];
        assert!(matches!(
            Error::from_response(429, &retry, limited),
            Error::RateLimited { code: Some(c), retry_after_secs: Some(3), .. } if c == "rate_limit_error"
        ));

        let overloaded = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let e = Error::from_response(529, &[], overloaded);
        assert!(e.retry_now(), "an overloaded answer is retried once like a 5xx: {e:?}");
        let mid = Error::from_stream_error(&serde_json::json!({"type": "overloaded_error", "message": "Overloaded"}));
        assert!(matches!(&mid, Error::RateLimited { message, .. } if message.contains("overloaded")), "{mid:?}");
    }
}
