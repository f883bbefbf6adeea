//! Every token-endpoint call is decided first ([`crate::budget`]): with the connection's
//! own calls of the day, under its lock, and the app's errors of the last hour from the
//! ledger. The count is kept in the connection by the write that follows the call; an
//! error answer the platform counts towards blocking the app is noted in the ledger.

use std::sync::Arc;

use super::handle::{Lifecycle, Need, blocking};
use crate::budget::{self, Caller, Spent};
use crate::connection::{Connection, fold_name};
use crate::error::LifecycleError;
use crate::notify::EventType;
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
    /// Decides a token-endpoint call for `connection` (as loaded under its lock) and
    /// counts it: the caller keeps the count in the connection it writes next
    /// ([`Spent::store_in`]). [`LifecycleError::OverBudget`] when refused. `None` when
    /// the store keeps no documents.
    pub(super) async fn spend(
        &self,
        connection: &Connection,
        platform: &Arc<Platform>,
        caller: Caller,
    ) -> Result<Option<Spent>, LifecycleError> {
        let Some(documents) = self.inner.ledger.clone() else {
            return Ok(None);
        };
        let (platform, deciding, now) = (Arc::clone(platform), connection.clone(), self.now());
        let decided = blocking(move || {
            Ok(budget::take(
                documents.as_ref(),
                &platform,
                &deciding,
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

    /// `budget_low`, when `spent` left `connection` only the reserve of its day's calls
    /// (once a day per connection).
    pub(super) async fn emit_budget_low(&self, connection: &Connection, spent: Option<Spent>) {
        let Some(spent) = spent.filter(|s| s.budget_low) else {
            return;
        };
        let message = format!(
            "connection '{}' has made {} of its {} token-endpoint calls today; background work leaves the rest to interactive use until the next UTC day",
            connection.name,
            spent.calls_today,
            spent.limit.unwrap_or(spent.calls_today),
        );
        let key = format!("budget_low:{}", fold_name(&connection.name));
        self.emit_about_daily(EventType::BudgetLow, connection, "ok", message, key)
            .await;
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
