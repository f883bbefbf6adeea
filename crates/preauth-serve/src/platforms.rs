//! `POST /api/v1/platforms`: define a platform of one's own (an OAuth2 / OpenID Connect
//! provider), as `create platform` does, through the same use case.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use preauth_actions::ActionError;
use preauth_actions::platforms::{NewPlatform, PlatformEndpoints, RefreshTokens, create};
use preauth_core::platform::{ClientAuth, PlatformError, outbound_url_refusal};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use crate::audit::{Caller, audit};
use crate::error::ApiError;
use crate::state::AppState;
use crate::work::blocking;

/// How the client authenticates at the token endpoint.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ClientAuthentication {
    /// HTTP Basic.
    Basic,
    /// In the form body.
    Body,
}

/// What the platform's refresh tokens are.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RefreshTokenKind {
    On,
    Off,
    Rotating,
}

/// One extra authorization parameter.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Parameter {
    name: String,
    value: String,
}

/// The body of `POST /api/v1/platforms`: the clauses of `create platform`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlatformBody {
    id: String,
    issuer: Option<String>,
    authorize_url: Option<String>,
    token_url: Option<String>,
    client_authentication: Option<ClientAuthentication>,
    scope: Option<String>,
    pkce: Option<bool>,
    #[serde(default)]
    parameters: Vec<Parameter>,
    refresh_tokens: Option<RefreshTokenKind>,
}

impl PlatformBody {
    /// The platform as the create action takes it, or 422 naming the field that does not
    /// fit: the id's characters, the endpoints given together, the address rules.
    fn new_platform(self) -> Result<NewPlatform, ApiError> {
        let id_fits = (1..=64).contains(&self.id.len())
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !id_fits {
            return Err(ApiError::invalid_field(
                "id",
                "the platform id must have 1 to 64 characters, letters, digits, '-', '_' and '.'"
                    .into(),
            ));
        }
        for (field, url) in [
            ("issuer", &self.issuer),
            ("authorize_url", &self.authorize_url),
            ("token_url", &self.token_url),
        ] {
            if let Some(url) = url {
                check_url(field, url)?;
            }
        }
        let endpoints = match (self.authorize_url, self.token_url, self.issuer) {
            (Some(authorize_url), Some(token_url), issuer) => PlatformEndpoints::Given {
                authorize_url,
                token_url,
                issuer,
            },
            (None, None, Some(issuer)) => PlatformEndpoints::Discovered { issuer },
            (Some(_), None, _) => return Err(together("token_url")),
            (None, Some(_), _) => return Err(together("authorize_url")),
            (None, None, None) => {
                return Err(ApiError::invalid_field(
                    "issuer",
                    "give an issuer (its metadata names the endpoints), or authorize_url and token_url"
                        .into(),
                ));
            }
        };
        Ok(NewPlatform {
            id: self.id,
            endpoints,
            client_auth: self.client_authentication.map(|auth| match auth {
                ClientAuthentication::Basic => ClientAuth::HttpBasic,
                ClientAuthentication::Body => ClientAuth::FormBody,
            }),
            scope: self.scope,
            pkce: self.pkce,
            parameters: self
                .parameters
                .into_iter()
                .map(|p| (p.name, p.value))
                .collect(),
            refresh_tokens: self.refresh_tokens.map(|kind| match kind {
                RefreshTokenKind::On => RefreshTokens::On,
                RefreshTokenKind::Off => RefreshTokens::Off,
                RefreshTokenKind::Rotating => RefreshTokens::Rotating,
            }),
        })
    }
}

/// 422: one endpoint given without the other.
fn together(missing: &str) -> ApiError {
    ApiError::invalid_field(
        missing,
        format!("authorize_url and token_url are given together; {missing} is missing"),
    )
}

/// 422 naming `field` unless `url` is one preauth calls: absolute, https or plain http
/// to loopback, a host, no user name or password, no query or fragment.
fn check_url(field: &str, url: &str) -> Result<(), ApiError> {
    let refusal = match Url::parse(url) {
        Err(_) => Some("it is not an absolute URL"),
        Ok(parsed) => outbound_url_refusal(&parsed).or_else(|| {
            (parsed.query().is_some() || parsed.fragment().is_some())
                .then_some("it takes no query or fragment")
        }),
    };
    match refusal {
        Some(reason) => Err(ApiError::invalid_field(
            field,
            format!("{field} cannot be used: {reason}"),
        )),
        None => Ok(()),
    }
}

/// What the body gave, to name the field a refusal is about.
struct Given {
    issuer: bool,
    token_url: Option<String>,
}

/// The answer to a refusal of the create action: 409 for an id that is taken, 422 naming
/// the field of a definition that cannot be used, 502 when the issuer's metadata could
/// not be read.
fn refusal(error: ActionError, given: &Given) -> ApiError {
    let message = error.to_string();
    // The definition could not be stored: the store's own answer (503 when it is down).
    let error = match error {
        ActionError::Platform(PlatformError::Store { source, .. }) => {
            return ApiError {
                message,
                ..ApiError::from(*source)
            };
        }
        other => other,
    };
    let advice = error.advice();
    let answer = match &error {
        ActionError::PlatformExists { .. } => {
            ApiError::new(StatusCode::CONFLICT, "platform_exists", message)
        }
        ActionError::Platform(platform) => {
            let field = match platform {
                PlatformError::ForeignEndpoint { endpoint, .. }
                | PlatformError::InvalidEndpoint { endpoint, .. }
                    if given.token_url.as_deref() == Some(endpoint.as_str()) =>
                {
                    "token_url"
                }
                PlatformError::ForeignEndpoint { .. } | PlatformError::InvalidEndpoint { .. } => {
                    "authorize_url"
                }
                PlatformError::InvalidBaseUrl { .. } if given.issuer => "issuer",
                PlatformError::InvalidBaseUrl { .. } => "authorize_url",
                // The id and the URLs are checked before: what is left is a parameter.
                _ => "parameters",
            };
            ApiError::invalid_field(field, message)
        }
        ActionError::Discovery(_) => {
            ApiError::new(StatusCode::BAD_GATEWAY, "discovery_failed", message)
        }
        _ => return ApiError::from(error),
    };
    answer.advised(advice)
}

/// `POST /api/v1/platforms`: `create platform` from JSON; 201 with the id, nothing stored
/// on a refusal.
pub(crate) async fn create_platform(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<PlatformBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let given = Given {
        issuer: body.issuer.is_some(),
        token_url: body.token_url.clone(),
    };
    let new = body.new_platform()?;
    // Discovery calls the issuer and the definition is appended to the store: both may
    // wait, so the work runs on a blocking thread and finishes if the client goes away.
    let runtime = tokio::runtime::Handle::current();
    let id = blocking(&state.env, move |env| {
        let id = runtime
            .block_on(create(env, &new))
            .map_err(|error| refusal(error, &given))?;
        audit(&caller.who(), format_args!("created platform '{id}'"));
        Ok(id)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}
