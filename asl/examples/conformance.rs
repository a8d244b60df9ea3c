//! Runs the ASL conformance cases recorded against AWS (the shared
//! `../shared/conformance/cases`, never copied into this project) that need no
//! server — no Task states, not validation or TestState cases — through the
//! pure in-process runner (which drives `stepwise_asl::exec`, the runtime the
//! coordinator runs), and compares status, output, error and cause.
//!
//! `cargo run -p stepwise-asl --example conformance -- ../shared/conformance/cases`
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::path::Path;
use stepwise_asl::compile::{CompileOptions, compile};
use stepwise_asl::local::{LocalOptions, run};

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    Ok(())
}

/// The case files under `dir`, sorted: an error if the folder cannot be read
/// or holds none (a run that found nothing to check has not passed).
fn case_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let mut all = Vec::new();
    files(dir, &mut all).map_err(|e| format!("{}: {e}", dir.display()))?;
    if all.is_empty() {
        return Err(format!(
            "{}: no conformance cases (*.json) found",
            dir.display()
        ));
    }
    all.sort();
    Ok(all)
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

fn main() -> std::process::ExitCode {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/conformance/cases".into());
    let all = match case_files(Path::new(&dir)) {
        Ok(all) => all,
        Err(e) => {
            eprintln!("conformance: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let (mut pass, mut fail, mut skipped) = (0, 0, 0);
    for f in all {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let text = case["definition"].to_string();
        // Validation and TestState cases ask the API, not a run.
        if case["kind"] == "validation"
            || case["kind"] == "test_state"
            || text.contains("\"Task\"")
            || case["worker"].is_object()
        {
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
        "local conformance: {pass} passed, {fail} failed, {skipped} skipped (Task, activity, validation or TestState cases)"
    );
    if fail > 0 {
        std::process::ExitCode::FAILURE
    } else if pass == 0 {
        eprintln!("conformance: no case could run without a server");
        std::process::ExitCode::from(2)
    } else {
        std::process::ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_cases_is_an_error() {
        assert!(case_files(Path::new("/nonexistent")).is_err());
        let empty = std::env::temp_dir().join(format!("conformance-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let r = case_files(&empty);
        std::fs::remove_dir(&empty).unwrap();
        assert!(r.unwrap_err().contains("no conformance cases"));
    }
}
