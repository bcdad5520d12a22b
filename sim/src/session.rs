//! The token exchange and how the Copilot API authenticates its callers.
//!
//! Design: the simulator remembers every session token it issued with its `expires_at`, so a
//! forged or foreign `tid=` string is rejected and expiry is judged by the injected clock,
//! not by trusting the token's own `exp=` field. Copilot API callers are classified once
//! (`Caller::Session` or `Caller::OAuth`); the catalog and the model checks branch on that
//! class, which is exactly where the real service degrades raw-OAuth callers.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::http::Response;
use crate::reply;
use crate::server::Shared;
use crate::Recorded;

/// SKU written into the session token and the exchange response.
const SKU: &str = "copilot_for_business_seat";
/// `proxy-ep` field of the session token.
const PROXY_EP: &str = "proxy.sim";
/// The 400 the Copilot API answers without an `Editor-Version` header.
const MISSING_EDITOR_VERSION: &str = "bad request: missing Editor-Version header for IDE auth";
/// The 400 for an `Editor-Version` that is not `name/version`.
const UNKNOWN_EDITOR_VERSION: &str = "bad request: unknown Editor-Version header for IDE auth";
/// The enterprise 400 for a session-token call without `Copilot-Integration-Id`.
const MISSING_INTEGRATION_ID: &str = "missing required Copilot-Integration-Id header";

/// Session tokens issued by this simulator.
#[derive(Default)]
pub(crate) struct SessionRegistry {
    expiry: HashMap<String, u64>,
    issued: usize,
}

impl SessionRegistry {
    /// How many exchanges succeeded.
    pub fn issued_count(&self) -> usize {
        self.issued
    }

    /// `expires_at` of a token this simulator issued.
    pub(crate) fn expiry_of(&self, token: &str) -> Option<u64> {
        self.expiry.get(token).copied()
    }
}

/// Who is calling the Copilot API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A live session token from the exchange: full catalog.
    Session,
    /// A raw OAuth token sent straight to the Copilot API: degraded catalog.
    OAuth,
}

/// Whether `token` is one of the configured OAuth tokens.
pub(crate) fn accepts_oauth(shared: &Shared, token: &str) -> bool {
    shared.config.oauth_tokens.iter().any(|t| t == token) || shared.device().accepts(token)
}

/// `GET /copilot_internal/v2/token`: trade an OAuth token for a session token.
pub(crate) fn exchange(shared: &Shared, rec: &Recorded) -> Response {
    if rec.method != "GET" {
        return reply::not_found();
    }
    let accepted = rec.bearer().is_some_and(|t| accepts_oauth(shared, t));
    if !accepted {
        return reply::bad_credentials();
    }
    let expires_at = shared.now().saturating_add(shared.config.token_ttl_secs);
    let token = issue(shared, expires_at);
    reply::json(200, &envelope(shared, &token, expires_at))
}

/// Mints and registers a unique session token.
fn issue(shared: &Shared, expires_at: u64) -> String {
    let mut sessions = shared.sessions();
    let n = sessions.issued + 1;
    let fields =
        format!("tid=sim{n};exp={expires_at};sku={SKU};proxy-ep={PROXY_EP};st=dotcom;chat=1");
    let token = format!("{fields}:{}", shared.ids.mac(&fields));
    sessions.expiry.insert(token.clone(), expires_at);
    sessions.issued = n;
    token
}

/// The exchange's JSON body, shaped like github.com's (enterprise: business endpoints).
fn envelope(shared: &Shared, token: &str, expires_at: u64) -> Value {
    let enterprise = shared.config.enterprise;
    let plan_host = if enterprise {
        "enterprise"
    } else {
        "individual"
    };
    let mut body = json!({
        "token": token,
        "expires_at": expires_at,
        "endpoints": {
            "api": shared.config.api_url.as_deref().unwrap_or(&shared.url),
            "proxy": format!("https://proxy.{plan_host}.githubcopilot.com"),
            "telemetry": format!("https://telemetry.{plan_host}.githubcopilot.com"),
            "origin-tracker": format!("https://origin-tracker.{plan_host}.githubcopilot.com"),
        },
        "sku": SKU,
        "individual": !enterprise,
        "chat_enabled": true,
        "chat_jetbrains_enabled": true,
        "annotations_enabled": true,
        "code_quote_enabled": true,
        "code_review_enabled": true,
        "codesearch": true,
        "copilotignore_enabled": enterprise,
        "blackbird_clientside_indexing": false,
        "nes_enabled": true,
        "prompt_8k": true,
        "snippy_load_test_enabled": false,
        "xcode": true,
        "xcode_chat": false,
        "vsc_electron_fetcher_v2": false,
        "public_suggestions": if enterprise { "disabled" } else { "enabled" },
        "telemetry": if enterprise { "disabled" } else { "enabled" },
        "tracking_id": shared.ids.suffix(),
        "organization_list": if enterprise { json!(["5f3e2d1c0b9a8f7e6d5c4b3a29180706"]) } else { json!([]) },
        "enterprise_list": if enterprise { json!([4242]) } else { Value::Null },
        "limited_user_quotas": Value::Null,
        "limited_user_reset_date": Value::Null,
    });
    if let (Some(refresh_in), Some(map)) = (shared.config.refresh_in_secs, body.as_object_mut()) {
        map.insert("refresh_in".into(), json!(refresh_in));
    }
    body
}

/// Authenticates a Copilot API call: the credential, then `Editor-Version`, then (enterprise,
/// session tokens only) `Copilot-Integration-Id`. `Err` is the response to send.
pub(crate) fn authorize(shared: &Shared, rec: &Recorded) -> Result<Caller, Response> {
    let caller = classify(shared, rec)?;
    check_editor_version(rec)?;
    let has_integration_id = rec
        .header("copilot-integration-id")
        .is_some_and(|v| !v.trim().is_empty());
    if shared.config.enterprise && caller == Caller::Session && !has_integration_id {
        return Err(reply::copilot_error(
            400,
            MISSING_INTEGRATION_ID,
            "bad_request",
        ));
    }
    Ok(caller)
}

fn classify(shared: &Shared, rec: &Recorded) -> Result<Caller, Response> {
    let unauthorized = |message| Err(reply::copilot_error(401, message, "unauthorized"));
    let Some(token) = rec.bearer() else {
        return unauthorized("unauthorized: missing Authorization header");
    };
    let expiry = shared.session_expiry(token);
    match expiry {
        Some(expires_at) if shared.now() < expires_at => Ok(Caller::Session),
        Some(_) => unauthorized("unauthorized: token expired"),
        None if accepts_oauth(shared, token) => Ok(Caller::OAuth),
        None => unauthorized("unauthorized: invalid token"),
    }
}

/// `Editor-Version` must be present and look like `name/version`.
fn check_editor_version(rec: &Recorded) -> Result<(), Response> {
    let Some(value) = rec
        .header("editor-version")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    else {
        return Err(reply::text(400, MISSING_EDITOR_VERSION));
    };
    match value.split_once('/') {
        Some((name, version)) if !name.is_empty() && !version.is_empty() => Ok(()),
        _ => Err(reply::text(400, UNKNOWN_EDITOR_VERSION)),
    }
}
