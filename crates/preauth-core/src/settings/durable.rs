//! Durable file replacement and cross-process file locks.
//!
//! A write goes to a new temporary file in the same folder (created exclusively,
//! mode 0600), is flushed to disk, and is renamed over the target; then the folder is
//! flushed so that the rename itself survives a crash. Readers see the old file or
//! the new one, never a mix. The previous version is kept next to it as `<file>.bak`,
//! written the same way.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Mode of every file preauth creates.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;

/// Mode of the settings folder when preauth creates it.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;

/// Where the previous version of `path` is kept.
pub(crate) fn backup_path(path: &Path) -> PathBuf {
    sibling(path, "", ".bak")
}

/// `prefix` + file name + `suffix`, in the same folder.
pub(crate) fn sibling(path: &Path, prefix: &str, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!("{prefix}{name}{suffix}"))
}

/// Replaces `path` with `bytes` durably; when `previous` is given it is first kept
/// as the backup.
pub(crate) fn replace(path: &Path, bytes: &[u8], previous: Option<&[u8]>) -> io::Result<()> {
    if let Some(previous) = previous {
        write_and_rename(&backup_path(path), previous)?;
    }
    write_and_rename(path, bytes)?;
    sync_dir(path)
}

/// Removes `path` (and its backup when `with_backup`) and flushes the folder.
pub(crate) fn remove(path: &Path, with_backup: bool) -> io::Result<()> {
    fs::remove_file(path)?;
    if with_backup {
        match fs::remove_file(backup_path(path)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    sync_dir(path)
}

fn write_and_rename(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
    let tag: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let temp = sibling(path, ".", &format!(".tmp-{tag}"));
    let result = (|| {
        let mut file = create_private(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Creates a new file that only its owner can read and write.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options.open(path)
}

/// Flushes the folder holding `path`, so that renames and removals in it are durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates `dir` (and its parents) with mode 0700 if it does not exist.
pub(crate) fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)
}

/// An exclusive lock on a lock file, held across processes until dropped.
#[derive(Debug)]
pub(crate) struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// Locks `path` (created 0600 when absent), blocking until it is free. Retries when
    /// the lock file was removed and recreated while waiting, so that two holders never
    /// lock different files of the same name.
    pub fn acquire(path: &Path) -> io::Result<Self> {
        loop {
            let mut options = OpenOptions::new();
            options.read(true).write(true).create(true).truncate(false);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(FILE_MODE);
            }
            let file = options.open(path)?;
            file.lock()?;
            if still_linked(&file, path)? {
                return Ok(FileLock {
                    file,
                    path: path.to_path_buf(),
                });
            }
        }
    }

    /// Removes the lock file while holding it (after its settings file is gone).
    pub fn remove(self) -> io::Result<()> {
        fs::remove_file(&self.path)?;
        drop(self.file);
        Ok(())
    }
}

#[cfg(unix)]
fn still_linked(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = file.metadata()?;
    match fs::metadata(path) {
        Ok(now) => Ok(now.ino() == held.ino() && now.dev() == held.dev()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn still_linked(_file: &File, path: &Path) -> io::Result<bool> {
    Ok(path.exists())
}
