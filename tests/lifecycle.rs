//! Stream lifecycle at volume (issue 5 items 7–8, issue 6 item 5's memory figure): 1,000
//! streams through one instance, every way a stream can end, and no growth.
//!
//! Design decision: leaks are measured on the guest's linear memory
//! (`Extension::guest_memory_bytes`, metered by the store's resource limiter). Linear memory
//! never shrinks, so after a warm-up that has seen every kind of ending once, any growth at all
//! means some state outlived its stream. The guest's own bookkeeping is checked through the
//! contract: a poll of every old stream id must answer `finished`.

use copilot_chat_tests::*;
use copilot_host::{CompletionEvent, ProviderError, StreamPoll};
use copilot_sim::{ChatScript, Fault, Route};
use serde_json::json;

const MODEL: &str = "gpt-4.1";
/// Streams in all; memory is compared after the warm-up and after the rest.
const STREAMS: usize = 1000;
const WARM_UP: usize = 100;
/// How many ways a stream ends (see [`Ending`]); the warm-up covers each many times.
const ENDINGS: usize = 6;

/// How one stream of the run ends.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// Read to the end.
    Completed,
    /// Closed after the first event.
    ClosedEarly,
    /// The body is cut off mid-stream: the guest reports an error and frees the stream.
    CutOff,
    /// The server refuses the request: `start` only sends it, the first poll answers the typed
    /// refusal and the guest frees the stream.
    Refused,
    /// Dropped after the first event without an explicit close (the host's `Drop` closes).
    Dropped,
    /// Read up to the `stop` event and then abandoned: never polled again, never closed
    /// (a host that stops at `stop`, as Zed's does). The guest frees it at `stop`.
    AbandonedAtStop,
}

fn ending(i: usize) -> Ending {
    match i % ENDINGS {
        0 => Ending::Completed,
        1 => Ending::ClosedEarly,
        2 => Ending::CutOff,
        3 => Ending::Refused,
        4 => Ending::Dropped,
        _ => Ending::AbandonedAtStop,
    }
}

/// A stream whose body is cut before `[DONE]` and before any finish reason.
fn cut_off_script() -> ChatScript {
    let chunk = json!({
        "id": "chatcmpl-cut", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "partial answer"}}],
    });
    let script = ChatScript::sse(&[chunk.clone(), chunk], true, 16);
    let half = script.body.len() / 2;
    script.cut_off_after(half)
}

/// Runs stream `i` to its ending; returns its id.
fn run_one(h: &Harness, i: usize) -> String {
    let req = request(vec![user(&format!("question number {i}"))]);
    match ending(i) {
        Ending::CutOff => h.sim.script_chat(cut_off_script()),
        Ending::Refused => h.sim.fault(
            Route::ChatCompletions,
            Fault::status(
                400,
                r#"{"error":{"message":"bad request","code":"invalid_request_body"}}"#,
            ),
            Some(1),
        ),
        _ => {}
    }
    let started = h
        .ext
        .stream(PROVIDER, MODEL, req)
        .expect("start must not trap");
    let mut stream = match started {
        Err(e) => panic!("stream {i} ({:?}) failed to start: {e:?}", ending(i)),
        Ok(stream) => stream,
    };
    let id = stream.id().to_string();
    match ending(i) {
        Ending::Completed => {
            let events: Result<Vec<_>, _> = stream.by_ref().collect();
            let events = events.unwrap_or_else(|e| panic!("stream {i}: {e:?}"));
            assert!(!text_of(&events).is_empty(), "stream {i} had no text");
        }
        Ending::ClosedEarly => {
            assert!(
                matches!(stream.next(), Some(Ok(_))),
                "stream {i}: no first event"
            );
            stream.close().expect("close must not trap").expect("close");
        }
        Ending::CutOff => {
            let last = stream.by_ref().last();
            assert!(
                matches!(
                    last,
                    Some(Err(ProviderError::Network(_) | ProviderError::Upstream(_)))
                ),
                "stream {i}: a cut-off stream must end in an error, got {last:?}"
            );
        }
        Ending::Dropped => {
            assert!(
                matches!(stream.next(), Some(Ok(_))),
                "stream {i}: no first event"
            );
            drop(stream);
        }
        Ending::AbandonedAtStop => {
            // Raw polls by id, as a host managing ids itself would do; then forget the handle
            // so that no close ever reaches the guest.
            loop {
                match h.ext.poll_stream_id(&id).expect("poll must not trap") {
                    Ok(StreamPoll::Event(CompletionEvent::Stop(_))) => break,
                    Ok(StreamPoll::Event(_)) => {}
                    Ok(StreamPoll::Pending) => std::thread::yield_now(),
                    other => panic!("stream {i}: ended before stop: {other:?}"),
                }
            }
            // Leaks one reference to the instance (test only): the point is that the guest
            // never hears of this stream again.
            std::mem::forget(stream);
        }
        Ending::Refused => {
            let first = stream.next();
            assert!(
                matches!(first, Some(Err(ProviderError::Upstream(ref u))) if u.status == 400),
                "stream {i}: a refused request ends with its typed error, got {first:?}"
            );
            assert!(
                stream.next().is_none(),
                "stream {i}: nothing after the refusal"
            );
        }
    }
    id
}

#[test]
fn a_thousand_streams_of_every_ending_leave_no_state_and_no_growth() {
    let h = Harness::new();
    // Sign-in, exchange and catalog happen before the measured window.
    h.model_ids();
    let mut ids = Vec::new();
    for i in 0..WARM_UP {
        ids.push(run_one(&h, i));
    }
    let after_warm_up = h.ext.guest_memory_bytes();
    assert!(
        after_warm_up > 0,
        "the memory meter must see the guest's memory"
    );
    for i in WARM_UP..STREAMS {
        ids.push(run_one(&h, i));
    }
    let after_all = h.ext.guest_memory_bytes();
    assert_eq!(
        after_all,
        after_warm_up,
        "guest linear memory grew from {after_warm_up} to {after_all} bytes over {} streams",
        STREAMS - WARM_UP
    );
    assert_eq!(ids.len(), STREAMS);
    for id in &ids {
        let polled = h.ext.poll_stream_id(id).expect("poll must not trap");
        assert!(
            matches!(polled, Ok(StreamPoll::Finished)),
            "the guest still holds stream {id}: {polled:?}"
        );
    }
    assert_eq!(h.ext.guest_memory_bytes(), after_all);
    assert_eq!(
        h.count("/copilot_internal/v2/token"),
        1,
        "one exchange for the whole run"
    );
}

#[test]
fn the_memory_meter_sees_the_instance_and_its_cap() {
    let h = Harness::new();
    let at_load = h.ext.guest_memory_bytes();
    assert!(
        at_load >= 64 * 1024,
        "at least one wasm page at instantiation: {at_load}"
    );
    assert!(at_load <= copilot_host::limits::MAX_GUEST_MEMORY_BYTES);
    h.model_ids();
    assert!(
        h.ext.guest_memory_bytes() >= at_load,
        "linear memory never shrinks"
    );
    assert_eq!(h.ext.guest_memory_peak_bytes(), h.ext.guest_memory_bytes());
}
