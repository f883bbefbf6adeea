//! How stored connections stand: the data of `show connections` and `show connection`,
//! the connections page and the API's listing, never a secret's value.

use std::time::SystemTime;

use preauth_core::advice::Advice;
use preauth_core::connection::Connection;
use preauth_core::lifecycle::{RefreshFailure, TokenState, connection_status};
use preauth_core::monitor;
use preauth_core::platform::Platform;
use preauth_core::store::Listing;

use crate::{ActionError, Context};

/// How a connection stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// One short word or phrase: `valid`, `needs refresh`, `refresh token refused`,
    /// `unusable`, …
    pub status: String,
    /// Why it cannot be used or renewed, when it cannot.
    pub problem: Option<String>,
    /// When its access token expires, when it has one.
    pub access_token_expires_at: Option<SystemTime>,
    /// When its refresh token expires.
    pub refresh_token_expires: RefreshExpiry,
    /// What repairs the problem, when there is one a person can repair.
    pub advice: Vec<Advice>,
}

/// When a refresh token expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshExpiry {
    /// At this moment.
    At(SystemTime),
    /// Never: the platform's refresh tokens do not expire.
    Never,
    /// Not known (no refresh token, or nothing to tell from).
    Unknown,
}

impl RefreshExpiry {
    /// The moment, when there is one.
    pub fn at(self) -> Option<SystemTime> {
        match self {
            RefreshExpiry::At(at) => Some(at),
            RefreshExpiry::Never | RefreshExpiry::Unknown => None,
        }
    }
}

/// The status word of a connection that cannot be used; why is in the problem.
pub const UNUSABLE: &str = "unusable";

/// How `connection` of `platform` (`None`: a platform not known here) stands at `now`.
pub fn standing(platform: Option<&Platform>, connection: &Connection, now: SystemTime) -> Standing {
    let Some(platform) = platform else {
        return Standing {
            status: UNUSABLE.into(),
            problem: Some(format!("unknown platform '{}'", connection.platform)),
            access_token_expires_at: None,
            refresh_token_expires: RefreshExpiry::Unknown,
            advice: Vec::new(),
        };
    };
    let status = connection_status(platform, connection, now);
    let state = match status.state {
        TokenState::NotAuthorized => "not authorized",
        TokenState::Valid => "valid",
        TokenState::Unrenewable => "valid, no refresh token",
        TokenState::NeedsRefresh => "needs refresh",
        TokenState::NoRefreshToken => "expired, no refresh token",
        TokenState::RefreshTokenExpired => "refresh token expired",
    };
    let refresh_token_expires = match status.refresh_token_expires_at {
        Some(at) => RefreshExpiry::At(at),
        None if status.refresh_token_issued_at.is_some() => RefreshExpiry::Never,
        None => RefreshExpiry::Unknown,
    };
    // A refused refresh token is the problem, whatever the access token still says.
    let (state, problem, advice) = match RefreshFailure::blocking(connection) {
        Some(failure) => (
            "refresh token refused",
            Some(failure.message),
            monitor::recorded_advice(connection),
        ),
        // A passing failure: automatic tries go on, from the next try it names.
        None => match RefreshFailure::of(connection)
            .filter(|f| f.is_about_current_token(connection) && f.next_try().is_some())
        {
            Some(_) => (
                "refresh failing, retrying",
                monitor::refresh_failure(connection),
                Vec::new(),
            ),
            None => (state, None, Vec::new()),
        },
    };
    Standing {
        status: state.into(),
        problem,
        access_token_expires_at: status.access_token_expires_at,
        refresh_token_expires,
        advice,
    }
}

/// The country of the platform host the connection uses; `None` when its base URL is
/// not one of the platform's hosts (an override such as the sandbox).
pub fn country(platform: &Platform, connection: &Connection) -> Option<String> {
    platform
        .hosts
        .iter()
        .find(|h| h.base_url.eq_ignore_ascii_case(&connection.api_url))
        .map(|h| h.country.clone())
}

/// One connection of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Its name.
    pub name: String,
    /// Its platform's id (`None` when the connection cannot be read).
    pub platform: Option<String>,
    /// The country of its platform host, when it uses one.
    pub country: Option<String>,
    /// Its base URL (`None` when the connection cannot be read).
    pub api_url: Option<String>,
    /// How it stands.
    pub standing: Standing,
    /// Whether its secrets are sealed in the store.
    pub encrypted: bool,
}

/// The connections of `listing` (read by the caller, who may judge it too without
/// reading it twice), and the listing's problems (a file that does not parse).
pub fn summaries(ctx: &Context, listing: &Listing) -> (Vec<Summary>, Vec<String>) {
    let now = ctx.lifecycle().now();
    let rows = listing
        .connections
        .iter()
        .map(|entry| match &entry.connection {
            Ok(connection) => {
                let platform = ctx.lifecycle().platform_of(connection).ok();
                Summary {
                    name: connection.name.clone(),
                    platform: Some(connection.platform.clone()),
                    country: platform.as_deref().and_then(|p| country(p, connection)),
                    api_url: Some(connection.api_url.clone()),
                    standing: standing(platform.as_deref(), connection, now),
                    encrypted: entry.sealed,
                }
            }
            Err(error) => Summary {
                name: entry.name.clone(),
                platform: None,
                country: None,
                api_url: None,
                standing: Standing {
                    status: UNUSABLE.into(),
                    problem: Some(error.to_string()),
                    access_token_expires_at: None,
                    refresh_token_expires: RefreshExpiry::Unknown,
                    advice: Vec::new(),
                },
                encrypted: entry.sealed,
            },
        })
        .collect();
    let problems = listing.problems.iter().map(ToString::to_string).collect();
    (rows, problems)
}

/// Everything about one connection but its secrets' values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Details {
    /// Its name.
    pub name: String,
    /// Its platform's id.
    pub platform: String,
    /// Its base URL.
    pub api_url: String,
    /// The app's client id.
    pub client_id: String,
    /// Whether a client secret is stored.
    pub has_client_secret: bool,
    /// The app's redirect URL.
    pub redirect_url: String,
    /// How it stands.
    pub standing: Standing,
    /// Whether an access token is stored.
    pub has_access_token: bool,
    /// Whether a refresh token is stored.
    pub has_refresh_token: bool,
    /// When the refresh token was obtained, when known.
    pub refresh_token_obtained_at: Option<SystemTime>,
    /// The last refresh's failure, while it blocks refreshes.
    pub last_refresh_failure: Option<String>,
    /// Whether its secrets are sealed in the store.
    pub encrypted: bool,
    /// Where the store keeps it (a file, a database): for the operator, not for partners.
    pub stored_in: String,
}

/// Connection `name` as stored now.
pub fn details(ctx: &Context, name: &str) -> Result<Details, ActionError> {
    let entry = ctx.lifecycle().store().listed(name)?;
    let connection = entry.connection?;
    let platform = ctx.lifecycle().platform_of(&connection).ok();
    let standing = standing(platform.as_deref(), &connection, ctx.lifecycle().now());
    let tokens = connection.tokens.as_ref();
    Ok(Details {
        has_client_secret: connection.client_secret.is_some(),
        has_access_token: tokens.is_some(),
        has_refresh_token: tokens.is_some_and(|t| t.refresh_token.is_some()),
        refresh_token_obtained_at: tokens.and_then(|t| t.refresh_token_issued_at),
        last_refresh_failure: monitor::refresh_failure(&connection),
        encrypted: entry.sealed,
        stored_in: entry.location,
        standing,
        name: connection.name,
        platform: connection.platform,
        api_url: connection.api_url,
        client_id: connection.client_id,
        redirect_url: connection.redirect_url,
    })
}

/// Check: the monitoring verdict on every connection of the store now (as `preauth check`,
/// `/api/v1/check` and `/metrics` judge). A store that cannot be read is UNKNOWN in the
/// report, never an empty, healthy one.
pub fn check(ctx: &Context, thresholds: monitor::Thresholds) -> monitor::CheckReport {
    monitor::check(
        ctx.store(),
        ctx.registry(),
        ctx.lifecycle().now(),
        thresholds,
    )
}

/// Like [`check`], for a statement: a store that cannot be read fails it with the store's
/// error, as `show connections` does.
pub fn check_or_fail(
    ctx: &Context,
    thresholds: monitor::Thresholds,
) -> Result<monitor::CheckReport, ActionError> {
    let listing = ctx.store().outlines()?;
    Ok(monitor::check_listing(
        listing,
        ctx.registry(),
        ctx.lifecycle().now(),
        thresholds,
    ))
}
