//! Lines and columns of places in a script.

/// The text between a position and its line's start, last `max` characters at most.
pub(super) fn tail(text: &str, max: usize) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(max)).collect()
}

/// Line and column of increasing offsets, in one pass over the source.
pub(super) struct LineTracker<'a> {
    source: &'a str,
    /// Offset up to which lines are counted.
    at: usize,
    line: usize,
    line_start: usize,
    /// 1-based column of `at` in characters.
    column: usize,
}

/// A position's line, column and line start.
pub(super) struct Place {
    pub line: usize,
    pub column: usize,
    pub line_start: usize,
}

impl<'a> LineTracker<'a> {
    pub(super) fn new(source: &'a str) -> Self {
        Self {
            source,
            at: 0,
            line: 1,
            line_start: 0,
            column: 1,
        }
    }

    /// The place of `offset`, which must not be less than the previous one asked for.
    pub(super) fn place(&mut self, offset: usize) -> Place {
        let segment = self.source.get(self.at..offset).unwrap_or("");
        match segment.rfind('\n') {
            Some(last) => {
                self.line += segment.bytes().filter(|&b| b == b'\n').count();
                self.line_start = self.at + last + 1;
                self.column = 1 + segment.get(last + 1..).unwrap_or("").chars().count();
            }
            None => self.column += segment.chars().count(),
        }
        self.at = offset.max(self.at);
        Place {
            line: self.line,
            column: self.column,
            line_start: self.line_start,
        }
    }
}
