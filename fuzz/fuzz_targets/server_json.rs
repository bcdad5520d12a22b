//! Every other parser of what a server or the user hands us: the token-exchange answer, the
//! model catalog (and what is built from it), error bodies, quota headers, the user-info
//! answer and the settings JSON. Never a panic.
#![no_main]

use copilot_chat::catalog::{present, select, wire};
use copilot_chat::error::Error;
use copilot_chat::provider::quota::Quota;
use copilot_chat::auth::session::parse_envelope;
use copilot_chat::settings::Settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_envelope(data);

    if let Ok((models, _warnings)) = wire::parse_models(data) {
        let selected = select::select(models);
        let _ = present::model_infos(&selected);
        let _ = present::models_markdown(&selected);
    }

    for status in [400, 401, 402, 403, 429, 500] {
        let headers = vec![("retry-after".to_string(), String::from_utf8_lossy(&data[..data.len().min(40)]).into_owned())];
        let e = Error::from_response_at(status, &headers, data, 1_800_000_000);
        let _ = e.to_string();
    }

    let _ = Quota::from_user_info(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let headers = vec![("x-quota-snapshot-premium_interactions".to_string(), text.to_string())];
        let _ = Quota::from_headers(&headers);
        let (settings, _warnings) = Settings::parse(text);
        let _ = settings.github_host();
        let _ = settings.github_api_base();
    }
});
