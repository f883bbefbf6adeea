//! Key derivation (Argon2id), the work ceiling, and the per-key cache of derived keys.
//!
//! Defaults are m = 19456 KiB (19 MiB), t = 2, p = 1: the second configuration OWASP's Password
//! Storage Cheat Sheet recommends for Argon2id, and the argon2 crate's default. RFC 9106's first
//! recommendation (2 GiB) is far too heavy for a batch job that starts often, and its second
//! (64 MiB, t = 3) triples the start-up cost for little gain here: the KDF input already holds a
//! 256-bit random host secret, so Argon2 is a second line of defence (for a passphrase, or for a
//! thief who copied the secret file and must guess the identifiers), not the only one.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Argon2id cost parameters, recorded in every envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KdfParams {
    /// Memory in KiB (Argon2 `m`).
    pub memory_kib: u32,
    /// Number of passes (Argon2 `t`).
    pub iterations: u32,
    /// Degree of parallelism (Argon2 `p`).
    pub parallelism: u32,
}

impl KdfParams {
    /// The parameters new envelopes use: m = 19456 KiB, t = 2, p = 1 (see the module docs).
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: Params::DEFAULT_M_COST,
        iterations: Params::DEFAULT_T_COST,
        parallelism: Params::DEFAULT_P_COST,
    };

    /// The parameters a key from a key file seals with: m = 1024 KiB, t = 1, p = 1, about a
    /// millisecond. A key file holds at least 32 bytes meant to be random (a 256-bit key when
    /// made as the docs say), so no guessing attack is left for Argon2id to slow down; it
    /// only turns the file's bytes into a key of the right size, bound to the salt.
    pub const KEY_FILE: KdfParams = KdfParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    /// The most work an envelope may ask for: 256 MiB, 10 passes, 4 lanes (a few seconds at
    /// worst). Anything above is refused before the KDF runs.
    pub const CEILING: KdfParams = KdfParams {
        memory_kib: 256 * 1024,
        iterations: 10,
        parallelism: 4,
    };

    /// Refuses parameters above [`KdfParams::CEILING`] or outside what Argon2id accepts.
    pub(crate) fn check(self) -> Result<Self> {
        let limit = KdfParams::CEILING;
        if self.memory_kib > limit.memory_kib
            || self.iterations > limit.iterations
            || self.parallelism > limit.parallelism
        {
            return Err(Error::ExcessiveWork {
                required: self,
                limit,
            });
        }
        self.argon2_params()
            .map(|_| self)
            .map_err(|e| Error::InvalidKdfParams {
                params: self,
                reason: e.to_string(),
            })
    }

    pub(crate) fn argon2_params(self) -> Result<Params, argon2::Error> {
        Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(KEY_LEN),
        )
    }
}

impl fmt::Display for KdfParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Argon2id m={} KiB, t={}, p={}",
            self.memory_kib, self.iterations, self.parallelism
        )
    }
}

/// Bytes of a derived key.
pub(crate) const KEY_LEN: usize = 32;
/// Bytes of the key id stored in the envelope.
pub(crate) const KEY_ID_LEN: usize = 8;
/// Bytes of the KDF salt stored in the envelope.
pub(crate) const SALT_LEN: usize = 16;

/// What identifies one derived key of a [`DeviceKey`](crate::DeviceKey).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeySpec {
    pub salt: [u8; SALT_LEN],
    pub params: KdfParams,
    /// The fingerprint sources mixed in (0 for a passphrase).
    pub mask: u8,
}

/// A derived key, ready to seal and open. The cipher zeroizes its key on drop.
pub(crate) struct DerivedKey {
    spec: KeySpec,
    pub cipher: XChaCha20Poly1305,
    /// A short public hash of the key: tells "another key" apart from "altered text".
    pub key_id: [u8; KEY_ID_LEN],
}

/// The key for `material` and `spec`, derived without any cache (for tests).
#[cfg(test)]
pub(crate) fn derive(material: &[u8], spec: KeySpec) -> Result<DerivedKey> {
    Ok(DerivedKey::from_raw(spec, &*derive_raw(material, spec)?))
}

/// Runs Argon2id over `material` and wipes every intermediate buffer: the raw key for
/// `spec`, wiped on drop.
pub(crate) fn derive_raw(material: &[u8], spec: KeySpec) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let invalid = |e: argon2::Error| Error::InvalidKdfParams {
        params: spec.params,
        reason: e.to_string(),
    };
    let params = spec.params.check()?.argon2_params().map_err(invalid)?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(material, &spec.salt, &mut key[..])
        .map_err(invalid)?;
    Ok(key)
}

impl DerivedKey {
    /// The cipher and key id for the raw key `key` (made by [`derive_raw`] for `spec`).
    pub(crate) fn from_raw(spec: KeySpec, key: &[u8; KEY_LEN]) -> DerivedKey {
        let digest = Sha256::new()
            .chain_update(b"devicekey/v1/key-id\0")
            .chain_update(&key[..])
            .finalize();
        let mut key_id = [0u8; KEY_ID_LEN];
        key_id.copy_from_slice(&digest[..KEY_ID_LEN]);
        DerivedKey {
            spec,
            cipher: XChaCha20Poly1305::new(Key::from_slice(&key[..])),
            key_id,
        }
    }
}

/// The derived keys of one [`DeviceKey`](crate::DeviceKey), most recently used first.
#[derive(Default)]
pub(crate) struct KeyCache {
    keys: Mutex<VecDeque<DerivedKey>>,
    /// Held while deriving, so that threads missing the same key at once derive it once
    /// (and never hold several Argon2id work areas of 19 MiB at a time).
    deriving: Mutex<()>,
}

/// The cached key for `spec`, moved to the front as the most recently used.
fn touch(keys: &mut VecDeque<DerivedKey>, spec: KeySpec) -> Option<&DerivedKey> {
    let position = keys.iter().position(|k| k.spec == spec)?;
    let key = keys.remove(position)?;
    keys.push_front(key);
    keys.front()
}

/// How many derived keys one [`DeviceKey`](crate::DeviceKey) keeps (about 600 bytes).
const CACHE_CAPACITY: usize = 16;

impl KeyCache {
    /// Calls `use_key` with the key for `spec`, deriving it with `derive_key` on a miss.
    /// The cache is not locked while deriving, so other threads keep using cached keys;
    /// derivations themselves run one at a time, and a key derived while a thread waited
    /// for its turn is used instead of deriving it again.
    pub(crate) fn with_key<R>(
        &self,
        spec: KeySpec,
        derive_key: impl FnOnce() -> Result<DerivedKey>,
        use_key: impl FnOnce(&DerivedKey) -> R,
    ) -> Result<R> {
        if let Some(key) = touch(&mut self.lock_keys(), spec) {
            return Ok(use_key(key));
        }
        // Only guards the derivation; a poisoned lock guards it just as well.
        let _turn = self.deriving.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = touch(&mut self.lock_keys(), spec) {
            return Ok(use_key(key));
        }
        let key = derive_key()?;
        let result = use_key(&key);
        let mut keys = self.lock_keys();
        if !keys.iter().any(|k| k.spec == spec) {
            keys.push_front(key);
            keys.truncate(CACHE_CAPACITY);
        }
        Ok(result)
    }

    fn lock_keys(&self) -> std::sync::MutexGuard<'_, VecDeque<DerivedKey>> {
        // Every update leaves the queue consistent, so a poisoned lock is still usable.
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of cached keys (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Argon2id parameters cheap enough for unit tests.
#[cfg(test)]
pub(crate) const CHEAP: KdfParams = KdfParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

/// A key spec of the [`CHEAP`] parameters whose salt is `salt` repeated.
#[cfg(test)]
pub(crate) fn cheap_spec(salt: u8) -> KeySpec {
    KeySpec {
        salt: [salt; SALT_LEN],
        params: CHEAP,
        mask: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(salt: u8) -> KeySpec {
        cheap_spec(salt)
    }

    #[test]
    fn cache_derives_each_spec_once() {
        let cache = KeyCache::default();
        let mut derivations = 0;
        for round in 0..3 {
            for salt in 0..4 {
                let id = cache
                    .with_key(
                        spec(salt),
                        || {
                            derivations += 1;
                            derive(b"material", spec(salt))
                        },
                        |k| k.key_id,
                    )
                    .unwrap();
                assert_eq!(
                    id,
                    derive(b"material", spec(salt)).unwrap().key_id,
                    "{round}"
                );
            }
        }
        assert_eq!(derivations, 4);
        assert_eq!(cache.len(), 4);
    }

    #[test]
    fn cache_is_bounded() {
        let cache = KeyCache::default();
        for salt in 0..(CACHE_CAPACITY as u8 + 5) {
            cache
                .with_key(spec(salt), || derive(b"m", spec(salt)), |_| ())
                .unwrap();
        }
        assert_eq!(cache.len(), CACHE_CAPACITY);
    }

    #[test]
    fn key_id_depends_on_every_input() {
        let base = derive(b"material", spec(1)).unwrap().key_id;
        assert_ne!(base, derive(b"materiaL", spec(1)).unwrap().key_id);
        assert_ne!(base, derive(b"material", spec(2)).unwrap().key_id);
        let mut more_work = spec(1);
        more_work.params.iterations = 2;
        assert_ne!(base, derive(b"material", more_work).unwrap().key_id);
    }

    #[test]
    fn ceiling_is_checked_before_argon2() {
        let huge = KdfParams {
            memory_kib: 4 * 1024 * 1024,
            ..KdfParams::DEFAULT
        };
        assert!(matches!(
            huge.check(),
            Err(Error::ExcessiveWork { required, .. }) if required == huge
        ));
        let broken = KdfParams {
            memory_kib: 1,
            ..KdfParams::DEFAULT
        };
        assert!(matches!(
            broken.check(),
            Err(Error::InvalidKdfParams { .. })
        ));
        assert_eq!(KdfParams::DEFAULT.check().unwrap(), KdfParams::DEFAULT);
    }
}
