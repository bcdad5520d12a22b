//! The catalog's tests: literal catalogs (individual, enterprise, odd) through parsing,
//! selection and presentation.

use crate::bindings::copilot_chat::extension::llm_provider::ToolInputFormat;
use crate::catalog::model::*;
use crate::catalog::present::*;
use crate::catalog::select::*;
use crate::catalog::wire::*;
use crate::error::{Error, Upstream};

/// An individual (github.com) catalog: several vendors, an embeddings model, disabled and
/// unconfigured policies, a responses-only model, a messages-only model, a duplicate id, a
/// picker-hidden model, and the default listed after other chat models.
const INDIVIDUAL: &str = r#"{
      "object": "list",
      "data": [
        {
          "id": "gpt-4.1", "name": "GPT-4.1", "object": "model", "vendor": "Azure OpenAI",
          "version": "gpt-4.1-2025-04-14", "preview": false, "model_picker_enabled": true,
          "model_picker_category": "versatile",
          "is_chat_default": false, "is_chat_fallback": true,
          "billing": { "is_premium": false, "multiplier": 0 },
          "policy": { "state": "enabled", "terms": "Enable access to GPT-4.1." },
          "supported_endpoints": ["/chat/completions", "/responses"],
          "capabilities": {
            "object": "model_capabilities", "type": "chat", "family": "gpt-4.1",
            "tokenizer": "o200k_base",
            "limits": {
              "max_context_window_tokens": 128000, "max_prompt_tokens": 128000,
              "max_output_tokens": 16384,
              "vision": { "max_prompt_image_size": 3145728, "max_prompt_images": 1,
                          "supported_media_types": ["image/jpeg", "image/png", "image/webp", "image/gif"] }
            },
            "supports": { "streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                          "vision": true, "structured_outputs": true }
          }
        },
        {
          "id": "text-embedding-3-small", "name": "Embedding V3 small", "vendor": "Azure OpenAI",
          "version": "text-embedding-3-small", "model_picker_enabled": false,
          "is_chat_default": false, "is_chat_fallback": false,
          "billing": { "is_premium": false, "multiplier": 0 },
          "capabilities": { "type": "embeddings", "family": "text-embedding-3-small",
                            "limits": { "max_inputs": 512 }, "supports": { "dimensions": true } }
        },
        {
          "id": "gemini-2.5-pro", "name": "Gemini 2.5 Pro", "vendor": "Google",
          "version": "gemini-2.5-pro", "preview": true, "model_picker_enabled": true,
          "is_chat_default": false, "is_chat_fallback": false,
          "billing": { "is_premium": true, "multiplier": 1, "restricted_to": ["pro", "pro_plus"] },
          "policy": { "state": "unconfigured", "terms": "Enable access to Gemini." },
          "supported_endpoints": ["/chat/completions"],
          "capabilities": {
            "type": "chat", "family": "gemini-2.5-pro", "tokenizer": "o200k_base",
            "limits": { "max_context_window_tokens": 1000000, "max_prompt_tokens": 128000,
                        "max_output_tokens": 64000 },
            "supports": { "streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                          "vision": true, "max_thinking_budget": 32768, "min_thinking_budget": 128 }
          }
        },
        {
          "id": "claude-opus-4", "name": "Claude Opus 4", "vendor": "Anthropic",
          "model_picker_enabled": true, "is_chat_default": false, "is_chat_fallback": false,
          "billing": { "is_premium": true, "multiplier": 10 },
          "policy": { "state": "disabled", "terms": "Enable access to Claude Opus 4." },
          "supported_endpoints": ["/chat/completions", "/v1/messages"],
          "capabilities": { "type": "chat", "family": "claude-opus-4",
                            "supports": { "streaming": true, "tool_calls": true } }
        },
        {
          "id": "gpt-5", "name": "GPT-5", "vendor": "Azure OpenAI", "version": "gpt-5",
          "model_picker_enabled": true, "is_chat_default": false, "is_chat_fallback": false,
          "billing": { "is_premium": true, "multiplier": 1 },
          "supported_endpoints": ["/responses", "ws:/responses"],
          "capabilities": {
            "type": "chat", "family": "gpt-5", "tokenizer": "o200k_base",
            "limits": { "max_context_window_tokens": 400000, "max_prompt_tokens": 272000,
                        "max_output_tokens": 128000 },
            "supports": { "streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                          "vision": true, "reasoning_effort": ["low", "medium", "high"] }
          }
        },
        {
          "id": "claude-messages-only", "name": "Claude Messages Only", "vendor": "Anthropic",
          "model_picker_enabled": true, "is_chat_default": false, "is_chat_fallback": false,
          "billing": { "is_premium": true, "multiplier": 1 },
          "supported_endpoints": ["/v1/messages"],
          "capabilities": { "type": "chat", "family": "claude-x" }
        },
        {
          "id": "claude-sonnet-4", "name": "Claude Sonnet 4", "vendor": "Anthropic",
          "version": "claude-sonnet-4", "model_picker_enabled": true,
          "is_chat_default": true, "is_chat_fallback": false,
          "billing": { "is_premium": true, "multiplier": 1 },
          "policy": { "state": "enabled", "terms": "Enable access to Claude Sonnet 4." },
          "supported_endpoints": ["/chat/completions", "/v1/messages"],
          "capabilities": {
            "type": "chat", "family": "claude-sonnet-4", "tokenizer": "o200k_base",
            "limits": { "max_context_window_tokens": 216000, "max_prompt_tokens": 128000,
                        "max_output_tokens": 16000,
                        "vision": { "max_prompt_image_size": 3145728,
                                    "supported_media_types": ["image/jpeg", "image/png"] } },
            "supports": { "streaming": true, "tool_calls": true, "parallel_tool_calls": true,
                          "vision": true, "thinking": true, "adaptive_thinking": false }
          }
        },
        {
          "id": "gpt-4.1", "name": "GPT-4.1 (duplicate)", "vendor": "Azure OpenAI",
          "model_picker_enabled": true, "is_chat_default": false, "is_chat_fallback": false,
          "capabilities": { "type": "chat" }
        },
        {
          "id": "gpt-4o-mini", "name": "GPT-4o mini", "vendor": "Azure OpenAI",
          "model_picker_enabled": false, "is_chat_default": false, "is_chat_fallback": false,
          "billing": { "is_premium": false, "multiplier": 0 },
          "capabilities": { "type": "chat", "family": "gpt-4o-mini" }
        },
        {
          "id": "grok-code-fast-1", "name": "Grok Code Fast 1", "vendor": "xAI",
          "model_picker_enabled": true, "is_chat_default": false, "is_chat_fallback": false,
          "billing": { "is_premium": true, "multiplier": 0.25 },
          "supported_endpoints": ["/chat/completions"],
          "capabilities": { "type": "chat", "family": "grok-code",
                            "supports": { "streaming": true, "tool_calls": true } }
        }
      ]
    }"#;

/// An enterprise catalog: no `billing`, `is_chat_default`, `is_chat_fallback`,
/// `model_picker_enabled` or `supported_endpoints`, partial `supports`.
const ENTERPRISE: &str = r#"{
      "data": [
        {
          "id": "gpt-4o", "name": "GPT-4o", "vendor": "Azure OpenAI", "version": "gpt-4o-2024-11-20",
          "capabilities": { "type": "chat", "family": "gpt-4o", "tokenizer": "o200k_base",
            "limits": { "max_context_window_tokens": 128000, "max_output_tokens": 4096 },
            "supports": { "tool_calls": true } }
        },
        {
          "id": "claude-3.5-sonnet", "name": "Claude 3.5 Sonnet", "vendor": "Anthropic",
          "capabilities": { "type": "chat", "family": "claude-3.5-sonnet",
            "limits": { "max_prompt_tokens": 90000 } }
        },
        {
          "id": "gemini-2.0-pro", "name": "Gemini 2.0 Pro", "vendor": "Google",
          "capabilities": { "type": "chat", "family": "gemini-2.0-pro" }
        },
        {
          "id": "o3-mini", "name": "o3-mini", "vendor": "Azure OpenAI",
          "capabilities": { "type": "chat", "family": "o3-mini",
            "supports": { "streaming": true, "tool_calls": true, "reasoning_effort": ["low", "medium", "high"] } }
        },
        {
          "id": "text-embedding-ada-002", "name": "Embedding V2 Ada",
          "capabilities": { "type": "embeddings", "family": "text-embedding-ada-002" }
        }
      ]
    }"#;

fn parse(body: &str) -> (Vec<Model>, Vec<String>) {
    parse_models(body.as_bytes()).expect("fixture parses")
}

fn ids(models: &[Model]) -> Vec<&str> {
    models.iter().map(|m| m.id.as_str()).collect()
}

fn model(json: &str) -> Model {
    let body = format!(r#"{{"data":[{json}]}}"#);
    let (mut models, warnings) = parse(&body);
    assert!(warnings.is_empty(), "{warnings:?}");
    models.remove(0)
}

#[test]
fn individual_catalog_parses_every_entry() {
    let (models, warnings) = parse(INDIVIDUAL);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(models.len(), 10);
    let gpt41 = &models[0];
    assert_eq!(gpt41.name, "GPT-4.1");
    assert_eq!(gpt41.vendor.as_deref(), Some("Azure OpenAI"));
    assert_eq!(gpt41.kind.as_deref(), Some("chat"));
    assert_eq!(gpt41.tokenizer.as_deref(), Some("o200k_base"));
    assert_eq!(gpt41.max_output_tokens, Some(16384));
    assert_eq!(gpt41.vision_max_image_bytes, Some(3_145_728));
    assert_eq!(gpt41.vision_media_types.len(), 4);
    assert!(gpt41.supports_tools && gpt41.supports_parallel_tools && gpt41.supports_vision);
    assert!(!gpt41.supports_thinking);
    assert_eq!(
        (gpt41.is_premium, gpt41.multiplier),
        (Some(false), Some(0.0))
    );
    assert_eq!(
        gpt41.policy_terms.as_deref(),
        Some("Enable access to GPT-4.1.")
    );
    assert!(gpt41.is_chat_fallback && !gpt41.is_chat_default);

    let gpt5 = find(&models, "gpt-5").unwrap();
    assert_eq!(gpt5.reasoning_efforts, ["low", "medium", "high"]);
    assert!(gpt5.supports_thinking);
    let sonnet = find(&models, "claude-sonnet-4").unwrap();
    assert!(sonnet.supports_thinking);
    assert!(sonnet.is_chat_default);
    // The first of two entries with the same id is the one found.
    assert_eq!(find(&models, "gpt-4.1").unwrap().name, "GPT-4.1");
    assert!(find(&models, "nope").is_none());
}

#[test]
fn individual_catalog_selection() {
    let (models, _) = parse(INDIVIDUAL);
    let selected = select(models);
    // Default first; embeddings, disabled policy, the duplicate and the picker-hidden model
    // are gone; unconfigured policy, responses-only and messages-only stay.
    assert_eq!(
        ids(&selected),
        [
            "claude-sonnet-4",
            "gpt-4.1",
            "gemini-2.5-pro",
            "gpt-5",
            "claude-messages-only",
            "grok-code-fast-1"
        ]
    );
    assert_eq!(selected[1].name, "GPT-4.1");
}

#[test]
fn individual_catalog_model_infos() {
    let (models, _) = parse(INDIVIDUAL);
    let infos = model_infos(&select(models));
    let by_id = |id: &str| infos.iter().find(|i| i.id == id).unwrap();
    assert!(by_id("claude-sonnet-4").is_default);
    assert_eq!(infos.iter().filter(|i| i.is_default).count(), 1);
    // is_chat_fallback wins the fast default over cheaper-looking models.
    assert!(by_id("gpt-4.1").is_default_fast);
    assert_eq!(infos.iter().filter(|i| i.is_default_fast).count(), 1);
    assert_eq!(
        by_id("gemini-2.5-pro").name,
        "Gemini 2.5 Pro (Preview) (1x) (enable in GitHub settings)"
    );
    assert_eq!(by_id("grok-code-fast-1").name, "Grok Code Fast 1 (0.25x)");
    assert_eq!(by_id("gpt-4.1").name, "GPT-4.1");
    let gpt5 = by_id("gpt-5");
    assert_eq!(gpt5.max_token_count, 272_000);
    assert_eq!(gpt5.max_output_tokens, Some(128_000));
    assert!(gpt5.capabilities.supports_thinking);
    assert!(gpt5.capabilities.supports_images);
    assert!(gpt5.capabilities.supports_tool_choice_any);
    assert!(matches!(
        gpt5.capabilities.tool_input_format,
        ToolInputFormat::JsonSchema
    ));
}

#[test]
fn enterprise_catalog_parses_and_selects() {
    let (models, warnings) = parse(ENTERPRISE);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(models.len(), 5);
    let gpt4o = &models[0];
    assert_eq!(
        (gpt4o.is_premium, gpt4o.multiplier, gpt4o.picker_enabled),
        (None, None, None)
    );
    assert!(!gpt4o.is_chat_default && !gpt4o.is_chat_fallback && !gpt4o.preview);
    assert!(
        gpt4o.supports_streaming,
        "absent streaming flag means streaming"
    );
    assert!(gpt4o.supports_tools && !gpt4o.supports_vision);
    assert_eq!(gpt4o.endpoints, [CHAT_COMPLETIONS_PATH]);
    assert_eq!(gpt4o.endpoint(), Some(Endpoint::ChatCompletions));

    let selected = select(models);
    assert_eq!(
        ids(&selected),
        ["gpt-4o", "claude-3.5-sonnet", "gemini-2.0-pro", "o3-mini"]
    );
    let infos = model_infos(&selected);
    assert!(
        infos[0].is_default,
        "no is_chat_default: the first model is the default"
    );
    // No billing anywhere: the fast default comes from the name, and "gemini" is not "mini".
    let fast: Vec<&str> = infos
        .iter()
        .filter(|i| i.is_default_fast)
        .map(|i| i.id.as_str())
        .collect();
    assert_eq!(fast, ["o3-mini"]);
    assert_eq!(infos[0].name, "GPT-4o");
    assert_eq!(infos[0].max_token_count, 128_000);
    assert_eq!(infos[0].max_output_tokens, Some(4096));
    assert_eq!(infos[1].max_token_count, 90_000);
    assert_eq!(infos[2].max_token_count, DEFAULT_MAX_TOKEN_COUNT);
    assert_eq!(infos[2].max_output_tokens, None);
}

#[test]
fn enterprise_without_small_models_has_no_fast_default() {
    let selected = select(vec![
        model(r#"{"id":"gpt-4o","capabilities":{"type":"chat","family":"gpt-4o"}}"#),
        model(r#"{"id":"gemini-2.5-pro","name":"Gemini 2.5 Pro"}"#),
    ]);
    assert_eq!(
        selected.len(),
        2,
        "an untyped model with the assumed chat endpoint is kept"
    );
    assert!(fast_model(&selected).is_none());
    assert!(model_infos(&selected).iter().all(|i| !i.is_default_fast));
}

#[test]
fn all_picker_disabled_falls_back_to_policy_enabled_models() {
    let body = r#"{"object":"list","data":[
          {"id":"a","model_picker_enabled":false,"policy":{"state":"enabled"},"capabilities":{"type":"chat"}},
          {"id":"b","model_picker_enabled":false,"policy":{"state":"unconfigured"},"capabilities":{"type":"chat"}},
          {"id":"c","model_picker_enabled":false,"capabilities":{"type":"chat"}},
          {"id":"d","model_picker_enabled":false,"policy":{"state":"disabled"},"capabilities":{"type":"chat"}},
          {"id":"e","model_picker_enabled":false,"policy":{"state":"enabled"},"capabilities":{"type":"embeddings"}},
          {"id":"f","model_picker_enabled":false,"is_chat_default":true,"policy":{"state":"pending"},"capabilities":{"type":"chat"}}
        ]}"#;
    let (models, _) = parse(body);
    assert_eq!(ids(&select(models)), ["a", "c"]);
}

#[test]
fn picker_visible_models_exclude_hidden_ones() {
    let body = r#"{"data":[
          {"id":"hidden","model_picker_enabled":false,"capabilities":{"type":"chat"}},
          {"id":"shown","model_picker_enabled":true,"policy":{"state":"unconfigured"},"capabilities":{"type":"chat"}},
          {"id":"unknown","capabilities":{"type":"chat"}}
        ]}"#;
    let (models, _) = parse(body);
    assert_eq!(ids(&select(models)), ["shown", "unknown"]);
}

#[test]
fn bad_entries_are_skipped_with_warnings() {
    let body = r#"{"object":"list","data":[
          {"id":"good-1","name":"Good 1","capabilities":{"type":"chat"}},
          42,
          {"name":"no id"},
          {"id":7},
          {"id":"   "},
          {"id":"odd-types","name":5,"vendor":["x"],"preview":"yes","is_chat_default":"true",
           "billing":"premium","policy":{"state":3},"supported_endpoints":"/responses",
           "capabilities":{"type":"chat","limits":{"max_prompt_tokens":"lots",
             "max_context_window_tokens":64000.0,"max_output_tokens":0},
             "supports":{"tool_calls":"yes","vision":true,"reasoning_effort":["low",1,"high"]}}},
          {"id":"good-2","capabilities":{"type":"chat"}}
        ]}"#;
    let (models, warnings) = parse(body);
    assert_eq!(ids(&models), ["good-1", "odd-types", "good-2"]);
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    assert!(warnings[0].contains("entry 1") && warnings[0].contains("a number"));
    assert!(warnings[1].contains("entry 2") && warnings[1].contains("no string `id`"));
    assert!(warnings[2].contains("entry 3"));
    assert!(warnings[3].contains("entry 4"));

    let odd = &models[1];
    assert_eq!(
        odd.name, "odd-types",
        "a non-string name falls back to the id"
    );
    assert_eq!(odd.vendor, None);
    assert!(!odd.preview && !odd.is_chat_default);
    assert_eq!((odd.is_premium, odd.multiplier), (None, None));
    assert_eq!(odd.policy_state, None);
    assert_eq!(odd.endpoint(), Some(Endpoint::ChatCompletions));
    assert_eq!(odd.max_prompt_tokens, None);
    assert_eq!(odd.max_context_window, Some(64_000));
    assert_eq!(odd.max_output_tokens, None, "a zero limit reads as absent");
    assert!(!odd.supports_tools && odd.supports_vision);
    assert_eq!(odd.reasoning_efforts, ["low", "high"]);
}

#[test]
fn many_bad_entries_are_counted_not_listed() {
    let entries: Vec<String> = (0..30).map(|i| i.to_string()).collect();
    let body = format!(r#"{{"data":[{},{{"id":"ok"}}]}}"#, entries.join(","));
    let (models, warnings) = parse(&body);
    assert_eq!(ids(&models), ["ok"]);
    assert_eq!(warnings.len(), MAX_WARNINGS + 1);
    assert!(warnings[MAX_WARNINGS].starts_with("10 more"));
}

#[test]
fn quoted_server_text_is_redacted_and_short() {
    let quoted = quote("ghu_secretsecret123");
    assert!(!quoted.contains("ghu_secret"), "{quoted}");
    let long = "m".repeat(500);
    assert_eq!(quote(&long).chars().count(), MAX_QUOTED_CHARS + 3);
}

#[test]
fn malformed_bodies_are_upstream_errors() {
    for body in [
        &b"<html>502 Bad Gateway</html>"[..],
        b"",
        b"{\"object\":\"list\"}",
        b"{\"data\":\"nope\"}",
        b"{\"data\":null}",
        b"[]",
        b"\xff\xfe",
    ] {
        match parse_models(body) {
            Err(Error::Upstream(Upstream {
                status: 200,
                message,
                request_id: None,
            })) => {
                assert!(message.starts_with("malformed model list"), "{message}");
            }
            other => panic!("{:?}: unexpected {other:?}", String::from_utf8_lossy(body)),
        }
    }
    let (models, warnings) = parse(r#"{"data":[]}"#);
    assert!(models.is_empty() && warnings.is_empty());
}

#[test]
fn truncated_bodies_never_panic() {
    let bytes = INDIVIDUAL.as_bytes();
    for end in 0..bytes.len() {
        let _ = parse_models(&bytes[..end]);
    }
}

#[test]
fn default_model_goes_first() {
    let body = r#"{"data":[
          {"id":"one","capabilities":{"type":"chat"}},
          {"id":"two","capabilities":{"type":"chat"}},
          {"id":"three","is_chat_default":true,"capabilities":{"type":"chat"}},
          {"id":"four","capabilities":{"type":"chat"}}
        ]}"#;
    let (models, _) = parse(body);
    let selected = select(models);
    assert_eq!(ids(&selected), ["three", "one", "two", "four"]);
    assert_eq!(
        default_model(&selected).map(|m| m.id.as_str()),
        Some("three")
    );
    assert!(default_model(&[]).is_none());
}

#[test]
fn fast_default_is_the_cheapest_billed_model() {
    let models = vec![
        model(r#"{"id":"premium-1x","billing":{"is_premium":true,"multiplier":1}}"#),
        model(r#"{"id":"premium-cheap","billing":{"is_premium":true,"multiplier":0.33}}"#),
        model(r#"{"id":"unbilled-mini"}"#),
        model(r#"{"id":"gpt-4.1","billing":{"is_premium":false,"multiplier":0}}"#),
        model(r#"{"id":"gpt-5-mini","billing":{"is_premium":false,"multiplier":0}}"#),
        model(r#"{"id":"gpt-4o","billing":{"is_premium":false,"multiplier":0}}"#),
    ];
    // Non-premium first; among equal costs the small-looking one; unbilled never wins.
    assert_eq!(
        fast_model(&models).map(|m| m.id.as_str()),
        Some("gpt-5-mini")
    );

    let premium_only = vec![models[0].clone(), models[1].clone(), models[2].clone()];
    assert_eq!(
        fast_model(&premium_only).map(|m| m.id.as_str()),
        Some("premium-cheap")
    );

    let mut with_fallback = models.clone();
    with_fallback.push(model(r#"{"id":"base","is_chat_fallback":true}"#));
    assert_eq!(
        fast_model(&with_fallback).map(|m| m.id.as_str()),
        Some("base")
    );
    assert!(fast_model(&[]).is_none());
}

#[test]
fn limits_mapping() {
    let both = model(
        r#"{"id":"a","capabilities":{"limits":{"max_context_window_tokens":200000,"max_prompt_tokens":128000,"max_output_tokens":8192}}}"#,
    );
    let context_only =
        model(r#"{"id":"b","capabilities":{"limits":{"max_context_window_tokens":64000}}}"#);
    let none = model(r#"{"id":"c"}"#);
    let zero = model(r#"{"id":"d","capabilities":{"limits":{"max_prompt_tokens":0}}}"#);
    let info = |m: &Model| to_model_info(m, None, None);
    assert_eq!(
        (info(&both).max_token_count, info(&both).max_output_tokens),
        (128_000, Some(8192))
    );
    assert_eq!(info(&context_only).max_token_count, 64_000);
    assert_eq!(info(&none).max_token_count, DEFAULT_MAX_TOKEN_COUNT);
    assert_eq!(info(&none).max_output_tokens, None);
    assert_eq!(info(&zero).max_token_count, DEFAULT_MAX_TOKEN_COUNT);
    assert!(!info(&none).is_default && !info(&none).is_default_fast);
    let flagged = to_model_info(&none, Some("c"), Some("c"));
    assert!(flagged.is_default && flagged.is_default_fast);
}

#[test]
fn capabilities_mapping() {
    let plain = to_model_info(&model(r#"{"id":"p"}"#), None, None).capabilities;
    assert!(!plain.supports_images && !plain.supports_tools && !plain.supports_thinking);
    assert!(!plain.supports_tool_choice_auto && !plain.supports_tool_choice_none);
    let rich = model(
        r#"{"id":"r","capabilities":{"supports":{"vision":true,"tool_calls":true,"adaptive_thinking":true}}}"#,
    );
    let caps = to_model_info(&rich, None, None).capabilities;
    assert!(caps.supports_images && caps.supports_tools && caps.supports_thinking);
    assert!(
        caps.supports_tool_choice_auto
            && caps.supports_tool_choice_any
            && caps.supports_tool_choice_none
    );
}

#[test]
fn endpoint_routing() {
    let with = |endpoints: &str| {
        model(&format!(
            r#"{{"id":"m","supported_endpoints":{endpoints}}}"#
        ))
    };
    assert_eq!(
        with(r#"["/chat/completions","/responses"]"#).endpoint(),
        Some(Endpoint::ChatCompletions)
    );
    assert_eq!(
        with(r#"["/v1/messages","/chat/completions"]"#).endpoint(),
        Some(Endpoint::ChatCompletions)
    );
    assert_eq!(
        with(r#"["/responses","ws:/responses"]"#).endpoint(),
        Some(Endpoint::Responses)
    );
    assert_eq!(with(r#"["ws:/responses"]"#).endpoint(), None);
    assert_eq!(with(r#"["/v1/messages"]"#).endpoint(), Some(Endpoint::Messages));
    assert_eq!(with("[]").endpoint(), None);
    assert_eq!(
        model(r#"{"id":"m"}"#).endpoint(),
        Some(Endpoint::ChatCompletions)
    );
    assert_eq!(Endpoint::ChatCompletions.path(), "/chat/completions");
    assert_eq!(Endpoint::Responses.path(), "/responses");
    assert_eq!(Endpoint::Messages.path(), "/v1/messages");
    assert_eq!(Endpoint::from_path(" /v1/messages "), Some(Endpoint::Messages));
    assert_eq!(Endpoint::from_path("ws:/responses"), None);
}

#[test]
fn claude_models_prefer_messages_and_the_preference_overrides() {
    let both = r#"["/chat/completions","/v1/messages"]"#;
    let by_vendor = model(&format!(r#"{{"id":"x","vendor":"Anthropic","supported_endpoints":{both}}}"#));
    let by_id = model(&format!(r#"{{"id":"Claude-sonnet-5","supported_endpoints":{both}}}"#));
    let by_family = model(&format!(r#"{{"id":"x","capabilities":{{"family":"claude-opus"}},"supported_endpoints":{both}}}"#));
    let other = model(&format!(r#"{{"id":"gpt-x","vendor":"OpenAI","supported_endpoints":{both}}}"#));
    for claude in [&by_vendor, &by_id, &by_family] {
        assert!(claude.is_anthropic());
        assert_eq!(claude.route(None), Some(Endpoint::Messages));
        assert_eq!(claude.route(Some("/chat/completions")), Some(Endpoint::ChatCompletions));
        assert_eq!(claude.route(Some("/responses")), Some(Endpoint::Messages), "not listed: the rule");
        assert_eq!(claude.route(Some("nonsense")), Some(Endpoint::Messages));
    }
    assert!(!other.is_anthropic());
    assert_eq!(other.route(None), Some(Endpoint::ChatCompletions));
    assert_eq!(other.route(Some("/v1/messages")), Some(Endpoint::Messages));
    // A Claude model listing only chat completions stays there.
    let chat_only = model(r#"{"id":"claude-3.5-sonnet","supported_endpoints":["/chat/completions"]}"#);
    assert_eq!(chat_only.route(None), Some(Endpoint::ChatCompletions));
    assert_eq!(chat_only.route(Some("/v1/messages")), Some(Endpoint::ChatCompletions));
}

#[test]
fn untyped_models_need_a_chat_endpoint() {
    let models = vec![
        model(r#"{"id":"untyped-listed","supported_endpoints":["/responses"]}"#),
        model(r#"{"id":"untyped-messages","supported_endpoints":["/v1/messages"]}"#),
        model(r#"{"id":"completion","capabilities":{"type":"completion"}}"#),
        model(r#"{"id":"Chat-caps","capabilities":{"type":"Chat"}}"#),
    ];
    assert_eq!(ids(&select(models)), ["untyped-listed", "untyped-messages", "Chat-caps"]);
}

#[test]
fn models_markdown_lists_extras_and_models_to_enable() {
    let (models, _) = parse(INDIVIDUAL);
    let md = models_markdown(&select(models), &crate::settings::EndpointPreference::default());
    let row = |id: &str| {
        md.lines()
            .find(|l| l.contains(&format!("`{id}`")) && l.starts_with('|'))
            .unwrap_or_else(|| panic!("no row for {id} in\n{md}"))
            .to_string()
    };
    assert_eq!(
        row("gpt-5"),
        "| GPT-5 (1x) | `gpt-5` | /responses | 272000 / 400000 / 128000 | yes (1x) | no | yes, parallel | yes | effort: low, medium, high |"
    );
    assert!(row("gpt-4.1").contains("| /chat/completions |"), "{md}");
    assert!(row("claude-sonnet-4").contains("| /v1/messages |"), "{md}");
    assert!(row("claude-messages-only").contains("| /v1/messages |"), "{md}");
    assert!(row("gpt-4.1").contains("yes (≤ 3.0 MB; image/jpeg, image/png, image/webp, image/gif)"), "{md}");
    assert!(row("grok-code-fast-1").contains("| yes (0.25x) |"), "{md}");
    assert!(row("gemini-2.5-pro").contains("| yes |"), "preview: {md}");
    assert!(md.contains("### Models to enable"), "{md}");
    assert!(md.contains("**Gemini 2.5 Pro** (`gemini-2.5-pro`, policy `unconfigured`): Enable access to Gemini."), "{md}");
    assert!(md.contains(POLICY_SETTINGS_URL));
    assert_eq!(models_markdown(&[], &Default::default()), "## Models\n\nNo models are known yet.\n");
    let (settings, _) = crate::settings::Settings::parse(r#"{"endpoint_preference":"/chat/completions"}"#);
    let (models, _) = parse(INDIVIDUAL);
    let md = models_markdown(&select(models), &settings.endpoint_preference);
    let sonnet = md.lines().find(|l| l.contains("`claude-sonnet-4`")).unwrap();
    assert!(sonnet.contains("| /chat/completions |"), "{md}");
    assert_eq!(cell("a|b\nc"), "a\\|b c");
}

#[test]
fn policy_states_that_need_enablement() {
    let with = |state: &str| model(&format!(r#"{{"id":"m","name":"M","policy":{{"state":"{state}"}}}}"#));
    for state in ["unconfigured", "requires_consent", "pending"] {
        let mut m = with(state);
        assert!(m.needs_enablement(), "{state}");
        assert_eq!(display_name(&m), "M (enable in GitHub settings)");
        m.mark_enabled();
        assert!(!m.needs_enablement());
        assert_eq!(display_name(&m), "M");
    }
    assert!(!with("enabled").needs_enablement());
    assert!(!with("disabled").needs_enablement());
    assert!(!model(r#"{"id":"m"}"#).needs_enablement());
}

#[test]
fn display_names() {
    let preview_named = model(r#"{"id":"x","name":"Gemini 3 (Preview)","preview":true}"#);
    assert_eq!(display_name(&preview_named), "Gemini 3 (Preview)");
    let premium_no_multiplier = model(r#"{"id":"y","name":"Y","billing":{"is_premium":true}}"#);
    assert_eq!(display_name(&premium_no_multiplier), "Y");
    let not_premium =
        model(r#"{"id":"z","name":"Z","billing":{"is_premium":false,"multiplier":1}}"#);
    assert_eq!(display_name(&not_premium), "Z");
    let blank = model(r#"{"id":"blank-name","name":"  "}"#);
    assert_eq!(display_name(&blank), "blank-name");
    assert_eq!(format_multiplier(1.0), "1x");
    assert_eq!(format_multiplier(0.33), "0.33x");
    assert_eq!(format_multiplier(1.25), "1.25x");
    assert_eq!(format_multiplier(10.0), "10x");
    assert_eq!(format_multiplier(0.0), "0x");
}

#[test]
fn the_selection_report_says_why_models_are_not_offered() {
    let body = br#"{"data":[
            {"id":"a","model_picker_enabled":true,"capabilities":{"type":"chat"}},
            {"id":"a","model_picker_enabled":true,"capabilities":{"type":"chat"}},
            {"id":"emb","capabilities":{"type":"embeddings"}},
            {"id":"off","policy":{"state":"disabled"},"capabilities":{"type":"chat"}},
            {"id":"msg","supported_endpoints":["ws:/responses"],"capabilities":{"type":"chat"}},
            {"id":"hid","model_picker_enabled":false,"capabilities":{"type":"chat"}}
        ]}"#;
    let (models, _) = parse_models(body).unwrap();
    let (chosen, report) = select_with_report(models);
    assert_eq!(chosen.len(), 1);
    assert_eq!((report.listed, report.shown), (6, 1));
    let reasons: Vec<(&str, Vec<&str>)> = report
        .hidden
        .iter()
        .map(|g| (g.reason.as_str(), g.ids.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("not a chat model (embeddings or completions)", vec!["emb"]),
            ("disabled by the account's policy", vec!["off"]),
            ("speaks no endpoint this provider supports", vec!["msg"]),
            ("listed twice (the first entry is used)", vec!["a"]),
            ("marked hidden from the model picker by the server", vec!["hid"]),
        ]
    );
}
