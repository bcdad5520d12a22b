//! The CLI as a user drives it: the real binary, the real component, a simulator on
//! loopback. Flags and output formats here are the contract of the foundation issue.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::io::Write;

use copilot_sim::{Sim, SimConfig, DEMO_OAUTH_TOKEN};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ has a parent").to_path_buf()
}

/// A Copilot config dir holding `apps.json` with the simulator's token; removed on drop.
struct ConfigDir(PathBuf);

impl ConfigDir {
    fn new(label: &str, signed_in: bool) -> ConfigDir {
        let dir = std::env::temp_dir().join(format!("copilot-cli-{}-{label}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        if signed_in {
            let apps = serde_json::json!({
                "github.com:Iv1.b507a08c87ecfe98": {"user": "sim-user", "oauth_token": DEMO_OAUTH_TOKEN}
            });
            std::fs::write(dir.join("apps.json"), apps.to_string()).expect("apps.json");
        }
        ConfigDir(dir)
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `copilot-host` against `sim` with a clean environment (no real tokens leak in).
fn run(sim: &Sim, config: &ConfigDir, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_copilot-host"));
    cmd.arg("--extension")
        .arg(repo_root())
        .arg("--copilot-config-dir")
        .arg(&config.0)
        .arg("--github-api-url")
        .arg(sim.url())
        .args(args)
        .env_remove("GH_COPILOT_TOKEN")
        .env_remove("GITHUB_COPILOT_TOKEN")
        .env_remove("GITHUB_TOKEN")
        .env("XDG_DATA_HOME", config.0.join("data"))
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn copilot-host");
    if let Some(text) = stdin {
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("copilot-host runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn models_json_is_an_array_of_models_with_id_and_name() {
    let sim = Sim::start(SimConfig::default()).expect("sim");
    let config = ConfigDir::new("models-json", true);
    let out = run(&sim, &config, &["models", "--json"], None);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let models: Value = serde_json::from_str(&stdout(&out)).expect("a JSON document");
    let models = models.as_array().expect("an array");
    assert!(models.len() >= 3);
    for m in models {
        assert!(m["id"].is_string() && m["name"].is_string(), "{m}");
    }
    assert!(!stdout(&out).contains(DEMO_OAUTH_TOKEN));
}

#[test]
fn models_table_lists_the_default_model() {
    let sim = Sim::start(SimConfig::default()).expect("sim");
    let config = ConfigDir::new("models-table", true);
    let out = run(&sim, &config, &["models"], None);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains("gpt-4.1"), "{}", stdout(&out));
}

#[test]
fn chat_json_prints_one_typed_event_per_line() {
    let sim = Sim::start(SimConfig::default()).expect("sim");
    let config = ConfigDir::new("chat-json", true);
    let out = run(&sim, &config, &["chat", "--json", "hello", "there"], None);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let events: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().expect("type")).collect();
    assert_eq!(types.first(), Some(&"started"), "{types:?}");
    assert!(types.contains(&"text"), "{types:?}");
    assert!(types.contains(&"usage"), "{types:?}");
    let stop = events.iter().find(|e| e["type"] == "stop").expect("a stop event");
    assert_eq!(stop["reason"], "end_turn");
    // The prompt reached the simulator as one user message.
    let sent = sim.requests_to("/chat/completions");
    let body = sent[0].json().expect("json body");
    assert!(body["messages"].to_string().contains("hello there"));
}

#[test]
fn chat_streams_plain_text_and_keeps_the_conversation_from_stdin() {
    let sim = Sim::start(SimConfig::default()).expect("sim");
    let config = ConfigDir::new("chat-stdin", true);
    let out = run(&sim, &config, &["chat"], Some("first question\nsecond question\n"));
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains("simulator"), "{}", stdout(&out));
    let sent = sim.requests_to("/chat/completions");
    assert_eq!(sent.len(), 2);
    let second = sent[1].json().expect("json");
    let messages = second["messages"].as_array().expect("messages");
    // user, assistant, user: the history is kept.
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap_or("")).collect();
    assert_eq!(roles, vec!["user", "assistant", "user"], "{second}");
}

#[test]
fn not_signed_in_is_one_sentence_on_stderr_and_a_failure_exit() {
    let sim = Sim::start(SimConfig::default()).expect("sim");
    let config = ConfigDir::new("signed-out", false);
    let out = run(&sim, &config, &["models"], None);
    assert!(!out.status.success());
    let err = stderr(&out);
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("stderr: {err}"));
    assert!(line.contains("sign"), "{line}");
    assert!(sim.requests().is_empty());
}

#[test]
fn an_unknown_command_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_copilot-host")).arg("frobnicate").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
