//! Per-model routing: which endpoint a completion goes to, the body it sends there, and the
//! decoder that reads the answer.
//!
//! Design: the catalog decides (`Model::endpoint`: `/chat/completions` when listed, else
//! `/responses`); this module only turns that decision into the three things the provider
//! needs, so the provider holds one [`Decoder`] whatever the endpoint and never matches on
//! wire formats itself. A model missing from the catalog (the catalog is stale, or the editor
//! remembers an id) goes to `/chat/completions`, the endpoint every older model answers on;
//! the server's `model_not_supported` then tells the user the truth.

use crate::bindings::copilot_chat::extension::llm_provider::{CompletionEvent, CompletionRequest};
use crate::catalog::model::{Endpoint, Model};
use crate::completion::chat::decode::ChatStream;
use crate::completion::chat::request as chat;
use crate::error::Error;
use crate::completion::responses::decode::ResponsesStream;
use crate::completion::responses::request as responses;

/// The answer decoder of one stream, for the endpoint it was sent to.
#[derive(Debug)]
pub enum Decoder {
    Chat(ChatStream),
    Responses(ResponsesStream),
}

impl Decoder {
    /// Feeds the next body bytes (see `ChatStream::push` / `ResponsesStream::push`).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<CompletionEvent>, Error> {
        match self {
            Decoder::Chat(d) => d.push(bytes),
            Decoder::Responses(d) => d.push(bytes),
        }
    }

    /// The body ended (see `ChatStream::finish` / `ResponsesStream::finish`).
    pub fn finish(&mut self) -> Result<Vec<CompletionEvent>, Error> {
        match self {
            Decoder::Chat(d) => d.finish(),
            Decoder::Responses(d) => d.finish(),
        }
    }
}

/// A completion request ready to send.
#[derive(Debug)]
pub struct Prepared {
    pub endpoint: Endpoint,
    /// The encoded JSON body.
    pub body: Vec<u8>,
    /// Per-request headers (`X-Initiator`, `Openai-Intent`, `Copilot-Vision-Request`).
    pub headers: Vec<(String, String)>,
    pub decoder: Decoder,
}

/// Builds the request for `model_id` (`model` is its catalog entry, when known).
///
/// Errors: [`Error::NotSupported`] for a catalog model that lists no endpoint this provider
/// speaks (the catalog selection never offers one, so this only happens for a stale id), and
/// the mapping errors of `chat::request::chat_body` / `responses::request::responses_body`
/// ([`Error::InvalidRequest`]).
pub fn prepare(
    model_id: &str,
    model: Option<&Model>,
    request: &CompletionRequest,
) -> Result<Prepared, Error> {
    let endpoint = match model {
        Some(m) => m.endpoint().ok_or_else(|| {
            Error::NotSupported(format!(
                "{model_id} lists neither /chat/completions nor /responses, so it cannot be used for chat; pick another model"
            ))
        })?,
        None => Endpoint::ChatCompletions,
    };
    let (body, decoder) = match (endpoint, model) {
        (Endpoint::Responses, Some(m)) => (
            responses::responses_body(m, request)?,
            Decoder::Responses(ResponsesStream::new()),
        ),
        _ => (
            chat::chat_body(model_id, request, model)?,
            Decoder::Chat(ChatStream::new()),
        ),
    };
    let body = serde_json::to_vec(&body)
        .map_err(|e| Error::InvalidRequest(format!("could not encode the request: {e}")))?;
    Ok(Prepared {
        endpoint,
        body,
        headers: chat::request_headers(request),
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
        let p = prepare("m", Some(&responses_only), &hello()).unwrap();
        assert_eq!(p.endpoint, Endpoint::Responses);
        assert!(matches!(p.decoder, Decoder::Responses(_)));
        assert!(body_of(&p).get("input").is_some() && body_of(&p).get("messages").is_none());
        assert!(p
            .headers
            .iter()
            .any(|(k, v)| k == "X-Initiator" && v == "user"));

        let both = model(r#"["/chat/completions","/responses"]"#);
        let p = prepare("m", Some(&both), &hello()).unwrap();
        assert_eq!(p.endpoint, Endpoint::ChatCompletions);
        assert!(matches!(p.decoder, Decoder::Chat(_)));
        assert!(body_of(&p).get("messages").is_some());

        let p = prepare("unknown", None, &hello()).unwrap();
        assert_eq!(p.endpoint, Endpoint::ChatCompletions);

        let messages_only = model(r#"["/v1/messages"]"#);
        assert!(matches!(
            prepare("m", Some(&messages_only), &hello()),
            Err(Error::NotSupported(_))
        ));
    }
}
