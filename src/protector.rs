//! The device key plugged into the core's [`Protector`] trait.
//!
//! The key is loaded on first use, so commands that never touch a sealed string never
//! create a host secret.

use std::sync::OnceLock;

use devicekey::{DeviceKey, Error as KeyError};
use preauth_core::protector::{ProtectError, ProtectErrorKind, Protector};
use zeroize::Zeroizing;

/// Seals connection strings with this machine's device key.
#[derive(Default)]
pub struct DeviceProtector {
    key: OnceLock<Result<DeviceKey, String>>,
}

impl DeviceProtector {
    fn key(&self) -> Result<&DeviceKey, ProtectError> {
        self.key
            .get_or_init(|| DeviceKey::load_or_create().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|message| ProtectError {
                kind: ProtectErrorKind::Key,
                message: format!("the device key is unavailable: {message}"),
            })
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
        self.key()?.encrypt(plaintext, label).map_err(protect_error)
    }

    fn open(&self, sealed: &str, label: &str) -> Result<Zeroizing<String>, ProtectError> {
        self.key()?.decrypt(sealed, label).map_err(protect_error)
    }

    fn is_sealed(&self, text: &str) -> bool {
        devicekey::is_envelope(text)
    }
}
