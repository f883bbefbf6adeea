//! Costs that matter to callers: one key derivation, sealing and opening a connection string
//! with a warm key, and a batch of 10,000 encryptions with a fresh key.
//!
//! Run with `cargo bench -p devicekey -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use devicekey::DeviceKey;

const LABEL: &str = "connection:sales";

/// A 300-byte connection string, the typical secret.
fn connection_string() -> String {
    let mut text = String::from(
        "Data Source=https://start.exactonline.nl;Provider=ExactOnlineAll;\
         api-client-id=5f1c0e7a-9d2b-4c3e-8a6f-0b1d2c3e4f50;api-redirect-url=http://127.0.0.1:8765/;\
         api-access-token=",
    );
    while text.len() < 300 {
        text.push('x');
    }
    text
}

fn fresh_key(dir: &Path) -> DeviceKey {
    DeviceKey::load_or_create_in(dir).expect("a host secret in a temporary folder")
}

fn benches(c: &mut Criterion) {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let dir = folder.path();
    let plaintext = connection_string();

    let mut slow = c.benchmark_group("derivation");
    slow.sample_size(10);
    // A fresh key's first encryption: Argon2id (m=19 MiB, t=2, p=1) plus one seal.
    slow.bench_function("derive key + first encrypt", |b| {
        b.iter_batched(
            || fresh_key(dir),
            |key| key.encrypt(black_box(&plaintext), LABEL).expect("encrypts"),
            BatchSize::PerIteration,
        )
    });
    slow.bench_function("10,000 encryptions with a fresh key", |b| {
        b.iter_batched(
            || fresh_key(dir),
            |key| {
                for _ in 0..10_000 {
                    black_box(key.encrypt(black_box(&plaintext), LABEL).expect("encrypts"));
                }
            },
            BatchSize::PerIteration,
        )
    });
    slow.finish();

    let key = fresh_key(dir);
    let sealed = key.encrypt(&plaintext, LABEL).expect("encrypts");
    let mut warm = c.benchmark_group("warm key, 300-byte connection string");
    warm.bench_function("encrypt", |b| {
        b.iter(|| key.encrypt(black_box(&plaintext), LABEL).expect("encrypts"))
    });
    warm.bench_function("decrypt", |b| {
        b.iter(|| key.decrypt(black_box(&sealed), LABEL).expect("decrypts"))
    });
    // For comparison: the cipher alone on the same bytes, without envelope, nonce or base64.
    let cipher = XChaCha20Poly1305::new(&[7u8; 32].into());
    let nonce = XNonce::from([9u8; 24]);
    warm.bench_function("reference: XChaCha20-Poly1305 alone", |b| {
        b.iter(|| {
            cipher
                .encrypt(&nonce, black_box(plaintext.as_bytes()))
                .expect("encrypts")
        })
    });
    warm.finish();
}

criterion_group!(devicekey_benches, benches);
criterion_main!(devicekey_benches);
