//! Test-only shortcuts: build a key from given parts and seal with a given salt and nonce.
//!
//! Compiled only with the `danger` feature, which the crate's own tests, benchmarks and
//! examples enable. Never use it for real secrets: a key from a known secret protects nothing,
//! and sealing twice with one nonce under one key reveals both plaintexts.

use crate::DeviceKey;
use crate::error::Result;
use crate::fingerprint::{Fingerprint, Source};
use crate::secret::{HostSecret, SECRET_LEN};

/// A device key from a given host secret and fingerprint, as if read from a machine.
///
/// A later value for the same source wins; empty values count as missing; a missing
/// machine-id gives [`Error::NoFingerprint`](crate::Error::NoFingerprint).
pub fn from_parts(
    secret: [u8; SECRET_LEN],
    fingerprint: Vec<(Source, Vec<u8>)>,
) -> Result<DeviceKey> {
    DeviceKey::device(
        HostSecret::from_bytes(secret),
        Fingerprint::from_parts(fingerprint)?,
    )
}

/// `key` sealing with `salt` instead of its random one.
pub fn with_seal_salt(mut key: DeviceKey, salt: [u8; 16]) -> DeviceKey {
    key.set_seal_salt(salt);
    key
}

/// [`DeviceKey::encrypt`] with a given nonce, for fixed test vectors.
pub fn encrypt_with_nonce(
    key: &DeviceKey,
    plaintext: &str,
    label: &str,
    nonce: [u8; 24],
) -> Result<String> {
    key.encrypt_with_nonce(plaintext, label, nonce)
}
