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
    /// Serve the provider on 127.0.0.1 as OpenAI-compatible, Anthropic Messages and Ollama APIs
    /// (for Zed, Claude Code, Continue, ...).
    Serve {
        /// The port (default: any free port).
        #[arg(long, value_name = "N")]
        port: Option<u16>,
        /// Print one JSON object (url, key, zed_settings) instead of text.
        #[arg(long)]
        json: bool,
        /// Serve the built-in Copilot simulator instead of Copilot (no account, no network),
        /// as `demo` does: for trying a client's setup and for the real-client tests.
        #[arg(long)]
        simulator: bool,
        /// Let the Ollama routes (/api/...) take requests without the key, for Ollama clients
        /// that cannot send one; requests from web pages (an Origin header) or for a
        /// non-loopback Host are still refused. The other routes keep requiring the key.
        #[arg(long)]
        ollama_keyless: bool,
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
    use copilot_host::install::archive::{MAX_ENTRIES, MAX_ENTRY_BYTES, MAX_TOTAL_BYTES};
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
}
