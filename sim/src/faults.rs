//! Faults on demand: per-route queues consulted before normal handling.
//!
//! Design: each route has a FIFO of `(fault, remaining)` entries. A request takes the head
//! entry; a counted entry is removed once used up, a permanent one (`None`) stays and so
//! shadows anything queued behind it. This lets a test say "first a 429, then a 500, then
//! normal" with three calls.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::replay::Replay;
use crate::Route;

/// Body of a GitHub REST 401.
pub(crate) const BAD_CREDENTIALS_BODY: &str =
    r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}"#;

/// Where the no-access envelope sends the user.
const NO_ACCESS_URL: &str = "https://github.com/features/copilot?editor=vscode";

/// What to do instead of (or before) answering a request normally.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer this status, headers and body instead.
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Wait this long (or until the simulator stops), then answer normally.
    Delay(Duration),
    /// Never answer; the connection is closed when the simulator is dropped.
    Stall,
    /// Answer 200 with a body that is not JSON.
    Garbage,
    /// Write these bytes verbatim as the whole response (status line, head and body) and
    /// close the connection: broken framing such as a chunk cut short.
    Raw(Vec<u8>),
    /// Answer 200 `text/event-stream` whose body repeats this piece until the client hangs
    /// up or the simulator stops (an endless stream, e.g. one line that never ends).
    Endless(Vec<u8>),
    /// Serve this recorded answer byte for byte (see [`crate::Sim::replay`]).
    Replay(Replay),
}

impl Fault {
    /// A plain status answer with `body` (content type inferred from the body).
    pub fn status(status: u16, body: &str) -> Fault {
        Fault::Status {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    /// A `status` answer with `body` and these headers.
    pub fn status_with_headers(status: u16, headers: &[(&str, &str)], body: &str) -> Fault {
        Fault::Status {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.to_string(),
        }
    }

    /// The 403 Copilot error envelope the token exchange returns to users without a seat.
    pub fn no_copilot_access() -> Fault {
        let body = serde_json::json!({
            "message": "No access to GitHub Copilot found. You are currently logged in as sim-user.",
            "error_details": {
                "message": "You do not have access to GitHub Copilot. Sign up for Copilot Free or ask your organization for a seat.",
                "notification_id": "no_copilot_access",
                "title": "No Copilot access",
                "url": NO_ACCESS_URL,
            },
            "can_signup_for_limited": true,
        });
        Fault::Status {
            status: 403,
            headers: vec![(
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: body.to_string(),
        }
    }

    /// A 200 chunked response whose first chunk announces `announced` bytes but carries only
    /// `body` before the connection closes (`body` shorter than `announced`).
    pub fn truncated_chunk(content_type: &str, body: &[u8], announced: usize) -> Fault {
        let mut raw = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{announced:x}\r\n"
        )
        .into_bytes();
        raw.extend_from_slice(body);
        Fault::Raw(raw)
    }

    /// GitHub's 401 for a revoked or unknown OAuth token.
    pub fn bad_credentials() -> Fault {
        Fault::Status {
            status: 401,
            headers: vec![(
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: BAD_CREDENTIALS_BODY.to_string(),
        }
    }
}

/// One queued fault and how many more requests it applies to (`None` = forever).
struct Entry {
    fault: Fault,
    remaining: Option<usize>,
}

/// The fault queues of all routes.
#[derive(Default)]
pub(crate) struct FaultTable {
    queues: HashMap<Route, VecDeque<Entry>>,
}

impl FaultTable {
    /// Queues `fault` for `route`; `Some(0)` queues nothing.
    pub fn push(&mut self, route: Route, fault: Fault, times: Option<usize>) {
        if times == Some(0) {
            return;
        }
        self.queues.entry(route).or_default().push_back(Entry {
            fault,
            remaining: times,
        });
    }

    /// Removes every queued fault.
    pub fn clear(&mut self) {
        self.queues.clear();
    }

    /// The fault for the next request to `route`, consuming one use of it.
    pub fn take(&mut self, route: Route) -> Option<Fault> {
        let queue = self.queues.get_mut(&route)?;
        let entry = queue.front_mut()?;
        let fault = entry.fault.clone();
        if let Some(n) = entry.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                queue.pop_front();
            }
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(f: Option<Fault>) -> Option<u16> {
        match f {
            Some(Fault::Status { status, .. }) => Some(status),
            _ => None,
        }
    }

    #[test]
    fn counted_faults_apply_in_order_then_stop() {
        let mut t = FaultTable::default();
        t.push(Route::Models, Fault::status(429, "{}"), Some(2));
        t.push(Route::Models, Fault::status(500, "{}"), Some(1));
        assert_eq!(status_of(t.take(Route::ChatCompletions)), None);
        assert_eq!(status_of(t.take(Route::Models)), Some(429));
        assert_eq!(status_of(t.take(Route::Models)), Some(429));
        assert_eq!(status_of(t.take(Route::Models)), Some(500));
        assert!(t.take(Route::Models).is_none());
    }

    #[test]
    fn permanent_fault_stays_until_cleared() {
        let mut t = FaultTable::default();
        t.push(Route::Token, Fault::bad_credentials(), None);
        t.push(Route::Token, Fault::Garbage, Some(0));
        for _ in 0..5 {
            assert_eq!(status_of(t.take(Route::Token)), Some(401));
        }
        t.clear();
        assert!(t.take(Route::Token).is_none());
    }

    #[test]
    fn no_access_envelope_has_the_client_visible_fields() {
        let Fault::Status { status, body, .. } = Fault::no_copilot_access() else {
            panic!("not a status fault");
        };
        assert_eq!(status, 403);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error_details"]["notification_id"], "no_copilot_access");
        assert!(v["error_details"]["title"].is_string());
        assert!(v["error_details"]["url"].is_string());
        assert!(v["message"].is_string());
        assert!(v["can_signup_for_limited"].is_boolean());
    }
}
