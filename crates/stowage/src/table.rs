//! The harness's result table, for people (aligned text) and machines (JSON).

use std::fmt::Write as _;

use serde::Serialize;

/// One scenario's result.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Row {
    /// The scenario's name.
    pub(crate) scenario: String,
    /// What happened, in a few words.
    pub(crate) outcome: String,
    /// GET attempts.
    pub(crate) attempts: u32,
    /// Check-lock polls after size HEADs, over all lock waits.
    pub(crate) polls: u32,
    /// Seconds spent in lock waits (from each wait's first poll).
    pub(crate) waited_s: f64,
    /// Requests the client sent (GETs, check-locks, HEADs).
    pub(crate) requests: u64,
    /// Requests that failed below HTTP (timeouts, resets).
    pub(crate) errors: u64,
    /// Wall-clock seconds for the whole read.
    pub(crate) elapsed_s: f64,
    /// Whether the bytes read are the bytes written.
    pub(crate) verified: bool,
}

const HEADERS: [&str; 9] =
    ["scenario", "outcome", "attempts", "polls", "waited", "requests", "errors", "elapsed", "verified"];

fn cells(row: &Row) -> [String; 9] {
    [
        row.scenario.clone(),
        row.outcome.clone(),
        row.attempts.to_string(),
        row.polls.to_string(),
        format!("{:.1}s", row.waited_s),
        row.requests.to_string(),
        row.errors.to_string(),
        format!("{:.1}s", row.elapsed_s),
        if row.verified { "yes" } else { "no" }.to_owned(),
    ]
}

/// The rows as an aligned text table.
pub(crate) fn render(rows: &[Row]) -> String {
    let body: Vec<[String; 9]> = rows.iter().map(cells).collect();
    let mut widths = HEADERS.map(str::len);
    for cells in &body {
        for (width, cell) in widths.iter_mut().zip(cells) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = HEADERS.map(str::to_owned);
    for cells in std::iter::once(&header).chain(&body) {
        let line: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let row = Row {
            scenario: "cold-get".into(),
            outcome: "read 8 MiB".into(),
            attempts: 2,
            polls: 3,
            waited_s: 4.02,
            requests: 7,
            errors: 1,
            elapsed_s: 6.5,
            verified: true,
        };
        let text = render(&[row]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].find("outcome"), lines[1].find("read 8 MiB"));
        assert!(lines[1].contains("4.0s"));
    }
}
