//! What every handler shares: [`AppState`] (the store, the keys, the limits) and the
//! pages' [`Web`] (sessions, logins in progress). It depends on nothing that handles a
//! request, so that handlers and extractors can all name it.

use std::sync::Arc;

use preauth_actions::Context;
use preauth_core::api_keys::ApiKeys;
use preauth_core::monitor::Thresholds;

use crate::api_hosts::ApiHost;
use crate::audit::Throttle;
use crate::client_addr::ClientAddresses;
use crate::metrics::Counters;
use crate::rate::RateLimit;
use crate::web::binding::Bindings;
use crate::web::page_error::PageError;
use crate::web::session::Sessions;

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    /// The store, the platforms and the lifecycle.
    pub(crate) env: Arc<Context>,
    /// The API keys.
    pub(crate) keys: ApiKeys,
    /// The per-key limit of the token route.
    pub(crate) rate: Arc<RateLimit>,
    /// When a refresh token counts as expiring.
    pub(crate) thresholds: Thresholds,
    /// What this process served.
    pub(crate) counters: Arc<Counters>,
    /// The web pages' sessions and base URL.
    pub(crate) web: Arc<Web>,
    /// Hosts besides the platforms' own that API registrations may name.
    pub(crate) api_hosts: Arc<[ApiHost]>,
    /// How a request's client address is found (`--trusted-proxy`).
    pub(crate) clients: ClientAddresses,
}

/// What the pages share: the sessions and the URL browsers reach this server at.
pub(crate) struct Web {
    /// The sessions and the one-time login token.
    pub(crate) sessions: Sessions,
    /// The URL browsers use, without a trailing slash (`http://127.0.0.1:8440`).
    pub(crate) base: String,
    /// The logins the pages started, and the browsers that started them.
    pub(crate) bindings: Bindings,
    /// Refused returns to `/callback`, logged without flooding the log.
    pub(crate) callback_refusals: Throttle,
    /// Refused logins and key uses from outside a key's networks, likewise.
    pub(crate) key_refusals: Throttle,
}

impl Web {
    /// The pages of a server that browsers reach at `base`; also returns the one-time
    /// login URL to print, when `login_link`.
    pub(crate) fn new(base: &str, login_link: bool) -> Result<(Web, Option<String>), PageError> {
        let base = base.trim_end_matches('/').to_string();
        let (sessions, token) = Sessions::new(base.starts_with("https://"), login_link)?;
        let login = token.map(|token| format!("{base}/login?token={token}"));
        let web = Web {
            sessions,
            bindings: Bindings::new(base.starts_with("https://")),
            callback_refusals: Throttle::new("returns to /callback refused"),
            key_refusals: Throttle::new("API keys refused"),
            base,
        };
        Ok((web, login))
    }

    /// The redirect URI of this server's own callback.
    pub(crate) fn callback(&self) -> String {
        format!("{}/callback", self.base)
    }
}
