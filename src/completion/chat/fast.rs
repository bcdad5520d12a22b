//! The fast path of chat-stream decoding: the common chunk (text deltas and finish reasons)
//! read into borrowed, typed fields instead of a `serde_json::Value` tree.
//!
//! Design decision: profiling the benchmark showed that building a `Value` (a `BTreeMap` per
//! object, a `String` per key and value) for every chunk was about half the guest's per-event
//! cost. This path accepts only chunks it can decode exactly as the general path in `decode`
//! would: anything else (an `error` or `usage` object, tool calls, reasoning, a `message`
//! instead of a `delta`, a field of an unexpected type, duplicate keys, malformed JSON) answers
//! `None`, and the caller decodes the chunk the general, lenient way. So the fast path can only
//! ever be faster, never different.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;

/// One choice of a plain chunk: what the decoder needs of it.
#[derive(Debug, PartialEq, Eq)]
pub struct PlainChoice<'a> {
    /// `index`, when present.
    pub index: Option<u64>,
    /// `delta.content`, when a string.
    pub content: Option<Cow<'a, str>>,
    /// `finish_reason`, when a string.
    pub finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    choices: Option<Vec<Choice<'a>>>,
    #[serde(default)]
    error: Option<IgnoredAny>,
    #[serde(default)]
    usage: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(default)]
    message: Option<IgnoredAny>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(default)]
    reasoning_text: Option<IgnoredAny>,
    #[serde(default)]
    reasoning_opaque: Option<IgnoredAny>,
    #[serde(default)]
    tool_calls: Option<IgnoredAny>,
}

/// The choices of `data` when it is a plain chunk, else `None` (decode it the general way).
pub fn plain_choices(data: &str) -> Option<Vec<PlainChoice<'_>>> {
    let chunk: Chunk<'_> = serde_json::from_str(data).ok()?;
    if chunk.error.is_some() || chunk.usage.is_some() {
        return None;
    }
    chunk
        .choices
        .unwrap_or_default()
        .into_iter()
        .map(|choice| {
            if choice.message.is_some() {
                return None;
            }
            let content = match choice.delta {
                Some(delta) => {
                    let special = delta.reasoning_text.is_some()
                        || delta.reasoning_opaque.is_some()
                        || delta.tool_calls.is_some();
                    if special {
                        return None;
                    }
                    delta.content
                }
                None => None,
            };
            Some(PlainChoice {
                index: choice.index,
                content,
                finish_reason: choice.finish_reason,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(
        index: Option<u64>,
        content: Option<&str>,
        finish: Option<&str>,
    ) -> PlainChoice<'static> {
        PlainChoice {
            index,
            content: content.map(|c| Cow::Owned(c.to_string())),
            finish_reason: finish.map(|f| Cow::Owned(f.to_string())),
        }
    }

    #[test]
    fn text_and_finish_chunks_take_the_fast_path() {
        let text = r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi \"there\""},"finish_reason":null}],"model":"m"}"#;
        assert_eq!(
            plain_choices(text),
            Some(vec![plain(Some(0), Some("Hi \"there\""), None)])
        );
        let finish = r#"{"choices":[{"index":1,"delta":{},"finish_reason":"stop"}]}"#;
        assert_eq!(
            plain_choices(finish),
            Some(vec![plain(Some(1), None, Some("stop"))])
        );
        let no_choices = r#"{"choices":[],"prompt_filter_results":[{"prompt_index":0}]}"#;
        assert_eq!(plain_choices(no_choices), Some(vec![]));
        let nulls = r#"{"choices":null,"usage":null,"error":null}"#;
        assert_eq!(plain_choices(nulls), Some(vec![]));
    }

    #[test]
    fn anything_unusual_goes_the_general_way() {
        for data in [
            r#"{"choices":[],"usage":{"prompt_tokens":1}}"#,
            r#"{"error":{"message":"boom"}}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}"#,
            r#"{"choices":[{"delta":{"reasoning_text":"hmm"}}]}"#,
            r#"{"choices":[{"delta":{"reasoning_opaque":"x"}}]}"#,
            r#"{"choices":[{"message":{"content":"whole"}}]}"#,
            r#"{"choices":[{"index":"0","delta":{"content":"a"}}]}"#,
            r#"{"choices":[{"delta":{"content":5}}]}"#,
            r#"{"choices":[{"delta":"text"}]}"#,
            r#"{"choices":["x"]}"#,
            r#"{"choices":{}}"#,
            r#"{"choices":[{"delta":{"content":"a","content":"b"}}]}"#,
            r#"[1,2]"#,
            r#"{"choices":[] } trailing"#,
            "not json",
        ] {
            assert_eq!(plain_choices(data), None, "{data}");
        }
    }
}
