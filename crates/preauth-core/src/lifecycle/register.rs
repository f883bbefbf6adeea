//! OEM registration: a connection from tokens obtained elsewhere.

use std::time::{Duration, SystemTime};

use super::handle::{Lifecycle, blocking};
use super::status::{needs_refresh, refresh_token_expiry};
use crate::connection::{Connection, Tokens};
use crate::error::{HandedToken, LifecycleError, REGISTERED_KEY, Said, When};
use crate::secret::{AccessToken, RefreshToken};
use crate::token_client::{Grant, MeInfo, TokenValidation};

/// Longest token accepted.
const MAX_TOKEN_LEN: usize = 8192;

/// How far in the future `obtained_at` may lie (clock skew between machines).
const FUTURE_SKEW: Duration = Duration::from_secs(5 * 60);

/// Tokens obtained elsewhere (an OEM partner's web application) to register as a connection.
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    /// The connection: name, platform, base URL, client and redirect URL (tokens ignored).
    pub connection: Connection,
    /// The access token.
    pub access_token: AccessToken,
    /// The refresh token.
    pub refresh_token: RefreshToken,
    /// When the tokens were obtained; `None` means now.
    pub obtained_at: Option<SystemTime>,
    /// Prove the tokens before keeping them: with a refresh (whose new pair is stored)
    /// when the access token is expired or due; while it is still fresh, with `current/Me`
    /// or the token validation, which prove the access token only (see
    /// [`Registration::refresh_token_unchecked_until`]).
    pub verify: bool,
}

/// How registered tokens were proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// `current/Me` answered.
    Me(MeInfo),
    /// The token validation answered.
    Validation(TokenValidation),
    /// A refresh succeeded (and its tokens were saved).
    Refreshed,
}

/// A registered connection.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The connection as stored.
    pub connection: Connection,
    /// When its refresh token expires, on platforms where they do.
    pub refresh_token_expires_at: Option<SystemTime>,
    /// How the tokens were proven, when asked.
    pub proof: Option<Proof>,
    /// With `verify` and an access token still fresh: the refresh token was not checked,
    /// because a platform like Exact refuses a refresh (and counts the refusal) while the
    /// access token is valid. The first refresh, from this time on, is its first check.
    pub refresh_token_unchecked_until: Option<SystemTime>,
}

impl Lifecycle {
    /// Registers a connection from tokens obtained elsewhere: checks their shape and age
    /// (a refresh token past its platform's lifetime, 30 days for Exact, is refused with
    /// its expiry date), stores the connection durably, and with `verify` proves the
    /// tokens (a refused proof removes the connection again; a lost answer keeps it).
    pub async fn register(&self, request: RegisterRequest) -> Result<Registration, LifecycleError> {
        let RegisterRequest {
            mut connection,
            access_token,
            refresh_token,
            obtained_at,
            verify,
        } = request;
        let name = connection.name.clone();
        let invalid = |reason: String| LifecycleError::InvalidRegistration {
            name: name.clone(),
            reason,
        };
        let platform = self.platform_of(&connection)?;
        for (token, value) in [
            (HandedToken::Access, access_token.secret()),
            (HandedToken::Refresh, refresh_token.secret()),
        ] {
            check_token(value).map_err(|reason| LifecycleError::UnusableToken {
                name: name.clone(),
                token,
                reason,
            })?;
        }
        if access_token.secret() == refresh_token.secret() {
            return Err(invalid(
                "the access token and the refresh token are the same; swap in the right values"
                    .into(),
            ));
        }
        let now = self.now();
        let obtained = obtained_at.unwrap_or(now);
        if obtained > now + FUTURE_SKEW {
            return Err(invalid(format!(
                "they are said to be obtained at {}, which is in the future; check the time given",
                When(obtained)
            )));
        }
        let tokens = Tokens {
            access_token,
            access_token_issued_at: obtained,
            access_token_expires_at: obtained + platform.default_access_token_lifetime,
            refresh_token: Some(refresh_token),
            refresh_token_issued_at: Some(obtained),
        };
        let expires = refresh_token_expiry(&platform, &tokens);
        if let Some(at) = expires.filter(|at| *at <= now) {
            return Err(invalid(format!(
                "the refresh token expired on {} ({} days after it was obtained); obtain new tokens",
                When(at),
                platform
                    .refresh_token_lifetime
                    .map_or(0, |l| l.as_secs() / 86_400)
            )));
        }
        connection.tokens = Some(tokens.clone());
        // Marks where new tokens come from, for the advice when these die.
        connection
            .extra
            .retain(|(k, _)| !k.eq_ignore_ascii_case(REGISTERED_KEY));
        connection.extra.push((
            REGISTERED_KEY.to_string(),
            humantime::format_rfc3339_seconds(now).to_string(),
        ));
        let store = std::sync::Arc::clone(&self.inner.store);
        let created = connection.clone();
        blocking(move || Ok(store.create(&created)?)).await?;
        if !verify {
            self.emit_created(&connection).await;
            return Ok(Registration {
                connection,
                refresh_token_expires_at: expires,
                proof: None,
                refresh_token_unchecked_until: None,
            });
        }
        let access_fresh = !needs_refresh(&platform, &tokens, now);
        let can_prove_access =
            platform.me_path.is_some() || platform.token_validation_path.is_some();
        let refresh_token_unchecked_until = (access_fresh && can_prove_access)
            .then(|| platform.refresh_allowed_from(tokens.access_token_expires_at));
        let proof = if access_fresh && platform.me_path.is_some() {
            self.inner
                .http
                .me(&platform, &connection, &tokens.access_token)
                .await
                .map(Proof::Me)
                .map_err(|e| self.token_error(&connection, Grant::Bearer, e))
        } else if access_fresh && platform.token_validation_path.is_some() {
            self.inner
                .http
                .validate_access_token(&platform, &connection, &tokens.access_token)
                .await
                .map(Proof::Validation)
                .map_err(|e| self.token_error(&connection, Grant::Bearer, e))
        } else {
            self.refresh(&name, true).await.map(|grant| {
                connection = grant.connection;
                Proof::Refreshed
            })
        };
        // Told once it is kept: a registration whose tokens are refused is removed again.
        if !matches!(&proof, Err(e) if !kept_on(e)) {
            self.emit_created(&connection).await;
        }
        match proof {
            Ok(proof) => Ok(Registration {
                refresh_token_expires_at: connection
                    .tokens
                    .as_ref()
                    .and_then(|t| refresh_token_expiry(&platform, t)),
                connection,
                proof: Some(proof),
                refresh_token_unchecked_until,
            }),
            Err(e) => {
                if kept_on(&e) {
                    // Kept: the tokens may be good, and the error's advice is about
                    // the stored connection.
                    return Err(e);
                }
                // The tokens were refused: do not keep a connection that cannot work,
                // and say so instead of advice about a connection that is gone.
                let _ = self.inner.store.drop_connection(&name);
                Err(refused_registration(name, e))
            }
        }
    }
}

/// Whether a registration whose proof failed with `error` is kept: the tokens may be good
/// (the answer was lost, or the platform not reached).
fn kept_on(error: &LifecycleError) -> bool {
    matches!(
        error,
        LifecycleError::RefreshOutcomeUnknown { .. } | LifecycleError::Unreachable { .. }
    )
}

/// The error for tokens the platform refused while verifying a registration (the
/// connection was removed again): what was refused, and that new tokens come from the
/// partner application that obtained these (a login here would not give them to it).
fn refused_registration(name: String, error: LifecycleError) -> LifecycleError {
    const NEW_TOKENS: &str =
        "nothing was stored; obtain new tokens from the partner application and register them";
    // The advice for a registered connection replaced the platform's refusal: what was
    // refused is what this error is about.
    let error = match error {
        LifecycleError::PartnerTokensDead { refused, .. } => *refused,
        other => other,
    };
    let cause = match &error {
        LifecycleError::RefreshTokenSpent { said, .. } => format!(
            "the platform says the refresh token was already used{}",
            Said(said)
        ),
        LifecycleError::RefreshTokenExpired {
            expired_at, said, ..
        } => format!(
            "the platform says the refresh token expired{}{}",
            expired_at
                .map(|t| format!(" on {}", When(t)))
                .unwrap_or_default(),
            Said(said)
        ),
        LifecycleError::RefreshTokenRejected { detail, .. } => {
            format!("the platform does not accept the refresh token ({detail})")
        }
        LifecycleError::AccessTokenRejected { detail, .. } => {
            format!("the platform does not accept the access token ({detail})")
        }
        LifecycleError::InvalidClient { said, .. } => {
            return LifecycleError::InvalidRegistration {
                name,
                reason: format!(
                    "the platform did not accept the client authentication{}; nothing was stored: register again with the app's client id and secret as the app registration shows them",
                    Said(said)
                ),
            };
        }
        _ => return error,
    };
    LifecycleError::InvalidRegistration {
        name,
        reason: format!("{cause}; {NEW_TOKENS}"),
    }
}

/// A token must be 1 to 8192 visible ASCII characters.
/// What is wrong with a token handed over, if anything (the sentence goes on after
/// "the access token").
fn check_token(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("is empty".into());
    }
    if value.len() > MAX_TOKEN_LEN {
        return Err(format!("is longer than {MAX_TOKEN_LEN} characters"));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "holds spaces, line breaks or non-ASCII characters; copy it again without them".into(),
        );
    }
    Ok(())
}
