//! The provider: joins the protocol steps (credentials → session → catalog → chat) and owns
//! the state that lives as long as the instance: the credential, the session token, the
//! catalog and the open streams.
//!
//! Everything goes through [`HostApi`], so this is tested natively with a fake host. Caches
//! are only ever refreshed on a reason: a session token that changed, a failure, a sign-out.

use std::collections::BTreeMap;

use crate::catalog::model::Model;
use crate::catalog::select::{self, Selection};
use crate::catalog::present;
use crate::catalog::wire;
use crate::catalog::cache::{CatalogCache, Models};
use crate::catalog::policy;
use crate::completion::token_count;
use crate::completion::tokens::Tokenizer;
use crate::completion::routing;
use crate::provider::stream::{OpenStream, Step};
use crate::auth::credentials::{self, Credential, STORED_TOKEN_KEY};
use crate::error::Error;
use crate::provider::doctor;
use crate::headers;
use crate::auth::oauth;
use crate::provider::quota::{self, Quota};
use crate::provider::retry::{self, Planned};
use crate::provider::opening::{ChatRequest, Opening, Outcome, Retries};
use crate::host_api::{
    HostApi, HttpMethod, HttpRequest, LogLevel, RedirectPolicy,
};
use crate::auth::session::{Auth, AuthKind, SessionCache};
use crate::settings::Settings;
use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionEvent, CompletionRequest, ModelInfo,
};

/// The one provider this extension registers; equals the manifest key.
pub const PROVIDER_ID: &str = "copilot-chat";
pub const PROVIDER_NAME: &str = "GitHub Copilot Chat";
pub const PROVIDER_ICON: &str = "icons/copilot.svg";

/// How many times a chat request that failed before any output is sent again at once.
const MAX_IMMEDIATE_RETRIES: usize = 1;

/// The provider state of one instance.
pub struct Provider {
    settings_json: Option<String>,
    settings: Settings,
    credential: Option<Credential>,
    session: SessionCache,
    /// The selected catalog, the bearer it was fetched with, the last good list and the
    /// backoff after failures (see `catalog::cache`).
    catalog: CatalogCache,
    streams: BTreeMap<u64, OpenStream>,
    /// Streams whose request is sent but whose response headers are not classified yet.
    opening: BTreeMap<u64, Opening>,
    /// Streams whose request a short rate limit refused, waiting for their retry time.
    waiting: BTreeMap<u64, Planned>,
    next_stream: u64,
    /// The latest `x-quota-snapshot-*` headers seen on a completion answer (or, before any,
    /// the account's quotas from `/copilot_internal/user`).
    quota: Option<Quota>,
    /// `/copilot_internal/user` was asked since the credential was last forgotten.
    quota_looked_up: bool,
    /// A device-flow sign-in in progress.
    sign_in: Option<oauth::DeviceFlow>,
}

impl Default for Provider {
    fn default() -> Self {
        Provider::new()
    }
}

impl Provider {
    pub fn new() -> Provider {
        Provider {
            settings_json: None,
            settings: Settings::default(),
            credential: None,
            session: SessionCache::new(),
            catalog: CatalogCache::new(),
            streams: BTreeMap::new(),
            opening: BTreeMap::new(),
            waiting: BTreeMap::new(),
            next_stream: 0,
            quota: None,
            quota_looked_up: false,
            sign_in: None,
        }
    }

    /// Re-reads the settings; when they changed, every cache built on them is dropped.
    fn refresh_settings(&mut self, host: &dyn HostApi) {
        let json = host.settings_json();
        if self.settings_json.as_deref() == Some(json.as_str()) {
            return;
        }
        let (settings, warnings) = Settings::parse(&json);
        for w in warnings {
            host.log(LogLevel::Warn, &format!("settings: {w}"));
        }
        if self.settings_json.is_some() {
            self.forget_session();
        }
        self.settings = settings;
        self.settings_json = Some(json);
    }

    fn forget_session(&mut self) {
        self.quota = None;
        self.quota_looked_up = false;
        self.credential = None;
        self.session.clear();
        self.catalog.clear();
    }

    /// The cached credential, or a fresh look when there is none yet.
    fn credential(&mut self, host: &dyn HostApi) -> Result<Credential, Error> {
        if let Some(c) = &self.credential {
            return Ok(c.clone());
        }
        let found = credentials::discover(host, &self.settings)?;
        host.log(LogLevel::Info, &format!("using the GitHub credential from {}", found.source));
        self.credential = Some(found.clone());
        Ok(found)
    }

    /// A bearer for the Copilot API. When the exchange rejects the credential, the user may
    /// have signed in again elsewhere: look once more before giving up.
    fn auth(&mut self, host: &dyn HostApi) -> Result<Auth, Error> {
        self.refresh_settings(host);
        let credential = self.credential(host)?;
        match self.session.auth(host, &self.settings, &credential) {
            Err(Error::Unauthorized(u)) => {
                // The user may have signed in again since: look once more. When the same
                // token comes back, our own stored sign-in (the last source) may still hold a
                // good one that the refused token shadows.
                self.credential = None;
                let mut fresh = self.credential(host)?;
                if fresh.token == credential.token {
                    match credentials::stored(host, &self.settings) {
                        Some(stored) if stored.token != credential.token => fresh = stored,
                        _ => return Err(Error::Unauthorized(u)),
                    }
                }
                let auth = self.session.auth(host, &self.settings, &fresh)?;
                self.credential = Some(fresh);
                Ok(auth)
            }
            other => other,
        }
    }

    pub fn is_authenticated(&mut self, host: &dyn HostApi) -> bool {
        self.refresh_settings(host);
        self.credential(host).is_ok()
    }

    /// Runs `call` with `auth`. A 401 (or a 403 without Copilot's envelope) on a session token
    /// means the token expired or was revoked early: exchange again once and replay once.
    fn with_auth<T>(
        &mut self,
        host: &dyn HostApi,
        auth: Auth,
        mut call: impl FnMut(&Settings, &Auth) -> Result<T, Error>,
    ) -> Result<T, Error> {
        match call(&self.settings, &auth) {
            Err(Error::Unauthorized(_)) if auth.kind == AuthKind::Session => {
                let auth = self.reauthorize(host)?;
                call(&self.settings, &auth)
            }
            other => other,
        }
    }

    /// Forgets a session token the Copilot API refused and exchanges again.
    fn reauthorize(&mut self, host: &dyn HostApi) -> Result<Auth, Error> {
        host.log(LogLevel::Info, "the Copilot API refused the session token; exchanging again");
        self.session.invalidate();
        self.catalog.invalidate();
        self.auth(host)
    }

    /// The selected catalog, fetched when missing or when the bearer changed since. `auth`
    /// is updated when a refused session token had to be exchanged again.
    ///
    /// A failed fetch answers the last good list (with a warning) and the next fetch waits for
    /// a backoff on the host clock; policies are applied to every fresh list (`policy::apply`).
    fn catalog(&mut self, host: &dyn HostApi, auth: &mut Auth) -> Result<Models, Error> {
        if let Some(models) = self.catalog.fresh(&auth.bearer) {
            return Ok(models);
        }
        let now = host.now_unix();
        if let Some(answer) = self.catalog.while_backing_off(&auth.bearer, now) {
            return answer;
        }
        let fetched = self.with_auth(host, auth.clone(), |settings, auth| {
            Ok((fetch_models(host, settings, auth)?, auth.clone()))
        });
        match fetched {
            Ok(((mut models, selection), used)) => {
                self.catalog.selection = Some(selection);
                policy::apply(host, &self.settings, &used, &mut models, &mut self.catalog.policy_outcomes);
                let models = Models::new(models);
                self.catalog.succeeded(models.clone(), used.bearer.clone());
                *auth = used;
                Ok(models)
            }
            Err(e) => {
                let answer = self.catalog.failed(e.clone(), auth.bearer.clone(), now);
                let wait = self.catalog.retry_in(now).unwrap_or_default();
                let kept = if answer.is_ok() { "keeping the last good list" } else { "no list yet" };
                host.log(LogLevel::Warn, &format!("models: fetch failed ({e}); {kept}; retrying in {wait} s"));
                answer
            }
        }
    }

    /// The catalog fetched again now (see `CatalogCache::force_refresh`).
    pub fn refresh_models(&mut self, host: &dyn HostApi) -> Result<Vec<ModelInfo>, Error> {
        self.catalog.force_refresh();
        self.models(host)
    }

    pub fn models(&mut self, host: &dyn HostApi) -> Result<Vec<ModelInfo>, Error> {
        let mut auth = self.auth(host)?;
        let models = self.catalog(host, &mut auth)?;
        Ok(present::model_infos(&models))
    }

    /// Starts a device-flow sign-in (replacing one in progress) and returns what to show.
    pub fn start_sign_in(&mut self, host: &dyn HostApi) -> Result<oauth::Prompt, Error> {
        self.refresh_settings(host);
        let (flow, prompt) = oauth::start(host, &self.settings)?;
        self.sign_in = Some(flow);
        Ok(prompt)
    }

    /// Polls the sign-in once (never waits). `Ok(true)` once signed in: the caches are
    /// dropped so the next call discovers the stored token. A flow that ended (expired,
    /// denied, refused) is forgotten; a network failure keeps it for the next poll.
    pub fn poll_sign_in(&mut self, host: &dyn HostApi) -> Result<bool, Error> {
        self.refresh_settings(host);
        let Some(flow) = self.sign_in.as_mut() else {
            return Err(Error::InvalidRequest(
                "no device-flow sign-in in progress; start one first".to_string(),
            ));
        };
        match flow.poll(host, &self.settings) {
            Ok(oauth::Poll::Pending) => Ok(false),
            Ok(oauth::Poll::SignedIn { login }) => {
                self.sign_in = None;
                self.forget_session();
                let who = login.map(|l| format!(" as {l}")).unwrap_or_default();
                host.log(LogLevel::Info, &format!("signed in to GitHub{who}"));
                Ok(true)
            }
            Err(e @ Error::Network(_)) => Err(e),
            Err(e) => {
                self.sign_in = None;
                Err(e)
            }
        }
    }

    /// Signs out: forgets the credential, the session token, the endpoint and the catalog.
    pub fn reset(&mut self, host: &dyn HostApi) -> Result<(), Error> {
        self.sign_in = None;
        self.forget_session();
        host.delete_credential(STORED_TOKEN_KEY)
            .map_err(|e| Error::InvalidRequest(format!("could not delete the stored token: {e:?}")))
    }

    pub fn settings_markdown(&mut self, host: &dyn HostApi) -> String {
        self.refresh_settings(host);
        self.look_up_quota(host);
        let s = &self.settings;
        let mut md = String::from("# GitHub Copilot Chat\n\n");
        md.push_str(
            "Exchanges your GitHub sign-in for a short-lived Copilot session token, as VS Code \
             does, so the full model catalog appears.\n\n",
        );
        md.push_str(&format!("* GitHub host: `{}`\n", s.github_host()));
        md.push_str(&format!("* GitHub API: `{}`\n", s.github_api_base()));
        md.push_str(&format!("* Copilot-Integration-Id: `{}`\n", s.integration_id));
        md.push_str(&format!("* Editor-Version: `{}`\n", s.editor_version));
        if let Some(info) = self.session.current() {
            md.push_str(&format!("* Session: {info}\n"));
        }
        if let Some(quota) = &self.quota {
            md.push_str(&quota.markdown());
        }
        if let Some(models) = self.catalog.known() {
            md.push('\n');
            md.push_str(&present::models_markdown(models, &self.settings.endpoint_preference));
        }
        let report = doctor::report(host, &self.settings, self.session.current(), self.catalog.selection.clone());
        md.push_str(&report.markdown());
        md
    }

    /// The `llm-provider-details` object (see `details`): the known catalog's extra facts, the
    /// latest quota (looked up once like the settings markdown does) and the session state.
    /// Never fetches the catalog.
    pub fn details(&mut self, host: &dyn HostApi) -> serde_json::Value {
        self.refresh_settings(host);
        self.look_up_quota(host);
        let session = self.session.current();
        crate::provider::details::details(
            self.catalog.known(),
            &self.settings.endpoint_preference,
            self.quota.as_ref(),
            session.as_ref(),
        )
    }

    /// Fills the quota from `/copilot_internal/user` once when no completion answer has
    /// brought one yet; a failure only costs the quota section (logged).
    fn look_up_quota(&mut self, host: &dyn HostApi) {
        if self.quota.is_some() || self.quota_looked_up {
            return;
        }
        self.quota_looked_up = true;
        let Ok(credential) = self.credential(host) else { return };
        match quota::fetch_user_quota(host, &self.settings, &credential.token) {
            Ok(found) => self.quota = found,
            Err(e) => host.log(LogLevel::Info, &format!("quota: {e}")),
        }
    }

    /// Estimated prompt tokens of `request` for the tokenizer of `model_id` (see
    /// `token_count`). Never calls the network: the tokenizer comes from the catalog already
    /// fetched, else `o200k_base`.
    pub fn count_tokens(&self, model_id: &str, request: &CompletionRequest) -> u64 {
        let tokenizer = self
            .catalog
            .known()
            .and_then(|models| select::find(models, model_id))
            .and_then(|m| m.tokenizer.as_deref());
        token_count::count_request(request, Tokenizer::from_name(tokenizer))
    }

    /// Opens a completion stream and returns its id. The request is sent but its answer not
    /// awaited: the headers, and any refusal with its retries, are handled by [`Provider::step`]
    /// (see `opening`), so a server slow to answer blocks no other call.
    pub fn start_stream(
        &mut self,
        host: &dyn HostApi,
        model_id: &str,
        request: &CompletionRequest,
    ) -> Result<String, Error> {
        let mut auth = self.auth(host)?;
        let models = self.catalog(host, &mut auth)?;
        let model = select::find(&models, model_id);
        let routing::Prepared { endpoint, body, headers, decoder } =
            routing::prepare(model_id, model, self.settings.endpoint_preference.for_model(model_id), request)?;
        let chat = ChatRequest { endpoint, body, headers, decoder, auth };
        let retries = Retries {
            immediate: MAX_IMMEDIATE_RETRIES,
            immediate_after_reauth: MAX_IMMEDIATE_RETRIES,
            reauth: true,
            waited: true,
        };
        let opening = Opening::send(host, &self.settings, chat, retries)?;
        let id = self.next_stream;
        self.opening.insert(id, opening);
        self.next_stream += 1;
        Ok(stream_name(id))
    }

    /// Drives a stream waiting for its retry time: `Some(Pending)` before the time on the host
    /// clock (a blocking step waits for it instead), then the request is sent once more (with
    /// one replay after a refused session token, no further retry) and the stream joins the
    /// opening ones (`None`).
    fn resume_waiting(&mut self, host: &dyn HostApi, id: u64, blocking: bool) -> Result<Option<Step>, Error> {
        let Some(planned) = self.waiting.get(&id) else {
            return Ok(None);
        };
        if blocking {
            planned.wait(host);
        } else if !planned.is_due(host.now_unix()) {
            return Ok(Some(Step::Pending));
        }
        let Some(planned) = self.waiting.remove(&id) else {
            return Ok(None);
        };
        let retries = Retries { immediate: 0, immediate_after_reauth: 0, reauth: true, waited: false };
        let opening = Opening::send(host, &self.settings, planned.request, retries)?;
        self.opening.insert(id, opening);
        Ok(None)
    }

    /// Drives a stream whose answer is not classified yet: `Some(Pending)` while its headers
    /// (or error body) are on their way, or while a refusal waits for its retry time; `None`
    /// once it is open (or it is not opening). A refusal is handled as `start` used to handle
    /// it before any output: a refused session token is exchanged again and the request
    /// replayed once (with a fresh immediate-retry budget); a failure
    /// that may pass at once is resent at once (bounded, see [`Error::retry_now`]); a short
    /// rate limit is waited out on the host clock (see `retry`). Anything else, or a refusal
    /// past those budgets, is the stream's error (the stream is freed).
    fn advance_opening(&mut self, host: &dyn HostApi, id: u64, blocking: bool) -> Result<Option<Step>, Error> {
        let Some(mut opening) = self.opening.remove(&id) else {
            return Ok(None);
        };
        let error = match opening.progress(host, blocking, &mut self.quota) {
            Outcome::Pending => {
                self.opening.insert(id, opening);
                return Ok(Some(Step::Pending));
            }
            Outcome::Open => {
                self.streams.insert(id, OpenStream::new(opening.stream, opening.request.decoder));
                return Ok(None);
            }
            Outcome::Refused(error) => error,
        };
        let Opening { mut request, mut retries, .. } = opening;
        match error {
            Error::Unauthorized(_) if request.auth.kind == AuthKind::Session && retries.reauth => {
                request.auth = self.reauthorize(host)?;
                retries.reauth = false;
                retries.immediate = retries.immediate_after_reauth;
            }
            e if e.retry_now() && retries.immediate > 0 => {
                retries.immediate -= 1;
                host.log(LogLevel::Warn, &format!("chat request failed before any output ({e}); retrying"));
            }
            e => {
                let secs = retry::wait_before_retry(&e).filter(|_| retries.waited).ok_or(e)?;
                host.log(LogLevel::Info, &format!("chat request rate-limited before any output; retrying in {secs} s"));
                let not_before = host.now_unix().saturating_add(secs);
                self.waiting.insert(id, Planned { not_before, request });
                return Ok(Some(Step::Pending));
            }
        }
        let opening = Opening::send(host, &self.settings, request, retries)?;
        self.opening.insert(id, opening);
        Ok(Some(Step::Pending))
    }

    /// The next step of a stream. `blocking` waits for the network; otherwise a stream with
    /// nothing to hand out answers [`Step::Pending`].
    pub fn step(&mut self, host: &dyn HostApi, stream_id: &str, blocking: bool) -> Result<Step, Error> {
        let id = self.known_stream(stream_id)?;
        // Each turn either hands out a step or moves the stream on (waiting → opening →
        // open); the retry budgets bound the turns. A blocking step goes on until it has
        // something to hand out.
        loop {
            if let Some(step) = self.resume_waiting(host, id, blocking)? {
                return Ok(step);
            }
            match self.advance_opening(host, id, blocking)? {
                Some(step) if !blocking => return Ok(step),
                Some(_) => continue,
                None => break,
            }
        }
        let Some(stream) = self.streams.get_mut(&id) else {
            return Ok(Step::Finished);
        };
        match stream.advance(blocking) {
            Ok(Step::Event(e)) => {
                if matches!(e, CompletionEvent::Stop(_)) {
                    // The stop is the last event: free the stream now (hosts need not close).
                    self.streams.remove(&id);
                }
                Ok(Step::Event(e))
            }
            Ok(Step::Finished) => {
                self.streams.remove(&id);
                Ok(Step::Finished)
            }
            Ok(Step::Pending) => Ok(Step::Pending),
            Err(e) => {
                self.streams.remove(&id);
                Err(e)
            }
        }
    }

    /// Frees a stream. Idempotent for any id this provider handed out.
    pub fn close_stream(&mut self, stream_id: &str) -> Result<(), Error> {
        let id = self.known_stream(stream_id)?;
        self.streams.remove(&id);
        self.opening.remove(&id);
        self.waiting.remove(&id);
        Ok(())
    }

    /// Number of streams holding state (for tests and memory checks).
    pub fn open_streams(&self) -> usize {
        self.streams.len() + self.opening.len() + self.waiting.len()
    }

    fn known_stream(&self, stream_id: &str) -> Result<u64, Error> {
        stream_id
            .strip_prefix(STREAM_PREFIX)
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n < self.next_stream)
            .ok_or_else(|| Error::InvalidRequest(format!("unknown stream id {stream_id:?}")))
    }
}

const STREAM_PREFIX: &str = "copilot-stream-";

fn stream_name(id: u64) -> String {
    format!("{STREAM_PREFIX}{id}")
}

fn request(method: HttpMethod, url: String, headers: Vec<(String, String)>, body: Option<Vec<u8>>, settings: &Settings) -> HttpRequest {
    HttpRequest {
        method,
        url,
        headers,
        body,
        redirect_policy: RedirectPolicy::FollowLimit(5),
        timeout_ms: Some(settings.request_timeout_secs.saturating_mul(1000).min(u32::MAX as u64) as u32),
        max_body_bytes: Some(MAX_CATALOG_BYTES),
    }
}

/// The most bytes of a `/models` answer the extension accepts: real catalogs are a few hundred
/// KiB; parsing takes several times the text in memory, so this keeps the guest far from its
/// memory cap.
pub const MAX_CATALOG_BYTES: u64 = 16 * 1024 * 1024;

/// `GET {api}/models`, parsed leniently and selected.
fn fetch_models(host: &dyn HostApi, settings: &Settings, auth: &Auth) -> Result<(Vec<Model>, Selection), Error> {
    let url = format!("{}/models", auth.api_base);
    let headers = headers::copilot_headers(settings, &auth.bearer);
    let response = host
        .fetch(request(HttpMethod::Get, url, headers, None, settings))
        .map_err(|e| Error::from_http("model catalog", e))?;
    if !(200..300).contains(&response.status) {
        return Err(Error::from_response_at(response.status, &response.headers, &response.body, host.now_unix()));
    }
    let (models, warnings) = wire::parse_models(&response.body)?;
    for w in warnings {
        host.log(LogLevel::Warn, &format!("models: {w}"));
    }
    Ok(select::select_with_report(models))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_api::ByteStream;
    use crate::testing::hello;
    use crate::bindings::copilot_chat::extension::llm_provider::StopReason;
    use crate::testing::{json_response, FakeHost, MemoryStream, StreamStep};

    const OAUTH: &str = "ghu_providerTest0000000000000000000000";
    const EXCHANGE: &str = "https://api.github.com/copilot_internal/v2/token";
    const API: &str = "https://api.test.githubcopilot.com";

    fn host() -> FakeHost {
        let host = FakeHost::new().with_env("GH_COPILOT_TOKEN", OAUTH).at(1_000_000);
        host.route(EXCHANGE, |_| {
            Ok(json_response(
                200,
                &format!(r#"{{"token":"tid=t;exp=2000000:mac","expires_at":2000000,"refresh_in":1500,"endpoints":{{"api":"{API}"}}}}"#),
            ))
        });
        host.route(&format!("{API}/models"), |_| {
            Ok(json_response(
                200,
                r#"{"data":[{"id":"gpt-4.1","name":"GPT-4.1","is_chat_default":true,"model_picker_enabled":true,
                    "capabilities":{"type":"chat","limits":{"max_prompt_tokens":1000,"max_output_tokens":100},"supports":{"tool_calls":true}},
                    "supported_endpoints":["/chat/completions"]}]}"#,
            ))
        });
        host
    }

    fn sse(lines: &[&str]) -> Vec<u8> {
        lines.iter().map(|l| format!("data: {l}\n\n")).collect::<String>().into_bytes()
    }

    fn answer() -> Vec<StreamStep> {
        vec![
            StreamStep::Data(sse(&[r#"{"choices":[{"index":0,"delta":{"content":"Hel"}}]}"#])),
            StreamStep::Pending,
            StreamStep::Data(sse(&[
                r#"{"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}"#,
            ])),
            StreamStep::Pending,
            StreamStep::Data(sse(&[
                r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
                "[DONE]",
            ])),
        ]
    }

    fn drain(p: &mut Provider, host: &FakeHost, id: &str) -> (Vec<CompletionEvent>, usize) {
        let mut events = Vec::new();
        let mut pendings = 0;
        loop {
            match p.step(host, id, false).expect("step") {
                Step::Event(e) => events.push(e),
                Step::Pending => pendings += 1,
                Step::Finished => return (events, pendings),
            }
        }
    }

    #[test]
    fn usage_after_stop_is_delivered_before_the_stop_and_the_stream_frees_itself() {
        let host = host();
        host.route_stream(&format!("{API}/chat/completions"), |_| {
            Ok(Box::new(MemoryStream::new(200, vec![], answer())))
        });
        let mut p = Provider::new();
        let id = p.start_stream(&host, "gpt-4.1", &hello()).expect("start");
        let (events, pendings) = drain(&mut p, &host, &id);
        assert_eq!(pendings, 2, "poll reports pending instead of blocking");
        assert!(matches!(events[0], CompletionEvent::Started));
        assert!(matches!(events[events.len() - 2], CompletionEvent::Usage(_)), "{events:?}");
        assert!(matches!(events.last(), Some(CompletionEvent::Stop(StopReason::EndTurn))));
        assert_eq!(p.open_streams(), 0);
        // A finished stream: `next` says finished and `close` is idempotent.
        assert!(matches!(p.step(&host, &id, true), Ok(Step::Finished)));
        assert!(p.close_stream(&id).is_ok());
        assert!(p.close_stream(&id).is_ok());
    }

    #[test]
    fn unknown_stream_ids_are_errors() {
        let mut p = Provider::new();
        for id in ["copilot-stream-0", "nonsense", ""] {
            assert!(matches!(p.step(&FakeHost::new(), id, false), Err(Error::InvalidRequest(_))), "{id}");
            assert!(matches!(p.close_stream(id), Err(Error::InvalidRequest(_))), "{id}");
        }
    }

    #[test]
    fn close_frees_an_open_stream() {
        let host = host();
        host.route_stream(&format!("{API}/chat/completions"), |_| {
            Ok(Box::new(MemoryStream::new(200, vec![], answer())))
        });
        let mut p = Provider::new();
        let id = p.start_stream(&host, "gpt-4.1", &hello()).expect("start");
        assert_eq!(p.open_streams(), 1);
        p.close_stream(&id).expect("close");
        assert_eq!(p.open_streams(), 0);
        assert!(matches!(p.step(&host, &id, false), Ok(Step::Finished)));
    }

    #[test]
    fn a_refused_session_token_is_exchanged_again_and_the_request_replayed_once() {
        let host = host();
        let calls = std::rc::Rc::new(std::cell::Cell::new(0));
        let seen = calls.clone();
        host.route_stream(&format!("{API}/chat/completions"), move |_| {
            seen.set(seen.get() + 1);
            if seen.get() == 1 {
                Ok(Box::new(MemoryStream::new(401, vec![], vec![StreamStep::Data(b"{\"message\":\"expired\"}".to_vec())])))
            } else {
                Ok(Box::new(MemoryStream::new(200, vec![], answer())))
            }
        });
        let mut p = Provider::new();
        let id = p.start_stream(&host, "gpt-4.1", &hello()).expect("replayed");
        let (events, _) = drain(&mut p, &host, &id);
        assert!(events.iter().any(|e| matches!(e, CompletionEvent::Text(_))));
        assert_eq!(calls.get(), 2);
        assert_eq!(host.request_count(EXCHANGE), 2);
    }

    #[test]
    fn a_second_refusal_is_unauthorized() {
        let host = host();
        host.route_stream(&format!("{API}/chat/completions"), |_| {
            Ok(Box::new(MemoryStream::new(401, vec![], vec![StreamStep::Data(b"{\"message\":\"nope\"}".to_vec())])))
        });
        let mut p = Provider::new();
        let id = p.start_stream(&host, "gpt-4.1", &hello()).expect("sent; the answer comes with the first step");
        assert!(matches!(p.step(&host, &id, false), Ok(Step::Pending)), "the replay is on its way");
        assert!(matches!(p.step(&host, &id, false), Err(Error::Unauthorized(_))));
        assert_eq!(host.request_count(EXCHANGE), 2, "one re-exchange, no loop");
        assert_eq!(p.open_streams(), 0, "the refused stream is freed");
    }

    fn slow_answer(not_ready_polls: usize) -> Box<dyn ByteStream> {
        Box::new(MemoryStream::new(200, vec![], answer()).not_ready_for(not_ready_polls))
    }

    #[test]
    fn a_stream_whose_headers_have_not_arrived_is_pending_and_blocks_no_other_call() {
        let host = host();
        let calls = std::rc::Rc::new(std::cell::Cell::new(0));
        let seen = calls.clone();
        // The first request's server is slow to send its headers; the second answers at once.
        host.route_stream(&format!("{API}/chat/completions"), move |_| {
            seen.set(seen.get() + 1);
            Ok(if seen.get() == 1 { slow_answer(3) } else { slow_answer(0) })
        });
        let mut p = Provider::new();
        let slow = p.start_stream(&host, "gpt-4.1", &hello()).expect("start does not wait for headers");
        // MemoryStream fails the test if `status` is asked before `ready`.
        for _ in 0..3 {
            assert!(matches!(p.step(&host, &slow, false), Ok(Step::Pending)));
        }
        let fast = p.start_stream(&host, "gpt-4.1", &hello()).expect("start");
        let (events, _) = drain(&mut p, &host, &fast);
        assert!(events.iter().any(|e| matches!(e, CompletionEvent::Text(_))));
        assert!(!p.models(&host).expect("models").is_empty());
        let (events, _) = drain(&mut p, &host, &slow);
        assert!(events.iter().any(|e| matches!(e, CompletionEvent::Text(_))));
        assert_eq!(calls.get(), 2);
        assert_eq!(p.open_streams(), 0);
    }

    #[test]
    fn the_blocking_step_pauses_until_the_headers_arrive() {
        let host = host();
        host.route_stream(&format!("{API}/chat/completions"), |_| Ok(slow_answer(5)));
        let mut p = Provider::new();
        let id = p.start_stream(&host, "gpt-4.1", &hello()).expect("start");
        let before = host.clock.get();
        assert!(matches!(p.step(&host, &id, true), Ok(Step::Event(CompletionEvent::Started))));
        assert!(host.clock.get() > before, "the fake clock moved through the pauses");
    }

    #[test]
    fn a_failure_before_the_headers_is_the_first_steps_typed_error() {
        let host = host();
        host.route_stream(&format!("{API}/chat/completions"), |_| {
            let failed = MemoryStream::new(0, vec![], vec![StreamStep::Fail(crate::host_api::HttpError::Timeout)]);
            Ok(Box::new(failed.not_ready_for(2)))
        });
        let mut p = Provider::new();
        let id = p.start_stream(&host, "gpt-4.1", &hello()).expect("start");
        assert!(matches!(p.step(&host, &id, false), Ok(Step::Pending)));
        assert!(matches!(p.step(&host, &id, false), Ok(Step::Pending)));
        match p.step(&host, &id, false) {
            Err(Error::Network(m)) => assert!(m.contains("timed out"), "{m}"),
            Err(e) => panic!("unexpected error {e:?}"),
            Ok(_) => panic!("expected the timeout"),
        }
        assert_eq!(p.open_streams(), 0);
        assert!(matches!(p.step(&host, &id, false), Ok(Step::Finished)));
    }

    #[test]
    fn a_refused_token_does_not_shadow_our_own_stored_sign_in() {
        let host = FakeHost::new().with_env("GH_COPILOT_TOKEN", OAUTH).at(1_000_000);
        let stored = "ghu_freshSignIn00000000000000000000000";
        host.credentials.borrow_mut().insert(
            STORED_TOKEN_KEY.to_string(),
            credentials::StoredToken { host: "github.com".into(), token: stored.into(), login: Some("me".into()), api: None }.to_json(),
        );
        host.route(EXCHANGE, move |r| {
            let auth = crate::testing::request_header(r, "authorization").unwrap_or_default();
            if auth.contains(OAUTH) {
                return Ok(json_response(401, r#"{"message":"Bad credentials"}"#));
            }
            Ok(json_response(
                200,
                &format!(r#"{{"token":"tid=t;exp=2000000:mac","expires_at":2000000,"refresh_in":1500,"endpoints":{{"api":"{API}"}}}}"#),
            ))
        });
        host.route(&format!("{API}/models"), |_| Ok(json_response(200, r#"{"data":[{"id":"gpt-4.1","capabilities":{"type":"chat"}}]}"#)));
        let mut p = Provider::new();
        assert_eq!(p.models(&host).expect("the stored sign-in is used").len(), 1);
        p.models(&host).expect("models");
        assert_eq!(host.request_count(EXCHANGE), 2, "one refusal, then the stored token, then cached");
    }

    #[test]
    fn changed_settings_drop_the_session() {
        let mut host = host();
        let mut p = Provider::new();
        p.models(&host).expect("models");
        p.models(&host).expect("models");
        assert_eq!(host.request_count(EXCHANGE), 1);
        assert_eq!(host.request_count(&format!("{API}/models")), 1, "catalog cached");
        host.settings = r#"{"integration_id":"other"}"#.to_string();
        p.models(&host).expect("models");
        assert_eq!(host.request_count(EXCHANGE), 2);
    }
}
