//! `copilot-sim [--port N] [--enterprise]`: runs the simulator in the foreground.
//!
//! Design: a thin wrapper over the library for manual exploration and the offline demo; it
//! prints the URL and the (fake) demo OAuth token and then serves until interrupted.

use std::process::ExitCode;

use copilot_sim::{Sim, SimConfig, DEMO_OAUTH_TOKEN};

const USAGE: &str = "usage: copilot-sim [--port N] [--enterprise]";

struct Args {
    port: u16,
    enterprise: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        port: 0,
        enterprise: false,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--enterprise" => parsed.enterprise = true,
            "--port" => {
                let value = args.next().ok_or("--port needs a number")?;
                parsed.port = value
                    .parse()
                    .map_err(|_| format!("--port: not a port number: {value}"))?;
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Some(parsed))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("copilot-sim: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = SimConfig {
        enterprise: args.enterprise,
        ..SimConfig::default()
    };
    let sim = match Sim::start_on_port(config, args.port) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("copilot-sim: cannot listen on 127.0.0.1:{}: {e}", args.port);
            return ExitCode::FAILURE;
        }
    };
    let shape = if args.enterprise {
        "enterprise"
    } else {
        "individual"
    };
    println!("copilot-sim ({shape}) listening on {}", sim.url());
    println!("demo OAuth token (fake): {DEMO_OAUTH_TOKEN}");
    println!("press Ctrl-C to stop");
    loop {
        std::thread::park();
    }
}
