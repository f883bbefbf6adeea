//! The host secret file: created once with safe permissions, never overwritten, checked on load.
//! Unix modes: on Windows the same is checked by `tests/windows_exe.rs` and the unit tests
//! of `winfs` and `devicekey::windows`.
#![cfg(unix)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use devicekey::{DeviceKey, Error, SECRET_FILE_NAME, SECRET_LEN};

/// Writes a host secret file by hand into `dir` with `mode`.
fn put_secret(dir: &Path, bytes: &[u8], mode: u32) -> PathBuf {
    let file = dir.join(SECRET_FILE_NAME);
    fs::write(&file, bytes).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
    file
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn first_use_creates_a_private_secret_in_a_private_folder() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("deep").join("preauth");
    let key = DeviceKey::load_or_create_in(&dir).unwrap();
    let file = dir.join(SECRET_FILE_NAME);
    assert_eq!(fs::read(&file).unwrap().len(), SECRET_LEN);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&root.path().join("deep")), 0o700);
    // Only the secret is left: no temporary file.
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![SECRET_FILE_NAME]);
    assert!(!key.sources().is_empty());
}

#[test]
fn an_existing_secret_is_used_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let first = DeviceKey::load_or_create_in(dir.path()).unwrap();
    let file = dir.path().join(SECRET_FILE_NAME);
    let before = fs::read(&file).unwrap();
    let sealed = first.encrypt("refresh-token", "t").unwrap();

    let second = DeviceKey::load_or_create_in(dir.path()).unwrap();
    assert_eq!(fs::read(&file).unwrap(), before);
    assert_eq!(*second.decrypt(&sealed, "t").unwrap(), "refresh-token");

    // Another folder means another secret: the envelope does not open there.
    let other = tempfile::tempdir().unwrap();
    let stranger = DeviceKey::load_or_create_in(other.path()).unwrap();
    assert!(matches!(
        stranger.decrypt(&sealed, "t"),
        Err(Error::AnotherDevice { .. })
    ));
}

#[test]
fn loading_for_reading_never_creates_the_secret_or_its_folder() {
    let root = tempfile::tempdir().unwrap();
    let empty = root.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let absent = root.path().join("absent").join("preauth");
    for dir in [&empty, &absent] {
        let file = dir.join(SECRET_FILE_NAME);
        let err = DeviceKey::load_in(dir).unwrap_err();
        assert!(
            matches!(&err, Error::HostSecretMissing { path } if path == &file),
            "{err:?}"
        );
        // One sentence naming the file, the variable that moves it and the fix.
        let message = err.to_string();
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert!(message.contains("DEVICEKEY_SECRET_DIR"), "{message}");
        assert!(message.contains("set it to the folder"), "{message}");
        assert!(!file.exists());
    }
    assert_eq!(fs::read_dir(&empty).unwrap().count(), 0);
    assert!(!root.path().join("absent").exists());
}

#[test]
fn loading_for_reading_opens_what_was_sealed_and_checks_the_file_alike() {
    let dir = tempfile::tempdir().unwrap();
    let sealed = DeviceKey::load_or_create_in(dir.path())
        .unwrap()
        .encrypt("refresh-token", "t")
        .unwrap();
    let reader = DeviceKey::load_in(dir.path()).unwrap();
    assert_eq!(*reader.decrypt(&sealed, "t").unwrap(), "refresh-token");

    // The same checks as when creating: a secret readable by others is refused.
    fs::set_permissions(
        dir.path().join(SECRET_FILE_NAME),
        fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    assert!(matches!(
        DeviceKey::load_in(dir.path()),
        Err(Error::HostSecretPermissions { mode: 0o640, .. })
    ));
}

#[test]
fn a_secret_put_in_place_by_hand_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let file = put_secret(dir.path(), &[42u8; SECRET_LEN], 0o600);
    DeviceKey::load_or_create_in(dir.path()).unwrap();
    assert_eq!(fs::read(&file).unwrap(), [42u8; SECRET_LEN]);
}

#[test]
fn a_secret_of_the_wrong_size_is_refused_and_left_alone() {
    for len in [0, 1, SECRET_LEN - 1, SECRET_LEN + 1, 4096] {
        let dir = tempfile::tempdir().unwrap();
        let file = put_secret(dir.path(), &vec![7u8; len], 0o600);
        let err = DeviceKey::load_or_create_in(dir.path()).unwrap_err();
        assert!(
            matches!(&err, Error::HostSecretSize { path, len: l } if path == &file && *l == len as u64),
            "{len}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains(&format!("holds {len} bytes instead of 32"))
        );
        assert_eq!(fs::read(&file).unwrap(), vec![7u8; len]);
    }
}

#[test]
fn a_secret_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    put_secret(dir.path(), &[1u8; SECRET_LEN], 0o644);
    let err = DeviceKey::load_or_create_in(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::HostSecretPermissions { mode: 0o644, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

#[test]
fn an_unreadable_secret_is_an_io_error_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(SECRET_FILE_NAME);
    fs::create_dir(&file).unwrap();
    let err = DeviceKey::load_or_create_in(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::HostSecretIo { action: "read", path, .. } if path == &file),
        "{err:?}"
    );
    assert!(err.to_string().contains(&file.display().to_string()));
}

#[test]
fn a_folder_below_a_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    fs::write(&blocker, "not a folder").unwrap();
    let err = DeviceKey::load_or_create_in(&blocker.join("preauth")).unwrap_err();
    assert!(
        matches!(&err, Error::HostSecretIo { path, .. } if path.starts_with(&blocker)),
        "{err:?}"
    );
    assert_eq!(fs::read_to_string(&blocker).unwrap(), "not a folder");
}

#[test]
fn racing_first_uses_agree_on_one_secret() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<DeviceKey> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| DeviceKey::load_or_create_in(dir.path()).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let sealed = keys[0].encrypt("shared", "race").unwrap();
    for key in &keys[1..] {
        assert_eq!(*key.decrypt(&sealed, "race").unwrap(), "shared");
    }
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![SECRET_FILE_NAME]);
}
