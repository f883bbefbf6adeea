//! Platforms as data: one record per authorization server.
//!
//! Exact Online, Twinfield and user-defined OAuth2 / OpenID Connect providers differ
//! only in the values of a [`Platform`]; no code path asks "is this Exact?". Paths are
//! relative to a base URL so that one record serves every Exact country and the
//! sandbox on 127.0.0.1 alike (the base-URL override is just another base).
//!
//! - [`Platform`] (module `record`): the record, its built-in values and its errors;
//! - [`GenericPlatform`]: a user-defined OAuth2 / OpenID Connect provider;
//! - discovery: reading an OpenID Connect provider's metadata;
//! - the platforms document (module `file`) and the [`Registry`] of the platforms a run
//!   knows.

mod discovery;
mod file;
mod generic;
mod record;
mod registry;

pub use discovery::{DiscoveryError, ProviderMetadata, discovery_url};
pub use file::{PLATFORMS_FILE, append as append_to_documents};
pub use generic::GenericPlatform;
pub use record::{ClientAuth, Host, Platform, PlatformError, outbound_url_refusal};
pub use registry::Registry;
