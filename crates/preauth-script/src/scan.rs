//! Cutting a script into statements.
//!
//! The scanner knows only strings, comments and terminators: a statement ends at a `;`
//! outside strings and comments; a `local` statement also ends at the end of its line; the last
//! statement may end with the input. `local remark` and `local echo` without a quoted string
//! take the rest of their line verbatim (a final `;` is dropped).
//!
//! Only ASCII bytes are structural, so every position the scanner stops at is a char boundary.

use crate::limits::MAX_STATEMENT_BYTES;

/// One statement's place in the script. Invariant: `start <= end <= next <= source.len()`,
/// all char boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    /// First byte of the statement.
    pub start: usize,
    /// End of its text (exclusive), trailing white space and the terminator excluded.
    pub end: usize,
    /// Whether a `;` or (for `local`) the end of the line ended it, rather than the input.
    pub terminated: bool,
    /// Whether it is a `local` statement.
    pub local: bool,
}

/// Why scanning stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScanError {
    /// A string opened at `at` is not closed before the end of the input.
    UnterminatedString { at: usize },
    /// A string opened at `at` in a `local` statement is not closed on its line.
    UnterminatedLocalString { at: usize },
    /// A `/*` comment opened at `at` is not closed.
    UnterminatedComment { at: usize },
    /// The statement starting at `at` is longer than [`MAX_STATEMENT_BYTES`].
    StatementTooLong { at: usize },
}

/// Cuts `source` into statements.
pub(crate) fn scan(source: &str) -> Result<Vec<Piece>, ScanError> {
    let mut pieces = Vec::new();
    let scanner = Scanner {
        bytes: source.as_bytes(),
    };
    let mut pos = 0;
    loop {
        pos = scanner.skip_gap(pos)?;
        if pos >= scanner.bytes.len() {
            return Ok(pieces);
        }
        let (piece, next) = scanner.statement(pos)?;
        if piece.end - piece.start > MAX_STATEMENT_BYTES {
            return Err(ScanError::StatementTooLong { at: piece.start });
        }
        pieces.push(piece);
        pos = next;
    }
}

/// Whether `input` ends a statement, as the REPL's validator needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Completeness {
    /// Nothing is open: hand the input to the interpreter (it may still hold errors).
    Complete,
    /// A string, comment or statement is still open: keep reading lines.
    Incomplete,
}

/// Decides whether `input` is complete: every statement is ended by `;` or is a `local` line,
/// and no string or comment is open. Input that can never become valid by typing more is
/// complete, so that its error is shown.
pub(crate) fn completeness(input: &str) -> Completeness {
    match scan(input) {
        Ok(pieces) => match pieces.last() {
            Some(last) if !last.terminated && !last.local => Completeness::Incomplete,
            _ => Completeness::Complete,
        },
        Err(ScanError::UnterminatedString { .. } | ScanError::UnterminatedComment { .. }) => {
            Completeness::Incomplete
        }
        Err(ScanError::UnterminatedLocalString { .. } | ScanError::StatementTooLong { .. }) => {
            Completeness::Complete
        }
    }
}

/// A string literal's place in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Literal {
    /// Bytes of the literal, quotes included; an unclosed one runs to the end of the text.
    pub span: std::ops::Range<usize>,
    /// Whether the closing quote is there.
    pub closed: bool,
}

/// The string literals in a text, in order. Scanning stops at an unclosed comment.
pub(crate) fn string_literals(text: &str) -> Vec<Literal> {
    let scanner = Scanner {
        bytes: text.as_bytes(),
    };
    let mut found = Vec::new();
    let mut pos = 0;
    while let Some(&byte) = scanner.bytes.get(pos) {
        pos = match byte {
            b'\'' | b'"' => match scanner.string_end(pos, false) {
                Ok(end) => {
                    found.push(Literal {
                        span: pos..end,
                        closed: true,
                    });
                    end
                }
                Err(_) => {
                    found.push(Literal {
                        span: pos..text.len(),
                        closed: false,
                    });
                    break;
                }
            },
            _ => match scanner.comment_end(pos) {
                Some(Ok(end)) => end,
                Some(Err(_)) => break,
                None => pos + 1,
            },
        };
    }
    found
}

/// `text` with every character inside string literals (quotes and line breaks excepted)
/// replaced by `*`, so that error snippets never show a secret and carets stay aligned.
pub(crate) fn mask_strings(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut copied = 0;
    for literal in string_literals(text) {
        // Quotes are ASCII, so these offsets are char boundaries.
        let body_start = literal.span.start + 1;
        let body_end = if literal.closed {
            literal.span.end - 1
        } else {
            literal.span.end
        };
        masked.push_str(text.get(copied..body_start).unwrap_or(""));
        let body = text.get(body_start..body_end).unwrap_or("");
        masked.extend(body.chars().map(|c| if c == '\n' { c } else { '*' }));
        copied = body_end;
    }
    masked.push_str(text.get(copied..).unwrap_or(""));
    masked
}

/// What a [`Token`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A run of characters other than white space, quotes, `;`, `,` and comments: a keyword,
    /// a number, or a bare value.
    Word,
    /// A string literal, quotes included (an unclosed one runs to the end of the text).
    Literal,
    /// A `;`.
    Semicolon,
    /// A line break (which ends a `local` statement).
    LineBreak,
}

/// A piece of text that need not parse: what the secret finder reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Its bytes in the text (char boundaries: only ASCII bytes end a token).
    pub span: std::ops::Range<usize>,
}

/// The words, string literals, `;` and line breaks of `text`, in order. Comments, commas
/// and other white space are skipped; an unclosed comment ends the text.
pub(crate) fn tokens(text: &str) -> Vec<Token> {
    let scanner = Scanner {
        bytes: text.as_bytes(),
    };
    let mut found = Vec::new();
    let mut pos = 0;
    let mut push = |kind, span| found.push(Token { kind, span });
    while let Some(&byte) = scanner.bytes.get(pos) {
        let start = pos;
        pos = match byte {
            b'\'' | b'"' => {
                let end = scanner.string_end(pos, false).unwrap_or(text.len());
                push(TokenKind::Literal, start..end);
                end
            }
            b';' => {
                push(TokenKind::Semicolon, start..start + 1);
                start + 1
            }
            b'\n' => {
                push(TokenKind::LineBreak, start..start + 1);
                start + 1
            }
            b',' => start + 1,
            _ if byte.is_ascii_whitespace() => start + 1,
            _ => match scanner.comment_end(pos) {
                Some(Ok(end)) => end,
                Some(Err(_)) => break,
                None => {
                    let end = scanner.word_end(pos);
                    push(TokenKind::Word, start..end);
                    end
                }
            },
        };
    }
    found
}

/// The unquoted content of a string literal: `'it''s'` gives `it's`.
pub(crate) fn unquote(literal: &str) -> String {
    let mut chars = literal.chars();
    let Some(quote) = chars.next() else {
        return String::new();
    };
    let inner = chars.as_str().strip_suffix(quote).unwrap_or(chars.as_str());
    // Each quote is kept and the one doubling it dropped, left to right.
    let mut unquoted = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(at) = rest.find(quote) {
        let (kept, after) = rest.split_at(at + quote.len_utf8());
        unquoted.push_str(kept);
        rest = after.strip_prefix(quote).unwrap_or(after);
    }
    unquoted.push_str(rest);
    unquoted
}

struct Scanner<'a> {
    bytes: &'a [u8],
}

impl Scanner<'_> {
    /// Skips white space, comments and empty statements (`;`).
    fn skip_gap(&self, mut pos: usize) -> Result<usize, ScanError> {
        while let Some(&byte) = self.bytes.get(pos) {
            if byte.is_ascii_whitespace() || byte == b';' {
                pos += 1;
            } else if let Some(end) = self.comment_end(pos) {
                pos = end?;
            } else {
                break;
            }
        }
        Ok(pos)
    }

    /// If a comment starts at `pos`, where it ends (a line comment ends before its line break).
    fn comment_end(&self, pos: usize) -> Option<Result<usize, ScanError>> {
        match (self.bytes.get(pos), self.bytes.get(pos + 1)) {
            (Some(b'-'), Some(b'-')) => Some(Ok(self.line_end(pos))),
            (Some(b'/'), Some(b'*')) => Some(
                self.find(pos + 2, b"*/")
                    .map(|end| end + 2)
                    .ok_or(ScanError::UnterminatedComment { at: pos }),
            ),
            _ => None,
        }
    }

    /// The position after the string whose quote is at `pos`.
    fn string_end(&self, pos: usize, within_line: bool) -> Result<usize, ScanError> {
        let quote = self.bytes.get(pos).copied().unwrap_or(b'\'');
        let mut i = pos + 1;
        while let Some(&byte) = self.bytes.get(i) {
            if byte == quote {
                if self.bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                    continue;
                }
                return Ok(i + 1);
            }
            if within_line && byte == b'\n' {
                return Err(ScanError::UnterminatedLocalString { at: pos });
            }
            i += 1;
        }
        Err(if within_line {
            ScanError::UnterminatedLocalString { at: pos }
        } else {
            ScanError::UnterminatedString { at: pos }
        })
    }

    /// Scans the statement starting at `start` (not white space, not a comment).
    /// Returns it and the position to continue from.
    fn statement(&self, start: usize) -> Result<(Piece, usize), ScanError> {
        if !self.keyword_at(start, b"local") {
            return self.tokens(start, start, false);
        }
        let after_local = self.skip_blanks(start + b"local".len());
        if self.keyword_at(after_local, b"remark") {
            return Ok(self.rest_of_line(start));
        }
        if self.keyword_at(after_local, b"echo") {
            let text = self.skip_blanks(after_local + b"echo".len());
            if !matches!(self.bytes.get(text), Some(b'\'' | b'"')) {
                return Ok(self.rest_of_line(start));
            }
        }
        self.tokens(start, after_local, true)
    }

    /// Scans strings, comments and other bytes from `pos` until the statement's end.
    fn tokens(
        &self,
        start: usize,
        mut pos: usize,
        local: bool,
    ) -> Result<(Piece, usize), ScanError> {
        while let Some(&byte) = self.bytes.get(pos) {
            match byte {
                b';' => return Ok((self.piece(start, pos, true, local), pos + 1)),
                b'\n' if local => return Ok((self.piece(start, pos, true, local), pos + 1)),
                b'\'' | b'"' => pos = self.string_end(pos, local)?,
                _ => match self.comment_end(pos) {
                    Some(end) => pos = end?,
                    None => pos += 1,
                },
            }
        }
        Ok((self.piece(start, pos, local, local), pos))
    }

    /// A `local remark` or bare `local echo`: the rest of the line, without a final `;`.
    fn rest_of_line(&self, start: usize) -> (Piece, usize) {
        let eol = self.line_end(start);
        let mut end = self.trim_end(start, eol);
        if end > start && self.bytes.get(end - 1) == Some(&b';') {
            end -= 1;
        }
        (
            self.piece(start, end, true, true),
            (eol + 1).min(self.bytes.len()),
        )
    }

    fn piece(&self, start: usize, end: usize, terminated: bool, local: bool) -> Piece {
        Piece {
            start,
            end: self.trim_end(start, end),
            terminated,
            local,
        }
    }

    /// `end` moved back over ASCII white space, not before `start`.
    fn trim_end(&self, start: usize, mut end: usize) -> usize {
        while end > start
            && self
                .bytes
                .get(end - 1)
                .is_some_and(|byte| byte.is_ascii_whitespace())
        {
            end -= 1;
        }
        end
    }

    /// Position of the line break at or after `pos`, or the input's end.
    fn line_end(&self, pos: usize) -> usize {
        self.bytes
            .get(pos..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
            .map_or(self.bytes.len(), |i| pos + i)
    }

    /// Position of `needle` at or after `pos`.
    fn find(&self, pos: usize, needle: &[u8]) -> Option<usize> {
        self.bytes
            .get(pos..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| pos + i)
    }

    /// The end of the word starting at `pos`: the next white space, quote, `;`, `,` or
    /// comment start.
    fn word_end(&self, mut pos: usize) -> usize {
        while let Some(&byte) = self.bytes.get(pos) {
            let ends = byte.is_ascii_whitespace()
                || matches!(byte, b'\'' | b'"' | b';' | b',')
                || self.comment_end(pos).is_some();
            if ends {
                break;
            }
            pos += 1;
        }
        pos
    }

    fn skip_blanks(&self, mut pos: usize) -> usize {
        while matches!(self.bytes.get(pos), Some(b' ' | b'\t')) {
            pos += 1;
        }
        pos
    }

    /// Whether the keyword (lower case ASCII) starts at `pos`, followed by a word boundary.
    fn keyword_at(&self, pos: usize, keyword: &[u8]) -> bool {
        let end = pos + keyword.len();
        self.bytes
            .get(pos..end)
            .is_some_and(|word| word.eq_ignore_ascii_case(keyword))
            && !self
                .bytes
                .get(end)
                .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(source: &str) -> Vec<&str> {
        scan(source)
            .unwrap()
            .iter()
            .map(|p| &source[p.start..p.end])
            .collect()
    }

    #[test]
    fn cuts_at_semicolons_outside_strings_and_comments() {
        assert_eq!(
            texts("show connections; encrypt value 'a;b' /* ; */; -- ;\nshow platforms"),
            [
                "show connections",
                "encrypt value 'a;b' /* ; */",
                "show platforms"
            ]
        );
    }

    #[test]
    fn local_statements_end_at_the_line_end() {
        assert_eq!(
            texts("local define A 'x'\nlocal remark it's; fine;\nlocal echo hi\nshow\nplatforms;"),
            [
                "local define A 'x'",
                "local remark it's; fine",
                "local echo hi",
                "show\nplatforms"
            ]
        );
    }

    #[test]
    fn completeness_follows_open_statements() {
        assert_eq!(completeness("show platforms"), Completeness::Incomplete);
        assert_eq!(completeness("show platforms;"), Completeness::Complete);
        assert_eq!(completeness("encrypt value 'a;"), Completeness::Incomplete);
        assert_eq!(completeness("local echo 'a"), Completeness::Complete);
        assert_eq!(completeness("/* open"), Completeness::Incomplete);
        assert_eq!(completeness("local remark x"), Completeness::Complete);
        assert_eq!(completeness(""), Completeness::Complete);
    }

    #[test]
    fn mask_hides_string_contents_only() {
        assert_eq!(
            mask_strings("encrypt value 'ab''c' x"),
            "encrypt value '*****' x"
        );
        assert_eq!(mask_strings("a \"é\nz\" 'open"), "a \"*\n*\" '****");
    }

    #[test]
    fn tokens_split_words_literals_and_ends() {
        let text = "alter connection 'a;b' set client id x,client secret \"s\" -- c\n/* d */ show;";
        let shown: Vec<(TokenKind, &str)> = tokens(text)
            .into_iter()
            .map(|t| (t.kind, &text[t.span]))
            .collect();
        use TokenKind::{LineBreak, Literal, Semicolon, Word};
        assert_eq!(
            shown,
            [
                (Word, "alter"),
                (Word, "connection"),
                (Literal, "'a;b'"),
                (Word, "set"),
                (Word, "client"),
                (Word, "id"),
                (Word, "x"),
                (Word, "client"),
                (Word, "secret"),
                (Literal, "\"s\""),
                (LineBreak, "\n"),
                (Word, "show"),
                (Semicolon, ";"),
            ]
        );
        assert_eq!(tokens("x 'open")[1].span, 2..7);
        assert_eq!(tokens("é-ü /* open").len(), 1);
    }

    #[test]
    fn unquote_undoubles_quotes() {
        assert_eq!(unquote("'it''s'"), "it's");
        assert_eq!(unquote("\"say \"\"hi\"\"\""), "say \"hi\"");
        assert_eq!(unquote("''''''"), "''");
        assert_eq!(unquote("'a''''b'"), "a''b");
        assert_eq!(unquote("'é''ü'"), "é'ü");
        assert_eq!(unquote("'a'b'"), "a'b");
        assert_eq!(unquote("''"), "");
        assert_eq!(unquote("'"), "");
        assert_eq!(unquote(""), "");
    }
}
