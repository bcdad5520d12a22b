//! The guest's WASI standard streams.
//!
//! Design decision: stdout is discarded (it must never corrupt the CLI's output) and stderr
//! (where a Rust guest's panic message goes) is captured in a bounded buffer per instance and
//! handed to the log after every export call, line by line, through the log's redaction, so a
//! token in a panic message never reaches the terminal. The buffer holds at most
//! [`STDERR_CAPACITY`] bytes per instance: a guest flooding stderr gets write errors, not
//! memory.

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::OutputStream;

use crate::log::{Level, Logger};

/// The most stderr bytes one instance may write over its life.
pub const STDERR_CAPACITY: usize = 64 * 1024;
/// The log source of guest stderr lines.
const SOURCE: &str = "guest-stderr";

/// One instance's stderr buffer and how much of it was logged already.
pub(crate) struct GuestStderr {
    pipe: MemoryOutputPipe,
    logged: usize,
}

impl GuestStderr {
    /// A fresh buffer and the pipe to give WASI.
    pub(crate) fn new() -> (GuestStderr, MemoryOutputPipe) {
        let pipe = MemoryOutputPipe::new(STDERR_CAPACITY);
        (
            GuestStderr {
                pipe: pipe.clone(),
                logged: 0,
            },
            pipe,
        )
    }

    /// Logs the complete lines written since the last flush (all of it when `all`, after a
    /// failure). Redaction happens in the logger.
    pub(crate) fn flush_to(&mut self, log: &Logger, all: bool) {
        // After almost every call nothing was written: learn that from the pipe's length
        // (what it could still take), without copying its contents.
        let written = match OutputStream::check_write(&mut self.pipe) {
            Ok(room) => STDERR_CAPACITY.saturating_sub(room),
            Err(_) => STDERR_CAPACITY,
        };
        if written <= self.logged {
            return;
        }
        let contents = self.pipe.contents();
        let Some(fresh) = contents.get(self.logged..) else {
            return;
        };
        let end = if all {
            fresh.len()
        } else {
            fresh.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)
        };
        if end == 0 {
            return;
        }
        let text = String::from_utf8_lossy(&fresh[..end]);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            log.log(Level::Warn, SOURCE, line);
        }
        self.logged += end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::LogSink;

    fn write(pipe: &mut MemoryOutputPipe, text: &str) {
        OutputStream::write(pipe, bytes::Bytes::copy_from_slice(text.as_bytes())).expect("room");
    }

    #[test]
    fn complete_lines_are_logged_once_and_a_partial_line_only_after_a_failure() {
        let log = Logger::new(LogSink::Capture);
        let (mut stderr, mut pipe) = GuestStderr::new();
        stderr.flush_to(&log, false);
        assert!(log.lines().is_empty(), "nothing written, nothing logged");
        write(&mut pipe, "first line\nsecond ");
        stderr.flush_to(&log, false);
        stderr.flush_to(&log, false);
        let lines = log.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("first line"), "{lines:?}");
        write(&mut pipe, "half");
        stderr.flush_to(&log, true);
        let lines = log.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].contains("second half"), "{lines:?}");
    }
}
