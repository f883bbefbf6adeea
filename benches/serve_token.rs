//! `preauth serve`'s token route as jobs use it, against the `preauth` binary serving a
//! settings folder on 127.0.0.1, with 32 clients at once, each on one keep-alive HTTP/1.1
//! connection, asking `POST /api/v1/connections/{name}/token`:
//!
//! - `token/32 clients (valid access token)`: one connection whose access token is valid
//!   (the common case: no refresh);
//! - `token/refresh storm/N`: N connections (200 and 2,000) whose access tokens are all
//!   due at once, every one asked for once, so that each is refreshed exactly once (a
//!   durable write each) while the others are asked for. Each storm has a workspace,
//!   tokens and server of its own (set up outside the time measured); the sandbox runs in
//!   this process without rate limits, its clock moved into the refresh window.
//!
//! Prints the latency percentiles over every request timed and the server's peak memory
//! (VmHWM); asserts, not times, the number of refreshes the sandbox saw.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use support::common::serve::{Server, api_key};
use support::common::{SandboxProcess, Workspace};
use support::{REFRESH_WINDOW_REACHED, connection_name, issue, peak_kib, register_script};

const CLIENTS: usize = 32;
const REQUESTS_PER_CLIENT: usize = 50;

/// The connections of a refresh storm.
const STORM_SIZES: [usize; 2] = [200, 2_000];

/// One client: a token request for each of `names` in turn, on one connection; the
/// latency of each.
fn client(address: &str, key: &str, names: &[String]) -> Vec<Duration> {
    let stream = TcpStream::connect(address).expect("the server answers");
    stream.set_nodelay(true).expect("nodelay");
    let mut writer = stream.try_clone().expect("a second handle");
    let mut reader = BufReader::new(stream);
    names
        .iter()
        .map(|name| {
            let request = format!(
                "POST /api/v1/connections/{name}/token HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\nContent-Length: 0\r\n\r\n"
            );
            let started = Instant::now();
            writer.write_all(request.as_bytes()).expect("sent");
            let mut length = 0usize;
            let mut line = String::new();
            reader.read_line(&mut line).expect("a status line");
            assert!(line.starts_with("HTTP/1.1 200"), "{line}");
            loop {
                line.clear();
                reader.read_line(&mut line).expect("a header");
                if line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().expect("a length");
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).expect("the body");
            started.elapsed()
        })
        .collect()
}

/// Every client of `work` at once, each on a thread and a connection of its own, asking
/// for the tokens of its list of names; the wall time and the latency of every request.
fn at_once(address: &str, key: &str, work: &[Vec<String>]) -> (Duration, Vec<Duration>) {
    let started = Instant::now();
    let timed: Vec<Vec<Duration>> = std::thread::scope(|scope| {
        let clients: Vec<_> = work
            .iter()
            .map(|names| scope.spawn(move || client(address, key, names)))
            .collect();
        clients
            .into_iter()
            .map(|c| c.join().expect("a client"))
            .collect()
    });
    (started.elapsed(), timed.into_iter().flatten().collect())
}

/// Prints `what`: the requests, the rate over `took`, the latency percentiles and the
/// server's peak memory (nothing when the measurement did not run).
fn report(what: &str, mut latencies: Vec<Duration>, took: Duration, peak_kib: u64) {
    if latencies.is_empty() {
        return; // filtered out on the command line
    }
    latencies.sort();
    let at = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{what}: {} requests, {:.0} requests/s, p50 {:?}, p99 {:?}, max {:?}; server peak memory {:.1} MiB",
        latencies.len(),
        latencies.len() as f64 / took.as_secs_f64(),
        at(0.50),
        at(0.99),
        at(1.0),
        peak_kib as f64 / 1024.0
    );
}

fn valid_token(c: &mut Criterion) {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(1).remove(0);
    ws.register_issued("job", &sandbox, &tokens, Duration::ZERO);
    let key = api_key(&ws, "bench", "token");
    let server = Server::start(&ws, &["--token-rate", "0"]);
    let address = server.url.trim_start_matches("http://").to_string();
    let issued = sandbox.counters();
    let work = vec![vec!["job".to_string(); REQUESTS_PER_CLIENT]; CLIENTS];

    let (mut latencies, mut took) = (Vec::new(), Duration::ZERO);
    let mut group = c.benchmark_group("serve");
    group.throughput(Throughput::Elements((CLIENTS * REQUESTS_PER_CLIENT) as u64));
    group.bench_function("token/32 clients (valid access token)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (wall, timed) = at_once(&address, &key, &work);
                total += wall;
                latencies.extend(timed);
            }
            took += total;
            total
        })
    });
    group.finish();
    report("serve token", latencies, took, peak_kib(server.pid()));
    assert_eq!(sandbox.counters(), issued, "a valid token needs no refresh");
}

fn refresh_storm(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("serve");
    // A storm takes seconds and its setup longer: ten storms a size, one a sample.
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    for n in STORM_SIZES {
        let names: Vec<String> = (0..n).map(connection_name).collect();
        // Client k asks for connections k, k + 32, …: every connection once, by one client.
        let work: Vec<Vec<String>> = (0..CLIENTS)
            .map(|k| names.iter().skip(k).step_by(CLIENTS).cloned().collect())
            .collect();
        let (mut latencies, mut took, mut peak) = (Vec::new(), Duration::ZERO, 0);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("token/refresh storm/{n}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (sandbox, tokens) = issue(&rt, n);
                    let ws = Workspace::new();
                    let script = ws.write("register.sql", &register_script(&sandbox, &tokens));
                    ws.run(&[script.to_str().expect("a UTF-8 path")]).exits(0);
                    let key = api_key(&ws, "bench", "token");
                    let server = Server::start(&ws, &["--token-rate", "0"]);
                    let address = server.url.trim_start_matches("http://").to_string();
                    sandbox.clock().advance(REFRESH_WINDOW_REACHED);
                    let before = sandbox.counters();

                    let (wall, timed) = at_once(&address, &key, &work);

                    let after = sandbox.counters();
                    assert_eq!(
                        after.token_calls_refresh_token - before.token_calls_refresh_token,
                        n as u64,
                        "every connection refreshed exactly once"
                    );
                    assert_eq!(after.spent_refresh_token_reuses, 0);
                    assert_eq!(after.token_errors, before.token_errors);
                    peak = peak.max(peak_kib(server.pid()));
                    total += wall;
                    latencies.extend(timed);
                }
                took += total;
                total
            })
        });
        report(&format!("refresh storm/{n}"), latencies, took, peak);
    }
    group.finish();
}

criterion_group!(benches, valid_token, refresh_storm);
criterion_main!(benches);
