//! A completion stream driven by non-blocking polls.
//!
//! Design decision: each step takes the instance lock only for one `llm-stream-completion-poll`
//! call. On `pending` the lock is released and the stream waits on its own readiness signal,
//! which the HTTP streams its `start` and polls opened or looked at raise when their headers or
//! bytes arrive (with a short timeout as a safety net, for news that does not come from an
//! HTTP stream, such as the end of a retry's wait). So many streams, and model calls,
//! interleave on one instance, a stalled stream blocks nobody but its reader, and one
//! stream's bytes wake that stream alone: with one signal shared by all, every chunk woke
//! every waiting stream, and each polled the guest under the one lock for nothing.

use std::sync::Arc;
use std::time::Duration;

use crate::contract::llm_provider::{
    CompletionEvent, ProviderError, StreamPoll, UpstreamInfo,
};
use crate::runtime::failure::GuestFailure;
use crate::runtime::instance::Shared;
use crate::sandbox::http::Readiness;

/// The longest a `pending` stream sleeps without a readiness signal before polling again.
pub const READINESS_SAFETY_NET: Duration = Duration::from_millis(25);

/// The events of one completion. As an iterator, a host failure (a trap, the deadline, the
/// memory cap, or the replacement of its instance after another call's failure) ends the
/// stream with `ProviderError::Upstream` carrying status 0; [`CompletionStream::next_event`]
/// reports it as an `Err` instead.
pub struct CompletionStream {
    shared: Arc<Shared>,
    id: String,
    /// The instance the stream lives in: if it is replaced, the stream ends with an error.
    generation: u64,
    /// Raised by the HTTP streams this completion reads.
    signal: Readiness,
    /// Waits that ran the whole safety net without news.
    quiet_waits: u64,
    /// Whether an event came yet: only waits for the first one may spin (see
    /// `Shared::wait_for_news`); later ones sleep at once and leave the cores to the threads
    /// that read and write the stream.
    answered: bool,
    finished: bool,
    host_error: Option<String>,
}

impl CompletionStream {
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: String,
        generation: u64,
        signal: Readiness,
    ) -> CompletionStream {
        CompletionStream {
            shared,
            id,
            generation,
            signal,
            quiet_waits: 0,
            answered: false,
            finished: false,
            host_error: None,
        }
    }

    /// The guest's id for this stream.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the stream has ended (finished, failed, or closed).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// How many times the stream, pending, waited the whole
    /// [`crate::HostOptions::poll_safety_net`] without being woken: 0 for a stream whose
    /// answer kept arriving (its HTTP stream wakes it), more while a server is slow or a
    /// retry pauses.
    pub fn quiet_waits(&self) -> u64 {
        self.quiet_waits
    }

    /// The host failure that ended the stream, if one did.
    pub fn host_error(&self) -> Option<&str> {
        self.host_error.as_deref()
    }

    /// The next event, `Ok(None)` at the end; `Err` only for host failures (a
    /// [`crate::GuestFailure`]: this call's or, when another call failed meanwhile,
    /// [`crate::GuestFailure::Restarted`]).
    pub fn next_event(&mut self) -> anyhow::Result<Option<Result<CompletionEvent, ProviderError>>> {
        loop {
            if self.finished {
                return Ok(None);
            }
            // Read the generation before polling, so a chunk that lands between the poll and
            // the wait still wakes us.
            let seen = self.signal.generation();
            let id = self.id.as_str();
            let step = self
                .shared
                .call_at(
                    "llm-stream-completion-poll",
                    Some(self.generation),
                    Some(&self.signal),
                    |e, s| e.call_llm_stream_completion_poll(s, id),
                )
                .map(|(step, _)| step);
            match step {
                Ok(Ok(StreamPoll::Event(event))) => {
                    self.answered = true;
                    return Ok(Some(Ok(event)));
                }
                Ok(Ok(StreamPoll::Pending)) => {
                    let safety_net = self.shared.poll_safety_net();
                    let may_spin = !self.answered;
                    if !self.shared.wait_for_news(&self.signal, seen, safety_net, may_spin) {
                        self.quiet_waits += 1;
                    }
                }
                Ok(Ok(StreamPoll::Finished)) => {
                    self.finished = true;
                    return Ok(None);
                }
                // The guest frees a stream's state on error: nothing left to close.
                Ok(Err(error)) => {
                    self.finished = true;
                    return Ok(Some(Err(error)));
                }
                Err(error) => {
                    self.finished = true;
                    return Err(error);
                }
            }
        }
    }

    /// Abandons the stream early (idempotent).
    pub fn close(mut self) -> anyhow::Result<Result<(), ProviderError>> {
        self.close_inner()
    }

    fn close_inner(&mut self) -> anyhow::Result<Result<(), ProviderError>> {
        if self.finished {
            return Ok(Ok(()));
        }
        self.finished = true;
        let id = self.id.as_str();
        let closed = self
            .shared
            .call_at(
                "llm-stream-completion-close",
                Some(self.generation),
                None,
                |e, s| e.call_llm_stream_completion_close(s, id),
            );
        match closed {
            Ok((closed, _)) => Ok(closed),
            // Its instance, and so its state, is already gone: closing it is done.
            Err(e) if e.downcast_ref::<GuestFailure>() == Some(&GuestFailure::Restarted) => {
                Ok(Ok(()))
            }
            Err(e) => Err(e),
        }
    }
}

impl Iterator for CompletionStream {
    type Item = Result<CompletionEvent, ProviderError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_event() {
            Ok(item) => item,
            Err(error) => {
                let message = format!("{error:#}");
                self.host_error = Some(message.clone());
                Some(Err(ProviderError::Upstream(UpstreamInfo {
                    status: 0,
                    message,
                    request_id: None,
                })))
            }
        }
    }
}

impl Drop for CompletionStream {
    fn drop(&mut self) {
        if !self.finished && self.shared.is_current(self.generation) {
            // Best effort: a failure here has nowhere to go and must not panic in drop.
            let _ = self.close_inner();
        }
    }
}
