//! Load and save a settings folder of 1,000 connections (target: load all < 50 ms).
//!
//! Each connection is in its own `settings-<NAME>.xml` with tokens of realistic size
//! (1 KiB access token). Run: `cargo bench -p preauth-core --bench settings`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use preauth_core::connection::{Connection, Tokens};
use preauth_core::platform::Registry;
use preauth_core::secret::{AccessToken, ClientSecret, RefreshToken};
use preauth_core::settings::SettingsFolder;
use preauth_core::store::Store;

const CONNECTIONS: usize = 1_000;

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

criterion_group!(benches, bench);
criterion_main!(benches);
