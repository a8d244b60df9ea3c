//! Runs the ASL conformance cases recorded against AWS (the shared
//! `../shared/conformance/cases`, never copied into this project) that need no
//! server — no Task states, not validation cases — through the pure in-process
//! runner, and compares status, output, error and cause.
//!
//! `cargo run -p stepwise-asl --example conformance -- ../shared/conformance/cases`
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::path::Path;
use stepwise_asl::compile::{CompileOptions, compile};
use stepwise_asl::local::{LocalOptions, run};

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// Expected values use placeholders (listed in `expected.placeholders`): a
/// value that is exactly one matches anything, a string containing one any string.
fn matches(expected: &Value, actual: &Value, ph: &[String]) -> bool {
    match (expected, actual) {
        (Value::String(e), _) if ph.iter().any(|p| p == e) => true,
        (Value::String(e), Value::String(a)) => e == a || ph.iter().any(|p| e.contains(p.as_str())),
        (Value::Object(e), Value::Object(a)) => {
            e.iter()
                .all(|(k, v)| a.get(k).is_some_and(|av| matches(v, av, ph)))
                && a.keys().all(|k| e.contains_key(k) || k == "RedriveCount")
        }
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| matches(x, y, ph))
        }
        (Value::Number(e), Value::Number(a)) => e.as_f64() == a.as_f64(),
        _ => expected == actual,
    }
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/conformance/cases".into());
    let mut all = Vec::new();
    files(Path::new(&dir), &mut all);
    all.sort();
    let (mut pass, mut fail, mut skipped) = (0, 0, 0);
    for f in all {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let text = case["definition"].to_string();
        if case["kind"] == "validation" || text.contains("\"Task\"") || case["worker"].is_object() {
            skipped += 1;
            continue;
        }
        let name = case["name"].as_str().unwrap_or_default().to_owned();
        let exp = &case["expected"];
        let placeholders: Vec<String> = exp["placeholders"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let input: Value = case["input"]
            .as_str()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null);
        let machine = match compile(&case["definition"], CompileOptions::default()) {
            Ok(m) => m,
            Err(e) => {
                fail += 1;
                println!("FAIL {name}: does not compile: {e}");
                continue;
            }
        };
        let r = run(
            &machine,
            input,
            LocalOptions {
                execution_name: name.clone(),
                ..Default::default()
            },
        );
        let ok = match (&r.output, exp["status"].as_str()) {
            (Ok(out), Some("SUCCEEDED")) => matches(&exp["output"], out, &placeholders),
            (Err(e), Some("TIMED_OUT")) => e.error == "States.Timeout",
            (Err(e), Some("FAILED")) => {
                exp["error"].as_str().is_none_or(|x| x == e.error)
                    && exp["cause"].as_str().is_none_or(|c| {
                        c == e.cause
                            || c.contains('<')
                            || serde_json::from_str::<Value>(c).ok()
                                == serde_json::from_str::<Value>(&e.cause).ok()
                    })
            }
            _ => false,
        };
        if ok {
            pass += 1;
        } else {
            fail += 1;
            println!("FAIL {name}: expected {} got {:?}", exp, r.output);
        }
    }
    println!(
        "local conformance: {pass} passed, {fail} failed, {skipped} skipped (Task, activity or validation cases)"
    );
}
