//! The map of `docs/architecture.md`, kept true: which crate may depend on which, and no cycle
//! between the modules of `shared`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// Crates no function may link in its release build.
const TEST_ONLY: &[&str] = &["testkit", "wiremock", "local-cluster"];
/// Web frameworks and their parts: the HTTP functions' business, never `shared`'s. (`tower-http`
/// is not among them: reqwest, an HTTP client, builds its redirects on it.)
const WEB: &[&str] = &[
    "axum",
    "axum-core",
    "utoipa",
    "utoipa-axum",
    "lambda_http",
    "web",
];
/// Our Lambda functions: none depends on another (the CLI may depend on all of them).
const FUNCTIONS: &[&str] = &[
    "telegram-webhook",
    "api",
    "replicate-webhook",
    "training-worker",
];

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    resolve: Resolve,
    workspace_members: Vec<String>,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
struct Node {
    id: String,
    deps: Vec<NodeDep>,
}

#[derive(Deserialize)]
struct NodeDep {
    pkg: String,
    dep_kinds: Vec<DepKind>,
}

#[derive(Deserialize)]
struct DepKind {
    kind: Option<String>,
}

/// The resolved graph of normal (release build) dependencies, by package name.
struct Graph {
    names: BTreeMap<String, String>,
    normal: BTreeMap<String, Vec<String>>,
    members: BTreeSet<String>,
}

impl Graph {
    fn load() -> Self {
        let output = Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1", "--locked"])
            .current_dir(workspace_root())
            .output()
            .expect("cargo metadata runs");
        assert!(
            output.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: Metadata =
            serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON");
        let names = metadata
            .packages
            .iter()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect();
        let normal = metadata
            .resolve
            .nodes
            .iter()
            .map(|node| {
                let deps = node
                    .deps
                    .iter()
                    .filter(|d| d.dep_kinds.iter().any(|k| k.kind.is_none()))
                    .map(|d| d.pkg.clone())
                    .collect();
                (node.id.clone(), deps)
            })
            .collect();
        let members = metadata.workspace_members.iter().cloned().collect();
        Self {
            names,
            normal,
            members,
        }
    }

    fn id(&self, name: &str) -> &str {
        self.members
            .iter()
            .find(|id| self.names[*id] == name)
            .unwrap_or_else(|| panic!("{name} is a workspace member"))
    }

    /// What `name` lists as its own normal dependencies.
    fn direct(&self, name: &str) -> Vec<String> {
        self.normal
            .get(self.id(name))
            .into_iter()
            .flatten()
            .map(|dep| self.names[dep].clone())
            .collect()
    }

    /// Every crate `name` links in a release build, each with the path that brings it in.
    fn closure(&self, name: &str) -> BTreeMap<String, String> {
        let mut seen = BTreeMap::new();
        let mut stack = vec![(self.id(name).to_owned(), name.to_owned())];
        while let Some((id, path)) = stack.pop() {
            for dep in self.normal.get(&id).into_iter().flatten() {
                let dep_name = self.names[dep].clone();
                if let std::collections::btree_map::Entry::Vacant(entry) = seen.entry(dep_name) {
                    let dep_path = format!("{path} → {}", entry.key());
                    entry.insert(dep_path.clone());
                    stack.push((dep.clone(), dep_path));
                }
            }
        }
        seen
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").exists())
        .expect("the workspace root holds Cargo.lock")
        .to_owned()
}

fn forbidden(graph: &Graph, krate: &str, banned: &[&str]) -> Vec<String> {
    graph
        .closure(krate)
        .into_iter()
        .filter(|(name, _)| banned.contains(&name.as_str()))
        .map(|(_, path)| path)
        .collect()
}

#[test]
fn crates_depend_only_as_the_map_allows() {
    let graph = Graph::load();
    let mut broken = Vec::new();

    let shared_bans: Vec<&str> = WEB
        .iter()
        .chain(TEST_ONLY)
        .chain(FUNCTIONS)
        .chain(&["dream-photo"])
        .copied()
        .collect();
    broken.extend(forbidden(&graph, "shared", &shared_bans));

    for function in FUNCTIONS {
        let others: Vec<&str> = FUNCTIONS
            .iter()
            .filter(|f| *f != function)
            .chain(TEST_ONLY)
            .chain(&["dream-photo"])
            .copied()
            .collect();
        broken.extend(forbidden(&graph, function, &others));
    }
    // Process control is the local cluster's, not the Lambdas' (libc may still come in through a
    // registry crate, e.g. tokio-postgres asking for the user name).
    if graph.direct("shared").iter().any(|d| d == "libc") {
        broken.push("shared → libc".to_owned());
    }
    // The photo check is pure: none of ours, no async runtime, no database, no HTTP.
    let pure_bans: Vec<&str> = WEB
        .iter()
        .chain(TEST_ONLY)
        .chain(FUNCTIONS)
        .chain(&[
            "shared",
            "dream-photo",
            "tokio",
            "tokio-postgres",
            "reqwest",
        ])
        .copied()
        .collect();
    broken.extend(forbidden(&graph, "photo-check", &pure_bans));
    // The worker is not behind HTTP: it links no web framework at all.
    broken.extend(forbidden(&graph, "training-worker", WEB));
    broken.extend(forbidden(&graph, "web", FUNCTIONS));
    // The deploy's custom resources: `shared`, and the bot's registration from telegram-webhook
    // (its command menus live there); no other function, no test kit, and no function depends on it.
    let deploy_bans: Vec<&str> = FUNCTIONS
        .iter()
        .filter(|f| **f != "telegram-webhook")
        .chain(TEST_ONLY)
        .chain(&["dream-photo"])
        .copied()
        .collect();
    broken.extend(forbidden(&graph, "deploy-hooks", &deploy_bans));
    for function in FUNCTIONS.iter().chain(&["shared", "web", "dream-photo"]) {
        broken.extend(forbidden(&graph, function, &["deploy-hooks"]));
    }

    assert!(
        broken.is_empty(),
        "dependencies docs/architecture.md forbids:\n{}",
        broken.join("\n")
    );
}

/// The top-level modules of `shared` each module names through `crate::…` (code, not comments;
/// unit tests left out).
fn module_uses(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = vec![src.to_owned()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("a source folder") {
                files.push(entry.expect("a folder entry").path());
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path.strip_prefix(src).expect("under src");
        let top = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .expect("a file name")
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a source file");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let uses = graph.entry(top.clone()).or_default();
        for line in code.lines() {
            let line = line.split("//").next().unwrap_or_default();
            for used in crate_paths(line) {
                if used != top {
                    uses.insert(used);
                }
            }
        }
    }
    graph
}

/// `a` for every `crate::a` in `line`, and each name in `crate::{a, b::c}`.
fn crate_paths(line: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = Vec::new();
    for (at, _) in line.match_indices("crate::") {
        let before = line[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &line[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            found.extend(
                group
                    .split(',')
                    .map(|item| ident(item.trim()))
                    .filter(|name| !name.is_empty()),
            );
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

/// A cycle in `graph`, as the path that closes it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// The layers of `shared`, bottom first, as docs/architecture.md lists them.
const LAYERS: &[&[&str]] = &[
    &[
        "aws",
        "config",
        "http_client",
        "secrets",
        "signature",
        "telemetry",
        "metrics",
    ],
    &["domain"],
    &["db", "repo"],
    &["telegram", "replicate", "queue", "fetch", "auth", "storage"],
    &["services", "errors"],
    &["effects", "once", "notify"],
    &["transitions", "dispatch"],
    &["attempts", "outcomes"],
    &["usecases"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[test]
fn shared_modules_use_only_their_layer_and_those_below() {
    let graph = module_uses(&workspace_root().join("shared/src"));
    let mut broken = Vec::new();
    for (module, uses) in &graph {
        let Some(level) = layer_of(module) else {
            broken.push(format!("{module} is in no layer of docs/architecture.md"));
            continue;
        };
        for used in uses {
            match layer_of(used) {
                Some(below) if below <= level => {}
                Some(_) => broken.push(format!("{module} → {used} points up")),
                None => broken.push(format!("{used} is in no layer of docs/architecture.md")),
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn shared_modules_form_no_cycle() {
    let src = workspace_root().join("shared/src");
    let graph = module_uses(&src);
    assert!(graph.contains_key("repo") && graph.contains_key("dispatch"));
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "shared's modules use each other in a cycle: {} (docs/architecture.md lists the layers)",
            cycle.join(" → ")
        );
    }
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"])]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
            .collect();
    assert_eq!(
        find_cycle(&graph).map(|c| c.join("→")),
        Some("a→b→c→a".to_owned())
    );
    assert_eq!(
        crate_paths("use crate::{db::Db, repo}; x = crate::effects::write(crate_x::y)"),
        vec!["db", "repo", "effects"]
    );
}
