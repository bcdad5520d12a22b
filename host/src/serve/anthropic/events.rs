//! The contract's completion events as Anthropic stream events and as a whole message.

use serde_json::{json, Value};

use crate::contract::llm_provider::{CompletionEvent, StopReason, TokenUsage};

/// Anthropic's name for a stop reason.
pub fn stop_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ToolUse => "tool_use",
        StopReason::Refusal => "refusal",
    }
}

fn usage_json(usage: Option<&TokenUsage>) -> Value {
    let usage = usage.copied().unwrap_or(TokenUsage {
        input_tokens: 0,
        output_tokens: 0,
        cache_creation_input_tokens: None,
        cache_read_input_tokens: None,
    });
    let cached = usage.cache_read_input_tokens.unwrap_or(0);
    json!({
        "input_tokens": usage.input_tokens.saturating_sub(cached),
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens.unwrap_or(0),
        "cache_read_input_tokens": cached,
    })
}

/// One server-sent event: its name and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub event: &'static str,
    pub data: Value,
}

fn sse(event: &'static str, data: Value) -> Sse {
    Sse { event, data }
}

/// The kind of the content block that is open in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
}

/// Turns one completion's events into Anthropic stream events, and keeps the content blocks
/// for the non-streaming message.
pub struct Translator {
    id: String,
    model: String,
    blocks: Vec<Value>,
    open: Option<Open>,
    stop: Option<StopReason>,
    usage: Option<TokenUsage>,
}

impl Translator {
    /// A translator for one message.
    pub fn new(id: String, model: String) -> Translator {
        Translator {
            id,
            model,
            blocks: Vec::new(),
            open: None,
            stop: None,
            usage: None,
        }
    }

    /// `message_start` and a `ping`, sent before any block.
    pub fn start(&self) -> Vec<Sse> {
        let mut message = self.message_shell();
        message["content"] = json!([]);
        message["usage"] = usage_json(None);
        vec![
            sse(
                "message_start",
                json!({"type": "message_start", "message": message}),
            ),
            sse("ping", json!({"type": "ping"})),
        ]
    }

    fn message_shell(&self) -> Value {
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
        })
    }

    fn index(&self) -> usize {
        self.blocks.len().saturating_sub(1)
    }

    fn close(&mut self, out: &mut Vec<Sse>) {
        if self.open.take().is_some() {
            out.push(self.stop_event());
        }
    }

    fn stop_event(&self) -> Sse {
        sse(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": self.index()}),
        )
    }

    /// Opens a block (closing any open one) and returns its start event.
    fn begin(&mut self, block: Value, open: Option<Open>, out: &mut Vec<Sse>) {
        self.close(out);
        self.blocks.push(block.clone());
        self.open = open;
        out.push(sse(
            "content_block_start",
            json!({"type": "content_block_start", "index": self.index(), "content_block": block}),
        ));
    }

    fn delta(&self, delta: Value) -> Sse {
        sse(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": self.index(), "delta": delta}),
        )
    }

    /// Signs the open thinking block with `signature` and closes it.
    fn sign(&mut self, signature: &str, out: &mut Vec<Sse>) {
        if let Some(block) = self.blocks.last_mut() {
            block["signature"] = json!(signature);
        }
        out.push(self.delta(json!({"type": "signature_delta", "signature": signature})));
        self.close(out);
    }

    /// The stream events for one completion event. `Err` is a sentence for an `error` event:
    /// the model produced tool input that is not JSON, which a `tool_use` block cannot carry.
    pub fn event(&mut self, event: &CompletionEvent) -> Result<Vec<Sse>, String> {
        let mut out = Vec::new();
        match event {
            CompletionEvent::Started => {}
            CompletionEvent::Text(text) => {
                if self.open != Some(Open::Text) {
                    self.begin(
                        json!({"type": "text", "text": ""}),
                        Some(Open::Text),
                        &mut out,
                    );
                }
                if let Some(block) = self.blocks.last_mut() {
                    let joined = format!("{}{text}", block["text"].as_str().unwrap_or_default());
                    block["text"] = json!(joined);
                }
                out.push(self.delta(json!({"type": "text_delta", "text": text})));
            }
            CompletionEvent::Thinking(thinking) => {
                if self.open != Some(Open::Thinking) {
                    self.begin(
                        json!({"type": "thinking", "thinking": "", "signature": ""}),
                        Some(Open::Thinking),
                        &mut out,
                    );
                }
                if !thinking.text.is_empty() {
                    if let Some(block) = self.blocks.last_mut() {
                        let joined = format!(
                            "{}{}",
                            block["thinking"].as_str().unwrap_or_default(),
                            thinking.text
                        );
                        block["thinking"] = json!(joined);
                    }
                    out.push(
                        self.delta(json!({"type": "thinking_delta", "thinking": thinking.text})),
                    );
                }
                if let Some(signature) = thinking.signature.as_deref().filter(|s| !s.is_empty()) {
                    self.sign(signature, &mut out);
                }
            }
            CompletionEvent::ReasoningDetails(details) => {
                if self.open == Some(Open::Thinking) {
                    self.sign(details, &mut out);
                } else {
                    self.redacted(details, &mut out);
                }
            }
            CompletionEvent::RedactedThinking(data) => self.redacted(data, &mut out),
            CompletionEvent::ToolUse(tool) => {
                let input = if tool.input.trim().is_empty() {
                    "{}"
                } else {
                    tool.input.as_str()
                };
                let parsed: Value = serde_json::from_str(input).map_err(|e| {
                    format!(
                        "the model's input for tool `{}` is not JSON: {e}",
                        tool.name
                    )
                })?;
                self.begin(
                    json!({"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}}),
                    None,
                    &mut out,
                );
                if let Some(block) = self.blocks.last_mut() {
                    block["input"] = parsed;
                }
                out.push(self.delta(json!({"type": "input_json_delta", "partial_json": input})));
                out.push(self.stop_event());
            }
            CompletionEvent::ToolUseJsonParseError(error) => {
                return Err(format!(
                    "the model's input for tool `{}` is not JSON ({}), so it cannot be sent as a `tool_use` block",
                    error.tool_name, error.error
                ));
            }
            CompletionEvent::Stop(reason) => {
                self.stop = Some(*reason);
                self.close(&mut out);
            }
            CompletionEvent::Usage(usage) => self.usage = Some(*usage),
        }
        Ok(out)
    }

    fn redacted(&mut self, data: &str, out: &mut Vec<Sse>) {
        self.begin(
            json!({"type": "redacted_thinking", "data": data}),
            None,
            out,
        );
        out.push(self.stop_event());
    }

    fn final_stop(&self) -> &'static str {
        match self.stop {
            Some(reason) => stop_reason(reason),
            None if self.blocks.iter().any(|b| b["type"] == "tool_use") => "tool_use",
            None => "end_turn",
        }
    }

    /// The events after the last completion event: close, `message_delta`, `message_stop`.
    pub fn end(&mut self) -> Vec<Sse> {
        let mut out = Vec::new();
        self.close(&mut out);
        out.push(sse(
            "message_delta",
            json!({
                "type": "message_delta",
                "delta": {"stop_reason": self.final_stop(), "stop_sequence": null},
                "usage": usage_json(self.usage.as_ref()),
            }),
        ));
        out.push(sse("message_stop", json!({"type": "message_stop"})));
        out
    }

    /// The whole answer as a non-streaming message.
    pub fn message(&self) -> Value {
        let mut message = self.message_shell();
        message["content"] = Value::Array(self.blocks.clone());
        message["stop_reason"] = json!(self.final_stop());
        message["usage"] = usage_json(self.usage.as_ref());
        message
    }
}

