//! HTTP client tests against a scripted loopback server (std `TcpListener`, no network).

use super::*;
use crate::sandbox::hosts::HostPattern;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::Sender;

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn empty() -> Seen {
        Seen {
            method: String::new(),
            path: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with one connection: write bytes, optionally waiting for a go signal.
type Script = Box<dyn FnOnce(&Seen, &mut TcpStream) + Send>;

/// A loopback server answering each accepted connection with the next script.
struct Server {
    port: u16,
    seen: Receiver<Seen>,
}

impl Server {
    fn start(scripts: Vec<Script>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("addr").port();
        let (tx, seen) = mpsc::channel();
        std::thread::spawn(move || {
            for script in scripts {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                let Some(request) = read_request(&mut stream) else {
                    return;
                };
                let _ = tx.send(request.clone());
                script(&request, &mut stream);
            }
        });
        Server { port, seen }
    }

    /// A server that sends the head and `first` of a chunked body, then waits for `go` to
    /// send the rest (dropping `go` leaves the body stalled).
    fn chunked_in_two() -> (Server, Sender<()>) {
        let (go, go_rx) = mpsc::channel();
        (Server::start(vec![chunked_in_two(go_rx)]), go)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The grant for this server's host and port.
    fn grant(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A client granted this server only, with the defaults of [`TestClient`].
    fn client(&self) -> HttpClient {
        TestClient::granting([self.grant()]).build()
    }

    fn next_request(&self) -> Seen {
        self.seen
            .recv_timeout(Duration::from_secs(10))
            .expect("the server saw a request")
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}

fn respond(
    status_line: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
) -> Script {
    Box::new(move |_, stream| {
        let mut text = format!(
            "HTTP/1.1 {status_line}\r\ncontent-length: {}\r\nconnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        text.push_str(body);
        let _ = stream.write_all(text.as_bytes());
    })
}

fn redirect_to(location: String, status: u16) -> Script {
    Box::new(move |_, stream| {
        let text = format!("HTTP/1.1 {status} Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        let _ = stream.write_all(text.as_bytes());
    })
}

/// A script that sends nothing and holds the connection open until the sender is dropped.
fn silent_until_dropped() -> (Sender<()>, Script) {
    let (hold, hold_rx) = mpsc::channel::<()>();
    let script: Script = Box::new(move |_, _| {
        let _ = hold_rx.recv_timeout(Duration::from_secs(30));
    });
    (hold, script)
}

/// A loopback port nobody listens on (bound once, then released).
fn refused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The client under test: granted `hosts`; by default a 20 s timeout, a fresh readiness
/// signal and no log.
struct TestClient {
    hosts: Vec<String>,
    timeout: Duration,
    readiness: Readiness,
    log: Logger,
}

impl TestClient {
    fn granting(hosts: impl IntoIterator<Item = String>) -> TestClient {
        TestClient {
            hosts: hosts.into_iter().collect(),
            timeout: Duration::from_secs(20),
            readiness: Readiness::new(),
            log: null_log(),
        }
    }

    fn timeout(mut self, timeout: Duration) -> TestClient {
        self.timeout = timeout;
        self
    }

    fn readiness(mut self, readiness: &Readiness) -> TestClient {
        self.readiness = readiness.clone();
        self
    }

    fn log(mut self, log: &Logger) -> TestClient {
        self.log = log.clone();
        self
    }

    fn build(self) -> HttpClient {
        let grants = Grants {
            http_hosts: self
                .hosts
                .iter()
                .map(|h| HostPattern::parse(h).expect("pattern"))
                .collect(),
            ..Default::default()
        };
        HttpClient::new(Arc::new(grants), self.timeout, self.readiness, self.log)
    }
}

fn get(url: String, headers: &[(&str, &str)]) -> HttpRequest {
    HttpRequest {
        method: HttpMethod::Get,
        url,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: None,
        redirect_policy: RedirectPolicy::FollowAll,
        timeout_ms: None,
        max_body_bytes: None,
    }
}

/// Variations on a [`get`] request.
trait RequestBuilder {
    fn post(self, body: &[u8]) -> Self;
    fn timeout_ms(self, ms: u32) -> Self;
    fn redirects(self, policy: RedirectPolicy) -> Self;
}

impl RequestBuilder for HttpRequest {
    fn post(mut self, body: &[u8]) -> HttpRequest {
        self.method = HttpMethod::Post;
        self.body = Some(body.to_vec());
        self
    }

    fn timeout_ms(mut self, ms: u32) -> HttpRequest {
        self.timeout_ms = Some(ms);
        self
    }

    fn redirects(mut self, policy: RedirectPolicy) -> HttpRequest {
        self.redirect_policy = policy;
        self
    }
}

/// The value of header `name` (exact name) in a response's list.
fn header_value(headers: &[(String, String)], name: &str) -> Option<String> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// Whether the list holds header `name` (exact name) with `value`.
fn has_header(headers: &[(String, String)], name: &str, value: &str) -> bool {
    headers.iter().any(|(k, v)| k == name && v == value)
}

/// Reads a stream to its end; every chunk is non-empty and at most [`CHUNK_BYTES`].
fn read_to_end(stream: &mut HttpStream) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(bytes) = stream.next_chunk().expect("chunk") {
        assert!(!bytes.is_empty() && bytes.len() <= CHUNK_BYTES);
        body.extend(bytes);
    }
    body
}

#[test]
fn a_4xx_is_a_response_with_headers_and_body() {
    let server = Server::start(vec![respond(
        "401 Unauthorized",
        &[("x-github-request-id", "ABC:123"), ("retry-after", "7")],
        r#"{"message":"Bad credentials"}"#,
    )]);
    let client = server.client();
    let response = client
        .fetch(get(server.url("/user"), &[("authorization", "token x")]))
        .expect("a response");
    assert_eq!(response.status, 401);
    let header = |n: &str| header_value(&response.headers, n);
    assert_eq!(header("x-github-request-id").as_deref(), Some("ABC:123"));
    assert_eq!(header("retry-after").as_deref(), Some("7"));
    assert_eq!(response.body, br#"{"message":"Bad credentials"}"#);
    let seen = server.next_request();
    assert_eq!((seen.method.as_str(), seen.path.as_str()), ("GET", "/user"));
    assert_eq!(seen.header("authorization"), Some("token x"));
}

#[test]
fn post_sends_the_body() {
    let server = Server::start(vec![respond("200 OK", &[], "ok")]);
    let client = server.client();
    let request =
        get(server.url("/chat"), &[("content-type", "application/json")]).post(b"{\"a\":1}");
    assert_eq!(client.fetch(request).expect("ok").body, b"ok");
    let seen = server.next_request();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.body, b"{\"a\":1}");
}

#[test]
fn denied_host_is_typed_logged_and_never_contacted() {
    let log = Logger::new(crate::log::LogSink::Capture);
    let client = TestClient::granting(["api.github.com".into()]).log(&log).build();
    let error = client
        .fetch(get("https://evil.example.com/x".into(), &[]))
        .unwrap_err();
    assert_eq!(error, HttpError::Denied("evil.example.com".into()));
    let error = client
        .fetch(get("http://api.github.com/x".into(), &[]))
        .unwrap_err();
    assert_eq!(error, HttpError::Denied("api.github.com".into()));
    assert!(
        log.lines()
            .iter()
            .any(|l| l.contains("denied") && l.contains("evil.example.com")),
        "{:?}",
        log.lines()
    );
}

#[test]
fn redirect_to_another_host_drops_credentials() {
    let target = Server::start(vec![respond("200 OK", &[], "landed")]);
    let origin = Server::start(vec![redirect_to(
        format!("http://localhost:{}/next", target.port),
        302,
    )]);
    let client =
        TestClient::granting([origin.grant(), format!("localhost:{}", target.port)]).build();
    let request = get(
        origin.url("/start"),
        &[
            ("Authorization", "Bearer secret"),
            ("Cookie", "c=1"),
            ("x-keep", "yes"),
        ],
    );
    let response = client.fetch(request).expect("followed");
    assert_eq!(response.body, b"landed");
    assert_eq!(
        origin.next_request().header("authorization"),
        Some("Bearer secret")
    );
    let landed = target.next_request();
    assert_eq!(landed.path, "/next");
    assert_eq!(landed.header("authorization"), None);
    assert_eq!(landed.header("cookie"), None);
    assert_eq!(landed.header("x-keep"), Some("yes"));
}

#[test]
fn redirect_on_the_same_origin_keeps_credentials_and_307_keeps_the_body() {
    let server = Server::start(vec![
        redirect_to("/second".into(), 307),
        respond("200 OK", &[], "done"),
    ]);
    let client = server.client();
    let request = get(server.url("/first"), &[("authorization", "Bearer s")]).post(b"payload");
    assert_eq!(client.fetch(request).expect("ok").body, b"done");
    let _first = server.next_request();
    let second = server.next_request();
    assert_eq!(
        (second.method.as_str(), second.path.as_str()),
        ("POST", "/second")
    );
    assert_eq!(second.header("authorization"), Some("Bearer s"));
    assert_eq!(second.body, b"payload");
}

#[test]
fn redirect_to_an_ungranted_host_is_denied() {
    let origin = Server::start(vec![redirect_to(
        "https://evil.example.com/steal".into(),
        302,
    )]);
    let client = origin.client();
    let error = client
        .fetch(get(origin.url("/"), &[("authorization", "Bearer s")]))
        .unwrap_err();
    assert_eq!(error, HttpError::Denied("evil.example.com".into()));
}

#[test]
fn no_follow_returns_the_redirect_itself() {
    let origin = Server::start(vec![redirect_to("/elsewhere".into(), 301)]);
    let client = origin.client();
    let request = get(origin.url("/"), &[]).redirects(RedirectPolicy::NoFollow);
    let response = client.fetch(request).expect("response");
    assert_eq!(response.status, 301);
    assert!(has_header(&response.headers, "location", "/elsewhere"));
}

#[test]
fn follow_limit_is_enforced() {
    let origin = Server::start(vec![
        redirect_to("/a".into(), 302),
        redirect_to("/b".into(), 302),
    ]);
    let client = origin.client();
    let request = get(origin.url("/"), &[]).redirects(RedirectPolicy::FollowLimit(1));
    assert!(
        matches!(client.fetch(request), Err(HttpError::Other(m)) if m.contains("too many redirects"))
    );
}

#[test]
fn silence_past_the_timeout_is_a_timeout() {
    let (hold, silent) = silent_until_dropped();
    let server = Server::start(vec![silent]);
    let request = get(server.url("/slow"), &[]).timeout_ms(200);
    assert_eq!(server.client().fetch(request).unwrap_err(), HttpError::Timeout);
    drop(hold);
}

#[test]
fn connection_refused_is_a_connection_error() {
    let port = refused_port();
    let client = TestClient::granting([format!("127.0.0.1:{port}")]).build();
    let error = client
        .fetch(get(format!("http://127.0.0.1:{port}/"), &[]))
        .unwrap_err();
    assert!(matches!(error, HttpError::Connection(_)), "{error:?}");
}

/// A chunked response whose second half waits for `go`.
fn chunked_in_two(go: Receiver<()>) -> Script {
    Box::new(move |_, stream| {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(b"5\r\nfirst\r\n");
        let _ = stream.flush();
        if go.recv_timeout(Duration::from_secs(30)).is_err() {
            return;
        }
        let _ = stream.write_all(b"6\r\nsecond\r\n0\r\n\r\n");
    })
}

fn poll_until_data(stream: &mut HttpStream, readiness: &Readiness) -> Vec<u8> {
    loop {
        let seen = readiness.generation();
        match stream.poll_chunk().expect("poll") {
            ChunkPoll::Data(bytes) => return bytes,
            ChunkPoll::Pending => {
                readiness.wait_for_change(seen, Duration::from_millis(25));
            }
            ChunkPoll::End => panic!("ended early"),
        }
    }
}

#[test]
fn stream_exposes_headers_then_chunks_then_pending_then_end() {
    let (server, go) = Server::chunked_in_two();
    let readiness = Readiness::new();
    let client = TestClient::granting([server.grant()]).readiness(&readiness).build();
    let mut stream = client
        .fetch_stream(get(server.url("/stream"), &[]), None)
        .expect("stream");
    assert_eq!(stream.status(), 200);
    assert!(has_header(&stream.headers(), "content-type", "text/event-stream"));
    assert_eq!(poll_until_data(&mut stream, &readiness), b"first");
    // The server holds the rest until told: nothing can be buffered yet.
    assert_eq!(stream.poll_chunk(), Ok(ChunkPoll::Pending));
    go.send(()).unwrap();
    assert_eq!(read_to_end(&mut stream), b"second");
    assert_eq!(stream.next_chunk(), Ok(None));
    assert_eq!(stream.poll_chunk(), Ok(ChunkPoll::End));
}

#[test]
fn stream_error_status_is_visible_before_the_body() {
    let server = Server::start(vec![respond(
        "429 Too Many Requests",
        &[("retry-after", "30")],
        "{\"error\":\"slow down\"}",
    )]);
    let client = server.client();
    let mut stream = client
        .fetch_stream(get(server.url("/chat"), &[]), None)
        .expect("stream");
    assert_eq!(stream.status(), 429);
    assert_eq!(read_to_end(&mut stream), b"{\"error\":\"slow down\"}");
}

#[test]
fn truncated_stream_is_a_typed_error() {
    let script: Script = Box::new(|_, stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly-this");
    });
    let server = Server::start(vec![script]);
    let client = server.client();
    let mut stream = client
        .fetch_stream(get(server.url("/"), &[]), None)
        .expect("stream");
    let error = loop {
        match stream.next_chunk() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("a truncated body must not end cleanly"),
            Err(e) => break e,
        }
    };
    assert!(matches!(error, HttpError::Connection(_)), "{error:?}");
    assert_eq!(stream.next_chunk(), Err(error));
}

#[test]
fn a_stalled_body_ends_with_a_timeout() {
    let (server, go) = Server::chunked_in_two();
    let client = TestClient::granting([server.grant()])
        .timeout(Duration::from_millis(300))
        .build();
    let mut stream = client
        .fetch_stream(get(server.url("/"), &[]), None)
        .expect("stream");
    assert_eq!(stream.next_chunk(), Ok(Some(b"first".to_vec())));
    assert_eq!(stream.next_chunk(), Err(HttpError::Timeout));
    assert_eq!(stream.poll_chunk(), Err(HttpError::Timeout));
    drop(go);
}

#[test]
fn a_stalled_body_ends_within_the_requests_own_timeout() {
    let (server, go) = Server::chunked_in_two();
    // The client default (20 s) would outlast the test; the request asks for 300 ms.
    let request = get(server.url("/"), &[]).timeout_ms(300);
    let mut stream = server.client().fetch_stream(request, None).expect("stream");
    assert_eq!(stream.next_chunk(), Ok(Some(b"first".to_vec())));
    assert_eq!(stream.next_chunk(), Err(HttpError::Timeout));
    drop(go);
}

#[test]
fn dropping_a_stream_releases_its_reader() {
    let (server, go) = Server::chunked_in_two();
    let stream = server
        .client()
        .fetch_stream(get(server.url("/"), &[]), None)
        .expect("stream");
    drop(stream);
    // The reader thread's next send fails and it exits; the server side still completes.
    go.send(()).unwrap();
}

#[test]
fn fetch_stream_returns_before_the_headers_and_readiness_signals_their_arrival() {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (body_tx, body_rx) = mpsc::channel();
    let script: Script = Box::new(move |_, stream| {
        // Headers only after the test says so.
        if go_rx.recv_timeout(Duration::from_secs(30)).is_err() {
            return;
        }
        chunked_in_two(body_rx)(&Seen::empty(), stream);
    });
    let server = Server::start(vec![script]);
    let readiness = Readiness::new();
    let client = TestClient::granting([server.grant()]).readiness(&readiness).build();
    let mut stream = client
        .fetch_stream(get(server.url("/stalls"), &[]), None)
        .expect("returns while the server holds its headers back");
    server.next_request();
    assert!(!stream.ready(), "no headers were sent yet");
    assert_eq!(stream.poll_chunk(), Ok(ChunkPoll::Pending));
    let seen = readiness.generation();
    go_tx.send(()).unwrap();
    while !stream.ready() {
        readiness.wait_for_change(seen, Duration::from_secs(10));
    }
    assert_ne!(
        readiness.generation(),
        seen,
        "the headers' arrival bumped readiness"
    );
    assert_eq!(stream.status(), 200);
    assert!(has_header(&stream.headers(), "content-type", "text/event-stream"));
    assert_eq!(poll_until_data(&mut stream, &readiness), b"first");
    drop(body_tx);
}

#[test]
fn a_streams_news_wakes_only_the_reader_it_was_opened_or_last_polled_for() {
    let (server, go) = Server::chunked_in_two();
    let client_signal = Readiness::new();
    let client = TestClient::granting([server.grant()])
        .readiness(&client_signal)
        .build();
    let (opener, poller) = (Readiness::new(), Readiness::new());
    let opened = (client_signal.generation(), opener.generation());
    let mut stream = client
        .fetch_stream(get(server.url("/"), &[]), Some(&opener))
        .expect("stream");
    // The headers and the first chunk raise the signal the stream was opened for.
    assert_eq!(poll_until_data(&mut stream, &opener), b"first");
    assert_ne!(opener.generation(), opened.1, "the opener was woken");
    assert_eq!(client_signal.generation(), opened.0, "the client's own signal stayed quiet");
    // Pointed at another reader, the rest of the body wakes that reader alone.
    stream.listen(&poller);
    let before = (opener.generation(), poller.generation());
    go.send(()).unwrap();
    assert_eq!(poll_until_data(&mut stream, &poller), b"second");
    assert_ne!(poller.generation(), before.1, "the new reader was woken");
    assert_eq!(opener.generation(), before.0, "the first reader was not");
    // A reader waiting on a stream learns when the stream goes away.
    let seen = poller.generation();
    drop(stream);
    assert_ne!(poller.generation(), seen, "dropping the stream woke its reader");
    assert_eq!(client_signal.generation(), opened.0);
}

#[test]
fn failures_before_the_headers_are_status_0_then_a_typed_read_error() {
    let refused_port = refused_port();
    let (hold, silent) = silent_until_dropped();
    let server = Server::start(vec![silent]);
    let client =
        TestClient::granting([format!("127.0.0.1:{refused_port}"), server.grant()]).build();
    let mut refused = client
        .fetch_stream(get(format!("http://127.0.0.1:{refused_port}/"), &[]), None)
        .expect("dispatched");
    assert_eq!(refused.status(), 0, "blocks until the failure, never traps");
    assert!(refused.ready());
    assert!(refused.headers().is_empty());
    assert!(matches!(
        refused.poll_chunk(),
        Err(HttpError::Connection(_))
    ));
    assert!(matches!(
        refused.next_chunk(),
        Err(HttpError::Connection(_))
    ));

    let request = get(server.url("/silent"), &[]).timeout_ms(200);
    let mut silent = client.fetch_stream(request, None).expect("dispatched");
    assert_eq!(silent.status(), 0);
    assert_eq!(silent.next_chunk(), Err(HttpError::Timeout));
    drop(hold);

    // A denied host needs no I/O: refused at once.
    assert_eq!(
        client
            .fetch_stream(get("http://example.invalid/".into(), &[]), None)
            .unwrap_err(),
        HttpError::Denied("example.invalid".into())
    );
}

#[test]
fn resolves_locations() {
    let base = "https://api.github.com/a/b?q=1";
    assert_eq!(
        resolve_location(base, "https://x.com/y").as_deref(),
        Some("https://x.com/y")
    );
    assert_eq!(
        resolve_location(base, "//x.com/y").as_deref(),
        Some("https://x.com/y")
    );
    assert_eq!(
        resolve_location(base, "/root").as_deref(),
        Some("https://api.github.com/root")
    );
    assert_eq!(
        resolve_location(base, "sib").as_deref(),
        Some("https://api.github.com/a/sib")
    );
    assert_eq!(
        resolve_location(base, "/p?next=https://x").as_deref(),
        Some("https://api.github.com/p?next=https://x")
    );
    assert_eq!(resolve_location(base, "  "), None);
}

fn null_log() -> Logger {
    Logger::new(crate::log::LogSink::Null)
}

#[test]
fn a_body_over_the_requests_own_limit_is_too_large_with_that_limit() {
    let server = Server::start(vec![
        respond("200 OK", &[], "0123456789abcdef"),
        respond("200 OK", &[], "0123456789"),
    ]);
    let client = server.client();
    let mut request = get(server.url("/big"), &[]);
    request.max_body_bytes = Some(10);
    // Declared by content-length: refused before the body is read.
    assert_eq!(client.fetch(request.clone()), Err(HttpError::TooLarge(10)));
    // Exactly the limit is fine.
    assert_eq!(client.fetch(request).expect("fits").body, b"0123456789");
}

#[test]
fn a_streamed_body_over_the_requests_own_limit_ends_too_large() {
    let server = Server::start(vec![respond("200 OK", &[], "0123456789abcdef")]);
    let mut request = get(server.url("/stream"), &[]);
    request.max_body_bytes = Some(4);
    let mut stream = server.client().fetch_stream(request, None).expect("stream");
    let mut seen = 0;
    let error = loop {
        match stream.next_chunk() {
            Ok(Some(bytes)) => seen += bytes.len(),
            Ok(None) => panic!("the body must not end cleanly"),
            Err(e) => break e,
        }
    };
    assert_eq!(error, HttpError::TooLarge(4));
    assert!(seen <= 4, "handed over {seen} bytes");
}

#[test]
fn open_streams_are_capped_and_a_closed_one_frees_its_slot() {
    // The first connection is held silent; the others wait in the listen backlog, so every
    // stream's reader thread stays busy waiting for headers.
    let (hold, script) = silent_until_dropped();
    let server = Server::start(vec![script]);
    let client = server.client();
    let mut open = Vec::new();
    for _ in 0..MAX_OPEN_STREAMS {
        open.push(client.fetch_stream(get(server.url("/"), &[]), None).expect("within the cap"));
    }
    match client.fetch_stream(get(server.url("/"), &[]), None) {
        Err(HttpError::Other(message)) => assert!(message.contains("too many open streams"), "{message}"),
        Err(other) => panic!("unexpected {other:?}"),
        Ok(_) => panic!("one stream over the cap must be refused"),
    }
    // Giving one back (its thread ends) lets the next one in.
    drop(open.pop());
    drop(hold);
    let mut admitted = None;
    for _ in 0..200 {
        match client.fetch_stream(get(server.url("/"), &[]), None) {
            Ok(stream) => {
                admitted = Some(stream);
                break;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    assert!(admitted.is_some(), "a freed slot is reused");
}
