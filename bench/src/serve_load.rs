//! `serve` under load: time to first event of 64 streams started at once against one
//! stream at a time, and the server's resident memory meanwhile.
//!
//! Design decision: the server runs in a child process of this binary (`--serve`), loaded
//! exactly as `copilot-host serve` loads it, so its RSS is its own (not the simulator's nor
//! the clients'); the simulator and the clients stay in this process. Clients speak raw
//! HTTP/1.1 over one fresh TCP connection each (the server answers `Connection: close`), and
//! the clock starts when the request is written: connecting is not part of the figure. All
//! streams of a round are released by one barrier once every one is connected.
//!
//! The same rounds are also sent straight to the simulator (the exact request the component
//! sends, replayed by the same raw clients): on a machine where the simulator and the 64
//! clients share the cores with the server, that is the machine's own figure for 64 at once,
//! which no server in between can beat.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use copilot_host::serve::Server;
use copilot_sim::{Recorded, Sim, SimConfig};

use crate::native::CLIENT_OWNED_HEADERS;
use crate::scenario::{self, Env, MODEL, PROVIDER};

/// The child-process mode that runs `serve` (see the module docs).
pub const SERVE_CHILD: &str = "--serve";
/// Streams started at once (the server's connection limit).
pub const STREAMS: usize = 64;
/// Rounds of concurrent streams.
const ROUNDS: usize = 8;
/// Streams run one at a time for the floor.
pub const SINGLE_RUNS: usize = 200;
/// Pause between rounds, so the last round's connections are gone before the next 64.
const ROUND_GAP: Duration = Duration::from_millis(250);
/// How often the child's RSS is sampled during the concurrent rounds.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(1);

/// What the load measured.
pub struct ServeLoad {
    /// Time to first event of each stream run alone.
    pub single: Vec<Duration>,
    /// Time to first event of every stream of every concurrent round.
    pub concurrent: Vec<Duration>,
    /// The same streams sent straight to the simulator: one at a time, and 64 at once.
    pub direct_single: Vec<Duration>,
    pub direct_concurrent: Vec<Duration>,
    /// The server's RSS after the single streams (bytes), `None` without procfs.
    pub idle_rss: Option<u64>,
    /// The highest RSS sampled during the concurrent rounds.
    pub peak_rss: Option<u64>,
    /// CPU time (user + system) per stream, run alone: the server's, and this process's
    /// (the simulator and the client), `None` without procfs.
    pub cpu_per_single: Option<(Duration, Duration)>,
    /// The same during the concurrent rounds.
    pub cpu_per_concurrent: Option<(Duration, Duration)>,
}

/// Child mode: load the component against the simulator at `sim_url`, serve it on a free
/// loopback port, print `ADDR KEY`, and serve until stdin closes.
pub fn serve_child(sim_url: Option<&str>, wasm: Option<&Path>) -> anyhow::Result<()> {
    let (Some(sim_url), Some(wasm)) = (sim_url, wasm) else {
        bail!("usage: bench {SERVE_CHILD} SIM_URL COMPONENT.wasm");
    };
    let (ext, _config) = scenario::load_signed_in(sim_url, wasm)?;
    match ext.models(PROVIDER)? {
        Ok(models) if !models.is_empty() => {}
        other => bail!("the serve child's models call failed: {other:?}"),
    }
    let server = Server::start(Arc::new(ext), PROVIDER, None)?;
    println!("{} {}", server.addr(), server.key());
    std::io::stdout().flush().context("flush the address")?;
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    server.shutdown();
    Ok(())
}

/// The server child; killed if still running when dropped.
struct ServeChild {
    child: Child,
    addr: SocketAddr,
    key: String,
}

impl ServeChild {
    fn start(sim: &Sim, wasm: &Path) -> anyhow::Result<ServeChild> {
        let exe = std::env::current_exe().context("the bench binary's path")?;
        let mut child = Command::new(exe)
            .arg(SERVE_CHILD)
            .arg(sim.url())
            .arg(wasm)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("start the serve child")?;
        let stdout = child.stdout.take().context("the serve child's stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("read the serve child's address")?;
        let mut fields = line.split_whitespace();
        let (Some(addr), Some(key)) = (fields.next(), fields.next()) else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the serve child printed {line:?}");
        };
        Ok(ServeChild {
            addr: addr.parse().context("the serve child's address")?,
            key: key.to_string(),
            child,
        })
    }
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        // Closing stdin asks it to stop; kill only if it does not within a few seconds.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the single streams, then the concurrent rounds, sampling the child's RSS.
pub fn measure(wasm: &Path) -> anyhow::Result<ServeLoad> {
    // The in-process component only records the exact request it sends, for the direct rounds.
    let env = Env::start(wasm, SimConfig::default())?;
    env.warm_up()?;
    let recorded = env.recorded_chat()?;
    let sim_addr: SocketAddr = env
        .sim
        .url()
        .trim_start_matches("http://")
        .parse()
        .context("the simulator's address")?;
    let direct = direct_request(sim_addr, &recorded);
    let server = ServeChild::start(&env.sim, wasm)?;
    let to_serve = serve_request(server.addr, &server.key);
    let pid = server.child.id();
    let mut single = Vec::with_capacity(SINGLE_RUNS);
    let mut direct_single = Vec::with_capacity(SINGLE_RUNS);
    let before = cpu_times(pid);
    for _ in 0..SINGLE_RUNS {
        single.push(one_stream(server.addr, &to_serve, None)?);
    }
    let cpu_per_single = per_stream(before, cpu_times(pid), SINGLE_RUNS);
    for _ in 0..SINGLE_RUNS {
        direct_single.push(one_stream(sim_addr, &direct, None)?);
    }
    let idle_rss = rss_bytes(pid);
    let peak = Arc::new(AtomicU64::new(idle_rss.unwrap_or(0)));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(rss) = rss_bytes(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(RSS_SAMPLE_EVERY);
            }
        })
    };
    let mut concurrent = Vec::with_capacity(ROUNDS * STREAMS);
    let mut direct_concurrent = Vec::with_capacity(ROUNDS * STREAMS);
    let mut cpu = (Duration::ZERO, Duration::ZERO);
    let result = (|| -> anyhow::Result<()> {
        for _ in 0..ROUNDS {
            std::thread::sleep(ROUND_GAP);
            let before = cpu_times(pid);
            concurrent.extend(round(server.addr, &to_serve)?);
            if let Some((server, here)) = per_stream(before, cpu_times(pid), 1) {
                cpu = (cpu.0 + server, cpu.1 + here);
            }
            std::thread::sleep(ROUND_GAP);
            direct_concurrent.extend(round(sim_addr, &direct)?);
        }
        Ok(())
    })();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    result?;
    Ok(ServeLoad {
        single,
        concurrent,
        direct_single,
        direct_concurrent,
        idle_rss,
        peak_rss: idle_rss.map(|_| peak.load(Ordering::Relaxed)),
        cpu_per_single,
        cpu_per_concurrent: cpu_per_single.map(|_| {
            let streams = (ROUNDS * STREAMS) as u32;
            (cpu.0 / streams, cpu.1 / streams)
        }),
    })
}

/// CPU time used so far (user + system) by process `pid` and by this process, from procfs.
fn cpu_times(pid: u32) -> Option<(Duration, Duration)> {
    Some((cpu_time(&pid.to_string())?, cpu_time("self")?))
}

fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at its closing paren;
    // utime and stime are the 14th and 15th fields of the line, in clock ticks.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let ticks: u64 = fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(ticks as f64 / CLOCK_TICKS_PER_SEC))
}

/// The kernel's `USER_HZ`, 100 on every Linux configuration in use.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// CPU per stream between two readings of [`cpu_times`].
fn per_stream(
    before: Option<(Duration, Duration)>,
    after: Option<(Duration, Duration)>,
    streams: usize,
) -> Option<(Duration, Duration)> {
    let ((s0, h0), (s1, h1)) = (before?, after?);
    let n = streams as u32;
    Some((s1.saturating_sub(s0) / n, h1.saturating_sub(h0) / n))
}

/// The raw HTTP/1.1 request a client sends to `serve`.
fn serve_request(addr: SocketAddr, key: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "model": MODEL,
        "stream": true,
        "messages": [{"role": "user", "content": "Say hello."}],
    })
    .to_string();
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `recorded` (what the component sent to the simulator) as a raw HTTP/1.1 request to `addr`.
fn direct_request(addr: SocketAddr, recorded: &Recorded) -> Vec<u8> {
    let mut head = format!("{} {} HTTP/1.1\r\nHost: {addr}\r\n", recorded.method, recorded.path);
    for (name, value) in &recorded.headers {
        if !CLIENT_OWNED_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", recorded.body.len()));
    let mut request = head.into_bytes();
    request.extend_from_slice(&recorded.body);
    request
}

/// `STREAMS` streams released together; their times to first event.
fn round(addr: SocketAddr, request: &[u8]) -> anyhow::Result<Vec<Duration>> {
    let barrier = Barrier::new(STREAMS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..STREAMS)
            .map(|_| scope.spawn(|| one_stream(addr, request, Some(&barrier))))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(result) => result,
                Err(_) => bail!("a client thread panicked"),
            })
            .collect()
    })
}

/// One streamed chat completion (`request`, raw) to `addr`, read to the end; the time from
/// writing the request to the first content delta. With `barrier`, waits there once connected
/// (a failed connection still waits, so the others are not stranded).
fn one_stream(addr: SocketAddr, request: &[u8], barrier: Option<&Barrier>) -> anyhow::Result<Duration> {
    let connected = TcpStream::connect(addr);
    if let Some(barrier) = barrier {
        barrier.wait();
    }
    let mut socket = connected.with_context(|| format!("connect to {addr}"))?;
    socket.set_nodelay(true).context("TCP_NODELAY")?;
    let started = Instant::now();
    socket.write_all(request).context("send the request")?;
    let mut reader = BufReader::new(socket);
    let mut line = String::new();
    reader.read_line(&mut line).context("read the status")?;
    if !line.starts_with("HTTP/1.1 200") {
        bail!("{addr} answered {:?}", line.trim_end());
    }
    let mut first = None;
    loop {
        line.clear();
        if reader.read_line(&mut line).context("read the stream")? == 0 {
            break;
        }
        let Some(payload) = line.trim_end().strip_prefix("data:") else {
            continue;
        };
        let payload = payload.trim_start();
        if payload == "[DONE]" {
            break;
        }
        if first.is_none() {
            let event: serde_json::Value =
                serde_json::from_str(payload).context("event JSON")?;
            if event
                .pointer("/choices/0/delta/content")
                .and_then(|c| c.as_str())
                .is_some_and(|c| !c.is_empty())
            {
                first = Some(started.elapsed());
            }
        }
    }
    first.with_context(|| format!("{addr} streamed no content"))
}

/// A process's resident set size, from procfs (`None` elsewhere).
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The `q` quantile (nearest rank) of `values`.
pub fn quantile(values: &[Duration], q: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(quantile(&values, 0.5), Duration::from_micros(50));
        assert_eq!(quantile(&values, 0.99), Duration::from_micros(99));
        assert_eq!(quantile(&values, 1.0), Duration::from_micros(100));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
        assert_eq!(quantile(&values[..1], 0.99), Duration::from_micros(1));
    }
}
