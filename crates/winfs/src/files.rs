//! Durable replace, file identity and process liveness.

use std::fs::File;
use std::io;
use std::os::windows::ffi::OsStrExt as _;
use std::os::windows::io::AsRawHandle as _;
use std::path::Path;
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, STILL_ACTIVE,
};
use windows_sys::Win32::Storage::FileSystem::{
    BY_HANDLE_FILE_INFORMATION, GetFileInformationByHandle, MOVEFILE_REPLACE_EXISTING,
    MOVEFILE_WRITE_THROUGH, MoveFileExW,
};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
};

/// `path` as a NUL-terminated UTF-16 string for the wide Windows calls.
pub(crate) fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain(Some(0)).collect()
}

/// How long [`replace`] keeps trying while the target is open in another process.
const REPLACE_PATIENCE: Duration = Duration::from_secs(5);

/// Moves `from` over `to` (replacing it) and returns only once the move is on disk
/// (`MOVEFILE_WRITE_THROUGH`). Flush the file itself (`File::sync_all`) before.
///
/// Windows refuses to replace a file that another process has open, even one that allowed
/// deleting it (a reader of the old version, a virus scanner): "access denied" or a sharing
/// violation. Readers hold the file for milliseconds, so the move is tried again, with
/// pauses growing to 20 ms, for up to 5 s before that error is returned.
pub fn replace(from: &Path, to: &Path) -> io::Result<()> {
    let (from, to) = (wide(from), wide(to));
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        // SAFETY: both are NUL-terminated wide strings that live across the call.
        let moved = unsafe {
            MoveFileExW(
                from.as_ptr(),
                to.as_ptr(),
                MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH,
            )
        };
        if moved != 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        let in_use = matches!(
            error
                .raw_os_error()
                .and_then(|code| u32::try_from(code).ok()),
            Some(ERROR_ACCESS_DENIED | ERROR_SHARING_VIOLATION)
        );
        if !in_use || started.elapsed() >= REPLACE_PATIENCE {
            return Err(error);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Whether `a` and `b` are open handles of the same file.
pub fn same_file(a: &File, b: &File) -> io::Result<bool> {
    let (a, b) = (identity(a)?, identity(b)?);
    Ok(a == b)
}

/// Volume serial number and file index: what tells one file from another.
fn identity(file: &File) -> io::Result<(u32, u32, u32)> {
    // SAFETY: an all-zero BY_HANDLE_FILE_INFORMATION is valid; the call fills it.
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is open for the duration of the call, `info` is writable.
    if unsafe { GetFileInformationByHandle(file.as_raw_handle(), &mut info) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((
        info.dwVolumeSerialNumber,
        info.nFileIndexHigh,
        info.nFileIndexLow,
    ))
}

/// Whether a process with this id is running. A process that cannot be opened for lack of
/// rights is taken to be running (it exists); one that cannot be found is not.
pub fn process_alive(pid: u32) -> bool {
    // SAFETY: OpenProcess takes plain values; a null handle means failure.
    let handle = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if handle.is_null() {
        return io::Error::last_os_error().kind() == io::ErrorKind::PermissionDenied;
    }
    let mut code = 0u32;
    // SAFETY: `handle` is a process handle opened above, closed once below.
    let queried = unsafe { GetExitCodeProcess(handle, &mut code) };
    // SAFETY: as above.
    unsafe { CloseHandle(handle) };
    queried == 0 || code == STILL_ACTIVE as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_moves_over_an_existing_file_with_spaces_and_non_ascii_in_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("Jürgen Ærø");
        std::fs::create_dir(&folder).unwrap();
        let (from, to) = (folder.join("new één.xml"), folder.join("old.xml"));
        std::fs::write(&from, "new").unwrap();
        std::fs::write(&to, "old").unwrap();
        replace(&from, &to).unwrap();
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "new");
        assert!(!from.exists());
        assert!(replace(&from, &to).is_err(), "the source is gone");
    }

    #[test]
    fn replace_waits_for_a_reader_of_the_old_file_to_close_it() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("new"), dir.path().join("old"));
        std::fs::write(&from, "new").unwrap();
        std::fs::write(&to, "old").unwrap();
        let reader = File::open(&to).unwrap();
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(reader);
        });
        replace(&from, &to).unwrap();
        closer.join().unwrap();
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "new");
    }

    #[test]
    fn same_file_tells_files_apart() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        let (fa, fa2, fb) = (
            File::open(&a).unwrap(),
            File::open(&a).unwrap(),
            File::open(&b).unwrap(),
        );
        assert!(same_file(&fa, &fa2).unwrap());
        assert!(!same_file(&fa, &fb).unwrap());
    }

    #[test]
    fn this_process_is_alive_and_an_unused_id_is_not() {
        assert!(process_alive(std::process::id()));
        // Process ids are multiples of 4 on Windows: an odd one never names a process.
        assert!(!process_alive(0xFFFF_FFF1));
    }
}
