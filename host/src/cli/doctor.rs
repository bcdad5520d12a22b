//! The `doctor` command: what the host found and why (extension, grants, settings, sign-in
//! state, models, quota), secrets redacted.

use serde_json::{json, Value};

use copilot_host::output::{error_json, redact_settings};
use copilot_host::Extension;

use crate::cli::details::{quota_summary, quota_text, routes_summary, routes_text};

/// Runs `doctor` on a loaded extension.
pub fn run(ext: &Extension, json: bool) -> anyhow::Result<()> {
    let report = doctor_report(ext)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", doctor_text(&report));
    }
    Ok(())
}

/// Everything `doctor` knows, as JSON; secrets are redacted here, once.
fn doctor_report(ext: &Extension) -> anyhow::Result<Value> {
    let manifest = ext.manifest();
    let path = ext.component_path();
    let size = std::fs::metadata(path).map(|m| m.len()).ok();
    let grants = ext.grants();
    let mut providers = Vec::new();
    for provider in ext.providers()? {
        let authenticated = ext.is_authenticated(&provider.id)?;
        let listed = ext.models(&provider.id)?;
        // Read after `models`, so the report includes this call's exchange and catalog.
        let diagnostics = crate::cli::signin::diagnostics(ext, &provider.id);
        let details = ext.details(&provider.id)?;
        let quota = quota_summary(details.as_ref());
        let models = match listed {
            Ok(models) => json!({
                "count": models.len(),
                "default": models.iter().find(|m| m.is_default).map(|m| m.id.clone()),
                "routes": routes_summary(&models, details.as_ref()),
            }),
            Err(error) => json!({"error": error_json(&error)}),
        };
        providers.push(json!({"id": provider.id, "name": provider.name, "authenticated": authenticated, "models": models, "quota": quota, "diagnostics": diagnostics}));
    }
    Ok(json!({
        "extension": {
            "dir": manifest_dir(ext),
            "id": manifest.id,
            "name": manifest.name,
            "version": manifest.version,
            "schema_version": manifest.schema_version,
        },
        "component": {"path": path.display().to_string(), "bytes": size},
        "grants": {
            "env": grants.env,
            "read_dirs": grants.read_dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>(),
            "http_hosts": grants.http_hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
        },
        "settings": redact_settings(ext.settings()),
        "secret_store": ext.credential_store().describe(),
        "providers": providers,
    }))
}

fn manifest_dir(ext: &Extension) -> String {
    let dir = ext.extension_dir();
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string()
}

fn doctor_text(report: &Value) -> String {
    let s = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
    };
    let list = |v: &Value| {
        v.as_array()
            .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let ext = &report["extension"];
    let comp = &report["component"];
    let grants = &report["grants"];
    let mut out = String::new();
    out.push_str(&format!(
        "extension   {} {} ({}) in {}\n",
        s(&ext["id"]),
        s(&ext["version"]),
        s(&ext["name"]),
        s(&ext["dir"])
    ));
    let bytes = comp["bytes"]
        .as_u64()
        .map(|b| format!("{:.1} KiB", b as f64 / 1024.0))
        .unwrap_or_else(|| "missing".into());
    out.push_str(&format!("component   {} ({bytes})\n", s(&comp["path"])));
    out.push_str(&format!("env         {}\n", list(&grants["env"])));
    out.push_str(&format!("read dirs   {}\n", list(&grants["read_dirs"])));
    out.push_str(&format!("http hosts  {}\n", list(&grants["http_hosts"])));
    out.push_str(&format!("settings    {}\n", report["settings"]));
    out.push_str(&format!("secrets     {}\n", s(&report["secret_store"])));
    for p in report["providers"].as_array().into_iter().flatten() {
        let signed_in = if p["authenticated"].as_bool() == Some(true) {
            "yes"
        } else {
            "no"
        };
        out.push_str(&format!(
            "provider    {} ({})\n",
            s(&p["id"]),
            s(&p["name"])
        ));
        out.push_str(&format!("  signed in {signed_in}\n"));
        let models = &p["models"];
        match models.get("error") {
            Some(error) => out.push_str(&format!(
                "  models    unavailable: {}\n",
                s(&error["message"])
            )),
            None => {
                out.push_str(&format!(
                    "  models    {} (default: {})\n",
                    models["count"],
                    models["default"].as_str().unwrap_or("none")
                ));
                out.push_str(&routes_text(&models["routes"]));
            }
        }
        out.push_str(&quota_text(&p["quota"]));
        if p["diagnostics"].is_object() {
            out.push_str(&crate::cli::signin::diagnostics_text(&p["diagnostics"]));
        }
    }
    out
}
