//! Every token-endpoint call asks the budget ledger first ([`crate::budget`]) and
//! counts towards it before it is sent; an error answer the platform counts towards
//! blocking the app is noted there afterwards.

use std::sync::Arc;

use super::handle::{Lifecycle, Need, blocking};
use crate::budget::{self, Caller, Spent};
use crate::connection::Connection;
use crate::error::LifecycleError;
use crate::platform::Platform;
use crate::token_client::TokenError;

impl Need {
    /// Who asks, for the ledger: a keep-alive is background work, a forced refresh a
    /// person's explicit action, anything else a program that needs a token now.
    pub(super) fn caller(&self) -> Caller {
        match self {
            Need::OlderThan { .. } => Caller::Background,
            Need::Force => Caller::Person,
            Need::IfNeeded => Caller::Automatic,
        }
    }
}

impl Lifecycle {
    /// Decides a token-endpoint call for `connection` with the ledger and counts it;
    /// [`LifecycleError::OverBudget`] when refused. `None` when the store keeps no
    /// documents.
    pub(super) async fn spend(
        &self,
        connection: &Connection,
        platform: &Arc<Platform>,
        caller: Caller,
    ) -> Result<Option<Spent>, LifecycleError> {
        let Some(documents) = self.inner.ledger.clone() else {
            return Ok(None);
        };
        let (platform, client_id, now) = (
            Arc::clone(platform),
            connection.client_id.clone(),
            self.now(),
        );
        let decided = blocking(move || {
            Ok(budget::take(
                documents.as_ref(),
                &platform,
                &client_id,
                caller,
                now,
            )?)
        })
        .await?;
        decided
            .map(Some)
            .map_err(|refusal| LifecycleError::OverBudget {
                name: connection.name.clone(),
                refusal,
            })
    }

    /// Notes `error`, the answer to a call for `connection`, in the ledger when the
    /// platform counts it towards blocking the app. Best effort: the answer itself is
    /// what the caller sees.
    pub(super) async fn note_answer(
        &self,
        connection: &Connection,
        platform: &Arc<Platform>,
        error: &TokenError,
    ) {
        let TokenError::Refused(refusal) = error else {
            return;
        };
        let Some(documents) = self.inner.ledger.clone() else {
            return;
        };
        if !budget::counts_as_error(refusal.status) {
            return;
        }
        let (platform, client_id, now) = (
            Arc::clone(platform),
            connection.client_id.clone(),
            self.now(),
        );
        let _ = blocking(move || {
            Ok(budget::note_error(
                documents.as_ref(),
                &platform,
                &client_id,
                now,
            )?)
        })
        .await;
    }
}
