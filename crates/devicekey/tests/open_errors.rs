//! Every way opening an envelope can fail gives its own error, and never a panic.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use devicekey::{
    Change, DeviceKey, Envelope, Error, KdfParams, MAX_ENVELOPE_LEN, MAX_PLAINTEXT_LEN, Mode,
    Source, Zeroizing, is_envelope,
};

const SECRET: &str = "Server=db.example;User Id=etl;Password=hunter2";
const LABEL: &str = "connection:sales";

/// Decodes an envelope, lets `edit` change its bytes, and encodes it again.
fn edit_bytes(text: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let body = text.strip_prefix("dk1:").expect("a dk1 envelope");
    let mut bytes = URL_SAFE_NO_PAD.decode(body).expect("canonical base64url");
    edit(&mut bytes);
    format!("dk1:{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn passphrase_key(passphrase: &str) -> DeviceKey {
    DeviceKey::from_passphrase(Zeroizing::new(passphrase.to_owned()))
        .and_then(|k| k.with_kdf_params(CHEAP))
        .expect("a non-empty passphrase")
}

#[test]
fn another_host_secret_is_another_device() {
    let sealed = cheap_key(1, fingerprint()).encrypt(SECRET, LABEL).unwrap();
    let err = cheap_key(2, fingerprint())
        .decrypt(&sealed, LABEL)
        .unwrap_err();
    assert!(
        matches!(&err, Error::AnotherDevice { changes } if changes == &[Change::HostSecret]),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "encrypted on another device (the host secret differs)"
    );
}

#[test]
fn another_machine_id_is_another_device_and_says_so() {
    let sealed = cheap_key(1, fingerprint()).encrypt(SECRET, LABEL).unwrap();
    let elsewhere = cheap_key(
        1,
        fingerprint_with(Source::MachineId, Some("0123456789abcdef0123456789abcdef")),
    );
    let err = elsewhere.decrypt(&sealed, LABEL).unwrap_err();
    assert!(
        matches!(&err, Error::AnotherDevice { changes }
            if changes == &[Change::SourceChanged(Source::MachineId)]),
        "{err:?}"
    );
    // "machine-id" on Linux, "MachineGuid" on Windows.
    assert_eq!(
        err.to_string(),
        format!(
            "encrypted on another device (the {} differs)",
            Source::MachineId
        )
    );
}

#[test]
fn another_cpu_is_another_device() {
    let sealed = cheap_key(1, fingerprint()).encrypt(SECRET, LABEL).unwrap();
    let upgraded = cheap_key(1, fingerprint_with(Source::CpuBrand, Some("Intel Xeon")));
    let err = upgraded.decrypt(&sealed, LABEL).unwrap_err();
    assert!(
        matches!(&err, Error::AnotherDevice { changes }
            if changes == &[Change::SourceChanged(Source::CpuBrand)]),
        "{err:?}"
    );
}

#[test]
fn a_source_no_longer_readable_is_named() {
    let sealed = cheap_key(1, fingerprint()).encrypt(SECRET, LABEL).unwrap();
    let without_dmi = cheap_key(1, fingerprint_with(Source::ProductUuid, None));
    let err = without_dmi.decrypt(&sealed, LABEL).unwrap_err();
    assert!(
        matches!(&err, Error::AnotherDevice { changes }
            if changes == &[Change::SourceMissing(Source::ProductUuid)]),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&Source::ProductUuid.to_string()),
        "{err}"
    );
}

#[test]
fn a_source_that_became_readable_does_not_matter() {
    // Sealed while the DMI UUID was unreadable; it opens once it is readable (e.g. as root).
    let sealed = cheap_key(1, fingerprint_with(Source::ProductUuid, None))
        .encrypt(SECRET, LABEL)
        .unwrap();
    let now = cheap_key(1, fingerprint());
    assert_eq!(*now.decrypt(&sealed, LABEL).unwrap(), SECRET);
}

#[test]
fn wrong_label_is_tampered_or_wrong_label() {
    let key = cheap_key(1, fingerprint());
    let sealed = key.encrypt(SECRET, LABEL).unwrap();
    for label in ["connection:hr", "", "connection:sales ", "CONNECTION:SALES"] {
        assert!(
            matches!(
                key.decrypt(&sealed, label),
                Err(Error::TamperedOrWrongLabel)
            ),
            "{label:?}"
        );
    }
}

#[test]
fn a_flipped_byte_is_its_own_error() {
    let key = cheap_key(1, fingerprint());
    let sealed = key.encrypt(SECRET, LABEL).unwrap();
    let len = URL_SAFE_NO_PAD.decode(&sealed[4..]).unwrap().len();
    // Mode, mask, hints, nonce, ciphertext and tag: authenticated, so tampering.
    let authenticated = [0x27, 0x28, 0x2f, 0x30, 0x47, 0x48, len - 17, len - 1];
    for offset in authenticated {
        let flipped = edit_bytes(&sealed, |b| b[offset] ^= 0x01);
        let err = key.decrypt(&flipped, LABEL).unwrap_err();
        assert!(
            matches!(err, Error::TamperedOrWrongLabel | Error::Malformed { .. }),
            "offset {offset}: {err:?}"
        );
    }
    // Salt and key id pick the key: a change reads as another key with nothing visibly changed.
    for offset in [0x0f, 0x1e, 0x1f, 0x26] {
        let flipped = edit_bytes(&sealed, |b| b[offset] ^= 0x80);
        let err = key.decrypt(&flipped, LABEL).unwrap_err();
        assert!(
            matches!(&err, Error::AnotherDevice { changes } if changes.is_empty()),
            "offset {offset}: {err:?}"
        );
        assert!(err.to_string().contains("header was probably altered"));
    }
}

#[test]
fn a_flipped_ciphertext_byte_is_tampering() {
    let key = cheap_key(1, fingerprint());
    let sealed = key.encrypt(SECRET, LABEL).unwrap();
    let flipped = edit_bytes(&sealed, |b| b[80] ^= 0x10);
    assert!(matches!(
        key.decrypt(&flipped, LABEL),
        Err(Error::TamperedOrWrongLabel)
    ));
    // The untouched envelope still opens: the failure did not poison the key.
    assert_eq!(*key.decrypt(&sealed, LABEL).unwrap(), SECRET);
}

#[test]
fn wrong_passphrase_is_its_own_error() {
    let sealed = passphrase_key("correct horse")
        .encrypt(SECRET, LABEL)
        .unwrap();
    assert_eq!(
        *passphrase_key("correct horse")
            .decrypt(&sealed, LABEL)
            .unwrap(),
        SECRET
    );
    assert!(matches!(
        passphrase_key("correct horse battery").decrypt(&sealed, LABEL),
        Err(Error::WrongPassphrase)
    ));
    assert!(matches!(
        passphrase_key("correct horse").decrypt(&sealed, "other"),
        Err(Error::TamperedOrWrongLabel)
    ));
}

#[test]
fn modes_do_not_mix() {
    let device = cheap_key(1, fingerprint());
    let portable = passphrase_key("pw");
    let by_device = device.encrypt(SECRET, LABEL).unwrap();
    let by_passphrase = portable.encrypt(SECRET, LABEL).unwrap();
    assert!(matches!(
        portable.decrypt(&by_device, LABEL),
        Err(Error::WrongMode {
            sealed: Mode::Device,
            opened: Mode::Passphrase
        })
    ));
    let err = device.decrypt(&by_passphrase, LABEL).unwrap_err();
    assert!(matches!(
        err,
        Error::WrongMode {
            sealed: Mode::Passphrase,
            opened: Mode::Device
        }
    ));
    assert_eq!(
        err.to_string(),
        "the text was encrypted with a passphrase; open it with a passphrase, \
         not with the device key"
    );
}

#[test]
fn empty_passphrase_is_refused() {
    assert!(matches!(
        DeviceKey::from_passphrase(Zeroizing::new(String::new())),
        Err(Error::EmptyPassphrase)
    ));
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let key = cheap_key(1, fingerprint());
    let sealed = key.encrypt(SECRET, LABEL).unwrap();
    for end in 0..sealed.len() {
        match key.decrypt(&sealed[..end], LABEL) {
            Err(Error::Malformed { .. } | Error::TamperedOrWrongLabel) => {}
            other => panic!("truncated at {end}: {other:?}"),
        }
    }
}

#[test]
fn garbage_is_malformed_and_says_what() {
    let key = cheap_key(1, fingerprint());
    let sealed = key.encrypt(SECRET, LABEL).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "does not start with `dk1:`"),
        ("Server=db;Password=x".into(), "does not start with `dk1:`"),
        ("DK1:AAAA".into(), "does not start with `dk1:`"),
        ("dk1:".into(), "too short"),
        ("dk1:!!!!".into(), "base64url"),
        (format!("{sealed}="), "base64url"),
        (format!("{sealed}\n"), "base64url"),
        (
            sealed.replace('-', "+").replace('_', "/") + "+",
            "base64url",
        ),
        (
            format!("dk1:{}", "A".repeat(MAX_ENVELOPE_LEN)),
            "longer than 1 MiB",
        ),
        (edit_bytes(&sealed, |b| b[0] = 2), "version byte"),
        (edit_bytes(&sealed, |b| b[1] = 9), "mode byte"),
        (edit_bytes(&sealed, |b| b[2] = 2), "key-derivation function"),
        (
            edit_bytes(&sealed, |b| b[7..11].fill(0)),
            "parameters are invalid",
        ),
        (edit_bytes(&sealed, |b| b[39] = 0b1111), "unknown source"),
        (edit_bytes(&sealed, |b| b[39] = 0b110), "machine-id"),
        (edit_bytes(&sealed, |b| b.truncate(87)), "too short"),
    ];
    for (text, what) in cases {
        let err = key.decrypt(&text, LABEL).unwrap_err();
        assert!(
            matches!(err, Error::Malformed { .. }) && err.to_string().contains(what),
            "{}…: {err}",
            text.get(..40).unwrap_or(&text)
        );
    }
}

#[test]
fn non_canonical_trailing_bits_are_refused() {
    let key = cheap_key(1, fingerprint());
    // 46 + 88 bytes = 134 bytes: 134 % 3 == 2, so the last character carries 2 unused bits.
    let sealed = key.encrypt(SECRET, LABEL).unwrap();
    let bytes = URL_SAFE_NO_PAD.decode(&sealed[4..]).unwrap();
    assert_eq!(bytes.len() % 3, 2);
    let last = sealed.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.find(last).unwrap();
    let sloppy = alphabet.chars().nth(index | 1).unwrap();
    assert_ne!(sloppy, last, "canonical text has the unused bits clear");
    let text = format!("{}{sloppy}", &sealed[..sealed.len() - 1]);
    assert!(matches!(
        key.decrypt(&text, LABEL),
        Err(Error::Malformed { what }) if what.contains("base64url")
    ));
}

#[test]
fn other_versions_are_unsupported() {
    let key = cheap_key(1, fingerprint());
    for (text, prefix) in [("dk2:AAAA", "dk2:"), ("dk10:", "dk10:"), ("dk0:x", "dk0:")] {
        let err = key.decrypt(text, LABEL).unwrap_err();
        assert!(
            matches!(&err, Error::UnsupportedVersion { prefix: p } if p == prefix),
            "{text}: {err:?}"
        );
        assert!(is_envelope(text));
    }
    assert!(!is_envelope("Server=db;Password=dk1:x"));
}

#[test]
fn excessive_work_is_refused_before_deriving() {
    let key = cheap_key(1, fingerprint());
    let sealed = key.encrypt(SECRET, LABEL).unwrap();
    // 4 GiB of Argon2 memory: running it would take minutes or fail to allocate.
    let greedy = edit_bytes(&sealed, |b| {
        b[3..7].copy_from_slice(&(4 * 1024 * 1024u32).to_le_bytes())
    });
    let err = key.decrypt(&greedy, LABEL).unwrap_err();
    assert!(
        matches!(err, Error::ExcessiveWork { required, limit }
            if required.memory_kib == 4 * 1024 * 1024 && limit == KdfParams::CEILING),
        "{err:?}"
    );
    let slow = edit_bytes(&sealed, |b| {
        b[7..11].copy_from_slice(&1000u32.to_le_bytes())
    });
    assert!(matches!(
        key.decrypt(&slow, LABEL),
        Err(Error::ExcessiveWork { required, .. }) if required.iterations == 1000
    ));
}

#[test]
fn kdf_params_for_sealing_are_checked() {
    let too_much = KdfParams {
        parallelism: 64,
        ..KdfParams::DEFAULT
    };
    assert!(matches!(
        cheap_key(1, fingerprint()).with_kdf_params(too_much),
        Err(Error::ExcessiveWork { .. })
    ));
    let too_little = KdfParams {
        memory_kib: 1,
        ..KdfParams::DEFAULT
    };
    assert!(matches!(
        cheap_key(1, fingerprint()).with_kdf_params(too_little),
        Err(Error::InvalidKdfParams { .. })
    ));
}

#[test]
fn plaintext_size_limit() {
    let key = cheap_key(1, fingerprint());
    let largest = "x".repeat(MAX_PLAINTEXT_LEN);
    let sealed = key.encrypt(&largest, LABEL).unwrap();
    assert!(sealed.len() <= MAX_ENVELOPE_LEN);
    assert_eq!(*key.decrypt(&sealed, LABEL).unwrap(), largest);
    assert!(matches!(
        key.encrypt(&format!("{largest}x"), LABEL),
        Err(Error::TooLarge { len, limit }) if len == MAX_PLAINTEXT_LEN + 1 && limit == MAX_PLAINTEXT_LEN
    ));
}

#[test]
fn no_secret_in_errors_or_debug() {
    let key = cheap_key(7, fingerprint());
    let sealed = key.encrypt(SECRET, LABEL).unwrap();
    let portable = DeviceKey::from_passphrase(Zeroizing::new("pass-word-42".into())).unwrap();
    let mut outputs = vec![format!("{key:?}"), format!("{portable:?}")];
    let elsewhere = cheap_key(8, fingerprint_with(Source::MachineId, Some("ffff")));
    for err in [
        elsewhere.decrypt(&sealed, LABEL).unwrap_err(),
        key.decrypt(&sealed, "other").unwrap_err(),
        portable.decrypt(&sealed, LABEL).unwrap_err(),
    ] {
        outputs.push(format!("{err:?}"));
        outputs.push(err.to_string());
    }
    let secret_hex: String = [7u8; 32].iter().map(|b| format!("{b:02x}")).collect();
    let needles = [
        MACHINE_ID,
        PRODUCT_UUID,
        CPU_BRAND,
        "hunter2",
        "pass-word-42",
        &secret_hex,
        "ffff",
    ];
    for output in &outputs {
        for needle in needles {
            assert!(!output.contains(needle), "{needle:?} leaked in {output}");
        }
    }
    assert!(outputs[0].contains("MachineId") && outputs[0].contains("CpuBrand"));
}

#[test]
fn envelopes_describe_themselves() {
    let key = cheap_key(1, fingerprint_with(Source::ProductUuid, None));
    let envelope = Envelope::parse(&key.encrypt(SECRET, LABEL).unwrap()).unwrap();
    assert_eq!(envelope.mode(), Mode::Device);
    assert_eq!(envelope.kdf_params(), CHEAP);
    assert_eq!(
        envelope.sources(),
        vec![Source::MachineId, Source::CpuBrand]
    );
    assert_eq!(key.sources(), &[Source::MachineId, Source::CpuBrand]);
    assert!(passphrase_key("p").sources().is_empty());
}
