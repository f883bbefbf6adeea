//! Error translation: a pest failure explained in the words of the language.

use crate::diagnostics::ParseErrorKind;
use crate::keywords::{Rule, keyword, statement_keywords};

/// A failure inside one statement, before it gets its place.
pub(super) struct Failure {
    /// Byte offset in the statement's text.
    pub offset: usize,
    pub kind: ParseErrorKind,
    pub help: Option<String>,
}

impl Failure {
    pub(super) fn new(offset: usize, kind: ParseErrorKind) -> Self {
        Self {
            offset,
            kind,
            help: None,
        }
    }

    pub(super) fn internal(offset: usize) -> Self {
        Self::new(offset, ParseErrorKind::Internal)
    }
}

/// Explains a pest failure in the words of the language, with a suggestion when the word
/// found is a near miss of a keyword that fits.
pub(super) fn syntax_failure(error: &pest::error::Error<Rule>, text: &str) -> Failure {
    let offset = match error.location {
        pest::error::InputLocation::Pos(pos) => pos,
        pest::error::InputLocation::Span((start, _)) => start,
    };
    let positives: &[Rule] = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives,
        pest::error::ErrorVariant::CustomError { .. } => &[],
    };
    let rest = text.get(offset..).unwrap_or("");
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .take(40)
        .collect();
    let in_secret = crate::secrets_in_text::secret_spans(text)
        .iter()
        .any(|span| span.contains(&offset));
    let found = describe_found(rest, &word, in_secret);
    let expected_words: Vec<&'static str> = positives.iter().filter_map(|r| keyword(*r)).collect();
    let suggestion = crate::spelling::nearest(&word, expected_words.iter().copied())
        .map(|w| format!("did you mean '{w}'?"));
    let at_statement_start =
        positives.contains(&Rule::kw_local) && positives.contains(&Rule::kw_show);
    if at_statement_start && !word.is_empty() {
        return Failure {
            offset,
            kind: ParseErrorKind::UnknownStatement { found },
            help: suggestion,
        };
    }
    let help = suggestion.or_else(|| missing_terminator_hint(text, offset, &word));
    Failure {
        offset,
        kind: ParseErrorKind::Unexpected {
            expected: describe_expected(positives),
            found,
        },
        help,
    }
}

/// "did you forget a ';'?" when a statement keyword starts a line inside a statement.
fn missing_terminator_hint(text: &str, offset: usize, word: &str) -> Option<String> {
    let before = text.get(..offset)?;
    let starts_line = before
        .rsplit('\n')
        .next()
        .is_some_and(|line| line.trim().is_empty())
        && before.contains('\n');
    let is_statement = statement_keywords().any(|k| k.eq_ignore_ascii_case(word));
    (starts_line && is_statement)
        .then(|| "did you forget the ';' at the end of the previous statement?".to_owned())
}

/// What was found, never showing the contents of a string, nor a word that may be a
/// secret (`in_secret`).
fn describe_found(rest: &str, word: &str, in_secret: bool) -> String {
    match rest.chars().next() {
        None => "the end of the statement".to_owned(),
        Some('\'' | '"') => "a quoted string".to_owned(),
        Some(_) if in_secret => "a value that is not shown (it may be a secret)".to_owned(),
        Some(_) if !word.is_empty() => format!("'{word}'"),
        Some(c) => format!("'{c}'"),
    }
}

/// "'country', 'client' or the end of the statement".
fn describe_expected(positives: &[Rule]) -> String {
    let mut items: Vec<String> = Vec::new();
    let end_last = positives
        .iter()
        .filter(|r| **r != Rule::EOI)
        .chain(positives.iter().filter(|r| **r == Rule::EOI));
    for rule in end_last {
        let item = match (keyword(*rule), rule) {
            (Some(word), _) => format!("'{word}'"),
            (None, Rule::string) => "a quoted string".to_owned(),
            (None, Rule::platform | Rule::platform_ident) => "a platform name".to_owned(),
            (None, Rule::define_name) => "a name".to_owned(),
            (None, Rule::bare_value) => "a value".to_owned(),
            (None, Rule::number) => "a number".to_owned(),
            (None, Rule::EOI) => "the end of the statement".to_owned(),
            (None, other) => format!("{other:?}").replace('_', " "),
        };
        if !items.contains(&item) {
            items.push(item);
        }
    }
    match items.split_last() {
        None => "something else".to_owned(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}
