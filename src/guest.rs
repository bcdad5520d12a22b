//! The component's exports and the [`HostApi`] over its imports. Glue only: every decision
//! lives in the plain modules. Compiled for wasm only (imports abort natively).

use std::cell::RefCell;

use crate::bindings::copilot_chat::extension::{host as wit_host, http_client};
use crate::bindings::copilot_chat::extension::llm_provider::{
    AccessDeniedInfo, CacheConfiguration, CompletionEvent, CompletionRequest, ContextTooLongInfo,
    DeviceFlowPrompt, ModelInfo, NotSignedInInfo, ProviderError, ProviderInfo, QuotaInfo,
    RateLimitInfo, StreamPoll, UpstreamInfo,
};
use crate::bindings::Guest;
use crate::error::{Error, Upstream};
use crate::host_api::{
    ByteStream, ChunkPoll, CredentialError, FileError, HostApi, HttpError, HttpRequest,
    HttpResponse, LogLevel, Os,
};
use crate::provider::instance::{Provider, PROVIDER_ICON, PROVIDER_ID, PROVIDER_NAME};
use crate::provider::stream::Step;

thread_local! {
    static PROVIDER: RefCell<Provider> = RefCell::new(Provider::new());
}

/// The WIT imports as a [`HostApi`].
struct WitHost;

struct WitStream(http_client::HttpResponseStream);

impl ByteStream for WitStream {
    fn ready(&self) -> bool {
        self.0.ready()
    }
    fn status(&self) -> u16 {
        self.0.status()
    }
    fn headers(&self) -> Vec<(String, String)> {
        self.0.headers()
    }
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        self.0.next_chunk()
    }
    fn poll_chunk(&mut self) -> Result<ChunkPoll, HttpError> {
        self.0.poll_chunk()
    }
}

impl HostApi for WitHost {
    fn env(&self, name: &str) -> Option<String> {
        wit_host::get_env_var(name)
    }
    fn read_file(&self, path: &str) -> Result<Vec<u8>, FileError> {
        wit_host::read_file(path)
    }
    fn settings_json(&self) -> String {
        wit_host::get_settings()
    }
    fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        http_client::fetch(&request)
    }
    fn fetch_stream(&self, request: &HttpRequest) -> Result<Box<dyn ByteStream>, HttpError> {
        http_client::fetch_stream(request).map(|s| Box::new(WitStream(s)) as Box<dyn ByteStream>)
    }
    fn now_unix(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
    fn pause(&self, millis: u64) {
        std::thread::sleep(std::time::Duration::from_millis(millis));
    }
    fn os(&self) -> Os {
        wit_host::get_platform().0
    }
    fn log(&self, level: LogLevel, message: &str) {
        wit_host::log(level, &crate::error::redact(message));
    }
    fn get_credential(&self, key: &str) -> Result<Option<String>, CredentialError> {
        wit_host::get_credential(key)
    }
    fn store_credential(&self, key: &str, value: &str) -> Result<(), CredentialError> {
        wit_host::store_credential(key, value)
    }
    fn delete_credential(&self, key: &str) -> Result<(), CredentialError> {
        wit_host::delete_credential(key)
    }
}

fn with_provider<T>(f: impl FnOnce(&mut Provider, &dyn HostApi) -> T) -> T {
    PROVIDER.with(|p| f(&mut p.borrow_mut(), &WitHost))
}

fn check_provider(provider_id: &str) -> Result<(), ProviderError> {
    if provider_id == PROVIDER_ID {
        Ok(())
    } else {
        Err(ProviderError::InvalidRequest(format!("unknown provider {provider_id:?}")))
    }
}

fn upstream(u: Upstream) -> UpstreamInfo {
    UpstreamInfo { status: u.status, message: u.message, request_id: u.request_id }
}

/// The edge: the one place the internal error becomes the WIT variant.
fn to_wit(e: Error) -> ProviderError {
    match e {
        Error::NotSignedIn { searched } => ProviderError::NotSignedIn(NotSignedInInfo { searched }),
        Error::Unauthorized(u) => ProviderError::Unauthorized(upstream(u)),
        Error::NoCopilotAccess { message, notification_id, url } => {
            ProviderError::NoCopilotAccess(AccessDeniedInfo { message, notification_id, url })
        }
        Error::RateLimited { message, code, retry_after_secs } => {
            ProviderError::RateLimited(RateLimitInfo { message, code, retry_after_secs })
        }
        Error::QuotaExceeded { message, code, retry_after_secs } => {
            ProviderError::QuotaExceeded(QuotaInfo { message, code, retry_after_secs })
        }
        Error::ModelNotSupported(u) => ProviderError::ModelNotSupported(upstream(u)),
        Error::ContextTooLong { message, limit, actual } => {
            ProviderError::ContextTooLong(ContextTooLongInfo { message, limit, actual })
        }
        Error::Network(m) => ProviderError::Network(m),
        Error::Upstream(u) => ProviderError::Upstream(upstream(u)),
        Error::InvalidRequest(m) => ProviderError::InvalidRequest(m),
        Error::NotSupported(m) => ProviderError::NotSupported(m),
    }
}

struct Component;

impl Guest for Component {
    fn llm_providers() -> Vec<ProviderInfo> {
        vec![ProviderInfo {
            id: PROVIDER_ID.to_string(),
            name: PROVIDER_NAME.to_string(),
            icon: Some(PROVIDER_ICON.to_string()),
        }]
    }

    fn llm_provider_models(provider_id: String) -> Result<Vec<ModelInfo>, ProviderError> {
        check_provider(&provider_id)?;
        with_provider(|p, h| p.models(h)).map_err(to_wit)
    }

    fn llm_provider_refresh_models(provider_id: String) -> Result<Vec<ModelInfo>, ProviderError> {
        check_provider(&provider_id)?;
        with_provider(|p, h| p.refresh_models(h)).map_err(to_wit)
    }

    fn llm_provider_settings_markdown(provider_id: String) -> Option<String> {
        check_provider(&provider_id).ok()?;
        Some(with_provider(|p, h| p.settings_markdown(h)))
    }

    fn llm_provider_is_authenticated(provider_id: String) -> bool {
        check_provider(&provider_id).is_ok() && with_provider(|p, h| p.is_authenticated(h))
    }

    fn llm_provider_start_device_flow_sign_in(provider_id: String) -> Result<DeviceFlowPrompt, ProviderError> {
        check_provider(&provider_id)?;
        let prompt = with_provider(|p, h| p.start_sign_in(h)).map_err(to_wit)?;
        // The host decides whether a browser may open; when it may not, the prompt's URL
        // and code are all the user needs.
        if let Err(why) = wit_host::open_browser(&prompt.verification_url) {
            wit_host::log(LogLevel::Debug, &format!("sign-in: browser not opened: {why}"));
        }
        Ok(prompt.device_flow_prompt())
    }

    fn llm_provider_poll_device_flow_sign_in(provider_id: String) -> Result<bool, ProviderError> {
        check_provider(&provider_id)?;
        with_provider(|p, h| p.poll_sign_in(h)).map_err(to_wit)
    }

    fn llm_provider_reset_credentials(provider_id: String) -> Result<(), ProviderError> {
        check_provider(&provider_id)?;
        with_provider(|p, h| p.reset(h)).map_err(to_wit)
    }

    /// An estimate (see `tokens.rs` for its measured error), never a network call.
    fn llm_count_tokens(provider_id: String, model_id: String, request: CompletionRequest) -> Result<u64, ProviderError> {
        check_provider(&provider_id)?;
        Ok(with_provider(|p, _| p.count_tokens(&model_id, &request)))
    }

    fn llm_stream_completion_start(provider_id: String, model_id: String, request: CompletionRequest) -> Result<String, ProviderError> {
        check_provider(&provider_id)?;
        with_provider(|p, h| p.start_stream(h, &model_id, &request)).map_err(to_wit)
    }

    fn llm_stream_completion_next(stream_id: String) -> Result<Option<CompletionEvent>, ProviderError> {
        match with_provider(|p, h| p.step(h, &stream_id, true)).map_err(to_wit)? {
            Step::Event(e) => Ok(Some(e)),
            Step::Finished => Ok(None),
            // A blocking step never answers pending; treat it as the end rather than trap.
            Step::Pending => Ok(None),
        }
    }

    fn llm_stream_completion_poll(stream_id: String) -> Result<StreamPoll, ProviderError> {
        Ok(match with_provider(|p, h| p.step(h, &stream_id, false)).map_err(to_wit)? {
            Step::Event(e) => StreamPoll::Event(e),
            Step::Pending => StreamPoll::Pending,
            Step::Finished => StreamPoll::Finished,
        })
    }

    fn llm_stream_completion_close(stream_id: String) -> Result<(), ProviderError> {
        with_provider(|p, _| p.close_stream(&stream_id)).map_err(to_wit)
    }

    fn llm_provider_details(provider_id: String) -> Option<String> {
        check_provider(&provider_id).ok()?;
        Some(with_provider(|p, h| p.details(h)).to_string())
    }

    fn llm_cache_configuration(_provider_id: String, _model_id: String) -> Option<CacheConfiguration> {
        None
    }
}

crate::bindings::export!(Component with_types_in crate::bindings);
