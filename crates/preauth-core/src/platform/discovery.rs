//! A user-defined platform from a provider's published metadata: OpenID Connect
//! Discovery 1.0 (`<issuer>/.well-known/openid-configuration`, the same fields as
//! RFC 8414 authorization-server metadata).
//!
//! Reading the document is the token client's job (it owns HTTP); this module only
//! turns a document into a [`GenericPlatform`], refusing one whose `issuer` is not the
//! issuer asked for (OpenID Connect Discovery §4.3: otherwise a provider could speak
//! for another).

use serde::Deserialize;
use url::Url;

use super::generic::GenericPlatform;
use super::record::ClientAuth;

/// Why a provider's metadata cannot define a platform. Messages never hold a secret
/// (the document has none) and say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The issuer is not an absolute `https` (or loopback `http`) URL.
    #[error(
        "'{issuer}' is not an issuer URL; give the provider's issuer, such as https://login.example.com/realm"
    )]
    InvalidIssuer {
        /// What was given.
        issuer: String,
    },
    /// The document is not the JSON object the specification describes.
    #[error("the provider's metadata at {url} cannot be read ({reason}); check the issuer URL")]
    Unreadable {
        /// Where it was read.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The document speaks for another issuer.
    #[error(
        "the provider's metadata names issuer '{got}', not '{asked}' that was asked for; it is refused (OpenID Connect Discovery 4.3): give exactly the issuer the provider names"
    )]
    IssuerMismatch {
        /// The issuer asked for.
        asked: String,
        /// The issuer in the document.
        got: String,
    },
    /// The provider offers no client authentication preauth can use.
    #[error(
        "the provider authenticates clients only by {methods}; preauth supports client_secret_basic and client_secret_post"
    )]
    NoClientAuthentication {
        /// The methods the provider lists.
        methods: String,
    },
}

/// The fields of a discovery document that define a platform.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProviderMetadata {
    /// `issuer` (REQUIRED).
    pub issuer: String,
    /// `authorization_endpoint` (REQUIRED).
    pub authorization_endpoint: String,
    /// `token_endpoint` (REQUIRED for the code flow).
    pub token_endpoint: String,
    /// `scopes_supported`.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// `token_endpoint_auth_methods_supported` (default `client_secret_basic`).
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `code_challenge_methods_supported` (RFC 7636 via RFC 8414).
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// Where the discovery document of `issuer` is published.
pub fn discovery_url(issuer: &str) -> Result<Url, DiscoveryError> {
    let invalid = || DiscoveryError::InvalidIssuer {
        issuer: crate::printable::printable(issuer),
    };
    let url = Url::parse(issuer.trim()).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "https" | "http")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(invalid());
    }
    let base = url.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/.well-known/openid-configuration")).map_err(|_| invalid())
}

impl ProviderMetadata {
    /// Reads a discovery document fetched from `url`.
    pub fn parse(url: &Url, body: &[u8]) -> Result<ProviderMetadata, DiscoveryError> {
        serde_json::from_slice(body).map_err(|e| DiscoveryError::Unreadable {
            url: url.to_string(),
            reason: e.to_string(),
        })
    }

    /// The platform `id` this document describes, for the issuer `asked` for: its
    /// endpoints, client authentication (basic when offered, else post), PKCE when S256
    /// is offered, `iss` required on return URLs when the provider promises it, and the
    /// scopes `openid` plus `offline_access` when offered (asked for with consent).
    pub fn to_platform(&self, id: &str, asked: &str) -> Result<GenericPlatform, DiscoveryError> {
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        if !same(&self.issuer, asked.trim()) {
            return Err(DiscoveryError::IssuerMismatch {
                asked: crate::printable::printable(asked),
                got: crate::printable::printable(&self.issuer),
            });
        }
        let offers = |list: &[String], item: &str| list.iter().any(|m| m == item);
        let methods = &self.token_endpoint_auth_methods_supported;
        let client_auth = if methods.is_empty() || offers(methods, "client_secret_basic") {
            ClientAuth::HttpBasic
        } else if offers(methods, "client_secret_post") {
            ClientAuth::FormBody
        } else {
            return Err(DiscoveryError::NoClientAuthentication {
                methods: crate::printable::printable(&methods.join(", ")),
            });
        };
        let mut spec = GenericPlatform::new(
            id,
            Some(self.issuer.trim_end_matches('/').to_string()),
            self.authorization_endpoint.clone(),
            self.token_endpoint.clone(),
        );
        spec.client_auth = client_auth;
        spec.pkce = offers(&self.code_challenge_methods_supported, "S256");
        spec.iss_required = self.authorization_response_iss_parameter_supported;
        spec.scopes = ["openid", "offline_access"]
            .into_iter()
            .filter(|s| *s == "openid" || offers(&self.scopes_supported, s))
            .map(str::to_string)
            .collect();
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Platform;

    const DOC: &str = r#"{
        "issuer": "https://login.example.com/realm",
        "authorization_endpoint": "https://login.example.com/realm/authorize",
        "token_endpoint": "https://login.example.com/realm/token",
        "scopes_supported": ["openid", "email", "offline_access"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_post"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "authorization_response_iss_parameter_supported": true
    }"#;

    fn read(doc: &str) -> ProviderMetadata {
        let url = discovery_url("https://login.example.com/realm").expect("url");
        ProviderMetadata::parse(&url, doc.as_bytes()).expect("parses")
    }

    #[test]
    fn the_document_becomes_a_platform() {
        assert_eq!(
            discovery_url("https://login.example.com/realm/")
                .expect("url")
                .as_str(),
            "https://login.example.com/realm/.well-known/openid-configuration"
        );
        let spec = read(DOC)
            .to_platform("idp", "https://login.example.com/realm/")
            .expect("valid");
        assert_eq!(spec.client_auth, ClientAuth::FormBody);
        assert!(spec.pkce && spec.iss_required);
        assert_eq!(spec.scopes, ["openid", "offline_access"]);
        let platform = Platform::generic(spec).expect("a platform");
        assert_eq!(platform.authorize_path, "/realm/authorize");
        assert!(platform.iss_required);
        assert!(
            platform
                .extra_authorize_params
                .contains(&("prompt".into(), "consent".into()))
        );
    }

    #[test]
    fn metadata_for_another_issuer_is_refused() {
        let err = read(DOC)
            .to_platform("idp", "https://login.example.com/other")
            .err();
        assert!(
            matches!(err, Some(DiscoveryError::IssuerMismatch { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn unusable_documents_say_why() {
        let url = discovery_url("https://login.example.com/realm").expect("url");
        assert!(matches!(
            ProviderMetadata::parse(&url, b"<html>"),
            Err(DiscoveryError::Unreadable { .. })
        ));
        let only_jwt = DOC.replace("\"client_secret_post\"", "\"tls_client_auth\"");
        assert!(matches!(
            read(&only_jwt).to_platform("idp", "https://login.example.com/realm"),
            Err(DiscoveryError::NoClientAuthentication { .. })
        ));
        for bad in ["", "login.example.com", "ftp://x/y", "https://x/?a=b"] {
            assert!(
                matches!(
                    discovery_url(bad),
                    Err(DiscoveryError::InvalidIssuer { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
