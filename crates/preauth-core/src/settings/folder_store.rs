//! The [`Store`] on a [`SettingsFolder`]: each operation takes the folder's and the
//! file's locks it needs, reads, writes durably and tells the index.

use std::path::Path;
use std::time::SystemTime;

use zeroize::Zeroizing;

use crate::connection::Connection;
use crate::store::{Listing, LockedConnection, PendingAuthorization, Store, StoreError};

use super::durable;
use super::file::connection_element;
use super::folder::SettingsFolder;
use super::index::Check;
use super::invalid::{invalid, unrepresentable};
use super::keys;
use super::locked::Locked;
use super::name::validate_name;

impl Store for SettingsFolder {
    fn location(&self) -> String {
        self.dir().display().to_string()
    }

    fn export_settings(&self, name: &str, sealed: bool) -> Result<Zeroizing<String>, StoreError> {
        self.export_connection(name, sealed)
    }

    fn import_settings(&self, path: &Path) -> Result<Vec<String>, StoreError> {
        self.import_file(path)
    }

    fn names(&self) -> Result<Vec<String>, StoreError> {
        let mut index = self.index();
        index.sync(self.dir(), Check::Metadata)?;
        Ok(index.names())
    }

    fn list(&self) -> Result<Listing, StoreError> {
        self.entries()
    }

    fn load(&self, name: &str) -> Result<Connection, StoreError> {
        let (file, at) = self.find(name)?;
        self.read_connection(&file, &at)
    }

    fn create(&self, connection: &Connection) -> Result<(), StoreError> {
        let name = connection.name.as_str();
        validate_name(name)?;
        let path = self.file_for(name);
        let platform = self.platform_for(&path, name, connection)?;
        let cs = keys::to_connection_string(connection, None)
            .map_err(|e| invalid(&path, name, e.to_string()))?;
        let stored = self.seal(&path, name, &cs.to_text())?;
        let element = connection_element(
            name,
            &[
                ("order", "10"),
                ("provider", &platform.provider),
                ("connectionString", &stored),
            ],
        )
        .map_err(|c| unrepresentable(&path, name, c))?;
        self.add_new(name, &platform.display_name, element, None)
    }

    fn lock(&self, name: &str) -> Result<Box<dyn LockedConnection>, StoreError> {
        for fresh in [false, true] {
            let path = self.locate(name, fresh)?;
            let lock = self.lock_path(&path, name)?;
            if let Some(file) = self.read_file(&path)?
                && file.find(name).is_some()
            {
                return Ok(Box::new(Locked::new(self.clone(), path, name, lock, file)));
            }
        }
        Err(StoreError::NotFound {
            name: name.to_string(),
        })
    }

    fn drop_connection(&self, name: &str) -> Result<bool, StoreError> {
        let path = match self.locate(name, false) {
            Ok(path) => path,
            Err(StoreError::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        let folder = self.lock_folder(name)?;
        let generation = folder.generation().map_err(|e| self.io(self.dir(), e))?;
        let lock = self.lock_path(&path, name)?;
        let Some(mut file) = self.read_file(&path)? else {
            return Ok(false);
        };
        let Some(at) = file.find(name).cloned() else {
            return Ok(false);
        };
        file.remove(&at);
        if file.is_empty() {
            durable::remove(&path, true).map_err(|e| self.io(&path, e))?;
            self.index().record(&path, None);
            lock.remove().map_err(|e| self.io(&path, e))?;
        } else {
            self.commit(&file)?;
        }
        self.advance_generation(&folder, generation)?;
        Ok(true)
    }

    fn put_pending(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        super::pending::put(self, pending)
    }

    fn take_pending(
        &self,
        state: &str,
        now: SystemTime,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        super::pending::take(self, state, now)
    }

    fn unfinished_login(
        &self,
        name: &str,
        now: SystemTime,
    ) -> Result<Option<Connection>, StoreError> {
        super::pending::unfinished(self, name, now)
    }
}
