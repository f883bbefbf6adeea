//! `preauth serve` beside a crowd of slow clients (issue 21: 2,000 slow clients must not
//! stop a normal client from getting a token within 100 ms). The real `preauth` binary
//! serves a settings folder holding one connection with a valid access token (from a
//! sandbox on 127.0.0.1), with `--max-connections 8192`; this process:
//!
//! - keeps S slow connections open (S = 0, then 2,000): half send nothing, half send
//!   the first line of a request and then one header line a second. The server closes
//!   each after its 10-second header-read timeout, and the client opens it again at
//!   once, so S stay open all the time (and about S / 10 are opened a second);
//! - meanwhile, 32 normal clients, each on a keep-alive connection of its own, ask
//!   `POST /api/v1/connections/job/token` in a loop with a token-scope key.
//!
//! Criterion measures (for 20 s, two header timeouts) the mean time of one token call (`serve slow clients/token/S slow`);
//! afterwards the p50, p99 and largest latency of every call timed are printed, with
//! how many slow connections the server closed meanwhile. Nothing is asserted about
//! time; every token call must answer 200.
//!
//! The process raises its own soft limit of open files to the hard limit first; the
//! server, its child, inherits it.
//!
//! Figures of 5 December 2026, 12:58 UTC (`cargo bench --bench serve_slow_clients --
//! --sample-size 10`, release build, 2 cores shared with other work):
//!
//! | slow connections | calls   | criterion mean | p50     | p99     | max     | slow ones closed |
//! |------------------|---------|----------------|---------|---------|---------|------------------|
//! | 0                | 436,864 | 1.71 ms        | 1.64 ms | 4.50 ms | 23.3 ms | 0                |
//! | 2,000            | 422,784 | 2.00 ms        | 1.85 ms | 6.29 ms | 30.2 ms | 5,267 in 26 s    |

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use support::common::serve::{Server, api_key};
use support::common::{SandboxProcess, Workspace};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The normal clients.
const CLIENTS: usize = 32;

/// The slow connections of each measurement.
const SLOW: [usize; 2] = [0, 2_000];

/// The header-read timeout of `preauth serve`.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The request of every normal call.
const TOKEN_PATH: &str = "/api/v1/connections/job/token";

/// Raises this process's soft limit of open files to its hard limit (the server started
/// afterwards inherits it); the limit now.
fn raise_open_file_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit with a valid pointer to an rlimit of this process.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    limit.rlim_cur
}

/// The slow clients: tasks on a runtime of their own, which end when it is dropped.
struct SlowClients {
    _runtime: tokio::runtime::Runtime,
    /// Slow connections open now.
    open: Arc<AtomicUsize>,
    /// Slow connections the server has closed so far.
    closed: Arc<AtomicU64>,
}

impl SlowClients {
    /// Opens `n` slow connections to `address` (half silent, half trickling) and keeps
    /// them open; returns once all are.
    fn start(address: SocketAddr, n: usize) -> SlowClients {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let open = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicU64::new(0));
        for i in 0..n {
            let (open, closed) = (Arc::clone(&open), Arc::clone(&closed));
            // Spread over one header timeout, so that as many are closed (and opened
            // again) every second.
            let first = HEADER_TIMEOUT * i as u32 / n as u32;
            runtime.spawn(slow_client(address, i % 2 == 1, first, open, closed));
        }
        let deadline = Instant::now() + HEADER_TIMEOUT + Duration::from_secs(60);
        while open.load(Ordering::Relaxed) < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} slow connections opened",
                open.load(Ordering::Relaxed)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SlowClients {
            _runtime: runtime,
            open,
            closed,
        }
    }
}

/// One slow client: a connection that sends nothing, or (`trickle`) the first line of a
/// request and then a header line a second, opened after `first`, and again whenever
/// the server closes it.
async fn slow_client(
    address: SocketAddr,
    trickle: bool,
    first: Duration,
    open: Arc<AtomicUsize>,
    closed: Arc<AtomicU64>,
) {
    tokio::time::sleep(first).await;
    loop {
        let Ok(mut stream) = tokio::net::TcpStream::connect(address).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        open.fetch_add(1, Ordering::Relaxed);
        let mut line = 0u32;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut buffer = [0u8; 512];
        loop {
            tokio::select! {
                read = stream.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {} // a 503 past the cap: the end follows
                },
                _ = tick.tick(), if trickle => {
                    let text = match line {
                        0 => format!("POST {TOKEN_PATH} HTTP/1.1\r\nHost: {address}\r\n"),
                        _ => format!("X-Slow-{line}: still typing\r\n"),
                    };
                    line += 1;
                    if stream.write_all(text.as_bytes()).await.is_err() {
                        break;
                    }
                }
            }
        }
        open.fetch_sub(1, Ordering::Relaxed);
        closed.fetch_add(1, Ordering::Relaxed);
    }
}

/// A normal client: one keep-alive connection asking for the token.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    request: String,
}

impl Client {
    fn connect(address: SocketAddr, key: &str) -> Client {
        let stream = TcpStream::connect(address).expect("the server answers");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            writer: stream.try_clone().expect("a second handle"),
            reader: BufReader::new(stream),
            request: format!(
                "POST {TOKEN_PATH} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\nContent-Length: 0\r\n\r\n"
            ),
        }
    }

    /// One token call: its latency, from writing the request to reading the whole answer.
    fn call(&mut self) -> Duration {
        let started = Instant::now();
        self.writer
            .write_all(self.request.as_bytes())
            .expect("sent");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("a status line");
        assert!(line.starts_with("HTTP/1.1 200 "), "{line}");
        let mut length = 0;
        while line != "\r\n" {
            line.clear();
            self.reader.read_line(&mut line).expect("a header line");
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().expect("a length");
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).expect("the body");
        started.elapsed()
    }
}

/// `calls` token calls by each of the [`CLIENTS`] at once, each on a new connection
/// (a kept one would be closed by the server's idle timeout between criterion's
/// batches); the latency of every call.
fn token_calls(address: SocketAddr, key: &str, calls: u64) -> Vec<Duration> {
    std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                scope.spawn(move || {
                    let mut client = Client::connect(address, key);
                    (0..calls).map(|_| client.call()).collect::<Vec<_>>()
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().expect("a client"))
            .collect()
    })
}

/// The latency at fraction `p` of `sorted`.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn bench(c: &mut Criterion) {
    let files = raise_open_file_limit();
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(1).remove(0);
    ws.register_issued("job", &sandbox, &tokens, Duration::ZERO);
    let key = api_key(&ws, "bench", "token");
    let server = Server::start(&ws, &["--token-rate", "0", "--max-connections", "8192"]);
    let address: SocketAddr = server
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("an address");
    let mut group = c.benchmark_group("serve slow clients");
    // Long enough for every slow connection to be closed and opened again.
    group.measurement_time(HEADER_TIMEOUT * 2);
    for slow in SLOW {
        let crowd = SlowClients::start(address, slow);
        let mut latencies = Vec::new();
        let closed_before = crowd.closed.load(Ordering::Relaxed);
        let started = Instant::now();
        group.bench_function(format!("token/{slow} slow"), |b| {
            b.iter_custom(|iters| {
                let timed = token_calls(address, &key, iters);
                // The mean latency of one call, times `iters`.
                let total: Duration = timed.iter().sum::<Duration>() / CLIENTS as u32;
                latencies.extend(timed);
                total
            })
        });
        if latencies.is_empty() {
            continue; // filtered out on the command line
        }
        latencies.sort();
        let server_files =
            std::fs::read_dir(format!("/proc/{}/fd", server.pid())).map_or(0, |fds| fds.count());
        println!(
            "token calls beside {slow} slow connections ({} open at the end, the server holding {server_files} files): {} calls by {CLIENTS} clients, p50 {:?}, p99 {:?}, max {:?}; the server closed {} slow connections in {:.0?}; open-file limit {files}",
            crowd.open.load(Ordering::Relaxed),
            latencies.len(),
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            percentile(&latencies, 1.0),
            crowd.closed.load(Ordering::Relaxed) - closed_before,
            started.elapsed(),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
