//! `copilot-host sign-in`, `sign-out`, and the credential part of `doctor`.
//!
//! Design decision: the guest owns the device-flow protocol and its timing (it makes no
//! request before GitHub's interval has passed), so this loop only keeps calling `poll` once
//! a second, shows a countdown, and stops on success, an error or expiry. The diagnostic
//! report comes from the guest's settings markdown, where it travels as JSON inside an HTML
//! comment (the WIT has no diagnostics export); it holds no secrets.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{json, Value};

use copilot_host::{display_error, Extension, ProviderError};

use crate::cli::exit::guest_error;

/// How often the guest is asked; it decides whether to contact GitHub.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// Starts the JSON report in the settings markdown; it ends at the next `-->`.
const REPORT_MARKER: &str = "<!-- copilot-doctor:";
/// ANSI: carriage return and erase the line.
const CLEAR_LINE: &str = "\r\x1b[K";

/// Runs the device flow to the end. With `json`, the prompt and the result are JSON lines on
/// stdout (see `signin_json`) and no progress indicator is drawn.
pub fn sign_in(ext: &Extension, json: bool) -> anyhow::Result<()> {
    let provider = ext.default_provider()?;
    let prompt = ext
        .start_sign_in(&provider)?
        .map_err(|e| anyhow::anyhow!(display_error(&e)))?;
    if json {
        crate::cli::signin_json::prompt(&prompt);
    } else {
        println!("{}", prompt.headline);
        println!();
        println!("  1. open  {}", prompt.verification_url);
        println!("  2. enter {}", prompt.user_code);
        println!();
    }
    let deadline = Instant::now() + Duration::from_secs(prompt.expires_in_secs.max(1));
    // JSON output draws no progress: behave as off a terminal, minus the dots.
    let tty = !json && std::io::stderr().is_terminal();
    // Nothing was drawn for JSON output, so there is nothing to end either.
    let end = |tty: bool| {
        if !json {
            end_progress(tty)
        }
    };
    let mut ticks = 0usize;
    loop {
        match ext.poll_sign_in(&provider)? {
            Ok(true) => break,
            Ok(false) => {}
            // A dropped connection does not end the flow; the guest keeps it for the next poll.
            Err(ProviderError::Network(why)) => {
                if tty {
                    eprint!("{CLEAR_LINE}");
                }
                eprintln!("network problem, still waiting: {why}");
            }
            Err(e) => {
                end(tty);
                bail!(display_error(&e));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            end(tty);
            bail!(
                "the sign-in code expired before it was approved; run `copilot-host sign-in` again"
            );
        }
        if !json {
            show_progress(tty, left, ticks);
        }
        ticks += 1;
        std::thread::sleep(POLL_EVERY.min(left));
    }
    end(tty);
    let login = diagnostics(ext, &provider)
        .and_then(|d| d["credential"]["login"].as_str().map(str::to_string));
    if json {
        crate::cli::signin_json::signed_in(&provider, login.as_deref());
        return Ok(());
    }
    match login {
        Some(login) => println!("{} as {login}.", prompt.success_headline),
        None => println!("{}.", prompt.success_headline),
    }
    if !prompt.success_message.is_empty() {
        println!("{}", prompt.success_message);
    }
    Ok(())
}

fn show_progress(tty: bool, left: Duration, ticks: usize) {
    let mut err = std::io::stderr().lock();
    let secs = left.as_secs();
    let _ = if tty {
        const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
        let frame = FRAMES[ticks % FRAMES.len()];
        write!(
            err,
            "{CLEAR_LINE}{frame} waiting for approval in the browser… {}:{:02} left",
            secs / 60,
            secs % 60
        )
    } else if ticks.is_multiple_of(5) {
        // Off a terminal, a dot every few seconds shows life without flooding a log.
        write!(err, ".")
    } else {
        Ok(())
    };
    let _ = err.flush();
}

fn end_progress(tty: bool) {
    if tty {
        eprint!("{CLEAR_LINE}");
    } else {
        eprintln!();
    }
}

/// The guest's diagnostic report (JSON), if its settings markdown carries one.
pub fn diagnostics(ext: &Extension, provider: &str) -> Option<Value> {
    let markdown = ext.settings_markdown(provider).ok()??;
    extract_report(&markdown)
}

/// The JSON between [`REPORT_MARKER`] and the next `-->`.
pub fn extract_report(markdown: &str) -> Option<Value> {
    let start = markdown.find(REPORT_MARKER)? + REPORT_MARKER.len();
    let end = markdown[start..].find("-->")? + start;
    serde_json::from_str(markdown[start..end].trim()).ok()
}

/// The report as indented text lines for `doctor`.
pub fn diagnostics_text(report: &Value) -> String {
    let s = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
    };
    let mut out = String::new();
    let dirs: Vec<String> = report["config_dirs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(s)
        .collect();
    let dirs = if dirs.is_empty() {
        "none".to_string()
    } else {
        dirs.join(", ")
    };
    out.push_str(&format!(
        "  config    {dirs}\n            (chosen by {})\n",
        s(&report["config_dir_rule"])
    ));
    out.push_str("  looked in\n");
    for source in report["sources"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "            {}: {}\n",
            s(&source["source"]),
            s(&source["result"])
        ));
    }
    let credential = &report["credential"];
    if credential.is_object() {
        let login = credential["login"]
            .as_str()
            .map(|l| format!(" as {l}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  signed in to {}{login}, token from {}\n",
            s(&credential["host"]),
            s(&credential["source"])
        ));
    } else {
        out.push_str(&format!(
            "  signed in no credential for {}\n",
            s(&report["github_host"])
        ));
    }
    let exchange = &report["exchange"];
    if exchange.is_object() {
        let mut line = format!(
            "  exchange  {}, api {}",
            s(&exchange["status"]),
            s(&exchange["api"])
        );
        if let Some(sku) = exchange["sku"].as_str() {
            line.push_str(&format!(", sku {sku}"));
        }
        if let Some(exp) = exchange["expires_at"].as_u64() {
            line.push_str(&format!(", expires at {exp} (unix)"));
        }
        out.push_str(&line);
        out.push('\n');
    } else {
        out.push_str("  exchange  not done\n");
    }
    let catalog = &report["catalog"];
    if catalog.is_object() {
        out.push_str(&format!(
            "  catalog   {} of {} listed models offered\n",
            s(&catalog["shown"]),
            s(&catalog["listed"])
        ));
        for group in catalog["hidden"].as_array().into_iter().flatten() {
            let ids: Vec<String> = group["ids"].as_array().into_iter().flatten().map(s).collect();
            out.push_str(&format!("            not offered, {}: {}\n", s(&group["reason"]), ids.join(", ")));
        }
    }
    for problem in report["problems"].as_array().into_iter().flatten() {
        out.push_str(&format!("  problem   {}\n", s(&problem["problem"])));
        out.push_str(&format!("    fix     {}\n", s(&problem["fix"])));
    }
    out
}

/// Runs `sign-out`: forgets the stored sign-in.
pub fn sign_out(ext: &Extension, json: bool) -> anyhow::Result<()> {
    let provider = ext.default_provider()?;
    ext.reset_credentials(&provider)?
        .map_err(|e| guest_error(&e))?;
    if json {
        println!("{}", json!({"signed_out": true, "provider": provider}));
    } else {
        println!("Signed out of {provider}.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_found_and_rendered() {
        let md = "# x\n\n<!-- copilot-doctor: {\"github_host\":\"github.com\",\"config_dirs\":[\"/h/.config/github-copilot\"],\"config_dir_rule\":\"r\",\"sources\":[{\"source\":\"env GH_COPILOT_TOKEN\",\"result\":\"not set\"}],\"credential\":null,\"exchange\":null,\"models\":3,\"catalog\":{\"listed\":4,\"shown\":3,\"hidden\":[{\"reason\":\"disabled by the account's policy\",\"ids\":[\"grok\"]}]},\"problems\":[{\"problem\":\"no GitHub credential\",\"fix\":\"run `copilot-host sign-in`\"}]} -->\n";
        let report = extract_report(md).expect("report");
        let text = diagnostics_text(&report);
        assert!(text.contains("env GH_COPILOT_TOKEN: not set"), "{text}");
        assert!(text.contains("no credential for github.com"), "{text}");
        assert!(
            text.contains("fix     run `copilot-host sign-in`"),
            "{text}"
        );
        assert!(text.contains("catalog   3 of 4 listed models offered"), "{text}");
        assert!(text.contains("not offered, disabled by the account's policy: grok"), "{text}");
        assert!(extract_report("no report here").is_none());
        assert!(extract_report("<!-- copilot-doctor: {broken -->").is_none());
    }
}
