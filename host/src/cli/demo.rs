//! `demo`: the whole product against the built-in Copilot simulator, offline.
//!
//! Design decision: the demo runs the real extension and the real host code paths, only the
//! far end is simulated. It builds a throwaway Copilot config dir holding the simulator's
//! fake OAuth token, an empty environment and an in-memory credential store, so the user's
//! real tokens, files and network are never touched.

use std::path::{Path, PathBuf};

use anyhow::Context;
use copilot_sim::{Sim, SimConfig, DEMO_OAUTH_TOKEN};
use serde_json::{json, Value};

use copilot_host::output::{json_line, models_table};
use copilot_host::{
    Clock, CredentialStore, EnvSource, Extension, HostOptions, LogSink, ToolDefinition,
};

use crate::cli::chat::{pick_model, request, turn, user_message, Renderer};
use crate::cli::details::model_json_with_details;

/// The GitHub app id of the Copilot editor plugins, as keyed in `apps.json`.
const COPILOT_APP_ID: &str = "Iv1.b507a08c87ecfe98";
const DEMO_PROMPT: &str = "Say hello and tell me what you are, in one sentence.";
const TOOL_PROMPT: &str = "What is the weather in Paris?";

/// Runs the demo with the extension in `extension_dir`. With `json`, every step is one JSON
/// line (`{"type":"demo"|"models"|"turn"|"done", ...}`) and every completion event one line
/// as in `chat --json`.
pub fn run(extension_dir: &Path, log: LogSink, json: bool) -> anyhow::Result<()> {
    let Simulated {
        ext,
        sim,
        config: _config,
    } = Simulated::start(extension_dir, log)?;
    if json {
        step(json!({"type": "demo", "simulation": true, "simulator": sim.url()}));
    } else {
        banner(&sim.url());
    }
    let provider = ext.default_provider()?;

    let models = ext
        .models(&provider)?
        .map_err(|e| crate::cli::exit::guest_error(&e))?;
    if json {
        let details = ext.details(&provider)?;
        let list: Vec<Value> = models
            .iter()
            .map(|m| model_json_with_details(m, details.as_ref()))
            .collect();
        step(json!({"type": "models", "models": list}));
    } else {
        println!("== Models (from the simulated catalog)");
        print!("{}", models_table(&models));
        println!();
    }

    let model = pick_model(&ext, &provider, None)?;
    let mut out = Renderer::new(json);
    if json {
        step(json!({"type": "turn", "model": model, "prompt": DEMO_PROMPT, "tools": []}));
    } else {
        println!("== Chat with {model}");
        println!("you: {DEMO_PROMPT}");
        print!("assistant: ");
    }
    turn(
        &ext,
        &provider,
        &model,
        request(vec![user_message(DEMO_PROMPT.into())], Vec::new()),
        &mut out,
    )?;
    let tool = weather_tool();
    if json {
        step(json!({"type": "turn", "model": model, "prompt": TOOL_PROMPT, "tools": [tool.name]}));
    } else {
        println!();
        println!("== Tool call with {model}");
        println!("you: {TOOL_PROMPT}  (offering a get_weather tool)");
    }
    turn(
        &ext,
        &provider,
        &model,
        request(vec![user_message(TOOL_PROMPT.into())], vec![tool]),
        &mut out,
    )?;
    if json {
        step(json!({"type": "done"}));
    } else {
        println!();
        println!("Demo finished: everything above came from the local simulator. Run `copilot-host sign-in` and `copilot-host chat` to use your real Copilot account.");
    }
    Ok(())
}

/// `serve --simulator`: the endpoint in front of the built-in simulator, set up as the demo
/// is (a throwaway config dir, no environment, in-memory credentials), for trying clients
/// and for the real-client tests without an account.
pub fn serve(
    extension_dir: &Path,
    log: LogSink,
    port: Option<u16>,
    json: bool,
    options: copilot_host::serve::ServeOptions,
) -> anyhow::Result<()> {
    let Simulated { ext, sim, config } = Simulated::start(extension_dir, log)?;
    eprintln!(
        "SIMULATION: answers come from the built-in Copilot simulator at {}, not from Copilot.",
        sim.url()
    );
    let result = crate::cli::serve::run(ext, port, json, options);
    drop(sim);
    drop(config);
    result
}

/// The real extension against a fresh simulator; the pieces live as long as this does.
struct Simulated {
    ext: Extension,
    sim: Sim,
    config: TempConfigDir,
}

impl Simulated {
    fn start(extension_dir: &Path, log: LogSink) -> anyhow::Result<Simulated> {
        let clock = Clock::system();
        let sim = Sim::start(SimConfig {
            clock: clock.as_fn(),
            ..SimConfig::default()
        })
        .context("cannot start the Copilot simulator on 127.0.0.1")?;
        let config = TempConfigDir::create()?;
        let mut opts = HostOptions::new(extension_dir);
        opts.github_api_url = Some(sim.url());
        opts.copilot_config_dir = Some(config.0.clone());
        opts.env = EnvSource::Map(Default::default());
        opts.credentials = CredentialStore::in_memory();
        opts.clock = clock;
        opts.log = log;
        opts.allow_browser = false;
        let ext = Extension::load(opts)?;
        Ok(Simulated { ext, sim, config })
    }
}

/// One `demo --json` step line.
fn step(value: Value) {
    println!("{}", json_line(&value));
}

fn banner(url: &str) {
    println!("============================================================");
    println!(" copilot-host demo: this is a SIMULATION");
    println!(" No GitHub account, no token and no network are used: the");
    println!(" real extension talks to a built-in Copilot simulator at");
    println!(" {url}.");
    println!("============================================================");
    println!();
}

fn weather_tool() -> ToolDefinition {
    ToolDefinition {
        name: "get_weather".into(),
        description: "Current weather for a city".into(),
        input_schema: json!({
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        })
        .to_string(),
    }
}

/// A Copilot config dir holding the simulator's token in `apps.json`; removed on drop.
struct TempConfigDir(PathBuf);

impl TempConfigDir {
    fn create() -> anyhow::Result<TempConfigDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("copilot-host-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let guard = TempConfigDir(dir);
        let apps = json!({
            format!("github.com:{COPILOT_APP_ID}"): {
                "user": "sim-user",
                "oauth_token": DEMO_OAUTH_TOKEN,
                "githubAppId": COPILOT_APP_ID,
            }
        });
        std::fs::write(guard.0.join("apps.json"), serde_json::to_vec_pretty(&apps)?)
            .context("cannot write the demo's apps.json")?;
        Ok(guard)
    }
}

impl Drop for TempConfigDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
