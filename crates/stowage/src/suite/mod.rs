//! The harness's scenarios, one module per machine family.
//!
//! A family is named for the machine it exercises (`lockpoll`, `jobwait`, …). Its module exposes
//! `scenarios() -> Vec<Box<dyn Scenario>>`; [`all`] lists them in table order. To add a family:
//! write `suite/<module>.rs` with its scenarios, each returning a [`Row`] whose columns are the
//! family's figures, and add it to [`all`]. Scenario names are unique and differ from every
//! family name, since `--only` selects by either.

mod jobwait;
mod lockpoll;
mod locks;
mod replica;
mod ringslot;

use std::future::Future;
use std::pin::Pin;

use crate::report::Row;

/// Where a scenario runs and with which seed.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// A server given with `--url`; `None` means: start an embedded cluster for this scenario.
    pub(crate) url: Option<String>,
    /// Seed of the clients' jitter.
    pub(crate) seed: u64,
    /// What to trust when `url` is `https://` (`--cacert`, `--insecure`).
    pub(crate) tls: stowage_tokio::TlsConfig,
}

/// A scenario's run: a boxed future, so that families can live behind one trait object.
pub(crate) type Run<'a> = Pin<Box<dyn Future<Output = anyhow::Result<Row>> + Send + 'a>>;

/// What a scenario says of itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    /// Its family: one table per family.
    pub(crate) family: &'static str,
    /// Short unique name, the table's first column and what `--only` selects.
    pub(crate) name: &'static str,
    /// What it shows, for `--list`.
    pub(crate) about: &'static str,
}

/// One end-to-end scenario.
pub(crate) trait Scenario: Send + Sync {
    /// Its family, name and what it shows.
    fn meta(&self) -> Meta;
    /// Whether it needs the embedded cluster (its faults, cold GETs, jobs, generated objects,
    /// replica counts…) rather than any server at `--url`. Most do; those that do not say so.
    fn needs_embedded(&self) -> bool {
        true
    }
    /// Whether its figures are rates (MB/s, grants per second, wait percentiles) that other
    /// scenarios running at the same time would distort: such scenarios run one at a time,
    /// after the others.
    fn runs_alone(&self) -> bool {
        false
    }
    /// Runs it. `Err` means the harness itself could not run it (a cluster that did not start),
    /// not that the client under test failed: that is a row with `ok: false`.
    fn run(&self, target: Target) -> Run<'_>;
}

/// Every scenario, in table order.
pub(crate) fn all() -> Vec<Box<dyn Scenario>> {
    let mut all = Vec::new();
    all.extend(lockpoll::scenarios());
    all.extend(ringslot::scenarios());
    all.extend(jobwait::scenarios());
    all.extend(locks::scenarios());
    all.extend(replica::scenarios());
    all
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_never_a_family() {
        let all = super::all();
        let families: HashSet<&str> = all.iter().map(|s| s.meta().family).collect();
        let mut names = HashSet::new();
        for s in &all {
            let name = s.meta().name;
            assert!(names.insert(name), "two scenarios are named {name}");
            assert!(!families.contains(name), "scenario {name} is also a family");
        }
    }
}
