//! Hardware-bound, yet shared: the store's data key and its key slots.
//!
//! Every connection string is sealed with one random data key
//! ([`devicekey::DeviceKey::from_data_key`], the same `dk1:` envelope and label binding
//! as settings files). The data key itself is stored only sealed: once per machine,
//! with that machine's device key or with a key file ([`MachineKey`]), and once per
//! unused enrollment code, with a key derived from the code by Argon2id. A copy of the
//! database alone opens nothing.
//!
//! Every change to the slots (the first slot of a new store, an enrollment code, an
//! enrollment, a dropped machine) runs in a transaction holding one advisory lock
//! ([`SLOTS_LOCK`]), so that counts taken inside it stay true until it commits: the
//! last machine slot can never go, however many machines drop each other at once. A
//! store that holds anything sealed but no machine slot is broken, not new: it is never
//! given a new data key.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use devicekey::{DeviceKey, Error as KeyError};
use preauth_core::advice::Advice;
use preauth_core::protector::{ProtectError, ProtectErrorKind, Protector};
use preauth_core::store::StoreError;
use tokio_postgres::Client;
use zeroize::Zeroizing;

use crate::errors::error;

/// The label the data key is sealed under in a key slot.
const DATA_KEY_LABEL: &str = "preauth data key";

/// The prefix of an enrollment code (`enroll1.<id>.<secret>`).
const CODE_PREFIX: &str = "enroll1";

/// The advisory lock key that serialises every change to the key slots ("slots").
const SLOTS_LOCK: i64 = 0x0073_6c6f_7473;

/// How this machine holds its key slot.
#[derive(Clone)]
pub struct MachineKey {
    /// The slot's name: `user@host` for a device key, `key file` for a key file.
    pub slot: String,
    /// `device` or `key file`.
    pub kind: SlotKind,
    /// Seals and opens the data key in this machine's slot.
    pub protector: Arc<dyn Protector>,
}

impl std::fmt::Debug for MachineKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MachineKey")
            .field("slot", &self.slot)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The kinds of key slot a machine holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// Sealed with this machine's device key (one slot per machine and user).
    Device,
    /// Sealed with a key file: one slot for every container given that file.
    KeyFile,
}

impl SlotKind {
    /// The kind as the table stores it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SlotKind::Device => "device",
            SlotKind::KeyFile => "key file",
        }
    }
}

impl MachineKey {
    /// This machine and user with their device key: slot `user@host`.
    pub fn device(protector: Arc<dyn Protector>) -> Self {
        MachineKey {
            slot: format!("{}@{}", user_name(), host_name()),
            kind: SlotKind::Device,
            protector,
        }
    }

    /// A key file: slot `key file`, shared by every process given the same file.
    pub fn key_file(protector: Arc<dyn Protector>) -> Self {
        MachineKey {
            slot: "key file".into(),
            kind: SlotKind::KeyFile,
            protector,
        }
    }
}

/// The data key as a [`Protector`] for connection strings; it keeps its text to seal
/// it under an enrollment code.
pub(crate) struct DataKey {
    key: DeviceKey,
    text: Zeroizing<String>,
}

impl DataKey {
    /// The data key's text (a secret).
    pub(crate) fn text(&self) -> Zeroizing<String> {
        self.text.clone()
    }
}

impl Protector for DataKey {
    fn seal(&self, plaintext: &str, label: &str) -> Result<String, ProtectError> {
        self.key.encrypt(plaintext, label).map_err(protect_error)
    }

    fn open(&self, sealed: &str, label: &str) -> Result<Zeroizing<String>, ProtectError> {
        self.key.decrypt(sealed, label).map_err(protect_error)
    }

    fn is_sealed(&self, text: &str) -> bool {
        devicekey::is_envelope(text)
    }
}

fn protect_error(e: KeyError) -> ProtectError {
    let kind = match e {
        KeyError::TamperedOrWrongLabel | KeyError::WrongDataKey => {
            ProtectErrorKind::TamperedOrWrongLabel
        }
        KeyError::WrongMode { .. } => ProtectErrorKind::AnotherDevice,
        KeyError::Malformed { .. } | KeyError::UnsupportedVersion { .. } => {
            ProtectErrorKind::Malformed
        }
        _ => ProtectErrorKind::Key,
    };
    ProtectError {
        kind,
        message: e.to_string(),
    }
}

fn data_key(text: &str, location: &str) -> Result<Arc<DataKey>, StoreError> {
    DeviceKey::from_data_key(text)
        .map(|key| {
            Arc::new(DataKey {
                key,
                text: Zeroizing::new(text.to_string()),
            })
        })
        .map_err(|e| {
            backend(
                location,
                format!("the store's data key cannot be used ({e})"),
            )
        })
}

fn backend(location: &str, reason: String) -> StoreError {
    StoreError::Backend {
        location: location.to_string(),
        reason,
        source: None,
    }
}

/// A refusal that `advice` repairs.
fn refused(location: &str, reason: String, advice: Advice) -> StoreError {
    StoreError::Refused {
        location: location.to_string(),
        reason,
        advice: vec![advice],
    }
}

/// The refusal for a machine that holds no slot.
fn not_enrolled(location: &str, machine: &MachineKey) -> StoreError {
    refused(
        location,
        format!(
            "this machine ({}) is not enrolled in this shared store: enroll it, or give the key file the fleet uses (--key-file)",
            machine.slot
        ),
        Advice::EnrollMachine,
    )
}

/// Opens this machine's slot and returns the data key; notes the slot's use unless
/// `read_only` (monitoring changes nothing).
pub(crate) async fn unlock(
    client: &Client,
    location: &str,
    machine: &MachineKey,
    read_only: bool,
) -> Result<Arc<DataKey>, StoreError> {
    let failed = |e: tokio_postgres::Error| error(location, e, "read the key slots");
    let query = if read_only {
        "SELECT sealed_key FROM preauth_key_slots WHERE slot = $1 AND kind = $2"
    } else {
        "UPDATE preauth_key_slots SET last_used_at = now() WHERE slot = $1 AND kind = $2
         RETURNING sealed_key"
    };
    let own = client
        .query_opt(query, &[&machine.slot, &machine.kind.as_str()])
        .await
        .map_err(failed)?;
    if let Some(row) = own {
        let sealed: String = row.get(0);
        let text = machine
            .protector
            .open(&sealed, DATA_KEY_LABEL)
            .map_err(|e| match e.kind {
                // The key itself is missing (another DEVICEKEY_SECRET_DIR, an absent
                // key file): its own sentence says what to do.
                ProtectErrorKind::Key => backend(
                    location,
                    format!("the key of machine '{}' is unavailable: {e}", machine.slot),
                ),
                _ => refused(
                    location,
                    format!(
                        "the key slot '{}' does not open with this machine's key ({e})",
                        machine.slot
                    ),
                    Advice::ReenrollMachine {
                        machine: machine.slot.clone(),
                    },
                ),
            })?;
        return data_key(&text, location);
    }
    // No machine slot at all, yet sealed rows: a broken store, not this machine's fault.
    check_openable(client, location).await?;
    Err(not_enrolled(location, machine))
}

/// Fails with the broken-store sentence when no machine holds a slot yet something is
/// sealed: what reads outlines (no key needed) still reports a store nobody can open.
pub(crate) async fn check_openable(client: &Client, location: &str) -> Result<(), StoreError> {
    if machine_slots(client, location).await? == 0 {
        let remains = Remains::count(client, location).await?;
        if !remains.is_empty() {
            return Err(broken(location, &remains));
        }
    }
    Ok(())
}

/// Runs `change` in a transaction that holds [`SLOTS_LOCK`], committed when `keep`
/// says so (else rolled back): every change to the key slots goes through here, so
/// that what `change` counts stays true until it commits.
async fn serialised<T, E>(
    client: &Client,
    failed: impl Fn(tokio_postgres::Error) -> E,
    change: impl Future<Output = Result<T, E>>,
    keep: impl FnOnce(&Result<T, E>) -> bool,
) -> Result<T, E> {
    client.batch_execute("BEGIN").await.map_err(&failed)?;
    let result = async {
        client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&SLOTS_LOCK])
            .await
            .map_err(&failed)?;
        change.await
    }
    .await;
    let end = if keep(&result) { "COMMIT" } else { "ROLLBACK" };
    client.batch_execute(end).await.map_err(failed)?;
    result
}

/// How many machine slots (device or key file) the store has.
async fn machine_slots(client: &Client, location: &str) -> Result<i64, StoreError> {
    Ok(client
        .query_one(
            "SELECT count(*) FROM preauth_key_slots WHERE kind <> 'enrollment'",
            &[],
        )
        .await
        .map_err(|e| error(location, e, "read the key slots"))?
        .get(0))
}

/// What a store holds sealed with its data key, besides the machine slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Remains {
    connections: i64,
    pending: i64,
    codes: i64,
}

impl Remains {
    /// Counts what the store holds.
    async fn count(client: &Client, location: &str) -> Result<Remains, StoreError> {
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM preauth_connections),
                        (SELECT count(*) FROM preauth_pending),
                        (SELECT count(*) FROM preauth_key_slots WHERE kind = 'enrollment')",
                &[],
            )
            .await
            .map_err(|e| error(location, e, "read the store"))?;
        Ok(Remains {
            connections: row.get(0),
            pending: row.get(1),
            codes: row.get(2),
        })
    }

    /// Whether nothing is sealed with the data key: a store that may get a new one.
    fn is_empty(&self) -> bool {
        *self == Remains::default()
    }
}

impl std::fmt::Display for Remains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counted = [
            (self.connections, "sealed connection", "sealed connections"),
            (self.pending, "pending login", "pending logins"),
            (self.codes, "enrollment code", "enrollment codes"),
        ];
        let parts: Vec<String> = counted
            .iter()
            .filter(|(n, _, _)| *n > 0)
            .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
            .collect();
        match parts.split_last() {
            Some((last, [])) => f.write_str(last),
            Some((last, rest)) => write!(f, "{} and {last}", rest.join(", ")),
            None => f.write_str("nothing"),
        }
    }
}

/// The refusal for a store that holds sealed rows but no machine slot.
fn broken(location: &str, remains: &Remains) -> StoreError {
    refused(
        location,
        format!(
            "this shared store holds {remains} but no machine's key slot, so nothing in it can be opened (its slots were dropped or deleted) and preauth will not seal it over with a new data key; restore the table preauth_key_slots from a backup of the database (a key file's slot opens again wherever that key file is given)"
        ),
        Advice::RedeemEnrollmentCode,
    )
}

/// The first machine's setup, serialised with every slot change: when the store is
/// new (no machine slot and nothing sealed), a new data key and this machine's slot
/// (returned); otherwise nothing. A store that holds sealed rows but no machine slot is
/// left as it is: [`unlock`] then says that it is broken and how to restore it.
pub(crate) async fn claim_if_empty(
    client: &Client,
    location: &str,
    machine: &MachineKey,
) -> Result<Option<Arc<DataKey>>, StoreError> {
    let failed = |e: tokio_postgres::Error| error(location, e, "set up the key slots");
    let claim = async {
        if machine_slots(client, location).await? > 0
            || !Remains::count(client, location).await?.is_empty()
        {
            return Ok(None);
        }
        let text = devicekey::new_data_key()
            .map_err(|e| backend(location, format!("cannot make a data key ({e})")))?;
        let sealed = machine
            .protector
            .seal(&text, DATA_KEY_LABEL)
            .map_err(|e| backend(location, format!("cannot seal the data key ({e})")))?;
        client
            .execute(
                "INSERT INTO preauth_key_slots (slot, kind, sealed_key, last_used_at)
                 VALUES ($1, $2, $3, now())",
                &[&machine.slot, &machine.kind.as_str(), &sealed],
            )
            .await
            .map_err(failed)?;
        data_key(&text, location).map(Some)
    };
    serialised(client, failed, claim, Result::is_ok).await
}

/// A new one-time enrollment code for the data key `text` of this store, valid for
/// `valid_for`: only a slot sealed with a key derived from the code is stored.
pub(crate) async fn create_code(
    client: &Client,
    location: &str,
    data_key_text: Zeroizing<String>,
    valid_for: Duration,
) -> Result<Zeroizing<String>, StoreError> {
    let failed = |e: tokio_postgres::Error| error(location, e, "store the enrollment code");
    let id = random_text(6, location)?;
    let secret = random_text(20, location)?;
    let key = DeviceKey::from_passphrase(Zeroizing::new(secret.to_string()))
        .map_err(|e| backend(location, format!("cannot seal for the code ({e})")))?;
    let sealed = key
        .encrypt(&data_key_text, DATA_KEY_LABEL)
        .map_err(|e| backend(location, format!("cannot seal for the code ({e})")))?;
    let expires = SystemTime::now() + valid_for;
    let store = async {
        client
            .execute(
                "DELETE FROM preauth_key_slots WHERE kind = 'enrollment' AND expires_at < now()",
                &[],
            )
            .await
            .map_err(failed)?;
        client
            .execute(
                "INSERT INTO preauth_key_slots (slot, kind, sealed_key, expires_at)
                 VALUES ($1, 'enrollment', $2, $3)",
                &[&format!("enrollment {}", id.as_str()), &sealed, &expires],
            )
            .await
            .map_err(failed)
    };
    serialised(client, failed, store, Result::is_ok).await?;
    Ok(Zeroizing::new(format!(
        "{CODE_PREFIX}.{}.{}",
        id.as_str(),
        secret.as_str()
    )))
}

/// Turns enrollment `code` into this machine's slot: the code's slot opens the data
/// key, which is sealed again with this machine's key. The code's slot is deleted in
/// any case once found (a code is tried once: it cannot be guessed at), and this
/// machine's slot is written in the same transaction. Returns the data key.
pub(crate) async fn enroll(
    client: &Client,
    location: &str,
    machine: &MachineKey,
    code: &str,
) -> Result<Arc<DataKey>, StoreError> {
    let failed = |e: tokio_postgres::Error| error(location, e, "enroll this machine");
    let mut parts = code.trim().splitn(3, '.');
    let (Some(CODE_PREFIX), Some(id), Some(secret)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(backend(
            location,
            "that is not an enrollment code (it looks like enroll1.….…); copy it again from the machine that printed it".into(),
        ));
    };
    // The code's slot is gone whether or not the code opened it; only a failure of the
    // database itself keeps it (the transaction rolls back).
    serialised(
        client,
        |e| Redeem::Database(failed(e)),
        redeem(client, location, machine, id, secret),
        |result| !matches!(result, Err(Redeem::Database(_))),
    )
    .await
    .map_err(|e| match e {
        Redeem::Database(e) | Redeem::Refused(e) => e,
    })
}

/// Why redeeming a code failed: the database (roll back) or the code (keep it spent).
enum Redeem {
    Database(StoreError),
    Refused(StoreError),
}

async fn redeem(
    client: &Client,
    location: &str,
    machine: &MachineKey,
    id: &str,
    secret: &str,
) -> Result<Arc<DataKey>, Redeem> {
    let failed =
        |e: tokio_postgres::Error| Redeem::Database(error(location, e, "enroll this machine"));
    let spent = |reason: &str| {
        Redeem::Refused(refused(
            location,
            reason.to_string(),
            Advice::NewEnrollmentCode,
        ))
    };
    let unknown = "this enrollment code is unknown, used already or expired";
    let row = client
        .query_opt(
            "DELETE FROM preauth_key_slots WHERE slot = $1 AND kind = 'enrollment'
             RETURNING sealed_key, expires_at",
            &[&format!("enrollment {id}")],
        )
        .await
        .map_err(failed)?
        .ok_or_else(|| spent(unknown))?;
    let expires: SystemTime = row.get(1);
    if expires <= SystemTime::now() {
        return Err(spent(unknown));
    }
    let sealed: String = row.get(0);
    let text = DeviceKey::from_passphrase(Zeroizing::new(secret.to_string()))
        .and_then(|key| key.decrypt(&sealed, DATA_KEY_LABEL))
        .map_err(|_| {
            spent("this enrollment code does not match its slot (mistyped?); it is spent now")
        })?;
    let own = machine.protector.seal(&text, DATA_KEY_LABEL).map_err(|e| {
        Redeem::Database(backend(
            location,
            format!("cannot seal the data key here ({e})"),
        ))
    })?;
    client
        .execute(
            "INSERT INTO preauth_key_slots (slot, kind, sealed_key, last_used_at)
             VALUES ($1, $2, $3, now())
             ON CONFLICT (slot) DO UPDATE
             SET kind = excluded.kind, sealed_key = excluded.sealed_key,
                 created_at = now(), last_used_at = now(), expires_at = NULL",
            &[&machine.slot, &machine.kind.as_str(), &own],
        )
        .await
        .map_err(failed)?;
    data_key(&text, location).map_err(Redeem::Database)
}

/// Removes slot `name` (a machine or an unused enrollment code); returns whether it
/// existed. Serialised with every slot change, so that the last machine slot stays
/// however many machines drop each other at once: without it nothing opens the store.
pub(crate) async fn drop_slot(
    client: &Client,
    location: &str,
    name: &str,
) -> Result<bool, StoreError> {
    let failed = |e: tokio_postgres::Error| error(location, e, "drop the machine");
    let change = async {
        let kind: Option<String> = client
            .query_opt(
                "SELECT kind FROM preauth_key_slots WHERE slot = $1",
                &[&name],
            )
            .await
            .map_err(failed)?
            .map(|row| row.get(0));
        let Some(kind) = kind else {
            return Ok(false);
        };
        if kind != "enrollment" && machine_slots(client, location).await? <= 1 {
            return Err(refused(
                location,
                format!("'{name}' holds the last key slot that opens this store"),
                Advice::EnrollAnotherMachine,
            ));
        }
        client
            .execute("DELETE FROM preauth_key_slots WHERE slot = $1", &[&name])
            .await
            .map_err(failed)?;
        Ok(true)
    };
    serialised(client, failed, change, Result::is_ok).await
}

/// `count` random bytes as unpadded base64url.
fn random_text(count: usize, location: &str) -> Result<Zeroizing<String>, StoreError> {
    use base64::Engine as _;
    let mut bytes = Zeroizing::new(vec![0u8; count]);
    getrandom::fill(&mut bytes)
        .map_err(|e| backend(location, format!("no random numbers ({e})")))?;
    Ok(Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_slice()),
    ))
}

/// The user this process runs as: its name in the password database, else its uid.
#[cfg(unix)]
fn user_name() -> String {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 4096];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and the buffer length is its size;
    // the name is read only when the call succeeded and pointed `found` at `entry`.
    let name = unsafe {
        let status = libc::getpwuid_r(
            uid,
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        );
        (status == 0 && !found.is_null() && !entry.pw_name.is_null()).then(|| {
            std::ffi::CStr::from_ptr(entry.pw_name)
                .to_string_lossy()
                .into_owned()
        })
    };
    name.unwrap_or_else(|| format!("uid {uid}"))
}

/// The user this process runs as (`%USERDOMAIN%\%USERNAME%`).
#[cfg(windows)]
fn user_name() -> String {
    let user = std::env::var("USERNAME").unwrap_or_else(|_| "an unknown user".into());
    match std::env::var("USERDOMAIN") {
        Ok(domain) if !domain.is_empty() => format!("{domain}\\{user}"),
        _ => user,
    }
}

/// This machine's host name.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_machine_without_a_slot_and_a_spent_code_are_refused_with_their_advice() {
        crate::testing::with_database("keys_refusals", |client| async move {
            crate::schema::migrate(&client, "the store")
                .await
                .expect("created");
            let text = devicekey::new_data_key().expect("a key");
            let own = data_key(&text, "the store").expect("a data key");
            let machine = MachineKey::key_file(own);
            let advice_of = |result: Result<Arc<DataKey>, StoreError>| match result {
                Err(StoreError::Refused { advice, .. }) => advice,
                Err(other) => panic!("not refused with advice: {other:?}"),
                Ok(_) => panic!("opened"),
            };
            assert_eq!(
                advice_of(unlock(&client, "the store", &machine, true).await),
                vec![Advice::EnrollMachine]
            );
            assert_eq!(
                advice_of(enroll(&client, "the store", &machine, "enroll1.nosuch.secret").await),
                vec![Advice::NewEnrollmentCode]
            );
        });
    }
}
