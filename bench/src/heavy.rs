//! The heavy requests: a 10 MiB image request and a 200-message conversation, each timed to
//! its first event through the component and by the native client replaying the exact bytes
//! the component sent.
//!
//! Design decision: the images are PNG by their magic bytes and each stays under the
//! simulated catalog's per-image limit (3 MiB decoded), so the guest checks, sniffs and
//! relabels them as it would a real attachment and the request is not refused locally; the
//! whole request is what is large. Both sides get the same short scripted answer, so the
//! difference is what the component adds: lowering the request into the guest, building
//! and serialising the body, and handing it to the host's HTTP client.

use std::time::Duration;

use copilot_host::{CompletionRequest, ImageData, MessageContent, MessageRole, RequestMessage};

use crate::scenario::{self, Env};

/// Base64 characters per image; four of them make the 10 MiB request.
const IMAGE_BASE64_CHARS: usize = 10 * 1024 * 1024 / IMAGES;
const IMAGES: usize = 4;
/// Base64 of the PNG signature and one zero byte: what the guest sniffs.
const PNG_BASE64_HEAD: &str = "iVBORw0KGgoA";
/// Messages in the long conversation (a system prompt, then user and assistant turns).
pub const CONVERSATION_MESSAGES: usize = 200;
/// Words per conversation message.
const WORDS_PER_MESSAGE: usize = 60;

/// First-event times of one request on each side (medians are taken by the caller).
pub struct Timed {
    pub component: Vec<Duration>,
    pub native: Vec<Duration>,
    /// Size of the body the component sent.
    pub body_bytes: usize,
}

/// Runs `request` `runs` times through the component and its recorded bytes `runs` times
/// natively, alternating, each against a short scripted answer.
pub fn measure(env: &Env, request: &CompletionRequest, runs: usize) -> anyhow::Result<Timed> {
    let recorded = env.recorded_chat_of(request.clone())?;
    let mut timed = Timed {
        component: Vec::with_capacity(runs),
        native: Vec::with_capacity(runs),
        body_bytes: recorded.body.len(),
    };
    for _ in 0..runs {
        let copy = request.clone();
        env.sim.script_chat(scenario::short_script());
        timed
            .component
            .push(env.component_stream_of(copy)?.first_event);
        env.sim.script_chat(scenario::short_script());
        timed.native.push(env.native_stream(&recorded)?.first_event);
    }
    Ok(timed)
}

/// One user message with a question and four PNG images, 10 MiB of base64 in all.
pub fn image_request() -> CompletionRequest {
    let mut content = vec![MessageContent::Text(
        "What differs between these screenshots?".into(),
    )];
    for _ in 0..IMAGES {
        let mut source = String::with_capacity(IMAGE_BASE64_CHARS);
        source.push_str(PNG_BASE64_HEAD);
        source.extend(std::iter::repeat_n(
            'A',
            IMAGE_BASE64_CHARS - PNG_BASE64_HEAD.len(),
        ));
        content.push(MessageContent::Image(ImageData {
            source,
            width: Some(1920),
            height: Some(1080),
        }));
    }
    scenario::request_of(vec![RequestMessage {
        role: MessageRole::User,
        content,
        cache: false,
    }])
}

/// A system prompt and 199 alternating user and assistant turns, ending with the user.
pub fn conversation_request() -> CompletionRequest {
    let mut messages = vec![RequestMessage {
        role: MessageRole::System,
        content: vec![MessageContent::Text("You are a helpful assistant.".into())],
        cache: false,
    }];
    for i in 1..CONVERSATION_MESSAGES {
        let role = if i % 2 == 1 {
            MessageRole::User
        } else {
            MessageRole::Assistant
        };
        let text: Vec<String> = (0..WORDS_PER_MESSAGE)
            .map(|w| format!("word{}", (i * 31 + w) % 97))
            .collect();
        messages.push(RequestMessage {
            role,
            content: vec![MessageContent::Text(format!(
                "Turn {i}: {}.",
                text.join(" ")
            ))],
            cache: false,
        });
    }
    scenario::request_of(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_request_is_ten_mib_of_png_base64() {
        let request = image_request();
        let sources: Vec<&str> = request.messages[0]
            .content
            .iter()
            .filter_map(|c| match c {
                MessageContent::Image(image) => Some(image.source.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(sources.len(), IMAGES);
        assert_eq!(
            sources.iter().map(|s| s.len()).sum::<usize>(),
            10 * 1024 * 1024
        );
        assert!(sources
            .iter()
            .all(|s| s.starts_with("iVBORw0KGgo") && s.len() % 4 == 0));
    }

    #[test]
    fn the_conversation_has_two_hundred_messages_and_ends_with_the_user() {
        let request = conversation_request();
        assert_eq!(request.messages.len(), CONVERSATION_MESSAGES);
        assert!(matches!(request.messages[0].role, MessageRole::System));
        assert!(matches!(
            request.messages.last().map(|m| m.role),
            Some(MessageRole::User)
        ));
    }
}
