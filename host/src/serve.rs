//! `serve`: the loaded provider as an OpenAI-compatible API on 127.0.0.1, for any editor's
//! generic OpenAI provider (Zed's `openai_compatible`, Continue, ...), and in the same
//! server as Anthropic Messages (`/v1/messages`, see `anthropic.rs`) and the Ollama API
//! (`/api/...`, see `ollama.rs`).
//!
//! Design decisions:
//! * Loopback only, and a random bearer key (from the OS's randomness) is required on every
//!   request: other local users and web pages cannot spend the account's quota.
//! * A thread per connection. The [`Extension`] serialises guest calls internally and streams
//!   are driven with the non-blocking poll, so concurrent answers interleave event by event.
//! * A streamed answer's status line waits for its first event, so a failure that is known
//!   at once (not signed in, unknown model, rate limit) gets a real HTTP status and an
//!   OpenAI-style error body instead of a 200 with an error inside.
//! * Shutdown stops accepting, cuts open sockets and waits (bounded) for handlers to finish;
//!   a handler that drops its stream closes it in the guest.

mod anthropic;
mod ollama;
mod openai;
mod upstream;
mod wire;

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, Context};
use serde_json::{json, Value};

use crate::bindings::copilot_chat::extension::llm_provider::ModelInfo;
use crate::runtime::Extension;
use crate::stream::CompletionStream;

pub use anthropic::{resolve_model, MODEL_MAP_SETTING};
pub use openai::{parse_chat_request, ChatRequest, Translator};

/// The path prefix every route lives under (`/v1/models` is also answered as `/models`).
pub const API_PREFIX: &str = "/v1";
/// Concurrent connections served; more get a 503 at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send its request, and to take our bytes.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(60);
/// The pause after a failed `accept`.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long [`Server::shutdown`] waits for running handlers.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Bytes of OS randomness in a key.
const KEY_BYTES: usize = 24;
/// The key's prefix, so a leaked one is recognisable.
const KEY_PREFIX: &str = "cph-";
/// The OpenAI provider name used in the Zed settings snippet.
pub const ZED_PROVIDER_NAME: &str = "copilot-host";

/// How the endpoint behaves beyond its defaults.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServeOptions {
    /// Let requests without the key use the Ollama routes (`/api/...`) only, refusing those
    /// with an `Origin` header or a non-loopback `Host` (`serve --ollama-keyless`).
    pub ollama_keyless: bool,
}

/// A running endpoint. Dropping it shuts it down.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    ext: Arc<Extension>,
    provider: String,
    key: String,
    options: ServeOptions,
    stopping: AtomicBool,
    next_id: AtomicU64,
    /// Open sockets by connection id, so shutdown can cut them.
    sockets: Mutex<HashMap<u64, TcpStream>>,
    /// Running handlers, and a signal when one ends.
    active: Mutex<usize>,
    ended: Condvar,
}

impl Server {
    /// Binds 127.0.0.1 (`port`, or any free port) and starts serving `provider` of `ext`.
    pub fn start(
        ext: Arc<Extension>,
        provider: impl Into<String>,
        port: Option<u16>,
    ) -> anyhow::Result<Server> {
        Server::start_with(ext, provider, port, ServeOptions::default())
    }

    /// [`Server::start`] with options.
    pub fn start_with(
        ext: Arc<Extension>,
        provider: impl Into<String>,
        port: Option<u16>,
        options: ServeOptions,
    ) -> anyhow::Result<Server> {
        let port = port.unwrap_or(0);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).with_context(|| {
            format!("cannot listen on 127.0.0.1:{port}; pick another port with --port or stop the other server")
        })?;
        let addr = listener
            .local_addr()
            .context("the listening socket has no address")?;
        let shared = Arc::new(Shared {
            ext,
            provider: provider.into(),
            key: new_key()?,
            options,
            stopping: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            sockets: Mutex::new(HashMap::new()),
            active: Mutex::new(0),
            ended: Condvar::new(),
        });
        let accept_shared = shared.clone();
        let accept = std::thread::Builder::new()
            .name("copilot-serve-accept".into())
            .spawn(move || accept_loop(listener, accept_shared))
            .context("cannot start the server thread")?;
        Ok(Server {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The OpenAI base URL, e.g. `http://127.0.0.1:4141/v1`.
    pub fn url(&self) -> String {
        format!("http://{}{API_PREFIX}", self.addr)
    }

    /// The server's root URL, e.g. `http://127.0.0.1:4141`: the Anthropic base URL (clients
    /// add `/v1/messages`) and the Ollama API URL (clients add `/api/...`).
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether the Ollama routes accept requests without the key.
    pub fn ollama_keyless(&self) -> bool {
        self.shared.options.ollama_keyless
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer key every request must carry (`Authorization: Bearer <key>`).
    pub fn key(&self) -> &str {
        &self.shared.key
    }

    /// Stops accepting, cuts open connections, and waits (at most a few seconds) for their
    /// handlers to end.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let _ = accept.join();
        if let Ok(sockets) = self.shared.sockets.lock() {
            for socket in sockets.values() {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        let Ok(mut active) = self.shared.active.lock() else {
            return;
        };
        while *active > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.shared.ended.wait_timeout(active, left) {
                Ok((guard, _)) => active = guard,
                Err(_) => return,
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A fresh key from the OS's randomness; no randomness, no server.
fn new_key() -> anyhow::Result<String> {
    let mut bytes = [0u8; KEY_BYTES];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| anyhow!("cannot read /dev/urandom to make an API key: {e}"))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{KEY_PREFIX}{hex}"))
}

/// Compares without an early exit, so timing does not reveal how much of a guess matched.
fn same_key(given: &str, key: &str) -> bool {
    let (given, key) = (given.as_bytes(), key.as_bytes());
    let mut diff = given.len() ^ key.len();
    for (i, k) in key.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ k);
    }
    diff == 0
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut stream) = conn else {
            // Out of descriptors or similar: back off instead of spinning on the error.
            std::thread::sleep(ACCEPT_BACKOFF);
            continue;
        };
        let Some(guard) = ActiveGuard::enter(&shared) else {
            let body = openai::error_body("too many connections; try again", "server_error", None);
            let _ = wire::write_json(&mut stream, 503, &[], &body);
            continue;
        };
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name(format!("copilot-serve-{id}"))
            .spawn(move || {
                let _guard = guard;
                handle_connection(&_guard.shared, id, stream);
            });
        // Without a thread the connection is dropped (closed); the guard went with the closure.
        drop(spawned);
    }
}

/// Counts a running handler; dropping it (also on panic) uncounts it and wakes shutdown.
struct ActiveGuard {
    shared: Arc<Shared>,
}

impl ActiveGuard {
    fn enter(shared: &Arc<Shared>) -> Option<ActiveGuard> {
        let mut active = shared.active.lock().ok()?;
        if *active >= MAX_CONNECTIONS {
            return None;
        }
        *active += 1;
        Some(ActiveGuard {
            shared: shared.clone(),
        })
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        if let Ok(mut active) = self.shared.active.lock() {
            *active = active.saturating_sub(1);
        }
        self.shared.ended.notify_all();
    }
}

fn handle_connection(shared: &Shared, id: u64, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(SOCKET_TIMEOUT));
    let _ = stream.set_write_timeout(Some(SOCKET_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let (Ok(reader), Ok(registered)) = (stream.try_clone(), stream.try_clone()) else {
        return;
    };
    if let Ok(mut sockets) = shared.sockets.lock() {
        sockets.insert(id, registered);
    }
    let mut reader = BufReader::new(reader);
    let mut out = stream;
    match wire::read_request(&mut reader) {
        Ok(request) => route(shared, &request, &mut out),
        Err(wire::WireError::Io) => {}
        Err(wire::WireError::Malformed(why)) => {
            let _ = wire::write_json(
                &mut out,
                400,
                &[],
                &openai::error_body(why, "invalid_request_error", None),
            );
        }
        Err(wire::WireError::TooLarge {
            head: false,
            path: Some(path),
        }) if protocol_of(&path) != Protocol::OpenAi => {
            let why = "the request body is too large";
            let body = match protocol_of(&path) {
                Protocol::Anthropic => anthropic::error_body("request_too_large", why),
                _ => ollama::error_body(why),
            };
            let _ = wire::write_json(&mut out, 413, &[], &body);
        }
        Err(wire::WireError::TooLarge { head, .. }) => {
            let (status, what) = if head {
                (431, "request head")
            } else {
                (413, "request body")
            };
            let body = openai::error_body(
                &format!("the {what} is too large"),
                "invalid_request_error",
                None,
            );
            let _ = wire::write_json(&mut out, status, &[], &body);
        }
    }
    if let Ok(mut sockets) = shared.sockets.lock() {
        sockets.remove(&id);
    }
    let _ = out.shutdown(Shutdown::Both);
}

/// The wire protocol a path belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    OpenAi,
    Anthropic,
    Ollama,
}

fn protocol_of(path: &str) -> Protocol {
    let under_v1 = path.strip_prefix(API_PREFIX).unwrap_or(path);
    if under_v1 == "/messages" || under_v1.starts_with("/messages/") {
        Protocol::Anthropic
    } else if path == "/api" || path.starts_with("/api/") {
        Protocol::Ollama
    } else {
        Protocol::OpenAi
    }
}

fn route(shared: &Shared, request: &wire::Request, out: &mut TcpStream) {
    // Each protocol checks the key its own clients send and answers in its own error shape.
    let trimmed = request.path.trim_end_matches('/');
    let result = match protocol_of(trimmed) {
        Protocol::Anthropic => {
            let path = trimmed.strip_prefix(API_PREFIX).unwrap_or(trimmed);
            anthropic::route(shared, request, path, out)
        }
        Protocol::Ollama => ollama::route(shared, request, trimmed, out),
        Protocol::OpenAi => {
            openai_route(shared, request, out);
            Ok(())
        }
    };
    // A write error means the client went away; nothing is left to tell it.
    drop(result);
}

fn openai_route(shared: &Shared, request: &wire::Request, out: &mut TcpStream) {
    if !authorized(shared, request) {
        let body = openai::error_body(
            "missing or wrong API key: send `Authorization: Bearer <key>` with the key `copilot-host serve` printed",
            "invalid_request_error",
            Some("invalid_api_key"),
        );
        let _ = wire::write_json(out, 401, &[("WWW-Authenticate", "Bearer".into())], &body);
        return;
    }
    let path = request
        .path
        .strip_prefix(API_PREFIX)
        .unwrap_or(&request.path);
    let path = path.trim_end_matches('/');
    let result = match (request.method.as_str(), path) {
        ("GET", "/models") => list_models(shared, out),
        ("GET", model) if model.starts_with("/models/") => {
            one_model(shared, &model["/models/".len()..], out)
        }
        ("POST", "/chat/completions") => chat(shared, request, out),
        (_, "/models" | "/chat/completions") => {
            let body = openai::error_body("method not allowed", "invalid_request_error", None);
            wire::write_json(out, 405, &[], &body)
        }
        _ => {
            let body = openai::error_body(
                &format!("no route {} {}; this endpoint serves GET /v1/models and POST /v1/chat/completions (OpenAI), POST /v1/messages (Anthropic) and /api/chat, /api/tags, /api/show, /api/version (Ollama)", request.method, request.path),
                "invalid_request_error",
                None,
            );
            wire::write_json(out, 404, &[], &body)
        }
    };
    // A write error means the client went away; nothing is left to tell it.
    drop(result);
}

fn authorized(shared: &Shared, request: &wire::Request) -> bool {
    let Some(value) = request.header("authorization") else {
        return false;
    };
    let Some((scheme, given)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && same_key(given.trim(), &shared.key)
}

fn host_failure(out: &mut impl Write, error: &anyhow::Error) -> std::io::Result<()> {
    let message = crate::log::redact(&format!("{error:#}"));
    wire::write_json(
        out,
        500,
        &[],
        &openai::error_body(&message, "server_error", None),
    )
}

fn provider_failure(
    out: &mut impl Write,
    error: &crate::bindings::copilot_chat::extension::llm_provider::ProviderError,
) -> std::io::Result<()> {
    let (status, body, retry) = openai::provider_error(error);
    let headers: Vec<(&str, String)> = retry
        .map(|s| ("Retry-After", s.to_string()))
        .into_iter()
        .collect();
    wire::write_json(out, status, &headers, &body)
}

fn list_models(shared: &Shared, out: &mut TcpStream) -> std::io::Result<()> {
    match shared.ext.models(&shared.provider) {
        Ok(Ok(models)) => wire::write_json(out, 200, &[], &openai::models_json(&models)),
        Ok(Err(error)) => provider_failure(out, &error),
        Err(error) => host_failure(out, &error),
    }
}

fn one_model(shared: &Shared, id: &str, out: &mut TcpStream) -> std::io::Result<()> {
    let models = match shared.ext.models(&shared.provider) {
        Ok(Ok(models)) => models,
        Ok(Err(error)) => return provider_failure(out, &error),
        Err(error) => return host_failure(out, &error),
    };
    match models.into_iter().find(|m| m.id == id) {
        Some(model) => {
            let listed = openai::models_json(std::slice::from_ref(&model));
            wire::write_json(out, 200, &[], &listed["data"][0])
        }
        None => {
            let message = format!("no model `{id}`; GET /v1/models lists them");
            let body =
                openai::error_body(&message, "invalid_request_error", Some("model_not_found"));
            wire::write_json(out, 404, &[], &body)
        }
    }
}

fn chat(shared: &Shared, request: &wire::Request, out: &mut TcpStream) -> std::io::Result<()> {
    let chat = match parse_chat_request(&request.body) {
        Ok(chat) => chat,
        Err(why) => {
            return wire::write_json(
                out,
                400,
                &[],
                &openai::error_body(&why, "invalid_request_error", None),
            );
        }
    };
    let mut stream = match shared
        .ext
        .stream(&shared.provider, &chat.model, chat.request)
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
    let mut translator = Translator::new(completion_id(shared), unix_now(), chat.model.clone());
    if chat.stream {
        stream_answer(
            shared,
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
    shared: &Shared,
    stream: &mut CompletionStream,
    translator: &mut Translator,
    first: Option<crate::CompletionEvent>,
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
                let (_, body, _) = openai::provider_error(&error);
                events.data(&body.to_string())?;
                return events.finish();
            }
        }
        if shared.stopping.load(Ordering::SeqCst) {
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
    first: Option<crate::CompletionEvent>,
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

fn host_as_provider_error(error: &anyhow::Error) -> crate::ProviderError {
    // Status 0 marks a host-side failure (see `display_error`), not an upstream answer.
    crate::ProviderError::Upstream(crate::UpstreamInfo {
        status: 0,
        message: crate::log::redact(&format!("{error:#}")),
        request_id: None,
    })
}

fn completion_id(shared: &Shared) -> String {
    let n = shared.next_id.fetch_add(1, Ordering::SeqCst);
    format!("chatcmpl-{:x}{n:04x}", unix_now())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A `language_models.openai_compatible` block for Zed's settings.json listing `models`.
/// The key is not in it: Zed reads it from its UI or `COPILOT_HOST_API_KEY`.
pub fn zed_settings(base_url: &str, models: &[ModelInfo]) -> Value {
    let available: Vec<Value> = models
        .iter()
        .map(|m| {
            let mut entry = json!({
                "name": m.id,
                "display_name": m.name,
                "max_tokens": m.max_token_count,
                "capabilities": {
                    "tools": m.capabilities.supports_tools,
                    "images": m.capabilities.supports_images,
                    "parallel_tool_calls": m.capabilities.supports_tools,
                    "prompt_cache_key": false,
                },
            });
            if let Some(max) = m.max_output_tokens {
                entry["max_output_tokens"] = json!(max);
            }
            entry
        })
        .collect();
    json!({
        "language_models": {
            "openai_compatible": {
                ZED_PROVIDER_NAME: {"api_url": base_url, "available_models": available}
            }
        }
    })
}

/// The environment variable Zed's Ollama provider reads its API key from.
pub const ZED_OLLAMA_KEY_ENV: &str = "OLLAMA_API_KEY";

/// A `language_models.ollama` block for Zed's settings.json: Zed then lists the models itself
/// (from `/api/tags` and `/api/show`). The key is not in it (see [`ZED_OLLAMA_KEY_ENV`]).
pub fn zed_ollama_settings(root_url: &str) -> Value {
    json!({"language_models": {"ollama": {"api_url": root_url}}})
}

/// The environment that points Claude Code (or any Anthropic SDK client) at this server.
/// `ANTHROPIC_AUTH_TOKEN` is sent as `Authorization: Bearer`; `ANTHROPIC_API_KEY` (sent as
/// `x-api-key`) works too.
pub fn claude_code_env(root_url: &str, key: &str) -> Value {
    json!({"ANTHROPIC_BASE_URL": root_url, "ANTHROPIC_AUTH_TOKEN": key})
}

/// The environment variable Zed reads the key from for [`ZED_PROVIDER_NAME`].
pub fn zed_key_env() -> String {
    format!(
        "{}_API_KEY",
        ZED_PROVIDER_NAME.to_ascii_uppercase().replace('-', "_")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_compared_exactly() {
        let a = new_key().unwrap();
        let b = new_key().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), KEY_PREFIX.len() + 2 * KEY_BYTES);
        assert!(same_key(&a, &a));
        assert!(!same_key(&b, &a));
        assert!(!same_key(&a[..a.len() - 1], &a));
        assert!(!same_key(&format!("{a}x"), &a));
        assert!(!same_key("", &a));
    }

    #[test]
    fn the_zed_key_variable_follows_the_provider_name() {
        assert_eq!(zed_key_env(), "COPILOT_HOST_API_KEY");
        let snippet = zed_settings("http://127.0.0.1:1/v1", &[]);
        assert_eq!(
            snippet["language_models"]["openai_compatible"][ZED_PROVIDER_NAME]["api_url"],
            "http://127.0.0.1:1/v1"
        );
    }
}
