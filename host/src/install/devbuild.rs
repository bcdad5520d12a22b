//! "Install dev extension": build `<dir>/extension.wasm` from source when it is missing or
//! older than the sources, the way an editor sideloads an extension under development.
//!
//! Design decisions: the nested cargo builds into its own target dir
//! (`<dir>/target/dev-extension`), because a nested cargo on the caller's target dir deadlocks
//! on cargo's lock when called from `cargo test`; and it runs with the caller's cargo-specific
//! environment cleared (target dir, target triple, rustflags, wrappers, jobserver), so that it
//! builds the same thing whether started from a shell or from inside `cargo test`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::SystemTime;

use anyhow::{anyhow, bail, Context};

/// The component file inside an extension directory.
pub const COMPONENT_FILE: &str = "extension.wasm";
/// The guest target triple.
pub const WASM_TARGET: &str = "wasm32-wasip2";
/// The nested build's target dir, relative to the extension dir.
const DEV_TARGET_DIR: &str = "target/dev-extension";
/// The registry (release) build's target dir, relative to the extension dir.
const REGISTRY_TARGET_DIR: &str = "target/registry";
/// Inputs whose modification makes the component stale (dirs are walked recursively).
const SOURCE_INPUTS: [&str; 4] = ["src", "wit", "Cargo.toml", "Cargo.lock"];
/// Environment a parent cargo sets that must not leak into the nested build.
const CLEARED_ENV: [&str; 11] = [
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
];
/// Lines of cargo's stderr quoted in a build error.
const STDERR_TAIL_LINES: usize = 30;

/// Which cargo profile a nested build uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// `cargo build` (debug): quick to build, what a dev extension runs.
    Dev,
    /// `cargo build --release`: what a registry builds and ships (size-tuned in Cargo.toml).
    Release,
}

impl Profile {
    fn target_dir(self) -> &'static str {
        match self {
            Profile::Dev => DEV_TARGET_DIR,
            Profile::Release => REGISTRY_TARGET_DIR,
        }
    }

    fn out_dir(self) -> &'static str {
        match self {
            Profile::Dev => "debug",
            Profile::Release => "release",
        }
    }
}

/// Serialises builds within this process (cargo's own lock covers other processes).
static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// The component of the extension in `extension_dir`, built first if missing or stale.
pub fn ensure_component(extension_dir: &Path) -> anyhow::Result<PathBuf> {
    let wasm = extension_dir.join(COMPONENT_FILE);
    let _guard = BUILD_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if is_fresh(extension_dir, &wasm) {
        return Ok(wasm);
    }
    let manifest = extension_dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "{} is missing and there is no Cargo.toml in {} to build it from; point --extension at the extension's source directory",
            wasm.display(),
            extension_dir.display()
        );
    }
    let built = build(extension_dir, Profile::Dev)?;
    install(&built, &wasm)?;
    Ok(wasm)
}

/// Builds the component of the extension in `extension_dir` with `profile`, always (cargo
/// itself skips what is up to date), into the profile's own target dir; returns the built file.
pub fn build(extension_dir: &Path, profile: Profile) -> anyhow::Result<PathBuf> {
    let manifest = extension_dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "there is no Cargo.toml in {} to build the extension from",
            extension_dir.display()
        );
    }
    let package = package_name(&manifest)?;
    ensure_target_installed();
    let message = match profile {
        Profile::Dev => "building extension (debug; first build takes ~1 min)",
        Profile::Release => "building extension in release, as a registry does (first build takes ~1 min)",
    };
    let mut spinner = crate::output::progress::Spinner::start(message);
    let built = cargo_build(extension_dir, &manifest, &package, profile);
    spinner.stop();
    built
}

/// Whether `wasm` exists and is newer than every source input.
pub fn is_fresh(extension_dir: &Path, wasm: &Path) -> bool {
    let Some(built) = modified(wasm) else {
        return false;
    };
    let mut newest = None;
    for input in SOURCE_INPUTS {
        newest_under(&extension_dir.join(input), &mut newest);
    }
    newest.is_none_or(|newest| built > newest)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn newest_under(path: &Path, newest: &mut Option<SystemTime>) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            newest_under(&entry.path(), newest);
        }
    } else if let Ok(time) = meta.modified() {
        if newest.is_none_or(|n| time > n) {
            *newest = Some(time);
        }
    }
}

/// The `[package] name` of the extension's Cargo.toml.
fn package_name(manifest: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let doc: toml::Table = toml::from_str(&text)
        .with_context(|| format!("{} is not valid TOML", manifest.display()))?;
    doc.get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{} has no [package] name", manifest.display()))
}

/// Installs the wasm target when rustup is there and lacks it; without rustup, cargo's own
/// error (quoted later) says what is missing.
fn ensure_target_installed() {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    let Ok(output) = installed else { return };
    let listed = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && listed.lines().any(|l| l.trim() == WASM_TARGET) {
        return;
    }
    eprintln!("installing the {WASM_TARGET} Rust target…");
    let _ = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .status();
}

fn cargo_build(
    extension_dir: &Path,
    manifest: &Path,
    package: &str,
    profile: Profile,
) -> anyhow::Result<PathBuf> {
    let target_dir = extension_dir.join(profile.target_dir());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .args(["--target", WASM_TARGET])
        .arg("--manifest-path")
        .arg(manifest)
        .args(["-p", package])
        .arg("--target-dir")
        .arg(&target_dir);
    if profile == Profile::Release {
        command.arg("--release");
    }
    for var in CLEARED_ENV {
        command.env_remove(var);
    }
    let output = command
        .output()
        .context("cannot run cargo to build the extension; is Rust installed?")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n");
        bail!("building the extension failed; fix the errors below and try again:\n{tail}");
    }
    let file = format!("{}.wasm", package.replace('-', "_"));
    Ok(target_dir.join(WASM_TARGET).join(profile.out_dir()).join(file))
}

/// Copies the built component into place through a temp file, so readers never see half.
fn install(built: &Path, wasm: &Path) -> anyhow::Result<()> {
    let dir = wasm
        .parent()
        .context("the component path has no directory")?;
    let tmp = dir.join(format!(".{COMPONENT_FILE}.{}.tmp", std::process::id()));
    std::fs::copy(built, &tmp)
        .with_context(|| format!("cargo succeeded but {} is missing", built.display()))?;
    std::fs::rename(&tmp, wasm).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "copilot-host-dev-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn set_mtime(path: &Path, secs_ago: u64) {
        let time = SystemTime::now() - std::time::Duration::from_secs(secs_ago);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(time)
            .unwrap();
    }

    #[test]
    fn freshness_compares_against_every_input() {
        let dir = temp_dir("fresh");
        std::fs::create_dir_all(dir.join("src/nested")).unwrap();
        let source = dir.join("src/nested/lib.rs");
        std::fs::write(&source, "").unwrap();
        std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"my-ext\"\n").unwrap();
        let wasm = dir.join(COMPONENT_FILE);
        assert!(!is_fresh(&dir, &wasm), "missing component is stale");
        std::fs::write(&wasm, b"\0asm").unwrap();
        set_mtime(&source, 100);
        set_mtime(&dir.join("Cargo.toml"), 100);
        assert!(is_fresh(&dir, &wasm));
        set_mtime(&wasm, 200);
        assert!(!is_fresh(&dir, &wasm), "an edited source makes it stale");
        assert_eq!(package_name(&dir.join("Cargo.toml")).unwrap(), "my-ext");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_component_without_sources_is_a_clear_error() {
        let dir = temp_dir("nosrc");
        let err = ensure_component(&dir).unwrap_err().to_string();
        assert!(
            err.contains("extension.wasm") && err.contains("Cargo.toml"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
