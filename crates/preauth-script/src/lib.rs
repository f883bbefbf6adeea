//! The preauth script language: grammar, statements, parser, `${NAME}` substitution and the
//! REPL shell.
//!
//! The language is SQL-style and a superset of Invantive Script's `local` statements:
//! case-insensitive keywords, `--` and `/* */` comments, strings in single quotes (`''`
//! escapes a quote) or double quotes (`""` escapes one). Statements end with `;`; a `local`
//! statement also ends at the end of its line, and the last statement may omit its `;`.
//! The grammar is `grammar/preauth.pest` at the top of the workspace.
//!
//! How the pieces meet:
//!
//! - [`parse`] turns a whole script into [`Statement`]s (the AST in [`ast`]), or a
//!   [`ParseError`] that names the origin, line and column, shows the line with a caret and
//!   suggests the nearest keyword for a misspelling.
//! - The interpreter runs a script with [`split`] and, statement by statement,
//!   [`RawStatement::substitute_and_parse`], so that `${NAME}` sees the [`Defines`] made so
//!   far.
//! - [`repl::run_repl`] is the interactive shell; [`redact_for_history`] keeps secret literals
//!   out of its history.
//!
//! ```
//! use preauth_script::{parse, StatementKind};
//! let script = "LOCAL DEFINE env \"prod\"\nrefresh connection 'app' force;";
//! let statements = parse(script, "job.sql").unwrap();
//! assert!(matches!(&statements[0].kind, StatementKind::Define { name, value } if name == "env" && value == "prod"));
//! assert!(matches!(&statements[1].kind, StatementKind::RefreshConnection { force: true, .. }));
//!
//! let error = parse("shwo connections;", "-c").unwrap_err();
//! assert_eq!(error.help(), Some("did you mean 'show'?"));
//! ```

#![deny(missing_docs)]

pub mod advice;
pub mod ast;
pub mod diagnostics;
pub mod help;
pub mod interpreter;
mod keywords;
pub mod limits;
pub mod output;
mod pager;
pub mod parser;
mod redact;
mod redacted;
pub mod repl;
mod scan;
mod secrets_in_text;
mod spelling;
pub mod substitute;
mod terminal;

pub use ast::{
    App, ClientAuthentication, CreatePlatform, ExportMode, Location, OnErrorMode,
    PlatformEndpoints, Preauthenticate, RefreshTokens, Register, SecretText, Statement,
    StatementKind,
};
pub use diagnostics::{ParseError, ParseErrorKind};
pub use keywords::{keywords, statement_keywords};
pub use parser::{RawStatement, StatementError, parse, split};
pub use redact::{REDACTED, holds_redacted_secret, redact_for_history};
pub use repl::{ReplExit, ReplOutcome, is_interactive, run_repl};
pub use substitute::{Defines, SubstituteError, substitute};
