//! `cargo xtask deps` and `cargo xtask architecture`: the crates' layering, read from `cargo
//! metadata`, checked, and written down in ARCHITECTURE.md.
//!
//! Every workspace crate declares its role in its `Cargo.toml` (a pure crate that is a state
//! machine says so too):
//!
//! ```toml
//! [package.metadata.stowage]
//! role = "pure"      # pure | driver | facade | server | cli | support
//! kind = "machine"   # pure crates only; absent for vocabulary and codecs
//! ```
//!
//! The pure crates' dependency lists are data in the root `Cargo.toml`,
//! `[workspace.metadata.stowage]`: `pure-allow` (what a pure crate may depend on outside the
//! workspace) and `pure-never` (what it may not reach at all). The rules are in [`rules`]. A
//! crate without a role (or with an unknown one, or without a `description`) fails the check by
//! name, so a new crate cannot slip past it.
//!
//! `deps` fails, printing one sentence per broken rule, when a dependency breaks a rule or when
//! ARCHITECTURE.md's crate table (the lines between [`table::BEGIN`] and [`table::END`]) is not
//! what `architecture` would write.

mod rules;
mod table;
mod workspace;

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use cargo_metadata::MetadataCommand;

use self::workspace::Workspace;

/// The document that holds the crate table, relative to the workspace root.
const ARCHITECTURE: &str = "ARCHITECTURE.md";

/// `cargo xtask deps`: every rule, and the crate table up to date.
pub(crate) fn check(root: &Path) -> Result<()> {
    let workspace = load(root)?;
    let mut problems: Vec<String> = rules::violations(&workspace).iter().map(ToString::to_string).collect();
    let (doc, written) = architecture_doc(root, &workspace)?;
    if written != doc {
        problems.push(format!(
            "{ARCHITECTURE}'s crate table is not what the crates' Cargo.toml say: run cargo xtask architecture"
        ));
    }
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("xtask: deps: {problem}");
        }
        bail!("{} dependency problem(s)", problems.len());
    }
    println!(
        "xtask: deps: {} crates keep their roles' dependency rules; {ARCHITECTURE} is up to date",
        workspace.crates.len()
    );
    Ok(())
}

/// `cargo xtask architecture`: rewrites the crate table of ARCHITECTURE.md.
pub(crate) fn architecture(root: &Path) -> Result<()> {
    let workspace = load(root)?;
    let (doc, written) = architecture_doc(root, &workspace)?;
    if written == doc {
        println!("xtask: {ARCHITECTURE}'s crate table is up to date");
    } else {
        fs::write(root.join(ARCHITECTURE), written).with_context(|| format!("writing {ARCHITECTURE}"))?;
        println!("xtask: rewrote {ARCHITECTURE}'s crate table");
    }
    Ok(())
}

/// The workspace, from `cargo metadata` (every platform's dependencies, so that what one
/// platform links counts); a crate that declares no role fails here.
fn load(root: &Path) -> Result<Workspace> {
    println!("xtask: running cargo metadata --format-version 1 --locked");
    let metadata = MetadataCommand::new()
        .current_dir(root)
        .other_options(vec!["--locked".to_owned()])
        .exec()
        .context("cargo metadata failed")?;
    Workspace::from_metadata(&metadata).or_else(|errors| {
        for error in &errors {
            eprintln!("xtask: deps: {error}");
        }
        bail!("{} crate(s) not declared as the dependency check needs", errors.len())
    })
}

/// ARCHITECTURE.md as it is, and with the table written from `workspace`.
fn architecture_doc(root: &Path, workspace: &Workspace) -> Result<(String, String)> {
    let doc = fs::read_to_string(root.join(ARCHITECTURE)).with_context(|| format!("reading {ARCHITECTURE}"))?;
    let written = table::splice(&doc, &table::render(workspace)).with_context(|| {
        format!("{ARCHITECTURE} needs the lines {} and {}, once each, in that order", table::BEGIN, table::END)
    })?;
    Ok((doc, written))
}
