//! Keys from key files: sealed text opens wherever the same file is, and nowhere else; modes do
//! not mix; every refusal is one sentence naming the file, never its contents.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use devicekey::{DeviceKey, Envelope, Error, KdfParams, Mode, Zeroizing};

const SECRET: &str = "Server=db.example;User Id=etl;Password=hunter2";
const LABEL: &str = "connection:sales";
/// What `head -c 32 /dev/urandom | base64` writes.
const KEY: &str = "3q2+7wQx9mT0c1Zk8yLr5VbN2sHfJ6uPa4DgXeYiWlM=";

fn write_key(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

#[test]
fn a_copy_of_the_file_opens_what_it_sealed_anywhere() {
    let here = tempfile::tempdir().unwrap();
    let there = tempfile::tempdir().unwrap();
    let sealer =
        DeviceKey::from_key_file(&write_key(here.path(), "key", &format!("{KEY}\n"))).unwrap();
    assert_eq!(sealer.mode(), Mode::KeyFile);
    assert!(sealer.sources().is_empty());
    let sealed = sealer.encrypt(SECRET, LABEL).unwrap();
    let envelope = Envelope::parse(&sealed).unwrap();
    assert_eq!(envelope.mode(), Mode::KeyFile);
    assert_eq!(envelope.kdf_params(), KdfParams::KEY_FILE);
    assert!(envelope.sources().is_empty());

    // Another container: the same secret mounted elsewhere, written without a newline.
    let opener = DeviceKey::from_key_file(&write_key(there.path(), "mounted", KEY)).unwrap();
    assert_eq!(*opener.decrypt(&sealed, LABEL).unwrap(), SECRET);
    // The label still binds.
    assert!(matches!(
        opener.decrypt(&sealed, "connection:hr"),
        Err(Error::TamperedOrWrongLabel)
    ));
}

#[test]
fn another_key_file_is_its_own_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let sealed = DeviceKey::from_key_file(&write_key(dir.path(), "right", KEY))
        .unwrap()
        .encrypt(SECRET, LABEL)
        .unwrap();
    let wrong = write_key(dir.path(), "wrong", &KEY.replace('3', "4"));
    let err = DeviceKey::from_key_file(&wrong)
        .unwrap()
        .decrypt(&sealed, LABEL)
        .unwrap_err();
    assert!(
        matches!(&err, Error::WrongKeyFile { path } if *path == wrong),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the text was encrypted with another key file than {}; open it with the key file \
             it was encrypted with",
            wrong.display()
        )
    );
}

#[test]
fn key_files_devices_and_passphrases_do_not_mix() {
    let dir = tempfile::tempdir().unwrap();
    let file_key = DeviceKey::from_key_file(&write_key(dir.path(), "key", KEY)).unwrap();
    let device = cheap_key(1, fingerprint());
    // The passphrase is the file's text: the modes differ all the same.
    let portable = DeviceKey::from_passphrase(Zeroizing::new(KEY.to_owned()))
        .and_then(|k| k.with_kdf_params(CHEAP))
        .unwrap();
    let by_file = file_key.encrypt(SECRET, LABEL).unwrap();
    let by_device = device.encrypt(SECRET, LABEL).unwrap();
    let by_passphrase = portable.encrypt(SECRET, LABEL).unwrap();

    let err = device.decrypt(&by_file, LABEL).unwrap_err();
    assert!(matches!(
        err,
        Error::WrongMode {
            sealed: Mode::KeyFile,
            opened: Mode::Device
        }
    ));
    assert_eq!(
        err.to_string(),
        "the text was encrypted with a key file; open it with a key file, not with the device key"
    );
    let err = file_key.decrypt(&by_device, LABEL).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the text was encrypted with the device key; open it with the device key, \
         not with a key file"
    );
    assert!(matches!(
        portable.decrypt(&by_file, LABEL),
        Err(Error::WrongMode {
            sealed: Mode::KeyFile,
            opened: Mode::Passphrase
        })
    ));
    assert!(matches!(
        file_key.decrypt(&by_passphrase, LABEL),
        Err(Error::WrongMode {
            sealed: Mode::Passphrase,
            opened: Mode::KeyFile
        })
    ));
}

#[test]
fn a_bad_key_file_is_one_sentence_naming_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let short = write_key(dir.path(), "short", "too-short-to-be-a-key\n");
    let blank = write_key(dir.path(), "blank", "   \n");
    let absent = dir.path().join("absent");
    let cases: Vec<(PathBuf, &str)> = vec![
        (short, "holds 22 bytes, fewer than the 32 a key needs"),
        (blank, "is empty or holds only white space"),
        (absent, "does not exist"),
    ];
    for (path, says) in cases {
        let err = DeviceKey::from_key_file(&path).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(says), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains("too-short-to-be-a-key"), "{text}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let open = write_key(dir.path(), "open", KEY);
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        let text = DeviceKey::from_key_file(&open).unwrap_err().to_string();
        assert_eq!(
            text,
            format!(
                "the key file {p} is accessible to other users (mode 644); run `chmod 600 {p}` \
                 (a secret the platform mounts: give it mode 0400, or 0440 when root owns it)",
                p = open.display()
            )
        );
    }
}

#[test]
fn a_machine_without_machine_id_is_pointed_to_key_files() {
    let err = devicekey::danger::from_parts([1; 32], Vec::new()).unwrap_err();
    assert!(matches!(err, Error::NoFingerprint { .. }));
    let text = err.to_string();
    let tried = if cfg!(windows) {
        r"HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid"
    } else {
        "/etc/machine-id"
    };
    assert!(text.contains(tried), "{text}");
    assert!(text.contains("DeviceKey::from_key_file"), "{text}");
    assert!(!text.contains("passphrase"), "{text}");
}

#[test]
fn the_key_file_never_shows() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_key(dir.path(), "key", KEY);
    let key = DeviceKey::from_key_file(&path).unwrap();
    let sealed = key.encrypt(SECRET, LABEL).unwrap();
    let wrong =
        DeviceKey::from_key_file(&write_key(dir.path(), "wrong", &KEY.replace('q', "Q"))).unwrap();
    let mut outputs = vec![format!("{key:?}"), format!("{wrong:?}")];
    for err in [
        wrong.decrypt(&sealed, LABEL).unwrap_err(),
        key.decrypt(&sealed, "other").unwrap_err(),
        cheap_key(1, fingerprint())
            .decrypt(&sealed, LABEL)
            .unwrap_err(),
    ] {
        outputs.push(format!("{err:?}"));
        outputs.push(err.to_string());
    }
    for output in &outputs {
        assert!(!output.contains(KEY), "the key leaked in {output}");
        assert!(!output.contains(&KEY[..12]), "the key leaked in {output}");
        assert!(
            !output.contains("hunter2"),
            "the plaintext leaked in {output}"
        );
    }
    assert!(outputs[0].contains("KeyFile"), "{}", outputs[0]);
}

#[test]
fn the_key_file_is_read_once_and_its_key_is_cheap() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_key(dir.path(), "key", KEY);
    let key = DeviceKey::from_key_file(&path).unwrap();
    // Replacing or removing the file later does not change the key in use.
    std::fs::remove_file(&path).unwrap();
    let started = std::time::Instant::now();
    let sealed: Vec<String> = (0..100)
        .map(|i| key.encrypt(SECRET, &format!("c{i}")).unwrap())
        .collect();
    for (i, text) in sealed.iter().enumerate() {
        assert_eq!(*key.decrypt(text, &format!("c{i}")).unwrap(), SECRET);
    }
    // One derivation with m = 1 MiB, t = 1 (a device key's default costs ~25 ms alone).
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
