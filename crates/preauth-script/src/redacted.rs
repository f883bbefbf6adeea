//! The redaction marker and how it replaces secret literals in a statement's text. Kept
//! apart (it depends on nothing) so that the AST can produce its redacted text without
//! importing the redaction logic, which parses.

use std::ops::Range;

/// What replaces a secret literal in history.
pub const REDACTED: &str = "'<redacted>'";

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
