//! Credential discovery: finds the user's GitHub OAuth token for the configured host.
//!
//! Design decision: one ordered list of sources, tried until one yields a usable token, where
//! every source that does not yield one records *why* (not set, not found, malformed at line
//! N, no entry for the host). That list is both the `NotSignedIn` error and the doctor report,
//! so a user can fix their setup from the message alone. A broken file never stops the search:
//! a valid credential later in the order wins over a malformed one earlier.
//!
//! Order (the Copilot language server's, protocol notes §1.1, §1.5): `GH_COPILOT_TOKEN`,
//! `GITHUB_COPILOT_TOKEN`, `GITHUB_TOKEN` in Codespaces, then `apps.json`, `hosts.json` and
//! `auth.db` (with `auth.db-wal`, see [`crate::auth::authdb`]) in the Copilot config directory, then
//! the token our own device-flow sign-in stored in the host's secret store (last: a token the
//! user's editor keeps fresh beats one we saved once). Entries are matched on the exact host (never a substring:
//! `github.com.evil.com` must not match `github.com`), preferring the Copilot app's token,
//! the only kind known to work with the token exchange.
//!
//! Scope (issue 12, [`scope`]): a credential belongs to a host. One found in a default place
//! (a default config directory, a stored sign-in made against the GitHub host's own API) is
//! only ever sent to that host's API (and the Copilot API its exchange names). When the API
//! URL points elsewhere (a simulator, a proxy), only what the user gave for this run is used:
//! `copilot_config_dir`, a token in the environment, a sign-in made against that very URL.
//! The withheld sources are reported with the reason, like every other miss.
//!
//! Reasons never contain token text: they name env vars, paths and the host, never values
//! or JSON keys read from files.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::auth::authdb;
use crate::error::{redact, Error};
use crate::host_api::{CredentialError, FileError, HostApi, Os};
use crate::settings::Settings;

/// Where our own sign-in keeps the GitHub token in the host's secret store.
pub const STORED_TOKEN_KEY: &str = "github-oauth-token";
/// The Copilot GitHub App's client id. Its `ghu_` tokens work with the token exchange.
pub const COPILOT_APP_CLIENT_ID: &str = "Iv1.b507a08c87ecfe98";
/// Env vars holding an OAuth token, in precedence order (`GITHUB_TOKEN` is handled apart).
pub const TOKEN_ENV_VARS: [&str; 2] = ["GH_COPILOT_TOKEN", "GITHUB_COPILOT_TOKEN"];
/// Codespaces' token; used only when [`CODESPACES_ENV`] is `true` (elsewhere it is usually a
/// PAT, which Copilot refuses).
pub const CODESPACES_TOKEN_ENV: &str = "GITHUB_TOKEN";
/// Set to `true` inside GitHub Codespaces.
pub const CODESPACES_ENV: &str = "CODESPACES";
/// The Copilot config directory's name.
pub const CONFIG_DIR_NAME: &str = "github-copilot";
/// Written by the Copilot language server (2023 until its `auth.db` switch).
pub const APPS_JSON: &str = "apps.json";
/// Written by older copilot.vim and language servers.
pub const HOSTS_JSON: &str = "hosts.json";
/// The language server's SQLite store (version 1.494.0 and later).
pub const AUTH_DB: &str = "auth.db";
/// Its write-ahead log: recent sign-ins may live only here until a checkpoint.
pub const AUTH_DB_WAL: &str = "auth.db-wal";
/// How the report names our own stored sign-in.
pub const STORED_SOURCE: &str = "stored sign-in (copilot-host sign-in)";
/// Longest login we keep; GitHub logins are at most 39 characters.
const MAX_LOGIN_CHARS: usize = 100;

/// A GitHub OAuth token and where it came from. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The OAuth token (`ghu_…`, `gho_…`).
    pub token: String,
    /// Where it was found, e.g. `env GH_COPILOT_TOKEN` or a file path.
    pub source: String,
    /// The GitHub login, when the source records it.
    pub login: Option<String>,
    /// For a stored sign-in: the API base it was made against.
    pub api: Option<String>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("token", &"[redacted]")
            .field("source", &self.source)
            .field("login", &self.login)
            .finish()
    }
}

/// Finds the credential for `settings.github_host()`, or says everywhere it looked.
pub fn discover(host: &dyn HostApi, settings: &Settings) -> Result<Credential, Error> {
    discover_with_report(host, settings).0
}

/// Like [`discover`], and also returns the report of every source that was tried and did not
/// yield the credential (for `doctor`). On success the report ends before the winning source.
pub fn discover_with_report(
    host: &dyn HostApi,
    settings: &Settings,
) -> (Result<Credential, Error>, Vec<String>) {
    let mut searched = Vec::new();
    let target = settings.github_host();
    let found = from_env(host, &mut searched)
        .or_else(|| from_config_files(host, settings, &target, &mut searched))
        .or_else(|| from_stored(host, settings, &mut searched));
    match found {
        Some(credential) => (Ok(credential), searched),
        None => (
            Err(Error::NotSignedIn {
                searched: searched.clone(),
            }),
            searched,
        ),
    }
}

/// The env sources in precedence order.
fn from_env(host: &dyn HostApi, searched: &mut Vec<String>) -> Option<Credential> {
    for name in TOKEN_ENV_VARS {
        if let Some(c) = env_token(host, name, searched) {
            return Some(c);
        }
    }
    if host.env(CODESPACES_ENV).as_deref().map(str::trim) == Some("true") {
        return env_token(host, CODESPACES_TOKEN_ENV, searched);
    }
    searched.push(format!(
        "env {CODESPACES_TOKEN_ENV}: used only in Codespaces ({CODESPACES_ENV} is not \"true\")"
    ));
    None
}

fn env_token(host: &dyn HostApi, name: &str, searched: &mut Vec<String>) -> Option<Credential> {
    let why = match host.env(name) {
        None => "not set",
        Some(v) => match check_token(&v) {
            Ok(token) => {
                return Some(Credential {
                    token,
                    source: format!("env {name}"),
                    login: None,
                    api: None,
                })
            }
            Err(why) => why,
        },
    };
    searched.push(format!("env {name}: {why}"));
    None
}

/// Trims a token and checks it can be a GitHub OAuth token. A value with `=` is a pasted
/// Copilot session token (`tid=…;exp=…`), which cannot be exchanged (the language server
/// ignores it too); other checks keep header-breaking bytes out of `Authorization`.
fn check_token(raw: &str) -> Result<String, &'static str> {
    let token = raw.trim();
    if token.is_empty() {
        return Err("empty");
    }
    if token.contains('=') {
        return Err("ignored: contains '=', so it looks like a Copilot session token, not a GitHub OAuth token");
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("ignored: contains spaces or characters a token cannot have");
    }
    Ok(token.to_string())
}

/// `apps.json` then `hosts.json` in each candidate config directory.
fn from_config_files(
    host: &dyn HostApi,
    settings: &Settings,
    target: &str,
    searched: &mut Vec<String>,
) -> Option<Credential> {
    let os = host.os();
    let dirs = config_dirs(host, settings, searched);
    if let Some(why) = withheld(settings, Source::DefaultConfigDir) {
        for dir in dirs {
            searched.push(format!("{dir}: {why}"));
        }
        return None;
    }
    for dir in dirs {
        let files: [(&str, Parser); 2] =
            [(APPS_JSON, parse_apps_json), (HOSTS_JSON, parse_hosts_json)];
        for (name, parse) in files {
            let path = join(&dir, name, os);
            if let Some(c) = read_credential_file(host, &path, target, parse, searched) {
                return Some(c);
            }
        }
        if let Some(c) = read_auth_db(host, &dir, target, searched) {
            return Some(c);
        }
    }
    None
}

/// `auth.db` with the committed part of `auth.db-wal` over it. A missing WAL is normal (the
/// database was checkpointed); an unreadable one is reported and the main file still read.
fn read_auth_db(
    host: &dyn HostApi,
    dir: &str,
    target: &str,
    searched: &mut Vec<String>,
) -> Option<Credential> {
    let os = host.os();
    let path = join(dir, AUTH_DB, os);
    let db = match host.read_file(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            searched.push(format!("{path}: {}", file_error_reason(&e)));
            return None;
        }
    };
    let wal_path = join(dir, AUTH_DB_WAL, os);
    let wal = match host.read_file(&wal_path) {
        Ok(bytes) => Some(bytes),
        Err(FileError::NotFound) => None,
        Err(e) => {
            searched.push(format!(
                "{wal_path}: {}; read {AUTH_DB} without its most recent changes",
                file_error_reason(&e)
            ));
            None
        }
    };
    let chosen = authdb::read_token_rows(&db, wal.as_deref())
        .and_then(|rows| authdb::choose(&rows, target, COPILOT_APP_CLIENT_ID));
    let why = match chosen {
        Ok(Some(c)) => {
            return Some(Credential {
                token: c.token,
                source: format!("{path} (app {})", c.client_id),
                login: c.login,
                api: None,
            })
        }
        Ok(None) => format!("no entry for {target}"),
        Err(why) => why,
    };
    searched.push(format!("{path}: {why}"));
    None
}

/// What our own sign-in stores under [`STORED_TOKEN_KEY`]: the token with the host it
/// belongs to, so a token for github.com is never sent to an enterprise host.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct StoredToken {
    pub host: String,
    pub token: String,
    #[serde(default)]
    pub login: Option<String>,
    /// The GitHub REST API base the sign-in was made against (absent in entries written
    /// before it was recorded: those were made for the host's own API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("host", &self.host)
            .field("token", &"[redacted]")
            .field("login", &self.login)
            .field("api", &self.api)
            .finish()
    }
}

impl StoredToken {
    /// The JSON text kept in the secret store.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the stored JSON; `Err` says why it is unusable (never quoting it).
    pub fn parse(text: &str) -> Result<StoredToken, String> {
        serde_json::from_str::<StoredToken>(text)
            .map_err(|_| "unreadable; run `copilot-host sign-in` again".to_string())
    }
}

/// Where a credential was found, as far as [`scope`] cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A token in the environment: given for this run.
    Env,
    /// `copilot_config_dir` (`--copilot-config-dir`): given for this run.
    ExplicitConfigDir,
    /// A config directory found by the default rule (`$XDG_CONFIG_HOME`, `$HOME/.config`, ...).
    DefaultConfigDir,
    /// Our stored sign-in, made against the API base it records (`None`: an entry written
    /// before the API was recorded, made for the GitHub host's own API).
    Stored,
}

/// The scope rule, in one place: `Ok(why)` when a credential from `source` (a stored sign-in
/// made against `signed_in_api`) may be sent to the configured API, `Err(why)` when it is
/// withheld. The reasons name hosts and settings, never tokens.
pub fn scope(
    settings: &Settings,
    source: Source,
    signed_in_api: Option<&str>,
) -> Result<String, String> {
    let host = settings.github_host();
    let api = settings.github_api_authority();
    let home = settings.api_is_home();
    match source {
        Source::Env => Ok(format!("a token in the environment is given for this run; it goes to {api}")),
        Source::ExplicitConfigDir => Ok(format!(
            "copilot_config_dir (--copilot-config-dir) is given for this run; its token goes to {api}"
        )),
        Source::DefaultConfigDir if home => Ok(format!(
            "a default place; its token belongs to {host} and goes to its API {api}"
        )),
        Source::DefaultConfigDir => Err(format!(
            "withheld: a default place, whose credential belongs to {host} and goes only to its own API, not {api}; pass --copilot-config-dir (setting copilot_config_dir) or a token in the environment, or sign in against that URL"
        )),
        Source::Stored => match signed_in_api {
            Some(made) if same_base(made, &settings.github_api_base()) => Ok(format!(
                "the sign-in was made against {api}, where it goes"
            )),
            Some(made) => Err(format!(
                "withheld: the sign-in was made against {}, not {api}; sign in again against this URL",
                authority_of(made)
            )),
            None if home => Ok(format!("a sign-in for {host}; it goes to its API {api}")),
            None => Err(format!(
                "withheld: a sign-in for {host} goes only to its own API, not {api}; sign in again against this URL"
            )),
        },
    }
}

/// `Some(why)` when `source` is withheld from the configured API.
fn withheld(settings: &Settings, source: Source) -> Option<String> {
    let source = match source {
        Source::DefaultConfigDir if settings.copilot_config_dir.is_some() => Source::ExplicitConfigDir,
        other => other,
    };
    scope(settings, source, None).err()
}

/// Whether two API bases are the same (case of scheme and host, a trailing `/` ignored).
fn same_base(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/').eq_ignore_ascii_case(b.trim().trim_end_matches('/'))
}

/// The host (and port) of an API base, for messages (never its user info).
fn authority_of(base: &str) -> String {
    let shown = crate::settings::without_userinfo(base);
    let rest = shown.split_once("://").map_or(shown.as_str(), |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or("").to_string()
}

/// Why the credential in use may go where it goes (for `doctor`); `None` without one.
pub fn scope_of(settings: &Settings, credential: &Credential) -> String {
    let source = if credential.source.starts_with("env ") {
        Source::Env
    } else if credential.source == STORED_SOURCE {
        Source::Stored
    } else if settings.copilot_config_dir.is_some() {
        Source::ExplicitConfigDir
    } else {
        Source::DefaultConfigDir
    };
    let signed_in_api = credential.api.as_deref();
    match scope(settings, source, signed_in_api) {
        Ok(why) | Err(why) => why,
    }
}

/// The token our own sign-in stored for the configured host, if any. Used on its own when an
/// earlier source's token was refused: a fresh sign-in must not be shadowed by a revoked token
/// in `apps.json` or the environment.
pub fn stored(host: &dyn HostApi, settings: &Settings) -> Option<Credential> {
    from_stored(host, settings, &mut Vec::new())
}

/// The token our device-flow sign-in stored, when it is for the configured host and may go
/// to the configured API ([`scope`]).
fn from_stored(host: &dyn HostApi, settings: &Settings, searched: &mut Vec<String>) -> Option<Credential> {
    let target = settings.github_host();
    let target = target.as_str();
    let why = match host.get_credential(STORED_TOKEN_KEY) {
        Ok(None) => "none (sign in with `copilot-host sign-in`)".to_string(),
        Err(CredentialError::Unavailable(m)) => format!("secret store unavailable: {}", redact(&m)),
        Err(CredentialError::Io(m)) => format!("secret store failed: {}", redact(&m)),
        Ok(Some(text)) => match StoredToken::parse(&text) {
            Err(why) => why,
            Ok(stored) if !stored.host.eq_ignore_ascii_case(target) => {
                format!("it is for {}, not {target}", stored.host)
            }
            Ok(stored) => match scope(settings, Source::Stored, stored.api.as_deref()) {
                Err(why) => why,
                Ok(_) => match check_token(&stored.token) {
                    Ok(token) => {
                        return Some(Credential {
                            token,
                            source: STORED_SOURCE.to_string(),
                            login: stored.login,
                            api: stored.api,
                        })
                    }
                    Err(why) => why.to_string(),
                },
            },
        },
    };
    searched.push(format!("{STORED_SOURCE}: {why}"));
    None
}

type Parser = fn(&[u8], &str) -> Result<Option<(String, Option<String>)>, String>;

fn read_credential_file(
    host: &dyn HostApi,
    path: &str,
    target: &str,
    parse: Parser,
    searched: &mut Vec<String>,
) -> Option<Credential> {
    let why = match host.read_file(path) {
        Err(e) => file_error_reason(&e),
        Ok(bytes) => match parse(&bytes, target) {
            Ok(Some((token, login))) => {
                return Some(Credential {
                    token,
                    source: path.to_string(),
                    login,
                    api: None,
                });
            }
            Ok(None) => format!("no entry for {target}"),
            Err(why) => why,
        },
    };
    searched.push(format!("{path}: {why}"));
    None
}

fn file_error_reason(e: &FileError) -> String {
    match e {
        FileError::NotFound => "not found".to_string(),
        FileError::Denied => {
            "not readable: the host did not grant access to this directory".to_string()
        }
        FileError::TooLarge(n) => format!("too large ({n} bytes)"),
        FileError::Io(m) => format!("unreadable: {}", redact(m)),
    }
}

/// The Copilot config directories to search, in order; reasons for skipped candidates go to
/// `searched`. Mirrors the language server (`XDG_CONFIG_HOME` only when absolute, on every
/// OS), and on Windows also tries `%LOCALAPPDATA%`, which most other readers use.
pub fn config_dirs(
    host: &dyn HostApi,
    settings: &Settings,
    searched: &mut Vec<String>,
) -> Vec<String> {
    let os = host.os();
    if let Some(dir) = &settings.copilot_config_dir {
        return vec![expand_home(host, dir, os)];
    }
    let env = |name: &str| {
        host.env(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    match env("XDG_CONFIG_HOME") {
        Some(xdg) if is_absolute(&xdg, os) => return vec![join(&xdg, CONFIG_DIR_NAME, os)],
        Some(_) => searched.push("env XDG_CONFIG_HOME: ignored, not an absolute path".to_string()),
        None => {}
    }
    if os == Os::Windows {
        let mut dirs = Vec::new();
        match env("USERPROFILE") {
            Some(p) => dirs.push(join(
                &join(&join(&p, "AppData", os), "Local", os),
                CONFIG_DIR_NAME,
                os,
            )),
            None => searched.push("env USERPROFILE: not set".to_string()),
        }
        match env("LOCALAPPDATA") {
            Some(p) => {
                let dir = join(&p, CONFIG_DIR_NAME, os);
                if !dirs.iter().any(|d| d.eq_ignore_ascii_case(&dir)) {
                    dirs.push(dir);
                }
            }
            None => searched.push("env LOCALAPPDATA: not set".to_string()),
        }
        return dirs;
    }
    match env("HOME") {
        Some(home) => vec![join(&join(&home, ".config", os), CONFIG_DIR_NAME, os)],
        None => {
            searched.push("env HOME: not set, so no Copilot config directory".to_string());
            Vec::new()
        }
    }
}

/// Why [`config_dirs`] chose the directories it did, for `doctor`.
pub fn config_dir_rule(host: &dyn HostApi, settings: &Settings) -> String {
    if settings.copilot_config_dir.is_some() {
        return "the copilot_config_dir setting".to_string();
    }
    let os = host.os();
    let xdg = host.env("XDG_CONFIG_HOME").map(|v| v.trim().to_string());
    match xdg {
        Some(x) if is_absolute(&x, os) => "$XDG_CONFIG_HOME/github-copilot (XDG_CONFIG_HOME is set and absolute)".to_string(),
        _ if os == Os::Windows => {
            "%USERPROFILE%\\AppData\\Local\\github-copilot, then %LOCALAPPDATA%\\github-copilot (the Copilot language server's rule on Windows)".to_string()
        }
        _ => "$HOME/.config/github-copilot (XDG_CONFIG_HOME is not set to an absolute path)".to_string(),
    }
}

/// `~` or `~/…` in a configured directory means the home directory.
fn expand_home(host: &dyn HostApi, dir: &str, os: Os) -> String {
    let rest = match dir.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') || rest.starts_with('\\') => rest,
        _ => return dir.to_string(),
    };
    let home_var = if os == Os::Windows {
        "USERPROFILE"
    } else {
        "HOME"
    };
    match host.env(home_var).filter(|h| !h.trim().is_empty()) {
        Some(home) => format!("{}{rest}", home.trim_end_matches(['/', '\\'])),
        None => dir.to_string(),
    }
}

fn is_absolute(path: &str, os: Os) -> bool {
    if os != Os::Windows {
        return path.starts_with('/');
    }
    let drive = matches!(path.as_bytes(), [d, b':', b'\\' | b'/', ..] if d.is_ascii_alphabetic());
    drive || path.starts_with("\\\\") || path.starts_with('/')
}

fn join(dir: &str, name: &str, os: Os) -> String {
    let sep = if os == Os::Windows { '\\' } else { '/' };
    if dir.ends_with(['/', '\\']) {
        format!("{dir}{name}")
    } else {
        format!("{dir}{sep}{name}")
    }
}

/// Reads `apps.json` (`{"<host>:<client id>": {"user", "oauth_token", "githubAppId"?}}`) for
/// `host`. Keys match when the part before the first `:` equals `host` (case-insensitive);
/// the Copilot app's entry wins, else the first usable entry in file order. `Ok(None)`: no
/// entry for the host. `Err`: why the file is unusable (never contains file content).
pub fn parse_apps_json(
    bytes: &[u8],
    host: &str,
) -> Result<Option<(String, Option<String>)>, String> {
    let entries = parse_object(bytes)?;
    let matching: Vec<&(String, Value)> = entries
        .iter()
        .filter(|(key, _)| {
            key.split(':')
                .next()
                .is_some_and(|h| h.eq_ignore_ascii_case(host))
        })
        .collect();
    if matching.is_empty() {
        return Ok(None);
    }
    let usable: Vec<(bool, (String, Option<String>))> = matching
        .iter()
        .filter_map(|(key, value)| {
            let entry = read_entry(value)?;
            let client_id = key.split_once(':').map(|(_, id)| id);
            let app_id = value.get("githubAppId").and_then(Value::as_str);
            let is_copilot_app =
                client_id == Some(COPILOT_APP_CLIENT_ID) || app_id == Some(COPILOT_APP_CLIENT_ID);
            Some((is_copilot_app, entry))
        })
        .collect();
    let preferred = usable.iter().position(|(copilot, _)| *copilot).unwrap_or(0);
    match usable.into_iter().nth(preferred) {
        Some((_, entry)) => Ok(Some(entry)),
        None => Err(no_usable_entry(matching.len(), host)),
    }
}

/// Reads `hosts.json` (`{"<host>": {"user", "oauth_token"}}`) for `host`: the key must equal
/// `host` (case-insensitive). Same results as [`parse_apps_json`].
pub fn parse_hosts_json(
    bytes: &[u8],
    host: &str,
) -> Result<Option<(String, Option<String>)>, String> {
    let entries = parse_object(bytes)?;
    let matching: Vec<&(String, Value)> = entries
        .iter()
        .filter(|(key, _)| key.eq_ignore_ascii_case(host))
        .collect();
    if matching.is_empty() {
        return Ok(None);
    }
    match matching.iter().find_map(|(_, value)| read_entry(value)) {
        Some(entry) => Ok(Some(entry)),
        None => Err(no_usable_entry(matching.len(), host)),
    }
}

fn no_usable_entry(count: usize, host: &str) -> String {
    let entries = if count == 1 { "1 entry" } else { "entries" };
    format!("{entries} for {host} but no usable token in it (needs a string \"oauth_token\")")
}

/// Token (`oauth_token`, or `access_token` as the language server's migration accepts) and
/// login (`user` or `login`) of one entry; `None` when it has no usable token.
fn read_entry(value: &Value) -> Option<(String, Option<String>)> {
    let object = value.as_object()?;
    let token = ["oauth_token", "access_token"].iter().find_map(|k| {
        object
            .get(*k)
            .and_then(Value::as_str)
            .and_then(|t| check_token(t).ok())
    })?;
    let login = ["user", "login"]
        .iter()
        .find_map(|k| object.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && l.chars().count() <= MAX_LOGIN_CHARS
                && !l.chars().any(char::is_control)
        })
        .map(str::to_string);
    Some((token, login))
}

/// The top-level JSON object's entries in file order (serde_json's map would sort them).
fn parse_object(bytes: &[u8]) -> Result<Vec<(String, Value)>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    // Windows editors may prepend a byte-order mark.
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err("empty file".to_string());
    }
    match serde_json::from_str::<OrderedObject>(text) {
        Ok(object) => Ok(object.0),
        // Only the position: serde's data errors can quote values, and values are secrets.
        Err(e) if e.is_data() => Err("not a JSON object".to_string()),
        Err(e) => Err(format!(
            "malformed JSON at line {} column {}",
            e.line(),
            e.column()
        )),
    }
}

/// A JSON object read as a list of entries, keeping file order and duplicates.
struct OrderedObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(OrderedVisitor)
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = OrderedObject;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(OrderedObject(entries))
    }
}

#[cfg(test)]
mod tests;
