//! A batch of 10,000 `encrypt connection '…'` statements, end to end: `preauth FILE.sql`
//! with a generated script, standard output to /dev/null, a fresh device-key folder whose
//! host secret already exists. The figure includes process start and the one key
//! derivation (Argon2id); the target is under one second.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{DEMO_CLIENT_ID, Workspace};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Statements in the batch.
const STATEMENTS: usize = 10_000;

/// A script of `n` different connection strings to encrypt.
fn script(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "encrypt connection 'api-url=https://start.exactonline.nl;api-client-id={DEMO_CLIENT_ID};\
                 api-client-secret=secret-{i:05}-Zm9vYmFyYmF6;api-redirect-url=https://example.invalid/callback;\
                 api-refresh-token=refresh-{i:05}-c2VjcmV0LXJlZnJlc2gtdG9rZW4';\n"
            )
        })
        .collect()
}

fn batch(c: &mut Criterion) {
    let ws = Workspace::new();
    let file = ws.write("batch.sql", &script(STATEMENTS));
    // The host secret exists before the measured runs (created by a first encryption).
    ws.run_c("encrypt value 'x'").exits(0);
    // Once, outside the measurement: every statement printed one envelope.
    let check = ws.run(&[file.to_str().expect("a UTF-8 path")]);
    assert_eq!(check.code, 0, "the batch failed: {}", check.stderr);
    let envelopes = check
        .stdout
        .lines()
        .filter(|l| l.starts_with("dk1:"))
        .count();
    assert_eq!(envelopes, STATEMENTS, "one envelope per statement");

    let mut group = c.benchmark_group("batch");
    group.sample_size(10);
    group.throughput(Throughput::Elements(STATEMENTS as u64));
    group.bench_function("10000 encrypt connection, preauth FILE.sql", |b| {
        b.iter(|| {
            ws.run_quietly(&[&file]);
        })
    });
    group.finish();
}

criterion_group!(benches, batch);
criterion_main!(benches);
