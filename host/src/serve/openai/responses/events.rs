//! The contract's completion events as Responses stream events and as the whole response object.

use serde_json::{json, Map, Value};

use crate::contract::llm_provider::{CompletionEvent, StopReason, TokenUsage};

/// The output item being streamed.
enum Open {
    Message {
        id: String,
        text: String,
    },
    Reasoning {
        id: String,
        summary: String,
        encrypted: Option<String>,
    },
}

/// Turns one completion's events into Responses stream events (each with its
/// `sequence_number`), and keeps the whole response object for a non-streaming answer.
pub struct ResponsesTranslator {
    id: String,
    created_at: u64,
    model: String,
    echo: Map<String, Value>,
    sequence: u64,
    /// Finished output items, in order; the open one is at index `output.len()`.
    output: Vec<Value>,
    open: Option<Open>,
    items: u64,
    stop: Option<StopReason>,
    usage: Option<TokenUsage>,
}

impl ResponsesTranslator {
    /// A translator for the response `id` to a request of `model` repeating `echo`.
    pub fn new(id: String, created_at: u64, model: String, echo: Map<String, Value>) -> Self {
        ResponsesTranslator {
            id,
            created_at,
            model,
            echo,
            sequence: 0,
            output: Vec::new(),
            open: None,
            items: 0,
            stop: None,
            usage: None,
        }
    }

    fn emit(&mut self, kind: &str, fields: Value) -> Value {
        let mut event = json!({"type": kind, "sequence_number": self.sequence});
        if let (Some(event), Value::Object(fields)) = (event.as_object_mut(), fields) {
            event.extend(fields);
        }
        self.sequence += 1;
        event
    }

    fn item_id(&mut self, prefix: &str) -> String {
        self.items += 1;
        let base = self.id.strip_prefix("resp_").unwrap_or(&self.id);
        format!("{prefix}_{base}{:02x}", self.items)
    }

    /// `response.created` and `response.in_progress`.
    pub fn start(&mut self) -> Vec<Value> {
        let snapshot = self.response_with("in_progress");
        vec![
            self.emit("response.created", json!({"response": snapshot})),
            self.emit("response.in_progress", json!({"response": snapshot})),
        ]
    }

    /// The events for one completion event (none for some).
    pub fn event(&mut self, event: &CompletionEvent) -> Vec<Value> {
        let mut out = Vec::new();
        match event {
            CompletionEvent::Started => {}
            CompletionEvent::Text(text) => {
                if !matches!(self.open, Some(Open::Message { .. })) {
                    self.close(&mut out);
                    self.open_message(&mut out);
                }
                if let Some(Open::Message { id, text: all }) = &mut self.open {
                    all.push_str(text);
                    let id = id.clone();
                    let index = self.output.len();
                    out.push(self.emit(
                        "response.output_text.delta",
                        json!({"item_id": id, "output_index": index, "content_index": 0, "delta": text, "logprobs": []}),
                    ));
                }
            }
            CompletionEvent::Thinking(thinking) => {
                self.thinking(&thinking.text, &mut out);
                if let Some(signature) = thinking.signature.as_deref().filter(|s| !s.is_empty()) {
                    self.reasoning_state(signature, &mut out);
                }
            }
            CompletionEvent::RedactedThinking(data) | CompletionEvent::ReasoningDetails(data) => {
                if !data.is_empty() {
                    self.reasoning_state(data, &mut out);
                }
            }
            CompletionEvent::ToolUse(tool) => {
                self.function_call(&tool.id, &tool.name, &tool.input, &mut out)
            }
            // Pass the model's raw arguments on: the client reports the bad JSON to the model.
            CompletionEvent::ToolUseJsonParseError(e) => {
                self.function_call(&e.id, &e.tool_name, &e.raw_input, &mut out)
            }
            CompletionEvent::Stop(reason) => {
                self.stop = Some(*reason);
                self.close(&mut out);
            }
            CompletionEvent::Usage(usage) => self.usage = Some(*usage),
        }
        out
    }

    fn open_message(&mut self, out: &mut Vec<Value>) {
        let id = self.item_id("msg");
        let index = self.output.len();
        out.push(self.emit(
            "response.output_item.added",
            json!({"output_index": index, "item": {"type": "message", "id": id, "status": "in_progress", "role": "assistant", "content": []}}),
        ));
        out.push(self.emit(
            "response.content_part.added",
            json!({"item_id": id, "output_index": index, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
        ));
        self.open = Some(Open::Message {
            id,
            text: String::new(),
        });
    }

    /// Summary text joins the open reasoning item, or starts one.
    fn thinking(&mut self, text: &str, out: &mut Vec<Value>) {
        if text.is_empty() {
            return;
        }
        if !matches!(self.open, Some(Open::Reasoning { .. })) {
            self.close(out);
            self.open_reasoning(out);
        }
        let index = self.output.len();
        let Some(Open::Reasoning { id, summary, .. }) = &mut self.open else {
            return;
        };
        let first = summary.is_empty();
        summary.push_str(text);
        let id = id.clone();
        if first {
            out.push(self.emit(
                "response.reasoning_summary_part.added",
                json!({"item_id": id, "output_index": index, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
            ));
        }
        out.push(self.emit(
            "response.reasoning_summary_text.delta",
            json!({"item_id": id, "output_index": index, "summary_index": 0, "delta": text}),
        ));
    }

    /// Opaque reasoning state goes into the open reasoning item's `encrypted_content` (a new
    /// item when there is none, or when the open one already carries some).
    fn reasoning_state(&mut self, state: &str, out: &mut Vec<Value>) {
        let fits = matches!(
            self.open,
            Some(Open::Reasoning {
                encrypted: None,
                ..
            })
        );
        if !fits {
            self.close(out);
            self.open_reasoning(out);
        }
        if let Some(Open::Reasoning { encrypted, .. }) = &mut self.open {
            *encrypted = Some(state.to_string());
        }
    }

    fn open_reasoning(&mut self, out: &mut Vec<Value>) {
        let id = self.item_id("rs");
        let index = self.output.len();
        out.push(self.emit(
            "response.output_item.added",
            json!({"output_index": index, "item": {"type": "reasoning", "id": id, "summary": []}}),
        ));
        self.open = Some(Open::Reasoning {
            id,
            summary: String::new(),
            encrypted: None,
        });
    }

    fn function_call(&mut self, call_id: &str, name: &str, arguments: &str, out: &mut Vec<Value>) {
        self.close(out);
        let id = self.item_id("fc");
        let index = self.output.len();
        let item = |arguments: &str, status: &str| json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": arguments, "status": status});
        out.push(self.emit(
            "response.output_item.added",
            json!({"output_index": index, "item": item("", "in_progress")}),
        ));
        out.push(self.emit(
            "response.function_call_arguments.delta",
            json!({"item_id": id, "output_index": index, "delta": arguments}),
        ));
        out.push(self.emit(
            "response.function_call_arguments.done",
            json!({"item_id": id, "output_index": index, "name": name, "arguments": arguments}),
        ));
        let done = item(arguments, "completed");
        out.push(self.emit(
            "response.output_item.done",
            json!({"output_index": index, "item": done}),
        ));
        self.output.push(done);
    }

    /// Finishes the open item, if any.
    fn close(&mut self, out: &mut Vec<Value>) {
        let index = self.output.len();
        let item = match self.open.take() {
            None => return,
            Some(Open::Message { id, text }) => {
                let part =
                    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
                out.push(self.emit(
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []}),
                ));
                out.push(self.emit(
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "part": part}),
                ));
                let status = if self.stop == Some(StopReason::MaxTokens) {
                    "incomplete"
                } else {
                    "completed"
                };
                json!({"type": "message", "id": id, "status": status, "role": "assistant", "content": [part]})
            }
            Some(Open::Reasoning {
                id,
                summary,
                encrypted,
            }) => {
                let mut parts = Vec::new();
                if !summary.is_empty() {
                    let part = json!({"type": "summary_text", "text": summary});
                    out.push(self.emit(
                        "response.reasoning_summary_text.done",
                        json!({"item_id": id, "output_index": index, "summary_index": 0, "text": summary}),
                    ));
                    out.push(self.emit(
                        "response.reasoning_summary_part.done",
                        json!({"item_id": id, "output_index": index, "summary_index": 0, "part": part}),
                    ));
                    parts.push(part);
                }
                let mut item = json!({"type": "reasoning", "id": id, "summary": parts});
                if let Some(encrypted) = encrypted {
                    item["encrypted_content"] = json!(encrypted);
                }
                item
            }
        };
        out.push(self.emit(
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        ));
        self.output.push(item);
    }

    /// The events after the last completion event: the open item's end, then
    /// `response.completed` (or `response.incomplete` when the answer was cut short).
    pub fn finish(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        self.close(&mut out);
        let response = self.response();
        let kind = if response["status"] == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        out.push(self.emit(kind, json!({"response": response})));
        out
    }

    /// `response.failed` for a failure after the stream began; `error` is an OpenAI error
    /// body (`{"error": {"message", "code", ...}}`).
    pub fn failed(&mut self, error: &Value) -> Value {
        let mut response = self.response_with("failed");
        response["error"] = json!({
            "code": error["error"]["code"].as_str().unwrap_or("server_error"),
            "message": error["error"]["message"],
        });
        self.emit("response.failed", json!({"response": response}))
    }

    /// The whole response object as it stands (after [`Self::finish`], the final one).
    pub fn response(&self) -> Value {
        let status = match self.stop {
            Some(StopReason::MaxTokens | StopReason::Refusal) => "incomplete",
            _ => "completed",
        };
        let mut response = self.response_with(status);
        let reason = match self.stop {
            Some(StopReason::MaxTokens) => Some("max_output_tokens"),
            Some(StopReason::Refusal) => Some("content_filter"),
            _ => None,
        };
        if let Some(reason) = reason {
            response["incomplete_details"] = json!({"reason": reason});
        }
        if let Some(usage) = &self.usage {
            response["usage"] = usage_json(usage);
        }
        response
    }

    fn response_with(&self, status: &str) -> Value {
        let mut response = Map::new();
        response.insert("id".into(), json!(self.id));
        response.insert("object".into(), json!("response"));
        response.insert("created_at".into(), json!(self.created_at));
        response.insert("status".into(), json!(status));
        response.insert("background".into(), json!(false));
        response.insert("error".into(), Value::Null);
        response.insert("incomplete_details".into(), Value::Null);
        response.insert("model".into(), json!(self.model));
        response.insert("output".into(), json!(self.output));
        response.insert("previous_response_id".into(), Value::Null);
        response.insert("store".into(), json!(false));
        response.insert("truncation".into(), json!("disabled"));
        response.insert("usage".into(), Value::Null);
        for (key, value) in &self.echo {
            response.insert(key.clone(), value.clone());
        }
        Value::Object(response)
    }
}

/// Usage as the Responses API spells it. The contract does not say how many output tokens
/// were reasoning, so `output_tokens_details` is left out rather than guessed.
fn usage_json(usage: &TokenUsage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cache_read_input_tokens.unwrap_or(0)},
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens.saturating_add(usage.output_tokens),
    })
}

