//! The `copilot-host` command line: a thin layer over the `copilot_host` library.

mod chat;
mod cli;
mod demo;
mod exit;
mod install_cli;
mod package_cli;
mod serve_cli;
mod signin_cli;
mod signin_json;

fn main() -> std::process::ExitCode {
    cli::main()
}
