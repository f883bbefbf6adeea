//! API keys of `preauth serve`: bearer keys, each with a name and a scope, kept as
//! SHA-256 hashes only in the document `api-keys.json` of the store (a file in the
//! settings folder, or a row of a shared store, so that every replica accepts the same
//! keys; see [`crate::documents`]).
//!
//! A key is printed once when it is created (`pak_` and 256 random bits, base64url) and
//! never stored: a stolen file lets nobody call the API. The document is written durably
//! and read again for every check, so a dropped key stops working at once, also in a
//! server already running.
//!
//! A key may be limited to networks ([`ApiKeyInfo::networks`]); a key without any (all
//! keys made before networks existed) works from anywhere.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::connection::fold_name;
use crate::documents::{Documents, FolderDocuments};
use crate::flow::random_token;
use crate::network::{self, Network};
use crate::store::StoreError;

/// The document (a file in the settings folder) that holds the API keys' hashes.
pub const API_KEYS_FILE: &str = "api-keys.json";

/// What a key may do. Each scope includes the ones before it: `token` ⊂ `register` ⊂
/// `admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Obtain access tokens of stored connections.
    Token,
    /// Also register connections from tokens (the OEM flow).
    Register,
    /// Everything: list, show and drop connections, monitoring.
    Admin,
}

impl Scope {
    /// Whether a key of this scope may do what `needed` allows.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }

    /// The scope's word, as written in statements and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Token => "token",
            Scope::Register => "register",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored key: everything but the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    /// The key's name, unique by [`fold_name`].
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// When it was created.
    #[serde(with = "rfc3339")]
    pub created_at: SystemTime,
    /// The networks it may be used from; empty: any address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<Network>,
}

impl ApiKeyInfo {
    /// Whether the key may be used by a client at `addr`: always when it has no
    /// networks; otherwise only from inside one of them, and never from an address that
    /// is not known (`None`).
    pub fn allows_address(&self, addr: Option<IpAddr>) -> bool {
        if self.networks.is_empty() {
            return true;
        }
        addr.is_some_and(|addr| network::any_contains(&self.networks, addr))
    }

    /// The networks for people: `10.0.0.0/8, 2001:db8::/32`, or `any`.
    pub fn networks_text(&self) -> String {
        if self.networks.is_empty() {
            return "any".to_string();
        }
        self.networks
            .iter()
            .map(Network::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredKey {
    #[serde(flatten)]
    info: ApiKeyInfo,
    /// SHA-256 of the key, lowercase hex.
    sha256: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<StoredKey>,
}

/// What identifies a key without being it: the SHA-256 its store keeps. A key dropped
/// and made again under the same name has another.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyFingerprint(String);

impl KeyFingerprint {
    /// The fingerprint of the presented key `key`.
    pub fn of(key: &str) -> KeyFingerprint {
        KeyFingerprint(hash(key))
    }
}

impl fmt::Debug for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyFingerprint([redacted])")
    }
}

/// A key just created: the only time it exists outside its holder.
pub struct NewApiKey(Zeroizing<String>);

impl NewApiKey {
    /// The key, to print once.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewApiKey([redacted])")
    }
}

/// Why the API keys could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    /// The document could not be read or written.
    #[error("cannot {action} the API keys: {source}")]
    Store {
        /// "read" or "write".
        action: &'static str,
        /// The cause (names the file or the store).
        source: StoreError,
    },
    /// The document is not what preauth writes.
    #[error(
        "{location} is damaged ({reason}); move it aside (mv {location} {location}.damaged) and create the keys again, e.g. preauth -c \"create api key 'jobs' scope token\""
    )]
    Damaged {
        /// The file (or the store's document).
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A key of that name exists.
    #[error("an API key named '{name}' exists already; drop it first or choose another name")]
    NameTaken {
        /// The existing key's name.
        name: String,
    },
    /// No key of that name.
    #[error("no API key named '{name}'")]
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// An empty name.
    #[error("an API key needs a name that is not empty")]
    EmptyName,
    /// The operating system gave no random bytes.
    #[error("cannot make a random key: {0}")]
    Random(String),
}

impl ApiKeyError {
    /// What repairs it, for a front end to put in its own terms.
    pub fn advice(&self) -> Vec<crate::advice::Advice> {
        match self {
            ApiKeyError::Unknown { .. } => vec![crate::advice::Advice::ListApiKeys],
            _ => Vec::new(),
        }
    }
}

/// The API keys of one store.
#[derive(Clone)]
pub struct ApiKeys {
    docs: Arc<dyn Documents>,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field("location", &self.location())
            .finish()
    }
}

impl ApiKeys {
    /// The keys in `settings_dir`.
    pub fn in_folder(settings_dir: &Path) -> ApiKeys {
        ApiKeys::in_documents(Arc::new(FolderDocuments::new(settings_dir)))
    }

    /// The keys among a store's documents.
    pub fn in_documents(docs: Arc<dyn Documents>) -> ApiKeys {
        ApiKeys { docs }
    }

    /// Where they are kept, for people.
    pub fn location(&self) -> String {
        self.docs.location_of(API_KEYS_FILE)
    }

    /// Creates a key named `name` with `scope`, usable from `networks` (none: from
    /// anywhere); returns it (to print once).
    pub fn create(
        &self,
        name: &str,
        scope: Scope,
        networks: Vec<Network>,
        now: SystemTime,
    ) -> Result<NewApiKey, ApiKeyError> {
        if name.trim().is_empty() {
            return Err(ApiKeyError::EmptyName);
        }
        self.change(|file| {
            if let Some(existing) = file.find(name) {
                return Err(ApiKeyError::NameTaken {
                    name: existing.name.clone(),
                });
            }
            let key = NewApiKey(Zeroizing::new(format!(
                "pak_{}",
                random_token(32).map_err(|e| ApiKeyError::Random(e.to_string()))?
            )));
            file.keys.push(StoredKey {
                info: ApiKeyInfo {
                    name: name.to_string(),
                    scope,
                    created_at: now,
                    networks,
                },
                sha256: hash(key.secret()),
            });
            Ok(key)
        })
    }

    /// Every key, in the order created.
    pub fn list(&self) -> Result<Vec<ApiKeyInfo>, ApiKeyError> {
        Ok(self.read()?.keys.into_iter().map(|k| k.info).collect())
    }

    /// Removes the key named `name`.
    pub fn drop_key(&self, name: &str) -> Result<(), ApiKeyError> {
        self.change(|file| {
            let before = file.keys.len();
            file.keys
                .retain(|k| fold_name(&k.info.name) != fold_name(name));
            if file.keys.len() == before {
                return Err(ApiKeyError::Unknown { name: name.into() });
            }
            Ok(())
        })
    }

    /// The key that `presented` is, if any (compared in constant time).
    pub fn verify(&self, presented: &str) -> Result<Option<ApiKeyInfo>, ApiKeyError> {
        self.find(&KeyFingerprint::of(presented))
    }

    /// The stored key with `fingerprint`, if it is still there: what a session opened
    /// with a key checks, without keeping the key itself.
    pub fn find(&self, fingerprint: &KeyFingerprint) -> Result<Option<ApiKeyInfo>, ApiKeyError> {
        Ok(self
            .read()?
            .keys
            .into_iter()
            .find(|k| bool::from(k.sha256.as_bytes().ct_eq(fingerprint.0.as_bytes())))
            .map(|k| k.info))
    }

    fn read(&self) -> Result<KeyFile, ApiKeyError> {
        let bytes = self
            .docs
            .read(API_KEYS_FILE)
            .map_err(|source| ApiKeyError::Store {
                action: "read",
                source,
            })?;
        self.parse(bytes)
    }

    fn parse(&self, bytes: Option<Vec<u8>>) -> Result<KeyFile, ApiKeyError> {
        match bytes {
            None => Ok(KeyFile::default()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| self.damaged(e.to_string())),
        }
    }

    /// Applies `change` to the keys and writes them, under the document's lock (two
    /// statements at once must not lose a key); nothing is written when it fails.
    fn change<T>(
        &self,
        change: impl FnOnce(&mut KeyFile) -> Result<T, ApiKeyError>,
    ) -> Result<T, ApiKeyError> {
        let failed = |source| ApiKeyError::Store {
            action: "write",
            source,
        };
        let mut locked = self.docs.lock(API_KEYS_FILE).map_err(failed)?;
        let mut file = self.parse(locked.read().map_err(failed)?)?;
        let done = change(&mut file)?;
        let mut bytes =
            serde_json::to_vec_pretty(&file).map_err(|e| self.damaged(e.to_string()))?;
        bytes.push(b'\n');
        locked.write(&bytes).map_err(failed)?;
        Ok(done)
    }

    fn damaged(&self, reason: String) -> ApiKeyError {
        ApiKeyError::Damaged {
            location: self.location(),
            reason,
        }
    }
}

impl KeyFile {
    fn find(&self, name: &str) -> Option<&ApiKeyInfo> {
        self.keys
            .iter()
            .map(|k| &k.info)
            .find(|i| fold_name(&i.name) == fold_name(name))
    }
}

fn hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Times in a document as RFC 3339 text to the second, for people to read (serde's
/// `with`; also used by the keep-alive's record of `preauth serve`).
pub mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `at` as `2026-12-05T03:00:00Z`.
    pub fn serialize<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_seconds(*at))
    }

    /// Reads an RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn keys_are_stored_as_hashes_and_checked_by_scope() {
        let dir = tempfile::tempdir().unwrap();
        // A settings folder nothing made yet (a PostgreSQL store) is made.
        let keys = ApiKeys::in_folder(&dir.path().join("settings"));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let key = keys.create("jobs", Scope::Token, Vec::new(), now).unwrap();
        let stored = std::fs::read_to_string(keys.location()).unwrap();
        assert!(!stored.contains(key.secret()), "{stored}");
        assert!(stored.contains(&hash(key.secret())));
        let info = keys.verify(key.secret()).unwrap().unwrap();
        assert_eq!((info.name.as_str(), info.scope), ("jobs", Scope::Token));
        assert!(keys.verify("pak_wrong").unwrap().is_none());
        assert!(matches!(
            keys.create("JOBS", Scope::Admin, Vec::new(), now),
            Err(ApiKeyError::NameTaken { name }) if name == "jobs"
        ));
        keys.drop_key("Jobs").unwrap();
        assert!(keys.verify(key.secret()).unwrap().is_none());
        assert!(matches!(
            keys.drop_key("jobs"),
            Err(ApiKeyError::Unknown { .. })
        ));
    }

    #[test]
    fn keys_created_at_once_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let keys = ApiKeys::in_folder(dir.path());
        std::thread::scope(|scope| {
            for i in 0..8 {
                let keys = &keys;
                scope.spawn(move || {
                    keys.create(
                        &format!("job-{i}"),
                        Scope::Token,
                        Vec::new(),
                        SystemTime::now(),
                    )
                    .unwrap()
                });
            }
        });
        assert_eq!(keys.list().unwrap().len(), 8);
    }

    #[test]
    fn a_key_limited_to_networks_is_refused_elsewhere_and_old_keys_work_anywhere() {
        let dir = tempfile::tempdir().unwrap();
        // A file written before keys had networks.
        std::fs::write(
            dir.path().join(API_KEYS_FILE),
            format!(
                r#"{{"keys":[{{"name":"old","scope":"token","created_at":"2026-01-01T00:00:00Z","sha256":"{}"}}]}}"#,
                hash("pak_old")
            ),
        )
        .unwrap();
        let keys = ApiKeys::in_folder(dir.path());
        let old = keys.verify("pak_old").unwrap().unwrap();
        assert!(old.networks.is_empty() && old.networks_text() == "any");
        assert!(old.allows_address(Some("192.0.2.7".parse().unwrap())));
        assert!(old.allows_address(None));
        let networks = vec![
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ];
        let key = keys
            .create("p", Scope::Token, networks, SystemTime::now())
            .unwrap();
        let info = keys.verify(key.secret()).unwrap().unwrap();
        assert_eq!(info.networks_text(), "10.0.0.0/8, 2001:db8::/32");
        for inside in ["10.1.2.3", "::ffff:10.1.2.3", "2001:db8::7"] {
            assert!(
                info.allows_address(Some(inside.parse().unwrap())),
                "{inside}"
            );
        }
        for outside in ["192.0.2.7", "::1", "2001:db9::1"] {
            assert!(
                !info.allows_address(Some(outside.parse().unwrap())),
                "{outside}"
            );
        }
        assert!(!info.allows_address(None), "an unknown address is refused");
        let stored = std::fs::read_to_string(keys.location()).unwrap();
        assert!(stored.contains(r#""10.0.0.0/8""#), "{stored}");
        assert_eq!(keys.list().unwrap().len(), 2);
    }

    #[test]
    fn scopes_include_the_lower_ones() {
        assert!(Scope::Admin.allows(Scope::Register));
        assert!(Scope::Register.allows(Scope::Token));
        assert!(!Scope::Token.allows(Scope::Register));
        assert!(!Scope::Register.allows(Scope::Admin));
    }
}
