//! ARCHITECTURE.md's crate table, written from the workspace: one row per crate, in the order
//! of the roles, with its folder, role, description and workspace dependencies.

use super::workspace::{Crate, Workspace};

/// The line before the table.
pub(crate) const BEGIN: &str = "<!-- crates:begin -->";
/// The line after the table.
pub(crate) const END: &str = "<!-- crates:end -->";

/// The table of `workspace`, marker lines included, each line ending in a newline.
pub(crate) fn render(workspace: &Workspace) -> String {
    let mut crates: Vec<&Crate> = workspace.crates.iter().collect();
    // Vocabulary and codecs before machines; then by name.
    crates.sort_by(|a, b| (a.role, a.machine, &a.name).cmp(&(b.role, b.machine, &b.name)));
    let mut out = format!("{BEGIN}\n");
    out.push_str("<!-- written by `cargo xtask architecture` from each crate's Cargo.toml: edit those -->\n");
    out.push_str("| crate | folder | role | what it holds | depends on (workspace crates, normal deps) |\n");
    out.push_str("|---|---|---|---|---|\n");
    for krate in crates {
        let role = if krate.machine { format!("{} (machine)", krate.role) } else { krate.role.to_string() };
        let deps: Vec<String> =
            krate.deps.iter().filter(|dep| workspace.get(dep).is_some()).map(|dep| format!("`{dep}`")).collect();
        let deps = if deps.is_empty() { "—".to_owned() } else { deps.join(", ") };
        out.push_str(&format!(
            "| `{}` | [`{}/`]({}) | {role} | {} | {deps} |\n",
            krate.name,
            krate.folder,
            krate.folder,
            cell(&krate.description),
        ));
    }
    out.push_str(END);
    out.push('\n');
    out
}

/// `text` as one table cell: no line break, no bare `|`.
fn cell(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

/// `doc` with the lines from [`BEGIN`] to [`END`] replaced by `table`; `None` unless each
/// marker is there once, on a line of its own, `BEGIN` first.
pub(crate) fn splice(doc: &str, table: &str) -> Option<String> {
    let line_at = |marker: &str| -> Option<usize> {
        let mut at = doc.match_indices(marker).map(|(i, _)| i);
        let first = at.next()?;
        let own_line = (first == 0 || doc[..first].ends_with('\n')) && doc[first + marker.len()..].starts_with('\n');
        (at.next().is_none() && own_line).then_some(first)
    };
    let (begin, end) = (line_at(BEGIN)?, line_at(END)?);
    if end < begin {
        return None;
    }
    let after = end + END.len() + 1;
    Some(format!("{}{table}{}", &doc[..begin], &doc[after..]))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::super::workspace::Role;
    use super::*;

    fn krate(name: &str, role: Role, machine: bool, deps: &[&str], description: &str) -> Crate {
        Crate {
            name: name.to_owned(),
            folder: format!("crates/{}", name.trim_start_matches("stowage-")),
            role,
            machine,
            description: description.to_owned(),
            deps: deps.iter().map(|d| (*d).to_owned()).collect::<BTreeSet<_>>(),
            reaches: BTreeMap::new(),
        }
    }

    fn workspace() -> Workspace {
        Workspace {
            crates: vec![
                krate(
                    "stowage-tokio",
                    Role::Driver,
                    false,
                    &["stowage-jobwait", "stowage-proto", "tokio"],
                    "The driver.",
                ),
                krate("stowage-jobwait", Role::Pure, true, &["stowage-proto", "serde"], "Waits | polls\n  jobs."),
                krate("stowage-proto", Role::Pure, false, &["http"], "Words."),
            ],
            policy: Default::default(),
        }
    }

    #[test]
    fn rows_follow_the_roles_with_workspace_dependencies_only() {
        let expected = "<!-- crates:begin -->
<!-- written by `cargo xtask architecture` from each crate's Cargo.toml: edit those -->
| crate | folder | role | what it holds | depends on (workspace crates, normal deps) |
|---|---|---|---|---|
| `stowage-proto` | [`crates/proto/`](crates/proto) | pure | Words. | — |
| `stowage-jobwait` | [`crates/jobwait/`](crates/jobwait) | pure (machine) | Waits \\| polls jobs. | `stowage-proto` |
| `stowage-tokio` | [`crates/tokio/`](crates/tokio) | driver | The driver. | `stowage-jobwait`, `stowage-proto` |
<!-- crates:end -->
";
        assert_eq!(render(&workspace()), expected);
    }

    #[test]
    fn splicing_replaces_the_block_and_keeps_the_rest() {
        let doc = format!("# Title\n\n{BEGIN}\nold table\n{END}\n\nProse.\n");
        let spliced = splice(&doc, &render(&workspace())).unwrap();
        assert!(spliced.starts_with("# Title\n\n<!-- crates:begin -->\n<!-- written by"), "{spliced}");
        assert!(spliced.ends_with("<!-- crates:end -->\n\nProse.\n"), "{spliced}");
        assert!(!spliced.contains("old table"));
        // Splicing again changes nothing.
        assert_eq!(splice(&spliced, &render(&workspace())).as_deref(), Some(spliced.as_str()));
    }

    #[test]
    fn a_missing_doubled_or_inline_marker_is_refused() {
        let table = render(&workspace());
        for doc in [
            "no markers\n".to_owned(),
            format!("{BEGIN}\nno end\n"),
            format!("{END}\n{BEGIN}\n"),
            format!("{BEGIN}\n{END}\n{BEGIN}\n{END}\n"),
            format!("text {BEGIN}\n{END}\n"),
            format!("{BEGIN}\n{END}"),
        ] {
            assert_eq!(splice(&doc, &table), None, "{doc:?}");
        }
    }
}
