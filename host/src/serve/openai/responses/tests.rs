//! The Responses dialect's translation, both ways.

use serde_json::{json, Value};

use super::request::BadRequest;
use super::*;
use crate::contract::llm_provider::{
    CompletionEvent, JsonSchemaFormat, MessageContent, MessageRole, NotSignedInInfo,
    ProviderError, RequestMessage, ResponseFormat, StopReason, ThinkingContent, TokenUsage,
    ToolChoice, ToolResultContent, ToolUse, ToolUseJsonParseError, UpstreamInfo,
};

fn parse(body: Value) -> Result<ResponsesRequest, BadRequest> {
    parse_responses_request(body.to_string().as_bytes())
}

fn refused(body: Value) -> BadRequest {
    parse(body).expect_err("a 400")
}

#[test]
fn maps_a_codex_style_conversation() {
    let parsed = parse(json!({
        "model": "gpt-5",
        "instructions": "You are a coding agent.",
        "stream": true,
        "store": false,
        "parallel_tool_calls": false,
        "include": ["reasoning.encrypted_content"],
        "reasoning": {"effort": "high", "summary": "auto"},
        "max_output_tokens": 500,
        "temperature": 0.2,
        "tool_choice": "auto",
        "tools": [{"type": "function", "name": "shell", "description": "run", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}, "strict": false}],
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "cwd is /repo"}]},
            {"role": "user", "content": [
                {"type": "input_text", "text": "what is here?"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "list it"}], "encrypted_content": "{\"type\":\"reasoning\",\"encrypted_content\":\"E\"}"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking.", "annotations": []}]},
            {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "shell", "arguments": "{\"cmd\":\"ls\"}"},
            {"type": "function_call", "id": "fc_2", "call_id": "c2", "name": "shell", "arguments": "{\"cmd\":\"pwd\"}"},
            {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "/repo"}]},
            {"type": "message", "role": "user", "content": "thanks"},
        ],
    }))
    .unwrap();
    assert_eq!(parsed.model, "gpt-5");
    assert!(parsed.stream);
    let r = &parsed.request;
    assert_eq!((r.max_tokens, r.temperature), (Some(500), Some(0.2)));
    assert!(r.thinking_allowed);
    assert!(r.stop_sequences.is_empty());
    assert!(matches!(r.tool_choice, Some(ToolChoice::Auto)));
    assert_eq!(r.tools[0].name, "shell");
    let schema: Value = serde_json::from_str(&r.tools[0].input_schema).unwrap();
    assert_eq!(
        schema,
        json!({"type": "object", "properties": {"cmd": {"type": "string"}}})
    );
    let roles: Vec<&str> = r
        .messages
        .iter()
        .map(|m| match m.role {
            MessageRole::System => "system",
            MessageRole::User => "user",
            MessageRole::Assistant => "assistant",
        })
        .collect();
    assert_eq!(
        roles,
        ["system", "system", "user", "assistant", "user", "user"]
    );
    assert!(
        matches!(&r.messages[0].content[..], [MessageContent::Text(t)] if t == "You are a coding agent.")
    );
    assert!(matches!(r.messages[2].content[1], MessageContent::Image(_)));
    match &r.messages[3].content[..] {
        [MessageContent::Thinking(t), MessageContent::RedactedThinking(state), MessageContent::Text(text), MessageContent::ToolUse(a), MessageContent::ToolUse(b)] =>
        {
            assert_eq!(t.text, "list it");
            assert_eq!(state, r#"{"type":"reasoning","encrypted_content":"E"}"#);
            assert_eq!(text, "Looking.");
            assert_eq!((a.id.as_str(), a.input.as_str()), ("c1", r#"{"cmd":"ls"}"#));
            assert_eq!(b.id, "c2");
        }
        other => panic!("{other:?}"),
    }
    match &r.messages[4].content[..] {
        [MessageContent::ToolResult(a), MessageContent::ToolResult(b)] => {
            assert_eq!(
                (a.tool_use_id.as_str(), a.tool_name.as_str()),
                ("c1", "shell")
            );
            assert!(matches!(&a.content, ToolResultContent::Text(t) if t == "a.txt"));
            assert!(matches!(&b.content, ToolResultContent::Text(t) if t == "/repo"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(parsed.request.parallel_tool_calls, Some(false));
    assert_eq!(r.reasoning_effort.as_deref(), Some("high"));
    assert_eq!(parsed.echo["tool_choice"], "auto");
    assert_eq!(parsed.echo["instructions"], "You are a coding agent.");
}

#[test]
fn a_string_input_is_one_user_message_and_effort_none_turns_thinking_off() {
    let parsed =
        parse(json!({"model": "m", "input": "hi", "reasoning": {"effort": "none"}})).unwrap();
    assert!(!parsed.stream);
    assert!(!parsed.request.thinking_allowed);
    assert!(matches!(
        &parsed.request.messages[..],
        [RequestMessage {
            role: MessageRole::User,
            ..
        }]
    ));
    assert_eq!(parsed.echo["tools"], json!([]));
}

#[test]
fn a_named_or_allowed_tool_choice_offers_only_those_tools() {
    let tools = json!([{"type": "function", "name": "a"}, {"type": "function", "name": "b"}, {"type": "function", "name": "c"}]);
    let parsed = parse(json!({"model": "m", "input": "x", "tools": tools, "tool_choice": {"type": "function", "name": "b"}})).unwrap();
    assert_eq!(parsed.request.tools.len(), 1);
    assert!(matches!(parsed.request.tool_choice, Some(ToolChoice::Any)));
    let parsed = parse(json!({"model": "m", "input": "x", "tools": tools, "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "a"}, {"type": "function", "name": "c"}]}})).unwrap();
    let names: Vec<&str> = parsed
        .request
        .tools
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, ["a", "c"]);
    assert!(matches!(parsed.request.tool_choice, Some(ToolChoice::Auto)));
    let bad = refused(
        json!({"model": "m", "input": "x", "tools": tools, "tool_choice": {"type": "function", "name": "z"}}),
    );
    assert!(bad.message.contains("`z`"), "{bad:?}");
}

#[test]
fn function_call_outputs_are_text_or_one_image() {
    let call =
        json!({"type": "function_call", "call_id": "c", "name": "shot", "arguments": "{}"});
    let image = json!({"type": "input_image", "image_url": "data:image/png;base64,AAAA"});
    let with = |output: Value| {
        parse(
            json!({"model": "m", "input": [call.clone(), {"type": "function_call_output", "call_id": "c", "output": output}]}),
        )
    };
    let parsed = with(json!([image.clone()])).unwrap();
    match &parsed.request.messages[1].content[..] {
        [MessageContent::ToolResult(r)] => {
            assert_eq!(r.tool_name, "shot");
            assert!(matches!(r.content, ToolResultContent::Image(_)));
        }
        other => panic!("{other:?}"),
    }
    assert!(with(json!([image, {"type": "input_text", "text": "x"}]))
        .unwrap_err()
        .message
        .contains("single image"));
    assert_eq!(
        with(json!([{"type": "input_file", "file_id": "f"}]))
            .unwrap_err()
            .param
            .as_deref(),
        Some("input[1].output")
    );
}

#[test]
fn refuses_what_needs_state_or_the_contract_cannot_carry() {
    let base = |extra: Value| {
        let mut body = json!({"model": "m", "input": "x"});
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        body
    };
    for (extra, param) in [
        (
            json!({"previous_response_id": "resp_1"}),
            "previous_response_id",
        ),
        (json!({"conversation": "conv_1"}), "conversation"),
        (json!({"store": true}), "store"),
        (json!({"background": true}), "background"),
        (json!({"top_logprobs": 2}), "top_logprobs"),
        (json!({"truncation": "auto"}), "truncation"),
        (
            json!({"include": ["message.output_text.logprobs"]}),
            "include",
        ),
        (json!({"tools": [{"type": "web_search"}]}), "tools[0].type"),
        (
            json!({"tool_choice": {"type": "file_search"}}),
            "tool_choice",
        ),
        (
            json!({"input": [{"type": "item_reference", "id": "msg_1"}]}),
            "input[0]",
        ),
        (
            json!({"input": [{"type": "web_search_call", "id": "ws"}]}),
            "input[0].type",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}]}),
            "input[0].content[0].image_url",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]}),
            "input[0].content[0].file_id",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_file", "file_data": "x"}]}]}),
            "input[0].content[0].type",
        ),
        (json!({"input": []}), "input"),
        (json!({"model": ""}), "model"),
        (json!({"max_output_tokens": -1}), "max_output_tokens"),
    ] {
        let bad = refused(base(extra.clone()));
        assert_eq!(bad.param.as_deref(), Some(param), "{extra}: {bad:?}");
        assert_eq!(bad.body()["error"]["type"], "invalid_request_error");
        assert_eq!(bad.body()["error"]["param"], param);
    }
    // Explicitly stateless requests and the one meaningful `include` are fine.
    assert!(parse(base(json!({"store": false, "background": false, "previous_response_id": null, "include": ["reasoning.encrypted_content"]}))).is_ok());
    assert!(parse_responses_request(b"[1]")
        .unwrap_err()
        .message
        .contains("object"));
    assert!(parse_responses_request(b"{oops")
        .unwrap_err()
        .message
        .contains("JSON"));
}

#[test]
fn a_json_text_format_goes_into_the_request() {
    let format = json!({"type": "json_schema", "name": "x", "schema": {"type": "object"}, "strict": true});
    let parsed =
        parse(json!({"model": "m", "input": "x", "text": {"format": format}, "top_p": 0.5}))
            .unwrap();
    assert_eq!(
        parsed.request.response_format,
        Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "x".into(),
            schema: r#"{"type":"object"}"#.into(),
            strict: Some(true),
            description: None,
        }))
    );
    assert_eq!(parsed.request.top_p, Some(0.5));
    let plain =
        parse(json!({"model": "m", "input": "x", "text": {"format": {"type": "text"}}}))
            .unwrap();
    assert_eq!(plain.request.response_format, None);
    assert_eq!((plain.request.top_p, plain.request.reasoning_effort.as_deref()), (None, None));
    let bad = parse(json!({"model": "m", "input": "x", "text": {"format": {"type": "json_schema"}}}))
        .unwrap_err();
    assert!(bad.message.contains("text.format"), "{}", bad.message);
}

fn translator() -> ResponsesTranslator {
    let echo = parse(json!({"model": "gpt-5", "input": "x", "instructions": "be brief"}))
        .unwrap()
        .echo;
    ResponsesTranslator::new("resp_abc".into(), 7, "gpt-5".into(), echo)
}

fn run(t: &mut ResponsesTranslator, events: Vec<CompletionEvent>) -> Vec<Value> {
    let mut out = t.start();
    for event in &events {
        out.extend(t.event(event));
    }
    out.extend(t.finish());
    out
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn call(id: &str, input: &str) -> CompletionEvent {
    CompletionEvent::ToolUse(ToolUse {
        id: id.into(),
        name: "shell".into(),
        input: input.into(),
        is_input_complete: true,
        thought_signature: None,
    })
}

fn usage() -> CompletionEvent {
    CompletionEvent::Usage(TokenUsage {
        input_tokens: 10,
        output_tokens: 5,
        cache_creation_input_tokens: None,
        cache_read_input_tokens: Some(4),
    })
}

#[test]
fn translates_reasoning_text_and_parallel_calls() {
    let mut t = translator();
    let state = r#"{"type":"reasoning","id":"rs_up","encrypted_content":"ENC"}"#;
    let events = run(
        &mut t,
        vec![
            CompletionEvent::Started,
            CompletionEvent::Thinking(ThinkingContent {
                text: "Plan ".into(),
                signature: None,
            }),
            CompletionEvent::Thinking(ThinkingContent {
                text: "it.".into(),
                signature: None,
            }),
            CompletionEvent::ReasoningDetails(state.into()),
            CompletionEvent::Text("Run".into()),
            CompletionEvent::Text("ning.".into()),
            call("c1", r#"{"cmd":"ls"}"#),
            call("c2", r#"{"cmd":"pwd"}"#),
            usage(),
            CompletionEvent::Stop(StopReason::ToolUse),
        ],
    );
    assert_eq!(
        types(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (n, event) in events.iter().enumerate() {
        assert_eq!(event["sequence_number"], n as u64, "{event}");
    }
    assert_eq!(events[0]["response"]["status"], "in_progress");
    assert_eq!(events[0]["response"]["output"], json!([]));
    assert_eq!(events[0]["response"]["instructions"], "be brief");
    let reasoning = &events[8]["item"];
    assert_eq!(events[8]["output_index"], 0);
    assert_eq!(
        reasoning["summary"],
        json!([{"type": "summary_text", "text": "Plan it."}])
    );
    assert_eq!(
        reasoning["encrypted_content"], state,
        "the state goes back verbatim"
    );
    assert_eq!(events[11]["delta"], "Run");
    assert_eq!(events[11]["item_id"], events[9]["item"]["id"]);
    assert_eq!(
        (
            events[11]["output_index"].as_u64(),
            events[11]["content_index"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(events[13]["text"], "Running.");
    assert_eq!(
        events[16]["item"]["arguments"], "",
        "arguments follow as deltas"
    );
    assert_eq!(events[17]["delta"], r#"{"cmd":"ls"}"#);
    assert_eq!(events[18]["name"], "shell");
    assert_eq!(events[19]["item"]["call_id"], "c1");
    assert_eq!(events[23]["item"]["call_id"], "c2");
    assert_eq!(events[23]["output_index"], 3);
    assert_ne!(events[19]["item"]["id"], events[23]["item"]["id"]);
    let done = &events[24]["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["object"], "response");
    assert_eq!(done["id"], "resp_abc");
    assert_eq!(done["output"].as_array().unwrap().len(), 4);
    assert_eq!(done["output"][1]["content"][0]["text"], "Running.");
    assert_eq!(
        done["usage"],
        json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 5, "total_tokens": 15})
    );
    assert_eq!(
        t.response(),
        *done,
        "the whole answer is the completed response"
    );
}

#[test]
fn the_encrypted_content_round_trips_into_the_next_request() {
    let mut t = translator();
    run(
        &mut t,
        vec![
            CompletionEvent::RedactedThinking(r#"{"reasoning_opaque":"OPQ"}"#.into()),
            CompletionEvent::Text("hi".into()),
        ],
    );
    let output = t.response()["output"].clone();
    assert_eq!(output[0]["summary"], json!([]));
    let mut input = output.as_array().unwrap().clone();
    input.push(json!({"role": "user", "content": "again"}));
    let parsed = parse(json!({"model": "m", "input": input})).unwrap();
    match &parsed.request.messages[0].content[..] {
        [MessageContent::RedactedThinking(state), MessageContent::Text(text)] => {
            assert_eq!(state, r#"{"reasoning_opaque":"OPQ"}"#);
            assert_eq!(text, "hi");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_cut_answer_is_incomplete_and_a_bad_tool_input_is_passed_on() {
    let mut t = translator();
    let events = run(
        &mut t,
        vec![
            CompletionEvent::ToolUseJsonParseError(ToolUseJsonParseError {
                id: "c".into(),
                tool_name: "shell".into(),
                raw_input: "{oops".into(),
                error: "bad".into(),
            }),
            CompletionEvent::Text("partial".into()),
            CompletionEvent::Stop(StopReason::MaxTokens),
        ],
    );
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.incomplete");
    assert_eq!(last["response"]["status"], "incomplete");
    assert_eq!(
        last["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert_eq!(last["response"]["output"][0]["arguments"], "{oops");
    assert_eq!(last["response"]["output"][1]["status"], "incomplete");
    assert_eq!(
        last["response"]["usage"],
        Value::Null,
        "no usage was reported"
    );
}

#[test]
fn a_mid_stream_failure_is_response_failed() {
    let mut t = translator();
    let mut events = t.start();
    events.extend(t.event(&CompletionEvent::Text("so far".into())));
    let error = ProviderError::Upstream(UpstreamInfo {
        status: 500,
        message: "boom".into(),
        request_id: None,
    });
    let failed = t.failed(&failure_body(&error));
    assert_eq!(failed["type"], "response.failed");
    assert_eq!(failed["sequence_number"], events.len() as u64);
    assert_eq!(failed["response"]["status"], "failed");
    assert_eq!(failed["response"]["error"]["code"], "upstream");
    assert!(failed["response"]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("boom"));
    let early = failure_body(&ProviderError::NotSignedIn(NotSignedInInfo {
        searched: vec![],
    }));
    assert_eq!(early["error"]["code"], "not_signed_in");
}
