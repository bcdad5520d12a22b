//! How a host loads one extension: where it is, what the user configured, what it may reach.
//!
//! Design decision: the user-facing flags (`--copilot-config-dir`, `--github-api-url`) are
//! merged into the provider settings object, and grants are derived from that merged object,
//! so a value from `--settings FILE` and the same value from a flag behave identically.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{Map, Value};

use crate::log::LogSink;
use crate::runtime::clock::Clock;
use crate::runtime::deadline::DEFAULT_CALL_DEADLINE;
use crate::runtime::limits::MAX_GUEST_MEMORY_BYTES;
use crate::runtime::stream::READINESS_SAFETY_NET;
use crate::sandbox::capabilities::{EnvSource, SETTING_COPILOT_CONFIG_DIR, SETTING_GITHUB_API_URL};
use crate::sandbox::credentials::CredentialStore;

/// The default HTTP timeout: whole request for `fetch`, headers (and each body read) for
/// `fetch-stream`.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything [`crate::Extension::load`] needs.
#[derive(Clone)]
pub struct HostOptions {
    /// The directory containing `extension.toml`.
    pub extension_dir: PathBuf,
    /// An explicit component; else `<dir>/extension.wasm`, built when missing or stale.
    pub wasm: Option<PathBuf>,
    /// Granted for reading and passed to the guest as setting `copilot_config_dir`.
    pub copilot_config_dir: Option<PathBuf>,
    /// Its host:port is granted for HTTP; passed to the guest as setting `github_api_url`.
    pub github_api_url: Option<String>,
    /// The provider settings object; the two fields above are merged in (and win).
    pub settings: Value,
    /// Where the guest's (declared) environment variables come from.
    pub env: EnvSource,
    /// More HTTP hosts to grant (`host`, `host:port`, `*.domain`).
    pub extra_http_hosts: Vec<String>,
    /// Grant the manifest's `http_hosts` (on by default). Tests that replay recorded answers
    /// naming the real Copilot hosts turn it off, so a request there is refused by the
    /// sandbox instead of leaving the machine.
    pub declared_http_hosts: bool,
    /// The guest's wall clock.
    pub clock: Clock,
    /// The guest's secret store.
    pub credentials: CredentialStore,
    /// See [`DEFAULT_HTTP_TIMEOUT`]; a request's own `timeout-ms` wins.
    pub http_timeout: Duration,
    /// Where guest and host log lines go.
    pub log: LogSink,
    /// Whether the guest's `open-browser` may launch the desktop's browser. Off by default
    /// so tests and embedders never pop up windows; the CLI turns it on for real accounts.
    pub allow_browser: bool,
    /// How long one export call may keep the guest running (waits inside host imports, each
    /// bounded by its own timeout, do not count). Past it the call fails with
    /// [`crate::GuestFailure::Deadline`] and the instance is replaced.
    pub call_deadline: Duration,
    /// The most linear memory one instance may hold; past it the call fails with
    /// [`crate::GuestFailure::OutOfMemory`] and the instance is replaced.
    pub max_guest_memory_bytes: usize,
    /// The longest a pending completion stream waits for news before it polls the guest
    /// again anyway ([`crate::READINESS_SAFETY_NET`] by default). Its HTTP streams
    /// wake it as soon as bytes arrive; this only bounds waits for news that comes from
    /// nowhere else (the end of a retry's pause).
    pub poll_safety_net: Duration,
}

/// Settings are shown redacted; env values and credentials never.
impl std::fmt::Debug for HostOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostOptions")
            .field("extension_dir", &self.extension_dir)
            .field("wasm", &self.wasm)
            .field("copilot_config_dir", &self.copilot_config_dir)
            .field("github_api_url", &self.github_api_url)
            .field("settings", &crate::output::redact_settings(&self.settings))
            .field("env", &self.env)
            .field("extra_http_hosts", &self.extra_http_hosts)
            .field("declared_http_hosts", &self.declared_http_hosts)
            .field("clock", &self.clock)
            .field("credentials", &self.credentials)
            .field("http_timeout", &self.http_timeout)
            .field("log", &self.log)
            .field("allow_browser", &self.allow_browser)
            .field("call_deadline", &self.call_deadline)
            .field("max_guest_memory_bytes", &self.max_guest_memory_bytes)
            .field("poll_safety_net", &self.poll_safety_net)
            .finish()
    }
}

impl HostOptions {
    /// Defaults: the process environment, the system clock, the user's credential file,
    /// a 60 s HTTP timeout, a 30 s call deadline, 256 MiB of guest memory, warnings to
    /// stderr, no settings, no browser.
    pub fn new(extension_dir: impl Into<PathBuf>) -> HostOptions {
        let env = EnvSource::Process;
        HostOptions {
            extension_dir: extension_dir.into(),
            wasm: None,
            copilot_config_dir: None,
            github_api_url: None,
            settings: Value::Object(Map::new()),
            credentials: CredentialStore::default_for(&env),
            env,
            extra_http_hosts: Vec::new(),
            declared_http_hosts: true,
            clock: Clock::system(),
            http_timeout: DEFAULT_HTTP_TIMEOUT,
            log: LogSink::default(),
            allow_browser: false,
            call_deadline: DEFAULT_CALL_DEADLINE,
            max_guest_memory_bytes: MAX_GUEST_MEMORY_BYTES,
            poll_safety_net: READINESS_SAFETY_NET,
        }
    }

    /// The settings object the guest sees: `settings` plus the flags.
    pub fn merged_settings(&self) -> anyhow::Result<Value> {
        let mut map = match &self.settings {
            Value::Object(map) => map.clone(),
            Value::Null => Map::new(),
            other => bail!(
                "the provider settings must be a JSON object, not {}",
                json_kind(other)
            ),
        };
        if let Some(dir) = &self.copilot_config_dir {
            let dir = absolute(dir)?;
            let text = dir
                .to_str()
                .context("the Copilot config dir is not valid UTF-8")?;
            map.insert(
                SETTING_COPILOT_CONFIG_DIR.into(),
                Value::String(text.to_string()),
            );
        }
        if let Some(url) = &self.github_api_url {
            map.insert(
                SETTING_GITHUB_API_URL.into(),
                Value::String(url.trim_end_matches('/').to_string()),
            );
        }
        Ok(Value::Object(map))
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd =
        std::env::current_dir().context("cannot resolve a relative path: no current directory")?;
    Ok(crate::sandbox::capabilities::normalize_lexically(&cwd.join(path)))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flags_override_settings_file_values() {
        let mut opts = HostOptions::new("/ext");
        opts.settings = json!({"github_api_url": "https://old", "enterprise_uri": "ghe.example.com", "copilot_config_dir": "/a"});
        opts.github_api_url = Some("http://127.0.0.1:9/".into());
        opts.copilot_config_dir = Some(PathBuf::from("/cfg"));
        let merged = opts.merged_settings().unwrap();
        assert_eq!(merged["github_api_url"], "http://127.0.0.1:9");
        assert_eq!(merged["copilot_config_dir"], "/cfg");
        assert_eq!(merged["enterprise_uri"], "ghe.example.com");
    }

    #[test]
    fn relative_config_dir_becomes_absolute_and_settings_must_be_an_object() {
        let mut opts = HostOptions::new("/ext");
        opts.copilot_config_dir = Some(PathBuf::from("rel/dir"));
        let merged = opts.merged_settings().unwrap();
        assert!(Path::new(merged["copilot_config_dir"].as_str().unwrap()).is_absolute());
        opts.settings = json!([1]);
        assert!(opts
            .merged_settings()
            .unwrap_err()
            .to_string()
            .contains("JSON object"));
        opts.settings = Value::Null;
        assert!(opts.merged_settings().is_ok());
    }
}
