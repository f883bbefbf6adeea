//! Secret values: tokens, client secrets, verifiers.
//!
//! Every secret is a newtype whose `Debug` prints `Name([redacted])`, which has no
//! `Display`, no `PartialEq` (compare with [`Secret::ct_eq`] when you must), and whose
//! bytes are wiped when it is dropped. The only way to read one is `.secret()`, so every
//! place that lets a secret leave the process is easy to find.

use std::fmt;

use subtle::ConstantTimeEq;

/// Declares a secret newtype around a `String`.
macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, zeroize::ZeroizeOnDrop)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself. Every call site is a place where the secret leaves.
            pub fn secret(&self) -> &str {
                &self.0
            }

            /// Compares two secrets in constant time.
            pub fn ct_eq(&self, other: &Self) -> bool {
                crate::secret::ct_eq_str(&self.0, &other.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                crate::secret::redacted(stringify!($name), f)
            }
        }
    };
}

secret_type!(
    /// The client secret of an app registration.
    ClientSecret
);
secret_type!(
    /// A bearer access token.
    AccessToken
);
secret_type!(
    /// A refresh token. On Exact Online it works once.
    RefreshToken
);
secret_type!(
    /// An authorization code from a return URL. It works once and lives minutes.
    AuthorizationCode
);

secret_type!(
    /// The `state` of a pending authorization (at least 128 random bits).
    StateToken
);
secret_type!(
    /// A PKCE code verifier (RFC 7636).
    PkceVerifier
);

/// Writes the redacted form `Name([redacted])`.
pub(crate) fn redacted(name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{name}([redacted])")
}

/// Compares two strings in constant time (for their common length; lengths are not secret).
pub(crate) fn ct_eq_str(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let token = RefreshToken::new("very-secret-value");
        let shown = format!("{token:?} {:?}", ClientSecret::new("hunter2"));
        assert_eq!(shown, "RefreshToken([redacted]) ClientSecret([redacted])");
    }

    #[test]
    fn ct_eq_compares_values() {
        assert!(AccessToken::new("a").ct_eq(&AccessToken::new("a")));
        assert!(!AccessToken::new("a").ct_eq(&AccessToken::new("b")));
        assert!(!AccessToken::new("a").ct_eq(&AccessToken::new("ab")));
    }
}
