//! What the protocol modules share on the contract's side: the message list a request maps
//! to ([`Turns`]), and opening a completion and reading the catalog with the failures
//! classified once: a [`ProviderError`] (the extension's typed answer) or a host failure (the
//! guest trapped or the instance is poisoned). Each protocol turns them into its own error
//! shape; the OpenAI handlers in `serve.rs` predate this and do the same inline.

use crate::contract::llm_provider::{
    CompletionEvent, CompletionRequest, MessageContent, MessageRole, ModelInfo, ProviderError,
    RequestMessage, UpstreamInfo,
};
use crate::runtime::CompletionStream;

use crate::serve::context::Context;

/// A request's message list as it is mapped, turn by turn: the results of consecutive
/// tool messages (OpenAI's and Ollama's `role: tool`) share one user message, as one turn's
/// results do in the contract.
#[derive(Default)]
pub(crate) struct Turns {
    messages: Vec<RequestMessage>,
    after_tool: bool,
}

impl Turns {
    /// Appends a message that is not a tool result.
    pub(crate) fn push(&mut self, message: RequestMessage) {
        self.after_tool = false;
        self.messages.push(message);
    }

    /// Appends a tool result: to the user message holding the results just before it, else
    /// in a new user message.
    pub(crate) fn push_tool_result(&mut self, result: MessageContent) {
        match self.messages.last_mut() {
            Some(last) if self.after_tool => last.content.push(result),
            _ => self.messages.push(RequestMessage {
                role: MessageRole::User,
                content: vec![result],
                cache: false,
            }),
        }
        self.after_tool = true;
    }

    /// The mapped messages.
    pub(crate) fn into_messages(self) -> Vec<RequestMessage> {
        self.messages
    }
}

/// Who an upstream answer that the extension passed on untyped (`upstream(info)`) blames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blame {
    /// The client's request was refused as it stands (a 4xx such as 400 `messages: []`,
    /// 404 unknown model, 413, 422): the serve answer keeps this status and the reason, so
    /// SDKs do not retry a request that cannot pass.
    Client(u16),
    /// The service failed (5xx, an unexpected status): 502/503 in the protocol's shape.
    Service,
    /// Status 0: a host-side failure, not an upstream answer (500).
    Host,
}

/// The one mapping of an upstream status every protocol uses.
pub(crate) fn blame(info: &UpstreamInfo) -> Blame {
    match info.status {
        0 => Blame::Host,
        // 408 (the service timed out) and 429 (typed as a rate limit when classified) are
        // not the request's fault.
        400 | 404 | 405 | 409 | 410 | 411 | 413 | 414 | 415 | 422 => Blame::Client(info.status),
        _ => Blame::Service,
    }
}

/// Why a call into the extension failed.
pub(super) enum Failure {
    /// The extension's typed error.
    Provider(ProviderError),
    /// The host could not complete the call (a trap); the message is already redacted.
    Host(String),
}

impl Failure {
    fn host(error: &anyhow::Error) -> Failure {
        Failure::Host(crate::log::redact(&format!("{error:#}")))
    }
}

/// A started completion and its first event (`None`: it ended without any).
pub(super) struct Opened {
    pub stream: CompletionStream,
    pub first: Option<CompletionEvent>,
}

/// Starts a completion and waits for its first event, so that a failure known at once gets a
/// real HTTP status instead of an error inside a 200.
pub(super) fn open(
    ctx: &Context,
    model: &str,
    request: CompletionRequest,
) -> Result<Opened, Failure> {
    let mut stream = match ctx.ext.stream(&ctx.provider, model, request) {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return Err(Failure::Provider(error)),
        Err(error) => return Err(Failure::host(&error)),
    };
    match next(&mut stream) {
        Some(Ok(event)) => Ok(Opened {
            stream,
            first: Some(event),
        }),
        None => Ok(Opened {
            stream,
            first: None,
        }),
        Some(Err(failure)) => Err(failure),
    }
}

/// The next event; `None` at the end.
pub(super) fn next(stream: &mut CompletionStream) -> Option<Result<CompletionEvent, Failure>> {
    match stream.next_event() {
        Ok(Some(Ok(event))) => Some(Ok(event)),
        Ok(Some(Err(error))) => Some(Err(Failure::Provider(error))),
        Ok(None) => None,
        Err(error) => Some(Err(Failure::host(&error))),
    }
}

/// The provider's models.
pub(super) fn models(ctx: &Context) -> Result<Vec<ModelInfo>, Failure> {
    match ctx.ext.models(&ctx.provider) {
        Ok(Ok(models)) => Ok(models),
        Ok(Err(error)) => Err(Failure::Provider(error)),
        Err(error) => Err(Failure::host(&error)),
    }
}

/// The extension's token estimate for `request` on `model`.
pub(super) fn count_tokens(
    ctx: &Context,
    model: &str,
    request: &CompletionRequest,
) -> Result<u64, Failure> {
    match ctx.ext.count_tokens(&ctx.provider, model, request) {
        Ok(Ok(count)) => Ok(count),
        Ok(Err(error)) => Err(Failure::Provider(error)),
        Err(error) => Err(Failure::host(&error)),
    }
}

/// Seconds since the Unix epoch as an RFC 3339 UTC timestamp (`2025-01-02T03:04:05Z`).
pub(super) fn rfc3339(unix_secs: u64) -> String {
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let (year, month, day) = date_of_day(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01, counted in 400-year eras (146 097
/// days each) from 0000-03-01, so the leap day is the last day of a counted year.
fn date_of_day(days: u64) -> (u64, u64, u64) {
    // 719 468 days separate 0000-03-01 from 1970-01-01.
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March, each period of five months 153 days long.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(status: u16) -> UpstreamInfo {
        UpstreamInfo {
            status,
            message: "m".into(),
            request_id: None,
        }
    }

    #[test]
    fn consecutive_tool_results_share_one_user_message() {
        let text = |t: &str| MessageContent::Text(t.into());
        let message = |role, t: &str| RequestMessage { role, content: vec![text(t)], cache: false };
        let mut turns = Turns::default();
        turns.push_tool_result(text("r0"));
        turns.push(message(MessageRole::Assistant, "calls"));
        turns.push_tool_result(text("r1"));
        turns.push_tool_result(text("r2"));
        turns.push(message(MessageRole::User, "next"));
        turns.push_tool_result(text("r3"));
        let shape: Vec<(bool, usize)> = turns
            .into_messages()
            .iter()
            .map(|m| (matches!(m.role, MessageRole::User), m.content.len()))
            .collect();
        // A result after a plain user message starts its own message: only results merge.
        assert_eq!(shape, [(true, 1), (false, 1), (true, 2), (true, 1), (true, 1)]);
    }

    #[test]
    fn client_mistakes_keep_their_status_and_service_failures_do_not() {
        for status in [400, 404, 413, 422] {
            assert_eq!(blame(&info(status)), Blame::Client(status));
        }
        for status in [408, 429, 500, 502, 503, 504, 302] {
            assert_eq!(blame(&info(status)), Blame::Service, "{status}");
        }
        assert_eq!(blame(&info(0)), Blame::Host);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339(1_735_689_600), "2025-01-01T00:00:00Z");
        assert_eq!(rfc3339(4_107_542_400), "2100-03-01T00:00:00Z");
    }
}
