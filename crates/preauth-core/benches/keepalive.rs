//! Keep-alive of 2,000 Exact connections against the sandbox on 127.0.0.1.
//!
//! Each iteration advances the sandbox's clock two days and refreshes every connection
//! (threshold one day, 16 at a time) through the full lifecycle: lock, re-read, refresh
//! over HTTP, save. The store is in memory, so the figure is the lifecycle and HTTP cost;
//! a settings folder adds one durable write per connection. Peak memory (VmHWM) is
//! printed after the run.

#[path = "../tests/lifecycle_support/mod.rs"]
mod lifecycle_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lifecycle_support::{MemStore, authorize, demo_connection, lifecycle, unlimited_sandbox};
use preauth_core::lifecycle::Lifecycle;
use preauth_sandbox::Sandbox;

const CONNECTIONS: usize = 2_000;

async fn setup() -> (Sandbox, Lifecycle) {
    let sb = unlimited_sandbox().await;
    let lc = lifecycle(&sb, Arc::new(MemStore::default()));
    for i in 0..CONNECTIONS {
        let c = demo_connection(&format!("c{i:04}"), "exact-online", &sb);
        authorize(&lc, &c).await;
    }
    (sb, lc)
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn keepalive(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (sb, lc) = rt.block_on(setup());
    let mut group = c.benchmark_group("keepalive");
    group.sample_size(10);
    group.throughput(Throughput::Elements(CONNECTIONS as u64));
    group.bench_function("refresh_all_2000_connections", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                sb.clock().advance(Duration::from_secs(2 * 86_400));
                let start = Instant::now();
                let report = rt
                    .block_on(lc.refresh_all(Duration::from_secs(86_400), 16, &|_| {}))
                    .expect("keep-alive runs");
                total += start.elapsed();
                assert_eq!(
                    report.refreshed(),
                    CONNECTIONS,
                    "every connection refreshed"
                );
            }
            total
        });
    });
    group.finish();
    if let Some(kib) = peak_memory_kib() {
        println!(
            "keepalive: peak memory (VmHWM) {:.1} MiB",
            kib as f64 / 1024.0
        );
    }
}

criterion_group!(benches, keepalive);
criterion_main!(benches);
