//! Runs the upstream JSONata test suite (jsonata-js `test/test-suite`)
//! against our engine wrapper (`stepwise_asl::jsonata`), with the suite's
//! input as the context item and its bindings as variables.
//!
//! The suite is not in the repository: `asl/tests/fetch-jsonata-suite.sh`
//! puts it in `asl/tests/data/jsonata-suite` (CI runs it with `--crate`, from
//! `scripts/ci/jsonata-suite.sh`). Without it this test fails when the `CI`
//! environment variable is set, and says it did not run otherwise.
//! Cases calling `$eval` are not applicable: Step Functions disables it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use stepwise_asl::Variables;
use stepwise_asl::jsonata::{Bindings, Expression, Limits, QueryError};

/// The fewest passing cases accepted of jsonata-js 2.2.2's suite (it has
/// 1,686 cases; see the README for the current count).
const MIN_PASSED: usize = 1_650;
/// The fewest passing cases accepted of the copy the jsonata-rs 0.3.4 package
/// ships (1,602 cases of an older jsonata-js suite; 1,576 pass, and 16 fail
/// where that copy expects what jsonata-js 2.x no longer does, e.g. `$string(1e100)`
/// as `"1e100"`, or cases it added for functions of its own such as `$uuid`).
const MIN_PASSED_JSONATA_RS: usize = 1_576;

enum Verdict {
    Pass,
    Fail(String),
    NotApplicable,
}

fn numbers_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| numbers_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| numbers_equal(v, w)))
        }
        _ => a == b,
    }
}

fn run_case(case: &Value, group: &Path, datasets: &HashMap<String, Value>) -> Verdict {
    let expr = match (case.get("expr"), case.get("expr-file")) {
        (Some(Value::String(e)), _) => e.clone(),
        (_, Some(Value::String(f))) => match std::fs::read_to_string(group.join(f)) {
            Ok(e) => e,
            Err(e) => return Verdict::Fail(format!("cannot read {f}: {e}")),
        },
        _ => return Verdict::Fail("no expression".to_owned()),
    };
    if expr.contains("$eval") {
        return Verdict::NotApplicable;
    }
    let data: Option<Value> = match (case.get("data"), case.get("dataset")) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(Value::String(name))) => datasets.get(name).cloned(),
        _ => None,
    };
    let vars: Variables = match case.get("bindings") {
        Some(Value::Object(m)) => m.clone(),
        _ => Variables::new(),
    };
    let code = case
        .get("code")
        .or_else(|| case.get("error").and_then(|e| e.get("code")))
        .and_then(Value::as_str);
    let compiled = match Expression::parse_inner(expr.trim()) {
        Ok(e) => e,
        Err(message) => {
            return match code {
                Some(c) if message.contains(c) => Verdict::Pass,
                _ => Verdict::Fail(format!("parse error: {message}")),
            };
        }
    };
    let null = Value::Null;
    let ctx = Value::Null;
    let mut b = Bindings::new(&null, &ctx, &vars, 1);
    b.root = data.as_ref();
    let defaults = Limits::default();
    b.limits = Limits {
        timeout_ms: case
            .get("timelimit")
            .and_then(Value::as_u64)
            .unwrap_or(defaults.timeout_ms),
        max_depth: case
            .get("depth")
            .and_then(Value::as_u64)
            .map_or(defaults.max_depth, |d| d as usize),
        ..defaults
    };
    let got = compiled.evaluate(&b);
    match (got, code) {
        (Err(QueryError::Threw(m)), Some(c)) if m.contains(c) => Verdict::Pass,
        (got, Some(c)) => Verdict::Fail(format!("expected error {c}, got {got:?}")),
        (Err(QueryError::Undefined), None) if case.get("undefinedResult").is_some() => {
            Verdict::Pass
        }
        (Ok(v), None) => match case.get("result") {
            Some(want) if numbers_equal(want, &v) => Verdict::Pass,
            Some(want) => Verdict::Fail(format!("expected {want}, got {v}")),
            None => Verdict::Fail(format!("expected undefined, got {v}")),
        },
        (Err(e), None) => Verdict::Fail(format!("unexpected {e:?}")),
    }
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn upstream_jsonata_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/jsonata-suite");
    if !root.join("groups").is_dir() {
        let why = format!(
            "the JSONata suite is missing: run asl/tests/fetch-jsonata-suite.sh (or scripts/ci/jsonata-suite.sh) to fetch it into {}",
            root.display()
        );
        assert!(std::env::var_os("CI").is_none(), "CI is set and {why}");
        eprintln!("jsonata suite: NOT RUN: {why}");
        return;
    }
    let source = std::fs::read_to_string(root.join("SOURCE")).unwrap_or_default();
    let min_passed = if source.starts_with("jsonata-rs ") {
        MIN_PASSED_JSONATA_RS
    } else {
        MIN_PASSED
    };
    let mut datasets = HashMap::new();
    for f in json_files(&root.join("datasets")) {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        datasets.insert(name, v);
    }
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for group in json_files(&root.join("groups")) {
        for file in json_files(&group) {
            if file.extension().is_none_or(|e| e != "json") {
                continue;
            }
            // A few files hold lone UTF-16 surrogates (`\uD800`), which JSON
            // in Rust cannot represent: those cases are not applicable.
            let Ok(v) = serde_json::from_str::<Value>(&std::fs::read_to_string(&file).unwrap())
            else {
                skipped += 1;
                continue;
            };
            let cases = match v {
                Value::Array(cs) => cs,
                one => vec![one],
            };
            for (i, case) in cases.iter().enumerate() {
                let verdict = std::panic::catch_unwind(|| run_case(case, &group, &datasets))
                    .unwrap_or_else(|_| Verdict::Fail("panicked".to_owned()));
                match verdict {
                    Verdict::Pass => passed += 1,
                    Verdict::NotApplicable => skipped += 1,
                    Verdict::Fail(why) => {
                        failed += 1;
                        let name = file.strip_prefix(&root).unwrap_or(&file).display();
                        failures.push(format!("{name}[{i}]: {why}"));
                    }
                }
            }
        }
    }
    for f in &failures {
        eprintln!("FAIL {}", f.chars().take(300).collect::<String>());
    }
    eprintln!(
        "jsonata suite ({}): {passed} passed, {failed} failed, {skipped} skipped",
        source.trim()
    );
    assert!(
        passed >= min_passed,
        "only {passed} upstream JSONata cases pass"
    );
}
