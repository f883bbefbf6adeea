//! Which settings file holds which connection, remembered between operations.
//!
//! Finding a connection by name must not read every file of the folder each time
//! (2,000 connections would mean 2,000 × 2,000 reads for a keep-alive or a batch of
//! registrations). The index keeps, per settings file, the connection names it held
//! when last read, keyed by the file's inode: every write replaces a file by renaming
//! a new one over it, so a new inode means new content. [`Index::sync`] lists the
//! folder (one `readdir`) and reads only files that are new or replaced.
//!
//! The index is a hint, never the truth: a lock re-reads the file it points to, and a
//! name not found there makes the caller sync and look again. A file that cannot be
//! read is remembered as broken, so that it is reported without hiding the others.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::connection::fold_name;
use crate::store::StoreError;

use super::file::SettingsFile;

/// What the index knows of one settings file.
#[derive(Debug)]
struct Indexed {
    /// The inode read (of the link's target for a symbolic link).
    ino: u64,
    /// The names in it, or why it cannot be read.
    content: Result<Vec<String>, Broken>,
}

/// A settings file that could not be read, as facts that can be turned into an error
/// again (errors with an `io::Error` inside cannot be cloned).
#[derive(Debug, Clone)]
pub(super) enum Broken {
    /// It does not parse.
    Malformed {
        line: u64,
        column: u64,
        message: String,
    },
    /// Another failure (permissions, I/O), with its sentence.
    Other(io::ErrorKind, String),
}

impl Broken {
    /// Remembers `error` (from reading `path`).
    pub fn from_error(error: &StoreError) -> Broken {
        match error {
            StoreError::Malformed {
                line,
                column,
                message,
                ..
            } => Broken::Malformed {
                line: *line,
                column: *column,
                message: message.clone(),
            },
            StoreError::Io { source, .. } => Broken::Other(source.kind(), source.to_string()),
            other => Broken::Other(io::ErrorKind::InvalidData, other.to_string()),
        }
    }

    /// The error for the file at `path`, with the advice to fix it or restore its backup.
    pub fn to_error(&self, path: &Path) -> StoreError {
        let source = match self {
            Broken::Malformed {
                line,
                column,
                message,
            } => StoreError::Malformed {
                path: path.to_path_buf(),
                line: *line,
                column: *column,
                message: message.clone(),
            },
            Broken::Other(kind, message) => StoreError::Io {
                path: path.to_path_buf(),
                source: io::Error::new(*kind, message.clone()),
            },
        };
        let backup = super::durable::backup_path(path);
        StoreError::BrokenFile {
            source: Box::new(source),
            backup: backup.is_file().then_some(backup),
        }
    }
}

/// The folder's settings files and the names in them.
#[derive(Debug, Default)]
pub(super) struct Index {
    /// Whether [`Index::sync`] ran at least once.
    synced: bool,
    files: BTreeMap<PathBuf, Indexed>,
    /// Folded name -> the files holding it (more than one is an error).
    by_name: HashMap<String, Vec<PathBuf>>,
}

/// A settings file in the folder and its inode.
pub(super) struct Candidate {
    pub path: PathBuf,
    pub ino: u64,
}

impl Index {
    /// Lists `dir` and reads the settings files that are new or replaced since the
    /// last sync; forgets files that are gone.
    pub fn sync(&mut self, dir: &Path) -> Result<(), StoreError> {
        let candidates = candidates(dir)?;
        let mut seen = std::collections::HashSet::with_capacity(candidates.len());
        for Candidate { path, ino } in candidates {
            seen.insert(path.clone());
            if self.files.get(&path).is_some_and(|f| f.ino == ino) {
                continue;
            }
            let content = match SettingsFile::read(&path) {
                Ok(Some(file)) => Ok(file.connections.into_iter().map(|l| l.name).collect()),
                Ok(None) => continue,
                Err(e) => Err(Broken::from_error(&e)),
            };
            self.files.insert(path, Indexed { ino, content });
        }
        self.files.retain(|path, _| seen.contains(path));
        self.synced = true;
        self.rebuild();
        Ok(())
    }

    /// Whether the index was ever synced.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Records what a full read of `path` found (or that it is gone, with `None`).
    pub fn record(&mut self, path: &Path, content: Option<Result<Vec<String>, Broken>>) {
        match content {
            Some(content) => {
                let ino = inode(path).unwrap_or_default();
                self.files
                    .insert(path.to_path_buf(), Indexed { ino, content });
            }
            None => {
                self.files.remove(path);
            }
        }
        self.rebuild();
    }

    /// Records a file listed and read by a caller's own pass over the folder.
    pub fn record_read(&mut self, candidate: &Candidate, content: Result<Vec<String>, Broken>) {
        self.files.insert(
            candidate.path.clone(),
            Indexed {
                ino: candidate.ino,
                content,
            },
        );
    }

    /// Marks the index complete after a caller's own pass over every candidate.
    pub fn finish_pass(&mut self, listed: &[Candidate]) {
        let seen: std::collections::HashSet<&PathBuf> = listed.iter().map(|c| &c.path).collect();
        self.files.retain(|path, _| seen.contains(path));
        self.synced = true;
        self.rebuild();
    }

    /// The files holding connection `name` (by the one case rule).
    pub fn files_of(&self, name: &str) -> &[PathBuf] {
        self.by_name
            .get(&fold_name(name))
            .map_or(&[], Vec::as_slice)
    }

    /// Every name with the files holding it, sorted case-insensitively.
    pub fn names(&self) -> Vec<(String, usize)> {
        let mut names: Vec<(String, usize)> = self
            .files
            .values()
            .filter_map(|f| f.content.as_ref().ok())
            .flatten()
            .map(|n| (n.clone(), self.files_of(n).len()))
            .collect();
        names.sort_by_cached_key(|(n, _)| fold_name(n));
        names.dedup_by(|a, b| fold_name(&a.0) == fold_name(&b.0));
        names
    }

    /// The files that cannot be read, as errors.
    pub fn problems(&self) -> Vec<StoreError> {
        self.files
            .iter()
            .filter_map(|(path, f)| f.content.as_ref().err().map(|b| b.to_error(path)))
            .collect()
    }

    fn rebuild(&mut self) {
        self.by_name.clear();
        for (path, file) in &self.files {
            for name in file.content.iter().flatten() {
                self.by_name
                    .entry(fold_name(name))
                    .or_default()
                    .push(path.clone());
            }
        }
    }
}

/// The settings files (`settings*.xml`, regular files or links to them) in `dir`, in
/// path order, with their inodes.
pub(super) fn candidates(dir: &Path) -> Result<Vec<Candidate>, StoreError> {
    let io = |path: &Path, source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        let name = entry.file_name();
        let lower = name.to_string_lossy().to_ascii_lowercase();
        if !(lower.starts_with("settings") && lower.ends_with(".xml")) {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| io(&path, e))?;
        let ino = if kind.is_symlink() {
            match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => ino_of(&meta),
                _ => continue,
            }
        } else if kind.is_file() {
            entry_ino(&entry)
        } else {
            continue;
        };
        found.push(Candidate { path, ino });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

#[cfg(unix)]
fn entry_ino(entry: &fs::DirEntry) -> u64 {
    use std::os::unix::fs::DirEntryExt;
    entry.ino()
}

#[cfg(not(unix))]
fn entry_ino(entry: &fs::DirEntry) -> u64 {
    entry.metadata().map(|m| ino_of(&m)).unwrap_or_default()
}

#[cfg(unix)]
fn ino_of(meta: &fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.ino()
}

#[cfg(not(unix))]
fn ino_of(meta: &fs::Metadata) -> u64 {
    // Without inodes, the modification time stands in for "replaced".
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The inode of the file at `path` (following a link).
fn inode(path: &Path) -> Option<u64> {
    fs::metadata(path).ok().map(|m| ino_of(&m))
}
