//! `preauth token NAME` end to end while the stored access token is valid (the common case
//! of a job asking for a token): process start, the connection read and opened with the
//! device key, the token printed. A separate `preauth sandbox` issued the tokens, registered
//! as the OEM flow does.
//!
//! - `token/settings folder`: the connection in a settings folder;
//! - `token/postgres`: the connection in a shared PostgreSQL store (a throwaway cluster from
//!   the installed server binaries, skipped with one line where there is none): connect,
//!   the schema version read, the row, the data key unlocked with this machine's slot.
//!
//! Both run with the device key's session cache on (the default), as a job asking before
//! every API call does: the first run derives the key, the following ones find it.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::{SandboxProcess, Workspace};
use criterion::{Criterion, criterion_group, criterion_main};

fn token(c: &mut Criterion) {
    let sandbox = SandboxProcess::start(&[]);
    let mut tokens = sandbox.issue_tokens(2);
    let local = Workspace::new();
    // A shared store, when PostgreSQL is installed.
    let fleet = pg_throwaway::shared().map(|cluster| {
        Workspace::new()
            .with_env("PREAUTH_STORE", &cluster.new_database("token"))
            .with_env("PREAUTH_MACHINE", "alpha")
    });
    let stores = [("settings folder", Some(local)), ("postgres", fleet)];
    let stores: Vec<(&str, Workspace)> = stores
        .into_iter()
        .filter_map(|(store, ws)| Some((store, ws?)))
        .collect();
    for (_, ws) in &stores {
        let tokens = tokens.remove(0);
        ws.register_issued("job", &sandbox, &tokens, Duration::ZERO);
        // The first run also stores the derived device key in the session cache.
        let first = ws.run(&["token", "job"]);
        assert_eq!(
            first.exits(0).stdout.trim(),
            tokens.access_token,
            "the token handed over"
        );
    }
    let issued = sandbox.counters();

    let mut group = c.benchmark_group("token");
    for (store, ws) in &stores {
        group.bench_function(*store, |b| b.iter(|| ws.run_quietly(&["token", "job"])));
    }
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
