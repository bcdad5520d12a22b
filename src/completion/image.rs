//! Images in a request, for every endpoint: the `data:` URL sent, the media type sniffed from
//! the bytes and the decoded size, checked against what the model accepts.
//!
//! Design: an image is read once per request ([`read_image`], one pass over its bytes) and
//! that read serves both the limit check and the body ([`ReadImages`]): a multi-megabyte
//! image is not scanned twice.

use crate::bindings::copilot_chat::extension::llm_provider::ImageData;
use crate::error::Error;

/// Base64 characters decoded to sniff an image type (12 bytes: enough for WebP's header).
const IMAGE_MAGIC_BYTES: usize = 12;
/// The scheme of inline image URLs, compared case-insensitively.
const DATA_SCHEME: &str = "data:";

/// An image source read once (one pass over its bytes): what the limit check needs (media
/// type, decoded size) and what a body needs (its URL, or its type and base64 data), so a
/// large image is scanned once per request. The URL is built only when asked for.
#[derive(Debug)]
pub struct ReadImage<'a> {
    media_type: std::borrow::Cow<'a, str>,
    bytes: u64,
    /// The base64 payload to label with `media_type`, or `None` when the source passes
    /// through unchanged.
    payload: Option<std::borrow::Cow<'a, str>>,
    source: &'a str,
}

impl ReadImage<'_> {
    /// The sniffed media type, or the one a `data:` URL declares.
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// The decoded size in bytes (for a `data:` URL that is not base64, its data's length).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The `data:` URL to send: base64 labelled with its media type; a base64 `data:` URL
    /// re-labelled with the sniffed type; any other `data:` URL unchanged.
    pub fn into_url(self) -> String {
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

    /// The media type and the bare base64 data, for APIs that take them apart (the Messages
    /// API's base64 source); a `data:` URL that is not base64 (or whose type was not sniffed)
    /// is an error there.
    pub fn into_base64(self) -> Result<(String, String), Error> {
        let data = self.payload.ok_or_else(|| {
            Error::InvalidRequest("an image data: URL that is not base64 cannot be sent to this model".to_string())
        })?;
        Ok((self.media_type.into_owned(), data.into_owned()))
    }
}

/// The images of one request read once, in request order, handed to the body builder one by
/// one ([`ReadImages::take`]); an image that was not read before (no limit check ran, as for
/// a model missing from the catalog) is read when taken.
#[derive(Debug, Default)]
pub struct ReadImages<'a> {
    read: std::collections::VecDeque<(&'a ImageData, ReadImage<'a>)>,
}

impl<'a> ReadImages<'a> {
    /// Keeps `read`, the read of `image`, for [`ReadImages::take`].
    pub fn keep(&mut self, image: &'a ImageData, read: ReadImage<'a>) {
        self.read.push_back((image, read));
    }

    /// `image` as read before, when it is the next image kept (the builders visit images in
    /// the order they were read); otherwise it is read now. Either way the result is the same.
    pub fn take(&mut self, image: &'a ImageData) -> Result<ReadImage<'a>, Error> {
        if self.read.front().is_some_and(|(kept, _)| std::ptr::eq(*kept, image)) {
            if let Some((_, read)) = self.read.pop_front() {
                return Ok(read);
            }
        }
        read_image(image)
    }
}

/// Between the media type and the payload of a base64 `data:` URL.
const BASE64_MARK: &str = ";base64,";

/// Reads an image source (one pass over it). Base64 gets its media type from the bytes' magic
/// number (whitespace such as base64 line breaks is removed). A base64 `data:` URL is re-labelled
/// with the sniffed type when it is PNG, JPEG, GIF or WebP (editors guess the type from file
/// names, and a wrong label makes the API refuse the image); any other `data:` URL passes
/// through with its declared type.
pub fn read_image(image: &ImageData) -> Result<ReadImage<'_>, Error> {
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
    // high half (a `&str` is far shorter than 2^32 bytes in a 32-bit guest). Eight bytes a
    // step, spelled out: the small-code build does not unroll the loop itself.
    let class = |b: u8| BYTE_CLASS[usize::from(b)];
    let mut words = text.as_bytes().chunks_exact(8);
    let mut counts = 0u64;
    for word in &mut words {
        if let Ok([b0, b1, b2, b3, b4, b5, b6, b7]) = <[u8; 8]>::try_from(word) {
            counts += class(b0) + class(b1) + class(b2) + class(b3) + class(b4) + class(b5) + class(b6) + class(b7);
        }
    }
    counts += words.remainder().iter().map(|&b| class(b)).sum::<u64>();
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

    fn image_url(image: &ImageData) -> Result<String, Error> {
        read_image(image).map(ReadImage::into_url)
    }

    fn image_facts(image: &ImageData) -> Result<(String, u64), Error> {
        read_image(image).map(|read| (read.media_type().to_string(), read.bytes()))
    }

    fn image_base64(image: &ImageData) -> Result<(String, String), Error> {
        read_image(image)?.into_base64()
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
    fn the_payload_is_counted_as_byte_by_byte_at_every_length() {
        let text = "iVBORw0K\nGgo AAAA=\r\n-_+/é!QUJD\tRA==".repeat(3);
        for end in (0..=text.len()).filter(|&end| text.is_char_boundary(end)) {
            let part = &text[..end];
            let base64 = part.bytes().filter(|&b| base64_value(b).is_some()).count() as u64;
            let stripped: String = part.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let (payload, bytes) = base64_payload(part);
            assert_eq!((payload.as_ref(), bytes), (stripped.as_str(), base64 * 3 / 4), "{end}");
            assert_eq!(matches!(payload, std::borrow::Cow::Borrowed(_)), !part.bytes().any(|b| b.is_ascii_whitespace()));
        }
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

    #[test]
    fn a_read_image_gives_the_bytes_the_builders_sent_before() {
        // Base64: labelled; with whitespace, stripped (and only then copied).
        let plain = image("iVBORw0KGgoAAAAA");
        let read = read_image(&plain).unwrap();
        assert!(matches!(read.payload, Some(std::borrow::Cow::Borrowed(_))));
        assert_eq!((read.media_type(), read.bytes()), ("image/png", 12));
        assert_eq!(read.into_url(), "data:image/png;base64,iVBORw0KGgoAAAAA");
        assert_eq!(image_base64(&plain).unwrap(), ("image/png".to_string(), "iVBORw0KGgoAAAAA".to_string()));
        let wrapped = image("iVBORw0K\r\nGgoA AAAA\n");
        assert_eq!(image_base64(&wrapped).unwrap(), ("image/png".to_string(), "iVBORw0KGgoAAAAA".to_string()));
        // A mislabelled base64 data URL: relabelled in both forms.
        let mislabelled = image("DATA:image/jpeg;BASE64,iVBORw0K\nGgoA");
        assert_eq!(image_url(&mislabelled).unwrap(), "data:image/png;base64,iVBORw0KGgoA");
        assert_eq!(image_base64(&mislabelled).unwrap(), ("image/png".to_string(), "iVBORw0KGgoA".to_string()));
        // Not base64, or base64 of an unknown type: the URL passes through unchanged, and the
        // base64 form is refused.
        for source in ["data:image/svg+xml,<svg/>", "data:image/bmp;base64,Qk0AAAAA"] {
            assert_eq!(image_url(&image(source)).unwrap(), source);
            match image_base64(&image(source)) {
                Err(Error::InvalidRequest(m)) => assert!(m.contains("not base64"), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        // Errors are the reader's, whichever form is asked for.
        for source in ["data:image/png;base64", "not an image", ""] {
            let expected = read_image(&image(source)).unwrap_err().to_string();
            assert_eq!(image_base64(&image(source)).unwrap_err().to_string(), expected);
            assert_eq!(image_url(&image(source)).unwrap_err().to_string(), expected);
        }
    }

    #[test]
    fn kept_reads_are_taken_in_order_and_anything_else_is_read_when_taken() {
        let png = image("iVBORw0KGgoAAAAA");
        let gif = image("data:image/png;base64,R0lGODlhAQABAAAAACw=");
        let svg = image("data:image/svg+xml,<svg/>");
        let mut images = ReadImages::default();
        for kept in [&png, &gif] {
            images.keep(kept, read_image(kept).unwrap());
        }
        // Out of order: read afresh, the kept reads stay.
        assert_eq!(images.take(&gif).unwrap().into_url(), image_url(&gif).unwrap());
        assert_eq!(images.read.len(), 2);
        let taken = images.take(&png).unwrap();
        assert_eq!(taken.media_type(), "image/png");
        assert_eq!(taken.into_url(), image_url(&png).unwrap());
        assert_eq!(images.take(&gif).unwrap().into_url(), "data:image/gif;base64,R0lGODlhAQABAAAAACw=");
        assert!(images.read.is_empty());
        // Never kept (no check ran): read when taken, errors included.
        assert_eq!(images.take(&svg).unwrap().into_url(), "data:image/svg+xml,<svg/>");
        let bad = image("not an image");
        assert_eq!(images.take(&bad).unwrap_err().to_string(), read_image(&bad).unwrap_err().to_string());
    }
}
