//! Which settings file holds which connection, remembered between operations.
//!
//! Finding a connection by name must not read every file of the folder each time
//! (2,000 connections would mean 2,000 × 2,000 reads for a keep-alive or a batch of
//! registrations). The index keeps, per settings file, the connection names it held
//! when last read, keyed by the file's inode: every write replaces a file by renaming
//! a new one over it, so a new inode means new content. [`Index::sync`] lists the
//! folder (one `readdir`) and reads only files that are new or replaced.
//!
//! A file rewritten in place (an editor that does not write a new file) keeps its inode;
//! [`Check::Metadata`] also compares size and modification time, at one `stat` per file.
//! Listing names and looking again after a miss use it; the hot path of creating many
//! connections uses [`Check::Inode`] (`readdir` only).
//!
//! The index is a hint, never the truth: a lock re-reads the file it points to, and a
//! name not found there makes the caller sync and look again. A file that cannot be
//! read is remembered as broken, so that it is reported without hiding the others.
//! Recording one file updates only that file's names, so that work over many
//! connections stays linear.

use std::collections::HashMap;
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
    /// Size and modification time when read, where known.
    stamp: Option<Stamp>,
    /// The names in it, or why it cannot be read.
    content: Result<Vec<String>, Broken>,
}

/// Size and modification time of a file: what changes when it is rewritten in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

/// How carefully [`Index::sync`] tells a changed file from an unchanged one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    /// The inode only (every write by preauth makes a new one): one `readdir`.
    Inode,
    /// Inode, size and modification time (also catches a file rewritten in place).
    Metadata,
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
    /// The folder's generation (see `SettingsFolder::add_new`) when last synced.
    generation: Option<u64>,
    /// The folder's modification time when it was last listed (or changed by this
    /// process): a new file written by hand changes it.
    listed_at: Option<std::time::SystemTime>,
    files: HashMap<PathBuf, Indexed>,
    /// Folded name -> the files holding it (more than one is an error).
    by_name: HashMap<String, Vec<PathBuf>>,
    /// preauth's temporary files that the last listing came across, not yet looked at
    /// (see [`Index::take_leftovers`]).
    leftovers: Vec<PathBuf>,
}

/// A settings file in the folder and its inode.
pub(super) struct Candidate {
    pub path: PathBuf,
    pub ino: u64,
}

/// What one listing of the folder found.
pub(super) struct Found {
    /// The settings files.
    pub files: Vec<Candidate>,
    /// preauth's own temporary files (by their names only), live or left behind.
    pub leftovers: Vec<PathBuf>,
}

impl Index {
    /// Lists `dir` and reads the settings files that are new or changed (by `check`)
    /// since the last sync; forgets files that are gone.
    pub fn sync(&mut self, dir: &Path, check: Check) -> Result<(), StoreError> {
        // Read before listing, so that a change during the listing shows next time.
        self.listed_at = modified(dir);
        let Found { files, leftovers } = candidates(dir)?;
        self.leftovers = leftovers;
        let mut seen = std::collections::HashSet::with_capacity(files.len());
        for Candidate { path, ino } in files {
            seen.insert(path.clone());
            let known = self.files.get(&path).filter(|f| f.ino == ino);
            let stamp = match (check, known) {
                (_, None) => None,
                (Check::Inode, Some(_)) => continue,
                (Check::Metadata, Some(known)) => {
                    let stamp = fs::metadata(&path).ok().map(|m| Stamp::of(&m));
                    if stamp.is_some() && stamp == known.stamp {
                        continue;
                    }
                    stamp
                }
            };
            let stamp = stamp.or_else(|| fs::metadata(&path).ok().map(|m| Stamp::of(&m)));
            let content = match SettingsFile::read(&path) {
                Ok(Some(file)) => Ok(file.connections.into_iter().map(|l| l.name).collect()),
                Ok(None) => continue,
                Err(e) => Err(Broken::from_error(&e)),
            };
            self.put(
                path,
                Indexed {
                    ino,
                    stamp,
                    content,
                },
            );
        }
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| !seen.contains(*p))
            .cloned()
            .collect();
        for path in gone {
            self.remove(&path);
        }
        self.synced = true;
        Ok(())
    }

    /// Whether the index was ever synced.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Syncs (by inode) unless the folder's generation is the one seen at the last sync
    /// of this kind: then no other process added or removed a connection since.
    pub fn sync_unless(&mut self, dir: &Path, generation: u64) -> Result<(), StoreError> {
        if self.generation != Some(generation) {
            self.sync(dir, Check::Inode)?;
            self.generation = Some(generation);
        }
        Ok(())
    }

    /// Whether the index was synced at `generation` (or moved to it by this process).
    pub fn is_at_generation(&self, generation: u64) -> bool {
        self.generation == Some(generation)
    }

    /// Notes that this process moved the folder from generation `seen` to `next`: when
    /// the index was at `seen`, it knows everything up to `next` (its own change is
    /// recorded already). Says whether it was.
    pub fn advance(&mut self, seen: u64, next: u64) -> bool {
        let current = self.generation == Some(seen);
        if current {
            self.generation = Some(next);
        }
        current
    }

    /// Notes the folder's generation as read (without the lock) just before a listing.
    pub fn listed_at_generation(&mut self, generation: u64) {
        self.generation = Some(generation);
    }

    /// Records what a full read of `path` found (or that it is gone, with `None`).
    pub fn record(&mut self, path: &Path, content: Option<Result<Vec<String>, Broken>>) {
        match content {
            Some(content) => {
                let meta = fs::metadata(path).ok();
                let indexed = Indexed {
                    ino: meta.as_ref().map(ino_of).unwrap_or_default(),
                    stamp: meta.as_ref().map(Stamp::of),
                    content,
                };
                self.put(path.to_path_buf(), indexed);
            }
            None => self.remove(path),
        }
    }

    /// Records a file listed and read by a caller's own pass over the folder.
    pub fn record_read(&mut self, candidate: &Candidate, content: Result<Vec<String>, Broken>) {
        let stamp = fs::metadata(&candidate.path).ok().map(|m| Stamp::of(&m));
        let indexed = Indexed {
            ino: candidate.ino,
            stamp,
            content,
        };
        self.put(candidate.path.clone(), indexed);
    }

    /// Whether the folder holds the same files as when it was last listed, as far as
    /// its modification time tells (files rewritten in place do not change it).
    pub fn listing_is_current(&self, dir: &Path) -> bool {
        self.listed_at.is_some() && modified(dir) == self.listed_at
    }

    /// Notes that this process changed the folder itself (under the folder's lock, so
    /// no other preauth process added or removed a connection meanwhile).
    pub fn note_own_change(&mut self, dir: &Path) {
        if self.listed_at.is_some() {
            self.listed_at = modified(dir);
        }
    }

    /// Marks the index complete after a caller's own pass over every candidate.
    pub fn finish_pass(&mut self, listed: Found) {
        self.leftovers = listed.leftovers;
        let seen: std::collections::HashSet<&PathBuf> =
            listed.files.iter().map(|c| &c.path).collect();
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| !seen.contains(p))
            .cloned()
            .collect();
        for path in gone {
            self.remove(&path);
        }
        self.synced = true;
    }

    /// preauth's temporary files the last listing came across, handed out once: a
    /// writer removes the stale ones without listing the folder again.
    pub fn take_leftovers(&mut self) -> Vec<PathBuf> {
        std::mem::take(&mut self.leftovers)
    }

    /// The files holding connection `name` (by the one case rule).
    pub fn files_of(&self, name: &str) -> &[PathBuf] {
        self.by_name
            .get(&fold_name(name))
            .map_or(&[], Vec::as_slice)
    }

    /// Every name, sorted case-insensitively, each once.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .files
            .values()
            .filter_map(|f| f.content.as_ref().ok())
            .flatten()
            .cloned()
            .collect();
        names.sort_by_cached_key(|n| fold_name(n));
        names.dedup_by(|a, b| fold_name(a) == fold_name(b));
        names
    }

    /// The files that cannot be read, as errors, in path order.
    pub fn problems(&self) -> Vec<StoreError> {
        let mut broken: Vec<(&PathBuf, &Broken)> = self
            .files
            .iter()
            .filter_map(|(path, f)| Some((path, f.content.as_ref().err()?)))
            .collect();
        broken.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()));
        broken
            .into_iter()
            .map(|(path, b)| b.to_error(path))
            .collect()
    }

    /// Replaces what is known of `path`, updating only its names in the name map.
    fn put(&mut self, path: PathBuf, indexed: Indexed) {
        self.unlink_names(&path);
        for name in indexed.content.iter().flatten() {
            self.by_name
                .entry(fold_name(name))
                .or_default()
                .push(path.clone());
        }
        self.files.insert(path, indexed);
    }

    /// Forgets `path` and its names.
    fn remove(&mut self, path: &Path) {
        self.unlink_names(path);
        self.files.remove(path);
    }

    fn unlink_names(&mut self, path: &Path) {
        let Some(old) = self.files.get(path) else {
            return;
        };
        for name in old.content.iter().flatten() {
            let key = fold_name(name);
            if let Some(paths) = self.by_name.get_mut(&key) {
                paths.retain(|p| p != path);
                if paths.is_empty() {
                    self.by_name.remove(&key);
                }
            }
        }
    }
}

/// The settings files (`settings*.xml`, regular files or links to them) in `dir`, in
/// the order the folder lists them, with their inodes; and, from the same listing,
/// preauth's own temporary files.
pub(super) fn candidates(dir: &Path) -> Result<Found, StoreError> {
    let io = |path: &Path, source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut found = Vec::new();
    let mut leftovers = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        let name = entry.file_name();
        if name.to_str().is_some_and(super::durable::is_temp_name) {
            leftovers.push(entry.path());
            continue;
        }
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
    Ok(Found {
        files: found,
        leftovers,
    })
}

/// The modification time of `dir`, if it can be read.
fn modified(dir: &Path) -> Option<std::time::SystemTime> {
    fs::metadata(dir).and_then(|m| m.modified()).ok()
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
