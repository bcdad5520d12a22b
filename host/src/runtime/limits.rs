//! What one guest instance may consume, and how much linear memory it holds now.
//!
//! Design decision: wasmtime asks a [`ResourceLimiter`] before every linear-memory growth
//! (including the initial allocation at instantiation), so the same hook both enforces the
//! cap and keeps the meter: the sum of every allowed growth is the instance's current linear
//! memory. Linear memory never shrinks, so the meter's value only moves up; a test that sees it
//! move after a warm-up has found a leak. The meter is an atomic outside the store, so it can be
//! read without taking the instance lock (a stalled call never blocks a memory reading).
//!
//! Growth past the cap is refused with an error, which wasmtime turns into a trap: the guest
//! cannot eat the machine, the failed call says the cap was reached (instead of a vague
//! out-of-memory abort inside the guest) and the instance is replaced. The successive
//! instances of one extension share one meter, reset when a fresh instance starts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use wasmtime::ResourceLimiter;

use crate::runtime::failure::MemoryCapExceeded;

/// The most linear memory (all memories of the instance together) a guest may grow to.
pub const MAX_GUEST_MEMORY_BYTES: usize = 256 * 1024 * 1024;
/// The most bytes of strings a completion request may carry into the guest at once: lowering
/// copies them into its memory and the extension then serialises them again, so a request
/// much larger than a fifth of the guest's memory could only end in a trap. A larger one is
/// refused by the host before the call ([`crate::GuestFailure::TooLarge`]).
pub const MAX_REQUEST_BYTES: usize = 48 * 1024 * 1024;
/// The most elements a guest table may grow to (Rust guests keep a small fixed table).
pub const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// The current and peak linear memory of one instance, shared with the store's resource
/// limiter (`GuestLimiter`), which meters it.
#[derive(Debug, Default)]
pub struct MemoryMeter {
    current: AtomicUsize,
    peak: AtomicUsize,
}

impl MemoryMeter {
    /// Bytes of linear memory the instance holds now.
    pub fn current_bytes(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }

    /// The most linear memory the instance ever held (equal to current, as memory never
    /// shrinks; kept separate so a future shrinking allocator still reports its high mark).
    pub fn peak_bytes(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn grew(&self, by: usize) {
        let now = self
            .current
            .fetch_add(by, Ordering::Relaxed)
            .saturating_add(by);
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    /// A fresh instance starts from nothing (the peak is kept).
    pub(crate) fn reset_current(&self) {
        self.current.store(0, Ordering::Relaxed);
    }

    fn shrank(&self, by: usize) {
        // Only after a growth we counted failed: undo exactly that growth.
        let _ = self
            .current
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some(c.saturating_sub(by))
            });
    }
}

/// The store's resource limiter: caps linear memory and tables, meters memory.
pub(crate) struct GuestLimiter {
    meter: Arc<MemoryMeter>,
    max_memory: usize,
    /// The growth most recently allowed, undone if the growth then fails.
    last_growth: usize,
}

impl GuestLimiter {
    /// A limiter allowing `max_memory` bytes of linear memory in total.
    #[cfg(test)]
    pub(crate) fn new(max_memory: usize) -> GuestLimiter {
        GuestLimiter::with_meter(max_memory, Arc::default())
    }

    /// A limiter updating `meter` (shared by the successive instances of one extension).
    pub(crate) fn with_meter(max_memory: usize, meter: Arc<MemoryMeter>) -> GuestLimiter {
        GuestLimiter {
            meter,
            max_memory,
            last_growth: 0,
        }
    }

    /// The meter this limiter updates.
    #[cfg(test)]
    pub(crate) fn meter(&self) -> Arc<MemoryMeter> {
        self.meter.clone()
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        let growth = desired.saturating_sub(current);
        let total = self.meter.current_bytes().saturating_add(growth);
        if total > self.max_memory {
            return Err(wasmtime::Error::new(MemoryCapExceeded {
                limit_bytes: self.max_memory,
                wanted_bytes: total,
            }));
        }
        self.last_growth = growth;
        self.meter.grew(growth);
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        // The guest sees memory.grow fail (-1) and handles it; only the meter needs fixing.
        self.meter.shrank(std::mem::take(&mut self.last_growth));
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS && maximum.is_none_or(|max| desired <= max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 64 * 1024;

    #[test]
    fn meter_sums_growths_and_keeps_the_peak() {
        let mut limiter = GuestLimiter::new(10 * PAGE);
        let meter = limiter.meter();
        assert!(limiter.memory_growing(0, 2 * PAGE, None).unwrap());
        assert!(limiter.memory_growing(2 * PAGE, 5 * PAGE, None).unwrap());
        assert_eq!(meter.current_bytes(), 5 * PAGE);
        assert_eq!(meter.peak_bytes(), 5 * PAGE);
    }

    #[test]
    fn growth_past_the_cap_is_an_error_and_not_counted() {
        let mut limiter = GuestLimiter::new(4 * PAGE);
        let meter = limiter.meter();
        assert!(limiter.memory_growing(0, 3 * PAGE, None).unwrap());
        let error = limiter
            .memory_growing(3 * PAGE, 5 * PAGE, None)
            .unwrap_err();
        assert!(format!("{error}").contains("limit"), "{error}");
        assert_eq!(meter.current_bytes(), 3 * PAGE);
    }

    #[test]
    fn a_failed_growth_is_undone_and_the_declared_maximum_is_honoured() {
        let mut limiter = GuestLimiter::new(100 * PAGE);
        let meter = limiter.meter();
        assert!(limiter.memory_growing(0, PAGE, None).unwrap());
        assert!(limiter.memory_growing(PAGE, 3 * PAGE, None).unwrap());
        limiter
            .memory_grow_failed(wasmtime::format_err!("os refused"))
            .unwrap();
        assert_eq!(meter.current_bytes(), PAGE);
        assert!(!limiter
            .memory_growing(PAGE, 9 * PAGE, Some(8 * PAGE))
            .unwrap());
        assert_eq!(meter.current_bytes(), PAGE);
    }

    #[test]
    fn tables_are_capped() {
        let mut limiter = GuestLimiter::new(PAGE);
        assert!(limiter.table_growing(0, 100, None).unwrap());
        assert!(!limiter
            .table_growing(0, MAX_TABLE_ELEMENTS + 1, None)
            .unwrap());
        assert!(!limiter.table_growing(0, 10, Some(5)).unwrap());
    }
}
