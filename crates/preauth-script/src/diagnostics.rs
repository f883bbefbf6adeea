//! Parse errors: where (origin, line, column), what, the offending line with a caret, and a
//! suggestion for a misspelt keyword.

use std::fmt;
use std::sync::Arc;

use crate::scan::mask_strings;
use crate::secrets_in_text::mask_secrets;

/// Why a script could not be parsed. Each `Display` is one sentence; [`ParseError`] adds the
/// place, the offending line and any suggestion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The whole script exceeds [`crate::limits::MAX_SOURCE_BYTES`].
    #[error(
        "the script is {size} bytes, more than the limit of {limit} bytes; split it into files"
    )]
    SourceTooLarge {
        /// The script's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// One statement exceeds [`crate::limits::MAX_STATEMENT_BYTES`].
    #[error(
        "this statement is longer than the limit of {limit} bytes; is a ';' or a closing quote missing?"
    )]
    StatementTooLong {
        /// The limit.
        limit: usize,
    },
    /// A quoted string runs to the end of the input.
    #[error("this string is not closed; end it with the quote it starts with")]
    UnterminatedString,
    /// A quoted string in a `local` statement runs past the end of its line.
    #[error("this string is not closed on its line; a local statement ends at the end of its line")]
    UnterminatedLocalString,
    /// A `/*` comment runs to the end of the input.
    #[error("this comment is not closed; end it with '*/'")]
    UnterminatedComment,
    /// The first word is no statement.
    #[error("{found} does not start a statement")]
    UnknownStatement {
        /// The offending word, quoted.
        found: String,
    },
    /// Something else than the grammar allows at this place.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What would have been accepted.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A number does not fit.
    #[error("the number {text} is too large; the largest is {max}")]
    NumberTooLarge {
        /// The number as written.
        text: String,
        /// The largest accepted.
        max: u32,
    },
    /// An option appears twice in one statement.
    #[error("'{option}' is given twice in this statement; keep one")]
    DuplicateOption {
        /// The option's keywords.
        option: String,
    },
    /// An option that excludes another one given in the same statement.
    #[error("'{option}' does not go with '{other}'; keep one of them")]
    ConflictingOption {
        /// The option's keywords.
        option: String,
        /// The option it conflicts with.
        other: String,
    },
    /// A required option is missing.
    #[error("'{statement}' needs '{option} …'; add it")]
    MissingOption {
        /// The statement's keywords.
        statement: &'static str,
        /// The missing option's keywords.
        option: String,
    },
    /// A network (`from '…'` of `create api key`) that is none.
    #[error(transparent)]
    BadNetwork(preauth_core::network::NetworkError),
    /// The grammar matched something the parser does not know: a bug, reported not panicked.
    #[error("the parser met an unexpected construct (a bug in preauth); please report it")]
    Internal,
}

/// A parse error: the script's name, the 1-based line and column, the cause, the offending
/// line with a caret under the column, and help such as "did you mean 'show'?".
///
/// `Display` renders all of it:
///
/// ```text
/// script.sql:3:1: 'shwo' does not start a statement
///   |
/// 3 | shwo connections;
///   | ^
///   = help: did you mean 'show'?
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(Box<Detail>);

/// The facts of a [`ParseError`] (boxed to keep `Result`s small).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Detail {
    origin: Arc<str>,
    line: usize,
    column: usize,
    kind: ParseErrorKind,
    /// The offending line, without its line break.
    line_text: String,
    /// 1-based character column of the caret within `line_text`.
    caret: usize,
    help: Option<String>,
}

impl std::error::Error for ParseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0.kind)
    }
}

impl ParseError {
    /// An error at byte `offset` of `text`, whose first character sits at `line`:`column` of
    /// the script `origin`. `lead` is what precedes `text` on its first line (shown in the
    /// snippet and counted in the column).
    pub(crate) fn at(
        origin: &Arc<str>,
        place: TextPlace<'_>,
        offset: usize,
        kind: ParseErrorKind,
    ) -> Self {
        let offset = floor_char_boundary(place.text, offset.min(place.text.len()));
        let before = place.text.get(..offset).unwrap_or("");
        let newlines = before.matches('\n').count();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let caret_in_line = before.get(line_start..).unwrap_or("").chars().count() + 1;
        // Masking keeps line breaks and the number of characters, so line and caret hold.
        let masked = if place.whole_statement {
            mask_secrets(place.text)
        } else {
            mask_strings(place.text)
        };
        let in_line = masked.split('\n').nth(newlines).unwrap_or("");
        let (full_line, full_caret, column) = if newlines == 0 {
            let lead = mask_strings(place.lead);
            let caret = lead.chars().count() + caret_in_line;
            (
                format!("{lead}{in_line}"),
                caret,
                place.column + caret_in_line - 1,
            )
        } else {
            (in_line.to_owned(), caret_in_line, caret_in_line)
        };
        let (line_text, caret) = window(full_line.trim_end_matches('\r'), full_caret);
        Self(Box::new(Detail {
            origin: Arc::clone(origin),
            line: place.line + newlines,
            column,
            kind,
            line_text,
            caret,
            help: None,
        }))
    }

    /// Adds a help line.
    pub(crate) fn with_help(mut self, help: Option<String>) -> Self {
        self.0.help = help;
        self
    }

    /// The script's name (file name, `<stdin>` or `-c`).
    pub fn origin(&self) -> &str {
        &self.0.origin
    }

    /// 1-based line.
    pub fn line(&self) -> usize {
        self.0.line
    }

    /// 1-based column, in characters.
    pub fn column(&self) -> usize {
        self.0.column
    }

    /// The cause.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.0.kind
    }

    /// The help line (e.g. "did you mean 'show'?"), if any.
    pub fn help(&self) -> Option<&str> {
        self.0.help.as_deref()
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.line.to_string();
        let gutter = " ".repeat(number.len());
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.origin, self.line, self.column, self.kind
        )?;
        writeln!(f, "{gutter} |")?;
        writeln!(f, "{number} | {}", self.line_text)?;
        write!(
            f,
            "{gutter} | {}^",
            " ".repeat(self.caret.saturating_sub(1))
        )?;
        if let Some(help) = &self.help {
            write!(f, "\n{gutter} = help: {help}")?;
        }
        Ok(())
    }
}

/// The text being parsed and where it sits in its script.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TextPlace<'a> {
    /// The text.
    pub text: &'a str,
    /// What precedes `text` on its first line in the script.
    pub lead: &'a str,
    /// 1-based line of the text's first character.
    pub line: usize,
    /// 1-based column of the text's first character.
    pub column: usize,
    /// Whether `text` is one whole statement as written (not cut at a line, not
    /// substituted): then the snippet masks only its secrets and shows its names. Otherwise
    /// a string's context is unknown and every string is masked, as is `lead` always.
    pub whole_statement: bool,
}

/// The part of a long line around the caret (at most [`SNIPPET_CHARS`] characters, cuts
/// marked with `…`) and the caret's position in it.
fn window(line: &str, caret: usize) -> (String, usize) {
    let skip = caret.saturating_sub(SNIPPET_CHARS / 2);
    let mut shown: String = if skip > 0 {
        "…".into()
    } else {
        String::new()
    };
    let mut chars = line.chars().skip(skip);
    shown.extend(chars.by_ref().take(SNIPPET_CHARS));
    if chars.next().is_some() {
        shown.push('…');
    }
    let caret = if skip > 0 { caret - skip + 1 } else { caret };
    (shown, caret)
}

/// The most characters of a line an error shows.
const SNIPPET_CHARS: usize = 120;

/// The largest char boundary at or below `index` (`index` must be at most `text.len()`).
fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}
