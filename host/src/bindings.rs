//! Host-side bindings of the `extension` world, generated from `wit/`.
//!
//! Design decision: the `http-response-stream` resource is backed directly by
//! [`crate::http::HttpStream`], so the resource table holds the live reader-thread handle and
//! the guest dropping its handle drops the stream. `PartialEq` is derived for tests and for
//! callers comparing events.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "extension",
    with: {
        "copilot-chat:extension/http-client.http-response-stream": crate::http::HttpStream,
    },
    additional_derives: [PartialEq],
});
