//! Test doubles (owned by the credentials/session work).
