//! [`SettingsFolder`]: the [`Store`] on a folder of settings files.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use zeroize::Zeroizing;

use crate::connection::{Connection, fold_name};
use crate::connstr::ConnectionString;
use crate::platform::{Platform, Registry};
use crate::protector::Protector;
use crate::sealing::Sealer;
use crate::store::{Listed, Listing, LockedConnection, PendingAuthorization, Store, StoreError};

use super::durable::{self, FileLock};
use super::file::{Located, SettingsFile, database_in};
use super::index::{self, Broken, Check, Index};
use super::keys::{self, KeyError};
use super::locked::Locked;
use super::validate_name;
use super::xml::{Element, Unrepresentable};

/// The name the folder's lock file is made from (`.settings-folder.lock`, see
/// `SettingsFolder::lock_folder`); the file holds the folder's generation.
const FOLDER_LOCK_STEM: &str = "settings-folder";

/// How long a lock is waited for unless configured otherwise.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60);

/// A settings folder: every `settings*.xml` in it, read and written as a [`Store`].
/// Cheap to clone (shared): a locked connection keeps its own handle.
#[derive(Clone)]
pub struct SettingsFolder {
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    registry: Registry,
    sealer: Sealer,
    /// Longest wait for a lock held by someone else.
    lock_wait: Duration,
    /// Which file holds which connection (a hint; see [`super::index`]).
    index: Mutex<Index>,
}

impl fmt::Debug for SettingsFolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SettingsFolder")
            .field("dir", &self.shared.dir)
            .field("sealed", &self.shared.sealer.seals())
            .finish_non_exhaustive()
    }
}

impl SettingsFolder {
    /// Opens the folder `dir`, creating it (mode 0700) when absent. Connection strings
    /// are sealed with `protector` when one is given; `registry` resolves providers.
    /// Locks are waited for at most [`DEFAULT_LOCK_WAIT`]; see
    /// [`SettingsFolder::with_lock_wait`].
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
            shared: Arc::new(Shared {
                dir,
                registry,
                sealer: Sealer::new(protector),
                lock_wait: DEFAULT_LOCK_WAIT,
                index: Mutex::new(Index::default()),
            }),
        })
    }

    /// The same folder, waiting at most `wait` for a lock another holder keeps.
    pub fn with_lock_wait(self, wait: Duration) -> Self {
        self.rebuilt(wait, self.shared.sealer.clone())
    }

    /// The same folder, sealing and opening with `sealer` (another store's protector
    /// for a folder it reads, or none).
    pub fn with_sealer(self, sealer: Sealer) -> Self {
        self.rebuilt(self.shared.lock_wait, sealer)
    }

    /// The same folder with other options and a fresh index.
    fn rebuilt(&self, lock_wait: Duration, sealer: Sealer) -> Self {
        SettingsFolder {
            shared: Arc::new(Shared {
                dir: self.shared.dir.clone(),
                registry: self.shared.registry.clone(),
                sealer,
                lock_wait,
                index: Mutex::new(Index::default()),
            }),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The file a new connection called `name` is written to.
    pub fn file_for(&self, name: &str) -> PathBuf {
        self.shared.dir.join(format!("settings-{name}.xml"))
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.shared
            .index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads every settings file in one pass, handing each to `each` (one file in
    /// memory at a time), and returns the files that could not be read. Updates the
    /// index on the way.
    fn scan(&self, each: &mut dyn FnMut(&SettingsFile)) -> Result<Vec<StoreError>, StoreError> {
        let mut listed = index::candidates(self.dir())?;
        // File names, not paths: comparing paths parses them component by component.
        listed
            .files
            .sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
        for candidate in &listed.files {
            let read = SettingsFile::read(&candidate.path);
            let content = match &read {
                Ok(Some(file)) => Ok(file.connections.iter().map(|l| l.name.clone()).collect()),
                Ok(None) => continue,
                Err(e) => Err(Broken::from_error(e)),
            };
            self.index().record_read(candidate, content);
            if let Ok(Some(file)) = read {
                each(&file);
            }
        }
        let mut index = self.index();
        index.finish_pass(listed);
        Ok(index.problems())
    }

    /// Every connection in the folder with the file it is in and whether it is stored
    /// sealed, in name order, read in one pass (for listings), one file in memory at a
    /// time. A name defined in two files is an error in both places; a file that cannot
    /// be read is a problem of its own, and the other files' connections are listed all
    /// the same.
    pub fn entries(&self) -> Result<Listing, StoreError> {
        let mut all: Vec<Listed> = Vec::new();
        let problems = self.scan(&mut |f| {
            for at in &f.connections {
                let stored = f.database(at).and_then(|d| d.attr("connectionString"));
                all.push(Listed {
                    name: at.name.clone(),
                    location: f.path.display().to_string(),
                    sealed: stored.is_some_and(|text| self.is_sealed(text)),
                    connection: self.read_connection(f, at),
                });
            }
        })?;
        all.sort_by_cached_key(|e| fold_name(&e.name));
        // Sorted by name (stably, so in file order), a name defined twice is a run of
        // neighbours: each of them gets the error.
        for run in all.chunk_by_mut(|a, b| fold_name(&a.name) == fold_name(&b.name)) {
            let places = match &*run {
                [first, second, ..] => (
                    PathBuf::from(&first.location),
                    PathBuf::from(&second.location),
                ),
                _ => continue,
            };
            for listed in run.iter_mut() {
                listed.connection = Err(StoreError::Duplicate {
                    name: listed.name.clone(),
                    first: places.0.clone(),
                    second: places.1.clone(),
                });
            }
        }
        Ok(Listing {
            connections: all,
            problems,
        })
    }

    /// Every connection in the folder, read in one pass; a connection that cannot be
    /// used is an `Err` in its place, so that one bad entry does not hide the others.
    pub fn load_all(&self) -> Result<Vec<Result<Connection, StoreError>>, StoreError> {
        Ok(self
            .entries()?
            .connections
            .into_iter()
            .map(|e| e.connection)
            .collect())
    }

    /// Whether a stored connection string is sealed rather than plain.
    fn is_sealed(&self, stored: &str) -> bool {
        self.shared.sealer.is_sealed(stored)
    }

    /// The file holding connection `name`, from the index (listing the folder again
    /// when the index does not know the name, or when `fresh`).
    pub(super) fn locate(&self, name: &str, fresh: bool) -> Result<PathBuf, StoreError> {
        let mut index = self.index();
        if fresh || !index.is_synced() {
            index.sync(self.dir(), Check::Metadata)?;
        } else if index.files_of(name).is_empty() {
            // Unknown here: list the folder again unless nothing can have brought the
            // name since it was last listed: no other process added a connection (the
            // folder's generation) and no file appeared (the folder's modification
            // time). Asking for many new names (a batch of registrations) then does not
            // list the folder each time.
            let unchanged = index.listing_is_current(self.dir())
                && self
                    .peek_generation()
                    .is_some_and(|g| index.is_at_generation(g));
            if !unchanged {
                let generation = self.peek_generation();
                index.sync(self.dir(), Check::Metadata)?;
                if let Some(generation) = generation {
                    index.listed_at_generation(generation);
                }
            }
        }
        match index.files_of(name) {
            [] => Err(StoreError::NotFound {
                name: name.to_string(),
            }),
            [one] => Ok(one.clone()),
            [first, second, ..] => Err(StoreError::Duplicate {
                name: name.to_string(),
                first: first.clone(),
                second: second.clone(),
            }),
        }
    }

    /// Reads connection `name` from the file the index points to; when the file does
    /// not (or no longer) hold it, lists the folder again and retries once.
    pub(super) fn find(&self, name: &str) -> Result<(SettingsFile, Located), StoreError> {
        for fresh in [false, true] {
            let path = self.locate(name, fresh)?;
            if let Some(file) = self.read_file(&path)?
                && let Some(at) = file.find(name).cloned()
            {
                return Ok((file, at));
            }
        }
        Err(StoreError::NotFound {
            name: name.to_string(),
        })
    }

    /// Reads one settings file and tells the index what it holds.
    pub(super) fn read_file(&self, path: &Path) -> Result<Option<SettingsFile>, StoreError> {
        let read = SettingsFile::read(path);
        let content = match &read {
            Ok(Some(file)) => Some(Ok(file
                .connections
                .iter()
                .map(|l| l.name.clone())
                .collect())),
            Ok(None) => None,
            Err(e) => Some(Err(Broken::from_error(e))),
        };
        self.index().record(path, content);
        read
    }

    /// Removes the temporary files that writers left behind (killed before renaming
    /// them) among those the last listing of the folder came across: no listing of its
    /// own, and each file looked at once per listing.
    fn remove_leftovers(&self) {
        let leftovers = self.index().take_leftovers();
        durable::remove_stale_temps(&leftovers);
    }

    /// Locks the settings file at `path` (through `.<file name>.lock`, lowercased so
    /// that names differing in case share one lock), waiting at most the folder's lock
    /// wait. A writer first removes the leftovers of writers that are gone.
    pub(super) fn lock_path(&self, path: &Path, what: &str) -> Result<FileLock, StoreError> {
        self.remove_leftovers();
        let name = path
            .file_name()
            .map(|n| fold_name(&n.to_string_lossy()))
            .unwrap_or_default();
        let lock = self.shared.dir.join(format!(".{name}.lock"));
        FileLock::acquire(&lock, self.shared.lock_wait).map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                StoreError::LockTimeout {
                    name: what.to_string(),
                    lock: lock.clone(),
                    waited: self.shared.lock_wait,
                }
            } else {
                self.io(&lock, e)
            }
        })
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
        let text =
            self.open_connection_string(&file.path, &at.name, database.attr("connectionString"))?;
        let cs = ConnectionString::parse(&text).map_err(|e| invalid(e.into()))?;
        keys::to_connection(&at.name, provider, &cs, &self.shared.registry).map_err(invalid)
    }

    /// The connection string stored for `at`, opened when sealed.
    pub(super) fn stored_text(
        &self,
        file: &SettingsFile,
        at: &Located,
    ) -> Result<Zeroizing<String>, StoreError> {
        let stored = file.database(at).and_then(|d| d.attr("connectionString"));
        self.open_connection_string(&file.path, &at.name, stored)
    }

    /// Opens the stored `connectionString` of connection `name` (see
    /// [`Sealer::open_connection_string`]), naming `path` in errors.
    pub(super) fn open_connection_string(
        &self,
        path: &Path,
        name: &str,
        stored: Option<&str>,
    ) -> Result<Zeroizing<String>, StoreError> {
        self.shared
            .sealer
            .open_connection_string(name, stored)
            .map_err(|source| protect(path, name, source))
    }

    /// Seals `text` under `label` when a protector is in use; `None` returns it as is.
    pub(super) fn seal(&self, path: &Path, label: &str, text: &str) -> Result<String, StoreError> {
        self.shared
            .sealer
            .seal(label, text)
            .map_err(|source| protect(path, label, source))
    }

    /// Seals `text` under `label`; fails without a protector.
    pub(super) fn seal_required(
        &self,
        path: &Path,
        label: &str,
        text: &str,
    ) -> Result<String, StoreError> {
        self.shared
            .sealer
            .seal_required(label, text)
            .map_err(|source| protect(path, label, source))
    }

    /// How this folder seals.
    pub fn sealer(&self) -> &Sealer {
        &self.shared.sealer
    }

    /// Writes `connection` into the `database` element of `at` (provider and
    /// connection string only).
    /// The platform `connection` names, or an error about connection `name` in `path`.
    fn platform_for(
        &self,
        path: &Path,
        name: &str,
        connection: &Connection,
    ) -> Result<Arc<Platform>, StoreError> {
        self.shared
            .registry
            .get(&connection.platform)
            .ok_or_else(|| {
                let id = connection.platform.clone();
                invalid(path, name, KeyError::UnknownPlatform { id }.to_string())
            })
    }

    pub(super) fn write_connection(
        &self,
        file: &mut SettingsFile,
        at: &Located,
        connection: &Connection,
    ) -> Result<(), StoreError> {
        let path = file.path.clone();
        let platform = self.platform_for(&path, &at.name, connection)?;
        let previous = match file.database(at).and_then(|d| d.attr("connectionString")) {
            Some(stored) if !stored.is_empty() => {
                let text = self.open_connection_string(&path, &at.name, Some(stored))?;
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

    /// Writes `file` durably, keeping its previous version as backup, and tells the
    /// index what it now holds.
    pub(super) fn commit(&self, file: &SettingsFile) -> Result<(), StoreError> {
        durable::replace(&file.path, &file.to_bytes(), true).map_err(|e| self.io(&file.path, e))?;
        self.remember(file);
        Ok(())
    }

    /// Tells the index what `file` holds after this process wrote it.
    pub(super) fn remember(&self, file: &SettingsFile) {
        let names = file.connections.iter().map(|l| l.name.clone()).collect();
        self.index().record(&file.path, Some(Ok(names)));
    }

    /// Adds a `connection` element called `name` in group `group` to
    /// `settings-<name>.xml`, unless the name is taken. A new file declares the
    /// namespaces of `source` (the file the element was copied from). The folder is
    /// listed once under the lock (not read whole), so that adding many connections
    /// costs each one its own file, not the folder.
    pub(super) fn add_new(
        &self,
        name: &str,
        group: &str,
        connection: Element,
        source: Option<&SettingsFile>,
    ) -> Result<(), StoreError> {
        validate_name(name)?;
        let path = self.file_for(name);
        let folder = self.lock_folder(name)?;
        let generation = folder.generation().map_err(|e| self.io(self.dir(), e))?;
        let _lock = self.lock_path(&path, name)?;
        {
            let mut index = self.index();
            index.sync_unless(self.dir(), generation)?;
            if !index.files_of(name).is_empty() {
                // Taken, or dropped by hand since: look at the files themselves.
                index.sync(self.dir(), Check::Metadata)?;
            }
            if let Some(taken) = index.files_of(name).first() {
                return Err(StoreError::AlreadyExists {
                    name: name.to_string(),
                    path: taken.clone(),
                });
            }
        }
        // This call took its locks before it listed the folder: what the listing came
        // across goes now.
        self.remove_leftovers();
        let unrepresentable = |c| unrepresentable(&path, name, c);
        let mut file = match self.read_file(&path)? {
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
        self.commit(&file)?;
        self.advance_generation(&folder, generation)
    }

    /// Takes the folder's lock, held by everything that adds or removes connections:
    /// with it comes the folder's generation, a counter those holders raise, so that a
    /// process adding many connections lists the folder again only when another process
    /// added or removed one in between (adding stays linear in the number of
    /// connections). Taken before any connection's own lock.
    fn lock_folder(&self, what: &str) -> Result<FileLock, StoreError> {
        self.lock_path(&self.dir().join(FOLDER_LOCK_STEM), what)
    }

    /// The folder's generation as last written, read without taking the lock (a hint:
    /// `None` when it cannot be read).
    fn peek_generation(&self) -> Option<u64> {
        let bytes = std::fs::read(self.dir().join(format!(".{FOLDER_LOCK_STEM}.lock"))).ok()?;
        Some(
            match bytes.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                Some(b) => u64::from_le_bytes(b),
                None => 0,
            },
        )
    }

    /// Raises the folder's generation after this process changed which names exist.
    fn advance_generation(&self, folder: &FileLock, seen: u64) -> Result<(), StoreError> {
        let next = seen.wrapping_add(1);
        folder
            .set_generation(next)
            .map_err(|e| self.io(self.dir(), e))?;
        let mut index = self.index();
        if index.advance(seen, next) {
            index.note_own_change(self.dir());
        }
        Ok(())
    }

    fn io(&self, path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The registry providers are resolved with.
    pub(super) fn registry(&self) -> &Registry {
        &self.shared.registry
    }
}

/// A protector's refusal for connection (or label) `name` in `path`.
fn protect(path: &Path, name: &str, source: crate::protector::ProtectError) -> StoreError {
    StoreError::Protect {
        path: path.to_path_buf(),
        name: name.to_string(),
        source,
    }
}

pub(super) fn invalid(path: &Path, name: &str, message: String) -> StoreError {
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

/// `<connection name="…"><database …/></connection>`.
pub(super) fn connection_element(
    name: &str,
    database: &[(&str, &str)],
) -> Result<Element, Unrepresentable> {
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
