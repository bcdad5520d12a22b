//! The `chat` command: stream one answer, or hold a conversation read line by line from stdin.
//!
//! Design decision: rendering is a small state machine ([`Renderer`]) fed one event at a
//! time and flushed after each, so text appears as it arrives; the same renderer prints the
//! demo's answers. `--json` prints every event as one line (see `copilot_host::output`).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context};

use copilot_host::output::{event_json, json_line, stop_reason_name};
use copilot_host::{
    CompletionEvent, CompletionRequest, Extension, MessageContent, MessageRole, RequestMessage,
    StopReason, ToolDefinition,
};

/// ANSI "dim" and "reset", for thinking text on a terminal.
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";
/// The interactive prompt, shown only when stdin is a terminal.
const PROMPT: &str = "> ";

/// Runs `chat`: one prompt, or one per stdin line with the conversation kept.
pub fn run(
    ext: &Extension,
    model: Option<&str>,
    json: bool,
    prompt: Option<String>,
) -> anyhow::Result<()> {
    let provider = ext.default_provider()?;
    let model = pick_model(ext, &provider, model)?;
    let mut out = Renderer::new(json);
    match prompt {
        Some(prompt) => turn(
            ext,
            &provider,
            &model,
            request(vec![user_message(prompt)], Vec::new()),
            &mut out,
        )
        .map(|_| ()),
        None => conversation(ext, &provider, &model, &mut out),
    }
}

fn conversation(
    ext: &Extension,
    provider: &str,
    model: &str,
    out: &mut Renderer,
) -> anyhow::Result<()> {
    let interactive = std::io::stdin().is_terminal();
    let mut history: Vec<RequestMessage> = Vec::new();
    let mut failed = false;
    let mut lines = std::io::stdin().lock().lines();
    loop {
        if interactive {
            print!("{PROMPT}");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line.context("cannot read the prompt from stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        history.push(user_message(line));
        match turn(
            ext,
            provider,
            model,
            request(history.clone(), Vec::new()),
            out,
        ) {
            Ok(answer) if !answer.is_empty() => history.push(assistant_message(answer)),
            Ok(_) => {}
            Err(error) => {
                // Keep talking: the failed question leaves the history, the error is shown.
                history.pop();
                failed = true;
                eprintln!(
                    "error: {}",
                    copilot_host::log::redact(&format!("{error:#}"))
                );
            }
        }
    }
    if failed {
        bail!("some prompts failed (see the errors above)");
    }
    Ok(())
}

/// The requested model, else the provider's default, else its first model.
pub fn pick_model(
    ext: &Extension,
    provider: &str,
    requested: Option<&str>,
) -> anyhow::Result<String> {
    if let Some(model) = requested {
        return Ok(model.to_string());
    }
    let models = ext
        .models(provider)?
        .map_err(|e| crate::cli::exit::guest_error(&e))?;
    let chosen = models
        .iter()
        .find(|m| m.is_default)
        .or_else(|| models.first());
    match chosen {
        Some(model) => Ok(model.id.clone()),
        None => {
            bail!("no models are available to this account; run `copilot-host doctor` to see why")
        }
    }
}

/// A request with default options (thinking allowed, no limits).
pub fn request(messages: Vec<RequestMessage>, tools: Vec<ToolDefinition>) -> CompletionRequest {
    CompletionRequest {
        tools,
        thinking_allowed: true,
        ..copilot_host::plain_request(messages)
    }
}

/// A plain-text user message.
pub fn user_message(text: String) -> RequestMessage {
    RequestMessage {
        role: MessageRole::User,
        content: vec![MessageContent::Text(text)],
        cache: false,
    }
}

fn assistant_message(text: String) -> RequestMessage {
    RequestMessage {
        role: MessageRole::Assistant,
        content: vec![MessageContent::Text(text)],
        cache: false,
    }
}

/// Streams one answer through `out`; returns the assistant's text.
pub fn turn(
    ext: &Extension,
    provider: &str,
    model: &str,
    request: CompletionRequest,
    out: &mut Renderer,
) -> anyhow::Result<String> {
    // A spinner on a terminal until something visible arrives (not for --json).
    let mut waiting =
        (!out.json).then(|| copilot_host::output::progress::Spinner::quiet("waiting for the model"));
    let mut stream = ext
        .stream(provider, model, request)?
        .map_err(|e| crate::cli::exit::guest_error(&e))?;
    let mut answer = String::new();
    let result = loop {
        let next = stream.next_event();
        let invisible = matches!(
            next,
            Ok(Some(Ok(CompletionEvent::Started | CompletionEvent::Usage(_))))
        );
        if !invisible {
            if let Some(mut spinner) = waiting.take() {
                spinner.stop();
            }
        }
        match next {
            Ok(Some(Ok(event))) => {
                if let CompletionEvent::Text(text) = &event {
                    answer.push_str(text);
                }
                out.event(&event).context("cannot write to stdout")?;
            }
            Ok(Some(Err(error))) => break Err(crate::cli::exit::guest_error(&error)),
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        }
    };
    out.finish().context("cannot write to stdout")?;
    result.map(|()| answer)
}

/// What was printed last, to place line breaks between kinds of output.
#[derive(Clone, Copy, PartialEq)]
enum Last {
    Nothing,
    Text,
    Thinking,
    Line,
}

/// Prints completion events to stdout as they arrive.
pub struct Renderer {
    json: bool,
    tty: bool,
    last: Last,
    at_line_start: bool,
}

impl Renderer {
    /// A renderer for text (`json == false`) or JSON lines.
    pub fn new(json: bool) -> Renderer {
        Renderer {
            json,
            tty: std::io::stdout().is_terminal(),
            last: Last::Nothing,
            at_line_start: true,
        }
    }

    /// Prints one event and flushes.
    pub fn event(&mut self, event: &CompletionEvent) -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        if self.json {
            writeln!(stdout, "{}", json_line(&event_json(event)))?;
            return stdout.flush();
        }
        match event {
            CompletionEvent::Text(text) => self.inline(&mut stdout, Last::Text, text)?,
            CompletionEvent::Thinking(thinking) if self.tty => {
                let dimmed = format!("{DIM}{}{RESET}", thinking.text);
                self.inline(&mut stdout, Last::Thinking, &dimmed)?;
            }
            CompletionEvent::Thinking(thinking) => {
                self.inline(&mut stdout, Last::Thinking, &thinking.text)?
            }
            CompletionEvent::ToolUse(tool) if tool.is_input_complete => {
                self.line(
                    &mut stdout,
                    &format!("[tool call] {}({})", tool.name, tool.input),
                )?;
            }
            CompletionEvent::ToolUseJsonParseError(e) => {
                self.line(
                    &mut stdout,
                    &format!(
                        "[tool call] {}: invalid input JSON ({})",
                        e.tool_name, e.error
                    ),
                )?;
            }
            CompletionEvent::Stop(reason @ (StopReason::MaxTokens | StopReason::Refusal)) => {
                self.line(
                    &mut stdout,
                    &format!("[stopped: {}]", stop_reason_name(*reason)),
                )?;
            }
            _ => {}
        }
        stdout.flush()
    }

    /// Ends the answer on a fresh line.
    pub fn finish(&mut self) -> std::io::Result<()> {
        if self.json {
            return Ok(());
        }
        let mut stdout = std::io::stdout().lock();
        if !self.at_line_start || self.last == Last::Nothing {
            writeln!(stdout)?;
        }
        self.last = Last::Nothing;
        self.at_line_start = true;
        stdout.flush()
    }

    fn inline(&mut self, out: &mut impl Write, kind: Last, text: &str) -> std::io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        if self.last != kind && !self.at_line_start {
            writeln!(out)?;
        }
        write!(out, "{text}")?;
        self.last = kind;
        self.at_line_start = text.ends_with('\n');
        Ok(())
    }

    fn line(&mut self, out: &mut impl Write, text: &str) -> std::io::Result<()> {
        if !self.at_line_start {
            writeln!(out)?;
        }
        writeln!(out, "{text}")?;
        self.last = Last::Line;
        self.at_line_start = true;
        Ok(())
    }
}
