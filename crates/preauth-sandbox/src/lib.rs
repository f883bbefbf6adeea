//! An Exact Online and Twinfield compatible OAuth2 authorization server on 127.0.0.1.
//!
//! The sandbox is as strict and as peculiar as the real platforms, so code tuned against it
//! survives production: Exact's single-use refresh tokens, its `expires_in` as a JSON string,
//! its "Access token not expired" refusal, percent-encoded codes containing `!`, daily budgets
//! and the block after too many errors; Twinfield's `nonce`, HTTP Basic client authentication,
//! reusable refresh tokens and `accesstokenvalidation`.
//!
//! All time comes from a [`VirtualClock`] that tests advance; faults ([`Fault`]) are injected
//! into the next token requests; [`Counters`] tell tests what happened.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use preauth_sandbox::{App, Login, Sandbox, SandboxConfig, approve};
//! let sandbox = Sandbox::spawn(SandboxConfig::default()).await?;
//! let authorize = format!(
//!     "{}/api/oauth2/auth?client_id={}&redirect_uri={}&response_type=code&state=xyz",
//!     sandbox.base_url(),
//!     "%7Bb81cc4de-d192-400e-bcb4-09254394c52a%7D",
//!     "http%3A%2F%2F127.0.0.1%3A53682%2Fcallback",
//! );
//! let redirect = approve(&authorize, &Login::demo()).await?;
//! assert!(redirect.starts_with(App::DEMO_REDIRECT_URI));
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The Twinfield side also publishes its OpenID Connect Discovery document at
//! `/auth/authentication/.well-known/openid-configuration`.
//!
//! # Admin endpoints
//!
//! For tests that drive a separate `preauth sandbox` process:
//! - `POST /sandbox/clock/advance?seconds=N`: advances the virtual clock; answers
//!   `{"offset_seconds": .., "now": "<RFC 3339>"}` (`seconds=0` just reads it).
//! - `GET /sandbox/counters`: the [`Counters`] as JSON.
//! - `POST /sandbox/faults` with a JSON body such as `{"fault": "drop_after_rotate"}`,
//!   `{"fault": "delay", "millis": 250}`, `"http500"`, `"invalid_json"` or `"plain_text400"`:
//!   queues a [`Fault`] for the next token request.
#![deny(missing_docs)]

mod admin;
mod api;
mod api_error;
mod approve;
mod authorize;
mod clock;
mod config;
mod counters;
mod cuttable;
mod error;
mod fault;
mod limits;
mod pages;
mod params;
mod platform;
mod routes;
mod server;
mod state;
mod timefmt;
mod token;
mod tokens;

pub use approve::{Login, approve};
pub use clock::VirtualClock;
pub use config::{App, Limits, SandboxConfig, load_apps};
pub use counters::Counters;
pub use error::SandboxError;
pub use fault::Fault;
pub use routes::router;
pub use server::Sandbox;
pub use state::SandboxState;
