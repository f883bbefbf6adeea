//! Where connections live: the [`Store`] trait.
//!
//! The lifecycle never touches files. It asks a store for a [`LockedConnection`]
//! (a cross-process exclusive lock on one connection), reads the connection under
//! that lock, talks to the platform, writes the result durably, and drops the lock:
//!
//! ```text
//! lock -> load (re-read) -> refresh only if still needed -> save (durable) -> unlock
//! ```
//!
//! The embedded implementation is the settings folder ([`crate::settings`]). A second
//! implementation on PostgreSQL maps `lock` to a transaction with
//! `SELECT … FOR UPDATE` on the connection's row, `load`/`save` to that row, and the
//! drop of the guard to `COMMIT`; the lifecycle code does not change.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use zeroize::Zeroizing;

use crate::connection::Connection;
use crate::documents::Documents;
use crate::protector::Protector;
use crate::secret::{PkceVerifier, RefreshToken, StateToken};

mod error;

pub use error::{BackendCause, StoreError};

/// How long a pending authorization is kept after it expired: it cannot be finished any
/// more, but a new login can start from its app settings ([`Store::unfinished_login`]).
pub const UNFINISHED_LOGIN_KEPT: Duration = Duration::from_secs(24 * 3600);

/// An authorization that was started (URL shown to the user) and waits for its return
/// URL. Kept in the store so that another process can finish it; used at most once.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    /// The `state` sent with the authorization URL.
    pub state: StateToken,
    /// The connection to create once the code is exchanged (no tokens yet).
    pub connection: Connection,
    /// The PKCE verifier, when a challenge was sent.
    pub pkce_verifier: Option<PkceVerifier>,
    /// The OpenID Connect nonce, when one was sent.
    pub nonce: Option<String>,
    /// After this the pending authorization is useless (codes live minutes).
    pub expires_at: SystemTime,
}

/// One connection as listed by [`Store::list`].
#[derive(Debug)]
pub struct Listed {
    /// The connection's name as stored.
    pub name: String,
    /// Where it is kept (a file, a table), for people.
    pub location: String,
    /// Whether its secrets are stored sealed.
    pub sealed: bool,
    /// The connection, or why it cannot be used.
    pub connection: Result<Connection, StoreError>,
}

/// Everything in a store, read in one pass.
#[derive(Debug, Default)]
pub struct Listing {
    /// Every connection, sorted by name (case-insensitively).
    pub connections: Vec<Listed>,
    /// What could not be read at all (a settings file that does not parse). The
    /// connections elsewhere are listed all the same.
    pub problems: Vec<StoreError>,
}

/// Which connections a page of a listing holds: those whose names contain `containing`
/// (ignoring case), after `after` in name order, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Only names after this one (in [`fold_name`](crate::connection::fold_name) order).
    pub after: Option<String>,
    /// At most this many.
    pub limit: usize,
    /// Only names that contain this (ignoring case).
    pub containing: Option<String>,
}

impl Page {
    /// Whether `name` may be on this page (`after` aside from the order).
    pub fn matches(&self, name: &str) -> bool {
        let folded = crate::connection::fold_name(name);
        self.containing
            .as_deref()
            .is_none_or(|part| folded.contains(&crate::connection::fold_name(part)))
    }
}

/// One page of outlines, and how many connections match the page's filter in all.
#[derive(Debug, Default)]
pub struct PagedListing {
    /// The page (its `problems` are the whole store's).
    pub listing: Listing,
    /// How many connections match the filter, on every page.
    pub total: usize,
    /// The `after` of the next page, when there is one.
    pub next: Option<String>,
}

/// A connection held under an exclusive, cross-process lock. Dropping it unlocks.
pub trait LockedConnection: Send {
    /// Reads the connection as stored now (never a cached copy).
    fn load(&mut self) -> Result<Connection, StoreError>;

    /// Makes everything a [`LockedConnection::save`] of a connection like `connection`
    /// needs ready (sealing keys, disk space, the backup), so that after a platform
    /// answers only the write itself remains. Called before a refresh token is spent:
    /// an error here means nothing was sent.
    fn prepare_save(&mut self, connection: &Connection) -> Result<(), StoreError>;

    /// Writes the connection durably before returning (temp file, fsync, rename,
    /// fsync of the folder, or a committed row). Only after this returns may an access
    /// token from a new token response be used or shown.
    fn save(&mut self, connection: &Connection) -> Result<(), StoreError>;
}

/// A machine that holds a key slot of a shared store (see [`Fleet`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// The slot's name (`user@host` for a device key, `key file …` for a key file,
    /// `enrollment …` for an unused enrollment code).
    pub name: String,
    /// `device`, `key file` or `enrollment`.
    pub kind: String,
    /// When the slot was made.
    pub created_at: SystemTime,
    /// When the slot last opened the store, if ever.
    pub last_used_at: Option<SystemTime>,
    /// When an enrollment code stops working.
    pub expires_at: Option<SystemTime>,
    /// Whether it is the slot this process opened the store with.
    pub this_machine: bool,
}

/// A store shared by several machines, each holding the store's data key in a key slot
/// of its own (sealed with its device key or a key file).
pub trait Fleet: Send + Sync {
    /// A one-time enrollment code, valid for `valid_for`, that turns into a key slot of
    /// the machine that uses it ([`Fleet::enroll`]). Only an enrolled machine makes one.
    fn enrollment_code(&self, valid_for: Duration) -> Result<Zeroizing<String>, StoreError>;

    /// Enrolls this machine with a code from [`Fleet::enrollment_code`]: the code's
    /// slot becomes this machine's own and is deleted. Returns this machine's slot name.
    fn enroll(&self, code: &str) -> Result<String, StoreError>;

    /// The machines (and unused enrollment codes) that hold a key slot.
    fn machines(&self) -> Result<Vec<Machine>, StoreError>;

    /// Removes machine `name`'s key slot; returns whether it existed. The last slot
    /// that opens the store is never removed.
    fn drop_machine(&self, name: &str) -> Result<bool, StoreError>;
}

/// A place that keeps connections.
pub trait Store: Send + Sync {
    /// The store's enrolled machines, when it is shared by several (`None`: one
    /// machine's store, such as a settings folder).
    fn fleet(&self) -> Option<&dyn Fleet> {
        None
    }

    /// The documents (user-defined platforms, API keys) this store keeps itself, so that
    /// every machine using it shares them (`None`: they are files in this machine's
    /// settings folder, see [`crate::documents::FolderDocuments`]).
    fn documents(&self) -> Option<Arc<dyn Documents>> {
        None
    }

    /// The protector of the secrets this store keeps besides connections (webhook
    /// secrets), the same on every machine using it (`None`: the caller's own protector,
    /// the device key, as for a settings folder).
    fn secrets_protector(&self) -> Result<Option<Arc<dyn Protector>>, StoreError> {
        Ok(None)
    }

    /// Where the connections are, for people: a folder, or a database without its
    /// password.
    fn location(&self) -> String;

    /// The names of all connections, sorted case-insensitively.
    fn names(&self) -> Result<Vec<String>, StoreError>;

    /// Every connection, read in one pass (for listings, monitoring and keep-alive:
    /// nothing that works over many connections reads the store once per connection).
    fn list(&self) -> Result<Listing, StoreError>;

    /// Every connection as its outline (no secret: see
    /// [`crate::settings::keys::outline`]), read in one pass: what listings and monitoring
    /// need. A store that keeps outlines beside the sealed text lists them without opening
    /// anything; this default opens every connection ([`Store::list`]).
    fn outlines(&self) -> Result<Listing, StoreError> {
        let mut listing = self.list()?;
        for listed in &mut listing.connections {
            if let Ok(connection) = &mut listed.connection {
                *connection = crate::settings::keys::outline(connection);
            }
        }
        Ok(listing)
    }

    /// Connection `name` as [`Store::list`] would list it (where it is kept, whether
    /// sealed), or why it cannot be used; [`StoreError::NotFound`] when there is none. A
    /// store that can read one connection alone does; this default reads the listing.
    fn listed(&self, name: &str) -> Result<Listed, StoreError> {
        let folded = crate::connection::fold_name(name);
        self.list()?
            .connections
            .into_iter()
            .find(|l| crate::connection::fold_name(&l.name) == folded)
            .ok_or_else(|| StoreError::NotFound { name: name.into() })
    }

    /// Hands every connection's *summary* to `each`, in name order, and returns the
    /// store's problems (files that cannot be read): for work over every connection that
    /// judges only a little of each (monitoring). A summary is an outline (see
    /// [`Store::outlines`]) that may lack what monitoring does not judge (URLs, client
    /// id). A store on a server reads a batch at a time from plain columns, so neither
    /// time nor memory go to opening or parsing; this default reads one listing of
    /// outlines.
    fn for_each_summary(
        &self,
        each: &mut dyn FnMut(Listed),
    ) -> Result<Vec<StoreError>, StoreError> {
        let listing = self.outlines()?;
        listing.connections.into_iter().for_each(each);
        Ok(listing.problems)
    }

    /// One page of [`Store::outlines`]: a store on a server reads only that page (and a
    /// count); this default filters the whole listing.
    fn outline_page(&self, page: &Page) -> Result<PagedListing, StoreError> {
        let listing = self.outlines()?;
        let after = page.after.as_deref().map(crate::connection::fold_name);
        let mut matching: Vec<Listed> = listing
            .connections
            .into_iter()
            .filter(|l| page.matches(&l.name))
            .collect();
        let total = matching.len();
        matching.retain(|l| {
            after
                .as_deref()
                .is_none_or(|after| crate::connection::fold_name(&l.name).as_str() > after)
        });
        let more = matching.len() > page.limit;
        matching.truncate(page.limit);
        let next = more
            .then(|| matching.last().map(|l| l.name.clone()))
            .flatten();
        Ok(PagedListing {
            listing: Listing {
                connections: matching,
                problems: listing.problems,
            },
            total,
            next,
        })
    }

    /// The names of the connections whose refresh token is `token`, when the store can
    /// find them without opening every connection (it keeps a hash of each refresh
    /// token); `None` when it cannot, and the caller looks through [`Store::list`].
    fn holders_of(&self, token: &RefreshToken) -> Result<Option<Vec<String>>, StoreError> {
        let _ = token;
        Ok(None)
    }

    /// Reads one connection without locking (for display and checks).
    fn load(&self, name: &str) -> Result<Connection, StoreError>;

    /// Creates a new connection durably; fails with [`StoreError::AlreadyExists`] when
    /// the name is taken.
    fn create(&self, connection: &Connection) -> Result<(), StoreError>;

    /// Locks an existing connection for a read-modify-write cycle. Waits for another
    /// holder at most the store's lock wait, then fails with
    /// [`StoreError::LockTimeout`]. May block the calling thread: async callers run it
    /// on a blocking thread.
    fn lock(&self, name: &str) -> Result<Box<dyn LockedConnection>, StoreError>;

    /// Like [`Store::lock`], but `None` at once when another holder has the connection
    /// locked now: a keep-alive that several machines run together leaves it to that
    /// holder (PostgreSQL's `SKIP LOCKED`). A store that cannot tell waits, as `lock`.
    fn lock_unless_held(
        &self,
        name: &str,
    ) -> Result<Option<Box<dyn LockedConnection>>, StoreError> {
        self.lock(name).map(Some)
    }

    /// Removes a connection; returns whether it existed.
    fn drop_connection(&self, name: &str) -> Result<bool, StoreError>;

    /// Keeps a pending authorization until its return URL arrives (secrets sealed
    /// when a protector is configured). Expired ones may be purged here.
    fn put_pending(&self, pending: &PendingAuthorization) -> Result<(), StoreError>;

    /// Removes and returns the pending authorization whose `state` equals `state`
    /// (compared in constant time), if any and not expired at `now`.
    fn take_pending(
        &self,
        state: &str,
        now: SystemTime,
    ) -> Result<Option<PendingAuthorization>, StoreError>;

    /// The connection (app settings as typed, no tokens) of the latest login started
    /// for `name` that never finished, expired or not, while the store still keeps it
    /// ([`UNFINISHED_LOGIN_KEPT`] after it expired): a new login can start from it
    /// without the client secret being typed again. A store that does not keep them
    /// answers `None`.
    fn unfinished_login(
        &self,
        name: &str,
        now: SystemTime,
    ) -> Result<Option<Connection>, StoreError> {
        let _ = (name, now);
        Ok(None)
    }

    /// A complete settings file holding only connection `name` (`export settings`):
    /// its connection string plain, or sealed with this store's protector when
    /// `sealed`. Plain output holds secrets: it is wiped on drop.
    fn export_settings(&self, name: &str, sealed: bool) -> Result<Zeroizing<String>, StoreError>;

    /// Adds every connection of the settings file at `path` (`import settings`); every
    /// one is checked first (valid, usable here, name not taken), and on any failure
    /// nothing is added. Returns the names added.
    fn import_settings(&self, path: &Path) -> Result<Vec<String>, StoreError>;
}
