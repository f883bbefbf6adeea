//! Why an action failed: the core's errors with their types (and so their `source()`
//! chains), and the causes of the actions' own checks.

use preauth_core::advice::Advice;
use preauth_core::api_keys::ApiKeyError;
use preauth_core::error::LifecycleError;
use preauth_core::notify::NotifyError;
use preauth_core::platform::{DiscoveryError, PlatformError};
use preauth_core::protector::ProtectError;
use preauth_core::store::StoreError;

use crate::app::AppSetting;

/// Why an action failed. Each message is one sentence; none holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The token lifecycle refused or failed.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or opening a secret failed.
    #[error("{0}")]
    Protect(#[from] ProtectError),
    /// A platform definition or a base URL cannot be used.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// A provider's metadata could not be used for a new platform.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// An API key could not be created, listed or dropped.
    #[error(transparent)]
    ApiKey(#[from] ApiKeyError),
    /// A webhook could not be created, listed, dropped or served.
    #[error(transparent)]
    Webhook(#[from] NotifyError),
    /// An action about machines on a store that is not shared.
    #[error(
        "machines are enrolled in a shared store only: run it with --store postgres://user@host/database (or PREAUTH_STORE)"
    )]
    NotShared,
    /// No machine of this name holds a key slot.
    #[error("no machine named '{name}' holds a key slot")]
    UnknownMachine {
        /// The name.
        name: String,
    },
    /// The platform has no host for the country asked for.
    #[error(
        "{platform} does not run in country '{country}'; use one of: {}",
        known.join(", ")
    )]
    UnknownCountry {
        /// The platform's display name.
        platform: String,
        /// The country asked for.
        country: String,
        /// The countries it runs in.
        known: Vec<String>,
    },
    /// No platform has this id.
    #[error("unknown platform '{id}'; known platforms: {}", known.join(", "))]
    UnknownPlatform {
        /// The id asked for.
        id: String,
        /// The ids known.
        known: Vec<String>,
    },
    /// A new platform with an id that is taken.
    #[error("a platform '{id}' exists already; pick another id")]
    PlatformExists {
        /// The id.
        id: String,
    },
    /// A return URL of another connection than the one named.
    #[error(
        "the return URL belonged to connection '{stored}', not '{expected}'; it was stored as '{stored}'"
    )]
    OtherConnection {
        /// The connection the URL belonged to (and was stored as).
        stored: String,
        /// The connection named.
        expected: String,
    },
    /// A new login for a name that is taken.
    #[error(
        "a connection named '{existing}' exists already; log in again with the app it stores (change that app first if it changed), or replace the connection"
    )]
    NameTaken {
        /// The stored spelling of the name.
        existing: String,
    },
    /// A registration for a name that is taken.
    #[error(
        "a connection named '{existing}' exists already; to register new tokens for it, drop it first, or choose another name"
    )]
    RegisterNameTaken {
        /// The stored spelling of the name.
        existing: String,
    },
    /// The time the tokens were obtained at is not a time.
    #[error("obtained at '{text}' is not a time like 2026-11-20T10:00:00Z")]
    BadTime {
        /// The text as written.
        text: String,
        /// Why it does not parse.
        source: humantime::TimestampError,
    },
    /// An app setting the connection needs is empty or left out.
    #[error(
        "the {setting} is missing, and {platform} needs one; nothing was stored: give the one the app registration shows"
    )]
    MissingAppSetting {
        /// The setting.
        setting: AppSetting,
        /// The platform's display name.
        platform: String,
    },
    /// A registration with a refresh token another stored connection holds.
    #[error(
        "the refresh token handed over for '{connection}' is the one connection '{holder}' holds already; nothing was stored: obtain new tokens for '{connection}' from the partner application (one pair per connection)"
    )]
    TokenHeld {
        /// The connection being registered.
        connection: String,
        /// The connection that holds the token.
        holder: String,
    },
}

impl ActionError {
    /// What repairs it: alternatives, each for a front end to put in its own terms.
    pub fn advice(&self) -> Vec<Advice> {
        match self {
            ActionError::Lifecycle(e) => e.advice(),
            ActionError::Store(e) => e.advice(),
            ActionError::ApiKey(e) => e.advice(),
            ActionError::Webhook(e) => e.advice(),
            ActionError::UnknownMachine { .. } => vec![Advice::ListMachines],
            ActionError::UnknownPlatform { id, .. } => {
                vec![Advice::CreatePlatform { id: id.clone() }]
            }
            ActionError::NameTaken { existing } => vec![
                Advice::LogInAgain {
                    connection: existing.clone(),
                },
                Advice::ChangeClientCredentials {
                    connection: existing.clone(),
                },
                Advice::DropOrRename {
                    connection: existing.clone(),
                },
            ],
            ActionError::RegisterNameTaken { existing } => vec![Advice::DropOrRename {
                connection: existing.clone(),
            }],
            _ => Vec::new(),
        }
    }
}
