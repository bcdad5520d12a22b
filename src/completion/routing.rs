//! Per-model routing: which endpoint a completion goes to, the body it sends there, and the
//! decoder that reads the answer.
//!
//! Design: the catalog decides (`Model::route`: the routing rule, or the user's
//! `endpoint_preference` among the endpoints the model lists); this module only turns that
//! decision into the three things the provider needs, so the provider holds one [`Decoder`]
//! whatever the endpoint and never matches on wire formats itself. A model missing from the catalog (the catalog is stale, or the editor
//! remembers an id) goes to `/chat/completions`, the endpoint every older model answers on;
//! the server's `model_not_supported` then tells the user the truth.

use crate::bindings::copilot_chat::extension::llm_provider::{CompletionEvent, CompletionRequest};
use crate::catalog::model::{Endpoint, Model};
use crate::completion::body;
use crate::completion::chat::decode::ChatStream;
use crate::completion::chat::request as chat;
use crate::completion::messages::decode::MessagesStream;
use crate::completion::messages::request as messages;
use crate::completion::responses::decode::ResponsesStream;
use crate::completion::responses::request as responses;
use crate::error::Error;

/// `anthropic-version` on `/v1/messages`: the Messages API version the body is written for.
/// Copilot has not been seen to require it, but VS Code's Claude route sends it (through
/// Anthropic's SDK, per a Copilot proxy that copies VS Code's headers), so the request looks
/// like the client Copilot serves this route for.
pub const ANTHROPIC_VERSION: (&str, &str) = ("anthropic-version", "2023-06-01");

/// The answer decoder of one stream, for the endpoint it was sent to.
#[derive(Debug)]
pub enum Decoder {
    Chat(ChatStream),
    Responses(ResponsesStream),
    Messages(MessagesStream),
}

impl Decoder {
    /// Feeds the next body bytes (see `ChatStream::push` / `ResponsesStream::push`).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<CompletionEvent>, Error> {
        match self {
            Decoder::Chat(d) => d.push(bytes),
            Decoder::Responses(d) => d.push(bytes),
            Decoder::Messages(d) => d.push(bytes),
        }
    }

    /// The body ended (see `ChatStream::finish` / `ResponsesStream::finish`).
    pub fn finish(&mut self) -> Result<Vec<CompletionEvent>, Error> {
        match self {
            Decoder::Chat(d) => d.finish(),
            Decoder::Responses(d) => d.finish(),
            Decoder::Messages(d) => d.finish(),
        }
    }
}

/// A completion request ready to send.
#[derive(Debug)]
pub struct Prepared {
    pub endpoint: Endpoint,
    /// The encoded JSON body.
    pub body: Vec<u8>,
    /// Per-request headers (`X-Initiator`, `Openai-Intent`, `Copilot-Vision-Request`, and
    /// `anthropic-version` on `/v1/messages`).
    pub headers: Vec<(String, String)>,
    pub decoder: Decoder,
}

/// Builds the request for `model_id` (`model` is its catalog entry, when known), sent to the
/// endpoint `Model::route` picks given the user's `preferred` endpoint for it.
///
/// Errors: [`Error::NotSupported`] for a catalog model that lists no endpoint this provider
/// speaks (the catalog selection never offers one, so this only happens for a stale id), and
/// the mapping errors of `chat_body` / `responses_body` / `messages_body`
/// ([`Error::InvalidRequest`]).
pub fn prepare(
    model_id: &str,
    model: Option<&Model>,
    preferred: Option<&str>,
    request: &CompletionRequest,
) -> Result<Prepared, Error> {
    let endpoint = match model {
        Some(m) => m.route(preferred).ok_or_else(|| {
            Error::NotSupported(format!(
                "{model_id} lists none of /chat/completions, /responses and /v1/messages, so it cannot be used for chat; pick another model"
            ))
        })?,
        None => Endpoint::ChatCompletions,
    };
    let mut headers = chat::request_headers(request);
    let (body, decoder) = match (endpoint, model) {
        (Endpoint::Responses, Some(m)) => (
            responses::responses_body(m, request)?,
            Decoder::Responses(ResponsesStream::new()),
        ),
        (Endpoint::Messages, Some(m)) => {
            let (name, value) = ANTHROPIC_VERSION;
            headers.push((name.to_string(), value.to_string()));
            (messages::messages_body(m, request)?, Decoder::Messages(MessagesStream::new()))
        }
        _ => (
            chat::chat_body(model_id, request, model)?,
            Decoder::Chat(ChatStream::new()),
        ),
    };
    let body = body::encode(&body)
        .map_err(|e| Error::InvalidRequest(format!("could not encode the request: {e}")))?;
    Ok(Prepared {
        endpoint,
        body,
        headers,
        decoder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::hello;
    use crate::catalog::wire::parse_models;

    fn model(endpoints: &str) -> Model {
        let body = format!(
            r#"{{"data":[{{"id":"m","supported_endpoints":{endpoints},"capabilities":{{"type":"chat"}}}}]}}"#
        );
        parse_models(body.as_bytes()).expect("fixture").0.remove(0)
    }

    fn body_of(p: &Prepared) -> serde_json::Value {
        serde_json::from_slice(&p.body).expect("JSON body")
    }

    #[test]
    fn each_model_goes_to_the_endpoint_it_speaks() {
        let responses_only = model(r#"["/responses","ws:/responses"]"#);
        let p = prepare("m", Some(&responses_only), None, &hello()).unwrap();
        assert_eq!(p.endpoint, Endpoint::Responses);
        assert!(matches!(p.decoder, Decoder::Responses(_)));
        assert!(body_of(&p).get("input").is_some() && body_of(&p).get("messages").is_none());
        assert!(p
            .headers
            .iter()
            .any(|(k, v)| k == "X-Initiator" && v == "user"));

        let both = model(r#"["/chat/completions","/responses"]"#);
        let p = prepare("m", Some(&both), None, &hello()).unwrap();
        assert_eq!(p.endpoint, Endpoint::ChatCompletions);
        assert!(matches!(p.decoder, Decoder::Chat(_)));
        assert!(body_of(&p).get("messages").is_some());

        let p = prepare("unknown", None, Some("/v1/messages"), &hello()).unwrap();
        assert_eq!(p.endpoint, Endpoint::ChatCompletions);

        let messages_only = model(r#"["/v1/messages"]"#);
        let p = prepare("m", Some(&messages_only), None, &hello()).unwrap();
        assert_eq!(p.endpoint, Endpoint::Messages);
        assert!(matches!(p.decoder, Decoder::Messages(_)));
        assert_eq!(body_of(&p)["max_tokens"], serde_json::json!(8192));
        assert!(p.headers.iter().any(|(k, v)| k == "anthropic-version" && v == "2023-06-01"));

        let ws_only = model(r#"["ws:/responses"]"#);
        assert!(matches!(prepare("m", Some(&ws_only), None, &hello()), Err(Error::NotSupported(_))));
    }

    #[test]
    fn claude_goes_to_messages_unless_the_user_prefers_chat() {
        let body = r#"{"data":[{"id":"claude-sonnet-4","vendor":"Anthropic",
            "supported_endpoints":["/chat/completions","/v1/messages"],"capabilities":{"type":"chat"}}]}"#;
        let claude = parse_models(body.as_bytes()).expect("fixture").0.remove(0);
        let p = prepare("claude-sonnet-4", Some(&claude), None, &hello()).unwrap();
        assert_eq!(p.endpoint, Endpoint::Messages);
        let body = body_of(&p);
        assert!(body.get("messages").is_some() && body.get("max_tokens").is_some() && body.get("n").is_none());

        let p = prepare("claude-sonnet-4", Some(&claude), Some("/chat/completions"), &hello()).unwrap();
        assert_eq!(p.endpoint, Endpoint::ChatCompletions);
        assert!(!p.headers.iter().any(|(k, _)| k == "anthropic-version"));
        // A preference the model cannot honour falls back to the rule.
        let p = prepare("claude-sonnet-4", Some(&claude), Some("/responses"), &hello()).unwrap();
        assert_eq!(p.endpoint, Endpoint::Messages);
    }

    #[test]
    fn the_body_is_serde_jsons_text_of_the_mapped_body() {
        use crate::bindings::copilot_chat::extension::llm_provider::MessageRole;
        use crate::completion::fixtures::{image, message, request, text, PNG_B64};
        let vision = model(r#"["/chat/completions"]"#);
        let vision = Model { supports_vision: true, ..vision };
        let big = format!("{PNG_B64}{}", "A".repeat(4096));
        let req = request(vec![message(
            MessageRole::User,
            vec![text("a \"quoted\"\nline"), image(&big), image(&format!("data:image/jpeg;base64,{PNG_B64}"))],
        )]);
        let p = prepare("m", Some(&vision), None, &req).unwrap();
        let mapped = chat::chat_body("m", &req, Some(&vision)).unwrap();
        assert_eq!(p.body, serde_json::to_vec(&mapped).unwrap());
        assert_eq!(body_of(&p)["messages"][0]["content"][1]["image_url"]["url"], format!("data:image/png;base64,{big}"));
    }
}
