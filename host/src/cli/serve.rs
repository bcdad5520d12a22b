//! The `serve` command: start the endpoint, print how to use it, run until told to stop.
//!
//! Design decision: the key and the editor snippet go to stdout (what the user copies, or a
//! supervisor parses with `--json`); everything else goes to stderr. The process stops on
//! SIGINT/SIGTERM, and on end of stdin when stdin is a pipe (a supervising editor or script
//! closing it), but not when stdin is a terminal or /dev/null, where EOF means nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use copilot_host::serve::{
    claude_code_env, zed_key_env, zed_ollama_settings, zed_settings, ServeOptions, Server,
    MODEL_MAP_SETTING, ZED_OLLAMA_KEY_ENV,
};
use copilot_host::Extension;

/// How often the main thread checks for a stop request.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Set by the signal handler or the stdin watcher.
static STOP: AtomicBool = AtomicBool::new(false);

/// Runs `serve` until SIGINT, SIGTERM or (piped) stdin EOF.
pub fn run(
    ext: Extension,
    port: Option<u16>,
    json: bool,
    options: ServeOptions,
) -> anyhow::Result<()> {
    warn_if_debug(&ext);
    let ext = Arc::new(ext);
    let provider = ext.default_provider()?;
    let models = match ext.models(&provider)? {
        Ok(models) => models,
        Err(error) => {
            eprintln!(
                "warning: the model list is unavailable ({}); the endpoint starts anyway",
                copilot_host::display_error(&error)
            );
            Vec::new()
        }
    };
    let server = Server::start_with(ext, provider.clone(), port, options)?;
    let settings = zed_settings(&server.url(), &models);
    if json {
        let root = server.root_url();
        let line = json!({
            "url": server.url(),
            "key": server.key(),
            "provider": provider,
            "zed_settings": settings,
            "anthropic_base_url": root,
            "claude_code_env": claude_code_env(&root, server.key()),
            "ollama_url": root,
            "ollama_keyless": server.ollama_keyless(),
            "zed_ollama_settings": zed_ollama_settings(&root),
            "zed_ollama_key_env": ZED_OLLAMA_KEY_ENV,
        });
        println!("{line}");
    } else {
        print_banner(&server, &provider, &settings);
    }
    watch_for_stop();
    while !STOP.load(Ordering::SeqCst) {
        std::thread::sleep(STOP_POLL);
    }
    eprintln!("stopping…");
    server.shutdown();
    Ok(())
}

/// A debug component (the dev-extension build) answers several times slower (issue 14).
fn warn_if_debug(ext: &Extension) {
    let path = ext.component_path();
    let debug = std::fs::read(path).is_ok_and(|wasm| copilot_host::install::package::is_debug_build(&wasm));
    if debug {
        eprintln!(
            "warning: {} is a debug build (the dev-extension build), several times slower per request; \
             for serving, run `copilot-host install <source dir>` (builds in release) and serve with `--extension {}`",
            path.display(),
            ext.manifest().id
        );
    }
}

fn print_banner(server: &Server, provider: &str, settings: &serde_json::Value) {
    let pretty = serde_json::to_string_pretty(settings).unwrap_or_default();
    println!("Serving {provider} as OpenAI-compatible, Anthropic Messages and Ollama APIs (loopback only).");
    println!();
    println!("  base URL  {}", server.url());
    println!("  API key   {}", server.key());
    println!();
    println!("Zed: add this to settings.json (a new key is made at every start):");
    println!("{pretty}");
    println!(
        "then paste the API key in Zed's agent settings for `copilot-host`, or start Zed with {}=<key>.",
        zed_key_env()
    );
    println!();
    print_other_protocols(server);
    println!();
    println!("Press Ctrl-C to stop.");
}

/// The Ollama and Anthropic settings, after the OpenAI ones.
fn print_other_protocols(server: &Server) {
    let root = server.root_url();
    let ollama = serde_json::to_string_pretty(&zed_ollama_settings(&root)).unwrap_or_default();
    println!("Zed's Ollama provider (lists the models by itself): add this to settings.json");
    println!("{ollama}");
    if server.ollama_keyless() {
        println!("(keyless mode: the Ollama routes take requests without the key, but none from a web page)");
    } else {
        println!("then paste the API key as the Ollama provider's API key in Zed, or start Zed with {ZED_OLLAMA_KEY_ENV}=<key>.");
    }
    println!();
    println!("Claude Code and other Anthropic clients:");
    let env = claude_code_env(&root, server.key());
    if let Some(env) = env.as_object() {
        for (name, value) in env {
            println!("  export {name}={}", value.as_str().unwrap_or_default());
        }
    }
    println!("  (ANTHROPIC_API_KEY=<key> works too; Claude model ids map to Copilot's, override with `{MODEL_MAP_SETTING}` in --settings)");
}

fn watch_for_stop() {
    install_signal_handlers();
    if stdin_is_pipe() {
        let _ = std::thread::Builder::new()
            .name("copilot-serve-stdin".into())
            .spawn(|| {
                // Reads and discards until EOF or an error: either way the supervisor is gone.
                let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
                STOP.store(true, Ordering::SeqCst);
            });
    }
}

#[cfg(unix)]
fn stdin_is_pipe() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata("/dev/stdin")
        .map(|m| m.file_type().is_fifo() || m.file_type().is_socket())
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn stdin_is_pipe() -> bool {
    false
}

#[cfg(unix)]
fn install_signal_handlers() {
    /// SIGINT and SIGTERM have these numbers on every Unix Rust targets.
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;
    extern "C" {
        fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    }
    extern "C" fn on_signal(_: i32) {
        // Only an atomic store: the one thing that is safe inside a signal handler.
        STOP.store(true, Ordering::SeqCst);
    }
    // SAFETY: `signal` is the C library's; the handler only stores to an atomic.
    unsafe {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
}

#[cfg(not(unix))]
fn install_signal_handlers() {
    // Ctrl-C ends the process; the OS closes the socket.
}
