//! The CloudWatch dashboard in infra/template.yaml against the metrics the functions emit
//! (autoenroll_aws::metrics): every metric and dimension the code publishes has a tile, every
//! TAP bootstrap stage is plotted, and no tile names a metric the code never emits.

use std::collections::BTreeSet;

use autoenroll_aws::metrics::{BOOTSTRAP_STAGES, Metric, NAMESPACE, emf_document};
use autoenroll_core::failure::Disposition;
use serde_json::Value;

/// One observation of each metric. The match is exhaustive on purpose: a new metric does not
/// compile here until it is listed, and then the test asks for its tile.
fn one_of_each() -> Vec<Metric<'static>> {
    let all = [
        Metric::Enrolled,
        Metric::Skipped { reason: "x" },
        Metric::Failed {
            disposition: Disposition::Retry,
        },
        Metric::GraphThrottled(1),
        Metric::LatencyMs(1.0),
        Metric::WebhookRejected {
            reason: "x",
            count: 1,
        },
        Metric::SubscriptionLifecycle { event: "missed" },
        Metric::Bootstrap { stage: "issued" },
    ];
    for m in &all {
        match m {
            Metric::Enrolled
            | Metric::Skipped { .. }
            | Metric::Failed { .. }
            | Metric::GraphThrottled(_)
            | Metric::LatencyMs(_)
            | Metric::WebhookRejected { .. }
            | Metric::SubscriptionLifecycle { .. }
            | Metric::Bootstrap { .. } => {}
        }
    }
    all.to_vec()
}

/// The metric's name, its dimension names, and whether it is also published without
/// dimensions — from the EMF document the code writes.
fn emitted(metric: &Metric<'_>) -> (String, Vec<String>, bool) {
    let doc = emf_document(metric, 0);
    let cw = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(cw["Namespace"], NAMESPACE);
    let name = cw["Metrics"][0]["Name"].as_str().expect("name").to_owned();
    let sets = cw["Dimensions"].as_array().expect("dimension sets");
    let total = sets
        .iter()
        .any(|s| s.as_array().is_some_and(|s| s.is_empty()));
    let dims = sets
        .iter()
        .filter_map(|set| set.as_array().and_then(|s| s.first()))
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    (name, dims, total)
}

/// The DashboardBody of the template, `${…}` substitutions replaced, parsed.
fn dashboard() -> Value {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .expect("template");
    let mut lines = template
        .lines()
        .skip_while(|l| !l.contains("DashboardBody: !Sub |"));
    let head = lines.next().expect("DashboardBody in the template");
    let indent = head.len() - head.trim_start().len();
    let body: Vec<&str> = lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .collect();
    let mut text = body.join("\n");
    while let Some(start) = text.find("${") {
        let end = start + text[start..].find('}').expect("closing brace");
        text.replace_range(start..=end, "X");
    }
    serde_json::from_str(&text).expect("the dashboard body is JSON")
}

/// Every (metric, dimension name, dimension value) a tile plots; SEARCH expressions give the
/// dimension name and `*` as the value.
fn plotted(board: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for widget in board["widgets"].as_array().expect("widgets") {
        for line in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let items = line.as_array().expect("metric line");
            if items.first().and_then(Value::as_str) == Some(NAMESPACE) {
                let name = items[1].as_str().expect("metric name").to_owned();
                let strings: Vec<&str> = items[2..].iter().filter_map(Value::as_str).collect();
                match strings.as_slice() {
                    [dim, value] => out.insert((name, (*dim).into(), (*value).into())),
                    _ => out.insert((name, String::new(), String::new())),
                };
            }
            if let Some(expr) = items
                .first()
                .and_then(|e| e["expression"].as_str())
                .filter(|e| e.starts_with("SEARCH("))
            {
                let dim = expr
                    .split_once(&format!("{{{NAMESPACE},"))
                    .and_then(|(_, rest)| rest.split_once('}'))
                    .map(|(d, _)| d.to_owned())
                    .expect("SEARCH on the namespace with one dimension");
                let name = expr
                    .split_once("MetricName=\"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map(|(n, _)| n.to_owned())
                    .expect("SEARCH names its metric");
                out.insert((name, dim, "*".into()));
            }
        }
    }
    out
}

#[test]
fn every_emitted_metric_has_a_tile_and_every_tile_an_emitted_metric() {
    let board = dashboard();
    let plotted = plotted(&board);
    let mut names = BTreeSet::new();
    for metric in one_of_each() {
        let (name, dims, total) = emitted(&metric);
        names.insert(name.clone());
        let shown = plotted
            .iter()
            .any(|(n, d, _)| *n == name && (dims.contains(d) || (total && d.is_empty())));
        assert!(shown, "{name} ({dims:?}) has no tile: {plotted:?}");
    }
    for (name, _, _) in &plotted {
        assert!(
            names.contains(name),
            "the dashboard plots {name}, which nothing emits"
        );
    }
}

#[test]
fn every_bootstrap_stage_is_plotted_in_both_tap_tiles() {
    let board = dashboard();
    let tap_tiles: Vec<&Value> = board["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| {
            w["properties"]["metrics"]
                .as_array()
                .is_some_and(|m| m.iter().any(|l| l[0] == NAMESPACE && l[1] == "Bootstrap"))
        })
        .collect();
    assert_eq!(tap_tiles.len(), 2, "a time series and a total");
    for tile in tap_tiles {
        let stages: BTreeSet<&str> = tile["properties"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l[1] == "Bootstrap" && l[2] == "Stage")
            .filter_map(|l| l[3].as_str())
            .collect();
        let want: BTreeSet<&str> = BOOTSTRAP_STAGES.iter().copied().collect();
        assert_eq!(stages, want, "{}", tile["properties"]["title"]);
    }
}
