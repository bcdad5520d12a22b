//! `sign-in --json`: the device-flow prompt and the result as JSON lines on stdout.
//!
//! Design decision: a script (or an editor wrapping the CLI) needs the user code and the URL
//! before the flow ends, so the prompt is printed as its own line at once and flushed, and
//! the result follows as a second line; failures stay on stderr with the usual exit status,
//! like every other command. Lines are `{"type": ...}` objects, as `chat --json` events are.

use std::io::Write;

use serde_json::{json, Value};

use copilot_host::output::json_line;
use copilot_host::DeviceFlowPrompt;

/// `{"type":"prompt","user_code","verification_url","expires_in_secs","headline","description"}`.
pub fn prompt_json(prompt: &DeviceFlowPrompt) -> Value {
    json!({
        "type": "prompt",
        "user_code": prompt.user_code,
        "verification_url": prompt.verification_url,
        "expires_in_secs": prompt.expires_in_secs,
        "headline": prompt.headline,
        "description": prompt.description,
    })
}

/// `{"type":"signed_in","provider","login"}` (`login` is `null` when unknown).
pub fn signed_in_json(provider: &str, login: Option<&str>) -> Value {
    json!({"type": "signed_in", "provider": provider, "login": login})
}

/// Prints the prompt line and flushes, so a reader sees the code while the flow waits.
pub fn prompt(prompt: &DeviceFlowPrompt) {
    print_line(&prompt_json(prompt));
}

/// Prints the result line.
pub fn signed_in(provider: &str, login: Option<&str>) {
    print_line(&signed_in_json(provider, login));
}

fn print_line(value: &Value) {
    let mut out = std::io::stdout().lock();
    // A closed stdout has nowhere to report to; the exit status still tells the outcome.
    let _ = writeln!(out, "{}", json_line(value));
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_start_with_their_type_and_carry_the_code() {
        let p = DeviceFlowPrompt {
            user_code: "ABCD-1234".into(),
            verification_url: "https://github.com/login/device".into(),
            headline: "Sign in".into(),
            description: "Enter the code".into(),
            connect_button_label: "Connect".into(),
            success_headline: "Signed in".into(),
            success_message: String::new(),
            expires_in_secs: 899,
        };
        let line = json_line(&prompt_json(&p));
        assert!(line.starts_with("{\"type\":\"prompt\""), "{line}");
        let back: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(back["user_code"], "ABCD-1234");
        assert_eq!(back["expires_in_secs"], 899);
        let done = signed_in_json("copilot-chat", None);
        assert_eq!(done["login"], Value::Null);
        assert_eq!(
            signed_in_json("copilot-chat", Some("octo"))["login"],
            "octo"
        );
    }
}
