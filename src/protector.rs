//! The device key, or a key file, plugged into the core's [`Protector`] trait.
//!
//! The key is loaded on first use, so commands that never touch a sealed string never read
//! the host secret or the key file. Only sealing (a write) may create the host secret: opening
//! loads it read-only, so a read-only command (`preauth check`, `preauth token`) run with the
//! wrong or no `DEVICEKEY_SECRET_DIR` reports the missing secret instead of creating a new one
//! that opens nothing. A key file (`--key-file`, `PREAUTH_KEY_FILE`) is never created: it is a
//! secret the platform mounts, the same for every container or service given it.
//!
//! The device key shares what it derives with this user's next processes through the kernel's
//! user keyring for a while (`--key-cache`, `PREAUTH_KEY_CACHE`; see
//! [`DeviceKey::with_session_cache`]), so that a job asking for a token before every API call
//! does not pay the Argon2id derivation each time.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use devicekey::{DeviceKey, Envelope, Error as KeyError, Mode};
use preauth_core::protector::{ProtectError, ProtectErrorKind, Protector};
use zeroize::Zeroizing;

/// Where the key that seals connection strings comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum KeySource {
    /// This machine's device key: the host secret and the hardware identifiers.
    #[default]
    Device,
    /// A key file the platform mounts (`--key-file`, `PREAUTH_KEY_FILE`).
    KeyFile(KeyFile),
}

/// A key file named on the command line, resolved to the file to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFile {
    /// The file to read.
    pub path: PathBuf,
    /// The bare name given, when it was looked up in `$CREDENTIALS_DIRECTORY` (a systemd
    /// credential): errors then speak of the credential.
    pub credential: Option<String>,
}

/// Seals connection strings with this machine's device key or with a key file.
#[derive(Default)]
pub struct DeviceProtector {
    source: KeySource,
    /// How long derived device keys stay in the user keyring (zero: not at all).
    key_cache: Duration,
    /// The key once loaded (or created); failures are not kept, so that a seal after a
    /// failed open may still create the host secret.
    key: OnceLock<DeviceKey>,
}

impl DeviceProtector {
    /// A protector whose key comes from `source`, loaded on first use; a device key shares
    /// its derived keys with this user's next processes for `key_cache` (zero: off).
    pub fn new(source: KeySource, key_cache: Duration) -> DeviceProtector {
        DeviceProtector {
            source,
            key_cache,
            key: OnceLock::new(),
        }
    }

    /// The key for opening: never creates the host secret.
    fn key_for_reading(&self) -> Result<&DeviceKey, ProtectError> {
        self.key_with(DeviceKey::load)
    }

    /// The key for sealing: creates the host secret on first use.
    fn key_for_writing(&self) -> Result<&DeviceKey, ProtectError> {
        self.key_with(DeviceKey::load_or_create)
    }

    /// The key, loaded with `load_device` (or from the key file) on first use.
    fn key_with(
        &self,
        load_device: fn() -> devicekey::Result<DeviceKey>,
    ) -> Result<&DeviceKey, ProtectError> {
        if let Some(key) = self.key.get() {
            return Ok(key);
        }
        let key = match &self.source {
            KeySource::Device => load_device()
                .map_err(device_key_error)?
                .with_session_cache(self.key_cache),
            KeySource::KeyFile(file) => {
                DeviceKey::from_key_file(&file.path).map_err(|e| key_file_error(file, e))?
            }
        };
        // Another thread may have loaded it meanwhile: the same key, keep the first.
        Ok(self.key.get_or_init(|| key))
    }

    /// The kind of key this protector seals with.
    fn mode(&self) -> Mode {
        match self.source {
            KeySource::Device => Mode::Device,
            KeySource::KeyFile(_) => Mode::KeyFile,
        }
    }

    /// The key file in use, if any.
    fn key_file(&self) -> Option<&Path> {
        match &self.source {
            KeySource::Device => None,
            KeySource::KeyFile(file) => Some(&file.path),
        }
    }

    /// Maps a device-key error onto the core's kinds, with the command line's advice where
    /// the fix is an option of preauth rather than of the library.
    fn protect_error(&self, error: KeyError) -> ProtectError {
        let (kind, message) = match error {
            // Sealed by a key file, and none is in use (or the device key opened it).
            KeyError::WrongMode {
                sealed: Mode::KeyFile,
                ..
            } => (
                ProtectErrorKind::Key,
                format!(
                    "the text was sealed with a key file; {KEY_FILE_ADVICE} it was sealed with"
                ),
            ),
            // Sealed by a machine's device key, opened with a key file.
            KeyError::WrongMode {
                sealed: Mode::Device,
                opened: Mode::KeyFile,
            } => (
                ProtectErrorKind::AnotherDevice,
                format!(
                    "the text was sealed with a machine's device key, not with the key file {}; \
                     it opens on that machine, without --key-file and PREAUTH_KEY_FILE",
                    self.key_file().unwrap_or(Path::new("")).display()
                ),
            ),
            // Its own sentence names the key file: a new login would not help.
            KeyError::WrongKeyFile { .. } => (ProtectErrorKind::Key, error.to_string()),
            KeyError::AnotherDevice { .. } | KeyError::WrongMode { .. } => {
                (ProtectErrorKind::AnotherDevice, error.to_string())
            }
            KeyError::TamperedOrWrongLabel | KeyError::WrongPassphrase => {
                (ProtectErrorKind::TamperedOrWrongLabel, error.to_string())
            }
            KeyError::Malformed { .. }
            | KeyError::UnsupportedVersion { .. }
            | KeyError::ExcessiveWork { .. }
            | KeyError::TooLarge { .. } => (ProtectErrorKind::Malformed, error.to_string()),
            _ => (ProtectErrorKind::Key, error.to_string()),
        };
        ProtectError { kind, message }
    }
}

/// How to name a key file on the command line.
const KEY_FILE_ADVICE: &str =
    "run with --key-file FILE (or set PREAUTH_KEY_FILE) naming the secret file";

/// Why the device key could not be loaded. Without a machine-id (a container) the way out is
/// a key file, which the library cannot name as a command-line option.
fn device_key_error(error: KeyError) -> ProtectError {
    let message = match error {
        KeyError::NoFingerprint { tried } => {
            let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
            format!(
                "the device key is unavailable: no machine-id found (tried {}); create one with \
                 `systemd-machine-id-setup`, or {KEY_FILE_ADVICE} the container platform mounts",
                tried.join(" and ")
            )
        }
        other => format!("the device key is unavailable: {other}"),
    };
    ProtectError {
        kind: ProtectErrorKind::Key,
        message,
    }
}

/// Why the key file could not be used: devicekey's sentence, or, for a missing file, where it
/// was looked for and how to give it.
fn key_file_error(file: &KeyFile, error: KeyError) -> ProtectError {
    let message = match (&error, &file.credential) {
        (KeyError::KeyFileMissing { path }, Some(name)) => format!(
            "the key file {name:?} is not among the credentials in $CREDENTIALS_DIRECTORY \
             ({}); pass it with `LoadCredential={name}:/path/of/the/key` in the service's unit, \
             or give --key-file a path",
            path.parent().unwrap_or(Path::new("")).display()
        ),
        (KeyError::KeyFileMissing { path }, None) => format!(
            "the key file {} does not exist; give --key-file (or PREAUTH_KEY_FILE) the path of \
             the secret file the platform mounts",
            path.display()
        ),
        _ => error.to_string(),
    };
    ProtectError {
        kind: ProtectErrorKind::Key,
        message,
    }
}

impl Protector for DeviceProtector {
    fn seal(&self, plaintext: &str, label: &str) -> Result<String, ProtectError> {
        self.key_for_writing()?
            .encrypt(plaintext, label)
            .map_err(|e| self.protect_error(e))
    }

    fn open(&self, sealed: &str, label: &str) -> Result<Zeroizing<String>, ProtectError> {
        // The envelope says which kind of key sealed it: text sealed with a key file, opened
        // where none is given, is told so before any key is looked for (a machine without a
        // host secret or machine-id would otherwise report those instead).
        if let Ok(envelope) = Envelope::parse(sealed)
            && envelope.mode() != self.mode()
        {
            return Err(self.protect_error(KeyError::WrongMode {
                sealed: envelope.mode(),
                opened: self.mode(),
            }));
        }
        self.key_for_reading()?
            .decrypt(sealed, label)
            .map_err(|e| self.protect_error(e))
    }

    fn is_sealed(&self, text: &str) -> bool {
        devicekey::is_envelope(text)
    }
}
