//! The grammar's generated parser and what it knows about keywords.
//!
//! Keyword lists (for error messages, completion and highlighting) are derived from the
//! grammar itself: every `kw_<word>` rule is a keyword, and the words that may come next
//! after some text are the keyword rules pest expected where parsing that text stopped.

use std::sync::LazyLock;

use pest::Parser as _;

/// The parser generated from `grammar/preauth.pest`.
#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/preauth.pest"]
pub(crate) struct ScriptGrammar;

/// Every keyword with its rule, in grammar order. Immutable once built.
static KEYWORDS: LazyLock<Vec<(Rule, String)>> = LazyLock::new(|| {
    Rule::all_rules()
        .iter()
        .filter_map(|rule| {
            let name = format!("{rule:?}");
            Some((*rule, name.strip_prefix("kw_")?.to_owned()))
        })
        .collect()
});

/// The keywords that start a statement. Immutable once built.
static STATEMENT_KEYWORDS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| expected_after("").keywords);

/// The keyword a rule matches, if it is a keyword rule.
pub(crate) fn keyword(rule: Rule) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .find(|(r, _)| *r == rule)
        .map(|(_, word)| word.as_str())
}

/// All keywords of the language, lower case.
pub fn keywords() -> impl Iterator<Item = &'static str> {
    KEYWORDS.iter().map(|(_, word)| word.as_str())
}

/// The keywords that start a statement, lower case.
pub fn statement_keywords() -> impl Iterator<Item = &'static str> {
    STATEMENT_KEYWORDS.iter().copied()
}

/// Whether `word` is a keyword (any case).
pub(crate) fn is_keyword(word: &str) -> bool {
    keywords().any(|k| k.eq_ignore_ascii_case(word))
}

/// What may follow a statement's beginning.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Expected {
    /// Keywords that may come next.
    pub keywords: Vec<&'static str>,
    /// Whether a quoted string may come next.
    pub string: bool,
}

/// What the grammar accepts right after `prefix` (the beginning of one statement). Empty
/// when `prefix` already fails before its end.
pub(crate) fn expected_after(prefix: &str) -> Expected {
    // A character no token starts with, so that parsing stops right after `prefix` even
    // when `prefix` is already a whole statement.
    const SENTINEL: char = '\u{1}';
    let probe = format!("{prefix}{SENTINEL}");
    let Err(error) = ScriptGrammar::parse(Rule::statement_only, &probe) else {
        return Expected::default();
    };
    let at = match error.location {
        pest::error::InputLocation::Pos(pos) => pos,
        pest::error::InputLocation::Span((start, _)) => start,
    };
    let pest::error::ErrorVariant::ParsingError { positives, .. } = error.variant else {
        return Expected::default();
    };
    if at < prefix.len() && prefix.get(at..).is_none_or(|rest| !rest.trim().is_empty()) {
        return Expected::default();
    }
    let mut expected = Expected::default();
    for rule in positives {
        if let Some(word) = keyword(rule) {
            if !expected.keywords.contains(&word) {
                expected.keywords.push(word);
            }
        } else if rule == Rule::string {
            expected.string = true;
        }
    }
    expected
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_come_from_the_grammar() {
        assert!(keywords().any(|k| k == "preauthenticate"));
        let starts: Vec<_> = statement_keywords().collect();
        for word in ["local", "show", "encrypt", "create", "check", "drop"] {
            assert!(starts.contains(&word), "{word} missing from {starts:?}");
        }
        assert!(!starts.contains(&"connection"));
    }

    #[test]
    fn expected_after_follows_the_grammar() {
        let after_show = expected_after("show ");
        assert!(after_show.keywords.contains(&"connections"));
        assert!(after_show.keywords.contains(&"access"));
        assert!(expected_after("drop connection ").string);
        assert_eq!(expected_after("bogus words here"), Expected::default());
    }
}
