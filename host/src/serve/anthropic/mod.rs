//! The Anthropic Messages dialect (`POST /v1/messages`, `POST /v1/messages/count_tokens`),
//! translated to and from the WIT contract, for Claude Code and other Anthropic-SDK clients.
//!
//! Design decisions:
//! * The translation is pure (JSON in, contract values out, and back) and unit-tested
//!   (`tests.rs`); the handlers in this module only move bytes.
//! * Nothing is dropped silently. A request field that changes the answer and that the
//!   contract cannot carry (`top_k`, server tools, URL images, documents, ...) is a 400 naming
//!   it; `top_p` and `tool_choice.disable_parallel_tool_use` travel in the contract's request. Fields that do not change the answer are accepted and have no effect:
//!   `metadata`, `service_tier`, `cache_control` on tools (a block's `cache_control` marks its
//!   message as a cache breakpoint, which the contract carries), and `thinking.budget_tokens`
//!   (the extension picks the budget for the model from `max_tokens`).
//! * Thinking: the contract's thinking events become `thinking` blocks; the opaque reasoning
//!   state that the extension emits as `reasoning-details` becomes the block's `signature`
//!   (or a `redacted_thinking` block when no thinking text came before it), and a signature
//!   or redacted block sent back goes to the contract's thinking content unchanged, where the
//!   extension reads it.
//! * A tool result is text or one image in the contract. A result with both (or several
//!   images) keeps its text as the result and its images follow in the same user turn.
//! * `stop_reason` is `end_turn`, `max_tokens`, `tool_use` or `refusal`; the contract does not
//!   say which stop sequence ended an answer, so `stop_sequence` is never reported (a stop
//!   at a stop sequence reads as `end_turn`).
//! * Usage follows Anthropic's meaning: `input_tokens` excludes the cached part, which is
//!   `cache_read_input_tokens`. A stream's `message_start` carries 0 input tokens; the real
//!   counts come in `message_delta`, as Anthropic's newer streams do.
//! * Model ids: see [`resolve_model`].
//! * Statuses: a client's mistake is 4xx; Copilot unreachable or failing is 503
//!   `overloaded_error` (clients retry it); a host failure, or model output a block cannot
//!   carry (tool input that is not JSON), is 500 `api_error`.
//!
//! * this module: the routes (`messages`, `count_tokens`), the key check and error bodies;
//! * `request`: a Messages body mapped to the contract's request;
//! * `model`: which Copilot model answers a client's model id ([`resolve_model`]);
//! * `events`: the contract's events as Anthropic stream events and as a whole message.
//!
//! It may import `super::context`, `super::wire`, `super::upstream` and the library's lower
//! layers; never `super::server` (the core calls in here, not the other way round) or another
//! protocol.

mod events;
mod model;
mod request;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::net::TcpStream;

use serde_json::{json, Value};

use crate::contract::llm_provider::ProviderError;

use super::upstream::{self, blame, Blame, Failure};
use crate::serve::context::{unix_now, Context};
use crate::serve::wire;

use events::Translator;
pub use model::resolve_model;
use request::{parse_messages_request, MessagesRequest};

/// The settings key mapping client model ids to Copilot model ids.
pub const MODEL_MAP_SETTING: &str = "model_map";

/// `{"type":"error","error":{"type":…,"message":…}}`.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// The HTTP status, error body and `retry-after` seconds for a provider error.
pub fn provider_error(error: &ProviderError) -> (u16, Value, Option<u64>) {
    let message = crate::output::display_error(error);
    let (status, kind, retry) = match error {
        ProviderError::NotSignedIn(_) | ProviderError::Unauthorized(_) => {
            (401, "authentication_error", None)
        }
        ProviderError::NoCopilotAccess(_) => (403, "permission_error", None),
        ProviderError::RateLimited(info) => (429, "rate_limit_error", info.retry_after_secs),
        ProviderError::QuotaExceeded(info) => (429, "rate_limit_error", info.retry_after_secs),
        ProviderError::ModelNotSupported(_) => (404, "not_found_error", None),
        ProviderError::ContextTooLong(info) => {
            // Claude Code recognises "prompt is too long" and compacts the conversation.
            let detail = match (info.actual, info.limit) {
                (Some(actual), Some(limit)) => {
                    format!("prompt is too long: {actual} tokens > {limit} maximum. ")
                }
                _ => "prompt is too long. ".to_string(),
            };
            return (
                400,
                error_body("invalid_request_error", &format!("{detail}{message}")),
                None,
            );
        }
        ProviderError::InvalidRequest(_) | ProviderError::NotSupported(_) => {
            (400, "invalid_request_error", None)
        }
        ProviderError::Upstream(info) => match blame(info) {
            Blame::Client(404) => (404, "not_found_error", None),
            Blame::Client(413) => (413, "request_too_large", None),
            Blame::Client(status) => (status, "invalid_request_error", None),
            Blame::Service => (503, "overloaded_error", None),
            Blame::Host => (500, "api_error", None),
        },
        ProviderError::Network(_) => (503, "overloaded_error", None),
    };
    (status, error_body(kind, &message), retry)
}

fn failure_response(failure: &Failure) -> (u16, Value, Option<u64>) {
    match failure {
        Failure::Provider(error) => provider_error(error),
        Failure::Host(message) => (500, error_body("api_error", message), None),
    }
}

// ---- Handlers: bytes in, bytes out. ----

/// Whether the request carries the key as `x-api-key` or `Authorization: Bearer`.
pub(super) fn authorized(ctx: &Context, request: &wire::Request) -> bool {
    let api_key = request
        .header("x-api-key")
        .is_some_and(|given| ctx.key_ok(given.trim()));
    api_key || ctx.bearer_ok(request)
}

/// Serves `path` (already without `/v1`): `/messages` or `/messages/count_tokens`.
pub(super) fn route(
    ctx: &Context,
    request: &wire::Request,
    path: &str,
    out: &mut TcpStream,
) -> std::io::Result<()> {
    if !authorized(ctx, request) {
        let body = error_body(
            "authentication_error",
            "missing or wrong API key: send the key `copilot-host serve` printed as `x-api-key` or `Authorization: Bearer`",
        );
        return wire::write_json(out, 401, &[], &body);
    }
    match (request.method.as_str(), path) {
        ("POST", "/messages") => messages(ctx, request, out),
        ("POST", "/messages/count_tokens") => count_tokens(ctx, request, out),
        _ => {
            let body = error_body(
                "not_found_error",
                &format!(
                    "no route {} {}; the Anthropic API here is POST /v1/messages and POST /v1/messages/count_tokens",
                    request.method, request.path
                ),
            );
            wire::write_json(out, 404, &[], &body)
        }
    }
}

fn write_failure(out: &mut impl Write, failure: &Failure) -> std::io::Result<()> {
    let (status, body, retry) = failure_response(failure);
    let headers: Vec<(&str, String)> = retry
        .map(|s| ("retry-after", s.to_string()))
        .into_iter()
        .collect();
    wire::write_json(out, status, &headers, &body)
}

fn bad_request(out: &mut impl Write, why: &str) -> std::io::Result<()> {
    wire::write_json(out, 400, &[], &error_body("invalid_request_error", why))
}

/// The parsed body and the Copilot model it resolves to; `Err` is already answered.
fn prepare(
    ctx: &Context,
    request: &wire::Request,
    count_only: bool,
    out: &mut impl Write,
) -> std::io::Result<Option<(MessagesRequest, String)>> {
    let parsed = match parse_messages_request(&request.body, count_only) {
        Ok(parsed) => parsed,
        Err(why) => return bad_request(out, &why).map(|()| None),
    };
    let models = match upstream::models(ctx) {
        Ok(models) => models,
        Err(failure) => return write_failure(out, &failure).map(|()| None),
    };
    let map = ctx.ext.settings().get(MODEL_MAP_SETTING);
    match resolve_model(&parsed.model, &models, map) {
        Ok(model) => Ok(Some((parsed, model))),
        Err(why) => {
            wire::write_json(out, 404, &[], &error_body("not_found_error", &why)).map(|()| None)
        }
    }
}

fn count_tokens(
    ctx: &Context,
    request: &wire::Request,
    out: &mut TcpStream,
) -> std::io::Result<()> {
    let Some((parsed, model)) = prepare(ctx, request, true, out)? else {
        return Ok(());
    };
    match upstream::count_tokens(ctx, &model, &parsed.request) {
        Ok(count) => wire::write_json(out, 200, &[], &json!({"input_tokens": count})),
        Err(failure) => write_failure(out, &failure),
    }
}

fn messages(ctx: &Context, request: &wire::Request, out: &mut TcpStream) -> std::io::Result<()> {
    let Some((parsed, model)) = prepare(ctx, request, false, out)? else {
        return Ok(());
    };
    let upstream::Opened { mut stream, first } =
        match upstream::open(ctx, &model, parsed.request) {
            Ok(opened) => opened,
            Err(failure) => return write_failure(out, &failure),
        };
    let n = ctx.next_id();
    let id = format!("msg_{:x}{n:06x}", unix_now());
    let mut translator = Translator::new(id, model);
    let mut next = first.map(Ok);
    if !parsed.stream {
        loop {
            let event = match next.take().or_else(|| upstream::next(&mut stream)) {
                None => break,
                Some(Ok(event)) => event,
                Some(Err(failure)) => return write_failure(out, &failure),
            };
            if let Err(why) = translator.event(&event) {
                return wire::write_json(out, 500, &[], &error_body("api_error", &why));
            }
        }
        translator.end();
        return wire::write_json(out, 200, &[], &translator.message());
    }
    let mut events = wire::EventStream::start(out)?;
    for e in translator.start() {
        events.named(e.event, &e.data.to_string())?;
    }
    loop {
        let event = match next.take().or_else(|| upstream::next(&mut stream)) {
            None => break,
            Some(Ok(event)) => event,
            // A failure mid-answer is an `error` event; no `message_stop` marks it unfinished.
            Some(Err(failure)) => {
                let (_, body, _) = failure_response(&failure);
                events.named("error", &body.to_string())?;
                return events.finish();
            }
        };
        match translator.event(&event) {
            Ok(sent) => {
                for e in sent {
                    events.named(e.event, &e.data.to_string())?;
                }
            }
            Err(why) => {
                events.named("error", &error_body("api_error", &why).to_string())?;
                return events.finish();
            }
        }
        if ctx.is_stopping() {
            return Ok(());
        }
    }
    for e in translator.end() {
        events.named(e.event, &e.data.to_string())?;
    }
    events.finish()
}
