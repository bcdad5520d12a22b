//! Scans eight bytes at a time, for the long byte runs a request or an answer holds (an
//! image's JSON string, the lines of an SSE body): the guest has no SIMD, and a scan that
//! looks at one byte per step was the largest single cost of reading a streamed answer.
//!
//! Design decision: a word's "some byte is below n" mask, `(w - n·ONES) & !w & HIGHS`, has
//! no set bit below the first byte that is below `n` (no borrow reaches the bytes beneath
//! it), so the mask's lowest set bit marks that byte exactly; bits above it may be spurious,
//! and nothing here reads them. A byte equal to `c` is a zero byte of `w ^ c·ONES`.

/// `0x01` in every byte of a word.
pub const ONES: u64 = u64::from_le_bytes([1; 8]);
/// The high bit of every byte of a word.
const HIGHS: u64 = ONES << 7;

/// Non-zero exactly when some byte of `w` is below `n` (`n` at most 0x80); the lowest set
/// bit is in the first such byte (little-endian order).
pub const fn below(w: u64, n: u64) -> u64 {
    w.wrapping_sub(ONES * n) & !w & HIGHS
}

/// The "some byte equals `c`" mask of `w`, like [`below`].
pub const fn equal(w: u64, c: u8) -> u64 {
    below(w ^ (ONES * c as u64), 1)
}

/// The word of eight bytes (little-endian).
pub fn word(bytes: [u8; 8]) -> u64 {
    u64::from_le_bytes(bytes)
}

/// Where the first `a` or `b` is in `bytes`.
pub fn find_either(bytes: &[u8], a: u8, b: u8) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut words {
        let Ok(eight) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let w = word(eight);
        let found = equal(w, a) | equal(w, b);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words.remainder().iter().position(|&x| x == a || x == b).map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_of_either_byte_is_found_at_every_place_and_length() {
        for len in 0..26 {
            for first in 0..len {
                for later in [None, Some(first + 1), Some(len - 1)] {
                    for (a, b) in [(b'\n', b'\r'), (b'\r', b'\n'), (0, 0xff)] {
                        let mut bytes = vec![b'x'; len];
                        bytes[first] = a;
                        if let Some(l) = later.filter(|&l| l > first && l < len) {
                            bytes[l] = b;
                        }
                        assert_eq!(find_either(&bytes, a, b), Some(first), "{bytes:?}");
                        assert_eq!(find_either(&bytes, b, a), Some(first), "{bytes:?}");
                    }
                }
            }
            assert_eq!(find_either(&vec![b'x'; len], b'\n', b'\r'), None);
        }
    }

    #[test]
    fn bytes_next_to_the_ones_sought_and_high_bytes_are_not_taken_for_them() {
        // Every byte value before the sought one: none may be reported in its place.
        for other in 0..=255u8 {
            if other == b'\n' || other == b'\r' {
                continue;
            }
            for at in 0..16 {
                let mut bytes = vec![other; 17];
                bytes[at] = b'\r';
                assert_eq!(find_either(&bytes, b'\n', b'\r'), Some(at), "{other:#04x} at {at}");
            }
            assert_eq!(find_either(&[other; 17], b'\n', b'\r'), None, "{other:#04x}");
        }
    }

    #[test]
    fn below_marks_the_first_small_byte() {
        for at in 0..8 {
            let mut bytes = [0x7fu8; 8];
            bytes[at] = 0x1f;
            let mask = below(word(bytes), 0x20);
            assert_eq!((mask.trailing_zeros() / 8) as usize, at);
        }
        assert_eq!(below(word([0x20; 8]), 0x20), 0);
        assert_eq!(equal(word(*b"abcdefgh"), b'z'), 0);
        assert_ne!(equal(word(*b"abcdefgz"), b'z'), 0);
    }
}
