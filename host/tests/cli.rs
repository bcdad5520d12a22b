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

/// The command line every scenario starts from: `copilot-host` against `sim`, with the
/// config dir and a clean environment (no real tokens leak in).
fn command(sim: &Sim, config: &ConfigDir, args: &[&str]) -> Command {
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
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `copilot-host` against `sim`, feeding `stdin` when given.
fn run(sim: &Sim, config: &ConfigDir, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = command(sim, config, args);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().expect("spawn copilot-host");
    if let Some(text) = stdin {
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("copilot-host runs")
}

/// Like [`run`], with extra environment variables (e.g. the log level).
fn run_with_env(sim: &Sim, config: &ConfigDir, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command(sim, config, args);
    cmd.envs(env.iter().copied()).stdin(Stdio::null());
    cmd.output().expect("copilot-host runs")
}

/// A fresh simulator and a config dir (signed in or not) for one scenario.
fn scenario(label: &str, signed_in: bool) -> (Sim, ConfigDir) {
    (Sim::start(SimConfig::default()).expect("sim"), ConfigDir::new(label, signed_in))
}

/// `out` succeeded (else the test fails showing its stderr); its stdout.
fn success(out: &Output) -> String {
    assert!(out.status.success(), "stderr: {}", stderr(out));
    stdout(out)
}

/// `out` succeeded and printed one JSON document.
fn success_json(out: &Output) -> Value {
    serde_json::from_str(&success(out)).expect("a JSON document")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn models_json_is_an_array_of_models_with_id_and_name() {
    let (sim, config) = scenario("models-json", true);
    let out = run(&sim, &config, &["models", "--json"], None);
    let models = success_json(&out);
    let models = models.as_array().expect("an array");
    assert!(models.len() >= 3);
    for m in models {
        assert!(m["id"].is_string() && m["name"].is_string(), "{m}");
    }
    assert!(!stdout(&out).contains(DEMO_OAUTH_TOKEN));
}

#[test]
fn models_table_lists_the_default_model() {
    let (sim, config) = scenario("models-table", true);
    let table = success(&run(&sim, &config, &["models"], None));
    assert!(table.contains("gpt-4.1"), "{table}");
}

#[test]
fn chat_json_prints_one_typed_event_per_line() {
    let (sim, config) = scenario("chat-json", true);
    let out = run(&sim, &config, &["chat", "--json", "hello", "there"], None);
    let events = json_lines(&out);
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
    let (sim, config) = scenario("chat-stdin", true);
    let answer = success(&run(&sim, &config, &["chat"], Some("first question\nsecond question\n")));
    assert!(answer.contains("simulator"), "{answer}");
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
    let (sim, config) = scenario("signed-out", false);
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

// ----- `--json` on every command, and the provider details (issues 5 and 7) ----------------

/// Every stdout line parsed as JSON.
fn json_lines(o: &Output) -> Vec<Value> {
    success(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn models_json_carries_each_models_details() {
    let (sim, config) = scenario("models-details", true);
    let models = success_json(&run(&sim, &config, &["models", "--json"], None));
    let gpt = models
        .as_array()
        .expect("an array")
        .iter()
        .find(|m| m["id"] == "gpt-4.1")
        .expect("gpt-4.1 is listed");
    let details = &gpt["details"];
    assert_eq!(details["endpoint"], "/chat/completions", "{gpt}");
    assert!(details["premium"].is_boolean(), "{gpt}");
    assert!(details["vision"]["media_types"].is_array(), "{gpt}");
    assert!(details.get("needs_enablement").is_some() && details.get("tokenizer").is_some(), "{gpt}");
    // Claude models go to the Messages API by the routing rule.
    let sonnet = models.as_array().unwrap().iter().find(|m| m["id"] == "claude-sonnet-4").expect("claude-sonnet-4");
    assert_eq!(sonnet["details"]["endpoint"], "/v1/messages", "{sonnet}");
    assert_eq!(sonnet["details"]["endpoint_source"], "rule", "{sonnet}");
}

#[test]
fn doctor_shows_each_models_route() {
    let (sim, config) = scenario("doctor-routes", true);
    let report = success_json(&run(&sim, &config, &["doctor", "--json"], None));
    let routes = &report["providers"][0]["models"]["routes"];
    let on = |endpoint: &str| routes[endpoint].to_string();
    assert!(on("/v1/messages").contains("claude-sonnet-4") && on("/v1/messages").contains("claude-haiku-4.5"), "{routes}");
    assert!(on("/chat/completions").contains("gpt-4.1"), "{routes}");
    assert!(on("/responses").contains("gpt-5"), "{routes}");
    let text = stdout(&run(&sim, &config, &["doctor"], None));
    let line = text.lines().find(|l| l.starts_with("  route     /v1/messages: ")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("claude-haiku-4.5"), "{text}");
}

#[test]
fn doctor_shows_the_premium_quota_in_text_and_json() {
    let (sim, config) = scenario("doctor-quota", true);
    let report = success_json(&run(&sim, &config, &["doctor", "--json"], None));
    let quota = &report["providers"][0]["quota"];
    assert_eq!(quota["premium_remaining"], 262, "{report}");
    assert_eq!(quota["premium_entitlement"], 300, "{report}");
    assert!(quota["resets_at"].as_str().is_some_and(|r| r.starts_with("2026-12-01")), "{report}");
    let text = success(&run(&sim, &config, &["doctor"], None));
    assert!(text.contains("quota     262 of 300 premium requests left, resets 2026-12-01"), "{text}");
}

#[test]
fn doctor_says_how_many_models_are_offered_and_why_others_are_not() {
    let (sim, config) = scenario("doctor-catalog", true);
    let report = success_json(&run(&sim, &config, &["doctor", "--json"], None));
    let catalog = &report["providers"][0]["diagnostics"]["catalog"];
    let listed = catalog["listed"].as_u64().expect("listed");
    let shown = catalog["shown"].as_u64().expect("shown");
    assert!(shown >= 3 && listed > shown, "{catalog}");
    let reasons = catalog["hidden"].to_string();
    // The simulator lists an embeddings model and a policy-disabled one.
    assert!(reasons.contains("not a chat model"), "{reasons}");
    assert!(reasons.contains("disabled by the account's policy"), "{reasons}");
    let text = stdout(&run(&sim, &config, &["doctor"], None));
    assert!(text.contains(&format!("catalog   {shown} of {listed} listed models offered")), "{text}");
}

#[test]
fn sign_in_and_sign_out_json() {
    let (sim, config) = scenario("sign-in-json", false);
    // The simulator approves the first poll; the guest waits GitHub's interval before it.
    let out = run(&sim, &config, &["sign-in", "--json"], None);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["type"], "prompt");
    assert!(lines[0]["user_code"].as_str().is_some_and(|c| !c.is_empty()), "{lines:?}");
    assert_eq!(lines[0]["verification_url"], format!("{}/login/device", sim.url()));
    assert_eq!(lines[1]["type"], "signed_in");
    assert_eq!(lines[1]["provider"], "copilot-chat");
    assert!(!stdout(&out).contains("gho_") && !stdout(&out).contains("ghu_"), "no token on stdout");

    let lines = json_lines(&run(&sim, &config, &["sign-out", "--json"], None));
    assert_eq!(lines, vec![serde_json::json!({"signed_out": true, "provider": "copilot-chat"})]);
}

#[test]
fn demo_json_prints_steps_and_events_as_json_lines() {
    let out = Command::new(env!("CARGO_BIN_EXE_copilot-host"))
        .arg("--extension")
        .arg(repo_root())
        .args(["demo", "--json"])
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    let lines = json_lines(&out);
    let types: Vec<&str> = lines.iter().filter_map(|l| l["type"].as_str()).collect();
    assert_eq!(types.len(), lines.len(), "every line has a type");
    assert_eq!(types.first(), Some(&"demo"));
    assert_eq!(types.last(), Some(&"done"));
    assert_eq!(lines[0]["simulation"], true);
    let models = lines[1]["models"].as_array().expect("the models step lists models");
    assert!(!models.is_empty() && models.iter().all(|m| m["details"].is_object()), "{}", lines[1]);
    assert_eq!(types.iter().filter(|t| **t == "turn").count(), 2, "{types:?}");
    assert!(types.contains(&"text") && types.contains(&"tool_use"), "{types:?}");
    assert_eq!(types.iter().filter(|t| **t == "stop").count(), 2, "{types:?}");
}

/// The secret scan of issue 6: no OAuth or session token in any stdout or stderr of the CLI,
/// at the most verbose log level, in success, fallback and error flows (servers echoing the
/// tokens back included).
#[test]
fn no_token_appears_on_stdout_or_stderr() {
    use copilot_sim::{ChatScript, Fault, Route};
    let (sim, config) = scenario("secret-scan", true);
    let trace = [("COPILOT_HOST_LOG", "trace")];
    let mut outputs: Vec<Output> = Vec::new();
    for args in [&["models", "--json"][..], &["chat", "hi"], &["doctor", "--json"]] {
        let out = run_with_env(&sim, &config, args, &trace);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        outputs.push(out);
    }
    let session = sim
        .requests_to("/models")
        .first()
        .and_then(|r| r.bearer().map(str::to_string))
        .expect("a session token was used");
    let echo = format!("token {DEMO_OAUTH_TOKEN} and Bearer {session} rejected");
    let body = serde_json::json!({"error": {"message": echo}, "message": echo}).to_string();

    // The exchange fails (fallback), refuses, and the chat endpoint echoes tokens back.
    sim.fault(Route::Token, Fault::status(500, &echo), Some(1));
    outputs.push(run_with_env(&sim, &config, &["models"], &trace));
    sim.fault(Route::Token, Fault::status(401, &body), Some(1));
    outputs.push(run_with_env(&sim, &config, &["chat", "hi"], &trace));
    for (status, args) in [(401, &["chat", "--json", "hi"][..]), (429, &["chat", "hi"]), (500, &["chat", "hi"])] {
        for _ in 0..3 {
            sim.script_chat(ChatScript::status(status, body.clone()).with_header("x-request-id", &session));
        }
        outputs.push(run_with_env(&sim, &config, args, &trace));
    }
    // A token from the environment rather than a file.
    let signed_out = ConfigDir::new("secret-scan-env", false);
    let env_token = [("COPILOT_HOST_LOG", "trace"), ("GH_COPILOT_TOKEN", DEMO_OAUTH_TOKEN)];
    outputs.push(run_with_env(&sim, &signed_out, &["models"], &env_token));
    outputs.push(run_with_env(&sim, &signed_out, &["doctor"], &env_token));

    let mut secrets: Vec<String> = vec![DEMO_OAUTH_TOKEN.to_string()];
    for r in sim.requests() {
        if let Some(token) = r.bearer() {
            if !secrets.iter().any(|s| s == token) {
                secrets.push(token.to_string());
            }
        }
    }
    assert!(secrets.iter().any(|s| s.starts_with("tid=")), "session tokens were issued");
    assert!(
        outputs.iter().any(|o| stderr(o).contains("[info] guest:")),
        "the scan covers verbose logs"
    );
    for out in &outputs {
        for text in [stdout(out), stderr(out)] {
            for secret in &secrets {
                // The whole token, what follows a kept prefix, and a session token's MAC.
                let mut needles = vec![secret.clone(), secret.chars().skip(8).collect::<String>()];
                if let Some((_, mac)) = secret.rsplit_once(':') {
                    needles.push(mac.to_string());
                }
                for needle in needles.iter().filter(|n| n.len() >= 12) {
                    assert!(!text.contains(needle.as_str()), "a token leaked:\n{text}");
                }
            }
        }
    }
}

#[test]
fn serve_json_carries_the_settings_of_every_protocol() {
    let sim = Sim::start(SimConfig::default()).expect("sim");
    let config = ConfigDir::new("serve-json", true);
    // Piped stdin that closes at once: serve prints its line, then stops.
    let out = run(&sim, &config, &["serve", "--json", "--ollama-keyless"], Some(""));
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let line: Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON object");
    let url = line["url"].as_str().expect("url");
    let key = line["key"].as_str().expect("key");
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/v1"), "{line}");
    assert!(line["zed_settings"]["language_models"]["openai_compatible"].is_object());
    let root = url.trim_end_matches("/v1");
    assert_eq!(line["anthropic_base_url"], root);
    assert_eq!(line["claude_code_env"]["ANTHROPIC_BASE_URL"], root);
    assert_eq!(line["claude_code_env"]["ANTHROPIC_AUTH_TOKEN"], key);
    assert_eq!(line["ollama_url"], root);
    assert_eq!(line["ollama_keyless"], true);
    assert_eq!(line["zed_ollama_settings"]["language_models"]["ollama"]["api_url"], root);
    assert_eq!(line["zed_ollama_key_env"], "OLLAMA_API_KEY");
}

/// The compiled-component cache (native code the host loads) is private from creation, and an
/// entry others could have written is ignored and rebuilt, never loaded (issue 12).
#[cfg(unix)]
#[test]
fn the_compiled_cache_is_private_and_an_entry_others_can_write_is_rebuilt() {
    use std::os::unix::fs::PermissionsExt;
    let (sim, config) = scenario("cache", true);
    let cache_home = config.0.join("cache");
    let cache_home_text = cache_home.display().to_string();
    let env = [("XDG_CACHE_HOME", cache_home_text.as_str()), ("COPILOT_HOST_LOG", "debug")];
    success(&run_with_env(&sim, &config, &["models", "--json"], &env));
    let dir = cache_home.join("copilot-host");
    let entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the cache dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(entry), 0o600);
    std::fs::set_permissions(entry, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let out = run_with_env(&sim, &config, &["models", "--json"], &env);
    success(&out);
    let log = stderr(&out);
    assert!(
        log.contains("ignoring compiled-component cache") && log.contains("writable by other users"),
        "{log}"
    );
    assert_eq!(mode(entry), 0o600, "the entry was rebuilt, privately");
}

#[test]
fn doctor_says_which_secret_store_is_used() {
    let (sim, config) = scenario("doctor-store", true);
    let report = success_json(&run(&sim, &config, &["doctor", "--json"], None));
    let store = report["secret_store"].as_str().expect("a secret_store entry");
    let expected = config.0.join("data").join("copilot-host").join("credentials.json");
    assert!(store.starts_with("file ") && store.contains(&expected.display().to_string()), "{store}");
    assert!(store.contains("0600"), "{store}");
    let text = success(&run(&sim, &config, &["doctor"], None));
    assert!(text.lines().any(|l| l.starts_with("secrets") && l.contains("credentials.json")), "{text}");
}
