//! The lifecycle's errors: one variant per cause, each one actionable sentence that
//! names the connection (and dates where they matter), never a secret.

use std::fmt;
use std::time::SystemTime;

use crate::advice::Advice;
pub use crate::clock::When;
use crate::connection::Connection;
use crate::flow::FlowError;
use crate::platform::PlatformError;
use crate::store::StoreError;
use crate::token_client::{Grant, Refusal, RefusalKind, TokenError};

/// One of the tokens handed over for a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandedToken {
    /// The access token.
    Access,
    /// The refresh token.
    Refresh,
}

impl fmt::Display for HandedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HandedToken::Access => "access token",
            HandedToken::Refresh => "refresh token",
        })
    }
}

/// ` on <date>` when known, else nothing.
struct On(Option<SystemTime>);

impl fmt::Display for On {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(t) => write!(f, " on {}", When(t)),
            None => Ok(()),
        }
    }
}

/// ` (the platform said: "…")` when the platform gave an `error_description`, else
/// nothing: its own words often name the real cause (a client authentication method,
/// a revoked grant) that the advice cannot know.
pub(crate) struct Said<'a>(pub &'a Option<String>);

impl fmt::Display for Said<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(words) => write!(f, " (the platform said: \"{words}\")"),
            None => Ok(()),
        }
    }
}

pub use crate::connection::REGISTERED_KEY;

/// Whether `connection` was registered from tokens obtained elsewhere (see
/// [`REGISTERED_KEY`]).
pub fn is_registered(connection: &Connection) -> bool {
    connection
        .extra
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(REGISTERED_KEY))
}

/// A name as a string literal of the script language, for advice that is a statement:
/// `'acme'`, with a quote in the name doubled (`'o''brien'`).
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.0.replace('\'', "''"))
    }
}

/// What the token lifecycle could not do, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The store failed (its message names the file).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The return URL or the authorization start failed.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// The platform record or base URL is unusable.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// The connection names a platform the registry does not know.
    #[error(
        "connection '{name}' uses platform '{platform}', which is not defined; add it to platforms.xml or correct the connection"
    )]
    UnknownPlatform {
        /// The connection.
        name: String,
        /// The platform id it names.
        platform: String,
    },
    /// The connection has no tokens yet.
    #[error("connection '{name}' has no tokens yet")]
    NotAuthorized {
        /// The connection.
        name: String,
    },
    /// The access token expired and there is no refresh token.
    #[error("the access token of '{name}' has expired and the platform gave no refresh token")]
    NoRefreshToken {
        /// The connection.
        name: String,
    },
    /// A login or registration yielded no refresh token on a platform that issues them:
    /// the connection is stored, but dies with its access token.
    #[error(
        "the platform issued no refresh token for '{name}', so this connection stops working at {}; for an OpenID Connect provider, ask for the offline_access scope (preauth sends prompt=consent with it)", When(*.dies_at)
    )]
    NoRefreshTokenIssued {
        /// The connection.
        name: String,
        /// When its access token expires.
        dies_at: SystemTime,
    },
    /// The refresh token expired.
    #[error("the refresh token of '{name}' expired{}{}", On(*.expired_at), Said(.said))]
    RefreshTokenExpired {
        /// The connection.
        name: String,
        /// When, if known.
        expired_at: Option<SystemTime>,
        /// The platform's `error_description`, when it refused.
        said: Option<String>,
    },
    /// A keep-alive found the connection held by another process (on this or another
    /// machine), which is refreshing it; not a failure.
    #[error("connection '{name}' is being refreshed by another process now; left to it")]
    HeldElsewhere {
        /// The connection.
        name: String,
    },
    /// The refresh token was already used.
    #[error(
        "the refresh token of '{name}' was already used (by another program, or in a refresh whose answer was lost){}", Said(.said)
    )]
    RefreshTokenSpent {
        /// The connection.
        name: String,
        /// The platform's `error_description`.
        said: Option<String>,
    },
    /// The refresh token is unknown or revoked.
    #[error("the platform no longer accepts the refresh token of '{name}' ({detail})")]
    RefreshTokenRejected {
        /// The connection.
        name: String,
        /// The platform's words.
        detail: String,
    },
    /// A refresh was refused because the access token is still valid.
    #[error("the platform refused to refresh '{name}' because its access token is still valid; it can be refreshed from {}", When(*.allowed_from))]
    RefreshTooEarly {
        /// The connection.
        name: String,
        /// From when a refresh is allowed (by our record of the access token).
        allowed_from: SystemTime,
    },
    /// A forced refresh before the platform allows one, where it counts refused ones
    /// towards a block: nothing was sent.
    #[error("'{name}' cannot be refreshed before {}, not even forced: its access token is still valid, and the platform refuses an earlier refresh and counts each refused one towards blocking the app; nothing was sent", When(*.allowed_from))]
    RefreshNotYet {
        /// The connection.
        name: String,
        /// From when a refresh is allowed (by our record of the access token).
        allowed_from: SystemTime,
    },
    /// Too many calls.
    #[error("the platform is rate-limiting '{name}'{}; try again {}", Said(.said), .retry_at.map(|t| format!("after {}", When(t))).unwrap_or_else(|| "later".into()))]
    RateLimited {
        /// The connection.
        name: String,
        /// When a retry is allowed, if the platform said.
        retry_at: Option<SystemTime>,
        /// The platform's `error_description`, when it refused.
        said: Option<String>,
    },
    /// Client id or secret wrong.
    #[error(
        "the platform did not accept the client authentication of '{name}'{}; for a platform of your own, also check that its client authentication (basic or body) is the one the app is registered with", Said(.said)
    )]
    InvalidClient {
        /// The connection.
        name: String,
        /// The platform's `error_description`.
        said: Option<String>,
    },
    /// Redirect URI not registered or not the one used.
    #[error(
        "the platform says the redirect URL '{redirect_url}' of '{name}' does not match the app registration{}; register exactly this URL with the app, or correct the connection's", Said(.said)
    )]
    RedirectUriMismatch {
        /// The connection.
        name: String,
        /// The redirect URL used.
        redirect_url: String,
        /// The platform's `error_description`.
        said: Option<String>,
    },
    /// The authorization code was refused.
    #[error(
        "the authorization code for '{name}' was refused as invalid, already used or expired ({detail}); start the authorization again and finish it within 3 minutes"
    )]
    CodeRejected {
        /// The connection.
        name: String,
        /// The platform's words.
        detail: String,
    },
    /// A bearer call refused the access token.
    #[error("the platform rejected the access token of '{name}' ({detail})")]
    AccessTokenRejected {
        /// The connection.
        name: String,
        /// The platform's words.
        detail: String,
    },
    /// Another refusal.
    #[error("the platform refused the request for '{name}': {refusal}")]
    Refused {
        /// The connection.
        name: String,
        /// The refusal.
        refusal: Refusal,
    },
    /// Nothing was sent: safe to retry.
    #[error(
        "the platform of '{name}' could not be reached ({reason}); nothing was sent, so trying again later is safe"
    )]
    Unreachable {
        /// The connection.
        name: String,
        /// Why.
        reason: String,
    },
    /// A refresh was sent and its answer lost: the old refresh token may be spent.
    #[error(
        "the answer to the refresh of '{name}' was lost ({reason}); the old refresh token may be spent and was not used again: one refresh later says what to do if the token turns out to be spent"
    )]
    RefreshOutcomeUnknown {
        /// The connection.
        name: String,
        /// What happened.
        reason: String,
    },
    /// The budget ledger refused a token-endpoint call: nothing was sent.
    #[error("nothing was sent to the token endpoint for '{name}': {refusal}")]
    OverBudget {
        /// The connection.
        name: String,
        /// Which limit, and from when the call is possible.
        refusal: crate::budget::Refusal,
    },
    /// An automatic refresh waits for the next try after a passing failure: nothing was
    /// sent.
    #[error("'{name}' is not refreshed automatically before {} after a passing failure ({reason}); nothing was sent, and a forced refresh may try earlier", When(*.next_try))]
    RetryLater {
        /// The connection.
        name: String,
        /// When the next automatic try is.
        next_try: SystemTime,
        /// What failed.
        reason: String,
    },
    /// A code exchange was sent and its answer lost: the code is spent.
    #[error(
        "the answer to the code exchange for '{name}' was lost ({reason}); the code cannot be used twice, so start the authorization again"
    )]
    CodeOutcomeUnknown {
        /// The connection.
        name: String,
        /// What happened.
        reason: String,
    },
    /// The answer could not be read.
    #[error(
        "the platform's answer for '{name}' cannot be read (HTTP {status}, {reason}): {excerpt}"
    )]
    Unparseable {
        /// The connection.
        name: String,
        /// The HTTP status.
        status: u16,
        /// What is wrong.
        reason: String,
        /// A secret-free excerpt.
        excerpt: String,
    },
    /// A refresh was not sent because the store could not get ready to save its
    /// answer (a full disk, a read-only folder): the refresh token is still good.
    #[error(
        "the refresh of '{name}' was not sent because its answer could not be stored ({source}); the refresh token is unspent: free disk space or fix the folder's permissions, then try again"
    )]
    SaveNotReady {
        /// The connection.
        name: String,
        /// Why.
        source: StoreError,
    },
    /// The platform issued new tokens that could not be stored: the chain is broken.
    #[error(
        "the platform issued new tokens for '{name}' but they could not be stored ({source}); the stored refresh token is now spent, so '{name}' needs a new login once the store is fixed"
    )]
    TokensNotStored {
        /// The connection.
        name: String,
        /// Why the save failed.
        source: StoreError,
    },
    /// The platform issued new tokens that the store on a server could not take; they
    /// are kept durably on this machine and reach the store later: the chain is intact.
    #[error(
        "the platform issued new tokens for '{name}' and they are safe, though not yet in the store: {source}"
    )]
    TokensSpooled {
        /// The connection.
        name: String,
        /// The store's error, naming the spool file.
        source: StoreError,
    },
    /// A refresh is not sent because the last one with the same refresh token failed
    /// in a way that sending it again cannot repair.
    #[error(
        "{} (recorded {}); preauth does not send this refresh token again by itself, because the platform counts every refused call against the app", .failure.message, When(.failure.at)
    )]
    RefreshBlocked {
        /// The connection.
        name: String,
        /// The record (boxed: it is the largest of these errors).
        failure: Box<crate::lifecycle::RefreshFailure>,
    },
    /// The tokens of a connection registered from a partner application are dead: only
    /// the partner application can obtain new ones.
    #[error(
        "{cause}; the tokens of '{name}' came from a partner application, where new ones come from"
    )]
    PartnerTokensDead {
        /// The connection.
        name: String,
        /// Its platform id.
        platform: String,
        /// What is dead, in one clause naming the connection.
        cause: String,
        /// The error as the platform's answer made it (for callers that react to the
        /// kind of refusal; its advice is the one replaced).
        refused: Box<LifecycleError>,
    },
    /// One token handed over for registration is unusable as given (empty, too long,
    /// or holding characters no token has).
    #[error("the tokens handed over for '{name}' cannot be registered: the {token} {reason}")]
    UnusableToken {
        /// The connection.
        name: String,
        /// Which token.
        token: HandedToken,
        /// What is wrong with it.
        reason: String,
    },
    /// Tokens handed over for registration are unusable.
    #[error("the tokens handed over for '{name}' cannot be registered: {reason}")]
    InvalidRegistration {
        /// The connection.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The platform has no endpoint the operation needs, or the HTTP client cannot be set up.
    #[error("'{name}': {reason}")]
    Unsupported {
        /// The connection.
        name: String,
        /// What is missing.
        reason: String,
    },
}

impl LifecycleError {
    /// Whether only a new login (preauthenticate) can repair the connection.
    pub fn needs_new_login(&self) -> bool {
        matches!(
            self,
            LifecycleError::NotAuthorized { .. }
                | LifecycleError::NoRefreshToken { .. }
                | LifecycleError::RefreshTokenExpired { .. }
                | LifecycleError::RefreshTokenSpent { .. }
                | LifecycleError::RefreshTokenRejected { .. }
                | LifecycleError::TokensNotStored { .. }
                | LifecycleError::PartnerTokensDead { .. }
        )
    }

    /// What repairs it: alternatives, each for a front end to put in its own terms
    /// (empty when nothing a person does helps, or trying again later is all).
    pub fn advice(&self) -> Vec<Advice> {
        use LifecycleError as E;
        let on = |name: &String| name.clone();
        match self {
            E::Store(store) => store.advice(),
            E::NotAuthorized { name }
            | E::NoRefreshToken { name }
            | E::NoRefreshTokenIssued { name, .. }
            | E::RefreshTokenExpired { name, .. }
            | E::RefreshTokenSpent { name, .. }
            | E::RefreshTokenRejected { name, .. }
            | E::TokensNotStored { name, .. } => vec![Advice::LogInAgain {
                connection: on(name),
            }],
            E::InvalidClient { name, .. } => vec![Advice::ChangeClientCredentials {
                connection: on(name),
            }],
            E::RedirectUriMismatch { name, .. } => vec![Advice::ChangeRedirectUrl {
                connection: on(name),
            }],
            E::AccessTokenRejected { name, .. } => vec![
                Advice::ForceRefresh {
                    connection: on(name),
                },
                Advice::LogInAgain {
                    connection: on(name),
                },
            ],
            E::RefreshOutcomeUnknown { name, .. }
            | E::OverBudget { name, .. }
            | E::RetryLater { name, .. } => vec![Advice::RefreshLater {
                connection: on(name),
            }],
            E::RefreshBlocked { name, failure } => {
                // New tokens from a partner need the connection's platform: the advice of
                // such a record comes through `for_connection`, which knows it.
                let mut advice: Vec<Advice> = failure
                    .advice
                    .iter()
                    .filter(|code| *code != "new_tokens_from_partner")
                    .filter_map(|code| Advice::for_connection(code, name, ""))
                    .collect();
                advice.push(Advice::ForceRefresh {
                    connection: on(name),
                });
                advice
            }
            E::PartnerTokensDead {
                name,
                platform,
                refused,
                ..
            } => {
                let mut advice = vec![Advice::NewTokensFromPartner {
                    connection: on(name),
                    platform: platform.clone(),
                }];
                if matches!(**refused, E::RefreshBlocked { .. }) {
                    advice.push(Advice::ForceRefresh {
                        connection: on(name),
                    });
                }
                advice
            }
            _ => Vec::new(),
        }
    }

    /// This error as advice for `connection`: when the connection was registered from a
    /// partner application's tokens (see [`REGISTERED_KEY`]), a dead refresh token is
    /// repaired by new tokens from that application, not by a login here; other errors
    /// and other connections are returned as they are.
    pub fn for_connection(self, connection: &Connection) -> LifecycleError {
        if !is_registered(connection) {
            return self;
        }
        let cause = match &self {
            // A failure recorded with the advice for a login here (the record is written
            // where the connection is not at hand): the partner's advice instead.
            LifecycleError::RefreshBlocked { failure, .. } => {
                let needs_tokens =
                    |code: &String| code == "log_in_again" || code == "new_tokens_from_partner";
                if !failure.advice.iter().any(needs_tokens) {
                    return self;
                }
                self.to_string()
            }
            LifecycleError::RefreshTokenExpired {
                name,
                expired_at,
                said,
            } => format!(
                "the refresh token of '{name}' expired{}{}",
                On(*expired_at),
                Said(said)
            ),
            LifecycleError::RefreshTokenSpent { name, said } => format!(
                "the refresh token of '{name}' was already used (by another program, or in a refresh whose answer was lost){}",
                Said(said)
            ),
            LifecycleError::RefreshTokenRejected { name, detail } => {
                format!("the platform no longer accepts the refresh token of '{name}' ({detail})")
            }
            LifecycleError::NoRefreshToken { name } => format!(
                "the access token of '{name}' has expired and the platform gave no refresh token"
            ),
            LifecycleError::TokensNotStored { name, source } => format!(
                "the platform issued new tokens for '{name}' but they could not be stored ({source}); the stored refresh token is now spent"
            ),
            _ => return self,
        };
        LifecycleError::PartnerTokensDead {
            name: connection.name.clone(),
            platform: connection.platform.clone(),
            cause,
            refused: Box::new(self),
        }
    }

    /// Whether this refresh failure is recorded with the connection (see
    /// [`crate::lifecycle::RefreshFailure`]): it needs a person, or the answer was lost.
    pub fn is_lasting(&self) -> bool {
        self.needs_new_login()
            || matches!(
                self,
                LifecycleError::InvalidClient { .. } | LifecycleError::RefreshOutcomeUnknown { .. }
            )
    }

    /// The error for connection `name` from a token-client error during `grant`.
    pub(crate) fn from_token(
        name: &str,
        grant: Grant,
        error: TokenError,
        redirect_url: &str,
    ) -> Self {
        let name = name.to_string();
        match error {
            TokenError::Refused(refusal) => from_refusal(name, refusal, redirect_url),
            TokenError::NotSent { reason, .. } => LifecycleError::Unreachable { name, reason },
            TokenError::OutcomeUnknown { reason, .. } => match grant {
                Grant::Code => LifecycleError::CodeOutcomeUnknown { name, reason },
                Grant::Refresh => LifecycleError::RefreshOutcomeUnknown { name, reason },
                Grant::Bearer => LifecycleError::Unreachable { name, reason },
            },
            TokenError::Unparseable {
                status,
                reason,
                excerpt,
            } => LifecycleError::Unparseable {
                name,
                status,
                reason,
                excerpt,
            },
            TokenError::Endpoint(e) => LifecycleError::Platform(e),
            e @ (TokenError::NoEndpoint { .. } | TokenError::Client(_)) => {
                LifecycleError::Unsupported {
                    name,
                    reason: e.to_string(),
                }
            }
        }
    }
}

/// The lifecycle error for a refusal. Every variant keeps the platform's own words:
/// `detail` (status, code and description) or `said` (the description).
fn from_refusal(name: String, refusal: Refusal, redirect_url: &str) -> LifecycleError {
    let detail = refusal.to_string();
    let said = refusal.description.clone();
    match refusal.kind {
        RefusalKind::RefreshTokenExpired { expired_at } => LifecycleError::RefreshTokenExpired {
            name,
            expired_at,
            said,
        },
        RefusalKind::RefreshTokenSpent => LifecycleError::RefreshTokenSpent { name, said },
        RefusalKind::RefreshTooEarly => LifecycleError::Refused { name, refusal },
        RefusalKind::RateLimited { retry_at } => LifecycleError::RateLimited {
            name,
            retry_at,
            said,
        },
        RefusalKind::InvalidClient => LifecycleError::InvalidClient { name, said },
        RefusalKind::RedirectUriMismatch => LifecycleError::RedirectUriMismatch {
            name,
            redirect_url: redirect_url.to_string(),
            said,
        },
        RefusalKind::CodeRejected => LifecycleError::CodeRejected { name, detail },
        RefusalKind::RefreshTokenRejected => LifecycleError::RefreshTokenRejected { name, detail },
        RefusalKind::AccessTokenRejected => LifecycleError::AccessTokenRejected { name, detail },
        RefusalKind::Other => LifecycleError::Refused { name, refusal },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn messages_name_the_connection_and_the_date() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_793_613_600);
        let e = LifecycleError::RefreshTokenExpired {
            name: "acme".into(),
            expired_at: Some(at),
            said: None,
        };
        assert_eq!(
            e.to_string(),
            "the refresh token of 'acme' expired on 2026-11-02 10:00:00 UTC"
        );
        assert!(e.needs_new_login());
        assert_eq!(
            e.advice(),
            [Advice::LogInAgain {
                connection: "acme".into()
            }]
        );
        let e = LifecycleError::RateLimited {
            name: "acme".into(),
            retry_at: None,
            said: Some("Too many calls".into()),
        };
        assert_eq!(
            e.to_string(),
            "the platform is rate-limiting 'acme' (the platform said: \"Too many calls\"); try again later"
        );
    }
}
