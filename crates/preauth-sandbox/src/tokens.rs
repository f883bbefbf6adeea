//! Random tokens and the digests the store keys them by (raw tokens are never kept).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest as _, Sha256};

/// SHA-256 of a token: the store's key, so a memory dump shows no live token.
pub(crate) type TokenDigest = [u8; 32];

/// The digest of a presented or issued token.
pub(crate) fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .expect("the operating system's random source is available on every supported platform");
    bytes
}

/// An opaque URL-safe token with 256 random bits (access and refresh tokens, sessions).
pub(crate) fn opaque() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// An Exact-style authorization code: it always contains `!` and ends in standard base64
/// with `=` padding (and often `+` or `/`), so a client that forgets to percent-decode the
/// code, or decodes it twice, fails here as it would in production.
pub(crate) fn exact_code() -> String {
    format!(
        "stampNL001.{}!IAAAA{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<12>()),
        STANDARD.encode(random_bytes::<32>())
    )
}

/// A short id for a pending authorization (hidden form field).
pub(crate) fn transaction_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<18>())
}

/// PKCE S256: `BASE64URL(SHA256(verifier))` (RFC 7636 §4.2).
pub(crate) fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Constant-time comparison for secrets (client secrets, PKCE challenges).
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (digest(a), digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_need_percent_encoding() {
        let code = exact_code();
        assert!(code.contains('!'));
        assert!(code.ends_with('='));
        assert_ne!(exact_code(), code);
    }

    #[test]
    fn s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(same_secret("a", "a"));
        assert!(!same_secret("a", "b"));
    }
}
