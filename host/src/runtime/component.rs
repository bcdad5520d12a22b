//! The wasmtime engine and compiled components, compiled once per process and cached on disk.
//!
//! Design decision: compiling the component costs ~0.1 s in release and seconds in a debug
//! host, loading a serialized one costs well under a millisecond. So compiled components are
//! kept in memory keyed by the SHA-256 of the wasm bytes, and serialized to
//! `$XDG_CACHE_HOME/copilot-host/<sha>-<wasmtime>-<engine hash>.cwasm`. Any cache problem
//! (missing, corrupt, written by another wasmtime) falls back to compiling; the cache only
//! ever makes things faster.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex, OnceLock};

use anyhow::{anyhow, Context};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use crate::log::{Level, Logger};

/// The pinned wasmtime version (see `host/Cargo.toml`); part of the disk cache key.
const WASMTIME_VERSION: &str = "48.0.8";
/// The cache directory's name under the user's cache dir.
const CACHE_DIR_NAME: &str = "copilot-host";
/// The code-generation settings of this host that change compiled code, in the cache key.
const CODEGEN_TAG: &str = "epoch";

static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
/// Compiled components by wasm SHA-256 (hex). The lock also serialises compiles.
static COMPILED: LazyLock<Mutex<HashMap<String, Component>>> = LazyLock::new(Mutex::default);

/// The process-wide engine (component model on, sync host).
pub fn engine() -> anyhow::Result<Engine> {
    let engine = ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.wasm_component_model(true);
        // The per-call deadline (see `deadline`); changes the compiled code, so the disk cache
        // key names it too.
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
        crate::runtime::deadline::start_ticker(&engine);
        Ok(engine)
    });
    engine
        .clone()
        .map_err(|e| anyhow!("cannot create the WebAssembly engine: {e}"))
}

pub use crate::digest::sha256_hex;

/// The compiled form of `wasm`: from memory, else the disk cache, else compiled now.
pub fn compile(engine: &Engine, wasm: &[u8], log: &Logger) -> anyhow::Result<Component> {
    let sha = sha256_hex(wasm);
    let mut compiled = COMPILED
        .lock()
        .map_err(|_| anyhow!("the component cache lock is poisoned"))?;
    if let Some(component) = compiled.get(&sha) {
        return Ok(component.clone());
    }
    let cache_file = cache_file(engine, &sha);
    let component = match cache_file
        .as_ref()
        .and_then(|path| load_cached(engine, path, log))
    {
        Some(component) => component,
        None => {
            let component = Component::new(engine, wasm)
                .map_err(|e| anyhow!("{e:#}"))
                .context("the file is not a valid WebAssembly component for this host")?;
            if let Some(path) = &cache_file {
                store_cached(&component, path, log);
            }
            component
        }
    };
    compiled.insert(sha, component.clone());
    Ok(component)
}

fn load_cached(engine: &Engine, path: &PathBuf, log: &Logger) -> Option<Component> {
    if let Err(why) = crate::sandbox::private_file::trusted(path) {
        if path.exists() || std::fs::symlink_metadata(path).is_ok() {
            log.log(
                Level::Debug,
                "host",
                &format!("ignoring compiled-component cache {}: {why}", path.display()),
            );
        }
        return None;
    }
    // SAFETY: the file is a regular file owned by this user, writable by nobody else, in a
    // directory only this user can write (checked just above), and is only ever written by
    // `store_cached` from `Component::serialize` (temp file + rename, so never partial);
    // wasmtime additionally checks that it was produced by a compatible engine.
    match unsafe { Component::deserialize_file(engine, path) } {
        Ok(component) => Some(component),
        Err(e) => {
            log.log(
                Level::Debug,
                "host",
                &format!("ignoring compiled-component cache {}: {e}", path.display()),
            );
            None
        }
    }
}

fn store_cached(component: &Component, path: &PathBuf, log: &Logger) {
    let result = (|| -> anyhow::Result<()> {
        let bytes = component.serialize().map_err(|e| anyhow!("{e:#}"))?;
        crate::sandbox::private_file::write(path, &bytes)?;
        Ok(())
    })();
    if let Err(e) = result {
        log.log(
            Level::Debug,
            "host",
            &format!("cannot write the compiled-component cache: {e:#}"),
        );
    }
}

/// `<cache dir>/<sha>-<wasmtime>-<codegen>-<engine hash>.cwasm`, or `None` without a cache
/// dir.
fn cache_file(engine: &Engine, sha: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let engine_hash = hasher.finish();
    Some(
        base.join(CACHE_DIR_NAME)
            .join(format!("{sha}-{WASMTIME_VERSION}-{CODEGEN_TAG}-{engine_hash:016x}.cwasm")),
    )
}

/// Compiles the component at `wasm` (an installed extension's) into the on-disk cache, so the
/// first command after `install` loads it instead of compiling it. A cache problem only costs
/// that first command its compile, so it is a warning, not a failure.
pub fn precompile(wasm: &std::path::Path, log: &Logger) {
    let warmed = std::fs::read(wasm)
        .map_err(anyhow::Error::from)
        .and_then(|bytes| compile(&engine()?, &bytes, log));
    if let Err(error) = warmed {
        log.log(
            crate::log::Level::Warn,
            "host",
            &format!("cannot precompile {}: {error:#}", wasm.display()),
        );
    }
}
