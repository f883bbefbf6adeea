//! The protector plugin: how connection strings are sealed at rest.
//!
//! The core knows nothing of keys or ciphers. A [`Protector`] seals a string under a
//! label and opens it again; the binary plugs in the device key.
//!
//! # Labels
//!
//! - A settings file seals each `connectionString` under the connection's own name, so
//!   text sealed for connection `a` never opens as connection `b`.
//! - `encrypt connection` (Invantive's "Encrypt Statement" workflow) seals under the
//!   fixed [`CONNECTION_STRING_LABEL`]: it does not know which connection the value will
//!   be pasted into. The settings folder opens a stored value under the connection's name
//!   first and falls back to that fixed label, then seals it under the name at its next
//!   save, which binds it to that connection from then on.
//! - Other secrets made by scripts (`encrypt value`) use the script crate's own label.

use zeroize::Zeroizing;

/// The label `encrypt connection` seals under: a connection string meant to be pasted as
/// the `connectionString` of a hand-written settings file on this machine. The settings
/// folder accepts it for any connection until its next save binds it to that name.
pub const CONNECTION_STRING_LABEL: &str = "preauth connection string";

/// Why a sealed string could not be opened (or a string not sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtectErrorKind {
    /// Sealed on another machine or by another user: the key does not match.
    AnotherDevice,
    /// Authentication failed: the text was altered, or sealed under another label.
    TamperedOrWrongLabel,
    /// The text is not a sealed string this protector understands.
    Malformed,
    /// The key material could not be read or created.
    Key,
}

/// An error from a [`Protector`]. The message never contains the secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ProtectError {
    /// The cause, for callers that react to it.
    pub kind: ProtectErrorKind,
    /// A sentence for the user, naming what changed where the protector knows it.
    pub message: String,
}

/// Seals and opens secrets under a label. Implementations must be deterministic in
/// what they accept: `open(seal(x, l), l) == x`.
pub trait Protector: Send + Sync {
    /// Seals `plaintext` under `label`, returning one printable token (fits an XML attribute).
    fn seal(&self, plaintext: &str, label: &str) -> Result<String, ProtectError>;

    /// Opens a token made by [`Protector::seal`] with the same label.
    fn open(&self, sealed: &str, label: &str) -> Result<Zeroizing<String>, ProtectError>;

    /// Whether `text` looks like this protector's sealed output (rather than a plain
    /// connection string). Used to decide whether a stored value must be opened.
    fn is_sealed(&self, text: &str) -> bool;
}
