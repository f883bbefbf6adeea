//! The embedded [`Store`](crate::store::Store): a folder of Invantive-style settings
//! files.
//!
//! ```xml
//! <?xml version="1.0" encoding="utf-8"?>
//! <settings version="5" forcedefault="false">
//!   <group name="Exact Online">
//!     <connection name="acme-nl">
//!       <database order="10" provider="ExactOnlineAll" connectionString="api-url=…;api-client-id=…"/>
//!     </connection>
//!   </group>
//! </settings>
//! ```
//!
//! - [`SettingsFolder`] reads every `settings*.xml` in the folder (hand-written ones
//!   with other groups, comments and several connections too) and writes new
//!   connections to `settings-<NAME>.xml`, one per file, in a group named after the
//!   platform.
//! - The connection-string keys are documented in [`keys::KEYS`].
//! - Rewrites change only the `provider` and `connectionString` attributes of the
//!   connection's `database` element; every other byte stays. A file that does not
//!   parse is never written.
//! - Writes are durable (temporary file, fsync, rename, fsync of the folder) and keep
//!   the previous version as `settings-<NAME>.xml.bak`. Writers of one file exclude
//!   each other through the lock file `.settings-<name>.xml.lock` next to it.
//! - Listing (`list`, `entries`) reads every file once; a file that does not parse is
//!   reported on its own and the others are listed all the same; a name defined in two
//!   files is an error for that name only. Finding one connection (`load`, `lock`,
//!   `create`) asks an index of which file holds which name, kept up to date by inode
//!   (see `index`), so that work over many connections stays linear.
//! - Names compare by one rule, [`fold_name`], everywhere: lookups, duplicates, lock
//!   files.
//! - Locks are waited for at most [`DEFAULT_LOCK_WAIT`] (configurable); the wait ends
//!   in [`crate::store::StoreError::LockTimeout`] naming the connection and the lock file.
//! - With a [`Protector`](crate::protector::Protector), connection strings are
//!   stored sealed under the connection name. A value sealed by `encrypt connection`
//!   (under the fixed connection-string label) and pasted into a file by hand opens too,
//!   and is sealed under the name at the next save.

pub(crate) mod durable;
mod export;
mod file;
mod folder;
mod folder_store;
mod index;
mod invalid;
pub mod keys;
mod locked;
mod name;
mod pending;
mod xml;

use std::path::PathBuf;

pub use crate::connection::fold_name;
pub use export::standalone_file;
pub use folder::{DEFAULT_LOCK_WAIT, SettingsFolder};
pub use name::{MAX_NAME_BYTES, MAX_NAME_CHARS, validate_name};

/// The environment variable that overrides the default settings folder.
pub const SETTINGS_DIR_ENV: &str = "PREAUTH_SETTINGS_DIR";

/// The settings folder to use: `flag` (from `--settings-dir`) when given, else
/// `$PREAUTH_SETTINGS_DIR` when set and non-empty, else `~/.preauth` (`./.preauth`
/// when there is no home folder). On Windows the last is `%LOCALAPPDATA%\preauth\settings`,
/// where Windows keeps a user's data that stays on this machine (as the device-bound
/// tokens do).
pub fn resolve_dir(flag: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = flag {
        return dir;
    }
    if let Some(dir) = std::env::var_os(SETTINGS_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    #[cfg(windows)]
    if let Some(local) = std::env::var_os("LOCALAPPDATA").filter(|d| !d.is_empty()) {
        return PathBuf::from(local).join("preauth").join("settings");
    }
    std::env::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".preauth")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_wins_over_environment() {
        let dir = resolve_dir(Some(PathBuf::from("/tmp/x")));
        assert_eq!(dir, PathBuf::from("/tmp/x"));
    }
}
