//! Statements about the API keys of `preauth serve`: `create api key '…' scope …`, `show
//! api keys`, `drop api key '…'`.

use preauth_core::api_keys::Scope;
use preauth_core::error::Quoted;

use super::{Environment, ExecError};
use crate::output::{Cell, Table};

/// `create api key '…' scope …`: the key alone on standard output (printed this once;
/// only its hash is kept), how to use it on standard error.
pub(super) fn create(env: &Environment, name: &str, scope: Scope) -> Result<(), ExecError> {
    let key = env.api_keys().create(name, scope, env.lifecycle().now())?;
    env.print(&format!("{}\n", key.secret()))?;
    eprintln!(
        "API key {} ({scope}) created; it is shown this once: give it to the program as the header `Authorization: Bearer <key>`",
        Quoted(name)
    );
    Ok(())
}

/// `show api keys`.
pub(super) fn show(env: &Environment) -> Result<(), ExecError> {
    let mut table = Table::new(&["name", "scope", "created"]);
    for key in env.api_keys().list()? {
        table.push(vec![
            key.name.into(),
            key.scope.as_str().into(),
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
