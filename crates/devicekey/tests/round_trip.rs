//! Sealing then opening gives back the plaintext, for any plaintext and label.

mod common;

use std::sync::LazyLock;

use common::*;
use devicekey::{DeviceKey, Zeroizing};
use proptest::prelude::*;

// One key per mode for all cases, so Argon2id (default parameters) runs once per mode.
static DEVICE: LazyLock<DeviceKey> = LazyLock::new(|| device_key(3, fingerprint()));
static PORTABLE: LazyLock<DeviceKey> = LazyLock::new(|| {
    DeviceKey::from_passphrase(Zeroizing::new("a long passphrase".to_owned())).expect("not empty")
});

/// Any text of at most `max` bytes (any Unicode scalar values).
fn text_up_to(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(move |chars| {
        let mut text = String::new();
        for c in chars {
            if text.len() + c.len_utf8() > max {
                break;
            }
            text.push(c);
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn device_round_trip(
        plaintext in text_up_to(64 * 1024),
        label in any::<String>(),
    ) {
        let sealed = DEVICE.encrypt(&plaintext, &label)?;
        prop_assert!(devicekey::is_envelope(&sealed));
        prop_assert!(sealed.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_:".contains(&b)));
        prop_assert_eq!(&*DEVICE.decrypt(&sealed, &label)?, &plaintext);
    }

    #[test]
    fn passphrase_round_trip(
        plaintext in text_up_to(4096),
        label in any::<String>(),
    ) {
        let sealed = PORTABLE.encrypt(&plaintext, &label)?;
        prop_assert_eq!(&*PORTABLE.decrypt(&sealed, &label)?, &plaintext);
    }
}

#[test]
fn each_encryption_uses_a_fresh_nonce() {
    let key = cheap_key(4, fingerprint());
    let first = key.encrypt("same", "label").unwrap();
    let second = key.encrypt("same", "label").unwrap();
    assert_ne!(first, second);
    assert_eq!(*key.decrypt(&first, "label").unwrap(), "same");
    assert_eq!(*key.decrypt(&second, "label").unwrap(), "same");
}

#[test]
fn a_reloaded_key_opens_what_an_earlier_one_sealed() {
    // Two values from the same parts: different seal salts, same device.
    let sealed = device_key(5, fingerprint()).encrypt("token", "t").unwrap();
    assert_eq!(
        *device_key(5, fingerprint()).decrypt(&sealed, "t").unwrap(),
        "token"
    );
}

#[test]
fn one_key_serves_many_threads() {
    let key = cheap_key(6, fingerprint());
    let sealed: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let key = &key;
                scope.spawn(move || key.encrypt(&format!("secret {i}"), "threads").unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, text) in sealed.iter().enumerate() {
        assert_eq!(
            *key.decrypt(text, "threads").unwrap(),
            format!("secret {i}")
        );
    }
}
