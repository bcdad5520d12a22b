//! Shared pieces of the component tests: the real `.wasm` under `copilot-host`, driven
//! against `copilot-sim` on loopback.
//!
//! The component is built once per test process (the host's dev-extension build, into its
//! own target dir) and compiled by wasmtime once per process; each test gets its own
//! simulator, clock, Copilot config dir and in-memory secret store, so tests never see the
//! developer's real credentials or environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use copilot_host::{
    Clock, CompletionEvent, CompletionRequest, CredentialStore, EnvSource, Extension,
    HostOptions, LogSink, MessageContent, MessageRole, ModelInfo, ProviderError,
    RequestMessage, ToolDefinition,
};
use copilot_sim::{Sim, SimConfig};

pub use copilot_sim::DEMO_OAUTH_TOKEN;

/// The provider id the extension registers.
pub const PROVIDER: &str = "copilot-chat";
/// The Copilot editor app's client id.
pub const COPILOT_APP: &str = "Iv1.b507a08c87ecfe98";

/// The repository root, where `extension.toml` lives.
pub fn extension_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The built component, built at most once per test process.
pub fn component() -> PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        copilot_host::build::ensure_component(&extension_dir()).expect("build the extension component")
    })
    .clone()
}

/// The hostile test component (`tests/hostile/`), built at most once per test process with a
/// nested cargo into its own target dir (a nested cargo on the caller's target dir deadlocks).
pub fn hostile_component() -> PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("hostile");
        let target_dir = extension_dir().join("target").join("hostile");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = std::process::Command::new(cargo);
        command
            .args(["build", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir);
        for var in ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_MAKEFLAGS"] {
            command.env_remove(var);
        }
        let output = command.output().expect("run cargo for the hostile component");
        assert!(
            output.status.success(),
            "building the hostile component failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        target_dir.join("wasm32-wasip2").join("debug").join("copilot_hostile.wasm")
    })
    .clone()
}

/// The hostile component loaded under the real manifest, with `tweak` applied to the options
/// (a short deadline, a small memory cap); logs captured, no credentials, no network grants
/// beyond the manifest's.
pub fn load_hostile(tweak: impl FnOnce(&mut HostOptions)) -> Extension {
    let mut opts = HostOptions::new(extension_dir());
    opts.wasm = Some(hostile_component());
    opts.env = EnvSource::Map(HashMap::new());
    opts.credentials = CredentialStore::in_memory();
    opts.log = LogSink::Capture;
    tweak(&mut opts);
    Extension::load(opts).expect("load the hostile component")
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "copilot-test-{}-{}-{label}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.0.join(name), contents).expect("write test file");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `apps.json` as the Copilot language server writes it.
pub fn apps_json(host: &str, token: &str) -> String {
    serde_json::json!({
        format!("{host}:{COPILOT_APP}"): {
            "user": "sim-user",
            "oauth_token": token,
            "githubAppId": COPILOT_APP,
        }
    })
    .to_string()
}

/// Everything one scenario needs.
pub struct Harness {
    pub sim: Sim,
    pub ext: Extension,
    pub clock: Clock,
    pub config_dir: TempDir,
}

/// How to set up a scenario.
pub struct Setup {
    pub sim: SimConfig,
    pub settings: serde_json::Value,
    pub env: HashMap<String, String>,
    /// Write `apps.json` with the demo token into the config dir.
    pub signed_in: bool,
    /// More HTTP hosts to grant (e.g. a second simulator's `127.0.0.1:PORT`).
    pub extra_http_hosts: Vec<String>,
    /// Grant the manifest's hosts (`api.github.com`, `*.githubcopilot.com`). Replays of real
    /// answers name the real hosts: with this off, a request there is refused by the sandbox
    /// and never leaves the machine.
    pub declared_http_hosts: bool,
    /// Where the frozen clock starts (unix seconds); `None` is the real time at the start.
    pub start_at: Option<u64>,
    /// The guest's memory cap, when not the host's default.
    pub max_guest_memory_bytes: Option<usize>,
    /// Put `apps.json` in the default place (`$HOME/.config/github-copilot`, with `HOME` the
    /// test's config dir) instead of passing the config dir explicitly.
    pub default_config_dir: bool,
    /// How long a pending stream waits without news, when not the host's default.
    pub poll_safety_net: Option<std::time::Duration>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            sim: SimConfig::default(),
            settings: serde_json::json!({}),
            env: HashMap::new(),
            signed_in: true,
            extra_http_hosts: Vec::new(),
            declared_http_hosts: true,
            start_at: None,
            max_guest_memory_bytes: None,
            default_config_dir: false,
            poll_safety_net: None,
        }
    }
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with(Setup::default())
    }

    pub fn with(setup: Setup) -> Harness {
        // Frozen: a scenario asserting "not yet at the refresh point" must not fail because a
        // slow machine let real seconds pass; only `clock.advance` moves time here.
        let clock = setup.start_at.map_or_else(Clock::frozen, Clock::frozen_at);
        let mut sim_config = setup.sim;
        sim_config.clock = clock.as_fn();
        let sim = Sim::start(sim_config).expect("start simulator");
        let config_dir = TempDir::new("config");
        let mut env = setup.env;
        let mut opts = HostOptions::new(extension_dir());
        if setup.default_config_dir {
            let dir = config_dir.path().join(".config").join("github-copilot");
            std::fs::create_dir_all(&dir).expect("create the default config dir");
            if setup.signed_in {
                std::fs::write(dir.join("apps.json"), apps_json("github.com", DEMO_OAUTH_TOKEN)).expect("write apps.json");
            }
            env.insert("HOME".into(), config_dir.path().to_string_lossy().into_owned());
        } else {
            if setup.signed_in {
                config_dir.write("apps.json", &apps_json("github.com", DEMO_OAUTH_TOKEN));
            }
            opts.copilot_config_dir = Some(config_dir.path().to_path_buf());
        }
        opts.wasm = Some(component());
        opts.github_api_url = Some(sim.url());
        opts.settings = setup.settings;
        opts.extra_http_hosts = setup.extra_http_hosts;
        opts.declared_http_hosts = setup.declared_http_hosts;
        opts.env = EnvSource::Map(env);
        opts.clock = clock.clone();
        opts.credentials = CredentialStore::in_memory();
        opts.log = LogSink::Capture;
        if let Some(cap) = setup.max_guest_memory_bytes {
            opts.max_guest_memory_bytes = cap;
        }
        if let Some(wait) = setup.poll_safety_net {
            opts.poll_safety_net = wait;
        }
        let ext = Extension::load(opts).expect("load the extension");
        Harness { sim, ext, clock, config_dir }
    }

    pub fn models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        let result = self.ext.models(PROVIDER).expect("models call must not trap");
        self.assert_no_credential_in(&format!("{result:?}"));
        result
    }

    pub fn model_ids(&self) -> Vec<String> {
        self.models().expect("models").into_iter().map(|m| m.id).collect()
    }

    /// Streams a completion to the end and returns every event, or the first error.
    pub fn chat(&self, model: &str, request: CompletionRequest) -> Result<Vec<CompletionEvent>, ProviderError> {
        let result = match self.ext.stream(PROVIDER, model, request).expect("stream call must not trap") {
            Ok(stream) => stream.collect(),
            Err(e) => Err(e),
        };
        self.assert_no_credential_in(&format!("{result:?}"));
        result
    }

    /// Fails the test when a credential the simulator saw (the OAuth token, a session token)
    /// shows in the extension's log lines or in `shown`. Every `models` and `chat` call of the
    /// harness runs this, so the whole component suite is a secret scan (issue 6).
    pub fn assert_no_credential_in(&self, shown: &str) {
        let logs = self.ext.logs().join("\n");
        let mut secrets = vec![DEMO_OAUTH_TOKEN.to_string()];
        secrets.extend(self.sim.requests().iter().filter_map(|r| r.bearer().map(str::to_string)));
        for secret in secrets.iter().filter(|s| s.len() >= 16) {
            // The message names where, never the credential itself.
            assert!(!logs.contains(secret.as_str()), "a credential leaked into a log line");
            assert!(!shown.contains(secret.as_str()), "a credential leaked into a result or error");
        }
    }

    /// Requests the simulator saw on `path`.
    pub fn count(&self, path: &str) -> usize {
        self.sim.requests_to(path).len()
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

pub fn user(text: &str) -> RequestMessage {
    RequestMessage { role: MessageRole::User, content: vec![MessageContent::Text(text.into())], cache: false }
}

pub fn system(text: &str) -> RequestMessage {
    RequestMessage { role: MessageRole::System, content: vec![MessageContent::Text(text.into())], cache: false }
}

pub fn request(messages: Vec<RequestMessage>) -> CompletionRequest {
    copilot_host::plain_request(messages)
}

pub fn tool(name: &str) -> ToolDefinition {
    ToolDefinition {
        name: name.into(),
        description: format!("the {name} tool"),
        input_schema: r#"{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}"#.into(),
    }
}

/// The concatenated text of a stream's events.
pub fn text_of(events: &[CompletionEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            CompletionEvent::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}
