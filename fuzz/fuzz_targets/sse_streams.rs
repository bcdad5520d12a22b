//! The SSE parser and both stream decoders (chat completions, responses) on arbitrary bytes,
//! cut into chunks at fuzzer-chosen points: never a panic, and the plain SSE parser yields the
//! same events however the input is chunked.
#![no_main]

use copilot_chat::completion::chat::decode::ChatStream;
use copilot_chat::completion::responses::decode::ResponsesStream;
use copilot_chat::completion::sse::SseParser;
use libfuzzer_sys::fuzz_target;

/// Splits `data` after its first byte, which chooses the chunk size (1..=64).
fn chunks(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((n, rest)) => (usize::from(*n % 64) + 1, rest),
        None => (1, data),
    }
}

fuzz_target!(|data: &[u8]| {
    let (size, body) = chunks(data);

    let whole = {
        let mut p = SseParser::new();
        p.push(body).and_then(|mut e| {
            e.extend(p.finish()?);
            Ok(e)
        })
    };
    let chunked = {
        let mut p = SseParser::new();
        let mut all = Vec::new();
        let mut result = Ok(());
        for c in body.chunks(size) {
            match p.push(c) {
                Ok(e) => all.extend(e),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        result.and_then(|_| {
            all.extend(p.finish()?);
            Ok(all)
        })
    };
    if let (Ok(a), Ok(b)) = (&whole, &chunked) {
        assert_eq!(a, b, "chunking changed the events");
    }

    let mut chat = ChatStream::new();
    for c in body.chunks(size) {
        if chat.push(c).is_err() {
            break;
        }
    }
    let _ = chat.finish();

    let mut responses = ResponsesStream::new();
    for c in body.chunks(size) {
        if responses.push(c).is_err() {
            break;
        }
    }
    let _ = responses.finish();
});
