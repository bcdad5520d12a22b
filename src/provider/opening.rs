//! A chat request on its way: sent, its response headers not known yet.
//!
//! Design decision: `llm-stream-completion-start` only sends the request and hands the stream
//! out; the host answers `fetch-stream` before the headers arrive. Every later step asks the
//! response's `ready` first and answers `pending` until then, so a server that stalls before
//! its headers holds up only its own stream, never the other calls into the instance (which
//! run one at a time). Once the headers are known, a 2xx becomes an open stream; an error
//! status's body is collected with the same non-blocking reads, then classified exactly as a
//! blocking read would have (`Error::from_response_at`). What to do about a refusal (replay,
//! retry, wait) is the provider's decision; this module only reports it.

use crate::catalog::model::Endpoint;
use crate::error::Error;
use crate::headers;
use crate::host_api::{ByteStream, ChunkPoll, HostApi, HttpMethod, HttpRequest, RedirectPolicy};
use crate::provider::quota::Quota;
use crate::completion::routing::Decoder;
use crate::auth::session::Auth;
use crate::settings::Settings;

/// The most bytes of an error body read before classifying it.
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// One pause of the blocking wait for the headers.
pub const HEADER_PAUSE_MILLIS: u64 = 50;
/// Extra pauses beyond the request timeout: the host ends the request at its timeout, so
/// these only guard against a host that never does (after them `status` blocks in the host).
const SPARE_PAUSES: u64 = 20;
/// Redirect hops a chat request may follow.
const MAX_REDIRECT_HOPS: u32 = 5;

/// How many more times a refused request may be sent again, by kind of retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retries {
    /// Immediate resends left for a failure that may pass at once (`Error::retry_now`).
    pub immediate: usize,
    /// Immediate resends allowed again after the session token was exchanged anew.
    pub immediate_after_reauth: usize,
    /// Whether a refused session token may still be exchanged again (and the request replayed).
    pub reauth: bool,
    /// Whether a short rate limit may still be waited out on the host clock (see `retry`).
    pub waited: bool,
}

/// What a step of an [`Opening`] found.
pub enum Outcome {
    /// The headers (or the rest of an error body) have not arrived yet.
    Pending,
    /// A 2xx: the body is the completion.
    Open,
    /// An error status (classified) or a transport failure before any header.
    Refused(Error),
}

/// A chat request: what is needed to send it (again).
pub struct ChatRequest {
    pub endpoint: Endpoint,
    pub body: Vec<u8>,
    /// Endpoint-specific headers added to the Copilot ones.
    pub headers: Vec<(String, String)>,
    pub decoder: Decoder,
    /// The bearer it is sent with.
    pub auth: Auth,
}

/// A sent chat request whose answer is not classified yet.
pub struct Opening {
    pub request: ChatRequest,
    pub retries: Retries,
    pub stream: Box<dyn ByteStream>,
    /// Settings' request timeout, bounding the blocking wait for the headers.
    timeout_secs: u64,
    /// An error status and its headers, once known; its body is being collected.
    refusal: Option<(u16, Vec<(String, String)>)>,
    error_body: Vec<u8>,
}

impl Opening {
    /// Sends `request` (`POST {api}{endpoint}`) without waiting for its headers. Fails at once
    /// only when the host refuses without I/O (a denied host).
    pub fn send(
        host: &dyn HostApi,
        settings: &Settings,
        mut request: ChatRequest,
        retries: Retries,
    ) -> Result<Opening, Error> {
        let url = format!("{}{}", request.auth.api_base, request.endpoint.path());
        let mut sent_headers = headers::copilot_headers(settings, &request.auth.bearer);
        sent_headers.extend(request.headers.iter().cloned());
        // The body moves into the sent request and back (it is kept for a retry): a
        // multi-megabyte body is not copied in the guest.
        let mut sent = HttpRequest {
            method: HttpMethod::Post,
            url,
            headers: sent_headers,
            body: Some(std::mem::take(&mut request.body)),
            redirect_policy: RedirectPolicy::FollowLimit(MAX_REDIRECT_HOPS),
            timeout_ms: Some(timeout_ms(settings.request_timeout_secs)),
            // The whole answer is not held at once: the SSE decoder bounds each line instead.
            max_body_bytes: None,
        };
        let stream = host.fetch_stream(&sent);
        request.body = sent.body.take().unwrap_or_default();
        let stream = stream?;
        Ok(Opening {
            request,
            retries,
            stream,
            timeout_secs: settings.request_timeout_secs,
            refusal: None,
            error_body: Vec::new(),
        })
    }

    /// One step: `blocking` waits for the headers (in host pauses) and the error body;
    /// otherwise nothing here blocks. `quota` receives the quota headers of every answer,
    /// error answers included.
    pub fn progress(
        &mut self,
        host: &dyn HostApi,
        blocking: bool,
        quota: &mut Option<Quota>,
    ) -> Outcome {
        if self.refusal.is_none() {
            if !self.stream.ready() {
                if !blocking {
                    return Outcome::Pending;
                }
                self.wait_ready(host);
            }
            let status = self.stream.status();
            if status == 0 {
                return Outcome::Refused(self.failure_before_headers());
            }
            let response_headers = self.stream.headers();
            if let Some(seen) = Quota::from_headers(&response_headers) {
                *quota = Some(seen);
            }
            if (200..300).contains(&status) {
                return Outcome::Open;
            }
            self.refusal = Some((status, response_headers));
        }
        if !self.collect_error_body(blocking) {
            return Outcome::Pending;
        }
        let (status, response_headers) = self.refusal.take().unwrap_or_default();
        let body = std::mem::take(&mut self.error_body);
        Outcome::Refused(Error::from_response_at(
            status,
            &response_headers,
            &body,
            host.now_unix(),
        ))
    }

    /// Pauses until the headers are known, at most about the request timeout.
    fn wait_ready(&self, host: &dyn HostApi) {
        let max_pauses =
            self.timeout_secs.saturating_mul(1000) / HEADER_PAUSE_MILLIS + SPARE_PAUSES;
        for _ in 0..max_pauses {
            if self.stream.ready() {
                return;
            }
            host.pause(HEADER_PAUSE_MILLIS);
        }
    }

    /// The transport error of a request that failed before any header (the host reports
    /// status 0 and hands the error to the next read).
    fn failure_before_headers(&mut self) -> Error {
        match self.stream.poll_chunk() {
            Err(e) => Error::from(e),
            Ok(_) => Error::Network("the request failed before any response header".into()),
        }
    }

    /// Reads the error body up to [`MAX_ERROR_BODY_BYTES`]; true once it is complete (or cut:
    /// a transport error ends it, the status is what matters for classification).
    fn collect_error_body(&mut self, blocking: bool) -> bool {
        while self.error_body.len() < MAX_ERROR_BODY_BYTES {
            let chunk = if blocking {
                match self.stream.next_chunk() {
                    Ok(Some(bytes)) => ChunkPoll::Data(bytes),
                    _ => ChunkPoll::End,
                }
            } else {
                self.stream.poll_chunk().unwrap_or(ChunkPoll::End)
            };
            match chunk {
                ChunkPoll::Data(bytes) => self.error_body.extend_from_slice(&bytes),
                ChunkPoll::Pending => return false,
                ChunkPoll::End => break,
            }
        }
        self.error_body.truncate(MAX_ERROR_BODY_BYTES);
        true
    }
}

/// The request timeout in milliseconds, as the WIT record wants it.
pub fn timeout_ms(secs: u64) -> u32 {
    secs.saturating_mul(1000).min(u64::from(u32::MAX)) as u32
}
