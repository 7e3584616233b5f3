//! The dependency rules between roles, checked on a [`Workspace`]. Every rule is about normal
//! dependencies (`[dependencies]`): what a crate's code links against. Dev and build
//! dependencies are free.
//!
//! - A **pure** crate depends directly only on other pure workspace crates and on the
//!   `pure-allow` list, and reaches none of the `pure-never` list, however indirectly.
//! - The **server** reaches no machine crate (a pure crate with `kind = "machine"`): it speaks
//!   the wire, which is vocabulary (`stowage-proto`) and codecs, and runs no client's decisions.
//! - [`LAYERS`]: a **driver** reaches no facade crate; a **facade** reaches no CLI.

use std::fmt;

use super::workspace::{Crate, Role, Workspace};

/// Pairs of roles where a crate of the first may not reach a crate of the second.
pub(crate) const LAYERS: [(Role, Role); 2] = [(Role::Driver, Role::Facade), (Role::Facade, Role::Cli)];

/// Where the pure crates' lists live.
const POLICY: &str = "[workspace.metadata.stowage] in the root Cargo.toml";

/// A dependency that breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    /// The crate that depends.
    pub(crate) krate: String,
    /// What it depends on.
    pub(crate) dep: String,
    /// How it reaches `dep`: a chain of packages from one of its dependencies to `dep`.
    pub(crate) via: Vec<String>,
    /// The rule broken.
    pub(crate) rule: Rule,
}

/// The rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// A pure crate depends on a crate outside the workspace that is not on `pure-allow`.
    PureAllowList,
    /// A pure crate depends on a workspace crate of another role.
    PureOnPure(Role),
    /// A pure crate reaches a crate on `pure-never`.
    PureNever,
    /// The server reaches a machine crate.
    ServerMachine,
    /// A crate reaches a crate of a role its own role must not (one of [`LAYERS`]).
    Layer(Role, Role),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Violation { krate, dep, via, rule } = self;
        let depends = if via.len() > 1 {
            format!("depends on {dep} (through {krate} → {})", via.join(" → "))
        } else {
            format!("depends on {dep}")
        };
        match rule {
            Rule::PureAllowList => write!(
                f,
                "{krate} is a pure crate and {depends}, which is not on the pure allow-list: a pure crate \
                 depends only on other pure crates and on `pure-allow` ({POLICY})"
            ),
            Rule::PureOnPure(role) => write!(
                f,
                "{krate} is a pure crate and {depends}, a {role} crate: a pure crate depends only on other \
                 pure crates and on `pure-allow` ({POLICY})"
            ),
            Rule::PureNever => write!(
                f,
                "{krate} is a pure crate and {depends}: no pure crate may have {dep} among its dependencies, \
                 however indirectly (`pure-never`, {POLICY})"
            ),
            Rule::ServerMachine => write!(
                f,
                "{krate} is the server and {depends}, a machine crate: the server speaks the wire \
                 (stowage-proto, codecs) and depends on no machine"
            ),
            Rule::Layer(from, to) => write!(
                f,
                "{krate} is a {from} crate and {depends}, a {to} crate: a {from} crate depends on no {to} crate"
            ),
        }
    }
}

/// Every violation in `workspace`, crate by crate in its order, each crate's in the order of
/// the rules above and of the dependencies' names.
pub(crate) fn violations(workspace: &Workspace) -> Vec<Violation> {
    workspace.crates.iter().flat_map(|krate| of(workspace, krate)).collect()
}

fn of(workspace: &Workspace, krate: &Crate) -> Vec<Violation> {
    let violation = |dep: &str, rule: Rule| Violation {
        krate: krate.name.clone(),
        dep: dep.to_owned(),
        via: krate.reaches.get(dep).cloned().unwrap_or_else(|| vec![dep.to_owned()]),
        rule,
    };
    let mut found = Vec::new();
    if krate.role == Role::Pure {
        for dep in &krate.deps {
            match workspace.get(dep) {
                Some(member) if member.role != Role::Pure => found.push(violation(dep, Rule::PureOnPure(member.role))),
                Some(_) => {}
                None if !workspace.policy.pure_allow.contains(dep) => found.push(violation(dep, Rule::PureAllowList)),
                None => {}
            }
        }
        for dep in krate.reaches.keys().filter(|dep| workspace.policy.pure_never.contains(*dep)) {
            found.push(violation(dep, Rule::PureNever));
        }
    }
    // Each workspace crate `krate` reaches.
    let reached = || krate.reaches.keys().filter_map(|dep| workspace.get(dep));
    if krate.role == Role::Server {
        for machine in reached().filter(|member| member.machine) {
            found.push(violation(&machine.name, Rule::ServerMachine));
        }
    }
    for (from, to) in LAYERS.into_iter().filter(|(from, _)| *from == krate.role) {
        for member in reached().filter(|member| member.role == to) {
            found.push(violation(&member.name, Rule::Layer(from, to)));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::super::workspace::Policy;
    use super::*;

    /// A crate of `role` whose normal dependencies are `deps`, each with the chain it reaches
    /// further (`"http>itoa"`: `http`, and `itoa` through it).
    fn krate(name: &str, role: Role, deps: &[&str]) -> Crate {
        let mut reaches = BTreeMap::new();
        for chain in deps {
            let chain: Vec<String> = chain.split('>').map(str::to_owned).collect();
            for end in 1..=chain.len() {
                reaches.entry(chain[end - 1].clone()).or_insert_with(|| chain[..end].to_vec());
            }
        }
        Crate {
            name: name.to_owned(),
            folder: format!("crates/{name}"),
            role,
            machine: false,
            description: format!("{name}."),
            deps: deps.iter().map(|chain| chain.split('>').next().unwrap_or_default().to_owned()).collect(),
            reaches,
        }
    }

    fn machine(name: &str, deps: &[&str]) -> Crate {
        Crate { machine: true, ..krate(name, Role::Pure, deps) }
    }

    fn workspace(crates: Vec<Crate>) -> Workspace {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        Workspace {
            crates,
            policy: Policy {
                pure_allow: names(&["http", "bytes", "serde_json", "md-5"]),
                pure_never: names(&["tokio", "libc", "hyper"]),
            },
        }
    }

    /// A workspace shaped like stowage's, which breaks no rule.
    fn stowage() -> Vec<Crate> {
        vec![
            krate("stowage-proto", Role::Pure, &["http>itoa", "bytes", "serde_json"]),
            krate("stowage-http1", Role::Pure, &["stowage-proto", "bytes"]),
            machine("stowage-jobwait", &["stowage-proto", "serde_json"]),
            machine("stowage-replica", &["stowage-proto", "md-5>digest"]),
            krate("stowage-tokio", Role::Driver, &["stowage-jobwait>stowage-proto", "tokio>libc", "hyper>tokio"]),
            krate("stowage-keep", Role::Facade, &["stowage-tokio>stowage-replica", "stowage-replica"]),
            krate("stowage-cluster", Role::Server, &["stowage-proto", "stowage-http1", "hyper>tokio>libc"]),
            krate("stowage", Role::Cli, &["stowage-keep>stowage-tokio", "stowage-cluster"]),
            krate("xtask", Role::Support, &["stowage", "tokio"]),
        ]
    }

    fn messages(crates: Vec<Crate>) -> Vec<String> {
        violations(&workspace(crates)).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_workspace_that_keeps_the_rules_has_no_violation() {
        assert_eq!(messages(stowage()), Vec::<String>::new());
    }

    #[test]
    fn a_pure_crate_on_tokio_breaks_the_allow_list_and_the_closure() {
        let mut crates = stowage();
        crates[1] = krate("stowage-http1", Role::Pure, &["stowage-proto", "tokio>libc"]);
        let found = violations(&workspace(crates));
        let rules: Vec<_> = found.iter().map(|v| (v.krate.as_str(), v.dep.as_str(), v.rule)).collect();
        assert_eq!(
            rules,
            [
                ("stowage-http1", "tokio", Rule::PureAllowList),
                ("stowage-http1", "libc", Rule::PureNever),
                ("stowage-http1", "tokio", Rule::PureNever),
            ]
        );
        assert_eq!(
            found[0].to_string(),
            "stowage-http1 is a pure crate and depends on tokio, which is not on the pure allow-list: a pure \
             crate depends only on other pure crates and on `pure-allow` ([workspace.metadata.stowage] in the \
             root Cargo.toml)"
        );
        assert_eq!(
            found[1].to_string(),
            "stowage-http1 is a pure crate and depends on libc (through stowage-http1 → tokio → libc): no pure \
             crate may have libc among its dependencies, however indirectly (`pure-never`, \
             [workspace.metadata.stowage] in the root Cargo.toml)"
        );
    }

    #[test]
    fn a_forbidden_crate_behind_an_allowed_one_is_found_with_its_chain() {
        let mut crates = stowage();
        crates[0] = krate("stowage-proto", Role::Pure, &["http>itoa", "bytes>mio>libc"]);
        let found = violations(&workspace(crates));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].dep.as_str(), found[0].via.as_slice()),
            ("libc", &["bytes", "mio", "libc"].map(String::from)[..])
        );
        // A pure crate on an allowed crate passes the direct rule: only the closure fails.
        assert_eq!(found[0].rule, Rule::PureNever);
    }

    #[test]
    fn a_pure_crate_depends_on_no_other_role() {
        let mut crates = stowage();
        crates[3] = machine("stowage-replica", &["stowage-proto", "stowage-tokio"]);
        let found = messages(crates);
        assert_eq!(
            found,
            ["stowage-replica is a pure crate and depends on stowage-tokio, a driver crate: a pure crate depends \
              only on other pure crates and on `pure-allow` ([workspace.metadata.stowage] in the root Cargo.toml)"]
        );
    }

    #[test]
    fn the_server_depends_on_no_machine_directly_or_not() {
        let mut crates = stowage();
        crates[6] = krate(
            "stowage-cluster",
            Role::Server,
            &["stowage-proto", "stowage-jobwait", "stowage-tokio>stowage-replica"],
        );
        let found = messages(crates);
        assert_eq!(
            found,
            [
                "stowage-cluster is the server and depends on stowage-jobwait, a machine crate: the server speaks \
                 the wire (stowage-proto, codecs) and depends on no machine",
                "stowage-cluster is the server and depends on stowage-replica (through stowage-cluster → \
                 stowage-tokio → stowage-replica), a machine crate: the server speaks the wire (stowage-proto, \
                 codecs) and depends on no machine",
            ]
        );
    }

    #[test]
    fn a_driver_depends_on_no_facade_and_a_facade_on_no_cli() {
        let mut crates = stowage();
        crates[4] = krate("stowage-tokio", Role::Driver, &["stowage-proto", "stowage-keep"]);
        crates[5] = krate("stowage-keep", Role::Facade, &["stowage-tokio", "stowage"]);
        let found = messages(crates);
        assert_eq!(
            found,
            [
                "stowage-tokio is a driver crate and depends on stowage-keep, a facade crate: a driver crate \
                 depends on no facade crate",
                "stowage-keep is a facade crate and depends on stowage, a cli crate: a facade crate depends on no \
                 cli crate",
            ]
        );
    }

    #[test]
    fn support_crates_and_the_cli_may_depend_on_anything() {
        let mut crates = stowage();
        crates.push(krate("stowage-tests", Role::Support, &["stowage-jobwait", "stowage-cluster", "stowage", "libc"]));
        assert_eq!(messages(crates), Vec::<String>::new());
    }
}
