//! Where the secrets are in text that does not parse (or may not): a statement with a typo
//! is echoed in its error and kept in REPL history, and both must show its names but not
//! its secrets.
//!
//! A parsed statement knows its secret literals exactly (`Statement::secret_spans`). Here
//! there is no syntax tree, only words and strings, so the rules lean towards hiding:
//!
//! - in a statement whose first word is (or resembles) `encrypt`, `decrypt` or `exchange`,
//!   or in a `local define`, every string and every word that is not a keyword is secret;
//! - elsewhere, a string or bare word right after a word that is, resembles or holds
//!   `secret`, `token`, `passphrase`, `password`, `code`, `value` or `key` (not `api key`,
//!   which is followed by a key's name) is secret, also with one word that is no keyword
//!   between (`client secret = '…'`);
//! - a string or word holding `password=`, `secret=`, `dk1:` and the like is secret wherever
//!   it is, and so is a string that starts a statement (its context is unknown);
//! - every other string (a connection's name, a URL, a client id) stays readable.

use std::ops::Range;

use crate::keywords::is_keyword;
use crate::scan::{self, Token, TokenKind};
use crate::spelling::is_or_resembles;

/// Words after which the next string or bare word is a secret.
const SECRET_WORDS: &[&str] = &[
    "secret",
    "token",
    "passphrase",
    "password",
    "code",
    "value",
    "key",
];

/// First words of statements whose every value is a secret.
const SECRET_STATEMENTS: &[&str] = &["encrypt", "decrypt", "exchange"];

/// Text that marks a value as secret wherever it stands (lower case).
const SECRET_CONTENT: &[&str] = &[
    "password=",
    "pwd=",
    "secret=",
    "token=",
    "code=",
    "passphrase=",
    "dk1:",
];

/// The spans of `text` that may hold a secret: whole string literals (quotes included) and
/// bare words, in order and disjoint.
///
/// ```text
/// show conection 'demo'                    -> nothing
/// alter connection 'b' set client secret 'x' extra  -> 'x'
/// encrpyt connection 'hunter2'             -> 'hunter2'
/// ```
pub(crate) fn secret_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut statement: Vec<Token> = Vec::new();
    for token in scan::tokens(text) {
        let ends = match token.kind {
            TokenKind::Semicolon => true,
            TokenKind::LineBreak => statement
                .first()
                .is_some_and(|first| word_is(text, first, "local")),
            TokenKind::Word | TokenKind::Literal => {
                statement.push(token);
                false
            }
        };
        if ends {
            spans.extend(secrets_of_statement(text, &statement));
            statement.clear();
        }
    }
    spans.extend(secrets_of_statement(text, &statement));
    spans
}

/// `text` with every character of its secrets (see [`secret_spans`]) replaced by `*`,
/// quotes and line breaks kept: as many characters as before, so carets stay aligned.
pub(crate) fn mask_secrets(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut copied = 0;
    for span in secret_spans(text) {
        let Some(secret) = text.get(span.clone()) else {
            continue;
        };
        masked.push_str(text.get(copied..span.start).unwrap_or(""));
        let quote = secret.chars().next().filter(|c| matches!(c, '\'' | '"'));
        let count = secret.chars().count();
        for (i, c) in secret.chars().enumerate() {
            let is_quote = quote.is_some_and(|q| c == q && (i == 0 || i + 1 == count));
            masked.push(if is_quote || c == '\n' { c } else { '*' });
        }
        copied = span.end;
    }
    masked.push_str(text.get(copied..).unwrap_or(""));
    masked
}

/// The secrets among one statement's words and strings.
fn secrets_of_statement(text: &str, tokens: &[Token]) -> Vec<Range<usize>> {
    let Some(first) = tokens.first() else {
        return Vec::new();
    };
    let local_define =
        word_is(text, first, "local") && tokens.get(1).is_some_and(|t| word_is(text, t, "define"));
    let all_values_secret =
        local_define || SECRET_STATEMENTS.iter().any(|s| word_is(text, first, s));
    // The words that name the statement (however misspelt) are no values.
    let leading = if local_define { 2 } else { 1 };
    let unknown_context = first.kind == TokenKind::Literal;
    let mut spans = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let value = text.get(token.span.clone()).unwrap_or("");
        let is_value = token.kind == TokenKind::Literal || (i >= leading && !is_keyword(value));
        let follows_secret_word = secret_word_before(text, tokens, i);
        let secret = has_secret_content(value)
            || (unknown_context && token.kind == TokenKind::Literal)
            || (is_value && (all_values_secret || follows_secret_word));
        if secret {
            spans.push(token.span.clone());
        }
    }
    spans
}

/// Whether a secret word comes right before token `i`, or before one word between (not a
/// keyword: `client secret = 'x'`, `client secret is 'x'`).
fn secret_word_before(text: &str, tokens: &[Token], i: usize) -> bool {
    let at = |j: Option<usize>| j.and_then(|j| tokens.get(j));
    let names_secret = |j: usize| {
        at(Some(j)).is_some_and(|word| {
            SECRET_WORDS.iter().any(|known| word_names(text, word, known))
                // `api key 'name'`: the key's name follows.
                && !(word_is(text, word, "key")
                    && at(j.checked_sub(1)).is_some_and(|api| word_is(text, api, "api")))
        })
    };
    let Some(before) = i.checked_sub(1) else {
        return false;
    };
    names_secret(before)
        || (at(Some(before)).is_some_and(|filler| {
            filler.kind == TokenKind::Word && !text.get(filler.span.clone()).is_some_and(is_keyword)
        }) && before.checked_sub(1).is_some_and(names_secret))
}

/// Whether `token` is a word that names `known` (lower case): is it, resembles it, or
/// holds it (`clientsecret`, `client_secret=`).
fn word_names(text: &str, token: &Token, known: &str) -> bool {
    word_is(text, token, known)
        || (token.kind == TokenKind::Word
            && text
                .get(token.span.clone())
                .is_some_and(|word| word.to_ascii_lowercase().contains(known)))
}

/// Whether `token` is a word that is `known` or resembles it.
fn word_is(text: &str, token: &Token, known: &str) -> bool {
    token.kind == TokenKind::Word
        && text
            .get(token.span.clone())
            .is_some_and(|word| is_or_resembles(word, known))
}

/// Whether `value` holds text that only secrets hold.
fn has_secret_content(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    SECRET_CONTENT.iter().any(|marker| lower.contains(marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(text: &str) -> Vec<&str> {
        secret_spans(text)
            .into_iter()
            .map(|span| &text[span])
            .collect()
    }

    #[test]
    fn names_stay_and_secrets_go() {
        assert!(secrets("show conection 'demo'").is_empty());
        assert!(secrets("drop api key 'nightly' now").is_empty());
        assert!(secrets("show access token for conection 'books'").is_empty());
        assert_eq!(
            secrets(
                "preauthenticate exact client id 'cid' client secrte 's1' redirect url 'r' as connection 'n' x"
            ),
            ["'s1'"]
        );
        assert_eq!(
            secrets("register connection 'o' access token 'a', refresh token b obtained 'c' x"),
            ["'a'", "b"]
        );
        assert_eq!(secrets("encrpyt connection 'hunter2'"), ["'hunter2'"]);
        assert_eq!(secrets("encrypt value hunter2 x"), ["hunter2", "x"]);
        assert_eq!(
            secrets("local defne PW \"pw\"\nshow x 'y'"),
            ["PW", "\"pw\""]
        );
        assert_eq!(
            secrets("show 'a;password=p'; 'b'"),
            ["'a;password=p'", "'b'"]
        );
        assert_eq!(secrets("show x 'open dk1:"), ["'open dk1:"]);
        for glued in [
            "alter x clientsecret 'a'",
            "alter x client_secret='a'",
            "alter x client secret = 'a'",
            "alter x client secret is 'a'",
        ] {
            assert!(secrets(glued).contains(&"'a'"), "{glued}");
        }
        assert!(secrets("create api key 'p' scope token from '10.0.0.0/8'").is_empty());
    }

    #[test]
    fn masking_keeps_quotes_line_breaks_and_width() {
        let text = "shwo connection 'demo' client secret 'a\nb' key k";
        let masked = mask_secrets(text);
        assert_eq!(masked, "shwo connection 'demo' client secret '*\n*' key *");
        assert_eq!(masked.chars().count(), text.chars().count());
        assert_eq!(mask_secrets("value 'é''ü"), "value '****");
    }
}
