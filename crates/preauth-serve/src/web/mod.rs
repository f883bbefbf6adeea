//! The web pages of `preauth serve`: server-rendered HTML that needs no JavaScript and
//! loads nothing from elsewhere.
//!
//! - [`login`]: the one-time login URL printed at start, or an admin API key.
//! - [`preauthenticate`]: the Preauthenticate form, the platform's login, the server's
//!   own callback or the Exchange Code form for a deviating redirect URI.
//! - [`connections`]: the connections with their check, a connection's result page
//!   (settings file, `encrypt connection` statement), log in again, drop.
//! - [`register`]: the OEM form that registers tokens obtained elsewhere.
//!
//! Every form carries the session's CSRF token; every response carries a strict
//! Content-Security-Policy (see [`headers`]). The routes of the pages are in the
//! one route table, [`crate::routes`]; [`crate::state::Web`] is what the pages share.

pub(crate) mod app_settings;
pub(crate) mod binding;
pub(crate) mod connections;
pub(crate) mod error_page;
pub(crate) mod forms;
pub(crate) mod headers;
pub(crate) mod layout;
pub(crate) mod login;
pub(crate) mod page_error;
pub(crate) mod platforms;
pub(crate) mod preauthenticate;
pub(crate) mod register;
pub(crate) mod respond;
pub(crate) mod session;
pub(crate) mod signed;
