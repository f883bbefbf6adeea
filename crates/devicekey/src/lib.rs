//! Bind secrets to a machine.
//!
//! `devicekey` seals a string (a connection string, a refresh token, a password) into a short
//! printable envelope that opens only on the machine and user account that sealed it, or,
//! in portable mode, wherever a passphrase is known, or, for containers and services with no
//! lasting identity, wherever a key file the platform mounts is.
//!
//! ```
//! use devicekey::DeviceKey;
//!
//! # fn main() -> devicekey::Result<()> {
//! # let folder = tempfile::tempdir().expect("a temporary folder");
//! # let dir = folder.path();
//! // `DeviceKey::load_or_create()` uses the default folder; here a folder of our choice.
//! let key = DeviceKey::load_or_create_in(dir)?;
//! let sealed = key.encrypt("Server=db;Password=s3cret", "connection:sales")?;
//! assert!(sealed.starts_with("dk1:"));
//! assert_eq!(*key.decrypt(&sealed, "connection:sales")?, "Server=db;Password=s3cret");
//!
//! // The label is authenticated: text sealed for one connection does not open as another.
//! assert!(matches!(
//!     key.decrypt(&sealed, "connection:hr"),
//!     Err(devicekey::Error::TamperedOrWrongLabel)
//! ));
//! # Ok(())
//! # }
//! ```
//!
//! # How the key is made
//!
//! - **Host secret**: 32 random bytes in `host.secret`, created once (atomically, mode 0600, in a
//!   folder created 0700) and never overwritten. The folder is `$DEVICEKEY_SECRET_DIR` when set
//!   (see [`SECRET_DIR_ENV`]), else `preauth` in the user's data folder
//!   (`~/.local/share/preauth` on Linux), or any folder given to
//!   [`DeviceKey::load_or_create_in`]. Back it up with the files it protects: without it they
//!   cannot be decrypted. Code that only opens envelopes uses [`DeviceKey::load`] (or
//!   [`DeviceKey::load_in`]), which never creates it: a missing secret is then
//!   [`Error::HostSecretMissing`], naming the file and `DEVICEKEY_SECRET_DIR`, instead of a new
//!   secret that opens nothing.
//! - **Hardware fingerprint** from stable identifiers only ([`Source`]): the machine-id
//!   (required), the DMI product UUID where readable, the CPU brand. Memory, disks, network
//!   addresses, hostname, boot id and OS version are left out because they change in a
//!   machine's normal life. [`DeviceKey::sources`] lists what was used (never the values).
//!   A copied secret file therefore opens nothing on another machine.
//! - **Argon2id** over both, with a 16-byte salt and the parameters [`KdfParams::DEFAULT`]
//!   (m = 19 MiB, t = 2, p = 1, the OWASP recommendation); salt and parameters are recorded in
//!   every envelope. The derived key is cached inside the [`DeviceKey`] and wiped on drop;
//!   [`DeviceKey::with_session_cache`] also shares it, for a limited time, with this user's
//!   next processes through the Linux kernel's user keyring.
//! - **XChaCha20-Poly1305** with a random 24-byte nonce; the associated data is the prefix, the
//!   whole header and the caller's label.
//!
//! # The envelope
//!
//! `dk1:` followed by base64url without padding (it fits an XML attribute); see [`Envelope`]
//! for the byte layout. Besides the salt, parameters and nonce, the header holds a key id (a
//! short hash of the derived key) so that a wrong key ([`Error::AnotherDevice`],
//! [`Error::WrongPassphrase`]) is told apart from altered text or a wrong label
//! ([`Error::TamperedOrWrongLabel`]). It also holds which sources were used and a 2-byte tag of
//! the host secret and of each source, keyed by the host secret, so that the error can say
//! "the machine-id differs" without revealing any identifier. Envelopes asking for more work than
//! [`KdfParams::CEILING`] are refused before any derivation ([`Error::ExcessiveWork`]).
//!
//! A flipped bit in the salt, parameters or key id changes the key the envelope asks for, so it
//! reads as "encrypted on another device" (with the remark that nothing visible changed); a
//! flipped bit anywhere else reads as tampering.
//!
//! # Portable mode
//!
//! [`DeviceKey::from_passphrase`] gives a key with the same API and envelope (mode byte 2) and
//! no hardware binding, to move a secret between machines on purpose.
//!
//! # Key files
//!
//! [`DeviceKey::from_key_file`] gives a key from a file of at least 32 bytes that a platform
//! mounts (a Docker or Kubernetes secret, a systemd credential): same API and envelope (mode
//! byte 3), no hardware binding, for containers that have no machine-id and no lasting host
//! secret. Whoever holds the file opens what it sealed, so keep it in the platform's secret
//! store. The file is refused when it is too short, blank, or (on Unix) readable by others;
//! the cheap [`KdfParams::KEY_FILE`] derives the key, since the file is random already.
//!
//! # Platforms
//!
//! The fingerprint reads Linux files (machine-id, DMI). Elsewhere there is no machine-id, so
//! [`DeviceKey::load_or_create`] fails with [`Error::NoFingerprint`]; portable mode and key
//! files work everywhere.

#![deny(missing_docs)]

#[cfg(feature = "danger")]
pub mod danger;
mod envelope;
mod error;
mod fingerprint;
mod kdf;
mod key;
mod key_file;
mod keyring;
mod secret;
mod session_cache;
#[cfg(windows)]
mod windows;

pub use envelope::{Envelope, MAX_ENVELOPE_LEN, MAX_PLAINTEXT_LEN, PREFIX, is_envelope};
pub use error::{Change, Error, Result};
pub use fingerprint::Source;
pub use kdf::KdfParams;
pub use key::{DATA_KEY_LEN, DeviceKey, Mode, new_data_key};
pub use key_file::{KEY_FILE_MAX_LEN, KEY_FILE_MIN_LEN, secret_file_too_open};
pub use secret::{SECRET_DIR_ENV, SECRET_FILE_NAME, SECRET_LEN, default_secret_dir};
pub use zeroize::Zeroizing;

// `DeviceKey` is shared between threads by callers; this fails to compile if that breaks.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<DeviceKey>();
};
