//! What the chat decoder emits comes back in the next request: reasoning (text and opaque)
//! and Gemini's thought signatures survive the round trip through the editor.

use serde_json::json;

use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionEvent, MessageContent, MessageRole, StopReason, ThinkingContent,
};
use crate::completion::chat::decode::tests::decode_all;
use crate::completion::chat::request::chat_body;
use crate::completion::fixtures::*;

#[test]
fn reasoning_text_and_opaque() {
    let events = decode_all(&[
        r#"{"choices":[{"index":0,"delta":{"reasoning_text":"Think","role":"assistant"}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"reasoning_text":"ing."}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"reasoning_opaque":"ENC+/=="}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"Answer"},"finish_reason":"stop"}]}"#,
        "[DONE]",
    ])
    .unwrap();
    let thinking = |t: &str| CompletionEvent::Thinking(ThinkingContent { text: t.into(), signature: None });
    assert_eq!(
        show(&events),
        show(&[
            started(),
            thinking("Think"),
            thinking("ing."),
            CompletionEvent::ReasoningDetails(r#"{"reasoning_opaque":"ENC+/=="}"#.into()),
            text_ev("Answer"),
            stop(StopReason::EndTurn),
        ])
    );
    // What the decoder emits round-trips into the next request.
    let req = request(vec![message(
        MessageRole::Assistant,
        vec![MessageContent::RedactedThinking(r#"{"reasoning_opaque":"ENC+/=="}"#.into()), text("Answer")],
    )]);
    assert_eq!(chat_body("m", &req, None).unwrap()["messages"][0]["reasoning_opaque"], json!("ENC+/=="));
}

#[test]
fn gemini_thought_signatures_round_trip() {
    let events = decode_all(&[
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"g1","function":{"name":"read","arguments":"{}","thought_signature":"SIG=="}}]}}]}"#,
        r#"{"choices":[{"index":0,"finish_reason":"tool_calls"}]}"#,
    ])
    .unwrap();
    let Some(CompletionEvent::ToolUse(used)) = events.get(1) else { panic!("{:?}", show(&events)) };
    assert_eq!(used.thought_signature.as_deref(), Some("SIG=="));
    let req = request(vec![message(MessageRole::Assistant, vec![MessageContent::ToolUse(used.clone())])]);
    let body = chat_body("gemini-2.5-pro", &req, None).unwrap();
    assert_eq!(body["messages"][0]["tool_calls"][0]["function"]["thought_signature"], json!("SIG=="));
}
