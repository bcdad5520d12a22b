//! Replay: a recorded answer served byte for byte in place of a route's own handler.
//!
//! Design: the conformance corpus (`tests/captures/`) holds real Copilot answers (token
//! exchanges, catalogs, streams). A test replays one on a route and checks what the extension
//! makes of it, so the simulator's own shapes cannot hide a difference from the service. The
//! body can be written in small pieces, each flushed, to show that nothing depends on where
//! the network splits it. A replay is served like a fault (before authentication), because a
//! recorded answer belongs to a session the simulator never issued.

use crate::http::{Body, Response, Streamed};
use crate::reply;

/// A recorded answer: status, headers and the exact body bytes.
#[derive(Clone, Debug)]
pub struct Replay {
    /// HTTP status.
    pub status: u16,
    /// Response headers; `content-type` is inferred from the body when absent (JSON, else an
    /// SSE stream for a success, else text), and request-id headers are added when absent.
    pub headers: Vec<(String, String)>,
    /// The exact body bytes.
    pub body: Vec<u8>,
    /// Write the body in pieces of this many bytes, flushing each (`0`: one piece).
    pub chunk_size: usize,
}

impl Replay {
    /// A 200 answer with exactly `body`, in one piece.
    pub fn ok(body: impl Into<Vec<u8>>) -> Replay {
        Replay::status(200, body)
    }

    /// A `status` answer with exactly `body`, in one piece.
    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Replay {
        Replay {
            status,
            headers: Vec::new(),
            body: body.into(),
            chunk_size: 0,
        }
    }

    /// This replay written in pieces of `chunk_size` bytes, each flushed.
    pub fn chunked(mut self, chunk_size: usize) -> Replay {
        self.chunk_size = chunk_size;
        self
    }

    /// This replay with one more response header.
    pub fn with_header(mut self, name: &str, value: &str) -> Replay {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The response that plays it, streamed to the end.
    pub(crate) fn into_response(self) -> Response {
        self.into_response_cut(None, None)
    }

    /// The response that plays it, optionally stalling or closing after some body bytes.
    pub(crate) fn into_response_cut(
        self,
        stall_after: Option<usize>,
        cut_after: Option<usize>,
    ) -> Response {
        let content_type = reply::inferred_content_type(self.status, &self.body);
        Response {
            status: self.status,
            headers: self.headers,
            body: Body::Streamed(Streamed {
                pieces: pieces(self.body, self.chunk_size),
                stall_after,
                cut_after,
            }),
        }
        .with_default_header("content-type", content_type)
    }
}

/// `body` cut into pieces of `size` bytes (`0`: one piece).
fn pieces(body: Vec<u8>, size: usize) -> Vec<Vec<u8>> {
    if size == 0 {
        return vec![body];
    }
    body.chunks(size).map(<[u8]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streamed(r: Response) -> Streamed {
        match r.body {
            Body::Streamed(s) => s,
            _ => panic!("not streamed"),
        }
    }

    #[test]
    fn pieces_are_the_body_cut_at_the_size() {
        let body = b"data: {\"a\":1}\n\n".to_vec();
        for size in [1, 7, 64] {
            let s = streamed(Replay::ok(body.clone()).chunked(size).into_response());
            assert!(s.pieces.iter().all(|p| p.len() <= size && !p.is_empty()));
            assert_eq!(s.pieces.concat(), body);
        }
        assert_eq!(streamed(Replay::ok(body.clone()).into_response()).pieces, vec![body]);
    }

    #[test]
    fn content_type_is_inferred_unless_given() {
        assert_eq!(Replay::ok("{}").into_response().header("content-type"), Some(reply::JSON));
        assert_eq!(Replay::ok("data: x\n\n").into_response().header("content-type"), Some(reply::SSE));
        assert_eq!(Replay::status(401, "nope").into_response().header("content-type"), Some(reply::TEXT));
        let given = Replay::ok("x").with_header("Content-Type", "text/html").into_response();
        assert_eq!(given.header("content-type"), Some("text/html"));
    }
}
