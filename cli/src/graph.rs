//! `stepwise graph`: a workflow as an indented tree of its states and their
//! transitions (Parallel branches and Map iterations nested under their state).

use serde_json::Value;
use std::fmt::Write;

/// The text graph of a definition.
pub fn render(definition: &Value) -> String {
    let mut out = String::new();
    machine(&mut out, definition, 0);
    out
}

fn names(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn machine(out: &mut String, def: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    let start = def["StartAt"].as_str().unwrap_or("?");
    let _ = writeln!(out, "{pad}start → {start}");
    let Some(states) = def["States"].as_object() else {
        return;
    };
    for (name, s) in states {
        let kind = s["Type"].as_str().unwrap_or("?");
        let _ = writeln!(out, "{pad}{name} ({kind})");
        let pad = format!("{pad}  ");
        if let Some(choices) = s["Choices"].as_array() {
            for (i, c) in choices.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{pad}choice {} → {}",
                    i + 1,
                    c["Next"].as_str().unwrap_or("?")
                );
            }
            if let Some(d) = s["Default"].as_str() {
                let _ = writeln!(out, "{pad}default → {d}");
            }
        }
        if let Some(branches) = s["Branches"].as_array() {
            for (i, b) in branches.iter().enumerate() {
                let _ = writeln!(out, "{pad}branch {}:", i + 1);
                machine(out, b, depth + 2);
            }
        }
        let processor = if s["ItemProcessor"].is_object() {
            &s["ItemProcessor"]
        } else {
            &s["Iterator"]
        };
        if processor.is_object() {
            let _ = writeln!(out, "{pad}each item:");
            machine(out, processor, depth + 2);
        }
        if let Some(retry) = s["Retry"].as_array() {
            for r in retry {
                let attempts = r["MaxAttempts"].as_u64().unwrap_or(3);
                let _ = writeln!(
                    out,
                    "{pad}retry [{}] up to {attempts}×",
                    names(&r["ErrorEquals"])
                );
            }
        }
        if let Some(catch) = s["Catch"].as_array() {
            for c in catch {
                let _ = writeln!(
                    out,
                    "{pad}catch [{}] → {}",
                    names(&c["ErrorEquals"]),
                    c["Next"].as_str().unwrap_or("?")
                );
            }
        }
        if let Some(n) = s["Next"].as_str() {
            let _ = writeln!(out, "{pad}→ {n}");
        }
        match kind {
            "Succeed" => {
                let _ = writeln!(out, "{pad}→ end (succeeded)");
            }
            "Fail" => {
                let error = s["Error"].as_str().unwrap_or("an error");
                let _ = writeln!(out, "{pad}→ end (fails with {error})");
            }
            _ if s["End"] == Value::Bool(true) => {
                let _ = writeln!(out, "{pad}→ end");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_transitions_and_nested_branches() {
        let text = render(&json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "P"}], "Default": "F"},
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": true,
                    "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 2}]}}}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}], "End": true},
            "F": {"Type": "Fail", "Error": "E"}
        }}));
        assert_eq!(
            text,
            "start → C\nC (Choice)\n  choice 1 → P\n  default → F\nP (Parallel)\n  branch 1:\n    start → T\n    T (Task)\n      retry [States.Timeout] up to 2×\n      → end\n  catch [States.ALL] → F\n  → end\nF (Fail)\n  → end (fails with E)\n"
        );
    }
}
