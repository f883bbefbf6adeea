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
//!   in [`StoreError::LockTimeout`] naming the connection and the lock file.
//! - With a [`Protector`](crate::protector::Protector), connection strings are
//!   stored sealed under the connection name. A value sealed by `encrypt connection`
//!   (under the fixed connection-string label) and pasted into a file by hand opens too,
//!   and is sealed under the name at the next save.

pub(crate) mod durable;
mod export;
mod file;
mod folder;
mod index;
pub mod keys;
mod locked;
mod pending;
mod xml;

use std::path::PathBuf;

pub use crate::connection::fold_name;
pub use export::standalone_file;
pub use folder::{DEFAULT_LOCK_WAIT, SettingsFolder};

use crate::store::StoreError;

/// The environment variable that overrides the default settings folder.
pub const SETTINGS_DIR_ENV: &str = "PREAUTH_SETTINGS_DIR";

/// Connection names are at most this many characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Connection names are at most this many bytes in UTF-8, so that every file made
/// from one (`.settings-<NAME>.xml.tmp-<pid>-<random>`, 45 bytes more) stays within
/// the 255 bytes a file name may have.
pub const MAX_NAME_BYTES: usize = 200;

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

/// Whether `c` is in Unicode's general category Cf (format characters: bidirectional
/// overrides and isolates, zero-width spaces and joiners, the byte order mark, tags …),
/// as of Unicode 15.1. Such characters are invisible, so a name holding one reads as
/// another name (`settings-\u{202e}lmx.evil` shows as `settings-live.xml`).
fn is_format_char(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// Checks that `name` can be a connection name and part of a file name: non-empty,
/// at most [`MAX_NAME_CHARS`] characters, no path separators or characters Windows
/// forbids in file names, no control or invisible formatting characters, not starting
/// with a dot and not ending with a dot or space.
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some("it is longer than 100 characters")
    } else if name.len() > MAX_NAME_BYTES {
        Some(
            "it is longer than 200 bytes in UTF-8 (letters outside ASCII take 2 to 4 bytes), which file names cannot hold; choose a shorter name",
        )
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else if name.chars().any(is_format_char) {
        Some(
            "it contains an invisible formatting character (such as a right-to-left override or a zero-width space), which would make the name read as another one",
        )
    } else if name.contains(['/', '\\', ':', '*', '?', '"', '<', '>', '|']) {
        Some("it contains one of / \\ : * ? \" < > |, which file names cannot hold")
    } else if name.starts_with('.') {
        Some("it starts with a dot")
    } else if name.ends_with(['.', ' ']) || name.starts_with(' ') {
        Some("it starts with a space or ends with a dot or space")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StoreError::InvalidName {
            name: name
                .chars()
                .filter(|c| !c.is_control() && !is_format_char(*c))
                .take(MAX_NAME_CHARS)
                .collect(),
            reason: reason.to_string(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_be_file_names_are_refused() {
        for bad in [
            "",
            ".hidden",
            "a/b",
            "a\\b",
            "tab\there",
            "x.",
            &"n".repeat(101),
            "c:d",
        ] {
            assert!(
                matches!(validate_name(bad), Err(StoreError::InvalidName { .. })),
                "{bad:?}"
            );
        }
        assert!(
            matches!(validate_name(&"€".repeat(80)), Err(StoreError::InvalidName { reason, .. }) if reason.contains("200 bytes")),
            "80 characters of three bytes each fit in characters but not in bytes"
        );
        for good in [
            "acme-nl",
            "Acme NL 2",
            "ö-ü",
            &"n".repeat(100),
            &"ö".repeat(100 / 2),
        ] {
            assert!(validate_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn flag_wins_over_environment() {
        let dir = resolve_dir(Some(PathBuf::from("/tmp/x")));
        assert_eq!(dir, PathBuf::from("/tmp/x"));
    }
}
