//! The `copilot-host` command line: a thin layer over the `copilot_host` library.

mod chat;
mod cli;
mod demo;

fn main() -> std::process::ExitCode {
    cli::main()
}
