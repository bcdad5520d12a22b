//! The OpenAI wire protocols: `GET /v1/models`, `GET /v1/models/{id}`,
//! `POST /v1/chat/completions` and `POST /v1/responses` (streamed as server-sent events or
//! whole).
//!
//! * this module: the routes, driving a completion stream into the wire writers;
//! * `translate`: the pure JSON ⇄ WIT translation of Chat Completions (requests, chunks,
//!   errors), whose error shape and request options the Responses API shares;
//! * `responses`: the Responses API (requests, output items and events);
//! * `zed`: the settings snippet for Zed's `openai_compatible` provider.
//!
//! It may import `super::context`, `super::wire`, `super::upstream` and the library's lower
//! layers; never `super::server` (the core calls in here, not the other way round) or another
//! protocol.

mod responses;
mod translate;
pub mod zed;

use std::io::Write;
use std::net::TcpStream;

use crate::contract::llm_provider::{CompletionEvent, ProviderError, UpstreamInfo};
use crate::runtime::CompletionStream;
use crate::serve::context::{unix_now, Context};
use crate::serve::wire;

pub use responses::{parse_responses_request, ResponsesRequest, ResponsesTranslator};
pub use translate::{
    error_body, models_json, parse_chat_request, provider_error, ChatRequest, RequestOptions,
    Translator,
};

/// The path prefix every route lives under (`/v1/models` is also answered as `/models`).
pub const API_PREFIX: &str = "/v1";

/// Answers one authorized request.
pub(crate) fn route(ctx: &Context, request: &wire::Request, out: &mut TcpStream) {
    let path = request
        .path
        .strip_prefix(API_PREFIX)
        .unwrap_or(&request.path);
    let path = path.trim_end_matches('/');
    let result = match (request.method.as_str(), path) {
        ("GET", "/models") => list_models(ctx, out),
        ("GET", model) if model.starts_with("/models/") => {
            one_model(ctx, &model["/models/".len()..], out)
        }
        ("POST", "/chat/completions") => chat(ctx, request, out),
        ("POST", "/responses") => responses::handle(ctx, request, out),
        (_, "/models" | "/chat/completions" | "/responses") => {
            let body = error_body("method not allowed", "invalid_request_error", None);
            wire::write_json(out, 405, &[], &body)
        }
        _ => {
            let body = error_body(
                &format!("no route {} {}; this endpoint serves GET /v1/models, POST /v1/chat/completions and POST /v1/responses (OpenAI), POST /v1/messages (Anthropic) and /api/chat, /api/tags, /api/show, /api/version (Ollama)", request.method, request.path),
                "invalid_request_error",
                None,
            );
            wire::write_json(out, 404, &[], &body)
        }
    };
    // A write error means the client went away; nothing is left to tell it.
    drop(result);
}

fn host_failure(out: &mut impl Write, error: &anyhow::Error) -> std::io::Result<()> {
    let message = crate::log::redact(&format!("{error:#}"));
    wire::write_json(
        out,
        500,
        &[],
        &error_body(&message, "server_error", None),
    )
}

fn provider_failure(
    out: &mut impl Write,
    error: &ProviderError,
) -> std::io::Result<()> {
    let (status, body, retry) = provider_error(error);
    let headers: Vec<(&str, String)> = retry
        .map(|s| ("Retry-After", s.to_string()))
        .into_iter()
        .collect();
    wire::write_json(out, status, &headers, &body)
}

fn list_models(ctx: &Context, out: &mut TcpStream) -> std::io::Result<()> {
    match ctx.ext.models(&ctx.provider) {
        Ok(Ok(models)) => wire::write_json(out, 200, &[], &models_json(&models)),
        Ok(Err(error)) => provider_failure(out, &error),
        Err(error) => host_failure(out, &error),
    }
}

fn one_model(ctx: &Context, id: &str, out: &mut TcpStream) -> std::io::Result<()> {
    let models = match ctx.ext.models(&ctx.provider) {
        Ok(Ok(models)) => models,
        Ok(Err(error)) => return provider_failure(out, &error),
        Err(error) => return host_failure(out, &error),
    };
    match models.into_iter().find(|m| m.id == id) {
        Some(model) => {
            let listed = models_json(std::slice::from_ref(&model));
            wire::write_json(out, 200, &[], &listed["data"][0])
        }
        None => {
            let message = format!("no model `{id}`; GET /v1/models lists them");
            let body =
                error_body(&message, "invalid_request_error", Some("model_not_found"));
            wire::write_json(out, 404, &[], &body)
        }
    }
}

fn chat(ctx: &Context, request: &wire::Request, out: &mut TcpStream) -> std::io::Result<()> {
    let chat = match parse_chat_request(&request.body) {
        Ok(chat) => chat,
        Err(why) => {
            return wire::write_json(
                out,
                400,
                &[],
                &error_body(&why, "invalid_request_error", None),
            );
        }
    };
    let mut stream = match ctx
        .ext
        .stream(&ctx.provider, &chat.model, chat.request)
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return provider_failure(out, &error),
        Err(error) => return host_failure(out, &error),
    };
    let first = match stream.next_event() {
        Ok(Some(Ok(event))) => Some(event),
        Ok(None) => None,
        Ok(Some(Err(error))) => return provider_failure(out, &error),
        Err(error) => return host_failure(out, &error),
    };
    let mut translator = Translator::new(completion_id(ctx), unix_now(), chat.model.clone());
    if chat.stream {
        stream_answer(
            ctx,
            &mut stream,
            &mut translator,
            first,
            chat.include_usage,
            out,
        )
    } else {
        whole_answer(&mut stream, &mut translator, first, out)
    }
}

fn stream_answer(
    ctx: &Context,
    stream: &mut CompletionStream,
    translator: &mut Translator,
    first: Option<CompletionEvent>,
    include_usage: bool,
    out: &mut TcpStream,
) -> std::io::Result<()> {
    let mut events = wire::EventStream::start(out)?;
    let mut next = first.map(Ok);
    loop {
        let event = match next.take() {
            Some(event) => event,
            None => match stream.next_event() {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(error) => Err(host_as_provider_error(&error)),
            },
        };
        match event {
            Ok(event) => {
                if let Some(chunk) = translator.event(&event) {
                    events.data(&chunk.to_string())?;
                }
            }
            // Mid-stream failures go out as an error event; no `[DONE]` marks it unfinished.
            Err(error) => {
                let (_, body, _) = provider_error(&error);
                events.data(&body.to_string())?;
                return events.finish();
            }
        }
        if ctx.is_stopping() {
            return Ok(());
        }
    }
    for chunk in translator.end(include_usage) {
        events.data(&chunk.to_string())?;
    }
    events.data("[DONE]")?;
    events.finish()
}

fn whole_answer(
    stream: &mut CompletionStream,
    translator: &mut Translator,
    first: Option<CompletionEvent>,
    out: &mut TcpStream,
) -> std::io::Result<()> {
    if let Some(event) = &first {
        translator.event(event);
    }
    loop {
        match stream.next_event() {
            Ok(Some(Ok(event))) => {
                translator.event(&event);
            }
            Ok(None) => break,
            Ok(Some(Err(error))) => return provider_failure(out, &error),
            Err(error) => return host_failure(out, &error),
        }
    }
    translator.end(false);
    wire::write_json(out, 200, &[], &translator.completion())
}

fn host_as_provider_error(error: &anyhow::Error) -> ProviderError {
    // Status 0 marks a host-side failure (see `display_error`), not an upstream answer.
    ProviderError::Upstream(UpstreamInfo {
        status: 0,
        message: crate::log::redact(&format!("{error:#}")),
        request_id: None,
    })
}

fn completion_id(ctx: &Context) -> String {
    let n = ctx.next_id();
    format!("chatcmpl-{:x}{n:04x}", unix_now())
}
