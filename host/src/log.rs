//! Where guest and host log lines go, and the last line of defence against leaked secrets.
//!
//! Design decision: every line, whether the guest or the host wrote it, passes through
//! [`redact`] before it reaches a sink, so a token that slips into a message is masked even if
//! the code that wrote it forgot. Tests use [`LogSink::Capture`] and read the lines back.

use std::sync::{Arc, Mutex};

/// Characters shown of a masked secret, so users can still tell two tokens apart.
const KEPT_PREFIX_CHARS: usize = 4;
/// A word after `token` at least this long is treated as the token itself.
const LONG_SECRET_CHARS: usize = 20;
/// Prefixes of GitHub token kinds (`gho_` OAuth, `ghu_` app user, `ghp_` personal, ...).
const GITHUB_TOKEN_PREFIXES: [&str; 6] = ["gho_", "ghu_", "ghp_", "ghs_", "ghr_", "github_pat_"];

/// Severity, most severe first (ordering: `Error < Warn < ... < Trace`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed.
    Error,
    /// Something is degraded (a fallback, a denial).
    Warn,
    /// Progress worth knowing.
    Info,
    /// Details for debugging.
    Debug,
    /// Everything.
    Trace,
}

impl Level {
    /// Lowercase name used as the line prefix.
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// Where log lines go (the configuration; see [`Logger`] for the live handle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogSink {
    /// Write lines at `min` or more severe to stderr.
    Stderr {
        /// The least severe level written.
        min: Level,
    },
    /// Keep every line in memory; read them back with `Extension::logs`.
    Capture,
    /// Drop everything.
    Null,
}

impl Default for LogSink {
    fn default() -> Self {
        LogSink::Stderr { min: Level::Warn }
    }
}

/// A live log handle made from a [`LogSink`]; clones share one capture buffer.
#[derive(Clone, Debug)]
pub struct Logger {
    target: Target,
}

#[derive(Clone, Debug)]
enum Target {
    Stderr(Level),
    Capture(Arc<Mutex<Vec<String>>>),
    Null,
}

impl Logger {
    /// A handle writing where `sink` says (a fresh buffer for [`LogSink::Capture`]).
    pub fn new(sink: LogSink) -> Logger {
        let target = match sink {
            LogSink::Stderr { min } => Target::Stderr(min),
            LogSink::Capture => Target::Capture(Arc::default()),
            LogSink::Null => Target::Null,
        };
        Logger { target }
    }

    /// Writes one line: `[level] source: message`, secrets masked.
    pub fn log(&self, level: Level, source: &str, message: &str) {
        let line = format!("[{}] {source}: {}", level.name(), redact(message));
        match &self.target {
            Target::Stderr(min) if level <= *min => eprintln!("{line}"),
            Target::Stderr(_) | Target::Null => {}
            Target::Capture(lines) => {
                if let Ok(mut lines) = lines.lock() {
                    lines.push(line);
                }
            }
        }
    }

    /// Captured lines (empty unless made from [`LogSink::Capture`]).
    pub fn lines(&self) -> Vec<String> {
        match &self.target {
            Target::Capture(lines) => lines.lock().map(|l| l.clone()).unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// Masks things that look like credentials: GitHub tokens, Copilot session tokens
/// (`tid=...;exp=...`), and whatever follows `Bearer ` or `token `.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut mask_next = None;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match mask_next {
            Some(MaskNext::Always) if word.len() > KEPT_PREFIX_CHARS => out.push_str(&mask(word)),
            Some(MaskNext::IfLong) if word.len() >= LONG_SECRET_CHARS => out.push_str(&mask(word)),
            _ => out.push_str(&redact_word(word)),
        }
        mask_next = if word.eq_ignore_ascii_case("bearer") {
            Some(MaskNext::Always)
        } else if word.eq_ignore_ascii_case("token") {
            Some(MaskNext::IfLong)
        } else {
            None
        };
    }
    out
}

/// How to treat the word after a keyword that often precedes a secret.
#[derive(Clone, Copy)]
enum MaskNext {
    /// After `Bearer`: always a credential.
    Always,
    /// After `token`: a credential only if it is long ("token expired" is prose).
    IfLong,
}

fn redact_word(word: &str) -> String {
    let looks_like_token = GITHUB_TOKEN_PREFIXES.iter().any(|p| word.contains(p))
        || (word.contains("tid=") && word.contains("exp="));
    if looks_like_token {
        mask(word)
    } else {
        without_userinfo(word)
    }
}

/// Masks the `user:password@` of every URL in `word` (`https://u:p@host/…` →
/// `https://[redacted]@host/…`): a proxy or enterprise setting may carry a password.
fn without_userinfo(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '`' | ')' | '>' | ',') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(user_end) => {
                out.push_str("[redacted]");
                out.push_str(&authority[user_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn mask(word: &str) -> String {
    let kept: String = word.chars().take(KEPT_PREFIX_CHARS).collect();
    format!("{kept}…[redacted]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_url_userinfo() {
        assert_eq!(
            redact("proxy \"https://alice:hunter2@proxy.example:8080/x\" and http://127.0.0.1:1/a@b"),
            "proxy \"https://[redacted]@proxy.example:8080/x\" and http://127.0.0.1:1/a@b"
        );
        assert_eq!(redact("`https://u@h`"), "`https://[redacted]@h`");
        assert_eq!(redact("no url here: a@b"), "no url here: a@b");
    }

    #[test]
    fn masks_tokens() {
        let line = redact("using gho_abcdefghijklmnop and Bearer tid=1;exp=2;sku=x:mac and token abcdef1234567890abcdef123");
        assert!(!line.contains("abcdefghijklmnop"), "{line}");
        assert!(!line.contains("exp=2"), "{line}");
        assert!(!line.contains("abcdef123"), "{line}");
        assert!(line.contains("using gho_…[redacted]"), "{line}");
        assert_eq!(redact("models: 12 loaded"), "models: 12 loaded");
        assert_eq!(
            redact("the session token expired"),
            "the session token expired"
        );
    }

    #[test]
    fn capture_keeps_lines_with_level_and_source() {
        let logger = Logger::new(LogSink::Capture);
        logger.clone().log(Level::Warn, "guest", "hello");
        assert_eq!(logger.lines(), vec!["[warn] guest: hello".to_string()]);
        assert!(Logger::new(LogSink::Null).lines().is_empty());
    }
}
