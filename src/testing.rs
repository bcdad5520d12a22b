//! Test doubles shared by the unit tests of every module (compiled only under `cfg(test)`).
//!
//! Design decision: one scripted [`FakeHost`] implements [`HostApi`] completely, so a test
//! states its world (env, files, settings, clock, HTTP answers) as data and then asserts on
//! what the code did (recorded requests, logs, stored credentials). HTTP answers are routed by
//! URL prefix (the longest matching prefix wins) to a closure or a queue, and every request is
//! recorded, so caching and retries are proven by counting requests.
//!
//! ```ignore
//! let host = FakeHost::new()
//!     .with_env("HOME", "/home/u")
//!     .with_file("/home/u/.config/github-copilot/apps.json", br#"{...}"#)
//!     .at(1_000);
//! host.queue("https://api.github.com/copilot_internal/v2/token", Ok(json_response(200, "{...}")));
//! host.route("https://api.githubcopilot.com/", |req| Ok(json_response(200, "{}")));
//! host.advance(60);
//! assert_eq!(host.request_count("https://api.github.com/"), 1);
//! ```

use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionRequest, MessageContent, MessageRole,
};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use crate::host_api::{
    header, ByteStream, ChunkPoll, CredentialError, FileError, HostApi, HttpError, HttpRequest,
    HttpResponse, LogLevel, Os,
};

/// The scripted answer of a route: called with the request.
pub type Responder = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse, HttpError>>;
/// The scripted answer of a streaming route.
pub type StreamResponder = Box<dyn Fn(&HttpRequest) -> Result<Box<dyn ByteStream>, HttpError>>;

enum Answer {
    /// Answers come off the front; an empty queue answers `HttpError::Other`.
    Queue(RefCell<VecDeque<Result<HttpResponse, HttpError>>>),
    Func(Responder),
    Stream(StreamResponder),
}

struct Route {
    prefix: String,
    answer: Answer,
}

/// A scripted [`HostApi`]. Build it with the `with_*` methods, script HTTP with
/// [`FakeHost::queue`], [`FakeHost::route`] and [`FakeHost::route_stream`], then inspect
/// [`FakeHost::requests`] and [`FakeHost::logs`].
pub struct FakeHost {
    /// Environment variables; anything else is unset.
    pub env: HashMap<String, String>,
    /// Files by exact path; any other path is `FileError::NotFound`.
    pub files: HashMap<String, Vec<u8>>,
    /// Scripted file errors by exact path (checked before `files`).
    pub file_errors: HashMap<String, FileError>,
    /// The settings JSON handed out by `settings_json`.
    pub settings: String,
    /// The wall clock (unix seconds); see [`FakeHost::at`], [`FakeHost::advance`]. Shared, so
    /// a route closure can hold a clone and let time pass while a request is "in flight".
    pub clock: Rc<Cell<u64>>,
    /// The platform `os()` reports.
    pub os: Os,
    /// The secret store.
    pub credentials: RefCell<HashMap<String, String>>,
    /// When set, every credential-store call fails with this error.
    pub credential_error: Option<CredentialError>,
    /// Body chunk size of streams built from plain responses (0 = the whole body at once).
    pub stream_chunk_size: Cell<usize>,
    routes: RefCell<Vec<Route>>,
    requests: RefCell<Vec<HttpRequest>>,
    logs: RefCell<Vec<(LogLevel, String)>>,
}

impl Default for FakeHost {
    fn default() -> Self {
        FakeHost::new()
    }
}

impl FakeHost {
    /// The routed answer, whole, whatever its size.
    fn fetch_unlimited(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        match self.dispatch(request)? {
            Dispatched::Plain(response) => Ok(response),
            Dispatched::Stream(mut stream) => {
                let (status, headers) = (stream.status(), stream.headers());
                let mut body = Vec::new();
                while let Some(chunk) = stream.next_chunk()? {
                    body.extend_from_slice(&chunk);
                }
                Ok(HttpResponse {
                    status,
                    headers,
                    body,
                })
            }
        }
    }

    /// Linux, no env, no files, settings `{}`, clock at 1,000,000 s, no routes.
    pub fn new() -> Self {
        FakeHost {
            env: HashMap::new(),
            files: HashMap::new(),
            file_errors: HashMap::new(),
            settings: "{}".to_string(),
            clock: Rc::new(Cell::new(1_000_000)),
            os: Os::Linux,
            credentials: RefCell::new(HashMap::new()),
            credential_error: None,
            stream_chunk_size: Cell::new(0),
            routes: RefCell::new(Vec::new()),
            requests: RefCell::new(Vec::new()),
            logs: RefCell::new(Vec::new()),
        }
    }

    /// Sets an environment variable.
    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_string(), value.to_string());
        self
    }

    /// Adds a readable file.
    pub fn with_file(mut self, path: &str, bytes: &[u8]) -> Self {
        self.files.insert(path.to_string(), bytes.to_vec());
        self
    }

    /// Makes reading `path` fail with `error`.
    pub fn with_file_error(mut self, path: &str, error: FileError) -> Self {
        self.file_errors.insert(path.to_string(), error);
        self
    }

    /// Sets the settings JSON.
    pub fn with_settings(mut self, json: &str) -> Self {
        self.settings = json.to_string();
        self
    }

    /// Sets the platform.
    pub fn with_os(mut self, os: Os) -> Self {
        self.os = os;
        self
    }

    /// Sets the clock.
    pub fn at(self, now: u64) -> Self {
        self.clock.set(now);
        self
    }

    /// Moves the clock to `now`.
    pub fn set_now(&self, now: u64) {
        self.clock.set(now);
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.clock.set(self.clock.get().saturating_add(secs));
    }

    /// Appends `answer` to the queue of the route for `prefix` (creating the route).
    pub fn queue(&self, prefix: &str, answer: Result<HttpResponse, HttpError>) {
        let mut routes = self.routes.borrow_mut();
        let existing = routes.iter().find_map(|r| match &r.answer {
            Answer::Queue(q) if r.prefix == prefix => Some(q),
            _ => None,
        });
        match existing {
            Some(q) => q.borrow_mut().push_back(answer),
            None => routes.push(Route {
                prefix: prefix.to_string(),
                answer: Answer::Queue(RefCell::new(VecDeque::from([answer]))),
            }),
        }
    }

    /// Answers every request under `prefix` with `f`. Replaces routes with the same prefix.
    pub fn route(
        &self,
        prefix: &str,
        f: impl Fn(&HttpRequest) -> Result<HttpResponse, HttpError> + 'static,
    ) {
        self.set_route(prefix, Answer::Func(Box::new(f)));
    }

    /// Answers every `fetch_stream` under `prefix` with a stream made by `f` (for example a
    /// [`MemoryStream`] with pending steps). Plain `fetch` on it reads the stream to the end.
    pub fn route_stream(
        &self,
        prefix: &str,
        f: impl Fn(&HttpRequest) -> Result<Box<dyn ByteStream>, HttpError> + 'static,
    ) {
        self.set_route(prefix, Answer::Stream(Box::new(f)));
    }

    fn set_route(&self, prefix: &str, answer: Answer) {
        let mut routes = self.routes.borrow_mut();
        routes.retain(|r| r.prefix != prefix);
        routes.push(Route {
            prefix: prefix.to_string(),
            answer,
        });
    }

    /// Every request made through `fetch` and `fetch_stream`, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.requests.borrow().clone()
    }

    /// How many requests went to URLs starting with `prefix`.
    pub fn request_count(&self, prefix: &str) -> usize {
        self.requests
            .borrow()
            .iter()
            .filter(|r| r.url.starts_with(prefix))
            .count()
    }

    /// Every log line, in order.
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.logs.borrow().clone()
    }

    /// All log messages joined by newlines (for `contains` checks).
    pub fn log_text(&self) -> String {
        self.logs
            .borrow()
            .iter()
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every request header value and URL, joined (to check where a token went).
    pub fn request_text(&self) -> String {
        let mut out = String::new();
        for r in self.requests.borrow().iter() {
            out.push_str(&r.url);
            for (k, v) in &r.headers {
                out.push_str(&format!("\n{k}: {v}"));
            }
            if let Some(body) = &r.body {
                out.push('\n');
                out.push_str(&String::from_utf8_lossy(body));
            }
            out.push_str("\n\n");
        }
        out
    }

    /// Runs the longest-prefix route for `request`, or says none matched.
    fn dispatch(&self, request: &HttpRequest) -> Result<Dispatched, HttpError> {
        self.requests.borrow_mut().push(request.clone());
        let routes = self.routes.borrow();
        let route = routes
            .iter()
            .filter(|r| request.url.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())
            .ok_or_else(|| {
                HttpError::Connection(format!("FakeHost: no route for {}", request.url))
            })?;
        match &route.answer {
            Answer::Queue(q) => match q.borrow_mut().pop_front() {
                Some(answer) => answer.map(Dispatched::Plain),
                None => Err(HttpError::Other(format!(
                    "FakeHost: no answer left for {}",
                    request.url
                ))),
            },
            Answer::Func(f) => f(request).map(Dispatched::Plain),
            Answer::Stream(f) => f(request).map(Dispatched::Stream),
        }
    }
}

enum Dispatched {
    Plain(HttpResponse),
    Stream(Box<dyn ByteStream>),
}

impl HostApi for FakeHost {
    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }

    fn read_file(&self, path: &str) -> Result<Vec<u8>, FileError> {
        if let Some(e) = self.file_errors.get(path) {
            return Err(e.clone());
        }
        self.files.get(path).cloned().ok_or(FileError::NotFound)
    }

    fn settings_json(&self) -> String {
        self.settings.clone()
    }

    fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        // Like the real host: never more than the request's own limit.
        let limit = request.max_body_bytes.unwrap_or(u64::MAX);
        let response = self.fetch_unlimited(&request)?;
        if response.body.len() as u64 > limit {
            return Err(HttpError::TooLarge(limit));
        }
        Ok(response)
    }

    fn fetch_stream(&self, request: &HttpRequest) -> Result<Box<dyn ByteStream>, HttpError> {
        match self.dispatch(request)? {
            Dispatched::Stream(stream) => Ok(stream),
            Dispatched::Plain(response) => Ok(Box::new(MemoryStream::from_response(
                response,
                self.stream_chunk_size.get(),
            ))),
        }
    }

    fn now_unix(&self) -> u64 {
        self.clock.get()
    }

    /// Never sleeps: a pause moves the fake clock one second forward (the clock has no finer
    /// grain), so a blocking wait for a retry time ends at once.
    fn pause(&self, _millis: u64) {
        self.advance(1);
    }

    fn os(&self) -> Os {
        self.os
    }

    fn log(&self, level: LogLevel, message: &str) {
        self.logs.borrow_mut().push((level, message.to_string()));
    }

    fn get_credential(&self, key: &str) -> Result<Option<String>, CredentialError> {
        self.check_credential_store()?;
        Ok(self.credentials.borrow().get(key).cloned())
    }

    fn store_credential(&self, key: &str, value: &str) -> Result<(), CredentialError> {
        self.check_credential_store()?;
        self.credentials
            .borrow_mut()
            .insert(key.to_string(), value.to_string());
        Ok(())
    }

    fn delete_credential(&self, key: &str) -> Result<(), CredentialError> {
        self.check_credential_store()?;
        self.credentials.borrow_mut().remove(key);
        Ok(())
    }
}

impl FakeHost {
    fn check_credential_store(&self) -> Result<(), CredentialError> {
        match &self.credential_error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

/// One step of a [`MemoryStream`].
#[derive(Clone, Debug)]
pub enum StreamStep {
    /// Body bytes.
    Data(Vec<u8>),
    /// `poll_chunk` answers `Pending` once; `next_chunk` skips it (it would have blocked).
    Pending,
    /// The transport fails here.
    Fail(HttpError),
}

/// An in-memory [`ByteStream`]: a status, headers and a script of body steps.
pub struct MemoryStream {
    status: u16,
    headers: Vec<(String, String)>,
    steps: VecDeque<StreamStep>,
    /// How many more `ready` calls answer false (the headers have "not arrived yet").
    not_ready: std::cell::Cell<usize>,
}

impl MemoryStream {
    /// A stream playing `steps` in order, then ending.
    pub fn new(status: u16, headers: Vec<(String, String)>, steps: Vec<StreamStep>) -> Self {
        MemoryStream {
            status,
            headers,
            steps: steps.into(),
            not_ready: std::cell::Cell::new(0),
        }
    }

    /// The same stream, whose `ready` answers false `polls` times before the headers "arrive"
    /// (a server slow to answer). Status 0 with a `Fail` step is a request that failed before
    /// any header.
    pub fn not_ready_for(self, polls: usize) -> Self {
        self.not_ready.set(polls);
        self
    }

    /// A stream of `response`'s body cut into `chunk_size`-byte chunks (0 = one chunk).
    pub fn from_response(response: HttpResponse, chunk_size: usize) -> Self {
        let size = if chunk_size == 0 {
            response.body.len().max(1)
        } else {
            chunk_size
        };
        let steps = response
            .body
            .chunks(size)
            .map(|c| StreamStep::Data(c.to_vec()))
            .collect();
        MemoryStream::new(response.status, response.headers, steps)
    }
}

impl ByteStream for MemoryStream {
    fn ready(&self) -> bool {
        let left = self.not_ready.get();
        self.not_ready.set(left.saturating_sub(1));
        left == 0
    }

    fn status(&self) -> u16 {
        // A real host would block here until the headers arrive: under the instance lock in a
        // non-blocking export, that is the bug this fake exists to catch.
        assert_eq!(self.not_ready.get(), 0, "status asked before the stream was ready");
        self.status
    }

    fn headers(&self) -> Vec<(String, String)> {
        assert_eq!(self.not_ready.get(), 0, "headers asked before the stream was ready");
        self.headers.clone()
    }

    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        loop {
            match self.steps.pop_front() {
                None => return Ok(None),
                Some(StreamStep::Pending) => continue,
                Some(StreamStep::Data(d)) if d.is_empty() => continue,
                Some(StreamStep::Data(d)) => return Ok(Some(d)),
                Some(StreamStep::Fail(e)) => return Err(e),
            }
        }
    }

    fn poll_chunk(&mut self) -> Result<ChunkPoll, HttpError> {
        loop {
            match self.steps.pop_front() {
                None => return Ok(ChunkPoll::End),
                Some(StreamStep::Pending) => return Ok(ChunkPoll::Pending),
                Some(StreamStep::Data(d)) if d.is_empty() => continue,
                Some(StreamStep::Data(d)) => return Ok(ChunkPoll::Data(d)),
                Some(StreamStep::Fail(e)) => return Err(e),
            }
        }
    }
}

/// A response with `status`, a JSON content type and `body`.
pub fn json_response(status: u16, body: &str) -> HttpResponse {
    response(
        status,
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

/// A response with `status`, `headers` and `body`.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    HttpResponse {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
    }
}

/// The value of header `name` (any case) in a recorded request.
pub fn request_header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    header(&request.headers, name)
}

/// A request of one user message with `content` and nothing else set.
pub fn user_request(content: Vec<MessageContent>) -> CompletionRequest {
    crate::completion::fixtures::request(vec![crate::completion::fixtures::message(MessageRole::User, content)])
}

/// The smallest request: one user message saying "hi".
pub fn hello() -> CompletionRequest {
    user_request(vec![MessageContent::Text("hi".into())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_api::{HttpMethod, RedirectPolicy};

    fn get(url: &str) -> HttpRequest {
        HttpRequest {
            method: HttpMethod::Get,
            url: url.to_string(),
            headers: vec![],
            body: None,
            redirect_policy: RedirectPolicy::NoFollow,
            timeout_ms: None,
            max_body_bytes: None,
        }
    }

    #[test]
    fn routes_by_longest_prefix_and_records() {
        let host = FakeHost::new();
        host.route("https://a.test/", |_| Ok(json_response(200, "short")));
        host.queue("https://a.test/x", Ok(json_response(201, "q1")));
        assert_eq!(
            host.fetch(get("https://a.test/x/1")).map(|r| r.status).ok(),
            Some(201)
        );
        assert!(matches!(
            host.fetch(get("https://a.test/x/2")),
            Err(HttpError::Other(_))
        ));
        assert_eq!(
            host.fetch(get("https://a.test/y")).map(|r| r.body).ok(),
            Some(b"short".to_vec())
        );
        assert!(matches!(
            host.fetch(get("https://b.test/")),
            Err(HttpError::Connection(_))
        ));
        assert_eq!(host.request_count("https://a.test/"), 3);
        assert_eq!(host.requests().len(), 4);
    }

    #[test]
    fn streams_from_responses_and_scripts() {
        let host = FakeHost::new();
        host.stream_chunk_size.set(2);
        host.route("https://a.test/", |_| Ok(json_response(200, "abcde")));
        let mut s = host.fetch_stream(&get("https://a.test/")).expect("stream");
        let mut chunks = Vec::new();
        while let Ok(Some(c)) = s.next_chunk() {
            chunks.push(c);
        }
        assert_eq!(chunks, vec![b"ab".to_vec(), b"cd".to_vec(), b"e".to_vec()]);

        let mut m = MemoryStream::new(
            200,
            vec![],
            vec![StreamStep::Pending, StreamStep::Data(b"x".to_vec())],
        );
        assert!(matches!(m.poll_chunk(), Ok(ChunkPoll::Pending)));
        assert!(matches!(m.poll_chunk(), Ok(ChunkPoll::Data(d)) if d == b"x"));
        assert!(matches!(m.poll_chunk(), Ok(ChunkPoll::End)));
    }

    #[test]
    fn files_env_clock_credentials() {
        let host = FakeHost::new()
            .with_env("A", "1")
            .with_file("/f", b"x")
            .with_file_error("/d", FileError::Denied)
            .at(10);
        assert_eq!(host.env("A").as_deref(), Some("1"));
        assert_eq!(host.env("B"), None);
        assert_eq!(host.read_file("/f").ok(), Some(b"x".to_vec()));
        assert!(matches!(host.read_file("/g"), Err(FileError::NotFound)));
        assert!(matches!(host.read_file("/d"), Err(FileError::Denied)));
        host.advance(5);
        assert_eq!(host.now_unix(), 15);
        host.store_credential("k", "v").expect("store");
        assert_eq!(
            host.get_credential("k").ok().flatten().as_deref(),
            Some("v")
        );
        host.delete_credential("k").expect("delete");
        assert_eq!(host.get_credential("k").ok().flatten(), None);
        host.log(LogLevel::Warn, "hello");
        assert_eq!(host.log_text(), "hello");
    }
}

