//! The monitoring judgement: how close each connection is to needing a new login.
//! Shared by `preauth check`, `check connections` and anything that reports health
//! (such as a web page), over any [`crate::store::Store`].
//!
//! Follows the Nagios / Icinga plugin conventions: one status line
//! `PREAUTH WARNING - acme-be: refresh token expires in 5 days (2026-12-01) | connections=3 expiring=1 failed=0`
//! and the exit codes 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. It only reads: it never
//! refreshes, so running it every few minutes costs the platform nothing.

mod judge;
mod report;
mod tally;

pub use judge::{
    CheckReport, CheckState, ConnectionCheck, Thresholds, check, check_listing, recorded_advice,
    refresh_failure,
};
pub use report::SUMMARY_NAMED;
pub use tally::{Tally, tally};
