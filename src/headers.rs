//! The HTTP headers of the two kinds of call: the token exchange at GitHub's API, and every
//! call to the Copilot API.
//!
//! Design decision: header sets are built in one place from [`Settings`], so the exchange and
//! the Copilot calls cannot drift apart, and the editor identity (which the Copilot API checks:
//! "missing Editor-Version header for IDE auth") is configured once. The exchange gets the
//! editor headers too: GitHub started to require them there in 2026 (protocol notes §2.2).
//! Request ids come from a tiny seeded PRNG: no dependency for something that only has to be
//! unique enough to correlate logs.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::settings::Settings;

/// `Authorization`.
pub const AUTHORIZATION: &str = "Authorization";
/// `Accept`.
pub const ACCEPT: &str = "Accept";
/// `Content-Type`.
pub const CONTENT_TYPE: &str = "Content-Type";
/// `User-Agent`.
pub const USER_AGENT: &str = "User-Agent";
/// `Editor-Version`: the Copilot API refuses calls without a known editor.
pub const EDITOR_VERSION: &str = "Editor-Version";
/// `Editor-Plugin-Version`.
pub const EDITOR_PLUGIN_VERSION: &str = "Editor-Plugin-Version";
/// `Copilot-Integration-Id`: enterprise endpoints reject session-token calls without it.
pub const COPILOT_INTEGRATION_ID: &str = "Copilot-Integration-Id";
/// `X-GitHub-Api-Version`.
pub const X_GITHUB_API_VERSION: &str = "X-GitHub-Api-Version";
/// `X-Request-Id`: a UUID per Copilot API request.
pub const X_REQUEST_ID: &str = "X-Request-Id";
/// The JSON media type.
pub const APPLICATION_JSON: &str = "application/json";

/// Headers of `GET {github api}/copilot_internal/v2/token`: the OAuth token with the `token`
/// scheme (what VS Code and Zed send), plus the editor identity.
pub fn exchange_headers(s: &Settings, oauth: &str) -> Vec<(String, String)> {
    vec![
        pair(AUTHORIZATION, &format!("token {oauth}")),
        pair(ACCEPT, APPLICATION_JSON),
        pair(EDITOR_VERSION, &s.editor_version),
        pair(EDITOR_PLUGIN_VERSION, &s.editor_plugin_version),
        pair(USER_AGENT, &s.user_agent),
        pair(X_GITHUB_API_VERSION, &s.api_version),
    ]
}

/// Headers of every Copilot API call (`/models`, `/chat/completions`, ...) with `bearer` (a
/// session token, or the OAuth token in fallback) and a fresh `X-Request-Id`.
/// Call-specific headers (`X-Initiator`, `Copilot-Vision-Request`, ...) are the caller's.
pub fn copilot_headers(s: &Settings, bearer: &str) -> Vec<(String, String)> {
    copilot_headers_with_id(s, bearer, &next_request_id(wall_clock_nanos()))
}

/// [`copilot_headers`] with a caller-made request id (to name the request in errors and logs).
pub fn copilot_headers_with_id(
    s: &Settings,
    bearer: &str,
    request_id: &str,
) -> Vec<(String, String)> {
    vec![
        pair(AUTHORIZATION, &format!("Bearer {bearer}")),
        pair(COPILOT_INTEGRATION_ID, &s.integration_id),
        pair(EDITOR_VERSION, &s.editor_version),
        pair(EDITOR_PLUGIN_VERSION, &s.editor_plugin_version),
        pair(USER_AGENT, &s.user_agent),
        pair(X_GITHUB_API_VERSION, &s.api_version),
        pair(CONTENT_TYPE, APPLICATION_JSON),
        pair(X_REQUEST_ID, request_id),
    ]
}

/// Nanoseconds since the epoch from the WASI (or native) wall clock; only seeds request ids,
/// so ids differ across instances and restarts. A clock before 1970 just seeds 0.
fn wall_clock_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Counts request ids made in this instance, so two ids in the same second differ.
static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh request id: [`request_id`] seeded by `now` (any clock reading) and an
/// instance-wide counter.
pub fn next_request_id(now: u64) -> String {
    request_id(now, REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A UUID-v4-shaped id (`xxxxxxxx-xxxx-4xxx-Nxxx-xxxxxxxxxxxx`, N in 8..b) derived from
/// `now` and `counter` with SplitMix64. Not random enough for secrets; only for correlation.
pub fn request_id(now: u64, counter: u64) -> String {
    let mut state = now.rotate_left(32) ^ counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let high = splitmix64(&mut state);
    let low = splitmix64(&mut state);
    // Version 4 in the high nibble of the 7th byte, RFC 4122 variant in the 9th.
    let high = (high & !0xF000) | 0x4000;
    let low = (low & !(0b11 << 62)) | (0b10 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xFFFF,
        high & 0xFFFF,
        low >> 48,
        low & 0xFFFF_FFFF_FFFF
    )
}

/// One step of SplitMix64 (Steele, Lea, Flood 2014): a well-mixed 64-bit output per call.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_string(), value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_api::header;
    use std::collections::HashSet;

    #[test]
    fn exchange_headers_carry_token_scheme_and_editor() {
        let h = exchange_headers(&Settings::default(), "ghu_abc");
        assert_eq!(header(&h, "authorization"), Some("token ghu_abc"));
        assert_eq!(header(&h, "accept"), Some("application/json"));
        assert_eq!(header(&h, "editor-version"), Some("vscode/1.104.1"));
        assert_eq!(
            header(&h, "editor-plugin-version"),
            Some("copilot-chat/0.31.0")
        );
        assert_eq!(header(&h, "user-agent"), Some("GitHubCopilotChat/0.31.0"));
        assert_eq!(header(&h, "x-github-api-version"), Some("2025-05-01"));
        assert_eq!(header(&h, "copilot-integration-id"), None);
    }

    #[test]
    fn copilot_headers_carry_bearer_integration_and_id() {
        let s = Settings {
            integration_id: "custom".into(),
            ..Settings::default()
        };
        let h = copilot_headers_with_id(&s, "tid=1;exp=2:mac", "id-1");
        assert_eq!(header(&h, "authorization"), Some("Bearer tid=1;exp=2:mac"));
        assert_eq!(header(&h, "copilot-integration-id"), Some("custom"));
        assert_eq!(header(&h, "editor-version"), Some("vscode/1.104.1"));
        assert_eq!(
            header(&h, "editor-plugin-version"),
            Some("copilot-chat/0.31.0")
        );
        assert_eq!(header(&h, "user-agent"), Some("GitHubCopilotChat/0.31.0"));
        assert_eq!(header(&h, "x-github-api-version"), Some("2025-05-01"));
        assert_eq!(header(&h, "content-type"), Some("application/json"));
        assert_eq!(header(&h, "x-request-id"), Some("id-1"));
        let a = copilot_headers(&s, "t");
        let b = copilot_headers(&s, "t");
        let (ida, idb) = (header(&a, "x-request-id"), header(&b, "x-request-id"));
        assert!(ida.is_some_and(|id| id.len() == 36));
        assert_ne!(ida, idb);
    }

    #[test]
    fn request_ids_are_uuid_v4_shaped() {
        let id = request_id(1_700_000_000, 7);
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12]
        );
        assert!(id
            .chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(parts[2].starts_with('4'), "{id}");
        assert!(
            matches!(parts[3].chars().next(), Some('8' | '9' | 'a' | 'b')),
            "{id}"
        );
        assert_eq!(request_id(1_700_000_000, 7), id, "deterministic for a seed");
    }

    #[test]
    fn request_ids_differ_across_counter_and_time() {
        let mut seen = HashSet::new();
        for now in [0u64, 1, 1_700_000_000] {
            for counter in 0..500 {
                assert!(
                    seen.insert(request_id(now, counter)),
                    "collision at {now}/{counter}"
                );
            }
        }
        assert_ne!(next_request_id(5), next_request_id(5));
    }
}
