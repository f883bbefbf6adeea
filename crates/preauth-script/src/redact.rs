//! Keeping secrets out of REPL history.

use std::ops::Range;

use crate::parser::parse_one;
use crate::scan;

/// What replaces a secret literal in history.
pub const REDACTED: &str = "'<redacted>'";

/// The version of a REPL input that may be stored in history: the input itself when it
/// carries no secret literal, the input with each secret literal replaced by `'<redacted>'`
/// when it does, and `None` when that cannot be decided (the input does not parse: a
/// misspelt `encrypt` could hide a secret).
///
/// ```
/// use preauth_script::redact_for_history;
/// assert_eq!(
///     redact_for_history("encrypt connection 'api=x;password=hunter2';").as_deref(),
///     Some("encrypt connection '<redacted>';"),
/// );
/// assert_eq!(redact_for_history("show connections;").as_deref(), Some("show connections;"));
/// assert_eq!(redact_for_history("encrpyt connection 'hunter2';"), None);
/// ```
pub fn redact_for_history(text: &str) -> Option<String> {
    if text.len() > crate::limits::MAX_STATEMENT_BYTES {
        return None;
    }
    let pieces = scan::scan(text).ok()?;
    let mut spans = Vec::new();
    for piece in pieces {
        let statement = parse_one(text.get(piece.start..piece.end)?).ok()?;
        if statement.carries_secret_literal() {
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

/// `text` with each of the (ordered, disjoint) spans replaced by [`REDACTED`]; `None` if a
/// span does not fall on char boundaries within `text`.
pub(crate) fn replace_spans(text: &str, spans: &[Range<usize>]) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for span in spans {
        out.push_str(text.get(copied..span.start)?);
        text.get(span.clone())?;
        out.push_str(REDACTED);
        copied = span.end;
    }
    out.push_str(text.get(copied..)?);
    Some(out)
}
