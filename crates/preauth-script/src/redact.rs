//! Keeping secrets out of REPL history.

use std::ops::Range;

use crate::ast::StatementKind;
use crate::parser::parse_one;
use crate::redacted::replace_spans;
use crate::scan;
use crate::secrets_in_text::secret_spans;

pub use crate::redacted::REDACTED;

/// The version of a REPL input that may be stored in history: the input itself when it
/// carries no secret literal, the input with each secret literal replaced by `'<redacted>'`
/// when it does, and `None` when it is longer than a statement may be. The value of a
/// `local define` is redacted too: defines are how scripts pass passwords and ids around.
///
/// A statement that does not parse is kept too, so that a typo can be fixed with Up: its
/// secrets are found by their neighbouring words instead (a misspelt `encrypt` or
/// `client secret` included, see `secrets_in_text`), and its names stay readable.
///
/// ```
/// use preauth_script::redact_for_history;
/// assert_eq!(
///     redact_for_history("encrypt connection 'api=x;password=hunter2';").as_deref(),
///     Some("encrypt connection '<redacted>';"),
/// );
/// assert_eq!(redact_for_history("show connections;").as_deref(), Some("show connections;"));
/// assert_eq!(
///     redact_for_history("encrpyt connection 'hunter2';").as_deref(),
///     Some("encrpyt connection '<redacted>';"),
/// );
/// assert_eq!(
///     redact_for_history("show conection 'demo';").as_deref(),
///     Some("show conection 'demo';"),
/// );
/// assert_eq!(
///     redact_for_history("local define PW \"hunter2\"").as_deref(),
///     Some("local define PW '<redacted>'"),
/// );
/// ```
pub fn redact_for_history(text: &str) -> Option<String> {
    if text.len() > crate::limits::MAX_STATEMENT_BYTES {
        return None;
    }
    let Ok(pieces) = scan::scan(text) else {
        return replace_spans(text, &secret_spans(text));
    };
    let mut spans = Vec::new();
    for piece in pieces {
        let piece_text = text.get(piece.start..piece.end)?;
        spans.extend(
            statement_secrets(piece_text)?
                .into_iter()
                .map(|span| span.start + piece.start..span.end + piece.start),
        );
    }
    replace_spans(text, &spans)
}

/// The spans to redact in one statement's text; `None` when a parsed statement carries a
/// secret whose place is unknown.
fn statement_secrets(text: &str) -> Option<Vec<Range<usize>>> {
    let Ok(statement) = parse_one(text) else {
        return Some(secret_spans(text));
    };
    if let StatementKind::Define { value, .. } = &statement.kind {
        return Some(vec![define_value_span(text, value)?]);
    }
    if statement.carries_secret_literal() && statement.secret_spans().is_empty() {
        return None;
    }
    Some(statement.secret_spans().to_vec())
}

/// Where the value of the `local define` statement `text` is: its last string literal, or
/// the bare value at its end. `None` when neither is found where expected.
fn define_value_span(text: &str, value: &str) -> Option<Range<usize>> {
    let end = text.trim_end().len();
    if let Some(literal) = scan::string_literals(text).pop() {
        return (literal.span.end == end).then_some(literal.span);
    }
    let start = end.checked_sub(value.len())?;
    (text.get(start..end)? == value).then_some(start..end)
}

/// Whether `input` holds a string literal that is the redaction marker: a line recalled
/// from history whose secret was removed, which must not run with `<redacted>` as the
/// secret.
///
/// ```
/// use preauth_script::holds_redacted_secret;
/// assert!(holds_redacted_secret("encrypt value '<redacted>';"));
/// assert!(!holds_redacted_secret("encrypt value 'hunter2';"));
/// ```
pub fn holds_redacted_secret(input: &str) -> bool {
    let marker = scan::unquote(REDACTED);
    scan::string_literals(input)
        .iter()
        .filter_map(|literal| input.get(literal.span.clone()))
        .any(|literal| scan::unquote(literal) == marker)
}
