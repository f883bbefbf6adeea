//! A connection: one app registration on one platform, and the tokens it holds.
//!
//! This is the record the store keeps and the lifecycle updates. How it is written
//! to a settings file (connection-string keys, provider attribute) is the business of
//! the settings module; nothing here knows about XML.

use std::time::SystemTime;

use crate::secret::{AccessToken, ClientSecret, RefreshToken};

/// The extra connection-string key that marks a connection registered from tokens
/// obtained elsewhere (`register connection`, the OEM flow), with the time it was
/// registered: new tokens for it come from the partner application that obtained them,
/// so advice for dead tokens names that rather than a login here. A new login here
/// (`preauthenticate connection`) removes it.
pub const REGISTERED_KEY: &str = "preauth-registered";

/// The extra connection-string key where Twinfield's cluster URL is kept.
pub const CLUSTER_URL_KEY: &str = "api-cluster-url";

/// One named connection.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The name users type (`acme-nl`); unique within a store, compared case-insensitively.
    pub name: String,
    /// The id of the platform record (`exact-online`, `twinfield`, or a user-defined one).
    pub platform: String,
    /// The base URL the platform's endpoints hang off (`https://start.exactonline.nl`,
    /// or a sandbox on 127.0.0.1). Written as `api-url`.
    pub api_url: String,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret; absent for public clients.
    pub client_secret: Option<ClientSecret>,
    /// The redirect URL registered with the app (written as `api-redirect-url`).
    pub redirect_url: String,
    /// The tokens, once the connection has been authorized.
    pub tokens: Option<Tokens>,
    /// Connection-string keys preauth does not interpret, in their original order and
    /// spelling, so that a rewrite never drops a user's data.
    pub extra: Vec<(String, String)>,
}

/// The tokens of a connection, with absolute times.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The bearer access token.
    pub access_token: AccessToken,
    /// When the access token was issued (by our clock, when the response arrived).
    pub access_token_issued_at: SystemTime,
    /// When the access token stops working.
    pub access_token_expires_at: SystemTime,
    /// The refresh token, when the platform gave one.
    pub refresh_token: Option<RefreshToken>,
    /// When the current refresh token was obtained. On platforms whose refresh tokens
    /// expire after a period unused (Exact: 30 days), its expiry counts from here.
    pub refresh_token_issued_at: Option<SystemTime>,
}

impl Connection {
    /// Whether `name` names this connection (names compare case-insensitively).
    pub fn is_named(&self, name: &str) -> bool {
        fold_name(&self.name) == fold_name(name)
    }
}

/// The one case rule for connection names, used for every comparison, lookup, lock
/// and file name: full Unicode lower case, so that `Ö` and `ö` (like `A` and `a`) name
/// the same connection.
pub fn fold_name(name: &str) -> String {
    name.to_lowercase()
}
