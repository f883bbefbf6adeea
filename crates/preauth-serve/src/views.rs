//! How the API and the pages show connections: the API's JSON (documented in
//! `openapi.json`: booleans are booleans, what is absent is `null`, times are RFC 3339)
//! and the words of the pages.

use std::time::SystemTime;

use maud::Markup;
use preauth_actions::overview::{Details, RefreshExpiry, Standing, Summary};
use preauth_core::error::When;
use serde_json::{Value, json};

/// A time as the API writes it.
fn rfc3339(at: Option<SystemTime>) -> Value {
    at.map_or(Value::Null, |t| {
        json!(humantime::format_rfc3339_seconds(t).to_string())
    })
}

/// The fields of a standing, as both JSON objects carry them.
fn standing_fields(standing: &Standing) -> [(&'static str, Value); 6] {
    [
        ("advice", crate::advice::for_api(&standing.advice)),
        ("status", json!(standing.status)),
        ("problem", json!(standing.problem)),
        (
            "access_token_expires",
            rfc3339(standing.access_token_expires_at),
        ),
        (
            "refresh_token_expires",
            rfc3339(standing.refresh_token_expires.at()),
        ),
        (
            "refresh_token_never_expires",
            json!(standing.refresh_token_expires == RefreshExpiry::Never),
        ),
    ]
}

/// One connection of the API's listing.
pub(crate) fn summary_json(summary: &Summary) -> Value {
    let mut object = json!({
        "name": summary.name,
        "platform": summary.platform,
        "country": summary.country,
        "api_url": summary.api_url,
        "encrypted": summary.encrypted,
    });
    for (key, value) in standing_fields(&summary.standing) {
        object[key] = value;
    }
    object
}

/// One connection, all but its secrets' values; `stored_in` only for the operator's keys
/// (a partner's key learns nothing of the server's files or database).
pub(crate) fn details_json(details: &Details, with_location: bool) -> Value {
    let mut object = json!({
        "name": details.name,
        "platform": details.platform,
        "api_url": details.api_url,
        "client_id": details.client_id,
        "client_secret": details.has_client_secret,
        "redirect_url": details.redirect_url,
        "access_token": details.has_access_token,
        "refresh_token": details.has_refresh_token,
        "refresh_token_obtained": rfc3339(details.refresh_token_obtained_at),
        "last_refresh_failure": details.last_refresh_failure,
        "encrypted": details.encrypted,
    });
    for (key, value) in standing_fields(&details.standing) {
        object[key] = value;
    }
    if with_location {
        object["stored_in"] = json!(details.stored_in);
    }
    object
}

/// A time as the pages write it (`2026-12-05 14:00 UTC`), or nothing.
pub(crate) fn when(at: Option<SystemTime>) -> String {
    at.map(|t| When(t).to_string()).unwrap_or_default()
}

/// When a refresh token expires, as the pages write it.
pub(crate) fn refresh_expiry(expiry: RefreshExpiry) -> String {
    match expiry {
        RefreshExpiry::At(at) => When(at).to_string(),
        RefreshExpiry::Never => "does not expire".to_string(),
        RefreshExpiry::Unknown => String::new(),
    }
}

/// Why a connection cannot be used or renewed, with what repairs it in the pages' terms.
pub(crate) fn problem(standing: &Standing) -> Option<Markup> {
    standing
        .problem
        .as_deref()
        .map(|problem| crate::advice::for_pages(problem, &standing.advice))
}

/// A yes or no for the pages.
pub(crate) fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}
