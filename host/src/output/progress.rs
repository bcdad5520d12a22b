//! Progress on stderr while the user waits (a build, the first token), and the colour policy.
//!
//! Design decision: decoration only where a person is watching. On a terminal a spinner
//! redraws one line and erases it when done, so the output that follows starts clean; off a
//! terminal (pipes, CI logs, editors) the message is printed once as a plain line, and
//! nothing else, so logs stay diffable. Colours follow the same rule and `NO_COLOR`.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The spinner's frames.
const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/// Time between frames.
const FRAME_INTERVAL: Duration = Duration::from_millis(80);
/// ANSI: carriage return and erase the line.
const CLEAR_LINE: &str = "\r\x1b[K";

/// Whether stderr is a terminal that may show colours (`NO_COLOR` unset).
pub fn stderr_colours() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Whether stdout is a terminal that may show colours (`NO_COLOR` unset).
pub fn stdout_colours() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A running progress indicator; [`Spinner::stop`] (or drop) ends it.
pub struct Spinner {
    running: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Spinner {
    /// Shows `message` with a spinner on a terminal, or as one plain stderr line otherwise.
    pub fn start(message: &str) -> Spinner {
        if !std::io::stderr().is_terminal() {
            eprintln!("{message}…");
            return Spinner { running: None };
        }
        Spinner::animated(message)
    }

    /// A spinner on a terminal only; silent elsewhere (for waits too short to log).
    pub fn quiet(message: &str) -> Spinner {
        if !std::io::stderr().is_terminal() {
            return Spinner { running: None };
        }
        Spinner::animated(message)
    }

    fn animated(message: &str) -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let message = message.to_string();
        let spawned = std::thread::Builder::new()
            .name("copilot-spinner".into())
            .spawn(move || {
                let mut frame = 0;
                while !flag.load(Ordering::SeqCst) {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(
                        err,
                        "{CLEAR_LINE}{} {message}",
                        FRAMES[frame % FRAMES.len()]
                    );
                    let _ = err.flush();
                    drop(err);
                    frame += 1;
                    std::thread::sleep(FRAME_INTERVAL);
                }
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "{CLEAR_LINE}");
                let _ = err.flush();
            });
        Spinner {
            running: spawned.ok().map(|handle| (stop, handle)),
        }
    }

    /// Erases the spinner (idempotent); returns once the line is clean.
    pub fn stop(&mut self) {
        if let Some((stop, handle)) = self.running.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = handle.join();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopping_is_idempotent_and_drop_is_safe() {
        let mut spinner = Spinner::quiet("waiting");
        spinner.stop();
        spinner.stop();
        drop(Spinner::quiet("again"));
    }
}
