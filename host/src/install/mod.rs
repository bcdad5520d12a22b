//! Getting a component to load: the dev build of an extension source tree (`devbuild`),
//! registry packages (`package`: build as a registry does, reproducible archive and manifest;
//! `archive`: verify and unpack an untrusted archive), and installed extensions (this module):
//! `copilot-host install <dir, .wasm or .tar.gz>` copies a built extension into the host's
//! extensions directory, and `--extension <id>` finds it there.
//!
//! It may import `crate::contract` (the contract version check), `crate::sandbox` (the
//! manifest, the environment), `crate::output` (the build spinner), `crate::digest` and
//! `crate::log`; never the runtime, `serve` or the CLI (the runtime uses the dev build, not
//! the other way round; precompiling an installed component is the runtime's job).
//!
//! Design decisions:
//! * Only what a host needs at run time is copied (`extension.toml`, `extension.wasm`, the
//!   `icons/` directory, LICENSE files), never sources, so an installed copy is never
//!   "stale" and never rebuilt; the source directory can move or disappear afterwards.
//! * The component is checked (manifest valid, contract version compatible) before anything
//!   is written, and the copy is staged in a sibling directory and renamed into place, so a
//!   failed install leaves the previous version untouched.
//! * The directory is `$COPILOT_HOST_DATA_DIR/extensions`, else
//!   `$XDG_DATA_HOME/copilot-host/extensions`, else `~/.local/share/copilot-host/extensions`.

pub mod archive;
pub mod devbuild;
pub mod package;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};

use crate::install::archive::ArchiveLimits;
use crate::install::devbuild::COMPONENT_FILE;
use crate::sandbox::capabilities::EnvSource;
use crate::sandbox::manifest::{Manifest, MANIFEST_FILE};

/// Overrides the host's data directory (tests, portable installs).
pub const DATA_DIR_ENV: &str = "COPILOT_HOST_DATA_DIR";
/// The data directory's name under the user's data home.
const DATA_DIR_NAME: &str = "copilot-host";
/// The extensions directory's name inside the data directory.
const EXTENSIONS_DIR_NAME: &str = "extensions";

/// One installed extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    /// The extension id (its directory name).
    pub id: String,
    /// The manifest's version.
    pub version: String,
    /// Where it now lives.
    pub dir: PathBuf,
}

/// The host's data directory as `env` sees it.
pub fn data_dir(env: &EnvSource) -> anyhow::Result<PathBuf> {
    if let Some(dir) = env.get(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let data_home = env
        .get("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| env.home().map(|h| h.join(".local").join("share")))
        .ok_or_else(|| {
            anyhow!("cannot find a data directory: set HOME, XDG_DATA_HOME or {DATA_DIR_ENV}")
        })?;
    Ok(data_home.join(DATA_DIR_NAME))
}

/// The installed-extensions directory as `env` sees it.
pub fn extensions_dir(env: &EnvSource) -> anyhow::Result<PathBuf> {
    Ok(data_dir(env)?.join(EXTENSIONS_DIR_NAME))
}

/// The directory an `--extension` value names: an existing directory as given, else an
/// installed extension with that id, else the value unchanged (loading it then says what is
/// missing).
pub fn resolve_extension(value: &Path, extensions_dir: &Path) -> PathBuf {
    if value.is_dir() {
        return value.to_path_buf();
    }
    match value
        .to_str()
        .and_then(|id| find_installed(id, extensions_dir))
    {
        Some(dir) => dir,
        None => value.to_path_buf(),
    }
}

/// The directory of the installed extension `id`, if there is one.
pub fn find_installed(id: &str, extensions_dir: &Path) -> Option<PathBuf> {
    let plain = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    let dir = extensions_dir.join(id);
    (plain && dir.join(MANIFEST_FILE).is_file()).then_some(dir)
}

/// The ids of the installed extensions, sorted.
pub fn list_installed(extensions_dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(extensions_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|id| find_installed(id, extensions_dir).is_some())
        .collect();
    ids.sort();
    ids
}

/// Installs `source` (an extension directory, built first if needed, its `.wasm` file, whose
/// directory holds `extension.toml`, or a registry archive `.tar.gz`) into `extensions_dir`.
pub fn install_into(source: &Path, extensions_dir: &Path) -> anyhow::Result<Installed> {
    if crate::install::archive::is_archive(source) && source.is_file() {
        return install_archive(source, extensions_dir, &ArchiveLimits::default());
    }
    let (dir, wasm) = locate(source)?;
    let manifest = Manifest::load(&dir).map_err(|e| anyhow!("{e}"))?;
    let bytes = std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    crate::contract::api_version::check(&bytes)
        .map_err(|e| anyhow!("cannot install {}: {e}", wasm.display()))?;

    let target = extensions_dir.join(&manifest.id);
    if same_dir(&dir, &target) {
        bail!(
            "{} is already the installed copy of `{}`",
            dir.display(),
            manifest.id
        );
    }
    std::fs::create_dir_all(extensions_dir)
        .with_context(|| format!("cannot create {}", extensions_dir.display()))?;
    let stage = extensions_dir.join(format!(
        ".{}.installing-{}",
        manifest.id,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&stage);
    let staged = stage_files(&dir, &bytes, &stage);
    if let Err(error) = staged.and_then(|()| swap_into_place(&stage, &target)) {
        let _ = std::fs::remove_dir_all(&stage);
        return Err(error);
    }
    Ok(Installed {
        id: manifest.id,
        version: manifest.version,
        dir: target,
    })
}

/// Installs a registry archive (see [`crate::install::archive`]) under `limits`: unpacked and verified
/// in a staging directory, then renamed into place; a refused archive leaves the installed
/// copy untouched.
pub fn install_archive(
    archive: &Path,
    extensions_dir: &Path,
    limits: &ArchiveLimits,
) -> anyhow::Result<Installed> {
    let staged = crate::install::archive::unpack(archive, extensions_dir, limits)?;
    let target = extensions_dir.join(&staged.manifest.id);
    if let Err(error) = swap_into_place(&staged.dir, &target) {
        let _ = std::fs::remove_dir_all(&staged.dir);
        return Err(error);
    }
    Ok(Installed {
        id: staged.manifest.id,
        version: staged.manifest.version,
        dir: target,
    })
}

/// Installs into the extensions directory of the process environment.
pub fn install(source: &Path) -> anyhow::Result<Installed> {
    install_into(source, &extensions_dir(&EnvSource::Process)?)
}

/// The extension directory and its component. A source directory (with a `Cargo.toml`) is
/// built in release, the registry's profile (issue 14: the debug build is several times slower
/// per request); a directory without one installs the `extension.wasm` it holds.
fn locate(source: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    if source.is_dir() {
        let wasm = if source.join("Cargo.toml").is_file() {
            crate::install::devbuild::build(source, crate::install::devbuild::Profile::Release)?
        } else {
            crate::install::devbuild::ensure_component(source)?
        };
        return Ok((source.to_path_buf(), wasm));
    }
    let is_wasm = source.extension().is_some_and(|e| e == "wasm");
    if !is_wasm || !source.is_file() {
        bail!(
            "{} is neither an extension directory, an extension.wasm nor a .tar.gz archive",
            source.display()
        );
    }
    let dir = source
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.join(MANIFEST_FILE).is_file() {
        bail!(
            "{} has no {MANIFEST_FILE} next to it; install the extension directory instead",
            source.display()
        );
    }
    Ok((dir.to_path_buf(), source.to_path_buf()))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Copies the payload (the set `package` archives, see [`crate::install::package::payload_files`]).
fn stage_files(dir: &Path, wasm: &[u8], stage: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(stage).with_context(|| format!("cannot create {}", stage.display()))?;
    std::fs::write(stage.join(COMPONENT_FILE), wasm)
        .with_context(|| format!("cannot write {}", stage.join(COMPONENT_FILE).display()))?;
    for rel in crate::install::package::payload_files(dir)? {
        let to = stage.join(&rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        copy_file(&dir.join(&rel), &to)?;
    }
    Ok(())
}

fn copy_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::copy(from, to)
        .map(drop)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))
}

/// Replaces `target` with `stage`; the old copy is removed only after the new one is in place.
fn swap_into_place(stage: &Path, target: &Path) -> anyhow::Result<()> {
    let old = target.with_file_name(format!(
        ".{}.old-{}",
        target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("extension"),
        std::process::id()
    ));
    let had_old = target.exists();
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(target, &old)
            .with_context(|| format!("cannot move the installed {} aside", target.display()))?;
    }
    if let Err(error) = std::fs::rename(stage, target) {
        if had_old {
            let _ = std::fs::rename(&old, target);
        }
        return Err(error).with_context(|| format!("cannot install into {}", target.display()));
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> EnvSource {
        EnvSource::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
        )
    }

    #[test]
    fn the_data_dir_follows_the_override_then_xdg_then_home() {
        let all = [
            (DATA_DIR_ENV, "/override"),
            ("XDG_DATA_HOME", "/xdg"),
            ("HOME", "/h"),
        ];
        assert_eq!(data_dir(&env(&all)).unwrap(), PathBuf::from("/override"));
        assert_eq!(
            data_dir(&env(&all[1..])).unwrap(),
            PathBuf::from("/xdg/copilot-host")
        );
        assert_eq!(
            extensions_dir(&env(&all[2..])).unwrap(),
            PathBuf::from("/h/.local/share/copilot-host/extensions")
        );
        assert_eq!(
            data_dir(&env(&[("XDG_DATA_HOME", "relative"), ("HOME", "/h")])).unwrap(),
            PathBuf::from("/h/.local/share/copilot-host")
        );
        assert!(data_dir(&env(&[])).is_err());
    }

    #[test]
    fn ids_never_escape_the_extensions_dir() {
        let dir = std::env::temp_dir();
        assert_eq!(find_installed("../etc", &dir), None);
        assert_eq!(find_installed("", &dir), None);
        assert_eq!(find_installed("a/b", &dir), None);
    }

    #[test]
    fn a_file_that_is_not_wasm_is_refused() {
        let err =
            install_into(Path::new("/definitely/not/here.txt"), Path::new("/tmp/x")).unwrap_err();
        assert!(err.to_string().contains("neither"), "{err}");
    }
}
