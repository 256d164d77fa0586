//! The crate graph stays as ARCHITECTURE.md draws it ("Crates"): read from
//! `cargo metadata --no-deps`, every edge between our crates must be an allowed one.
//! - the shared crates point one way: graph ← core ← aws;
//! - a function depends on shared crates only, never on another function (not even in tests);
//! - a function's normal dependencies on autoenroll-core and autoenroll-aws leave their
//!   `memory` feature (the in-memory twins) off, so no twin is in a Lambda build;
//! - graph-sim depends on none of ours and is never a function's normal dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

const SHARED: &[&str] = &["autoenroll-graph", "autoenroll-core", "autoenroll-aws"];
const FUNCTIONS: &[&str] = &[
    "autoenroll-webhook",
    "autoenroll-enroll",
    "autoenroll-subscriptions",
    "autoenroll-reconcile",
];

/// One dependency between workspace packages.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: String,
    to: String,
    /// `None` normal, `Some("dev")`, `Some("build")`.
    kind: Option<String>,
    features: Vec<String>,
}

fn edges() -> Vec<Edge> {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata is JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let ours: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut edges = Vec::new();
    for package in packages {
        let from = package["name"].as_str().unwrap_or_default();
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let to = dep["name"].as_str().unwrap_or_default();
            if !ours.contains(to) || to == from {
                continue;
            }
            edges.push(Edge {
                from: from.to_owned(),
                to: to.to_owned(),
                kind: dep["kind"].as_str().map(str::to_owned),
                features: dep["features"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f.as_str().map(str::to_owned))
                    .collect(),
            });
        }
    }
    edges
}

/// Why `edge` is not allowed, if it is not.
fn problem(edge: &Edge) -> Option<String> {
    let normal = edge.kind.is_none();
    let (from, to) = (edge.from.as_str(), edge.to.as_str());
    let shared_rank = |name: &str| SHARED.iter().position(|s| *s == name);
    if let Some(rank) = shared_rank(from) {
        if normal && shared_rank(to).is_none_or(|r| r >= rank) {
            return Some(format!(
                "{from} → {to}: shared crates point one way (graph ← core ← aws)"
            ));
        }
        if !normal && to != "graph-sim" && shared_rank(to).is_none() {
            return Some(format!(
                "{from} → {to} (dev): a shared crate's tests use shared crates and graph-sim only"
            ));
        }
    }
    if FUNCTIONS.contains(&from) {
        if FUNCTIONS.contains(&to) {
            return Some(format!(
                "{from} → {to}: a function never depends on another function"
            ));
        }
        if normal && !SHARED.contains(&to) {
            return Some(format!(
                "{from} → {to}: a function depends on shared crates only"
            ));
        }
        if normal && edge.features.iter().any(|f| f == "memory") {
            return Some(format!(
                "{from} → {to}[memory]: the in-memory twins stay out of Lambda builds \
                 (turn the feature on in [dev-dependencies])"
            ));
        }
    }
    if from == "graph-sim" {
        return Some(format!(
            "graph-sim → {to}: the simulator depends on none of ours"
        ));
    }
    None
}

#[test]
fn every_edge_between_our_crates_is_one_architecture_md_allows() {
    let edges = edges();
    let problems: Vec<String> = edges.iter().filter_map(problem).collect();
    assert!(
        problems.is_empty(),
        "crate graph problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_functions_normal_dependencies_are_exactly_as_drawn() {
    let mut normal: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for edge in edges().into_iter().filter(|e| e.kind.is_none()) {
        normal.entry(edge.from).or_default().insert(edge.to);
    }
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    let expected = [
        ("autoenroll-graph", set(&[])),
        ("autoenroll-core", set(&["autoenroll-graph"])),
        (
            "autoenroll-aws",
            set(&["autoenroll-core", "autoenroll-graph"]),
        ),
        (
            "autoenroll-webhook",
            set(&["autoenroll-core", "autoenroll-aws"]),
        ),
        ("autoenroll-enroll", set(SHARED)),
        ("autoenroll-subscriptions", set(SHARED)),
        ("autoenroll-reconcile", set(SHARED)),
    ];
    for (name, deps) in expected {
        assert_eq!(
            normal.get(name).cloned().unwrap_or_default(),
            deps,
            "{name}'s dependencies differ from ARCHITECTURE.md's crate graph"
        );
    }
}

#[test]
fn the_checker_refuses_the_edges_it_is_there_to_stop() {
    let edge = |from: &str, to: &str, kind: Option<&str>, features: &[&str]| Edge {
        from: from.into(),
        to: to.into(),
        kind: kind.map(str::to_owned),
        features: features.iter().map(|f| f.to_string()).collect(),
    };
    for bad in [
        edge("autoenroll-webhook", "autoenroll-subscriptions", None, &[]),
        edge(
            "autoenroll-subscriptions",
            "autoenroll-webhook",
            Some("dev"),
            &[],
        ),
        edge("autoenroll-enroll", "autoenroll-aws", None, &["memory"]),
        edge("autoenroll-reconcile", "autoenroll-core", None, &["memory"]),
        edge("autoenroll-enroll", "graph-sim", None, &[]),
        edge("autoenroll-graph", "autoenroll-core", None, &[]),
        edge("autoenroll-core", "autoenroll-aws", None, &[]),
        edge("graph-sim", "autoenroll-graph", None, &[]),
    ] {
        assert!(problem(&bad).is_some(), "{bad:?} was let through");
    }
    for good in [
        edge(
            "autoenroll-enroll",
            "autoenroll-aws",
            Some("dev"),
            &["memory"],
        ),
        edge("autoenroll-enroll", "graph-sim", Some("dev"), &[]),
        edge("autoenroll-aws", "autoenroll-core", None, &[]),
        edge("autoenroll", "autoenroll-enroll", None, &[]),
    ] {
        assert_eq!(problem(&good), None, "{good:?}");
    }
}
