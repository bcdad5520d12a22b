//! The guest's imports: files, env, settings, credentials, platform, logging, browser, HTTP.
//!
//! Design decision: [`HostState`] is the store's data and owns nothing clever; every decision
//! is delegated to a module that is tested on its own (the sandbox's `capabilities`,
//! `credentials` and `http`, and `log`). No import can trap on guest input: every failure is a
//! typed WIT error.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::contract::host::{
    self, Architecture, CredentialError, FileError, LogLevel, Os,
};
use crate::contract::http_client::{
    self, ChunkPoll, HostHttpResponseStream, HttpError, HttpRequest, HttpResponse,
    HttpResponseStream,
};
use crate::contract::llm_provider;
use crate::log::{Level, Logger};
use crate::runtime::deadline::CallTimer;
use crate::runtime::limits::{GuestLimiter, MemoryMeter};
use crate::sandbox::capabilities::{EnvSource, Grants};
use crate::sandbox::credentials::CredentialStore;
use crate::sandbox::http::{HttpClient, HttpStream, Readiness};

/// The log source name of lines the guest writes.
const GUEST_SOURCE: &str = "guest";
/// The most log lines the guest may write during one export call; the rest are dropped (with
/// one line saying so), so a guest looping on `log` cannot flood the terminal or a log file.
pub const MAX_LOG_LINES_PER_CALL: u32 = 1000;
/// The most HTTP requests (`fetch` and `fetch-stream`) one export call may make. The extension
/// makes a handful (exchange, catalog, retries); a guest looping on requests gets a typed error.
pub const MAX_REQUESTS_PER_CALL: u32 = 100;

/// What every import of one instance consults; fixed at load.
#[derive(Clone)]
pub(crate) struct HostContext {
    /// The extension id: the credential store scope.
    pub ext_id: String,
    pub grants: Arc<Grants>,
    pub env: EnvSource,
    /// The merged provider settings, serialised once.
    pub settings_json: String,
    pub credentials: CredentialStore,
    pub http: HttpClient,
    pub log: Logger,
    /// Whether `open-browser` may launch anything (off in tests and the demo).
    pub allow_browser: bool,
}

/// The data of one instance's `Store`.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    ctx: HostContext,
    pub(crate) limits: GuestLimiter,
    /// The timing of the export call in progress (the per-call deadline).
    pub(crate) timer: CallTimer,
    /// Log lines and HTTP requests of the export call in progress.
    log_lines: u32,
    requests: u32,
    /// The signal of the completion stream the export call in progress starts or polls: the
    /// HTTP streams that call opens or looks at wake that completion stream, and no other.
    listener: Option<Readiness>,
}

impl HostState {
    pub(crate) fn new(
        wasi: WasiCtx,
        ctx: HostContext,
        max_memory: usize,
        meter: Arc<MemoryMeter>,
    ) -> HostState {
        HostState {
            wasi,
            table: ResourceTable::new(),
            ctx,
            limits: GuestLimiter::with_meter(max_memory, meter),
            timer: CallTimer::default(),
            log_lines: 0,
            requests: 0,
            listener: None,
        }
    }

    /// Resets the per-call budgets before an export call; `listener` is the signal of the
    /// completion stream the call works for, if it works for one.
    pub(crate) fn begin_call(&mut self, listener: Option<&Readiness>) {
        self.log_lines = 0;
        self.requests = 0;
        // The same stream polls many times in a row: keep its signal instead of cloning it.
        let same = match (&self.listener, listener) {
            (Some(current), Some(next)) => current.same_as(next),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.listener = listener.cloned();
        }
    }


    /// Runs `f`, a host step that may wait on the network or the disk; the wait does not
    /// count against the call's deadline (each such step has its own timeout).
    fn waiting<R>(&mut self, f: impl FnOnce(&mut HostState) -> R) -> R {
        let start = Instant::now();
        let result = f(self);
        self.timer.add_host_time(start.elapsed());
        result
    }

    /// Counts one HTTP request against the call's budget.
    fn count_request(&mut self) -> Result<(), HttpError> {
        self.requests += 1;
        if self.requests > MAX_REQUESTS_PER_CALL {
            return Err(HttpError::Other(format!(
                "too many HTTP requests in one call (the host allows {MAX_REQUESTS_PER_CALL})"
            )));
        }
        Ok(())
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl llm_provider::Host for HostState {}

impl host::Host for HostState {
    fn read_file(&mut self, path: String) -> Result<Vec<u8>, FileError> {
        let result = self.waiting(|s| s.ctx.grants.read_file(&path));
        if result == Err(FileError::Denied) {
            self.ctx.log.log(
                Level::Debug,
                "host",
                &format!("denied reading {path}: outside every granted directory"),
            );
        }
        result
    }

    fn get_env_var(&mut self, name: String) -> Option<String> {
        if self.ctx.grants.env_allowed(&name) {
            self.ctx.env.get(&name)
        } else {
            self.ctx.log.log(
                Level::Debug,
                "host",
                &format!("denied env var {name}: not declared in the manifest"),
            );
            None
        }
    }

    fn get_settings(&mut self) -> String {
        self.ctx.settings_json.clone()
    }

    fn get_credential(&mut self, key: String) -> Result<Option<String>, CredentialError> {
        self.waiting(|s| s.ctx.credentials.get(&s.ctx.ext_id, &key))
    }

    fn store_credential(&mut self, key: String, value: String) -> Result<(), CredentialError> {
        self.waiting(|s| s.ctx.credentials.store(&s.ctx.ext_id, &key, &value))
    }

    fn delete_credential(&mut self, key: String) -> Result<(), CredentialError> {
        self.waiting(|s| s.ctx.credentials.delete(&s.ctx.ext_id, &key))
    }

    fn get_platform(&mut self) -> (Os, Architecture) {
        platform()
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.log_lines = self.log_lines.saturating_add(1);
        match self.log_lines.cmp(&MAX_LOG_LINES_PER_CALL) {
            std::cmp::Ordering::Greater => {}
            std::cmp::Ordering::Equal => self.ctx.log.log(
                Level::Warn,
                "host",
                &format!("the extension wrote {MAX_LOG_LINES_PER_CALL} log lines in one call; dropping the rest of this call's lines"),
            ),
            std::cmp::Ordering::Less => self.ctx.log.log(level_of(level), GUEST_SOURCE, &message),
        }
    }

    fn open_browser(&mut self, url: String) -> Result<(), String> {
        if !self.ctx.allow_browser {
            return Err("this host does not open a browser; open the URL yourself".into());
        }
        self.waiting(|_| open_browser(&url))
    }
}

impl http_client::Host for HostState {
    fn fetch(&mut self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.count_request()?;
        self.waiting(|s| s.ctx.http.fetch(request))
    }

    fn fetch_stream(
        &mut self,
        request: HttpRequest,
    ) -> Result<Resource<HttpResponseStream>, HttpError> {
        self.count_request()?;
        let stream = self
            .ctx
            .http
            .fetch_stream(request, self.listener.as_ref())?;
        self.table
            .push(stream)
            .map(|entry| Resource::new_own(entry.rep()))
            .map_err(|e| HttpError::Other(format!("too many open streams: {e}")))
    }
}

impl HostHttpResponseStream for HostState {
    fn ready(&mut self, stream: Resource<HttpResponseStream>) -> bool {
        // A lost handle has nothing to wait for: `status` answers 0 at once for it.
        match self.table.get(&entry(&stream)) {
            Ok(stream) => {
                listen(self.listener.as_ref(), stream);
                stream.ready()
            }
            Err(_) => true,
        }
    }

    fn status(&mut self, stream: Resource<HttpResponseStream>) -> u16 {
        // A handle the guest holds always maps to a live entry; 0 only if the host lost it
        // (or the request failed before its headers: the next read says why).
        self.waiting(|s| s.table.get(&entry(&stream)).map(|s| s.status()).unwrap_or(0))
    }

    fn headers(&mut self, stream: Resource<HttpResponseStream>) -> Vec<(String, String)> {
        self.waiting(|s| {
            s.table
                .get(&entry(&stream))
                .map(|s| s.headers())
                .unwrap_or_default()
        })
    }

    fn next_chunk(
        &mut self,
        stream: Resource<HttpResponseStream>,
    ) -> Result<Option<Vec<u8>>, HttpError> {
        self.waiting(|s| {
            s.table
                .get_mut(&entry(&stream))
                .map_err(lost_stream)?
                .next_chunk()
        })
    }

    fn poll_chunk(
        &mut self,
        stream: Resource<HttpResponseStream>,
    ) -> Result<ChunkPoll, HttpError> {
        let stream = self.table.get_mut(&entry(&stream)).map_err(lost_stream)?;
        listen(self.listener.as_ref(), stream);
        stream.poll_chunk()
    }

    fn drop(&mut self, stream: Resource<HttpResponseStream>) -> wasmtime::Result<()> {
        // Dropping the stream drops its channel receiver, which stops its reader thread.
        self.table.delete(entry(&stream))?;
        Ok(())
    }
}

/// The table entry behind a guest's stream handle: the table holds the [`HttpStream`] itself
/// under the handle's index (the generated resource type is only a marker).
fn entry(handle: &Resource<HttpResponseStream>) -> Resource<HttpStream> {
    if handle.owned() {
        Resource::new_own(handle.rep())
    } else {
        Resource::new_borrow(handle.rep())
    }
}

/// Points `stream`'s news at the completion stream of the call in progress (`listener`),
/// before the guest looks at it: news that lands after the look then still wakes that stream.
fn listen(listener: Option<&Readiness>, stream: &HttpStream) {
    if let Some(listener) = listener {
        stream.listen(listener);
    }
}

fn lost_stream(e: wasmtime::component::ResourceTableError) -> HttpError {
    HttpError::Other(format!("unknown response stream: {e}"))
}

fn level_of(level: LogLevel) -> Level {
    match level {
        LogLevel::Error => Level::Error,
        LogLevel::Warn => Level::Warn,
        LogLevel::Info => Level::Info,
        LogLevel::Debug => Level::Debug,
        LogLevel::Trace => Level::Trace,
    }
}

/// The real OS and architecture of this process.
pub(crate) fn platform() -> (Os, Architecture) {
    let os = match std::env::consts::OS {
        "linux" => Os::Linux,
        "macos" => Os::Macos,
        "windows" => Os::Windows,
        _ => Os::Other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => Architecture::X8664,
        "aarch64" => Architecture::Aarch64,
        _ => Architecture::Other,
    };
    (os, arch)
}

/// Opens an `https://` URL with the desktop's opener, only when a desktop is there.
fn open_browser(url: &str) -> Result<(), String> {
    if !url.starts_with("https://") || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("only https:// URLs are opened".into());
    }
    let mut command = opener_command(url)
        .ok_or("no desktop session to open a browser in; open the URL yourself")?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|mut child| {
            // Reap the opener when it exits so it does not linger as a zombie.
            std::thread::spawn(move || child.wait());
        })
        .map_err(|e| format!("cannot start the browser opener: {e}; open the URL yourself"))
}

fn opener_command(url: &str) -> Option<Command> {
    if cfg!(target_os = "macos") {
        let mut c = Command::new("open");
        c.arg(url);
        Some(c)
    } else if cfg!(windows) {
        // `cmd /c start` would re-parse `&` in the URL; rundll32 takes it verbatim.
        let mut c = Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler").arg(url);
        Some(c)
    } else {
        let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
        has_display.then(|| {
            let mut c = Command::new("xdg-open");
            c.arg(url);
            c
        })
    }
}
