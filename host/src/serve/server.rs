//! The core of `serve`, shared by every wire protocol: the loopback listener, the bearer key,
//! the connection limit, a thread per connection, and shutdown.
//!
//! Design decisions:
//! * Loopback only, and a random bearer key (from the OS's randomness) is required on every
//!   request: other local users and web pages cannot spend the account's quota.
//! * Authentication first: the key is checked as soon as the request head is in, before any
//!   body byte is read; a refused request gets its 401 (or 413) at once and the connection is
//!   closed with the body unread. `Expect: 100-continue` is answered only once admitted.
//! * Two pools: a connection that has not sent an authenticated head yet holds one of a few
//!   "head" places, with a short deadline for the whole head; when they are all taken the oldest
//!   is cut, so slow or keyless connections never hold the places of authenticated clients
//!   ([`MAX_CONNECTIONS`] of them).
//! * A memory budget: the bodies of admitted requests in flight into the guest count against
//!   [`BODY_BUDGET_BYTES`] (well below the guest's memory cap); a request that does not fit
//!   waits briefly, then gets 503 with `Retry-After`, instead of growing the guest past its cap.
//! * A thread per connection. The [`Extension`](crate::Extension) serialises guest calls internally and streams
//!   are driven with the non-blocking poll, so concurrent answers interleave event by event.
//! * A streamed answer's status line waits for its first event, so a failure that is known
//!   at once (not signed in, unknown model, rate limit) gets a real HTTP status and an
//!   OpenAI-style error body instead of a 200 with an error inside.
//! * Shutdown stops accepting, cuts open sockets and waits (bounded) for handlers to finish;
//!   a handler that drops its stream closes it in the guest.

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufReader, Read};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use serde_json::Value;

use crate::runtime::Extension;
use crate::serve::context::{Context, ServeOptions};
use crate::serve::openai::{self, API_PREFIX};
use crate::serve::{anthropic, ollama};
use crate::serve::wire;
/// Concurrent authenticated connections served; more get a 503 at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Connections still sending their head (not authenticated yet); a new one past this cuts
/// the oldest. As many as authenticated places, so a burst of real clients connecting at
/// once is not cut before their heads are read.
pub const MAX_PENDING_HEADS: usize = 64;
/// How long a connection may take to send its whole request head.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(10);
/// Bytes of request bodies admitted into the guest at once (its memory cap is 256 MiB, and a
/// request's body is held there in a few forms while it is serialised). One request alone
/// is always admitted: a body up to the wire limit (`wire::MAX_BODY_BYTES`) fits on its own.
pub const BODY_BUDGET_BYTES: usize = 32 * 1024 * 1024;
/// How long an admitted request waits for room in the body budget before its 503.
const BUDGET_WAIT: Duration = Duration::from_secs(5);
/// The `Retry-After` of a 503 for want of room (seconds).
const BUDGET_RETRY_AFTER_SECS: u64 = 1;
/// Handler threads at most (authenticated, pending, and cut ones still ending).
const MAX_THREADS: usize = MAX_CONNECTIONS + 2 * MAX_PENDING_HEADS;
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

/// A running endpoint. Dropping it shuts it down.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    /// What the protocol handlers see.
    context: Context,
    /// Open sockets by connection id, so shutdown can cut them.
    sockets: Mutex<HashMap<u64, TcpStream>>,
    /// Running handlers, and a signal when one ends.
    active: Mutex<usize>,
    ended: Condvar,
    /// Connections reading their head, oldest first.
    pending: Mutex<VecDeque<u64>>,
    /// Connections that passed the key check.
    authenticated: Mutex<usize>,
    /// Bytes of admitted bodies in flight, and a signal when some are released.
    budget: Mutex<usize>,
    budget_freed: Condvar,
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
            context: Context::new(ext, provider.into(), new_key()?, options),
            sockets: Mutex::new(HashMap::new()),
            active: Mutex::new(0),
            ended: Condvar::new(),
            pending: Mutex::new(VecDeque::new()),
            authenticated: Mutex::new(0),
            budget: Mutex::new(0),
            budget_freed: Condvar::new(),
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
        self.shared.context.options.ollama_keyless
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer key every request must carry (`Authorization: Bearer <key>`).
    pub fn key(&self) -> &str {
        self.shared.context.key()
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
        self.shared.context.stop();
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
    getrandom::getrandom(&mut bytes)
        .map_err(|e| anyhow!("the system gave no randomness to make an API key: {e}"))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{KEY_PREFIX}{hex}"))
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.context.is_stopping() {
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
        let id = shared.context.next_id();
        let Ok(registered) = stream.try_clone() else {
            continue;
        };
        if let Ok(mut sockets) = shared.sockets.lock() {
            sockets.insert(id, registered);
        }
        shared.enter_pending(id);
        let spawned = std::thread::Builder::new()
            .name(format!("copilot-serve-{id}"))
            .spawn(move || {
                let _guard = guard;
                handle_connection(&_guard.shared, id, stream);
            });
        if spawned.is_err() {
            // The guard went with the closure; forget the connection.
            shared.leave(id);
        }
    }
}

impl Shared {
    /// Puts a new connection in the head pool, cutting the oldest one when the pool is full.
    fn enter_pending(&self, id: u64) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        while pending.len() >= MAX_PENDING_HEADS {
            let Some(oldest) = pending.pop_front() else {
                break;
            };
            if let Ok(sockets) = self.sockets.lock() {
                if let Some(socket) = sockets.get(&oldest) {
                    let _ = socket.shutdown(Shutdown::Both);
                }
            }
        }
        pending.push_back(id);
    }

    /// Moves an authenticated connection from the head pool to the authenticated ones:
    /// `Err(true)` when it was cut meanwhile (nothing to answer), `Err(false)` when all
    /// authenticated places are taken (answer 503).
    fn authenticate(&self, id: u64) -> Result<AuthenticatedGuard<'_>, bool> {
        let Ok(mut pending) = self.pending.lock() else {
            return Err(true);
        };
        let Some(at) = pending.iter().position(|&p| p == id) else {
            return Err(true);
        };
        pending.remove(at);
        drop(pending);
        let mut count = self.authenticated.lock().map_err(|_| false)?;
        if *count >= MAX_CONNECTIONS {
            return Err(false);
        }
        *count += 1;
        Ok(AuthenticatedGuard { shared: self })
    }

    /// Forgets a connection that ends.
    fn leave(&self, id: u64) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.retain(|&p| p != id);
        }
        if let Ok(mut sockets) = self.sockets.lock() {
            sockets.remove(&id);
        }
    }

    /// Reserves `bytes` of the body budget, waiting at most [`BUDGET_WAIT`] for room; `None`
    /// when there is none. A request alone is always admitted.
    fn reserve(&self, bytes: usize) -> Option<Reservation<'_>> {
        let deadline = Instant::now() + BUDGET_WAIT;
        let mut used = self.budget.lock().ok()?;
        while *used > 0 && used.saturating_add(bytes) > BODY_BUDGET_BYTES {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.context.is_stopping() {
                return None;
            }
            used = self.budget_freed.wait_timeout(used, left).ok()?.0;
        }
        *used += bytes;
        Some(Reservation {
            shared: self,
            bytes,
        })
    }
}

/// An authenticated place; dropping it frees the place.
struct AuthenticatedGuard<'a> {
    shared: &'a Shared,
}

impl Drop for AuthenticatedGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut count) = self.shared.authenticated.lock() {
            *count = count.saturating_sub(1);
        }
    }
}

/// Bytes of the body budget held until the request's answer is done.
struct Reservation<'a> {
    shared: &'a Shared,
    bytes: usize,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if let Ok(mut used) = self.shared.budget.lock() {
            *used = used.saturating_sub(self.bytes);
        }
        self.shared.budget_freed.notify_all();
    }
}

/// Counts a running handler; dropping it (also on panic) uncounts it and wakes shutdown.
struct ActiveGuard {
    shared: Arc<Shared>,
}

impl ActiveGuard {
    fn enter(shared: &Arc<Shared>) -> Option<ActiveGuard> {
        let mut active = shared.active.lock().ok()?;
        if *active >= MAX_THREADS {
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

/// The socket as the request reader sees it: until the head is in, every read waits only
/// until the head deadline, so a slow head cannot last longer than [`HEAD_DEADLINE`] in all.
struct HeadReader {
    stream: TcpStream,
    deadline: Option<Instant>,
}

impl HeadReader {
    /// The head is in: from now on each read waits the ordinary socket timeout.
    fn head_done(&mut self) {
        self.deadline = None;
        let _ = self.stream.set_read_timeout(Some(SOCKET_TIMEOUT));
    }
}

impl Read for HeadReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.stream.set_read_timeout(Some(left.min(SOCKET_TIMEOUT)))?;
        }
        self.stream.read(buf)
    }
}

fn handle_connection(shared: &Shared, id: u64, stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(SOCKET_TIMEOUT));
    let _ = stream.set_nodelay(true);
    if let Ok(reader) = stream.try_clone() {
        let mut reader = BufReader::new(HeadReader {
            stream: reader,
            deadline: Some(Instant::now() + HEAD_DEADLINE),
        });
        let mut out = stream;
        serve_one(shared, id, &mut reader, &mut out);
        shared.leave(id);
        let _ = out.shutdown(Shutdown::Both);
    } else {
        shared.leave(id);
    }
}

/// Reads, admits and answers one request.
fn serve_one(shared: &Shared, id: u64, reader: &mut BufReader<HeadReader>, out: &mut TcpStream) {
    let mut request = match wire::read_head(reader) {
        Ok(request) => request,
        Err(error) => {
            write_wire_error(out, error);
            return;
        }
    };
    let protocol = protocol_of(request.path.trim_end_matches('/'));
    if let Some((status, why)) = refusal(&shared.context, &request, protocol) {
        let _ = wire::write_json(out, status, &refusal_headers(status), &error_in_shape(protocol, status, why));
        close_unread(out);
        return;
    }
    let _place = match shared.authenticate(id) {
        Ok(place) => place,
        Err(true) => return,
        Err(false) => {
            let body = error_in_shape(protocol, 503, "too many connections; try again");
            let _ = wire::write_json(out, 503, &[("Retry-After", BUDGET_RETRY_AFTER_SECS.to_string())], &body);
            return;
        }
    };
    reader.get_mut().head_done();
    let announced = match wire::announced_length(&request) {
        Ok(announced) => announced,
        Err(error) => {
            write_wire_error(out, error);
            close_unread(out);
            return;
        }
    };
    // A chunked body's length is known only once read: it reserves the largest body.
    let Some(_reservation) = shared.reserve(announced.unwrap_or(wire::MAX_BODY_BYTES)) else {
        let body = error_in_shape(
            protocol,
            503,
            "the server is busy with other large requests; try again in a moment",
        );
        // The client is authenticated and may be sending its body without waiting for an
        // answer: let the body pass into a fixed buffer (nothing kept), so it reads the 503
        // instead of a broken pipe. A chunked body is not drained.
        if let Some(length) = announced {
            let _ = io::copy(&mut reader.by_ref().take(length as u64), &mut io::sink());
        }
        let _ = wire::write_json(out, 503, &[("Retry-After", BUDGET_RETRY_AFTER_SECS.to_string())], &body);
        close_unread(out);
        return;
    };
    if announced != Some(0) && wire::expects_continue(&request) && wire::write_continue(out).is_err() {
        return;
    }
    if let Err(error) = wire::read_body_into(reader, &mut request) {
        write_wire_error(out, error);
        return;
    }
    route(shared, &request, out);
}

/// Why a request may not go further (status and reason), checked on its head alone, by the
/// rule of its protocol: the bearer key (OpenAI), `x-api-key` or the bearer key (Anthropic),
/// the bearer key or keyless mode's rules (Ollama).
fn refusal(ctx: &Context, request: &wire::Request, protocol: Protocol) -> Option<(u16, &'static str)> {
    match protocol {
        Protocol::OpenAi => (!ctx.bearer_ok(request)).then_some((
            401,
            "missing or wrong API key: send `Authorization: Bearer <key>` with the key `copilot-host serve` printed",
        )),
        Protocol::Anthropic => (!anthropic::authorized(ctx, request)).then_some((
            401,
            "missing or wrong API key: send the key `copilot-host serve` printed as `x-api-key` or `Authorization: Bearer`",
        )),
        Protocol::Ollama => ollama::refusal(ctx, request),
    }
}

fn refusal_headers(status: u16) -> Vec<(&'static str, String)> {
    if status == 401 {
        vec![("WWW-Authenticate", "Bearer".to_string())]
    } else {
        Vec::new()
    }
}

/// A refusal of the core (before any protocol code runs) in `protocol`'s error shape.
fn error_in_shape(protocol: Protocol, status: u16, message: &str) -> Value {
    match protocol {
        Protocol::OpenAi => {
            let (kind, code) = match status {
                401 => ("invalid_request_error", Some("invalid_api_key")),
                413 | 400 | 431 => ("invalid_request_error", None),
                403 => ("permission_error", None),
                _ => ("server_error", None),
            };
            openai::error_body(message, kind, code)
        }
        Protocol::Anthropic => {
            let kind = match status {
                401 => "authentication_error",
                403 => "permission_error",
                413 => "request_too_large",
                400 | 431 => "invalid_request_error",
                _ => "overloaded_error",
            };
            anthropic::error_body(kind, message)
        }
        Protocol::Ollama => ollama::error_body(message),
    }
}

/// Answers a request that could not be read.
fn write_wire_error(out: &mut TcpStream, error: wire::WireError) {
    let (status, message, path) = match error {
        wire::WireError::Io => return,
        wire::WireError::Malformed(why) => (400, why, None),
        wire::WireError::TooLarge { head: true, path } => (431, "the request head is too large", path),
        wire::WireError::TooLarge { head: false, path } => (413, "the request body is too large", path),
    };
    let protocol = path.as_deref().map_or(Protocol::OpenAi, |p| protocol_of(p.trim_end_matches('/')));
    let _ = wire::write_json(out, status, &[], &error_in_shape(protocol, status, message));
}

/// Ends a refused connection without reading what the client still sends: our answer goes
/// out first, then the end of our side; the unread body is dropped with the socket.
fn close_unread(out: &mut TcpStream) {
    let _ = out.shutdown(Shutdown::Write);
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
    // The core has checked the key already; each protocol answers in its own shape.
    let trimmed = request.path.trim_end_matches('/');
    let ctx = &shared.context;
    let result = match protocol_of(trimmed) {
        Protocol::Anthropic => {
            let path = trimmed.strip_prefix(API_PREFIX).unwrap_or(trimmed);
            anthropic::route(ctx, request, path, out)
        }
        Protocol::Ollama => ollama::route(ctx, request, trimmed, out),
        Protocol::OpenAi => {
            openai::route(ctx, request, out);
            Ok(())
        }
    };
    // A write error means the client went away; nothing is left to tell it.
    drop(result);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::context::same_key;

    #[test]
    fn a_head_past_its_deadline_is_not_waited_for() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut reader = HeadReader {
            stream: server,
            deadline: Some(Instant::now()),
        };
        let mut buf = [0u8; 8];
        // The deadline has passed: no read at all, even with bytes waiting.
        std::io::Write::write_all(&mut client, b"GET").unwrap();
        let error = reader.read(&mut buf).expect_err("past the head deadline");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        // Once the head is in, the ordinary timeout applies.
        reader.head_done();
        assert_eq!(reader.read(&mut buf).unwrap(), 3);
    }

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
}
