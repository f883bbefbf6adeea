//! Durable file replacement and cross-process file locks.
//!
//! A write goes to a new temporary file in the same folder (created exclusively,
//! mode 0600), is flushed to disk, and is renamed over the target; then the folder is
//! flushed so that the rename itself survives a crash. On Windows the mode is an access
//! list for the owner alone, and the rename is `MoveFileExW` with write-through (which
//! makes it durable: Windows cannot flush a folder). Readers see the old file or
//! the new one, never a mix. The previous version is kept next to it as `<file>.bak`
//! (a hard link to the replaced file). A symbolic link is written through: its target
//! changes, the link stays.
//!
//! The temporary file can be made (and its space allocated) before the content is
//! known ([`Reserved`]), so that everything but the write itself is done before a
//! token is spent. Temporary names carry the writer's process id; leftovers of writers
//! that are gone are removed by [`remove_stale_temps`] once they are old enough that no
//! live writer can own them.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Mode of every file preauth creates.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;

/// Mode of the settings folder when preauth creates it.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;

/// Where the previous version of `path` is kept.
pub(crate) fn backup_path(path: &Path) -> PathBuf {
    sibling(path, "", ".bak")
}

/// `prefix` + file name + `suffix`, in the same folder.
pub(crate) fn sibling(path: &Path, prefix: &str, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!("{prefix}{name}{suffix}"))
}

/// Replaces `path` with `bytes` durably; with `backup`, the version it replaces is kept
/// as `<path>.bak` (a hard link, so that keeping it costs no space and no second write).
pub(crate) fn replace(path: &Path, bytes: &[u8], backup: bool) -> io::Result<()> {
    let target = write_target(path)?;
    if backup {
        keep_backup(&target)?;
    }
    let mut reserved = Reserved::create(&target, 0)?;
    reserved.commit(bytes)
}

/// Where a write of `path` goes: the file a symbolic link points to (so that the link
/// stays a link and its target is what changes), else `path` itself.
pub(crate) fn write_target(path: &Path) -> io::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path),
        _ => Ok(path.to_path_buf()),
    }
}

/// Keeps the current content of `target` (if any) as `<target>.bak`, by hard link: the
/// link goes to a temporary name first and is renamed over the old backup, so a crash
/// leaves either backup whole.
pub(crate) fn keep_backup(target: &Path) -> io::Result<()> {
    let temp = temp_path(target, "bak")?;
    match fs::hard_link(target, &temp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    // A backup is as private as every file preauth writes, whatever the old file's mode.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(&temp, fs::Permissions::from_mode(FILE_MODE));
    }
    #[cfg(windows)]
    let _ = winfs::restrict(&temp);
    #[cfg(windows)]
    let renamed = winfs::replace(&temp, &backup_path(target));
    #[cfg(not(windows))]
    let renamed = fs::rename(&temp, backup_path(target));
    if renamed.is_err() {
        let _ = fs::remove_file(&temp);
    }
    renamed
}

/// Removes `path` (and its backup when `with_backup`) and flushes the folder.
pub(crate) fn remove(path: &Path, with_backup: bool) -> io::Result<()> {
    let target = write_target(path)?;
    fs::remove_file(path)?;
    if with_backup {
        match fs::remove_file(backup_path(&target)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    sync_dir(path)
}

/// A temporary file next to the file it will replace, holding disk space reserved for
/// the new content, so that a full disk shows before a refresh token is spent rather
/// than after. [`Reserved::commit`] writes, flushes and renames it over the target; a
/// `Reserved` dropped uncommitted removes its file.
#[derive(Debug)]
pub(crate) struct Reserved {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Reserved {
    /// Creates the temporary file for `target` (exclusively, mode 0600) and allocates
    /// `len` bytes for it. Fails with the disk's own error (`StorageFull`, a quota) when
    /// the space is not there.
    pub fn create(target: &Path, len: u64) -> io::Result<Reserved> {
        let temp = temp_path(target, "tmp")?;
        let file = create_private(&temp)?;
        let reserved = Reserved {
            file,
            temp,
            target: target.to_path_buf(),
            committed: false,
        };
        allocate(&reserved.file, len)?;
        Ok(reserved)
    }

    /// Writes `bytes` as the new content of the target durably: into the reserved
    /// file, flushed, renamed over the target, and the folder flushed.
    pub fn commit(&mut self, bytes: &[u8]) -> io::Result<()> {
        use std::io::{Seek, SeekFrom};
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(bytes)?;
        self.file.set_len(bytes.len() as u64)?;
        self.file.sync_all()?;
        #[cfg(windows)]
        winfs::replace(&self.temp, &self.target)?;
        #[cfg(not(windows))]
        fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        sync_dir(&self.target)
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Allocates `len` bytes for `file` on disk (not a sparse hole): `posix_fallocate`
/// where the file system supports it, else by writing zeros.
fn allocate(file: &File, len: u64) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let len_arg = libc::off_t::try_from(len).map_err(|_| io::Error::other("too large"))?;
        // SAFETY: the descriptor is open for writing and owned by `file` for the call.
        match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len_arg) } {
            0 => return Ok(()),
            libc::EOPNOTSUPP | libc::EINVAL => {}
            code => return Err(io::Error::from_raw_os_error(code)),
        }
    }
    let mut writer = file;
    let zeros = [0u8; 8192];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(zeros.len() as u64)).unwrap_or(zeros.len());
        writer.write_all(zeros.get(..n).unwrap_or(&zeros))?;
        left -= n as u64;
    }
    Ok(())
}

/// Marks temporary files: `.<file>.<kind>.tmp-<pid>-<random>`.
const TEMP_MARK: &str = ".tmp-";

/// Hex digits of the random part of a temporary name.
const TEMP_RANDOM_DIGITS: usize = 16;

/// A fresh temporary name next to `target`, carrying this process's id so that
/// [`remove_stale_temps`] can tell a paused writer's file from a dead one's.
fn temp_path(target: &Path, kind: &str) -> io::Result<PathBuf> {
    let mut random = [0u8; TEMP_RANDOM_DIGITS / 2];
    getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
    let tag: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Ok(sibling(
        target,
        ".",
        &format!(".{kind}{TEMP_MARK}{}-{tag}", std::process::id()),
    ))
}

/// A temporary file is left alone until it is this old (by its modification time).
/// Its writer holds it from before a refresh request until the answer is saved: a
/// lock wait and one HTTP exchange (30 s at most), far less than this. Its age, not
/// its process id, is what proves that no writer owns it: a folder may be shared by
/// containers or machines whose process ids mean nothing here.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Whether `name` is one of preauth's own temporary names: `.<file>.tmp-<random>`
/// (older versions) or `.<file>.<kind>.tmp-<pid>-<random>`, the random part 16
/// lower-case hex digits. Returns the writer's process id when the name has one.
fn temp_writer(name: &str) -> Option<Option<u32>> {
    let (file, tail) = name.strip_prefix('.')?.rsplit_once(TEMP_MARK)?;
    let is_random = |text: &str| {
        text.len() == TEMP_RANDOM_DIGITS
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if file.is_empty() {
        return None;
    }
    match tail.split_once('-') {
        None => is_random(tail).then_some(None),
        Some((pid, random)) => {
            let pid = pid
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| pid.parse::<u32>().ok())
                .flatten()?;
            is_random(random).then_some(Some(pid))
        }
    }
}

/// Whether the file name `name` is one of preauth's own temporary names.
pub(crate) fn is_temp_name(name: &str) -> bool {
    temp_writer(name).is_some()
}

/// Removes those of `paths` that are preauth's own temporary files left behind by a
/// writer that is gone (a SIGKILL between creating and renaming them): regular files of
/// its naming ([`is_temp_name`]), older than [`STALE_AFTER`], whose process id (when
/// the name has one) is not a live process here (a paused writer keeps its file).
/// Anything else stays.
pub(crate) fn remove_stale_temps(paths: &[PathBuf]) {
    let stale = |path: &Path| {
        let Some(writer) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(temp_writer)
        else {
            return false;
        };
        let old = fs::symlink_metadata(path).is_ok_and(|meta| {
            meta.is_file()
                && meta
                    .modified()
                    .is_ok_and(|at| at.elapsed().unwrap_or_default() > STALE_AFTER)
        });
        old && !writer.is_some_and(process_alive)
    };
    for path in paths.iter().filter(|path| stale(path)) {
        // Gone already (another process removed it) or not removable: nothing to do.
        let _ = fs::remove_file(path);
    }
}

/// Whether a process with this id exists (on Unix and Windows; elsewhere always assumed
/// alive).
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks for existence and permission; nothing is sent.
        let result = unsafe { libc::kill(pid, 0) };
        result == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(windows)]
    {
        winfs::process_alive(pid)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = pid;
        true
    }
}

/// Creates a new file that only its owner can read and write.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let file = options.open(path)?;
    #[cfg(windows)]
    if let Err(error) = winfs::restrict(path) {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(error);
    }
    Ok(file)
}

/// Flushes the folder holding `path`, so that renames and removals in it are durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates `dir` (and its parents) with mode 0700 if it does not exist (on Windows an
/// access list for the owner alone, inherited by what is created in it).
pub(crate) fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    #[cfg(windows)]
    let existed = dir.is_dir();
    builder.create(dir)?;
    #[cfg(windows)]
    if !existed {
        winfs::restrict(dir)?;
    }
    Ok(())
}

/// An exclusive lock on a lock file, held across processes until dropped.
#[derive(Debug)]
pub(crate) struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// Locks `path` (created 0600 when absent), waiting at most `wait` for another
    /// holder (another process, or another task of this one) to let go; then fails with
    /// [`io::ErrorKind::TimedOut`]. Never blocks without bound: call it on a thread that
    /// may wait (not an async runtime's worker). Retries when the lock file was removed
    /// and recreated while waiting, so that two holders never lock different files of
    /// the same name.
    pub fn acquire(path: &Path, wait: Duration) -> io::Result<Self> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let mut options = OpenOptions::new();
            options.read(true).write(true).create(true).truncate(false);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(FILE_MODE);
            }
            let file = match options.open(path) {
                Ok(file) => file,
                // Windows: the holder is removing the lock file (delete pending, which no one
                // may open); wait for it to be gone, as for a held lock.
                #[cfg(windows)]
                Err(e)
                    if e.kind() == io::ErrorKind::PermissionDenied && started.elapsed() < wait =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(MAX_LOCK_PAUSE);
                    continue;
                }
                Err(e) => return Err(e),
            };
            match file.try_lock() {
                Ok(()) => {
                    if still_linked(&file, path)? {
                        return Ok(FileLock {
                            file,
                            path: path.to_path_buf(),
                        });
                    }
                    continue;
                }
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(e),
            }
            drop(file);
            let waited = started.elapsed();
            if waited >= wait {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("still locked after {} s", waited.as_secs()),
                ));
            }
            std::thread::sleep(pause.min(wait - waited));
            pause = (pause * 2).min(MAX_LOCK_PAUSE);
        }
    }

    /// The counter kept in the lock file (0 when it holds none): a number that the
    /// holders of this lock raise each time they change something others cache.
    pub fn generation(&self) -> io::Result<u64> {
        use std::io::{Read, Seek, SeekFrom};
        let mut bytes = [0u8; 8];
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))?;
        let mut read = 0;
        while read < bytes.len() {
            match file.read(bytes.get_mut(read..).unwrap_or_default())? {
                0 => break,
                n => read += n,
            }
        }
        Ok(if read == bytes.len() {
            u64::from_le_bytes(bytes)
        } else {
            0
        })
    }

    /// Stores `generation` in the lock file (not flushed to disk: after a crash, every
    /// cache that relied on it is gone too).
    pub fn set_generation(&self, generation: u64) -> io::Result<()> {
        use std::io::{Seek, SeekFrom};
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&generation.to_le_bytes())
    }

    /// Removes the lock file while holding it (after its settings file is gone).
    pub fn remove(self) -> io::Result<()> {
        fs::remove_file(&self.path)?;
        drop(self.file);
        Ok(())
    }
}

/// Longest pause between two tries of a held lock.
const MAX_LOCK_PAUSE: Duration = Duration::from_millis(20);

#[cfg(unix)]
fn still_linked(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = file.metadata()?;
    match fs::metadata(path) {
        Ok(now) => Ok(now.ino() == held.ino() && now.dev() == held.dev()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(windows)]
fn still_linked(file: &File, path: &Path) -> io::Result<bool> {
    match File::open(path) {
        Ok(now) => winfs::same_file(file, &now),
        // Removed, or removed while still open elsewhere (delete pending).
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

#[cfg(not(any(unix, windows)))]
fn still_linked(_file: &File, path: &Path) -> io::Result<bool> {
    Ok(path.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_told_apart_from_everything_else() {
        let target = Path::new("/x/settings-acme.xml");
        let made = temp_path(target, "tmp").expect("a name");
        let made = made.file_name().and_then(|n| n.to_str()).expect("UTF-8");
        assert_eq!(temp_writer(made), Some(Some(std::process::id())));
        assert_eq!(
            temp_writer(".settings-acme.xml.tmp-00aa11bb22cc33dd"),
            Some(None),
            "older versions' names"
        );
        for foreign in [
            "settings-acme.xml.tmp-1-00aa11bb22cc33dd",
            ".settings-acme.xml.tmp-1-00AA11BB22CC33DD",
            ".settings-acme.xml.tmp-1-00aa11bb22cc33d",
            ".settings-acme.xml.tmp-x1-00aa11bb22cc33dd",
            ".settings-acme.xml.tmp--00aa11bb22cc33dd",
            ".settings-acme.xml.tmp-notours",
            ".tmp-00aa11bb22cc33dd",
            ".settings-acme.xml.lock",
            "settings-acme.xml.bak",
        ] {
            assert_eq!(temp_writer(foreign), None, "{foreign}");
        }
    }
}
