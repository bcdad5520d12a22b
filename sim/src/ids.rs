//! Identifiers: request ids, completion ids and session-token MACs.
//!
//! Design: a per-simulator counter makes ids unique, and std's randomly keyed SipHash
//! (`RandomState`) makes them look like the real, unpredictable ones without a random-number
//! dependency. A MAC binds a session token's fields to this simulator instance.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// Number of 64-bit words in a session-token MAC (256 bits, like the real one's length).
const MAC_WORDS: u64 = 4;

/// Source of unique, unpredictable-looking identifiers.
pub(crate) struct Ids {
    counter: AtomicU64,
    keys: RandomState,
}

impl Default for Ids {
    fn default() -> Self {
        Ids {
            counter: AtomicU64::new(0),
            keys: RandomState::new(),
        }
    }
}

impl Ids {
    /// The next value of the instance-wide counter (starts at 1).
    pub fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A keyed hash of `data` salted with `salt`.
    fn word(&self, data: &str, salt: u64) -> u64 {
        self.keys.hash_one((data, salt))
    }

    /// 64 hex digits authenticating `payload` for this instance.
    pub fn mac(&self, payload: &str) -> String {
        (0..MAC_WORDS)
            .map(|i| format!("{:016x}", self.word(payload, i)))
            .collect()
    }

    /// A fresh random-looking 64-bit value.
    fn fresh(&self) -> u64 {
        let n = self.next();
        self.word("fresh", n)
    }

    /// A GitHub-style `x-github-request-id`, e.g. `5A1E:3C2B:1A2B3C:4D5E6F:6650A1B2`.
    pub fn github_request_id(&self) -> String {
        let a = self.fresh();
        let b = self.fresh();
        format!(
            "{:04X}:{:04X}:{:06X}:{:06X}:{:08X}",
            a & 0xFFFF,
            (a >> 16) & 0xFFFF,
            (a >> 32) & 0xFF_FFFF,
            b & 0xFF_FFFF,
            (b >> 24) & 0xFFFF_FFFF
        )
    }

    /// A UUID-shaped id (version 4 layout), as in `x-request-id`.
    pub fn uuid(&self) -> String {
        let a = self.fresh();
        let b = self.fresh();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xFFFF,
            a & 0xFFF,
            0x8000 | (b >> 48) & 0x3FFF,
            b & 0xFFFF_FFFF_FFFF
        )
    }

    /// An opaque id as Copilot's `/responses` stream gives every event: `len` characters of
    /// base64, never the same twice.
    pub fn opaque(&self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::with_capacity(len);
        while out.len() < len {
            let mut word = self.fresh();
            for _ in 0..10 {
                if out.len() == len {
                    break;
                }
                out.push(char::from(ALPHABET[(word & 63) as usize]));
                word >>= 6;
            }
        }
        out
    }

    /// A short alphanumeric suffix for ids such as `chatcmpl-…`, `call_…`, `resp_…`.
    pub fn suffix(&self) -> String {
        format!("{:016x}", self.fresh())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let ids = Ids::default();
        let a = ids.uuid();
        let b = ids.uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        let g = ids.github_request_id();
        assert_eq!(g.split(':').count(), 5);
        assert_ne!(ids.suffix(), ids.suffix());
        let opaque = ids.opaque(408);
        assert_eq!(opaque.len(), 408);
        assert_ne!(opaque, ids.opaque(408));
    }

    #[test]
    fn mac_is_stable_per_instance_and_payload() {
        let ids = Ids::default();
        assert_eq!(ids.mac("x"), ids.mac("x"));
        assert_ne!(ids.mac("x"), ids.mac("y"));
        assert_eq!(ids.mac("x").len(), 64);
        assert_ne!(Ids::default().mac("x"), ids.mac("x"));
    }
}
