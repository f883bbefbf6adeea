//! The sandbox's shared state: apps, clock, counters, faults and every issued grant.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

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

#[derive(Default)]
pub(crate) struct Store {
    pub(crate) counters: Counters,
    pub(crate) faults: VecDeque<Fault>,
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
