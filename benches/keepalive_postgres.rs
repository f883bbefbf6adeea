//! The keep-alive and `preauth token` on a shared PostgreSQL store, as whole `preauth`
//! processes against a sandbox on 127.0.0.1 and a throwaway PostgreSQL cluster (from
//! the installed server binaries), beside the same work on settings files
//! (`keepalive_files`, `token`):
//!
//! - `postgres/keepalive/N`: one machine runs `refresh all connections older than 0 days`
//!   over N connections (a row lock, an UPDATE and a synchronous COMMIT per refresh);
//! - `postgres/keepalive-2-machines/N`: two enrolled machines run it at the same time and
//!   share the work (each connection is refreshed once, by one of them);
//! - `postgres/token`: `preauth --store … token NAME` with a valid access token.
//!
//! N is 200 and 2,000. Skipped, with one line, where no PostgreSQL is installed.

mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use support::common::{WEB_REDIRECT, Workspace, demo_app};
use support::lifecycle_support::short_app;
use support::{
    REFRESH_WINDOW_REACHED, issue, issue_for, keep_alive_once, register_script,
    register_script_for, run_measured,
};

const SIZES: [usize; 2] = [200, 2_000];

/// A machine on the store at `url`.
fn machine(url: &str, name: &str) -> Workspace {
    Workspace::new()
        .with_env("PREAUTH_STORE", url)
        .with_env("PREAUTH_MACHINE", name)
}

/// The keep-alive over connections older than a day, started (not waited for).
fn keep_alive(ws: &Workspace) -> Child {
    ws.preauth()
        .args(["-c", "refresh all connections older than 1 days"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("preauth starts")
}

/// How many connections a finished keep-alive reports refreshed.
fn refreshed(child: Child) -> usize {
    let out = child.wait_with_output().expect("preauth ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the keep-alive failed: {stdout}");
    stdout.matches(" refreshed ").count()
}

fn bench(c: &mut Criterion) {
    let Some(cluster) = pg_throwaway::start_or_skip() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    for n in SIZES {
        // 30-second access tokens, so that every run may refresh every connection.
        let app = short_app();
        let (sb, tokens) = issue_for(&rt, n, &app);
        let url = cluster.new_database(&format!("keepalive_{n}"));
        let alpha = machine(&url, "alpha");
        let script = alpha.write("register.sql", &register_script_for(&sb, &tokens, &app));
        let out = alpha.path().join("stdout.txt");
        run_measured(alpha.preauth().arg(&script), &out);

        let mut group = c.benchmark_group("postgres");
        group.sample_size(10);
        group.throughput(Throughput::Elements(n as u64));
        let mut peak = 0;
        group.bench_function(format!("keepalive/{n}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += keep_alive_once(&sb, &alpha, &out, n, &mut peak);
                }
                total
            })
        });
        println!(
            "postgres keepalive/{n}: peak memory {:.1} MiB",
            peak as f64 / 1024.0
        );
        // Two machines at the same time, as a shared nightly run: fresh tokens a week
        // old in a fresh store each time, so that what one machine refreshed is young
        // for the other ("older than 1 days").
        let mut round = 0;
        group.bench_function(format!("keepalive-2-machines/{n}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    let (sb, tokens) = issue(&rt, n);
                    let url = cluster.new_database(&format!("shared_{n}_{round}"));
                    let (first, second) = (machine(&url, "alpha"), machine(&url, "beta"));
                    let script = first.write("register.sql", &register_script(&sb, &tokens));
                    run_measured(first.preauth().arg(&script), &out);
                    let code = first
                        .run_c("enroll machine")
                        .exits(0)
                        .stdout
                        .trim()
                        .to_string();
                    second
                        .run_c(&format!("enroll machine with code '{code}'"))
                        .exits(0);
                    sb.clock().advance(REFRESH_WINDOW_REACHED);
                    let started = Instant::now();
                    let runs = (keep_alive(&first), keep_alive(&second));
                    let done = refreshed(runs.0) + refreshed(runs.1);
                    total += started.elapsed();
                    assert_eq!(done, n, "every connection refreshed once between the two");
                    assert_eq!(sb.counters().spent_refresh_token_reuses, 0);
                }
                total
            })
        });
        group.finish();
        assert_eq!(sb.counters().spent_refresh_token_reuses, 0);
    }

    // `preauth token` with a valid access token (obtained just now): reading the row,
    // opening it with the data key (unlocked with this machine's slot) and printing.
    let (sb, tokens) = issue(&rt, 1);
    let ws = machine(&cluster.new_database("token"), "alpha");
    let (access, refresh) = &tokens[0];
    ws.run_c(&format!(
        "register connection 'job' platform exact {} access token '{access}' refresh token '{refresh}'",
        demo_app(&sb.base_url(), WEB_REDIRECT)
    ))
    .exits(0);
    let mut group = c.benchmark_group("postgres");
    group.bench_function("token (valid access token)", |b| {
        b.iter(|| ws.run_quietly(&["token", "job"]))
    });
    group.finish();
    assert_eq!(sb.counters().token_calls_refresh_token, 0, "no refresh");
}

criterion_group!(benches, bench);
criterion_main!(benches);
