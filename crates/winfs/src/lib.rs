//! Windows file primitives that stand in for Unix modes, `rename` and `fsync`:
//!
//! - [`restrict`]: an owner-only DACL (the Windows form of mode 0600 / 0700), protected from
//!   the parent folder's inheritable entries;
//! - [`readers_besides_owner`]: who else may read an open file (the check that refuses a
//!   secret file others can read, as mode checks do on Unix);
//! - [`replace`]: `FlushFileBuffers` has been done by the caller (`File::sync_all`); this is
//!   `MoveFileExW` with replace-existing and write-through, so the rename is on disk when it
//!   returns;
//! - [`same_file`]: whether two open handles are the same file (volume serial + file index,
//!   the inode of Windows);
//! - [`process_alive`]: whether a process id is a running process.
//!
//! On other systems the crate is empty.

#[cfg(windows)]
mod acl;
#[cfg(windows)]
mod files;

#[cfg(windows)]
pub use acl::{grant_read_to_everyone, readers_besides_owner, restrict};
#[cfg(windows)]
pub use files::{process_alive, replace, same_file};
