//! Connection strings: `key=value;key=value`, as Invantive and ADO.NET write them.
//!
//! - Keys compare ASCII case-insensitively; their order and spelling are kept.
//! - Whitespace around keys and unquoted values is not part of them.
//! - A value holding `;`, `=`, a quote, or leading or trailing whitespace is quoted:
//!   `"…"` with `""` standing for one `"`, or `'…'` with `''` for one `'`. Formatting
//!   always uses double quotes.
//! - Empty entries (`a=1;;b=2;`) are skipped; a duplicate key is an error.
//!
//! Values are often secrets (client secrets, tokens): they are wiped on drop, `Debug`
//! shows keys only, and no error message contains a value.

use std::fmt;

use zeroize::Zeroizing;

/// Why a connection string could not be parsed or built. Positions are 1-based
/// character positions; messages never quote a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnStrError {
    /// An entry has no `=` between key and value.
    #[error(
        "character {at}: an entry has no '=' between key and value; write key=value and separate entries with ';'"
    )]
    MissingEquals {
        /// Where the entry starts.
        at: usize,
    },
    /// An entry starts with `=`.
    #[error("character {at}: a key is empty; write key=value")]
    EmptyKey {
        /// Where the entry starts.
        at: usize,
    },
    /// A quoted value has no closing quote.
    #[error(
        "character {at}: the quoted value that starts here has no closing quote; double a quote inside the value to include it"
    )]
    UnterminatedQuote {
        /// Where the opening quote is.
        at: usize,
    },
    /// Something other than `;` follows a closing quote.
    #[error("character {at}: expected ';' after the closing quote of a value")]
    TextAfterQuote {
        /// Where the unexpected character is.
        at: usize,
    },
    /// A key occurs twice (compared case-insensitively).
    #[error("character {at}: key '{key}' occurs twice; keep one of them")]
    DuplicateKey {
        /// The second occurrence, as spelled there.
        key: String,
        /// Where the second occurrence starts.
        at: usize,
    },
    /// A key cannot be written (empty, surrounding whitespace, or `=`, `;` or a quote in it).
    #[error(
        "'{key}' cannot be used as a connection-string key: keys are non-empty, without surrounding spaces, '=', ';' or quotes"
    )]
    InvalidKey {
        /// The key.
        key: String,
    },
}

/// A parsed connection string: ordered key/value pairs with unique keys.
#[derive(Clone, Default)]
pub struct ConnectionString {
    pairs: Vec<(String, Zeroizing<String>)>,
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.pairs.iter().map(|(k, _)| (k, "[redacted]")))
            .finish()
    }
}

impl ConnectionString {
    /// An empty connection string.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, ConnStrError> {
        Parser::new(text).parse()
    }

    /// The value of `key` (case-insensitive), if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.position(key)
            .and_then(|i| self.pairs.get(i))
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` (case-insensitive) is present.
    pub fn contains(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// The pairs in order, keys as spelled.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Appends a pair; fails on an unusable key or one that is present already.
    pub fn push(&mut self, key: &str, value: &str) -> Result<(), ConnStrError> {
        if !is_valid_key(key) {
            return Err(ConnStrError::InvalidKey {
                key: key.to_string(),
            });
        }
        if self.contains(key) {
            return Err(ConnStrError::DuplicateKey {
                key: key.to_string(),
                at: self.to_text().chars().count() + 1,
            });
        }
        self.pairs
            .push((key.to_string(), Zeroizing::new(value.to_string())));
        Ok(())
    }

    /// The text form, quoting values where needed. `parse(to_text())` gives the same pairs.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::new());
        for (i, (key, value)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str(key);
            out.push('=');
            write_value(&mut out, value);
        }
        out
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.pairs
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(key))
    }
}

/// Whether `key` can be written and read back unchanged.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.trim_matches(char::is_whitespace) == key
        && !key.contains(['=', ';', '"', '\''])
}

fn needs_quotes(value: &str) -> bool {
    value.contains([';', '=', '"', '\'']) || value.trim_matches(char::is_whitespace) != value
}

fn write_value(out: &mut String, value: &str) {
    if !needs_quotes(value) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// A cursor over the characters of a connection string, counting 1-based positions.
struct Parser<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    text: &'a str,
    /// 1-based position of the next character.
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            chars: text.char_indices().peekable(),
            text,
            at: 1,
        }
    }

    fn next(&mut self) -> Option<char> {
        let (_, c) = self.chars.next()?;
        self.at += 1;
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().map(|&(_, c)| c)
    }

    fn offset(&mut self) -> usize {
        self.chars.peek().map_or(self.text.len(), |&(i, _)| i)
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.next();
        }
    }

    fn parse(mut self) -> Result<ConnectionString, ConnStrError> {
        let mut result = ConnectionString::new();
        loop {
            self.skip_whitespace();
            match self.peek() {
                None => return Ok(result),
                Some(';') => {
                    self.next();
                    continue;
                }
                Some(_) => {}
            }
            let entry_at = self.at;
            let key = self.key(entry_at)?;
            let value = self.value()?;
            if result.contains(key) {
                return Err(ConnStrError::DuplicateKey {
                    key: key.to_string(),
                    at: entry_at,
                });
            }
            result.pairs.push((key.to_string(), value));
        }
    }

    /// Reads up to and including `=`; returns the trimmed key.
    fn key(&mut self, entry_at: usize) -> Result<&'a str, ConnStrError> {
        let start = self.offset();
        loop {
            match self.peek() {
                None | Some(';') => return Err(ConnStrError::MissingEquals { at: entry_at }),
                Some('=') => break,
                Some(_) => {
                    self.next();
                }
            }
        }
        let end = self.offset();
        self.next();
        let key = self
            .text
            .get(start..end)
            .unwrap_or_default()
            .trim_matches(char::is_whitespace);
        if key.is_empty() {
            return Err(ConnStrError::EmptyKey { at: entry_at });
        }
        Ok(key)
    }

    /// Reads a value and the `;` after it (or the end).
    fn value(&mut self) -> Result<Zeroizing<String>, ConnStrError> {
        self.skip_whitespace();
        match self.peek() {
            Some(quote @ ('"' | '\'')) => {
                let value = self.quoted(quote)?;
                self.skip_whitespace();
                match self.peek() {
                    None => {}
                    Some(';') => {
                        self.next();
                    }
                    Some(_) => return Err(ConnStrError::TextAfterQuote { at: self.at }),
                }
                Ok(value)
            }
            _ => {
                let start = self.offset();
                while self.peek().is_some_and(|c| c != ';') {
                    self.next();
                }
                let end = self.offset();
                self.next();
                let value = self.text.get(start..end).unwrap_or_default();
                Ok(Zeroizing::new(
                    value.trim_matches(char::is_whitespace).to_string(),
                ))
            }
        }
    }

    fn quoted(&mut self, quote: char) -> Result<Zeroizing<String>, ConnStrError> {
        let open_at = self.at;
        self.next();
        let mut value = Zeroizing::new(String::new());
        loop {
            match self.next() {
                None => return Err(ConnStrError::UnterminatedQuote { at: open_at }),
                Some(c) if c == quote => {
                    if self.peek() == Some(quote) {
                        self.next();
                        value.push(quote);
                    } else {
                        return Ok(value);
                    }
                }
                Some(c) => value.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        ConnectionString::parse(text)
            .map(|cs| {
                cs.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    #[test]
    fn parses_plain_quoted_and_empty_entries() {
        assert_eq!(
            pairs(" a = 1 ;B=\"x;y\"\"z\";; c='it''s' ; d=;"),
            vec![
                ("a".into(), "1".into()),
                ("B".into(), "x;y\"z".into()),
                ("c".into(), "it's".into()),
                ("d".into(), String::new()),
            ]
        );
    }

    #[test]
    fn keys_are_case_insensitive_and_duplicates_fail() {
        let cs = ConnectionString::parse("Api-Url=u").expect("valid");
        assert_eq!(cs.get("API-URL"), Some("u"));
        let err = ConnectionString::parse("a=1;x=2;A=secret").expect_err("duplicate");
        assert_eq!(
            err,
            ConnStrError::DuplicateKey {
                key: "A".into(),
                at: 9
            }
        );
    }

    #[test]
    fn errors_give_positions_and_never_values() {
        let cases = [
            ("a=1;hunter2", ConnStrError::MissingEquals { at: 5 }),
            ("a=1; =hunter2", ConnStrError::EmptyKey { at: 6 }),
            ("a=\"hunter2", ConnStrError::UnterminatedQuote { at: 3 }),
            ("a=\"x\"hunter2", ConnStrError::TextAfterQuote { at: 6 }),
        ];
        for (text, expected) in cases {
            let err = ConnectionString::parse(text).expect_err(text);
            assert_eq!(err, expected, "{text}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn formatting_quotes_only_where_needed() {
        let mut cs = ConnectionString::new();
        for (k, v) in [
            ("a", "plain"),
            ("b", "x;y"),
            ("c", " pad"),
            ("d", "say \"hi\""),
        ] {
            cs.push(k, v).expect("valid key");
        }
        assert_eq!(
            cs.to_text().as_str(),
            "a=plain;b=\"x;y\";c=\" pad\";d=\"say \"\"hi\"\"\""
        );
        assert!(cs.push("A", "again").is_err());
        assert!(cs.push("x=y", "v").is_err());
        assert_eq!(
            format!("{cs:?}"),
            r#"{"a": "[redacted]", "b": "[redacted]", "c": "[redacted]", "d": "[redacted]"}"#
        );
    }
}
