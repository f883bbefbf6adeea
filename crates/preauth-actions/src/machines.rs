//! The machines of a shared store: enroll one, list them, drop one.

use std::time::Duration;

use preauth_core::store::{Fleet, Machine};
use zeroize::Zeroizing;

use crate::{ActionError, Context};

/// How long an enrollment code works.
pub const CODE_VALID_FOR: Duration = Duration::from_secs(15 * 60);

/// The store's machines, or [`ActionError::NotShared`] for a store of one machine.
fn fleet(ctx: &Context) -> Result<&dyn Fleet, ActionError> {
    ctx.store().fleet().ok_or(ActionError::NotShared)
}

/// A one-time code (a secret) that enrolls one more machine within [`CODE_VALID_FOR`];
/// only an enrolled machine makes one.
pub fn enrollment_code(ctx: &Context) -> Result<Zeroizing<String>, ActionError> {
    Ok(fleet(ctx)?.enrollment_code(CODE_VALID_FOR)?)
}

/// Enrolls this machine with `code`; the outcome is its slot's name.
pub fn enroll(ctx: &Context, code: &str) -> Result<String, ActionError> {
    Ok(fleet(ctx)?.enroll(code)?)
}

/// The key slots of the store: machines, key files and unused enrollment codes.
pub fn list(ctx: &Context) -> Result<Vec<Machine>, ActionError> {
    Ok(fleet(ctx)?.machines()?)
}

/// Drops the key slot `name`; [`ActionError::UnknownMachine`] when there is none.
pub fn drop_machine(ctx: &Context, name: &str) -> Result<(), ActionError> {
    match fleet(ctx)?.drop_machine(name)? {
        true => Ok(()),
        false => Err(ActionError::UnknownMachine { name: name.into() }),
    }
}
