//! [`Fleet`] on PostgreSQL: enrollment codes, enrolling this machine, the machines'
//! key slots.

use std::time::Duration;

use preauth_core::store::{Fleet, Machine, StoreError};
use zeroize::Zeroizing;

use super::{PgStore, unlock_with};
use crate::errors::error;
use crate::keys;

impl Fleet for PgStore {
    fn enrollment_code(&self, valid_for: Duration) -> Result<Zeroizing<String>, StoreError> {
        let text = self.unlocked()?.data_key.text();
        self.db.with(|client, location| async move {
            keys::create_code(&client, &location, text, valid_for).await
        })
    }

    fn enroll(&self, code: &str) -> Result<String, StoreError> {
        let machine = self.machine.clone();
        let code = Zeroizing::new(code.to_string());
        let data_key = self.db.with(|client, location| async move {
            keys::enroll(&client, &location, &machine, &code).await
        })?;
        *self
            .unlocked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(unlock_with(data_key));
        Ok(self.machine.slot.clone())
    }

    fn machines(&self) -> Result<Vec<Machine>, StoreError> {
        let own = self.machine.slot.clone();
        self.db.with(|client, location| async move {
            let rows = client
                .query(
                    "SELECT slot, kind, created_at, last_used_at, expires_at
                     FROM preauth_key_slots ORDER BY kind, slot",
                    &[],
                )
                .await
                .map_err(|e| error(&location, e, "read the key slots"))?;
            Ok(rows
                .iter()
                .map(|r| {
                    let name: String = r.get(0);
                    Machine {
                        this_machine: name == own,
                        name,
                        kind: r.get(1),
                        created_at: r.get(2),
                        last_used_at: r.get(3),
                        expires_at: r.get(4),
                    }
                })
                .collect())
        })
    }

    fn drop_machine(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.db.with(
            |client, location| async move { keys::drop_slot(&client, &location, &name).await },
        )
    }
}
