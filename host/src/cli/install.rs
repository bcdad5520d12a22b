//! The `install` command and the `--extension <id>` lookup.
//!
//! Design decision: `--extension` keeps meaning "a directory" whenever one exists at that path
//! (so `.` and source checkouts behave as before); only a value that is not a directory is
//! looked up as the id of an installed extension.

use std::path::{Path, PathBuf};

use serde_json::json;

use anyhow::bail;

use copilot_host::install::{
    extensions_dir as installed_dir, install as install_source, list_installed, resolve_extension,
};
use copilot_host::EnvSource;

/// The directory `--extension` names (see the module doc).
pub fn extension_dir(value: &Path) -> anyhow::Result<PathBuf> {
    if value.is_dir() {
        return Ok(value.to_path_buf());
    }
    let installed = installed_dir(&EnvSource::Process)?;
    let resolved = resolve_extension(value, &installed);
    let bare_id = value.components().count() == 1 && !value.exists();
    if resolved == value && bare_id {
        let ids = list_installed(&installed);
        let known = if ids.is_empty() {
            "none is installed".to_string()
        } else {
            format!("installed: {}", ids.join(", "))
        };
        bail!(
            "`{}` is neither a directory nor an installed extension ({known} in {}); pass the extension's directory or run `copilot-host install <dir>` first",
            value.display(),
            installed.display()
        );
    }
    Ok(resolved)
}

/// Runs `install`.
pub fn run(source: &Path, json: bool) -> anyhow::Result<()> {
    let mut spinner = copilot_host::output::progress::Spinner::quiet("installing");
    let installed = install_source(source);
    let installed = installed.inspect(|installed| {
        copilot_host::precompile(
            &installed.dir.join(copilot_host::install::devbuild::COMPONENT_FILE),
            &copilot_host::Logger::new(crate::cli::log_sink()),
        )
    });
    spinner.stop();
    let installed = installed?;
    if json {
        let line = json!({"id": installed.id, "version": installed.version, "dir": installed.dir.display().to_string()});
        println!("{line}");
    } else {
        println!(
            "Installed {} {} into {}.",
            installed.id,
            installed.version,
            installed.dir.display()
        );
        println!(
            "Use it with: copilot-host --extension {} models",
            installed.id
        );
    }
    Ok(())
}
