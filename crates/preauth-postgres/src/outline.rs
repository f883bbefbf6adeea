//! Outlines in the store: each row keeps its connection string without secrets
//! (`outline`, see [`preauth_core::settings::keys::outline`]) beside the sealed one, so
//! that listings, `preauth check` and `/metrics` read many connections and open none.

use preauth_core::connection::Connection;
use preauth_core::platform::Registry;
use preauth_core::sealing::Sealer;
use preauth_core::settings::keys::outline;
use preauth_core::store::StoreError;

use crate::summary::Summary;

/// The outline of `connection` as the text the row keeps (a plain connection string),
/// and its summary.
pub(crate) fn outline_text(
    connection: &Connection,
    registry: &Registry,
    location: &str,
) -> Result<(String, Summary), StoreError> {
    let outlined = outline(connection);
    let text = Sealer::new(None)
        .seal_connection(&outlined, registry)
        .map(|sealed| sealed.text)
        .map_err(|e| e.at(location, &connection.name))?;
    Ok((text, Summary::of(&outlined)))
}

/// The connection an outline text describes (its secrets placeholders).
pub(crate) fn read_outline(
    name: &str,
    provider: &str,
    text: &str,
    registry: &Registry,
    location: &str,
) -> Result<Connection, StoreError> {
    Sealer::new(None)
        .open_connection(name, provider, text, registry)
        .map_err(|e| e.at(location, name))
}
