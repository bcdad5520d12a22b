//! One open completion stream: the response body, the endpoint's decoder, and the decoded
//! events not handed out yet. A `stop` is held back until the body ends, so a trailing usage
//! chunk is delivered before it (hosts may stop reading at `stop`, as Zed's does).

use std::collections::VecDeque;

use crate::bindings::copilot_chat::extension::llm_provider::CompletionEvent;
use crate::completion::routing::Decoder;
use crate::error::Error;
use crate::host_api::{ByteStream, ChunkPoll};

/// What a stream step produced.
pub enum Step {
    Event(CompletionEvent),
    Pending,
    Finished,
}

/// One open completion stream.
pub struct OpenStream {
    body: Box<dyn ByteStream>,
    decoder: Decoder,
    /// Decoded events not yet handed out.
    queue: VecDeque<CompletionEvent>,
    /// A `stop` event held back until the body ends, so a trailing usage chunk is delivered
    /// before it (hosts may stop reading at `stop`, as Zed's does).
    stop: Option<CompletionEvent>,
    body_ended: bool,
}

impl OpenStream {
    pub fn new(body: Box<dyn ByteStream>, decoder: Decoder) -> OpenStream {
        OpenStream { body, decoder, queue: VecDeque::new(), stop: None, body_ended: false }
    }

    pub fn advance(&mut self, blocking: bool) -> Result<Step, Error> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                if matches!(event, CompletionEvent::Stop(_)) && !self.body_ended {
                    self.stop = Some(event);
                    continue;
                }
                return Ok(Step::Event(event));
            }
            if self.body_ended {
                return Ok(match self.stop.take() {
                    Some(stop) => Step::Event(stop),
                    None => Step::Finished,
                });
            }
            let chunk = if blocking {
                match self.body.next_chunk()? {
                    Some(bytes) => ChunkPoll::Data(bytes),
                    None => ChunkPoll::End,
                }
            } else {
                self.body.poll_chunk()?
            };
            match chunk {
                ChunkPoll::Data(bytes) => self.queue.extend(self.decoder.push(&bytes)?),
                ChunkPoll::End => {
                    self.body_ended = true;
                    self.queue.extend(self.decoder.finish()?);
                }
                ChunkPoll::Pending => return Ok(Step::Pending),
            }
        }
    }
}
