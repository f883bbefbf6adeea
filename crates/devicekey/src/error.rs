//! The one error type of the crate: one variant per cause, each Display an actionable sentence.
//!
//! No variant carries a secret: not the host secret, not a fingerprint value, not a passphrase,
//! not a key file's contents, not a plaintext, not a label (labels are names, but the caller
//! knows them already).

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::Mode;
use crate::fingerprint::Source;
use crate::kdf::KdfParams;

/// How to give a machine without a machine id one.
#[cfg(not(windows))]
const MACHINE_ID_ADVICE: &str = "create one with `systemd-machine-id-setup`";
/// How to give a machine without a machine id one.
#[cfg(windows)]
const MACHINE_ID_ADVICE: &str =
    "Windows creates MachineGuid at installation: restore it from a backup of the registry";

/// Everything that can go wrong while loading a key, encrypting or decrypting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The envelope was sealed with a key this device cannot derive: another host secret or
    /// other hardware identifiers.
    #[error("encrypted on another device ({})", describe(changes))]
    AnotherDevice {
        /// What differs between the device that encrypted and this one, where it can be told.
        /// Empty when nothing visible changed (then the envelope's header was probably altered).
        changes: Vec<Change>,
    },

    /// The key is right but authentication failed: the text was altered, or the label differs
    /// from the one it was encrypted with.
    #[error(
        "the encrypted text was altered or was encrypted under another label; \
         decrypt it with the label it was encrypted with, or encrypt the secret again"
    )]
    TamperedOrWrongLabel,

    /// A passphrase envelope was opened with a different passphrase.
    #[error("wrong passphrase: the text was encrypted with a different passphrase")]
    WrongPassphrase,

    /// A key-file envelope was opened with a key file of other contents.
    #[error(
        "the text was encrypted with another key file than {}; open it with the key file \
         it was encrypted with",
        path.display()
    )]
    WrongKeyFile {
        /// The key file that did not open it.
        path: PathBuf,
    },

    /// A shared store's data key did not open the envelope: it was sealed with another
    /// store's data key, or altered.
    #[error(
        "the text was encrypted with another shared store's data key, or altered after it was encrypted"
    )]
    WrongDataKey,

    /// A data key is not [`DATA_KEY_LEN`](crate::DATA_KEY_LEN) bytes of unpadded base64url.
    #[error("the shared store's data key is malformed (not 32 bytes of unpadded base64url)")]
    MalformedDataKey,

    /// The envelope was sealed in one mode (device, passphrase or key file) and opened with
    /// another.
    #[error("the text was encrypted with {sealed}; open it with {sealed}, not with {opened}")]
    WrongMode {
        /// The mode recorded in the envelope.
        sealed: Mode,
        /// The mode of the key used to open it.
        opened: Mode,
    },

    /// The text is not a well-formed envelope.
    #[error("not a valid device-key envelope: {what}")]
    Malformed {
        /// What is wrong: prefix, version, length, encoding or a header field.
        what: &'static str,
    },

    /// The envelope uses a format version this build does not know.
    #[error(
        "the text uses envelope format `{prefix}`, which this version of devicekey cannot read; \
         upgrade devicekey"
    )]
    UnsupportedVersion {
        /// The version prefix found, such as `dk2:`.
        prefix: String,
    },

    /// The envelope asks for more key-derivation work than the fixed ceiling; refused before
    /// running the KDF so that a crafted envelope cannot cost minutes or gigabytes.
    #[error(
        "the envelope asks for key derivation with {required}, above the limit of {limit}; \
         refusing to run it (the text was crafted or comes from an incompatible tool)"
    )]
    ExcessiveWork {
        /// The parameters the envelope asks for.
        required: KdfParams,
        /// The ceiling this build accepts.
        limit: KdfParams,
    },

    /// Key-derivation parameters given through the API are unusable.
    #[error("unusable key-derivation parameters ({params}): {reason}")]
    InvalidKdfParams {
        /// The parameters given.
        params: KdfParams,
        /// Why Argon2id refuses them.
        reason: String,
    },

    /// The plaintext is too large for one envelope.
    #[error("the plaintext has {len} bytes, more than the {limit} bytes one envelope can hold")]
    TooLarge {
        /// Length of the plaintext in bytes.
        len: usize,
        /// The largest plaintext accepted.
        limit: usize,
    },

    /// No machine-id could be read, so the key cannot be bound to this machine.
    #[error(
        "no machine-id found (tried {}); {MACHINE_ID_ADVICE}, \
         or use a key file instead (`DeviceKey::from_key_file`), a secret file the container \
         platform mounts",
        join_paths(tried)
    )]
    NoFingerprint {
        /// The files that were tried.
        tried: Vec<PathBuf>,
    },

    /// A passphrase key was requested with an empty passphrase.
    #[error("the passphrase is empty; choose a non-empty passphrase")]
    EmptyPassphrase,

    /// Neither `DEVICEKEY_SECRET_DIR` nor the user's data folder is known.
    #[error(
        "cannot tell where to keep the host secret: the user's data folder is unknown; \
         set DEVICEKEY_SECRET_DIR to a folder"
    )]
    NoSecretDir,

    /// The host secret file does not exist and the caller only reads
    /// ([`DeviceKey::load`](crate::DeviceKey::load) never creates one).
    #[error(
        "the host secret {} does not exist; this machine has sealed nothing yet, or {} \
         points elsewhere (set it to the folder that holds {})",
        path.display(),
        crate::SECRET_DIR_ENV,
        crate::SECRET_FILE_NAME
    )]
    HostSecretMissing {
        /// The host secret file that was looked for.
        path: PathBuf,
    },

    /// Reading, creating or syncing the host secret file (or its folder) failed.
    #[error("could not {action} the host secret at {}: {source}", path.display())]
    HostSecretIo {
        /// What was being done: "read", "create", "create the folder of", ...
        action: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// The host secret file exists but does not hold exactly 32 bytes.
    #[error(
        "the host secret at {} holds {len} bytes instead of 32; restore it from a backup \
         (do not delete it: whatever it encrypted would become unreadable)",
        path.display()
    )]
    HostSecretSize {
        /// The host secret file.
        path: PathBuf,
        /// Its size in bytes.
        len: u64,
    },

    /// The host secret file can be read or written by other users.
    #[error(
        "the host secret at {} is accessible to other users (mode {mode:03o}); \
         run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    HostSecretPermissions {
        /// The host secret file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The key file does not exist.
    #[error(
        "the key file {} does not exist; give the path of the secret file the platform mounts",
        path.display()
    )]
    KeyFileMissing {
        /// The key file that was looked for.
        path: PathBuf,
    },

    /// The key file exists but cannot be read (or is not a regular file).
    #[error("could not read the key file {}: {source}", path.display())]
    KeyFileIo {
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// The key file is empty or holds only white space.
    #[error(
        "the key file {} is empty or holds only white space; write a random key into it, \
         for example with `head -c 32 /dev/urandom | base64 > {}`",
        path.display(),
        path.display()
    )]
    KeyFileBlank {
        /// The key file.
        path: PathBuf,
    },

    /// The key file is too short to hold a random key.
    #[error(
        "the key file {} holds {len} bytes, fewer than the {} a key needs; write a random key \
         into it, for example with `head -c 32 /dev/urandom | base64 > {}`",
        path.display(),
        crate::KEY_FILE_MIN_LEN,
        path.display()
    )]
    KeyFileTooShort {
        /// The key file.
        path: PathBuf,
        /// Its size in bytes.
        len: u64,
    },

    /// The key file is far larger than a key.
    #[error(
        "the key file {} holds {len} bytes, more than the {} a key file may hold; \
         is it the right file?",
        path.display(),
        crate::KEY_FILE_MAX_LEN
    )]
    KeyFileTooLong {
        /// The key file.
        path: PathBuf,
        /// Its size in bytes.
        len: u64,
    },

    /// The key file can be read by other users (or written by its group).
    #[error(
        "the key file {} is accessible to other users (mode {mode:03o}); run `chmod 600 {}` \
         (a secret the platform mounts: give it mode 0400, or 0440 when root owns it)",
        path.display(),
        path.display()
    )]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// A secret file (the host secret or a key file) can be read by accounts other than its
    /// owner, SYSTEM and the Administrators (Windows: its access list says so).
    #[error(
        "the {what} {} can be read by other accounts ({}); run `icacls \"{}\" /inheritance:r \
         /grant:r \"%USERNAME%\":F` so that only you can",
        path.display(),
        readers.join(", "),
        path.display()
    )]
    ReadableByOthers {
        /// "host secret" or "key file".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The other accounts (SIDs, with the names of well-known groups).
        readers: Vec<String>,
    },

    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(getrandom::Error),
}

/// One difference between the device that encrypted an envelope and this one.
///
/// Told apart with short keyed tags stored in the envelope (see the crate docs), never with
/// the identifiers' values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Change {
    /// The host secret differs (another machine or user, or a recreated secret file). The
    /// hardware identifiers cannot be compared then.
    HostSecret,
    /// The identifier was read then and now, but its value differs.
    SourceChanged(Source),
    /// The identifier was used then but cannot be read now.
    SourceMissing(Source),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::HostSecret => f.write_str("the host secret differs"),
            Change::SourceChanged(source) => write!(f, "the {source} differs"),
            Change::SourceMissing(source) => write!(f, "the {source} cannot be read here"),
        }
    }
}

fn describe(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "the host secret and identifiers look unchanged, so the envelope's header \
                was probably altered"
            .to_owned();
    }
    let parts: Vec<String> = changes.iter().map(Change::to_string).collect();
    parts.join(", ")
}

fn join_paths(paths: &[PathBuf]) -> String {
    let parts: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    parts.join(" and ")
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
