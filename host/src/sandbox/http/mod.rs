//! Outbound HTTP for the guest: capability-checked, redirect-aware, with streamed bodies.
//!
//! Design decisions:
//! * Redirects are followed here, one hop at a time (ureq's own following is off), so that
//!   every hop is checked against the grants and the `Authorization`, `Cookie` and
//!   `Proxy-Authorization` headers are dropped as soon as a hop leaves the original origin.
//! * Every status is a response, never an error: the guest reads `retry-after` and 4xx bodies.
//! * A streamed request is sent by its own thread: `fetch-stream` checks the grant (no I/O)
//!   and returns at once, so a server that stalls before its headers holds up nobody but that
//!   thread (the guest asks `ready` instead of blocking on `status` under the instance lock).
//!   The same thread then reads the body into a small bounded channel; the headers' arrival
//!   and each chunk bump the [`Readiness`] of whoever reads that stream, so a host driving
//!   many streams with `poll` sleeps until something arrived instead of spinning, and one
//!   stream's bytes wake only the one waiter that reads it (a shared signal woke every
//!   waiting stream on any stream's news, each then polling the guest for nothing). A stream
//!   starts with the signal it was opened for (or the client's) and is re-pointed with
//!   [`HttpStream::listen`] when another reader polls it. A request that fails before its
//!   headers puts its typed error into the channel (the next read returns it) and reports
//!   status 0. Dropping the stream drops the receiver; the thread exits on its next send, at
//!   the end of the body, or when the per-read timeout notices a stall.

use std::io::Read;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ureq::http::{self, Method};
use ureq::{Agent, Body};

use crate::contract::http_client::{
    ChunkPoll, HttpError, HttpMethod, HttpRequest, HttpResponse, RedirectPolicy,
};
use crate::log::{Level, Logger};
use crate::sandbox::capabilities::Grants;

/// The largest body `fetch` buffers, and the most a stream may deliver (bytes), when the
/// request's own `max-body-bytes` is not smaller.
pub const MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;
/// The most streamed requests of one extension whose reader threads may run at once; one more
/// is refused with a typed error (each holds an OS thread and a connection).
pub const MAX_OPEN_STREAMS: usize = 64;
/// The largest piece a stream's reader thread hands over at once.
pub const CHUNK_BYTES: usize = 16 * 1024;
/// Chunks buffered between a reader thread and the guest (bounds memory per stream).
const CHANNEL_CHUNKS: usize = 64;
/// The cap behind `follow-all`, so a redirect loop ends.
pub const MAX_REDIRECTS: u32 = 20;
/// Headers that carry credentials and must not follow a redirect to another origin.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];
/// Headers describing a request body, dropped when a redirect turns the request into a GET.
const BODY_HEADERS: [&str; 3] = ["content-type", "content-length", "content-encoding"];

/// A generation counter that reader threads bump and pollers wait on.
///
/// Clones share the counter: a waiter reads [`Readiness::generation`] before it looks for
/// news and waits for a change after, so news that lands in between still wakes it.
#[derive(Clone, Default)]
pub struct Readiness {
    inner: Arc<Signal>,
}

#[derive(Default)]
struct Signal {
    /// Read without the lock (every poll reads it); bumped before the lock is taken to wake.
    generation: AtomicU64,
    lock: Mutex<()>,
    changed: Condvar,
}

impl Readiness {
    /// A fresh counter.
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// The current generation; pass it to [`Readiness::wait_for_change`].
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// Signals that some stream has news.
    pub fn notify(&self) {
        let signal = &*self.inner;
        signal.generation.fetch_add(1, Ordering::SeqCst);
        // Taking the lock orders this wake-up after a waiter's check under the lock: either
        // it saw the new generation, or it is already waiting and is woken.
        drop(signal.lock.lock());
        signal.changed.notify_all();
    }

    /// Waits until the generation differs from `seen`, or `timeout` passes; whether it
    /// changed.
    pub fn wait_for_change(&self, seen: u64, timeout: Duration) -> bool {
        let signal = &*self.inner;
        let Ok(guard) = signal.lock.lock() else {
            return true;
        };
        let waited = signal.changed.wait_timeout_while(guard, timeout, |_| {
            signal.generation.load(Ordering::SeqCst) == seen
        });
        drop(waited);
        self.generation() != seen
    }

    /// Whether `other` is a clone of this signal.
    pub fn same_as(&self, other: &Readiness) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// The signal one streamed response raises: shared by the stream and its reader thread, and
/// re-pointed when a different waiter starts reading the stream.
#[derive(Clone)]
struct Listener(Arc<Mutex<Readiness>>);

impl Listener {
    fn new(readiness: Readiness) -> Listener {
        Listener(Arc::new(Mutex::new(readiness)))
    }

    /// Raises the current listener's signal.
    fn notify(&self) {
        if let Ok(readiness) = self.0.lock() {
            readiness.notify();
        }
    }

    /// Makes `readiness` the signal raised from now on (a no-op when it already is).
    fn point_at(&self, readiness: &Readiness) {
        if let Ok(mut current) = self.0.lock() {
            if !current.same_as(readiness) {
                *current = readiness.clone();
            }
        }
    }
}

/// The guest's HTTP client: one ureq agent (connection pool) per loaded extension. Clones
/// share the agent (a streamed request's thread holds one).
#[derive(Clone)]
pub struct HttpClient {
    agent: Agent,
    grants: Arc<Grants>,
    default_timeout: Duration,
    readiness: Readiness,
    log: Logger,
    /// Reader threads running now (see [`MAX_OPEN_STREAMS`]); shared by clones.
    open_streams: Arc<AtomicUsize>,
}

/// How long each phase of one request may take.
#[derive(Clone, Copy)]
struct Budget {
    phase: Phase,
    /// The longest wait for any single read (headers or body): a stalled peer is noticed.
    per_read: Duration,
}

#[derive(Clone, Copy)]
enum Phase {
    /// `fetch`: the whole exchange, body included, must end by this instant.
    Whole(Instant),
    /// `fetch-stream`: response headers by this instant; the body is bounded per read.
    Headers(Instant),
}

/// One request as it travels through redirects.
struct Hop {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl HttpClient {
    /// A client limited to `grants`; `default_timeout` applies when a request names none.
    /// The request's timeout also bounds each body read (so a stalled body ends with
    /// `timeout`, never hangs).
    pub fn new(
        grants: Arc<Grants>,
        default_timeout: Duration,
        readiness: Readiness,
        log: Logger,
    ) -> HttpClient {
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // Keep a connection for every stream that may run at once: with ureq's default of
            // three per host, a burst of streams to the Copilot API opens (and tears down) a
            // new connection for all but three of them every time.
            .max_idle_connections(MAX_OPEN_STREAMS)
            .max_idle_connections_per_host(MAX_OPEN_STREAMS)
            .build();
        HttpClient {
            agent: config.new_agent(),
            grants,
            default_timeout,
            readiness,
            log,
            open_streams: Arc::default(),
        }
    }

    /// Performs a request and buffers the whole body, up to the request's `max-body-bytes`
    /// and never more than [`MAX_BODY_BYTES`]: a larger body is `too-large(limit)`, known from
    /// `content-length` before any byte is read, or noticed while reading.
    pub fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let limit = body_limit(&request);
        let response = self.send(request, Phase::Whole)?;
        let status = response.status().as_u16();
        let headers = header_pairs(response.headers());
        if declared_length(response.headers()).is_some_and(|n| n > limit) {
            return Err(HttpError::TooLarge(limit));
        }
        let body = response
            .into_body()
            .into_with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => HttpError::TooLarge(limit),
                other => map_ureq_error(other),
            })?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    /// Sends a request from a thread of its own and returns at once: the status and headers
    /// become known later ([`HttpStream::ready`]). A host the grants do not allow is refused
    /// here, before any I/O; every later failure (refused connection, timeout before the
    /// headers, a redirect to a denied host) is the stream's first read error. The stream's
    /// news raises `listener` (the client's own signal when `None`) from the start, since the
    /// headers may arrive before whoever opened the stream first looks at it, until
    /// [`HttpStream::listen`] points it elsewhere.
    pub fn fetch_stream(
        &self,
        request: HttpRequest,
        listener: Option<&Readiness>,
    ) -> Result<HttpStream, HttpError> {
        self.check_grant(&request.url)?;
        let slot = StreamSlot::take(&self.open_streams).ok_or_else(|| {
            HttpError::Other(format!(
                "too many open streams (the host allows {MAX_OPEN_STREAMS} at once); close one first"
            ))
        })?;
        let (tx, rx) = mpsc::sync_channel(CHANNEL_CHUNKS);
        let head = Arc::new(HeadCell::default());
        let listener = Listener::new(listener.unwrap_or(&self.readiness).clone());
        let (client, cell, signal) = (self.clone(), head.clone(), listener.clone());
        std::thread::Builder::new()
            .name("copilot-host-http-stream".into())
            .spawn(move || {
                // The slot is given back when the thread ends, whatever way it ends.
                let _slot = slot;
                client.run_stream(request, &cell, &tx, &signal)
            })
            .map_err(|e| HttpError::Other(format!("cannot start the request thread: {e}")))?;
        Ok(HttpStream {
            head,
            rx,
            listener,
            finished: None,
        })
    }

    /// The body of a streamed request's thread: send, publish the head, pump the body.
    fn run_stream(
        &self,
        request: HttpRequest,
        cell: &HeadCell,
        tx: &SyncSender<Piece>,
        listener: &Listener,
    ) {
        let limit = body_limit(&request);
        match self.send(request, Phase::Headers) {
            Ok(response) => {
                cell.set(Head::Known {
                    status: response.status().as_u16(),
                    headers: header_pairs(response.headers()),
                });
                listener.notify();
                let reader = response.into_body().into_reader();
                pump_body(reader, limit, tx, listener);
            }
            Err(error) => {
                // The error goes into the channel before the head is published, so a reader
                // that saw `ready` finds it on its next read.
                let _ = tx.send(Piece::Failed(error));
                cell.set(Head::Failed);
                listener.notify();
            }
        }
    }

    /// Refuses a URL the grants do not allow (logged: the user may need to grant it).
    fn check_grant(&self, url: &str) -> Result<crate::sandbox::hosts::Target, HttpError> {
        self.grants.check_url(url).map_err(|host| {
            self.log.log(
                Level::Warn,
                "host",
                &format!("denied an HTTP request to {host}: the extension's manifest and the user's settings do not grant it"),
            );
            HttpError::Denied(host)
        })
    }

    fn timeout_of(&self, request: &HttpRequest) -> Duration {
        match request.timeout_ms {
            Some(ms) if ms > 0 => Duration::from_millis(u64::from(ms)),
            _ => self.default_timeout,
        }
    }

    /// Sends the request, following redirects as its policy allows.
    fn send(
        &self,
        request: HttpRequest,
        phase: fn(Instant) -> Phase,
    ) -> Result<http::Response<Body>, HttpError> {
        let timeout = self.timeout_of(&request);
        // Each read waits as long as the request allows for its headers: longer than the host
        // default for a slow model, shorter when the guest asked for a short timeout, so a
        // stalled body ends in the time the guest chose rather than the host's default.
        let budget = Budget {
            phase: phase(Instant::now() + timeout),
            per_read: timeout,
        };
        let (follow, mut left) = match request.redirect_policy {
            RedirectPolicy::NoFollow => (false, 0),
            RedirectPolicy::FollowLimit(n) => (true, n),
            RedirectPolicy::FollowAll => (true, MAX_REDIRECTS),
        };
        let mut hop = Hop {
            method: method_of(request.method),
            url: request.url,
            headers: request.headers,
            body: request.body,
        };
        loop {
            let response = self.send_once(&hop, budget)?;
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok());
            let Some(location) = location.filter(|_| follow && is_redirect(status)) else {
                return Ok(response);
            };
            if left == 0 {
                return Err(HttpError::Other(format!(
                    "too many redirects (stopped at {})",
                    redact_url(&hop.url)
                )));
            }
            left -= 1;
            let next = resolve_location(&hop.url, location).ok_or_else(|| {
                HttpError::Other("the server sent an invalid redirect location".into())
            })?;
            hop = redirected(hop, status, next);
        }
    }

    fn send_once(&self, hop: &Hop, budget: Budget) -> Result<http::Response<Body>, HttpError> {
        let target = self.check_grant(&hop.url)?;
        let mut builder = http::Request::builder()
            .method(hop.method.clone())
            .uri(hop.url.as_str());
        for (name, value) in &hop.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let loopback = crate::sandbox::hosts::is_loopback(&target.host);
        match &hop.body {
            Some(body) => {
                let request = builder
                    .body(body.as_slice())
                    .map_err(|_| invalid_request(hop))?;
                self.run(request, budget, loopback)
            }
            None => {
                let request = builder.body(()).map_err(|_| invalid_request(hop))?;
                self.run(request, budget, loopback)
            }
        }
    }

    fn run<S: ureq::AsSendBody>(
        &self,
        request: http::Request<S>,
        budget: Budget,
        loopback: bool,
    ) -> Result<http::Response<Body>, HttpError> {
        let mut config = self
            .agent
            .configure_request(request)
            .max_redirects(0)
            .timeout_per_read(Some(budget.per_read));
        // A loopback simulator must not be sent through the user's proxy.
        if loopback {
            config = config.proxy(None);
        }
        let config = match budget.phase {
            Phase::Whole(deadline) => config.timeout_global(Some(remaining(deadline)?)),
            Phase::Headers(deadline) => {
                let left = Some(remaining(deadline)?);
                config
                    .timeout_connect(left)
                    .timeout_send_request(left)
                    .timeout_send_body(left)
                    .timeout_recv_response(left)
            }
        };
        self.agent.run(config.build()).map_err(map_ureq_error)
    }
}

/// The body limit of a request: its own `max-body-bytes`, never above [`MAX_BODY_BYTES`].
fn body_limit(request: &HttpRequest) -> u64 {
    request
        .max_body_bytes
        .map_or(MAX_BODY_BYTES, |n| n.min(MAX_BODY_BYTES))
}

/// The `content-length` a response declares, if it is a number.
fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// One of the [`MAX_OPEN_STREAMS`] reader-thread slots of a client, given back on drop.
struct StreamSlot(Arc<AtomicUsize>);

impl StreamSlot {
    fn take(open: &Arc<AtomicUsize>) -> Option<StreamSlot> {
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < MAX_OPEN_STREAMS).then_some(n + 1)
        })
        .ok()
        .map(|_| StreamSlot(open.clone()))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn remaining(deadline: Instant) -> Result<Duration, HttpError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(HttpError::Timeout)
    } else {
        Ok(left)
    }
}

fn invalid_request(hop: &Hop) -> HttpError {
    // Never echo header values: they may hold a token.
    let names: Vec<&str> = hop.headers.iter().map(|(n, _)| n.as_str()).collect();
    HttpError::Other(format!(
        "invalid request to {} (check the URL and the header names/values: {})",
        redact_url(&hop.url),
        names.join(", ")
    ))
}

/// The URL without its query, for messages (a query may carry a secret).
fn redact_url(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn method_of(method: HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Patch => Method::PATCH,
    }
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The next hop after a redirect: 303 (and 301/302 after a POST) become a body-less GET, as
/// browsers do; credentials stay only while the origin (scheme, host, port) is unchanged.
fn redirected(hop: Hop, status: u16, next_url: String) -> Hop {
    let same_origin = match (
        crate::sandbox::hosts::Target::from_url(&hop.url),
        crate::sandbox::hosts::Target::from_url(&next_url),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let to_get = (status == 303 && hop.method != Method::HEAD)
        || (matches!(status, 301 | 302) && hop.method == Method::POST);
    let mut headers = hop.headers;
    if !same_origin {
        headers.retain(|(name, _)| {
            !CREDENTIAL_HEADERS
                .iter()
                .any(|c| name.eq_ignore_ascii_case(c))
        });
    }
    if to_get {
        headers.retain(|(name, _)| !BODY_HEADERS.iter().any(|c| name.eq_ignore_ascii_case(c)));
    }
    Hop {
        method: if to_get { Method::GET } else { hop.method },
        url: next_url,
        headers,
        body: if to_get { None } else { hop.body },
    }
}

/// Resolves a `Location` header against the URL that answered with it.
pub fn resolve_location(base: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if location.is_empty() {
        return None;
    }
    let scheme_end = location.find("://");
    let path_start = location.find(['/', '?', '#']);
    if let Some(end) = scheme_end {
        if path_start.is_none_or(|p| p > end) {
            return Some(location.to_string());
        }
    }
    let uri: http::Uri = base.parse().ok()?;
    let scheme = uri.scheme_str()?;
    let authority = uri.authority()?.as_str();
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Some(format!("{scheme}://{authority}{location}"));
    }
    let path = uri.path();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    Some(format!("{scheme}://{authority}{dir}{location}"))
}

fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Classifies a transport error into the contract's variants.
fn map_ureq_error(error: ureq::Error) -> HttpError {
    match error {
        ureq::Error::Timeout(_) => HttpError::Timeout,
        ureq::Error::HostNotFound => HttpError::Connection("host not found".into()),
        ureq::Error::ConnectionFailed => HttpError::Connection("connection failed".into()),
        ureq::Error::Io(e) => map_io_error(e),
        ureq::Error::BodyExceedsLimit(n) => HttpError::TooLarge(n),
        ureq::Error::Tls(msg) => HttpError::Tls(msg.to_string()),
        ureq::Error::Rustls(e) => HttpError::Tls(e.to_string()),
        ureq::Error::TooManyRedirects => HttpError::Other("too many redirects".into()),
        other => HttpError::Other(other.to_string()),
    }
}

fn map_io_error(error: std::io::Error) -> HttpError {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => HttpError::Timeout,
        _ => HttpError::Connection(error.to_string()),
    }
}

/// What a reader thread hands to the guest.
enum Piece {
    Data(Vec<u8>),
    End,
    Failed(HttpError),
}

/// Reads a body into the channel until it ends, fails, or nobody listens any more.
fn pump_body(mut reader: impl Read, limit: u64, tx: &SyncSender<Piece>, listener: &Listener) {
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut total: u64 = 0;
    loop {
        let piece = match reader.read(&mut buf) {
            Ok(0) => Piece::End,
            Ok(n) => {
                total += n as u64;
                if total > limit {
                    Piece::Failed(HttpError::TooLarge(limit))
                } else {
                    Piece::Data(buf[..n].to_vec())
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => Piece::Failed(map_ureq_error(ureq::Error::from(e))),
        };
        let last = !matches!(piece, Piece::Data(_));
        let delivered = tx.send(piece).is_ok();
        listener.notify();
        if last || !delivered {
            return;
        }
    }
}

/// What is known of a streamed response's head.
#[derive(Default)]
enum Head {
    /// The request is on its way; no status yet.
    #[default]
    Awaiting,
    Known {
        status: u16,
        headers: Vec<(String, String)>,
    },
    /// The request failed before any header; the error waits in the body channel.
    Failed,
}

/// The head of one streamed response, written once by its thread.
#[derive(Default)]
struct HeadCell {
    head: Mutex<Head>,
    arrived: Condvar,
}

impl HeadCell {
    fn set(&self, head: Head) {
        if let Ok(mut slot) = self.head.lock() {
            *slot = head;
        }
        self.arrived.notify_all();
    }

    /// Runs `f` on the head once it is no longer [`Head::Awaiting`] (blocks until then).
    fn with_known<T>(&self, f: impl FnOnce(&Head) -> T) -> T {
        let Ok(guard) = self.head.lock() else {
            return f(&Head::Failed);
        };
        match self
            .arrived
            .wait_while(guard, |h| matches!(h, Head::Awaiting))
        {
            Ok(head) => f(&head),
            Err(_) => f(&Head::Failed),
        }
    }

    fn is_known(&self) -> bool {
        self.head
            .lock()
            .map(|h| !matches!(*h, Head::Awaiting))
            .unwrap_or(true)
    }
}

/// A streamed response: the head arrives first (see [`HttpStream::ready`]), then the body in
/// chunks.
pub struct HttpStream {
    head: Arc<HeadCell>,
    rx: Receiver<Piece>,
    /// Whom the reader thread wakes.
    listener: Listener,
    /// `Some(Ok)` after the end, `Some(Err)` after a failure: later reads repeat it.
    finished: Option<Result<(), HttpError>>,
}

impl std::fmt::Debug for HttpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpStream")
            .field("ready", &self.ready())
            .finish_non_exhaustive()
    }
}

impl HttpStream {
    /// Makes `readiness` the signal this stream's news raises from now on. A poller calls it
    /// before it looks (`ready`, `poll_chunk`), so news arriving after the look wakes it.
    pub fn listen(&self, readiness: &Readiness) {
        self.listener.point_at(readiness);
    }

    /// Whether the status and headers are known (or the request failed before them). Never
    /// blocks.
    pub fn ready(&self) -> bool {
        self.head.is_known()
    }

    /// The response status; blocks until [`HttpStream::ready`]. 0 when the request failed
    /// before any header: the next read returns the typed error.
    pub fn status(&self) -> u16 {
        self.head.with_known(|head| match head {
            Head::Known { status, .. } => *status,
            _ => 0,
        })
    }

    /// The response headers, in the order received; blocks like [`HttpStream::status`] (empty
    /// after a failure).
    pub fn headers(&self) -> Vec<(String, String)> {
        self.head.with_known(|head| match head {
            Head::Known { headers, .. } => headers.clone(),
            _ => Vec::new(),
        })
    }

    /// Blocks until bytes arrive; `None` at the end of the body.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        if let Some(done) = &self.finished {
            return done.clone().map(|()| None);
        }
        let piece = self.rx.recv().unwrap_or(Piece::Failed(reader_gone()));
        self.take(piece).map(|poll| match poll {
            ChunkPoll::Data(bytes) => Some(bytes),
            ChunkPoll::Pending | ChunkPoll::End => None,
        })
    }

    /// Never blocks.
    pub fn poll_chunk(&mut self) -> Result<ChunkPoll, HttpError> {
        if let Some(done) = &self.finished {
            return done.clone().map(|()| ChunkPoll::End);
        }
        match self.rx.try_recv() {
            Ok(piece) => self.take(piece),
            Err(TryRecvError::Empty) => Ok(ChunkPoll::Pending),
            Err(TryRecvError::Disconnected) => self.take(Piece::Failed(reader_gone())),
        }
    }

    fn take(&mut self, piece: Piece) -> Result<ChunkPoll, HttpError> {
        match piece {
            Piece::Data(bytes) => Ok(ChunkPoll::Data(bytes)),
            Piece::End => {
                self.finished = Some(Ok(()));
                Ok(ChunkPoll::End)
            }
            Piece::Failed(error) => {
                self.finished = Some(Err(error.clone()));
                Err(error)
            }
        }
    }
}

impl Drop for HttpStream {
    /// Whoever waits on this stream learns that it is gone (when its instance is discarded,
    /// its streams go with it, and a waiting reader must look again and find out).
    fn drop(&mut self) {
        self.listener.notify();
    }
}

fn reader_gone() -> HttpError {
    HttpError::Connection("the response body reader stopped unexpectedly".into())
}

#[cfg(test)]
mod tests;
