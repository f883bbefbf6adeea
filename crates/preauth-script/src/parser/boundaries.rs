//! Statement boundaries: cutting a script into [`RawStatement`]s with their places.

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::lines::{LineTracker, tail};
use super::text::parse_text;
use crate::ast::{Location, Statement};
use crate::diagnostics::{ParseError, ParseErrorKind, TextPlace};
use crate::limits::{MAX_SOURCE_BYTES, MAX_STATEMENT_BYTES};
use crate::scan::{self, Piece, ScanError};
use crate::substitute::{Defines, SubstituteError, substitute};

/// Cuts a script into statements without parsing them (only strings, comments and
/// terminators are checked).
pub fn split(source: &str, origin: &str) -> Result<Vec<RawStatement>, ParseError> {
    let origin: Arc<str> = Arc::from(origin);
    let pieces = scan_checked(source, &origin)?;
    let mut lines = LineTracker::new(source);
    Ok(pieces
        .iter()
        .map(|piece| {
            let place = lines.place(piece.start);
            let lead = source.get(place.line_start..piece.start).unwrap_or("");
            RawStatement {
                text: source.get(piece.start..piece.end).unwrap_or("").to_owned(),
                lead: tail(lead, LEAD_CHARS),
                location: Location {
                    origin: Arc::clone(&origin),
                    line: place.line,
                    column: place.column,
                    offset: piece.start,
                },
                terminated: piece.terminated,
            }
        })
        .collect())
}

/// How much of the text before a statement on its line a [`RawStatement`] keeps for errors.
const LEAD_CHARS: usize = 80;

/// One statement's text as written, cut from a script by [`split`].
#[derive(Clone)]
pub struct RawStatement {
    /// The statement without its terminating `;` and surrounding white space.
    text: String,
    /// (The end of) what precedes it on its first line, for error snippets.
    lead: String,
    location: Location,
    terminated: bool,
}

impl fmt::Debug for RawStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The text may carry a secret literal; show only where the statement is.
        f.debug_struct("RawStatement")
            .field("location", &self.location)
            .field("bytes", &self.text.len())
            .finish_non_exhaustive()
    }
}

impl RawStatement {
    /// The statement as written (without `;`). May contain secret literals.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Where it starts.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Whether a `;` (or, for `local`, the end of its line) ended it, rather than the input.
    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    /// Parses the text as written.
    pub fn parse(&self) -> Result<Statement, ParseError> {
        parse_text(
            self.place(&self.text, true),
            &self.location.origin,
            self.location.clone(),
            None,
        )
    }

    /// Substitutes `${NAME}` references from `defines` (except in `local remark`) and parses
    /// the result. The statement keeps the unsubstituted text as [`Statement::raw`].
    pub fn substitute_and_parse(&self, defines: &Defines) -> Result<Statement, StatementError> {
        if !self.text.contains("${") || self.is_remark() {
            return Ok(self.parse()?);
        }
        let substituted = Zeroizing::new(substitute(&self.text, defines).map_err(|source| {
            StatementError::Substitute {
                location: self.location.clone(),
                source,
            }
        })?);
        Ok(parse_text(
            // A substituted value may be a secret wherever it stands.
            self.place(&substituted, false),
            &self.location.origin,
            self.location.clone(),
            Some(&self.text),
        )?)
    }

    fn is_remark(&self) -> bool {
        let mut words = self.text.split_ascii_whitespace();
        words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("local"))
            && words
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("remark"))
    }

    fn place<'a>(&'a self, text: &'a str, whole_statement: bool) -> TextPlace<'a> {
        TextPlace {
            text,
            lead: &self.lead,
            line: self.location.line,
            column: self.location.column,
            whole_statement,
        }
    }
}

/// Why a statement could not be prepared for running.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    /// `${NAME}` substitution failed.
    #[error("{location}: {source}")]
    Substitute {
        /// The statement's place.
        location: Location,
        /// The cause.
        source: SubstituteError,
    },
    /// The (substituted) text does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Runs the scanner and turns its failures into parse errors.
pub(super) fn scan_checked(source: &str, origin: &Arc<str>) -> Result<Vec<Piece>, ParseError> {
    let whole = TextPlace {
        text: source,
        lead: "",
        line: 1,
        column: 1,
        whole_statement: false,
    };
    if source.len() > MAX_SOURCE_BYTES {
        return Err(ParseError::at(
            origin,
            whole,
            0,
            ParseErrorKind::SourceTooLarge {
                size: source.len(),
                limit: MAX_SOURCE_BYTES,
            },
        ));
    }
    scan::scan(source).map_err(|error| {
        let (at, kind) = match error {
            ScanError::UnterminatedString { at } => (at, ParseErrorKind::UnterminatedString),
            ScanError::UnterminatedLocalString { at } => {
                (at, ParseErrorKind::UnterminatedLocalString)
            }
            ScanError::UnterminatedComment { at } => (at, ParseErrorKind::UnterminatedComment),
            ScanError::StatementTooLong { at } => (
                at,
                ParseErrorKind::StatementTooLong {
                    limit: MAX_STATEMENT_BYTES,
                },
            ),
        };
        // Report from the start of the offending line so the snippet is that line.
        let mut lines = LineTracker::new(source);
        let place = lines.place(at);
        let from_line = TextPlace {
            text: source.get(place.line_start..).unwrap_or(""),
            lead: "",
            line: place.line,
            column: 1,
            whole_statement: false,
        };
        ParseError::at(origin, from_line, at - place.line_start, kind)
    })
}
