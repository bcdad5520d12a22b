//! One error type for the whole provider, classified once where a failure is first seen
//! (an HTTP status and body, a transport error, a missing credential) and mapped to the WIT
//! `provider-error` variant only at the edge, in `lib.rs`.
//!
//! No variant ever holds a token: server text passes through [`redact`] before it is kept.

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
    /// Classifies a non-success HTTP answer from the Copilot API (or GitHub's API).
    ///
    /// Bodies are `{"error": {"message", "code"}}`, `{"message", "error_details"}` (Copilot's
    /// access envelope) or plain text; all are read leniently.
    pub fn from_response(status: u16, headers: &[(String, String)], body: &[u8]) -> Error {
        let parsed = ErrorBody::parse(body);
        let request_id = header(headers, "x-request-id")
            .or_else(|| header(headers, "x-github-request-id"))
            .map(redact);
        let message = parsed
            .message
            .clone()
            .unwrap_or_else(|| default_message(status).to_string());
        let upstream = Upstream {
            status,
            message: message.clone(),
            request_id,
        };
        let code = parsed.code.clone();
        let retry_after_secs = header(headers, "retry-after").and_then(parse_retry_after_secs);
        match status {
            400 if code.as_deref() == Some("model_not_supported") => Error::ModelNotSupported(upstream),
            400 | 413 if is_context_too_long(code.as_deref(), &message) => {
                let (actual, limit) = parse_token_counts(&message);
                Error::ContextTooLong { message, limit, actual }
            }
            401 => Error::Unauthorized(upstream),
            402 => Error::QuotaExceeded { message, code, retry_after_secs },
            403 if parsed.has_envelope => Error::NoCopilotAccess {
                message: parsed.details_message.unwrap_or(message),
                notification_id: parsed.notification_id,
                url: parsed.url,
            },
            403 if message.starts_with("API rate limit exceeded") => {
                Error::RateLimited { message, code, retry_after_secs }
            }
            403 => Error::Unauthorized(upstream),
            429 => Error::RateLimited { message, code, retry_after_secs },
            _ => Error::Upstream(upstream),
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

impl From<HttpError> for Error {
    fn from(e: HttpError) -> Error {
        Error::Network(match e {
            HttpError::Denied(host) => format!(
                "the host did not grant access to {host}; add it to the host's allowed hosts"
            ),
            HttpError::Timeout => "the request timed out".to_string(),
            HttpError::Connection(m) => format!("connection failed: {}", redact(&m)),
            HttpError::Tls(m) => format!("TLS failed: {}", redact(&m)),
            HttpError::TooLarge => "the response was too large".to_string(),
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

fn clip(s: &str) -> String {
    if s.chars().count() <= MAX_MESSAGE_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX_MESSAGE_CHARS).collect();
    out.push('…');
    out
}

fn is_context_too_long(code: Option<&str>, message: &str) -> bool {
    matches!(code, Some("model_max_prompt_tokens_exceeded") | Some("context_length_exceeded"))
        || message.contains("exceeds the limit")
        || message.contains("maximum context length")
}

/// Pulls "(actual, limit)" out of messages such as
/// "prompt token count of 140000 exceeds the limit of 128000".
fn parse_token_counts(message: &str) -> (Option<u64>, Option<u64>) {
    let numbers: Vec<u64> = message
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    match numbers.as_slice() {
        [actual, limit, ..] if message.contains("exceeds the limit") => (Some(*actual), Some(*limit)),
        // "This model's maximum context length is 128000 tokens. However, your messages resulted in 140000 tokens"
        [limit, actual, ..] => (Some(*actual), Some(*limit)),
        _ => (None, None),
    }
}

/// `retry-after` in seconds. HTTP-date values need the clock and are handled by callers that
/// have it; here they yield `None`.
pub fn parse_retry_after_secs(value: &str) -> Option<u64> {
    value.trim().parse::<u64>().ok()
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
            Error::from_response(429, &h(&[("Retry-After", "17")]), body),
            Error::RateLimited {
                message: "slow down".into(),
                code: Some("user_model_rate_limited".into()),
                retry_after_secs: Some(17)
            }
        );
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
}
