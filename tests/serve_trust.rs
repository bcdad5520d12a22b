//! `serve` as an attacker and a heavy user see it (issue 12): the key is checked on the head
//! before any body byte is read, slow keyless connections cannot take the places of real
//! clients, `Expect: 100-continue` is answered, a burst of large requests is admitted within
//! the memory budget, and a client's mistake upstream keeps its status.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use copilot_chat_tests::*;
use copilot_host::serve::Server;
use copilot_sim::{Fault, Route, Sim};
use serde_json::{json, Value};

const MIB: usize = 1024 * 1024;

struct Served {
    server: Server,
    ext: Arc<copilot_host::Extension>,
    sim: Sim,
    _config_dir: TempDir,
}

fn serve() -> Served {
    let Harness { sim, ext, config_dir, .. } = Harness::new();
    let ext = Arc::new(ext);
    let server = Server::start(ext.clone(), PROVIDER, None).expect("start the server");
    Served { server, ext, sim, _config_dir: config_dir }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

impl Served {
    fn connect(&self) -> TcpStream {
        let conn = TcpStream::connect(self.server.addr()).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(120))).expect("timeout");
        conn
    }

    fn default_model(&self) -> String {
        let models = self.ext.models(PROVIDER).expect("no trap").expect("models");
        models.into_iter().find(|m| m.is_default).expect("a default model").id
    }

    /// POSTs `body` to `path` (under the root) with the key; status, `Retry-After`, body.
    fn post(&self, path: &str, body: &str) -> (u16, Option<String>, String) {
        let mut response = agent()
            .post(format!("{}{path}", self.server.root_url()))
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Bearer {}", self.server.key()))
            .send(body)
            .expect("POST");
        let status = response.status().as_u16();
        let retry = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.body_mut().read_to_string().expect("body");
        (status, retry, text)
    }

    fn models_status(&self) -> u16 {
        agent()
            .get(format!("{}/models", self.server.url()))
            .header("Authorization", format!("Bearer {}", self.server.key()))
            .call()
            .expect("GET")
            .status()
            .as_u16()
    }

    fn small_chat(&self) -> (u16, String) {
        let body = json!({"model": self.default_model(), "messages": [{"role": "user", "content": "hi"}]});
        let (status, _, text) = self.post("/v1/chat/completions", &body.to_string());
        (status, text)
    }
}

/// Everything the server sends until it closes (a reset after the answer ends the read too).
fn read_all(conn: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Reads up to the end of one response head (`\r\n\r\n`).
fn read_head(conn: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte) {
            Ok(1) => bytes.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn json_after_head(response: &str) -> Value {
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("a JSON body ({e}): {response}"))
}

/// Sends a head announcing `total` body bytes, then the body from another thread while the
/// answer is read here. Returns the answer and how many body bytes the client got to send.
fn send_large(s: &Served, path: &str, extra_headers: &str, total: usize) -> (String, usize) {
    let mut conn = s.connect();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {total}\r\n{extra_headers}\r\n"
    );
    conn.write_all(head.as_bytes()).expect("head");
    let sent = Arc::new(AtomicUsize::new(0));
    let mut writer = conn.try_clone().expect("clone");
    let counter = sent.clone();
    let body_thread = std::thread::spawn(move || {
        let chunk = vec![b' '; 64 * 1024];
        while counter.load(Ordering::SeqCst) < total {
            let n = chunk.len().min(total - counter.load(Ordering::SeqCst));
            match writer.write(&chunk[..n]) {
                Ok(0) | Err(_) => break,
                Ok(written) => {
                    counter.fetch_add(written, Ordering::SeqCst);
                }
            }
        }
    });
    let answer = read_all(&mut conn);
    drop(conn);
    body_thread.join().expect("body thread");
    (answer, sent.load(Ordering::SeqCst))
}

#[test]
fn keyless_large_bodies_are_refused_before_they_are_read() {
    let s = serve();
    let total = 31 * MIB;
    for (path, kind) in [
        ("/v1/chat/completions", "invalid_request_error"),
        ("/v1/responses", "invalid_request_error"),
        ("/v1/messages", "authentication_error"),
        ("/api/chat", ""),
    ] {
        let (answer, sent) = send_large(&s, path, "", total);
        assert!(answer.starts_with("HTTP/1.1 401 "), "{path}: {answer}");
        let body = json_after_head(&answer);
        if kind.is_empty() {
            assert!(body["error"].as_str().is_some_and(|m| m.contains("API key")), "{body}");
        } else {
            assert_eq!(body["error"]["type"], kind, "{path}: {body}");
        }
        // The server never read the body: the client could not push all of it through.
        assert!(sent < total, "{path}: the client sent the whole {total}-byte body");
    }
    // A wrong key is no key.
    let (answer, sent) = send_large(&s, "/v1/chat/completions", "Authorization: Bearer cph-wrong\r\n", total);
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    assert!(sent < total);
    // The endpoint still serves its clients.
    assert_eq!(s.models_status(), 200);
}

#[test]
fn an_oversized_announced_body_is_refused_at_once_even_with_the_key() {
    let s = serve();
    let total = 33 * MIB;
    let key = format!("Authorization: Bearer {}\r\n", s.server.key());
    let (answer, sent) = send_large(&s, "/v1/chat/completions", &key, total);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(sent < total);
    let (answer, _) = send_large(&s, "/v1/messages", &format!("x-api-key: {}\r\n", s.server.key()), total);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert_eq!(json_after_head(&answer)["error"]["type"], "request_too_large");
}

#[test]
fn expect_100_continue_is_answered_once_admitted() {
    let s = serve();
    let body = json!({"model": s.default_model(), "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let head = |key: &str, length: usize| {
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{key}Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
        )
    };
    let key = format!("Authorization: Bearer {}\r\n", s.server.key());

    // With the key: `100 Continue` before any body byte, then the real answer.
    let mut conn = s.connect();
    conn.write_all(head(&key, body.len()).as_bytes()).expect("head");
    assert_eq!(read_head(&mut conn), "HTTP/1.1 100 Continue\r\n\r\n");
    conn.write_all(body.as_bytes()).expect("body");
    let answer = read_all(&mut conn);
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(json_after_head(&answer)["choices"][0]["message"]["content"].is_string());

    // Without it: the refusal instead, never a 100.
    let mut conn = s.connect();
    conn.write_all(head("", body.len()).as_bytes()).expect("head");
    let answer = read_all(&mut conn);
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    assert!(!answer.contains("100 Continue"));

    // Too large: 413 instead of 100.
    let mut conn = s.connect();
    conn.write_all(head(&key, 40 * MIB).as_bytes()).expect("head");
    let answer = read_all(&mut conn);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(!answer.contains("100 Continue"));
}

#[test]
fn half_sent_keyless_connections_do_not_keep_out_an_authenticated_client() {
    let s = serve();
    let mut held = Vec::new();
    // 64 heads that never end (as many as the head pool holds) and 32 keyless bodies.
    for i in 0..96 {
        let mut conn = s.connect();
        if i % 3 != 0 {
            // A head that never ends.
            conn.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
                .expect("partial head");
        } else {
            // A whole keyless head and the start of a body that never ends.
            conn.write_all(
                format!("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{{\"model\":", MIB).as_bytes(),
            )
            .expect("partial body");
        }
        held.push(conn);
    }
    assert_eq!(s.models_status(), 200);
    let (status, text) = s.small_chat();
    assert_eq!(status, 200, "{text}");
    // The keyless ones got their 401 or were cut; none is served.
    for conn in held.iter_mut().step_by(3) {
        let answer = read_all(conn);
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 401 "), "{answer}");
    }
}

#[test]
fn a_burst_of_large_requests_leaves_the_server_answering() {
    let s = serve();
    let model = s.default_model();
    let big = json!({
        "model": model,
        // Words, so the simulator echoes only a few of them.
        "messages": [{"role": "user", "content": "x ".repeat(8 * MIB)}],
    })
    .to_string();
    let big = Arc::new(big);
    let s = Arc::new(s);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (s, big) = (s.clone(), big.clone());
            std::thread::spawn(move || s.post("/v1/chat/completions", &big))
        })
        .collect();
    for thread in threads {
        let (status, retry, text) = thread.join().expect("client thread");
        let head = &text[..text.len().min(300)];
        match status {
            503 => assert!(retry.is_some(), "a 503 without Retry-After: {head}"),
            // Answered, or refused as the client's mistake (too long a prompt).
            200 | 400 | 413 => {}
            other => panic!("{other}: {head}"),
        }
    }
    for _ in 0..3 {
        assert_eq!(s.models_status(), 200);
        let (status, text) = s.small_chat();
        assert_eq!(status, 200, "{text}");
    }
}

#[test]
fn a_clients_mistake_upstream_keeps_its_status_in_every_protocol() {
    let s = serve();
    let model = s.default_model();
    let openai = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let anthropic = json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let ollama = json!({"model": model, "stream": false, "messages": [{"role": "user", "content": "hi"}]}).to_string();
    for status in [400u16, 404, 413, 422] {
        for (path, body) in [
            ("/v1/chat/completions", &openai),
            ("/v1/messages", &anthropic),
            ("/api/chat", &ollama),
        ] {
            s.sim.fault(
                Route::ChatCompletions,
                Fault::status(status, r#"{"error":{"message":"the request is wrong in this way","code":"bad"}}"#),
                Some(1),
            );
            let (got, _, text) = s.post(path, body);
            s.sim.clear_faults();
            assert_eq!(got, status, "{path}: {text}");
            assert!(text.contains("the request is wrong in this way"), "{path}: {text}");
        }
    }
    // A service failure stays a service failure.
    s.sim.fault(Route::ChatCompletions, Fault::status(500, "down"), None);
    let (got, _, text) = s.post("/v1/chat/completions", &openai);
    s.sim.clear_faults();
    assert_eq!(got, 502, "{text}");
}

#[test]
fn an_empty_message_list_comes_back_as_the_clients_400() {
    let s = serve();
    let body = json!({"model": s.default_model(), "messages": []}).to_string();
    let (status, _, text) = s.post("/v1/chat/completions", &body);
    assert_eq!(status, 400, "{text}");
    let body: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
}
