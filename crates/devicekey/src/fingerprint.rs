//! The hardware fingerprint: stable identifiers of this machine, read once per [`DeviceKey`].
//!
//! Only identifiers that survive reboots, upgrades and network changes are used:
//!
//! | source | where | notes |
//! |---|---|---|
//! | [`Source::MachineId`] | `/etc/machine-id`, else `/var/lib/dbus/machine-id` | required; empty or `uninitialized` counts as missing |
//! | [`Source::ProductUuid`] | `/sys/class/dmi/id/product_uuid` | used where readable (often root only) |
//! | [`Source::CpuBrand`] | CPU brand string (sysinfo) | skipped when empty |
//!
//! On Windows the machine id is `MachineGuid` (`HKLM\SOFTWARE\Microsoft\Cryptography`) and
//! the product UUID the SMBIOS system UUID (`GetSystemFirmwareTable`).
//!
//! Volatile facts are left out on purpose: memory size, disks and free space, MAC and IP
//! addresses, hostname, boot id and OS version all change during the normal life of a machine
//! (a RAM upgrade, a new network card, DHCP, a rename, a reboot, an update), and each change
//! would make every secret encrypted before it unreadable.
//!
//! The values never leave this module except as key-derivation input; callers see only the
//! list of [`Source`]s.
//!
//! [`DeviceKey`]: crate::DeviceKey

use std::fmt;
#[cfg(not(windows))]
use std::path::Path;
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Change, Error, Result};
use crate::secret::HostSecret;

/// One stable hardware identifier that can be mixed into the device key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// The systemd / D-Bus machine id (required).
    MachineId,
    /// The SMBIOS/DMI product UUID of the board, where readable.
    ProductUuid,
    /// The CPU brand string.
    CpuBrand,
}

impl Source {
    /// Every source, in the order of their bits in the envelope's source mask.
    pub const ALL: [Source; 3] = [Source::MachineId, Source::ProductUuid, Source::CpuBrand];

    /// The source's bit in the envelope's source mask.
    pub(crate) const fn bit(self) -> u8 {
        1 << self.slot()
    }

    /// The source's position in [`Source::ALL`].
    pub(crate) const fn slot(self) -> usize {
        match self {
            Source::MachineId => 0,
            Source::ProductUuid => 1,
            Source::CpuBrand => 2,
        }
    }

    /// The sources whose bits are set in `mask`.
    pub(crate) fn from_mask(mask: u8) -> impl Iterator<Item = Source> {
        Source::ALL.into_iter().filter(move |s| mask & s.bit() != 0)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            #[cfg(not(windows))]
            Source::MachineId => "machine-id",
            #[cfg(windows)]
            Source::MachineId => "MachineGuid",
            #[cfg(not(windows))]
            Source::ProductUuid => "DMI product UUID",
            #[cfg(windows)]
            Source::ProductUuid => "SMBIOS system UUID",
            Source::CpuBrand => "CPU brand",
        })
    }
}

/// The machine-id files, in the order they are tried.
#[cfg(not(windows))]
const MACHINE_ID_PATHS: [&str; 2] = ["/etc/machine-id", "/var/lib/dbus/machine-id"];
/// Where the machine id is read on Windows (for messages).
#[cfg(windows)]
const MACHINE_ID_PATHS: [&str; 1] = [crate::windows::MACHINE_GUID_PATH];
#[cfg(not(windows))]
const PRODUCT_UUID_PATH: &str = "/sys/class/dmi/id/product_uuid";

/// Bytes of each keyed tag stored in the envelope's hints.
pub(crate) const HINT_TAG_LEN: usize = 2;
/// Size of the hints: one tag for the host secret, one per source slot.
pub(crate) const HINTS_LEN: usize = HINT_TAG_LEN * (1 + Source::ALL.len());

/// The values of the sources that could be read.
///
/// Invariant: the machine-id slot is always filled, and no filled slot is empty.
pub(crate) struct Fingerprint {
    values: [Option<Zeroizing<Vec<u8>>>; 3],
}

impl Fingerprint {
    /// Reads every source from this machine.
    pub(crate) fn read() -> Result<Self> {
        #[cfg(not(windows))]
        let machine_id = MACHINE_ID_PATHS
            .iter()
            .find_map(|path| read_trimmed(Path::new(path)).filter(|v| v != "uninitialized"));
        #[cfg(not(windows))]
        let product_uuid = read_trimmed(Path::new(PRODUCT_UUID_PATH)).map(|v| v.to_lowercase());
        #[cfg(windows)]
        let (machine_id, product_uuid) = (
            crate::windows::machine_guid(),
            crate::windows::smbios_uuid(),
        );
        Self::from_values(vec![
            (Source::MachineId, machine_id),
            (Source::ProductUuid, product_uuid),
            (Source::CpuBrand, cpu_brand()),
        ])
    }

    /// Builds a fingerprint from given values; a later value for the same source wins.
    pub(crate) fn from_parts(parts: Vec<(Source, Vec<u8>)>) -> Result<Self> {
        let mut values: [Option<Zeroizing<Vec<u8>>>; 3] = Default::default();
        for (source, value) in parts {
            let value = Zeroizing::new(value);
            values[source.slot()] = (!value.is_empty()).then_some(value);
        }
        if values[Source::MachineId.slot()].is_none() {
            return Err(Error::NoFingerprint {
                tried: MACHINE_ID_PATHS.iter().map(PathBuf::from).collect(),
            });
        }
        Ok(Fingerprint { values })
    }

    fn from_values(values: Vec<(Source, Option<String>)>) -> Result<Self> {
        Self::from_parts(
            values
                .into_iter()
                .filter_map(|(source, value)| Some((source, value?.into_bytes())))
                .collect(),
        )
    }

    /// The sources that were read, in mask order.
    pub(crate) fn sources(&self) -> Vec<Source> {
        Source::ALL
            .into_iter()
            .filter(|s| self.values[s.slot()].is_some())
            .collect()
    }

    /// The mask of the sources that were read.
    pub(crate) fn mask(&self) -> u8 {
        self.sources().iter().fold(0, |mask, s| mask | s.bit())
    }

    /// The number of bytes [`Fingerprint::encode_into`] appends for `mask`.
    pub(crate) fn encoded_len(&self, mask: u8) -> usize {
        Source::from_mask(mask)
            .filter_map(|source| self.values[source.slot()].as_ref())
            .map(|value| 1 + 8 + value.len())
            .sum()
    }

    /// Appends the values of the sources in `mask` to `out`, each as id, length and bytes so
    /// that no two fingerprints encode alike. Sources in `mask` that were not read are skipped
    /// (callers check `mask` against [`Fingerprint::mask`] first).
    pub(crate) fn encode_into(&self, mask: u8, out: &mut Vec<u8>) {
        for source in Source::from_mask(mask) {
            if let Some(value) = &self.values[source.slot()] {
                out.push(source.bit());
                out.extend_from_slice(&(value.len() as u64).to_le_bytes());
                out.extend_from_slice(value);
            }
        }
    }

    /// Short tags, keyed by the host secret, that let a failed decryption say what changed
    /// without revealing any value: 2 bytes of SHA-256 over a domain, the secret and (for each
    /// source) the source's value. Without the host secret they say nothing about the values;
    /// with it, 16 bits per source (the machine-id alone has 128 random bits).
    pub(crate) fn hints(&self, secret: &HostSecret) -> [u8; HINTS_LEN] {
        let mut hints = [0u8; HINTS_LEN];
        let mut slots = hints.chunks_exact_mut(HINT_TAG_LEN);
        if let Some(slot) = slots.next() {
            slot.copy_from_slice(&tag(secret, None));
        }
        for (source, slot) in Source::ALL.into_iter().zip(slots) {
            if let Some(value) = &self.values[source.slot()] {
                slot.copy_from_slice(&tag(secret, Some((source, value))));
            }
        }
        hints
    }
}

/// What differs between the hints recorded in an envelope and this device's hints, for the
/// sources in `mask`. Sources this device cannot read are reported by the caller.
pub(crate) fn compare_hints(
    then: &[u8; HINTS_LEN],
    now: &[u8; HINTS_LEN],
    mask: u8,
) -> Vec<Change> {
    let mut then_tags = then.chunks_exact(HINT_TAG_LEN);
    let mut now_tags = now.chunks_exact(HINT_TAG_LEN);
    if then_tags.next() != now_tags.next() {
        return vec![Change::HostSecret];
    }
    Source::ALL
        .into_iter()
        .zip(then_tags.zip(now_tags))
        .filter(|(source, (then, now))| mask & source.bit() != 0 && then != now)
        .map(|(source, _)| Change::SourceChanged(source))
        .collect()
}

fn tag(secret: &HostSecret, source: Option<(Source, &[u8])>) -> [u8; HINT_TAG_LEN] {
    let mut hash = Sha256::new();
    hash.update(b"devicekey/v1/hint\0");
    hash.update(secret.bytes());
    if let Some((source, value)) = source {
        hash.update([source.bit()]);
        hash.update(value);
    }
    let digest = hash.finalize();
    let mut out = [0u8; HINT_TAG_LEN];
    out.copy_from_slice(&digest[..HINT_TAG_LEN]);
    out
}

/// The file's content without surrounding whitespace, or `None` when unreadable or blank.
#[cfg(not(windows))]
fn read_trimmed(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

fn cpu_brand() -> Option<String> {
    use sysinfo::{CpuRefreshKind, RefreshKind, System};
    let system =
        System::new_with_specifics(RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing()));
    let brand = system.cpus().first()?.brand().trim();
    (!brand.is_empty()).then(|| brand.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_separates_sources_and_lengths() {
        let a = Fingerprint::from_parts(vec![
            (Source::MachineId, b"ab".to_vec()),
            (Source::CpuBrand, b"c".to_vec()),
        ])
        .unwrap();
        let b = Fingerprint::from_parts(vec![
            (Source::MachineId, b"a".to_vec()),
            (Source::CpuBrand, b"bc".to_vec()),
        ])
        .unwrap();
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        a.encode_into(a.mask(), &mut ea);
        b.encode_into(b.mask(), &mut eb);
        assert_ne!(ea, eb);
    }

    #[test]
    fn empty_values_count_as_missing() {
        let fp = Fingerprint::from_parts(vec![
            (Source::MachineId, b"id".to_vec()),
            (Source::ProductUuid, Vec::new()),
        ])
        .unwrap();
        assert_eq!(fp.sources(), vec![Source::MachineId]);
        assert!(matches!(
            Fingerprint::from_parts(vec![(Source::MachineId, Vec::new())]),
            Err(Error::NoFingerprint { .. })
        ));
    }

    #[test]
    fn this_machine_has_a_machine_id() {
        // The test machines run systemd or D-Bus; a missing machine-id is reported, not panicked.
        match Fingerprint::read() {
            Ok(fp) => assert_eq!(fp.sources().first(), Some(&Source::MachineId)),
            Err(e) => assert!(matches!(e, Error::NoFingerprint { .. })),
        }
    }
}
