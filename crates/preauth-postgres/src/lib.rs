//! A PostgreSQL store for preauth: connections shared by several machines.
//!
//! - [`PgStore`] implements [`preauth_core::store::Store`]: a refresh locks the
//!   connection's row (`SELECT … FOR UPDATE` with `lock_timeout`), re-reads it,
//!   refreshes only if still needed, writes and commits synchronously before the access
//!   token is handed out. A process killed while holding the lock releases it with its
//!   session. Pending logins live in the database, so a login started on one machine
//!   can be finished on another.
//! - It also implements [`preauth_core::store::Fleet`]: connection strings are sealed
//!   with one data key, which each machine holds in a key slot of its own
//!   ([`MachineKey`]: its device key, or a key file shared by containers). New machines
//!   join with a one-time enrollment code.
//! - preauth creates and migrates its own tables (`migrations/`), under an advisory
//!   lock.
//! - Every database step is bounded: connecting (with the startup and TLS handshakes)
//!   and each answer to a query wait at most the store URL's `connect_timeout`
//!   ([`DEFAULT_STEP`] unless set, see [`with_step_bound`]), a lock wait at most the
//!   lock wait on top; a server that does not answer is [`StoreError::Unavailable`],
//!   and TCP keepalives find a peer that went away.
//!
//! [`StoreError::Unavailable`]: preauth_core::store::StoreError::Unavailable
#![deny(missing_docs)]

mod db;
mod documents;
mod errors;
mod keys;
mod lease;
mod locked;
mod outline;
mod replay;
mod schema;
mod store;
mod summary;
#[cfg(test)]
mod testing;

pub use db::{DEFAULT_STEP, location_of, with_step_bound};
pub use keys::{MachineKey, SlotKind};
pub use store::{Access, PgStore};
