//! Response envelopes shared by the handlers.
//!
//! Design: the two services answer errors differently and the client must cope with both:
//! the GitHub REST API (`api.github.com`: `{"message", "documentation_url"}`) and the Copilot
//! API (`{"error": {"message", "code", ...}}`, sometimes `text/plain`). Each shape is built
//! here once; the request-id headers each service adds are stamped on at the end.

use serde_json::{json, Value};

use crate::faults::BAD_CREDENTIALS_BODY;
use crate::http::{Body, Response};
use crate::ids::Ids;

/// Content type of JSON answers.
pub(crate) const JSON: &str = "application/json; charset=utf-8";
/// Content type of plain-text answers.
pub(crate) const TEXT: &str = "text/plain; charset=utf-8";
/// Content type of SSE streams.
pub(crate) const SSE: &str = "text/event-stream";
/// The REST documentation link GitHub puts in error bodies.
const GITHUB_DOCS: &str = "https://docs.github.com/rest";
/// A body that is not JSON, as a misbehaving proxy or a truncated upstream might send.
const GARBAGE_BODY: &str =
    "<html><body><h1>Simulated upstream garbage</h1></body></html>\n{\"not\": json,,";

/// Which service a response comes from (decides the id headers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    /// `api.github.com`: `x-github-request-id`.
    GitHub,
    /// `api.githubcopilot.com`: `x-request-id` and `x-github-request-id`.
    Copilot,
}

/// A JSON response.
pub(crate) fn json(status: u16, value: &Value) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), JSON.into())],
        body: Body::Full(value.to_string().into_bytes()),
    }
}

/// A `text/plain` response.
pub(crate) fn text(status: u16, body: &str) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), TEXT.into())],
        body: Body::Full(body.as_bytes().to_vec()),
    }
}

/// A Copilot API error: `{"error": {"message", "code"}}`.
pub(crate) fn copilot_error(status: u16, message: &str, code: &str) -> Response {
    json(
        status,
        &json!({"error": {"message": message, "code": code}}),
    )
}

/// The Copilot API's 400 for an unknown model or one the endpoint does not serve.
pub(crate) fn model_not_supported() -> Response {
    json(
        400,
        &json!({"error": {
            "message": "The requested model is not supported.",
            "code": "model_not_supported",
            "param": "model",
            "type": "invalid_request_error",
        }}),
    )
}

/// A Copilot API 400 for a body that is not a valid request.
pub(crate) fn invalid_body(message: &str) -> Response {
    json(
        400,
        &json!({"error": {
            "message": message,
            "code": "invalid_request_body",
            "type": "invalid_request_error",
        }}),
    )
}

/// GitHub's 401 for a missing, unknown or revoked OAuth token.
pub(crate) fn bad_credentials() -> Response {
    Response {
        status: 401,
        headers: vec![("content-type".into(), JSON.into())],
        body: Body::Full(BAD_CREDENTIALS_BODY.as_bytes().to_vec()),
    }
}

/// GitHub's 404 (also the answer for unknown paths and wrong methods, as GitHub does).
pub(crate) fn not_found() -> Response {
    json(
        404,
        &json!({"message": "Not Found", "documentation_url": GITHUB_DOCS, "status": "404"}),
    )
}

/// A 200 whose body is not JSON.
pub(crate) fn garbage() -> Response {
    Response {
        status: 200,
        headers: vec![("content-type".into(), JSON.into())],
        body: Body::Full(GARBAGE_BODY.as_bytes().to_vec()),
    }
}

/// A scripted status answer (content type inferred when the script gives none).
pub(crate) fn scripted_status(status: u16, headers: &[(String, String)], body: &str) -> Response {
    let response = Response {
        status,
        headers: headers.to_vec(),
        body: Body::Full(body.as_bytes().to_vec()),
    };
    let kind = inferred_content_type(status, body.as_bytes());
    response.with_default_header("content-type", kind)
}

/// The content type a scripted body most plausibly has: JSON if it parses as JSON, else an
/// SSE stream for a success and plain text for an error.
pub(crate) fn inferred_content_type(status: u16, body: &[u8]) -> &'static str {
    if serde_json::from_slice::<Value>(body).is_ok() {
        JSON
    } else if (200..300).contains(&status) {
        SSE
    } else {
        TEXT
    }
}

/// Adds the request-id headers `service` sends, unless the response already has them.
pub(crate) fn stamp_ids(response: Response, service: Service, ids: &Ids) -> Response {
    let response = response.with_default_header("x-github-request-id", ids.github_request_id());
    match service {
        Service::GitHub => response,
        Service::Copilot => response.with_default_header("x-request-id", ids.uuid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(r: &Response) -> &[u8] {
        match &r.body {
            Body::Full(b) => b,
            _ => panic!("not a full body"),
        }
    }

    #[test]
    fn scripted_status_infers_content_type() {
        let r = scripted_status(429, &[], "{\"error\":{}}");
        assert_eq!(r.header("content-type"), Some(JSON));
        let r = scripted_status(500, &[], "oops");
        assert_eq!(r.header("content-type"), Some(TEXT));
        let custom = vec![("Content-Type".to_string(), "text/html".to_string())];
        let r = scripted_status(502, &custom, "<html>");
        assert_eq!(r.header("content-type"), Some("text/html"));
    }

    #[test]
    fn stamps_ids_per_service_without_overriding() {
        let ids = Ids::default();
        let r = stamp_ids(not_found(), Service::GitHub, &ids);
        assert!(r.header("x-github-request-id").is_some());
        assert!(r.header("x-request-id").is_none());
        let mine = text(200, "x").with_default_header("x-request-id", "mine");
        let r = stamp_ids(mine, Service::Copilot, &ids);
        assert_eq!(r.header("x-request-id"), Some("mine"));
        assert!(r.header("x-github-request-id").is_some());
    }

    #[test]
    fn garbage_is_not_json() {
        let r = garbage();
        assert_eq!(r.status, 200);
        assert!(serde_json::from_slice::<Value>(body_of(&r)).is_err());
    }

    #[test]
    fn model_not_supported_envelope() {
        let v: Value = serde_json::from_slice(body_of(&model_not_supported())).unwrap();
        assert_eq!(v["error"]["code"], "model_not_supported");
        assert_eq!(
            v["error"]["message"],
            "The requested model is not supported."
        );
        assert_eq!(v["error"]["param"], "model");
    }
}
