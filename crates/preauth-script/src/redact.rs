//! Keeping secrets out of REPL history.

use std::ops::Range;

use crate::ast::StatementKind;
use crate::parser::parse_one;
use crate::redacted::replace_spans;
use crate::scan;

pub use crate::redacted::REDACTED;

/// The version of a REPL input that may be stored in history: the input itself when it
/// carries no secret literal, the input with each secret literal replaced by `'<redacted>'`
/// when it does, and `None` when that cannot be decided (the input does not parse: a
/// misspelt `encrypt` could hide a secret). The value of a `local define` is redacted too:
/// defines are how scripts pass passwords and ids around.
///
/// ```
/// use preauth_script::redact_for_history;
/// assert_eq!(
///     redact_for_history("encrypt connection 'api=x;password=hunter2';").as_deref(),
///     Some("encrypt connection '<redacted>';"),
/// );
/// assert_eq!(redact_for_history("show connections;").as_deref(), Some("show connections;"));
/// assert_eq!(redact_for_history("encrpyt connection 'hunter2';"), None);
/// assert_eq!(
///     redact_for_history("local define PW \"hunter2\"").as_deref(),
///     Some("local define PW '<redacted>'"),
/// );
/// ```
pub fn redact_for_history(text: &str) -> Option<String> {
    if text.len() > crate::limits::MAX_STATEMENT_BYTES {
        return None;
    }
    let pieces = scan::scan(text).ok()?;
    let mut spans = Vec::new();
    for piece in pieces {
        let piece_text = text.get(piece.start..piece.end)?;
        let statement = parse_one(piece_text).ok()?;
        if let StatementKind::Define { value, .. } = &statement.kind {
            let span = define_value_span(piece_text, value)?;
            spans.push(span.start + piece.start..span.end + piece.start);
        } else if statement.carries_secret_literal() {
            if statement.secret_spans().is_empty() {
                return None;
            }
            spans.extend(
                statement
                    .secret_spans()
                    .iter()
                    .map(|span| span.start + piece.start..span.end + piece.start),
            );
        }
    }
    replace_spans(text, &spans)
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
