//! One benchmark environment: a simulator, a signed-in throwaway config dir, the loaded
//! component on the same clock, and the native client; plus the scripted streams both sides
//! read.
//!
//! Design decision: the environment is built exactly as the demo and the component tests build
//! theirs (fake token in a temp `apps.json`, in-memory secrets, empty environment), with logs
//! dropped so that logging is not part of what is measured.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use copilot_host::{
    Clock, CompletionEvent, CompletionRequest, CredentialStore, EnvSource, Extension, HostOptions,
    LogSink, MessageContent, MessageRole, RequestMessage,
};
use copilot_sim::{ChatScript, Recorded, Sim, SimConfig, DEMO_OAUTH_TOKEN};
use serde_json::{json, Value};

use crate::native::Native;

/// The model every stream asks for.
pub const MODEL: &str = "gpt-4.1";
pub const PROVIDER: &str = "copilot-chat";
/// The GitHub app id the Copilot editor plugins key `apps.json` with.
const COPILOT_APP: &str = "Iv1.b507a08c87ecfe98";
/// The path the completions go to.
const CHAT_PATH: &str = "/chat/completions";
/// Piece size of the long stream on the wire.
const LONG_PIECE_BYTES: usize = 16 * 1024;

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> anyhow::Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "copilot-bench-{}-{nanos}-{label}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(TempDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one streamed read measured (either side).
pub struct StreamRead {
    /// From the request to the first text event.
    pub first_event: Duration,
    /// From the request to the end of the stream.
    pub total: Duration,
    /// Text events seen.
    pub events: usize,
    /// Through the component: how long `stream` (`llm-stream-completion-start`: the guest
    /// builds the request and the host hands it to its sending thread) took; zero natively.
    pub start_call: Duration,
}

/// A simulator and the component loaded against it.
pub struct Env {
    pub sim: Sim,
    pub ext: Extension,
    pub clock: Clock,
    native: Native,
    _config: TempDir,
}

impl Env {
    /// Starts a simulator with `config` (its clock replaced by a shared host clock) and loads
    /// the component against it.
    pub fn start(wasm: &Path, mut config: SimConfig) -> anyhow::Result<Env> {
        let clock = Clock::system();
        config.clock = clock.as_fn();
        let sim = Sim::start(config).context("start the simulator")?;
        let dir = signed_in_config_dir()?;
        let ext = load(&sim, &clock, dir.path(), wasm)?;
        Ok(Env {
            sim,
            ext,
            clock,
            native: Native::new(),
            _config: dir,
        })
    }

    /// The exchange and the catalog, so later figures measure streams only.
    pub fn warm_up(&self) -> anyhow::Result<()> {
        match self.ext.models(PROVIDER)? {
            Ok(models) if !models.is_empty() => Ok(()),
            Ok(_) => bail!("the simulator offered no models"),
            Err(e) => bail!("models failed: {e:?}"),
        }
    }

    /// The exact `/chat/completions` request the component sends for `hello()`.
    pub fn recorded_chat(&self) -> anyhow::Result<Recorded> {
        self.recorded_chat_of(hello())
    }

    /// The exact `/chat/completions` request the component sends for `request` (one short
    /// scripted answer is used up).
    pub fn recorded_chat_of(&self, request: CompletionRequest) -> anyhow::Result<Recorded> {
        self.sim.script_chat(short_script());
        self.component_stream_of(request)?;
        self.sim
            .requests_to(CHAT_PATH)
            .pop()
            .context("the component sent no completion request")
    }

    /// One completion through the component, read to the end.
    pub fn component_stream(&self) -> anyhow::Result<StreamRead> {
        self.component_stream_of(hello())
    }

    /// One completion of `request` through the component, read to the end; the clock starts
    /// when the request is handed over (building it is the caller's).
    pub fn component_stream_of(&self, request: CompletionRequest) -> anyhow::Result<StreamRead> {
        let started = Instant::now();
        let stream = match self.ext.stream(PROVIDER, MODEL, request)? {
            Ok(stream) => stream,
            Err(e) => bail!("the stream did not start: {e:?}"),
        };
        let start_call = started.elapsed();
        let mut first = None;
        let mut events = 0;
        for event in stream {
            match event {
                Ok(CompletionEvent::Text(_)) => {
                    events += 1;
                    first.get_or_insert_with(|| started.elapsed());
                }
                Ok(_) => {}
                Err(e) => bail!("the stream failed: {e:?}"),
            }
        }
        Ok(StreamRead {
            first_event: first.unwrap_or_else(|| started.elapsed()),
            total: started.elapsed(),
            events,
            start_call,
        })
    }

    /// `recorded` replayed by the native client, read to the end.
    pub fn native_stream(&self, recorded: &Recorded) -> anyhow::Result<StreamRead> {
        let read = self.native.replay_stream(&self.sim.url(), recorded)?;
        Ok(StreamRead {
            first_event: read.first_event,
            total: read.total,
            events: read.events,
            start_call: Duration::ZERO,
        })
    }
}

/// A Copilot config dir holding the simulator's fake token, as the editor plugins write it.
fn signed_in_config_dir() -> anyhow::Result<TempDir> {
    let dir = TempDir::new("config")?;
    let apps = json!({
        format!("github.com:{COPILOT_APP}"): {
            "user": "sim-user",
            "oauth_token": DEMO_OAUTH_TOKEN,
            "githubAppId": COPILOT_APP,
        }
    });
    std::fs::write(dir.path().join("apps.json"), apps.to_string()).context("write apps.json")?;
    Ok(dir)
}

fn load(sim: &Sim, clock: &Clock, config_dir: &Path, wasm: &Path) -> anyhow::Result<Extension> {
    load_against(&sim.url(), clock, config_dir, wasm)
}

/// A signed-in config dir and the component loaded against the simulator at `sim_url`, for
/// a process that does not own the simulator (the `serve` child). Keep the dir alive.
pub fn load_signed_in(sim_url: &str, wasm: &Path) -> anyhow::Result<(Extension, TempDir)> {
    let dir = signed_in_config_dir()?;
    let ext = load_against(sim_url, &Clock::system(), dir.path(), wasm)?;
    Ok((ext, dir))
}

fn load_against(
    sim_url: &str,
    clock: &Clock,
    config_dir: &Path,
    wasm: &Path,
) -> anyhow::Result<Extension> {
    let mut opts = HostOptions::new(crate::extension_dir());
    opts.wasm = Some(wasm.to_path_buf());
    opts.copilot_config_dir = Some(config_dir.to_path_buf());
    opts.github_api_url = Some(sim_url.to_string());
    opts.env = EnvSource::Map(Default::default());
    opts.clock = clock.clone();
    opts.credentials = CredentialStore::in_memory();
    opts.log = LogSink::Null;
    Extension::load(opts)
}

fn hello() -> CompletionRequest {
    request_of(vec![RequestMessage {
        role: MessageRole::User,
        content: vec![MessageContent::Text("Say hello.".into())],
        cache: false,
    }])
}

/// A plain request carrying `messages`.
pub fn request_of(messages: Vec<RequestMessage>) -> CompletionRequest {
    copilot_host::plain_request(messages)
}

fn chunk(delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_700_000_000,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    })
}

/// A short answer: two text events and a stop, in one piece.
pub fn short_script() -> ChatScript {
    let events = [
        chunk(json!({"role": "assistant", "content": "Hello"}), None),
        chunk(json!({"content": " there."}), None),
        chunk(json!({}), Some("stop")),
    ];
    ChatScript::sse(&events, true, 0)
}

/// A long answer of `n` one-token text events, sent in 16 KiB pieces.
pub fn long_script(n: usize) -> ChatScript {
    let mut events = Vec::with_capacity(n + 1);
    events.push(chunk(json!({"role": "assistant", "content": "tok"}), None));
    events.extend((1..n).map(|_| chunk(json!({"content": " tok"}), None)));
    events.push(chunk(json!({}), Some("stop")));
    ChatScript::sse(&events, true, LONG_PIECE_BYTES)
}

/// The native floor of the first `models` call, against a fresh simulator and connection.
pub fn native_first_models() -> anyhow::Result<Duration> {
    let sim = Sim::start(SimConfig::default()).context("start the simulator")?;
    Native::new().exchange_and_models(&sim.url(), DEMO_OAUTH_TOKEN)
}

/// Loads `wasm` in this (fresh) process and makes the first `models` call; both timed.
pub fn load_and_first_models(wasm: &Path) -> anyhow::Result<(Duration, Duration)> {
    let clock = Clock::system();
    let sim = Sim::start(SimConfig {
        clock: clock.as_fn(),
        ..SimConfig::default()
    })
    .context("start the simulator")?;
    let dir = signed_in_config_dir()?;
    let started = Instant::now();
    let ext = load(&sim, &clock, dir.path(), wasm)?;
    let loaded = started.elapsed();
    let started = Instant::now();
    match ext.models(PROVIDER)? {
        Ok(models) if !models.is_empty() => {}
        other => bail!("first models call failed: {other:?}"),
    }
    Ok((loaded, started.elapsed()))
}
