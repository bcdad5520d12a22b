//! The core of `serve`, shared by every wire protocol: the loopback listener, the bearer key,
//! the connection limit, a thread per connection, and shutdown.
//!
//! Design decisions:
//! * Loopback only, and a random bearer key (from the OS's randomness) is required on every
//!   request: other local users and web pages cannot spend the account's quota.
//! * A thread per connection. The [`Extension`](crate::Extension) serialises guest calls internally and streams
//!   are driven with the non-blocking poll, so concurrent answers interleave event by event.
//! * A streamed answer's status line waits for its first event, so a failure that is known
//!   at once (not signed in, unknown model, rate limit) gets a real HTTP status and an
//!   OpenAI-style error body instead of a 200 with an error inside.
//! * Shutdown stops accepting, cuts open sockets and waits (bounded) for handlers to finish;
//!   a handler that drops its stream closes it in the guest.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};

use crate::runtime::Extension;
use crate::serve::context::{Context, ServeOptions};
use crate::serve::openai::{self, API_PREFIX};
use crate::serve::{anthropic, ollama};
use crate::serve::wire;
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
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| anyhow!("cannot read /dev/urandom to make an API key: {e}"))?;
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
    let ctx = &shared.context;
    let result = match protocol_of(trimmed) {
        Protocol::Anthropic => {
            let path = trimmed.strip_prefix(API_PREFIX).unwrap_or(trimmed);
            anthropic::route(ctx, request, path, out)
        }
        Protocol::Ollama => ollama::route(ctx, request, trimmed, out),
        Protocol::OpenAi => {
            openai_route(shared, request, out);
            Ok(())
        }
    };
    // A write error means the client went away; nothing is left to tell it.
    drop(result);
}

fn openai_route(shared: &Shared, request: &wire::Request, out: &mut TcpStream) {
    if !shared.context.bearer_ok(request) {
        let body = openai::error_body(
            "missing or wrong API key: send `Authorization: Bearer <key>` with the key `copilot-host serve` printed",
            "invalid_request_error",
            Some("invalid_api_key"),
        );
        let _ = wire::write_json(out, 401, &[("WWW-Authenticate", "Bearer".into())], &body);
        return;
    }
    openai::route(&shared.context, request, out);
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::context::same_key;

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
