//! The core of preauth: platforms, OAuth2 flows, the token lifecycle, connection
//! strings and the settings store.
//!
//! The lifecycle's one rule: **persist before use; lock, re-read, refresh, persist,
//! unlock.** A token response is written durably before its access token is returned
//! to anyone, and two processes never spend the same refresh token.
//!
//! Boundaries:
//! - [`store::Store`] is where connections live; [`settings`] is the embedded
//!   implementation (a folder of Invantive-style `settings-<NAME>.xml` files).
//! - [`protector::Protector`] seals connection strings at rest; the binary plugs in
//!   the device key. The core knows no cipher.
//! - [`clock::Clock`] is injected, so tests reach expiries without waiting.
#![deny(missing_docs)]

pub mod advice;
pub mod api_keys;
pub mod budget;
pub mod clock;
pub mod connection;
pub mod connstr;
pub mod documents;
pub mod error;
pub mod flow;
pub mod lifecycle;
pub mod loopback;
pub mod monitor;
pub mod network;
pub mod notify;
pub mod platform;
mod printable;
pub mod protector;
pub mod sealing;
pub mod secret;
pub mod settings;
pub mod spool;
pub mod store;
pub mod token_client;
