//! The harness's results: one row per scenario, printed as one aligned table per family (for
//! people) or as a JSON array (for machines).

use std::fmt::Write as _;

use serde::ser::{Serialize, SerializeMap, Serializer};

/// One value of a row.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell {
    /// A count (requests, polls, attempts…).
    Count(u64),
    /// A duration, in seconds.
    Seconds(f64),
    /// Yes or no.
    Flag(bool),
}

impl Cell {
    fn display(&self) -> String {
        match self {
            Cell::Count(n) => n.to_string(),
            Cell::Seconds(s) => format!("{s:.1}s"),
            Cell::Flag(b) => if *b { "yes" } else { "no" }.to_owned(),
        }
    }
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Count(n) => serializer.serialize_u64(*n),
            Cell::Seconds(s) => serializer.serialize_f64(*s),
            Cell::Flag(b) => serializer.serialize_bool(*b),
        }
    }
}

/// One scenario's result.
///
/// Invariant: rows of one family carry the same column keys, in the same order (the family's
/// table header is taken from its first row).
#[derive(Clone, Debug)]
pub(crate) struct Row {
    /// The scenario's family (the machine it exercises: `lockpoll`, `jobwait`, …); one table each.
    pub(crate) family: &'static str,
    /// The scenario's name, the table's first column.
    pub(crate) scenario: String,
    /// What happened, in a few words.
    pub(crate) outcome: String,
    /// The family's own figures, as `(key, value)`: the key is the JSON field and table header.
    pub(crate) columns: Vec<(&'static str, Cell)>,
    /// Whether the scenario behaved as it should (the table's last column).
    pub(crate) ok: bool,
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.columns.len() + 4))?;
        map.serialize_entry("family", self.family)?;
        map.serialize_entry("scenario", &self.scenario)?;
        map.serialize_entry("outcome", &self.outcome)?;
        for (key, cell) in &self.columns {
            map.serialize_entry(key, cell)?;
        }
        map.serialize_entry("ok", &self.ok)?;
        map.end()
    }
}

/// The rows as aligned text: one table per family, in order of first appearance, separated by a
/// blank line.
pub(crate) fn render(rows: &[Row]) -> String {
    let mut families: Vec<&'static str> = Vec::new();
    for row in rows {
        if !families.contains(&row.family) {
            families.push(row.family);
        }
    }
    let tables: Vec<String> = families
        .iter()
        .map(|family| render_family(&rows.iter().filter(|r| r.family == *family).collect::<Vec<_>>()))
        .collect();
    tables.join("\n")
}

fn render_family(rows: &[&Row]) -> String {
    let Some(first) = rows.first() else { return String::new() };
    let mut header = vec!["scenario".to_owned(), "outcome".to_owned()];
    header.extend(first.columns.iter().map(|(key, _)| (*key).to_owned()));
    header.push("ok".to_owned());
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let mut cells = vec![row.scenario.clone(), row.outcome.clone()];
            cells.extend(row.columns.iter().map(|(_, cell)| cell.display()));
            cells.push(Cell::Flag(row.ok).display());
            cells
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for cells in &body {
        for (width, cell) in widths.iter_mut().zip(cells) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for cells in std::iter::once(&header).chain(&body) {
        let line: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(family: &'static str, scenario: &str, polls: u64) -> Row {
        Row {
            family,
            scenario: scenario.into(),
            outcome: "read 8 MiB".into(),
            columns: vec![("polls", Cell::Count(polls)), ("waited", Cell::Seconds(4.02))],
            ok: true,
        }
    }

    #[test]
    fn columns_align() {
        let text = render(&[row("cold-get", "cold-get", 3)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].find("outcome"), lines[1].find("read 8 MiB"));
        assert_eq!(lines[0].find("waited"), lines[1].find("4.0s"));
        assert!(lines[1].ends_with("yes"));
    }

    #[test]
    fn each_family_gets_its_own_table() {
        let text = render(&[row("a", "a1", 1), row("b", "b1", 2), row("a", "a2", 3)]);
        let tables: Vec<&str> = text.split("\n\n").collect();
        assert_eq!(tables.len(), 2);
        assert_eq!(tables[0].lines().count(), 3, "{text}");
        assert!(tables[1].contains("b1"));
    }

    #[test]
    fn json_flattens_the_columns() {
        let json = serde_json::to_value(row("cold-get", "warm-get", 2)).unwrap();
        assert_eq!(json["family"], "cold-get");
        assert_eq!(json["polls"], 2);
        assert_eq!(json["waited"], 4.02);
        assert_eq!(json["ok"], true);
    }
}
