//! Shared by the settings tests: a test protector, sample connections, folder snapshots.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use preauth_core::connection::{Connection, Tokens};
use preauth_core::protector::{ProtectError, ProtectErrorKind, Protector};
use preauth_core::secret::{AccessToken, ClientSecret, RefreshToken};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// A reversible test protector: `tp1:<device>.<tag>.<hex payload>`, where the tag
/// binds device, label and plaintext, so that a wrong label or another device fails.
/// (The payload is only hex: this checks the plumbing, not secrecy.)
pub struct TestProtector {
    pub device: String,
}

impl TestProtector {
    pub fn new(device: &str) -> Self {
        TestProtector {
            device: device.to_string(),
        }
    }

    fn tag(&self, label: &str, plaintext: &[u8]) -> String {
        let mut h = Sha256::new();
        for part in [self.device.as_bytes(), label.as_bytes(), plaintext] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        hex(&h.finalize()[..8])
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn err(kind: ProtectErrorKind, message: &str) -> ProtectError {
    ProtectError {
        kind,
        message: message.to_string(),
    }
}

impl Protector for TestProtector {
    fn seal(&self, plaintext: &str, label: &str) -> Result<String, ProtectError> {
        Ok(format!(
            "tp1:{}.{}.{}",
            self.device,
            self.tag(label, plaintext.as_bytes()),
            hex(plaintext.as_bytes())
        ))
    }

    fn open(&self, sealed: &str, label: &str) -> Result<Zeroizing<String>, ProtectError> {
        let malformed = || err(ProtectErrorKind::Malformed, "not a test-sealed string");
        let rest = sealed.strip_prefix("tp1:").ok_or_else(malformed)?;
        let mut parts = rest.split('.');
        let (Some(device), Some(tag), Some(payload), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        if device != self.device {
            return Err(err(
                ProtectErrorKind::AnotherDevice,
                "sealed on another device",
            ));
        }
        let plaintext = unhex(payload).ok_or_else(malformed)?;
        if self.tag(label, &plaintext) != tag {
            return Err(err(
                ProtectErrorKind::TamperedOrWrongLabel,
                "altered, or sealed for another connection",
            ));
        }
        String::from_utf8(plaintext)
            .map(Zeroizing::new)
            .map_err(|_| malformed())
    }

    fn is_sealed(&self, text: &str) -> bool {
        text.starts_with("tp1:")
    }
}

pub const CLIENT_SECRET: &str = "client-secret-\"quoted\";semi";
pub const REFRESH_TOKEN: &str = "refresh-token-value-0001";
pub const ACCESS_TOKEN: &str = "access-token-value-0001";

/// An Exact Online connection with tokens issued at `issued` (whole seconds).
pub fn connection(name: &str, issued: SystemTime) -> Connection {
    Connection {
        name: name.to_string(),
        platform: "exact-online".into(),
        api_url: "http://127.0.0.1:9".into(),
        client_id: format!("client-{name}"),
        client_secret: Some(ClientSecret::new(CLIENT_SECRET)),
        redirect_url: "http://127.0.0.1:8123/callback".into(),
        tokens: Some(Tokens {
            access_token: AccessToken::new(ACCESS_TOKEN),
            access_token_issued_at: issued,
            access_token_expires_at: issued + Duration::from_secs(600),
            refresh_token: Some(RefreshToken::new(REFRESH_TOKEN)),
            refresh_token_issued_at: Some(issued),
        }),
        extra: vec![("x-note".into(), "a;b=c".into())],
    }
}

/// A fixed time with whole seconds.
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

/// Every file in `dir` whose name does not start with a dot, with its bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("folder is readable")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).expect("file is readable");
            (n, bytes)
        })
        .collect()
}

/// The test data folder.
pub fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/settings")
        .join(path)
}

/// Asserts two connections hold the same values (secrets compared in constant time).
pub fn assert_same(a: &Connection, b: &Connection) {
    assert_eq!(a.name, b.name);
    assert_eq!(a.platform, b.platform);
    assert_eq!(a.api_url, b.api_url);
    assert_eq!(a.client_id, b.client_id);
    assert_eq!(a.redirect_url, b.redirect_url);
    assert_eq!(a.extra, b.extra);
    match (&a.client_secret, &b.client_secret) {
        (Some(x), Some(y)) => assert!(x.ct_eq(y), "client secrets differ"),
        (None, None) => {}
        _ => panic!("client secret present on one side only"),
    }
    match (&a.tokens, &b.tokens) {
        (Some(x), Some(y)) => {
            assert!(
                x.access_token.ct_eq(&y.access_token),
                "access tokens differ"
            );
            assert_eq!(x.access_token_issued_at, y.access_token_issued_at);
            assert_eq!(x.access_token_expires_at, y.access_token_expires_at);
            assert_eq!(
                x.refresh_token.as_ref().map(|r| r.secret().to_string()),
                y.refresh_token.as_ref().map(|r| r.secret().to_string())
            );
            assert_eq!(x.refresh_token_issued_at, y.refresh_token_issued_at);
        }
        (None, None) => {}
        _ => panic!("tokens present on one side only"),
    }
}
