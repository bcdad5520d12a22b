//! One loaded extension: manifest, grants, compiled component, and its live instance.
//!
//! Design decision: one live instance per [`Extension`], its `Store` behind a mutex so calls
//! are serialised, but streams are driven with the non-blocking `llm-stream-completion-poll`:
//! a stalled stream returns `pending` and releases the lock, so it never delays another
//! stream or a models call. A call that traps, hits the memory cap or runs past its deadline
//! fails with a [`GuestFailure`]; that instance is discarded and the next call gets a fresh
//! one (streams of the old instance end with an error), so one bad answer never leaves the
//! extension broken.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use serde_json::Value;
use wasmtime::component::{HasSelf, Linker};
use wasmtime_wasi::WasiCtxBuilder;

use crate::contract::llm_provider::{
    CacheConfiguration, CompletionRequest, DeviceFlowPrompt, ModelInfo, ProviderError, ProviderInfo,
    StreamPoll,
};
use crate::contract::Exports;
use crate::log::Logger;
use crate::runtime::clock::WasiWallClock;
use crate::runtime::failure::GuestFailure;
use crate::runtime::imports::{HostContext, HostState};
use crate::runtime::instance::{Shared, Spawner};
use crate::runtime::limits::{MemoryMeter, MAX_REQUEST_BYTES};
use crate::runtime::stdio::GuestStderr;
use crate::runtime::options::HostOptions;
use crate::runtime::stream::CompletionStream;
use crate::sandbox::capabilities::Grants;
use crate::sandbox::http::{HttpClient, Readiness};
use crate::sandbox::manifest::Manifest;

/// A loaded extension. `Send + Sync`: share it across threads (calls are serialised inside).
pub struct Extension {
    shared: Arc<Shared>,
    manifest: Manifest,
    extension_dir: PathBuf,
    component_path: PathBuf,
    settings: Value,
    grants: Arc<Grants>,
    credentials: crate::sandbox::credentials::CredentialStore,
    log: Logger,
}

impl Extension {
    /// Reads the manifest, builds or loads the component, grants capabilities, instantiates.
    pub fn load(opts: HostOptions) -> anyhow::Result<Extension> {
        let manifest = Manifest::load(&opts.extension_dir)?;
        let settings = opts.merged_settings()?;
        let mut declared = manifest.capabilities.clone();
        if !opts.declared_http_hosts {
            declared.http_hosts.clear();
        }
        let grants = Grants::build(
            &declared,
            &opts.env,
            &settings,
            &opts.extra_http_hosts,
        )
        .map_err(|e| anyhow!("invalid configuration: {e}"))?;
        let grants = Arc::new(grants);
        let component_path = match &opts.wasm {
            Some(path) => path.clone(),
            None => crate::install::devbuild::ensure_component(&opts.extension_dir)?,
        };
        let wasm = std::fs::read(&component_path)
            .with_context(|| format!("cannot read the component {}", component_path.display()))?;
        let engine = crate::runtime::component::engine()?;
        let log = Logger::new(opts.log);
        crate::contract::api_version::verify_for_load(&wasm, &component_path, &log)?;
        let component = crate::runtime::component::compile(&engine, &wasm, &log)
            .with_context(|| format!("cannot load {}", component_path.display()))?;

        let http = HttpClient::new(
            grants.clone(),
            opts.http_timeout,
            Readiness::new(),
            log.clone(),
        );
        let context = HostContext {
            ext_id: manifest.id.clone(),
            grants: grants.clone(),
            env: opts.env.clone(),
            settings_json: settings.to_string(),
            credentials: opts.credentials.clone(),
            http,
            log: log.clone(),
            allow_browser: opts.allow_browser,
        };
        let linker = linker_for(&engine, &component)?;
        let clock = opts.clock.clone();
        let spawner = Spawner {
            engine,
            component,
            linker,
            context,
            wasi: Box::new(move || wasi_context(&clock)),
            max_memory: opts.max_guest_memory_bytes,
            meter: Arc::new(MemoryMeter::default()),
            deadline: opts.call_deadline,
            poll_safety_net: opts.poll_safety_net,
        };
        let first = spawner.spawn()?;
        let shared = Shared::new(first, spawner, log.clone());
        Ok(Extension {
            shared: Arc::new(shared),
            manifest,
            extension_dir: opts.extension_dir,
            component_path,
            settings,
            grants,
            credentials: opts.credentials,
            log,
        })
    }

    /// The parsed `extension.toml`.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The directory holding `extension.toml`.
    pub fn extension_dir(&self) -> &Path {
        &self.extension_dir
    }

    /// The `.wasm` file this instance runs.
    pub fn component_path(&self) -> &Path {
        &self.component_path
    }

    /// The merged settings object the guest sees (may hold secrets: redact before showing).
    pub fn settings(&self) -> &Value {
        &self.settings
    }

    /// The guest's secret store (for `doctor`: where the stored sign-in goes).
    pub fn credential_store(&self) -> &crate::sandbox::credentials::CredentialStore {
        &self.credentials
    }

    /// What the guest was granted.
    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    /// How many instances were discarded after a failed call (a trap, the memory cap, the
    /// call deadline) and replaced by a fresh one; 0 for a healthy extension.
    pub fn restarts(&self) -> u64 {
        self.shared.restarts()
    }

    /// Bytes of linear memory the guest instance holds now (never shrinks; read without
    /// taking the instance lock). Growth past [`crate::limits::MAX_GUEST_MEMORY_BYTES`] traps.
    pub fn guest_memory_bytes(&self) -> usize {
        self.shared.memory().current_bytes()
    }

    /// The most linear memory the guest instance ever held.
    pub fn guest_memory_peak_bytes(&self) -> usize {
        self.shared.memory().peak_bytes()
    }

    /// Captured guest and host log lines (empty unless the sink is [`crate::LogSink::Capture`]).
    pub fn logs(&self) -> Vec<String> {
        self.log.lines()
    }

    /// The providers the extension registers.
    pub fn providers(&self) -> anyhow::Result<Vec<ProviderInfo>> {
        self.shared
            .call("llm-providers", |e, s| e.call_llm_providers(s))
    }

    /// The first provider the extension registers.
    pub fn default_provider(&self) -> anyhow::Result<String> {
        match self.providers()?.into_iter().next() {
            Some(provider) => Ok(provider.id),
            None => bail!("the extension registers no language-model provider"),
        }
    }

    /// The provider's models, or its typed error.
    pub fn models(&self, provider: &str) -> anyhow::Result<Result<Vec<ModelInfo>, ProviderError>> {
        self.shared.call("llm-provider-models", |e, s| {
            e.call_llm_provider_models(s, provider)
        })
    }

    /// Fetches the catalog again now, past any cache or backoff (a failed refresh answers the
    /// last good list).
    pub fn refresh_models(&self, provider: &str) -> anyhow::Result<Result<Vec<ModelInfo>, ProviderError>> {
        self.shared.call("llm-provider-refresh-models", |e, s| {
            e.call_llm_provider_refresh_models(s, provider)
        })
    }

    /// Whether the provider has a usable credential.
    pub fn is_authenticated(&self, provider: &str) -> anyhow::Result<bool> {
        self.shared.call("llm-provider-is-authenticated", |e, s| {
            e.call_llm_provider_is_authenticated(s, provider)
        })
    }

    /// Markdown for the top of the provider's settings view.
    pub fn settings_markdown(&self, provider: &str) -> anyhow::Result<Option<String>> {
        self.shared.call("llm-provider-settings-markdown", |e, s| {
            e.call_llm_provider_settings_markdown(s, provider)
        })
    }

    /// The provider's extra facts (`llm-provider-details`: per-model billing, endpoint, limits,
    /// the quota, the session), parsed; `None` when the provider has none. A guest answering
    /// text that is not a JSON object is an error (the contract says JSON object).
    pub fn details(&self, provider: &str) -> anyhow::Result<Option<Value>> {
        let text = self.shared.call("llm-provider-details", |e, s| {
            e.call_llm_provider_details(s, provider)
        })?;
        let Some(text) = text else { return Ok(None) };
        match serde_json::from_str::<Value>(&text) {
            Ok(value) if value.is_object() => Ok(Some(value)),
            _ => bail!("the extension's provider details are not a JSON object"),
        }
    }

    /// Starts a device-flow sign-in.
    pub fn start_sign_in(
        &self,
        provider: &str,
    ) -> anyhow::Result<Result<DeviceFlowPrompt, ProviderError>> {
        self.shared
            .call("llm-provider-start-device-flow-sign-in", |e, s| {
                e.call_llm_provider_start_device_flow_sign_in(s, provider)
            })
    }

    /// Polls a device-flow sign-in once: `Ok(true)` when signed in.
    pub fn poll_sign_in(&self, provider: &str) -> anyhow::Result<Result<bool, ProviderError>> {
        self.shared
            .call("llm-provider-poll-device-flow-sign-in", |e, s| {
                e.call_llm_provider_poll_device_flow_sign_in(s, provider)
            })
    }

    /// Signs out.
    pub fn reset_credentials(&self, provider: &str) -> anyhow::Result<Result<(), ProviderError>> {
        self.shared.call("llm-provider-reset-credentials", |e, s| {
            e.call_llm_provider_reset_credentials(s, provider)
        })
    }

    /// Estimates the request's token count.
    pub fn count_tokens(
        &self,
        provider: &str,
        model: &str,
        request: &CompletionRequest,
    ) -> anyhow::Result<Result<u64, ProviderError>> {
        check_request_size(request)?;
        self.shared.call("llm-count-tokens", |e, s| {
            e.call_llm_count_tokens(s, provider, model, request)
        })
    }

    /// The model's prompt-caching configuration.
    pub fn cache_configuration(
        &self,
        provider: &str,
        model: &str,
    ) -> anyhow::Result<Option<CacheConfiguration>> {
        self.shared.call("llm-cache-configuration", |e, s| {
            e.call_llm_cache_configuration(s, provider, model)
        })
    }

    /// Starts a completion and returns its event stream.
    pub fn stream(
        &self,
        provider: &str,
        model: &str,
        request: CompletionRequest,
    ) -> anyhow::Result<Result<CompletionStream, ProviderError>> {
        check_request_size(&request)?;
        // The stream's own signal exists before `start`, which opens the request: its
        // headers may arrive before the first poll.
        let signal = Readiness::new();
        let (started, generation) = self.shared.call_at(
            "llm-stream-completion-start",
            None,
            Some(&signal),
            |e, s| e.call_llm_stream_completion_start(s, provider, model, &request),
        )?;
        Ok(started.map(|id| CompletionStream::new(self.shared.clone(), id, generation, signal)))
    }

    /// One raw `llm-stream-completion-poll` call by stream id (for hosts that manage ids
    /// themselves, and for contract tests).
    pub fn poll_stream_id(&self, stream_id: &str) -> anyhow::Result<Result<StreamPoll, ProviderError>> {
        self.shared.call("llm-stream-completion-poll", |e, s| {
            e.call_llm_stream_completion_poll(s, stream_id)
        })
    }

    /// One raw `llm-stream-completion-close` call by stream id.
    pub fn close_stream_id(&self, stream_id: &str) -> anyhow::Result<Result<(), ProviderError>> {
        self.shared.call("llm-stream-completion-close", |e, s| {
            e.call_llm_stream_completion_close(s, stream_id)
        })
    }
}

// An `Extension` is shared across threads and streams move between them.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Extension>();
    assert_send_sync::<CompletionStream>();
};

/// WASI for the guest: no files, no env, no stdin, no sockets (not linked, or every use
/// refused, see [`linker_for`]); our clock; stdout discarded (it must never corrupt the CLI's output);
/// stderr (panic messages) captured and logged through redaction after each call.
fn wasi_context(clock: &crate::Clock) -> (wasmtime_wasi::WasiCtx, GuestStderr) {
    let (stderr, pipe) = GuestStderr::new();
    let mut builder = WasiCtxBuilder::new();
    builder.wall_clock(WasiWallClock(clock.clone()));
    builder.stdout(std::io::empty());
    builder.stderr(pipe);
    // Only matters for a component that imports sockets: no use of them is allowed.
    builder.allow_tcp(false);
    builder.allow_udp(false);
    builder.allow_ip_name_lookup(false);
    (builder.build(), stderr)
}

/// The linker: WASI without any `wasi:sockets` interface, and the host's imports. A component
/// that imports sockets still loads, but every socket call is refused before a host socket is
/// created (see `wasi_link`).
fn linker_for(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::<HostState>::new(engine);
    crate::runtime::wasi_link::add_wasi_without_sockets(&mut linker)
        .map_err(|e| anyhow!("cannot link WASI: {e:#}"))?;
    Exports::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
        .map_err(|e| anyhow!("cannot link the host imports: {e:#}"))?;
    if crate::runtime::wasi_link::imports_sockets(engine, component) {
        crate::runtime::wasi_link::add_refused_sockets(&mut linker)
            .map_err(|e| anyhow!("cannot link the refused WASI sockets: {e:#}"))?;
    }
    Ok(linker)
}

fn check_request_size(request: &CompletionRequest) -> anyhow::Result<()> {
    let bytes = request_bytes(request);
    if bytes > MAX_REQUEST_BYTES {
        return Err(GuestFailure::TooLarge {
            bytes,
            limit_bytes: MAX_REQUEST_BYTES,
        }
        .into());
    }
    Ok(())
}

/// The bytes of every string and list in a request (what lowering copies into the guest).
fn request_bytes(request: &CompletionRequest) -> usize {
    use crate::contract::llm_provider::{MessageContent, ToolResultContent};
    let image = |i: &crate::contract::llm_provider::ImageData| i.source.len() + 16;
    let content = |c: &MessageContent| match c {
        MessageContent::Text(t) | MessageContent::RedactedThinking(t) => t.len(),
        MessageContent::Image(i) => image(i),
        MessageContent::ToolUse(t) => {
            t.id.len() + t.name.len() + t.input.len() + t.thought_signature.as_ref().map_or(0, String::len)
        }
        MessageContent::ToolResult(r) => {
            r.tool_use_id.len()
                + r.tool_name.len()
                + match &r.content {
                    ToolResultContent::Text(t) => t.len(),
                    ToolResultContent::Image(i) => image(i),
                }
        }
        MessageContent::Thinking(t) => t.text.len() + t.signature.as_ref().map_or(0, String::len),
    } + 16;
    let messages: usize = request
        .messages
        .iter()
        .map(|m| m.content.iter().map(content).sum::<usize>() + 16)
        .sum();
    let tools: usize = request
        .tools
        .iter()
        .map(|t| t.name.len() + t.description.len() + t.input_schema.len() + 16)
        .sum();
    let stops: usize = request.stop_sequences.iter().map(|s| s.len() + 8).sum();
    messages + tools + stops
}
