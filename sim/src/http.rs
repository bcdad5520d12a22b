//! Minimal HTTP/1.1 wire format for the simulator.
//!
//! Design: written on `std::io` so the simulator controls every byte a client sees: each
//! streamed piece goes out as its own chunk and is flushed, a response can stop mid-body and
//! hold the socket (stall) or end it (cut), and nothing is buffered behind our back. Requests
//! are untrusted: head and body sizes are capped, and malformed input is a typed error.

use std::io::{self, BufRead, Read, Write};

use crate::server::StopSignal;

/// Largest accepted request head (request line plus headers).
const MAX_HEAD_BYTES: u64 = 64 * 1024;
/// Largest accepted request body.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Blank lines tolerated before a request line (RFC 9112 §2.2).
const MAX_LEADING_BLANK_LINES: usize = 4;
/// Longest chunk-size line of a chunked request body.
const MAX_CHUNK_LINE: u64 = 1024;

/// Why a request could not be read.
#[derive(Debug)]
pub(crate) enum HttpError {
    /// The bytes are not an HTTP/1.x request; answer 400 and close.
    Malformed(&'static str),
    /// Head or body is over the limits; answer 413 (431 for the head) and close.
    TooLarge { head: bool },
    /// The socket failed or closed mid-request; just close.
    Io,
}

impl From<io::Error> for HttpError {
    fn from(_: io::Error) -> Self {
        HttpError::Io
    }
}

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct Head {
    pub method: String,
    pub path: String,
    pub query: String,
    pub http10: bool,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// First header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when the header's comma-separated value list contains `token` (case-insensitive).
    fn header_has(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the client lets the connection carry another request after this one.
    pub fn keep_alive(&self) -> bool {
        if self.http10 {
            self.header_has("connection", "keep-alive")
        } else {
            !self.header_has("connection", "close")
        }
    }

    /// Whether the client waits for `100 Continue` before sending the body.
    pub fn expects_continue(&self) -> bool {
        self.header_has("expect", "100-continue")
    }
}

/// Reads one request head; `Ok(None)` on a clean end of stream before any byte.
pub(crate) fn read_head(reader: &mut impl BufRead) -> Result<Option<Head>, HttpError> {
    let mut budget = MAX_HEAD_BYTES;
    let mut request_line = None;
    for _ in 0..=MAX_LEADING_BLANK_LINES {
        match read_line(reader, &mut budget)? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue,
            Some(line) => {
                request_line = Some(line);
                break;
            }
        }
    }
    let line = request_line.ok_or(HttpError::Malformed("no request line"))?;
    let (method, target, http10) = parse_request_line(&line)?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, &mut budget)?.ok_or(HttpError::Malformed("truncated head"))?;
        if line.is_empty() {
            break;
        }
        headers.push(parse_header(&line)?);
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    Ok(Some(Head {
        method,
        path,
        query,
        http10,
        headers,
    }))
}

/// Reads a CRLF- (or LF-) terminated line within the head budget, without the terminator.
fn read_line(reader: &mut impl BufRead, budget: &mut u64) -> Result<Option<String>, HttpError> {
    let mut raw = Vec::new();
    let n = reader.by_ref().take(*budget).read_until(b'\n', &mut raw)?;
    if n == 0 {
        return if *budget == 0 {
            Err(HttpError::TooLarge { head: true })
        } else {
            Ok(None)
        };
    }
    *budget = budget.saturating_sub(n as u64);
    if raw.last() != Some(&b'\n') {
        return Err(if *budget == 0 {
            HttpError::TooLarge { head: true }
        } else {
            HttpError::Malformed("truncated line")
        });
    }
    raw.pop();
    if raw.last() == Some(&b'\r') {
        raw.pop();
    }
    String::from_utf8(raw)
        .map(Some)
        .map_err(|_| HttpError::Malformed("non-UTF-8 head"))
}

fn parse_request_line(line: &str) -> Result<(String, String, bool), HttpError> {
    let mut parts = line.split(' ');
    let method = parts.next().filter(|m| is_token(m));
    let target = parts.next().and_then(origin_form);
    let version = parts.next();
    if parts.next().is_some() {
        return Err(HttpError::Malformed("request line has extra parts"));
    }
    match (method, target, version) {
        (Some(m), Some(t), Some("HTTP/1.1")) => Ok((m.to_string(), t.to_string(), false)),
        (Some(m), Some(t), Some("HTTP/1.0")) => Ok((m.to_string(), t.to_string(), true)),
        _ => Err(HttpError::Malformed("bad request line")),
    }
}

/// The origin-form (`/path?query`) of a request target; the absolute form a client sends
/// through a proxy (`http://host:port/path`) is reduced to it.
fn origin_form(target: &str) -> Option<&str> {
    if target.starts_with('/') {
        return Some(target);
    }
    let rest = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))?;
    Some(rest.find('/').map_or("/", |i| &rest[i..]))
}

fn parse_header(line: &str) -> Result<(String, String), HttpError> {
    let (name, value) = line
        .split_once(':')
        .ok_or(HttpError::Malformed("header without colon"))?;
    if !is_token(name) {
        return Err(HttpError::Malformed("bad header name"));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

/// RFC 9110 token characters (method and header names).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Reads the body the head announces (chunked or `content-length`; none otherwise).
pub(crate) fn read_body(reader: &mut impl BufRead, head: &Head) -> Result<Vec<u8>, HttpError> {
    if head.header_has("transfer-encoding", "chunked") {
        return read_chunked(reader);
    }
    let Some(length) = head.header("content-length") else {
        return Ok(Vec::new());
    };
    let length: usize = length
        .parse()
        .map_err(|_| HttpError::Malformed("bad content-length"))?;
    if length > MAX_BODY_BYTES {
        return Err(HttpError::TooLarge { head: false });
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(body)
}

fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    loop {
        let mut budget = MAX_CHUNK_LINE;
        let line =
            read_line(reader, &mut budget)?.ok_or(HttpError::Malformed("truncated chunk"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| HttpError::Malformed("bad chunk size"))?;
        if size == 0 {
            break;
        }
        if body.len().saturating_add(size) > MAX_BODY_BYTES {
            return Err(HttpError::TooLarge { head: false });
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(HttpError::Malformed("chunk not followed by CRLF"));
        }
    }
    // Trailer fields, up to the blank line; their content is ignored.
    let mut budget = MAX_HEAD_BYTES;
    while let Some(line) = read_line(reader, &mut budget)? {
        if line.is_empty() {
            break;
        }
    }
    Ok(body)
}

/// What a response body is.
pub(crate) enum Body {
    /// Sent whole with `content-length`.
    Full(Vec<u8>),
    /// Sent chunked, one flushed chunk per piece, possibly stalled or cut.
    Streamed(Streamed),
    /// Written verbatim in place of the whole response (status line and head included), then
    /// the connection closes: framing broken on purpose (a truncated chunk, a bad head).
    Raw(Vec<u8>),
    /// Sent chunked: this piece again and again until the client goes away or the simulator
    /// stops (an endless stream).
    Endless(Vec<u8>),
}

/// A chunked body and where (in body bytes) to stop sending it.
pub(crate) struct Streamed {
    pub pieces: Vec<Vec<u8>>,
    /// After this many body bytes, hold the connection open until the simulator stops.
    pub stall_after: Option<usize>,
    /// After this many body bytes, close the connection (no terminating chunk).
    pub cut_after: Option<usize>,
}

impl Streamed {
    /// A body streamed to the end.
    pub fn whole(pieces: Vec<Vec<u8>>) -> Streamed {
        Streamed {
            pieces,
            stall_after: None,
            cut_after: None,
        }
    }
}

/// A response ready to write.
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Response {
    /// First header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Adds a header unless one with that name is already present.
    pub fn with_default_header(mut self, name: &str, value: impl Into<String>) -> Response {
        if self.header(name).is_none() {
            self.headers.push((name.to_string(), value.into()));
        }
        self
    }
}

/// What the connection does after a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum After {
    /// The response is complete; the connection may carry another request.
    Continue,
    /// The response was cut, stalled or is unframed: close the connection.
    Close,
}

/// How a response is framed on this connection.
pub(crate) struct Framing<'a> {
    /// `Date` header value.
    pub date: &'a str,
    /// Close the connection after this response.
    pub close: bool,
    /// The client speaks HTTP/1.0: no chunked encoding, streams end by closing.
    pub http10: bool,
}

/// Headers the writer owns: a script must not be able to break the framing with them.
const FRAMING_HEADERS: [&str; 4] = ["content-length", "transfer-encoding", "connection", "date"];

/// Writes `response`. Streams honour their stall/cut limits.
pub(crate) fn write_response(
    out: &mut impl Write,
    response: Response,
    framing: &Framing<'_>,
    stop: &StopSignal,
) -> io::Result<After> {
    let body = match response.body {
        Body::Raw(bytes) => {
            out.write_all(&bytes)?;
            out.flush()?;
            return Ok(After::Close);
        }
        other => other,
    };
    let response = Response { body, ..response };
    let streamed = matches!(response.body, Body::Streamed(_) | Body::Endless(_));
    let chunked = streamed && !framing.http10;
    // An HTTP/1.0 stream has no length: only closing the connection ends it.
    let close = framing.close || (streamed && framing.http10);
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    push_header(&mut head, "date", framing.date);
    for (name, value) in &response.headers {
        if !FRAMING_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            push_header(&mut head, name, value);
        }
    }
    match &response.body {
        Body::Full(bytes) => push_header(&mut head, "content-length", &bytes.len().to_string()),
        Body::Streamed(_) | Body::Endless(_) if chunked => {
            push_header(&mut head, "transfer-encoding", "chunked")
        }
        Body::Streamed(_) | Body::Endless(_) | Body::Raw(_) => {}
    }
    if close {
        push_header(&mut head, "connection", "close");
    }
    head.push_str("\r\n");
    let mut head = head.into_bytes();
    let after = match response.body {
        Body::Full(bytes) => {
            head.extend_from_slice(&bytes);
            out.write_all(&head)?;
            After::Continue
        }
        Body::Streamed(body) => {
            // The head goes out before the first piece so clients see the status at once.
            out.write_all(&head)?;
            out.flush()?;
            write_streamed(out, body, chunked, stop)?
        }
        Body::Endless(piece) => {
            out.write_all(&head)?;
            write_endless(out, &piece, chunked, stop)?
        }
        // Handled above; nothing was written for it here.
        Body::Raw(_) => After::Close,
    };
    out.flush()?;
    Ok(if close { After::Close } else { after })
}

/// Header values come from our own code and from test scripts: strip CR/LF so a value can
/// never split the head.
fn push_header(head: &mut String, name: &str, value: &str) {
    let clean = |s: &str| s.replace(['\r', '\n'], " ");
    head.push_str(&clean(name));
    head.push_str(": ");
    head.push_str(&clean(value));
    head.push_str("\r\n");
}

fn write_streamed(
    out: &mut impl Write,
    body: Streamed,
    chunked: bool,
    stop: &StopSignal,
) -> io::Result<After> {
    // The earlier of the two limits wins; on a tie the stall wins (the socket stays open).
    let stall = body.stall_after.map(|n| (n, true));
    let cut = body.cut_after.map(|n| (n, false));
    let limit = match (stall, cut) {
        (Some(s), Some(c)) => Some(if c.0 < s.0 { c } else { s }),
        (s, c) => s.or(c),
    };
    let mut sent = 0usize;
    for piece in &body.pieces {
        let allowed = match limit {
            Some((n, _)) => piece.len().min(n.saturating_sub(sent)),
            None => piece.len(),
        };
        let bytes = piece.get(..allowed).unwrap_or(piece);
        write_piece(out, bytes, chunked)?;
        sent += allowed;
        if allowed < piece.len() {
            break;
        }
    }
    if let Some((n, is_stall)) = limit {
        if sent >= n {
            out.flush()?;
            if is_stall {
                stop.wait_until_stopped();
            }
            return Ok(After::Close);
        }
    }
    if chunked {
        out.write_all(b"0\r\n\r\n")?;
    }
    Ok(After::Continue)
}

/// Repeats `piece` until a write fails (the client hung up) or the simulator stops.
fn write_endless(
    out: &mut impl Write,
    piece: &[u8],
    chunked: bool,
    stop: &StopSignal,
) -> io::Result<After> {
    if piece.is_empty() {
        // Nothing to repeat: hold the stream open instead of spinning.
        stop.wait_until_stopped();
        return Ok(After::Close);
    }
    while !stop.is_stopped() {
        write_piece(out, piece, chunked)?;
    }
    Ok(After::Close)
}

/// One piece (as a chunk when `chunked`), flushed so the client sees it now. Empty pieces
/// are skipped: an empty chunk would end the body.
fn write_piece(out: &mut impl Write, bytes: &[u8], chunked: bool) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    if chunked {
        // One write per chunk: with TCP_NODELAY each write can become its own segment.
        let mut frame = format!("{:x}\r\n", bytes.len()).into_bytes();
        frame.extend_from_slice(bytes);
        frame.extend_from_slice(b"\r\n");
        out.write_all(&frame)?;
    } else {
        out.write_all(bytes)?;
    }
    out.flush()
}

/// Reason phrase for the status line.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        466 => "Client Not Supported",
        499 => "Client Closed Request",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn head_of(raw: &str) -> Result<Option<Head>, HttpError> {
        read_head(&mut Cursor::new(raw.as_bytes().to_vec()))
    }

    #[test]
    fn parses_head_with_query_and_headers() {
        let head = head_of("GET /models?x=1 HTTP/1.1\r\nEditor-Version: Zed/1\r\nA:b \r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.method, "GET");
        assert_eq!(head.path, "/models");
        assert_eq!(head.query, "x=1");
        assert_eq!(head.header("editor-version"), Some("Zed/1"));
        assert_eq!(head.header("a"), Some("b"));
        assert!(head.keep_alive());
    }

    #[test]
    fn absolute_form_targets_are_reduced_to_the_path() {
        let head = head_of("GET http://127.0.0.1:9/models?q=1 HTTP/1.1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.path, "/models");
        assert_eq!(head.query, "q=1");
        let bare = head_of("GET http://127.0.0.1:9 HTTP/1.1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(bare.path, "/");
        assert!(matches!(
            head_of("GET models HTTP/1.1\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
    }

    #[test]
    fn clean_eof_is_none_and_garbage_is_malformed() {
        assert!(matches!(head_of(""), Ok(None)));
        assert!(matches!(
            head_of("hello\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            head_of("GET /x HTTP/2\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            head_of("GET /x HTTP/1.1\r\nbad\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            head_of("GET /x HTTP/1.1\r\nA: b"),
            Err(HttpError::Malformed(_))
        ));
    }

    #[test]
    fn oversized_head_is_rejected() {
        let raw = format!("GET /x HTTP/1.1\r\nA: {}\r\n\r\n", "x".repeat(70 * 1024));
        assert!(matches!(
            head_of(&raw),
            Err(HttpError::TooLarge { head: true })
        ));
    }

    #[test]
    fn connection_semantics() {
        let close = head_of("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!close.keep_alive());
        let old = head_of("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!old.keep_alive());
        let old_ka = head_of("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(old_ka.keep_alive());
    }

    #[test]
    fn reads_content_length_and_chunked_bodies() {
        let raw = "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        let mut cur = Cursor::new(raw.as_bytes().to_vec());
        let head = read_head(&mut cur).unwrap().unwrap();
        assert_eq!(read_body(&mut cur, &head).unwrap(), b"hello");

        let raw = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n";
        let mut cur = Cursor::new(raw.as_bytes().to_vec());
        let head = read_head(&mut cur).unwrap().unwrap();
        assert_eq!(read_body(&mut cur, &head).unwrap(), b"abcde");
    }

    #[test]
    fn bad_bodies_are_typed_errors() {
        let raw = "POST /x HTTP/1.1\r\nContent-Length: nope\r\n\r\n";
        let mut cur = Cursor::new(raw.as_bytes().to_vec());
        let head = read_head(&mut cur).unwrap().unwrap();
        assert!(matches!(
            read_body(&mut cur, &head),
            Err(HttpError::Malformed(_))
        ));

        let raw = "POST /x HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n";
        let mut cur = Cursor::new(raw.as_bytes().to_vec());
        let head = read_head(&mut cur).unwrap().unwrap();
        assert!(matches!(
            read_body(&mut cur, &head),
            Err(HttpError::TooLarge { head: false })
        ));

        let raw = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        let mut cur = Cursor::new(raw.as_bytes().to_vec());
        let head = read_head(&mut cur).unwrap().unwrap();
        assert!(matches!(
            read_body(&mut cur, &head),
            Err(HttpError::Malformed(_))
        ));

        let raw = "POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort";
        let mut cur = Cursor::new(raw.as_bytes().to_vec());
        let head = read_head(&mut cur).unwrap().unwrap();
        assert!(matches!(read_body(&mut cur, &head), Err(HttpError::Io)));
    }

    fn written(response: Response) -> (String, After) {
        let stop = StopSignal::default();
        let mut out = Vec::new();
        let framing = Framing {
            date: "DATE",
            close: false,
            http10: false,
        };
        let after = write_response(&mut out, response, &framing, &stop).unwrap();
        (String::from_utf8(out).unwrap(), after)
    }

    #[test]
    fn writes_full_and_chunked_responses() {
        let (text, after) = written(Response {
            status: 200,
            headers: vec![("x-a".into(), "1\r\nevil: yes".into())],
            body: Body::Full(b"hi".to_vec()),
        });
        assert_eq!(after, After::Continue);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\ndate: DATE\r\n"));
        assert!(text.contains("x-a: 1  evil: yes\r\n"));
        assert!(text.ends_with("content-length: 2\r\n\r\nhi"));

        let (text, after) = written(Response {
            status: 200,
            headers: vec![],
            body: Body::Streamed(Streamed::whole(vec![
                b"abc".to_vec(),
                vec![],
                b"de".to_vec(),
            ])),
        });
        assert_eq!(after, After::Continue);
        assert!(
            text.ends_with("transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        );
    }

    #[test]
    fn framing_headers_from_scripts_are_dropped() {
        let (text, _) = written(Response {
            status: 200,
            headers: vec![
                ("Content-Length".into(), "999".into()),
                ("Transfer-Encoding".into(), "gzip".into()),
                ("x-keep".into(), "1".into()),
            ],
            body: Body::Full(b"ok".to_vec()),
        });
        assert!(!text.contains("999"));
        assert!(!text.contains("gzip"));
        assert!(text.contains("x-keep: 1\r\n"));
    }

    #[test]
    fn http10_streams_are_unframed_and_close() {
        let stop = StopSignal::default();
        let mut out = Vec::new();
        let framing = Framing {
            date: "D",
            close: false,
            http10: true,
        };
        let response = Response {
            status: 200,
            headers: vec![],
            body: Body::Streamed(Streamed::whole(vec![b"ab".to_vec(), b"c".to_vec()])),
        };
        let after = write_response(&mut out, response, &framing, &stop).unwrap();
        assert_eq!(after, After::Close);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("transfer-encoding"));
        assert!(text.ends_with("connection: close\r\n\r\nabc"), "{text:?}");
    }

    #[test]
    fn cut_stops_mid_piece_without_terminator() {
        let (text, after) = written(Response {
            status: 200,
            headers: vec![],
            body: Body::Streamed(Streamed {
                pieces: vec![b"abc".to_vec(), b"defg".to_vec()],
                stall_after: None,
                cut_after: Some(5),
            }),
        });
        assert_eq!(after, After::Close);
        assert!(
            text.ends_with("\r\n\r\n3\r\nabc\r\n2\r\nde\r\n"),
            "{text:?}"
        );
    }

    #[test]
    fn stall_holds_until_stopped_then_closes() {
        let stop = StopSignal::default();
        stop.trigger();
        let mut out = Vec::new();
        let response = Response {
            status: 200,
            headers: vec![],
            body: Body::Streamed(Streamed {
                pieces: vec![b"abcdef".to_vec()],
                stall_after: Some(2),
                cut_after: Some(4),
            }),
        };
        let framing = Framing {
            date: "D",
            close: false,
            http10: false,
        };
        let after = write_response(&mut out, response, &framing, &stop).unwrap();
        assert_eq!(after, After::Close);
        assert!(String::from_utf8(out)
            .unwrap()
            .ends_with("\r\n\r\n2\r\nab\r\n"));
    }

    #[test]
    fn limits_beyond_the_body_send_it_whole() {
        let (text, after) = written(Response {
            status: 200,
            headers: vec![],
            body: Body::Streamed(Streamed {
                pieces: vec![b"abc".to_vec()],
                stall_after: None,
                cut_after: Some(100),
            }),
        });
        assert_eq!(after, After::Continue);
        assert!(text.ends_with("3\r\nabc\r\n0\r\n\r\n"));
    }
}
