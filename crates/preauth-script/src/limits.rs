//! Size limits against hostile or runaway input.
//!
//! The grammar has no recursive rule, so nesting depth is bounded by construction; these
//! limits bound time and memory instead.

/// The largest script [`crate::parse`] and [`crate::split`] accept: 64 MiB.
pub const MAX_SOURCE_BYTES: usize = 64 * 1024 * 1024;

/// The longest single statement: 1 MiB. A longer one is almost always a missing `;` or quote.
pub const MAX_STATEMENT_BYTES: usize = 1024 * 1024;

/// How deep `${NAME}` substitution may nest (a value referring to a value …).
pub const MAX_SUBSTITUTION_DEPTH: usize = 16;

/// The longest text substitution may produce: 4 MiB.
pub const MAX_SUBSTITUTED_BYTES: usize = 4 * 1024 * 1024;
