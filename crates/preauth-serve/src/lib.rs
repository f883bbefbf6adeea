//! `preauth serve`: a JSON API over any store (a settings folder or PostgreSQL), for
//! partner applications that register tokens and for jobs that need access tokens
//! without holding the store's keys.
//!
//! - Routes, the API's and the pages', are listed once, in [`endpoints`]: the router is
//!   built from that list, and `openapi.json` next to this crate is checked against its
//!   API routes by a test.
//! - Every `/api/v1` route needs a bearer API key (see [`preauth_core::api_keys`]) whose
//!   scope covers the route, used from one of its networks when it is limited to some
//!   (behind a proxy, the client is read from `X-Forwarded-For` only when the proxy is
//!   in [`Options::trusted_proxies`]); `/healthz` and `/metrics` need none.
//! - Work that touches the store or the platform runs in a task of its own, so a client
//!   that goes away, a timeout or a shutdown never cuts a refresh between the
//!   platform's answer and the write.
//! - The token route is rate-limited per key; bodies are limited to 64 KiB.
//! - With [`Options::keep_alive`] it keeps the connections alive itself, daily, the
//!   replicas on one store sharing each pass (see [`KeepAliveOptions`]).
//! - It listens on loopback unless it speaks TLS itself (rustls, PEM files checked at
//!   start and read again by [`Certificates::reload`]) or is told it runs behind a proxy
//!   that terminates TLS.

#![deny(missing_docs)]

mod advice;
mod api_hosts;
mod audit;
mod auth;
mod client_addr;
mod connections;
mod error;
mod imports;
mod keep_alive;
mod key_address;
mod limits;
mod listen;
mod machines;
mod metrics;
mod monitoring;
mod options;
mod paging;
mod platforms;
mod rate;
mod routes;
mod state;
mod views;
mod web;
mod webhook_delivery;
mod work;

pub use api_hosts::ApiHost;
pub use error::ApiError;
pub use keep_alive::{At, KeepAliveOptions};
pub use listen::{
    Bound, Certificates, ServeError, TlsError, TlsFile, TlsFiles, bind, check_listen,
};
pub use options::Options;
pub use routes::{Endpoint, endpoints, router};
