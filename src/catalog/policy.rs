//! Enabling a model's policy for the account: `POST {api}/models/{id}/policy`
//! `{"state":"enabled"}` (copilot-protocol.md §3.4).
//!
//! Design decision: enabling a model accepts its terms on the user's behalf, so it happens
//! only when the user opted in (`enable_model_policies`, default off), and at most once per
//! model per instance: a refused request is not repeated on every catalog fetch, and a model
//! enabled once stays enabled even if a later catalog still lags behind. Without the opt-in,
//! or when the request fails, the model stays listed and marked as needing enablement
//! (`catalog::display_name`, `catalog::models_markdown`), which tells the user what to do.

use std::collections::BTreeMap;

use crate::catalog::model::Model;
use crate::error::Error;
use crate::headers;
use crate::host_api::{HostApi, HttpMethod, HttpRequest, LogLevel, RedirectPolicy};
use crate::auth::session::Auth;
use crate::settings::Settings;

/// The most bytes of a policy answer the extension accepts (a real one is a few hundred).
pub const MAX_POLICY_ANSWER_BYTES: u64 = 256 * 1024;

/// The body that enables a model.
const ENABLE_BODY: &str = r#"{"state":"enabled"}"#;
/// Redirects followed by the policy request.
const MAX_REDIRECTS: u32 = 5;

/// What happened to each policy request of this instance, by model id (`true` = enabled).
pub type Outcomes = BTreeMap<String, bool>;

/// Applies the policy rules to freshly fetched `models`: models enabled earlier are marked
/// enabled; when `settings.enable_model_policies` is on, every other model that needs
/// enablement and was not asked for yet is enabled with one request, and marked enabled when
/// the server answers 2xx. Failures are logged and leave the model marked as needing
/// enablement.
pub fn apply(
    host: &dyn HostApi,
    settings: &Settings,
    auth: &Auth,
    models: &mut [Model],
    outcomes: &mut Outcomes,
) {
    for model in models.iter_mut().filter(|m| m.needs_enablement()) {
        match outcomes.get(&model.id) {
            Some(true) => model.mark_enabled(),
            Some(false) => {}
            None if settings.enable_model_policies => {
                let enabled = match enable(host, settings, auth, &model.id) {
                    Ok(()) => {
                        host.log(
                            LogLevel::Info,
                            &format!("models: enabled the policy of {}", model.id),
                        );
                        model.mark_enabled();
                        true
                    }
                    Err(e) => {
                        host.log(
                            LogLevel::Warn,
                            &format!("models: could not enable the policy of {}: {e}", model.id),
                        );
                        false
                    }
                };
                outcomes.insert(model.id.clone(), enabled);
            }
            None => {}
        }
    }
}

/// One `POST {api}/models/{id}/policy`; success is any 2xx (the body is not used).
fn enable(
    host: &dyn HostApi,
    settings: &Settings,
    auth: &Auth,
    model_id: &str,
) -> Result<(), Error> {
    let url = format!("{}/models/{}/policy", auth.api_base, path_segment(model_id));
    let mut headers = headers::copilot_headers(settings, &auth.bearer);
    headers.push(("Content-Type".to_string(), "application/json".to_string()));
    let response = host.fetch(HttpRequest {
        method: HttpMethod::Post,
        url,
        headers,
        body: Some(ENABLE_BODY.as_bytes().to_vec()),
        redirect_policy: RedirectPolicy::FollowLimit(MAX_REDIRECTS),
        timeout_ms: Some(settings.request_timeout_ms()),
        max_body_bytes: Some(MAX_POLICY_ANSWER_BYTES),
    })
    .map_err(|e| Error::from_http("policy", e))?;
    if (200..300).contains(&response.status) {
        Ok(())
    } else {
        Err(Error::from_response(
            response.status,
            &response.headers,
            &response.body,
        ))
    }
}

/// A model id as one URL path segment: ids are server text, so anything outside the
/// unreserved set is percent-encoded (a `/` must not reach another route).
fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::wire::parse_models;
    use crate::auth::session::AuthKind;
    use crate::testing::{json_response, FakeHost};

    const API: &str = "https://api.test";

    fn auth() -> Auth {
        Auth {
            bearer: "tid=t;exp=1:mac".into(),
            api_base: API.into(),
            kind: AuthKind::Session,
        }
    }

    fn models() -> Vec<Model> {
        let body = r#"{"data":[
            {"id":"on","policy":{"state":"enabled"}},
            {"id":"ask","policy":{"state":"unconfigured","terms":"T"}},
            {"id":"consent","policy":{"state":"requires_consent"}},
            {"id":"off","policy":{"state":"disabled"}},
            {"id":"none"}]}"#;
        parse_models(body.as_bytes()).expect("fixture").0
    }

    fn settings(enable: bool) -> Settings {
        Settings {
            enable_model_policies: enable,
            ..Settings::default()
        }
    }

    fn pending(models: &[Model]) -> Vec<&str> {
        models
            .iter()
            .filter(|m| m.needs_enablement())
            .map(|m| m.id.as_str())
            .collect()
    }

    #[test]
    fn without_the_setting_nothing_is_requested() {
        let host = FakeHost::new();
        let mut list = models();
        let mut outcomes = Outcomes::new();
        apply(&host, &settings(false), &auth(), &mut list, &mut outcomes);
        assert_eq!(host.requests().len(), 0);
        assert_eq!(pending(&list), ["ask", "consent"]);
    }

    #[test]
    fn with_the_setting_each_model_is_enabled_once() {
        let host = FakeHost::new();
        host.route(&format!("{API}/models/ask/policy"), |_| {
            Ok(json_response(200, r#"{"state":"enabled"}"#))
        });
        host.route(&format!("{API}/models/consent/policy"), |_| {
            Ok(json_response(403, r#"{"error":{"message":"no"}}"#))
        });
        let mut list = models();
        let mut outcomes = Outcomes::new();
        apply(&host, &settings(true), &auth(), &mut list, &mut outcomes);
        assert_eq!(
            pending(&list),
            ["consent"],
            "a refused request leaves the model marked"
        );
        let sent = host.requests();
        assert_eq!(sent.len(), 2);
        assert!(matches!(sent[0].method, HttpMethod::Post));
        assert_eq!(sent[0].body.as_deref(), Some(ENABLE_BODY.as_bytes()));
        assert!(host
            .log_text()
            .contains("could not enable the policy of consent"));

        // A refetch still showing the old state: no new requests, the enabled model stays so.
        let mut again = models();
        apply(&host, &settings(true), &auth(), &mut again, &mut outcomes);
        assert_eq!(host.requests().len(), 2);
        assert_eq!(pending(&again), ["consent"]);
    }

    #[test]
    fn ids_are_one_path_segment() {
        assert_eq!(path_segment("gpt-4.1"), "gpt-4.1");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
    }
}
