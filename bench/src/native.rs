//! The floors: the same requests made by a bare native HTTP client (ureq) with a minimal SSE
//! reader, so every component figure is compared with what the machine does without wasm.
//!
//! Design decision: the native client replays the exact request the component sent (method,
//! headers, body, as the simulator recorded them), so the two sides differ only in who sends
//! and decodes, not in what is sent or answered.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use copilot_sim::Recorded;
use ureq::Agent;

/// Headers the HTTP client writes itself; replaying them would duplicate or contradict.
pub const CLIENT_OWNED_HEADERS: [&str; 4] =
    ["host", "content-length", "transfer-encoding", "connection"];
/// The SSE payload that ends an OpenAI-style stream.
const DONE: &str = "[DONE]";

/// A native client for the simulator on loopback.
pub struct Native {
    agent: Agent,
}

/// What one native streamed read measured.
pub struct NativeRead {
    /// From sending the request to the first content delta.
    pub first_event: Duration,
    /// From sending the request to the end of the stream.
    pub total: Duration,
    /// Content deltas decoded.
    pub events: usize,
}

impl Native {
    /// A fresh agent (its own connection pool), never through a proxy.
    pub fn new() -> Native {
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .build()
            .new_agent();
        Native { agent }
    }

    /// Replays `recorded` against `base_url` and reads the SSE answer, decoding every event's
    /// JSON the way any client must.
    pub fn replay_stream(&self, base_url: &str, recorded: &Recorded) -> anyhow::Result<NativeRead> {
        let url = format!("{base_url}{}", recorded.path);
        let mut request = self.agent.post(&url);
        for (name, value) in &recorded.headers {
            if !CLIENT_OWNED_HEADERS
                .iter()
                .any(|h| name.eq_ignore_ascii_case(h))
            {
                request = request.header(name.as_str(), value.as_str());
            }
        }
        let started = Instant::now();
        let response = request.send(&recorded.body[..]).context("native request")?;
        if response.status() != 200 {
            bail!("the simulator answered {}", response.status());
        }
        let reader = BufReader::new(response.into_body().into_reader());
        let (first, events) = read_sse(reader, started)?;
        Ok(NativeRead {
            first_event: first.unwrap_or_else(|| started.elapsed()),
            total: started.elapsed(),
            events,
        })
    }

    /// The native first `models` call: the token exchange, then `GET /models`.
    pub fn exchange_and_models(
        &self,
        base_url: &str,
        oauth_token: &str,
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let exchange = self
            .agent
            .get(&format!("{base_url}/copilot_internal/v2/token"))
            .header("authorization", &format!("token {oauth_token}"))
            .header("editor-version", "vscode/1.104.1")
            .call()
            .context("native exchange")?
            .into_body()
            .read_to_vec()
            .context("read the exchange")?;
        let exchange: serde_json::Value =
            serde_json::from_slice(&exchange).context("exchange JSON")?;
        let token = exchange
            .get("token")
            .and_then(|t| t.as_str())
            .context("the exchange answered no token")?;
        let models = self
            .agent
            .get(&format!("{base_url}/models"))
            .header("authorization", &format!("Bearer {token}"))
            .header("editor-version", "vscode/1.104.1")
            .header("copilot-integration-id", "vscode-chat")
            .call()
            .context("native models")?
            .into_body()
            .read_to_vec()
            .context("read the models")?;
        let models: serde_json::Value = serde_json::from_slice(&models).context("models JSON")?;
        if models.get("data").and_then(|d| d.as_array()).is_none() {
            bail!("the models answer has no data");
        }
        Ok(started.elapsed())
    }
}

/// Reads `data:` lines until `[DONE]` or the end; returns when the first content delta arrived
/// and how many content deltas there were.
fn read_sse(
    mut reader: impl BufRead,
    started: Instant,
) -> anyhow::Result<(Option<Duration>, usize)> {
    let mut line = String::new();
    let mut first = None;
    let mut events = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line).context("read the stream")? == 0 {
            return Ok((first, events));
        }
        let Some(payload) = line.trim_end().strip_prefix("data:") else {
            continue;
        };
        let payload = payload.trim_start();
        if payload == DONE {
            return Ok((first, events));
        }
        let value: serde_json::Value = serde_json::from_str(payload).context("event JSON")?;
        let content = value
            .pointer("/choices/0/delta/content")
            .and_then(|c| c.as_str())
            .is_some_and(|c| !c.is_empty());
        if content {
            events += 1;
            first.get_or_insert_with(|| started.elapsed());
        }
    }
}
