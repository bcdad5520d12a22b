//! Host-side bindings of the `extension` world, generated from `wit/`.
//!
//! The streamed HTTP response resource is backed by our own `HttpStream` type so that the
//! resource table holds the reader-thread handle directly.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "extension",
    with: {
        "copilot-chat:extension/http-client.http-response-stream": crate::http::HttpStream,
    },
});
