//! The token lifecycle: the one place tokens are obtained, refreshed and persisted.
//!
//! Invariants (the reason this module exists):
//! - **Persist before use.** A token response is saved durably through
//!   [`LockedConnection::save`](crate::store::LockedConnection::save) before its access
//!   token is returned to anyone or used for any call.
//! - **Lock, re-read, refresh, persist, unlock.** [`Lifecycle::ensure_access_token`]
//!   holds the connection's cross-process lock from re-reading the stored tokens until
//!   the new ones are saved, so two processes never spend the same refresh token. Within
//!   one process an async lock per connection comes first, so tasks queue without
//!   blocking the runtime's threads on the store's lock.
//! - **A lost answer is never retried blindly.** When a refresh was sent and its answer
//!   lost (timeout, dropped connection, 5xx), the old refresh token may be spent: the
//!   lifecycle re-reads the store, does not send the token again, and says so.

mod events;
mod failure;
mod handle;
mod keepalive;
mod login;
mod outcome;
mod refresh;
mod register;
mod spending;
mod status;

pub use failure::{FailureClass, FailureKind, REFRESH_FAILED_KEY, RefreshFailure, Retry};
pub use handle::{AccessGrant, Lifecycle};

pub use outcome::{KeepAliveEvent, KeepAliveOutcome, KeepAliveReport};
pub use register::{Proof, RegisterRequest, Registration};
pub use status::{
    ConnectionStatus, TokenState, connection_status, needs_refresh, refresh_token_expiry,
};

pub use crate::connection::CLUSTER_URL_KEY;
