//! The credential and session side: from "who is the user" to a Copilot session token.
//!
//! * `credentials`: the ordered search for a GitHub OAuth token (env, `apps.json`,
//!   `hosts.json`, `auth.db`, our own stored sign-in), each miss with its reason.
//! * `authdb`: the read-only SQLite + WAL reader behind `auth.db`.
//! * `oauth`: the device-flow sign-in that stores a token for `credentials` to find.
//! * `session`: the token exchange, its cache, refresh and fallback.
//!
//! May import only the shared top-level modules (`error`, `host_api`, `settings`, `headers`,
//! `testing`); never `catalog`, `completion` or `provider`, which build on this side.

pub mod authdb;
pub mod credentials;
pub mod oauth;
pub mod session;
