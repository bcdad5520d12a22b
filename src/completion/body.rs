//! A request body's JSON text: byte for byte what `serde_json::to_vec` writes (compact, keys
//! in the map's order, the same escapes), with long strings handled in bulk.
//!
//! Design decision: a request body is mostly a few long strings (images as base64, long
//! conversations). `serde_json` looks up every byte of a string in its escape table before
//! copying it; here a string is first checked eight bytes at a time for the only bytes JSON
//! escapes (`"`, `\` and controls below 0x20) and, when it has none (a base64 image never
//! does), copied as is. A string that needs escaping, and every number, `true`, `false` and
//! `null`, is written by `serde_json` itself, so the text cannot differ. The buffer is sized
//! once from the value's string lengths, so a multi-megabyte body is not regrown and copied.

use serde_json::Value;

use crate::completion::words;

/// The JSON text of `value`, as `serde_json::to_vec` writes it.
pub fn encode(value: &Value) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(size_hint(value));
    write_value(&mut out, value)?;
    Ok(out)
}

fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<(), serde_json::Error> {
    match value {
        Value::Object(map) => {
            out.push(b'{');
            for (n, (key, value)) in map.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_str(out, key)?;
                out.push(b':');
                write_value(out, value)?;
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::String(s) => write_str(out, s)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => serde_json::to_writer(&mut *out, value)?,
    }
    Ok(())
}

fn write_str(out: &mut Vec<u8>, s: &str) -> Result<(), serde_json::Error> {
    if needs_escape(s.as_bytes()) {
        return serde_json::to_writer(&mut *out, s);
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
    Ok(())
}

/// Whether `bytes` hold a byte a JSON string escapes: `"`, `\` or a control below 0x20 (the
/// bytes `serde_json` escapes; nothing else is), eight bytes at a time (see `words`).
fn needs_escape(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    for word in &mut chunks {
        let Ok(word) = <[u8; 8]>::try_from(word) else {
            return true;
        };
        let w = words::word(word);
        if words::below(w, 0x20) | words::equal(w, b'"') | words::equal(w, b'\\') != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// The text's length when no string needs escaping, a little more for numbers (a guess; the
/// buffer grows if it is short).
fn size_hint(value: &Value) -> usize {
    match value {
        Value::Object(map) => 2 + map.iter().map(|(k, v)| k.len() + 4 + size_hint(v)).sum::<usize>(),
        Value::Array(items) => 2 + items.iter().map(|v| 1 + size_hint(v)).sum::<usize>(),
        Value::String(s) => s.len() + 2,
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 20,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn same_as_serde(value: &Value) {
        assert_eq!(
            String::from_utf8(encode(value).unwrap()).unwrap(),
            String::from_utf8(serde_json::to_vec(value).unwrap()).unwrap()
        );
    }

    #[test]
    fn every_byte_that_json_escapes_is_found_at_every_place_in_a_word() {
        for len in [1usize, 7, 8, 9, 16, 17, 23] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'A'; len];
                    bytes[at] = b;
                    let escaped = b < 0x20 || b == b'"' || b == b'\\';
                    assert_eq!(needs_escape(&bytes), escaped, "byte {b:#04x} at {at} of {len}");
                }
            }
        }
        assert!(!needs_escape(b""));
        // Neighbours of the escaped bytes, high bytes and UTF-8 do not need escaping.
        assert!(!needs_escape("!#[]~\u{7f} \u{80}é✓😀 iVBORw0KGgo+/=-_".as_bytes()));
    }

    #[test]
    fn the_text_is_serde_jsons() {
        same_as_serde(&json!(null));
        same_as_serde(&json!({}));
        same_as_serde(&json!([]));
        same_as_serde(&json!(""));
        same_as_serde(&json!({
            "model": "gpt-4.1",
            "zeta": [true, false, null, 0, -1, 1.5, 0.1, 1e300, -0.0, u64::MAX, i64::MIN, 3.0],
            "alpha": { "nested": [[], {}, [{ "deep": "x" }]] },
            "esc\"aped\nkey": "tab\there, quote \" backslash \\ nul \u{0} bell \u{7} del \u{7f}",
            "unicode": "é ✓ 😀 \u{2028} \u{2029}",
            "url": format!("data:image/png;base64,iVBORw0KGgo{}", "A".repeat(1000)),
        }));
        // Escapes at every place of a word, and strings around the eight-byte boundary.
        for len in 0..20 {
            let plain = "a".repeat(len);
            same_as_serde(&json!([plain, format!("{plain}\""), format!("\\{plain}"), format!("{plain}\u{1f}{plain}")]));
        }
    }

    #[test]
    fn the_buffer_is_sized_once_for_plain_strings() {
        let value = json!({ "messages": [{ "role": "user", "content": "x".repeat(100_000) }], "stream": true, "n": 1 });
        let text = encode(&value).unwrap();
        assert!(text.capacity() >= text.len() && text.capacity() < text.len() + 64, "{} {}", text.capacity(), text.len());
    }
}
