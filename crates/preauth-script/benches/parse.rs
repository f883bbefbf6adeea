//! Parse throughput of a generated 10 MB script (every statement kind, comments, both quote
//! styles), reported in bytes per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Statements cycled through to build the script.
const STATEMENTS: &[&str] = &[
    "local define ENV \"prod\"\n",
    "-- refresh the books\nrefresh connection 'books' force;\n",
    "preauthenticate exact-online country 'nl' client id 'c0ffee'\n  client secret 'shh' redirect url 'http://127.0.0.1:8080/cb'\n  as connection 'books';\n",
    "encrypt connection 'api-url=https://127.0.0.1/;password=\"p;w\"';\n",
    "local echo refreshed ${ENV}\n",
    "show connections; show platforms;\n",
    "/* keep-alive */ refresh all connections older than 20 days;\n",
    "register connection 'oem' platform twinfield client id 'c' redirect uri 'r'\n  access token 'at' refresh token 'rt' obtained at '2025-01-02T03:04:05Z' verify;\n",
    "check connections warn days 14 critical days 3;\n",
    "create platform 'acme' authorize url 'http://127.0.0.1/a' token url 'http://127.0.0.1/t' pkce on;\n",
];

fn script(bytes: usize) -> String {
    let mut script = String::with_capacity(bytes + 256);
    for statement in STATEMENTS.iter().cycle() {
        if script.len() >= bytes {
            break;
        }
        script.push_str(statement);
    }
    script
}

fn parse_throughput(c: &mut Criterion) {
    let source = script(10 * 1024 * 1024);
    let expected = preauth_script::parse(&source, "bench.sql")
        .map(|s| s.len())
        .unwrap_or(0);
    assert!(expected > 0, "the generated script must parse");
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(source.len() as u64));
    group.sample_size(10);
    group.bench_function("10MB script", |b| {
        b.iter(|| {
            preauth_script::parse(std::hint::black_box(&source), "bench.sql").map(|s| s.len())
        })
    });
    group.bench_function("10MB split only", |b| {
        b.iter(|| {
            preauth_script::split(std::hint::black_box(&source), "bench.sql").map(|s| s.len())
        })
    });
    group.finish();
}

criterion_group!(benches, parse_throughput);
criterion_main!(benches);
