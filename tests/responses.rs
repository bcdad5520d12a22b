//! A responses-only model (the simulator's `gpt-5` lists only `/responses`) is offered and
//! answers through `POST /responses`: text with reasoning, parallel tool calls, and the
//! round trip of calls, results and encrypted reasoning into the next request.

use copilot_chat_tests::*;
use copilot_host::{
    CompletionEvent, MessageContent, MessageRole, RequestMessage, StopReason, ToolResult,
    ToolResultContent, ToolUse,
};
use serde_json::{json, Value};

const RESPONSES_MODEL: &str = "gpt-5";

fn last_responses_body(h: &Harness) -> Value {
    h.sim
        .requests_to("/responses")
        .pop()
        .expect("a /responses request")
        .json()
        .expect("JSON body")
}

#[test]
fn the_responses_only_model_is_offered() {
    let h = Harness::new();
    let models = h.models().expect("models");
    let gpt5 = models
        .iter()
        .find(|m| m.id == RESPONSES_MODEL)
        .expect("gpt-5 offered");
    assert!(gpt5.capabilities.supports_thinking && gpt5.capabilities.supports_tools);
    assert_eq!(gpt5.max_output_tokens, Some(128_000));
}

#[test]
fn text_and_reasoning_stream_through_responses() {
    let h = Harness::new();
    let mut req = request(vec![system("be brief"), user("hello there")]);
    req.thinking_allowed = true;
    let events = h.chat(RESPONSES_MODEL, req).expect("chat");
    assert!(
        matches!(events.first(), Some(CompletionEvent::Started)),
        "{events:?}"
    );
    assert!(
        matches!(
            events.last(),
            Some(CompletionEvent::Stop(StopReason::EndTurn))
        ),
        "{events:?}"
    );
    assert!(text_of(&events).contains("simulator"), "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, CompletionEvent::Thinking(t) if !t.text.is_empty())),
        "{events:?}"
    );
    let details = events.iter().find_map(|e| match e {
        CompletionEvent::ReasoningDetails(d) => {
            Some(serde_json::from_str::<Value>(d).expect("details are JSON"))
        }
        _ => None,
    });
    let details = details.expect("encrypted reasoning is surfaced");
    assert_eq!(details["type"], json!("reasoning"));
    assert!(details["encrypted_content"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert!(events.iter().any(
        |e| matches!(e, CompletionEvent::Usage(u) if u.input_tokens > 0 && u.output_tokens > 0)
    ));

    assert_eq!(
        h.count("/chat/completions"),
        0,
        "never sent to the endpoint it does not speak"
    );
    let body = last_responses_body(&h);
    assert_eq!(body["model"], json!(RESPONSES_MODEL));
    assert_eq!(body["instructions"], json!("be brief"));
    assert_eq!(
        body["input"],
        json!([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello there"}]}])
    );
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["store"], json!(false));
    assert_eq!(body["max_output_tokens"], json!(128_000));
    assert_eq!(
        body["reasoning"],
        json!({"effort": "medium", "summary": "auto"})
    );
    assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
    assert!(body.get("messages").is_none());
    let sent = h.sim.requests_to("/responses").pop().expect("request");
    assert_eq!(sent.header("x-initiator"), Some("user"));
}

#[test]
fn tool_calls_arrive_whole_and_round_trip() {
    let h = Harness::new();
    let mut req = request(vec![user("read the files")]);
    req.tools = vec![tool("read_file")];
    req.thinking_allowed = true;
    let events = h.chat(RESPONSES_MODEL, req.clone()).expect("chat");
    let calls: Vec<ToolUse> = events
        .iter()
        .filter_map(|e| match e {
            CompletionEvent::ToolUse(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 2, "{events:?}");
    for call in &calls {
        assert_eq!(call.name, "read_file");
        assert!(call.is_input_complete);
        let input: Value = serde_json::from_str(&call.input).expect("complete JSON input");
        assert!(input["path"].is_string(), "{input}");
    }
    assert_ne!(calls[0].id, calls[1].id);
    assert!(
        matches!(
            events.last(),
            Some(CompletionEvent::Stop(StopReason::ToolUse))
        ),
        "{events:?}"
    );
    let body = last_responses_body(&h);
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "name": "read_file", "description": "the read_file tool",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
                "strict": false}])
    );

    // The next turn carries the reasoning, the calls and their results back.
    let details = events
        .iter()
        .find_map(|e| match e {
            CompletionEvent::ReasoningDetails(d) => Some(d.clone()),
            _ => None,
        })
        .expect("reasoning details");
    let mut assistant = vec![MessageContent::RedactedThinking(details.clone())];
    assistant.extend(calls.iter().cloned().map(MessageContent::ToolUse));
    let results = calls
        .iter()
        .map(|c| {
            MessageContent::ToolResult(ToolResult {
                tool_use_id: c.id.clone(),
                tool_name: c.name.clone(),
                is_error: false,
                content: ToolResultContent::Text(format!("contents for {}", c.id)),
            })
        })
        .collect();
    req.messages.push(RequestMessage {
        role: MessageRole::Assistant,
        content: assistant,
        cache: false,
    });
    req.messages.push(RequestMessage {
        role: MessageRole::User,
        content: results,
        cache: false,
    });
    let events = h.chat(RESPONSES_MODEL, req).expect("second turn");
    assert!(!text_of(&events).is_empty(), "{events:?}");
    assert!(
        matches!(
            events.last(),
            Some(CompletionEvent::Stop(StopReason::EndTurn))
        ),
        "{events:?}"
    );

    let body = last_responses_body(&h);
    let input = body["input"].as_array().expect("input items");
    let kinds: Vec<&str> = input
        .iter()
        .map(|i| i["type"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        kinds,
        [
            "message",
            "reasoning",
            "function_call",
            "function_call",
            "function_call_output",
            "function_call_output"
        ]
    );
    let stored: Value = serde_json::from_str(&details).expect("details JSON");
    assert_eq!(input[1]["encrypted_content"], stored["encrypted_content"]);
    assert_eq!(input[2]["call_id"], json!(calls[0].id));
    assert_eq!(
        input[4],
        json!({"type": "function_call_output", "call_id": calls[0].id, "output": format!("contents for {}", calls[0].id)})
    );
    let sent = h.sim.requests_to("/responses").pop().expect("request");
    assert_eq!(
        sent.header("x-initiator"),
        Some("agent"),
        "a tool-result follow-up is not a user turn"
    );
}
