//! Whether an API key may be used from a client's address: [`check_address`], and
//! [`AddressRefused`] when it may not (the API answers 403, the pages show it).

use std::fmt;
use std::net::IpAddr;

use axum::http::StatusCode;
use preauth_core::api_keys::ApiKeyInfo;
use preauth_core::network::Network;

use crate::audit::Throttle;
use crate::error::ApiError;

/// A key used from an address outside its networks (or from one that cannot be known).
#[derive(Debug)]
pub(crate) struct AddressRefused {
    key: ApiKeyInfo,
    client: Option<IpAddr>,
}

/// Lets `key` be used by `client` (for `what`: "the API", "the pages") when the key's
/// networks allow it; else one audit line naming the key and the address (never the
/// key itself), and the refusal.
pub(crate) fn check_address(
    key: &ApiKeyInfo,
    client: Option<IpAddr>,
    what: &str,
    refusals: &Throttle,
) -> Result<(), AddressRefused> {
    if key.allows_address(client) {
        return Ok(());
    }
    let refused = AddressRefused {
        key: key.clone(),
        client,
    };
    refusals.refused(
        &format!("API key '{}'", key.name),
        format_args!(
            "was refused {what} from {}: its networks are {}",
            refused.from(),
            key.networks_text()
        ),
    );
    Err(refused)
}

impl AddressRefused {
    /// The client's address, or what stands for one that is not known.
    fn from(&self) -> String {
        match self.client {
            Some(addr) => addr.to_string(),
            None => "an address the server cannot tell".to_string(),
        }
    }
}

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = &self.key;
        write!(
            f,
            "the API key '{}' is not allowed from {}; its networks are {}; ",
            key.name,
            self.from(),
            key.networks_text()
        )?;
        let Some(client) = self.client else {
            return f.write_str(
                "a reverse proxy in front must be named with --trusted-proxy and write the client's address in X-Forwarded-For",
            );
        };
        // A key's networks are fixed when it is made: the operator makes a new one.
        let networks: Vec<String> = key
            .networks
            .iter()
            .map(Network::to_string)
            .chain([client.to_string()])
            .collect();
        write!(
            f,
            "ask the operator to replace the key with a new one of scope {} for the networks {} (a key's networks are fixed when it is made)",
            key.scope,
            networks.join(", "),
        )
    }
}

impl From<AddressRefused> for ApiError {
    fn from(refused: AddressRefused) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "address_not_allowed",
            refused.to_string(),
        )
    }
}
