//! The limits every request is held to.

use std::time::Duration;

/// The largest request body accepted, in bytes.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// How long a request may take before it is answered with 504 (work it started on the
/// store or at the platform still finishes).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
