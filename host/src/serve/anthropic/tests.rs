//! The Messages dialect's translation, both ways.

use serde_json::{json, Value};

use super::events::{stop_reason, Sse, Translator};
use super::model::resolve_model;
use super::request::{parse_messages_request, MessagesRequest};
use super::*;
use crate::contract::llm_provider::{
    CompletionEvent, ContextTooLongInfo, MessageContent, MessageRole, ModelCapabilities,
    ModelInfo, ProviderError, RateLimitInfo, StopReason, ThinkingContent, TokenUsage, ToolChoice,
    ToolInputFormat, ToolResultContent, ToolUse, ToolUseJsonParseError, UpstreamInfo,
};

fn parse(body: Value) -> Result<MessagesRequest, String> {
    parse_messages_request(body.to_string().as_bytes(), false)
}

fn model(id: &str) -> ModelInfo {
    ModelInfo {
        id: id.into(),
        name: id.into(),
        max_token_count: 128_000,
        max_output_tokens: Some(16_000),
        capabilities: ModelCapabilities {
            supports_images: true,
            supports_tools: true,
            supports_tool_choice_auto: true,
            supports_tool_choice_any: true,
            supports_tool_choice_none: true,
            supports_thinking: true,
            tool_input_format: ToolInputFormat::JsonSchema,
        },
        is_default: false,
        is_default_fast: false,
    }
}

#[test]
fn maps_a_claude_code_style_request() {
    let m = parse(json!({
        "model": "claude-sonnet-4-20250514",
        "max_tokens": 32000,
        "stream": true,
        "temperature": 1,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u"},
        "system": [
            {"type": "text", "text": "You are Claude Code."},
            {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
        ],
        "thinking": {"type": "enabled", "budget_tokens": 10000},
        "tools": [{"name": "Read", "description": "Read a file", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}, "cache_control": {"type": "ephemeral"}}],
        "tool_choice": {"type": "auto"},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Need to read.", "signature": "{\"reasoning_opaque\":\"enc\"}"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "a"}},
                {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"path": "b"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "one"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true, "content": [{"type": "text", "text": "no such file"}], "cache_control": {"type": "ephemeral"}},
            ]},
        ],
    }))
    .unwrap();
    assert_eq!(m.model, "claude-sonnet-4-20250514");
    assert!(m.stream);
    let r = m.request;
    assert_eq!(r.max_tokens, Some(32000));
    assert_eq!(r.temperature, Some(1.0));
    assert_eq!(r.stop_sequences, vec!["END".to_string()]);
    assert!(r.thinking_allowed);
    assert!(matches!(r.tool_choice, Some(ToolChoice::Auto)));
    assert_eq!(r.tools[0].name, "Read");
    assert!(r.tools[0].input_schema.contains("\"path\""));
    assert_eq!(r.messages.len(), 4);
    assert!(matches!(r.messages[0].role, MessageRole::System));
    assert_eq!(r.messages[0].content.len(), 2);
    assert!(
        r.messages[0].cache,
        "a system block's cache_control marks the message"
    );
    match &r.messages[1].content[1] {
        MessageContent::Image(image) => assert_eq!(image.source, "data:image/png;base64,AAAA"),
        other => panic!("{other:?}"),
    }
    match &r.messages[2].content[..] {
        [MessageContent::Thinking(t), MessageContent::RedactedThinking(d), MessageContent::Text(text), MessageContent::ToolUse(a), MessageContent::ToolUse(b)] =>
        {
            assert_eq!(t.text, "Need to read.");
            assert_eq!(
                t.signature.as_deref(),
                Some("{\"reasoning_opaque\":\"enc\"}")
            );
            assert_eq!(d, "opaque");
            assert_eq!(text, "Reading.");
            assert_eq!(
                (a.id.as_str(), a.input.as_str()),
                ("toolu_1", r#"{"path":"a"}"#)
            );
            assert_eq!(b.id, "toolu_2");
        }
        other => panic!("{other:?}"),
    }
    assert!(r.messages[3].cache);
    match &r.messages[3].content[..] {
        [MessageContent::ToolResult(a), MessageContent::ToolResult(b)] => {
            assert_eq!(
                (a.tool_use_id.as_str(), a.tool_name.as_str()),
                ("toolu_1", "Read")
            );
            assert!(!a.is_error);
            assert!(b.is_error);
            assert!(matches!(&b.content, ToolResultContent::Text(t) if t == "no such file"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tool_result_images_are_carried() {
    let call = json!({"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "shot", "input": {}}]});
    let image = json!({"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "BBBB"}});
    let with = |content: Value| {
        parse(json!({"model": "m", "max_tokens": 5, "messages": [call.clone(),
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": content}]}]}))
        .unwrap()
        .request
    };
    let r = with(json!([image.clone()]));
    match &r.messages[1].content[..] {
        [MessageContent::ToolResult(result)] => {
            assert!(
                matches!(&result.content, ToolResultContent::Image(i) if i.source == "data:image/jpeg;base64,BBBB")
            )
        }
        other => panic!("{other:?}"),
    }
    let r = with(json!([{"type": "text", "text": "here"}, image]));
    match &r.messages[1].content[..] {
        [MessageContent::ToolResult(result), MessageContent::Image(i)] => {
            assert!(matches!(&result.content, ToolResultContent::Text(t) if t == "here"));
            assert!(i.source.ends_with("BBBB"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tool_choice_forms() {
    let base = |choice: Value| {
        parse(
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "a", "input_schema": {"type": "object"}}, {"name": "b", "input_schema": {"type": "object"}}],
            "tool_choice": choice}),
        )
    };
    assert!(matches!(
        base(json!({"type": "any"})).unwrap().request.tool_choice,
        Some(ToolChoice::Any)
    ));
    assert!(matches!(
        base(json!({"type": "none"})).unwrap().request.tool_choice,
        Some(ToolChoice::None)
    ));
    let named = base(json!({"type": "tool", "name": "b"})).unwrap().request;
    assert_eq!(named.tools.len(), 1);
    assert_eq!(named.tools[0].name, "b");
    assert!(matches!(named.tool_choice, Some(ToolChoice::Any)));
    assert!(base(json!({"type": "tool", "name": "c"}))
        .unwrap_err()
        .contains("`c`"));
    let serial = base(json!({"type": "auto", "disable_parallel_tool_use": true})).unwrap().request;
    assert_eq!(serial.parallel_tool_calls, Some(false));
    assert!(matches!(serial.tool_choice, Some(ToolChoice::Auto)));
    assert_eq!(base(json!({"type": "auto"})).unwrap().request.parallel_tool_calls, None);
    assert!(base(json!({"type": "auto", "disable_parallel_tool_use": "yes"}))
        .unwrap_err()
        .contains("disable_parallel_tool_use"));
}

#[test]
fn refuses_what_the_contract_cannot_carry_naming_the_field() {
    let user = json!([{"role": "user", "content": "x"}]);
    let err = |body: Value| parse(body).unwrap_err();
    let sampled = parse(json!({"model": "m", "max_tokens": 5, "messages": user, "top_p": 0.9})).unwrap();
    assert_eq!(sampled.request.top_p, Some(0.9));
    assert!(
        err(json!({"model": "m", "max_tokens": 5, "messages": user, "top_p": 2}))
            .contains("`top_p`")
    );
    assert!(
        err(json!({"model": "m", "max_tokens": 5, "messages": user, "seed": 1}))
            .contains("`seed`")
    );
    assert!(
        err(json!({"model": "m", "max_tokens": 5, "messages": user, "top_k": 5}))
            .contains("`top_k`")
    );
    assert!(err(json!({"model": "m", "messages": user})).contains("max_tokens"));
    assert!(err(json!({"max_tokens": 5, "messages": user})).contains("model"));
    assert!(
        err(json!({"model": "m", "max_tokens": 5, "messages": user, "temperature": 2}))
            .contains("temperature")
    );
    let url_image = json!([{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}]);
    assert!(err(json!({"model": "m", "max_tokens": 5, "messages": url_image})).contains("url"));
    let document = json!([{"role": "user", "content": [{"type": "document", "source": {}}]}]);
    assert!(
        err(json!({"model": "m", "max_tokens": 5, "messages": document})).contains("document")
    );
    let server_tool = json!([{"type": "web_search_20250305", "name": "web_search"}]);
    assert!(err(
        json!({"model": "m", "max_tokens": 5, "messages": user, "tools": server_tool})
    )
    .contains("web_search_20250305"));
    assert!(err(
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]})
    )
    .contains("system"));
    assert!(parse_messages_request(b"{oops", false)
        .unwrap_err()
        .contains("JSON"));
    // count_tokens takes neither max_tokens nor stream.
    let count = parse_messages_request(
        json!({"model": "m", "messages": user})
            .to_string()
            .as_bytes(),
        true,
    )
    .unwrap();
    assert_eq!(count.request.max_tokens, None);
    assert!(parse_messages_request(
        json!({"model": "m", "messages": user, "stream": true})
            .to_string()
            .as_bytes(),
        true
    )
    .unwrap_err()
    .contains("`stream`"));
}

#[test]
fn model_ids_resolve_by_the_documented_rule() {
    let models: Vec<ModelInfo> = [
        "gpt-4.1",
        "claude-3.5-sonnet",
        "claude-3.7-sonnet",
        "claude-3.7-sonnet-thought",
        "claude-sonnet-4",
        "claude-sonnet-4.5",
        "claude-opus-4",
        "claude-opus-41",
        "claude-haiku-4.5",
    ]
    .iter()
    .map(|id| model(id))
    .collect();
    let resolve = |id: &str| resolve_model(id, &models, None);
    assert_eq!(resolve("gpt-4.1").unwrap(), "gpt-4.1");
    assert_eq!(resolve("claude-sonnet-4").unwrap(), "claude-sonnet-4");
    assert_eq!(
        resolve("claude-sonnet-4-20250514").unwrap(),
        "claude-sonnet-4"
    );
    assert_eq!(
        resolve("claude-sonnet-4-5-20250929").unwrap(),
        "claude-sonnet-4.5"
    );
    assert_eq!(
        resolve("claude-3-5-sonnet-latest").unwrap(),
        "claude-3.5-sonnet"
    );
    assert_eq!(
        resolve("claude-3-7-sonnet-20250219").unwrap(),
        "claude-3.7-sonnet"
    );
    assert_eq!(
        resolve("claude-opus-4-1-20250805").unwrap(),
        "claude-opus-41"
    );
    assert_eq!(
        resolve("claude-haiku-4-5-20251001").unwrap(),
        "claude-haiku-4.5"
    );
    // No exact Claude match: the family's newest plain model.
    assert_eq!(
        resolve("claude-3-5-haiku-latest").unwrap(),
        "claude-haiku-4.5"
    );
    assert_eq!(resolve("claude-sonnet-5").unwrap(), "claude-sonnet-4.5");
    assert_eq!(resolve("claude-opus-4-5").unwrap(), "claude-opus-41");
    // Never a non-Claude model by the rule.
    let no_haiku: Vec<ModelInfo> = ["gpt-4.1", "claude-sonnet-4"]
        .iter()
        .map(|id| model(id))
        .collect();
    let err = resolve_model("claude-3-5-haiku-latest", &no_haiku, None).unwrap_err();
    assert!(
        err.contains("gpt-4.1, claude-sonnet-4") && err.contains("model_map"),
        "{err}"
    );
    assert!(resolve("gpt-4").is_err());
    // The user's map wins, and may name anything.
    let map = json!({"claude-3-5-haiku-latest": "gpt-4.1", "claude-sonnet-4": "claude-opus-4"});
    assert_eq!(
        resolve_model("claude-3-5-haiku-latest", &no_haiku, Some(&map)).unwrap(),
        "gpt-4.1"
    );
    assert_eq!(
        resolve_model("claude-sonnet-4", &models, Some(&map)).unwrap(),
        "claude-opus-4"
    );
}

fn tool_use(id: &str, input: &str) -> CompletionEvent {
    CompletionEvent::ToolUse(ToolUse {
        id: id.into(),
        name: "Read".into(),
        input: input.into(),
        is_input_complete: true,
        thought_signature: None,
    })
}

fn names(events: &[Sse]) -> Vec<&'static str> {
    events.iter().map(|e| e.event).collect()
}

#[test]
fn translates_thinking_text_and_parallel_tool_calls() {
    let mut t = Translator::new("msg_1".into(), "claude-sonnet-4".into());
    let start = t.start();
    assert_eq!(names(&start), ["message_start", "ping"]);
    assert_eq!(start[0].data["message"]["content"], json!([]));
    assert_eq!(start[0].data["message"]["usage"]["input_tokens"], 0);
    let mut all = Vec::new();
    let events = [
        CompletionEvent::Started,
        CompletionEvent::Thinking(ThinkingContent {
            text: "Let me ".into(),
            signature: None,
        }),
        CompletionEvent::Thinking(ThinkingContent {
            text: "think.".into(),
            signature: None,
        }),
        CompletionEvent::ReasoningDetails(r#"{"reasoning_opaque":"enc-1"}"#.into()),
        CompletionEvent::Text("Reading ".into()),
        CompletionEvent::Text("both.".into()),
        tool_use("call_a", r#"{"path":"a"}"#),
        tool_use("call_b", r#"{"path":"b"}"#),
        CompletionEvent::Stop(StopReason::ToolUse),
        CompletionEvent::Usage(TokenUsage {
            input_tokens: 50,
            output_tokens: 7,
            cache_creation_input_tokens: None,
            cache_read_input_tokens: Some(20),
        }),
    ];
    for event in &events {
        all.extend(t.event(event).unwrap());
    }
    all.extend(t.end());
    assert_eq!(
        names(&all),
        [
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert_eq!(
        all[0].data["content_block"],
        json!({"type": "thinking", "thinking": "", "signature": ""})
    );
    assert_eq!(
        all[1].data["delta"],
        json!({"type": "thinking_delta", "thinking": "Let me "})
    );
    assert_eq!(
        all[3].data["delta"],
        json!({"type": "signature_delta", "signature": r#"{"reasoning_opaque":"enc-1"}"#})
    );
    assert_eq!(all[5].data["index"], 1);
    assert_eq!(
        all[6].data["delta"],
        json!({"type": "text_delta", "text": "Reading "})
    );
    assert_eq!(
        all[9].data["content_block"],
        json!({"type": "tool_use", "id": "call_a", "name": "Read", "input": {}})
    );
    assert_eq!(
        all[10].data["delta"],
        json!({"type": "input_json_delta", "partial_json": r#"{"path":"a"}"#})
    );
    assert_eq!(all[12].data["index"], 3);
    assert_eq!(all[15].data["delta"]["stop_reason"], "tool_use");
    assert_eq!(
        all[15].data["usage"],
        json!({"input_tokens": 30, "output_tokens": 7, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 20})
    );

    let whole = t.message();
    assert_eq!(whole["type"], "message");
    assert_eq!(whole["stop_reason"], "tool_use");
    assert_eq!(
        whole["content"],
        json!([
            {"type": "thinking", "thinking": "Let me think.", "signature": r#"{"reasoning_opaque":"enc-1"}"#},
            {"type": "text", "text": "Reading both."},
            {"type": "tool_use", "id": "call_a", "name": "Read", "input": {"path": "a"}},
            {"type": "tool_use", "id": "call_b", "name": "Read", "input": {"path": "b"}},
        ])
    );
}

#[test]
fn opaque_reasoning_alone_is_a_redacted_block_and_stops_map() {
    let mut t = Translator::new("m".into(), "x".into());
    let sent = t
        .event(&CompletionEvent::ReasoningDetails("opaque".into()))
        .unwrap();
    assert_eq!(names(&sent), ["content_block_start", "content_block_stop"]);
    assert_eq!(
        sent[0].data["content_block"],
        json!({"type": "redacted_thinking", "data": "opaque"})
    );
    t.event(&CompletionEvent::Text("hi".into())).unwrap();
    t.event(&CompletionEvent::Stop(StopReason::MaxTokens))
        .unwrap();
    let end = t.end();
    assert_eq!(end[0].data["delta"]["stop_reason"], "max_tokens");
    assert_eq!(
        t.message()["content"][1],
        json!({"type": "text", "text": "hi"})
    );
    // Without a stop event the reason is implied.
    let mut t = Translator::new("m".into(), "x".into());
    t.event(&tool_use("c", "")).unwrap();
    assert_eq!(t.message()["stop_reason"], "tool_use");
    assert_eq!(t.message()["content"][0]["input"], json!({}));
    assert_eq!(stop_reason(StopReason::Refusal), "refusal");
    assert_eq!(stop_reason(StopReason::EndTurn), "end_turn");
}

#[test]
fn bad_tool_json_is_an_error_not_a_block() {
    let mut t = Translator::new("m".into(), "x".into());
    let err = t
        .event(&CompletionEvent::ToolUseJsonParseError(
            ToolUseJsonParseError {
                id: "c".into(),
                tool_name: "Read".into(),
                raw_input: "{oops".into(),
                error: "expected value".into(),
            },
        ))
        .unwrap_err();
    assert!(err.contains("Read"));
}

#[test]
fn provider_errors_take_anthropic_types_and_statuses() {
    let (status, body, retry) = provider_error(&ProviderError::RateLimited(RateLimitInfo {
        message: "slow".into(),
        code: None,
        retry_after_secs: Some(9),
    }));
    assert_eq!((status, retry), (429, Some(9)));
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    let (status, body, _) =
        provider_error(&ProviderError::ContextTooLong(ContextTooLongInfo {
            message: "too long".into(),
            limit: Some(100),
            actual: Some(150),
        }));
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("prompt is too long: 150 tokens > 100 maximum"));
    let upstream = |status| {
        ProviderError::Upstream(UpstreamInfo {
            status,
            message: "x".into(),
            request_id: None,
        })
    };
    assert_eq!(provider_error(&upstream(502)).0, 503);
    assert_eq!(
        provider_error(&upstream(502)).1["error"]["type"],
        "overloaded_error"
    );
    assert_eq!(provider_error(&upstream(0)).0, 500);
    assert_eq!(
        provider_error(&ProviderError::Network("down".into())).0,
        503
    );
    assert_eq!(
        provider_error(&ProviderError::ModelNotSupported(UpstreamInfo {
            status: 400,
            message: "x".into(),
            request_id: None
        }))
        .1["error"]["type"],
        "not_found_error"
    );
}
