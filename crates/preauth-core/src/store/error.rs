//! [`StoreError`]: what a store could not do. The lowest module of the store: every
//! other module may name these errors, and they name no other module's types but the
//! protector's.

use std::path::PathBuf;
use std::time::Duration;

/// A failure of the store. Messages name the file (and line and column where known)
/// and never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection of that name.
    #[error("no connection named '{name}'")]
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// A connection of that name exists already (on create).
    #[error("a connection named '{name}' exists already in {path}")]
    AlreadyExists {
        /// The name.
        name: String,
        /// Where it is.
        path: PathBuf,
    },
    /// The name cannot be used (empty, path separators, control characters, too long).
    #[error("'{name}' cannot be used as a connection name: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A settings file could not be parsed; it is left untouched.
    #[error("{path}:{line}:{column}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// What is wrong.
        message: String,
    },
    /// The stored connection is valid XML but not a usable connection (missing key,
    /// unknown provider, bad connection string).
    #[error("{path}: connection '{name}': {message}")]
    InvalidConnection {
        /// The file (or the table of a database store).
        path: PathBuf,
        /// The connection.
        name: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A sealed connection string could not be opened.
    #[error("{path}: connection '{name}': {source}")]
    Protect {
        /// The file (or the table of a database store).
        path: PathBuf,
        /// The connection.
        name: String,
        /// The protector's error.
        source: crate::protector::ProtectError,
    },
    /// One name is defined in two places; neither is used until one is removed.
    #[error(
        "connection '{name}' is defined in both {first} and {second}; keep one of them (drop or rename the other)"
    )]
    Duplicate {
        /// The name.
        name: String,
        /// One place.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// A settings file cannot be read; the connections of other files still work.
    #[error("{source}; the other connections still work: fix this file{}", .backup.as_ref().map(|b| format!(", or put back its previous version {}", b.display())).unwrap_or_default())]
    BrokenFile {
        /// Why (names the file, and line and column where known).
        source: Box<StoreError>,
        /// The file's previous version, when there is one.
        backup: Option<PathBuf>,
    },
    /// Another holder kept the connection's lock longer than the wait allowed.
    #[error(
        "connection '{name}' stayed locked by another process for {} s (lock file {}); if a preauth process hangs, stop it (`fuser -v {}` names it), or allow a longer wait with --lock-timeout", .waited.as_secs(), .lock.display(), .lock.display()
    )]
    LockTimeout {
        /// The connection.
        name: String,
        /// The lock file.
        lock: PathBuf,
        /// How long was waited.
        waited: Duration,
    },
    /// A store on a server could not do what was asked (refused, misconfigured, this
    /// machine not enrolled); `reason` is the sentence, with what to do.
    #[error("{location}: {reason}")]
    Backend {
        /// The store, without its password.
        location: String,
        /// What happened and what to do.
        reason: String,
        /// The database driver's error, when there is one.
        #[source]
        source: Option<BackendCause>,
    },
    /// A store on a server refused for a reason a person repairs as `advice` says (this
    /// machine not enrolled, an enrollment code spent, no store in the database);
    /// `reason` is the sentence of what happened.
    #[error("{location}: {reason}")]
    Refused {
        /// The store, without its password.
        location: String,
        /// What happened.
        reason: String,
        /// What repairs it.
        advice: Vec<crate::advice::Advice>,
    },
    /// A store on a server kept the connection's row locked for another session (on
    /// this or another machine) longer than the lock wait allowed: busy, try again.
    #[error(
        "{location}: the connection stayed locked by another process (on this or another machine) longer than the lock wait; if one hangs, end it (pg_stat_activity names it), or allow a longer wait with --lock-timeout"
    )]
    RowLocked {
        /// The store, without its password.
        location: String,
        /// The database driver's error.
        #[source]
        source: Option<BackendCause>,
    },
    /// A store on a server is down or did not answer in time (stopped, restarting, a
    /// frozen or overloaded server, or a network that drops packets): unavailable, as
    /// opposed to refusing; `reason` says what was not answered.
    #[error("{location}: {reason}")]
    Unavailable {
        /// The store, without its password.
        location: String,
        /// What was not answered, and within how long.
        reason: String,
        /// The database driver's error, when there is one.
        #[source]
        source: Option<BackendCause>,
    },
    /// A token answer could not be written to a store on a server; it is kept durably
    /// on this machine (see [`crate::spool`]) and written to the store by the next
    /// process here that touches the connection.
    #[error(
        "the answer for '{name}' could not be written to the store ({cause}); it is kept on this machine in {} and goes to the store as soon as it can be reached: any preauth command here that uses '{name}' writes it first", .path.display()
    )]
    Spooled {
        /// The connection.
        name: String,
        /// The spool file holding the answer.
        path: PathBuf,
        /// Why the store could not be written (the store's error, naming the store).
        cause: String,
    },
    /// Reading, writing or locking failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl StoreError {
    /// What repairs it, for a front end to put in its own terms (empty when there is
    /// nothing to do but what the message says).
    pub fn advice(&self) -> Vec<crate::advice::Advice> {
        match self {
            StoreError::NotFound { .. } => vec![crate::advice::Advice::ListConnections],
            // A key that cannot be read says what to do itself (which folder, which
            // variable); a connection sealed elsewhere is moved here or made anew.
            StoreError::Protect { name, source, .. }
                if source.kind != crate::protector::ProtectErrorKind::Key =>
            {
                vec![crate::advice::Advice::MoveSealedConnection {
                    connection: name.clone(),
                }]
            }
            StoreError::AlreadyExists { name, .. } => vec![crate::advice::Advice::DropOrRename {
                connection: name.clone(),
            }],
            StoreError::Refused { advice, .. } => advice.clone(),
            _ => Vec::new(),
        }
    }
}

/// The error of a store's database driver, kept as the [`std::error::Error::source`] of
/// a [`StoreError`] (the core knows no driver).
pub type BackendCause = Box<dyn std::error::Error + Send + Sync>;
