//! The waited retry of a chat request that a rate limit refused before any output.
//!
//! Design decision: a 429 asking for a short wait (at most [`MAX_AUTO_WAIT_SECS`]) is retried
//! once automatically, but the guest never sleeps inside a non-blocking call: the stream is
//! handed out at once in a "retry not before T" state ([`Planned`]), every poll compares the
//! HOST clock (`HostApi::now_unix`, which the host controls and tests move forward) with T and
//! answers `pending` until then, and only then is the request sent again (an `opening`). So
//! the wait blocks neither the instance nor the other streams, and no test has to really
//! sleep. Only the blocking `next` export waits in place ([`Planned::wait`]), in short
//! host-clock-checked pauses. Longer waits reach the user as `rate-limited` with the seconds to wait.

use crate::error::Error;
use crate::host_api::HostApi;
use crate::provider::opening::ChatRequest;

/// The longest `retry-after` (seconds) that is waited out automatically before any output.
pub const MAX_AUTO_WAIT_SECS: u64 = 5;
/// One pause of the blocking wait, between two looks at the host clock.
pub const PAUSE_MILLIS: u64 = 100;
/// Extra pauses the blocking wait allows beyond the planned seconds, so a host clock that does
/// not move (a broken host) ends the wait instead of hanging the stream.
const SPARE_PAUSES: u64 = 10;

/// Seconds to wait before one automatic retry, when `error` allows a waited retry: a rate
/// limit whose `retry-after` is between 1 and [`MAX_AUTO_WAIT_SECS`] seconds. (A zero wait is
/// retried at once, see [`Error::retry_now`].)
pub fn wait_before_retry(error: &Error) -> Option<u64> {
    match error {
        Error::RateLimited {
            retry_after_secs: Some(secs),
            ..
        } if (1..=MAX_AUTO_WAIT_SECS).contains(secs) => Some(*secs),
        _ => None,
    }
}

/// A chat request waiting for its retry time: everything needed to send it again.
pub struct Planned {
    /// Host-clock unix seconds before which the request is not sent.
    pub not_before: u64,
    /// The request, with the bearer of the refused attempt (a refusal of it is handled like
    /// any other).
    pub request: ChatRequest,
}

impl Planned {
    /// Whether the retry may be sent at host time `now`.
    pub fn is_due(&self, now: u64) -> bool {
        now >= self.not_before
    }

    /// Blocks until the host clock reaches the retry time, pausing [`PAUSE_MILLIS`] at a time
    /// (bounded, see `SPARE_PAUSES`). Only for the blocking `next` export.
    pub fn wait(&self, host: &dyn HostApi) {
        let planned = self.not_before.saturating_sub(host.now_unix());
        let max_pauses = planned.saturating_mul(1000) / PAUSE_MILLIS + SPARE_PAUSES;
        for _ in 0..max_pauses {
            if self.is_due(host.now_unix()) {
                return;
            }
            host.pause(PAUSE_MILLIS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limited(secs: Option<u64>) -> Error {
        Error::RateLimited {
            message: "slow down".into(),
            code: None,
            retry_after_secs: secs,
        }
    }

    #[test]
    fn only_short_real_waits_are_waited_out() {
        assert_eq!(wait_before_retry(&limited(Some(1))), Some(1));
        assert_eq!(wait_before_retry(&limited(Some(5))), Some(5));
        assert_eq!(
            wait_before_retry(&limited(Some(0))),
            None,
            "retried at once instead"
        );
        assert_eq!(wait_before_retry(&limited(Some(6))), None);
        assert_eq!(wait_before_retry(&limited(None)), None);
        let quota = Error::QuotaExceeded {
            message: "out".into(),
            code: None,
            retry_after_secs: Some(2),
        };
        assert_eq!(
            wait_before_retry(&quota),
            None,
            "a quota is not a short wait"
        );
    }
}
