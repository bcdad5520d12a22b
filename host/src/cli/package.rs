//! The `package` command: prints where `copilot_host::install::package` wrote and what.

use std::path::Path;

use serde_json::json;

use copilot_host::install::package::{default_output, package, Packaged, Written};

/// Runs `package`: builds `dir` as a registry does, writes into `output` (default
/// `DIR/target/package`).
pub fn run(dir: &Path, output: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let output = output.map(Path::to_path_buf).unwrap_or_else(|| default_output(dir));
    let packaged = package(dir, &output)?;
    if json {
        println!("{}", summary_json(&packaged));
    } else {
        print!("{}", summary_text(&packaged));
    }
    Ok(())
}

fn file_json(file: &Written) -> serde_json::Value {
    json!({"path": file.path.display().to_string(), "bytes": file.bytes, "sha256": file.sha256})
}

fn summary_json(p: &Packaged) -> serde_json::Value {
    json!({
        "id": p.id,
        "version": p.version,
        "api_version": p.api_version.to_string(),
        "component_bytes": p.component_bytes,
        "archive": file_json(&p.archive),
        "manifest": file_json(&p.manifest),
    })
}

fn summary_text(p: &Packaged) -> String {
    let line = |f: &Written| {
        format!(
            "  {}  {:.1} KiB  sha256 {}\n",
            f.path.display(),
            f.bytes as f64 / 1024.0,
            f.sha256
        )
    };
    format!(
        "Packaged {} {} (contract {}, component {:.1} KiB):\n{}{}Install it with: copilot-host install {}\n",
        p.id,
        p.version,
        p.api_version,
        p.component_bytes as f64 / 1024.0,
        line(&p.archive),
        line(&p.manifest),
        p.archive.path.display()
    )
}
