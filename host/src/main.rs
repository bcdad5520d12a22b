//! The `copilot-host` command line: a thin layer over the `copilot_host` library (see `cli/`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
