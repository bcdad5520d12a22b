//! The WIT contract (`wit/`) as the host sees it: the types and traits `bindgen!` generates
//! from it, and the contract version a component carries in its `api-version` section.
//!
//! This is the bottom layer: every other part of the library imports its types from here.
//! It may import only `crate::log`; never the sandbox, the runtime, `serve`, `install`,
//! `output` or the CLI.

pub mod api_version;
mod bindings;

pub(crate) use bindings::copilot_chat::extension::{host, http_client, llm_provider};
/// The world's exports (and the `add_to_linker` for its imports).
pub(crate) use bindings::Extension as Exports;

/// A request carrying `messages` and nothing else: no tools, thinking off, every option unset.
/// Callers that set a field or two start from here (`CompletionRequest { tools,
/// ..plain_request(messages) }`), so a field added to the contract is defaulted in one place.
pub fn plain_request(messages: Vec<llm_provider::RequestMessage>) -> llm_provider::CompletionRequest {
    llm_provider::CompletionRequest {
        messages,
        tools: Vec::new(),
        tool_choice: None,
        stop_sequences: Vec::new(),
        temperature: None,
        thinking_allowed: false,
        max_tokens: None,
        response_format: None,
        top_p: None,
        seed: None,
        presence_penalty: None,
        frequency_penalty: None,
        parallel_tool_calls: None,
        reasoning_effort: None,
    }
}
