//! The seam between the provider logic and the host.
//!
//! Logic modules never call WIT imports directly: calling a wit-bindgen import natively
//! aborts the test process. They take a `&dyn HostApi` instead; `guest.rs` implements it over
//! the imports, and unit tests implement it with a scripted fake.

pub use crate::bindings::copilot_chat::extension::host::{CredentialError, FileError, LogLevel, Os};
pub use crate::bindings::copilot_chat::extension::http_client::{
    ChunkPoll, HttpError, HttpMethod, HttpRequest, HttpResponse, RedirectPolicy,
};

/// A streamed HTTP response: its status and headers arrive first, then the body.
pub trait ByteStream {
    /// Never blocks: whether the status and headers are known (or the request failed before
    /// them). A non-blocking caller asks this before `status`.
    fn ready(&self) -> bool;
    /// Blocks until `ready`; 0 when the request failed before any header (the next read
    /// returns the error).
    fn status(&self) -> u16;
    /// Blocks until `ready`; empty after a failure before any header.
    fn headers(&self) -> Vec<(String, String)>;
    /// Blocks until bytes arrive; `None` at the end of the body.
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError>;
    /// Never blocks.
    fn poll_chunk(&mut self) -> Result<ChunkPoll, HttpError>;
}

/// Everything the provider needs from its host.
pub trait HostApi {
    /// Declared environment variables only; `None` when unset or not granted.
    fn env(&self, name: &str) -> Option<String>;
    fn read_file(&self, path: &str) -> Result<Vec<u8>, FileError>;
    /// The provider's settings as JSON text (`{}` when none).
    fn settings_json(&self) -> String;
    fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, HttpError>;
    /// Sends `request` and returns its answer as a stream. The request is lent, not given:
    /// a caller that keeps its body for a retry does not copy it (a body can be megabytes).
    fn fetch_stream(&self, request: &HttpRequest) -> Result<Box<dyn ByteStream>, HttpError>;
    /// Wall-clock time, unix seconds. The host controls it (tests move it forward).
    fn now_unix(&self) -> u64;
    /// Lets about `millis` milliseconds pass. Only a blocking export waiting for a retry time
    /// calls it (see `retry`); the guest sleeps, the test fake moves its clock instead.
    fn pause(&self, millis: u64);
    fn os(&self) -> Os;
    fn log(&self, level: LogLevel, message: &str);
    fn get_credential(&self, key: &str) -> Result<Option<String>, CredentialError>;
    fn store_credential(&self, key: &str, value: &str) -> Result<(), CredentialError>;
    fn delete_credential(&self, key: &str) -> Result<(), CredentialError>;
}

/// Looks up a header case-insensitively.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
