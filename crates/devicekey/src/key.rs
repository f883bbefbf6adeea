//! [`DeviceKey`]: derives keys (cached), seals and opens envelopes.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use chacha20poly1305::XNonce;
use chacha20poly1305::aead::AeadInPlace;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::envelope::{AEAD_TAG_LEN, Envelope, MAX_PLAINTEXT_LEN, NONCE_LEN};
use crate::error::{Change, Error, Result};
use crate::fingerprint::{Fingerprint, HINTS_LEN, Source, compare_hints};
use crate::kdf::{DerivedKey, KEY_ID_LEN, KdfParams, KeyCache, KeySpec, SALT_LEN, derive_raw};
use crate::key_file::KeyFile;
use crate::secret::{self, HostSecret};
use crate::session_cache::SessionCache;

/// The length of a shared store's data key in bytes.
pub const DATA_KEY_LEN: usize = 32;

/// A new random data key for a shared store, as text (unpadded base64url of
/// [`DATA_KEY_LEN`] bytes) to seal once per machine; see [`DeviceKey::from_data_key`].
pub fn new_data_key() -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; DATA_KEY_LEN]);
    getrandom::fill(bytes.as_mut_slice()).map_err(Error::Random)?;
    Ok(Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_slice()),
    ))
}

/// Where an envelope's key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Host secret and hardware fingerprint: opens only on this machine, for this user.
    Device,
    /// A passphrase: opens wherever the passphrase is known (for moving a secret on purpose).
    Passphrase,
    /// A key file: opens wherever a file with the same contents is (a secret the platform
    /// mounts into containers or services that have no lasting identity of their own).
    KeyFile,
    /// A shared store's data key: opens wherever the data key is (a store of connections
    /// shared by machines keeps it sealed once per machine, see [`DeviceKey::from_data_key`]).
    DataKey,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Device => "the device key",
            Mode::Passphrase => "a passphrase",
            Mode::KeyFile => "a key file",
            Mode::DataKey => "a shared store's data key",
        })
    }
}

/// What the keys are derived from. Every variant zeroizes on drop.
enum Material {
    Device {
        secret: HostSecret,
        fingerprint: Fingerprint,
        /// Keyed tags of the secret and sources, written into every envelope.
        hints: [u8; HINTS_LEN],
    },
    Passphrase(Zeroizing<String>),
    KeyFile(KeyFile),
    DataKey(Zeroizing<Vec<u8>>),
}

/// A key that seals secrets for this machine (or for a passphrase or a key file) and opens them
/// again.
///
/// Derived keys are cached inside the value by salt, KDF parameters and sources, so keep one
/// `DeviceKey` for a batch: a thousand encryptions pay Argon2id once. All envelopes sealed by one
/// `DeviceKey` share a salt (chosen at random when it was made) and differ by their nonce.
/// `DeviceKey` is `Send + Sync`; its `Debug` shows the mode and the source names only.
pub struct DeviceKey {
    material: Material,
    /// Names of the fingerprint sources in use (empty for a passphrase).
    sources: Vec<Source>,
    params: KdfParams,
    seal_salt: [u8; SALT_LEN],
    cache: KeyCache,
    /// Derived device keys shared with this user's next processes, when turned on.
    session: Option<SessionCache>,
}

impl DeviceKey {
    /// Loads this machine's key, creating the host secret on first use in
    /// [`default_secret_dir`](crate::default_secret_dir) (`$DEVICEKEY_SECRET_DIR`, else the
    /// user's data folder). Cheap: the key itself is derived on first use.
    pub fn load_or_create() -> Result<DeviceKey> {
        DeviceKey::load_or_create_in(&secret::default_secret_dir()?)
    }

    /// Like [`DeviceKey::load_or_create`] with the host secret kept in `dir` (created 0700 when
    /// missing; the secret file is `dir/host.secret`, 0600). The machine-id is read first: a
    /// machine without one (a container) gets [`Error::NoFingerprint`], and no host secret
    /// that could never serve.
    pub fn load_or_create_in(dir: &Path) -> Result<DeviceKey> {
        let fingerprint = Fingerprint::read()?;
        DeviceKey::device(secret::load_or_create(dir)?, fingerprint)
    }

    /// Loads this machine's key for reading: like [`DeviceKey::load_or_create`] but never
    /// creates the host secret (nor its folder). Use it where nothing is sealed, so that a
    /// job run with the wrong (or no) `DEVICEKEY_SECRET_DIR` reports the missing secret
    /// ([`Error::HostSecretMissing`]) instead of making a new one that opens nothing.
    pub fn load() -> Result<DeviceKey> {
        DeviceKey::load_in(&secret::default_secret_dir()?)
    }

    /// Like [`DeviceKey::load`] with the host secret read from `dir/host.secret`.
    pub fn load_in(dir: &Path) -> Result<DeviceKey> {
        let fingerprint = Fingerprint::read()?;
        DeviceKey::device(secret::load(dir)?, fingerprint)
    }

    /// A portable key from a passphrase: same envelope, no hardware binding.
    pub fn from_passphrase(passphrase: Zeroizing<String>) -> Result<DeviceKey> {
        if passphrase.is_empty() {
            return Err(Error::EmptyPassphrase);
        }
        DeviceKey::new(Material::Passphrase(passphrase), Vec::new())
    }

    /// A key from a key file: a secret of at least 32 bytes that a platform mounts (a Docker or
    /// Kubernetes secret, a systemd credential), for containers and services that have no
    /// machine-id or host secret of their own. Envelopes it seals (mode byte 3) open wherever a
    /// file with the same contents is given, and only there; no hardware is involved.
    ///
    /// The file is read once, here. Its bytes are the key as they are (base64, hex or raw),
    /// less one trailing line break (`\n` or `\r\n`). It is refused, with one sentence naming
    /// the file and the fix, when it is missing or unreadable ([`Error::KeyFileMissing`],
    /// [`Error::KeyFileIo`]), empty or white space only ([`Error::KeyFileBlank`]), shorter than
    /// [`KEY_FILE_MIN_LEN`](crate::KEY_FILE_MIN_LEN) bytes ([`Error::KeyFileTooShort`]), longer
    /// than [`KEY_FILE_MAX_LEN`](crate::KEY_FILE_MAX_LEN) ([`Error::KeyFileTooLong`]), or, on
    /// Unix, readable by other users ([`Error::KeyFilePermissions`]; a file owned by root may be
    /// readable by its group, as Kubernetes mounts secrets for an `fsGroup`).
    ///
    /// The key file already holds a random key, so sealing uses the cheap
    /// [`KdfParams::KEY_FILE`]: a process pays about a millisecond to derive it.
    pub fn from_key_file(path: &Path) -> Result<DeviceKey> {
        let mut key = DeviceKey::new(Material::KeyFile(KeyFile::read(path)?), Vec::new())?;
        key.params = KdfParams::KEY_FILE;
        Ok(key)
    }

    /// A key from a shared store's data key: [`DATA_KEY_LEN`] random bytes, as
    /// [`new_data_key`] makes them (unpadded base64url text). A store of connections shared
    /// by several machines seals every connection string with one data key and keeps the
    /// data key sealed once per machine (with that machine's device key or key file), so
    /// each machine opens what any of them sealed. Envelopes it seals carry mode byte 4;
    /// like a key file, it uses the cheap [`KdfParams::KEY_FILE`].
    pub fn from_data_key(text: &str) -> Result<DeviceKey> {
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text.trim())
                .map_err(|_| Error::MalformedDataKey)?,
        );
        if bytes.len() != DATA_KEY_LEN {
            return Err(Error::MalformedDataKey);
        }
        let mut key = DeviceKey::new(Material::DataKey(bytes), Vec::new())?;
        key.params = KdfParams::KEY_FILE;
        Ok(key)
    }

    /// Uses `params` for the envelopes this key seals (opening always uses the envelope's own).
    /// Refuses parameters above [`KdfParams::CEILING`] or that Argon2id does not accept.
    pub fn with_kdf_params(mut self, params: KdfParams) -> Result<DeviceKey> {
        self.params = params.check()?;
        Ok(self)
    }

    /// Shares the keys this device key derives with this user's other processes on this
    /// machine for `ttl`, so that a process started within `ttl` of another skips the Argon2id
    /// derivation (about 26 ms) and opens at once. Off by default; a zero `ttl` turns it off.
    ///
    /// The keys are kept in the Linux kernel's user keyring (see keyrings(7)), as "user" keys
    /// described `devicekey:v1:` and a hash of everything that determines the key (host
    /// secret, fingerprint values, salt, KDF parameters; the hash reveals none of them). They
    /// are readable by this user only (possessor and owner; nothing for group or others), the
    /// same boundary as the host secret file, and the kernel removes each `ttl` (rounded up to
    /// whole seconds) after it was stored; a reboot removes them all. A changed host secret or
    /// another machine's envelope never finds a cached key, so errors such as
    /// [`Error::AnotherDevice`] stay as they are. One `DeviceKey` stores at most 16 keys, so a
    /// batch over many salts does not fill the user's key quota. User keyrings are per user
    /// and user namespace, not per container: containers that run as the same uid in the
    /// same user namespace (root in containers without user namespaces) share one, so leave
    /// the cache off there (Docker's and Podman's default seccomp profiles already refuse
    /// the syscalls, which turns it off).
    ///
    /// Where no keyring is usable (other systems, a kernel without keys, a seccomp filter that
    /// forbids the syscalls, a full quota) keys are derived as before, without an error. Only
    /// the device key's derivations are shared: keys from a passphrase are not kept beyond the
    /// process, and key files and data keys derive in about a millisecond anyway, so for them
    /// this does nothing. Inside the process, derived keys stay in the `DeviceKey` and are
    /// wiped on drop either way.
    pub fn with_session_cache(mut self, ttl: Duration) -> DeviceKey {
        self.session = match self.material {
            Material::Device { .. } => SessionCache::new(ttl),
            _ => None,
        };
        self
    }

    pub(crate) fn device(secret: HostSecret, fingerprint: Fingerprint) -> Result<DeviceKey> {
        let hints = fingerprint.hints(&secret);
        let sources = fingerprint.sources();
        let material = Material::Device {
            secret,
            fingerprint,
            hints,
        };
        DeviceKey::new(material, sources)
    }

    fn new(material: Material, sources: Vec<Source>) -> Result<DeviceKey> {
        let mut seal_salt = [0u8; SALT_LEN];
        getrandom::fill(&mut seal_salt).map_err(Error::Random)?;
        Ok(DeviceKey {
            material,
            sources,
            params: KdfParams::DEFAULT,
            seal_salt,
            cache: KeyCache::default(),
            session: None,
        })
    }

    /// Whether this key is bound to the device, a passphrase or a key file.
    pub fn mode(&self) -> Mode {
        match self.material {
            Material::Device { .. } => Mode::Device,
            Material::Passphrase(_) => Mode::Passphrase,
            Material::KeyFile(_) => Mode::KeyFile,
            Material::DataKey(_) => Mode::DataKey,
        }
    }

    /// The fingerprint sources this key is bound to (names only; empty for a passphrase or a
    /// key file).
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// Seals `plaintext` into a printable envelope (`dk1:…`) that opens only with this key and
    /// the same `label` (for example the name of the connection the secret belongs to).
    pub fn encrypt(&self, plaintext: &str, label: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(Error::Random)?;
        self.encrypt_with_nonce(plaintext, label, nonce)
    }

    /// [`DeviceKey::encrypt`] with a given nonce; only `encrypt` and the `danger` module call it.
    pub(crate) fn encrypt_with_nonce(
        &self,
        plaintext: &str,
        label: &str,
        nonce: [u8; NONCE_LEN],
    ) -> Result<String> {
        let too_large = || Error::TooLarge {
            len: plaintext.len(),
            limit: MAX_PLAINTEXT_LEN,
        };
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(too_large());
        }
        let (mask, hints) = match &self.material {
            Material::Device {
                fingerprint, hints, ..
            } => (fingerprint.mask(), *hints),
            Material::Passphrase(_) | Material::KeyFile(_) | Material::DataKey(_) => {
                (0, [0; HINTS_LEN])
            }
        };
        let spec = KeySpec {
            salt: self.seal_salt,
            params: self.params,
            mask,
        };
        let mut envelope = Envelope {
            mode: self.mode(),
            kdf: self.params,
            salt: self.seal_salt,
            key_id: [0; KEY_ID_LEN],
            mask,
            hints,
            nonce,
            sealed: Vec::new(),
        };
        // Sized up front so that no reallocation leaves a copy of the plaintext behind; the
        // buffer is encrypted in place and the tag appended.
        let mut sealed = Vec::with_capacity(plaintext.len() + AEAD_TAG_LEN);
        sealed.extend_from_slice(plaintext.as_bytes());
        self.with_key(spec, |key| {
            envelope.key_id = key.key_id;
            let aad = envelope.associated_data(label);
            key.cipher
                .encrypt_in_place(XNonce::from_slice(&nonce), &aad, &mut sealed)
        })?
        .map_err(|_| too_large())?;
        envelope.sealed = sealed;
        Ok(envelope.to_text())
    }

    /// Opens an envelope made by [`DeviceKey::encrypt`] with the same `label`.
    ///
    /// Each cause of failure has its own error: [`Error::AnotherDevice`] (saying what changed
    /// where it can tell), [`Error::WrongPassphrase`], [`Error::WrongKeyFile`] (naming the key
    /// file), [`Error::TamperedOrWrongLabel`], [`Error::WrongMode`], [`Error::Malformed`],
    /// [`Error::UnsupportedVersion`] and [`Error::ExcessiveWork`] (checked before any key
    /// derivation).
    pub fn decrypt(&self, text: &str, label: &str) -> Result<Zeroizing<String>> {
        let mut envelope = Envelope::parse(text)?;
        if envelope.mode != self.mode() {
            return Err(Error::WrongMode {
                sealed: envelope.mode,
                opened: self.mode(),
            });
        }
        envelope.kdf.check()?;
        if let Material::Device { fingerprint, .. } = &self.material
            && envelope.mask & !fingerprint.mask() != 0
        {
            // A source used then cannot be read now: no key can match, skip the KDF.
            return Err(self.key_mismatch(&envelope));
        }
        let spec = KeySpec {
            salt: envelope.salt,
            params: envelope.kdf,
            mask: envelope.mask,
        };
        // Decrypted in place; wiped on drop whatever happens next.
        let mut opened = Zeroizing::new(std::mem::take(&mut envelope.sealed));
        self.with_key(spec, |key| {
            if !bool::from(key.key_id.ct_eq(&envelope.key_id)) {
                return Err(self.key_mismatch(&envelope));
            }
            let aad = envelope.associated_data(label);
            key.cipher
                .decrypt_in_place(XNonce::from_slice(&envelope.nonce), &aad, &mut *opened)
                .map_err(|_| Error::TamperedOrWrongLabel)
        })??;
        match String::from_utf8(std::mem::take(&mut *opened)) {
            Ok(text) => Ok(Zeroizing::new(text)),
            Err(not_utf8) => {
                // Back into the wiping buffer before reporting.
                *opened = not_utf8.into_bytes();
                Err(Error::Malformed {
                    what: "its plaintext is not UTF-8",
                })
            }
        }
    }

    fn with_key<R>(&self, spec: KeySpec, use_key: impl FnOnce(&DerivedKey) -> R) -> Result<R> {
        self.cache.with_key(spec, || self.derive(spec), use_key)
    }

    /// Derives the key for `spec`, or takes it from the session cache when one is in use.
    fn derive(&self, spec: KeySpec) -> Result<DerivedKey> {
        let material = self.material(spec.mask);
        let key = match &self.session {
            Some(session) => session.key(&material, spec, || derive_raw(&material, spec))?,
            None => derive_raw(&material, spec)?,
        };
        Ok(DerivedKey::from_raw(spec, &key))
    }

    /// The Argon2id input: a domain, then the host secret and the values of the sources in
    /// `mask` (device), the passphrase, or the key file's contents.
    fn material(&self, mask: u8) -> Zeroizing<Vec<u8>> {
        const DEVICE: &[u8] = b"devicekey/v1/device\0";
        const PASSPHRASE: &[u8] = b"devicekey/v1/passphrase\0";
        const KEY_FILE: &[u8] = b"devicekey/v1/key-file\0";
        const DATA_KEY: &[u8] = b"devicekey/v1/data-key\0";
        match &self.material {
            Material::Device {
                secret,
                fingerprint,
                ..
            } => {
                // Sized up front so no reallocation leaves an unwiped copy behind.
                let len = DEVICE.len() + secret.bytes().len() + fingerprint.encoded_len(mask);
                let mut material = Zeroizing::new(Vec::with_capacity(len));
                material.extend_from_slice(DEVICE);
                material.extend_from_slice(secret.bytes());
                fingerprint.encode_into(mask, &mut material);
                material
            }
            Material::Passphrase(passphrase) => {
                Zeroizing::new([PASSPHRASE, passphrase.as_bytes()].concat())
            }
            Material::KeyFile(file) => Zeroizing::new([KEY_FILE, file.bytes()].concat()),
            Material::DataKey(bytes) => Zeroizing::new([DATA_KEY, bytes.as_slice()].concat()),
        }
    }

    /// The error for an envelope whose key this key cannot produce.
    fn key_mismatch(&self, envelope: &Envelope) -> Error {
        match &self.material {
            Material::Passphrase(_) => Error::WrongPassphrase,
            Material::DataKey(_) => Error::WrongDataKey,
            Material::KeyFile(file) => Error::WrongKeyFile {
                path: file.path().to_owned(),
            },
            Material::Device {
                fingerprint, hints, ..
            } => {
                let readable = fingerprint.mask();
                let mut changes = compare_hints(&envelope.hints, hints, envelope.mask & readable);
                changes.extend(
                    Source::from_mask(envelope.mask & !readable).map(Change::SourceMissing),
                );
                Error::AnotherDevice { changes }
            }
        }
    }

    #[cfg(feature = "danger")]
    pub(crate) fn set_seal_salt(&mut self, salt: [u8; SALT_LEN]) {
        self.seal_salt = salt;
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey")
            .field("mode", &self.mode())
            .field("sources", &self.sources)
            .field("kdf", &self.params)
            .finish_non_exhaustive()
    }
}
