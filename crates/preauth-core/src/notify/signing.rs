//! The signature a webhook receiver checks: `Preauth-Signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256(secret, "<t>.<body>")>`, as Stripe-style webhooks sign. The time is part
//! of what is signed, so a receiver rejects an old `t` and a replayed body with it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Preauth-Signature";

/// The header that carries the event id (the same on every try).
pub const EVENT_ID_HEADER: &str = "Preauth-Event-Id";

/// The value of [`SIGNATURE_HEADER`] for `body` sent at `unix_seconds` with `secret`.
pub fn signature(secret: &str, unix_seconds: u64, body: &str) -> String {
    // An HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={unix_seconds},v1={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_time_and_body() {
        let a = signature("whsec_x", 1_700_000_000, "{}");
        assert!(a.starts_with("t=1700000000,v1="), "{a}");
        assert_eq!(a.len(), "t=1700000000,v1=".len() + 64);
        assert_eq!(a, signature("whsec_x", 1_700_000_000, "{}"));
        assert_ne!(a, signature("whsec_x", 1_700_000_001, "{}"));
        assert_ne!(a, signature("whsec_x", 1_700_000_000, "{ }"));
        assert_ne!(a, signature("whsec_y", 1_700_000_000, "{}"));
    }

    /// The RFC 4231 test case 2 value, so that any HMAC-SHA256 library verifies it.
    #[test]
    fn it_is_plain_hmac_sha256() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
