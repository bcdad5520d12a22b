//! What the simulated model says, independent of the wire format.
//!
//! Design: `/chat/completions` and `/responses` frame answers differently but decide them the
//! same way, so the decision lives here: with tools offered and a user message last, call the
//! first tool twice (parallel calls with arguments derived from its JSON schema, a place-like
//! parameter taking the place the last user message names, if any); otherwise
//! reply with a short text that names the simulator and echoes the start of the last user
//! message. Token counts are deterministic estimates (about four characters per token).

use serde_json::{Map, Value};

/// Words of the user's message echoed back.
const ECHO_WORDS: usize = 8;
/// Words per streamed text piece.
const WORDS_PER_PIECE: usize = 3;
/// Pieces an argument string is split into.
const ARGUMENT_PIECES: usize = 3;
/// Characters per estimated token.
const CHARS_PER_TOKEN: usize = 4;
/// Parallel tool calls per tool-call answer.
pub(crate) const PARALLEL_CALLS: usize = 2;
/// Words that introduce a place ("the weather in Paris", "a forecast for New York").
const PLACE_MARKERS: [&str; 3] = ["in", "for", "at"];
/// Parameter names (lowercase) that take a place; names containing "city" do too.
const PLACE_PARAMETERS: [&str; 4] = ["location", "place", "town", "destination"];

/// The inputs of the decision, extracted from either request format.
pub(crate) struct Ask {
    pub model: String,
    /// Text of the last user message, if any.
    pub last_user_text: Option<String>,
    /// The place that message names (see `named_place`), for place-like tool parameters.
    pub place: Option<String>,
    /// Whether the last message is from the user (a new turn, not a tool result).
    pub user_turn: bool,
    /// The first offered tool (name and parameter schema), unless tools are switched off.
    pub tool: Option<(String, Value)>,
    /// Whether the client asked for reasoning and the model supports it.
    pub reasoning: bool,
    /// Characters of prompt text, for the token estimate.
    pub prompt_chars: usize,
}

/// One tool call of the answer.
pub(crate) struct ToolCall {
    pub name: String,
    pub arguments: String,
}

/// The decided answer.
pub(crate) struct Answer {
    /// Reasoning text pieces (empty when no reasoning was asked for).
    pub reasoning: Vec<String>,
    /// Visible text pieces (empty for a tool-call answer).
    pub text: Vec<String>,
    pub tool_calls: Vec<ToolCall>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub reasoning_tokens: u64,
}

impl Answer {
    /// The whole visible text.
    pub fn full_text(&self) -> String {
        self.text.concat()
    }

    /// The whole reasoning text.
    pub fn full_reasoning(&self) -> String {
        self.reasoning.concat()
    }
}

/// Decides the answer to `ask`.
pub(crate) fn compose(ask: &Ask) -> Answer {
    let echo = ask.last_user_text.as_deref().map(echo_of);
    let reasoning = if ask.reasoning {
        let about = echo.as_deref().unwrap_or("an empty conversation");
        pieces(&format!(
            "The user wrote \"{about}\". I should answer briefly and say I am the simulator."
        ))
    } else {
        Vec::new()
    };
    let (text, tool_calls) = match (&ask.tool, ask.user_turn) {
        (Some((name, schema)), true) => {
            (Vec::new(), tool_calls(name, schema, ask.place.as_deref()))
        }
        _ => (pieces(&reply_text(&ask.model, echo.as_deref())), Vec::new()),
    };
    let reasoning_tokens = estimate_tokens(reasoning.iter().map(String::len).sum());
    let visible_chars = text.iter().map(String::len).sum::<usize>()
        + tool_calls.iter().map(|c| c.arguments.len()).sum::<usize>();
    Answer {
        prompt_tokens: estimate_tokens(ask.prompt_chars),
        completion_tokens: estimate_tokens(visible_chars) + reasoning_tokens,
        reasoning_tokens,
        reasoning,
        text,
        tool_calls,
    }
}

/// At least one token for any non-empty text.
fn estimate_tokens(chars: usize) -> u64 {
    chars.div_ceil(CHARS_PER_TOKEN) as u64
}

/// The first words of the user's message, with an ellipsis when cut.
fn echo_of(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut echo = words
        .iter()
        .take(ECHO_WORDS)
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    if words.len() > ECHO_WORDS {
        echo.push('…');
    }
    echo
}

fn reply_text(model: &str, echo: Option<&str>) -> String {
    match echo {
        Some(echo) if !echo.is_empty() => format!(
            "Hello from the Copilot simulator ({model}). You said: \"{echo}\". This answer is simulated; no real model was called."
        ),
        _ => format!("Hello from the Copilot simulator ({model}). Ask me anything."),
    }
}

/// Splits text into pieces of a few words, keeping the spaces so the pieces concatenate back.
pub(crate) fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut words = 0;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            current.push(' ');
        }
        current.push_str(word);
        words += 1;
        if words == WORDS_PER_PIECE {
            out.push(std::mem::take(&mut current));
            words = 0;
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Splits an argument string into a few pieces on character boundaries.
pub(crate) fn argument_pieces(arguments: &str) -> Vec<String> {
    let chars: Vec<char> = arguments.chars().collect();
    let size = chars.len().div_ceil(ARGUMENT_PIECES).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

fn tool_calls(name: &str, schema: &Value, place: Option<&str>) -> Vec<ToolCall> {
    (0..PARALLEL_CALLS)
        .map(|i| ToolCall {
            name: name.to_string(),
            arguments: sample_arguments(schema, i, place).to_string(),
        })
        .collect()
}

/// Plausible arguments for a JSON-schema object: one value per property, varied by `call`;
/// a place-like string parameter gets `place` when the conversation named one.
fn sample_arguments(schema: &Value, call: usize, place: Option<&str>) -> Value {
    let mut args = Map::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            args.insert(name.clone(), sample_value(name, property, call, place));
        }
    }
    Value::Object(args)
}

fn sample_value(name: &str, property: &Value, call: usize, place: Option<&str>) -> Value {
    if let Some(options) = property.get("enum").and_then(Value::as_array) {
        if let Some(choice) = options.get(call % options.len().max(1)) {
            return choice.clone();
        }
    }
    let n = call + 1;
    match property.get("type").and_then(Value::as_str) {
        Some("string") => match place {
            Some(place) if is_place_parameter(name) => Value::String(place.to_string()),
            _ => Value::String(format!("{name} {n}")),
        },
        Some("integer") => Value::from(n),
        Some("number") => Value::from(n as f64 + 0.5),
        Some("boolean") => Value::Bool(call == 0),
        Some("array") => Value::Array(Vec::new()),
        Some("object") => sample_arguments(property, call, place),
        _ => Value::Null,
    }
}

fn is_place_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("city") || PLACE_PARAMETERS.contains(&name.as_str())
}

/// The place `text` names: the capitalised words right after "in", "for" or "at" ("weather
/// in New York?" gives "New York"); the last such mention wins. Punctuation ends a name.
pub(crate) fn named_place(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut found = None;
    for (i, marker) in words.iter().enumerate() {
        if !PLACE_MARKERS.iter().any(|m| marker.eq_ignore_ascii_case(m)) {
            continue;
        }
        let mut name: Vec<&str> = Vec::new();
        for word in &words[i + 1..] {
            let bare = word.trim_matches(|c: char| !c.is_alphanumeric());
            if bare.is_empty() || !bare.chars().next().is_some_and(char::is_uppercase) {
                break;
            }
            name.push(bare);
            if bare.len() != word.len() {
                break;
            }
        }
        if !name.is_empty() {
            found = Some(name.join(" "));
        }
    }
    found
}

/// Text of a message `content`: a string, or the `text` of its parts (any part type).
pub(crate) fn content_text(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `compose` takes the place as given (`named_place` runs where a request is read), so
    /// these asks name none unless a test sets one.
    fn ask(tool: Option<(String, Value)>, user_turn: bool) -> Ask {
        Ask {
            model: "gpt-4.1".into(),
            last_user_text: Some(
                "please tell me about the weather in Paris today and tomorrow".into(),
            ),
            place: None,
            user_turn,
            tool,
            reasoning: false,
            prompt_chars: 41,
        }
    }

    #[test]
    fn text_answer_names_the_simulator_and_echoes_the_user() {
        let a = compose(&ask(None, true));
        let text = a.full_text();
        assert!(text.contains("Copilot simulator"));
        assert!(
            text.contains("\"please tell me about the weather in Paris…\""),
            "{text}"
        );
        assert!(a.text.len() > 3, "several pieces");
        assert!(a.tool_calls.is_empty());
        assert_eq!(a.prompt_tokens, 11);
        assert!(a.completion_tokens > 0);
    }

    #[test]
    fn tools_on_a_user_turn_give_two_calls_with_schema_arguments() {
        let schema = json!({"type": "object", "properties": {
            "city": {"type": "string"}, "days": {"type": "integer"},
            "unit": {"type": "string", "enum": ["c", "f"]}}});
        let a = compose(&ask(Some(("get_weather".into(), schema)), true));
        assert!(a.text.is_empty());
        assert_eq!(a.tool_calls.len(), PARALLEL_CALLS);
        let first: Value = serde_json::from_str(&a.tool_calls[0].arguments).unwrap();
        let second: Value = serde_json::from_str(&a.tool_calls[1].arguments).unwrap();
        assert_eq!(first, json!({"city": "city 1", "days": 1, "unit": "c"}));
        assert_eq!(second, json!({"city": "city 2", "days": 2, "unit": "f"}));
        assert!(a.tool_calls.iter().all(|c| c.name == "get_weather"));
    }

    #[test]
    fn a_place_named_by_the_user_fills_place_parameters() {
        let schema = json!({"type": "object", "properties": {
            "city": {"type": "string"}, "days": {"type": "integer"},
            "where": {"type": "object", "properties": {"location": {"type": "string"}}}}});
        let mut with_place = ask(Some(("get_weather".into(), schema)), true);
        with_place.place = named_place("What is the weather in Paris?");
        let a = compose(&with_place);
        for (i, call) in a.tool_calls.iter().enumerate() {
            let args: Value = serde_json::from_str(&call.arguments).unwrap();
            let expected = json!({"city": "Paris", "days": i + 1, "where": {"location": "Paris"}});
            assert_eq!(args, expected);
        }
    }

    #[test]
    fn named_places() {
        assert_eq!(
            named_place("What is the weather in Paris?").as_deref(),
            Some("Paris")
        );
        assert_eq!(
            named_place("Forecast for New York, then in Rome").as_deref(),
            Some("Rome")
        );
        assert_eq!(
            named_place("Any news for New York today?").as_deref(),
            Some("New York")
        );
        assert_eq!(named_place("what is in the box"), None);
        assert_eq!(named_place("in"), None);
        assert_eq!(named_place(""), None);
    }

    #[test]
    fn tool_results_get_a_text_answer() {
        let a = compose(&ask(Some(("t".into(), json!({}))), false));
        assert!(a.tool_calls.is_empty());
        assert!(!a.text.is_empty());
    }

    #[test]
    fn pieces_concatenate_back() {
        let text = "a b  c d e f g";
        assert_eq!(pieces(text).concat(), text);
        let args = "{\"é\":\"ü\",\"x\":1}";
        let split = argument_pieces(args);
        assert_eq!(split.len(), 3);
        assert_eq!(split.concat(), args);
        assert_eq!(argument_pieces("").concat(), "");
    }

    #[test]
    fn content_text_reads_strings_and_parts() {
        assert_eq!(content_text(&json!("hi")), Some("hi".into()));
        let parts = json!([{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "input_text", "text": "b"}]);
        assert_eq!(content_text(&parts), Some("a\nb".into()));
        assert_eq!(content_text(&json!(null)), None);
    }

    #[test]
    fn reasoning_is_counted() {
        let mut a = ask(None, true);
        a.reasoning = true;
        let answer = compose(&a);
        assert!(answer.full_reasoning().contains("simulator"));
        assert!(answer.reasoning_tokens > 0);
    }
}
