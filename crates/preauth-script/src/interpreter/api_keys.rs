//! Statements about the API keys of `preauth serve`: `create api key '…' scope … [from
//! '<cidr>', …]`, `show api keys`, `drop api key '…'`.

use preauth_core::api_keys::Scope;
use preauth_core::error::Quoted;
use preauth_core::network::Network;

use super::environment::Environment;
use super::exec_error::ExecError;
use crate::output::{Cell, Table};

/// `create api key '…' scope … [from …]`: the key alone on standard output (printed this
/// once; only its hash is kept), how to use it on standard error.
pub(super) fn create(
    env: &Environment,
    name: &str,
    scope: Scope,
    networks: &[Network],
) -> Result<(), ExecError> {
    let key = env
        .api_keys()
        .create(name, scope, networks.to_vec(), env.lifecycle().now())?;
    env.print(&crate::output::value(env.format, key.secret()))?;
    let from = if networks.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = networks.iter().map(Network::to_string).collect();
        format!(", usable from {} only", list.join(", "))
    };
    eprintln!(
        "API key {} ({scope}{from}) created; it is shown this once: give it to the program as the header `Authorization: Bearer <key>`",
        Quoted(name)
    );
    Ok(())
}

/// `show api keys`.
pub(super) fn show(env: &Environment) -> Result<(), ExecError> {
    let mut table = Table::new(&["name", "scope", "networks", "created"]);
    for key in env.api_keys().list()? {
        table.push(vec![
            key.name.as_str().into(),
            key.scope.as_str().into(),
            key.networks_text().into(),
            Cell::Time(key.created_at),
        ]);
    }
    env.print(&table.render(env.format))
}

/// `drop api key '…'`: the key stops working at once, also in a running server.
pub(super) fn drop(env: &Environment, name: &str) -> Result<(), ExecError> {
    env.api_keys().drop_key(name)?;
    env.note(&format!("API key {} dropped\n", Quoted(name)))
}
