//! The token client: code exchange, refresh, and the two token probes, on reqwest.
//!
//! Rules (RFC 6749, RFC 9700, and the platforms' quirks):
//! - redirects are never followed (a token request must not be replayed elsewhere);
//! - connect and total timeouts are always set;
//! - client authentication per platform: form body or HTTP Basic (RFC 6749 §2.3.1: id and
//!   secret form-urlencoded before base64);
//! - answers are parsed by hand: `expires_in` as number or string, `token_type`
//!   case-insensitive;
//! - errors say whose fault it is and whether a retry is safe: a refusal by the server
//!   ([`Refusal`], classified), not sent ([`TokenError::NotSent`], safe to retry), sent but
//!   the answer lost ([`TokenError::OutcomeUnknown`], the grant may be spent), or an answer
//!   that cannot be read ([`TokenError::Unparseable`], with a secret-free excerpt).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap};
use url::Url;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::connection::Connection;
use crate::platform::{
    ClientAuth, DiscoveryError, GenericPlatform, Platform, ProviderMetadata, discovery_url,
};
use crate::secret::{AccessToken, AuthorizationCode, PkceVerifier, RefreshToken};

mod classify;
mod error;
mod refusal;
mod response;

pub(crate) use error::Grant;
pub use error::TokenError;
pub use refusal::{Refusal, RefusalKind};
pub use response::{IdTokenClaims, MeInfo, TokenResponse, TokenValidation};

/// Longest answer body read; longer answers are cut (and then usually unparseable).
const MAX_BODY: usize = 256 * 1024;

/// Timeouts of the token client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenClientConfig {
    /// Time allowed to open the TCP (and TLS) connection; a request that fails here was not sent.
    pub connect_timeout: Duration,
    /// Time allowed for the whole request, answer included.
    pub timeout: Duration,
}

impl Default for TokenClientConfig {
    /// 10 s to connect, 30 s in all.
    fn default() -> Self {
        TokenClientConfig {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Talks to token endpoints. Cheap to clone.
#[derive(Clone)]
pub struct TokenClient {
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenClient").finish_non_exhaustive()
    }
}

impl TokenClient {
    /// A client with rustls, no redirects and the given timeouts. `clock` turns
    /// rate-limit headers into absolute retry times.
    ///
    /// Proxies come from the environment as reqwest reads them (`HTTP_PROXY`, `HTTPS_PROXY`,
    /// `ALL_PROXY`, `NO_PROXY`, upper case first, none under CGI), except that loopback
    /// (127.0.0.0/8, `::1`, `localhost`) is never proxied: a plain-http token request to the
    /// sandbox would hand the proxy the refresh token and client secret in clear text.
    pub fn new(
        config: TokenClientConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<TokenClient, TokenError> {
        /// Hosts never proxied, added to any `NO_PROXY` list (IPv4-mapped loopback included).
        const LOOPBACK: &str = "localhost, 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104";

        /// reqwest's system proxies, rebuilt with loopback excluded (reqwest offers no way
        /// to filter its own).
        fn environment_proxies() -> Vec<reqwest::Proxy> {
            // The value of the first of `names` that is set, unless it is empty (as reqwest).
            let first = |names: [&str; 2]| {
                names
                    .iter()
                    .find_map(|name| std::env::var(name).ok())
                    .filter(|value| !value.trim().is_empty())
            };
            // As reqwest: a CGI request could set HTTP_PROXY from a header ("httpoxy").
            if std::env::var_os("REQUEST_METHOD").is_some() {
                return Vec::new();
            }
            let no_proxy = match first(["NO_PROXY", "no_proxy"]) {
                Some(list) => format!("{list}, {LOOPBACK}"),
                None => LOOPBACK.to_string(),
            };
            type Make = fn(String) -> reqwest::Result<reqwest::Proxy>;
            let rules: [(_, Make); 3] = [
                (first(["HTTP_PROXY", "http_proxy"]), reqwest::Proxy::http),
                (first(["HTTPS_PROXY", "https_proxy"]), reqwest::Proxy::https),
                (first(["ALL_PROXY", "all_proxy"]), reqwest::Proxy::all),
            ];
            rules
                .into_iter()
                // The first proxy that matches a URL wins, so ALL_PROXY comes last. An
                // unusable proxy URL is ignored, as reqwest ignores it.
                .filter_map(|(url, make)| make(url?).ok())
                .map(|proxy| proxy.no_proxy(reqwest::NoProxy::from_string(&no_proxy)))
                .collect()
        }

        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("preauth/", env!("CARGO_PKG_VERSION")))
            .no_proxy();
        for proxy in environment_proxies() {
            builder = builder.proxy(proxy);
        }
        let http = builder
            .build()
            .map_err(|e| TokenError::Client(error_chain(&e)))?;
        Ok(TokenClient { http, clock })
    }

    /// Exchanges an authorization code (with its PKCE verifier, if one was sent). Only
    /// the lifecycle calls this: it stores the answer before anything else sees it.
    pub(crate) async fn exchange_code(
        &self,
        platform: &Platform,
        connection: &Connection,
        code: &AuthorizationCode,
        pkce_verifier: Option<&PkceVerifier>,
    ) -> Result<TokenResponse, TokenError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.secret()),
            ("redirect_uri", connection.redirect_url.as_str()),
        ];
        if let Some(v) = pkce_verifier {
            form.push(("code_verifier", v.secret()));
        }
        self.token_request(platform, connection, form, Grant::Code)
            .await
    }

    /// Spends a refresh token for new tokens. Only the lifecycle calls this, under the
    /// connection's lock and with its save prepared, so that no refresh happens that is
    /// not persisted before use.
    pub(crate) async fn refresh(
        &self,
        platform: &Platform,
        connection: &Connection,
        refresh_token: &RefreshToken,
    ) -> Result<TokenResponse, TokenError> {
        let form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.secret()),
        ];
        self.token_request(platform, connection, form, Grant::Refresh)
            .await
    }

    /// Proves an access token with the platform's `current/Me` call.
    pub async fn me(
        &self,
        platform: &Platform,
        connection: &Connection,
        access_token: &AccessToken,
    ) -> Result<MeInfo, TokenError> {
        let path = platform
            .me_path
            .as_deref()
            .ok_or_else(|| TokenError::NoEndpoint {
                platform: platform.id.clone(),
                what: "current/Me",
            })?;
        let url = platform.endpoint(&connection.api_url, path)?;
        let request = self
            .http
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .bearer_auth(access_token.secret());
        let (status, headers, body) = self.send(&url, request).await?;
        self.accept(status, &headers, &body, Grant::Bearer)?;
        response::parse_me(status, &body)
    }

    /// Validates an access token at Twinfield's `accesstokenvalidation` (which also tells
    /// the cluster URL the API calls go to).
    pub async fn validate_access_token(
        &self,
        platform: &Platform,
        connection: &Connection,
        access_token: &AccessToken,
    ) -> Result<TokenValidation, TokenError> {
        let path =
            platform
                .token_validation_path
                .as_deref()
                .ok_or_else(|| TokenError::NoEndpoint {
                    platform: platform.id.clone(),
                    what: "access-token validation",
                })?;
        let url = platform.endpoint(&connection.api_url, path)?;
        let mut with_token = url.clone();
        with_token
            .query_pairs_mut()
            .append_pair("token", access_token.secret());
        let request = self
            .http
            .get(with_token)
            .header(ACCEPT, "application/json")
            .bearer_auth(access_token.secret());
        let (status, headers, body) = self.send(&url, request).await?;
        self.accept(status, &headers, &body, Grant::Bearer)?;
        response::parse_validation(status, &body)
    }

    /// Reads the OpenID Connect Discovery document of `issuer` and turns it into the
    /// description of a user-defined platform called `id` (see
    /// [`ProviderMetadata::to_platform`]).
    pub async fn discover(
        &self,
        id: &str,
        issuer: &str,
    ) -> Result<GenericPlatform, DiscoveryError> {
        let url = discovery_url(issuer)?;
        let unreadable = |reason: String| DiscoveryError::Unreadable {
            url: url.to_string(),
            reason,
        };
        let request = self
            .http
            .get(url.clone())
            .header(ACCEPT, "application/json");
        let (status, _, body) = self
            .send(&url, request)
            .await
            .map_err(|e| unreadable(e.to_string()))?;
        if status != 200 {
            return Err(unreadable(format!("HTTP {status}")));
        }
        ProviderMetadata::parse(&url, &body)?.to_platform(id, issuer)
    }

    /// Sends a token-endpoint form with the platform's client authentication.
    async fn token_request(
        &self,
        platform: &Platform,
        connection: &Connection,
        mut form: Vec<(&str, &str)>,
        grant: Grant,
    ) -> Result<TokenResponse, TokenError> {
        let url = platform.token_url(&connection.api_url)?;
        let secret = connection.client_secret.as_ref().map_or("", |s| s.secret());
        let mut request = self
            .http
            .post(url.clone())
            .header(ACCEPT, "application/json");
        match platform.client_auth {
            ClientAuth::FormBody => {
                form.push(("client_id", connection.client_id.as_str()));
                if connection.client_secret.is_some() {
                    form.push(("client_secret", secret));
                }
            }
            ClientAuth::HttpBasic => {
                request = request.header(AUTHORIZATION, basic_auth(&connection.client_id, secret));
            }
        }
        let request = request.form(&form);
        let (status, headers, body) = self.send(&url, request).await?;
        self.accept(status, &headers, &body, grant)?;
        response::parse_token(status, &body)
    }

    /// Sends a request and reads the answer, classifying transport failures.
    async fn send(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, HeaderMap, Zeroizing<Vec<u8>>), TokenError> {
        let shown = endpoint_shown(url);
        let mut response = request.send().await.map_err(|e| {
            let reason = error_chain(&e);
            if e.is_connect() || e.is_builder() {
                TokenError::NotSent {
                    url: shown.clone(),
                    reason,
                }
            } else {
                TokenError::OutcomeUnknown {
                    url: shown.clone(),
                    reason,
                }
            }
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Zeroizing::new(Vec::new());
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_BODY.saturating_sub(body.len());
                    body.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or(&[]));
                    if body.len() >= MAX_BODY {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(TokenError::OutcomeUnknown {
                        url: shown,
                        reason: format!("HTTP {status} answer cut off: {}", error_chain(&e)),
                    });
                }
            }
        }
        Ok((status, headers, body))
    }

    /// Turns a non-success answer into the right error; `Ok` for 2xx.
    fn accept(
        &self,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        grant: Grant,
    ) -> Result<(), TokenError> {
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(classify::classify(
            status,
            headers,
            body,
            grant,
            self.clock.now(),
        ))
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_auth(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = Zeroizing::new(format!("{}:{}", enc(client_id), enc(secret)));
    format!("Basic {}", STANDARD.encode(pair.as_bytes()))
}

/// The URL shown in messages: scheme, host, port and path (never the query).
fn endpoint_shown(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// An error and its causes, joined (reqwest's URL removed: it may carry a token).
fn error_chain(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut out = String::new();
    let mut source: Option<&dyn std::error::Error> = e.source();
    let top = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "request failed"
    };
    out.push_str(top);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    crate::printable::printable(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_form_encodes_before_base64() {
        let h = basic_auth("{id 1}", "s:e");
        let decoded = STANDARD
            .decode(h.trim_start_matches("Basic "))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        assert_eq!(decoded, "%7Bid+1%7D:s%3Ae");
    }
}
