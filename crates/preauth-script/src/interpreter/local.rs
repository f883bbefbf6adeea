//! The secret statements: `encrypt`, `decrypt` and `local define encrypted`.
//!
//! Labels (see [`preauth_core::protector`]):
//! - `encrypt connection` seals under [`CONNECTION_STRING_LABEL`], the label the settings
//!   folder accepts in a hand-written `settings-<NAME>.xml` (Invantive's "Encrypt
//!   Statement" workflow: paste the value as `connectionString` on the same machine);
//! - `encrypt value` seals under [`SCRIPT_LABEL`];
//! - `local define encrypted` opens either;
//! - `decrypt connection` opens any of those and also a `connectionString` copied from a
//!   settings file here, which the folder seals under the connection's own name.

use preauth_core::connstr::ConnectionString;
use preauth_core::protector::{CONNECTION_STRING_LABEL, ProtectError, ProtectErrorKind};
use zeroize::Zeroizing;

use super::environment::Environment;
use super::exec_error::ExecError;
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
    let plain = open_first(
        env,
        value.secret(),
        &[SCRIPT_LABEL, CONNECTION_STRING_LABEL],
    )?;
    defines.define_secret(name, plain.as_str());
    Ok(())
}

/// `encrypt connection '…'`: checks that it is a connection string, then seals it under
/// [`CONNECTION_STRING_LABEL`], so that it can be pasted into a settings file here.
pub(super) fn encrypt_connection(env: &Environment, text: &SecretText) -> Result<(), ExecError> {
    ConnectionString::parse(text.secret()).map_err(ExecError::NotAConnectionString)?;
    let sealed = env
        .protector()
        .seal(text.secret(), CONNECTION_STRING_LABEL)?;
    env.print(&crate::output::value(env.format, &sealed.to_string()))
}

/// `encrypt value '…'`: seals any secret.
pub(super) fn encrypt_value(env: &Environment, text: &SecretText) -> Result<(), ExecError> {
    let sealed = env.protector().seal(text.secret(), SCRIPT_LABEL)?;
    env.print(&crate::output::value(env.format, &sealed.to_string()))
}

/// `decrypt connection '…'`: prints the plain text (asked for explicitly). Opens what
/// `encrypt` printed, and a `connectionString` copied from a settings file in this
/// folder (sealed under its connection's name).
pub(super) fn decrypt(env: &Environment, text: &SecretText) -> Result<(), ExecError> {
    let mut labels = vec![
        CONNECTION_STRING_LABEL.to_string(),
        SCRIPT_LABEL.to_string(),
    ];
    labels.extend(env.store().names().unwrap_or_default());
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let plain = open_first(env, text.secret(), &labels)?;
    env.print(&crate::output::value(env.format, plain.as_str()))
}

/// Opens `sealed` under the first of `labels` that fits. When none fits, the error is the
/// first label's (altered, or sealed for something else); any other cause (another
/// device, a missing key, malformed text) is reported at once.
fn open_first(
    env: &Environment,
    sealed: &str,
    labels: &[&str],
) -> Result<Zeroizing<String>, ProtectError> {
    let mut first = None;
    for label in labels {
        match env.protector().open(sealed, label) {
            Ok(plain) => return Ok(plain),
            Err(e) if e.kind == ProtectErrorKind::TamperedOrWrongLabel => {
                first.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(first.unwrap_or_else(|| ProtectError {
        kind: ProtectErrorKind::TamperedOrWrongLabel,
        message: "the sealed text does not open here".into(),
    }))
}
