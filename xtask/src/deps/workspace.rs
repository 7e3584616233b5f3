//! The workspace as the rules see it: each crate's declared role, its description, and what
//! its normal dependencies are and reach, read from `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;

use cargo_metadata::{DependencyKind, Metadata, Node, Package, PackageId};

/// The table of the manifests that holds what the check reads: `[package.metadata.stowage]`
/// in a crate, `[workspace.metadata.stowage]` in the root `Cargo.toml`.
const TABLE: &str = "stowage";

/// What a crate is for: `[package.metadata.stowage] role = "…"`. The rules are in
/// [`rules`](super::rules); the meaning of each role is in ARCHITECTURE.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Role {
    /// Vocabulary, codecs and machines: sans-IO, the allow-list only.
    Pure,
    /// Runs machines over real IO (`stowage-tokio`, `stowage-uring`).
    Driver,
    /// An async client built on a driver.
    Facade,
    /// The embedded cluster.
    Server,
    /// The command line.
    Cli,
    /// Benchmarks, cross-crate tests, xtask.
    Support,
}

impl Role {
    /// Every role, in the order of the crate table.
    pub(crate) const ALL: [Role; 6] = [Role::Pure, Role::Driver, Role::Facade, Role::Server, Role::Cli, Role::Support];

    /// The name a manifest gives it.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Role::Pure => "pure",
            Role::Driver => "driver",
            Role::Facade => "facade",
            Role::Server => "server",
            Role::Cli => "cli",
            Role::Support => "support",
        }
    }

    fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The one value of `kind` a manifest may declare, and only beside `role = "pure"`: the crate
/// is a state machine (a client's decisions), not vocabulary or a codec.
const MACHINE: &str = "machine";

/// One workspace crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Crate {
    /// The package name.
    pub(crate) name: String,
    /// Its folder relative to the workspace root, `/`-separated (`crates/proto`).
    pub(crate) folder: String,
    /// Its declared role.
    pub(crate) role: Role,
    /// A pure crate that declares `kind = "machine"`.
    pub(crate) machine: bool,
    /// The package `description`: what it holds.
    pub(crate) description: String,
    /// The packages its normal dependencies (`[dependencies]`: not dev, not build) resolved to,
    /// by name.
    pub(crate) deps: BTreeSet<String>,
    /// Every package its normal dependencies reach, directly or through others, by name, each
    /// with a shortest chain that reaches it: from one of [`deps`](Crate::deps) to the package.
    pub(crate) reaches: BTreeMap<String, Vec<String>>,
}

/// The dependency lists of `[workspace.metadata.stowage]` in the root `Cargo.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Policy {
    /// `pure-allow`: the crates outside the workspace a pure crate may depend on.
    pub(crate) pure_allow: BTreeSet<String>,
    /// `pure-never`: the crates a pure crate may not reach, however indirectly.
    pub(crate) pure_never: BTreeSet<String>,
}

/// The workspace's crates and its policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Workspace {
    /// The member crates, in the order `cargo metadata` lists them.
    pub(crate) crates: Vec<Crate>,
    /// The policy.
    pub(crate) policy: Policy,
}

impl Workspace {
    /// The member named `name`, if there is one.
    pub(crate) fn get(&self, name: &str) -> Option<&Crate> {
        self.crates.iter().find(|c| c.name == name)
    }

    /// The workspace `metadata` describes, with its dependencies resolved (`cargo metadata`
    /// without `--no-deps`). Every member must declare a known role and a description, and
    /// the policy must be there; otherwise the errors, one sentence each, every crate's at
    /// once.
    pub(crate) fn from_metadata(metadata: &Metadata) -> Result<Workspace, Vec<String>> {
        let mut errors = Vec::new();
        let policy = Policy::from_metadata(&metadata.workspace_metadata).unwrap_or_else(|error| {
            errors.push(error);
            Policy::default()
        });
        let Some(resolve) = &metadata.resolve else {
            return Err(vec!["cargo metadata gave no resolve graph (was it run with --no-deps?)".to_owned()]);
        };
        let nodes: HashMap<&PackageId, &Node> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
        let names: HashMap<&PackageId, String> =
            metadata.packages.iter().map(|p| (&p.id, p.name.to_string())).collect();
        let mut crates = Vec::new();
        for id in &metadata.workspace_members {
            let package = &metadata[id];
            match Declared::of(package) {
                Ok(declared) => {
                    let folder = package
                        .manifest_path
                        .parent()
                        .and_then(|dir| dir.strip_prefix(&metadata.workspace_root).ok())
                        .map_or_else(String::new, |dir| {
                            dir.components().map(|c| c.as_str()).collect::<Vec<_>>().join("/")
                        });
                    let (deps, reaches) = closure(id, &nodes, &names);
                    crates.push(Crate {
                        name: package.name.to_string(),
                        folder,
                        role: declared.role,
                        machine: declared.machine,
                        description: declared.description,
                        deps,
                        reaches,
                    });
                }
                Err(error) => errors.push(error),
            }
        }
        if errors.is_empty() { Ok(Workspace { crates, policy }) } else { Err(errors) }
    }
}

impl Policy {
    fn from_metadata(workspace: &serde_json::Value) -> Result<Policy, String> {
        let list = |key: &str| -> Result<BTreeSet<String>, String> {
            let missing =
                || format!("the root Cargo.toml's [workspace.metadata.{TABLE}] has no `{key}` list of crate names");
            let values =
                workspace.get(TABLE).and_then(|t| t.get(key)).and_then(|v| v.as_array()).ok_or_else(missing)?;
            values.iter().map(|v| v.as_str().map(str::to_owned).ok_or_else(missing)).collect()
        };
        Ok(Policy { pure_allow: list("pure-allow")?, pure_never: list("pure-never")? })
    }
}

/// What a crate's manifest declares.
struct Declared {
    role: Role,
    machine: bool,
    description: String,
}

impl Declared {
    fn of(package: &Package) -> Result<Declared, String> {
        let name = &package.name;
        let roles = Role::ALL.map(Role::name).join(", ");
        let table = package.metadata.get(TABLE);
        let role = match table.and_then(|t| t.get("role")) {
            None => {
                return Err(format!(
                    "{name} declares no role: add `[package.metadata.{TABLE}] role = \"…\"` to {} (one of {roles})",
                    package.manifest_path
                ));
            }
            Some(value) => value
                .as_str()
                .and_then(Role::parse)
                .ok_or_else(|| format!("{name} declares the role {value}, which is none of {roles}"))?,
        };
        let machine = match table.and_then(|t| t.get("kind")) {
            None => false,
            Some(value) if value.as_str() == Some(MACHINE) && role == Role::Pure => true,
            Some(value) => {
                return Err(format!(
                    "{name} declares kind = {value}: the only kind is \"{MACHINE}\", and only a pure crate has it"
                ));
            }
        };
        let description = match package.description.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => text.to_owned(),
            _ => {
                return Err(format!(
                    "{name} has no `description` in {}: give it one line, it is the crate's row in ARCHITECTURE.md",
                    package.manifest_path
                ));
            }
        };
        Ok(Declared { role, machine, description })
    }
}

/// The packages `root`'s normal dependencies resolved to, and every package they reach by
/// normal edges, each with a shortest chain (breadth first). An edge is normal when one of its
/// kinds is, for any platform: what one platform links is enough to break a rule.
fn closure(
    root: &PackageId,
    nodes: &HashMap<&PackageId, &Node>,
    names: &HashMap<&PackageId, String>,
) -> (BTreeSet<String>, BTreeMap<String, Vec<String>>) {
    let normal = |node: &Node| -> Vec<PackageId> {
        node.deps
            .iter()
            // Cargo before 1.41 wrote no kinds: count such an edge.
            .filter(|dep| dep.dep_kinds.is_empty() || dep.dep_kinds.iter().any(|k| k.kind == DependencyKind::Normal))
            .map(|dep| dep.pkg.clone())
            .collect()
    };
    let name = |id: &PackageId| names.get(id).cloned().unwrap_or_else(|| id.repr.clone());
    let Some(start) = nodes.get(root) else { return Default::default() };
    let deps = normal(start).iter().map(name).collect();
    let mut chains: HashMap<PackageId, Vec<String>> = HashMap::new();
    let mut queue: VecDeque<PackageId> = VecDeque::new();
    for dep in normal(start) {
        if !chains.contains_key(&dep) {
            chains.insert(dep.clone(), vec![name(&dep)]);
            queue.push_back(dep);
        }
    }
    while let Some(id) = queue.pop_front() {
        let Some(node) = nodes.get(&id) else { continue };
        let chain = chains[&id].clone();
        for dep in normal(node) {
            if dep != *root && !chains.contains_key(&dep) {
                let mut longer = chain.clone();
                longer.push(name(&dep));
                chains.insert(dep.clone(), longer);
                queue.push_back(dep);
            }
        }
    }
    let mut reaches: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for chain in chains.into_values() {
        let reached = chain.last().cloned().unwrap_or_default();
        // Two versions of one package: keep the shorter chain (the first in order on a tie).
        match reaches.get(&reached) {
            Some(known) if (known.len(), known) <= (chain.len(), &chain) => {}
            _ => {
                reaches.insert(reached, chain);
            }
        }
    }
    (deps, reaches)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// A package of `cargo metadata`'s output: its name, its `[package.metadata]`, its
    /// description.
    fn package(name: &str, folder: &str, metadata: Value, description: Option<&str>) -> Value {
        json!({
            "name": name, "version": "0.1.0", "id": id(name), "description": description,
            "dependencies": [], "targets": [], "features": {}, "metadata": metadata,
            "manifest_path": format!("/ws/{folder}/Cargo.toml"),
        })
    }

    fn id(name: &str) -> String {
        format!("path+file:///ws#{name}@0.1.0")
    }

    /// A resolve node: `name` and its dependencies, each `(name, kinds)` (`normal`, `dev`, `build`).
    fn node(name: &str, deps: &[(&str, &[&str])]) -> Value {
        let deps: Vec<Value> = deps
            .iter()
            .map(|(dep, kinds)| {
                // A normal edge's kind is `null` in cargo's output.
                let kinds: Vec<Value> =
                    kinds.iter().map(|&k| json!({ "kind": (k != "normal").then_some(k), "target": null })).collect();
                json!({ "name": dep.replace('-', "_"), "pkg": id(dep), "dep_kinds": kinds })
            })
            .collect();
        json!({ "id": id(name), "deps": deps, "dependencies": [], "features": [] })
    }

    fn metadata(packages: Vec<Value>, members: &[&str], nodes: Vec<Value>) -> Metadata {
        let text = json!({
            "packages": packages,
            "workspace_members": members.iter().map(|m| id(m)).collect::<Vec<_>>(),
            "resolve": { "nodes": nodes, "root": null },
            "workspace_root": "/ws", "target_directory": "/ws/target", "version": 1,
            "metadata": { "stowage": { "pure-allow": ["http"], "pure-never": ["tokio"] } },
        })
        .to_string();
        cargo_metadata::MetadataCommand::parse(text).unwrap()
    }

    fn role(role: &str) -> Value {
        json!({ "stowage": { "role": role } })
    }

    #[test]
    fn reads_roles_kinds_folders_and_the_normal_closure() {
        let metadata = metadata(
            vec![
                package("stowage-proto", "crates/proto", role("pure"), Some("Words.")),
                package(
                    "stowage-wait",
                    "crates/wait",
                    json!({ "stowage": { "role": "pure", "kind": "machine" } }),
                    Some("A machine."),
                ),
                package("stowage-cli", "crates/cli", role("cli"), Some(" The CLI. ")),
                package("http", "reg/http", Value::Null, None),
                package("itoa", "reg/itoa", Value::Null, None),
                package("tokio", "reg/tokio", Value::Null, None),
                package("cc", "reg/cc", Value::Null, None),
                package("proptest", "reg/proptest", Value::Null, None),
            ],
            &["stowage-proto", "stowage-wait", "stowage-cli"],
            vec![
                node("stowage-proto", &[("http", &["normal"]), ("proptest", &["dev"]), ("cc", &["build"])]),
                node("stowage-wait", &[("stowage-proto", &["normal"]), ("http", &["normal"])]),
                node("stowage-cli", &[("stowage-wait", &["normal"]), ("tokio", &["dev", "normal"])]),
                node("http", &[("itoa", &["normal"])]),
                node("itoa", &[]),
                node("tokio", &[]),
                node("cc", &[]),
                node("proptest", &[("tokio", &["normal"])]),
            ],
        );
        let workspace = Workspace::from_metadata(&metadata).unwrap();
        assert_eq!(workspace.policy.pure_allow, BTreeSet::from(["http".to_owned()]));
        let proto = workspace.get("stowage-proto").unwrap();
        assert_eq!((proto.role, proto.machine, proto.folder.as_str()), (Role::Pure, false, "crates/proto"));
        // Dev and build dependencies are not followed.
        assert_eq!(proto.deps, BTreeSet::from(["http".to_owned()]));
        assert_eq!(proto.reaches.keys().collect::<Vec<_>>(), ["http", "itoa"]);
        let wait = workspace.get("stowage-wait").unwrap();
        assert!(wait.machine);
        // The shortest chain: http directly, not through stowage-proto.
        assert_eq!(wait.reaches["http"], ["http"]);
        assert_eq!(wait.reaches["itoa"], ["http", "itoa"]);
        let cli = workspace.get("stowage-cli").unwrap();
        assert_eq!(cli.description, "The CLI.");
        // An edge that is normal as well as dev counts.
        assert_eq!(cli.reaches["itoa"], ["stowage-wait", "http", "itoa"]);
        assert!(cli.reaches.contains_key("tokio"));
    }

    #[test]
    fn every_crate_without_a_known_role_or_a_description_is_named() {
        let metadata = metadata(
            vec![
                package("stowage-new", "crates/new", Value::Null, Some("New.")),
                package("stowage-odd", "crates/odd", role("library"), Some("Odd.")),
                package(
                    "stowage-kind",
                    "crates/kind",
                    json!({ "stowage": { "role": "driver", "kind": "machine" } }),
                    Some("K."),
                ),
                package("stowage-bare", "crates/bare", role("pure"), None),
                package("stowage-fine", "crates/fine", role("pure"), Some("Fine.")),
            ],
            &["stowage-new", "stowage-odd", "stowage-kind", "stowage-bare", "stowage-fine"],
            ["stowage-new", "stowage-odd", "stowage-kind", "stowage-bare", "stowage-fine"]
                .map(|n| node(n, &[]))
                .to_vec(),
        );
        let errors = Workspace::from_metadata(&metadata).unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert!(
            errors[0].starts_with("stowage-new declares no role: add `[package.metadata.stowage] role"),
            "{}",
            errors[0]
        );
        assert!(errors[0].contains("/ws/crates/new/Cargo.toml"), "{}", errors[0]);
        assert!(
            errors[1].contains("stowage-odd declares the role \"library\", which is none of pure, driver"),
            "{}",
            errors[1]
        );
        assert!(errors[2].contains("stowage-kind declares kind = \"machine\": the only kind"), "{}", errors[2]);
        assert!(errors[3].starts_with("stowage-bare has no `description`"), "{}", errors[3]);
    }

    #[test]
    fn the_policy_must_be_declared() {
        let mut metadata = metadata(vec![], &[], vec![]);
        metadata.workspace_metadata = json!({ "stowage": { "pure-allow": ["http"] } });
        let errors = Workspace::from_metadata(&metadata).unwrap_err();
        assert_eq!(
            errors,
            ["the root Cargo.toml's [workspace.metadata.stowage] has no `pure-never` list of crate names"]
        );
    }
}
