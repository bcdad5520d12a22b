//! Host-side bindings of the `extension` world, generated from `wit/`.
//!
//! Design decisions:
//! * No `with:` mapping: the generated types are the bottom layer and name no host module. The
//!   `http-response-stream` resource is the generated marker type; the module implementing
//!   `http-client` (`runtime::imports`) keeps the live stream in the instance's resource table
//!   under the same handle, so the guest dropping its handle still drops the stream.
//! * `PartialEq` is derived for tests and for callers comparing events.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "extension",
    additional_derives: [PartialEq],
});
