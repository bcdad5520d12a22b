//! A pure, incremental Server-Sent Events parser.
//!
//! Design: bytes go in, whole events come out, and the result never depends on how the body
//! was chunked. The parser keeps only the current unfinished line (as bytes) plus the event
//! being assembled, splits on LF, CRLF and CR at the byte level (a CR ending one chunk and an
//! LF starting the next are one line end), and decodes a line to text only once it is
//! complete, so a UTF-8 sequence split across chunks is never cut. Line ends are ASCII and
//! never occur inside a multi-byte UTF-8 sequence, which makes that split safe.
//!
//! Deliberate choices, all following the WHATWG event-stream grammar except where noted:
//! * Invalid UTF-8 inside a line is decoded lossily (U+FFFD): SSE is a text format and a
//!   bad byte should spoil one character, not the whole answer.
//! * `id` and `retry` are parsed and ignored (we never reconnect), as are unknown fields.
//! * Unlike the standard, [`SseParser::finish`] dispatches a last event that the server did
//!   not close with a blank line: a body cut right after `data: [DONE]` still ends cleanly.
//! * Memory is bounded: a line longer than [`MAX_LINE_BYTES`] or an event whose data grows
//!   beyond [`MAX_EVENT_DATA_BYTES`] is an error, and the parser stays failed afterwards.

use crate::completion::words;
use crate::error::Error;

/// The longest line (without its line end) we buffer before giving up.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;
/// The most `data` one event may accumulate over all its `data:` lines.
pub const MAX_EVENT_DATA_BYTES: usize = 16 * 1024 * 1024;

const LF: u8 = b'\n';
const CR: u8 = b'\r';
const BOM: &str = "\u{feff}";

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name; `None` when absent or empty (the standard's default `message`).
    pub event: Option<String>,
    /// All `data:` lines of the event joined with `\n`.
    pub data: String,
}

/// Incremental parser; feed it with [`SseParser::push`] and end with [`SseParser::finish`].
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the line that has not seen its line end yet.
    line: Vec<u8>,
    /// The previous chunk ended with CR: an LF at the start of the next one belongs to it.
    after_cr: bool,
    /// The first line has been seen (a byte-order mark is stripped only there).
    seen_first_line: bool,
    event: Option<String>,
    data: String,
    /// At least one `data` field arrived since the last dispatch (`data:` alone counts).
    has_data: bool,
    /// Set after a limit was exceeded; every later call returns it again.
    failed: Option<Error>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the body; returns every event they complete.
    ///
    /// When a limit is exceeded after some events completed in the same call, those events are
    /// returned and the error comes from the next call; once failed, every call fails.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut events = Vec::new();
        let result = self.push_inner(bytes, &mut events);
        match self.fail_on(result) {
            // Events completed before the failure are delivered now and the error on the
            // next call, so what a caller sees does not depend on where the body was split.
            Err(_) if !events.is_empty() => Ok(events),
            Err(e) => Err(e),
            Ok(()) => Ok(events),
        }
    }

    /// Ends the stream: processes an unfinished last line and dispatches a pending event even
    /// though no blank line followed it. A failure here is returned as `Err` (there is no
    /// later call to carry it), dropping events of the same call.
    pub fn finish(&mut self) -> Result<Vec<SseEvent>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut events = Vec::new();
        let result = self.finish_inner(&mut events);
        self.fail_on(result)?;
        Ok(events)
    }

    fn fail_on(&mut self, result: Result<(), Error>) -> Result<(), Error> {
        if let Err(e) = &result {
            self.failed = Some(e.clone());
            // Release the buffers at once: the caller may keep the parser around.
            self.line = Vec::new();
            self.data = String::new();
        }
        result
    }

    fn push_inner(&mut self, mut bytes: &[u8], events: &mut Vec<SseEvent>) -> Result<(), Error> {
        // An empty push must not forget a pending CR: its LF may still come.
        if self.after_cr && !bytes.is_empty() {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(&[LF]) {
                bytes = rest;
            }
        }
        while let Some(end) = words::find_either(bytes, LF, CR) {
            let (head, tail) = bytes.split_at(end);
            self.complete_line(head, events)?;
            // `tail` starts with the line end found above.
            let skip = match tail {
                [CR, LF, ..] => 2,
                [CR] => {
                    self.after_cr = true;
                    1
                }
                _ => 1,
            };
            bytes = tail.get(skip..).unwrap_or_default();
        }
        if self.line.len().saturating_add(bytes.len()) > MAX_LINE_BYTES {
            return Err(line_too_long());
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn finish_inner(&mut self, events: &mut Vec<SseEvent>) -> Result<(), Error> {
        self.after_cr = false;
        if !self.line.is_empty() {
            self.complete_line(&[], events)?;
        }
        self.dispatch(events);
        Ok(())
    }

    /// `head` ends the buffered partial line; together they form one complete line.
    fn complete_line(&mut self, head: &[u8], events: &mut Vec<SseEvent>) -> Result<(), Error> {
        if self.line.len().saturating_add(head.len()) > MAX_LINE_BYTES {
            return Err(line_too_long());
        }
        let owned;
        let bytes = if self.line.is_empty() {
            head
        } else {
            self.line.extend_from_slice(head);
            owned = std::mem::take(&mut self.line);
            owned.as_slice()
        };
        // Lines are valid UTF-8 almost always: `from_utf8` validates them several times faster
        // than the lossy decoder's chunk iterator (profiled: ~5% of the per-event cost), which
        // is kept for the rare invalid line.
        let text = match std::str::from_utf8(bytes) {
            Ok(valid) => std::borrow::Cow::Borrowed(valid),
            Err(_) => String::from_utf8_lossy(bytes),
        };
        let mut line: &str = &text;
        if !self.seen_first_line {
            self.seen_first_line = true;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        self.process_line(line, events)
    }

    fn process_line(&mut self, line: &str, events: &mut Vec<SseEvent>) -> Result<(), Error> {
        if line.is_empty() {
            self.dispatch(events);
            return Ok(());
        }
        if line.starts_with(':') {
            return Ok(()); // comment, often a keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => self.append_data(value),
            "event" => {
                self.event = (!value.is_empty()).then(|| value.to_string());
                Ok(())
            }
            // `id`, `retry` and unknown fields: we never reconnect, so nothing to keep.
            _ => Ok(()),
        }
    }

    fn append_data(&mut self, value: &str) -> Result<(), Error> {
        let separator = usize::from(self.has_data);
        if self.data.len().saturating_add(separator).saturating_add(value.len()) > MAX_EVENT_DATA_BYTES {
            return Err(Error::Network(format!(
                "the server sent a stream event with more than {MAX_EVENT_DATA_BYTES} bytes of data; \
                 giving up on the stream"
            )));
        }
        if self.has_data {
            self.data.push('\n');
        }
        self.data.push_str(value);
        self.has_data = true;
        Ok(())
    }

    /// Ends the current event; an event without any `data` field is dropped, as the standard says.
    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if std::mem::take(&mut self.has_data) {
            events.push(SseEvent {
                event,
                data: std::mem::take(&mut self.data),
            });
        }
    }
}

/// The service answered, but with a line we will not hold: an answer fault, not a network one
/// (status 200, as the answer's head said), and not retried.
fn line_too_long() -> Error {
    Error::Upstream(crate::error::Upstream {
        status: 200,
        message: format!(
            "the service sent an event line larger than {} MiB; the answer was abandoned",
            MAX_LINE_BYTES / (1024 * 1024)
        ),
        request_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_string),
            data: data.to_string(),
        }
    }

    fn parse_chunks(chunks: &[&[u8]]) -> Result<Vec<SseEvent>, Error> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(parser.push(chunk)?);
        }
        out.extend(parser.finish()?);
        Ok(out)
    }

    fn parse_all(input: &[u8]) -> Vec<SseEvent> {
        parse_chunks(&[input]).unwrap_or_else(|e| panic!("parse failed: {e}"))
    }

    #[test]
    fn multi_line_data_is_joined_with_lf() {
        let events = parse_all(b"data: YHOO\ndata: +2\ndata: 10\n\n");
        assert_eq!(events, vec![ev(None, "YHOO\n+2\n10")]);
    }

    #[test]
    fn comments_ids_and_one_optional_space() {
        let input = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n";
        assert_eq!(
            parse_all(input),
            vec![ev(None, "first event"), ev(None, "second event"), ev(None, " third event")]
        );
    }

    #[test]
    fn bare_data_fields_and_unterminated_last_event() {
        // The standard drops the last event (no blank line after it); we flush it at finish.
        let events = parse_all(b"data\n\ndata\ndata\n\ndata:");
        assert_eq!(events, vec![ev(None, ""), ev(None, "\n"), ev(None, "")]);
    }

    #[test]
    fn with_and_without_space_are_equal() {
        assert_eq!(parse_all(b"data:test\n\ndata: test\n\n"), vec![ev(None, "test"), ev(None, "test")]);
    }

    #[test]
    fn event_names_apply_to_one_event_only() {
        let events = parse_all(b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\ndata: x\n\n");
        assert_eq!(
            events,
            vec![ev(Some("add"), "73857293"), ev(Some("remove"), "2153"), ev(None, "x")]
        );
    }

    #[test]
    fn events_without_data_are_not_dispatched() {
        assert_eq!(parse_all(b"event: ping\n\nretry: 10\n\nid: 4\n\n: keepalive\n\n"), vec![]);
    }

    #[test]
    fn cr_crlf_and_lf_line_ends() {
        let events = parse_all(b"data: a\r\rdata: b\r\n\r\ndata: c\n\ndata: d\r\ndata: e\r\r\n");
        assert_eq!(events, vec![ev(None, "a"), ev(None, "b"), ev(None, "c"), ev(None, "d\ne")]);
    }

    #[test]
    fn cr_at_chunk_end_then_lf_is_one_line_end() {
        let events = parse_chunks(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]).unwrap();
        assert_eq!(events, vec![ev(None, "a\nb")]);
        let events = parse_chunks(&[b"data: a\r", b"", b"\ndata: b\n"]).unwrap();
        assert_eq!(events, vec![ev(None, "a\nb")]);
        // Two CRs across chunks are two line ends: a blank line that dispatches.
        let events = parse_chunks(&[b"data: a\r", b"\rdata: b"]).unwrap();
        assert_eq!(events, vec![ev(None, "a"), ev(None, "b")]);
    }

    #[test]
    fn leading_byte_order_mark_is_ignored() {
        assert_eq!(parse_all("\u{feff}data: x\n\n".as_bytes()), vec![ev(None, "x")]);
    }

    #[test]
    fn field_without_colon_and_unknown_fields() {
        assert_eq!(parse_all(b"foo: bar\ndata\n\n"), vec![ev(None, "")]);
        assert_eq!(parse_all(b"data: a:b: c\n\n"), vec![ev(None, "a:b: c")]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let events = parse_all(b"data: ok \xff\xfe end\n\n");
        assert_eq!(events, vec![ev(None, "ok \u{fffd}\u{fffd} end")]);
    }

    #[test]
    fn nothing_pending_yields_nothing() {
        let mut p = SseParser::new();
        assert_eq!(p.finish().unwrap(), vec![]);
        assert_eq!(parse_all(b""), vec![]);
        assert_eq!(parse_all(b"\n\n\r\n"), vec![]);
    }

    #[test]
    fn overlong_line_is_an_error_in_one_push() {
        let mut input = b"data: ".to_vec();
        input.resize(MAX_LINE_BYTES + 1, b'x');
        input.extend_from_slice(b"\n\n");
        match parse_chunks(&[&input]) {
            Err(Error::Upstream(u)) => {
                assert!(u.message.contains("event line larger than 8 MiB"), "{u:?}")
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn overlong_line_is_an_error_across_pushes_and_stays_failed() {
        let mut p = SseParser::new();
        assert_eq!(p.push(b"data: ok\n\ndata: ").unwrap(), vec![ev(None, "ok")]);
        let piece = vec![b'y'; 1024 * 1024];
        let mut failed = false;
        for _ in 0..9 {
            if p.push(&piece).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "a line over the limit must fail");
        assert!(matches!(p.push(b"\n\n"), Err(Error::Upstream(_))));
        assert!(matches!(p.finish(), Err(Error::Upstream(_))));
    }

    #[test]
    fn events_before_a_failure_come_first_then_the_error() {
        let mut input = b"data: ok\n\ndata: ".to_vec();
        input.resize(MAX_LINE_BYTES + 100, b'x');
        let mut p = SseParser::new();
        assert_eq!(p.push(&input).unwrap(), vec![ev(None, "ok")]);
        assert!(matches!(p.push(b"\n\n"), Err(Error::Upstream(_))));
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_accepted() {
        let mut input = b"data:".to_vec();
        input.resize(MAX_LINE_BYTES, b'z');
        let mut p = SseParser::new();
        assert_eq!(p.push(&input).unwrap(), vec![]);
        let events = p.push(b"\n\n").unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events.first().map(|e| e.data.len()), Some(MAX_LINE_BYTES - 5));
    }

    #[test]
    fn event_data_is_bounded() {
        let line = format!("data: {}\n", "q".repeat(MAX_LINE_BYTES - 6));
        let mut p = SseParser::new();
        let mut result = Ok(Vec::new());
        for _ in 0..3 {
            result = p.push(line.as_bytes());
            if result.is_err() {
                break;
            }
        }
        match result {
            Err(Error::Network(m)) => assert!(m.contains("bytes of data"), "{m}"),
            other => panic!("unexpected {:?}", other.map(|v| v.len())),
        }
    }

    /// Mixed line ends, comments, names, multi-line data and multi-byte UTF-8 in one body.
    const TRANSCRIPT: &str = "\u{feff}: hello\r\n\
        event: greeting\r\n\
        data: héllo wörld 日本語 🦀\r\n\
        data:second line\r\n\
        \r\n\
        id: 7\rretry: 100\rdata: cr only\r\r\
        data: {\"choices\":[{\"delta\":{\"content\":\"✓ done\"}}]}\n\n\
        :comment\n\
        event:\n\
        data\n\
        \n\
        data: [DONE]";

    #[test]
    fn transcript_events() {
        assert_eq!(
            parse_all(TRANSCRIPT.as_bytes()),
            vec![
                ev(Some("greeting"), "héllo wörld 日本語 🦀\nsecond line"),
                ev(None, "cr only"),
                ev(None, "{\"choices\":[{\"delta\":{\"content\":\"✓ done\"}}]}"),
                ev(None, ""),
                ev(None, "[DONE]"),
            ]
        );
    }

    #[test]
    fn any_two_way_split_gives_the_same_events() {
        let bytes = TRANSCRIPT.as_bytes();
        let whole = parse_all(bytes);
        for at in 0..=bytes.len() {
            let (a, b) = bytes.split_at(at);
            assert_eq!(parse_chunks(&[a, b]).unwrap(), whole, "split at {at}");
        }
    }

    #[test]
    fn byte_by_byte_gives_the_same_events() {
        let bytes = TRANSCRIPT.as_bytes();
        let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(parse_chunks(&chunks).unwrap(), parse_all(bytes));
    }

    #[test]
    fn any_three_way_split_gives_the_same_events() {
        let bytes = TRANSCRIPT.as_bytes();
        let whole = parse_all(bytes);
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let (a, rest) = bytes.split_at(i);
                let (b, c) = rest.split_at(j - i);
                assert_eq!(parse_chunks(&[a, b, c]).unwrap(), whole, "split at {i}, {j}");
            }
        }
    }
}
