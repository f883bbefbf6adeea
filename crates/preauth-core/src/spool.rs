//! The spool: a platform's token answer kept durably on this machine until a store on a
//! server holds it.
//!
//! A store on a server (PostgreSQL) can be unreachable at the moment a refresh answer
//! arrives: restarted, failed over, or a network that broke. The platform has spent the
//! old refresh token by then, so the answer is the only copy of the chain. It is written
//! here first (sealed as the store would keep it, temporary file, fsync, rename, fsync of
//! the folder), then to the store; only then is the entry removed. Any later process on
//! this machine writes what it finds here to the store before touching that connection.
//!
//! An entry is one small text file per store and connection in `<settings folder>/spool`,
//! mode 0600 in a 0700 folder. It holds only sealed text (the connection string sealed
//! with the store's key under the connection's name) and the fence: the SHA-256 of the
//! refresh token the answer replaced, so that the store takes it only while it still
//! holds that token.
//!
//! ```text
//! preauth spool 1
//! store postgres://preauth@db.internal/fleet
//! name acme
//! provider ExactOnlineAll
//! fence 3f2a…
//! holds 9c01…
//! outline YXBpLXVybD1…
//! sealed dk1:…
//! ```

use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::connection::{Connection, fold_name};
use crate::settings::durable;
use crate::store::StoreError;

/// The first line of every spool file.
const HEADER: &str = "preauth spool 1";

/// The ending of spool files.
const SUFFIX: &str = ".spool";

/// The spool folder's name inside a settings folder.
pub const SPOOL_DIR: &str = "spool";

/// A folder of answers waiting for their store.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

/// One answer waiting for its store.
#[derive(Clone, PartialEq, Eq)]
pub struct Spooled {
    /// The store it belongs to, as [`crate::store::Store::location`] names it.
    pub store: String,
    /// The connection's name.
    pub name: String,
    /// The connection's provider (as the store keeps it beside the sealed text).
    pub provider: String,
    /// The connection string, sealed as the store keeps it.
    pub sealed: String,
    /// Its outline (the connection string without secrets, see
    /// [`crate::settings::keys::outline`]), kept unsealed by stores that list outlines.
    pub outline: String,
    /// The SHA-256 of the refresh token this answer replaces (`None`: there was none).
    pub fence: Option<[u8; 32]>,
    /// The SHA-256 of the refresh token this answer holds (`None`: it holds none).
    pub holds: Option<[u8; 32]>,
}

impl std::fmt::Debug for Spooled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spooled")
            .field("store", &self.store)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Spool {
    /// The spool of the settings folder `settings_dir` (its `spool` folder).
    pub fn in_settings(settings_dir: &Path) -> Spool {
        Spool {
            dir: settings_dir.join(SPOOL_DIR),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the folder (0700) if it is not there, so that a later [`Spool::put`] has
    /// only the write itself left to do.
    pub fn prepare(&self) -> Result<(), StoreError> {
        durable::create_dir(&self.dir).map_err(|e| self.io(&self.dir, e))
    }

    /// Where the entry of connection `name` in `store` lives.
    pub fn path_of(&self, store: &str, name: &str) -> PathBuf {
        let mut hash = Sha256::new();
        hash.update(store.as_bytes());
        hash.update([0]);
        hash.update(fold_name(name).as_bytes());
        let digest = hash.finalize();
        let tag: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("answer-{tag}{SUFFIX}"))
    }

    /// Writes `entry` durably (replacing an earlier one of the same connection) and
    /// returns its path.
    pub fn put(&self, entry: &Spooled) -> Result<PathBuf, StoreError> {
        let path = self.path_of(&entry.store, &entry.name);
        durable::replace(&path, entry.to_text().as_bytes(), false)
            .map_err(|e| self.io(&path, e))?;
        Ok(path)
    }

    /// The entry of connection `name` in `store`, if one waits.
    pub fn find(&self, store: &str, name: &str) -> Result<Option<Spooled>, StoreError> {
        let path = self.path_of(store, name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Spooled::parse(&text, &path).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(&path, e)),
        }
    }

    /// Every entry of `store`, in no particular order (none when the folder is absent).
    pub fn all(&self, store: &str) -> Result<Vec<Spooled>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(&self.dir, e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| self.io(&self.dir, e))?.path();
            let spool_file = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("answer-") && n.ends_with(SUFFIX));
            if !spool_file {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| self.io(&path, e))?;
            let spooled = Spooled::parse(&text, &path)?;
            if spooled.store == store {
                found.push(spooled);
            }
        }
        Ok(found)
    }

    /// Removes the entry of connection `name` in `store` once its store holds it (or
    /// holds something newer). The folder is not flushed: an entry that comes back after
    /// a crash is refused by its fence, since the store no longer holds that token.
    pub fn remove(&self, store: &str, name: &str) -> Result<(), StoreError> {
        let path = self.path_of(store, name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(self.io(&path, e)),
            _ => Ok(()),
        }
    }

    fn io(&self, path: &Path, source: io::Error) -> StoreError {
        let not_a_folder = source.kind() == io::ErrorKind::NotADirectory
            || (source.kind() == io::ErrorKind::AlreadyExists && !self.dir.is_dir());
        if not_a_folder {
            return StoreError::Io {
                path: self.dir.clone(),
                source: io::Error::other(
                    "is not a folder, and preauth keeps refresh answers there until their store has them: move it aside",
                ),
            };
        }
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl Spooled {
    fn to_text(&self) -> String {
        let hash = |h: Option<[u8; 32]>| h.map_or_else(|| "-".to_string(), |h| hex(&h));
        format!(
            "{HEADER}\nstore {}\nname {}\nprovider {}\nfence {}\nholds {}\noutline {}\nsealed {}\n",
            self.store,
            self.name,
            self.provider,
            hash(self.fence),
            hash(self.holds),
            URL_SAFE_NO_PAD.encode(&self.outline),
            self.sealed
        )
    }

    fn parse(text: &str, path: &Path) -> Result<Spooled, StoreError> {
        let malformed = |line: usize, message: &str| StoreError::Malformed {
            path: path.to_path_buf(),
            line: line as u64,
            column: 1,
            message: format!(
                "{message}; this spool file holds a token answer that its store may not have: keep it, and compare it with the store before removing it"
            ),
        };
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(malformed(1, &format!("does not start with '{HEADER}'")));
        }
        let mut field = |number: usize, key: &str| -> Result<String, StoreError> {
            let line = lines.next().unwrap_or_default();
            line.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix(' '))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .ok_or_else(|| malformed(number, &format!("line {number} is not '{key} …'")))
        };
        let store = field(2, "store")?;
        let name = field(3, "name")?;
        let provider = field(4, "provider")?;
        let fence = field(5, "fence")?;
        let holds = field(6, "holds")?;
        let outline = field(7, "outline")?;
        let sealed = field(8, "sealed")?;
        let outline = URL_SAFE_NO_PAD
            .decode(&outline)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| malformed(7, "the outline is not base64url text"))?;
        let hash = |number: usize, text: &str| match text {
            "-" => Ok(None),
            hexed => unhex(hexed)
                .map(Some)
                .ok_or_else(|| malformed(number, "not a SHA-256 in 64 hex digits")),
        };
        Ok(Spooled {
            store,
            name,
            provider,
            sealed,
            outline,
            fence: hash(5, &fence)?,
            holds: hash(6, &holds)?,
        })
    }
}

/// The SHA-256 of a refresh token: how stores and spool entries name the token they hold
/// without holding it.
pub fn token_fence(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The fence of the refresh token `connection` holds (`None`: it holds none).
pub fn refresh_fence(connection: &Connection) -> Option<[u8; 32]> {
    connection
        .tokens
        .as_ref()?
        .refresh_token
        .as_ref()
        .map(|t| token_fence(t.secret()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(store: &str, name: &str) -> Spooled {
        Spooled {
            store: store.into(),
            name: name.into(),
            provider: "ExactOnlineAll".into(),
            sealed: "dk1:AAAA".into(),
            outline: "api-url=http://127.0.0.1:1;api-refresh-token=(sealed)".into(),
            fence: Some(token_fence("old refresh token")),
            holds: Some(token_fence("new refresh token")),
        }
    }

    #[test]
    fn an_entry_survives_the_round_trip_and_is_found_by_store_and_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let spool = Spool::in_settings(dir.path());
        assert!(spool.all("postgres://a@h/db").expect("empty").is_empty());
        spool.prepare().expect("folder");
        let a = entry("postgres://a@h/db", "Acme");
        let b = Spooled {
            fence: None,
            ..entry("postgres://a@h/other", "acme")
        };
        #[cfg_attr(not(unix), allow(unused_variables))]
        let path = spool.put(&a).expect("put");
        spool.put(&b).expect("put");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            spool.find("postgres://a@h/db", "ACME").expect("read"),
            Some(a.clone())
        );
        assert_eq!(spool.all("postgres://a@h/db").expect("read"), vec![a]);
        assert_eq!(spool.all("postgres://a@h/other").expect("read"), vec![b]);
        spool.remove("postgres://a@h/db", "acme").expect("remove");
        assert_eq!(spool.find("postgres://a@h/db", "acme").expect("read"), None);
        spool
            .remove("postgres://a@h/db", "acme")
            .expect("removing twice is fine");
    }

    #[test]
    fn a_damaged_entry_is_an_error_naming_the_file_never_a_panic() {
        let dir = tempfile::tempdir().expect("temp dir");
        let spool = Spool::in_settings(dir.path());
        spool.prepare().expect("folder");
        let path = spool.path_of("s", "n");
        for text in [
            "",
            "preauth spool 1\n",
            "preauth spool 1\nstore s\nname n\nprovider p\nfence zz\nholds -\noutline YQ\nsealed x\n",
            "preauth spool 2\nstore s\n",
            "preauth spool 1\nstore s\nname n\nprovider p\nfence -\nholds -\noutline YQ\nsealed \n",
            "preauth spool 1\nstore s\nname n\nprovider p\nfence -\nholds -\noutline !!\nsealed x\n",
        ] {
            std::fs::write(&path, text).expect("write");
            let e = spool.find("s", "n").expect_err(text);
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");
            assert!(e.to_string().contains("keep it"), "{e}");
        }
    }
}
