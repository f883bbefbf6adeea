//! `DEVICEKEY_SECRET_DIR` moves the host secret. Alone in its test binary because it sets an
//! environment variable, which must not race with other threads.

use devicekey::{DeviceKey, Error, SECRET_DIR_ENV, SECRET_FILE_NAME, default_secret_dir};

#[test]
fn the_environment_variable_chooses_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("secrets");
    // SAFETY: this is the only test in this binary, so no other thread reads the environment.
    unsafe { std::env::set_var(SECRET_DIR_ENV, &folder) };
    assert_eq!(default_secret_dir().unwrap(), folder);
    // Reading only: the missing secret is named, nothing is created.
    let missing = DeviceKey::load().unwrap_err();
    assert!(
        matches!(&missing, Error::HostSecretMissing { path } if path == &folder.join(SECRET_FILE_NAME)),
        "{missing:?}"
    );
    assert!(!folder.exists());
    let key = DeviceKey::load_or_create().unwrap();
    assert!(folder.join(SECRET_FILE_NAME).is_file());
    assert!(DeviceKey::load().is_ok());
    let sealed = key.encrypt("x", "y").unwrap();
    assert_eq!(
        *DeviceKey::load_or_create_in(&folder)
            .unwrap()
            .decrypt(&sealed, "y")
            .unwrap(),
        "x"
    );

    // Empty means unset: back to the user's data folder.
    // SAFETY: as above.
    unsafe { std::env::set_var(SECRET_DIR_ENV, "") };
    let default = default_secret_dir().unwrap();
    assert!(default.ends_with("preauth"), "{}", default.display());
}
