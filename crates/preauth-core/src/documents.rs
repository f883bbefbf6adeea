//! Small documents kept with the connections: the user-defined platforms
//! (`platforms.xml`) and the API keys of `preauth serve` (`api-keys.json`).
//!
//! They belong to the store, not to a machine: every machine and every `preauth serve`
//! replica using one store must know the same platforms and accept the same keys. A
//! settings folder keeps each as a file of that name ([`FolderDocuments`]); a store on a
//! server keeps them in a table. A document is read whole, and changed under a lock
//! ([`Documents::lock`]): read, change, write, unlock, so that two changes at once never
//! lose one.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::settings::durable::{self, FileLock};
use crate::store::StoreError;

/// The longest wait for another process changing the same document.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// A document under an exclusive lock, until dropped.
pub trait LockedDocument {
    /// The document as stored now (`None`: it does not exist yet).
    fn read(&mut self) -> Result<Option<Vec<u8>>, StoreError>;

    /// Replaces the document durably. A `LockedDocument` dropped without a write
    /// changes nothing.
    fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError>;
}

/// Where a store keeps its documents.
pub trait Documents: Send + Sync {
    /// Where document `name` is, for people (a file, or the store and the name).
    fn location_of(&self, name: &str) -> String;

    /// Document `name` as stored now (`None`: it does not exist).
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Locks document `name` for a change (waiting a bounded time for another writer).
    fn lock(&self, name: &str) -> Result<Box<dyn LockedDocument + '_>, StoreError>;
}

/// Documents as files in a settings folder: written durably (temporary file, fsync,
/// rename), the previous version kept as `<file>.bak`, changes serialised by a lock file
/// beside them.
#[derive(Debug, Clone)]
pub struct FolderDocuments {
    dir: PathBuf,
}

impl FolderDocuments {
    /// The documents in settings folder `dir` (created on the first write).
    pub fn new(dir: &Path) -> FolderDocuments {
        FolderDocuments {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn io_error(path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn read_file(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, e)),
    }
}

impl Documents for FolderDocuments {
    fn location_of(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        read_file(&self.path(name))
    }

    fn lock(&self, name: &str) -> Result<Box<dyn LockedDocument + '_>, StoreError> {
        let path = self.path(name);
        // A store on a server may be used before anything made the settings folder.
        durable::create_dir(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        let lock_file = durable::sibling(&path, ".", ".lock");
        let lock = FileLock::acquire(&lock_file, LOCK_WAIT).map_err(|e| {
            if e.kind() == io::ErrorKind::TimedOut {
                StoreError::LockTimeout {
                    name: name.to_string(),
                    lock: lock_file.clone(),
                    waited: LOCK_WAIT,
                }
            } else {
                io_error(&lock_file, e)
            }
        })?;
        Ok(Box::new(LockedFile { path, _lock: lock }))
    }
}

/// Copies each document of `names` that `local` (a settings folder) holds and `shared`
/// (a store on a server) does not: a machine that kept them in its folder, as preauth did
/// before stores kept documents, hands them to the store once. Returns the names copied.
pub fn adopt<'n>(
    shared: &dyn Documents,
    local: &FolderDocuments,
    names: &[&'n str],
) -> Result<Vec<&'n str>, StoreError> {
    let mut adopted = Vec::new();
    for name in names {
        let Some(bytes) = local.read(name)? else {
            continue;
        };
        if shared.read(name)?.is_some() {
            continue;
        }
        let mut locked = shared.lock(name)?;
        if locked.read()?.is_none() {
            locked.write(&bytes)?;
            adopted.push(*name);
        }
    }
    Ok(adopted)
}

/// A document file under its lock file.
struct LockedFile {
    path: PathBuf,
    _lock: FileLock,
}

impl LockedDocument for LockedFile {
    fn read(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        read_file(&self.path)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let existed = self.path.exists();
        durable::replace(&self.path, bytes, existed).map_err(|e| io_error(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_read_whole_and_changed_under_its_lock() {
        let dir = tempfile::tempdir().expect("temp dir");
        let docs = FolderDocuments::new(&dir.path().join("settings"));
        assert_eq!(docs.read("a.json").expect("read"), None);
        {
            let mut locked = docs.lock("a.json").expect("lock");
            assert_eq!(locked.read().expect("read"), None);
            locked.write(b"one").expect("write");
        }
        let mut locked = docs.lock("a.json").expect("lock");
        assert_eq!(locked.read().expect("read").as_deref(), Some(&b"one"[..]));
        locked.write(b"two").expect("write");
        drop(locked);
        assert_eq!(
            docs.read("a.json").expect("read").as_deref(),
            Some(&b"two"[..])
        );
        let backup = std::fs::read(dir.path().join("settings/a.json.bak")).expect("backup");
        assert_eq!(backup, b"one");
        assert!(docs.location_of("a.json").ends_with("a.json"));
    }
}
