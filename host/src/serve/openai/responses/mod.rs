//! The OpenAI Responses dialect (`POST /v1/responses`), translated to and from the WIT contract,
//! for Codex-style agents and newer OpenAI SDK code.
//!
//! Design decisions:
//! * Same shape as the Chat Completions side: a pure parse (`request`: JSON in, a contract
//!   request out) and a pure [`ResponsesTranslator`] (`events`: completion events in,
//!   Responses stream events and the whole response object out), both unit-tested
//!   (`tests.rs`) with literal JSON; only [`handle`], here, does I/O, with the server's
//!   helpers.
//! * `serve` keeps no state, so what needs it is refused with a 400 naming the field:
//!   `previous_response_id`, `conversation`, `store: true`, `background: true`, item
//!   references. An omitted `store` is taken as `false` (nothing is kept either way).
//! * Opaque reasoning round-trips through `encrypted_content`: a reasoning item's
//!   `encrypted_content` is the contract's reasoning state verbatim (a `reasoning-details`
//!   event, redacted thinking or a thinking signature), and a reasoning item sent back becomes
//!   redacted thinking in the assistant turn, which the extension echoes upstream.
//! * Anything the contract cannot express (non-function tools, remote or file images, files,
//!   log probabilities, ...) is a 400 naming the field, never dropped silently. `text.format`,
//!   `top_p`, `parallel_tool_calls` and `reasoning.effort` travel in the contract's request
//!   ([`RequestOptions`](super::translate::RequestOptions)).
//!
//! * this module: the route ([`handle`]), streamed or whole;
//! * `request`: a Responses body mapped to the contract's request, or the 400 naming a field;
//! * `events`: [`ResponsesTranslator`], the contract's events as Responses events and object.
//!
//! It may import `super::translate` (the error shape and request options it shares with Chat
//! Completions), `crate::serve::context`, `crate::serve::wire` and the library's lower layers;
//! never `crate::serve::server` or another protocol.

mod events;
mod request;
#[cfg(test)]
mod tests;

use std::io;
use std::net::TcpStream;

use serde_json::Value;

use crate::serve::openai::translate as openai;
use crate::serve::context::{unix_now, Context};
use crate::serve::wire;
use crate::contract::llm_provider::{CompletionEvent, ProviderError};
use crate::runtime::CompletionStream;

pub use events::ResponsesTranslator;
pub use request::{parse_responses_request, ResponsesRequest};

/// `POST /v1/responses`.
pub(super) fn handle(
    ctx: &Context,
    request: &wire::Request,
    out: &mut TcpStream,
) -> io::Result<()> {
    let parsed = match parse_responses_request(&request.body) {
        Ok(parsed) => parsed,
        Err(bad) => return wire::write_json(out, 400, &[], &bad.body()),
    };
    let mut stream = match ctx
        .ext
        .stream(&ctx.provider, &parsed.model, parsed.request)
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return super::provider_failure(out, &error),
        Err(error) => return super::host_failure(out, &error),
    };
    // The status line waits for the first event, so an early failure gets a real status.
    let first = match stream.next_event() {
        Ok(Some(Ok(event))) => Some(event),
        Ok(None) => None,
        Ok(Some(Err(error))) => return super::provider_failure(out, &error),
        Err(error) => return super::host_failure(out, &error),
    };
    let n = ctx.next_id();
    let now = unix_now();
    let id = format!("resp_{now:x}{n:04x}");
    let mut translator = ResponsesTranslator::new(id, now, parsed.model, parsed.echo);
    if parsed.stream {
        stream_answer(ctx, &mut stream, &mut translator, first, out)
    } else {
        whole_answer(&mut stream, &mut translator, first, out)
    }
}

fn stream_answer(
    ctx: &Context,
    stream: &mut CompletionStream,
    translator: &mut ResponsesTranslator,
    first: Option<CompletionEvent>,
    out: &mut TcpStream,
) -> io::Result<()> {
    let mut events = wire::EventStream::start(out)?;
    let send = |events: &mut wire::EventStream<&mut TcpStream>, list: Vec<Value>| {
        list.iter().try_for_each(|e| {
            let kind = e["type"].as_str().unwrap_or_default();
            events.named(kind, &e.to_string())
        })
    };
    send(&mut events, translator.start())?;
    let mut next = first.map(Ok);
    loop {
        let event = match next.take() {
            Some(event) => event,
            None => match stream.next_event() {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(error) => Err(super::host_as_provider_error(&error)),
            },
        };
        match event {
            Ok(event) => send(&mut events, translator.event(&event))?,
            Err(error) => {
                let failed = translator.failed(&failure_body(&error));
                send(&mut events, vec![failed])?;
                return events.finish();
            }
        }
        if ctx.is_stopping() {
            return Ok(());
        }
    }
    send(&mut events, translator.finish())?;
    events.finish()
}

fn failure_body(error: &ProviderError) -> Value {
    openai::provider_error(error).1
}

fn whole_answer(
    stream: &mut CompletionStream,
    translator: &mut ResponsesTranslator,
    first: Option<CompletionEvent>,
    out: &mut TcpStream,
) -> io::Result<()> {
    if let Some(event) = &first {
        translator.event(event);
    }
    loop {
        match stream.next_event() {
            Ok(Some(Ok(event))) => {
                translator.event(&event);
            }
            Ok(None) => break,
            Ok(Some(Err(error))) => return super::provider_failure(out, &error),
            Err(error) => return super::host_failure(out, &error),
        }
    }
    translator.finish();
    wire::write_json(out, 200, &[], &translator.response())
}
