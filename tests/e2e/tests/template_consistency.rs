//! The deployment and the code agree on configuration (ARCHITECTURE.md, "Environment-variable
//! contract"):
//! - infra/template.yaml sets, for each Lambda function, exactly the environment variables its
//!   crate's `ENV_VARS` lists — nothing missing (the function would fail to start or silently
//!   take a default) and nothing extra (a setting that does nothing);
//! - every `AUTOENROLL_*` name in a string literal under functions/ and shared/ is in some
//!   function's `ENV_VARS` or is a documented local/test-only override;
//! - the `ENV_VARS` lists match ARCHITECTURE.md's table ("read by");
//! - the few numbers that must agree across resources do (Graph concurrency, SQS visibility).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

/// One Lambda function: its cargo-lambda binary (the template's `BuildProperties.Binary`), its
/// crate directory, the short name ARCHITECTURE.md uses, and what it reads.
struct FunctionCrate {
    binary: &'static str,
    dir: &'static str,
    short: &'static str,
    env_vars: &'static [&'static str],
}

const FUNCTIONS: &[FunctionCrate] = &[
    FunctionCrate {
        binary: "autoenroll-webhook",
        dir: "functions/webhook",
        short: "webhook",
        env_vars: autoenroll_webhook::ENV_VARS,
    },
    FunctionCrate {
        binary: "autoenroll-enroll",
        dir: "functions/enroll",
        short: "enroll",
        env_vars: autoenroll_enroll::ENV_VARS,
    },
    FunctionCrate {
        binary: "autoenroll-subscriptions",
        dir: "functions/subscriptions",
        short: "subscriptions",
        env_vars: autoenroll_subscriptions::ENV_VARS,
    },
    FunctionCrate {
        binary: "autoenroll-reconcile",
        dir: "functions/reconcile",
        short: "reconcile",
        env_vars: autoenroll_reconcile::ENV_VARS,
    },
];

/// Names the template never sets: the local/test-only overrides ARCHITECTURE.md lists
/// ("Local/test-only overrides ...") and the moto endpoint the test command exports for the AWS
/// tests ("Tests and AWS"). `exemptions_are_documented_in_architecture_md` keeps this list and
/// the document together.
const EXEMPT: &[&str] = &[
    "AUTOENROLL_GRAPH_BASE_URL",
    "AUTOENROLL_AUTHORITY_HOST",
    "AUTOENROLL_EXTRA_CA_PEM",
    "AUTOENROLL_TEST_MOTO_ENDPOINT",
];

/// Directories whose Rust sources are scanned for `AUTOENROLL_*` literals.
const SCANNED_DIRS: &[&str] = &["functions", "shared"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    let path = workspace_root().join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn template() -> Value {
    serde_yaml_ng::from_str(&read("infra/template.yaml"))
        .unwrap_or_else(|e| panic!("infra/template.yaml is not valid YAML: {e}"))
}

/// Fails with every problem listed, one per line.
fn assert_no_problems(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    );
}

fn crate_for_binary(binary: &str) -> Option<&'static FunctionCrate> {
    FUNCTIONS.iter().find(|f| f.binary == binary)
}

/// The keys of a YAML mapping (CloudFormation logical ids, variable names), in order.
fn keys(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_mapping)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Lambda function resources of the template: logical id -> resource.
fn function_resources(template: &Value) -> BTreeMap<String, &Value> {
    let resources = template
        .get("Resources")
        .and_then(Value::as_mapping)
        .expect("infra/template.yaml has no Resources mapping");
    resources
        .iter()
        .filter(|(_, r)| {
            matches!(
                r.get("Type").and_then(Value::as_str),
                Some("AWS::Serverless::Function" | "AWS::Lambda::Function")
            )
        })
        .map(|(id, r)| (id.as_str().unwrap_or("?").to_owned(), r))
        .collect()
}

/// The variables a function resource gets: SAM merges `Globals.Function.Environment` into it.
fn template_env(template: &Value, resource: &Value) -> BTreeSet<String> {
    let global = template
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(|f| f.get("Environment"))
        .and_then(|e| e.get("Variables"));
    let own = resource
        .get("Properties")
        .and_then(|p| p.get("Environment"))
        .and_then(|e| e.get("Variables"));
    keys(global).into_iter().chain(keys(own)).collect()
}

fn binary_of(resource: &Value) -> Option<&str> {
    resource
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(Value::as_str)
}

#[test]
fn each_function_in_the_template_sets_exactly_the_variables_its_crate_reads() {
    let template = template();
    let mut problems = Vec::new();
    let mut deployed: BTreeMap<&str, Vec<String>> = BTreeMap::new();

    for (logical_id, resource) in function_resources(&template) {
        let Some(binary) = binary_of(resource) else {
            problems.push(format!(
                "function resource {logical_id} has no Metadata.BuildProperties.Binary, so \
                 nothing says which crate (and which ENV_VARS) it runs"
            ));
            continue;
        };
        let Some(function) = crate_for_binary(binary) else {
            problems.push(format!(
                "function resource {logical_id} builds binary {binary:?}, which is not one of \
                 the function crates this test knows ({}); add it to FUNCTIONS",
                FUNCTIONS
                    .iter()
                    .map(|f| f.binary)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        };
        deployed
            .entry(function.binary)
            .or_default()
            .push(logical_id.clone());

        let set = template_env(&template, resource);
        let reads: BTreeSet<String> = function.env_vars.iter().map(|s| s.to_string()).collect();
        for missing in reads.difference(&set) {
            problems.push(format!(
                "{missing} is read by {} ({}::ENV_VARS) but infra/template.yaml does not set it \
                 on {logical_id}",
                function.binary,
                function.binary.replace('-', "_"),
            ));
        }
        for extra in set.difference(&reads) {
            let why = if EXEMPT.contains(&extra.as_str()) {
                "is a local/test-only override and must never be set by the template"
            } else {
                "is not in the crate's ENV_VARS (nothing reads it)"
            };
            problems.push(format!(
                "infra/template.yaml sets {extra} on {logical_id} ({}), but it {why}",
                function.binary
            ));
        }
    }

    for function in FUNCTIONS {
        match deployed.get(function.binary).map(Vec::as_slice) {
            None | Some([]) => problems.push(format!(
                "no function resource in infra/template.yaml builds {} ({})",
                function.binary, function.dir
            )),
            Some([_]) => {}
            Some(many) => problems.push(format!(
                "{} is deployed by more than one resource: {}",
                function.binary,
                many.join(", ")
            )),
        }
    }
    assert_no_problems(
        "infra/template.yaml vs the function crates' ENV_VARS",
        &problems,
    );
}

#[test]
fn env_var_lists_are_well_formed() {
    let mut problems = Vec::new();
    for function in FUNCTIONS {
        let mut seen = BTreeSet::new();
        for name in function.env_vars {
            if !seen.insert(*name) {
                problems.push(format!(
                    "{} lists {name} twice in ENV_VARS",
                    function.binary
                ));
            }
            if !is_env_name(name) || !name.starts_with("AUTOENROLL_") {
                problems.push(format!(
                    "{} lists {name:?} in ENV_VARS: expected AUTOENROLL_ followed by A-Z, 0-9, _",
                    function.binary
                ));
            }
            if EXEMPT.contains(name) {
                problems.push(format!(
                    "{} lists {name} in ENV_VARS, but it is a local/test-only override the \
                     template never sets",
                    function.binary
                ));
            }
        }
    }
    assert_no_problems("ENV_VARS lists", &problems);
}

#[test]
fn binaries_named_in_the_template_are_the_function_crates() {
    let mut problems = Vec::new();
    for function in FUNCTIONS {
        let manifest = read(&format!("{}/Cargo.toml", function.dir));
        let package_name = manifest
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = "))
            .map(|v| v.trim().trim_matches('"'));
        if package_name != Some(function.binary) {
            problems.push(format!(
                "{}/Cargo.toml names package {package_name:?}, expected {:?} (the binary the \
                 template's BuildProperties.Binary asks cargo-lambda for)",
                function.dir, function.binary
            ));
        }
        if !workspace_root()
            .join(function.dir)
            .join("src/main.rs")
            .is_file()
        {
            problems.push(format!(
                "{}/src/main.rs is missing: no binary to build",
                function.dir
            ));
        }
    }
    assert_no_problems("function crates", &problems);
}

#[test]
fn every_autoenroll_name_in_the_sources_is_declared_or_exempt() {
    let declared: BTreeSet<&str> = FUNCTIONS
        .iter()
        .flat_map(|f| f.env_vars.iter().copied())
        .collect();
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in SCANNED_DIRS {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        !files.is_empty(),
        "found no .rs files under {SCANNED_DIRS:?} (is the workspace root {}?)",
        root.display()
    );

    let mut problems = Vec::new();
    let mut names_seen = 0;
    for file in &files {
        let src =
            fs::read_to_string(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        for (line, literal) in string_literals(&src) {
            for name in autoenroll_names(&literal) {
                names_seen += 1;
                if !declared.contains(name) && !EXEMPT.contains(&name) {
                    problems.push(format!(
                        "{name} ({}:{line}) is in no function's ENV_VARS and is not a documented \
                         local/test-only override: add it to the ENV_VARS of the function that \
                         reads it (and to infra/template.yaml and ARCHITECTURE.md's table), or \
                         document it as an override in ARCHITECTURE.md",
                        file.strip_prefix(&root).unwrap_or(file).display()
                    ));
                }
            }
        }
    }
    // The function crates themselves spell their names out, so a scan that finds none is broken.
    assert!(
        names_seen > 0,
        "the source scan found no AUTOENROLL_* literal at all"
    );
    assert_no_problems("AUTOENROLL_* names in functions/ and shared/", &problems);
}

#[test]
fn env_var_lists_match_the_table_in_architecture_md() {
    let doc = read("ARCHITECTURE.md");
    let table = architecture_env_table(&doc);
    assert!(
        table.len() >= 10,
        "could not read the 'Environment variables (Lambda)' table from ARCHITECTURE.md \
         (found {} rows)",
        table.len()
    );
    let all: BTreeSet<&str> = FUNCTIONS.iter().map(|f| f.short).collect();
    let mut problems = Vec::new();

    for (name, read_by) in &table {
        let expected: BTreeSet<&str> = match read_by_functions(read_by, &all) {
            Ok(set) => set,
            Err(e) => {
                problems.push(format!("ARCHITECTURE.md row {name}: {e}"));
                continue;
            }
        };
        for function in FUNCTIONS {
            let lists = function.env_vars.contains(&name.as_str());
            let should = expected.contains(function.short);
            if lists && !should {
                problems.push(format!(
                    "{} lists {name} in ENV_VARS, but ARCHITECTURE.md says it is read by {read_by:?}",
                    function.binary
                ));
            }
            if should && !lists {
                problems.push(format!(
                    "ARCHITECTURE.md says {name} is read by {read_by:?}, but it is missing from \
                     {}'s ENV_VARS",
                    function.binary
                ));
            }
        }
    }
    for function in FUNCTIONS {
        for name in function.env_vars {
            if !table.contains_key(*name) {
                problems.push(format!(
                    "{} lists {name} in ENV_VARS, but ARCHITECTURE.md's table has no row for it",
                    function.binary
                ));
            }
        }
    }
    assert_no_problems("ENV_VARS vs ARCHITECTURE.md", &problems);
}

#[test]
fn exemptions_are_documented_in_architecture_md() {
    let doc = read("ARCHITECTURE.md");
    let missing: Vec<String> = EXEMPT
        .iter()
        .filter(|name| !doc.contains(*name))
        .map(|name| format!("{name} is exempt in this test but ARCHITECTURE.md does not name it"))
        .collect();
    assert_no_problems("exempt names", &missing);
}

#[test]
fn graph_concurrency_setting_matches_the_event_source_and_reserved_concurrency() {
    let template = template();
    let (id, enroll) = function_resources(&template)
        .into_iter()
        .find(|(_, r)| binary_of(r) == Some("autoenroll-enroll"))
        .expect("no enroll function in infra/template.yaml");
    let props = enroll
        .get("Properties")
        .expect("enroll function has no Properties");
    let env_value = props
        .get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(|v| v.get("AUTOENROLL_GRAPH_MAX_CONCURRENCY"))
        .unwrap_or_else(|| panic!("{id} does not set AUTOENROLL_GRAPH_MAX_CONCURRENCY"));
    let sqs = sqs_event(props).unwrap_or_else(|| panic!("{id} has no SQS event"));
    let max = sqs
        .get("ScalingConfig")
        .and_then(|s| s.get("MaximumConcurrency"))
        .unwrap_or_else(|| panic!("{id}'s SQS event has no ScalingConfig.MaximumConcurrency"));
    assert_eq!(
        env_value, max,
        "{id}: AUTOENROLL_GRAPH_MAX_CONCURRENCY must be the SQS event source's MaximumConcurrency \
         (each instance paces itself to the quota divided by it)"
    );
    let reserved = props
        .get("ReservedConcurrentExecutions")
        .unwrap_or_else(|| panic!("{id} has no ReservedConcurrentExecutions"));
    assert_eq!(
        reserved, max,
        "{id}: ReservedConcurrentExecutions must equal the SQS MaximumConcurrency (lower throttles \
         the event source; higher breaks the pacer's assumption)"
    );
    let types: Vec<_> = sqs
        .get("FunctionResponseTypes")
        .and_then(Value::as_sequence)
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        types.contains(&"ReportBatchItemFailures"),
        "{id}: the SQS event must report partial batch failures, got {types:?}"
    );
}

#[test]
fn queues_of_sqs_fed_functions_outlive_retries_and_have_a_dead_letter_queue() {
    let template = template();
    let mut checked = BTreeSet::new();
    for (id, function) in function_resources(&template) {
        let props = function
            .get("Properties")
            .unwrap_or_else(|| panic!("{id} has no Properties"));
        let Some(sqs) = sqs_event(props) else {
            continue;
        };
        checked.insert(binary_of(function).unwrap_or("?").to_owned());
        let timeout = props
            .get("Timeout")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("{id} has no numeric Timeout"));
        let queue_id = referenced_resource(sqs.get("Queue").expect("SQS event has no Queue"))
            .expect("SQS event's Queue is not a !GetAtt of a queue in this template");
        let queue = template
            .get("Resources")
            .and_then(|r| r.get(queue_id.as_str()))
            .and_then(|q| q.get("Properties"))
            .unwrap_or_else(|| panic!("queue {queue_id} not found"));
        let visibility = queue
            .get("VisibilityTimeout")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("{queue_id} has no numeric VisibilityTimeout"));
        // Lambda's guidance for SQS event sources: visibility timeout at least 6x the function timeout.
        assert!(
            visibility > 6 * timeout,
            "{queue_id}: VisibilityTimeout {visibility} s must exceed 6 x {id}'s Timeout {timeout} s"
        );
        let redrive = queue.get("RedrivePolicy").unwrap_or_else(|| {
            panic!("{queue_id} has no RedrivePolicy: failing messages would never reach a DLQ")
        });
        let dlq = redrive
            .get("deadLetterTargetArn")
            .and_then(referenced_resource)
            .unwrap_or_else(|| panic!("{queue_id}: RedrivePolicy needs a deadLetterTargetArn"));
        assert!(
            redrive.get("maxReceiveCount").is_some(),
            "{queue_id}: RedrivePolicy needs maxReceiveCount"
        );
        let types: Vec<_> = sqs
            .get("FunctionResponseTypes")
            .and_then(Value::as_sequence)
            .map(|s| s.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert!(
            types.contains(&"ReportBatchItemFailures"),
            "{id}: the SQS event must report partial batch failures, got {types:?}"
        );
        // Someone hears about a dead letter.
        let alarmed = template
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::CloudWatch::Alarm"))
            .any(|alarm| mentions(alarm, &dlq));
        assert!(alarmed, "{queue_id}'s dead-letter queue {dlq} has no alarm");
    }
    assert_eq!(
        checked,
        BTreeSet::from([
            "autoenroll-enroll".to_owned(),
            "autoenroll-subscriptions".to_owned()
        ]),
        "enroll (the enroll queue) and subscriptions (the lifecycle queue) are the SQS-fed functions"
    );
}

/// The webhook is public (Function URL, AuthType NONE): its role must not reach the Graph
/// credential — no statement naming the client secret, no STS action (the federated client
/// assertion) — and no federated-credential output names it.
#[test]
fn webhook_role_holds_no_graph_credential() {
    let template = template();
    let resources = template.get("Resources").expect("Resources");
    let role_of = |binary: &str| -> String {
        let (id, function) = function_resources(&template)
            .into_iter()
            .find(|(_, r)| binary_of(r) == Some(binary))
            .unwrap_or_else(|| panic!("no {binary} function"));
        let role = function.get("Properties").and_then(|p| p.get("Role"));
        role.and_then(referenced_resource)
            .unwrap_or_else(|| panic!("{id}'s Role is not a role of this template"))
    };
    let statements_of = |role_id: &str| -> Vec<&Value> {
        let role = resources
            .get(role_id)
            .unwrap_or_else(|| panic!("role {role_id} not found"));
        let mut out = Vec::new();
        for policy in role
            .get("Properties")
            .and_then(|p| p.get("Policies"))
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            statements(
                policy.get("PolicyDocument").expect("PolicyDocument"),
                &mut out,
            );
        }
        out
    };
    let credential_statements = |role_id: &str| -> Vec<String> {
        statements_of(role_id)
            .into_iter()
            .filter(|s| {
                mentions(s, "ClientSecret") || actions(s).iter().any(|a| a.starts_with("sts:"))
            })
            .map(|s| {
                format!(
                    "{role_id}: {}",
                    s.get("Sid").and_then(Value::as_str).unwrap_or("?")
                )
            })
            .collect()
    };
    // The walker does find them where they are meant to be.
    for graph_caller in [
        "autoenroll-enroll",
        "autoenroll-subscriptions",
        "autoenroll-reconcile",
    ] {
        let found = credential_statements(&role_of(graph_caller));
        assert_eq!(
            found.len(),
            2,
            "{graph_caller}: client secret and STS statements, got {found:?}"
        );
    }
    let webhook_role = role_of("autoenroll-webhook");
    assert!(!statements_of(&webhook_role).is_empty());
    assert_no_problems(
        "statements giving the webhook a Graph credential",
        &credential_statements(&webhook_role),
    );
    let outputs = template.get("Outputs").expect("Outputs");
    assert!(
        !mentions(outputs, &webhook_role),
        "an output still names {webhook_role} (the federated-credential guide must not list it)"
    );
}

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------

/// Every IAM statement (a mapping with `Effect`) in `v`, also inside `!If` branches.
fn statements<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Mapping(m) if m.contains_key("Effect") => out.push(v),
        Value::Mapping(m) => m.values().for_each(|x| statements(x, out)),
        Value::Sequence(s) => s.iter().for_each(|x| statements(x, out)),
        Value::Tagged(t) => statements(&t.value, out),
        _ => {}
    }
}

/// A statement's actions (one string or a list).
fn actions(statement: &Value) -> Vec<&str> {
    match statement.get("Action") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Sequence(s)) => s.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether `v` refers to the resource `logical_id` anywhere (`!Ref`, `!GetAtt`, their long
/// forms).
fn mentions(v: &Value, logical_id: &str) -> bool {
    if referenced_resource(v).as_deref() == Some(logical_id) {
        return true;
    }
    match v {
        Value::Mapping(m) => m.values().any(|x| mentions(x, logical_id)),
        Value::Sequence(s) => s.iter().any(|x| mentions(x, logical_id)),
        Value::Tagged(t) => mentions(&t.value, logical_id),
        _ => false,
    }
}

fn sqs_event(props: &Value) -> Option<&Value> {
    props
        .get("Events")?
        .as_mapping()?
        .values()
        .find(|e| e.get("Type").and_then(Value::as_str) == Some("SQS"))?
        .get("Properties")
}

/// The logical id in `!GetAtt X.Arn`, `!GetAtt [X, Arn]`, `{"Fn::GetAtt": ...}` or `!Ref X`.
fn referenced_resource(v: &Value) -> Option<String> {
    let target = match v {
        Value::Tagged(t) if t.tag == "GetAtt" || t.tag == "Ref" => &t.value,
        Value::Mapping(m) => m.get("Fn::GetAtt").or_else(|| m.get("Ref"))?,
        _ => return None,
    };
    match target {
        Value::String(s) => Some(s.split('.').next().unwrap_or(s).to_owned()),
        Value::Sequence(s) => s.first()?.as_str().map(str::to_owned),
        _ => None,
    }
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `AUTOENROLL_X` name inside a string literal's text. A name ending in `_` is a prefix
/// (e.g. a `starts_with("AUTOENROLL_POLICY_")` check), not a variable.
fn autoenroll_names(literal: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut resume = 0;
    for (at, _) in literal.match_indices("AUTOENROLL_") {
        if at < resume {
            continue;
        }
        let glued = literal[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let len = literal[at..]
            .bytes()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            .count();
        let name = &literal[at..at + len];
        resume = at + len;
        if !glued && !name.ends_with('_') {
            names.push(name);
        }
    }
    names
}

/// The contents of every string literal in Rust source (plain, byte and raw strings), with the
/// line each starts on. Comments and char literals are skipped, so doc comments that mention a
/// name (or a glob like `AUTOENROLL_POLICY_*`) are not literals.
fn string_literals(src: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            '\'' => {
                // A char literal ('x', '\n', '\'', '\u{..}') or a lifetime/label ('a).
                if next == Some('\\') {
                    let mut j = i + 2;
                    while j < chars.len() && chars[j] != '\'' && chars[j] != '\n' {
                        j += 1;
                    }
                    if chars.get(i + 2) == Some(&'\'') {
                        j = i + 3; // '\''
                        while j < chars.len() && chars[j] != '\'' {
                            j += 1;
                        }
                    }
                    i = j + 1;
                } else if chars.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            'r' if (i == 0
                || !ident(chars[i - 1])
                || (chars[i - 1] == 'b' && (i < 2 || !ident(chars[i - 2]))))
                && matches!(next, Some('"' | '#')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while chars.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if chars.get(j) != Some(&'"') {
                    i += 1; // r#ident (a raw identifier), not a string
                    continue;
                }
                let start_line = line;
                let mut text = String::new();
                j += 1;
                while j < chars.len() {
                    if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    if chars[j] == '\n' {
                        line += 1;
                    }
                    text.push(chars[j]);
                    j += 1;
                }
                out.push((start_line, text));
                i = j;
            }
            '"' => {
                let start_line = line;
                let mut text = String::new();
                let mut j = i + 1;
                while j < chars.len() && chars[j] != '"' {
                    if chars[j] == '\\' {
                        // Keep escaped characters out of names: "\AUTO..." cannot happen, and a
                        // line continuation ("\<newline>") just joins text.
                        if chars.get(j + 1) == Some(&'\n') {
                            line += 1;
                        }
                        text.push(' ');
                        j += 2;
                        continue;
                    }
                    if chars[j] == '\n' {
                        line += 1;
                    }
                    text.push(chars[j]);
                    j += 1;
                }
                out.push((start_line, text));
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// ARCHITECTURE.md's "Environment variables (Lambda)" table: variable -> "read by" cell.
fn architecture_env_table(doc: &str) -> BTreeMap<String, String> {
    let mut table = BTreeMap::new();
    let mut in_section = false;
    for line in doc.lines() {
        if line.starts_with("## ") {
            in_section = line.contains("Environment variables (Lambda)");
            continue;
        }
        if !in_section {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| `NAME` | read by | meaning |" splits into ["", "`NAME`", "read by", "meaning", ""].
        if cells.len() >= 4
            && let Some(name) = cells[1].strip_prefix('`').and_then(|c| c.strip_suffix('`'))
            && name.starts_with("AUTOENROLL_")
        {
            table.insert(name.to_owned(), cells[2].to_owned());
        }
    }
    table
}

/// "all", "all but webhook", or "enroll, subscriptions, reconcile".
fn read_by_functions<'a>(cell: &str, all: &BTreeSet<&'a str>) -> Result<BTreeSet<&'a str>, String> {
    let cell = cell.trim();
    let named = |list: &str| -> Result<BTreeSet<&'a str>, String> {
        list.split(',')
            .map(str::trim)
            .map(|n| {
                all.get(n)
                    .copied()
                    .ok_or_else(|| format!("unknown function {n:?} in {cell:?}"))
            })
            .collect()
    };
    if cell == "all" {
        Ok(all.clone())
    } else if let Some(but) = cell.strip_prefix("all but ") {
        let excluded = named(but)?;
        Ok(all.difference(&excluded).copied().collect())
    } else {
        named(cell)
    }
}

#[test]
fn source_scanner_finds_names_in_literals_only() {
    let src = r####"
        // "AUTOENROLL_IN_LINE_COMMENT"
        /* "AUTOENROLL_IN_BLOCK" /* nested */ "AUTOENROLL_STILL_BLOCK" */
        /// `AUTOENROLL_POLICY_*` in a doc comment
        let a = std::env::var("AUTOENROLL_PLAIN");
        let b = r#"x "AUTOENROLL_RAW" y"#;
        let c = '"'; let d = "AUTOENROLL_AFTER_CHAR";
        fn f<'a>(x: &'a str) -> &'a str { "AUTOENROLL_AFTER_LIFETIME: {}" }
        let e = "prefix AUTOENROLL_POLICY_ only";
        let g = "NOTAUTOENROLL_X";
        let h = b"AUTOENROLL_BYTES";
        let i = "multi
            line AUTOENROLL_SECOND_LINE";
    "####;
    let found: Vec<(usize, String)> = string_literals(src)
        .into_iter()
        .flat_map(|(line, lit)| {
            autoenroll_names(&lit)
                .into_iter()
                .map(|n| (line, n.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    let names: Vec<&str> = found.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "AUTOENROLL_PLAIN",
            "AUTOENROLL_RAW",
            "AUTOENROLL_AFTER_CHAR",
            "AUTOENROLL_AFTER_LIFETIME",
            "AUTOENROLL_BYTES",
            "AUTOENROLL_SECOND_LINE",
        ]
    );
    assert_eq!(
        found[0].0, 5,
        "line numbers count from the start of the source"
    );
    assert_eq!(
        found[5].0, 12,
        "a multi-line literal reports the line it starts on"
    );
}

#[test]
fn read_by_cells_are_understood() {
    let all: BTreeSet<&str> = ["webhook", "enroll", "subscriptions", "reconcile"].into();
    let set = |v: &[&'static str]| v.iter().copied().collect::<BTreeSet<&str>>();
    assert_eq!(read_by_functions("all", &all).unwrap(), all);
    assert_eq!(
        read_by_functions("all but webhook", &all).unwrap(),
        set(&["enroll", "subscriptions", "reconcile"])
    );
    assert_eq!(
        read_by_functions("webhook, reconcile", &all).unwrap(),
        set(&["webhook", "reconcile"])
    );
    assert!(read_by_functions("webhook, cli", &all).is_err());
}
