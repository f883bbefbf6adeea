//! The host secret: 32 random bytes in a file, created once and never overwritten.
//!
//! The file is written under a temporary name (created exclusively, mode 0600), synced, then
//! hard-linked to its final name, which fails rather than replaces when another process got
//! there first: the loser reads the winner's secret. A crash leaves either no secret or a
//! whole one, never a partial file under the final name.
//!
//! On Windows the file holds the secret protected by DPAPI for the current user (so a copy of
//! the file is useless to another user or machine), the folder and file get an access list
//! for their owner alone instead of modes 0700 and 0600, and the default folder is under
//! `%LOCALAPPDATA%`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Size of the host secret in bytes.
pub const SECRET_LEN: usize = 32;

/// File name of the host secret inside its folder.
pub const SECRET_FILE_NAME: &str = "host.secret";

/// Environment variable naming the folder of the host secret; overrides the default folder.
pub const SECRET_DIR_ENV: &str = "DEVICEKEY_SECRET_DIR";

/// The 32 secret bytes; zeroized on drop, never printed.
pub(crate) struct HostSecret(Zeroizing<[u8; SECRET_LEN]>);

impl HostSecret {
    #[cfg(feature = "danger")]
    pub(crate) fn from_bytes(bytes: [u8; SECRET_LEN]) -> Self {
        HostSecret(Zeroizing::new(bytes))
    }

    pub(crate) fn bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }
}

/// The folder [`DeviceKey::load_or_create`](crate::DeviceKey::load_or_create) keeps the host
/// secret in: `$DEVICEKEY_SECRET_DIR` when set and not empty, else `preauth` inside the user's
/// local data folder (`~/.local/share/preauth` on Linux, `%LOCALAPPDATA%\preauth` on
/// Windows, which does not roam to other machines).
pub fn default_secret_dir() -> Result<PathBuf> {
    match std::env::var_os(SECRET_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => dirs::data_local_dir()
            .map(|dir| dir.join("preauth"))
            .ok_or(Error::NoSecretDir),
    }
}

/// Reads the host secret in `dir`, creating the folder (0700) and the secret (0600) first when
/// there is none.
pub(crate) fn load_or_create(dir: &Path) -> Result<HostSecret> {
    match load(dir) {
        Err(Error::HostSecretMissing { path }) => create(dir, &path),
        other => other,
    }
}

/// Reads the host secret in `dir`; never creates the folder or the file. A missing file (or
/// folder) is [`Error::HostSecretMissing`].
pub(crate) fn load(dir: &Path) -> Result<HostSecret> {
    let path = dir.join(SECRET_FILE_NAME);
    match read(&path) {
        Err(Error::HostSecretIo { source, path, .. })
            if source.kind() == io::ErrorKind::NotFound =>
        {
            Err(Error::HostSecretMissing { path })
        }
        other => other,
    }
}

/// Opens `path` (following links) when it is a regular file, with its metadata; other
/// failures become errors through `io_error`.
pub(crate) fn open_regular(
    path: &Path,
    io_error: impl Fn(io::Error) -> Error,
) -> Result<(File, fs::Metadata)> {
    let file = File::open(path).map_err(&io_error)?;
    let metadata = file.metadata().map_err(&io_error)?;
    if !metadata.is_file() {
        return Err(io_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file",
        )));
    }
    Ok((file, metadata))
}

fn read(path: &Path) -> Result<HostSecret> {
    let io_error = |source| Error::HostSecretIo {
        action: "read",
        path: path.to_owned(),
        source,
    };
    let (file, metadata) = open_regular(path, io_error)?;
    check_permissions(path, &file, &metadata)?;
    read_secret(path, file, &metadata)
}

/// The secret in `file`: its 32 bytes, refused when it holds another number of bytes.
#[cfg(not(windows))]
fn read_secret(path: &Path, file: File, metadata: &fs::Metadata) -> Result<HostSecret> {
    let io_error = |source| Error::HostSecretIo {
        action: "read",
        path: path.to_owned(),
        source,
    };
    if metadata.len() != SECRET_LEN as u64 {
        return Err(Error::HostSecretSize {
            path: path.to_owned(),
            len: metadata.len(),
        });
    }
    let mut bytes = Zeroizing::new([0u8; SECRET_LEN]);
    // Read one byte more than expected so a file that grew since `metadata` is still refused.
    let mut extra = [0u8; 1];
    let mut reader = file.take(SECRET_LEN as u64 + 1);
    reader.read_exact(&mut bytes[..]).map_err(io_error)?;
    if reader.read(&mut extra).map_err(io_error)? != 0 {
        return Err(Error::HostSecretSize {
            path: path.to_owned(),
            len: SECRET_LEN as u64 + 1,
        });
    }
    Ok(HostSecret(bytes))
}

/// Largest DPAPI blob read as a host secret (a blob of 32 bytes takes about 300).
#[cfg(windows)]
const MAX_PROTECTED_LEN: u64 = 4096;

/// The secret in `file`: a DPAPI blob that this user on this machine unprotects to 32 bytes.
#[cfg(windows)]
fn read_secret(path: &Path, file: File, metadata: &fs::Metadata) -> Result<HostSecret> {
    let io_error = |source| Error::HostSecretIo {
        action: "read",
        path: path.to_owned(),
        source,
    };
    let size = |len| Error::HostSecretSize {
        path: path.to_owned(),
        len,
    };
    if metadata.len() > MAX_PROTECTED_LEN {
        return Err(size(metadata.len()));
    }
    let mut blob = Vec::new();
    file.take(MAX_PROTECTED_LEN)
        .read_to_end(&mut blob)
        .map_err(io_error)?;
    let plain = crate::windows::unprotect(&blob).map_err(|source| Error::HostSecretIo {
        action: "unprotect (DPAPI: it was protected for another user or machine, or altered)",
        path: path.to_owned(),
        source,
    })?;
    let bytes: [u8; SECRET_LEN] = plain[..].try_into().map_err(|_| size(plain.len() as u64))?;
    Ok(HostSecret(Zeroizing::new(bytes)))
}

#[cfg(unix)]
fn check_permissions(path: &Path, _file: &File, metadata: &fs::Metadata) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::HostSecretPermissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(windows)]
fn check_permissions(path: &Path, file: &File, _metadata: &fs::Metadata) -> Result<()> {
    crate::windows::check_private(path, file, "host secret")
}

#[cfg(not(any(unix, windows)))]
fn check_permissions(_path: &Path, _file: &File, _metadata: &fs::Metadata) -> Result<()> {
    Ok(())
}

fn create(dir: &Path, path: &Path) -> Result<HostSecret> {
    let io_error = |action, path: &Path| {
        let path = path.to_owned();
        move |source| Error::HostSecretIo {
            action,
            path,
            source,
        }
    };
    create_private_dir(dir).map_err(io_error("create the folder of", dir))?;

    let mut secret = HostSecret(Zeroizing::new([0u8; SECRET_LEN]));
    getrandom::fill(&mut secret.0[..]).map_err(Error::Random)?;

    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(Error::Random)?;
    let temp = dir.join(format!(
        ".{SECRET_FILE_NAME}.{:016x}.tmp",
        u64::from_le_bytes(suffix)
    ));
    let written = write_new(&temp, secret.bytes()).map_err(io_error("create", &temp));
    let linked = written.and_then(|()| match fs::hard_link(&temp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_error("create", path)(e)),
    });
    // The temporary name goes in every case; failing to remove it leaves a harmless 0600 file.
    let _ = fs::remove_file(&temp);
    if linked? {
        sync_dir(dir).map_err(io_error("sync the folder of", dir))?;
        Ok(secret)
    } else {
        // Another process created the secret first: use theirs.
        read(path)
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(windows)]
    {
        winfs::restrict(path)?;
        file.write_all(&crate::windows::protect(bytes)?)?;
    }
    #[cfg(not(windows))]
    file.write_all(bytes)?;
    file.sync_all()
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
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

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
