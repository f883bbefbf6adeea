//! What the forms share: [`Posted`], the extractor every form of a logged-in visitor
//! goes through (so that no handler can forget the CSRF check), the app fields of the
//! Preauthenticate and Register forms, and errors shown beside their field.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use maud::{Markup, html};
use preauth_actions::{ActionError, AppSettings};
use preauth_core::secret::ClientSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::layout::Field;
use super::page_error::PageError;
use super::platforms;
use super::session::Visitor;
use super::signed::Signed;
use crate::advice::for_pages;
use crate::error::action_sentence;
use crate::state::AppState;

/// A form posted by a logged-in visitor, carrying this session's CSRF token (checked
/// before the fields are read).
pub(crate) struct Posted<T> {
    /// Who posted it.
    pub(crate) visitor: Visitor,
    /// The form's fields.
    pub(crate) form: T,
}

/// A form with no fields of its own (a button).
#[derive(Deserialize)]
pub(crate) struct Button {}

/// The CSRF token of a form; its other fields are read afterwards.
#[derive(Deserialize)]
struct Token {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Posted<T>, PageError> {
        let (mut parts, body) = request.into_parts();
        let Signed(visitor) = Signed::from_request_parts(&mut parts, state).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| PageError::BadRequest(e.body_text()))?;
        let token: Token = parse(&bytes)?;
        visitor.check_csrf(&token.csrf)?;
        Ok(Posted {
            visitor,
            form: parse(&bytes)?,
        })
    }
}

/// The fields of a form body (`application/x-www-form-urlencoded`).
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PageError> {
    serde_urlencoded::from_bytes(bytes).map_err(|_| {
        PageError::BadRequest(
            "The form could not be read; reload the page and send it again.".into(),
        )
    })
}

/// The fields of the app and the connection's name, as the Preauthenticate and Register
/// forms have them (secrets are never sent back into a page).
#[derive(Deserialize, Default)]
pub(crate) struct AppFields {
    #[serde(default)]
    pub(crate) name: String,
    /// The select's value (see [`platforms::parse`]).
    #[serde(default)]
    pub(crate) platform: String,
    #[serde(default)]
    pub(crate) api_url: String,
    #[serde(default)]
    pub(crate) client_id: String,
    #[serde(default)]
    pub(crate) client_secret: String,
}

impl AppFields {
    /// New fields with the first choice of the platform select.
    pub(crate) fn new() -> AppFields {
        AppFields {
            platform: "exact-online/nl".into(),
            ..AppFields::default()
        }
    }

    /// Sets the errors of required fields that are empty.
    pub(crate) fn check(&self, errors: &mut Errors) {
        if self.name.trim().is_empty() {
            errors.set("name", "Give the connection a name.");
        }
        if self.client_id.trim().is_empty() {
            errors.set("client_id", "Enter the app's client id.");
        }
    }

    /// The connection's name and the app, with `redirect_url`.
    pub(crate) fn app(&self, redirect_url: &str) -> (String, AppSettings) {
        let (platform, country) = platforms::parse(&self.platform);
        let app = AppSettings {
            platform,
            country,
            api_url: Some(self.api_url.trim().to_string()).filter(|u| !u.is_empty()),
            client_id: self.client_id.trim().to_string(),
            client_secret: Some(self.client_secret.clone())
                .filter(|s| !s.is_empty())
                .map(ClientSecret::new),
            redirect_url: redirect_url.trim().to_string(),
        };
        (self.name.trim().to_string(), app)
    }
}

/// Errors by field name; `""` holds the one for the whole form.
#[derive(Default)]
pub(crate) struct Errors(HashMap<&'static str, Markup>);

impl Errors {
    /// Sets the error of `field` (`""`: the whole form), unless it has one.
    pub(crate) fn set(&mut self, field: &'static str, message: impl Into<String>) {
        let message = message.into();
        self.set_shown(field, html! { (message) });
    }

    /// Sets the error of `field` as shown (with its advice's links), unless it has one.
    pub(crate) fn set_shown(&mut self, field: &'static str, shown: Markup) {
        self.0.entry(field).or_insert(shown);
    }

    /// The error of `field`.
    pub(crate) fn of(&self, field: &str) -> Option<&Markup> {
        self.0.get(field)
    }

    /// The form field `name` with its label, help text and the error beside it, if any.
    pub(crate) fn field<'a>(&'a self, name: &'a str, label: &'a str, help: &'a str) -> Field<'a> {
        Field {
            name,
            label,
            help,
            error: self.of(name),
        }
    }

    /// Whether there is none.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `error` of an action beside the field of an app form it concerns; `more` names
    /// the fields of errors only one form has.
    pub(crate) fn from_action(
        error: &ActionError,
        more: impl Fn(&ActionError) -> Option<&'static str>,
    ) -> Errors {
        use preauth_core::store::StoreError;
        let field = match error {
            ActionError::NameTaken { .. }
            | ActionError::RegisterNameTaken { .. }
            | ActionError::Store(StoreError::InvalidName { .. }) => "name",
            ActionError::UnknownPlatform { .. } | ActionError::UnknownCountry { .. } => "platform",
            ActionError::Platform(_) => "api_url",
            other => more(other).unwrap_or(""),
        };
        let mut errors = Errors::default();
        errors.set_shown(field, action_shown(error));
        errors
    }
}

/// An action's error as a page shows it: its sentence, then each advice as a link to the
/// page or form that does it.
pub(crate) fn action_shown(error: &ActionError) -> Markup {
    for_pages(&capitalized(&action_sentence(error)), &error.advice())
}

/// `text` as a sentence: capital first letter, full stop.
pub(crate) fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with(['.', '?', '!']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Both {
        #[serde(flatten)]
        app: AppFields,
        #[serde(default)]
        redirect_uri: String,
        deviating: Option<String>,
    }

    #[test]
    fn the_app_fields_flatten_into_a_form() {
        let both: Both = parse(
            b"csrf=x&name=+books+&platform=exact-online%2Fbe&client_id=c&redirect_uri=r&deviating=on",
        )
        .unwrap();
        let (name, app) = both.app.app(&both.redirect_uri);
        assert_eq!(name, "books");
        assert_eq!(
            (app.platform.as_str(), app.country.as_deref()),
            ("exact-online", Some("be"))
        );
        assert!(app.client_secret.is_none() && app.api_url.is_none());
        assert_eq!(app.redirect_url, "r");
        assert!(both.deviating.is_some());
        assert_eq!(capitalized("no such thing"), "No such thing.");
    }
}
