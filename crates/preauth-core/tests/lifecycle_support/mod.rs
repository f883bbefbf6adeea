//! Shared by the lifecycle and flow tests: an in-memory store, a clock that follows the
//! sandbox's virtual clock, and builders for connections and lifecycles.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::SystemTime;

use preauth_core::clock::Clock;
use preauth_core::connection::Connection;
use preauth_core::flow::StartedAuthorization;
use preauth_core::lifecycle::Lifecycle;
use preauth_core::platform::Registry;
use preauth_core::secret::ClientSecret;
use preauth_core::store::{
    Listed, Listing, LockedConnection, PendingAuthorization, Store, StoreError,
};
use preauth_core::token_client::{TokenClient, TokenClientConfig};
use preauth_sandbox::{App, Sandbox, SandboxConfig, VirtualClock};
use zeroize::Zeroizing;

/// The sandbox's virtual clock as the lifecycle's clock.
pub struct SandboxClock(pub VirtualClock);

impl Clock for SandboxClock {
    fn now(&self) -> SystemTime {
        self.0.now()
    }
}

/// A store in memory with real per-connection locks (for tests without a settings folder).
#[derive(Default, Clone)]
pub struct MemStore(Arc<MemState>);

impl std::ops::Deref for MemStore {
    type Target = MemState;
    fn deref(&self) -> &MemState {
        &self.0
    }
}

/// What a [`MemStore`] holds.
#[derive(Default)]
pub struct MemState {
    connections: Mutex<HashMap<String, Connection>>,
    pending: Mutex<Vec<PendingAuthorization>>,
    locked: Mutex<HashSet<String>>,
    freed: Condvar,
    /// How many saves happened (each one a durable write in a real store).
    pub saves: Mutex<u64>,
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

impl MemStore {
    fn not_found(name: &str) -> StoreError {
        StoreError::NotFound { name: name.into() }
    }
}

struct MemLock {
    store: MemStore,
    name: String,
}

impl LockedConnection for MemLock {
    fn load(&mut self) -> Result<Connection, StoreError> {
        self.store.load(&self.name)
    }

    fn prepare_save(&mut self, _connection: &Connection) -> Result<(), StoreError> {
        Ok(())
    }

    fn save(&mut self, connection: &Connection) -> Result<(), StoreError> {
        *self.store.saves.lock().unwrap() += 1;
        self.store
            .connections
            .lock()
            .unwrap()
            .insert(key(&self.name), connection.clone());
        Ok(())
    }
}

impl Drop for MemLock {
    fn drop(&mut self) {
        self.store.locked.lock().unwrap().remove(&key(&self.name));
        self.store.freed.notify_all();
    }
}

impl Store for MemStore {
    fn location(&self) -> String {
        "memory".into()
    }
    fn export_settings(&self, _: &str, _: bool) -> Result<Zeroizing<String>, StoreError> {
        Err(no_files())
    }
    fn import_settings(&self, _: &Path) -> Result<Vec<String>, StoreError> {
        Err(no_files())
    }
    fn names(&self) -> Result<Vec<String>, StoreError> {
        let mut names: Vec<String> = self
            .connections
            .lock()
            .unwrap()
            .values()
            .map(|c| c.name.clone())
            .collect();
        names.sort_by_key(|n| n.to_ascii_lowercase());
        Ok(names)
    }

    fn load(&self, name: &str) -> Result<Connection, StoreError> {
        self.connections
            .lock()
            .unwrap()
            .get(&key(name))
            .cloned()
            .ok_or_else(|| Self::not_found(name))
    }

    fn create(&self, connection: &Connection) -> Result<(), StoreError> {
        let mut all = self.connections.lock().unwrap();
        if all.contains_key(&key(&connection.name)) {
            return Err(StoreError::AlreadyExists {
                name: connection.name.clone(),
                path: "memory".into(),
            });
        }
        *self.saves.lock().unwrap() += 1;
        all.insert(key(&connection.name), connection.clone());
        Ok(())
    }

    fn list(&self) -> Result<Listing, StoreError> {
        let mut connections: Vec<Listed> = self
            .connections
            .lock()
            .unwrap()
            .values()
            .map(|c| Listed {
                name: c.name.clone(),
                location: "memory".into(),
                sealed: false,
                connection: Ok(c.clone()),
            })
            .collect();
        connections.sort_by_key(|l| l.name.to_ascii_lowercase());
        Ok(Listing {
            connections,
            problems: Vec::new(),
        })
    }

    fn lock(&self, name: &str) -> Result<Box<dyn LockedConnection>, StoreError> {
        self.load(name)?;
        let mut locked = self.locked.lock().unwrap();
        while locked.contains(&key(name)) {
            locked = self.freed.wait(locked).unwrap();
        }
        locked.insert(key(name));
        Ok(Box::new(MemLock {
            store: self.clone(),
            name: name.to_string(),
        }))
    }

    fn drop_connection(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .connections
            .lock()
            .unwrap()
            .remove(&key(name))
            .is_some())
    }

    fn put_pending(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        self.pending.lock().unwrap().push(pending.clone());
        Ok(())
    }

    fn take_pending(
        &self,
        state: &str,
        now: SystemTime,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let mut pending = self.pending.lock().unwrap();
        pending.retain(|p| p.expires_at > now);
        let found = pending.iter().position(|p| p.state.secret() == state);
        Ok(found.map(|i| pending.swap_remove(i)))
    }
}

/// A sandbox with the demo app plus a short-lived app (30 s access tokens, every call
/// may refresh), pages shown, on a free port.
pub async fn sandbox() -> Sandbox {
    sandbox_with(SandboxConfig {
        apps: vec![App::demo(), short_app()],
        ..SandboxConfig::default()
    })
    .await
}

/// A sandbox that approves logins without pages and has no rate limits (for
/// benchmarks that refresh thousands of connections of one app), with the demo app and
/// [`short_app`].
pub async fn unlimited_sandbox() -> Sandbox {
    sandbox_with(SandboxConfig {
        auto_approve: true,
        apps: vec![App::demo(), short_app()],
        limits: preauth_sandbox::Limits {
            token_calls_per_day: u32::MAX,
            errors_per_hour_before_block: u32::MAX,
            ..preauth_sandbox::Limits::default()
        },
        ..SandboxConfig::default()
    })
    .await
}

/// A sandbox with the given config.
pub async fn sandbox_with(config: SandboxConfig) -> Sandbox {
    Sandbox::spawn(config)
        .await
        .expect("the sandbox binds 127.0.0.1")
}

/// An app whose access tokens live 30 s, so every refresh is allowed.
pub fn short_app() -> App {
    App {
        client_id: "short-lived-app".into(),
        client_secret: "short-secret".into(),
        redirect_uris: vec![
            App::DEMO_REDIRECT_URI.into(),
            App::DEMO_WEB_REDIRECT_URI.into(),
        ],
        access_token_seconds: 30,
    }
}

/// A connection to the sandbox for `app` on `platform` (no tokens).
pub fn connection(
    name: &str,
    platform: &str,
    sandbox: &Sandbox,
    app: &App,
    redirect: &str,
) -> Connection {
    Connection {
        name: name.into(),
        platform: platform.into(),
        api_url: sandbox.base_url(),
        client_id: app.client_id.clone(),
        client_secret: Some(ClientSecret::new(app.client_secret.clone())),
        redirect_url: redirect.into(),
        tokens: None,
        extra: Vec::new(),
    }
}

/// A lifecycle on `store` whose clock follows the sandbox.
pub fn lifecycle(sandbox: &Sandbox, store: Arc<dyn Store>) -> Lifecycle {
    let clock: Arc<dyn Clock> = Arc::new(SandboxClock(sandbox.clock()));
    let http = TokenClient::new(TokenClientConfig::default(), Arc::clone(&clock)).expect("client");
    Lifecycle::new(store, Registry::builtin(), clock, http)
}

/// A connection for the demo app with its web redirect URL (the paste flow).
pub fn demo_connection(name: &str, platform: &str, sandbox: &Sandbox) -> Connection {
    connection(
        name,
        platform,
        sandbox,
        &App::demo(),
        App::DEMO_WEB_REDIRECT_URI,
    )
}

/// Starts an authorization and logs the demo user in on the sandbox's pages; returns the
/// started authorization and the return URL (not yet finished).
pub async fn approved(lc: &Lifecycle, connection: &Connection) -> (StartedAuthorization, String) {
    let started = lc.start_authorization(connection).expect("starts");
    let redirect = preauth_sandbox::approve(started.url.as_str(), &preauth_sandbox::Login::demo())
        .await
        .expect("the demo user logs in");
    (started, redirect)
}

/// Authorizes `connection` through the sandbox's login pages (paste flow) and returns
/// the stored connection.
pub async fn authorize(lc: &Lifecycle, connection: &Connection) -> Connection {
    let (_, redirect) = approved(lc, connection).await;
    lc.finish_authorization(&redirect)
        .await
        .expect("the code is exchanged")
}

/// A settings folder in a temporary directory (removed when dropped), as a [`Store`].
pub struct TempSettings {
    folder: preauth_core::settings::SettingsFolder,
    _dir: tempfile::TempDir,
}

impl Default for TempSettings {
    fn default() -> Self {
        TempSettings::with_registry(Registry::builtin())
    }
}

impl TempSettings {
    /// A settings folder that knows the platforms of `registry`.
    pub fn with_registry(registry: Registry) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = preauth_core::settings::SettingsFolder::open(dir.path(), registry, None)
            .expect("settings folder");
        TempSettings { folder, _dir: dir }
    }
}

/// What the in-memory store answers to settings-file statements.
fn no_files() -> StoreError {
    StoreError::Io {
        path: "memory".into(),
        source: std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "the in-memory test store keeps no settings files",
        ),
    }
}

impl Store for TempSettings {
    fn location(&self) -> String {
        self.folder.location()
    }
    fn export_settings(&self, name: &str, sealed: bool) -> Result<Zeroizing<String>, StoreError> {
        self.folder.export_settings(name, sealed)
    }
    fn import_settings(&self, path: &Path) -> Result<Vec<String>, StoreError> {
        self.folder.import_settings(path)
    }
    fn names(&self) -> Result<Vec<String>, StoreError> {
        self.folder.names()
    }
    fn load(&self, name: &str) -> Result<Connection, StoreError> {
        self.folder.load(name)
    }
    fn create(&self, connection: &Connection) -> Result<(), StoreError> {
        self.folder.create(connection)
    }
    fn list(&self) -> Result<Listing, StoreError> {
        self.folder.list()
    }
    fn lock(&self, name: &str) -> Result<Box<dyn LockedConnection>, StoreError> {
        self.folder.lock(name)
    }
    fn drop_connection(&self, name: &str) -> Result<bool, StoreError> {
        self.folder.drop_connection(name)
    }
    fn put_pending(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        self.folder.put_pending(pending)
    }
    fn take_pending(
        &self,
        state: &str,
        now: SystemTime,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        self.folder.take_pending(state, now)
    }
}
