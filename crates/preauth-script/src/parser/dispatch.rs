//! Dispatch on the first keyword: which grammar rule parses a statement.
//!
//! `statement_only` tries every statement in turn, and every failed try costs pest rule
//! calls. A statement whose first word is a statement keyword is parsed by the rule of that
//! keyword's family instead. The families keep their alternatives in the order of
//! `statement`, and every alternative of another family fails on the first word, so the
//! result — and the error, which pest reports at the furthest position reached — is the
//! same.

use crate::keywords::Rule;

/// The first keyword of each statement family and the rule that parses the family.
const FAMILIES: &[(&str, Rule)] = &[
    ("local", Rule::local_only),
    ("encrypt", Rule::encrypt_only),
    ("decrypt", Rule::decrypt_only),
    ("preauthenticate", Rule::preauthenticate_only),
    ("exchange", Rule::exchange_only),
    ("register", Rule::register_only),
    ("alter", Rule::alter_only),
    ("refresh", Rule::refresh_only),
    ("show", Rule::show_only),
    ("check", Rule::check_only),
    ("export", Rule::export_only),
    ("import", Rule::import_only),
    ("drop", Rule::drop_only),
    ("create", Rule::create_only),
    ("advance", Rule::advance_only),
    ("enroll", Rule::enroll_only),
];

/// The rule for a statement's text: its family's when the text starts with a statement
/// keyword, else `statement_only` (which also words the error for an unknown statement).
pub(super) fn rule_for(text: &str) -> Rule {
    // Keywords are ASCII and end where identifier characters end (`kw_<word>` rules end
    // with `!ident_char`), so the first word is the run of such bytes.
    let word_end = text
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .unwrap_or(text.len());
    let word = text.get(..word_end).unwrap_or("");
    FAMILIES
        .iter()
        .find(|(keyword, _)| keyword.eq_ignore_ascii_case(word))
        .map_or(Rule::statement_only, |(_, rule)| *rule)
}

#[cfg(test)]
mod tests {
    use pest::Parser as _;

    use super::*;
    use crate::keywords::{ScriptGrammar, statement_keywords};

    #[test]
    fn every_statement_keyword_has_its_family() {
        for keyword in statement_keywords() {
            assert_ne!(rule_for(keyword), Rule::statement_only, "{keyword}");
            assert_eq!(rule_for(&keyword.to_uppercase()), rule_for(keyword));
        }
        assert_eq!(FAMILIES.len(), statement_keywords().count());
    }

    #[test]
    fn other_first_words_go_to_the_whole_grammar() {
        for text in [
            "",
            " show connections",
            "shows",
            "${X} connections",
            "sh",
            "-- c",
        ] {
            assert_eq!(rule_for(text), Rule::statement_only, "{text:?}");
        }
        assert_eq!(rule_for("show/* c */connections"), Rule::show_only);
    }

    /// A family rule accepts and rejects exactly what `statement_only` does, at the same
    /// place with the same expectations.
    #[test]
    fn a_family_rule_parses_as_the_whole_grammar_does() {
        let texts = [
            "show connections",
            "show connection 'x' extra",
            "show conections",
            "refresh connection 'x' forc",
            "refresh all connections older than 3",
            "preauthenticate connection 'x'",
            "preauthenticate exact client id 'c' client sekret 's'",
            "local define X",
            "local echo hi",
            "encrypt valeu 'x'",
            "drop connection if exist 'x'",
            "advance sandbox clock by 3 weeks",
            "create platform 'p' pkce maybe",
        ];
        for text in texts {
            let family = ScriptGrammar::parse(rule_for(text), text);
            let whole = ScriptGrammar::parse(Rule::statement_only, text);
            match (family, whole) {
                (Ok(family), Ok(whole)) => {
                    let family: Vec<_> = family.flatten().map(|p| p.as_rule()).collect();
                    let whole: Vec<_> = whole.flatten().map(|p| p.as_rule()).collect();
                    assert_eq!(family, whole, "{text:?}");
                }
                (Err(family), Err(whole)) => {
                    assert_eq!(family.location, whole.location, "{text:?}");
                    assert_eq!(family.variant, whole.variant, "{text:?}");
                }
                (family, whole) => panic!("{text:?}: {family:?} but {whole:?}"),
            }
        }
    }
}
