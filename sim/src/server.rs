//! Listener, connections, dispatch and shutdown.
//!
//! Design: one accept thread and one thread per connection, so a stalled response only ever
//! holds its own connection. Every request is recorded before anything else happens, then a
//! queued fault for its route applies, then the route's handler answers. Shutdown is a flag
//! plus a condvar (which releases stalled and delayed handlers at once), a shutdown of every
//! open socket (which releases blocked reads and the clients waiting on stalled streams), and
//! a loopback connect that wakes the blocking `accept`.

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::catalog::Policies;
use crate::chat::{self, ChatScript};
use crate::device::{self, DeviceState};
use crate::faults::{Fault, FaultTable};
use crate::http::{self, After, Body, Framing, HttpError, Response};
use crate::ids::Ids;
use crate::reply::{self, Service};
use crate::session::{self, SessionRegistry};
use crate::{catalog, messages, responses, user, Recorded, Route, SimConfig};

/// Latest instant `httpdate` formats (9999-12-31T23:59:59Z); later clocks fall back to real time.
const MAX_HTTP_DATE_SECS: u64 = 253_402_300_799;
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(20);

/// Locks a mutex, recovering the data if a handler thread panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The "simulator is stopping" flag, with a condvar for handlers that wait on it.
#[derive(Default)]
pub(crate) struct StopSignal {
    stopped: Mutex<bool>,
    changed: Condvar,
}

impl StopSignal {
    /// Marks the simulator stopped and wakes every waiter.
    pub fn trigger(&self) {
        *lock(&self.stopped) = true;
        self.changed.notify_all();
    }

    /// Whether the simulator is stopping.
    pub fn is_stopped(&self) -> bool {
        *lock(&self.stopped)
    }

    /// Blocks until the simulator stops.
    pub fn wait_until_stopped(&self) {
        let mut stopped = lock(&self.stopped);
        while !*stopped {
            stopped = self
                .changed
                .wait(stopped)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Sleeps for `duration` unless the simulator stops first; true if the full time passed.
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now().checked_add(duration);
        let mut stopped = lock(&self.stopped);
        while !*stopped {
            let remaining = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if remaining.is_zero() {
                return true;
            }
            stopped = self
                .changed
                .wait_timeout(stopped, remaining)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        false
    }
}

/// Open connections, so shutdown can close them; `closed` refuses late registrations.
#[derive(Default)]
struct Connections {
    closed: bool,
    next_id: u64,
    open: HashMap<u64, TcpStream>,
}

/// State shared by the `Sim` handle, the accept thread and the connection threads.
pub(crate) struct Shared {
    pub config: SimConfig,
    pub url: String,
    pub ids: Ids,
    pub stop: StopSignal,
    log: Mutex<Vec<Recorded>>,
    faults: Mutex<FaultTable>,
    scripts: Mutex<VecDeque<ChatScript>>,
    sessions: Mutex<SessionRegistry>,
    policies: Mutex<Policies>,
    device: Mutex<DeviceState>,
    connections: Mutex<Connections>,
    /// Simulators whose session tokens this one accepts (weak: no cycle keeps them alive).
    trusted: Mutex<Vec<Weak<Shared>>>,
}

impl Shared {
    fn new(config: SimConfig, url: String) -> Shared {
        Shared {
            config,
            url,
            ids: Ids::default(),
            stop: StopSignal::default(),
            log: Mutex::default(),
            faults: Mutex::default(),
            scripts: Mutex::default(),
            sessions: Mutex::default(),
            policies: Mutex::default(),
            device: Mutex::default(),
            connections: Mutex::default(),
            trusted: Mutex::default(),
        }
    }

    /// "Now" in unix seconds, from the configured clock.
    pub fn now(&self) -> u64 {
        (self.config.clock)()
    }

    /// A copy of the request log.
    pub fn recorded(&self) -> Vec<Recorded> {
        lock(&self.log).clone()
    }

    /// Empties the request log.
    pub fn clear_recorded(&self) {
        lock(&self.log).clear();
    }

    fn record(&self, rec: Recorded) {
        lock(&self.log).push(rec);
    }

    /// The fault queues.
    pub fn faults(&self) -> MutexGuard<'_, FaultTable> {
        lock(&self.faults)
    }

    /// Queues a scripted chat answer.
    pub fn push_script(&self, script: ChatScript) {
        lock(&self.scripts).push_back(script);
    }

    /// Takes the next scripted chat answer.
    pub fn pop_script(&self) -> Option<ChatScript> {
        lock(&self.scripts).pop_front()
    }

    /// Issued session tokens.
    pub fn sessions(&self) -> MutexGuard<'_, SessionRegistry> {
        lock(&self.sessions)
    }

    /// Model policy states changed through `POST /models/{id}/policy`.
    pub fn policies(&self) -> MutexGuard<'_, Policies> {
        lock(&self.policies)
    }

    /// Accepts the session tokens `issuer` issues.
    pub fn trust(&self, issuer: &Arc<Shared>) {
        lock(&self.trusted).push(Arc::downgrade(issuer));
    }

    /// `expires_at` of a session token this simulator or a trusted one issued.
    pub fn session_expiry(&self, token: &str) -> Option<u64> {
        if let Some(expiry) = self.sessions().expiry_of(token) {
            return Some(expiry);
        }
        let issuers: Vec<Arc<Shared>> = lock(&self.trusted)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        issuers
            .iter()
            .find_map(|issuer| issuer.sessions().expiry_of(token))
    }

    /// Device-flow sign-in state.
    pub fn device(&self) -> MutexGuard<'_, DeviceState> {
        lock(&self.device)
    }

    /// The `Date` header for "now" by the configured clock.
    fn http_date(&self) -> String {
        let secs = self.now();
        let time = if secs <= MAX_HTTP_DATE_SECS {
            UNIX_EPOCH + Duration::from_secs(secs)
        } else {
            SystemTime::now()
        };
        httpdate::fmt_http_date(time)
    }

    /// Tracks an accepted connection; `None` once shutdown has begun.
    fn register(&self, stream: &TcpStream) -> Option<u64> {
        let clone = stream.try_clone().ok()?;
        let mut conns = lock(&self.connections);
        if conns.closed {
            return None;
        }
        conns.next_id += 1;
        let id = conns.next_id;
        conns.open.insert(id, clone);
        Some(id)
    }

    fn deregister(&self, id: u64) {
        if let Some(stream) = lock(&self.connections).open.remove(&id) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Shuts every open socket down and refuses new ones.
    fn close_connections(&self) {
        let mut conns = lock(&self.connections);
        conns.closed = true;
        for (_, stream) in conns.open.drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// The running server: its address and accept thread.
pub(crate) struct Server {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Server {
    /// Binds `127.0.0.1:port` and starts accepting.
    pub fn start(config: SimConfig, port: u16) -> io::Result<(Arc<Shared>, Server)> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config, format!("http://{addr}")));
        let for_thread = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("copilot-sim-accept".into())
            .spawn(move || accept_loop(listener, for_thread))?;
        Ok((shared, Server { addr, accept }))
    }

    /// Stops accepting, releases every handler and socket, and joins the threads.
    pub fn stop(self, shared: &Shared) {
        shared.stop.trigger();
        shared.close_connections();
        // Wake the blocking accept(); if the connect fails the listener is already gone.
        let _ = TcpStream::connect(self.addr);
        let _ = self.accept.join();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        if shared.stop.is_stopped() {
            break;
        }
        let Ok(stream) = stream else {
            thread::sleep(ACCEPT_RETRY_PAUSE);
            continue;
        };
        workers.retain(|w| !w.is_finished());
        // Small SSE chunks must leave at once, not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let Some(id) = shared.register(&stream) else {
            break;
        };
        let for_thread = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("copilot-sim-conn".into())
            .spawn(move || serve_connection(stream, id, &for_thread));
        match spawned {
            Ok(worker) => workers.push(worker),
            Err(_) => shared.deregister(id),
        }
    }
    for worker in workers {
        let _ = worker.join();
    }
}

/// Serves requests on one connection until either side closes it.
fn serve_connection(stream: TcpStream, id: u64, shared: &Shared) {
    if let Ok(read_half) = stream.try_clone() {
        let mut reader = BufReader::new(read_half);
        let mut writer = stream;
        while !shared.stop.is_stopped() {
            match serve_one(&mut reader, &mut writer, shared) {
                Ok(After::Continue) => continue,
                Ok(After::Close) | Err(_) => break,
            }
        }
    }
    shared.deregister(id);
}

/// Reads, records and answers one request.
fn serve_one(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
    shared: &Shared,
) -> io::Result<After> {
    let head = match http::read_head(reader) {
        Ok(Some(head)) => head,
        Ok(None) => return Ok(After::Close),
        Err(e) => return reject(writer, e, shared),
    };
    if head.expects_continue() {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = match http::read_body(reader, &head) {
        Ok(body) => body,
        Err(e) => return reject(writer, e, shared),
    };
    let close = !head.keep_alive();
    let http10 = head.http10;
    let rec = Recorded {
        method: head.method,
        path: head.path,
        query: head.query,
        headers: head.headers,
        body,
        at: shared.now(),
    };
    shared.record(rec.clone());
    match respond(shared, &rec) {
        Some(response) => {
            let date = shared.http_date();
            let framing = Framing {
                date: &date,
                close,
                http10,
            };
            http::write_response(writer, response, &framing, &shared.stop)
        }
        None => Ok(After::Close),
    }
}

/// Answers an unreadable request (when there is anything to say) and closes.
fn reject(writer: &mut TcpStream, error: HttpError, shared: &Shared) -> io::Result<After> {
    let response = match error {
        HttpError::Io => return Ok(After::Close),
        HttpError::Malformed(why) => reply::text(400, &format!("bad request: {why}")),
        HttpError::TooLarge { head: true } => reply::text(431, "request head too large"),
        HttpError::TooLarge { head: false } => reply::text(413, "request body too large"),
    };
    let date = shared.http_date();
    let framing = Framing {
        date: &date,
        close: true,
        http10: false,
    };
    http::write_response(writer, response, &framing, &shared.stop)
}

/// What a fault leaves to do.
enum FaultOutcome {
    /// Send this instead of the normal answer.
    Answer(Response),
    /// Answer normally.
    Proceed,
    /// Send nothing and close (a stall, or a delay cut short by shutdown).
    Silence,
}

fn apply_fault(shared: &Shared, fault: Fault) -> FaultOutcome {
    match fault {
        Fault::Status {
            status,
            headers,
            body,
        } => FaultOutcome::Answer(reply::scripted_status(status, &headers, &body)),
        Fault::Garbage => FaultOutcome::Answer(reply::garbage()),
        Fault::Raw(bytes) => FaultOutcome::Answer(Response {
            status: 200,
            headers: Vec::new(),
            body: Body::Raw(bytes),
        }),
        Fault::Replay(replay) => FaultOutcome::Answer(replay.into_response()),
        Fault::Endless(piece) => FaultOutcome::Answer(Response {
            status: 200,
            headers: vec![("content-type".into(), reply::SSE.into())],
            body: Body::Endless(piece),
        }),
        Fault::Delay(duration) if shared.stop.sleep(duration) => FaultOutcome::Proceed,
        Fault::Delay(_) => FaultOutcome::Silence,
        Fault::Stall => {
            shared.stop.wait_until_stopped();
            FaultOutcome::Silence
        }
    }
}

/// The response to a recorded request: fault first, then the route's handler.
/// `None` means "send nothing and close".
fn respond(shared: &Shared, rec: &Recorded) -> Option<Response> {
    if let Some(response) = device::handle(shared, rec) {
        return Some(reply::stamp_ids(response, Service::GitHub, &shared.ids));
    }
    let route = Route::of(&rec.path);
    let service = match route {
        Some(r) if !r.is_github_api() => Service::Copilot,
        _ => Service::GitHub,
    };
    let fault = route.and_then(|r| shared.faults().take(r));
    let outcome = fault.map_or(FaultOutcome::Proceed, |f| apply_fault(shared, f));
    let response = match (outcome, route) {
        (FaultOutcome::Silence, _) => return None,
        (FaultOutcome::Answer(response), _) => response,
        (FaultOutcome::Proceed, None) => reply::not_found(),
        (FaultOutcome::Proceed, Some(Route::Token)) => session::exchange(shared, rec),
        (FaultOutcome::Proceed, Some(Route::User)) => user::handle(shared, rec),
        (FaultOutcome::Proceed, Some(Route::Models)) => catalog::handle(shared, rec),
        (FaultOutcome::Proceed, Some(Route::ChatCompletions)) => chat::handle(shared, rec),
        (FaultOutcome::Proceed, Some(Route::Responses)) => responses::handle(shared, rec),
        (FaultOutcome::Proceed, Some(Route::Messages)) => messages::handle(shared, rec),
    };
    Some(reply::stamp_ids(response, service, &shared.ids))
}
