//! WASI 0.2 for the guest, without sockets.
//!
//! Design decision: `wasmtime_wasi::p2::add_to_linker_sync` links every WASI interface,
//! sockets included, and by default `create-tcp-socket` opens a real host descriptor per call
//! (connections are then refused by the address check). The extension reaches the network only
//! through the host's `http-client`, so the `wasi:sockets` interfaces are not linked for it at
//! all: this is the same list as wasmtime-wasi's own, minus them. A component whose imports
//! name sockets (a guest using `std::net`) could not start without them, so for it they are
//! linked with every use forbidden in its WASI context: each call fails with `access-denied`
//! before a host socket is created.

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView as _};
use wasmtime_wasi::p2::bindings::sync;
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::WasiView;

/// The prefix of every socket interface a component may import.
const SOCKETS_PREFIX: &str = "wasi:sockets/";

struct Table;

impl HasData for Table {
    type Data<'a> = &'a mut ResourceTable;
}

/// Links WASI 0.2 (synchronous) without `wasi:sockets`.
pub(crate) fn add_wasi_without_sockets<T: WasiView>(l: &mut Linker<T>) -> wasmtime::Result<()> {
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    random::random::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    sync::io::error::add_to_linker::<T, Table>(l, |t| t.ctx().table)?;
    sync::io::poll::add_to_linker::<T, Table>(l, |t| t.ctx().table)?;
    sync::io::streams::add_to_linker::<T, Table>(l, |t| t.ctx().table)?;
    sync::filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    Ok(())
}

/// Links `wasi:sockets` for a component that imports it (std's networking pulls it in), so it
/// can start; the WASI context forbids every use (see `extension::wasi_context`), so each call
/// fails with `access-denied` before any host socket exists.
pub(crate) fn add_refused_sockets<T: WasiView>(l: &mut Linker<T>) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::sockets;
    use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView as _};
    let options = sockets::network::LinkOptions::default();
    sockets::tcp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::instance_network::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::network::add_to_linker::<T, WasiSockets>(l, &options, T::sockets)?;
    sockets::ip_name_lookup::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sync::sockets::tcp::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sync::sockets::udp::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sync::sockets::udp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    Ok(())
}

/// Whether the component imports any `wasi:sockets` interface.
pub(crate) fn imports_sockets(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> bool {
    component
        .component_type()
        .imports(engine)
        .any(|(name, _)| name.starts_with(SOCKETS_PREFIX))
}
