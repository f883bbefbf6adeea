//! Load and save a settings folder of 1,000 connections (target: load all < 50 ms),
//! and read one settings file of 40,000 connections (target: < 1 s).
//!
//! In the folder, each connection is in its own `settings-<NAME>.xml` with tokens of
//! realistic size (1 KiB access token). The single file holds 40,000 connections
//! with connection strings of about 300 characters, which is as many as fit in the
//! 16 MiB a settings file may have; 4,000 connections are read too, so that the two
//! figures show whether reading grows linearly (10× the connections, 10× the time).
//! Run: `cargo bench -p preauth-core --bench settings`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, SystemTime};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use preauth_core::connection::{Connection, Tokens};
use preauth_core::platform::Registry;
use preauth_core::secret::{AccessToken, ClientSecret, RefreshToken};
use preauth_core::settings::SettingsFolder;
use preauth_core::store::Store;

const CONNECTIONS: usize = 1_000;

/// Connections in the one large settings file (and a tenth of it, to show growth).
const IN_ONE_FILE: [usize; 2] = [4_000, 40_000];

/// The largest settings file the store reads (`MAX_FILE_LEN`, not public).
const MAX_FILE_LEN: usize = 16 * 1024 * 1024;

fn connection(name: &str) -> Connection {
    let now = SystemTime::now();
    Connection {
        name: name.to_string(),
        platform: "exact-online".into(),
        api_url: "https://start.exactonline.nl".into(),
        client_id: "0b6bd6a9-0000-4a4b-9f3c-0123456789ab".into(),
        client_secret: Some(ClientSecret::new("s3cr3t-value-0123456789")),
        redirect_url: "https://example.com/callback".into(),
        tokens: Some(Tokens {
            access_token: AccessToken::new("a".repeat(1024)),
            access_token_issued_at: now,
            access_token_expires_at: now + Duration::from_secs(600),
            refresh_token: Some(RefreshToken::new("r".repeat(300))),
            refresh_token_issued_at: Some(now),
        }),
        extra: vec![("custom".into(), "value".into())],
    }
}

/// A folder of `CONNECTIONS` files, written through the store once and copied.
fn folder(dir: &Path) -> SettingsFolder {
    let store = SettingsFolder::open(dir, Registry::builtin(), None).expect("open");
    store.create(&connection("conn-0000")).expect("create");
    let template = std::fs::read_to_string(dir.join("settings-conn-0000.xml")).expect("read");
    for i in 1..CONNECTIONS {
        let name = format!("conn-{i:04}");
        std::fs::write(
            dir.join(format!("settings-{name}.xml")),
            template.replace("conn-0000", &name),
        )
        .expect("write");
    }
    store
}

/// One settings file of `n` connections in one group, laid out as the store writes
/// them, each with its own client id, secret and refresh token (connection strings of
/// about 300 characters).
fn one_file(n: usize) -> String {
    let mut text = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings version=\"5\" forcedefault=\"false\">\n  <group name=\"Exact Online\">\n",
    );
    for i in 0..n {
        text.push_str(&format!(
            "    <connection name=\"c-{i:05}\">\n      <database order=\"10\" provider=\"ExactOnlineAll\" connectionString=\"\
             api-url=https://start.exactonline.nl;\
             api-client-id=0b6bd6a9-{i:04x}-4a4b-9f3c-0123456789ab;\
             api-client-secret=s3cr3t-value-{i:010};\
             api-redirect-url=https://example.com/callback;\
             api-refresh-token=Gh7_{refresh}{i:08};\
             api-refresh-token-issued=2025-03-01T12:00:00Z\"/>\n    </connection>\n",
            refresh = "Gh7_".repeat(7),
        ));
    }
    text.push_str("  </group>\n</settings>\n");
    text
}

/// Times reading one settings file of many connections: `load_all` parses the file
/// and decodes every connection string (no protector, so nothing is sealed);
/// `lock_load_one` locks the last connection and loads it, which reads and parses
/// the whole file but decodes one connection string.
fn bench_one_file(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse 40,000 connections in one file");
    group.sample_size(10);
    for n in IN_ONE_FILE {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = one_file(n);
        assert!(text.len() < MAX_FILE_LEN, "{} bytes", text.len());
        std::fs::write(dir.path().join("settings-many.xml"), &text).expect("write");
        let store = SettingsFolder::open(dir.path(), Registry::builtin(), None).expect("open");
        let all = store.load_all().expect("load all");
        assert_eq!(all.len(), n);
        assert!(all.iter().all(Result::is_ok), "every connection decodes");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("load_all", n), &store, |b, store| {
            b.iter(|| black_box(store.load_all().expect("load all")))
        });
        let last = format!("c-{:05}", n - 1);
        group.bench_with_input(BenchmarkId::new("lock_load_one", n), &store, |b, store| {
            b.iter(|| {
                let mut locked = store.lock(&last).expect("lock");
                black_box(locked.load().expect("load"))
            })
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = folder(dir.path());
    assert_eq!(store.names().expect("names").len(), CONNECTIONS);

    c.bench_function("settings/load_all_1000", |b| {
        b.iter(|| black_box(store.load_all().expect("load all")))
    });
    c.bench_function("settings/names_1000", |b| {
        b.iter(|| black_box(store.names().expect("names")))
    });

    let mut i = 0usize;
    c.bench_function("settings/lock_load_save_one_of_1000", |b| {
        b.iter(|| {
            i = (i + 1) % CONNECTIONS;
            let mut locked = store.lock(&format!("conn-{i:04}")).expect("lock");
            let conn = locked.load().expect("load");
            locked.save(&conn).expect("save");
        })
    });

    let mut group = c.benchmark_group("settings");
    group.sample_size(10);
    group.bench_function("save_all_1000", |b| {
        b.iter(|| {
            for conn in store.load_all().expect("load all") {
                let conn = conn.expect("usable");
                let mut locked = store.lock(&conn.name).expect("lock");
                locked.save(&conn).expect("save");
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench, bench_one_file);
criterion_main!(benches);
