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
//! come from real logins, for an app whose access tokens live 30 seconds (so that each
//! run may refresh them all again). Peak memory of each `preauth` process (its maxrss) is
//! printed.

mod support;

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use support::common::Workspace;
use support::lifecycle_support::short_app;
use support::{issue_for, keep_alive_once, register_script_for, run_measured};

const SIZES: [usize; 2] = [200, 2_000];

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    for n in SIZES {
        // 30-second access tokens, so that every run may refresh every connection.
        let app = short_app();
        let (sb, tokens) = issue_for(&rt, n, &app);
        let script_ws = Workspace::new();
        let script = script_ws.write("register.sql", &register_script_for(&sb, &tokens, &app));
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
                    total += keep_alive_once(&sb, &ws, &out, n, &mut peak);
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
