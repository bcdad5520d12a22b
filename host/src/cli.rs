//! Argument parsing, command dispatch, and the small commands (`models`, `doctor`, `sign-in`,
//! `sign-out`).
//!
//! Design decision: every command returns `anyhow::Result`; `main` prints one
//! `error: <sentence>` line and exits 1. A guest's typed error becomes that sentence through
//! [`copilot_host::display_error`]; clap's own usage errors keep clap's exit code 2.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};

use copilot_host::details::{model_json_with_details, quota_summary, quota_text};
use copilot_host::output::{error_json, models_table, redact_settings};
use copilot_host::{display_error, Extension, HostOptions, Level, LogSink, ProviderError};

/// The environment variable that sets the log level (`error`..`trace`).
pub const LOG_ENV: &str = "COPILOT_HOST_LOG";

const AFTER_HELP: &str = "\
Exit status:
  0  success
  1  error (the message on stderr says what happened and what to do)
  2  usage error (unknown command or flag)
  3  not signed in (run `copilot-host sign-in`)

Environment:
  COPILOT_HOST_LOG       log level on stderr: error, warn (default), info, debug, trace
  COPILOT_HOST_DATA_DIR  where `install` puts extensions (default: $XDG_DATA_HOME/copilot-host,
                         else ~/.local/share/copilot-host)
  NO_COLOR               no colours even on a terminal

Start with `copilot-host demo`: it runs against a built-in simulator, no account needed.";

/// Runs GitHub Copilot Chat models (or any extension of this contract) from a terminal.
#[derive(Parser, Debug)]
#[command(name = "copilot-host", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// The extension directory (contains extension.toml; the component is built if needed),
    /// or the id of an extension put in place by `copilot-host install`.
    #[arg(long, value_name = "DIR|ID", default_value = ".", global = true)]
    pub extension: PathBuf,
    /// Read the Copilot credentials (apps.json, hosts.json, auth.db) from this directory.
    #[arg(long, value_name = "DIR", global = true)]
    pub copilot_config_dir: Option<PathBuf>,
    /// Use this GitHub API base URL (e.g. a GitHub Enterprise or a local simulator).
    #[arg(long, value_name = "URL", global = true)]
    pub github_api_url: Option<String>,
    /// Provider settings as a JSON object file (enterprise_uri, integration_id, ...).
    #[arg(long, value_name = "FILE", global = true)]
    pub settings: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the available models.
    Models {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// Fetch the catalog again now instead of using the cached one.
        #[arg(long)]
        refresh: bool,
    },
    /// Stream a chat answer; without PROMPT, read one prompt per line from stdin.
    Chat {
        /// The model id (default: the provider's default model).
        #[arg(long, value_name = "ID")]
        model: Option<String>,
        /// Print one JSON object per event and line.
        #[arg(long)]
        json: bool,
        /// The prompt (several words are joined with spaces).
        #[arg(value_name = "PROMPT")]
        prompt: Vec<String>,
    },
    /// Report the extension, its grants, settings, sign-in state and models (secrets hidden).
    Doctor {
        /// Print a JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Sign in with GitHub (device flow).
    SignIn {
        /// Print the prompt and the result as JSON lines (no progress indicator).
        #[arg(long)]
        json: bool,
    },
    /// Forget the stored sign-in.
    SignOut {
        /// Print a JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A self-contained demo against a built-in Copilot simulator (no account, no network).
    Demo {
        /// Print every step and completion event as one JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Serve the provider as an OpenAI-compatible API on 127.0.0.1 (for Zed, Continue, ...).
    Serve {
        /// The port (default: any free port).
        #[arg(long, value_name = "N")]
        port: Option<u16>,
        /// Print one JSON object (url, key, zed_settings) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Install an extension (its directory, its .wasm or a registry .tar.gz) so `--extension <id>` finds it.
    #[command(after_help = install_help())]
    Install {
        /// The extension directory (built if needed), its extension.wasm, or an archive.tar.gz
        /// written by `package` (checked, with the manifest.json beside it if there is one).
        #[arg(value_name = "DIR|WASM|ARCHIVE")]
        source: PathBuf,
        /// Print a JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Build the extension as a registry does and write archive.tar.gz and manifest.json.
    #[command(after_help = PACKAGE_HELP)]
    Package {
        /// The extension's source directory.
        #[arg(value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// Where to write archive.tar.gz and manifest.json (default: DIR/target/package).
        #[arg(long, value_name = "DIR")]
        output: Option<PathBuf>,
        /// Print one JSON object (id, version, api_version, archive, manifest) instead of text.
        #[arg(long)]
        json: bool,
    },
}

const PACKAGE_HELP: &str = "\
`package` runs `cargo build --target wasm32-wasip2 --release` (into DIR/target/registry), checks
the extension registry's rules (id, name, schema_version, version = the crate's, provider name and
SVG icon, an accepted LICENSE) and the component's contract version, then writes:
  archive.tar.gz  extension.toml, extension.wasm, LICENSE*, icons/ (what an installed extension
                  needs); reproducible: the same tree always gives the same bytes
  manifest.json   id, name, version, schema_version, description, repository, authors,
                  language_model_providers, api_version, and the archive's bytes and sha256
Install the result with `copilot-host install DIR/target/package/archive.tar.gz`.";

/// `install --help`'s epilogue, from the limits the archive reader enforces.
fn install_help() -> String {
    use copilot_host::archive::{MAX_ENTRIES, MAX_ENTRY_BYTES, MAX_TOTAL_BYTES};
    const MIB: u64 = 1024 * 1024;
    format!(
        "An archive (.tar.gz or .tgz) may hold only regular files and directories with relative names
(no links, devices, `..` or absolute paths), at most {MAX_ENTRIES} entries, {} MiB per entry and
{} MiB in all. When a manifest.json lies next to the archive, every field it states must match
the archive. The previous version is replaced only once the new one is unpacked and checked.",
        MAX_ENTRY_BYTES / MIB,
        MAX_TOTAL_BYTES / MIB
    )
}

/// Parses the arguments, runs the command, maps failures to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => crate::exit::report(&error),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Demo { json } => crate::demo::run(&cli.extension, log_sink(), *json),
        Command::Models { json, refresh } => models(&load(&cli)?, *json, *refresh),
        Command::Chat {
            model,
            json,
            prompt,
        } => {
            let prompt = (!prompt.is_empty()).then(|| prompt.join(" "));
            crate::chat::run(&load(&cli)?, model.as_deref(), *json, prompt)
        }
        Command::Doctor { json } => doctor(&cli, *json),
        Command::SignIn { json } => crate::signin_cli::sign_in(&load(&cli)?, *json),
        Command::SignOut { json } => sign_out(&load(&cli)?, *json),
        Command::Serve { port, json } => crate::serve_cli::run(load(&cli)?, *port, *json),
        Command::Install { source, json } => crate::install_cli::run(source, *json),
        Command::Package { dir, output, json } => {
            crate::package_cli::run(dir, output.as_deref(), *json)
        }
    }
}

/// The log sink for this process: stderr at `$COPILOT_HOST_LOG` (default warn).
pub fn log_sink() -> LogSink {
    let min = match std::env::var(LOG_ENV)
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "error" => Level::Error,
        "info" => Level::Info,
        "debug" => Level::Debug,
        "trace" => Level::Trace,
        _ => Level::Warn,
    };
    LogSink::Stderr { min }
}

fn options(cli: &Cli) -> anyhow::Result<HostOptions> {
    let mut opts = HostOptions::new(crate::install_cli::extension_dir(&cli.extension)?);
    opts.copilot_config_dir = cli.copilot_config_dir.clone();
    opts.github_api_url = cli.github_api_url.clone();
    if let Some(file) = &cli.settings {
        opts.settings = read_settings(file)?;
    }
    opts.log = log_sink();
    opts.allow_browser = true;
    Ok(opts)
}

fn read_settings(file: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the settings file {}", file.display()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "the settings file {} is not valid JSON ({e}); fix it or drop --settings",
            file.display()
        )
    })?;
    if !value.is_object() {
        bail!(
            "the settings file {} must hold a JSON object like {{\"enterprise_uri\": \"...\"}}",
            file.display()
        );
    }
    Ok(value)
}

fn load(cli: &Cli) -> anyhow::Result<Extension> {
    Extension::load(options(cli)?)
}

/// Turns a guest's typed error into the CLI's error.
pub fn guest_error(error: &ProviderError) -> anyhow::Error {
    if let ProviderError::NotSignedIn(_) = error {
        return anyhow::Error::new(crate::exit::WithStatus {
            status: crate::exit::NOT_SIGNED_IN,
            message: display_error(error),
        });
    }
    anyhow!(display_error(error))
}

fn models(ext: &Extension, json: bool, refresh: bool) -> anyhow::Result<()> {
    let provider = ext.default_provider()?;
    let models = if refresh { ext.refresh_models(&provider)? } else { ext.models(&provider)? };
    let models = models.map_err(|e| guest_error(&e))?;
    if json {
        let details = ext.details(&provider)?;
        let array: Vec<Value> = models
            .iter()
            .map(|m| model_json_with_details(m, details.as_ref()))
            .collect();
        println!("{}", serde_json::to_string_pretty(&array)?);
    } else if models.is_empty() {
        println!("No models are available to this account.");
    } else {
        print!("{}", models_table(&models));
    }
    Ok(())
}

fn doctor(cli: &Cli, json: bool) -> anyhow::Result<()> {
    let ext = load(cli)?;
    let report = doctor_report(&ext)?;
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
        let models = match ext.models(&provider.id)? {
            Ok(models) => json!({
                "count": models.len(),
                "default": models.iter().find(|m| m.is_default).map(|m| m.id.clone()),
            }),
            Err(error) => json!({"error": error_json(&error)}),
        };
        // Read after `models`, so the report includes this call's exchange and catalog.
        let diagnostics = crate::signin_cli::diagnostics(ext, &provider.id);
        let quota = quota_summary(ext.details(&provider.id)?.as_ref());
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
            None => out.push_str(&format!(
                "  models    {} (default: {})\n",
                models["count"],
                models["default"].as_str().unwrap_or("none")
            )),
        }
        out.push_str(&quota_text(&p["quota"]));
        if p["diagnostics"].is_object() {
            out.push_str(&crate::signin_cli::diagnostics_text(&p["diagnostics"]));
        }
    }
    out
}

fn sign_out(ext: &Extension, json: bool) -> anyhow::Result<()> {
    let provider = ext.default_provider()?;
    ext.reset_credentials(&provider)?
        .map_err(|e| guest_error(&e))?;
    if json {
        println!("{}", json!({"signed_out": true, "provider": provider}));
    } else {
        println!("Signed out of {provider}.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_documented_shapes() {
        let cli = Cli::try_parse_from([
            "copilot-host",
            "--extension",
            "/x",
            "--github-api-url",
            "http://127.0.0.1:1",
            "chat",
            "--model",
            "m",
            "hello",
            "there",
        ])
        .unwrap();
        assert_eq!(cli.extension, PathBuf::from("/x"));
        match cli.command {
            Command::Chat {
                model,
                json,
                prompt,
            } => {
                assert_eq!(model.as_deref(), Some("m"));
                assert!(!json);
                assert_eq!(prompt.join(" "), "hello there");
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["copilot-host", "models", "--json"]).unwrap();
        assert_eq!(cli.extension, PathBuf::from("."));
        assert!(matches!(cli.command, Command::Models { json: true, .. }));
        for cmd in ["doctor", "sign-in", "sign-out", "demo"] {
            assert!(Cli::try_parse_from(["copilot-host", cmd]).is_ok(), "{cmd}");
        }
        // `--json` on every command.
        for cmd in ["models", "chat", "doctor", "sign-in", "sign-out", "demo", "serve"] {
            assert!(Cli::try_parse_from(["copilot-host", cmd, "--json"]).is_ok(), "{cmd}");
        }
        assert!(Cli::try_parse_from(["copilot-host", "install", "x", "--json"]).is_ok());
        let cli = Cli::try_parse_from(["copilot-host", "package", "--output", "out", "--json"]).unwrap();
        match cli.command {
            Command::Package { dir, output, json } => {
                assert_eq!(dir, PathBuf::from("."));
                assert_eq!(output, Some(PathBuf::from("out")));
                assert!(json);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn usage_errors_exit_with_2() {
        let err = Cli::try_parse_from(["copilot-host", "fly"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn settings_file_must_be_a_json_object() {
        let dir = std::env::temp_dir().join(format!("copilot-host-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("settings.json");
        std::fs::write(&file, "[1]").unwrap();
        assert!(read_settings(&file)
            .unwrap_err()
            .to_string()
            .contains("JSON object"));
        std::fs::write(&file, "{\"enterprise_uri\": \"ghe.example.com\"}").unwrap();
        assert_eq!(
            read_settings(&file).unwrap()["enterprise_uri"],
            "ghe.example.com"
        );
        std::fs::write(&file, "{oops").unwrap();
        assert!(read_settings(&file)
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
