//! Runs the fixed vectors in `tests/vectors/v1.txt`, so the envelope format cannot drift.

mod common;

use std::collections::HashMap;

use common::hex;
use devicekey::{DeviceKey, Error, KdfParams, Source, Zeroizing, danger};

type Vector = HashMap<String, String>;

fn vectors() -> Vec<Vector> {
    include_str!("vectors/v1.txt")
        .split("\n\n")
        .map(|block| {
            block
                .lines()
                .filter(|line| !line.starts_with('#'))
                .map(|line| {
                    let (key, value) = line.split_once(':').expect("`key: value` lines");
                    (
                        key.to_owned(),
                        value.strip_prefix(' ').unwrap_or(value).to_owned(),
                    )
                })
                .collect::<Vector>()
        })
        .filter(|vector| !vector.is_empty())
        .collect()
}

fn field<'a>(vector: &'a Vector, key: &str) -> &'a str {
    vector
        .get(key)
        .unwrap_or_else(|| panic!("{:?} lacks `{key}`", vector.get("name")))
}

/// A key from the vector's `key-file` bytes, written to a private file as a platform would.
fn key_file_key(bytes: &[u8]) -> devicekey::Result<DeviceKey> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("key");
    std::fs::write(&path, bytes).expect("the key file is written");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .expect("the key file is made private");
    }
    DeviceKey::from_key_file(&path)
}

fn key(vector: &Vector) -> DeviceKey {
    let key = match (vector.get("passphrase"), vector.get("key-file")) {
        (Some(passphrase), _) => DeviceKey::from_passphrase(Zeroizing::new(passphrase.clone())),
        (None, Some(bytes)) => key_file_key(&hex(bytes)),
        (None, None) => {
            let secret: [u8; 32] = hex(field(vector, "secret")).try_into().expect("32 bytes");
            let sources = [
                (Source::MachineId, "machine-id"),
                (Source::ProductUuid, "product-uuid"),
                (Source::CpuBrand, "cpu-brand"),
            ];
            let fingerprint = sources
                .into_iter()
                .filter_map(|(source, name)| Some((source, vector.get(name)?.as_bytes().to_vec())))
                .collect();
            danger::from_parts(secret, fingerprint)
        }
    }
    .expect("a valid key");
    let Some(kdf) = vector.get("kdf") else {
        return key;
    };
    let numbers: Vec<u32> = kdf
        .split(' ')
        .map(|n| n.parse().expect("a number"))
        .collect();
    let [memory_kib, iterations, parallelism] = numbers[..] else {
        panic!("kdf needs m t p")
    };
    let params = KdfParams {
        memory_kib,
        iterations,
        parallelism,
    };
    let salt = hex(field(vector, "salt")).try_into().expect("16 bytes");
    danger::with_seal_salt(key.with_kdf_params(params).expect("valid kdf"), salt)
}

fn outcome(result: Result<Zeroizing<String>, Error>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(Error::AnotherDevice { changes }) => {
            // The vectors name the sources as Linux does; Windows names two after its own.
            let changes: Vec<String> = changes
                .iter()
                .map(|change| {
                    change
                        .to_string()
                        .replace(&Source::MachineId.to_string(), "machine-id")
                        .replace(&Source::ProductUuid.to_string(), "DMI product UUID")
                })
                .collect();
            format!("another-device: {}", changes.join(", "))
        }
        Err(Error::TamperedOrWrongLabel) => "tampered-or-wrong-label".to_owned(),
        Err(Error::WrongPassphrase) => "wrong-passphrase".to_owned(),
        Err(Error::WrongKeyFile { .. }) => "wrong-key-file".to_owned(),
        Err(Error::WrongMode { .. }) => "wrong-mode".to_owned(),
        Err(Error::ExcessiveWork { .. }) => "excessive-work".to_owned(),
        Err(Error::UnsupportedVersion { .. }) => "unsupported-version".to_owned(),
        Err(Error::Malformed { what }) => format!("malformed: {what}"),
        Err(other) => format!("unexpected: {other}"),
    }
}

#[test]
fn vectors_hold() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 18, "every block is read");
    for vector in &vectors {
        let name = field(vector, "name");
        let key = key(vector);
        let envelope = field(vector, "envelope");
        let label = field(vector, "label");
        let result = key.decrypt(envelope, label);
        if let Ok(plaintext) = &result {
            assert_eq!(**plaintext, *field(vector, "plaintext"), "{name}");
        }
        assert_eq!(outcome(result), field(vector, "expect"), "{name}");
        if field(vector, "expect") == "ok" {
            let nonce = hex(field(vector, "nonce")).try_into().expect("24 bytes");
            let sealed =
                danger::encrypt_with_nonce(&key, field(vector, "plaintext"), label, nonce).unwrap();
            assert_eq!(sealed, envelope, "{name}: the format changed");
        }
    }
}
