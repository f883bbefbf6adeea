//! What the device key needs of Windows: the hardware identifiers (`MachineGuid` from the
//! registry, the SMBIOS system UUID from `GetSystemFirmwareTable`), DPAPI protection of the
//! host secret for the current user, and the check that no other account may read a secret
//! file (the Windows form of the mode checks on Unix).

use std::fs::File;
use std::io;
use std::path::Path;

use windows_sys::Win32::Foundation::LocalFree;
use windows_sys::Win32::Security::Cryptography::{
    CRYPT_INTEGER_BLOB, CRYPTPROTECT_UI_FORBIDDEN, CryptProtectData, CryptUnprotectData,
};
use windows_sys::Win32::System::Registry::{
    HKEY_LOCAL_MACHINE, RRF_RT_REG_SZ, RRF_SUBKEY_WOW6464KEY, RegGetValueW,
};
use windows_sys::Win32::System::SystemInformation::GetSystemFirmwareTable;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Where the machine GUID is read, for messages.
pub(crate) const MACHINE_GUID_PATH: &str = r"HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid";

/// The machine GUID Windows creates at installation (64-bit view of the registry).
pub(crate) fn machine_guid() -> Option<String> {
    let key = wide(r"SOFTWARE\Microsoft\Cryptography");
    let value = wide("MachineGuid");
    let mut buffer = [0u16; 128];
    let mut len = u32::try_from(size_of_val(&buffer)).unwrap_or(0);
    // SAFETY: the names are NUL-terminated; `buffer` holds `len` writable bytes.
    let status = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            key.as_ptr(),
            value.as_ptr(),
            RRF_RT_REG_SZ | RRF_SUBKEY_WOW6464KEY,
            std::ptr::null_mut(),
            buffer.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if status != 0 {
        return None;
    }
    let chars = (len as usize / 2).min(buffer.len());
    let text = String::from_utf16_lossy(buffer.get(..chars)?);
    let text = text.trim_end_matches('\0').trim().to_lowercase();
    (!text.is_empty()).then_some(text)
}

/// The SMBIOS provider signature 'RSMB'.
const RSMB: u32 = u32::from_be_bytes(*b"RSMB");

/// The system UUID of the SMBIOS System Information structure (type 1), written as Linux
/// writes `/sys/class/dmi/id/product_uuid` (lower case); `None` when there is no table, no
/// such structure, or the UUID is unset (all zeros or all ones).
pub(crate) fn smbios_uuid() -> Option<String> {
    // SAFETY: a null buffer of size 0 asks for the size.
    let size = unsafe { GetSystemFirmwareTable(RSMB, 0, std::ptr::null_mut(), 0) };
    if size == 0 || size > 1 << 20 {
        return None;
    }
    let mut table = vec![0u8; size as usize];
    // SAFETY: `table` holds `size` writable bytes.
    let got = unsafe { GetSystemFirmwareTable(RSMB, 0, table.as_mut_ptr(), size) };
    table.truncate(got.min(size) as usize);
    uuid_from_raw_smbios(&table)
}

/// The type-1 UUID in a RawSMBIOSData buffer (8 bytes of header, then the structures).
fn uuid_from_raw_smbios(raw: &[u8]) -> Option<String> {
    let (major, minor) = (*raw.get(1)?, *raw.get(2)?);
    let len = u32::from_le_bytes(raw.get(4..8)?.try_into().ok()?) as usize;
    let mut data = raw.get(8..8usize.checked_add(len)?)?;
    while data.len() >= 4 {
        let (kind, formatted) = (data[0], usize::from(data[1]));
        if kind == 127 || formatted < 4 {
            return None;
        }
        let structure = data.get(..formatted)?;
        if kind == 1 {
            let uuid: [u8; 16] = structure.get(8..24)?.try_into().ok()?;
            if uuid.iter().all(|&b| b == 0) || uuid.iter().all(|&b| b == 0xff) {
                return None;
            }
            return Some(format_uuid(uuid, (major, minor) >= (2, 6)));
        }
        // The strings follow the formatted part and end with two NUL bytes.
        let strings = data.get(formatted..)?;
        let end = strings.windows(2).position(|w| w == [0, 0])? + 2;
        data = strings.get(end..)?;
    }
    None
}

/// The UUID as text; from SMBIOS 2.6 on, its first three fields are little-endian.
fn format_uuid(mut b: [u8; 16], little_endian: bool) -> String {
    if little_endian {
        b[..4].reverse();
        b[4..6].reverse();
        b[6..8].reverse();
    }
    let hex: Vec<String> = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        hex[..4].concat(),
        hex[4..6].concat(),
        hex[6..8].concat(),
        hex[8..10].concat(),
        hex[10..].concat()
    )
}

/// Extra entropy for DPAPI, so that the blob is useless to another program calling
/// `CryptUnprotectData` for the same user without it.
const ENTROPY: &[u8] = b"devicekey host secret v1";

/// Protects `secret` with DPAPI for the current user: only this user on this machine can
/// unprotect it.
pub(crate) fn protect(secret: &[u8]) -> io::Result<Vec<u8>> {
    dpapi(secret, true).map(|out| out.to_vec())
}

/// Unprotects a blob made by [`protect`]; fails for another user or another machine.
pub(crate) fn unprotect(blob: &[u8]) -> io::Result<Zeroizing<Vec<u8>>> {
    dpapi(blob, false)
}

fn dpapi(input: &[u8], protect: bool) -> io::Result<Zeroizing<Vec<u8>>> {
    let blob = |bytes: &[u8]| CRYPT_INTEGER_BLOB {
        cbData: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        pbData: bytes.as_ptr().cast_mut(),
    };
    let (data, entropy) = (blob(input), blob(ENTROPY));
    let mut out = CRYPT_INTEGER_BLOB {
        cbData: 0,
        pbData: std::ptr::null_mut(),
    };
    // SAFETY: the input blobs point to live slices of their stated lengths; DPAPI only reads
    // them, and allocates `out` with LocalAlloc (freed below).
    let ok = unsafe {
        if protect {
            CryptProtectData(
                &data,
                std::ptr::null(),
                &entropy,
                std::ptr::null(),
                std::ptr::null(),
                CRYPTPROTECT_UI_FORBIDDEN,
                &mut out,
            )
        } else {
            CryptUnprotectData(
                &data,
                std::ptr::null_mut(),
                &entropy,
                std::ptr::null(),
                std::ptr::null(),
                CRYPTPROTECT_UI_FORBIDDEN,
                &mut out,
            )
        }
    };
    if ok == 0 || out.pbData.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: DPAPI returned `cbData` bytes at `pbData`.
    let bytes = unsafe { std::slice::from_raw_parts_mut(out.pbData, out.cbData as usize) };
    let copy = Zeroizing::new(bytes.to_vec());
    zeroize::Zeroize::zeroize(bytes);
    // SAFETY: allocated by DPAPI with LocalAlloc, freed once.
    unsafe { LocalFree(out.pbData.cast()) };
    Ok(copy)
}

/// Refuses `file` (the `what` at `path`) when an account besides its owner, SYSTEM and the
/// Administrators may read it.
pub(crate) fn check_private(path: &Path, file: &File, what: &'static str) -> Result<()> {
    let readers = winfs::readers_besides_owner(file).map_err(|source| Error::HostSecretIo {
        action: "read the access list of",
        path: path.to_owned(),
        source,
    })?;
    if readers.is_empty() {
        return Ok(());
    }
    Err(Error::ReadableByOthers {
        what,
        path: path.to_owned(),
        readers,
    })
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(Some(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpapi_round_trips_and_refuses_an_altered_blob() {
        let secret = [7u8; 32];
        let blob = protect(&secret).unwrap();
        assert!(!blob.windows(32).any(|w| w == secret), "stored in clear");
        assert_eq!(&unprotect(&blob).unwrap()[..], &secret[..]);
        let mut altered = blob.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(unprotect(&altered).is_err());
    }

    #[test]
    fn this_machine_has_a_guid() {
        let guid = machine_guid().expect("MachineGuid");
        assert_eq!(guid.len(), 36, "{guid}");
    }

    #[test]
    fn the_type_1_uuid_is_found_after_other_structures() {
        let mut raw = vec![0, 3, 4, 0];
        let mut data = vec![0u8, 4, 0, 0, b'x', 0, 0]; // type 0, one string
        let mut system = vec![1u8, 25, 1, 0, 0, 0, 0, 0];
        system.extend(1..=16u8);
        system.extend([0u8; 1]);
        data.extend(&system);
        data.extend([0, 0]); // no strings
        data.extend([127u8, 4, 2, 0, 0, 0]);
        raw.extend((data.len() as u32).to_le_bytes());
        raw.extend(data);
        assert_eq!(
            uuid_from_raw_smbios(&raw).as_deref(),
            Some("04030201-0605-0807-090a-0b0c0d0e0f10")
        );
        assert_eq!(uuid_from_raw_smbios(&raw[..12]), None, "cut short");
        assert_eq!(uuid_from_raw_smbios(&[]), None);
    }
}
