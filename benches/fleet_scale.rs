//! A fleet of N connections in one PostgreSQL store, as an OEM partner with N customers
//! runs it: whole `preauth` processes (and `preauth serve`) on a throwaway PostgreSQL
//! cluster (from the installed server binaries) against a sandbox on 127.0.0.1 without
//! rate limits. N is 10,000 and 100,000; `PREAUTH_BENCH_FLEET=1000,10000` chooses
//! others (to try it small). Skipped, with one line, where no PostgreSQL is installed.
//!
//! The setup of each N is not measured: the sandbox issues N token pairs after real
//! logins, many at once.
//!
//! Measured once per N and printed (each changes the store, and takes minutes at
//! 100,000, so criterion's ten samples would mean ten fleets):
//! - `register (script)`: one `preauth` process runs the script that registers N − S
//!   connections (S = 1,000, or N / 10 when smaller): time, rate and peak memory;
//! - `register (API)`: the other S through `POST /api/v1/connections` of a running
//!   `preauth serve` on the store of N − S, from 8 clients at once: requests/s, and the
//!   server's peak memory after them;
//! - `keep-alive on 2 machines`: two enrolled machines run `refresh all connections
//!   older than 1 days` at the same time over the N: refreshes/s, peak memory; asserts
//!   that the sandbox saw exactly N refreshes and no spent refresh token.
//!
//! Measured by criterion (ten samples, one run a sample), on the store of N:
//! - `fleet/show connections/N`: `preauth --format csv -c "show connections"`;
//! - `fleet/check/N`: `preauth check`;
//! - `fleet/serve metrics/N`, `fleet/serve api list/N` (the first page, of 1,000, with
//!   the total), `fleet/serve api list limit 100/N` (100 after the middle name),
//!   `fleet/serve connections page/N` and `fleet/serve connections search/N` (a name):
//!   one request each to a running `preauth serve`, and the peak memory (VmHWM) of that
//!   server (not the one that took the registrations) after them.
//!
//! Prints the peak memory of each command next to the issue's targets (`check` at most
//! 2 s and `/metrics` at most 200 ms at 100,000, the keep-alive at least 1,000
//! refreshes/s, `preauth serve` at most 100 MB); the targets are printed, not asserted.
//!
//! Figures of 5 December 2026, 11:42–11:54 UTC (`cargo bench --bench fleet_scale`, the
//! machine otherwise idle; criterion medians):
//!
//! | step                                   | 10,000              | 100,000             |
//! |----------------------------------------|---------------------|---------------------|
//! | register (script), connections/s       | 918                 | 922                 |
//! | register (API, 1,000 requests), req/s  | 1,233 (serve 14 MiB) | 1,357 (serve 14 MiB) |
//! | `show connections` (csv)               | 66 ms (32 MiB)      | 578 ms              |
//! | `preauth check`                        | 26 ms (12 MiB)      | 239 ms              |
//! | `GET /metrics`                         | 14.3 ms             | 177 ms              |
//! | `GET /api/v1/connections` (first page) | 7.9 ms              | 11.6 ms             |
//! | `… ?limit=100&after=` the middle       | 2.5 ms              | 6.4 ms              |
//! | connections page (100 and the verdict) | 19.5 ms             | 217 ms              |
//! | connections page, search by name       | 20.1 ms             | 272 ms              |
//! | `preauth serve` peak after the GETs    | 18 MiB              | 46 MiB              |
//! | keep-alive on 2 machines, refreshes/s  | 1,058 (70 MiB)      | 1,025 (563 MiB)     |
//!
//! Everything grows linearly or less. The memory of the `preauth` processes (in
//! parentheses) is their own VmHWM, sampled as they run (see `run_measured`); the
//! 100,000 column's process figures of that run were taken before that fix (they showed
//! this benchmark's own memory) and are left out. The keep-alive holds every connection
//! it lists (about 5 KiB each); `preauth check` reads summaries 2,000 at a time.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use preauth_core::connection::Connection;
use preauth_sandbox::{App, Sandbox};
use support::common::serve::{Server, api_key};
use support::common::{self, Workspace};
use support::lifecycle_support::{MemStore, authorize, connection, lifecycle, unlimited_sandbox};
use support::{REFRESH_WINDOW_REACHED, connection_name, peak_kib, register_script, run_measured};

/// The fleet sizes when `PREAUTH_BENCH_FLEET` does not say.
const SIZES: [usize; 2] = [10_000, 100_000];

/// The most connections registered through the API (the rest by the script).
const API_SAMPLE: usize = 1_000;

/// The clients that register through the API at once.
const API_CLIENTS: usize = 8;

/// The logins the sandbox runs at once while issuing the token pairs.
const ISSUERS: usize = 32;

/// The fleet sizes: `PREAUTH_BENCH_FLEET` (comma-separated) or [`SIZES`].
fn sizes() -> Vec<usize> {
    match std::env::var("PREAUTH_BENCH_FLEET") {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim().replace('_', "").parse().unwrap_or_else(|_| {
                    panic!("PREAUTH_BENCH_FLEET is a comma-separated list of sizes, not {list:?}")
                })
            })
            .collect(),
        Err(_) => SIZES.to_vec(),
    }
}

/// A sandbox without limits and `n` token pairs it issued to the demo app after real
/// logins, [`ISSUERS`] logins at a time.
fn issue_at_once(rt: &tokio::runtime::Runtime, n: usize) -> (Sandbox, Vec<(String, String)>) {
    rt.block_on(async {
        let sb = unlimited_sandbox().await;
        let lc = Arc::new(lifecycle(&sb, Arc::new(MemStore::default())));
        let mut issuers = tokio::task::JoinSet::new();
        for k in 0..ISSUERS {
            let lc = Arc::clone(&lc);
            let named: Vec<(usize, Connection)> = (k..n)
                .step_by(ISSUERS)
                .map(|i| {
                    let c = connection(
                        &format!("c{i}"),
                        "exact-online",
                        &sb,
                        &App::demo(),
                        App::DEMO_WEB_REDIRECT_URI,
                    );
                    (i, c)
                })
                .collect();
            issuers.spawn(async move {
                let mut issued = Vec::new();
                for (i, named) in named {
                    let stored = authorize(&lc, &named).await.tokens.expect("tokens");
                    let refresh = stored.refresh_token.expect("a refresh token");
                    issued.push((
                        i,
                        stored.access_token.secret().to_string(),
                        refresh.secret().to_string(),
                    ));
                }
                issued
            });
        }
        let mut tokens = vec![(String::new(), String::new()); n];
        while let Some(issued) = issuers.join_next().await {
            for (i, access, refresh) in issued.expect("an issuer") {
                tokens[i] = (access, refresh);
            }
        }
        (sb, tokens)
    })
}

/// A machine on the store at `url`.
fn machine(url: &str, name: &str) -> Workspace {
    Workspace::new()
        .with_env("PREAUTH_STORE", url)
        .with_env("PREAUTH_MACHINE", name)
}

/// The body of `POST /api/v1/connections` that registers token pair `tokens` as
/// connection `i`, obtained eight days ago (as the script's).
fn registration(sb: &Sandbox, i: usize, tokens: &(String, String)) -> String {
    let app = App::demo();
    serde_json::json!({
        "name": connection_name(i),
        "platform": "exact",
        "api_url": sb.base_url(),
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "redirect_url": common::WEB_REDIRECT,
        "access_token": tokens.0,
        "refresh_token": tokens.1,
        "obtained_at": common::rfc3339(SystemTime::now() - common::DAY * 8),
    })
    .to_string()
}

/// Posts every body of `bodies` to `server` with `key`, from [`API_CLIENTS`] clients at
/// once; the wall time. Each must be stored (201).
fn register_over_api(server: &Server, key: &str, bodies: &[String]) -> Duration {
    let url = format!("{}/api/v1/connections", server.url);
    let headers = format!("Authorization: Bearer {key}\r\nContent-Type: application/json\r\n");
    let started = Instant::now();
    std::thread::scope(|scope| {
        for k in 0..API_CLIENTS {
            let (url, headers) = (&url, &headers);
            scope.spawn(move || {
                for body in bodies.iter().skip(k).step_by(API_CLIENTS) {
                    let (status, answer) = common::send("POST", url, headers, body);
                    assert_eq!(status, 201, "{answer}");
                }
            });
        }
    });
    started.elapsed()
}

/// `GET path` on `server` with `headers`; its time and the answer, which must be 200.
fn get(server: &Server, path: &str, headers: &str) -> (Duration, common::Answer) {
    let started = Instant::now();
    let answer = common::exchange("GET", &format!("{}{path}", server.url), headers, "");
    let took = started.elapsed();
    assert_eq!(answer.status, 200, "GET {path}: {}", answer.body);
    (took, answer)
}

/// One `preauth` run of `ws` with `args`, standard output into `out`: its time; raises
/// `peak` to its peak memory (KiB) and checks its output with `check`.
fn run_once(
    ws: &Workspace,
    args: &[&str],
    out: &Path,
    peak: &mut u64,
    check: impl Fn(&str),
) -> Duration {
    let (took, rss, stdout) = run_measured(ws.preauth().args(args), out);
    check(&stdout);
    *peak = (*peak).max(rss);
    took
}

/// Prints a figure measured once: what, N, the time, and the rest.
fn once(what: &str, n: usize, took: Duration, rest: &str) {
    println!("fleet {what}/{n}: {took:.2?}, {rest}");
}

/// MiB from KiB.
fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One keep-alive (`refresh all connections older than 1 days`) on each machine, at the
/// same time; the wall time, the connections each refreshed, and the larger peak memory
/// (KiB).
fn keep_alive_on(machines: [&Workspace; 2]) -> (Duration, usize, u64) {
    let started = Instant::now();
    let runs: Vec<(usize, u64)> = std::thread::scope(|scope| {
        let runs: Vec<_> = machines
            .iter()
            .map(|ws| {
                scope.spawn(move || {
                    let out = ws.path().join("keep-alive.txt");
                    let (_, rss, stdout) = run_measured(
                        ws.preauth()
                            .args(["-c", "refresh all connections older than 1 days"]),
                        &out,
                    );
                    (stdout.matches(" refreshed ").count(), rss)
                })
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("a keep-alive"))
            .collect()
    });
    let took = started.elapsed();
    let refreshed = runs.iter().map(|(r, _)| r).sum();
    let peak = runs.iter().map(|(_, rss)| *rss).max().unwrap_or(0);
    (took, refreshed, peak)
}

fn bench(c: &mut Criterion) {
    let Some(cluster) = pg_throwaway::start_or_skip() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for n in sizes() {
        let started = Instant::now();
        let (sb, tokens) = issue_at_once(&rt, n);
        println!(
            "fleet setup/{n}: {n} token pairs issued in {:.1?} (not measured)",
            started.elapsed()
        );
        let url = cluster.new_database(&format!("fleet_{n}"));
        let alpha = machine(&url, "alpha");
        let out = alpha.path().join("stdout.txt");

        // 1. Registering: the script, then the API (a running server, a register key).
        let by_api = API_SAMPLE.min(n / 10);
        let by_script = n - by_api;
        let script = alpha.write("register.sql", &register_script(&sb, &tokens[..by_script]));
        let (took, rss, _) = run_measured(alpha.preauth().arg(&script), &out);
        once(
            "register (script)",
            by_script,
            took,
            &format!(
                "{:.0} connections/s, peak memory {:.1} MiB",
                by_script as f64 / took.as_secs_f64(),
                mib(rss)
            ),
        );
        let register_key = api_key(&alpha, "partner", "register");
        let admin_key = api_key(&alpha, "admin", "admin");
        let server = Server::start(&alpha, &[]);
        let bodies: Vec<String> = (by_script..n)
            .map(|i| registration(&sb, i, &tokens[i]))
            .collect();
        let took = register_over_api(&server, &register_key, &bodies);
        once(
            "register (API)",
            n,
            took,
            &format!(
                "{by_api} requests from {API_CLIENTS} clients, {:.1} requests/s, server peak memory {:.1} MiB",
                by_api as f64 / took.as_secs_f64(),
                mib(peak_kib(server.pid()))
            ),
        );

        let mut group = c.benchmark_group("fleet");
        group.sample_size(10).sampling_mode(SamplingMode::Flat);
        group.throughput(Throughput::Elements(n as u64));

        // 2. and 3. Listing and monitoring, as whole processes.
        let mut peak = 0;
        group.bench_function(format!("show connections/{n}"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        run_once(
                            &alpha,
                            &["--format", "csv", "-c", "show connections"],
                            &out,
                            &mut peak,
                            |stdout| {
                                assert!(
                                    stdout.lines().count() > n,
                                    "{} lines",
                                    stdout.lines().count()
                                )
                            },
                        )
                    })
                    .sum()
            })
        });
        println!(
            "fleet show connections/{n}: peak memory {:.1} MiB",
            mib(peak)
        );
        let mut peak = 0;
        group.bench_function(format!("check/{n}"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        run_once(&alpha, &["check"], &out, &mut peak, |stdout| {
                            assert!(
                                stdout.starts_with(&format!("PREAUTH OK - {n} connections")),
                                "{stdout}"
                            )
                        })
                    })
                    .sum()
            })
        });
        println!(
            "fleet check/{n}: peak memory {:.1} MiB (target: at most 2 s at 100,000)",
            mib(peak)
        );

        // 4. A running server on the store: a fresh one, so that its peak memory is
        // that of these requests, not of the registrations.
        drop(server);
        let server = Server::start(&alpha, &[]);
        let admin = format!("Authorization: Bearer {admin_key}\r\nAccept: application/json\r\n");
        group.bench_function(format!("serve metrics/{n}"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let (took, answer) = get(&server, "/metrics", "");
                        assert!(answer.body.contains("preauth_"), "{}", answer.body);
                        took
                    })
                    .sum()
            })
        });
        println!("fleet serve metrics/{n}: target at most 200 ms at 100,000");
        group.bench_function(format!("serve api list/{n}"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        // The first page, of the default 1,000, with the total.
                        let (took, answer) = get(&server, "/api/v1/connections", &admin);
                        assert!(answer.body.contains(&format!("\"total\":{n}")));
                        took
                    })
                    .sum()
            })
        });
        let middle = connection_name(n / 2);
        let after_middle = format!("/api/v1/connections?limit=100&after={middle}");
        group.bench_function(format!("serve api list limit 100/{n}"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let (took, answer) = get(&server, &after_middle, &admin);
                        assert!(answer.body.contains(&connection_name(n / 2 + 1)));
                        took
                    })
                    .sum()
            })
        });
        let mut pages = server.visitor();
        let signed = pages.get(server.login_path());
        assert!(
            signed.status < 400,
            "the login URL logs in: {}",
            signed.status
        );
        group.bench_function(format!("serve connections page/{n}"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let started = Instant::now();
                        let answer = pages.get("/connections");
                        let took = started.elapsed();
                        assert_eq!(answer.status, 200, "{}", answer.body);
                        assert!(
                            answer
                                .body
                                .contains(&format!("Showing 100 of {n} connections"))
                        );
                        took
                    })
                    .sum()
            })
        });
        let search = format!("/connections?q={}", connection_name(n - 1));
        group.bench_function(format!("serve connections search/{n}"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let started = Instant::now();
                        let answer = pages.get(&search);
                        let took = started.elapsed();
                        assert!(answer.body.contains("Showing 1 of 1 connections"));
                        took
                    })
                    .sum()
            })
        });
        println!(
            "fleet serve/{n}: peak memory {:.1} MiB after these requests (target: at most 100 MB)",
            mib(peak_kib(server.pid()))
        );
        group.finish();
        drop(server);

        // 5. The keep-alive by two enrolled machines at once.
        let beta = machine(&url, "beta");
        beta.enroll_by(&alpha);
        sb.clock().advance(REFRESH_WINDOW_REACHED);
        let before = sb.counters();
        let (took, refreshed, peak) = keep_alive_on([&alpha, &beta]);
        let after = sb.counters();
        assert_eq!(
            refreshed, n,
            "every connection refreshed once between the two"
        );
        assert_eq!(
            after.token_calls_refresh_token - before.token_calls_refresh_token,
            n as u64,
            "one refresh call a connection"
        );
        assert_eq!(after.spent_refresh_token_reuses, 0, "no spent token sent");
        assert_eq!(after.token_errors, before.token_errors);
        once(
            "keep-alive on 2 machines",
            n,
            took,
            &format!(
                "{:.0} refreshes/s (target: at least 1,000), peak memory {:.1} MiB",
                n as f64 / took.as_secs_f64(),
                mib(peak)
            ),
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
