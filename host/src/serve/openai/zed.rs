//! The snippet that points Zed's `openai_compatible` provider at a running server.

use serde_json::{json, Value};

use crate::contract::llm_provider::ModelInfo;

/// The OpenAI provider name used in the Zed settings snippet.
pub const ZED_PROVIDER_NAME: &str = "copilot-host";

/// A `language_models.openai_compatible` block for Zed's settings.json listing `models`.
/// The key is not in it: Zed reads it from its UI or `COPILOT_HOST_API_KEY`.
pub fn zed_settings(base_url: &str, models: &[ModelInfo]) -> Value {
    let available: Vec<Value> = models
        .iter()
        .map(|m| {
            let mut entry = json!({
                "name": m.id,
                "display_name": m.name,
                "max_tokens": m.max_token_count,
                "capabilities": {
                    "tools": m.capabilities.supports_tools,
                    "images": m.capabilities.supports_images,
                    "parallel_tool_calls": m.capabilities.supports_tools,
                    "prompt_cache_key": false,
                },
            });
            if let Some(max) = m.max_output_tokens {
                entry["max_output_tokens"] = json!(max);
            }
            entry
        })
        .collect();
    json!({
        "language_models": {
            "openai_compatible": {
                ZED_PROVIDER_NAME: {"api_url": base_url, "available_models": available}
            }
        }
    })
}

/// The environment variable Zed reads the key from for [`ZED_PROVIDER_NAME`].
pub fn zed_key_env() -> String {
    format!(
        "{}_API_KEY",
        ZED_PROVIDER_NAME.to_ascii_uppercase().replace('-', "_")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zed_key_variable_follows_the_provider_name() {
        assert_eq!(zed_key_env(), "COPILOT_HOST_API_KEY");
        let snippet = zed_settings("http://127.0.0.1:1/v1", &[]);
        assert_eq!(
            snippet["language_models"]["openai_compatible"][ZED_PROVIDER_NAME]["api_url"],
            "http://127.0.0.1:1/v1"
        );
    }
}

/// The environment variable Zed's Ollama provider reads its API key from.
pub const ZED_OLLAMA_KEY_ENV: &str = "OLLAMA_API_KEY";

/// A `language_models.ollama` block for Zed's settings.json: Zed then lists the models itself
/// (from `/api/tags` and `/api/show`). The key is not in it (see [`ZED_OLLAMA_KEY_ENV`]).
pub fn zed_ollama_settings(root_url: &str) -> Value {
    json!({"language_models": {"ollama": {"api_url": root_url}}})
}

/// The environment that points Claude Code (or any Anthropic SDK client) at this server.
/// `ANTHROPIC_AUTH_TOKEN` is sent as `Authorization: Bearer`; `ANTHROPIC_API_KEY` (sent as
/// `x-api-key`) works too.
pub fn claude_code_env(root_url: &str, key: &str) -> Value {
    json!({"ANTHROPIC_BASE_URL": root_url, "ANTHROPIC_AUTH_TOKEN": key})
}
