//! What an operator runs over many connections, as whole `preauth` processes on real
//! settings files against a sandbox on 127.0.0.1:
//!
//! - `register/N`: one script of N `register connection` statements (the OEM flow) into a
//!   fresh settings folder;
//! - `keepalive/N`: `preauth -c "refresh all connections older than 0 days"` over those N
//!   connections, one durable write per refresh.
//!
//! N is 200 and 2,000, so that the growth from N to 10×N shows. The sandbox runs in this
//! process without rate limits (a real app's budget is 200 token calls a day); its tokens
//! come from real logins. Peak memory of each `preauth` process (its maxrss) is printed.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../crates/preauth-core/tests/lifecycle_support/mod.rs"]
mod lifecycle_support;

use std::fs::File;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::{Workspace, demo_app};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lifecycle_support::{MemStore, authorize, demo_connection, lifecycle, unlimited_sandbox};
use preauth_sandbox::Sandbox;

const SIZES: [usize; 2] = [200, 2_000];

/// Runs `command` with standard output into a file; returns its wall time, its peak
/// memory in KiB and its standard output. Panics unless it succeeds.
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which also reports its peak memory"
)]
fn run_measured(command: &mut Command, out: &std::path::Path) -> (Duration, u64, String) {
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(File::create(out).expect("output file"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("preauth starts");
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; both pointers are valid.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    assert_eq!(waited, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "preauth failed (status {status})"
    );
    let stdout = std::fs::read_to_string(out).expect("output");
    (elapsed, usage.ru_maxrss as u64, stdout)
}

/// A sandbox without limits and `n` token pairs it issued after real logins.
fn issue(rt: &tokio::runtime::Runtime, n: usize) -> (Sandbox, Vec<(String, String)>) {
    rt.block_on(async {
        let sb = unlimited_sandbox().await;
        let lc = lifecycle(&sb, Arc::new(MemStore::default()));
        let mut tokens = Vec::with_capacity(n);
        for i in 0..n {
            let stored = authorize(&lc, &demo_connection(&format!("c{i}"), "exact-online", &sb))
                .await
                .tokens
                .expect("tokens");
            let refresh = stored.refresh_token.expect("a refresh token");
            tokens.push((
                stored.access_token.secret().to_string(),
                refresh.secret().to_string(),
            ));
        }
        (sb, tokens)
    })
}

/// The script that registers every token pair.
fn register_script(sb: &Sandbox, tokens: &[(String, String)]) -> String {
    let obtained = common::rfc3339(SystemTime::now() - common::DAY * 8);
    let app = demo_app(&sb.base_url(), common::WEB_REDIRECT);
    tokens
        .iter()
        .enumerate()
        .map(|(i, (access, refresh))| {
            format!(
                "register connection 'conn-{i:05}' platform exact {app} access token '{access}' refresh token '{refresh}' obtained at '{obtained}';\n"
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    for n in SIZES {
        let (sb, tokens) = issue(&rt, n);
        let script_ws = Workspace::new();
        let script = script_ws.write("register.sql", &register_script(&sb, &tokens));
        let out = script_ws.path().join("stdout.txt");

        let mut group = c.benchmark_group("files");
        group.sample_size(10);
        group.throughput(Throughput::Elements(n as u64));
        let mut peak = 0;
        group.bench_function(format!("register/{n}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let ws = Workspace::new();
                    let (took, rss, stdout) = run_measured(ws.preauth().arg(&script), &out);
                    assert_eq!(stdout.matches(" registered").count(), n, "{stdout}");
                    peak = peak.max(rss);
                    total += took;
                }
                total
            })
        });
        println!("register/{n}: peak memory {:.1} MiB", peak as f64 / 1024.0);

        let ws = Workspace::new();
        run_measured(ws.preauth().arg(&script), &out);
        let mut peak = 0;
        group.bench_function(format!("keepalive/{n}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // The sandbox's access tokens reach their refresh window.
                    sb.clock().advance(Duration::from_secs(600));
                    let (took, rss, stdout) = run_measured(
                        ws.preauth()
                            .args(["-c", "refresh all connections older than 0 days"]),
                        &out,
                    );
                    assert_eq!(stdout.matches(" refreshed ").count(), n, "{stdout}");
                    peak = peak.max(rss);
                    total += took;
                }
                total
            })
        });
        println!("keepalive/{n}: peak memory {:.1} MiB", peak as f64 / 1024.0);
        group.finish();
        assert_eq!(sb.counters().spent_refresh_token_reuses, 0);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
