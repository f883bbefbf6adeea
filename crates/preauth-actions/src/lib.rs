//! What a preauth user does, once for every front end.
//!
//! The script language (REPL and batch), the web pages and the JSON API of `preauth serve`
//! are front ends: each parses its user's input into a typed request, calls an action
//! here, and renders the typed outcome (or error) in its user's terms. An action never
//! prints and knows no statement, page or route.
//!
//! | action | request | outcome |
//! | --- | --- | --- |
//! | [`login::new_login`], [`login::login_again`] | name and [`AppSettings`], or a name | the connection to log in for |
//! | [`login::start`] | a connection | the authorization URL and the pending login |
//! | [`login::finish`] | the return URL | the stored connection |
//! | [`register::register`] | [`register::TokensHandedOver`] | the registration |
//! | [`connections::alter`] | a name and [`connections::AppChanges`] | [`connections::Altered`] |
//! | [`connections::drop_connection`] | a name | whether there was one |
//! | [`connections::import`] | a settings file | the names imported |
//! | [`platforms::create`] | [`platforms::NewPlatform`] | its id |
//! | [`overview::summaries`] | a listing of the store | [`overview::Summary`] per connection |
//! | [`overview::details`] | a name | [`overview::Details`] |
//! | [`token::access_token`] | a name | the access grant |
//! | [`token::refresh`] | a name and whether to force | the access grant |
//! | [`machines::enrollment_code`], [`machines::enroll`] | nothing, or a code | the code, or this machine's slot |
//! | [`machines::list`], [`machines::drop_machine`] | nothing, or a slot's name | the slots, or nothing |
//! | [`webhooks::create`], [`webhooks::list`], [`webhooks::drop_webhook`] | a [`preauth_core::notify::NewWebhook`] or a name | its secret (once), the webhooks |
//! | [`webhooks::deliveries`], [`webhooks::deliver`] | nothing, or a time bound | what was sent, what one round sent |

#![deny(missing_docs)]

mod app;
pub mod connections;
mod context;
mod error;
pub mod login;
pub mod machines;
pub mod overview;
pub mod platforms;
pub mod register;
mod store_secrets;
pub mod token;
pub mod webhooks;

pub use app::{AppSetting, AppSettings};
pub use context::Context;
pub use error::ActionError;
