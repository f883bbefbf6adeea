//! A connection whose settings file is locked: the read-modify-write cycle of the
//! lifecycle on a settings folder.
//!
//! [`LockedConnection::prepare_save`] does everything a save needs before a refresh
//! token is spent: it seals the connection string once (so the sealing key is
//! derived), keeps the current file as the backup, and reserves disk space in the
//! temporary file the save will write. After the platform answers, [`save`] only
//! serializes, writes into that file, flushes and renames it.
//!
//! [`save`]: LockedConnection::save

use std::path::PathBuf;

use crate::connection::Connection;
use crate::store::{LockedConnection, StoreError};

use super::durable::{self, FileLock, Reserved};
use super::file::{Located, SettingsFile};
use super::folder::SettingsFolder;
use super::invalid::invalid;

/// Room for new tokens larger than the old ones: two tokens of the longest accepted
/// length (8,192 characters), sealed (base64 adds a third), and change.
const RESERVE_SLACK: usize = 24 * 1024;

/// A connection whose settings file is locked until this is dropped.
pub(super) struct Locked {
    folder: SettingsFolder,
    /// The settings file (a link to it when it is one).
    path: PathBuf,
    name: String,
    /// Space for the next save, from [`LockedConnection::prepare_save`].
    reserved: Option<Reserved>,
    /// The file as read when the lock was taken, used by the first read after it (so
    /// that locking and loading parse the file once).
    first_read: Option<SettingsFile>,
    _lock: FileLock,
}

impl Locked {
    /// `file` was read from `path` after `lock` was taken.
    pub fn new(
        folder: SettingsFolder,
        path: PathBuf,
        name: &str,
        lock: FileLock,
        file: SettingsFile,
    ) -> Self {
        Locked {
            folder,
            path,
            name: name.to_string(),
            reserved: None,
            first_read: Some(file),
            _lock: lock,
        }
    }

    fn reread(&mut self) -> Result<(SettingsFile, Located), StoreError> {
        let not_found = || StoreError::NotFound {
            name: self.name.clone(),
        };
        let file = match self.first_read.take() {
            Some(file) => file,
            None => self.folder.read_file(&self.path)?.ok_or_else(not_found)?,
        };
        let at = file.find(&self.name).cloned().ok_or_else(not_found)?;
        Ok((file, at))
    }

    /// The file as it would be with `connection` written into it.
    fn updated(&mut self, connection: &Connection) -> Result<SettingsFile, StoreError> {
        if !connection.is_named(&self.name) {
            return Err(invalid(
                &self.path,
                &self.name,
                format!(
                    "the lock is held for '{}' but connection '{}' was saved; save a connection under the name it was locked with",
                    self.name, connection.name
                ),
            ));
        }
        let (mut file, at) = self.reread()?;
        self.folder.write_connection(&mut file, &at, connection)?;
        Ok(file)
    }

    fn io(&self, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

impl LockedConnection for Locked {
    fn load(&mut self) -> Result<Connection, StoreError> {
        let (file, at) = self.reread()?;
        self.folder.read_connection(&file, &at)
    }

    fn prepare_save(&mut self, connection: &Connection) -> Result<(), StoreError> {
        self.reserved = None;
        let len = self.updated(connection)?.to_bytes().len() + RESERVE_SLACK;
        let target = durable::write_target(&self.path).map_err(|e| self.io(e))?;
        durable::keep_backup(&target).map_err(|e| self.io(e))?;
        let reserved = Reserved::create(&target, len as u64).map_err(|e| self.io(e))?;
        self.reserved = Some(reserved);
        Ok(())
    }

    fn save(&mut self, connection: &Connection) -> Result<(), StoreError> {
        let file = self.updated(connection)?;
        match self.reserved.take() {
            Some(mut reserved) => reserved.commit(&file.to_bytes()).map_err(|e| self.io(e))?,
            None => durable::replace(&self.path, &file.to_bytes(), true).map_err(|e| self.io(e))?,
        }
        self.folder.remember(&file);
        Ok(())
    }
}
