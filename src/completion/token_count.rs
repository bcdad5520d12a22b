//! `llm-count-tokens`: an estimated prompt size for a whole completion request.
//!
//! Design decision: the text of every message, tool definition and tool call is estimated
//! with `tokens::estimate` for the model's tokenizer, plus OpenAI's documented chat framing
//! (a few tokens per message and for the reply). Images use OpenAI's tile formula when the
//! size is known (Claude and Gemini bill images differently, so this is an estimate there too).
//! Opaque reasoning (redacted thinking) is not counted: its server-side size is unknown. The
//! result is as good as `tokens::estimate` (see its header for the measured error): use it to
//! budget a context window, not as the bill.

use crate::bindings::copilot_chat::extension::llm_provider::{
    CompletionRequest, ImageData, MessageContent, ToolResultContent,
};
use crate::completion::tokens::{estimate, Tokenizer};

/// Framing tokens per message (role and separators), as OpenAI documents for its chat models.
const TOKENS_PER_MESSAGE: u64 = 3;
/// Framing tokens that prime the reply.
const REPLY_PRIMING_TOKENS: u64 = 3;
/// Framing tokens around one tool definition (its type, keys and separators).
const TOKENS_PER_TOOL: u64 = 8;
/// Image tokens: a base cost plus a cost per 512-pixel tile (OpenAI, high detail).
const IMAGE_BASE_TOKENS: u64 = 85;
const IMAGE_TILE_TOKENS: u64 = 170;
const IMAGE_TILE_PIXELS: u64 = 512;
/// Images are first fitted into this square, then their short side scaled to
/// [`IMAGE_SHORT_SIDE`].
const IMAGE_MAX_SIDE: u64 = 2048;
const IMAGE_SHORT_SIDE: u64 = 768;
/// An image of unknown size is priced as a 1024×1024 one (4 tiles).
const UNKNOWN_IMAGE_TOKENS: u64 = IMAGE_BASE_TOKENS + 4 * IMAGE_TILE_TOKENS;

/// The estimated prompt tokens of `request` for `tokenizer`.
pub fn count_request(request: &CompletionRequest, tokenizer: Tokenizer) -> u64 {
    let text = |s: &str| estimate(s, tokenizer);
    let messages: u64 = request
        .messages
        .iter()
        .map(|m| {
            TOKENS_PER_MESSAGE
                + m.content
                    .iter()
                    .map(|c| content_tokens(c, &text))
                    .sum::<u64>()
        })
        .sum();
    let tools: u64 = request
        .tools
        .iter()
        .map(|t| TOKENS_PER_TOOL + text(&t.name) + text(&t.description) + text(&t.input_schema))
        .sum();
    messages
        .saturating_add(tools)
        .saturating_add(REPLY_PRIMING_TOKENS)
}

fn content_tokens(content: &MessageContent, text: &impl Fn(&str) -> u64) -> u64 {
    match content {
        MessageContent::Text(t) => text(t),
        MessageContent::Image(image) => image_tokens(image),
        MessageContent::ToolUse(u) => text(&u.name) + text(&u.input),
        MessageContent::ToolResult(r) => match &r.content {
            ToolResultContent::Text(t) => text(t),
            ToolResultContent::Image(image) => image_tokens(image),
        },
        MessageContent::Thinking(t) => text(&t.text),
        MessageContent::RedactedThinking(_) => 0,
    }
}

/// OpenAI's high-detail image price: fit into 2048×2048, scale the short side to 768, then
/// 85 + 170 per 512-pixel tile.
fn image_tokens(image: &ImageData) -> u64 {
    let (Some(w), Some(h)) = (image.width, image.height) else {
        return UNKNOWN_IMAGE_TOKENS;
    };
    let (mut w, mut h) = (u64::from(w.max(1)), u64::from(h.max(1)));
    let long = w.max(h);
    if long > IMAGE_MAX_SIDE {
        w = (w * IMAGE_MAX_SIDE).div_ceil(long);
        h = (h * IMAGE_MAX_SIDE).div_ceil(long);
    }
    let short = w.min(h);
    if short > IMAGE_SHORT_SIDE {
        w = (w * IMAGE_SHORT_SIDE).div_ceil(short);
        h = (h * IMAGE_SHORT_SIDE).div_ceil(short);
    }
    let tiles = w.div_ceil(IMAGE_TILE_PIXELS) * h.div_ceil(IMAGE_TILE_PIXELS);
    IMAGE_BASE_TOKENS + IMAGE_TILE_TOKENS * tiles
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::copilot_chat::extension::llm_provider::{
        MessageRole, ToolDefinition, ToolUse,
    };
    use crate::completion::fixtures::{message, request};

    fn image(width: Option<u32>, height: Option<u32>) -> ImageData {
        ImageData {
            source: String::new(),
            width,
            height,
        }
    }

    #[test]
    fn messages_add_their_text_and_framing() {
        let empty = request(vec![]);
        assert_eq!(
            count_request(&empty, Tokenizer::O200k),
            REPLY_PRIMING_TOKENS
        );
        let hello = request(vec![message(
            MessageRole::User,
            vec![MessageContent::Text("Hello, world!".into())],
        )]);
        // 4 text tokens + 3 per message + 3 for the reply.
        assert_eq!(count_request(&hello, Tokenizer::O200k), 10);
        let mut with_tool = hello.clone();
        with_tool.tools.push(ToolDefinition {
            name: "read".into(),
            description: "Reads a file".into(),
            input_schema: r#"{"type":"object"}"#.into(),
        });
        with_tool.messages.push(message(
            MessageRole::Assistant,
            vec![
                MessageContent::ToolUse(ToolUse {
                    id: "c".into(),
                    name: "read".into(),
                    input: r#"{"path":"a.rs"}"#.into(),
                    is_input_complete: true,
                    thought_signature: None,
                }),
                MessageContent::RedactedThinking("opaque".repeat(100)),
            ],
        ));
        let n = count_request(&with_tool, Tokenizer::O200k);
        assert!(n > 10 + TOKENS_PER_TOOL + TOKENS_PER_MESSAGE, "{n}");
        assert!(n < 50, "redacted thinking is not counted: {n}");
    }

    #[test]
    fn image_prices_follow_the_tile_formula() {
        assert_eq!(image_tokens(&image(None, None)), 765);
        assert_eq!(image_tokens(&image(Some(512), Some(512))), 85 + 170);
        assert_eq!(image_tokens(&image(Some(1024), Some(1024))), 765);
        // 2048×4096 → 1024×2048 → 768×1536: 2×3 tiles.
        assert_eq!(image_tokens(&image(Some(2048), Some(4096))), 85 + 170 * 6);
        assert_eq!(image_tokens(&image(Some(0), Some(0))), 85 + 170);
        assert!(image_tokens(&image(Some(u32::MAX), Some(u32::MAX))) > 0);
    }
}
