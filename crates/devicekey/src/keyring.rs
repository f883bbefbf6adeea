//! The Linux kernel's key retention service (keyrings(7)), through the raw `add_key` and
//! `keyctl` syscalls: where the session cache keeps derived keys.
//!
//! Every call answers `None` when the kernel refuses (no keyring support, a seccomp filter
//! that forbids the syscalls, a full quota, an unknown key): callers then do without. On
//! other systems every call answers `None`.

use std::ffi::CStr;

use zeroize::Zeroizing;

/// A keyring, by its serial or a special id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keyring(i32);

impl Keyring {
    /// The calling user's keyring (`KEY_SPEC_USER_KEYRING`): shared by every process of this
    /// user on this machine (in this user namespace), never by other users, gone at reboot.
    pub(crate) const USER: Keyring = Keyring(-4);

    /// A keyring that does not exist (the kernel gives serials from 3 up): every call fails,
    /// as where keyrings are unusable.
    #[cfg(all(test, target_os = "linux"))]
    pub(crate) const NONE: Keyring = Keyring(1);
}

/// The permissions of a stored key: the possessor may view, read, write, search, link and set
/// attributes (the timeout); the owning user may view and read; group and others nothing.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) const PERMISSIONS: u32 = 0x3f03_0000;

/// The payload stored under `description` in `keyring` when it is exactly `N` bytes long;
/// `None` when there is none, it has another length, or the keyring cannot be read.
pub(crate) fn read<const N: usize>(
    keyring: Keyring,
    description: &CStr,
) -> Option<Zeroizing<[u8; N]>> {
    sys::read(keyring, description)
}

/// Stores `payload` under `description` in `keyring`, replacing any key of that description,
/// with [`PERMISSIONS`] and expiring after `timeout_secs` (at least 1). The key is made whole
/// (timeout and permissions set) in this process's own keyring first and only then linked
/// into `keyring`, so a process killed half-way leaves no key without a timeout behind.
pub(crate) fn store(
    keyring: Keyring,
    description: &CStr,
    payload: &[u8],
    timeout_secs: u32,
) -> Option<()> {
    sys::store(keyring, description, payload, timeout_secs.max(1))
}

#[cfg(target_os = "linux")]
mod sys {
    use std::ffi::CStr;

    use libc::{c_long, c_ulong};
    use zeroize::Zeroizing;

    use super::{Keyring, PERMISSIONS};

    // From <linux/keyctl.h>; a stable kernel ABI.
    const KEY_SPEC_PROCESS_KEYRING: i32 = -2;
    const KEYCTL_SETPERM: c_long = 5;
    const KEYCTL_LINK: c_long = 8;
    const KEYCTL_UNLINK: c_long = 9;
    const KEYCTL_SEARCH: c_long = 10;
    const KEYCTL_READ: c_long = 11;
    const KEYCTL_SET_TIMEOUT: c_long = 15;

    /// The key type: "user" keys hold any payload and are read back by their owner.
    const USER_TYPE: &CStr = c"user";

    /// `keyctl(operation, args…)`, `None` on failure.
    fn keyctl(operation: c_long, args: [c_ulong; 4]) -> Option<c_long> {
        // SAFETY: every operation used here takes integers and pointers to buffers that the
        // callers keep alive, with their lengths, for the duration of the call.
        let result = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                operation,
                args[0],
                args[1],
                args[2],
                args[3],
            )
        };
        (result >= 0).then_some(result)
    }

    /// A serial or special id as the kernel reads it from a syscall argument.
    fn id(serial: i32) -> c_ulong {
        serial as c_long as c_ulong
    }

    fn search(keyring: Keyring, description: &CStr) -> Option<i32> {
        let found = keyctl(
            KEYCTL_SEARCH,
            [
                id(keyring.0),
                USER_TYPE.as_ptr() as c_ulong,
                description.as_ptr() as c_ulong,
                0,
            ],
        )?;
        i32::try_from(found).ok()
    }

    pub(super) fn read<const N: usize>(
        keyring: Keyring,
        description: &CStr,
    ) -> Option<Zeroizing<[u8; N]>> {
        let key = search(keyring, description)?;
        // One byte more than expected, so that a longer payload is told apart.
        let mut buffer = Zeroizing::new(vec![0u8; N + 1]);
        let len = keyctl(
            KEYCTL_READ,
            [
                id(key),
                buffer.as_mut_ptr() as c_ulong,
                buffer.len() as c_ulong,
                0,
            ],
        )?;
        if usize::try_from(len).ok()? != N {
            return None;
        }
        let mut payload = Zeroizing::new([0u8; N]);
        payload.copy_from_slice(&buffer[..N]);
        Some(payload)
    }

    pub(super) fn store(
        keyring: Keyring,
        description: &CStr,
        payload: &[u8],
        timeout_secs: u32,
    ) -> Option<()> {
        // SAFETY: the type, description and payload outlive the call; the length is the
        // payload's.
        let key = unsafe {
            libc::syscall(
                libc::SYS_add_key,
                USER_TYPE.as_ptr(),
                description.as_ptr(),
                payload.as_ptr(),
                payload.len(),
                KEY_SPEC_PROCESS_KEYRING as c_long,
            )
        };
        let key = i32::try_from(key).ok().filter(|key| *key > 0)?;
        let linked = keyctl(KEYCTL_SET_TIMEOUT, [id(key), timeout_secs.into(), 0, 0])
            .and_then(|_| keyctl(KEYCTL_SETPERM, [id(key), PERMISSIONS.into(), 0, 0]))
            .and_then(|_| keyctl(KEYCTL_LINK, [id(key), id(keyring.0), 0, 0]));
        // Kept by `keyring` now, or by nothing (then the kernel collects it).
        keyctl(KEYCTL_UNLINK, [id(key), id(KEY_SPEC_PROCESS_KEYRING), 0, 0]);
        linked.map(|_| ())
    }

    /// A new empty keyring in this process's keyring, for tests that must not share the
    /// user keyring.
    #[cfg(test)]
    pub(crate) fn new_keyring(name: &CStr) -> Option<Keyring> {
        // SAFETY: the type and name outlive the call; a keyring has no payload.
        let keyring = unsafe {
            libc::syscall(
                libc::SYS_add_key,
                c"keyring".as_ptr(),
                name.as_ptr(),
                std::ptr::null::<u8>(),
                0usize,
                KEY_SPEC_PROCESS_KEYRING as c_long,
            )
        };
        i32::try_from(keyring).ok().filter(|k| *k > 0).map(Keyring)
    }

    /// The kernel's description of the key under `description` in `keyring`:
    /// `type;uid;gid;permissions;description`, permissions in hexadecimal.
    #[cfg(test)]
    pub(crate) fn describe(keyring: Keyring, description: &CStr) -> Option<String> {
        const KEYCTL_DESCRIBE: c_long = 6;
        let key = search(keyring, description)?;
        let mut buffer = vec![0u8; 512];
        let len = keyctl(
            KEYCTL_DESCRIBE,
            [
                id(key),
                buffer.as_mut_ptr() as c_ulong,
                buffer.len() as c_ulong,
                0,
            ],
        )?;
        // The length includes the closing NUL.
        buffer.truncate(usize::try_from(len).ok()?.saturating_sub(1));
        String::from_utf8(buffer).ok()
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    use std::ffi::CStr;

    use zeroize::Zeroizing;

    use super::Keyring;

    pub(super) fn read<const N: usize>(_: Keyring, _: &CStr) -> Option<Zeroizing<[u8; N]>> {
        None
    }

    pub(super) fn store(_: Keyring, _: &CStr, _: &[u8], _: u32) -> Option<()> {
        None
    }
}

#[cfg(all(test, target_os = "linux"))]
pub(crate) use sys::{describe, new_keyring};
