//! `preauth token NAME` end to end while the stored access token is valid (the common case
//! of a job asking for a token): process start, settings file read and opened with the
//! device key, the token printed. A separate `preauth sandbox` issued the tokens, registered
//! as the OEM flow does.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::{SandboxProcess, Workspace};
use criterion::{Criterion, criterion_group, criterion_main};

fn token(c: &mut Criterion) {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(1).remove(0);
    ws.register_issued("job", &sandbox, &tokens, Duration::ZERO);
    let first = ws.run(&["token", "job"]);
    assert_eq!(
        first.exits(0).stdout.trim(),
        tokens.access_token,
        "the token handed over"
    );
    let issued = sandbox.counters();

    let mut group = c.benchmark_group("token");
    group.bench_function("preauth token (valid access token)", |b| {
        b.iter(|| {
            ws.run_quietly(&["token", "job"]);
        })
    });
    group.finish();
    // A valid access token is handed out without asking the token endpoint.
    assert_eq!(
        sandbox.counters(),
        issued,
        "preauth token called the sandbox"
    );
}

criterion_group!(benches, token);
criterion_main!(benches);
