//! The catalog's freshness rules: when to fetch `GET {api}/models` again and what to answer
//! when a fetch fails.
//!
//! Design decision: a catalog is valid for the bearer it was fetched with, so a new session
//! token refetches it. A failed fetch never empties the list: the last good list is answered
//! (the caller logs a warning), and the next fetch waits for a backoff measured on the host
//! clock, 30 s doubling to 10 min, so a transient error on the first fetch heals by itself
//! (the "signed in, but no models until restart" bug) without hammering a failing server.
//! While waiting with no good list at all, the last error is answered again. The cache holds
//! no I/O: the provider fetches, this module decides.

use std::sync::Arc;

use crate::catalog::model::Model;
use crate::catalog::select::Selection;
use crate::error::Error;
use crate::catalog::policy::Outcomes;

/// The first wait after a failed fetch.
pub const INITIAL_BACKOFF_SECS: u64 = 30;
/// The longest wait between failed fetches.
pub const MAX_BACKOFF_SECS: u64 = 600;

/// A fetched list, shared: every completion looks its model up in it, and a copy per request
/// (dozens of models, each with a dozen strings) was most of the guest's work in starting one.
pub type Models = Arc<Vec<Model>>;

/// A catalog fetched with one bearer.
struct Current {
    models: Models,
    bearer: String,
}

/// The state after failed fetches.
struct Failure {
    /// The bearer the failing fetch used; a new bearer may fetch at once.
    bearer: String,
    retry_at: u64,
    delay: u64,
    error: Error,
}

/// The catalog of one provider instance.
#[derive(Default)]
pub struct CatalogCache {
    current: Option<Current>,
    last_good: Option<Models>,
    failure: Option<Failure>,
    /// Policy requests made by this instance (see `policy::apply`).
    pub policy_outcomes: Outcomes,
    /// What the last good fetch left out and why (for `doctor`).
    pub selection: Option<Selection>,
}

impl CatalogCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The list fetched with `bearer`, if any.
    pub fn fresh(&self, bearer: &str) -> Option<Models> {
        self.current
            .as_ref()
            .filter(|c| c.bearer == bearer)
            .map(|c| c.models.clone())
    }

    /// While a failed fetch with `bearer` waits for its backoff: the last good list, else the
    /// last error. `None` when a fetch may be made now.
    pub fn while_backing_off(&self, bearer: &str, now: u64) -> Option<Result<Models, Error>> {
        let failure = self
            .failure
            .as_ref()
            .filter(|f| f.bearer == bearer && now < f.retry_at)?;
        Some(self.last_good.clone().ok_or_else(|| failure.error.clone()))
    }

    /// Records a successful fetch: it becomes the current and the last good list, and any
    /// backoff ends.
    pub fn succeeded(&mut self, models: Models, bearer: String) {
        self.last_good = Some(models.clone());
        self.current = Some(Current { models, bearer });
        self.failure = None;
    }

    /// Records a failed fetch at `now` and returns what to answer: the last good list, else
    /// the error. The wait before the next fetch doubles with each consecutive failure.
    pub fn failed(&mut self, error: Error, bearer: String, now: u64) -> Result<Models, Error> {
        let delay = self.failure.as_ref().map_or(INITIAL_BACKOFF_SECS, |f| {
            f.delay.saturating_mul(2).min(MAX_BACKOFF_SECS)
        });
        self.failure = Some(Failure {
            bearer,
            retry_at: now.saturating_add(delay),
            delay,
            error: error.clone(),
        });
        self.current = None;
        self.last_good.clone().ok_or(error)
    }

    /// Seconds until the next fetch may be made, while backing off.
    pub fn retry_in(&self, now: u64) -> Option<u64> {
        self.failure
            .as_ref()
            .map(|f| f.retry_at.saturating_sub(now))
            .filter(|s| *s > 0)
    }

    /// The bearer was refused: the next call fetches again, but the last good list stays.
    pub fn invalidate(&mut self) {
        self.current = None;
    }

    /// The user asked for a fresh list: the next call fetches at once, whatever the backoff;
    /// the last good list stays as the answer should that fetch fail.
    pub fn force_refresh(&mut self) {
        self.current = None;
        self.failure = None;
    }

    /// Sign-out or changed settings: everything goes, policy outcomes included.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// The most recent good list, for display (never fetches).
    pub fn known(&self) -> Option<&[Model]> {
        self.current
            .as_ref()
            .map(|c| c.models.as_slice())
            .or(self.last_good.as_deref().map(Vec::as_slice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[&str]) -> Models {
        Models::new(
            ids.iter()
                .map(|id| Model {
                    id: id.to_string(),
                    name: id.to_string(),
                    ..Model::default()
                })
                .collect(),
        )
    }

    fn ids(models: &[Model]) -> Vec<&str> {
        models.iter().map(|m| m.id.as_str()).collect()
    }

    fn boom() -> Error {
        Error::Network("down".into())
    }

    #[test]
    fn a_list_is_fresh_for_its_bearer_only() {
        let mut cache = CatalogCache::new();
        assert!(cache.fresh("a").is_none());
        cache.succeeded(list(&["m"]), "a".into());
        assert_eq!(ids(&cache.fresh("a").unwrap()), ["m"]);
        assert!(cache.fresh("b").is_none());
        cache.invalidate();
        assert!(cache.fresh("a").is_none());
        assert_eq!(
            ids(cache.known().unwrap()),
            ["m"],
            "the last good list survives"
        );
        cache.clear();
        assert!(cache.known().is_none());
    }

    #[test]
    fn a_first_failure_answers_the_error_and_retries_after_the_backoff() {
        let mut cache = CatalogCache::new();
        assert_eq!(cache.failed(boom(), "a".into(), 1000), Err(boom()));
        assert_eq!(cache.while_backing_off("a", 1000), Some(Err(boom())));
        assert_eq!(cache.while_backing_off("a", 1029), Some(Err(boom())));
        assert_eq!(cache.retry_in(1010), Some(20));
        assert_eq!(
            cache.while_backing_off("a", 1030),
            None,
            "the backoff is over"
        );
        assert_eq!(
            cache.while_backing_off("b", 1000),
            None,
            "a new bearer fetches at once"
        );
        cache.succeeded(list(&["m"]), "a".into());
        assert_eq!(cache.while_backing_off("a", 1001), None);
        assert_eq!(cache.retry_in(1001), None);
    }

    #[test]
    fn failures_keep_the_last_good_list_and_double_the_wait() {
        let mut cache = CatalogCache::new();
        cache.succeeded(list(&["m", "n"]), "a".into());
        let mut now = 5_000;
        let mut waits = Vec::new();
        for _ in 0..7 {
            assert_eq!(
                ids(&cache.failed(boom(), "b".into(), now).unwrap()),
                ["m", "n"]
            );
            let wait = cache.retry_in(now).unwrap();
            assert_eq!(
                ids(&cache.while_backing_off("b", now).unwrap().unwrap()),
                ["m", "n"]
            );
            waits.push(wait);
            now += wait;
            assert_eq!(cache.while_backing_off("b", now), None);
        }
        assert_eq!(waits, [30, 60, 120, 240, 480, 600, 600]);
        cache.succeeded(list(&["x"]), "b".into());
        let _ = cache.failed(boom(), "b".into(), now);
        assert_eq!(
            cache.retry_in(now),
            Some(INITIAL_BACKOFF_SECS),
            "success resets the backoff"
        );
    }
}
