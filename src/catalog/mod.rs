//! The catalog side: which models the account may chat with, and how they are shown.
//!
//! The pipeline runs `wire` (bytes of `GET {api}/models` → [`model::Model`]s, read
//! leniently) → `select` (what to offer, the default, the fast default, why others are
//! hidden) → `present` (WIT `model-info` records, the models markdown). Beside it: `cache`
//! (when to fetch again, backoff after failures) and `policy` (enabling a model for the
//! account on the user's opt-in).
//!
//! May import the shared top-level modules and `auth` (a policy request needs the session);
//! never `completion` or `provider`, which build on this side.

pub mod cache;
pub mod model;
pub mod policy;
pub mod present;
pub mod select;
pub mod wire;

#[cfg(test)]
mod tests;
