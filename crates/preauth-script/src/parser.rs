//! From script text to [`Statement`]s.
//!
//! [`parse`] reads a whole script. The interpreter instead calls [`split`] and, for each
//! [`RawStatement`], [`RawStatement::substitute_and_parse`] just before running it, so that
//! `${NAME}` sees the defines made by earlier statements.
//!
//! The steps, one module each:
//!
//! - `boundaries` cuts a script into statements at their boundaries (with the
//!   scanner) and keeps each one's place; `lines` turns offsets into lines and columns.
//! - `dispatch` picks the grammar rule for a statement from its first keyword.
//! - `build` turns the pest pairs of a parsed statement into the AST.
//! - `explain` translates a pest failure into the language's own error.

mod boundaries;
mod build;
mod dispatch;
mod explain;
mod lines;
mod text;

use std::fmt;
use std::sync::Arc;

use crate::ast::{Location, Statement};
use crate::diagnostics::{ParseError, TextPlace};

use boundaries::scan_checked;
pub use boundaries::{RawStatement, StatementError, split};
use lines::LineTracker;
use text::parse_text;

/// Parses a whole script. `origin` names it in errors: a file name, `<stdin>` or `-c`.
///
/// Text is parsed as written: `${NAME}` inside a string is kept literally, and outside a
/// string it is a syntax error. Use [`split`] and [`RawStatement::substitute_and_parse`] to run
/// a script with substitution.
///
/// ```
/// use preauth_script::{parse, StatementKind};
/// let statements = parse("show connections;\nlocal echo done", "-c").unwrap();
/// assert!(matches!(statements[0].kind, StatementKind::ShowConnections));
/// assert_eq!(statements[1].location.line, 2);
/// ```
pub fn parse(source: &str, origin: &str) -> Result<Vec<Statement>, ParseError> {
    let origin: Arc<str> = Arc::from(origin);
    let pieces = scan_checked(source, &origin)?;
    let mut lines = LineTracker::new(source);
    // Sized up front: growing a vector of statements step by step copies them again and
    // again, which shows in the throughput of long scripts.
    let mut statements = Vec::with_capacity(pieces.len());
    for piece in &pieces {
        let place = lines.place(piece.start);
        let text = source.get(piece.start..piece.end).unwrap_or("");
        let location = Location {
            origin: Arc::clone(&origin),
            line: place.line,
            column: place.column,
            offset: piece.start,
        };
        let text_place = TextPlace {
            text,
            lead: source.get(place.line_start..piece.start).unwrap_or(""),
            line: place.line,
            column: place.column,
            whole_statement: true,
        };
        statements.push(parse_text(text_place, &origin, location, None)?);
    }
    Ok(statements)
}

/// Parses one statement's text on its own (origin `<input>`, line 1).
pub(crate) fn parse_one(text: &str) -> Result<Statement, ParseError> {
    let origin: Arc<str> = Arc::from("<input>");
    let place = TextPlace {
        text,
        lead: "",
        line: 1,
        column: 1,
        whole_statement: true,
    };
    let location = Location {
        origin: Arc::clone(&origin),
        line: 1,
        column: 1,
        offset: 0,
    };
    parse_text(place, &origin, location, None)
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.origin, self.line, self.column)
    }
}
