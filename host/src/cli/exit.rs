//! Exit statuses, the one error line `main` prints, and a guest's typed error as the CLI's
//! error.
//!
//! Design decision: a failure that needs one specific user action gets its own status, so a
//! script can react without parsing text: 3 means "sign in first". The status travels inside
//! the `anyhow::Error` as a typed marker, so every command keeps returning plain errors.

use std::fmt;
use std::process::ExitCode;

use anyhow::anyhow;
use copilot_host::{display_error, ProviderError};

/// The command failed (the message says why).
pub const FAILURE: u8 = 1;
/// The provider has no usable credential: run `copilot-host sign-in`.
pub const NOT_SIGNED_IN: u8 = 3;

/// An error that carries its exit status.
#[derive(Debug)]
pub struct WithStatus {
    /// The exit status.
    pub status: u8,
    /// The sentence shown after `error:`.
    pub message: String,
}

impl fmt::Display for WithStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WithStatus {}

/// The exit status for `error`: its marker's, else [`FAILURE`].
pub fn status_of(error: &anyhow::Error) -> u8 {
    error
        .chain()
        .find_map(|e| e.downcast_ref::<WithStatus>())
        .map_or(FAILURE, |w| w.status)
}

/// Prints `error: <message>` (the label red on a colour terminal) and returns the status.
pub fn report(error: &anyhow::Error) -> ExitCode {
    let label = if copilot_host::output::progress::stderr_colours() {
        "\x1b[1;31merror\x1b[0m"
    } else {
        "error"
    };
    eprintln!(
        "{label}: {}",
        copilot_host::log::redact(&format!("{error:#}"))
    );
    ExitCode::from(status_of(error))
}

/// Turns a guest's typed error into the CLI's error.
pub fn guest_error(error: &ProviderError) -> anyhow::Error {
    if let ProviderError::NotSignedIn(_) = error {
        return anyhow::Error::new(WithStatus {
            status: NOT_SIGNED_IN,
            message: display_error(error),
        });
    }
    anyhow!(display_error(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_sets_the_status_anywhere_in_the_chain() {
        let plain = anyhow::anyhow!("boom");
        assert_eq!(status_of(&plain), FAILURE);
        let marked = anyhow::Error::new(WithStatus {
            status: NOT_SIGNED_IN,
            message: "sign in".into(),
        });
        assert_eq!(status_of(&marked), NOT_SIGNED_IN);
        assert_eq!(
            status_of(&marked.context("while listing models")),
            NOT_SIGNED_IN
        );
    }
}
