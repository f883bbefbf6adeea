//! Statements about the machines of a shared store: `enroll machine`, `enroll machine
//! with code '…'`, `show machines`, `drop machine '…'`.

use preauth_actions::machines::{self, CODE_VALID_FOR};
use preauth_core::error::{Quoted, When};

use super::environment::Environment;
use super::exec_error::ExecError;
use crate::output::{Cell, Table};

/// `enroll machine`: a one-time code (a secret, printed on purpose) and the statement
/// that uses it on the new machine.
pub(super) fn enrollment_code(env: &Environment) -> Result<(), ExecError> {
    let code = machines::enrollment_code(env)?;
    let until = When(env.lifecycle().now() + CODE_VALID_FOR);
    // The code alone on standard output (for a script to pass on); how to use it on
    // standard error, whatever the output format.
    env.print(&crate::output::value(env.format, code.as_str()))?;
    eprintln!(
        "this code enrolls one machine until {until}; on the new machine run: preauth --store '{}' -c \"enroll machine with code '{}'\" (with the password in the URL)",
        env.store().location(),
        code.as_str()
    );
    Ok(())
}

/// `enroll machine with code '…'`.
pub(super) fn enroll(env: &Environment, code: &str) -> Result<(), ExecError> {
    let slot = machines::enroll(env, code)?;
    env.note(&format!(
        "this machine is enrolled as {} in {}\n",
        Quoted(&slot),
        env.store().location()
    ))
}

/// `show machines`.
pub(super) fn show(env: &Environment) -> Result<(), ExecError> {
    let mut table = Table::new(&[
        "name",
        "kind",
        "created",
        "last used",
        "expires",
        "this machine",
    ]);
    for m in machines::list(env)? {
        table.push(vec![
            m.name.into(),
            m.kind.into(),
            Cell::Time(m.created_at),
            Cell::time(m.last_used_at),
            Cell::time(m.expires_at),
            Cell::Flag(m.this_machine),
        ]);
    }
    env.print(&table.render(env.format))
}

/// `drop machine '…'`.
pub(super) fn drop(env: &Environment, name: &str) -> Result<(), ExecError> {
    machines::drop_machine(env, name)?;
    env.note(&format!("machine {} dropped\n", Quoted(name)))
}
