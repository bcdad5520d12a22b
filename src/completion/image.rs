//! Images in a request, for every endpoint: the `data:` URL sent, the media type sniffed from
//! the bytes and the decoded size, checked against what the model accepts.

use crate::bindings::copilot_chat::extension::llm_provider::ImageData;
use crate::error::Error;

/// Base64 characters decoded to sniff an image type (12 bytes: enough for WebP's header).
const IMAGE_MAGIC_BYTES: usize = 12;
/// The scheme of inline image URLs, compared case-insensitively.
const DATA_SCHEME: &str = "data:";

/// A `data:` URL for an image: base64 gets its media type from the bytes; a base64 `data:`
/// URL is re-labelled with the sniffed type (see `read_image`). Shared with `/responses`.
pub fn image_url(image: &ImageData) -> Result<String, Error> {
    read_image(image).map(|read| read.url())
}

/// The media type and decoded size of an image, without building its URL (checking a large
/// image against a model's limits copies nothing).
pub fn image_facts(image: &ImageData) -> Result<(String, u64), Error> {
    read_image(image).map(|read| (read.media_type.to_string(), read.bytes))
}

/// The sniffed (or declared) media type and the bare base64 data of an image, for APIs that
/// take them apart (the Messages API's base64 source); a `data:` URL that is not base64 is an
/// error there.
pub fn image_base64(image: &ImageData) -> Result<(String, String), Error> {
    let read = read_image(image)?;
    let data = read.payload.as_deref().ok_or_else(|| {
        Error::InvalidRequest("an image data: URL that is not base64 cannot be sent to this model".to_string())
    })?;
    Ok((read.media_type.to_string(), data.to_string()))
}

/// An image source read once; its URL is built only when asked for.
struct ReadImage<'a> {
    media_type: std::borrow::Cow<'a, str>,
    bytes: u64,
    /// The base64 payload to label with `media_type`, or `None` when the source passes
    /// through unchanged.
    payload: Option<std::borrow::Cow<'a, str>>,
    source: &'a str,
}

impl ReadImage<'_> {
    fn url(&self) -> String {
        let Some(payload) = &self.payload else {
            return self.source.to_string();
        };
        let mut url = String::with_capacity(DATA_SCHEME.len() + self.media_type.len() + BASE64_MARK.len() + payload.len());
        url.push_str(DATA_SCHEME);
        url.push_str(&self.media_type);
        url.push_str(BASE64_MARK);
        url.push_str(payload);
        url
    }
}

/// Between the media type and the payload of a base64 `data:` URL.
const BASE64_MARK: &str = ";base64,";

/// Reads an image source. Base64 gets its media type from the bytes' magic number
/// (whitespace such as base64 line breaks is removed). A base64 `data:` URL is re-labelled
/// with the sniffed type when it is PNG, JPEG, GIF or WebP (editors guess the type from file
/// names, and a wrong label makes the API refuse the image); any other `data:` URL passes
/// through with its declared type.
fn read_image(image: &ImageData) -> Result<ReadImage<'_>, Error> {
    let source = image.source.trim();
    if source.get(..DATA_SCHEME.len()).is_some_and(|p| p.eq_ignore_ascii_case(DATA_SCHEME)) {
        return read_data_url(source);
    }
    let media_type = sniff_media_type(source).ok_or_else(|| {
        Error::InvalidRequest(
            "an image is neither a data: URL nor base64 PNG, JPEG, GIF or WebP data".to_string(),
        )
    })?;
    let (payload, bytes) = base64_payload(source);
    Ok(ReadImage { media_type: media_type.into(), bytes, payload: Some(payload), source })
}

fn read_data_url(source: &str) -> Result<ReadImage<'_>, Error> {
    let rest = source.get(DATA_SCHEME.len()..).unwrap_or_default();
    let Some((meta, payload)) = rest.split_once(',') else {
        return Err(Error::InvalidRequest("an image data: URL has no `,` before its data".to_string()));
    };
    let is_base64 = meta.to_ascii_lowercase().ends_with(";base64");
    let declared = meta.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if !is_base64 {
        return Ok(ReadImage { media_type: declared.into(), bytes: payload.len() as u64, payload: None, source });
    }
    let (payload, bytes) = base64_payload(payload);
    Ok(match sniff_media_type(&payload) {
        Some(sniffed) => ReadImage { media_type: sniffed.into(), bytes, payload: Some(payload), source },
        None => ReadImage { media_type: declared.into(), bytes, payload: None, source },
    })
}

/// `text` without ASCII whitespace (base64 line breaks), and its decoded length: 3 bytes
/// per 4 base64 characters, padding and anything else excluded. One pass over the text;
/// borrowed when it has no whitespace, the usual case, so a multi-megabyte image is not
/// copied here.
fn base64_payload(text: &str) -> (std::borrow::Cow<'_, str>, u64) {
    // One addition per byte: base64 characters count in the low half, whitespace in the
    // high half (a `&str` is far shorter than 2^32 bytes in a 32-bit guest).
    let counts = text.as_bytes().iter().fold(0u64, |sum, &b| sum + BYTE_CLASS[usize::from(b)]);
    let decoded = (counts & u64::from(u32::MAX)) * 3 / 4;
    if counts >> 32 == 0 {
        return (std::borrow::Cow::Borrowed(text), decoded);
    }
    // Removing ASCII bytes from UTF-8 leaves UTF-8.
    let kept: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    (std::borrow::Cow::Owned(String::from_utf8(kept).unwrap_or_default()), decoded)
}

/// `BYTE_CLASS` of a standard or URL-safe base64 character: counted in the low half.
const BASE64_CHAR: u64 = 1;
/// `BYTE_CLASS` of ASCII whitespace: counted in the high half.
const WHITESPACE: u64 = 1 << 32;
/// The class of every byte value, so the pass over an image is a lookup and an addition.
static BYTE_CLASS: [u64; 256] = byte_classes();

const fn byte_classes() -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'/' | b'_') {
            table[b] = BASE64_CHAR;
        } else if c.is_ascii_whitespace() {
            table[b] = WHITESPACE;
        }
        b += 1;
    }
    table
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

#[cfg(test)]
mod tests {
    use super::*;

    fn image(source: &str) -> ImageData {
        ImageData { source: source.to_string(), width: None, height: None }
    }

    #[test]
    fn base64_is_labelled_and_stripped_of_whitespace_only_when_it_has_some() {
        assert_eq!(image_url(&image("iVBORw0KGgoAAAAA")).unwrap(), "data:image/png;base64,iVBORw0KGgoAAAAA");
        assert_eq!(image_url(&image(" iVBORw0K\nGgoA\r\nAAAA ")).unwrap(), "data:image/png;base64,iVBORw0KGgoAAAAA");
        assert_eq!(image_facts(&image("iVBORw0K\nGgoAAAAA")).unwrap(), ("image/png".to_string(), 12));
    }

    #[test]
    fn the_byte_classes_agree_with_the_decoder() {
        for b in 0..=255u8 {
            assert_eq!(BYTE_CLASS[usize::from(b)] & BASE64_CHAR != 0, base64_value(b).is_some(), "{b}");
            assert_eq!(BYTE_CLASS[usize::from(b)] & WHITESPACE != 0, b.is_ascii_whitespace(), "{b}");
        }
        assert_eq!(base64_payload("QUJD\nRA=="), ("QUJDRA==".into(), 4));
    }

    #[test]
    fn data_urls_are_relabelled_or_passed_through() {
        assert_eq!(
            image_url(&image("data:image/jpeg;base64,iVBORw0K GgoA")).unwrap(),
            "data:image/png;base64,iVBORw0KGgoA"
        );
        let unknown = "data:image/bmp;base64,Qk0A AAAA";
        assert_eq!(image_url(&image(unknown)).unwrap(), unknown);
        assert_eq!(image_facts(&image(unknown)).unwrap(), ("image/bmp".to_string(), 6));
        let plain = "data:image/svg+xml,<svg/>";
        assert_eq!(image_url(&image(plain)).unwrap(), plain);
        assert_eq!(image_facts(&image(plain)).unwrap(), ("image/svg+xml".to_string(), 6));
        assert!(image_url(&image("data:image/png;base64")).is_err());
        assert!(image_url(&image("not an image")).is_err());
    }
}
