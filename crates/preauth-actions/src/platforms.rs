//! Defining a platform of one's own (an OAuth2 / OpenID Connect provider).

use preauth_core::platform::{ClientAuth, GenericPlatform, Platform};

use crate::{ActionError, Context};

/// Where a new platform's endpoints come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlatformEndpoints {
    /// Read from the provider's metadata at this issuer.
    Discovered {
        /// The issuer URL.
        issuer: String,
    },
    /// Given one by one.
    Given {
        /// The authorization endpoint.
        authorize_url: String,
        /// The token endpoint.
        token_url: String,
        /// The issuer, when the provider has one.
        issuer: Option<String>,
    },
}

/// What a platform's refresh tokens are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshTokens {
    /// Issued, reusable.
    On,
    /// Never issued.
    Off,
    /// Issued, single use: every refresh spends the old one.
    Rotating,
}

/// A platform to define.
#[derive(Clone, Debug)]
pub struct NewPlatform {
    /// Its id.
    pub id: String,
    /// Where the endpoints come from.
    pub endpoints: PlatformEndpoints,
    /// How the client authenticates at the token endpoint, when given.
    pub client_auth: Option<ClientAuth>,
    /// The scope to request, when given.
    pub scope: Option<String>,
    /// Whether to use PKCE, when given.
    pub pkce: Option<bool>,
    /// Extra authorization parameters, in order.
    pub parameters: Vec<(String, String)>,
    /// What its refresh tokens are, when given.
    pub refresh_tokens: Option<RefreshTokens>,
}

/// Defines platform `new`: reads the provider's metadata or takes the endpoints given,
/// applies the options, checks the definition, appends it durably to the store's
/// platforms, and makes it known to this context. Returns its id.
pub async fn create(ctx: &Context, new: &NewPlatform) -> Result<String, ActionError> {
    if ctx.registry().get(&new.id).is_some() {
        return Err(ActionError::PlatformExists { id: new.id.clone() });
    }
    let mut spec = match &new.endpoints {
        PlatformEndpoints::Discovered { issuer } => ctx.http().discover(&new.id, issuer).await?,
        PlatformEndpoints::Given {
            authorize_url,
            token_url,
            issuer,
        } => GenericPlatform::new(
            new.id.clone(),
            issuer.clone(),
            authorize_url.clone(),
            token_url.clone(),
        ),
    };
    if let Some(auth) = new.client_auth {
        spec.client_auth = auth;
    }
    if let Some(scope) = &new.scope {
        spec.scopes = scope.split_whitespace().map(str::to_string).collect();
    }
    if let Some(pkce) = new.pkce {
        spec.pkce = pkce;
    }
    match new.refresh_tokens {
        Some(RefreshTokens::Off) => spec.issues_refresh_tokens = false,
        Some(RefreshTokens::Rotating) => spec.refresh_token_rotates = true,
        Some(RefreshTokens::On) | None => {}
    }
    spec.extra_authorize_params
        .extend(new.parameters.iter().cloned());
    let platform = Platform::generic(spec.clone())?;
    preauth_core::platform::append_to_documents(ctx.documents(), &spec)?;
    let id = platform.id.clone();
    // One shared set: the store and the lifecycle know the platform from now on.
    ctx.registry().add(platform);
    Ok(id)
}
