//! The `copilot-host` command line, used only by `main.rs`: the flags (`args`), one module per
//! command, and the dispatch and option loading here.
//!
//! * `args`: the clap definition of flags and commands;
//! * `models`, `chat`, `doctor`, `signin` (+ `signin_json`), `demo`, `serve`, `install`: the
//!   commands; `details`: the per-model facts and the quota as the CLI shows them;
//! * `exit`: exit statuses, the one `error:` line, a guest error as the CLI's error.
//!
//! Design decision: every command returns `anyhow::Result`; `main` prints one
//! `error: <sentence>` line and exits 1. A guest's typed error becomes that sentence through
//! [`copilot_host::display_error`]; clap's own usage errors keep clap's exit code 2.
//!
//! The CLI depends on the `copilot_host` library through its public API; the library never
//! sees flags. Inside, this module dispatches to the commands; a command never imports this
//! module (shared helpers live in `exit`).

mod args;
mod chat;
mod demo;
mod details;
mod doctor;
mod exit;
mod install;
mod models;
mod package;
mod serve;
mod signin;
mod signin_json;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use serde_json::Value;

use copilot_host::{Extension, HostOptions, Level, LogSink};

use crate::cli::args::{Cli, Command, LOG_ENV};

/// Parses the arguments, runs the command, maps failures to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => crate::cli::exit::report(&error),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Demo { json } => crate::cli::demo::run(&cli.extension, log_sink(), *json),
        Command::Models { json, refresh } => crate::cli::models::run(&load(&cli)?, *json, *refresh),
        Command::Chat {
            model,
            json,
            prompt,
        } => {
            let prompt = (!prompt.is_empty()).then(|| prompt.join(" "));
            crate::cli::chat::run(&load(&cli)?, model.as_deref(), *json, prompt)
        }
        Command::Doctor { json } => crate::cli::doctor::run(&load(&cli)?, *json),
        Command::SignIn { json } => crate::cli::signin::sign_in(&load(&cli)?, *json),
        Command::SignOut { json } => crate::cli::signin::sign_out(&load(&cli)?, *json),
        Command::Serve {
            port,
            json,
            simulator,
            ollama_keyless,
        } => {
            let options = copilot_host::serve::ServeOptions {
                ollama_keyless: *ollama_keyless,
            };
            if *simulator {
                crate::cli::demo::serve(&cli.extension, log_sink(), *port, *json, options)
            } else {
                crate::cli::serve::run(load(&cli)?, *port, *json, options)
            }
        }
        Command::Install { source, json } => crate::cli::install::run(source, *json),
        Command::Package { dir, output, json } => {
            crate::cli::package::run(dir, output.as_deref(), *json)
        }
    }
}

/// The log sink for this process: stderr at `$COPILOT_HOST_LOG` (default warn).
fn log_sink() -> LogSink {
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
    let mut opts = HostOptions::new(crate::cli::install::extension_dir(&cli.extension)?);
    opts.copilot_config_dir = cli.copilot_config_dir.clone();
    opts.github_api_url = cli.github_api_url.clone();
    if let Some(file) = &cli.settings {
        opts.settings = read_settings(file)?;
    }
    opts.log = log_sink();
    opts.allow_browser = true;
    if let Some(secs) = cli.call_deadline {
        opts.call_deadline = std::time::Duration::from_secs(secs);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
