//! Tables for `show` and `check`: aligned text on a terminal, CSV or JSON for scripts.

use std::fmt::Write as _;

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

/// Rows under named columns.
#[derive(Debug, Clone, Default)]
pub struct Table {
    columns: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column names (also the JSON keys).
    pub fn new(columns: &[&'static str]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are empty, extra cells are dropped.
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.columns.len(), String::new());
        self.rows.push(row);
    }

    /// The rows added so far.
    pub fn rows(&self) -> &[Vec<String>] {
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

    fn text(&self) -> String {
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for row in &self.rows {
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
        for row in &self.rows {
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
        let header: Vec<String> = self.columns.iter().map(|c| quote(c)).collect();
        out += &(header.join(",") + "\n");
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| quote(c)).collect();
            out += &(cells.join(",") + "\n");
        }
        out
    }

    fn json(&self) -> String {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|row| {
                let object = self
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(k, v)| ((*k).to_string(), serde_json::Value::String(v.clone())))
                    .collect();
                serde_json::Value::Object(object)
            })
            .collect();
        serde_json::Value::Array(rows).to_string() + "\n"
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
    fn json_is_an_array_of_objects() {
        let json: serde_json::Value =
            serde_json::from_str(&sample().render(OutputFormat::Json)).expect("valid JSON");
        assert_eq!(json[1]["name"], "b,\"c\"");
        assert_eq!(json[0]["status"], "valid");
    }
}
