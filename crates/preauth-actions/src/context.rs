//! What every action works on: the store, the platforms, the lifecycle over both, the
//! protector, and the documents where platforms and API keys are kept.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use preauth_core::api_keys::ApiKeys;
use preauth_core::clock::Clock;
use preauth_core::connection::Connection;
use preauth_core::documents::Documents;
use preauth_core::lifecycle::Lifecycle;
use preauth_core::notify::{Notifier, Schedule};
use preauth_core::platform::{PLATFORMS_FILE, Platform, Registry};
use preauth_core::protector::Protector;
use preauth_core::secret::RefreshToken;
use preauth_core::settings::validate_name;
use preauth_core::store::Store;
use preauth_core::token_client::TokenClient;

use crate::app::AppSettings;
use crate::error::ActionError;

/// Everything an action needs from outside: the store (built once by the caller, over
/// any [`Store`]), the platforms (one shared set), the lifecycle over both, the
/// protector, and the documents of user-defined platforms and API keys. One per process,
/// shared by the front ends it serves.
pub struct Context {
    /// Where user-defined platforms and API keys are kept: the store's own documents, or
    /// files in the settings folder.
    documents: Arc<dyn Documents>,
    registry: Registry,
    http: TokenClient,
    protector: Arc<dyn Protector>,
    store: Arc<dyn Store>,
    lifecycle: Lifecycle,
    /// The webhooks, their outbox and their sender; the lifecycle's event sink.
    notifier: Arc<Notifier>,
    /// Which stored connection holds which refresh token, for a registration to refuse a
    /// token that is held already: read in one pass on first use, then kept up to date by
    /// this context's registrations (so that N registrations read the store once, not N
    /// times).
    held: Mutex<Option<HeldTokens>>,
}

/// Refresh tokens of stored connections, by a keyed hash (no token is kept): the names
/// of the connections whose token has that hash. A hit is a candidate only: it is
/// confirmed against the store as it is then.
struct HeldTokens {
    hasher: std::collections::hash_map::RandomState,
    by_hash: HashMap<u64, Vec<String>>,
}

impl HeldTokens {
    fn hash(&self, token: &RefreshToken) -> u64 {
        self.hasher.hash_one(token.secret())
    }

    fn note(&mut self, name: &str, token: &RefreshToken) {
        let names = self.by_hash.entry(self.hash(token)).or_default();
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
}

impl Context {
    /// The context over `store`, whose connections name platforms of `registry` (the
    /// same set the store was built with); new platforms and API keys go to `documents`.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Registry,
        documents: Arc<dyn Documents>,
        protector: Arc<dyn Protector>,
        clock: Arc<dyn Clock>,
        http: TokenClient,
    ) -> Context {
        Context::with_webhook_schedule(
            store,
            registry,
            documents,
            protector,
            clock,
            http,
            Schedule::standard(),
        )
    }

    /// Like [`Context::new`], delivering webhooks on `schedule` (tests shorten it).
    pub fn with_webhook_schedule(
        store: Arc<dyn Store>,
        registry: Registry,
        documents: Arc<dyn Documents>,
        protector: Arc<dyn Protector>,
        clock: Arc<dyn Clock>,
        http: TokenClient,
        schedule: Schedule,
    ) -> Context {
        let lifecycle = Lifecycle::with_ledger(
            Arc::clone(&store),
            registry.clone(),
            Arc::clone(&clock),
            http.clone(),
            Some(Arc::clone(&documents)),
        );
        let secrets = crate::store_secrets::StoreSecrets {
            store: Arc::clone(&store),
            fallback: Arc::clone(&protector),
        };
        let notifier = Arc::new(Notifier::new(
            Arc::clone(&documents),
            Arc::new(secrets),
            clock,
            schedule,
        ));
        lifecycle.set_event_sink(Arc::clone(&notifier) as _);
        Context {
            documents,
            registry,
            http,
            protector,
            store,
            lifecycle,
            notifier,
            held: Mutex::new(None),
        }
    }

    /// The webhooks, their outbox and their sender.
    pub fn notifier(&self) -> &Arc<Notifier> {
        &self.notifier
    }

    /// The store the connections live in.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The store, shared (for a listing of names that outlives a borrow).
    pub fn shared_store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    /// Where user-defined platforms are kept, for people.
    pub fn platforms_location(&self) -> String {
        self.documents.location_of(PLATFORMS_FILE)
    }

    /// The documents user-defined platforms and API keys are kept in.
    pub(crate) fn documents(&self) -> &dyn Documents {
        self.documents.as_ref()
    }

    /// The documents, shared (for work that outlives a borrow, such as the record of
    /// `preauth serve --keep-alive`).
    pub fn shared_documents(&self) -> Arc<dyn Documents> {
        Arc::clone(&self.documents)
    }

    /// The API keys of `preauth serve`, kept with the store's documents.
    pub fn api_keys(&self) -> ApiKeys {
        ApiKeys::in_documents(Arc::clone(&self.documents))
    }

    /// The token lifecycle.
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// The platforms known.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The protector (device key).
    pub fn protector(&self) -> &dyn Protector {
        self.protector.as_ref()
    }

    /// The HTTP client of the token endpoints (and of providers' metadata).
    pub(crate) fn http(&self) -> &TokenClient {
        &self.http
    }
    /// The stored connection that holds `token` as its refresh token now, if any
    /// (connections that cannot be opened here are not looked at).
    pub(crate) fn holder_of(&self, token: &RefreshToken) -> Result<Option<String>, ActionError> {
        let candidates = match self.lifecycle.store().holders_of(token)? {
            Some(names) => names,
            None => self.held_candidates(token)?,
        };
        for name in candidates {
            let holds = self.lifecycle.store().load(&name).ok().is_some_and(|c| {
                c.tokens
                    .and_then(|t| t.refresh_token)
                    .is_some_and(|stored| stored.ct_eq(token))
            });
            if holds {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }

    /// The connections that may hold `token`, from one listing of the store kept for the
    /// session (for stores that cannot find a token's holders themselves).
    fn held_candidates(&self, token: &RefreshToken) -> Result<Vec<String>, ActionError> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.is_none() {
            let mut tokens = HeldTokens {
                hasher: std::collections::hash_map::RandomState::new(),
                by_hash: HashMap::new(),
            };
            for listed in self.lifecycle.store().list()?.connections {
                if let Some(t) = listed
                    .connection
                    .ok()
                    .and_then(|c| c.tokens.and_then(|t| t.refresh_token))
                {
                    tokens.note(&listed.name, &t);
                }
            }
            *held = Some(tokens);
        }
        Ok(held
            .as_ref()
            .and_then(|tokens| tokens.by_hash.get(&tokens.hash(token)).cloned())
            .unwrap_or_default())
    }

    /// Forgets which refresh tokens the stored connections hold, so that the next
    /// registration reads the store again. A run of statements keeps what it read; a
    /// long-running server calls this before each registration, because other processes
    /// add connections and refreshes replace their tokens meanwhile.
    pub fn forget_held_tokens(&self) {
        *self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// Notes that connection `name` now holds `token` (after a registration).
    pub(crate) fn note_held(&self, name: &str, token: &RefreshToken) {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(tokens) = held.as_mut() {
            tokens.note(name, token);
        }
    }

    /// A new connection (no tokens) named `name` for `app`: a valid name, a known
    /// platform and country, a usable base URL.
    pub fn new_connection(&self, name: &str, app: &AppSettings) -> Result<Connection, ActionError> {
        validate_name(name)?;
        let platform = self.platform(&app.platform)?;
        let api_url = match (&app.api_url, &app.country) {
            (Some(url), _) => platform.check_api_url(url)?,
            (None, country) => platform
                .base_url(country.as_deref())
                .ok_or_else(|| ActionError::UnknownCountry {
                    platform: platform.display_name.clone(),
                    country: country.clone().unwrap_or_default(),
                    known: platform.hosts.iter().map(|h| h.country.clone()).collect(),
                })?
                .to_string(),
        };
        Ok(Connection {
            name: name.to_string(),
            platform: platform.id.clone(),
            api_url,
            client_id: app.client_id.clone(),
            client_secret: app.client_secret.clone(),
            redirect_url: app.redirect_url.clone(),
            tokens: None,
            extra: Vec::new(),
        })
    }

    /// The platform called `id`, or an error listing the known ones.
    pub fn platform(&self, id: &str) -> Result<Arc<Platform>, ActionError> {
        self.registry
            .get(id)
            .ok_or_else(|| ActionError::UnknownPlatform {
                id: id.to_string(),
                known: self.registry.all().iter().map(|p| p.id.clone()).collect(),
            })
    }
}
