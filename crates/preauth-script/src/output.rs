//! Tables for `show` and `check`: aligned text on a terminal, CSV or JSON for scripts.
//!
//! Columns are named for people (`access token expires`); CSV headers and JSON keys are
//! the same names in snake_case (`access_token_expires`). A [`Cell::Time`] prints as
//! `2026-12-01 10:00:00 UTC` in a table and as RFC 3339 (`2026-12-01T10:00:00Z`) in CSV
//! and JSON; in JSON, yes/no and (set)/(none) are `true`/`false`, and an empty cell is
//! `null`. Only data goes to standard output in CSV and JSON; remarks such as `local echo`
//! go to standard error there (see `Environment::note`).
//!
//! JSON output is NDJSON: each statement that prints prints one JSON document on one
//! line (an array of rows, an object for one connection or a check, a string for a single
//! value), so one statement's output is one document for `json.load`, and a script's is
//! read a line at a time.
//!
//! On a terminal, a table fits its width ([`terminal_width`], asked for each table, so a
//! resized window counts): long cells are cut with `…` and a line under the table says how
//! to see everything; a table with too many columns for the terminal is printed expanded.
//! The expanded display (`\x` in the shell, `--expanded` on the command line) prints one
//! `name | value` block per row instead, as psql does.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use preauth_core::error::{Quoted, When};
use serde_json::Value;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// RFC 4180 comma-separated values with a header line.
    Csv,
    /// One JSON document per statement, one per line (NDJSON).
    Json,
}

impl OutputFormat {
    /// Whether the output is for programs (CSV or JSON): nothing but data on stdout.
    pub fn is_data(self) -> bool {
        self != OutputFormat::Table
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(OutputFormat::Table),
            "csv" => Ok(OutputFormat::Csv),
            "json" => Ok(OutputFormat::Json),
            other => Err(format!("unknown format '{other}'; use table, csv or json")),
        }
    }
}

/// The expanded display: one `name | value` block per row.
static EXPANDED: AtomicBool = AtomicBool::new(false);

/// Turns the expanded display on or off (`--expanded`).
pub fn set_expanded(on: bool) {
    EXPANDED.store(on, Ordering::Relaxed);
}

/// Turns the expanded display over (`\x` in the shell); returns whether it is now on.
pub fn toggle_expanded() -> bool {
    !EXPANDED.fetch_xor(true, Ordering::Relaxed)
}

/// Whether the expanded display is on.
pub fn expanded() -> bool {
    EXPANDED.load(Ordering::Relaxed)
}

/// The width of the terminal standard output is, when it is one: `$COLUMNS` when set to
/// a number, else what the terminal says. `None` when standard output is not a terminal.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    if let Some(columns) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
    {
        return Some(columns);
    }
    crate::terminal::size().map(|(_, columns)| columns)
}

/// A single value a statement prints (a sealed string, a key, a code): as is for
/// people, a JSON string (one NDJSON document) in JSON.
pub fn value(format: OutputFormat, text: &str) -> String {
    match format {
        OutputFormat::Json => Value::String(text.to_string()).to_string() + "\n",
        OutputFormat::Table | OutputFormat::Csv => format!("{text}\n"),
    }
}

/// One value of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Text, printed as is (`null` in JSON when empty).
    Text(String),
    /// A point in time: human in a table, RFC 3339 in CSV and JSON.
    Time(SystemTime),
    /// Yes or no: `yes`/`no` in a table and CSV, a boolean in JSON.
    Flag(bool),
    /// Whether a secret is there, never its value: `(set)`/`(none)` in a table and CSV,
    /// a boolean in JSON.
    Set(bool),
    /// Nothing: empty in a table and CSV, `null` in JSON.
    Absent,
}

impl Cell {
    /// A time, or nothing.
    pub fn time(at: Option<SystemTime>) -> Cell {
        at.map_or(Cell::Absent, Cell::Time)
    }

    fn render(&self, format: OutputFormat) -> String {
        match (self, format) {
            (Cell::Text(text), _) => text.clone(),
            (Cell::Absent, _) => String::new(),
            (Cell::Time(at), OutputFormat::Table) => When(*at).to_string(),
            (Cell::Time(at), OutputFormat::Csv | OutputFormat::Json) => {
                humantime::format_rfc3339_seconds(*at).to_string()
            }
            (Cell::Flag(value) | Cell::Set(value), OutputFormat::Json) => value.to_string(),
            (Cell::Flag(yes), _) => (if *yes { "yes" } else { "no" }).into(),
            (Cell::Set(set), _) => (if *set { "(set)" } else { "(none)" }).into(),
        }
    }

    /// The value in JSON: booleans as booleans, nothing as `null`.
    fn json(&self) -> Value {
        match self {
            Cell::Flag(value) | Cell::Set(value) => Value::Bool(*value),
            Cell::Absent => Value::Null,
            Cell::Text(text) if text.is_empty() => Value::Null,
            other => Value::String(other.render(OutputFormat::Json)),
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::Text(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::Text(text.to_string())
    }
}

/// Rows under named columns.
#[derive(Debug, Clone, Default)]
pub struct Table {
    columns: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
    /// A table of properties of one thing (`property`, `value`): one JSON object.
    properties: bool,
    /// The statement that shows all of one row, `{}` standing for the row's first cell
    /// (quoted), named in the hint under a table that was cut.
    detail: Option<&'static str>,
}

/// `access token expires` as a key for programs: `access_token_expires`.
fn key(column: &str) -> String {
    column
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The narrowest a cut column gets (its own width when that is less).
const NARROWEST: usize = 8;

/// `text` in at most `width` characters: cut with `…` when longer.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut short: String = text.chars().take(width.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// Column widths that fit `limit` (two spaces between columns), the widest columns
/// narrowed first; `None` when that would take a column below [`NARROWEST`] (too many
/// columns for the terminal: the expanded display reads better then, as psql's `\x auto`).
fn fit(natural: &[usize], limit: usize) -> Option<Vec<usize>> {
    let gaps = 2 * natural.len().saturating_sub(1);
    let mut cap = natural.iter().copied().max().unwrap_or(0);
    loop {
        let widths: Vec<usize> = natural.iter().map(|w| (*w).min(cap)).collect();
        if widths.iter().sum::<usize>() + gaps <= limit {
            return Some(widths);
        }
        if cap <= NARROWEST {
            return None;
        }
        cap -= 1;
    }
}

impl Table {
    /// An empty table with these column names (in snake_case, also the CSV headers and
    /// JSON keys).
    pub fn new(columns: &[&'static str]) -> Table {
        Table {
            columns: columns.to_vec(),
            ..Table::default()
        }
    }

    /// An empty table of the properties of one thing (`property`, `value`), which is one
    /// JSON object of them.
    pub fn properties() -> Table {
        Table {
            properties: true,
            ..Table::new(&["property", "value"])
        }
    }

    /// The same table, whose hint under a cut table names `statement` (with `{}` for a
    /// row's first cell, quoted as a statement quotes it) to show all of one row.
    pub fn with_detail(mut self, statement: &'static str) -> Table {
        self.detail = Some(statement);
        self
    }

    /// Adds a row; missing cells are empty, extra cells are dropped.
    pub fn push(&mut self, mut row: Vec<Cell>) {
        row.resize(self.columns.len(), Cell::Absent);
        self.rows.push(row);
    }

    /// The rows added so far.
    pub fn rows(&self) -> &[Vec<Cell>] {
        &self.rows
    }

    /// The table in `format`, ending with a newline: text as the display settings say
    /// (expanded, or cut to the width of the terminal standard output is), or CSV, or one
    /// line of JSON.
    pub fn render(&self, format: OutputFormat) -> String {
        match format {
            OutputFormat::Table if expanded() => self.expanded(),
            OutputFormat::Table => self.text(terminal_width()),
            OutputFormat::Csv => self.csv(),
            OutputFormat::Json if self.properties => self.to_json_object().to_string() + "\n",
            OutputFormat::Json => self.to_json().to_string() + "\n",
        }
    }

    /// The column names.
    pub fn columns(&self) -> &[&'static str] {
        &self.columns
    }

    /// Every row's cells as text in `format` (times human in `Table`, RFC 3339 else).
    pub fn cells(&self, format: OutputFormat) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|row| row.iter().map(|c| c.render(format)).collect())
            .collect()
    }

    /// Aligned columns, cut to `width` when given; a hint line follows when anything
    /// was cut.
    fn text(&self, width: Option<usize>) -> String {
        let rows = self.cells(OutputFormat::Table);
        let mut natural: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for row in &rows {
            for (w, cell) in natural.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let widths = match width.map(|limit| fit(&natural, limit)) {
            None => natural,
            Some(Some(widths)) => widths,
            Some(None) => return self.expanded(),
        };
        // The row that lost most to the cut, named in the hint.
        let mut most_cut: Option<(usize, &str)> = None;
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (cell, width) in cells.zip(&widths) {
                let _ = write!(out, "{:<width$}  ", cut(cell, *width));
            }
            out.trim_end().to_string() + "\n"
        };
        let mut out = line(&mut self.columns.iter().copied());
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out += &line(&mut rule.iter().map(String::as_str));
        for row in &rows {
            let hidden: usize = row
                .iter()
                .zip(&widths)
                .map(|(c, w)| c.chars().count().saturating_sub(*w))
                .sum();
            if hidden > most_cut.map_or(0, |(most, _)| most) {
                most_cut = row.first().map(|name| (hidden, name.as_str()));
            }
            out += &line(&mut row.iter().map(String::as_str));
        }
        if let Some((_, name)) = most_cut {
            let detail = self
                .detail
                .map(|statement| statement.replace("{}", &Quoted(name).to_string()) + " or ")
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "(cut to the terminal: {detail}the expanded display (\\x, or --expanded) shows everything)"
            );
        }
        out
    }

    /// One block per row, a line per column (`name | value`), as psql's `\x`.
    fn expanded(&self) -> String {
        let rows = self.cells(OutputFormat::Table);
        let name_width = self
            .columns
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (i, row) in rows.iter().enumerate() {
            let _ = writeln!(out, "-[ RECORD {} ]{}", i + 1, "-".repeat(name_width));
            for (column, cell) in self.columns.iter().zip(row) {
                let _ = writeln!(
                    out,
                    "{}",
                    format!("{column:<name_width$} | {cell}").trim_end()
                );
            }
        }
        if rows.is_empty() {
            out += "(no rows)\n";
        }
        out
    }

    fn csv(&self) -> String {
        let quote = |cell: &str| {
            if cell.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", cell.replace('"', "\"\""))
            } else {
                cell.to_string()
            }
        };
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| quote(&key(c))).collect();
        out += &(header.join(",") + "\n");
        for row in self.cells(OutputFormat::Csv) {
            let cells: Vec<String> = row.iter().map(|c| quote(c)).collect();
            out += &(cells.join(",") + "\n");
        }
        out
    }

    /// The rows as JSON objects keyed by column (the `json` output format of a list).
    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let object = self
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(k, v)| (key(k), v.json()))
                    .collect();
                Value::Object(object)
            })
            .collect();
        Value::Array(rows)
    }

    /// A table of two columns (property and value, as `show connection` prints) as one
    /// JSON object: each property, in snake_case, holds its value.
    pub fn to_json_object(&self) -> Value {
        let object = self
            .rows
            .iter()
            .filter_map(|row| match row.as_slice() {
                [Cell::Text(name), value, ..] => Some((key(name), value.json())),
                _ => None,
            })
            .collect();
        Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(&["name", "status"]);
        t.push(vec!["acme-nl".into(), "valid".into()]);
        t.push(vec!["b,\"c\"".into(), "expired".into()]);
        t
    }

    #[test]
    fn a_property_table_is_one_object_with_booleans_and_nulls() {
        let mut t = Table::properties();
        t.push(vec!["api url".into(), "https://x.example".into()]);
        t.push(vec!["status".into(), "valid".into()]);
        t.push(vec!["client secret".into(), Cell::Set(true)]);
        t.push(vec!["encrypted".into(), Cell::Flag(false)]);
        t.push(vec!["problem".into(), "".into()]);
        t.push(vec!["access token expires".into(), Cell::time(None)]);
        let expected = serde_json::json!({
            "api_url": "https://x.example",
            "status": "valid",
            "client_secret": true,
            "encrypted": false,
            "problem": null,
            "access_token_expires": null,
        });
        assert_eq!(t.to_json_object(), expected);
        let line = t.render(OutputFormat::Json);
        assert_eq!(line.lines().count(), 1, "one NDJSON line: {line}");
        assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), expected);
        let text = t.text(None);
        let row = |name: &str| {
            let line = text.lines().find(|l| l.starts_with(name)).expect("a row");
            line[name.len()..].trim().to_string()
        };
        assert_eq!(row("client secret"), "(set)", "{text}");
        assert_eq!(row("encrypted"), "no", "{text}");
    }

    #[test]
    fn a_table_is_cut_to_the_width_with_a_hint() {
        let mut t = Table::new(&["name", "status", "problem"]).with_detail("show connection {}");
        t.push(vec!["short".into(), "valid".into(), "".into()]);
        t.push(vec![
            "it's".into(),
            "unusable".into(),
            "x".repeat(500).into(),
        ]);
        let text = t.text(Some(60));
        let lines: Vec<&str> = text.lines().collect();
        for line in &lines[..4] {
            assert!(line.chars().count() <= 60, "{line}");
        }
        assert!(lines[3].ends_with('…'), "{text}");
        assert_eq!(
            lines[4],
            "(cut to the terminal: show connection 'it''s' or the expanded display (\\x, or --expanded) shows everything)"
        );
        // Too narrow for three columns of 8: expanded.
        assert_eq!(t.text(Some(20)), t.expanded());
        // Nothing cut: no hint, and no width: nothing cut.
        assert_eq!(sample().text(Some(60)), sample().text(None));
        assert!(t.text(None).contains(&"x".repeat(500)));
        assert!(!t.text(None).contains("cut to the terminal"));
    }

    #[test]
    fn the_expanded_display_has_a_block_per_row() {
        let text = sample().expanded();
        assert_eq!(
            text,
            "-[ RECORD 1 ]------\nname   | acme-nl\nstatus | valid\n\
             -[ RECORD 2 ]------\nname   | b,\"c\"\nstatus | expired\n"
        );
        assert_eq!(Table::new(&["name"]).expanded(), "(no rows)\n");
    }

    #[test]
    fn a_single_value_is_a_json_string() {
        assert_eq!(
            value(OutputFormat::Json, "dk1:\"x\""),
            "\"dk1:\\\"x\\\"\"\n"
        );
        assert_eq!(value(OutputFormat::Table, "dk1:x"), "dk1:x\n");
    }

    #[test]
    fn csv_keeps_the_words_and_empty_cells() {
        let mut t = Table::new(&["name", "encrypted", "expires"]);
        t.push(vec!["a".into(), Cell::Flag(true), Cell::time(None)]);
        assert_eq!(
            t.render(OutputFormat::Csv),
            "name,encrypted,expires\na,yes,\n"
        );
    }

    #[test]
    fn text_aligns_columns() {
        let text = sample().text(None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "name     status");
        assert_eq!(lines[1], "-------  -------");
        assert_eq!(lines[2], "acme-nl  valid");
    }

    #[test]
    fn csv_quotes_where_needed() {
        let csv = sample().render(OutputFormat::Csv);
        assert_eq!(csv, "name,status\nacme-nl,valid\n\"b,\"\"c\"\"\",expired\n");
    }

    #[test]
    fn keys_are_snake_case_and_times_rfc_3339_for_programs() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let mut t = Table::new(&["name", "access token expires"]);
        t.push(vec!["a".into(), Cell::Time(at)]);
        assert!(t.text(None).contains("2027-01-15 08:00:00 UTC"));
        assert_eq!(
            t.render(OutputFormat::Csv),
            "name,access_token_expires\na,2027-01-15T08:00:00Z\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&t.render(OutputFormat::Json)).expect("valid JSON");
        assert_eq!(json[0]["access_token_expires"], "2027-01-15T08:00:00Z");
    }

    #[test]
    fn json_is_an_array_of_objects() {
        let json: serde_json::Value =
            serde_json::from_str(&sample().render(OutputFormat::Json)).expect("valid JSON");
        assert_eq!(json[1]["name"], "b,\"c\"");
        assert_eq!(json[0]["status"], "valid");
    }
}
