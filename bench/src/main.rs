//! `bench`: how much the extension costs, measured against the simulator on loopback.
//!
//! Run it with `cargo run -p copilot-bench --release` (about ten seconds once built). It prints
//! one table; every figure stands beside the floor it is compared with, measured in the same
//! run on the same machine: a bare native HTTP client (ureq) replaying the exact request the
//! component sent and reading the SSE answer with a minimal decoder.
//!
//! Design decisions: medians, not means (a 2-core machine shared with compilers has outliers);
//! cold start is measured in child processes of this binary (`--load-once`), because the
//! compiled-component cache is per process in memory and only the disk cache survives; the
//! session-token schedule runs on the host clock (`Clock::advance`), never by sleeping.
//!
//! `--only ttfe,long,serve` runs only the named sections (see [`SECTIONS`]), for working on
//! one figure; the component-size row is always printed.
//!
//! The heavy rows (`heavy`): a 10 MiB image request and a 200-message conversation, timed to
//! the first event against the native client sending the same bytes. The `serve` rows
//! (`serve_load`): 64 streams started at once through `serve` in a child process
//! (`--serve`) against one stream at a time, the same streams straight to the simulator (what
//! the machine itself does with 64 at once), CPU per stream, and the server's RSS meanwhile.

mod heavy;
mod native;
mod scenario;
mod serve_load;
mod table;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{bail, Context};

use scenario::{Env, StreamRead};
use table::{Row, Table};

/// Streams timed for time to first event (each side).
const TTFE_RUNS: usize = 200;
/// Content events in the long stream that measures per-event cost and throughput.
const LONG_EVENTS: usize = 20_000;
/// Times the long stream is read (each side).
const LONG_RUNS: usize = 5;
/// Streams run through one instance for the memory figure, and the warm-up before the baseline.
const MEMORY_STREAMS: usize = 1000;
const MEMORY_WARM_UP: usize = 100;
/// The token schedule: requests spread evenly over two simulated hours at a 30-minute TTL.
const SCHEDULE_REQUESTS: u64 = 100;
const SCHEDULE_SPAN_SECS: u64 = 2 * 3600;
/// Where cargo puts the small release build of the guest.
const WASM_RELEASE: &str = "target/wasm32-wasip2/wasm-release/copilot_chat.wasm";
/// The child-process mode that loads once and reports (see `cold_start`).
const LOAD_ONCE: &str = "--load-once";
/// The profiling mode: only long streams through the component, for `perf record`.
const HOT_LOOP: &str = "--hot-loop";
/// Long streams the profiling mode reads.
const HOT_LOOP_RUNS: usize = 20;
/// The profiling mode for the 10 MiB image request: only that request through the component.
const IMAGE_LOOP: &str = "--image-loop";
/// Image requests the profiling mode sends.
const IMAGE_LOOP_RUNS: usize = 30;
/// Times each heavy request is sent (each side).
const IMAGE_RUNS: usize = 15;
const CONVERSATION_RUNS: usize = 100;

/// Runs only some sections of the table (for working on one figure): `--only ttfe,serve`.
const ONLY: &str = "--only";
/// The sections of the table, in the order they run.
const SECTIONS: [&str; 8] = [
    "cold", "ttfe", "long", "image", "conversation", "serve", "memory", "schedule",
];

/// The sections a run measures.
struct Sections(Vec<&'static str>);

impl Sections {
    fn all() -> Sections {
        Sections(SECTIONS.to_vec())
    }

    fn parse(list: &str) -> anyhow::Result<Sections> {
        let mut chosen = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match SECTIONS.iter().find(|s| **s == name) {
                Some(section) => chosen.push(*section),
                None => bail!("unknown section {name:?}; the sections are {}", SECTIONS.join(",")),
            }
        }
        if chosen.is_empty() {
            bail!("name at least one section: {}", SECTIONS.join(","));
        }
        Ok(Sections(chosen))
    }

    fn has(&self, name: &str) -> bool {
        self.0.contains(&name)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some(LOAD_ONCE) => load_once(args.get(1).map(PathBuf::from)),
        Some(HOT_LOOP) => hot_loop(args.get(1).map(PathBuf::from)),
        Some(IMAGE_LOOP) => image_loop(args.get(1).map(PathBuf::from)),
        Some(serve_load::SERVE_CHILD) => {
            serve_load::serve_child(args.get(1).map(String::as_str), args.get(2).map(Path::new))
        }
        Some(ONLY) => match args.get(1) {
            Some(list) => Sections::parse(list).and_then(|only| run(&only)),
            None => Err(anyhow::anyhow!("usage: bench {ONLY} {}", SECTIONS.join(","))),
        },
        None => run(&Sections::all()),
        Some(other) => Err(anyhow::anyhow!(
            "unknown argument {other:?}; bench takes no argument, or {ONLY} {}",
            SECTIONS.join(",")
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (where `extension.toml` lives).
fn extension_dir() -> PathBuf {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
    bench.parent().unwrap_or(bench).to_path_buf()
}

/// The component to measure: the small release build when it is up to date, else the dev
/// build (built if needed). The label says which.
fn component() -> anyhow::Result<(PathBuf, &'static str)> {
    let dir = extension_dir();
    let release = dir.join(WASM_RELEASE);
    if copilot_host::install::devbuild::is_fresh(&dir, &release) {
        return Ok((release, "wasm-release"));
    }
    eprintln!(
        "bench: no up-to-date {WASM_RELEASE}; measuring the debug component (build the small one with \
         `cargo build --target wasm32-wasip2 --profile wasm-release`)"
    );
    Ok((copilot_host::build::ensure_component(&dir)?, "debug build"))
}

fn run(only: &Sections) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("bench: this is a debug build of the host; run with --release for real figures");
    }
    let (wasm, kind) = component()?;
    let size = std::fs::metadata(&wasm).context("component size")?.len();
    eprintln!("bench: component {} ({kind}, {size} bytes)", wasm.display());
    let mut table = Table::default();

    let cold = if only.has("cold") {
        eprintln!("bench: cold start (two child processes)…");
        Some((cold_start(&wasm)?, scenario::native_first_models()?))
    } else {
        None
    };

    let needs_env = ["ttfe", "long", "image", "conversation"].iter().any(|s| only.has(s));
    let env = if needs_env {
        let env = Env::start(&wasm, copilot_sim::SimConfig::default())?;
        env.warm_up()?;
        Some(env)
    } else {
        None
    };
    let mut first = None;
    let mut long = None;
    let mut empty_call = None;
    let mut image = None;
    let mut conversation = None;
    if let Some(env) = &env {
        let recorded = env.recorded_chat()?;
        if only.has("ttfe") {
            eprintln!("bench: time to first event ({TTFE_RUNS} streams each side)…");
            let (mut component, mut native, mut start) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..TTFE_RUNS {
                env.sim.script_chat(scenario::short_script());
                let read = env.component_stream()?;
                component.push(read.first_event);
                start.push(read.start_call);
                env.sim.script_chat(scenario::short_script());
                native.push(env.native_stream(&recorded)?.first_event);
            }
            first = Some((component, native, start));
        }
        if only.has("long") {
            eprintln!("bench: long streams ({LONG_RUNS} × {LONG_EVENTS} events each side)…");
            let (mut component, mut native) = (Vec::new(), Vec::new());
            for _ in 0..LONG_RUNS {
                env.sim.script_chat(scenario::long_script(LONG_EVENTS));
                component.push(env.component_stream()?);
                env.sim.script_chat(scenario::long_script(LONG_EVENTS));
                native.push(env.native_stream(&recorded)?);
            }
            long = Some((component, native));
            empty_call = Some(empty_call_cost(env)?);
        }
        if only.has("image") {
            eprintln!("bench: a 10 MiB image request ({IMAGE_RUNS} each side)…");
            image = Some(heavy::measure(env, &heavy::image_request(), IMAGE_RUNS)?);
        }
        if only.has("conversation") {
            eprintln!(
                "bench: a {}-message conversation ({CONVERSATION_RUNS} each side)…",
                heavy::CONVERSATION_MESSAGES
            );
            conversation = Some(heavy::measure(env, &heavy::conversation_request(), CONVERSATION_RUNS)?);
        }
    }
    drop(env);

    let serve = if only.has("serve") {
        eprintln!("bench: serve, {} concurrent streams…", serve_load::STREAMS);
        Some(serve_load::measure(&wasm)?)
    } else {
        None
    };
    let memory = if only.has("memory") {
        eprintln!("bench: memory over {MEMORY_STREAMS} streams…");
        Some(memory_over_streams(&wasm)?)
    } else {
        None
    };
    let schedule = if only.has("schedule") {
        eprintln!("bench: session-token schedule…");
        Some(token_schedule(&wasm)?)
    } else {
        None
    };

    if let Some((component, native, start)) = &first {
        table.push(Row::duration(
            "time to first event",
            median(component),
            median(native),
            "native ureq + SSE read",
            "< +50 µs",
            Duration::from_micros(50),
        ));
        table.push(Row::plain(
            "  of which the start call (build, hand over)",
            format!("{:.1} µs", median(start).as_secs_f64() * 1e6),
            "-".into(),
            "",
            "-",
            true,
        ));
    }
    if let Some((component, native)) = &long {
        let per_event = median_per_event(component);
        let per_event_floor = median_per_event(native);
        table.push(Row::duration(
            "per-event cost",
            per_event,
            per_event_floor,
            "native ureq + SSE read",
            "< +0.5 µs",
            Duration::from_nanos(500),
        ));
        let rate = events_per_sec(per_event);
        table.push(Row::plain(
            "events/s through the component",
            format!("{rate:.0}"),
            format!("{:.0}", events_per_sec(per_event_floor)),
            "native ureq + SSE read",
            "> 100,000",
            rate > 100_000.0,
        ));
    }
    if let Some(cost) = empty_call {
        table.push(Row::plain(
            "one guest call that does nothing",
            format!("{:.2} µs", cost.as_secs_f64() * 1e6),
            "-".into(),
            "llm-cache-configuration: 2 strings in, none out",
            "-",
            true,
        ));
    }
    if let Some(image) = &image {
        table.push(Row::duration(
            &format!(
                "time to first event, {:.0} MiB image request",
                image.body_bytes as f64 / MIB
            ),
            median(&image.component),
            median(&image.native),
            "native ureq sending the same bytes",
            "< +30 ms",
            Duration::from_millis(30),
        ));
    }
    if let Some(conversation) = &conversation {
        table.push(Row::duration(
            &format!(
                "time to first event, {}-message conversation",
                heavy::CONVERSATION_MESSAGES
            ),
            median(&conversation.component),
            median(&conversation.native),
            "native ureq sending the same bytes",
            "-",
            Duration::MAX,
        ));
    }
    if let Some(serve) = &serve {
        let streams = serve_load::STREAMS;
        table.push(Row::duration(
            &format!("serve: time to first event, p50 of {streams} at once"),
            serve_load::quantile(&serve.concurrent, 0.5),
            serve_load::quantile(&serve.single, 0.5),
            "p50, one stream at a time",
            "-",
            Duration::MAX,
        ));
        table.push(Row::duration(
            &format!("serve: time to first event, p99 of {streams} at once"),
            serve_load::quantile(&serve.concurrent, 0.99),
            serve_load::quantile(&serve.single, 0.99),
            "p99, one stream at a time",
            "< +5 ms",
            Duration::from_millis(5),
        ));
        let mib = |bytes: Option<u64>| {
            bytes.map_or("n/a".to_string(), |b| format!("{:.1} MiB", b as f64 / MIB))
        };
        table.push(Row::duration(
            &format!("direct to the simulator: p99 of {streams} at once"),
            serve_load::quantile(&serve.direct_concurrent, 0.99),
            serve_load::quantile(&serve.direct_single, 0.99),
            "p99, one stream at a time",
            "-",
            Duration::MAX,
        ));
        if let (Some(single), Some(concurrent)) = (serve.cpu_per_single, serve.cpu_per_concurrent) {
            let pair = |(server, here): (Duration, Duration)| {
                format!("{:.0}+{:.0} µs", server.as_secs_f64() * 1e6, here.as_secs_f64() * 1e6)
            };
            table.push(Row::plain(
                &format!("serve: CPU per stream, {streams} at once (server+sim/client)"),
                pair(concurrent),
                pair(single),
                "one stream at a time",
                "-",
                true,
            ));
        }
        table.push(Row::plain(
            &format!("serve: RSS, peak under {streams} streams"),
            mib(serve.peak_rss),
            mib(serve.idle_rss),
            &format!("serve after {} single streams", serve_load::SINGLE_RUNS),
            "-",
            true,
        ));
    }
    if let Some((cold, native_models)) = &cold {
        table.push(Row::plain(
            "load, no compiled cache",
            ms(cold.uncached_load),
            ms(cold.cached_load),
            "load from the disk cache",
            "-",
            true,
        ));
        table.push(Row::plain(
            "load, compiled cache on disk",
            ms(cold.cached_load),
            "-".into(),
            "",
            "-",
            true,
        ));
        table.push(Row::plain(
            "first models call (exchange + /models)",
            ms(cold.first_models),
            ms(*native_models),
            "native exchange + /models",
            "-",
            true,
        ));
    }
    table.push(Row::plain(
        &format!("component size ({kind})"),
        format!("{:.2} MiB", size as f64 / MIB),
        "1.00 MiB".into(),
        "target",
        "< 1 MiB",
        (size as f64) < MIB,
    ));
    if let Some(memory) = &memory {
        table.push(Row::plain(
            &format!("guest memory after {MEMORY_STREAMS} streams"),
            format!("{:.2} MiB", memory.after_all as f64 / MIB),
            format!("{:.2} MiB", memory.after_warm_up as f64 / MIB),
            &format!(
                "after the first {MEMORY_WARM_UP} (at load {:.2} MiB)",
                memory.at_load as f64 / MIB
            ),
            "flat",
            memory.after_all == memory.after_warm_up,
        ));
    }
    if let Some(schedule) = &schedule {
        table.push(Row::plain(
            &format!("exchanges, {SCHEDULE_REQUESTS} requests over 2 h (TTL 30 min)"),
            schedule.exchanges.to_string(),
            schedule.minimum.to_string(),
            &format!(
                "minimum honouring refresh_in ({} if used to expiry)",
                schedule.minimum_at_expiry
            ),
            "= minimum",
            schedule.exchanges == schedule.minimum,
        ));
    }
    print!("{}", table.render());
    println!(
        "component: {} ({kind}); host: {} build; events per long stream: {LONG_EVENTS}",
        wasm.display(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    Ok(())
}

const MIB: f64 = 1024.0 * 1024.0;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// The median over runs of (end − first event) / (events − 1): the steady-state cost of one
/// event, free of connection set-up.
fn median_per_event(reads: &[StreamRead]) -> Duration {
    let per: Vec<Duration> = reads
        .iter()
        .map(|r| {
            let events = r.events.saturating_sub(1).max(1) as u32;
            r.total.saturating_sub(r.first_event) / events
        })
        .collect();
    median(&per)
}

fn events_per_sec(per_event: Duration) -> f64 {
    if per_event.is_zero() {
        return f64::INFINITY;
    }
    1.0 / per_event.as_secs_f64()
}

/// Calls per batch, and batches, of the empty-call figure.
const EMPTY_CALLS: u32 = 20_000;
const EMPTY_CALL_BATCHES: usize = 5;

/// The median cost of one export call whose guest side does nothing
/// (`llm-cache-configuration` answers `none` at once): the fixed price of entering the guest,
/// which every streamed event pays once.
fn empty_call_cost(env: &Env) -> anyhow::Result<Duration> {
    let mut batches = Vec::with_capacity(EMPTY_CALL_BATCHES);
    for _ in 0..EMPTY_CALL_BATCHES {
        let started = std::time::Instant::now();
        for _ in 0..EMPTY_CALLS {
            if env.ext.cache_configuration(scenario::PROVIDER, scenario::MODEL)?.is_some() {
                bail!("the extension now has a cache configuration; pick another empty call");
            }
        }
        batches.push(started.elapsed() / EMPTY_CALLS);
    }
    Ok(median(&batches))
}

/// Cold-start figures from two fresh processes sharing a fresh disk cache.
struct ColdStart {
    uncached_load: Duration,
    cached_load: Duration,
    first_models: Duration,
}

fn cold_start(wasm: &Path) -> anyhow::Result<ColdStart> {
    let cache = scenario::TempDir::new("cache")?;
    let exe = std::env::current_exe().context("the bench binary's path")?;
    let run_child = || -> anyhow::Result<(Duration, Duration)> {
        let out = Command::new(&exe)
            .arg(LOAD_ONCE)
            .arg(wasm)
            .env("XDG_CACHE_HOME", cache.path())
            .output()
            .context("start the cold-start child")?;
        if !out.status.success() {
            bail!(
                "the cold-start child failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut fields = text.split_whitespace().map(|f| f.parse::<u64>());
        match (fields.next(), fields.next()) {
            (Some(Ok(load)), Some(Ok(models))) => {
                Ok((Duration::from_micros(load), Duration::from_micros(models)))
            }
            _ => bail!("the cold-start child printed {text:?}"),
        }
    };
    let (uncached_load, _) = run_child()?;
    let (cached_load, first_models) = run_child()?;
    Ok(ColdStart {
        uncached_load,
        cached_load,
        first_models,
    })
}

/// Child mode: load the component once, call `models` once, print both in microseconds.
fn load_once(wasm: Option<PathBuf>) -> anyhow::Result<()> {
    let wasm = wasm.context("usage: bench --load-once COMPONENT.wasm")?;
    let (load, models) = scenario::load_and_first_models(&wasm)?;
    println!("{} {}", load.as_micros(), models.as_micros());
    Ok(())
}

/// Profiling mode: the per-event path alone (scripts are built before the loop), so a
/// profiler sees nothing but streaming. Prints the median per-event cost. An explicit
/// component (e.g. a release build keeping its name section) may be given.
fn hot_loop(explicit: Option<PathBuf>) -> anyhow::Result<()> {
    let (wasm, kind) = match explicit {
        Some(path) => (path, "given"),
        None => component()?,
    };
    let env = Env::start(&wasm, copilot_sim::SimConfig::default())?;
    env.warm_up()?;
    let script = scenario::long_script(LONG_EVENTS);
    let mut reads = Vec::new();
    for _ in 0..HOT_LOOP_RUNS {
        env.sim.script_chat(script.clone());
        reads.push(env.component_stream()?);
    }
    let per_event = median_per_event(&reads);
    println!(
        "per-event cost through the component ({kind}): {:.2} µs",
        per_event.as_secs_f64() * 1e6
    );
    Ok(())
}

/// Profiling mode: the 10 MiB image request alone, through the component only (the request
/// is built before the loop). Prints the median time to first event.
fn image_loop(explicit: Option<PathBuf>) -> anyhow::Result<()> {
    let (wasm, kind) = match explicit {
        Some(path) => (path, "given"),
        None => component()?,
    };
    let env = Env::start(&wasm, copilot_sim::SimConfig::default())?;
    env.warm_up()?;
    let request = heavy::image_request();
    let mut first = Vec::new();
    for _ in 0..IMAGE_LOOP_RUNS {
        let copy = request.clone();
        env.sim.script_chat(scenario::short_script());
        first.push(env.component_stream_of(copy)?.first_event);
    }
    println!(
        "10 MiB image request, time to first event through the component ({kind}): {:.1} ms",
        median(&first).as_secs_f64() * 1e3
    );
    Ok(())
}

/// Guest linear memory at load, after the warm-up and after every stream.
struct Memory {
    at_load: usize,
    after_warm_up: usize,
    after_all: usize,
}

fn memory_over_streams(wasm: &Path) -> anyhow::Result<Memory> {
    let env = Env::start(wasm, copilot_sim::SimConfig::default())?;
    let at_load = env.ext.guest_memory_bytes();
    env.warm_up()?;
    let mut after_warm_up = 0;
    for i in 0..MEMORY_STREAMS {
        if i == MEMORY_WARM_UP {
            after_warm_up = env.ext.guest_memory_bytes();
        }
        env.component_stream()?;
    }
    Ok(Memory {
        at_load,
        after_warm_up,
        after_all: env.ext.guest_memory_bytes(),
    })
}

/// Exchanges the component made, and the least any client could make.
struct Schedule {
    exchanges: usize,
    minimum: usize,
    minimum_at_expiry: usize,
}

fn token_schedule(wasm: &Path) -> anyhow::Result<Schedule> {
    let config = copilot_sim::SimConfig::default();
    let (ttl, refresh_in) = (
        config.token_ttl_secs,
        config.refresh_in_secs.unwrap_or(config.token_ttl_secs),
    );
    let env = Env::start(wasm, config)?;
    let gap = SCHEDULE_SPAN_SECS / SCHEDULE_REQUESTS;
    for i in 0..SCHEDULE_REQUESTS {
        if i > 0 {
            env.clock.advance(gap);
        }
        env.component_stream()?;
    }
    let times: Vec<u64> = (0..SCHEDULE_REQUESTS).map(|i| i * gap).collect();
    Ok(Schedule {
        exchanges: env.sim.issued_session_tokens(),
        minimum: minimum_exchanges(&times, refresh_in),
        minimum_at_expiry: minimum_exchanges(&times, ttl),
    })
}

/// The fewest exchanges for requests at `times` (seconds) when a token serves `usable` seconds.
fn minimum_exchanges(times: &[u64], usable: u64) -> usize {
    let mut exchanges = 0;
    let mut good_until: Option<u64> = None;
    for &t in times {
        if good_until.is_none_or(|until| t >= until) {
            exchanges += 1;
            good_until = Some(t + usable);
        }
    }
    exchanges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minimum_exchanges_of_the_two_hour_schedule() {
        let gap = SCHEDULE_SPAN_SECS / SCHEDULE_REQUESTS;
        let times: Vec<u64> = (0..SCHEDULE_REQUESTS).map(|i| i * gap).collect();
        assert_eq!(minimum_exchanges(&times, 1500), 5);
        assert_eq!(minimum_exchanges(&times, 1800), 4);
        assert_eq!(minimum_exchanges(&[], 1800), 0);
    }

    #[test]
    fn sections_are_named_from_the_list_and_unknown_names_are_refused() {
        let only = Sections::parse("ttfe, serve").expect("known names");
        assert!(only.has("ttfe") && only.has("serve") && !only.has("image"));
        let error = Sections::parse("ttfe,imag").err().expect("a typo is refused");
        assert!(error.to_string().contains("\"imag\""), "{error}");
        assert!(Sections::parse(" , ").is_err());
        assert!(SECTIONS.iter().all(|s| Sections::all().has(s)));
    }

    #[test]
    fn per_event_cost_ignores_the_first_event() {
        let read = StreamRead {
            first_event: Duration::from_micros(100),
            total: Duration::from_micros(1100),
            events: 11,
            start_call: Duration::ZERO,
        };
        assert_eq!(median_per_event(&[read]), Duration::from_micros(100));
    }
}
