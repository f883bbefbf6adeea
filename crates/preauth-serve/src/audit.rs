//! The audit log: one line on standard error (the service's journal) for every change
//! and every refused login, naming who (the login link, an API key by its name) and the
//! connection, never a secret.

/// Writes one line about what `who` did: names and actions only, never a secret.
pub(crate) fn audit(who: &str, what: std::fmt::Arguments<'_>) {
    eprintln!("preauth serve: {who}: {what}");
}

/// Who called the API: the name of the key it presented (put in the request's
/// extensions by the key check).
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) String);

impl Caller {
    /// The caller as the log names it.
    pub(crate) fn who(&self) -> String {
        format!("API key '{}'", self.0)
    }
}
