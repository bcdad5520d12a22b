//! copilot-sim: a loopback simulator of the GitHub Copilot API.
//!
//! Design: one `Sim` owns a small HTTP/1.1 server on `127.0.0.1` (our own, on `std::net`,
//! see `http`), a thread per connection, and shared state behind mutexes (recorded requests,
//! fault queues, scripted chat answers, issued session tokens). It models the behaviours a
//! Copilot client must get right: the token exchange, the full catalog for session tokens
//! versus the degraded catalog for raw OAuth tokens, the enterprise integration-id rule,
//! streaming quirks, and faults on demand. Time comes from an injectable clock, so tests move
//! time without sleeping.
//!
//! Module map: `server` (listener, connections, dispatch, shutdown), `http` (wire format),
//! `session` (token exchange and Copilot API auth), `catalog` (model fixtures), `answer`
//! (what the simulated model says), `chat` (`/chat/completions`), `responses`
//! (`/responses`), `messages` (`/v1/messages`, the Anthropic Messages API), `user`
//! (`/copilot_internal/user`), `faults` (fault queues), `reply` (response envelopes), `ids`
//! (request ids and MACs), `replay` (recorded answers served byte for byte, for the
//! conformance corpus).
//!
//! `device` simulates the device-flow sign-in (`/login/device/code`,
//! `/login/oauth/access_token`) and `GET /user`.

mod answer;
mod catalog;
mod chat;
mod device;
mod faults;
mod http;
mod ids;
mod messages;
mod replay;
mod reply;
mod responses;
mod server;
mod session;
mod user;

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use chat::ChatScript;
pub use device::{DeviceStep, DEVICE_EXPIRES_IN_SECS, DEVICE_INTERVAL_SECS, DEVICE_LOGIN};
pub use faults::Fault;
pub use replay::Replay;

/// The OAuth token the default configuration accepts (fake; safe to print).
pub const DEMO_OAUTH_TOKEN: &str = "ghu_simDemoToken000000000000000000000";
/// Default session-token lifetime in seconds (the real service issues about 30 minutes).
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 1800;
/// Default `refresh_in` of the exchange response, in seconds.
pub const DEFAULT_REFRESH_IN_SECS: u64 = 1500;

/// Value of a recorded `authorization` header in `Debug` output.
const REDACTED: &str = "<redacted>";

/// A clock returning unix seconds; tests inject one to move time without sleeping.
pub type ClockFn = Arc<dyn Fn() -> u64 + Send + Sync>;

/// How a simulator instance behaves.
#[derive(Clone)]
pub struct SimConfig {
    /// OAuth tokens the exchange (and `/copilot_internal/user`) accepts.
    pub oauth_tokens: Vec<String>,
    /// Enterprise catalog shape, and `Copilot-Integration-Id` required with session tokens.
    pub enterprise: bool,
    /// Lifetime of issued session tokens (`expires_at = now + ttl`).
    pub token_ttl_secs: u64,
    /// `refresh_in` of the exchange response; `None` omits the field.
    pub refresh_in_secs: Option<u64>,
    /// Source of "now" in unix seconds.
    pub clock: ClockFn,
    /// Every model says `model_picker_enabled: false`, as Free/Student plans have been seen
    /// to (the account's usable models must still be offered).
    pub picker_hidden: bool,
    /// `endpoints.api` of the exchange answer; `None` points back at this simulator. Set it
    /// to a second simulator (which [`Sim::trust_sessions_of`] this one) to split the GitHub
    /// API from the Copilot API and see which token reached which.
    pub api_url: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            oauth_tokens: vec![DEMO_OAUTH_TOKEN.to_string()],
            enterprise: false,
            token_ttl_secs: DEFAULT_TOKEN_TTL_SECS,
            refresh_in_secs: Some(DEFAULT_REFRESH_IN_SECS),
            clock: Arc::new(system_clock),
            picker_hidden: false,
            api_url: None,
        }
    }
}

/// Real time in unix seconds (0 if the system clock is before 1970).
fn system_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A running simulator; dropping it stops the server and releases stalled handlers.
pub struct Sim {
    shared: Arc<server::Shared>,
    server: Option<server::Server>,
}

impl Sim {
    /// Starts a simulator on `127.0.0.1` with an OS-chosen port.
    pub fn start(config: SimConfig) -> std::io::Result<Sim> {
        Sim::start_on_port(config, 0)
    }

    /// Starts a simulator on `127.0.0.1:port` (`0` lets the OS choose); used by the binary.
    pub fn start_on_port(config: SimConfig, port: u16) -> std::io::Result<Sim> {
        let (shared, server) = server::Server::start(config, port)?;
        Ok(Sim {
            shared,
            server: Some(server),
        })
    }

    /// Base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.recorded()
    }

    /// The recorded requests whose path (without query) equals `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.shared
            .recorded()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.clear_recorded();
    }

    /// Queues a fault for `route`: `None` applies it until cleared, `Some(n)` to the next `n`
    /// requests. Queued faults apply in order; a permanent one holds the head of the queue.
    pub fn fault(&self, route: Route, fault: Fault, times: Option<usize>) {
        self.shared.faults().push(route, fault, times);
    }

    /// Serves `replay` byte for byte on every request to `route` (until
    /// [`Sim::clear_faults`]), in place of the route's handler and before authentication: a
    /// recorded answer (a real token exchange, catalog or stream) as the service sent it.
    pub fn replay(&self, route: Route, replay: Replay) {
        self.fault(route, Fault::Replay(replay), None);
    }

    /// Removes every queued fault and replay.
    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// Queues a scripted answer; each one is consumed by one authorised `/chat/completions` or
    /// `/v1/messages` request.
    pub fn script_chat(&self, script: ChatScript) {
        self.shared.push_script(script);
    }

    /// Scripts what the next polls of `/login/oauth/access_token` answer, one step per poll
    /// (replacing any earlier script); when the script runs out, polls are approved.
    pub fn script_device_flow(&self, steps: Vec<DeviceStep>) {
        self.shared.device().script(steps);
    }

    /// OAuth tokens issued by approved device-flow sign-ins, in order.
    pub fn device_tokens(&self) -> Vec<String> {
        self.shared.device().tokens()
    }

    /// Accepts the session tokens `issuer` hands out as if this simulator had issued them,
    /// so one simulator can play the GitHub API (the exchange) and another the Copilot API.
    pub fn trust_sessions_of(&self, issuer: &Sim) {
        self.shared.trust(&issuer.shared);
    }

    /// How many successful token exchanges happened so far.
    pub fn issued_session_tokens(&self) -> usize {
        self.shared.sessions().issued_count()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop(&self.shared);
        }
    }
}

/// One request as the simulator received it.
#[derive(Clone)]
pub struct Recorded {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Query string without the `?` (empty when absent).
    pub query: String,
    /// Headers in arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The full (de-chunked) request body.
    pub body: Vec<u8>,
    /// When it arrived on the simulator's clock (`SimConfig::clock`, unix seconds), so tests
    /// can order requests against a moved clock without measuring wall time.
    pub at: u64,
}

impl Recorded {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The credential of `Authorization: Bearer X` or `Authorization: token X` (any case).
    pub fn bearer(&self) -> Option<&str> {
        let value = self.header("authorization")?.trim();
        let (scheme, rest) = value.split_once(' ')?;
        let token = rest.trim();
        let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
        (known && !token.is_empty()).then_some(token)
    }
}

impl fmt::Debug for Recorded {
    /// Like a derived `Debug`, but credentials in `authorization` headers are redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let shown = if n.eq_ignore_ascii_case("authorization") {
                    REDACTED
                } else {
                    v.as_str()
                };
                (n.as_str(), shown)
            })
            .collect();
        f.debug_struct("Recorded")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// The endpoints a fault can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /copilot_internal/v2/token` (also under an `/api/v3` prefix).
    Token,
    /// `GET /models` and `POST /models/{id}/policy`.
    Models,
    /// `POST /chat/completions`.
    ChatCompletions,
    /// `POST /responses`.
    Responses,
    /// `POST /v1/messages`.
    Messages,
    /// `GET /copilot_internal/user` (also under an `/api/v3` prefix).
    User,
}

/// Prefix of GitHub Enterprise Server style REST URLs, accepted as an alias.
const GHES_PREFIX: &str = "/api/v3";

impl Route {
    /// The route a request path belongs to, if any.
    pub(crate) fn of(path: &str) -> Option<Route> {
        let path = path.strip_prefix(GHES_PREFIX).unwrap_or(path);
        match path {
            "/copilot_internal/v2/token" => Some(Route::Token),
            "/copilot_internal/user" => Some(Route::User),
            "/models" => Some(Route::Models),
            "/chat/completions" => Some(Route::ChatCompletions),
            "/responses" => Some(Route::Responses),
            "/v1/messages" => Some(Route::Messages),
            _ if catalog::policy_model_id(path).is_some() => Some(Route::Models),
            _ => None,
        }
    }

    /// True for routes served by the GitHub REST API (as opposed to the Copilot API).
    pub(crate) fn is_github_api(self) -> bool {
        matches!(self, Route::Token | Route::User)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(headers: &[(&str, &str)]) -> Recorded {
        Recorded {
            method: "GET".into(),
            path: "/models".into(),
            query: String::new(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: b"{\"a\":1}".to_vec(),
            at: 0,
        }
    }

    #[test]
    fn bearer_accepts_both_schemes_case_insensitively() {
        assert_eq!(
            recorded(&[("Authorization", "Bearer abc")]).bearer(),
            Some("abc")
        );
        assert_eq!(
            recorded(&[("authorization", "token xyz")]).bearer(),
            Some("xyz")
        );
        assert_eq!(
            recorded(&[("AUTHORIZATION", "TOKEN  q ")]).bearer(),
            Some("q")
        );
        assert_eq!(recorded(&[("Authorization", "Basic abc")]).bearer(), None);
        assert_eq!(recorded(&[("Authorization", "Bearer ")]).bearer(), None);
        assert_eq!(recorded(&[]).bearer(), None);
    }

    #[test]
    fn header_lookup_is_case_insensitive_and_json_parses() {
        let r = recorded(&[("Editor-Version", "Zed/1.0")]);
        assert_eq!(r.header("editor-version"), Some("Zed/1.0"));
        assert_eq!(r.json(), Some(serde_json::json!({"a": 1})));
    }

    #[test]
    fn debug_redacts_authorization() {
        let r = recorded(&[("Authorization", "Bearer ghu_secret")]);
        let shown = format!("{r:?}");
        assert!(!shown.contains("ghu_secret"), "{shown}");
        assert!(shown.contains(REDACTED));
    }

    #[test]
    fn routes_by_path() {
        assert_eq!(Route::of("/copilot_internal/v2/token"), Some(Route::Token));
        assert_eq!(
            Route::of("/api/v3/copilot_internal/v2/token"),
            Some(Route::Token)
        );
        assert_eq!(Route::of("/models"), Some(Route::Models));
        assert_eq!(Route::of("/models/gpt-4.1/policy"), Some(Route::Models));
        assert_eq!(Route::of("/chat/completions"), Some(Route::ChatCompletions));
        assert_eq!(Route::of("/responses"), Some(Route::Responses));
        assert_eq!(Route::of("/v1/messages"), Some(Route::Messages));
        assert_eq!(Route::of("/copilot_internal/user"), Some(Route::User));
        assert_eq!(Route::of("/nope"), None);
    }
}
