//! Logging in: the authorization URL with its pending authorization, and the return
//! URL's code exchanged and stored before the connection is handed back.

use std::sync::Arc;

use super::failure::{self, RefreshFailure};
use super::handle::{Lifecycle, blocking};
use super::refresh::{set_extra, tokens_from};
use crate::budget::{Caller, Spent};
use crate::connection::{CLUSTER_URL_KEY, Connection};
use crate::error::LifecycleError;
use crate::flow::{self, Callback, FlowError, StartedAuthorization};
use crate::platform::Platform;
use crate::store::StoreError;
use crate::token_client::Grant;

impl Lifecycle {
    /// Starts an authorization for `connection` (its name, platform, base URL, client
    /// and redirect URL; tokens are ignored): builds the URL and stores the pending
    /// authorization for [`crate::flow::PENDING_LIFETIME`]. Show (or open) `url`; then call
    /// [`Lifecycle::finish_authorization`] with the return URL, in this or another process.
    pub fn start_authorization(
        &self,
        connection: &Connection,
    ) -> Result<StartedAuthorization, LifecycleError> {
        let platform = self.platform_of(connection)?;
        let started = flow::start(&platform, connection, self.now())?;
        self.inner.store.put_pending(&started.pending)?;
        Ok(started)
    }

    /// Finishes an authorization from its return URL (whole URL or query): checks
    /// `state` against the pending authorizations (each is used once), the `iss`, and the
    /// platform's `error`; exchanges the code at once; stores the connection with its
    /// tokens durably, and only then returns it. A login that yielded no refresh token on
    /// a platform that issues them is stored all the same, and reported as
    /// [`LifecycleError::NoRefreshTokenIssued`].
    pub async fn finish_authorization(
        &self,
        return_url: &str,
    ) -> Result<Connection, LifecycleError> {
        let callback = flow::parse_return(return_url)?;
        let state = callback.state().ok_or(FlowError::MissingState)?;
        let (store, state, now) = (Arc::clone(&self.inner.store), state.to_string(), self.now());
        let pending = blocking(move || Ok(store.take_pending(&state, now)?))
            .await?
            .ok_or(FlowError::UnknownState)?;
        let mut connection = pending.connection.clone();
        let platform = self.platform_of(&connection)?;
        flow::check_issuer(&platform, &connection.api_url, callback.iss())?;
        let code = match callback {
            Callback::Denied {
                error, description, ..
            } => {
                return Err(FlowError::Denied { error, description }.into());
            }
            Callback::Code { code, .. } => code,
        };
        let spent = self.spend(&connection, &platform, Caller::Person).await?;
        let response = self
            .inner
            .http
            .exchange_code(
                &platform,
                &connection,
                &code,
                pending.pkce_verifier.as_ref(),
            )
            .await;
        if let Err(e) = &response {
            self.note_answer(&connection, &platform, e).await;
        }
        let response = response.map_err(|e| self.token_error(&connection, Grant::Code, e))?;
        if let Some(claims) = &response.id_token {
            flow::check_id_token(&platform, &connection, pending.nonce.as_deref(), claims)?;
        }
        connection.tokens = Some(tokens_from(&platform, response, None, self.now()));
        // The code exchange is the connection's first call of the day, or one more.
        if let Some(spent) = &spent {
            spent.store_in(&mut connection);
        }
        match self.persist_new(&connection, spent).await? {
            None => self.emit_created(&connection).await,
            Some(before) => self.emit_recovered(before.as_ref(), &connection).await,
        }
        self.remember_cluster_url(&platform, &mut connection).await;
        match connection.tokens.as_ref() {
            Some(t) if t.refresh_token.is_none() && platform.issues_refresh_tokens => {
                Err(LifecycleError::NoRefreshTokenIssued {
                    name: connection.name,
                    dies_at: t.access_token_expires_at,
                })
            }
            _ => Ok(connection),
        }
    }

    /// Stores a newly authorized connection: created (`None`), or (when it exists) its
    /// tokens and app fields replaced under the lock, keeping extra keys not set anew
    /// (`Some`, with the refresh failure it held and no longer applies) and counting the
    /// code exchange, `spent`, after the calls it made today.
    async fn persist_new(
        &self,
        connection: &Connection,
        spent: Option<Spent>,
    ) -> Result<Option<Option<RefreshFailure>>, LifecycleError> {
        let store = Arc::clone(&self.inner.store);
        let connection = connection.clone();
        blocking(move || match store.create(&connection) {
            Ok(()) => Ok(None),
            Err(StoreError::AlreadyExists { .. }) => {
                let mut locked = store.lock(&connection.name)?;
                let existing = locked.load()?;
                let before = RefreshFailure::blocking(&existing);
                let mut merged = connection.clone();
                merged.name = existing.name.clone();
                let counted = spent.map(|s| s.following(&existing));
                for (k, v) in existing.extra {
                    if !merged.extra.iter().any(|(m, _)| m.eq_ignore_ascii_case(&k)) {
                        merged.extra.push((k, v));
                    }
                }
                // New tokens: a failure recorded for the old ones no longer applies.
                failure::clear(&mut merged);
                if let Some(counted) = counted {
                    counted.store_in(&mut merged);
                }
                locked.save(&merged)?;
                Ok(Some(before))
            }
            Err(e) => Err(e.into()),
        })
        .await
    }

    /// On platforms with a token-validation endpoint (Twinfield), asks for the cluster
    /// URL once and keeps it as `api-cluster-url`. Best effort: the tokens are already
    /// saved, and the cluster URL can be asked for again on the next authorization.
    async fn remember_cluster_url(&self, platform: &Platform, connection: &mut Connection) {
        if platform.token_validation_path.is_none() {
            return;
        }
        let Some(token) = connection.tokens.as_ref().map(|t| t.access_token.clone()) else {
            return;
        };
        let Ok(validation) = self
            .inner
            .http
            .validate_access_token(platform, connection, &token)
            .await
        else {
            return;
        };
        let Some(cluster) = validation.cluster_url else {
            return;
        };
        let store = Arc::clone(&self.inner.store);
        let name = connection.name.clone();
        let stored = blocking(move || {
            let mut locked = store.lock(&name)?;
            Ok(set_extra(locked.as_mut(), CLUSTER_URL_KEY, cluster)?)
        })
        .await;
        if let Ok(stored) = stored {
            *connection = stored;
        }
    }
}
