//! What statements run against: the settings folder, the lifecycle, the protector, the
//! user agent that opens authorization URLs, and output options.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::Write;
use std::sync::{Arc, Mutex};

use preauth_core::api_keys::ApiKeys;
use preauth_core::clock::Clock;
use preauth_core::connection::Connection;
use preauth_core::documents::Documents;
use preauth_core::error::Quoted;
use preauth_core::lifecycle::Lifecycle;
use preauth_core::platform::{ClientAuth, GenericPlatform, PLATFORMS_FILE, Platform, Registry};
use preauth_core::protector::Protector;
use preauth_core::secret::{ClientSecret, RefreshToken};
use preauth_core::settings::validate_name;
use preauth_core::store::Store;
use preauth_core::token_client::TokenClient;

use super::ExecError;
use super::authorize::UserAgent;
use crate::ast::{App, ClientAuthentication, CreatePlatform, PlatformEndpoints, RefreshTokens};
use crate::output::OutputFormat;
use crate::repl::ConnectionNames;

/// Everything a statement needs from outside the script: the store (built once by the
/// caller, over any [`Store`]), the platforms (one shared set), the lifecycle over both,
/// the protector for `encrypt` statements, the user agent and output options.
pub struct Environment {
    /// Where `create platform` keeps user-defined platforms and API keys are kept: the
    /// store's own documents, or files in the settings folder.
    documents: Arc<dyn Documents>,
    registry: Registry,
    http: TokenClient,
    protector: Arc<dyn Protector>,
    store: Arc<dyn Store>,
    lifecycle: Lifecycle,
    /// Opens authorization URLs (a browser, a command, or the sandbox's scripted login).
    pub user_agent: Arc<dyn UserAgent>,
    /// How tables are printed.
    pub format: OutputFormat,
    /// Print each statement before it runs.
    pub echo: bool,
    /// A person is at a terminal: return URLs may be pasted at the prompt.
    pub interactive: bool,
    /// Standard error is a terminal: long work (keep-alive) draws its progress there.
    pub progress: bool,
    /// The embedded sandbox's clock, when the run has one (`preauth --sandbox`).
    pub sandbox_clock: Option<Arc<dyn TimeMachine>>,
    /// Which stored connection holds which refresh token, for `register` to refuse a
    /// token that is held already: read in one pass on first use, then kept up to date by
    /// this session's registrations (so that a script of N registrations reads the store
    /// once, not N times).
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

/// A clock that can be moved forward: the embedded sandbox's virtual clock, which the
/// run's own clock follows, so that expiries are reached without waiting.
pub trait TimeMachine: Send + Sync {
    /// Moves the clock forward by `by`.
    fn advance(&self, by: std::time::Duration);
}

impl Environment {
    /// The environment over `store`, whose connections name platforms of `registry`
    /// (the same set the store was built with); `create platform` and API keys go to
    /// `documents`. `protector` seals what `encrypt` statements print.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Registry,
        documents: Arc<dyn Documents>,
        protector: Arc<dyn Protector>,
        clock: Arc<dyn Clock>,
        http: TokenClient,
        user_agent: Arc<dyn UserAgent>,
    ) -> Environment {
        let lifecycle = Lifecycle::new(Arc::clone(&store), registry.clone(), clock, http.clone());
        Environment {
            documents,
            registry,
            http,
            protector,
            store,
            lifecycle,
            user_agent,
            format: OutputFormat::Table,
            echo: false,
            interactive: false,
            progress: false,
            sandbox_clock: None,
            held: Mutex::new(None),
        }
    }

    /// The store the connections live in.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// A callback listing the connection names, for completion in the REPL.
    pub fn connection_names(&self) -> ConnectionNames {
        let store = Arc::clone(&self.store);
        Arc::new(move || store.names().unwrap_or_default())
    }

    /// Where user-defined platforms are kept, for people.
    pub fn platforms_location(&self) -> String {
        self.documents.location_of(PLATFORMS_FILE)
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

    /// Prints `text` on standard output.
    pub fn print(&self, text: &str) -> Result<(), ExecError> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(ExecError::Output)
    }

    /// Prints a remark for people (`local echo`, "connection 'x' dropped"): on standard
    /// output in a table run, on standard error with `--format csv|json`, so that standard
    /// output holds only the data a program parses.
    pub fn note(&self, text: &str) -> Result<(), ExecError> {
        if !self.format.is_data() {
            return self.print(text);
        }
        let mut err = std::io::stderr().lock();
        err.write_all(text.as_bytes())
            .and_then(|()| err.flush())
            .map_err(ExecError::Output)
    }

    /// The stored connection that holds `token` as its refresh token now, if any
    /// (connections that cannot be opened here are not looked at).
    pub(super) fn holder_of(&self, token: &RefreshToken) -> Result<Option<String>, ExecError> {
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
    fn held_candidates(&self, token: &RefreshToken) -> Result<Vec<String>, ExecError> {
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
    pub(super) fn note_held(&self, name: &str, token: &RefreshToken) {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(tokens) = held.as_mut() {
            tokens.note(name, token);
        }
    }

    /// A new connection (no tokens) from a statement's app options.
    pub(super) fn new_connection(&self, name: &str, app: &App) -> Result<Connection, ExecError> {
        validate_name(name)?;
        let platform = self.platform(&app.platform)?;
        let api_url = match (&app.api_url, &app.country) {
            (Some(url), _) => platform.check_api_url(url)?,
            (None, country) => platform
                .base_url(country.as_deref())
                .ok_or_else(|| ExecError::UnknownCountry {
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
            client_secret: app
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.secret())),
            redirect_url: app.redirect_url.clone(),
            tokens: None,
            extra: Vec::new(),
        })
    }

    /// The platform called `id`, or an error listing the known ones.
    pub(super) fn platform(&self, id: &str) -> Result<Arc<Platform>, ExecError> {
        self.registry
            .get(id)
            .ok_or_else(|| ExecError::UnknownPlatform {
                id: id.to_string(),
                known: self.registry.all().iter().map(|p| p.id.clone()).collect(),
            })
    }

    /// `create platform`: reads the provider's metadata (`from issuer`) or takes the
    /// endpoints given, applies the options, checks the definition, appends it to
    /// `platforms.xml` durably, and makes it known to this session.
    pub(super) async fn create_platform(&self, p: &CreatePlatform) -> Result<(), ExecError> {
        if self.registry.get(&p.id).is_some() {
            return Err(ExecError::PlatformExists { id: p.id.clone() });
        }
        let mut spec = match &p.endpoints {
            PlatformEndpoints::Discovered { issuer } => self.http.discover(&p.id, issuer).await?,
            PlatformEndpoints::Given {
                authorize_url,
                token_url,
                issuer,
            } => GenericPlatform::new(
                p.id.clone(),
                issuer.clone(),
                authorize_url.clone(),
                token_url.clone(),
            ),
        };
        if let Some(auth) = p.client_authentication {
            spec.client_auth = match auth {
                ClientAuthentication::Basic => ClientAuth::HttpBasic,
                ClientAuthentication::Body => ClientAuth::FormBody,
            };
        }
        if let Some(scope) = &p.scope {
            spec.scopes = scope.split_whitespace().map(str::to_string).collect();
        }
        if let Some(pkce) = p.pkce {
            spec.pkce = pkce;
        }
        match p.refresh_tokens {
            Some(RefreshTokens::Off) => spec.issues_refresh_tokens = false,
            Some(RefreshTokens::Rotating) => spec.refresh_token_rotates = true,
            Some(RefreshTokens::On) | None => {}
        }
        spec.extra_authorize_params
            .extend(p.parameters.iter().cloned());
        let platform = Platform::generic(spec.clone())?;
        preauth_core::platform::append_to_documents(self.documents.as_ref(), &spec)?;
        let id = platform.id.clone();
        // One shared set: the store and the lifecycle know the platform from now on.
        self.registry.add(platform);
        self.note(&format!(
            "platform '{id}' created in {}; see it with `show platform {}`\n",
            self.platforms_location(),
            Quoted(&id)
        ))
    }
}
