//! The provider: ties the sides together (credentials → session → catalog → completion) and
//! owns the state that lives as long as the instance.
//!
//! * `instance`: the [`instance::Provider`] the WIT exports call: credential, session, catalog,
//!   sign-in and the open streams.
//! * `stream`: one open completion stream (body, decoder, events not handed out yet).
//! * `opening`: a request sent whose response headers are not known yet; `retry`: the waited
//!   retry after a short rate limit.
//! * `quota`: quota snapshots from answers and `/copilot_internal/user`.
//! * `doctor`, `details`: the diagnostic report and the `llm-provider-details` JSON.
//!
//! The top of the guest: may import every other module; only `guest.rs` (and `lib.rs`)
//! import this one.

pub mod details;
pub mod doctor;
pub mod instance;
pub mod opening;
pub mod quota;
pub mod retry;
pub mod stream;

#[cfg(test)]
mod completion_tests;
#[cfg(test)]
mod sign_in_tests;
