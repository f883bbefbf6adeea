//! The crash window: the time from the platform's answer to the durable write of a
//! refresh, in a process that has just started (a fresh device key, as `preauth token`
//! or a cron job has). A kill inside this window loses the token chain.
//!
//! - `save_unprepared`: the save as it was before `prepare_save` existed: sealing the new
//!   connection string derives a key (Argon2id) after the answer arrived.
//! - `save_prepared`: the save after `prepare_save` ran before the refresh was sent (key
//!   derived, backup kept, space reserved): only serializing, writing, flushing and
//!   renaming are left.
//!
//! Both use the real device key and real files in a temporary folder.

#[path = "../tests/settings_support/mod.rs"]
mod settings_support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use devicekey::DeviceKey;
use preauth_core::connection::Connection;
use preauth_core::platform::Registry;
use preauth_core::protector::{ProtectError, ProtectErrorKind, Protector};
use preauth_core::secret::{AccessToken, RefreshToken};
use preauth_core::settings::SettingsFolder;
use preauth_core::store::Store;
use settings_support::connection;
use zeroize::Zeroizing;

/// The device key as the core's protector (what the `preauth` binary plugs in).
struct Sealer(DeviceKey);

fn protect_error(e: devicekey::Error) -> ProtectError {
    ProtectError {
        kind: ProtectErrorKind::Key,
        message: e.to_string(),
    }
}

impl Protector for Sealer {
    fn seal(&self, plaintext: &str, label: &str) -> Result<String, ProtectError> {
        self.0.encrypt(plaintext, label).map_err(protect_error)
    }
    fn open(&self, sealed: &str, label: &str) -> Result<Zeroizing<String>, ProtectError> {
        self.0.decrypt(sealed, label).map_err(protect_error)
    }
    fn is_sealed(&self, text: &str) -> bool {
        devicekey::is_envelope(text)
    }
}

/// The folder as a newly started process opens it: a new device key value (its own seal
/// salt, nothing derived yet).
fn fresh_folder(dir: &Path, keys: &Path) -> SettingsFolder {
    let key = DeviceKey::load_or_create_in(keys).expect("device key");
    SettingsFolder::open(dir, Registry::builtin(), Some(Arc::new(Sealer(key)))).expect("folder")
}

/// `connection` with the tokens of a new token response.
fn answered(mut connection: Connection, round: u64) -> Connection {
    if let Some(t) = connection.tokens.as_mut() {
        t.access_token = AccessToken::new(format!("access-{round:08}-{}", "a".repeat(500)));
        t.refresh_token = Some(RefreshToken::new(format!(
            "refresh-{round:08}-{}",
            "r".repeat(40)
        )));
        t.access_token_issued_at = SystemTime::now();
        t.refresh_token_issued_at = Some(SystemTime::now());
    }
    connection
}

fn window(c: &mut Criterion) {
    let root = tempfile::tempdir().expect("tempdir");
    let (dir, keys) = (root.path().join("settings"), root.path().join("keys"));
    fresh_folder(&dir, &keys)
        .create(&connection("acme", SystemTime::now()))
        .expect("create");
    let mut group = c.benchmark_group("crash_window");
    group.sample_size(10);
    for prepared in [false, true] {
        let name = if prepared {
            "save_prepared"
        } else {
            "save_unprepared"
        };
        let mut round = 0;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    let folder = fresh_folder(&dir, &keys);
                    let mut locked = folder.lock("acme").expect("lock");
                    let loaded = locked.load().expect("load");
                    if prepared {
                        locked.prepare_save(&loaded).expect("prepare");
                    }
                    let updated = answered(loaded, round);
                    // The platform's answer is here: from now on a kill loses the chain.
                    let start = Instant::now();
                    locked.save(&updated).expect("save");
                    total += start.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, window);
criterion_main!(benches);
