//! The instance survives, or is replaced (issue 12): a deliberately hostile component
//! (`tests/hostile/`) loops, allocates, floods the host and panics, and the real extension is
//! pushed past a small memory cap. Every failure is a typed [`GuestFailure`] without a wasm
//! backtrace, the failed instance is replaced, and the next call works on a fresh one.

use std::net::TcpListener;
use std::time::Duration;

use copilot_chat_tests::*;
use copilot_host::{
    CompletionEvent, Extension, GuestFailure, ProviderError, MAX_LOG_LINES_PER_CALL,
    MAX_REQUESTS_PER_CALL,
};
use copilot_sim::{Fault, Route};

/// A short deadline, so a runaway call ends quickly.
const SHORT_DEADLINE: Duration = Duration::from_secs(1);
/// A small memory cap for the hostile component's allocation storm.
const SMALL_MEMORY: usize = 64 * 1024 * 1024;
/// The token-shaped string the hostile component panics with.
const FAKE_TOKEN: &str = "ghu_HostileSecretToken1234567890";

/// One `llm-count-tokens` call with the given behaviour: the guest's answer, or the host
/// failure.
fn behave(ext: &Extension, behaviour: &str) -> Result<Result<u64, ProviderError>, GuestFailure> {
    match ext.count_tokens(PROVIDER, behaviour, &request(vec![user("x")])) {
        Ok(answer) => Ok(answer),
        Err(error) => {
            let message = format!("{error:#}");
            assert!(!message.contains("backtrace"), "a backtrace reached the message: {message}");
            assert!(!message.contains("0x"), "a code offset reached the message: {message}");
            Err(error.downcast::<GuestFailure>().expect("a typed GuestFailure"))
        }
    }
}

/// The next call runs on a fresh instance: its call counter starts again at 1.
fn assert_fresh_instance_answers(ext: &Extension) {
    assert_eq!(behave(ext, "ok"), Ok(Ok(1)), "the next call runs on a fresh instance");
    assert_eq!(behave(ext, "ok"), Ok(Ok(2)), "and that instance is kept");
}

#[test]
fn a_healthy_instance_is_kept_between_calls() {
    let ext = load_hostile(|_| {});
    assert_eq!(behave(&ext, "ok"), Ok(Ok(1)));
    assert_eq!(behave(&ext, "ok"), Ok(Ok(2)));
    assert_eq!(ext.restarts(), 0);
}

#[test]
fn a_runaway_loop_ends_at_the_deadline_and_the_next_call_works() {
    let ext = load_hostile(|o| o.call_deadline = SHORT_DEADLINE);
    assert_eq!(behave(&ext, "ok"), Ok(Ok(1)));
    let failure = behave(&ext, "loop").expect_err("the loop must be stopped");
    assert_eq!(failure, GuestFailure::Deadline { secs: 1 });
    assert_eq!(
        failure.to_string(),
        "the extension did not answer within 1 s; it was restarted"
    );
    assert_eq!(ext.restarts(), 1);
    assert_fresh_instance_answers(&ext);
}

#[test]
fn an_allocation_storm_ends_at_the_memory_cap_with_a_typed_error() {
    let ext = load_hostile(|o| o.max_guest_memory_bytes = SMALL_MEMORY);
    let failure = behave(&ext, "alloc").expect_err("the storm must be stopped");
    assert_eq!(failure, GuestFailure::OutOfMemory { limit_bytes: SMALL_MEMORY });
    assert!(failure.to_string().contains("64 MiB"), "{failure}");
    assert!(ext.guest_memory_peak_bytes() <= SMALL_MEMORY);
    assert_eq!(ext.restarts(), 1);
    assert_fresh_instance_answers(&ext);
    // The fresh instance starts from its own small memory, not the storm's.
    assert!(ext.guest_memory_bytes() < SMALL_MEMORY / 2, "{}", ext.guest_memory_bytes());
}

#[test]
fn a_log_flood_is_bounded_and_ended_by_the_deadline() {
    let ext = load_hostile(|o| o.call_deadline = SHORT_DEADLINE);
    let failure = behave(&ext, "log-flood").expect_err("the flood must be stopped");
    assert_eq!(failure, GuestFailure::Deadline { secs: 1 });
    let logs = ext.logs();
    let flood = logs.iter().filter(|l| l.contains("flood")).count();
    assert!(
        flood <= MAX_LOG_LINES_PER_CALL as usize + 1,
        "{flood} flood lines reached the log"
    );
    assert!(logs.iter().any(|l| l.contains("dropping the rest")), "the cut is logged");
    assert_fresh_instance_answers(&ext);
}

#[test]
fn a_request_flood_is_refused_after_the_per_call_budget() {
    let ext = load_hostile(|_| {});
    assert_eq!(
        behave(&ext, "fetch-flood"),
        Ok(Ok(u64::from(MAX_REQUESTS_PER_CALL))),
        "every request past the budget is refused with a typed error"
    );
    // The budget is per call: the next flood gets as many again, on the same instance.
    assert_eq!(behave(&ext, "fetch-flood"), Ok(Ok(u64::from(MAX_REQUESTS_PER_CALL))));
    assert_eq!(ext.restarts(), 0);
}

#[test]
fn a_panic_is_replaced_and_its_stderr_reaches_the_log_redacted() {
    let ext = load_hostile(|_| {});
    assert_eq!(behave(&ext, "ok"), Ok(Ok(1)));
    match behave(&ext, "panic").expect_err("a panic traps") {
        GuestFailure::Crashed { export, reason } => {
            assert_eq!(export, "llm-count-tokens");
            assert!(!reason.contains(FAKE_TOKEN), "{reason}");
        }
        other => panic!("expected a crash, got {other:?}"),
    }
    let logs = ext.logs().join("\n");
    assert!(!logs.contains(FAKE_TOKEN), "a token reached the log:\n{logs}");
    assert!(
        logs.lines().any(|l| l.contains("guest-stderr") && l.contains("hostile panic holding ghu_")),
        "the panic message is logged, redacted:\n{logs}"
    );
    assert_eq!(ext.restarts(), 1);
    assert_fresh_instance_answers(&ext);
}

#[test]
fn a_guest_that_imports_sockets_cannot_open_one() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let ext = load_hostile(|_| {});
    match behave(&ext, &format!("socket:{port}")) {
        Ok(Err(ProviderError::Network(message))) => {
            assert!(message.contains("connect failed"), "{message}")
        }
        other => panic!("the socket must be refused, got {other:?}"),
    }
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the guest reached the listener: {other:?}"),
    }
    assert_eq!(behave(&ext, "ok"), Ok(Ok(2)), "a refusal, not a crash");
}

#[test]
fn a_stream_of_a_replaced_instance_ends_with_an_error_and_a_new_one_works() {
    let ext = load_hostile(|_| {});
    let mut stream = match ext.stream(PROVIDER, "ok", request(vec![user("x")])).expect("start") {
        Ok(stream) => stream,
        Err(e) => panic!("{e:?}"),
    };
    assert_eq!(
        stream.next_event().expect("an event"),
        Some(Ok(CompletionEvent::Text("tick".into())))
    );
    assert!(behave(&ext, "panic").is_err());
    let error = stream.next_event().expect_err("the stream's instance is gone");
    assert_eq!(error.downcast_ref::<GuestFailure>(), Some(&GuestFailure::Restarted));
    assert!(stream.is_finished());
    drop(stream);
    let mut fresh = ext
        .stream(PROVIDER, "ok", request(vec![user("x")]))
        .expect("start")
        .expect("a stream");
    assert_eq!(
        fresh.next_event().expect("an event"),
        Some(Ok(CompletionEvent::Text("tick".into())))
    );
    assert_eq!(ext.restarts(), 1);
}

#[test]
fn a_request_larger_than_the_guest_can_hold_is_refused_before_the_call() {
    let ext = load_hostile(|_| {});
    let huge = "x".repeat(copilot_host::limits::MAX_REQUEST_BYTES + 1);
    let error = ext
        .count_tokens(PROVIDER, "ok", &request(vec![user(&huge)]))
        .expect_err("refused");
    match error.downcast_ref::<GuestFailure>() {
        Some(GuestFailure::TooLarge { limit_bytes, .. }) => {
            assert_eq!(*limit_bytes, copilot_host::limits::MAX_REQUEST_BYTES)
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(ext.restarts(), 0, "refused in the host, the guest never saw it");
    assert_eq!(behave(&ext, "ok"), Ok(Ok(1)));
}

/// The real extension, trapping at a small memory cap while parsing a large catalog: the next
/// call runs on a fresh instance, which exchanges the token again (its session cache was in the
/// discarded instance) and answers normally.
#[test]
fn after_a_trap_the_real_extension_restarts_and_rebuilds_its_session() {
    let h = Harness::with(Setup {
        max_guest_memory_bytes: Some(24 * 1024 * 1024),
        ..Setup::default()
    });
    assert!(!h.model_ids().is_empty());
    assert_eq!(h.count("/copilot_internal/v2/token"), 1);
    // Twelve megabytes of JSON strings: below the extension's size limit for a catalog, but
    // parsing it needs more than the 24 MiB this instance may hold.
    let body = format!(
        r#"{{"object":"list","data":[{}]}}"#,
        (0..12)
            .map(|i| format!(r#"{{"id":"m{i}","x":"{}"}}"#, "p".repeat(1024 * 1024)))
            .collect::<Vec<_>>()
            .join(",")
    );
    h.sim.fault(Route::Models, Fault::status(200, &body), Some(1));
    let error = h.ext.refresh_models(PROVIDER).expect_err("the parse outgrows the cap");
    let failure = error.downcast_ref::<GuestFailure>().expect("typed");
    assert!(
        matches!(failure, GuestFailure::OutOfMemory { .. } | GuestFailure::Crashed { .. }),
        "{failure:?}"
    );
    assert_eq!(h.ext.restarts(), 1);
    let ids = h.model_ids();
    assert!(!ids.is_empty(), "the fresh instance answers");
    assert_eq!(
        h.count("/copilot_internal/v2/token"),
        2,
        "the fresh instance exchanged the token again"
    );
    assert_eq!(h.ext.restarts(), 1);
}

#[test]
fn the_extension_imports_no_sockets_so_none_are_linked_for_it() {
    let wasm = std::fs::read(component()).expect("read the component");
    let needle = b"wasi:sockets/";
    assert!(
        !wasm.windows(needle.len()).any(|w| w == needle),
        "the extension must reach the network only through the host's http-client"
    );
}
