//! The size of the terminal standard output goes to, on Unix and Windows alike.

/// Rows and columns of the terminal on standard output, when it is one that says.
pub(crate) fn size() -> Option<(usize, usize)> {
    console::Term::stdout()
        .size_checked()
        .map(|(rows, columns)| (usize::from(rows), usize::from(columns)))
        .filter(|(rows, columns)| *rows > 0 && *columns > 0)
}
