//! Images in a request, for every endpoint: the `data:` URL sent, the media type sniffed from
//! the bytes and the decoded size, checked against what the model accepts.

use crate::bindings::copilot_chat::extension::llm_provider::ImageData;
use crate::error::Error;

/// Base64 characters decoded to sniff an image type (12 bytes: enough for WebP's header).
const IMAGE_MAGIC_BYTES: usize = 12;
/// The scheme of inline image URLs, compared case-insensitively.
const DATA_SCHEME: &str = "data:";

/// A `data:` URL for an image: base64 gets its media type from the bytes; a base64 `data:`
/// URL is re-labelled with the sniffed type (see `image_info`). Shared with `/responses`.
pub fn image_url(image: &ImageData) -> Result<String, Error> {
    image_info(image).map(|info| info.url)
}

/// What the request mapping knows about one image.
pub struct ImageInfo {
    /// The `data:` URL sent to the API.
    pub url: String,
    /// `image/png`, … : sniffed from the bytes when they are a known format, else declared.
    pub media_type: String,
    /// Decoded size in bytes.
    pub bytes: u64,
}

/// Reads an image source. Base64 gets its media type from the bytes' magic number
/// (whitespace such as base64 line breaks is removed). A base64 `data:` URL is re-labelled
/// with the sniffed type when it is PNG, JPEG, GIF or WebP (editors guess the type from file
/// names, and a wrong label makes the API refuse the image); any other `data:` URL passes
/// through with its declared type.
pub fn image_info(image: &ImageData) -> Result<ImageInfo, Error> {
    let source = image.source.trim();
    if source.get(..DATA_SCHEME.len()).is_some_and(|p| p.eq_ignore_ascii_case(DATA_SCHEME)) {
        return data_url_info(source);
    }
    let media_type = sniff_media_type(source).ok_or_else(|| {
        Error::InvalidRequest(
            "an image is neither a data: URL nor base64 PNG, JPEG, GIF or WebP data".to_string(),
        )
    })?;
    let payload: String = source.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    Ok(ImageInfo {
        bytes: base64_decoded_len(&payload),
        url: format!("data:{media_type};base64,{payload}"),
        media_type: media_type.to_string(),
    })
}

fn data_url_info(source: &str) -> Result<ImageInfo, Error> {
    let rest = source.get(DATA_SCHEME.len()..).unwrap_or_default();
    let Some((meta, payload)) = rest.split_once(',') else {
        return Err(Error::InvalidRequest("an image data: URL has no `,` before its data".to_string()));
    };
    let is_base64 = meta.to_ascii_lowercase().ends_with(";base64");
    let declared = meta.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if !is_base64 {
        return Ok(ImageInfo { url: source.to_string(), media_type: declared, bytes: payload.len() as u64 });
    }
    let payload: String = payload.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64_decoded_len(&payload);
    Ok(match sniff_media_type(&payload) {
        Some(sniffed) => ImageInfo { url: format!("data:{sniffed};base64,{payload}"), media_type: sniffed.to_string(), bytes },
        None => ImageInfo { url: source.to_string(), media_type: declared, bytes },
    })
}

/// Decoded length of base64 text without whitespace: 3 bytes per 4 characters, padding
/// excluded.
fn base64_decoded_len(payload: &str) -> u64 {
    let chars = payload.bytes().filter(|b| base64_value(*b).is_some()).count() as u64;
    chars * 3 / 4
}

fn sniff_media_type(base64: &str) -> Option<&'static str> {
    let bytes = decode_base64_prefix(base64, IMAGE_MAGIC_BYTES);
    match bytes.as_slice() {
        [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, ..] => Some("image/png"),
        [0xff, 0xd8, 0xff, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some("image/gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

/// Decodes up to `max` bytes from the start of standard or URL-safe base64, skipping
/// whitespace and stopping at padding or any other character.
fn decode_base64_prefix(text: &str, max: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(max);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in text.bytes() {
        if out.len() >= max {
            break;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        let Some(value) = base64_value(c) else { break };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn base64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}
