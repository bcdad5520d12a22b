//! The `/v1/messages` stream decoder on arbitrary bytes, cut into chunks at fuzzer-chosen
//! points: never a panic, and a body that decodes cleanly gives the same events however it is
//! chunked, since its blocks are tied by index across any number of reads.
#![no_main]

use copilot_chat::completion::messages::decode::MessagesStream;
use libfuzzer_sys::fuzz_target;

/// Splits `data` after its first byte, which chooses the chunk size (1..=64).
fn chunks(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((n, rest)) => (usize::from(*n % 64) + 1, rest),
        None => (1, data),
    }
}

/// Every event (as text) until the first error, and whether the stream ended cleanly.
fn run(body: &[u8], size: usize) -> (Vec<String>, bool) {
    let mut stream = MessagesStream::new();
    let mut events = Vec::new();
    for c in body.chunks(size) {
        match stream.push(c) {
            Ok(e) => events.extend(e.iter().map(|e| format!("{e:?}"))),
            Err(_) => return (events, false),
        }
    }
    match stream.finish() {
        Ok(e) => {
            events.extend(e.iter().map(|e| format!("{e:?}")));
            (events, true)
        }
        Err(_) => (events, false),
    }
}

fuzz_target!(|data: &[u8]| {
    let (size, body) = chunks(data);
    let (whole, whole_ok) = run(body, body.len().max(1));
    let (chunked, chunked_ok) = run(body, size);
    if whole_ok && chunked_ok {
        assert_eq!(whole, chunked, "chunking changed the events");
    }
});
