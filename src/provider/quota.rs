//! Quota snapshots from completion responses: `x-quota-snapshot-<name>` headers
//! (copilot-protocol.md §4.3), so a user can see how many premium requests are left.
//!
//! Design decision: the headers ride on every completion answer, so the provider keeps the
//! latest set it saw; only when it has seen none yet (a fresh instance, e.g. `doctor`) does
//! the settings markdown ask `GET {github api}/copilot_internal/user` once (§3.7; it takes
//! the OAuth token, so redirects are not followed). Each header is URL-query encoded
//! (`ent=300&rem=87.5&ov=0&ovPerm=false&rst=2026-12-01T00:00:00Z`); every field is optional
//! and read leniently, and an unreadable field reads as absent. Server text (the reset date,
//! the quota name) is cleaned before it is kept, because it ends up in markdown.

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::headers::exchange_headers;
use crate::host_api::{HostApi, HttpMethod, HttpRequest, RedirectPolicy};
use crate::settings::Settings;

/// The most bytes of a `/copilot_internal/user` answer the extension accepts (a real one is
/// a few KiB).
pub const MAX_USER_ANSWER_BYTES: u64 = 256 * 1024;

/// Path of the plan and quota view under the GitHub REST API base.
pub const USER_INFO_PATH: &str = "/copilot_internal/user";
/// Prefix of the quota headers, compared case-insensitively.
pub const HEADER_PREFIX: &str = "x-quota-snapshot-";
/// The quota that counts premium requests.
pub const PREMIUM_INTERACTIONS: &str = "premium_interactions";
/// `ent` value meaning "no limit".
const UNLIMITED_ENTITLEMENT: i64 = -1;
/// Longest quota name or reset text kept from the server.
const MAX_FIELD_CHARS: usize = 64;
/// At most this many snapshots are kept from one answer.
const MAX_SNAPSHOTS: usize = 16;

/// One `x-quota-snapshot-<name>` header.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuotaSnapshot {
    /// The part after the prefix, e.g. `premium_interactions`, `chat`, `completions`.
    pub name: String,
    /// `ent`: requests included per period; `-1` is unlimited.
    pub entitlement: Option<i64>,
    /// `rem`: percent of the entitlement left (0–100).
    pub remaining_percent: Option<f64>,
    /// `ov`: overage requests used this period.
    pub overage_used: Option<f64>,
    /// `ovPerm`: whether paid overage is allowed.
    pub overage_permitted: Option<bool>,
    /// `rst`: when the quota resets, as the server wrote it (usually RFC 3339).
    pub resets_at: Option<String>,
}

impl QuotaSnapshot {
    /// Whether the quota has no limit (`ent=-1`).
    pub fn unlimited(&self) -> bool {
        self.entitlement == Some(UNLIMITED_ENTITLEMENT)
    }

    /// Requests left, rounded down: entitlement × remaining percent. `None` when unlimited
    /// or a field is missing.
    pub fn remaining_requests(&self) -> Option<u64> {
        let ent = self.entitlement.filter(|e| *e >= 0)?;
        let pct = self.remaining_percent?.clamp(0.0, 100.0);
        Some((ent as f64 * pct / 100.0).floor() as u64)
    }

    /// Parses one header value; `name` is the header name's suffix.
    pub fn parse(name: &str, value: &str) -> QuotaSnapshot {
        let mut snapshot = QuotaSnapshot {
            name: clean(name),
            entitlement: None,
            remaining_percent: None,
            overage_used: None,
            overage_permitted: None,
            resets_at: None,
        };
        for pair in value.trim().split('&') {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let text = percent_decode(raw);
            let text = text.trim();
            match percent_decode(key).trim() {
                "ent" => snapshot.entitlement = text.parse().ok(),
                "rem" => snapshot.remaining_percent = finite(text),
                "ov" => snapshot.overage_used = finite(text).filter(|v| *v >= 0.0),
                "ovPerm" => snapshot.overage_permitted = text.parse().ok(),
                "rst" if !text.is_empty() => snapshot.resets_at = Some(clean(text)),
                _ => {}
            }
        }
        snapshot
    }

    /// A markdown list line, e.g. `* Premium requests: 87.5% left of 300 (262), resets
    /// 2026-12-01T00:00:00Z`.
    fn markdown_line(&self) -> String {
        let mut line = format!("* {}: ", label(&self.name));
        if self.unlimited() {
            line.push_str("unlimited");
        } else {
            match (self.remaining_percent, self.entitlement) {
                (Some(pct), Some(ent)) => {
                    line.push_str(&format!("{}% left of {ent}", trim_float(pct)));
                    if let Some(left) = self.remaining_requests() {
                        line.push_str(&format!(" ({left})"));
                    }
                }
                (Some(pct), None) => line.push_str(&format!("{}% left", trim_float(pct))),
                (None, Some(ent)) => line.push_str(&format!("{ent} included")),
                (None, None) => line.push_str("no details"),
            }
        }
        if let Some(ov) = self.overage_used.filter(|v| *v > 0.0) {
            line.push_str(&format!(", {} paid overage used", trim_float(ov)));
        }
        if self.overage_permitted == Some(true) {
            line.push_str(", overage allowed");
        }
        if let Some(reset) = &self.resets_at {
            line.push_str(&format!(", resets {reset}"));
        }
        line.push('\n');
        line
    }
}

/// The latest quota snapshots seen, premium requests first.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Quota {
    pub snapshots: Vec<QuotaSnapshot>,
}

impl Quota {
    /// The snapshots in `headers`, or `None` when there is no quota header at all (so an
    /// answer without them does not erase what is known).
    pub fn from_headers(headers: &[(String, String)]) -> Option<Quota> {
        let mut snapshots: Vec<QuotaSnapshot> = headers
            .iter()
            .filter_map(|(name, value)| {
                let prefix = name.get(..HEADER_PREFIX.len())?;
                let suffix = name.get(HEADER_PREFIX.len()..)?;
                (prefix.eq_ignore_ascii_case(HEADER_PREFIX) && !suffix.is_empty())
                    .then(|| QuotaSnapshot::parse(&suffix.to_ascii_lowercase(), value))
            })
            .take(MAX_SNAPSHOTS)
            .collect();
        if snapshots.is_empty() {
            return None;
        }
        // Premium requests first (what users watch), then by name for a stable order.
        snapshots.sort_by(|a, b| {
            (a.name != PREMIUM_INTERACTIONS, &a.name)
                .cmp(&(b.name != PREMIUM_INTERACTIONS, &b.name))
        });
        snapshots.dedup_by(|a, b| a.name == b.name);
        Some(Quota { snapshots })
    }

    /// The premium-requests snapshot, if the server sent one.
    pub fn premium(&self) -> Option<&QuotaSnapshot> {
        self.snapshots
            .iter()
            .find(|s| s.name == PREMIUM_INTERACTIONS)
    }

    /// A markdown section listing every snapshot.
    pub fn markdown(&self) -> String {
        let mut md = String::from("\n## Quota\n\n");
        for snapshot in &self.snapshots {
            md.push_str(&snapshot.markdown_line());
        }
        md
    }
}

impl Quota {
    /// The `quota_snapshots` of a `/copilot_internal/user` answer (with `quota_reset_date`
    /// as every snapshot's reset), or `None` when the body has none.
    pub fn from_user_info(body: &[u8]) -> Option<Quota> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let reset = value
            .get("quota_reset_date")
            .and_then(Value::as_str)
            .map(clean)
            .filter(|r| !r.is_empty());
        let mut snapshots: Vec<QuotaSnapshot> = value
            .get("quota_snapshots")?
            .as_object()?
            .iter()
            .filter(|(_, v)| v.is_object())
            .take(MAX_SNAPSHOTS)
            .map(|(name, v)| {
                let unlimited = v.get("unlimited").and_then(Value::as_bool) == Some(true);
                QuotaSnapshot {
                    name: clean(&name.to_ascii_lowercase()),
                    entitlement: if unlimited {
                        Some(UNLIMITED_ENTITLEMENT)
                    } else {
                        v.get("entitlement").and_then(Value::as_i64)
                    },
                    remaining_percent: v
                        .get("percent_remaining")
                        .and_then(Value::as_f64)
                        .filter(|p| p.is_finite()),
                    overage_used: v
                        .get("overage_count")
                        .and_then(Value::as_f64)
                        .filter(|o| o.is_finite() && *o >= 0.0),
                    overage_permitted: v.get("overage_permitted").and_then(Value::as_bool),
                    resets_at: reset.clone(),
                }
            })
            .collect();
        if snapshots.is_empty() {
            return None;
        }
        snapshots.sort_by(|a, b| {
            (a.name != PREMIUM_INTERACTIONS, &a.name)
                .cmp(&(b.name != PREMIUM_INTERACTIONS, &b.name))
        });
        Some(Quota { snapshots })
    }
}

/// Asks `GET {github api}/copilot_internal/user` with the OAuth token for the account's
/// quotas. `Ok(None)` when the answer carries none (enterprise seats often do not).
pub fn fetch_user_quota(
    host: &dyn HostApi,
    settings: &Settings,
    oauth: &str,
) -> Result<Option<Quota>, Error> {
    let request = HttpRequest {
        method: HttpMethod::Get,
        url: format!("{}{USER_INFO_PATH}", settings.github_api_base()),
        headers: exchange_headers(settings, oauth),
        body: None,
        // A redirect would carry the OAuth token to another URL.
        redirect_policy: RedirectPolicy::NoFollow,
        timeout_ms: Some(settings.request_timeout_ms()),
        max_body_bytes: Some(MAX_USER_ANSWER_BYTES),
    };
    let response = host
        .fetch(request)
        .map_err(|e| Error::from_http("user", e))?;
    if !(200..300).contains(&response.status) {
        return Err(Error::from_response_at(
            response.status,
            &response.headers,
            &response.body,
            host.now_unix(),
        ));
    }
    Ok(Quota::from_user_info(&response.body))
}

/// A reader's name for a quota.
fn label(name: &str) -> String {
    match name {
        PREMIUM_INTERACTIONS => "Premium requests".to_string(),
        "premium_models" => "Premium models".to_string(),
        "chat" => "Chat".to_string(),
        "completions" => "Code completions".to_string(),
        other => format!("`{other}`"),
    }
}

fn finite(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `87.5` stays `87.5`, `100.0` prints as `100`.
fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{:.1}", v)
    }
}

/// Keeps characters that are safe inside markdown text (letters, digits, `-_:.+ `), clipped.
fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '+' | ' '))
        .take(MAX_FIELD_CHARS)
        .collect()
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte; a broken
/// escape is kept as written, and invalid UTF-8 is replaced.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = match (b, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match (b, escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (other, None) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_every_field() {
        let s = QuotaSnapshot::parse(
            "premium_interactions",
            "ent=300&rem=87.5&ov=2&ovPerm=true&rst=2026-12-01T00%3A00%3A00Z",
        );
        assert_eq!(
            s,
            QuotaSnapshot {
                name: "premium_interactions".into(),
                entitlement: Some(300),
                remaining_percent: Some(87.5),
                overage_used: Some(2.0),
                overage_permitted: Some(true),
                resets_at: Some("2026-12-01T00:00:00Z".into()),
            }
        );
        assert_eq!(s.remaining_requests(), Some(262));
        assert!(!s.unlimited());
    }

    #[test]
    fn lenient_on_bad_fields() {
        let s = QuotaSnapshot::parse("chat", "ent=-1&rem=NaN&ov=x&ovPerm=maybe&junk&=&rst=");
        assert!(s.unlimited());
        assert_eq!(
            (
                s.remaining_percent,
                s.overage_used,
                s.overage_permitted,
                s.resets_at.clone()
            ),
            (None, None, None, None)
        );
        assert_eq!(s.remaining_requests(), None);
        let s = QuotaSnapshot::parse("x", "rst=2026-12-01<script>%ZZ+a");
        assert_eq!(s.resets_at.as_deref(), Some("2026-12-01scriptZZ a"));
    }

    #[test]
    fn from_headers_orders_premium_first_and_ignores_others() {
        let q = Quota::from_headers(&h(&[
            ("X-Quota-Snapshot-Chat", "ent=-1&rem=100.0"),
            ("content-type", "text/event-stream"),
            (
                "x-quota-snapshot-premium_interactions",
                "ent=300&rem=50&ov=0&ovPerm=false&rst=2026-12-01T00:00:00Z",
            ),
            ("x-quota-snapshot-", "ent=1"),
        ]))
        .expect("quota");
        let names: Vec<&str> = q.snapshots.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["premium_interactions", "chat"]);
        assert_eq!(
            q.premium().and_then(QuotaSnapshot::remaining_requests),
            Some(150)
        );
        assert_eq!(Quota::from_headers(&h(&[("x-request-id", "1")])), None);
    }

    #[test]
    fn user_info_snapshots() {
        let body = br#"{"login":"u","quota_reset_date":"2026-12-01","quota_snapshots":{
            "chat":{"entitlement":0,"percent_remaining":100.0,"unlimited":true,"overage_count":0,"overage_permitted":false},
            "premium_interactions":{"entitlement":300,"remaining":262,"percent_remaining":87.5,"unlimited":false,"overage_count":3,"overage_permitted":true},
            "odd":"not an object"}}"#;
        let q = Quota::from_user_info(body).expect("quota");
        assert_eq!(
            q.markdown(),
            "\n## Quota\n\n\
             * Premium requests: 87.5% left of 300 (262), 3 paid overage used, overage allowed, resets 2026-12-01\n\
             * Chat: unlimited, resets 2026-12-01\n"
        );
        assert_eq!(Quota::from_user_info(br#"{"login":"u"}"#), None);
        assert_eq!(Quota::from_user_info(b"<html>"), None);
    }

    #[test]
    fn user_quota_is_fetched_with_the_oauth_token_without_redirects() {
        use crate::testing::{json_response, request_header, FakeHost};
        let host = FakeHost::new();
        let url = "https://api.github.com/copilot_internal/user";
        host.route(url, |_| Ok(json_response(200, r#"{"quota_snapshots":{"premium_interactions":{"entitlement":50,"percent_remaining":10}}}"#)));
        let q = fetch_user_quota(&host, &Settings::default(), "ghu_quotaTest")
            .expect("fetch")
            .expect("quota");
        assert_eq!(
            q.premium().and_then(QuotaSnapshot::remaining_requests),
            Some(5)
        );
        let sent = host.requests();
        assert_eq!(
            request_header(&sent[0], "authorization"),
            Some("token ghu_quotaTest")
        );
        assert!(matches!(sent[0].redirect_policy, RedirectPolicy::NoFollow));
        host.route(url, |_| {
            Ok(json_response(401, r#"{"message":"Bad credentials"}"#))
        });
        assert!(matches!(
            fetch_user_quota(&host, &Settings::default(), "ghu_quotaTest"),
            Err(Error::Unauthorized(_))
        ));
    }

    #[test]
    fn markdown_lists_remaining_and_reset() {
        let q = Quota::from_headers(&h(&[
            (
                "x-quota-snapshot-premium_interactions",
                "ent=300&rem=87.5&ov=0&ovPerm=false&rst=2026-12-01T00:00:00Z",
            ),
            (
                "x-quota-snapshot-chat",
                "ent=-1&rem=100.0&ov=0&ovPerm=false&rst=2026-12-01T00:00:00Z",
            ),
            ("x-quota-snapshot-completions", "rem=100"),
        ]))
        .expect("quota");
        assert_eq!(
            q.markdown(),
            "\n## Quota\n\n\
             * Premium requests: 87.5% left of 300 (262), resets 2026-12-01T00:00:00Z\n\
             * Chat: unlimited, resets 2026-12-01T00:00:00Z\n\
             * Code completions: 100% left\n"
        );
    }
}
