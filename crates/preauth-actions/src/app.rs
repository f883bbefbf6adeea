//! The app registration a new connection is made with.

use preauth_core::secret::ClientSecret;

/// The app registration and platform of a new connection: what `preauthenticate`,
/// `register connection`, the Preauthenticate and Register forms and the register route
/// of the API all ask for.
#[derive(Clone, Debug)]
pub struct AppSettings {
    /// Platform id (`exact`, `exact-online`, …) as given.
    pub platform: String,
    /// Country (`nl`, `be`, …), when given.
    pub country: Option<String>,
    /// Another base URL than the platform's host for the country (a sandbox).
    pub api_url: Option<String>,
    /// The OAuth client id.
    pub client_id: String,
    /// The client secret, when the app has one.
    pub client_secret: Option<ClientSecret>,
    /// The redirect URL registered for the app.
    pub redirect_url: String,
}

/// One of the app settings a stored connection needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppSetting {
    /// The OAuth client id.
    ClientId,
    /// The client secret (on the built-in platforms).
    ClientSecret,
    /// The redirect URL.
    RedirectUrl,
}

impl std::fmt::Display for AppSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AppSetting::ClientId => "client id",
            AppSetting::ClientSecret => "client secret",
            AppSetting::RedirectUrl => "redirect URL",
        })
    }
}
