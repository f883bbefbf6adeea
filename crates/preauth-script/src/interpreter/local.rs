//! The secret statements: `encrypt`, `decrypt` and `local define encrypted`.
//!
//! `encrypt connection`, `encrypt value` and `local define encrypted` share the label
//! [`SCRIPT_LABEL`]: text printed by `encrypt` is what `define encrypted` opens. Settings
//! files seal each connection string under the connection's own name instead, so a
//! string sealed for one connection never opens as another.

use preauth_core::connstr::ConnectionString;

use super::{Environment, ExecError};
use crate::ast::SecretText;
use crate::substitute::Defines;

/// The label of secrets sealed by `encrypt` statements for use in scripts.
pub const SCRIPT_LABEL: &str = "preauth-script";

/// `local define encrypted NAME "dk1:…"`: defines NAME as the opened value.
pub(super) fn define_encrypted(
    env: &Environment,
    defines: &mut Defines,
    name: &str,
    value: &SecretText,
) -> Result<(), ExecError> {
    let plain = env.protector().open(value.secret(), SCRIPT_LABEL)?;
    defines.define_secret(name, plain.as_str());
    Ok(())
}

/// `encrypt connection '…'`: checks that it is a connection string, then seals it.
pub(super) fn encrypt_connection(env: &Environment, text: &SecretText) -> Result<(), ExecError> {
    ConnectionString::parse(text.secret())
        .map_err(|e| ExecError::Invalid(format!("not a connection string: {e}")))?;
    encrypt_value(env, text)
}

/// `encrypt value '…'`: seals any secret.
pub(super) fn encrypt_value(env: &Environment, text: &SecretText) -> Result<(), ExecError> {
    let sealed = env.protector().seal(text.secret(), SCRIPT_LABEL)?;
    env.print(&format!("{sealed}\n"))
}

/// `decrypt connection '…'`: prints the plain text (asked for explicitly).
pub(super) fn decrypt(env: &Environment, text: &SecretText) -> Result<(), ExecError> {
    let plain = env.protector().open(text.secret(), SCRIPT_LABEL)?;
    env.print(&format!("{}\n", plain.as_str()))
}
