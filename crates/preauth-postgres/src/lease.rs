//! Leases: who holds a connection while its refresh is on its way to the platform
//! ([`Holder`], committed in the row), and whether a lease found in a row keeps this
//! process out ([`LeaseSeen`]); see `locked` for the cycle they serve.

use std::time::Duration;

/// How long a lease lasts: the token client's 30 s for the platform's answer, and time
/// to write it over a restarting server. A holder that dies leaves its lease to expire
/// (or, on its own host, to be seen dead at once).
pub(crate) const LEASE: Duration = Duration::from_secs(90);

/// Who holds a lease: for people (`lease_holder`), and for telling a dead holder on
/// this host (`lease_host`, `lease_pid`).
#[derive(Debug, Clone)]
pub(crate) struct Holder {
    /// The machine's key slot name.
    pub(crate) slot: String,
    /// This host: its name and boot id (a process id means something only there).
    pub(crate) host: String,
    /// This process.
    pub(crate) pid: i32,
}

impl Holder {
    /// This process on this host, as machine `slot`.
    pub(crate) fn this_process(slot: &str) -> Holder {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map(|t| t.trim().to_string())
                .unwrap_or_default()
        };
        Holder {
            slot: slot.to_string(),
            host: format!(
                "{} {}",
                read("/proc/sys/kernel/hostname"),
                read("/proc/sys/kernel/random/boot_id")
            ),
            pid: i32::try_from(std::process::id()).unwrap_or(i32::MAX),
        }
    }
}

/// A lease as found in a row.
pub(crate) struct LeaseSeen {
    pub(crate) id: Option<Vec<u8>>,
    pub(crate) holder: Option<String>,
    pub(crate) host: Option<String>,
    pub(crate) pid: Option<i32>,
    pub(crate) until: Option<std::time::SystemTime>,
    pub(crate) live: bool,
}

impl LeaseSeen {
    /// Whether this lease keeps `holder` (holding lease `own`, if any) from the row: it
    /// is live, not `own`, and its holder is not a dead process of this machine's slot on
    /// this host (whose spooled answer, if any, was written before the row was locked).
    pub(crate) fn blocks(&self, own: Option<&[u8]>, holder: &Holder) -> bool {
        let Some(id) = &self.id else {
            return false;
        };
        if !self.live || own == Some(id.as_slice()) {
            return false;
        }
        let here = self.host.as_deref() == Some(holder.host.as_str())
            && self.holder.as_deref() == Some(holder.slot.as_str());
        let dead = here
            && self
                .pid
                .is_some_and(|pid| pid != holder.pid && !process_alive(pid));
        !dead
    }

    /// The sentence when the lease outlasted the wait.
    pub(crate) fn waited_out(&self, name: &str, waited: Duration) -> String {
        let until = self
            .until
            .map(|t| humantime::format_rfc3339_seconds(t).to_string())
            .unwrap_or_default();
        format!(
            "connection '{name}' is being refreshed by {} (process {}), whose lease lasts until {until}; it was waited for {} s: try again after that, or allow a longer wait with --lock-timeout",
            self.holder.as_deref().unwrap_or("another machine"),
            self.pid.unwrap_or_default(),
            waited.as_secs()
        )
    }
}

/// Whether a process with this id exists on this host.
#[cfg(windows)]
fn process_alive(pid: i32) -> bool {
    u32::try_from(pid).is_ok_and(winfs::process_alive)
}

/// Whether a process with this id exists on this host.
#[cfg(unix)]
fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission; nothing is sent.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}
