//! What the sandbox serves: registered apps, limits, port and approval mode.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::SandboxError;

/// How a sandbox is started: which port, which apps, which limits.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// TCP port on 127.0.0.1; 0 picks a free port.
    pub port: u16,
    /// Skip the login and consent pages: `/api/oauth2/auth` answers at once with the redirect.
    pub auto_approve: bool,
    /// The registered apps (client id, secret, redirect URIs).
    pub apps: Vec<App>,
    /// Rate limits and the error block.
    pub limits: Limits,
}

impl Default for SandboxConfig {
    /// The demo app only, pages shown, default limits, a free port.
    fn default() -> Self {
        SandboxConfig {
            port: 0,
            auto_approve: false,
            apps: vec![App::demo()],
            limits: Limits::default(),
        }
    }
}

/// A registered app, as in the Exact App Center.
#[derive(Clone, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// The client id (Exact uses a GUID in braces).
    pub client_id: String,
    /// The client secret; never logged, redacted in `Debug`.
    pub client_secret: String,
    /// The registered redirect URIs; a loopback IP URI matches on any port (RFC 8252 §7.3).
    pub redirect_uris: Vec<String>,
    /// Lifetime of an access token in seconds (Exact: 600). A refresh is refused as
    /// "Access token not expired" sooner than `access_token_seconds - 30` after issue,
    /// so 30 or less means refreshes are always allowed.
    #[serde(default = "default_access_token_seconds")]
    pub access_token_seconds: u64,
}

fn default_access_token_seconds() -> u64 {
    App::EXACT_ACCESS_TOKEN_SECONDS
}

impl App {
    /// Exact Online's access token lifetime in seconds.
    pub const EXACT_ACCESS_TOKEN_SECONDS: u64 = 600;
    /// The client id of the built-in demo app (the README quick start).
    pub const DEMO_CLIENT_ID: &'static str = "{b81cc4de-d192-400e-bcb4-09254394c52a}";
    /// The client secret of the built-in demo app; public on purpose, it only works here.
    pub const DEMO_CLIENT_SECRET: &'static str = "sandbox-demo-secret";
    /// The demo app's loopback redirect URI (any port is accepted, RFC 8252 §7.3).
    pub const DEMO_REDIRECT_URI: &'static str = "http://127.0.0.1:53682/callback";
    /// The demo app's web redirect URI (never contacted: `.invalid`).
    pub const DEMO_WEB_REDIRECT_URI: &'static str = "https://example.invalid/callback";

    /// The built-in demo app of the README quick start.
    pub fn demo() -> App {
        App {
            client_id: Self::DEMO_CLIENT_ID.to_owned(),
            client_secret: Self::DEMO_CLIENT_SECRET.to_owned(),
            redirect_uris: vec![
                Self::DEMO_REDIRECT_URI.to_owned(),
                Self::DEMO_WEB_REDIRECT_URI.to_owned(),
            ],
            access_token_seconds: Self::EXACT_ACCESS_TOKEN_SECONDS,
        }
    }
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("redirect_uris", &self.redirect_uris)
            .field("access_token_seconds", &self.access_token_seconds)
            .finish()
    }
}

/// Rate limits, with Exact Online's numbers as defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Token-endpoint calls per app per (virtual) day; Exact: about 200.
    pub token_calls_per_day: u32,
    /// Errors per app within an hour after which every call is refused until the hour passes.
    pub errors_per_hour_before_block: u32,
    /// API calls (`/api/v1/...`) per minute; Exact: 60.
    pub api_calls_per_minute: u32,
    /// API calls per day; Exact: 5,000.
    pub api_calls_per_day: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            token_calls_per_day: 200,
            errors_per_hour_before_block: 10,
            api_calls_per_minute: 60,
            api_calls_per_day: 5000,
        }
    }
}

/// The apps file: `{"apps": [{"client_id": .., "client_secret": .., "redirect_uris": [..]}]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppsFile {
    apps: Vec<App>,
}

/// Reads registered apps from a JSON file.
///
/// The file holds `{"apps": [{"client_id": "...", "client_secret": "...",
/// "redirect_uris": ["..."], "access_token_seconds": 600}]}`; `access_token_seconds` is optional.
pub fn load_apps(path: &Path) -> Result<Vec<App>, SandboxError> {
    let text = std::fs::read_to_string(path).map_err(|source| SandboxError::ReadApps {
        path: path.to_owned(),
        source,
    })?;
    parse_apps(&text).map_err(|reason| SandboxError::InvalidApps {
        path: path.to_owned(),
        reason,
    })
}

/// Parses and checks the apps file text; the error is a sentence without secrets.
fn parse_apps(text: &str) -> Result<Vec<App>, String> {
    let file: AppsFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if file.apps.is_empty() {
        return Err("it lists no apps".to_owned());
    }
    for (index, app) in file.apps.iter().enumerate() {
        check_app(app).map_err(|why| format!("app #{} ({}) {why}", index + 1, app.client_id))?;
    }
    for (index, app) in file.apps.iter().enumerate() {
        if file.apps[..index]
            .iter()
            .any(|a| a.client_id == app.client_id)
        {
            return Err(format!("client_id {} is registered twice", app.client_id));
        }
    }
    Ok(file.apps)
}

fn check_app(app: &App) -> Result<(), String> {
    if app.client_id.trim().is_empty() {
        return Err("has an empty client_id".to_owned());
    }
    if app.client_secret.is_empty() {
        return Err("has an empty client_secret".to_owned());
    }
    if app.redirect_uris.is_empty() {
        return Err("has no redirect_uris".to_owned());
    }
    for uri in &app.redirect_uris {
        let parsed = url::Url::parse(uri).map_err(|e| format!("has redirect URI {uri:?}: {e}"))?;
        if parsed.fragment().is_some() {
            return Err(format!("has redirect URI {uri:?} with a fragment"));
        }
    }
    if app.access_token_seconds == 0 {
        return Err("has access_token_seconds 0".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_secret() {
        let shown = format!("{:?}", App::demo());
        assert!(shown.contains("[redacted]"));
        assert!(!shown.contains(App::DEMO_CLIENT_SECRET));
    }

    #[test]
    fn parse_rejects_bad_files_with_reasons() {
        assert!(parse_apps("{").is_err());
        assert_eq!(
            parse_apps(r#"{"apps":[]}"#).unwrap_err(),
            "it lists no apps"
        );
        let dup = r#"{"apps":[{"client_id":"a","client_secret":"s","redirect_uris":["http://127.0.0.1/cb"]},
                              {"client_id":"a","client_secret":"t","redirect_uris":["http://127.0.0.1/cb"]}]}"#;
        assert!(parse_apps(dup).unwrap_err().contains("twice"));
        let bad_uri =
            r#"{"apps":[{"client_id":"a","client_secret":"s","redirect_uris":["not a url"]}]}"#;
        assert!(parse_apps(bad_uri).unwrap_err().contains("not a url"));
        let ok = parse_apps(
            r#"{"apps":[{"client_id":"a","client_secret":"s","redirect_uris":["http://127.0.0.1/cb"]}]}"#,
        )
        .unwrap();
        assert_eq!(ok[0].access_token_seconds, 600);
    }
}
