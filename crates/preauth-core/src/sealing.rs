//! Sealing connections at rest, the same for every store.
//!
//! A store keeps a connection as two texts: the settings-file `provider` of its
//! platform and its connection string, sealed under the connection's name (so text
//! sealed for `a` never opens as `b`) when the store has a [`Protector`]. A pending
//! authorization is kept the same way under [`PENDING_LABEL`]. The settings folder and
//! the PostgreSQL store differ only in where they put the texts and how they name
//! that place in errors ([`SealError::at`]).

use std::sync::Arc;
use std::time::SystemTime;

use zeroize::Zeroizing;

use crate::connection::Connection;
use crate::connstr::ConnectionString;
use crate::platform::Registry;
use crate::protector::{CONNECTION_STRING_LABEL, ProtectError, ProtectErrorKind, Protector};
use crate::secret::{PkceVerifier, StateToken};
use crate::settings::keys::{self, KeyError, PREAUTH_NONCE, PREAUTH_PKCE_VERIFIER, PREAUTH_STATE};
use crate::store::{PendingAuthorization, StoreError};

/// The label pending authorizations are sealed under.
pub const PENDING_LABEL: &str = "pending-authorization";

/// Why a stored connection cannot be sealed or opened; [`SealError::at`] makes it a
/// [`StoreError`] naming where it is kept.
#[derive(Debug)]
pub enum SealError {
    /// The protector refused (another device, altered text, no key).
    Protect(ProtectError),
    /// The connection string is not a usable connection.
    Invalid(KeyError),
}

impl From<KeyError> for SealError {
    fn from(e: KeyError) -> Self {
        SealError::Invalid(e)
    }
}

impl From<ProtectError> for SealError {
    fn from(e: ProtectError) -> Self {
        SealError::Protect(e)
    }
}

impl SealError {
    /// The store error for connection `name` kept at `place` (a file, or a table of a
    /// database).
    pub fn at(self, place: impl Into<std::path::PathBuf>, name: &str) -> StoreError {
        let path = place.into();
        let name = name.to_string();
        match self {
            SealError::Protect(source) => StoreError::Protect { path, name, source },
            SealError::Invalid(e) => StoreError::InvalidConnection {
                path,
                name,
                message: e.to_string(),
            },
        }
    }
}

/// A connection as a store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedConnection {
    /// The settings-file provider of its platform (`ExactOnlineAll`).
    pub provider: String,
    /// The connection string, sealed when the store seals.
    pub text: String,
}

/// Seals and opens connections with a store's protector (or keeps them plain without
/// one). Cheap to clone.
#[derive(Clone, Default)]
pub struct Sealer {
    protector: Option<Arc<dyn Protector>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("sealed", &self.protector.is_some())
            .finish()
    }
}

impl Sealer {
    /// Seals with `protector`; without one, texts are kept plain.
    pub fn new(protector: Option<Arc<dyn Protector>>) -> Self {
        Sealer { protector }
    }

    /// Whether texts are sealed.
    pub fn seals(&self) -> bool {
        self.protector.is_some()
    }

    /// Whether a stored text is sealed rather than plain (recognized without a
    /// protector too).
    pub fn is_sealed(&self, stored: &str) -> bool {
        looks_sealed(stored) || self.protector.as_ref().is_some_and(|p| p.is_sealed(stored))
    }

    /// Seals `text` under `label`; without a protector returns it as is.
    pub fn seal(&self, label: &str, text: &str) -> Result<String, ProtectError> {
        match &self.protector {
            None => Ok(text.to_string()),
            Some(p) => p.seal(text, label),
        }
    }

    /// Seals `text` under `label`; fails without a protector.
    pub fn seal_required(&self, label: &str, text: &str) -> Result<String, ProtectError> {
        if self.protector.is_none() {
            return Err(ProtectError {
                kind: ProtectErrorKind::Key,
                message: "sealing needs the device key, which is not in use in this run; export plain instead".into(),
            });
        }
        self.seal(label, text)
    }

    /// Opens a stored text sealed under `label`, or returns a plain one as is. The
    /// error says how to move the connection here or start anew.
    pub fn open(
        &self,
        label: &str,
        stored: Option<&str>,
    ) -> Result<Zeroizing<String>, ProtectError> {
        let stored = stored.unwrap_or_default();
        if !self.is_sealed(stored) {
            return Ok(Zeroizing::new(stored.to_string()));
        }
        // What to do (move the connection here, or start anew) is the store error's
        // advice: `StoreError::advice`.
        match &self.protector {
            // Sealed with a key this run does not have: as if sealed elsewhere.
            None => Err(ProtectError {
                kind: ProtectErrorKind::AnotherDevice,
                message: "the connection string is sealed but no device key is in use here"
                    .to_string(),
            }),
            Some(p) => match p.open(stored, label) {
                Ok(text) => Ok(text),
                Err(e) => Err(e),
            },
        }
    }

    /// Opens the stored connection string of connection `name`: plain, sealed under
    /// the name (what stores write), or sealed under [`CONNECTION_STRING_LABEL`] (what
    /// `encrypt connection` prints, pasted into a hand-written file; the next save seals
    /// it under the name). When neither opens it, the error is the one for the name.
    pub fn open_connection_string(
        &self,
        name: &str,
        stored: Option<&str>,
    ) -> Result<Zeroizing<String>, ProtectError> {
        match self.open(name, stored) {
            Err(e) if e.kind == ProtectErrorKind::TamperedOrWrongLabel => {
                let pasted = match (&self.protector, stored) {
                    (Some(p), Some(text)) => p.open(text, CONNECTION_STRING_LABEL).ok(),
                    _ => None,
                };
                pasted.ok_or(e)
            }
            other => other,
        }
    }

    /// `connection` as a store keeps it: its platform's provider and its connection
    /// string sealed under its name.
    pub fn seal_connection(
        &self,
        connection: &Connection,
        registry: &Registry,
    ) -> Result<SealedConnection, SealError> {
        let platform = platform_of(connection, registry)?;
        let cs = keys::to_connection_string(connection, None)?;
        Ok(SealedConnection {
            provider: platform.provider.clone(),
            text: self.seal(&connection.name, &cs.to_text())?,
        })
    }

    /// The connection `name` kept as `provider` and `stored` text.
    pub fn open_connection(
        &self,
        name: &str,
        provider: &str,
        stored: &str,
        registry: &Registry,
    ) -> Result<Connection, SealError> {
        let text = self.open_connection_string(name, Some(stored))?;
        let cs = ConnectionString::parse(&text).map_err(KeyError::from)?;
        Ok(keys::to_connection(name, provider, &cs, registry)?)
    }

    /// A pending authorization as a store keeps it: the connection's keys plus
    /// `preauth-state`, `preauth-pkce-verifier` and `preauth-nonce`, sealed under
    /// [`PENDING_LABEL`].
    pub fn seal_pending(
        &self,
        pending: &PendingAuthorization,
        registry: &Registry,
    ) -> Result<SealedConnection, SealError> {
        let connection = &pending.connection;
        let platform = platform_of(connection, registry)?;
        let mut cs = keys::to_connection_string(connection, None)?;
        cs.push(PREAUTH_STATE, pending.state.secret())
            .map_err(KeyError::from)?;
        if let Some(verifier) = &pending.pkce_verifier {
            cs.push(PREAUTH_PKCE_VERIFIER, verifier.secret())
                .map_err(KeyError::from)?;
        }
        if let Some(nonce) = &pending.nonce {
            cs.push(PREAUTH_NONCE, nonce).map_err(KeyError::from)?;
        }
        Ok(SealedConnection {
            provider: platform.provider.clone(),
            text: self.seal(PENDING_LABEL, &cs.to_text())?,
        })
    }

    /// The pending authorization for connection `name` kept as `provider` and `stored`
    /// text, expiring at `expires_at`.
    pub fn open_pending(
        &self,
        name: &str,
        provider: &str,
        stored: &str,
        expires_at: SystemTime,
        registry: &Registry,
    ) -> Result<PendingAuthorization, SealError> {
        let text = self.open(PENDING_LABEL, Some(stored))?;
        let cs = ConnectionString::parse(&text).map_err(KeyError::from)?;
        let connection = keys::to_connection(name, provider, &cs, registry)?;
        let state = cs.get(PREAUTH_STATE).ok_or_else(|| KeyError::Missing {
            key: PREAUTH_STATE,
            platform: "a pending authorization".into(),
        })?;
        Ok(PendingAuthorization {
            state: StateToken::new(state),
            connection,
            pkce_verifier: cs.get(PREAUTH_PKCE_VERIFIER).map(PkceVerifier::new),
            nonce: cs.get(PREAUTH_NONCE).map(str::to_string),
            expires_at,
        })
    }
}

/// The platform `connection` names.
fn platform_of(
    connection: &Connection,
    registry: &Registry,
) -> Result<Arc<crate::platform::Platform>, KeyError> {
    registry
        .get(&connection.platform)
        .ok_or_else(|| KeyError::UnknownPlatform {
            id: connection.platform.clone(),
        })
}

/// Whether `text` has the shape of a sealed token (`scheme:payload`, one word) rather
/// than a connection string, so that a sealed string is recognized without a protector.
fn looks_sealed(text: &str) -> bool {
    let Some((scheme, payload)) = text.split_once(':') else {
        return false;
    };
    (1..=16).contains(&scheme.len())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric())
        && !payload.is_empty()
        && !payload.contains(';')
        && !payload.chars().any(char::is_whitespace)
}
