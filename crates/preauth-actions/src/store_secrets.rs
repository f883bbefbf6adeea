//! The protector of webhook secrets: the store's own when it has one (a shared store's
//! data key, which every enrolled machine opens), else this machine's device key. Asked
//! of the store on each use, so that a command that never touches a secret never unlocks
//! the store's key.

use std::sync::Arc;

use preauth_core::protector::{ProtectError, ProtectErrorKind, Protector};
use preauth_core::store::Store;
use zeroize::Zeroizing;

/// Seals with the store's secrets protector, or with `fallback` when the store has none.
pub(crate) struct StoreSecrets {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) fallback: Arc<dyn Protector>,
}

impl StoreSecrets {
    fn protector(&self) -> Result<Arc<dyn Protector>, ProtectError> {
        match self.store.secrets_protector() {
            Ok(Some(shared)) => Ok(shared),
            Ok(None) => Ok(Arc::clone(&self.fallback)),
            Err(e) => Err(ProtectError {
                kind: ProtectErrorKind::Key,
                message: e.to_string(),
            }),
        }
    }
}

impl Protector for StoreSecrets {
    fn seal(&self, plaintext: &str, label: &str) -> Result<String, ProtectError> {
        self.protector()?.seal(plaintext, label)
    }

    fn open(&self, sealed: &str, label: &str) -> Result<Zeroizing<String>, ProtectError> {
        self.protector()?.open(sealed, label)
    }

    fn is_sealed(&self, text: &str) -> bool {
        self.protector().is_ok_and(|p| p.is_sealed(text))
    }
}
