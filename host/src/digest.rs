//! Content digests shared by the layers that name files by their bytes (the compiled-component
//! cache, registry archives). Imports nothing from the crate.

use sha2::{Digest, Sha256};

/// The lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
