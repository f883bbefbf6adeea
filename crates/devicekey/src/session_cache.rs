//! The session cache: derived device keys kept for a limited time in the kernel's user keyring
//! (Linux), so that the next process of the same user on the same machine skips Argon2id.
//!
//! The trust boundary is the host secret file's: only this user on this machine reads the
//! cached keys (the keys are readable by their possessor and owner only, nothing for group
//! or others), and whoever can do that can read the host secret too. What the cache adds is a
//! limited lifetime in kernel memory, never a file.
//!
//! A key is stored under a description made from a hash of everything that determines it:
//! the KDF input (the domain, the host secret and the values of the fingerprint sources used),
//! the salt, the KDF parameters and the source mask. A changed host secret, another machine's
//! envelope or other parameters therefore find nothing and derive as before; no secret appears
//! in a description, only a hash. A cached payload of the wrong length is ignored and replaced.
//! Where the keyring is unusable (another system, no keyring support, a seccomp filter, a full
//! quota) the key is derived as before, silently.

use std::ffi::CString;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::Result;
use crate::kdf::{KEY_LEN, KeySpec};
use crate::keyring::{self, Keyring};

/// What every description starts with, so that `keyctl show @u` tells whose keys these are.
const DESCRIPTION_PREFIX: &str = "devicekey:v1:";

/// Bytes of the material hash in a description (128 bits, as hexadecimal).
const DESCRIPTION_HASH_LEN: usize = 16;

/// The most keys one [`SessionCache`] stores, so that a batch opening envelopes sealed with
/// many salts does not fill the user's key quota (200 keys for users other than root).
const MAX_STORED: usize = 16;

/// Derived keys shared with this user's other processes through a keyring, for a time.
#[derive(Debug)]
pub(crate) struct SessionCache {
    keyring: Keyring,
    /// Whole seconds a stored key lives (at least 1).
    timeout_secs: u32,
    /// How many keys this cache has stored so far.
    stored: AtomicUsize,
}

impl SessionCache {
    /// A cache in the user keyring whose keys expire `ttl` (rounded up to whole seconds)
    /// after they are stored; `None` for a zero `ttl` (no cache).
    pub(crate) fn new(ttl: Duration) -> Option<SessionCache> {
        SessionCache::in_keyring(Keyring::USER, ttl)
    }

    fn in_keyring(keyring: Keyring, ttl: Duration) -> Option<SessionCache> {
        if ttl.is_zero() {
            return None;
        }
        let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        Some(SessionCache {
            keyring,
            timeout_secs: u32::try_from(secs).unwrap_or(u32::MAX),
            stored: AtomicUsize::new(0),
        })
    }

    /// The key for `material` and `spec`: the cached one when there is one, else the one
    /// `derive` makes, which is then stored for the next process (when the keyring allows).
    pub(crate) fn key(
        &self,
        material: &[u8],
        spec: KeySpec,
        derive: impl FnOnce() -> Result<Zeroizing<[u8; KEY_LEN]>>,
    ) -> Result<Zeroizing<[u8; KEY_LEN]>> {
        let description = description(material, spec);
        if let Some(key) = keyring::read::<KEY_LEN>(self.keyring, &description) {
            return Ok(key);
        }
        let key = derive()?;
        if self.stored.fetch_add(1, Ordering::Relaxed) < MAX_STORED {
            // Best effort: without the keyring the next process derives the key itself.
            let _ = keyring::store(self.keyring, &description, &key[..], self.timeout_secs);
        }
        Ok(key)
    }
}

/// The description a key is stored under: the prefix and a hash of the KDF input and spec.
fn description(material: &[u8], spec: KeySpec) -> CString {
    let digest = Sha256::new()
        .chain_update(b"devicekey/v1/session-cache\0")
        .chain_update((material.len() as u64).to_le_bytes())
        .chain_update(material)
        .chain_update(spec.salt)
        .chain_update(spec.params.memory_kib.to_le_bytes())
        .chain_update(spec.params.iterations.to_le_bytes())
        .chain_update(spec.params.parallelism.to_le_bytes())
        .chain_update([spec.mask])
        .finalize();
    let mut text = String::from(DESCRIPTION_PREFIX);
    for byte in &digest[..DESCRIPTION_HASH_LEN] {
        // Writing to a String cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    CString::new(text).expect("hexadecimal text has no NUL byte")
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::kdf::{cheap_spec as spec, derive_raw};

    /// A cache in a keyring of its own, or `None` (with a line) where keyrings are unusable.
    fn private_cache(test: &str, ttl: Duration) -> Option<SessionCache> {
        let name = CString::new(format!("devicekey-test-{test}-{}", std::process::id())).ok()?;
        match keyring::new_keyring(&name) {
            Some(keyring) => SessionCache::in_keyring(keyring, ttl),
            None => {
                eprintln!("no usable kernel keyring here; {test} skipped");
                None
            }
        }
    }

    /// The key for `material` and `spec` through `cache`, counting derivations.
    fn key(
        cache: &SessionCache,
        material: &[u8],
        spec: KeySpec,
        derivations: &Cell<usize>,
    ) -> Zeroizing<[u8; KEY_LEN]> {
        cache
            .key(material, spec, || {
                derivations.set(derivations.get() + 1);
                derive_raw(material, spec)
            })
            .expect("a key")
    }

    #[test]
    fn second_process_finds_the_key_and_changed_inputs_do_not() {
        let Some(cache) = private_cache("hit", Duration::from_secs(60)) else {
            return;
        };
        let derivations = Cell::new(0);
        let first = key(&cache, b"secret+sources", spec(1), &derivations);
        assert_eq!(derivations.get(), 1);
        // Another process: a new cache over the same keyring.
        let next = SessionCache::in_keyring(cache.keyring, Duration::from_secs(60)).unwrap();
        assert_eq!(
            *key(&next, b"secret+sources", spec(1), &derivations),
            *first
        );
        assert_eq!(derivations.get(), 1, "the stored key was used");

        // Every input that determines the key makes another description.
        let mut more_work = spec(1);
        more_work.params.iterations = 2;
        let mut other_sources = spec(1);
        other_sources.mask = 3;
        for (material, spec) in [
            (&b"another secret"[..], spec(1)),
            (b"secret+sources", spec(2)),
            (b"secret+sources", more_work),
            (b"secret+sources", other_sources),
        ] {
            let before = derivations.get();
            let other = key(&next, material, spec, &derivations);
            assert_eq!(derivations.get(), before + 1, "{spec:?}");
            assert_eq!(*other, *derive_raw(material, spec).unwrap());
        }
    }

    #[test]
    fn a_malformed_cached_key_is_derived_again_and_replaced() {
        let Some(cache) = private_cache("malformed", Duration::from_secs(60)) else {
            return;
        };
        let description = description(b"m", spec(1));
        for wrong in [&[7u8; 5][..], &[7u8; KEY_LEN + 1]] {
            keyring::store(cache.keyring, &description, wrong, 60).expect("stored");
            let derivations = Cell::new(0);
            let derived = key(&cache, b"m", spec(1), &derivations);
            assert_eq!(derivations.get(), 1, "{} bytes", wrong.len());
            assert_eq!(*derived, *derive_raw(b"m", spec(1)).unwrap());
            let stored = keyring::read::<KEY_LEN>(cache.keyring, &description);
            assert_eq!(stored.as_deref(), Some(&*derived), "replaced");
        }
    }

    #[test]
    fn stored_keys_are_for_this_user_only_and_expire() {
        let Some(cache) = private_cache("expiry", Duration::from_millis(1500)) else {
            return;
        };
        assert_eq!(cache.timeout_secs, 2, "rounded up to whole seconds");
        let derivations = Cell::new(0);
        key(&cache, b"m", spec(1), &derivations);
        let description = description(b"m", spec(1));
        let described = keyring::describe(cache.keyring, &description).expect("described");
        let fields: Vec<&str> = described.split(';').collect();
        assert_eq!(fields[0], "user");
        assert_eq!(fields[1], unsafe { libc::getuid() }.to_string());
        let permissions = u32::from_str_radix(fields[3], 16).expect("hexadecimal");
        // Possessor: view, read, write, search, link, setattr; user: view, read.
        assert_eq!(permissions & 0xff00_0000, 0x3f00_0000);
        assert_eq!(permissions & 0x00ff_0000, 0x0003_0000);
        assert_eq!(permissions & 0x0000_ffff, 0, "nothing for group and others");
        assert_eq!(fields[4], description.to_str().unwrap());
        std::thread::sleep(Duration::from_millis(2500));
        assert!(keyring::read::<KEY_LEN>(cache.keyring, &description).is_none());
        key(&cache, b"m", spec(1), &derivations);
        assert_eq!(derivations.get(), 2, "derived again after the timeout");
    }

    #[test]
    fn an_unusable_keyring_derives_every_time() {
        let cache = SessionCache::in_keyring(Keyring::NONE, Duration::from_secs(60)).unwrap();
        let derivations = Cell::new(0);
        for _ in 0..3 {
            let derived = key(&cache, b"m", spec(1), &derivations);
            assert_eq!(*derived, *derive_raw(b"m", spec(1)).unwrap());
        }
        assert_eq!(derivations.get(), 3);
    }

    #[test]
    fn a_batch_stores_a_bounded_number_of_keys() {
        let Some(cache) = private_cache("bounded", Duration::from_secs(60)) else {
            return;
        };
        let derivations = Cell::new(0);
        let salts = MAX_STORED as u8 + 4;
        for salt in 0..salts {
            key(&cache, b"m", spec(salt), &derivations);
        }
        let stored = (0..salts)
            .filter(|salt| {
                keyring::read::<KEY_LEN>(cache.keyring, &description(b"m", spec(*salt))).is_some()
            })
            .count();
        assert_eq!(stored, MAX_STORED);
    }

    #[test]
    fn a_zero_ttl_is_no_cache() {
        assert!(SessionCache::new(Duration::ZERO).is_none());
        assert!(SessionCache::new(Duration::from_secs(600)).is_some());
    }

    #[test]
    fn descriptions_hold_no_secret() {
        let description = description(b"host secret bytes", spec(9));
        let text = description.to_str().unwrap();
        assert!(text.starts_with(DESCRIPTION_PREFIX));
        assert_eq!(
            text.len(),
            DESCRIPTION_PREFIX.len() + 2 * DESCRIPTION_HASH_LEN
        );
        assert!(!text.contains("secret"));
    }
}
