//! [`SettingsFolder`]: the [`Store`] on a folder of settings files.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use zeroize::Zeroizing;

use crate::connection::Connection;
use crate::connstr::ConnectionString;
use crate::platform::Registry;
use crate::protector::{ProtectError, ProtectErrorKind, Protector};
use crate::store::{LockedConnection, PendingAuthorization, Store, StoreError};

use super::durable::{self, FileLock};
use super::file::{Located, SettingsFile, database_in, malformed};
use super::keys::{self, KeyError};
use super::validate_name;
use super::xml::{Element, Unrepresentable};

/// One connection as found in a settings folder.
#[derive(Debug)]
pub struct Entry {
    /// The connection's name as written in the file.
    pub name: String,
    /// The file that holds it.
    pub file: PathBuf,
    /// Whether its connection string is stored sealed.
    pub sealed: bool,
    /// The connection, or why it cannot be used.
    pub connection: Result<Connection, StoreError>,
}

/// A settings folder: every `settings*.xml` in it, read and written as a [`Store`].
pub struct SettingsFolder {
    dir: PathBuf,
    registry: Registry,
    protector: Option<Arc<dyn Protector>>,
}

impl fmt::Debug for SettingsFolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SettingsFolder")
            .field("dir", &self.dir)
            .field("sealed", &self.protector.is_some())
            .finish_non_exhaustive()
    }
}

impl SettingsFolder {
    /// Opens the folder `dir`, creating it (mode 0700) when absent. Connection strings
    /// are sealed with `protector` when one is given; `registry` resolves providers.
    pub fn open(
        dir: impl Into<PathBuf>,
        registry: Registry,
        protector: Option<Arc<dyn Protector>>,
    ) -> Result<Self, StoreError> {
        let dir = dir.into();
        durable::create_dir(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(SettingsFolder {
            dir,
            registry,
            protector,
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a new connection called `name` is written to.
    pub fn file_for(&self, name: &str) -> PathBuf {
        self.dir.join(format!("settings-{name}.xml"))
    }

    /// Reads every settings file, refusing a connection name defined in two files.
    pub(super) fn scan(&self) -> Result<Vec<SettingsFile>, StoreError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| self.io(&self.dir, e))?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.io(&self.dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let lower = name.to_ascii_lowercase();
            if !(lower.starts_with("settings") && lower.ends_with(".xml")) {
                continue;
            }
            let path = entry.path();
            let is_file = match entry.file_type() {
                Ok(t) if t.is_symlink() => path.is_file(),
                Ok(t) => t.is_file(),
                Err(e) => return Err(self.io(&path, e)),
            };
            if is_file {
                paths.push(path);
            }
        }
        paths.sort();
        let mut files: Vec<SettingsFile> = Vec::with_capacity(paths.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        for path in paths {
            let Some(file) = SettingsFile::read(&path)? else {
                continue;
            };
            for at in &file.connections {
                let first = seen.insert(at.name.to_lowercase(), files.len());
                if let Some(other) = first.and_then(|i| files.get(i)) {
                    return Err(malformed(
                        &file.path,
                        at.line,
                        at.column,
                        &format!(
                            "connection '{}' is also defined in {}; keep one of them",
                            at.name,
                            other.path.display()
                        ),
                    ));
                }
            }
            files.push(file);
        }
        Ok(files)
    }

    /// Every connection in the folder, read in one pass; a connection that cannot be
    /// used is an `Err` in its place, so that one bad entry does not hide the others.
    pub fn load_all(&self) -> Result<Vec<Result<Connection, StoreError>>, StoreError> {
        Ok(self.entries()?.into_iter().map(|e| e.connection).collect())
    }

    /// Every connection in the folder with the file it is in and whether it is stored
    /// sealed, in name order, read in one pass (for listings).
    pub fn entries(&self) -> Result<Vec<Entry>, StoreError> {
        let files = self.scan()?;
        let mut all: Vec<Entry> = files
            .iter()
            .flat_map(|f| {
                f.connections.iter().map(move |at| {
                    let stored = f.database(at).and_then(|d| d.attr("connectionString"));
                    Entry {
                        name: at.name.clone(),
                        file: f.path.clone(),
                        sealed: stored.is_some_and(|text| self.is_sealed(text)),
                        connection: self.read_connection(f, at),
                    }
                })
            })
            .collect();
        all.sort_by_cached_key(|e| e.name.to_lowercase());
        Ok(all)
    }

    /// Whether a stored connection string is sealed rather than plain.
    fn is_sealed(&self, stored: &str) -> bool {
        looks_sealed(stored) || self.protector.as_ref().is_some_and(|p| p.is_sealed(stored))
    }

    /// The settings file to lock for `name`: its own `settings-<name>.xml` when that
    /// holds it (without reading the other files), else the file a scan finds it in.
    fn locate_for_lock(&self, name: &str) -> Result<PathBuf, StoreError> {
        let own = self.file_for(name);
        if validate_name(name).is_ok()
            && SettingsFile::read(&own)?.is_some_and(|f| f.find(name).is_some())
        {
            return Ok(own);
        }
        self.locate(name).map(|(file, _)| file.path)
    }

    /// The file holding connection `name`.
    fn locate(&self, name: &str) -> Result<(SettingsFile, Located), StoreError> {
        self.scan()?
            .into_iter()
            .find_map(|f| {
                let at = f.find(name)?.clone();
                Some((f, at))
            })
            .ok_or_else(|| StoreError::NotFound {
                name: name.to_string(),
            })
    }

    /// Locks the settings file at `path` (through `.<file name>.lock`, lowercased so
    /// that names differing in case share one lock).
    pub(super) fn lock_path(&self, path: &Path) -> Result<FileLock, StoreError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let lock = self.dir.join(format!(".{name}.lock"));
        FileLock::acquire(&lock).map_err(|e| self.io(&lock, e))
    }

    /// Reads the connection at `at` in `file`.
    pub(super) fn read_connection(
        &self,
        file: &SettingsFile,
        at: &Located,
    ) -> Result<Connection, StoreError> {
        let invalid = |e: KeyError| invalid(&file.path, &at.name, e.to_string());
        let database = file.database(at).ok_or_else(|| {
            invalid_message(
                &file.path,
                &at.name,
                "it has no <database> element; add <database provider=\"…\" connectionString=\"…\"/>",
            )
        })?;
        let provider = database.attr("provider").unwrap_or_default();
        let text = self.open_stored(&file.path, &at.name, database.attr("connectionString"))?;
        let cs = ConnectionString::parse(&text).map_err(|e| invalid(e.into()))?;
        keys::to_connection(&at.name, provider, &cs, &self.registry).map_err(invalid)
    }

    /// The connection string stored for `at`, opened when sealed.
    pub(super) fn stored_text(
        &self,
        file: &SettingsFile,
        at: &Located,
    ) -> Result<Zeroizing<String>, StoreError> {
        let stored = file.database(at).and_then(|d| d.attr("connectionString"));
        self.open_stored(&file.path, &at.name, stored)
    }

    /// Opens a stored connection string (sealed under `label`) or returns it as is.
    pub(super) fn open_stored(
        &self,
        path: &Path,
        label: &str,
        stored: Option<&str>,
    ) -> Result<Zeroizing<String>, StoreError> {
        let stored = stored.unwrap_or_default();
        if !self.is_sealed(stored) {
            return Ok(Zeroizing::new(stored.to_string()));
        }
        let advice = format!(
            "run `preauthenticate` again on this machine, or `export settings {label} plain` on the machine that sealed it"
        );
        let source = match &self.protector {
            None => ProtectError {
                kind: ProtectErrorKind::Key,
                message: format!(
                    "the connection string is sealed but no device key is in use here; {advice}"
                ),
            },
            Some(p) => match p.open(stored, label) {
                Ok(text) => return Ok(text),
                Err(e) => ProtectError {
                    kind: e.kind,
                    message: format!("{}; {advice}", e.message),
                },
            },
        };
        Err(StoreError::Protect {
            path: path.to_path_buf(),
            name: label.to_string(),
            source,
        })
    }

    /// Seals `text` under `label` when a protector is in use; `None` returns it as is.
    pub(super) fn seal(&self, path: &Path, label: &str, text: &str) -> Result<String, StoreError> {
        match &self.protector {
            None => Ok(text.to_string()),
            Some(p) => p.seal(text, label).map_err(|source| StoreError::Protect {
                path: path.to_path_buf(),
                name: label.to_string(),
                source,
            }),
        }
    }

    /// Seals `text` under `label`; fails without a protector.
    pub(super) fn seal_required(
        &self,
        path: &Path,
        label: &str,
        text: &str,
    ) -> Result<String, StoreError> {
        if self.protector.is_none() {
            return Err(StoreError::Protect {
                path: path.to_path_buf(),
                name: label.to_string(),
                source: ProtectError {
                    kind: ProtectErrorKind::Key,
                    message: "sealing needs the device key, which is not in use in this run; export plain instead".into(),
                },
            });
        }
        self.seal(path, label, text)
    }

    /// Writes `connection` into the `database` element of `at` (provider and
    /// connection string only).
    fn write_connection(
        &self,
        file: &mut SettingsFile,
        at: &Located,
        connection: &Connection,
    ) -> Result<(), StoreError> {
        let path = file.path.clone();
        let platform = self.registry.get(&connection.platform).ok_or_else(|| {
            invalid(
                &path,
                &at.name,
                KeyError::UnknownPlatform {
                    id: connection.platform.clone(),
                }
                .to_string(),
            )
        })?;
        let previous = match file.database(at).and_then(|d| d.attr("connectionString")) {
            Some(stored) if !stored.is_empty() => {
                let text = self.open_stored(&path, &at.name, Some(stored))?;
                Some(
                    ConnectionString::parse(&text)
                        .map_err(|e| invalid(&path, &at.name, KeyError::from(e).to_string()))?,
                )
            }
            _ => None,
        };
        let cs = keys::to_connection_string(connection, previous.as_ref())
            .map_err(|e| invalid(&path, &at.name, e.to_string()))?;
        let stored = self.seal(&path, &at.name, &cs.to_text())?;
        let database = file.database_mut(at).ok_or_else(|| {
            invalid_message(&path, &at.name, "its <database> element cannot be written")
        })?;
        database
            .set_attr("provider", &platform.provider)
            .and_then(|()| database.set_attr("connectionString", &stored))
            .map_err(|c| unrepresentable(&path, &at.name, c))
    }

    /// Writes `file` durably, keeping its previous version as backup.
    pub(super) fn commit(&self, file: &SettingsFile) -> Result<(), StoreError> {
        let previous = file.existed().then_some(file.bytes.as_slice());
        durable::replace(&file.path, &file.to_bytes(), previous).map_err(|e| self.io(&file.path, e))
    }

    /// Adds a `connection` element called `name` in group `group` to
    /// `settings-<name>.xml`, unless the name is taken. A new file declares the
    /// namespaces of `source` (the file the element was copied from).
    pub(super) fn add_new(
        &self,
        name: &str,
        group: &str,
        connection: Element,
        source: Option<&SettingsFile>,
    ) -> Result<(), StoreError> {
        validate_name(name)?;
        let path = self.file_for(name);
        let _lock = self.lock_path(&path)?;
        let files = self.scan()?;
        if let Some(taken) = files.iter().find(|f| f.find(name).is_some()) {
            return Err(StoreError::AlreadyExists {
                name: name.to_string(),
                path: taken.path.clone(),
            });
        }
        let unrepresentable = |c| unrepresentable(&path, name, c);
        let mut file = match files.into_iter().find(|f| f.path == path) {
            Some(file) => file,
            None => {
                let mut file = SettingsFile::new_empty(&path).map_err(unrepresentable)?;
                if let Some(source) = source {
                    file.adopt_namespaces(source).map_err(unrepresentable)?;
                }
                file
            }
        };
        file.insert(group, connection).map_err(unrepresentable)?;
        self.commit(&file)
    }

    fn io(&self, path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The registry providers are resolved with.
    pub(super) fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// Whether `text` has the shape of a sealed token (`scheme:payload`, one word) rather
/// than a connection string, so that a sealed string is recognized without a protector.
fn looks_sealed(text: &str) -> bool {
    let Some((scheme, payload)) = text.split_once(':') else {
        return false;
    };
    (1..=16).contains(&scheme.len())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric())
        && !payload.is_empty()
        && !payload.contains(';')
        && !payload.chars().any(char::is_whitespace)
}

fn invalid(path: &Path, name: &str, message: String) -> StoreError {
    StoreError::InvalidConnection {
        path: path.to_path_buf(),
        name: name.to_string(),
        message,
    }
}

fn invalid_message(path: &Path, name: &str, message: &str) -> StoreError {
    invalid(path, name, message.to_string())
}

pub(super) fn unrepresentable(path: &Path, name: &str, c: Unrepresentable) -> StoreError {
    invalid(
        path,
        name,
        format!(
            "a value contains character U+{:04X}, which a settings file cannot hold; remove it",
            u32::from(c.0)
        ),
    )
}

/// A connection whose file is locked.
struct Locked<'a> {
    folder: &'a SettingsFolder,
    path: PathBuf,
    name: String,
    _lock: FileLock,
}

impl Locked<'_> {
    fn reread(&self) -> Result<(SettingsFile, Located), StoreError> {
        let not_found = || StoreError::NotFound {
            name: self.name.clone(),
        };
        let file = SettingsFile::read(&self.path)?.ok_or_else(not_found)?;
        let at = file.find(&self.name).cloned().ok_or_else(not_found)?;
        Ok((file, at))
    }
}

impl LockedConnection for Locked<'_> {
    fn load(&mut self) -> Result<Connection, StoreError> {
        let (file, at) = self.reread()?;
        self.folder.read_connection(&file, &at)
    }

    fn save(&mut self, connection: &Connection) -> Result<(), StoreError> {
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
        self.folder.commit(&file)
    }
}

impl Store for SettingsFolder {
    fn names(&self) -> Result<Vec<String>, StoreError> {
        let mut names: Vec<String> = self
            .scan()?
            .into_iter()
            .flat_map(|f| f.connections.into_iter().map(|l| l.name))
            .collect();
        names.sort_by_key(|n| n.to_lowercase());
        Ok(names)
    }

    fn load(&self, name: &str) -> Result<Connection, StoreError> {
        let (file, at) = self.locate(name)?;
        self.read_connection(&file, &at)
    }

    fn create(&self, connection: &Connection) -> Result<(), StoreError> {
        let name = connection.name.as_str();
        validate_name(name)?;
        let path = self.file_for(name);
        let platform = self.registry.get(&connection.platform).ok_or_else(|| {
            invalid(
                &path,
                name,
                KeyError::UnknownPlatform {
                    id: connection.platform.clone(),
                }
                .to_string(),
            )
        })?;
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

    fn lock(&self, name: &str) -> Result<Box<dyn LockedConnection + '_>, StoreError> {
        let path = self.locate_for_lock(name)?;
        let lock = self.lock_path(&path)?;
        Ok(Box::new(Locked {
            folder: self,
            path,
            name: name.to_string(),
            _lock: lock,
        }))
    }

    fn drop_connection(&self, name: &str) -> Result<bool, StoreError> {
        let path = match self.locate(name) {
            Ok((file, _)) => file.path,
            Err(StoreError::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        let lock = self.lock_path(&path)?;
        let Some(mut file) = SettingsFile::read(&path)? else {
            return Ok(false);
        };
        let Some(at) = file.find(name).cloned() else {
            return Ok(false);
        };
        file.remove(&at);
        if file.is_empty() {
            durable::remove(&path, true).map_err(|e| self.io(&path, e))?;
            lock.remove().map_err(|e| self.io(&path, e))?;
        } else {
            self.commit(&file)?;
        }
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
}

/// `<connection name="…"><database …/></connection>`.
fn connection_element(name: &str, database: &[(&str, &str)]) -> Result<Element, Unrepresentable> {
    let mut connection = Element::new("connection", &[("name", name)])?;
    connection.append_child(Element::new("database", database)?, 3);
    Ok(connection)
}

/// Sets the connection string of a detached `connection` element.
pub(super) fn set_connection_string(
    connection: &mut Element,
    stored: &str,
) -> Result<(), Unrepresentable> {
    match database_in(connection) {
        Some(db) => db.set_attr("connectionString", stored),
        None => Ok(()),
    }
}
