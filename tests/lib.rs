//! Shared helpers for the component tests.
