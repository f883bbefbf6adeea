//! What the keep-alive spends of a platform's token budget: N Exact connections whose
//! refresh tokens are between 0 and 6 days old (a fleet whose keep-alive has run for a
//! while), and a daily `preauth -c "refresh all connections"` as whole processes on real
//! settings files against a sandbox on 127.0.0.1, the sandbox's clock and the process's
//! (`PREAUTH_CLOCK_OFFSET_SECONDS`) a day further for each run.
//!
//! Measured: the wall time of one daily pass at N = 1,000 and 10,000; printed: the
//! token-endpoint calls each day (the connections refreshed, which the sandbox counts too:
//! the two must agree, and no pass may fail a connection) and their mean per 1,000
//! connections.

mod support;

use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use support::common::{DAY, Workspace, rfc3339};
use support::{connection_name, issue, run_measured};

const SIZES: [usize; 2] = [1_000, 10_000];

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    for n in SIZES {
        let (sb, tokens) = issue(&rt, n);
        let app = preauth_sandbox::App::demo();
        let options = format!(
            "api url '{}' client id '{}' client secret '{}' redirect url '{}'",
            sb.base_url(),
            app.client_id,
            app.client_secret,
            support::common::WEB_REDIRECT
        );
        // Ages spread evenly over the keep-alive's week.
        let script: String = tokens
            .iter()
            .enumerate()
            .map(|(i, (access, refresh))| {
                let obtained = SystemTime::now() - DAY * (i % 7) as u32;
                format!(
                    "register connection '{}' platform exact {options} access token '{access}' refresh token '{refresh}' obtained at '{}';\n",
                    connection_name(i),
                    rfc3339(obtained)
                )
            })
            .collect();
        let ws = Workspace::new();
        let script = ws.write("register.sql", &script);
        let out = ws.path().join("stdout.txt");
        run_measured(ws.preauth().arg(&script), &out);

        let mut calls_per_day = Vec::new();
        let mut group = c.benchmark_group("keepalive_budget");
        group.sample_size(10);
        group.bench_function(format!("daily_pass/{n}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    sb.clock().advance(DAY);
                    let before = sb.counters().token_calls_refresh_token;
                    let (took, _, stdout) = run_measured(
                        ws.preauth()
                            .env(
                                "PREAUTH_CLOCK_OFFSET_SECONDS",
                                sb.clock().offset().as_secs().to_string(),
                            )
                            .args(["-c", "refresh all connections"]),
                        &out,
                    );
                    let refreshed = stdout.matches(" refreshed ").count() as u64;
                    assert_eq!(
                        sb.counters().token_calls_refresh_token - before,
                        refreshed,
                        "{stdout}"
                    );
                    assert!(!stdout.contains(" failed "), "{stdout}");
                    calls_per_day.push(refreshed);
                    total += took;
                }
                total
            })
        });
        group.finish();
        let days = calls_per_day.len() as f64;
        let mean = calls_per_day.iter().sum::<u64>() as f64 / days;
        println!(
            "keepalive_budget: {} daily passes over {n} connections: {:.0} token calls a day on average per 1,000 connections (min {}, max {}); spent refresh tokens reused: {}",
            calls_per_day.len(),
            mean * 1000.0 / n as f64,
            calls_per_day.iter().min().unwrap_or(&0),
            calls_per_day.iter().max().unwrap_or(&0),
            sb.counters().spent_refresh_token_reuses
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
