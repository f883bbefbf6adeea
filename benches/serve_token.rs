//! `preauth serve`'s token route as jobs use it: 32 clients at once, each on one
//! keep-alive HTTP/1.1 connection, asking `POST /api/v1/connections/job/token` for a
//! connection whose access token is valid (the common case: no refresh), against the
//! `preauth` binary serving a settings folder on 127.0.0.1. Prints the latency
//! percentiles over every request timed and the server's peak memory (VmHWM).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use support::common::serve::{Server, api_key};
use support::common::{SandboxProcess, Workspace};

const CLIENTS: usize = 32;
const REQUESTS_PER_CLIENT: usize = 50;

/// One client: `count` token requests on one connection; the latency of each.
fn client(address: &str, key: &str, count: usize) -> Vec<Duration> {
    let stream = TcpStream::connect(address).expect("the server answers");
    stream.set_nodelay(true).expect("nodelay");
    let mut writer = stream.try_clone().expect("a second handle");
    let mut reader = BufReader::new(stream);
    let request = format!(
        "POST /api/v1/connections/job/token HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\nContent-Length: 0\r\n\r\n"
    );
    (0..count)
        .map(|_| {
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

/// The peak resident memory of process `pid`, in KiB.
fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(1).remove(0);
    ws.register_issued("job", &sandbox, &tokens, Duration::ZERO);
    let key = api_key(&ws, "bench", "token");
    let server = Server::start(&ws, &["--token-rate", "0"]);
    let address = server.url.trim_start_matches("http://").to_string();
    let issued = sandbox.counters();

    let mut latencies = Vec::new();
    let mut group = c.benchmark_group("serve");
    group.throughput(Throughput::Elements((CLIENTS * REQUESTS_PER_CLIENT) as u64));
    group.bench_function("token/32 clients (valid access token)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let timed: Vec<Vec<Duration>> = std::thread::scope(|scope| {
                    let clients: Vec<_> = (0..CLIENTS)
                        .map(|_| scope.spawn(|| client(&address, &key, REQUESTS_PER_CLIENT)))
                        .collect();
                    clients
                        .into_iter()
                        .map(|c| c.join().expect("a client"))
                        .collect()
                });
                total += started.elapsed();
                latencies.extend(timed.into_iter().flatten());
            }
            total
        })
    });
    group.finish();
    latencies.sort();
    let at = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "serve token: {} requests, p50 {:?}, p99 {:?}, max {:?}; server peak memory {:.1} MiB",
        latencies.len(),
        at(0.50),
        at(0.99),
        at(1.0),
        peak_kib(server.pid()) as f64 / 1024.0
    );
    assert_eq!(sandbox.counters(), issued, "a valid token needs no refresh");
}

criterion_group!(benches, bench);
criterion_main!(benches);
