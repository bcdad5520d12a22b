//! Several streams and calls at once through one loaded extension (issue 6 item 4).
//!
//! Design decision: nothing here measures time. "A stalled stream does not delay the others"
//! is asserted by order: the other stream and a `models` call run to completion while the
//! stalled stream provably has not ended (its server is holding the connection open, and only
//! dropping the simulator, or the request's timeout, releases it). Exchanges are counted by
//! the simulator. Both stalls are covered: after the headers (the body stops) and before them
//! (`llm-stream-completion-start` only sends the request; the polls wait for the headers).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use copilot_chat_tests::*;
use copilot_host::ProviderError;
use copilot_host::{CompletionEvent, CompletionStream, Extension};
use copilot_sim::{ChatScript, Fault, Route, Sim};
use serde_json::json;

const MODEL: &str = "gpt-4.1";
const TOKEN: &str = "/copilot_internal/v2/token";
const CHAT: &str = "/chat/completions";
/// Threads hitting one instance at once.
const THREADS: usize = 4;
/// Streams each thread runs to the end.
const STREAMS_PER_THREAD: usize = 5;
/// Concurrent requests after the session token expired.
const EXPIRED_REQUESTS: usize = 16;
/// The request timeout while a server stalls before its headers: the stalled stream ends with
/// a timeout after it. Only a bound: the other stream and the `models` call on loopback finish
/// long before, and the test asserts their order, not their speed.
const STALL_TIMEOUT_SECS: u64 = 5;
/// The safety net of the wake-up test: long enough that a stream woken by nothing but its
/// safety net shows in its count of quiet waits.
const LONG_SAFETY_NET: Duration = Duration::from_secs(10);
/// Past the simulator's token lifetime (1,800 s), so any refresh rule must exchange again.
const PAST_EXPIRY_SECS: u64 = 1800 + 120;

fn chunk(text: &str) -> serde_json::Value {
    json!({
        "id": "chatcmpl-stall", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}}],
    })
}

/// A stream that sends its first event, then holds the connection open (sending nothing more)
/// until the simulator is dropped.
fn stalled_after_first_event() -> ChatScript {
    let first = format!("data: {}\n\n", chunk("before the stall"));
    ChatScript::sse(&[chunk("before the stall"), chunk("never sent")], true, 0).stalled_after(first.len())
}

/// Starts a stream whose server stalls after its first event, and reads that event.
fn start_stalled_stream(sim: &Sim, ext: &Extension) -> CompletionStream {
    sim.script_chat(stalled_after_first_event());
    let mut stalled = ext
        .stream(PROVIDER, MODEL, request(vec![user("this one stalls")]))
        .expect("no trap")
        .expect("the stalled stream starts (its headers arrived)");
    assert_eq!(read_until_text(&mut stalled), "before the stall");
    stalled
}

/// Reads events until the first text arrives.
fn read_until_text(stream: &mut CompletionStream) -> String {
    loop {
        match stream.next_event().expect("no host failure") {
            Some(Ok(CompletionEvent::Text(text))) => return text,
            Some(Ok(_)) => {}
            other => panic!("the stream ended before its first text: {other:?}"),
        }
    }
}

#[test]
fn streams_from_several_threads_all_complete_on_one_instance() {
    let h = Harness::new();
    let completed = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (h, completed) = (&h, &completed);
            scope.spawn(move || {
                for s in 0..STREAMS_PER_THREAD {
                    let events = h
                        .chat(
                            MODEL,
                            request(vec![user(&format!("thread {t} stream {s}"))]),
                        )
                        .unwrap_or_else(|e| panic!("thread {t} stream {s}: {e:?}"));
                    assert!(!text_of(&events).is_empty());
                    assert!(
                        matches!(events.last(), Some(CompletionEvent::Stop(_))),
                        "{events:?}"
                    );
                    completed.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        // Models calls interleave with the streams.
        for _ in 0..3 {
            assert!(!h.model_ids().is_empty());
        }
    });
    assert_eq!(
        completed.load(Ordering::SeqCst),
        THREADS * STREAMS_PER_THREAD
    );
    assert_eq!(h.count(CHAT), THREADS * STREAMS_PER_THREAD);
    assert_eq!(h.count(TOKEN), 1, "one exchange shared by every thread");
}

#[test]
fn each_pending_stream_is_woken_by_its_own_answer_not_by_the_safety_net() {
    // Every stream's first poll finds its headers not yet there, so each waits at least
    // once; the bytes of its own answer must end every wait. A wake-up that went to the wrong
    // signal (another stream's, or none) would end the wait only at the 10 s safety net and
    // be counted.
    let h = Harness::with(Setup {
        poll_safety_net: Some(LONG_SAFETY_NET),
        ..Setup::default()
    });
    assert!(!h.model_ids().is_empty());
    let quiet = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (h, quiet) = (&h, &quiet);
            scope.spawn(move || {
                for s in 0..STREAMS_PER_THREAD {
                    let mut stream = h
                        .ext
                        .stream(PROVIDER, MODEL, request(vec![user(&format!("thread {t} stream {s}"))]))
                        .expect("no trap")
                        .expect("the stream starts");
                    let mut text = String::new();
                    while let Some(event) = stream.next_event().expect("no host failure") {
                        if let CompletionEvent::Text(t) = event.expect("no provider error") {
                            text.push_str(&t);
                        }
                    }
                    assert!(!text.is_empty(), "thread {t} stream {s} streamed no text");
                    quiet.fetch_add(stream.quiet_waits() as usize, Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(quiet.load(Ordering::SeqCst), 0, "waits that only the safety net ended");
    assert_eq!(h.count(CHAT), THREADS * STREAMS_PER_THREAD);
}

#[test]
fn a_stalled_stream_delays_neither_another_stream_nor_models() {
    let Harness {
        sim,
        ext,
        clock: _clock,
        config_dir: _config_dir,
    } = Harness::new();
    let mut stalled = start_stalled_stream(&sim, &ext);

    let stalled_ended = AtomicBool::new(false);
    let (waiting_tx, waiting_rx) = mpsc::channel();
    std::thread::scope(|scope| {
        // This thread blocks on the stalled stream until the simulator goes away.
        let ended = &stalled_ended;
        let reader = scope.spawn(move || {
            let _ = waiting_tx.send(());
            let rest: Vec<_> = stalled.by_ref().collect();
            ended.store(true, Ordering::SeqCst);
            rest
        });
        waiting_rx.recv().expect("the reader started");

        // Meanwhile a whole other stream and a models call complete.
        let other = ext
            .stream(PROVIDER, MODEL, request(vec![user("this one flows")]))
            .expect("no trap")
            .expect("starts");
        let events: Result<Vec<_>, _> = other.collect();
        let events = events.expect("the second stream completes");
        assert!(!text_of(&events).is_empty());
        let models = ext
            .models(PROVIDER)
            .expect("no trap")
            .expect("models answer");
        assert!(!models.is_empty());
        assert!(
            !stalled_ended.load(Ordering::SeqCst),
            "the stalled stream cannot have ended: its server still holds it"
        );

        // Releasing the stall (the server goes away) ends the stalled stream with an error:
        // it was cut before `[DONE]`.
        drop(sim);
        let rest = reader.join().expect("the reader thread did not panic");
        assert!(stalled_ended.load(Ordering::SeqCst));
        assert!(
            matches!(rest.last(), Some(Err(_))),
            "a stream cut before its end is an error: {rest:?}"
        );
    });
}

/// Waits (without asserting any duration) until the simulator has received `n` requests to
/// `path`: a request dispatched by the host's own thread is in flight once it arrived.
fn wait_for_requests(h: &Harness, path: &str, n: usize) {
    while h.count(path) < n {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn a_stall_before_the_headers_delays_neither_another_stream_nor_models() {
    let h = Harness::with(Setup {
        settings: json!({"request_timeout_secs": STALL_TIMEOUT_SECS}),
        ..Setup::default()
    });
    assert!(!h.model_ids().is_empty());
    // The server accepts the next chat request and never sends a byte of its answer.
    h.sim.fault(Route::ChatCompletions, Fault::Stall, Some(1));
    let stalled = h
        .ext
        .stream(PROVIDER, MODEL, request(vec![user("this one stalls")]))
        .expect("no trap")
        .expect("start returns without waiting for the headers");
    wait_for_requests(&h, CHAT, 1);

    let stalled_ended = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // This thread polls the stalled stream until its request times out.
        let ended = &stalled_ended;
        let reader = scope.spawn(move || {
            let rest: Vec<_> = stalled.collect();
            ended.store(true, Ordering::SeqCst);
            rest
        });

        // Meanwhile a whole other stream and a models call complete.
        let events = h
            .chat(MODEL, request(vec![user("this one flows")]))
            .expect("the second stream completes");
        assert!(!text_of(&events).is_empty());
        assert!(
            matches!(events.last(), Some(CompletionEvent::Stop(_))),
            "{events:?}"
        );
        assert!(!h.models().expect("models answer").is_empty());
        assert!(
            !stalled_ended.load(Ordering::SeqCst),
            "the stalled stream cannot have ended: its server still holds it"
        );

        // The stalled stream then ends with a typed timeout.
        let rest = reader.join().expect("the reader thread did not panic");
        match rest.as_slice() {
            [Err(ProviderError::Network(message))] => {
                assert!(message.contains("timed out"), "{message}")
            }
            other => panic!("expected one timeout error, got {other:?}"),
        }
    });
    // The instance is not poisoned and the next request works.
    assert_eq!(h.ext.restarts(), 0);
    let events = h
        .chat(MODEL, request(vec![user("after the stall")]))
        .expect("the next request works");
    assert!(!text_of(&events).is_empty());
    assert_eq!(h.count(CHAT), 3, "the stalled request was not retried");
}

#[test]
fn concurrent_requests_at_an_expired_token_exchange_exactly_once() {
    let h = Harness::new();
    h.model_ids();
    assert_eq!(h.sim.issued_session_tokens(), 1);
    h.clock.advance(PAST_EXPIRY_SECS);
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let go_rx = std::sync::Mutex::new(go_rx);
    let ready = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let mut workers = Vec::new();
        for n in 0..EXPIRED_REQUESTS {
            let (h, go_rx, ready) = (&h, &go_rx, &ready);
            workers.push(scope.spawn(move || {
                ready.fetch_add(1, Ordering::SeqCst);
                // Every worker waits for one shared start signal, so the calls overlap.
                let _ = go_rx.lock().map(|rx| rx.recv());
                if n % 4 == 0 {
                    h.models().map(|_| ()).map_err(|e| format!("{e:?}"))
                } else {
                    h.chat(MODEL, request(vec![user(&format!("request {n}"))]))
                        .map(|_| ())
                        .map_err(|e| format!("{e:?}"))
                }
            }));
        }
        while ready.load(Ordering::SeqCst) < EXPIRED_REQUESTS {
            std::thread::yield_now();
        }
        for _ in 0..EXPIRED_REQUESTS {
            go_tx.send(()).expect("workers listen");
        }
        for (n, worker) in workers.into_iter().enumerate() {
            let outcome = worker.join().expect("worker did not panic");
            assert!(outcome.is_ok(), "request {n}: {outcome:?}");
        }
    });
    assert_eq!(
        h.sim.issued_session_tokens(),
        2,
        "exactly one exchange after expiry"
    );
    assert_eq!(h.count(TOKEN), 2);
}

#[test]
fn dropping_streams_without_close_mid_stream_never_deadlocks() {
    let Harness {
        sim,
        ext,
        clock: _clock,
        config_dir: _config_dir,
    } = Harness::new();
    // One stream stalls; it is dropped from another thread while other streams run.
    let stalled = start_stalled_stream(&sim, &ext);
    std::thread::scope(|scope| {
        scope.spawn(move || drop(stalled));
        for t in 0..THREADS {
            let ext = &ext;
            scope.spawn(move || {
                for s in 0..STREAMS_PER_THREAD {
                    let mut stream = ext
                        .stream(PROVIDER, MODEL, request(vec![user(&format!("{t}/{s}"))]))
                        .expect("no trap")
                        .expect("starts");
                    // Half are dropped after their first text, half after their first event.
                    if s % 2 == 0 {
                        read_until_text(&mut stream);
                    } else {
                        assert!(matches!(stream.next(), Some(Ok(_))));
                    }
                    drop(stream);
                }
            });
        }
    });
    // The instance still answers, and a new stream runs to its end.
    assert!(!ext
        .models(PROVIDER)
        .expect("no trap")
        .expect("models")
        .is_empty());
    let events: Result<Vec<_>, _> = ext
        .stream(PROVIDER, MODEL, request(vec![user("after the drops")]))
        .expect("no trap")
        .expect("starts")
        .collect();
    assert!(!text_of(&events.expect("completes")).is_empty());
    assert_eq!(ext.restarts(), 0);
    drop(sim);
}
