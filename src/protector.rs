//! The device key plugged into the core's [`Protector`] trait.
//!
//! The key is loaded on first use, so commands that never touch a sealed string never read
//! the host secret. Only sealing (a write) may create the host secret: opening loads it
//! read-only, so a read-only command (`preauth check`, `preauth token`) run with the wrong or
//! no `DEVICEKEY_SECRET_DIR` reports the missing secret instead of creating a new one that
//! opens nothing.

use std::sync::OnceLock;

use devicekey::{DeviceKey, Error as KeyError};
use preauth_core::protector::{ProtectError, ProtectErrorKind, Protector};
use zeroize::Zeroizing;

/// Seals connection strings with this machine's device key.
#[derive(Default)]
pub struct DeviceProtector {
    /// The key once loaded (or created); failures are not kept, so that a seal after a
    /// failed open may still create the host secret.
    key: OnceLock<DeviceKey>,
}

impl DeviceProtector {
    /// The key for opening: never creates the host secret.
    fn key_for_reading(&self) -> Result<&DeviceKey, ProtectError> {
        self.key_with(DeviceKey::load)
    }

    /// The key for sealing: creates the host secret on first use.
    fn key_for_writing(&self) -> Result<&DeviceKey, ProtectError> {
        self.key_with(DeviceKey::load_or_create)
    }

    fn key_with(
        &self,
        load: fn() -> devicekey::Result<DeviceKey>,
    ) -> Result<&DeviceKey, ProtectError> {
        if let Some(key) = self.key.get() {
            return Ok(key);
        }
        let key = load().map_err(|e| ProtectError {
            kind: ProtectErrorKind::Key,
            message: format!("the device key is unavailable: {e}"),
        })?;
        // Another thread may have loaded it meanwhile: the same host secret, keep the first.
        Ok(self.key.get_or_init(|| key))
    }
}

/// Maps a device-key error onto the core's kinds; the message is devicekey's sentence.
fn protect_error(error: KeyError) -> ProtectError {
    let kind = match error {
        KeyError::AnotherDevice { .. } | KeyError::WrongMode { .. } => {
            ProtectErrorKind::AnotherDevice
        }
        KeyError::TamperedOrWrongLabel | KeyError::WrongPassphrase => {
            ProtectErrorKind::TamperedOrWrongLabel
        }
        KeyError::Malformed { .. }
        | KeyError::UnsupportedVersion { .. }
        | KeyError::ExcessiveWork { .. }
        | KeyError::TooLarge { .. } => ProtectErrorKind::Malformed,
        _ => ProtectErrorKind::Key,
    };
    ProtectError {
        kind,
        message: error.to_string(),
    }
}

impl Protector for DeviceProtector {
    fn seal(&self, plaintext: &str, label: &str) -> Result<String, ProtectError> {
        self.key_for_writing()?
            .encrypt(plaintext, label)
            .map_err(protect_error)
    }

    fn open(&self, sealed: &str, label: &str) -> Result<Zeroizing<String>, ProtectError> {
        self.key_for_reading()?
            .decrypt(sealed, label)
            .map_err(protect_error)
    }

    fn is_sealed(&self, text: &str) -> bool {
        devicekey::is_envelope(text)
    }
}
