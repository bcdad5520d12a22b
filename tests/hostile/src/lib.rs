//! A hostile guest: every export answers something plausible, except `llm-count-tokens`, which
//! does what its model id says:
//!
//! * `ok`: answers how many `llm-count-tokens` calls this instance has served (1 on a fresh one);
//! * `loop`: spins forever;
//! * `alloc`: allocates (and touches) memory until something stops it;
//! * `log-flood`: calls the host's `log` forever;
//! * `fetch-flood`: calls `fetch` until the host refuses, then answers how many it made;
//! * `panic`: panics with a message holding a token-shaped string (it goes to stderr);
//! * `socket:PORT`: opens a TCP connection to 127.0.0.1:PORT through WASI sockets.
//!
//! `llm-stream-completion-start` opens a stream that answers one text event per poll, forever.

use std::cell::Cell;

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "extension",
    });
}

use bindings::copilot_chat::extension::host::{self, LogLevel};
use bindings::copilot_chat::extension::http_client::{self, HttpMethod, HttpRequest, RedirectPolicy};
use bindings::copilot_chat::extension::llm_provider::{
    CacheConfiguration, CompletionEvent, CompletionRequest, DeviceFlowPrompt, ModelCapabilities,
    ModelInfo, ProviderError, ProviderInfo, StreamPoll, ToolInputFormat,
};
use bindings::Guest;

/// A token-shaped string the host must never print.
const FAKE_TOKEN: &str = "ghu_HostileSecretToken1234567890";

thread_local! {
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

struct Hostile;

fn model() -> ModelInfo {
    ModelInfo {
        id: "ok".into(),
        name: "Hostile".into(),
        max_token_count: 1000,
        max_output_tokens: None,
        capabilities: ModelCapabilities {
            supports_images: false,
            supports_tools: false,
            supports_tool_choice_auto: false,
            supports_tool_choice_any: false,
            supports_tool_choice_none: false,
            supports_thinking: false,
            tool_input_format: ToolInputFormat::JsonSchema,
        },
        is_default: true,
        is_default_fast: true,
    }
}

fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn allocate_forever() -> ! {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; 1024 * 1024];
        block[0] = 1;
        kept.push(std::hint::black_box(block));
    }
}

fn fetch_flood() -> u64 {
    let mut made = 0;
    loop {
        let request = HttpRequest {
            method: HttpMethod::Get,
            url: "https://denied.invalid/".into(),
            headers: vec![],
            body: None,
            redirect_policy: RedirectPolicy::NoFollow,
            timeout_ms: Some(1000),
            max_body_bytes: Some(1024),
        };
        match http_client::fetch(&request) {
            Err(http_client::HttpError::Other(_)) => return made,
            _ => made += 1,
        }
    }
}

fn connect(port: &str) -> Result<u64, ProviderError> {
    let port: u16 = port
        .parse()
        .map_err(|_| ProviderError::InvalidRequest("bad port".into()))?;
    match std::net::TcpStream::connect(("127.0.0.1", port)) {
        Ok(_) => Ok(1),
        Err(e) => Err(ProviderError::Network(format!("connect failed: {e}"))),
    }
}

impl Guest for Hostile {
    fn llm_providers() -> Vec<ProviderInfo> {
        vec![ProviderInfo {
            id: "copilot-chat".into(),
            name: "Hostile".into(),
            icon: None,
        }]
    }

    fn llm_provider_models(_provider_id: String) -> Result<Vec<ModelInfo>, ProviderError> {
        Ok(vec![model()])
    }

    fn llm_provider_refresh_models(_provider_id: String) -> Result<Vec<ModelInfo>, ProviderError> {
        Ok(vec![model()])
    }

    fn llm_provider_settings_markdown(_provider_id: String) -> Option<String> {
        None
    }

    fn llm_provider_is_authenticated(_provider_id: String) -> bool {
        true
    }

    fn llm_provider_start_device_flow_sign_in(
        _provider_id: String,
    ) -> Result<DeviceFlowPrompt, ProviderError> {
        Err(ProviderError::NotSupported("no sign-in".into()))
    }

    fn llm_provider_poll_device_flow_sign_in(_provider_id: String) -> Result<bool, ProviderError> {
        Ok(true)
    }

    fn llm_provider_reset_credentials(_provider_id: String) -> Result<(), ProviderError> {
        Ok(())
    }

    fn llm_count_tokens(
        _provider_id: String,
        model_id: String,
        _request: CompletionRequest,
    ) -> Result<u64, ProviderError> {
        let calls = CALLS.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        match model_id.as_str() {
            "ok" => Ok(calls),
            "loop" => spin(),
            "alloc" => allocate_forever(),
            "log-flood" => loop {
                host::log(LogLevel::Info, "flood");
            },
            "fetch-flood" => Ok(fetch_flood()),
            "panic" => panic!("hostile panic holding {FAKE_TOKEN}"),
            other => match other.strip_prefix("socket:") {
                Some(port) => connect(port),
                None => Err(ProviderError::InvalidRequest(format!("unknown behaviour {other}"))),
            },
        }
    }

    fn llm_stream_completion_start(
        _provider_id: String,
        _model_id: String,
        _request: CompletionRequest,
    ) -> Result<String, ProviderError> {
        Ok("s1".into())
    }

    fn llm_stream_completion_next(_stream_id: String) -> Result<Option<CompletionEvent>, ProviderError> {
        Ok(Some(CompletionEvent::Text("tick".into())))
    }

    fn llm_stream_completion_poll(stream_id: String) -> Result<StreamPoll, ProviderError> {
        if stream_id == "s1" {
            Ok(StreamPoll::Event(CompletionEvent::Text("tick".into())))
        } else {
            Err(ProviderError::InvalidRequest(format!("unknown stream {stream_id}")))
        }
    }

    fn llm_stream_completion_close(_stream_id: String) -> Result<(), ProviderError> {
        Ok(())
    }

    fn llm_cache_configuration(_provider_id: String, _model_id: String) -> Option<CacheConfiguration> {
        None
    }

    fn llm_provider_details(_provider_id: String) -> Option<String> {
        None
    }
}

bindings::export!(Hostile with_types_in bindings);
