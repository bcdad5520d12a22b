//! The flags and commands (clap): the CLI's contract, spelled out in `--help`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    /// The most seconds one call into the extension may run (waits on the network do not
    /// count); past it the extension is restarted and the call fails. Default 30.
    #[arg(long, value_name = "SECS", global = true, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub call_deadline: Option<u64>,
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
    /// Install a built extension (its directory or its .wasm) so `--extension <id>` finds it.
    Install {
        /// The extension directory (built if needed) or its extension.wasm.
        #[arg(value_name = "DIR|WASM")]
        source: PathBuf,
        /// Print a JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
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
    }

    #[test]
    fn usage_errors_exit_with_2() {
        let err = Cli::try_parse_from(["copilot-host", "fly"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
