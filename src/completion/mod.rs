//! The completion side: a WIT completion request out to an endpoint, its streamed answer back
//! as WIT completion events.
//!
//! * `sse`: the incremental Server-Sent Events parser every endpoint's body goes through.
//! * `decoder`: the one shape of an endpoint's stream decoder ([`decoder::StreamDecoder`]),
//!   the stream that drives it ([`decoder::EventStream`]), and the events built the same way
//!   for every endpoint (tool use, usage).
//! * `request`, `image`: what every endpoint's request mapping shares (temperature, token
//!   bound, tool schema and input, misplaced content; images as data URLs, sniffed and sized).
//! * `chat`, `responses`, `messages`: one folder per endpoint, each a `request` (body mapping)
//!   and a `decode` (stream decoder) module. A new endpoint is a new folder of the same shape.
//! * `routing`: which endpoint a model's request goes to, with its body and decoder.
//! * `body`: the body's JSON text (`serde_json`'s, with long strings copied in bulk).
//! * `words`: eight-bytes-at-a-time scans (line ends, bytes JSON escapes).
//! * `tokens`, `token_count`: the token-count estimate behind `llm-count-tokens`.
//!
//! May import the shared top-level modules and `catalog` (a model's entry shapes its request);
//! never `auth` or `provider`: sending, retrying and sessions are the provider's business.

pub mod body;
pub mod chat;
pub mod decoder;
pub mod image;
pub mod messages;
pub mod request;
pub mod responses;
pub mod routing;
pub mod sse;
pub mod token_count;
pub mod tokens;
pub mod words;

#[cfg(test)]
pub mod fixtures;
