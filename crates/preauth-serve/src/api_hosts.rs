//! Where a connection registered through the API may send its requests.
//!
//! A key of scope register hands over an `api_url` with its tokens, and every later
//! refresh of that connection is a request this server makes to that address, with the
//! connection's client secret and refresh token. So through the API, `api_url` may only
//! name one of the platform's own hosts (Exact's country hosts, Twinfield's login host, a
//! user-defined platform's endpoints), or a host the operator opted in with
//! `--allow-api-host` (a sandbox, a test platform). Statements and the pages are the
//! operator's own and may name any usable base URL.

use std::fmt;
use std::str::FromStr;

use axum::http::StatusCode;
use preauth_core::platform::Platform;
use url::Url;

use crate::error::ApiError;

/// A host opted in with `--allow-api-host`: a name or an IP address, with a port or
/// without one (then any port of that host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiHost {
    /// The host, lowercase; an IPv6 address in brackets, as URLs write it.
    host: String,
    /// The port, when one was given.
    port: Option<u16>,
}

impl FromStr for ApiHost {
    type Err = String;

    /// `sandbox.example.com`, `127.0.0.1:8080`, `[::1]:8080`: a host and port only.
    fn from_str(text: &str) -> Result<ApiHost, String> {
        let refuse = || {
            format!(
                "'{text}' is not a host: give a name or an address, with a port or without, such as 127.0.0.1:8080 or sandbox.example.com"
            )
        };
        if text.is_empty() || text.contains(['/', '?', '#', '@']) {
            return Err(refuse());
        }
        let url = Url::parse(&format!("https://{text}/")).map_err(|_| refuse())?;
        let host = url.host_str().ok_or_else(refuse)?.to_ascii_lowercase();
        // `https://host:443/` parses to no port: ask for what was written.
        let port = url.port().or_else(|| {
            text.rsplit_once(':')
                .and_then(|(_, port)| port.parse().ok())
                .filter(|_| !text.ends_with(']'))
        });
        Ok(ApiHost { host, port })
    }
}

impl fmt::Display for ApiHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

impl ApiHost {
    /// Whether `url` is on this host (and port, when one was given).
    fn covers(&self, url: &Url) -> bool {
        url.host_str()
            .is_some_and(|host| host.eq_ignore_ascii_case(&self.host))
            && self
                .port
                .is_none_or(|port| url.port_or_known_default() == Some(port))
    }
}

/// Checks the `api_url` of a registration through the API for `platform`: usable as a
/// base URL, and on one of the platform's own hosts or one of `allowed`. Nothing is
/// sent anywhere to decide.
pub(crate) fn check(
    platform: &Platform,
    api_url: &str,
    allowed: &[ApiHost],
) -> Result<(), ApiError> {
    let misfit = |error: ApiError| ApiError {
        misfit: Some(Box::new(("api_url".to_string(), None))),
        ..error
    };
    let checked = platform.check_api_url(api_url).map_err(|error| {
        misfit(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            error.to_string(),
        ))
    })?;
    if platform.is_own_host(&checked) {
        return Ok(());
    }
    let url = Url::parse(&checked).map_err(|e| ApiError::internal(e.to_string()))?;
    if allowed.iter().any(|host| host.covers(&url)) {
        return Ok(());
    }
    let host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (host, _) => host.unwrap_or_default().to_string(),
    };
    let own: Vec<&str> = platform.hosts.iter().map(|h| h.base_url.as_str()).collect();
    Err(misfit(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "api_host_not_allowed",
        format!(
            "api_url is on {host}, which is not a host of {} ({}): leave api_url out to use the platform's host for the country, or ask the operator of this server to allow that host with --allow-api-host {host}",
            platform.display_name,
            own.join(", ")
        ),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &[&str]) -> Vec<ApiHost> {
        list.iter().map(|h| h.parse().unwrap()).collect()
    }

    #[test]
    fn only_the_platforms_own_hosts_and_those_opted_in() {
        let exact = Platform::exact_online();
        assert!(check(&exact, "https://start.exactonline.be/", &[]).is_ok());
        for foreign in [
            "http://127.0.0.1:9999/internal",
            "https://start.exactonline.nl.evil.example",
            "https://start.exactonline.nl:8443",
            "http://[::1]:80",
        ] {
            let refused = check(&exact, foreign, &[]).unwrap_err();
            assert_eq!(refused.code, "api_host_not_allowed", "{foreign}");
            assert!(refused.message.contains("--allow-api-host"), "{refused}");
        }
        for unusable in ["javascript:alert(1)", "http://10.0.0.1:80", "ftp://x", ""] {
            let refused = check(&exact, unusable, &hosts(&["10.0.0.1"])).unwrap_err();
            assert_eq!(refused.code, "invalid", "{unusable}");
            assert_eq!(refused.misfit.unwrap().0, "api_url");
        }
        let sandbox = "http://127.0.0.1:9999";
        assert!(check(&exact, sandbox, &hosts(&["127.0.0.1"])).is_ok());
        assert!(check(&exact, sandbox, &hosts(&["127.0.0.1:9999"])).is_ok());
        assert!(check(&exact, sandbox, &hosts(&["127.0.0.1:9998"])).is_err());
        assert!(check(&exact, "http://[::1]:80/x", &hosts(&["[::1]:80"])).is_ok());
        assert!(
            check(
                &exact,
                "https://Sandbox.Example.com",
                &hosts(&["sandbox.example.com:443"])
            )
            .is_ok()
        );
    }

    #[test]
    fn an_opted_in_host_is_a_host_and_port_only() {
        assert_eq!(
            "Sandbox.example.com:443"
                .parse::<ApiHost>()
                .unwrap()
                .to_string(),
            "sandbox.example.com:443"
        );
        assert_eq!("[::1]".parse::<ApiHost>().unwrap().to_string(), "[::1]");
        for bad in ["", "http://x", "x/y", "a@b", "x:notaport"] {
            assert!(bad.parse::<ApiHost>().is_err(), "{bad}");
        }
    }
}
