//! The `/chat/completions` endpoint (OpenAI chat format): `request` maps the body and
//! headers, `decode` reads the stream, `fast` is the decoder's allocation-light path for
//! plain text chunks.
//!
//! May import `completion::{events, sse, image}`, `catalog` and the shared top-level modules;
//! never the other endpoint, `routing` or anything above.

pub mod decode;
pub mod fast;
pub mod request;

#[cfg(test)]
mod round_trip;
