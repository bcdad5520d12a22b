//! Issue 13's "nothing silently dropped": the request options that change the answer
//! (`response_format`, `top_p`, `seed`, penalties, parallel tool calls, reasoning effort) travel
//! from every `serve` protocol through the contract to the body Copilot receives, and one that a
//! model's endpoint cannot take comes back as a 400 naming it. Real HTTP against the endpoint,
//! the real component, the simulator's recorded requests.

use std::sync::Arc;

use copilot_chat_tests::*;
use copilot_host::serve::Server;
use copilot_sim::Sim;
use serde_json::{json, Value};

struct Served {
    server: Server,
    sim: Sim,
    _ext: Arc<copilot_host::Extension>,
    _config_dir: TempDir,
}

fn serve() -> Served {
    let Harness { sim, ext, config_dir, .. } = Harness::new();
    let ext = Arc::new(ext);
    let server = Server::start(ext.clone(), PROVIDER, None).expect("start the server");
    Served { server, sim, _ext: ext, _config_dir: config_dir }
}

/// A model answered through Copilot's chat-completions API.
const CHAT_MODEL: &str = "gpt-4.1";
/// A model answered through Copilot's Responses API, with effort levels.
const RESPONSES_MODEL: &str = "gpt-5";
/// A Claude model, answered through Copilot's Messages route by default.
const CLAUDE: &str = "claude-sonnet-4";

fn schema() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
}

impl Served {
    /// POSTs `body` to `path` under the server's root with the key as a bearer token.
    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut response = agent
            .post(format!("{}{path}", self.server.root_url()))
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Bearer {}", self.server.key()))
            .send(body.to_string())
            .expect("POST");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().expect("body");
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON body ({e}): {text}")))
    }

    fn upstream(&self, path: &str) -> Vec<Value> {
        self.sim.requests_to(path).iter().map(|r| r.json().expect("JSON upstream body")).collect()
    }

    fn nothing_upstream(&self) -> bool {
        ["/chat/completions", "/responses", "/v1/messages"].iter().all(|p| self.sim.requests_to(p).is_empty())
    }
}

#[test]
fn chat_completions_options_reach_copilot() {
    let s = serve();
    let (status, answer) = s.post(
        "/v1/chat/completions",
        &json!({"model": CHAT_MODEL, "messages": [{"role": "user", "content": "where?"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "place", "strict": true, "schema": schema()}},
            "top_p": 0.5, "seed": 42, "presence_penalty": 0.25, "frequency_penalty": -0.5,
            "tools": [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}}}],
            "parallel_tool_calls": false}),
    );
    assert_eq!(status, 200, "{answer}");
    let upstream = s.upstream("/chat/completions");
    assert_eq!(upstream.len(), 1);
    let body = &upstream[0];
    assert_eq!(
        body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "place", "strict": true, "schema": schema()}}),
        "{body}"
    );
    assert_eq!(body["top_p"], json!(0.5));
    assert_eq!(body["seed"], json!(42));
    assert_eq!(body["presence_penalty"], json!(0.25));
    assert_eq!(body["frequency_penalty"], json!(-0.5));
    assert_eq!(body["parallel_tool_calls"], json!(false));
}

#[test]
fn a_reasoning_effort_reaches_copilot_or_is_refused_naming_the_levels() {
    let s = serve();
    let (status, answer) = s.post(
        "/v1/responses",
        &json!({"model": RESPONSES_MODEL, "input": "think", "reasoning": {"effort": "low"}}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(s.upstream("/responses")[0]["reasoning"]["effort"], "low");

    let (status, answer) = s.post(
        "/v1/chat/completions",
        &json!({"model": RESPONSES_MODEL, "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "extreme"}),
    );
    assert_eq!(status, 400, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("extreme") && message.contains("minimal, low, medium, high"), "{message}");
    assert_eq!(s.upstream("/responses").len(), 1, "the refused request went nowhere");
}

#[test]
fn responses_text_format_reaches_copilot() {
    let s = serve();
    let (status, answer) = s.post(
        "/v1/responses",
        &json!({"model": RESPONSES_MODEL, "input": "where?", "top_p": 0.75,
            "text": {"format": {"type": "json_schema", "name": "place", "strict": true, "schema": schema()}}}),
    );
    assert_eq!(status, 200, "{answer}");
    let body = &s.upstream("/responses")[0];
    assert_eq!(
        body["text"],
        json!({"format": {"type": "json_schema", "name": "place", "strict": true, "schema": schema()}}),
        "{body}"
    );
    assert_eq!(body["top_p"], json!(0.75));

    // The same request to a model behind chat completions: the nested shape there.
    let (status, answer) = s.post(
        "/v1/responses",
        &json!({"model": CHAT_MODEL, "input": "where?", "text": {"format": {"type": "json_object"}}}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(s.upstream("/chat/completions")[0]["response_format"], json!({"type": "json_object"}));
}

#[test]
fn ollama_format_and_options_reach_copilot() {
    let s = serve();
    let (status, answer) = s.post(
        "/api/chat",
        &json!({"model": CHAT_MODEL, "stream": false, "format": schema(),
            "messages": [{"role": "user", "content": "where?"}],
            "options": {"top_p": 0.5, "seed": 7, "presence_penalty": 0.5, "frequency_penalty": 0.5}}),
    );
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = s.post(
        "/api/chat",
        &json!({"model": CHAT_MODEL, "stream": false, "format": "json", "messages": [{"role": "user", "content": "x"}]}),
    );
    assert_eq!(status, 200, "{answer}");
    let upstream = s.upstream("/chat/completions");
    assert_eq!(upstream.len(), 2);
    assert_eq!(
        upstream[0]["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "response", "schema": schema()}}),
        "{}",
        upstream[0]
    );
    assert_eq!((upstream[0]["top_p"].clone(), upstream[0]["seed"].clone()), (json!(0.5), json!(7)));
    assert_eq!(upstream[0]["presence_penalty"], json!(0.5));
    assert_eq!(upstream[0]["frequency_penalty"], json!(0.5));
    assert_eq!(upstream[1]["response_format"], json!({"type": "json_object"}));

    // A think level the model does not list is Ollama's 400, naming the levels.
    let (status, answer) = s.post(
        "/api/chat",
        &json!({"model": RESPONSES_MODEL, "stream": false, "think": "max", "messages": [{"role": "user", "content": "x"}]}),
    );
    assert_eq!(status, 400, "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(error.contains("max") && error.contains("minimal, low, medium, high"), "{answer}");
}

#[test]
fn anthropic_top_p_and_serial_tools_reach_the_messages_route() {
    let s = serve();
    let (status, answer) = s.post(
        "/v1/messages",
        &json!({"model": CLAUDE, "max_tokens": 100, "top_p": 0.5,
            "messages": [{"role": "user", "content": "look"}],
            "tools": [{"name": "look", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": true}}),
    );
    assert_eq!(status, 200, "{answer}");
    let body = &s.upstream("/v1/messages")[0];
    assert_eq!(body["top_p"], json!(0.5), "{body}");
    assert_eq!(body["tool_choice"], json!({"type": "auto", "disable_parallel_tool_use": true}));
}

#[test]
fn a_field_the_messages_route_cannot_take_is_a_400_naming_it() {
    let s = serve();
    // Anthropic's protocol has no `seed`: refused by serve itself, in Anthropic's shape.
    let (status, answer) = s.post(
        "/v1/messages",
        &json!({"model": CLAUDE, "max_tokens": 100, "seed": 1, "messages": [{"role": "user", "content": "x"}]}),
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["type"], "error");
    assert_eq!(answer["error"]["type"], "invalid_request_error");
    assert!(answer["error"]["message"].as_str().unwrap_or_default().contains("`seed`"), "{answer}");

    // Through chat completions to the same Claude model: the extension's Messages request has
    // no place for it, so its typed error comes back as the protocol's 400.
    for (field, extra) in [
        ("seed", json!({"seed": 1})),
        ("presence_penalty", json!({"presence_penalty": 0.5})),
        ("response_format", json!({"response_format": {"type": "json_object"}})),
    ] {
        let mut body = json!({"model": CLAUDE, "messages": [{"role": "user", "content": "x"}]});
        body.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        let (status, answer) = s.post("/v1/chat/completions", &body);
        assert_eq!(status, 400, "{field}: {answer}");
        assert_eq!(answer["error"]["type"], "invalid_request_error", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("`{field}`")), "{field}: {message}");
    }
    // And through Responses to a model on the Responses API, which has no seed either.
    let (status, answer) = s.post(
        "/v1/chat/completions",
        &json!({"model": RESPONSES_MODEL, "messages": [{"role": "user", "content": "x"}], "seed": 3}),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap_or_default().contains("`seed`"), "{answer}");
    assert!(s.nothing_upstream(), "no refused request went upstream");
}
