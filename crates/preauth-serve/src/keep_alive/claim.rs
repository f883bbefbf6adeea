//! The keep-alive's record in the store's documents (`keep-alive.json`): the last pass,
//! who runs or ran it, until when its claim holds, and what it did. Replicas of
//! `preauth serve` on one store read and change it under the document's lock, so one of
//! them runs a day's pass; a replica that dies mid-pass stops renewing its claim, and
//! another takes the pass over once the claim has lapsed.

use std::time::{Duration, SystemTime};

use preauth_core::documents::Documents;
use preauth_core::store::StoreError;
use serde::{Deserialize, Serialize};

use super::schedule::age;

/// The document's name.
pub(crate) const DOCUMENT: &str = "keep-alive.json";

/// A pass that finished less than this long ago is the day's pass: a replica whose own
/// time came leaves it at that.
const DONE_FOR_THE_DAY: Duration = Duration::from_secs(20 * 3600);

/// One pass, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pass {
    /// The replica that runs or ran it (process id and a random part).
    pub(crate) holder: String,
    /// When it started.
    #[serde(with = "preauth_core::api_keys::rfc3339")]
    pub(crate) started_at: SystemTime,
    /// Until when the holder's claim holds unless renewed.
    #[serde(with = "preauth_core::api_keys::rfc3339")]
    pub(crate) lease_until: SystemTime,
    /// When it ended (`None`: running, or its holder died).
    #[serde(default, with = "optional_time")]
    pub(crate) finished_at: Option<SystemTime>,
    /// Connections it refreshed.
    #[serde(default)]
    pub(crate) refreshed: u64,
    /// Connections it could not refresh.
    #[serde(default)]
    pub(crate) failed: u64,
    /// Connections it left alone (young refresh tokens, renewed moments ago, or held by
    /// another process).
    #[serde(default)]
    pub(crate) left_alone: u64,
}

/// What a replica whose time came found.
#[derive(Debug)]
pub(crate) enum Claim {
    /// The pass is this replica's now; `after` is the holder whose lapsed claim it took over.
    Taken {
        /// The earlier holder whose claim lapsed mid-pass.
        after: Option<String>,
    },
    /// Another replica runs it; its claim holds until `until`.
    Running {
        /// That replica.
        holder: String,
        /// Until when its claim holds unless renewed.
        until: SystemTime,
    },
    /// The day's pass is done.
    Done(Pass),
}

/// The last pass recorded, if any (a record that cannot be read counts as none: the
/// next claim replaces it).
pub(crate) fn last(docs: &dyn Documents) -> Result<Option<Pass>, StoreError> {
    Ok(docs.read(DOCUMENT)?.and_then(|bytes| parse(&bytes)))
}

fn parse(bytes: &[u8]) -> Option<Pass> {
    serde_json::from_slice(bytes).ok()
}

fn write(
    document: &mut dyn preauth_core::documents::LockedDocument,
    pass: &Pass,
) -> Result<(), StoreError> {
    let mut bytes = serde_json::to_vec_pretty(pass).unwrap_or_default();
    bytes.push(b'\n');
    document.write(&bytes)
}

/// Claims the pass for `holder` at `now`, for `lease`, unless another replica's claim
/// holds or the day's pass is done.
pub(crate) fn claim(
    docs: &dyn Documents,
    holder: &str,
    now: SystemTime,
    lease: Duration,
) -> Result<Claim, StoreError> {
    let mut document = docs.lock(DOCUMENT)?;
    let recorded = document.read()?.and_then(|bytes| parse(&bytes));
    let mut after = None;
    if let Some(pass) = recorded {
        match pass.finished_at {
            None if pass.lease_until > now && pass.holder != holder => {
                return Ok(Claim::Running {
                    holder: pass.holder,
                    until: pass.lease_until,
                });
            }
            None => after = Some(pass.holder),
            Some(_) if age(pass.started_at, now) < DONE_FOR_THE_DAY => {
                return Ok(Claim::Done(pass));
            }
            Some(_) => {}
        }
    }
    let pass = Pass {
        holder: holder.to_string(),
        started_at: now,
        lease_until: now + lease,
        finished_at: None,
        refreshed: 0,
        failed: 0,
        left_alone: 0,
    };
    write(document.as_mut(), &pass)?;
    Ok(Claim::Taken { after })
}

/// Changes the pass of `holder` with `change` when it is still that holder's and
/// running; whether it was.
fn update(
    docs: &dyn Documents,
    holder: &str,
    change: impl FnOnce(&mut Pass),
) -> Result<bool, StoreError> {
    let mut document = docs.lock(DOCUMENT)?;
    let Some(mut pass) = document.read()?.and_then(|bytes| parse(&bytes)) else {
        return Ok(false);
    };
    if pass.holder != holder || pass.finished_at.is_some() {
        return Ok(false);
    }
    change(&mut pass);
    write(document.as_mut(), &pass)?;
    Ok(true)
}

/// Renews the claim of `holder` until `now + lease`; `false` when the pass is no
/// longer its own (another replica took it over).
pub(crate) fn renew(
    docs: &dyn Documents,
    holder: &str,
    now: SystemTime,
    lease: Duration,
) -> Result<bool, StoreError> {
    update(docs, holder, |pass| pass.lease_until = now + lease)
}

/// Gives up the claim of `holder` at `now` without recording an end (a server stopping
/// mid-pass): another replica, or this one started again, takes the pass over at once.
pub(crate) fn release(
    docs: &dyn Documents,
    holder: &str,
    now: SystemTime,
) -> Result<bool, StoreError> {
    update(docs, holder, |pass| pass.lease_until = now)
}

/// Records the end of the pass of `holder` at `now` with what it did (`finished`:
/// refreshed, failed, left alone); `false` when it was no longer its own.
pub(crate) fn finish(
    docs: &dyn Documents,
    holder: &str,
    now: SystemTime,
    finished: [u64; 3],
) -> Result<bool, StoreError> {
    update(docs, holder, |pass| {
        pass.finished_at = Some(now);
        pass.lease_until = now;
        [pass.refreshed, pass.failed, pass.left_alone] = finished;
    })
}

/// An optional time as RFC 3339 text, or null.
mod optional_time {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        at: &Option<SystemTime>,
        to: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => preauth_core::api_keys::rfc3339::serialize(at, to),
            None => to.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        from: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        Option::<String>::deserialize(from)?
            .map(|text| humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use preauth_core::documents::FolderDocuments;

    use super::*;

    const LEASE: Duration = Duration::from_secs(120);

    #[test]
    fn one_replica_runs_the_pass_and_another_takes_over_a_lapsed_claim() {
        let dir = tempfile::tempdir().expect("temp dir");
        let docs = FolderDocuments::new(dir.path());
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_900_000);
        assert!(last(&docs).expect("read").is_none());
        assert!(matches!(
            claim(&docs, "a", now, LEASE).expect("claim"),
            Claim::Taken { after: None }
        ));
        match claim(&docs, "b", now, LEASE).expect("claim") {
            Claim::Running { holder, until } => {
                assert_eq!((holder.as_str(), until), ("a", now + LEASE))
            }
            other => panic!("{other:?}"),
        }
        // "a" dies: once its claim lapsed, "b" takes the pass over, and "a" has no say.
        let later = now + LEASE + Duration::from_secs(1);
        match claim(&docs, "b", later, LEASE).expect("claim") {
            Claim::Taken { after } => assert_eq!(after.as_deref(), Some("a")),
            other => panic!("{other:?}"),
        }
        assert!(!renew(&docs, "a", later, LEASE).expect("renew"));
        // A stopping server gives its claim up: another replica need not wait the lease.
        assert!(release(&docs, "b", later).expect("release"));
        assert!(matches!(
            claim(&docs, "a", later, LEASE).expect("claim"),
            Claim::Taken { .. }
        ));
        assert!(matches!(
            claim(&docs, "b", later, LEASE).expect("claim"),
            Claim::Running { .. }
        ));
        assert!(release(&docs, "a", later).expect("release"));
        assert!(matches!(
            claim(&docs, "b", later, LEASE).expect("claim"),
            Claim::Taken { .. }
        ));
        assert!(renew(&docs, "b", later, LEASE).expect("renew"));
        assert!(finish(&docs, "b", later, [3, 1, 2]).expect("finish"));
        let pass = last(&docs).expect("read").expect("a pass");
        assert_eq!((pass.refreshed, pass.failed, pass.left_alone), (3, 1, 2));
        assert_eq!(pass.finished_at, Some(later));
        // The day's pass is done for every replica, until a day later.
        assert!(matches!(
            claim(&docs, "a", later, LEASE).expect("claim"),
            Claim::Done(_)
        ));
        let tomorrow = later + Duration::from_secs(86_400);
        assert!(matches!(
            claim(&docs, "a", tomorrow, LEASE).expect("claim"),
            Claim::Taken { after: None }
        ));
    }

    #[test]
    fn a_record_that_cannot_be_read_is_replaced_by_the_next_claim() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(DOCUMENT), b"{not json").expect("write");
        let docs = FolderDocuments::new(dir.path());
        assert!(last(&docs).expect("read").is_none());
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_900_000);
        assert!(matches!(
            claim(&docs, "a", now, LEASE).expect("claim"),
            Claim::Taken { .. }
        ));
        assert_eq!(last(&docs).expect("read").expect("a pass").holder, "a");
    }
}
