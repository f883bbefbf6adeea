//! Tables for `show` and `check`: aligned text on a terminal, CSV or JSON for scripts.
//!
//! Columns are named for people (`access token expires`); CSV headers and JSON keys are
//! the same names in snake_case (`access_token_expires`). A [`Cell::Time`] prints as
//! `2026-12-01 10:00:00 UTC` in a table and as RFC 3339 (`2026-12-01T10:00:00Z`) in CSV
//! and JSON. Only tables go to standard output in CSV and JSON; remarks such as `local
//! echo` go to standard error there (see `Environment::note`).

use std::fmt::Write as _;
use std::time::SystemTime;

use preauth_core::error::When;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// RFC 4180 comma-separated values with a header line.
    Csv,
    /// One JSON array of objects keyed by column name.
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

/// One value of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Text, printed as is.
    Text(String),
    /// A point in time: human in a table, RFC 3339 in CSV and JSON.
    Time(SystemTime),
}

impl Cell {
    /// A time, or an empty cell.
    pub fn time(at: Option<SystemTime>) -> Cell {
        at.map_or_else(|| Cell::Text(String::new()), Cell::Time)
    }

    fn render(&self, format: OutputFormat) -> String {
        match (self, format) {
            (Cell::Text(text), _) => text.clone(),
            (Cell::Time(at), OutputFormat::Table) => When(*at).to_string(),
            (Cell::Time(at), OutputFormat::Csv | OutputFormat::Json) => {
                humantime::format_rfc3339_seconds(*at).to_string()
            }
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

impl Table {
    /// An empty table with these column names (in snake_case, also the CSV headers and
    /// JSON keys).
    pub fn new(columns: &[&'static str]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are empty, extra cells are dropped.
    pub fn push(&mut self, mut row: Vec<Cell>) {
        row.resize(self.columns.len(), Cell::Text(String::new()));
        self.rows.push(row);
    }

    /// The rows added so far.
    pub fn rows(&self) -> &[Vec<Cell>] {
        &self.rows
    }

    /// The table in `format`, ending with a newline.
    pub fn render(&self, format: OutputFormat) -> String {
        match format {
            OutputFormat::Table => self.text(),
            OutputFormat::Csv => self.csv(),
            OutputFormat::Json => self.json(),
        }
    }

    /// The rows as rendered in `format`.
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

    fn text(&self) -> String {
        let rows = self.cells(OutputFormat::Table);
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (cell, width) in cells.zip(&widths) {
                let _ = write!(out, "{cell:<width$}  ");
            }
            out.trim_end().to_string() + "\n"
        };
        let mut out = line(&mut self.columns.iter().copied());
        out += &line(
            &mut widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str),
        );
        for row in &rows {
            out += &line(&mut row.iter().map(String::as_str));
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

    fn json(&self) -> String {
        self.to_json().to_string() + "\n"
    }

    /// The rows as JSON objects keyed by column (the `json` output format).
    pub fn to_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .cells(OutputFormat::Json)
            .into_iter()
            .map(|row| {
                let object = self
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(k, v)| (key(k), serde_json::Value::String(v)))
                    .collect();
                serde_json::Value::Object(object)
            })
            .collect();
        serde_json::Value::Array(rows)
    }

    /// A table of two columns (property and value, as `show connection` prints) as one
    /// JSON object: each property, in snake_case, holds its value.
    pub fn to_json_object(&self) -> serde_json::Value {
        let object = self
            .cells(OutputFormat::Json)
            .into_iter()
            .filter_map(|row| {
                let mut cells = row.into_iter();
                Some((
                    key(&cells.next()?),
                    serde_json::Value::String(cells.next()?),
                ))
            })
            .collect();
        serde_json::Value::Object(object)
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
    fn a_property_table_is_one_object() {
        let mut t = Table::new(&["property", "value"]);
        t.push(vec!["api url".into(), "https://x.example".into()]);
        t.push(vec!["status".into(), "valid".into()]);
        assert_eq!(
            t.to_json_object(),
            serde_json::json!({"api_url": "https://x.example", "status": "valid"})
        );
    }

    #[test]
    fn text_aligns_columns() {
        let text = sample().render(OutputFormat::Table);
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
        assert!(
            t.render(OutputFormat::Table)
                .contains("2027-01-15 08:00:00 UTC")
        );
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
