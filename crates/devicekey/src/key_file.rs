//! Key files: a secret the platform mounts (a Docker or Kubernetes secret, a systemd
//! credential) instead of a host secret bound to hardware.
//!
//! A key file is read whole and used as it is (any encoding: base64, hex or raw bytes), less
//! one trailing line break, so that a secret written with `echo` and one written with
//! `printf` are the same key. It must hold at least [`KEY_FILE_MIN_LEN`] bytes and something
//! other than white space, and (on Unix) no one but its owner may read it, as ssh demands of
//! a private key. One exception, as libpq makes for its key files: a file owned by root may be
//! readable by its group (mode 0440 or 0640), which is how Kubernetes mounts a secret for a
//! pod with an `fsGroup` and how a platform shares a secret with a non-root service. Files
//! are refused with one sentence naming the file and the fix; the contents never appear in
//! an error.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The fewest bytes a key file may hold: 32, the size of the random key it should carry.
pub const KEY_FILE_MIN_LEN: usize = 32;

/// The most bytes a key file may hold (64 KiB): anything longer is not a key but another file.
pub const KEY_FILE_MAX_LEN: usize = 64 * 1024;

/// The contents of a key file (less its trailing line break) and where it was read; the
/// contents are wiped on drop and never printed.
pub(crate) struct KeyFile {
    path: PathBuf,
    bytes: Zeroizing<Vec<u8>>,
}

impl KeyFile {
    /// Reads and checks the key file at `path`.
    pub(crate) fn read(path: &Path) -> Result<KeyFile> {
        let io_error = |source: io::Error| {
            if source.kind() == io::ErrorKind::NotFound {
                Error::KeyFileMissing {
                    path: path.to_owned(),
                }
            } else {
                Error::KeyFileIo {
                    path: path.to_owned(),
                    source,
                }
            }
        };
        // Opening follows symbolic links: Kubernetes mounts each key as a link to the data.
        let (file, metadata) = crate::secret::open_regular(path, io_error)?;
        check_permissions(path, &metadata)?;
        #[cfg(windows)]
        crate::windows::check_private(path, &file, "key file")?;
        let too_long = |len| Error::KeyFileTooLong {
            path: path.to_owned(),
            len,
        };
        if metadata.len() > KEY_FILE_MAX_LEN as u64 {
            return Err(too_long(metadata.len()));
        }
        // Sized up front (one byte more, to see a file that grew) so that no reallocation
        // leaves an unwiped copy behind.
        let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_FILE_MAX_LEN + 1));
        file.take(KEY_FILE_MAX_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        if bytes.len() > KEY_FILE_MAX_LEN {
            return Err(too_long(bytes.len() as u64));
        }
        let len = bytes.len();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::KeyFileBlank {
                path: path.to_owned(),
            });
        }
        // The size rule counts the file as it is, line break included, so that a random
        // binary key of 32 bytes that happens to end in a newline byte is still accepted.
        if len < KEY_FILE_MIN_LEN {
            return Err(Error::KeyFileTooShort {
                path: path.to_owned(),
                len: len as u64,
            });
        }
        if bytes.ends_with(b"\n") {
            bytes.pop();
            if bytes.ends_with(b"\r") {
                bytes.pop();
            }
        }
        Ok(KeyFile {
            path: path.to_owned(),
            bytes,
        })
    }

    /// The key: the file's bytes less one trailing line break.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Where the key was read.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Shows where the key was read and its size, never its bytes.
impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFile")
            .field("path", &self.path)
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// Refuses a file others may read or that its group may write; a file owned by root may be
/// readable by its group (see the module docs).
fn check_permissions(path: &Path, metadata: &fs::Metadata) -> Result<()> {
    match secret_file_too_open(metadata) {
        Some(mode) => Err(Error::KeyFilePermissions {
            path: path.to_owned(),
            mode,
        }),
        None => Ok(()),
    }
}

/// The permission bits (`mode & 0o777`) of a file holding a secret when they let anyone but
/// its owner read it, or its group write it; `None` when they are tight enough. A file owned
/// by root may be readable by its group (mode 0440 or 0640), as libpq allows for its key
/// files: that is how Kubernetes and systemd share a secret with a service. This is the rule
/// key files follow; other secret files a program is given (a TLS private key) can follow it
/// too. Always `None` where there are no Unix permissions.
#[cfg(unix)]
pub fn secret_file_too_open(metadata: &fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode = metadata.permissions().mode() & 0o777;
    let group_may_read = metadata.uid() == 0 && mode & 0o070 == 0o040;
    let open_bits = if group_may_read { 0o037 } else { 0o077 };
    (mode & open_bits != 0).then_some(mode)
}

/// The permission bits of a file holding a secret when they are too open: never, where there
/// are no Unix permissions.
#[cfg(not(unix))]
pub fn secret_file_too_open(_metadata: &fs::Metadata) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "q0L8c1lH7b9mV2xZkR4tN6pW3sY5uA8dE0fG2hJ4kL6=";

    fn write(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, bytes).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        path
    }

    #[test]
    fn one_trailing_line_break_is_not_part_of_the_key() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("bare", KEY.to_owned()),
            ("echo", format!("{KEY}\n")),
            ("crlf", format!("{KEY}\r\n")),
        ] {
            let file = KeyFile::read(&write(dir.path(), name, text.as_bytes(), 0o600)).unwrap();
            assert_eq!(file.bytes(), KEY.as_bytes(), "{name}");
        }
        // Only one: a second line break (or other white space) is part of the key.
        let two = write(dir.path(), "two", format!("{KEY}\n\n").as_bytes(), 0o600);
        assert_eq!(
            KeyFile::read(&two).unwrap().bytes(),
            format!("{KEY}\n").as_bytes()
        );
    }

    #[test]
    fn raw_bytes_are_a_key_too() {
        let dir = tempfile::tempdir().unwrap();
        // 32 random-looking bytes that end in a newline byte: the file's size counts.
        let mut raw: Vec<u8> = (0u8..31).map(|b| b.wrapping_mul(97) ^ 0xa5).collect();
        raw.push(b'\n');
        let file = KeyFile::read(&write(dir.path(), "raw", &raw, 0o600)).unwrap();
        assert_eq!(file.bytes(), &raw[..31]);
    }

    #[test]
    fn short_blank_long_missing_and_odd_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let short = write(
            dir.path(),
            "short",
            b"0123456789abcdef0123456789abcd\n",
            0o600,
        );
        assert!(matches!(
            KeyFile::read(&short),
            Err(Error::KeyFileTooShort { len: 31, ref path }) if *path == short
        ));
        for (name, text) in [
            ("empty", ""),
            ("newline", "\n"),
            ("spaces", &" ".repeat(40)),
        ] {
            let blank = write(dir.path(), name, text.as_bytes(), 0o600);
            assert!(
                matches!(KeyFile::read(&blank), Err(Error::KeyFileBlank { ref path }) if *path == blank),
                "{name}"
            );
        }
        let long = write(dir.path(), "long", &[b'k'; KEY_FILE_MAX_LEN + 1], 0o600);
        assert!(matches!(
            KeyFile::read(&long),
            Err(Error::KeyFileTooLong { len, .. }) if len == KEY_FILE_MAX_LEN as u64 + 1
        ));
        let longest = write(dir.path(), "longest", &[b'k'; KEY_FILE_MAX_LEN], 0o600);
        assert!(KeyFile::read(&longest).is_ok());

        let absent = dir.path().join("absent");
        assert!(matches!(
            KeyFile::read(&absent),
            Err(Error::KeyFileMissing { ref path }) if *path == absent
        ));
        let folder = dir.path().join("folder");
        fs::create_dir(&folder).unwrap();
        let err = KeyFile::read(&folder).unwrap_err();
        assert!(matches!(err, Error::KeyFileIo { .. }), "{err:?}");
        // Windows refuses to open a folder as a file at all ("access denied").
        #[cfg(not(windows))]
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[cfg(windows)]
    #[test]
    fn files_everyone_can_read_are_refused_with_the_icacls_advice() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "key file", KEY.as_bytes(), 0o600);
        winfs::restrict(&path).unwrap();
        assert!(KeyFile::read(&path).is_ok());
        winfs::grant_read_to_everyone(&path).unwrap();
        let err = KeyFile::read(&path).unwrap_err();
        assert!(
            matches!(err, Error::ReadableByOthers { what: "key file", ref readers, .. }
                if readers.iter().any(|r| r.starts_with("S-1-1-0"))),
            "{err:?}"
        );
        assert!(err.to_string().contains("icacls"), "{err}");
        winfs::restrict(&path).unwrap();
        assert!(KeyFile::read(&path).is_ok(), "restricted again");
    }

    #[cfg(unix)]
    #[test]
    fn files_others_can_read_are_refused_with_the_chmod_advice() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let owner = fs::metadata(dir.path()).unwrap().uid();
        for mode in [0o644, 0o604, 0o620, 0o660, 0o606, 0o700 | 0o004] {
            let path = write(dir.path(), "open", KEY.as_bytes(), mode);
            let err = KeyFile::read(&path).unwrap_err();
            assert!(
                matches!(err, Error::KeyFilePermissions { mode: m, .. } if m == mode),
                "{mode:o}: {err:?}"
            );
            let text = err.to_string();
            assert!(
                text.contains(&format!("chmod 600 {}", path.display())),
                "{text}"
            );
        }
        for mode in [0o600, 0o400, 0o700] {
            let path = write(dir.path(), "private", KEY.as_bytes(), mode);
            assert!(KeyFile::read(&path).is_ok(), "{mode:o}");
        }
        // Group-readable: refused for a file of anyone but root, accepted for root's own.
        let shared = write(dir.path(), "shared", KEY.as_bytes(), 0o440);
        if owner == 0 {
            assert!(KeyFile::read(&shared).is_ok());
            std::os::unix::fs::chown(&shared, Some(65534), None).unwrap();
        }
        assert!(matches!(
            KeyFile::read(&shared),
            Err(Error::KeyFilePermissions { mode: 0o440, .. })
        ));
    }

    #[test]
    fn errors_name_the_file_and_never_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let short = write(dir.path(), "short", b"hunter2-hunter2", 0o600);
        let err = KeyFile::read(&short).unwrap_err();
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert!(err.to_string().contains(&short.display().to_string()));
    }
}
