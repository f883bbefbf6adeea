//! Pending authorizations, kept in `pending-authorizations.xml` in the settings folder:
//!
//! ```xml
//! <pending-authorizations>
//!   <pending connection="acme" provider="ExactOnlineAll" expires="2025-03-01T12:10:00Z" data="…"/>
//! </pending-authorizations>
//! ```
//!
//! `data` is a connection string with the connection's keys plus `preauth-state`,
//! `preauth-pkce-verifier` and `preauth-nonce` (see [`super::keys::KEYS`]), sealed under
//! the label `pending-authorization` when a protector is in use. The file is locked
//! like a settings file; taking an entry removes it. An expired entry cannot be taken,
//! but is kept [`UNFINISHED_LOGIN_KEPT`] longer, so that a new login for its connection
//! can start from the app settings it holds; then it is purged.

use std::path::Path;
use std::time::SystemTime;

use crate::connection::{Connection, fold_name};
use crate::sealing::PENDING_LABEL as LABEL;
use crate::secret::ct_eq_str;
use crate::store::{PendingAuthorization, StoreError, UNFINISHED_LOGIN_KEPT};

use super::durable;
use super::file::{malformed, parse_document, read_limited};
use super::folder::SettingsFolder;
use super::invalid::unrepresentable;
use super::keys;
use super::xml::{Document, Element, LineIndex};

const FILE: &str = "pending-authorizations.xml";
const ROOT: &str = "pending-authorizations";
const ENTRY: &str = "pending";

/// At most this many pending authorizations are kept; the ones expiring first go.
pub(crate) const MAX_PENDING: usize = 64;

/// Adds `pending` to the file.
pub(super) fn put(
    folder: &SettingsFolder,
    pending: &PendingAuthorization,
) -> Result<(), StoreError> {
    let path = folder.dir().join(FILE);
    let _lock = folder.lock_path(&path, LABEL)?;
    let mut doc = read(&path)?.unwrap_or(new_document(&path)?);
    let entry = encode(folder, &path, pending)?;
    let Some(root) = doc.root_mut() else {
        return Ok(());
    };
    root.append_child(entry, 1);
    loop {
        let entries: Vec<(usize, Option<SystemTime>)> = root
            .children
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                n.as_element()
                    .filter(|e| e.name == ENTRY)
                    .map(|e| (i, expires(e)))
            })
            .collect();
        if entries.len() <= MAX_PENDING {
            break;
        }
        match entries.iter().min_by_key(|(_, t)| *t) {
            Some(&(oldest, _)) => root.remove_child(oldest),
            None => break,
        }
    }
    write(&path, &doc)
}

/// Removes and returns the entry whose state equals `state`, unless expired at `now`;
/// purges entries expired longer than [`UNFINISHED_LOGIN_KEPT`] ago.
pub(super) fn take(
    folder: &SettingsFolder,
    state: &str,
    now: SystemTime,
) -> Result<Option<PendingAuthorization>, StoreError> {
    let path = folder.dir().join(FILE);
    let _lock = folder.lock_path(&path, LABEL)?;
    let Some(mut doc) = read(&path)? else {
        return Ok(None);
    };
    let Some(root) = doc.root_mut() else {
        return Ok(None);
    };
    let mut found = None;
    let mut remove = Vec::new();
    for (i, node) in root.children.iter().enumerate() {
        let Some(entry) = node.as_element().filter(|e| e.name == ENTRY) else {
            continue;
        };
        let expired = expires(entry).is_none_or(|t| t <= now);
        let decoded = decode(folder, &path, entry).ok();
        let matches = decoded
            .as_ref()
            .is_some_and(|p| ct_eq_str(p.state.secret(), state));
        if (matches && !expired) || !kept(entry, now) {
            remove.push(i);
        }
        if matches && !expired {
            found = decoded;
        }
    }
    if remove.is_empty() {
        return Ok(None);
    }
    for i in remove.into_iter().rev() {
        root.remove_child(i);
    }
    write(&path, &doc)?;
    Ok(found)
}

/// The connection of the latest entry for `name` (expired or not) that is still kept at
/// `now`, for a new login from the app settings it holds.
pub(super) fn unfinished(
    folder: &SettingsFolder,
    name: &str,
    now: SystemTime,
) -> Result<Option<Connection>, StoreError> {
    let path = folder.dir().join(FILE);
    let _lock = folder.lock_path(&path, LABEL)?;
    let Some(doc) = read(&path)? else {
        return Ok(None);
    };
    let wanted = fold_name(name);
    let latest = doc
        .root()
        .into_iter()
        .flat_map(|root| root.children.iter())
        .filter_map(|node| node.as_element().filter(|e| e.name == ENTRY))
        .filter(|e| kept(e, now))
        .filter(|e| e.attr("connection").is_some_and(|n| fold_name(n) == wanted))
        .max_by_key(|e| expires(e));
    let Some(entry) = latest else {
        return Ok(None);
    };
    let mut connection = decode(folder, &path, entry)?.connection;
    connection.tokens = None;
    Ok(Some(connection))
}

/// Whether `entry` is still kept at `now`: not expired longer than
/// [`UNFINISHED_LOGIN_KEPT`] ago.
fn kept(entry: &Element, now: SystemTime) -> bool {
    expires(entry)
        .and_then(|t| t.checked_add(UNFINISHED_LOGIN_KEPT))
        .is_some_and(|until| until > now)
}

fn expires(entry: &Element) -> Option<SystemTime> {
    humantime::parse_rfc3339(entry.attr("expires")?).ok()
}

fn encode(
    folder: &SettingsFolder,
    path: &Path,
    pending: &PendingAuthorization,
) -> Result<Element, StoreError> {
    let name = pending.connection.name.as_str();
    let sealed = folder
        .sealer()
        .seal_pending(pending, folder.registry())
        .map_err(|e| e.at(path, name))?;
    Element::new(
        ENTRY,
        &[
            ("connection", name),
            ("provider", &sealed.provider),
            ("expires", &keys::format_time(pending.expires_at)),
            ("data", &sealed.text),
        ],
    )
    .map_err(|c| unrepresentable(path, name, c))
}

fn decode(
    folder: &SettingsFolder,
    path: &Path,
    entry: &Element,
) -> Result<PendingAuthorization, StoreError> {
    let name = entry.attr("connection").unwrap_or_default();
    folder
        .sealer()
        .open_pending(
            name,
            entry.attr("provider").unwrap_or_default(),
            entry.attr("data").unwrap_or_default(),
            expires(entry).unwrap_or(SystemTime::UNIX_EPOCH),
            folder.registry(),
        )
        .map_err(|e| e.at(path, name))
}

fn new_document(path: &Path) -> Result<Document, StoreError> {
    Document::new(ROOT, &[]).map_err(|c| unrepresentable(path, LABEL, c))
}

fn read(path: &Path) -> Result<Option<Document>, StoreError> {
    let Some(bytes) = read_limited(path)? else {
        return Ok(None);
    };
    let (doc, body) = parse_document(path, &bytes)?;
    match doc.root() {
        Some(root) if root.name != ROOT => {
            let (line, column) = LineIndex::new(body).position(root.offset);
            Err(malformed(
                path,
                line,
                column,
                &format!(
                    "the root element is <{}>; this file holds <{ROOT}>",
                    root.name
                ),
            ))
        }
        _ => Ok(Some(doc)),
    }
}

fn write(path: &Path, doc: &Document) -> Result<(), StoreError> {
    durable::replace(path, doc.to_text().as_bytes(), false).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })
}
