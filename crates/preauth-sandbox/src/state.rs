//! The sandbox's shared state: apps, clock, counters, faults and every issued grant.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::limits::AppUsage;
use crate::platform::{EXACT_REFRESH_LIFETIME, PENDING_LIFETIME, Platform, SESSION_LIFETIME};
use crate::tokens::TokenDigest;
use crate::{App, Counters, Fault, Limits, SandboxConfig, VirtualClock};

/// The state behind the router; cheap to clone (shared).
#[derive(Clone)]
pub struct SandboxState {
    shared: Arc<Shared>,
}

struct Shared {
    base_url: String,
    auto_approve: bool,
    apps: HashMap<String, App>,
    limits: Limits,
    clock: VirtualClock,
    store: Mutex<Store>,
}

/// Everything that changes, behind one lock. Tokens are keyed by their SHA-256 digest.
#[derive(Default)]
pub(crate) struct Store {
    pub(crate) counters: Counters,
    pub(crate) faults: VecDeque<Fault>,
    /// Authorization requests waiting for login or consent, by transaction id.
    pub(crate) pending: HashMap<TokenDigest, Pending>,
    /// Login sessions, by cookie value.
    pub(crate) sessions: HashMap<TokenDigest, Session>,
    pub(crate) codes: HashMap<TokenDigest, CodeGrant>,
    pub(crate) refresh_tokens: HashMap<TokenDigest, RefreshGrant>,
    pub(crate) access_tokens: HashMap<TokenDigest, AccessGrant>,
    /// Limits bookkeeping per client id.
    pub(crate) usage: HashMap<String, AppUsage>,
    /// Records added since the last sweep of expired ones.
    added_since_sweep: u32,
}

/// What an authorization request asked for; carried from the authorize URL to the code.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    pub(crate) platform: Platform,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) state: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) nonce: Option<String>,
    /// PKCE S256 challenge (Twinfield).
    pub(crate) code_challenge: Option<String>,
}

/// An authorization request shown a login or consent page.
pub(crate) struct Pending {
    pub(crate) request: AuthRequest,
    pub(crate) created: SystemTime,
    /// Set once the login form was filled in correctly.
    pub(crate) session: Option<TokenDigest>,
}

/// A logged-in browser.
pub(crate) struct Session {
    pub(crate) created: SystemTime,
    /// Client ids this user already allowed.
    pub(crate) consented: HashSet<String>,
}

/// An issued authorization code.
pub(crate) struct CodeGrant {
    pub(crate) request: AuthRequest,
    pub(crate) issued: SystemTime,
    pub(crate) used: bool,
}

/// An issued refresh token.
pub(crate) struct RefreshGrant {
    pub(crate) platform: Platform,
    pub(crate) client_id: String,
    pub(crate) scope: Option<String>,
    /// When it (and the access token issued with it) was issued.
    pub(crate) issued: SystemTime,
    /// Exact: spent by a refresh; kept to answer "Old refresh token used."
    pub(crate) spent: bool,
}

/// An issued access token.
pub(crate) struct AccessGrant {
    pub(crate) platform: Platform,
    pub(crate) client_id: String,
    pub(crate) scope: Option<String>,
    pub(crate) issued: SystemTime,
    pub(crate) expires: SystemTime,
}

impl Store {
    /// Notes that a record was added; every few thousand, drops records that can no longer
    /// change an answer (expired codes, pages, sessions, access tokens, 30-day-old refresh
    /// tokens), so a long benchmark does not grow without bound.
    pub(crate) fn added(&mut self, now: SystemTime) {
        self.added_since_sweep += 1;
        if self.added_since_sweep < 4096 {
            return;
        }
        self.added_since_sweep = 0;
        let alive = |since: SystemTime, lifetime: Duration| since + lifetime > now;
        self.pending
            .retain(|_, p| alive(p.created, PENDING_LIFETIME));
        self.sessions
            .retain(|_, s| alive(s.created, SESSION_LIFETIME));
        self.codes
            .retain(|_, c| alive(c.issued, c.request.platform.code_lifetime()));
        self.access_tokens.retain(|_, a| a.expires > now);
        // Exact refresh tokens past their 30 days still answer "expired at" rather than
        // "invalid" for a while: keep them twice as long. Twinfield's do not expire here.
        self.refresh_tokens.retain(|_, r| {
            r.platform == Platform::Twinfield || alive(r.issued, EXACT_REFRESH_LIFETIME * 2)
        });
    }
}

impl std::fmt::Debug for SandboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxState")
            .field("base_url", &self.shared.base_url)
            .field("apps", &self.shared.apps.len())
            .finish_non_exhaustive()
    }
}

impl SandboxState {
    /// State for a sandbox reachable at `base_url` (`http://127.0.0.1:PORT`, no trailing slash).
    /// A later app with the same client id replaces an earlier one.
    pub fn new(config: SandboxConfig, base_url: String) -> SandboxState {
        let apps = config
            .apps
            .iter()
            .map(|app| (app.client_id.clone(), app.clone()))
            .collect();
        SandboxState {
            shared: Arc::new(Shared {
                base_url: base_url.trim_end_matches('/').to_owned(),
                auto_approve: config.auto_approve,
                apps,
                limits: config.limits,
                clock: VirtualClock::new(),
                store: Mutex::new(Store::default()),
            }),
        }
    }

    /// The base URL the sandbox was created for.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// Twinfield's issuer (`iss`): `base_url + "/auth/authentication"`.
    pub fn twinfield_issuer(&self) -> String {
        format!("{}/auth/authentication", self.shared.base_url)
    }

    /// The virtual clock (shared with every clone).
    pub fn clock(&self) -> VirtualClock {
        self.shared.clock.clone()
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.store().counters.clone()
    }

    /// Queues a fault for the next token request.
    pub fn inject(&self, fault: Fault) {
        self.store().faults.push_back(fault);
    }

    pub(crate) fn app(&self, client_id: &str) -> Option<&App> {
        self.shared.apps.get(client_id)
    }

    pub(crate) fn auto_approve(&self) -> bool {
        self.shared.auto_approve
    }

    pub(crate) fn limits(&self) -> Limits {
        self.shared.limits
    }

    /// Locks the store. A panic while holding the lock cannot leave it half-updated in a way
    /// that matters to a test double, so a poisoned lock is used as is.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.shared
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
