//! GitHub's device-flow sign-in (`POST /login/device/code`, `POST /login/oauth/access_token`)
//! and `GET /user`, as a client sees them.
//!
//! Design: a test scripts what each poll answers ([`DeviceStep`]); with no script the first
//! poll is approved. Like GitHub, the simulator judges time itself, by the injected clock: a
//! poll sooner than the interval after the previous one gets `slow_down` (and the interval
//! grows by 5 s), and a code older than `expires_in` gets `expired_token`, so a client that
//! ignores the interval or the expiry fails the tests. Approved tokens are accepted by the
//! token exchange and the REST API from then on.

use std::collections::{HashMap, VecDeque};

use serde_json::json;

use crate::http::Response;
use crate::reply;
use crate::server::Shared;
use crate::session::accepts_oauth;
use crate::Recorded;

/// The only client id the simulated GitHub knows (the Copilot editor app).
const CLIENT_ID: &str = "Iv1.b507a08c87ecfe98";
/// RFC 8628's grant type.
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// GitHub's defaults.
pub const DEVICE_INTERVAL_SECS: u64 = 5;
pub const DEVICE_EXPIRES_IN_SECS: u64 = 900;
/// What `slow_down` adds to the interval.
const SLOW_DOWN_STEP_SECS: u64 = 5;
/// The login `GET /user` reports.
pub const DEVICE_LOGIN: &str = "sim-user";
const GHES_PREFIX: &str = "/api/v3";

/// What the next poll of `/login/oauth/access_token` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceStep {
    /// `authorization_pending`: the user has not finished yet.
    Pending,
    /// `slow_down`, with an interval 5 s longer.
    SlowDown,
    /// The user approved: an access token.
    Approve,
    /// `access_denied`.
    Deny,
    /// `expired_token`.
    Expire,
}

/// One issued device code.
struct Grant {
    issued_at: u64,
    interval: u64,
    last_poll: Option<u64>,
    /// Approved, denied or expired: later polls get `expired_token`.
    finished: bool,
}

/// Device-flow state of one simulator.
#[derive(Default)]
pub(crate) struct DeviceState {
    script: VecDeque<DeviceStep>,
    grants: HashMap<String, Grant>,
    tokens: Vec<String>,
    issued: u64,
}

impl DeviceState {
    /// Replaces the script of poll answers.
    pub fn script(&mut self, steps: Vec<DeviceStep>) {
        self.script = steps.into();
    }

    /// Whether `token` was issued by an approved sign-in.
    pub fn accepts(&self, token: &str) -> bool {
        self.tokens.iter().any(|t| t == token)
    }

    /// Tokens issued so far.
    pub fn tokens(&self) -> Vec<String> {
        self.tokens.clone()
    }
}

/// Answers the device-flow and `/user` paths; `None` for any other path.
pub(crate) fn handle(shared: &Shared, rec: &Recorded) -> Option<Response> {
    let path = rec.path.strip_prefix(GHES_PREFIX).unwrap_or(&rec.path);
    match (rec.method.as_str(), path) {
        ("POST", "/login/device/code") => Some(device_code(shared, rec)),
        ("POST", "/login/oauth/access_token") => Some(access_token(shared, rec)),
        ("GET", "/user") => Some(user(shared, rec)),
        _ => None,
    }
}

fn device_code(shared: &Shared, rec: &Recorded) -> Response {
    let params = params(rec);
    if params.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return reply::json(
            401,
            &json!({"error": "incorrect_client_credentials", "error_description": "The client_id passed is incorrect."}),
        );
    }
    let mut state = shared.device();
    state.issued += 1;
    let n = state.issued;
    let device_code = format!("simdevice{n:08}");
    state.grants.insert(
        device_code.clone(),
        Grant {
            issued_at: shared.now(),
            interval: DEVICE_INTERVAL_SECS,
            last_poll: None,
            finished: false,
        },
    );
    reply::json(
        200,
        &json!({
            "device_code": device_code,
            "user_code": format!("SIM{:01}-{:04}", n % 10, n % 10_000),
            "verification_uri": format!("{}/login/device", shared.url),
            "expires_in": DEVICE_EXPIRES_IN_SECS,
            "interval": DEVICE_INTERVAL_SECS,
        }),
    )
}

fn access_token(shared: &Shared, rec: &Recorded) -> Response {
    let params = params(rec);
    let error = |code: &str| reply::json(200, &json!({"error": code}));
    if params.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return error("incorrect_client_credentials");
    }
    if params.get("grant_type").map(String::as_str) != Some(GRANT_TYPE) {
        return error("unsupported_grant_type");
    }
    let now = shared.now();
    let mut state = shared.device();
    let code = params.get("device_code").cloned().unwrap_or_default();
    let Some(grant) = state.grants.get_mut(&code) else {
        return error("incorrect_device_code");
    };
    if grant.finished || now >= grant.issued_at.saturating_add(DEVICE_EXPIRES_IN_SECS) {
        grant.finished = true;
        return error("expired_token");
    }
    let too_soon = grant
        .last_poll
        .is_some_and(|last| now < last.saturating_add(grant.interval));
    grant.last_poll = Some(now);
    if too_soon {
        grant.interval += SLOW_DOWN_STEP_SECS;
        let interval = grant.interval;
        return reply::json(200, &json!({"error": "slow_down", "interval": interval}));
    }
    let step = state.script.pop_front().unwrap_or(DeviceStep::Approve);
    let Some(grant) = state.grants.get_mut(&code) else {
        return error("incorrect_device_code");
    };
    match step {
        DeviceStep::Pending => error("authorization_pending"),
        DeviceStep::SlowDown => {
            grant.interval += SLOW_DOWN_STEP_SECS;
            let interval = grant.interval;
            reply::json(200, &json!({"error": "slow_down", "interval": interval}))
        }
        DeviceStep::Deny => {
            grant.finished = true;
            error("access_denied")
        }
        DeviceStep::Expire => {
            grant.finished = true;
            error("expired_token")
        }
        DeviceStep::Approve => {
            grant.finished = true;
            let token = format!("ghu_simDevice{:023}", state.tokens.len() + 1);
            state.tokens.push(token.clone());
            reply::json(
                200,
                &json!({"access_token": token, "token_type": "bearer", "scope": "read:user"}),
            )
        }
    }
}

/// `GET /user`: the account of an accepted OAuth token.
fn user(shared: &Shared, rec: &Recorded) -> Response {
    if !rec.bearer().is_some_and(|t| accepts_oauth(shared, t)) {
        return reply::bad_credentials();
    }
    reply::json(
        200,
        &json!({"login": DEVICE_LOGIN, "id": 1, "type": "User", "name": "Simulated User"}),
    )
}

/// The request's parameters: a form body, or a JSON object body (both work with GitHub).
fn params(rec: &Recorded) -> HashMap<String, String> {
    if let Some(serde_json::Value::Object(map)) = rec.json() {
        return map
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
            .collect();
    }
    String::from_utf8_lossy(&rec.body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (form_decode(k), form_decode(v)))
        .collect()
}

fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("urn%3Aietf%3Aparams+x"), "urn:ietf:params x");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz"), "%zz");
        assert_eq!(form_decode("%é"), "%é");
    }
}
