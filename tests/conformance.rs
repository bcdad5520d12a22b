//! The conformance corpus: every real capture in `tests/captures/` replayed byte for byte
//! through the real component, with the complete outcome asserted as worked out by hand from
//! the payload (issue 11). Where each capture comes from, and what was changed in it, is in
//! `tests/captures/PROVENANCE.md`; the facts read off them are in `tests/captures/NOTES.md`.
//!
//! One test per capture, named after its file. [`captures!`] declares them and the list of
//! files they cover, and `every_capture_has_a_test` fails when a file under `tests/captures/`
//! has no test (or no provenance entry), so the corpus cannot grow untested.
//!
//! Streams are replayed whole and re-chunked (1 byte, and a few odd sizes, per write): the
//! events must not depend on where the network splits the body.

use std::path::{Path, PathBuf};

use copilot_chat_tests::*;
use copilot_host::{CompletionEvent, ProviderError, StopReason};
use copilot_sim::{Replay, Route};
use serde_json::{json, Value};

/// The sizes every stream is also written in, one flushed write each.
const CHUNK_SIZES: [usize; 5] = [1, 7, 64, 333, 4096];
/// A model the simulator's catalog serves on `/chat/completions`.
const CHAT_MODEL: &str = "gpt-4.1";
/// A model the simulator's catalog serves on `/responses` only.
const RESPONSES_MODEL: &str = "gpt-5";
const CHAT: &str = "/chat/completions";
const RESPONSES: &str = "/responses";
const MESSAGES: &str = "/v1/messages";

/// A model the simulator's catalog serves on `/v1/messages` only.
const MESSAGES_MODEL: &str = "claude-haiku-4.5";

/// Declares one test per capture (`name => "dir/file"`) and the list of covered files.
macro_rules! captures {
    ($($name:ident => $path:literal,)*) => {
        const COVERED: &[&str] = &[$($path),*];
        $(
            #[test]
            fn $name() {
                check::$name($path);
            }
        )*
    };
}

captures! {
    catalog_business_2025_11 => "catalog/business-2025-11.json",
    catalog_business_2026_01 => "catalog/business-2026-01.json",
    catalog_codecompanion_4_models_2026_07 => "catalog/codecompanion-4-models-2026-07.json",
    catalog_enterprise_42_models_2026_08 => "catalog/enterprise-42-models-2026-08.json",
    catalog_puxu_41_models_2026_03_28 => "catalog/puxu-41-models-2026-03-28.json",
    chat_claude_3_5_sonnet_two_tool_calls_index0 => "chat/claude-3.5-sonnet-two-tool-calls-index0.sse",
    chat_claude_3_7_sonnet_nonstream => "chat/claude-3.7-sonnet-nonstream.json",
    chat_claude_3_7_sonnet_text => "chat/claude-3.7-sonnet-text.sse",
    chat_claude_3_7_sonnet_tool_call => "chat/claude-3.7-sonnet-tool-call.sse",
    chat_claude_3_7_sonnet_tools_nonstream => "chat/claude-3.7-sonnet-tools-nonstream.json",
    chat_claude_sonnet_4_after_tool_2026_02 => "chat/claude-sonnet-4-after-tool-2026-02.sse",
    chat_claude_sonnet_4_text_2026_02 => "chat/claude-sonnet-4-text-2026-02.sse",
    chat_claude_sonnet_4_tool_call_2026_02 => "chat/claude-sonnet-4-tool-call-2026-02.sse",
    chat_gemini_3_pro_reasoning_tool => "chat/gemini-3-pro-reasoning-tool.sse",
    chat_gpt_4_1_code_2026_02 => "chat/gpt-4.1-code-2026-02.sse",
    chat_gpt_4_1_content_filter_2025_11 => "chat/gpt-4.1-content-filter-2025-11.sse",
    chat_gpt_4_1_text_business_2026_01 => "chat/gpt-4.1-text-business-2026-01.sse",
    chat_gpt_4o_panel_text_content_filter => "chat/gpt-4o-panel-text-content-filter.sse",
    chat_gpt_4o_single_tool_call_2024_09 => "chat/gpt-4o-single-tool-call-2024-09.sse",
    chat_gpt_4o_tool_call_annotations_edited => "chat/gpt-4o-tool-call-annotations-EDITED.sse",
    errors_chat_400_unsupported_api_for_model_from_log => "errors/chat-400-unsupported-api-for-model-FROM-LOG.txt",
    errors_chat_401_invalid_hmac => "errors/chat-401-invalid-hmac.txt",
    errors_chat_401_token_expired => "errors/chat-401-token-expired.txt",
    errors_chat_402_quota_exceeded_from_log => "errors/chat-402-quota-exceeded-FROM-LOG.txt",
    errors_exchange_401_bad_credentials => "errors/exchange-401-bad-credentials.json",
    errors_messages_400_empty_user_content => "errors/messages-400-empty-user-content.json",
    errors_messages_400_orphan_tool_use => "errors/messages-400-orphan-tool-use.json",
    errors_models_401_invalid_hmac => "errors/models-401-invalid-hmac.txt",
    errors_quota_exceeded_text => "errors/quota-exceeded-text.txt",
    errors_responses_400_no_tool_output => "errors/responses-400-no-tool-output.json",
    exchange_business_2026_01 => "exchange/business-2026-01.json",
    exchange_enterprise_24h_refresh_2026_08_18 => "exchange/enterprise-24h-refresh-2026-08-18.json",
    messages_claude_opus_5_text_scrubbed_2026_08 => "messages/claude-opus-5-text-SCRUBBED-2026-08.sse",
    responses_gpt_5_after_function_call_truncated_2026_02 => "responses/gpt-5-after-function-call-TRUNCATED-2026-02.sse",
    responses_gpt_5_reasoning_function_call_2026_02 => "responses/gpt-5-reasoning-function-call-2026-02.sse",
    responses_gpt_5_reasoning_text_2026_02 => "responses/gpt-5-reasoning-text-2026-02.sse",
    responses_gpt_5_5_web_search_enterprise_2026_08 => "responses/gpt-5.5-web-search-enterprise-2026-08.sse",
}

// ---- the corpus itself ------------------------------------------------------------------

fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

/// The bytes of a capture, exactly as stored.
fn capture(path: &str) -> Vec<u8> {
    std::fs::read(captures_dir().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// Every file under `dir`, as paths relative to the corpus root with `/` separators.
fn files_under(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read the captures dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            let relative = path.strip_prefix(captures_dir()).expect("under the corpus");
            let parts: Vec<String> =
                relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            out.push(parts.join("/"));
        }
    }
}

#[test]
fn every_capture_has_a_test() {
    let mut files = Vec::new();
    files_under(&captures_dir(), &mut files);
    files.retain(|f| !matches!(f.as_str(), "PROVENANCE.md" | "NOTES.md"));
    files.sort();
    let mut claimed: Vec<String> =
        COVERED.iter().map(|s| s.to_string()).collect();
    claimed.sort();
    assert_eq!(files, claimed, "every file under tests/captures/ needs a test in captures! (and none may be missing)");
    let provenance = String::from_utf8(capture("PROVENANCE.md")).expect("UTF-8");
    for file in &files {
        let heading = format!("\n## {file}\n");
        assert!(provenance.contains(&heading), "{file} has no entry in PROVENANCE.md");
        let size = std::fs::metadata(captures_dir().join(file)).expect("stat").len();
        let entry = provenance.split(&heading).nth(1).expect("entry");
        let entry = entry.split("\n## ").next().unwrap_or(entry);
        assert!(
            entry.contains(&format!("- Size here: {size} bytes")),
            "{file}: PROVENANCE.md states another size than the file's {size} bytes"
        );
    }
}

// ---- outcomes ---------------------------------------------------------------------------

/// A finished tool call as the editor sees it.
#[derive(Debug, PartialEq)]
enum Call {
    /// `ToolUse` with its input parsed.
    Use { id: String, name: String, input: Value },
    /// `ToolUseJsonParseError`: the arguments were not JSON; the raw text is kept.
    Broken { id: String, name: String, raw: String },
}

fn call(id: &str, name: &str, input: Value) -> Call {
    Call::Use { id: id.into(), name: name.into(), input }
}

fn broken(id: &str, name: &str, raw: &str) -> Call {
    Call::Broken { id: id.into(), name: name.into(), raw: raw.into() }
}

/// What a stream came to: everything the editor could show or act on.
#[derive(Debug, PartialEq)]
struct Outcome {
    text: String,
    thinking: String,
    reasoning_details: Vec<Value>,
    calls: Vec<Call>,
    stop: Option<String>,
    /// (input, output, cache read) of each usage event.
    usage: Vec<(u64, u64, Option<u64>)>,
    /// Cache-creation input tokens, where a usage event reports them (the Messages route).
    cache_created: Option<u64>,
    /// The error that ended the stream, by variant.
    error: Option<String>,
}

impl Outcome {
    fn new() -> Outcome {
        Outcome {
            text: String::new(),
            thinking: String::new(),
            reasoning_details: Vec::new(),
            calls: Vec::new(),
            stop: None,
            usage: Vec::new(),
            cache_created: None,
            error: None,
        }
    }
    fn text(mut self, text: &str) -> Outcome {
        self.text = text.into();
        self
    }
    fn thinking(mut self, thinking: &str) -> Outcome {
        self.thinking = thinking.into();
        self
    }
    fn calls(mut self, calls: Vec<Call>) -> Outcome {
        self.calls = calls;
        self
    }
    fn stop(mut self, reason: StopReason) -> Outcome {
        self.stop = Some(format!("{reason:?}"));
        self
    }
    fn usage(mut self, input: u64, output: u64, cached: Option<u64>) -> Outcome {
        self.usage = vec![(input, output, cached)];
        self
    }
    fn cache_created(mut self, tokens: u64) -> Outcome {
        self.cache_created = Some(tokens);
        self
    }
    fn error(mut self, variant: &str) -> Outcome {
        self.error = Some(variant.into());
        self
    }
}

/// The variant name of an error (`Network`, `Unauthorized`, ...).
fn variant(error: &ProviderError) -> String {
    let shown = format!("{error:?}");
    let shown = shown.strip_prefix("ProviderError::").unwrap_or(&shown);
    shown.split(['(', ' ', '{']).next().unwrap_or_default().to_string()
}

/// Reads a stream to its end (or its error), keeping the events before an error.
fn run(h: &Harness, model: &str) -> (Vec<String>, Outcome, Option<ProviderError>) {
    let mut outcome = Outcome::new();
    let mut shown = Vec::new();
    let stream = h.ext.stream(PROVIDER, model, request(vec![user("hello")])).expect("no trap");
    let mut failure = None;
    match stream {
        Err(e) => failure = Some(e),
        Ok(stream) => {
            for item in stream {
                match item {
                    Ok(event) => {
                        shown.push(format!("{event:?}"));
                        record(&mut outcome, event);
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
    }
    outcome.error = failure.as_ref().map(variant);
    h.assert_no_credential_in(&format!("{shown:?} {failure:?}"));
    (shown, outcome, failure)
}

fn record(outcome: &mut Outcome, event: CompletionEvent) {
    match event {
        CompletionEvent::Text(t) => outcome.text.push_str(&t),
        CompletionEvent::Thinking(t) => outcome.thinking.push_str(&t.text),
        CompletionEvent::ReasoningDetails(d) => {
            outcome.reasoning_details.push(serde_json::from_str(&d).expect("details are JSON"))
        }
        CompletionEvent::ToolUse(t) => {
            assert!(t.is_input_complete);
            let input = serde_json::from_str(&t.input).expect("ToolUse input is JSON");
            outcome.calls.push(Call::Use { id: t.id, name: t.name, input });
        }
        CompletionEvent::ToolUseJsonParseError(e) => {
            outcome.calls.push(Call::Broken { id: e.id, name: e.tool_name, raw: e.raw_input })
        }
        CompletionEvent::Stop(reason) => {
            assert!(outcome.stop.is_none(), "a second Stop");
            outcome.stop = Some(format!("{reason:?}"));
        }
        CompletionEvent::Usage(u) => {
            if u.cache_creation_input_tokens.is_some() {
                outcome.cache_created = u.cache_creation_input_tokens;
            }
            outcome.usage.push((u.input_tokens, u.output_tokens, u.cache_read_input_tokens))
        }
        CompletionEvent::Started | CompletionEvent::RedactedThinking(_) => {}
    }
}

/// Replays a stream capture on `route` whole, then at each of [`CHUNK_SIZES`], and checks
/// the outcome each time; the events must be the same however the body is split.
fn replay_stream(path: &str, route: Route, expected: Outcome) -> Vec<String> {
    let model = match route {
        Route::Responses => RESPONSES_MODEL,
        Route::Messages => MESSAGES_MODEL,
        _ => CHAT_MODEL,
    };
    let h = Harness::new();
    let body = capture(path);
    h.sim.replay(route, Replay::ok(body.clone()));
    let (events, outcome, _) = run(&h, model);
    assert_eq!(outcome, expected, "{path}, in one piece");
    if expected.error.is_none() {
        assert_eq!(events.first().map(String::as_str), Some("CompletionEvent::Started"), "{path}");
        assert!(events.last().is_some_and(|e| e.starts_with("CompletionEvent::Stop(")), "{path}: {events:?}");
    }
    for size in CHUNK_SIZES {
        h.sim.clear_faults();
        h.sim.replay(route, Replay::ok(body.clone()).chunked(size));
        let (rechunked, _, _) = run(&h, model);
        assert_eq!(rechunked, events, "{path}, written {size} bytes at a time");
    }
    events
}

// ---- catalogs ---------------------------------------------------------------------------

/// One offered model: what `models` and `details` show of it.
#[derive(Debug, PartialEq)]
struct Offered {
    id: String,
    name: String,
    /// Input budget (`max_token_count`).
    input: u64,
    output: Option<u64>,
    /// `i` images, `t` tools, `k` thinking, `-` where not.
    flags: String,
    endpoint: String,
    /// `D` the default, `F` the fast default.
    marks: String,
    context: Option<u64>,
    efforts: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
fn offered(
    id: &str,
    name: &str,
    input: u64,
    output: Option<u64>,
    flags: &str,
    endpoint: &str,
    marks: &str,
    context: Option<u64>,
    efforts: &[&str],
) -> Offered {
    Offered {
        id: id.into(),
        name: name.into(),
        input,
        output,
        flags: flags.into(),
        endpoint: endpoint.into(),
        marks: marks.into(),
        context,
        efforts: efforts.iter().map(|e| e.to_string()).collect(),
    }
}

/// Replays a catalog on `/models` (the session comes from the simulator's own exchange) and
/// reads what the extension offers.
fn offered_from(path: &str) -> Vec<Offered> {
    let h = Harness::new();
    h.sim.replay(Route::Models, Replay::ok(capture(path)));
    let models = h.models().expect("the catalog is read");
    let details = h.ext.details(PROVIDER).expect("no trap").expect("details");
    models
        .iter()
        .map(|m| {
            let facts = &details["models"][&m.id];
            let flag = |on: bool, c: char| if on { c } else { '-' };
            let caps = &m.capabilities;
            assert_eq!(
                (caps.supports_tool_choice_auto, caps.supports_tool_choice_any, caps.supports_tool_choice_none),
                (caps.supports_tools, caps.supports_tools, caps.supports_tools)
            );
            assert_eq!(facts["needs_enablement"], json!(false), "{}", m.id);
            Offered {
                id: m.id.clone(),
                name: m.name.clone(),
                input: m.max_token_count,
                output: m.max_output_tokens,
                flags: [
                    flag(caps.supports_images, 'i'),
                    flag(caps.supports_tools, 't'),
                    flag(caps.supports_thinking, 'k'),
                ]
                .iter()
                .collect(),
                endpoint: facts["endpoint"].as_str().unwrap_or("none").to_string(),
                marks: format!(
                    "{}{}",
                    if m.is_default { "D" } else { "" },
                    if m.is_default_fast { "F" } else { "" }
                ),
                context: facts["context_window"].as_u64(),
                efforts: facts["reasoning_efforts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect(),
            }
        })
        .collect()
}

// ---- token exchanges --------------------------------------------------------------------

/// Replays an exchange answer at `recorded_at` (when the service sent it) with the manifest's
/// hosts not granted: the session points at the real Copilot API, so `/models` there is
/// refused by the sandbox and nothing leaves the machine.
fn exchange_harness(path: &str, recorded_at: u64) -> Harness {
    let h = Harness::with(Setup {
        declared_http_hosts: false,
        start_at: Some(recorded_at),
        ..Setup::default()
    });
    h.sim.replay(Route::Token, Replay::ok(capture(path)));
    h
}

/// The session the extension holds, from `details` (it never carries the token).
fn session(h: &Harness) -> Value {
    h.ext.details(PROVIDER).expect("no trap").expect("details")["session"].clone()
}

/// Asks for the catalog again now (past cache and backoff); it must fail only because the
/// recorded API host is not granted here.
fn refresh_refused(h: &Harness, api_host: &str) {
    let result = h.ext.refresh_models(PROVIDER).expect("no trap");
    let error = result.expect_err("the real Copilot API is not reachable from a test");
    let shown = format!("{error:?}");
    assert!(shown.contains(api_host), "refused for another reason: {shown}");
    assert_eq!(h.count("/models"), 0, "nothing reached the simulator's own /models");
}

mod check {
    use super::*;

    // ---- catalogs -----------------------------------------------------------------------

    pub fn catalog_business_2025_11(path: &str) {
        // No billing, no is_chat_default / is_chat_fallback on any model (Business): the first
        // model is the default and the fast default is the first small-looking name. 15 of the
        // 23 entries are embeddings or hidden from the picker.
        assert_eq!(
            offered_from(path),
            [
                offered("gpt-4.1", "GPT-4.1", 128_000, Some(16_384), "it-", CHAT, "D", Some(128_000), &[]),
                offered("gpt-5-mini", "GPT-5 mini", 128_000, Some(64_000), "it-", CHAT, "F", Some(264_000), &[]),
                offered("gpt-5", "GPT-5", 128_000, Some(128_000), "it-", CHAT, "", Some(400_000), &[]),
                // No policy at all: usable.
                offered("gpt-4o", "GPT-4o", 64_000, Some(4_096), "it-", CHAT, "", Some(128_000), &[]),
                offered("gpt-5-codex", "GPT-5-Codex (Preview)", 128_000, Some(128_000), "it-", RESPONSES, "", Some(400_000), &[]),
                offered("claude-sonnet-4.5", "Claude Sonnet 4.5", 128_000, Some(16_000), "it-", CHAT, "", Some(144_000), &[]),
                offered("claude-haiku-4.5", "Claude Haiku 4.5", 128_000, Some(16_000), "it-", CHAT, "", Some(144_000), &[]),
                // Thinks by budget (min/max_thinking_budget), with no other thinking flag.
                offered("gemini-2.5-pro", "Gemini 2.5 Pro", 128_000, Some(64_000), "itk", CHAT, "", Some(128_000), &[]),
            ]
        );
    }

    pub fn catalog_business_2026_01(path: &str) {
        // `gpt-4` and `gpt-4-o-preview` are listed twice (and hidden from the picker anyway).
        assert_eq!(
            offered_from(path),
            [
                offered("gpt-5-mini", "GPT-5 mini", 128_000, Some(64_000), "it-", CHAT, "DF", Some(264_000), &[]),
                offered("gpt-5.1", "GPT-5.1", 128_000, Some(64_000), "it-", CHAT, "", Some(264_000), &[]),
                offered("gpt-5.1-codex", "GPT-5.1-Codex", 128_000, Some(128_000), "it-", RESPONSES, "", Some(400_000), &[]),
                offered("gpt-5.1-codex-mini", "GPT-5.1-Codex-Mini (Preview)", 128_000, Some(128_000), "it-", RESPONSES, "", Some(400_000), &[]),
                offered("gpt-5.1-codex-max", "GPT-5.1-Codex-Max", 128_000, Some(128_000), "it-", RESPONSES, "", Some(400_000), &[]),
                offered("claude-sonnet-4.5", "Claude Sonnet 4.5", 128_000, Some(16_000), "itk", CHAT, "", Some(144_000), &[]),
                offered("claude-opus-4.5", "Claude Opus 4.5", 128_000, Some(16_000), "itk", CHAT, "", Some(144_000), &[]),
                offered("claude-haiku-4.5", "Claude Haiku 4.5", 128_000, Some(16_000), "itk", CHAT, "", Some(144_000), &[]),
                offered("gemini-3-pro-preview", "Gemini 3 Pro (Preview)", 128_000, Some(64_000), "itk", CHAT, "", Some(128_000), &[]),
                offered("gemini-3-flash-preview", "Gemini 3 Flash (Preview)", 128_000, Some(64_000), "itk", CHAT, "", Some(128_000), &[]),
                offered("gpt-5.2", "GPT-5.2", 128_000, Some(64_000), "it-", CHAT, "", Some(264_000), &[]),
                offered("gpt-4.1", "GPT-4.1", 128_000, Some(16_384), "it-", CHAT, "", Some(128_000), &[]),
                offered("gpt-4o", "GPT-4o", 64_000, Some(4_096), "it-", CHAT, "", Some(128_000), &[]),
            ]
        );
    }

    pub fn catalog_codecompanion_4_models_2026_07(path: &str) {
        // claude-opus-4.7 (the one model listing /v1/messages here) has policy `disabled`, so
        // it is not offered on any route. gpt-5.3-codex has no policy and is usable.
        assert_eq!(
            offered_from(path),
            [
                offered("gemini-3.1-pro-preview", "Gemini 3.1 Pro (Preview) (1x)", 200_000, Some(64_000), "itk", CHAT, "D", Some(264_000), &["low", "medium", "high"]),
                offered("gpt-5.3-codex", "GPT-5.3-Codex (1x)", 272_000, Some(128_000), "itk", RESPONSES, "F", Some(400_000), &["low", "medium", "high", "xhigh"]),
                offered("gpt-5.4", "GPT-5.4 (1x)", 272_000, Some(128_000), "itk", CHAT, "", Some(400_000), &["none", "low", "medium", "high", "xhigh"]),
            ]
        );
    }

    pub fn catalog_enterprise_42_models_2026_08(path: &str) {
        // gpt-5.3-codex (no policy) is the chat default and fallback. Every model carries a
        // `warning_message`; mai-code-1.1-flash has a `billing.promo`; grok and mai models
        // speak only `/responses`. The Claude models list both `/chat/completions` and
        // `/v1/messages`; by the routing rule (Claude models go to `/v1/messages` when they
        // list it) they are served there.
        assert_eq!(
            offered_from(path),
            [
                offered("gpt-5.3-codex", "GPT-5.3-Codex (1x)", 272_000, Some(128_000), "itk", RESPONSES, "DF", Some(400_000), &["low", "medium", "high", "xhigh"]),
                offered("claude-opus-4.6", "Claude Opus 4.6 (1x)", 936_000, Some(64_000), "itk", MESSAGES, "", Some(1_000_000), &["low", "medium", "high", "max"]), // also /chat/completions
                offered("claude-opus-4.7", "Claude Opus 4.7 (1x)", 936_000, Some(64_000), "itk", MESSAGES, "", Some(1_000_000), &["low", "medium", "high", "xhigh", "max"]), // also /chat/completions
                offered("claude-opus-4.8", "Claude Opus 4.8 (1x)", 936_000, Some(64_000), "itk", MESSAGES, "", Some(1_000_000), &["low", "medium", "high", "xhigh", "max"]), // also /chat/completions
                offered("claude-opus-5", "Claude Opus 5 (1x)", 936_000, Some(64_000), "itk", MESSAGES, "", Some(1_000_000), &["low", "medium", "high", "xhigh", "max"]), // also /chat/completions
                offered("claude-sonnet-4.6", "Claude Sonnet 4.6 (1x)", 936_000, Some(64_000), "itk", MESSAGES, "", Some(1_000_000), &["low", "medium", "high", "max"]), // also /chat/completions
                offered("claude-sonnet-5", "Claude Sonnet 5 (1x)", 936_000, Some(64_000), "itk", MESSAGES, "", Some(1_000_000), &["low", "medium", "high", "xhigh", "max"]), // also /chat/completions
                offered("gemini-3.1-pro-preview", "Gemini 3.1 Pro (Preview) (1x)", 936_000, Some(64_000), "itk", CHAT, "", Some(1_000_000), &["low", "medium", "high"]),
                offered("gemini-3.5-flash", "Gemini 3.5 Flash (1x)", 936_000, Some(64_000), "itk", CHAT, "", Some(1_000_000), &["minimal", "low", "medium", "high"]),
                offered("gemini-3.6-flash", "Gemini 3.6 Flash (1x)", 936_000, Some(64_000), "itk", CHAT, "", Some(1_000_000), &["minimal", "low", "medium", "high"]),
                offered("gemini-3.7-flash", "Gemini 3.7 Flash (1x)", 936_000, Some(64_000), "itk", CHAT, "", Some(1_000_000), &["low", "medium", "high"]),
                offered("gpt-5.4-mini", "GPT-5.4 mini (1x)", 272_000, Some(128_000), "itk", RESPONSES, "", Some(400_000), &["none", "low", "medium", "high", "xhigh"]),
                offered("gpt-5.4", "GPT-5.4 (1x)", 922_000, Some(128_000), "itk", CHAT, "", Some(1_050_000), &["none", "low", "medium", "high", "xhigh"]),
                offered("gpt-5.5", "GPT-5.5 (1x)", 922_000, Some(128_000), "itk", RESPONSES, "", Some(1_050_000), &["none", "low", "medium", "high", "xhigh"]),
                offered("gpt-5.6-luna", "GPT-5.6 Luna (1x)", 922_000, Some(128_000), "itk", RESPONSES, "", Some(1_050_000), &["none", "low", "medium", "high", "xhigh", "max"]),
                offered("gpt-5.6-sol", "GPT-5.6 Sol (1x)", 922_000, Some(128_000), "itk", RESPONSES, "", Some(1_050_000), &["none", "low", "medium", "high", "xhigh", "max"]),
                offered("gpt-5.6-terra", "GPT-5.6 Terra (1x)", 922_000, Some(128_000), "itk", RESPONSES, "", Some(1_050_000), &["none", "low", "medium", "high", "xhigh", "max"]),
                offered("grok-4.5", "Grok 4.5 (1x)", 372_000, Some(128_000), "itk", RESPONSES, "", Some(500_000), &["low", "medium", "high"]),
                offered("grok-4.6", "Grok 4.6 (1x)", 372_000, Some(128_000), "itk", RESPONSES, "", Some(500_000), &["low", "medium", "high", "xhigh"]),
                offered("mai-code-1.1-flash", "MAI-Code-1.1-Flash (1x)", 128_000, Some(128_000), "itk", RESPONSES, "", Some(256_000), &["low", "medium", "high"]),
                offered("mai-code-1-flash-picker", "MAI-Code-1-Flash (1x)", 128_000, Some(128_000), "-tk", RESPONSES, "", Some(256_000), &["low", "medium", "high"]),
                offered("gpt-5-mini", "GPT-5 mini (1x)", 128_000, Some(64_000), "itk", CHAT, "", Some(264_000), &["low", "medium", "high"]),
                offered("claude-haiku-4.5", "Claude Haiku 4.5 (1x)", 136_000, Some(64_000), "itk", MESSAGES, "", Some(200_000), &[]), // also /chat/completions
            ]
        );
    }

    pub fn catalog_puxu_41_models_2026_03_28(path: &str) {
        // Older Azure entries are `billing.is_premium: false, multiplier: 0`: no multiplier
        // in their names. `gpt-4` and `gpt-4-o-preview` are listed twice.
        // The Claude rows (marked) list both endpoints and are served on `/v1/messages`.
        assert_eq!(
            offered_from(path),
            [
                offered("gpt-4.1", "GPT-4.1", 128_000, Some(16_384), "it-", CHAT, "DF", Some(128_000), &[]),
                offered("claude-opus-4.6-1m", "Claude Opus 4.6 (1M context)(Internal only) (6x)", 936_000, Some(64_000), "itk", MESSAGES, "", Some(1_000_000), &["low", "medium", "high"]), // also /chat/completions
                offered("claude-opus-4.6", "Claude Opus 4.6 (3x)", 168_000, Some(32_000), "itk", MESSAGES, "", Some(200_000), &["low", "medium", "high"]), // also /chat/completions
                offered("claude-sonnet-4.6", "Claude Sonnet 4.6 (1x)", 168_000, Some(32_000), "itk", MESSAGES, "", Some(200_000), &["low", "medium", "high"]), // also /chat/completions
                offered("gemini-3.1-pro-preview", "Gemini 3.1 Pro (Preview) (1x)", 136_000, Some(64_000), "itk", CHAT, "", Some(200_000), &["low", "medium", "high"]),
                offered("gpt-5.2-codex", "GPT-5.2-Codex (1x)", 272_000, Some(128_000), "itk", RESPONSES, "", Some(400_000), &["low", "medium", "high"]),
                offered("gpt-5.3-codex", "GPT-5.3-Codex (1x)", 272_000, Some(128_000), "itk", RESPONSES, "", Some(400_000), &["low", "medium", "high"]),
                offered("gpt-5.4-mini", "GPT-5.4 mini (0.33x)", 272_000, Some(128_000), "itk", RESPONSES, "", Some(400_000), &["low", "medium", "high"]),
                offered("gpt-5.4", "GPT-5.4 (1x)", 272_000, Some(128_000), "itk", RESPONSES, "", Some(400_000), &["low", "medium", "high"]),
                offered("gpt-5-mini", "GPT-5 mini", 128_000, Some(64_000), "itk", CHAT, "", Some(264_000), &["low", "medium", "high"]),
                offered("gpt-5.1", "GPT-5.1 (1x)", 128_000, Some(64_000), "itk", CHAT, "", Some(264_000), &["none", "low", "medium", "high"]),
                offered("gpt-5.1-codex", "GPT-5.1-Codex (1x)", 128_000, Some(128_000), "itk", RESPONSES, "", Some(400_000), &["low", "medium", "high"]),
                offered("gpt-5.1-codex-mini", "GPT-5.1-Codex-Mini (Preview) (0.33x)", 128_000, Some(128_000), "itk", RESPONSES, "", Some(400_000), &["low", "medium", "high"]),
                offered("gpt-5.1-codex-max", "GPT-5.1-Codex-Max (1x)", 128_000, Some(128_000), "itk", RESPONSES, "", Some(400_000), &["low", "medium", "high"]),
                offered("claude-sonnet-4", "Claude Sonnet 4 (1x)", 128_000, Some(16_000), "itk", MESSAGES, "", Some(216_000), &[]), // also /chat/completions
                offered("claude-sonnet-4.5", "Claude Sonnet 4.5 (1x)", 168_000, Some(32_000), "itk", MESSAGES, "", Some(200_000), &[]), // also /chat/completions
                offered("claude-opus-4.5", "Claude Opus 4.5 (3x)", 168_000, Some(32_000), "itk", MESSAGES, "", Some(200_000), &[]), // also /chat/completions
                offered("claude-haiku-4.5", "Claude Haiku 4.5 (0.33x)", 136_000, Some(64_000), "itk", MESSAGES, "", Some(200_000), &[]), // also /chat/completions
                offered("gemini-3-pro-preview", "Gemini 3 Pro (Preview) (1x)", 136_000, Some(64_000), "itk", CHAT, "", Some(200_000), &["low", "high"]),
                offered("gemini-3-flash-preview", "Gemini 3 Flash (Preview) (0.33x)", 128_000, Some(64_000), "itk", CHAT, "", Some(128_000), &["low", "medium", "high"]),
                offered("gemini-2.5-pro", "Gemini 2.5 Pro (1x)", 128_000, Some(64_000), "itk", CHAT, "", Some(128_000), &[]),
                offered("gpt-5.2", "GPT-5.2 (1x)", 272_000, Some(128_000), "it-", CHAT, "", Some(400_000), &[]),
                offered("gpt-4o", "GPT-4o", 64_000, Some(4_096), "it-", CHAT, "", Some(128_000), &[]),
            ]
        );
    }

    // ---- /chat/completions streams ------------------------------------------------------

    pub fn chat_claude_3_5_sonnet_two_tool_calls_index0(path: &str) {
        // Two calls, both at `tool_calls[].index` 0, told apart only by a new id: two calls,
        // not one with both argument strings glued together. Their arguments are not JSON as
        // stored (the source's template-literal escapes; PROVENANCE.md), so both arrive as
        // parse errors with the raw text, each whole.
        replay_stream(
            path,
            Route::ChatCompletions,
            Outcome::new()
                .text("I'll make two changes:\n1. Add a multiply function to test.js\n2. Modify server.js to return a random dad joke from a small collection")
                .calls(vec![
                    broken(
                        "tooluse_448k6WHnTpS28K0Bd1bhgA",
                        "edit_file",
                        "{\"filePath\":\"/Users/roblou/code/debugtest/test.js\",\"explanation\":\"Adding multiply function\",\"code\":\"// ...existing code...\\n\nfunction multiply(a, b) {\\n    return a * b;\\\"}",
                    ),
                    broken(
                        "tooluse_2SRF2HShTXOoLdGrjWuGiw",
                        "edit_file",
                        "\"filePath\":\"/Users/roblou/code/debugtest/server.js\",\"explanation\":\"Adding dad jokes functionality\",\"code\": \"const http = require('http');\\n\\nconst dadJokes = [\\n    'Why don\\\\'t eggs tell jokes? They\\'d crack up!',\\n    'What do you call a fake noodle? An impasta!',\\n    'Why did the scarecrow win an award? Because he was outstanding in his field!'\\n];\\n\\nconst server = http.createServer((req, res) => {\\n    console.log(`${req.method} ${req.url}`);\\n    const randomJoke = dadJokes[Math.floor(Math.random() * dadJokes.length)];\\n    res.statusCode = 200;\\n    res.setHeader('Content-Type', 'text/plain');\\n    res.end(`${ randomJoke}\\\n`); \\n});\\n\\n// ...existing code...\"}",
                    ),
                ])
                .stop(StopReason::ToolUse)
                .usage(2128, 170, None),
        );
    }

    /// A non-streamed answer (a JSON body) to a streamed request is not an event stream:
    /// the extension always asks for a stream, and says the answer ended without one.
    fn not_a_stream(path: &str) {
        let h = Harness::new();
        h.sim.replay(Route::ChatCompletions, Replay::ok(capture(path)));
        let (events, outcome, error) = run(&h, CHAT_MODEL);
        assert_eq!(outcome, Outcome::new().error("Network"), "{events:?}");
        let shown = format!("{error:?}");
        assert!(shown.contains("ended before the answer was complete"), "{shown}");
    }

    pub fn chat_claude_3_7_sonnet_nonstream(path: &str) {
        not_a_stream(path);
    }

    pub fn chat_claude_3_7_sonnet_tools_nonstream(path: &str) {
        not_a_stream(path);
    }

    pub fn chat_claude_3_7_sonnet_text(path: &str) {
        // No `[DONE]`: the finish reason ends the answer cleanly at the end of the body.
        replay_stream(
            path,
            Route::ChatCompletions,
            Outcome::new()
                .text("**Elegant simplicity.**\n\nWhat aspects of Ruby would you like me to explain in more detail?")
                .stop(StopReason::EndTurn)
                .usage(394, 22, None),
        );
    }

    pub fn chat_claude_3_7_sonnet_tool_call(path: &str) {
        replay_stream(
            path,
            Route::ChatCompletions,
            Outcome::new()
                .text("I need to check the weather for both London and Paris, but I can only call the weather tool once for each location, and I need to specify temperature units.\n\nLet me check the weather for London first, and then for Paris:")
                .calls(vec![call(
                    "tooluse_ZnSMh7lhSxWDIuVBKd_vLg",
                    "weather",
                    json!({"location": "London, UK", "units": "celsius"}),
                )])
                .stop(StopReason::ToolUse)
                .usage(422, 48, None),
        );
    }

    pub fn chat_claude_sonnet_4_after_tool_2026_02(path: &str) {
        replay_stream(
            path,
            Route::ChatCompletions,
            Outcome::new()
                .text("The file contains the text: \"Hello from the live thinking test!\"")
                .stop(StopReason::EndTurn)
                .usage(639, 17, Some(0)),
        );
    }

    pub fn chat_claude_sonnet_4_text_2026_02(path: &str) {
        replay_stream(
            path,
            Route::ChatCompletions,
            Outcome::new().text("7 * 8 = 56.").stop(StopReason::EndTurn).usage(23, 14, Some(0)),
        );
    }

    pub fn chat_claude_sonnet_4_tool_call_2026_02(path: &str) {
        replay_stream(
            path,
            Route::ChatCompletions,
            Outcome::new()
                .calls(vec![call(
                    "toolu_vrtx_01XTzCVdqxzc4pET9aqcSQt7",
                    "read_file",
                    json!({"path": "/var/folders/b5/mwkw4_410fjc67g81rsp2wxc0000gn/T/opal_live_test_3012.txt"}),
                )])
                .stop(StopReason::ToolUse)
                .usage(525, 95, Some(0)),
        );
    }

    pub fn chat_gemini_3_pro_reasoning_tool(path: &str) {
        // Every chunk carries `usage`; all but the last are zeros, which are no events. The
        // real one has `reasoning_tokens` (92) at the top level, outside `completion_tokens`
        // (31): output tokens are 31 + 92 = 123, reported once (issue 11, defect 2).
        let opaque = "lgxMQq0m/J6cVjsaH8bbfhxHtAvK4Y+BfAp1pc+7";
        let mut expected = Outcome::new()
            .thinking("**Discovering Update Scope**\n\nI'm currently trying to ascertain the extent of the requested update. I need to locate `quotes.lua` within the repository and understand its structure before implementing any modifications. The user's vague instructions necessitate a deeper dive into the file's content to determine the precise nature of the update.\n\n\n**Commencing File Search**\n\nI've initiated the file search. My current focus is solely on locating `quotes.lua` within the repository. Once found, I'll analyze its structure and content. This initial step is critical to comprehend the file's current state and inform my subsequent actions.\n\n\n")
            .text("I will search for the `quotes.lua` file to locate it within the repository.\n")
            .calls(vec![call("call_MHxoeW9qWnVicVd6R0FkMFZ3UWw", "file_search", json!({"query": "**/quotes.lua"}))])
            .stop(StopReason::ToolUse)
            .usage(6009, 123, Some(0));
        // The opaque reasoning (1468 base64 characters) rides on the last chunk, beside the
        // whole tool call; it is handed back as reasoning details to echo on the next turn.
        let body = String::from_utf8(capture(path)).expect("UTF-8");
        let start = body.find("\"reasoning_opaque\":\"").expect("opaque") + 20;
        let whole = &body[start..start + body[start..].find('"').expect("end")];
        assert_eq!((whole.len(), &whole[..opaque.len()]), (1468, opaque));
        expected.reasoning_details = vec![json!({"reasoning_opaque": whole})];
        let events = replay_stream(path, Route::ChatCompletions, expected);
        let usage: Vec<&String> = events.iter().filter(|e| e.starts_with("CompletionEvent::Usage(")).collect();
        assert_eq!(usage.len(), 1, "{usage:?}");
    }

    pub fn chat_gpt_4_1_code_2026_02(path: &str) {
        // Stored as the real 4096-byte reads, which end mid-JSON.
        replay_stream(
            path,
            Route::ChatCompletions,
            Outcome::new()
                .text("```rust\nfn fibonacci(n: u32) -> u32 {\n    match n {\n        0 => 0,\n        1 => 1,\n        _ => fibonacci(n - 1) + fibonacci(n - 2),\n    }\n}\n\nfn main() {\n    for i in 0..10 {\n        println!(\"{}\", fibonacci(i));\n    }\n}\n```")
                .stop(StopReason::EndTurn)
                .usage(100, 74, Some(0)),
        );
    }

    pub fn chat_gpt_4_1_content_filter_2025_11(path: &str) {
        replay_stream(
            path,
            Route::ChatCompletions,
            Outcome::new()
                .text("```lua\nprint(\"Hello, world!\")\n```")
                .stop(StopReason::EndTurn)
                .usage(51, 11, Some(0)),
        );
    }

    pub fn chat_gpt_4_1_text_business_2026_01(path: &str) {
        replay_stream(
            path,
            Route::ChatCompletions,
            Outcome::new()
                .text("Certainly! Here is a simple \"Hello, world!\" program in Rust:\n\n```rust\nfn main() {\n    println!(\"Hello, world!\");\n}\n```\n\nTo run this:\n\n1. Save it as `main.rs`.\n2. Compile it with `rustc main.rs`.\n3. Run the output with `./main` (on Linux/macOS) or `main.exe` (on Windows).\n\nLet me know if you need more help!")
                .stop(StopReason::EndTurn)
                .usage(20, 90, Some(0)),
        );
    }

    pub fn chat_gpt_4o_panel_text_content_filter(path: &str) {
        // No `model` on any chunk and no usage at all.
        replay_stream(
            path,
            Route::ChatCompletions,
            Outcome::new()
                .text("Hello! How can I assist you with your programming needs today?")
                .stop(StopReason::EndTurn),
        );
    }

    pub fn chat_gpt_4o_single_tool_call_2024_09(path: &str) {
        replay_stream(
            path,
            Route::ChatCompletions,
            Outcome::new()
                .calls(vec![call("call_ZQkSp6hzLvcGcH2L2CmaBkXM", "copilot_searchCodebase", json!({"query": "linkedlist"}))])
                .stop(StopReason::ToolUse)
                .usage(218, 0, None),
        );
    }

    pub fn chat_gpt_4o_tool_call_annotations_edited(path: &str) {
        // The `annotations` / `copilot_annotations` (CodeVulnerability) on every chunk are
        // not shown (the contract has no place for them) and do not disturb the call.
        replay_stream(
            path,
            Route::ChatCompletions,
            Outcome::new()
                .calls(vec![call(
                    "call_YEMsUraDh71gogljRLa7vyGP",
                    "insert_edit_into_file",
                    json!({
                        "filePath": "/tmp/astro/src/pages/lists/[id]/index.astro",
                        "code": "<UrlList />",
                        "explanation": "Integrate the UrlList component into the list view page to display and manage URLs.",
                    }),
                )])
                .stop(StopReason::ToolUse)
                .usage(218, 0, None),
        );
    }

    // ---- /responses streams -------------------------------------------------------------

    pub fn responses_gpt_5_after_function_call_truncated_2026_02(path: &str) {
        // Ends after `output_item.done` (the recorder cut `response.completed` off): the text
        // is shown once (not again from the finished item), then the cut is a network error.
        let events = replay_stream(
            path,
            Route::Responses,
            Outcome::new().text("Hello from the live thinking test!").error("Network"),
        );
        assert_eq!(events.first().map(String::as_str), Some("CompletionEvent::Started"));
    }

    pub fn responses_gpt_5_reasoning_function_call_2026_02(path: &str) {
        // Every event has its own opaque item_id; the call is tied by output_index 1 and
        // emitted once (not again from `response.completed`). The reasoning item's summary
        // is empty: no thinking.
        replay_stream(
            path,
            Route::Responses,
            Outcome::new()
                .calls(vec![call(
                    "call_V51pK4uGw2A3HcqtS0gFjwFS",
                    "read_file",
                    json!({"path": "/var/folders/b5/mwkw4_410fjc67g81rsp2wxc0000gn/T/opal_live_test_99.txt"}),
                )])
                .stop(StopReason::ToolUse)
                .usage(180, 307, Some(0)),
        );
    }

    pub fn responses_gpt_5_reasoning_text_2026_02(path: &str) {
        // The answer was printed three times before issue 11 (deltas, `output_item.done`,
        // `response.completed`, each under another item_id): text and summary once each.
        // Reasoning (256 tokens) is inside output_tokens here.
        replay_stream(
            path,
            Route::Responses,
            Outcome::new()
                .thinking("**Calculating multiplication**\n\nI want to keep it straightforward when providing the answer. For example, I could say, \"7 multiplied by 8 equals 56,\" which serves my purpose. It might be better to say, \"The product of 7 and 8 is 56,\" but I also like the idea of simply stating the answer. So, I’ll go with: \"7 multiplied by 8 equals 56. Done!\" Keeping it minimal is nice, and that feels good!")
                .text("7 multiplied by 8 equals 56.")
                .stop(StopReason::EndTurn)
                .usage(29, 271, Some(0)),
        );
    }

    pub fn responses_gpt_5_5_web_search_enterprise_2026_08(path: &str) {
        // The server-side web search item is not shown; the answer is, once, with its
        // non-ASCII apostrophe intact however the bytes are split.
        replay_stream(
            path,
            Route::Responses,
            Outcome::new()
                .text("Today’s date is **Thursday, August 20, 2026** in U.S. time zones. ")
                .stop(StopReason::EndTurn)
                .usage(4693, 112, Some(3712)),
        );
    }

    // ---- error bodies -------------------------------------------------------------------

    /// Replays `status` with the capture as the body on `route` and returns the error.
    fn error_for(path: &str, route: Route, status: u16, model: &str) -> (Harness, ProviderError) {
        let h = Harness::new();
        h.models().expect("models");
        h.sim.replay(route, Replay::status(status, capture(path)));
        let (events, outcome, error) = run(&h, model);
        assert!(events.is_empty(), "{events:?}");
        assert!(outcome.error.is_some());
        (h, error.expect("an error"))
    }

    pub fn errors_chat_400_unsupported_api_for_model_from_log(path: &str) {
        // Not the raw body (a log line; PROVENANCE.md): replayed as the body of the 400 it
        // came with. Without the JSON envelope the code is not read; the status and the
        // server's words reach the user.
        let (_, error) = error_for(path, Route::ChatCompletions, 400, CHAT_MODEL);
        let shown = format!("{error:?}");
        assert!(shown.contains("is not accessible via the /chat/completions endpoint"), "{shown}");
    }

    fn refused_session(path: &str) {
        // The session token is refused: one fresh exchange and one retry, then Unauthorized.
        let (h, error) = error_for(path, Route::ChatCompletions, 401, CHAT_MODEL);
        assert_eq!(variant(&error), "Unauthorized", "{error:?}");
        assert_eq!(h.count(CHAT), 2, "one retry with a fresh session");
        assert_eq!(h.sim.issued_session_tokens(), 2);
    }

    pub fn errors_chat_401_invalid_hmac(path: &str) {
        refused_session(path);
    }

    pub fn errors_chat_401_token_expired(path: &str) {
        refused_session(path);
    }

    pub fn errors_chat_402_quota_exceeded_from_log(path: &str) {
        // Not the raw body (log lines): replayed with the 402 the log shows.
        let (_, error) = error_for(path, Route::ChatCompletions, 402, CHAT_MODEL);
        assert_eq!(variant(&error), "QuotaExceeded", "{error:?}");
    }

    pub fn errors_quota_exceeded_text(path: &str) {
        // Probably hand-written by its source (PROVENANCE.md); the 402 is ours.
        let (_, error) = error_for(path, Route::ChatCompletions, 402, CHAT_MODEL);
        assert_eq!(variant(&error), "QuotaExceeded", "{error:?}");
    }

    pub fn errors_responses_400_no_tool_output(path: &str) {
        let (_, error) = error_for(path, Route::Responses, 400, RESPONSES_MODEL);
        let shown = format!("{error:?}");
        assert!(shown.contains("No tool output found for function call call_1."), "{shown}");
    }

    pub fn errors_messages_400_empty_user_content(path: &str) {
        // Anthropic's error envelope on the Messages route: its status and the server's words
        // reach the user (the request id comes from the response header, which Copilot sends
        // and the replay adds).
        let (_, error) = error_for(path, Route::Messages, 400, MESSAGES_MODEL);
        let shown = format!("{error:?}");
        assert!(shown.contains("messages.0: user messages must have non-empty content"), "{shown}");
        assert!(shown.contains("status: 400"), "{shown}");
    }

    pub fn errors_messages_400_orphan_tool_use(path: &str) {
        let (_, error) = error_for(path, Route::Messages, 400, MESSAGES_MODEL);
        let shown = format!("{error:?}");
        assert!(shown.contains("`tool_use` ids were found without `tool_result` blocks"), "{shown}");
        assert!(shown.contains("status: 400"), "{shown}");
    }

    // ---- the Messages route -------------------------------------------------------------

    pub fn messages_claude_opus_5_text_scrubbed_2026_08(path: &str) {
        // Its source replaced every text with "placeholder" (27 deltas). Input excludes the
        // cache reads and writes, as the Messages API reports it; `copilot_usage` and
        // `context_management` are extra fields the decoder passes over.
        replay_stream(
            path,
            Route::Messages,
            Outcome::new()
                .text(&"placeholder".repeat(27))
                .stop(StopReason::EndTurn)
                .usage(94, 97, Some(621_048))
                .cache_created(1366),
        );
    }

    pub fn errors_exchange_401_bad_credentials(path: &str) {
        // A revoked or wrong OAuth token: definitive, no fallback to the raw token.
        let h = Harness::new();
        h.sim.replay(Route::Token, Replay::status(401, capture(path)));
        let error = h.models().expect_err("no models without a credential");
        assert_eq!(variant(&error), "Unauthorized", "{error:?}");
        assert_eq!(h.count("/models"), 0);
    }

    pub fn errors_models_401_invalid_hmac(path: &str) {
        let h = Harness::new();
        h.sim.replay(Route::Models, Replay::status(401, capture(path)));
        let error = h.models().expect_err("refused");
        assert_eq!(variant(&error), "Unauthorized", "{error:?}");
        assert_eq!(h.count("/models"), 2, "one retry with a fresh session");
    }

    // ---- token exchanges ----------------------------------------------------------------

    pub fn exchange_business_2026_01(path: &str) {
        // Business seat: the API is api.business.githubcopilot.com and the token is refreshed
        // 1500 s after it arrived. Replayed 1800 s before its `expires_at` (1768169197).
        let received = 1_768_169_197 - 1800;
        let h = exchange_harness(path, received);
        refresh_refused(&h, "api.business.githubcopilot.com");
        assert_eq!(
            session(&h),
            json!({
                "kind": "session",
                "api_base": "https://api.business.githubcopilot.com",
                "received_at": received,
                "refresh_at": received + 1500,
                "expires_at": 1_768_169_197,
                "sku": "copilot_for_business_seat_quota",
                "fallback_reason": null,
            })
        );
        h.clock.advance(1499);
        refresh_refused(&h, "api.business.githubcopilot.com");
        assert_eq!(h.count("/copilot_internal/v2/token"), 1, "still inside refresh_in");
        h.clock.advance(1);
        refresh_refused(&h, "api.business.githubcopilot.com");
        assert_eq!(h.count("/copilot_internal/v2/token"), 2, "exchanged again at refresh_in");
    }

    pub fn exchange_enterprise_24h_refresh_2026_08_18(path: &str) {
        // Enterprise seat: a 24-hour session token (refresh_in 86340). Replayed at the Date
        // the recording shows (Tue, 18 Aug 2026 12:57:20 GMT).
        let received = 1_787_057_840;
        let h = exchange_harness(path, received);
        refresh_refused(&h, "api.enterprise.githubcopilot.com");
        assert_eq!(
            session(&h),
            json!({
                "kind": "session",
                "api_base": "https://api.enterprise.githubcopilot.com",
                "received_at": received,
                "refresh_at": received + 86_340,
                "expires_at": 1_787_144_240,
                "sku": "copilot_enterprise_seat_multi_quota",
                "fallback_reason": null,
            })
        );
        h.clock.advance(86_339);
        refresh_refused(&h, "api.enterprise.githubcopilot.com");
        assert_eq!(h.count("/copilot_internal/v2/token"), 1, "no exchange within the day");
        h.clock.advance(1);
        refresh_refused(&h, "api.enterprise.githubcopilot.com");
        assert_eq!(h.count("/copilot_internal/v2/token"), 2);
    }
}
