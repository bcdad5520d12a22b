//! `GET /copilot_internal/user`: the plan and quota view of the GitHub REST API.
//!
//! Design: like the real endpoint it takes the OAuth token (`token` or `Bearer` scheme), never
//! a session token, and answers a fixed, realistic account whose premium quota matches the
//! `x-quota-snapshot-premium_interactions` header of completions (300, 87.5 % left).

use serde_json::{json, Value};

use crate::http::Response;
use crate::reply;
use crate::server::Shared;
use crate::session::accepts_oauth;
use crate::Recorded;

/// Login of the simulated account.
const LOGIN: &str = "sim-user";
/// When monthly quotas reset.
const QUOTA_RESET_DATE: &str = "2026-12-01";
/// Premium interactions per month and what is left of them.
const PREMIUM_ENTITLEMENT: u32 = 300;
const PREMIUM_REMAINING: u32 = 262;
const PREMIUM_PERCENT_REMAINING: f64 = 87.5;

/// `GET /copilot_internal/user`.
pub(crate) fn handle(shared: &Shared, rec: &Recorded) -> Response {
    if rec.method != "GET" {
        return reply::not_found();
    }
    if !rec.bearer().is_some_and(|t| accepts_oauth(shared, t)) {
        return reply::bad_credentials();
    }
    reply::json(200, &account(shared.config.enterprise))
}

fn unlimited(quota_id: &str) -> Value {
    json!({
        "quota_id": quota_id, "entitlement": 0, "remaining": 0, "quota_remaining": 0.0,
        "percent_remaining": 100.0, "unlimited": true, "overage_count": 0,
        "overage_permitted": false,
    })
}

fn account(enterprise: bool) -> Value {
    json!({
        "login": LOGIN,
        "access_type_sku": if enterprise { "copilot_enterprise_seat" } else { "plus_monthly_subscriber" },
        "analytics_tracking_id": "0123456789abcdef0123456789abcdef",
        "assigned_date": "2025-01-15T10:00:00Z",
        "can_signup_for_limited": false,
        "chat_enabled": true,
        "copilot_plan": if enterprise { "enterprise" } else { "individual" },
        "organization_login_list": if enterprise { json!(["sim-org"]) } else { json!([]) },
        "organization_list": if enterprise { json!([{"login": "sim-org", "name": "Simulated Org"}]) } else { json!([]) },
        "quota_reset_date": QUOTA_RESET_DATE,
        "quota_snapshots": {
            "chat": unlimited("chat"),
            "completions": unlimited("completions"),
            "premium_interactions": {
                "quota_id": "premium_interactions",
                "entitlement": PREMIUM_ENTITLEMENT,
                "remaining": PREMIUM_REMAINING,
                "quota_remaining": f64::from(PREMIUM_REMAINING),
                "percent_remaining": PREMIUM_PERCENT_REMAINING,
                "unlimited": false,
                "overage_count": 0,
                "overage_permitted": false,
            },
        },
    })
}
