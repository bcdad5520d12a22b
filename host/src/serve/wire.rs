//! The HTTP/1.1 wire format of the local endpoint: one request per connection.
//!
//! Design decision: written on `std::io` rather than a server crate, because a streamed answer
//! must go out event by event (each SSE event is its own chunk, flushed at once) and general
//! servers buffer chunked bodies behind our back. Every response says `Connection: close`, so
//! there is no keep-alive state to get wrong; editors open a connection per request anyway.
//! Requests are untrusted: head and body sizes are capped and bad framing is a typed error.

use std::io::{self, BufRead, Read, Write};

/// Largest accepted request head (request line plus headers).
const MAX_HEAD_BYTES: u64 = 64 * 1024;
/// Largest accepted request body (room for a conversation with a few images).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Longest chunk-size line of a chunked request body.
const MAX_CHUNK_LINE: u64 = 1024;

/// Why a request could not be read.
#[derive(Debug)]
pub enum WireError {
    /// The bytes are not an HTTP/1.x request (answer 400).
    Malformed(&'static str),
    /// The head (`head: true`, answer 431) or body (answer 413) is over the limits.
    TooLarge {
        /// Whether the head, not the body, was too large.
        head: bool,
        /// The request's path when the head was read (so the answer can take the route's
        /// error shape).
        path: Option<String>,
    },
    /// The socket failed, timed out or closed mid-request (just close).
    Io,
}

impl From<io::Error> for WireError {
    fn from(_: io::Error) -> Self {
        WireError::Io
    }
}

/// A parsed request.
#[derive(Debug)]
pub struct Request {
    /// The method, as sent (`GET`, `POST`, ...).
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// Header names and values in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body (empty when there is none).
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request (head and body).
#[cfg(test)]
pub fn read_request(reader: &mut impl BufRead) -> Result<Request, WireError> {
    let mut request = read_head(reader)?;
    read_body_into(reader, &mut request)?;
    Ok(request)
}

/// Reads the request line and headers only (the body stays unread, `body` empty), so the
/// caller can authenticate and admit the request before any body byte is read.
pub fn read_head(reader: &mut impl BufRead) -> Result<Request, WireError> {
    let mut head = reader.by_ref().take(MAX_HEAD_BYTES);
    let request_line = read_line(&mut head, true)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(WireError::Malformed(
            "the request line is not `METHOD TARGET HTTP/1.x`",
        ));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err(WireError::Malformed(
            "the request line is not `METHOD TARGET HTTP/1.x`",
        ));
    }
    let path = target.split('?').next().unwrap_or(target).to_string();
    let mut headers = Vec::new();
    loop {
        let line = read_line(&mut head, true)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(WireError::Malformed("a header line has no `:`"));
        };
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(Request {
        method: method.to_string(),
        path,
        headers,
        body: Vec::new(),
    })
}

/// Reads the body announced by `request`'s head into `request.body`.
pub fn read_body_into(reader: &mut impl BufRead, request: &mut Request) -> Result<(), WireError> {
    request.body = match read_body(reader, request) {
        Err(WireError::TooLarge { head, .. }) => {
            return Err(WireError::TooLarge {
                head,
                path: Some(request.path.clone()),
            })
        }
        other => other?,
    };
    Ok(())
}

/// What the head says of the body: `Ok(None)` for a chunked body (length unknown until
/// read), `Ok(Some(n))` otherwise (0 without a body); a length over [`MAX_BODY_BYTES`] is
/// `TooLarge` at once, so it is refused before a byte of it is read.
pub fn announced_length(request: &Request) -> Result<Option<usize>, WireError> {
    if is_chunked(request) {
        return Ok(None);
    }
    let Some(length) = request.header("content-length") else {
        return Ok(Some(0));
    };
    let length: usize = length
        .trim()
        .parse()
        .map_err(|_| WireError::Malformed("Content-Length is not a number"))?;
    if length > MAX_BODY_BYTES {
        return Err(WireError::TooLarge {
            head: false,
            path: Some(request.path.clone()),
        });
    }
    Ok(Some(length))
}

/// Whether the client waits for `100 Continue` before sending its body.
pub fn expects_continue(request: &Request) -> bool {
    request
        .header("expect")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

/// The interim `100 Continue` answer: the client may send its body now.
pub fn write_continue(out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    out.flush()
}

fn is_chunked(request: &Request) -> bool {
    request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

/// One CRLF- (or LF-) terminated line without its terminator; running out of the head limit
/// is `TooLarge`, end of input is `Io`.
fn read_line(reader: &mut io::Take<&mut impl BufRead>, head: bool) -> Result<String, WireError> {
    let mut line = Vec::new();
    let n = reader.read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(if reader.limit() == 0 {
            WireError::TooLarge { head, path: None }
        } else {
            WireError::Io
        });
    }
    if line.last() != Some(&b'\n') {
        return Err(if reader.limit() == 0 {
            WireError::TooLarge { head, path: None }
        } else {
            WireError::Io
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| WireError::Malformed("the request head is not UTF-8"))
}

fn read_body(reader: &mut impl BufRead, request: &Request) -> Result<Vec<u8>, WireError> {
    let Some(length) = announced_length(request)? else {
        return read_chunked(reader);
    };
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(body)
}

fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, WireError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(&mut reader.by_ref().take(MAX_CHUNK_LINE), false)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| WireError::Malformed("a chunk size is not hexadecimal"))?;
        if size == 0 {
            // Trailers (ignored) end with an empty line.
            loop {
                let trailer = read_line(&mut reader.by_ref().take(MAX_CHUNK_LINE), false)?;
                if trailer.is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len().saturating_add(size) > MAX_BODY_BYTES {
            return Err(WireError::TooLarge {
                head: false,
                path: None,
            });
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let end = read_line(&mut reader.by_ref().take(MAX_CHUNK_LINE), false)?;
        if !end.is_empty() {
            return Err(WireError::Malformed("a chunk is longer than its size"));
        }
    }
}

/// The reason phrase of the statuses this endpoint sends.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}

fn write_head(out: &mut impl Write, status: u16, headers: &[(&str, String)]) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    out.write_all(head.as_bytes())
}

/// Writes a whole JSON response.
pub fn write_json(
    out: &mut impl Write,
    status: u16,
    extra_headers: &[(&str, String)],
    body: &serde_json::Value,
) -> io::Result<()> {
    let body = body.to_string();
    let mut headers = vec![
        ("Content-Type", "application/json".to_string()),
        ("Content-Length", body.len().to_string()),
    ];
    headers.extend(extra_headers.iter().cloned());
    write_head(out, status, &headers)?;
    out.write_all(body.as_bytes())?;
    out.flush()
}

/// A `text/event-stream` response body: each event is one chunk, flushed at once.
pub struct EventStream<W: Write> {
    out: W,
}

impl<W: Write> EventStream<W> {
    /// Sends the 200 head of an SSE response.
    pub fn start(mut out: W) -> io::Result<EventStream<W>> {
        write_head(
            &mut out,
            200,
            &[
                ("Content-Type", "text/event-stream".to_string()),
                ("Cache-Control", "no-cache".to_string()),
                ("Transfer-Encoding", "chunked".to_string()),
            ],
        )?;
        Ok(EventStream { out })
    }

    /// Sends `data: <text>\n\n`.
    pub fn data(&mut self, text: &str) -> io::Result<()> {
        write_chunk(&mut self.out, &format!("data: {text}\n\n"))
    }

    /// Sends `event: <name>\ndata: <text>\n\n` (a named event, as Anthropic's stream has).
    pub fn named(&mut self, name: &str, text: &str) -> io::Result<()> {
        write_chunk(&mut self.out, &format!("event: {name}\ndata: {text}\n\n"))
    }

    /// Ends the chunked body.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.write_all(b"0\r\n\r\n")?;
        self.out.flush()
    }
}

/// One chunk of a chunked body, flushed at once.
fn write_chunk(out: &mut impl Write, text: &str) -> io::Result<()> {
    write!(out, "{:x}\r\n{text}\r\n", text.len())?;
    out.flush()
}

/// An `application/x-ndjson` response body (Ollama's stream): one JSON value per line, each
/// line its own chunk, flushed at once.
pub struct LineStream<W: Write> {
    out: W,
}

impl<W: Write> LineStream<W> {
    /// Sends the 200 head of a JSON-lines response.
    pub fn start(mut out: W) -> io::Result<LineStream<W>> {
        write_head(
            &mut out,
            200,
            &[
                ("Content-Type", "application/x-ndjson".to_string()),
                ("Transfer-Encoding", "chunked".to_string()),
            ],
        )?;
        Ok(LineStream { out })
    }

    /// Sends one value and a newline.
    pub fn line(&mut self, value: &serde_json::Value) -> io::Result<()> {
        write_chunk(&mut self.out, &format!("{value}\n"))
    }

    /// Ends the chunked body.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.write_all(b"0\r\n\r\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Request, WireError> {
        read_request(&mut io::BufReader::new(bytes))
    }

    #[test]
    fn reads_a_request_with_a_length_body() {
        let r = parse(b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nAuthorization: Bearer k\r\n\r\n{}").unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v1/chat/completions");
        assert_eq!(r.header("authorization"), Some("Bearer k"));
        assert_eq!(r.body, b"{}");
    }

    #[test]
    fn reads_a_chunked_body() {
        let r = parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!(r.body, b"abcde");
    }

    #[test]
    fn rejects_bad_framing_and_oversized_input() {
        assert!(matches!(
            parse(b"nonsense\r\n\r\n"),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nbad header\r\n\r\n"),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(parse(b"GET / HTTP/1.1\r\n"), Err(WireError::Io)));
        let big = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        assert!(matches!(
            parse(big.as_bytes()),
            Err(WireError::TooLarge { head: false, .. })
        ));
        let huge_head = format!(
            "GET / HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD_BYTES as usize)
        );
        assert!(matches!(
            parse(huge_head.as_bytes()),
            Err(WireError::TooLarge { head: true, .. })
        ));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"),
            Err(WireError::Io)
        ));
    }

    #[test]
    fn event_stream_frames_each_event_as_a_chunk() {
        let mut out = Vec::new();
        let mut events = EventStream::start(&mut out).unwrap();
        events.data("{}").unwrap();
        events.named("ping", "{}").unwrap();
        events.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("Transfer-Encoding: chunked\r\n"));
        assert!(
            text.ends_with(
                "\r\n\r\na\r\ndata: {}\n\n\r\n16\r\nevent: ping\ndata: {}\n\n\r\n0\r\n\r\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn named_events_and_json_lines_are_one_chunk_each() {
        let mut out = Vec::new();
        let mut events = EventStream::start(&mut out).unwrap();
        events.named("ping", r#"{"type":"ping"}"#).unwrap();
        events.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with("\r\n\r\n23\r\nevent: ping\ndata: {\"type\":\"ping\"}\n\n\r\n0\r\n\r\n"),
            "{text}"
        );
        let mut out = Vec::new();
        let mut lines = LineStream::start(&mut out).unwrap();
        lines.line(&serde_json::json!({"done": true})).unwrap();
        lines.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Content-Type: application/x-ndjson\r\n"));
        assert!(text.ends_with("\r\n\r\ne\r\n{\"done\":true}\n\r\n0\r\n\r\n"), "{text}");
    }

    #[test]
    fn an_oversized_body_names_its_path() {
        let big = format!(
            "POST /v1/messages HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        match parse(big.as_bytes()) {
            Err(WireError::TooLarge { head: false, path }) => {
                assert_eq!(path.as_deref(), Some("/v1/messages"))
            }
            other => panic!("{other:?}"),
        }
    }
}
