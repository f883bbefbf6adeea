//! A shared store's data key: what one holder seals, any holder of the same data key
//! opens; another data key, a key file or a passphrase does not, each with its sentence.

use devicekey::{DATA_KEY_LEN, DeviceKey, Error, Mode, Zeroizing, new_data_key};

#[test]
fn holders_of_one_data_key_open_what_either_sealed() {
    let text = new_data_key().expect("random");
    let one = DeviceKey::from_data_key(&text).expect("a key");
    let other = DeviceKey::from_data_key(&text).expect("a key");
    assert_eq!(one.mode(), Mode::DataKey);
    let sealed = one
        .encrypt("secret connection string", "acme")
        .expect("sealed");
    assert!(sealed.starts_with("dk1:"));
    let opened = other.decrypt(&sealed, "acme").expect("opens");
    assert_eq!(opened.as_str(), "secret connection string");
    assert!(matches!(
        other.decrypt(&sealed, "another"),
        Err(Error::TamperedOrWrongLabel)
    ));
}

#[test]
fn another_data_key_or_mode_is_named() {
    let sealed = DeviceKey::from_data_key(&new_data_key().expect("random"))
        .and_then(|k| k.encrypt("x", "acme"))
        .expect("sealed");
    let stranger = DeviceKey::from_data_key(&new_data_key().expect("random")).expect("a key");
    let error = stranger.decrypt(&sealed, "acme").expect_err("not its key");
    assert!(matches!(error, Error::WrongDataKey), "{error}");
    assert!(
        error
            .to_string()
            .contains("another shared store's data key")
    );
    let passphrase = DeviceKey::from_passphrase(Zeroizing::new("p".into())).expect("a key");
    let error = passphrase.decrypt(&sealed, "acme").expect_err("wrong mode");
    assert_eq!(
        error.to_string(),
        "the text was encrypted with a shared store's data key; open it with a shared store's data key, not with a passphrase"
    );
}

#[test]
fn a_malformed_data_key_is_refused_without_showing_it() {
    let short = "c2hvcnQ";
    for bad in [
        "",
        short,
        "not base64 at all!",
        &"A".repeat(DATA_KEY_LEN * 2),
    ] {
        let error = DeviceKey::from_data_key(bad).err();
        assert!(matches!(error, Some(Error::MalformedDataKey)), "{bad:?}");
        if let Some(e) = error {
            assert!(bad.is_empty() || !e.to_string().contains(bad));
        }
    }
    let key = new_data_key().expect("random");
    let debug = format!("{:?}", DeviceKey::from_data_key(&key).expect("a key"));
    assert!(!debug.contains(key.as_str()), "{debug}");
}
