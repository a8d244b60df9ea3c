use super::*;
use serde_json::json;
use stepwise_asl::compile::{CompileOptions, compile_str};
use stepwise_asl::model::MachineType;

fn compile(def: &Value) -> StateMachine {
    compile_str(
        &def.to_string(),
        CompileOptions {
            machine_type: MachineType::Standard,
        },
    )
    .unwrap()
}

/// Every transition of the model, as (from, to) with `end` for End/Succeed/Fail.
fn transitions(m: &StateMachine, out: &mut Vec<(String, String)>) {
    out.push(("start".into(), m.start_at.clone()));
    for (name, s) in &m.states {
        match &s.transition {
            Transition::Next(n) => out.push((name.clone(), n.clone())),
            Transition::End => out.push((name.clone(), "end".into())),
            Transition::Terminal => {}
        }
        match &s.kind {
            StateKind::Choice(c) => {
                for b in &c.choices {
                    out.push((name.clone(), b.next.clone()));
                }
                if let Some(d) = &c.default {
                    out.push((name.clone(), d.clone()));
                }
            }
            StateKind::Succeed | StateKind::Fail(_) => out.push((name.clone(), "end".into())),
            StateKind::Parallel { branches } => {
                for b in branches {
                    transitions(b, out);
                }
            }
            StateKind::Map(map) => transitions(&map.processor, out),
            _ => {}
        }
        for c in &s.catch {
            out.push((name.clone(), c.next.clone()));
        }
    }
}

/// No two boxes of one layout overlap; a group's layout lies inside it,
/// inside its state's box; every edge starts and ends on its nodes.
fn check_layout(l: &Layout) -> usize {
    let mut boxes = 0;
    for (i, a) in l.nodes.iter().enumerate() {
        for b in &l.nodes[i + 1..] {
            assert!(
                !a.rect.overlaps(&b.rect),
                "{} {:?} overlaps {} {:?}",
                a.name,
                a.rect,
                b.name,
                b.rect
            );
        }
        for (j, g) in a.groups.iter().enumerate() {
            assert!(
                a.rect.contains(&g.rect),
                "{}: group outside its state",
                a.name
            );
            for h in &a.groups[j + 1..] {
                assert!(!g.rect.overlaps(&h.rect), "{}: groups overlap", a.name);
            }
            for n in &g.layout.nodes {
                assert!(g.rect.contains(&n.rect), "{} outside its group", n.name);
            }
            boxes += check_layout(&g.layout);
        }
        boxes += 1;
    }
    let near = |p: (f64, f64), r: &Rect| {
        p.0 >= r.x - 0.5 && p.0 <= r.x + r.w + 0.5 && p.1 >= r.y - 0.5 && p.1 <= r.y + r.h + 0.5
    };
    for e in &l.edges {
        let from = l.nodes.iter().find(|n| n.name == e.from).unwrap();
        let to = l.nodes.iter().find(|n| n.name == e.to).unwrap();
        assert!(
            near(e.points[0], &from.rect),
            "edge {e:?} does not leave {}",
            from.name
        );
        assert!(
            near(*e.points.last().unwrap(), &to.rect),
            "edge {e:?} does not reach {}",
            to.name
        );
        // No edge runs through a box other than its own two.
        for w in e.points.windows(2) {
            for i in 0..=20 {
                let t = i as f64 / 20.0;
                let p = (
                    w[0].0 + (w[1].0 - w[0].0) * t,
                    w[0].1 + (w[1].1 - w[0].1) * t,
                );
                for n in &l.nodes {
                    if n.name == e.from || n.name == e.to {
                        continue;
                    }
                    let r = n.rect;
                    let inside = p.0 > r.x + 1.0
                        && p.0 < r.x + r.w - 1.0
                        && p.1 > r.y + 1.0
                        && p.1 < r.y + r.h - 1.0;
                    assert!(
                        !inside,
                        "edge {} -> {} runs through {}",
                        e.from, e.to, n.name
                    );
                }
            }
        }
    }
    boxes
}

fn all_edges(l: &Layout, out: &mut Vec<(String, String)>) {
    for e in &l.edges {
        out.push((e.from.clone(), e.to.clone()));
    }
    for n in &l.nodes {
        for g in &n.groups {
            all_edges(&g.layout, out);
        }
    }
}

fn check(def: &Value) -> String {
    let m = compile(def);
    let l = layout(&m, def);
    check_layout(&l);
    let mut want = Vec::new();
    transitions(&m, &mut want);
    let mut have = Vec::new();
    all_edges(&l, &mut have);
    want.sort();
    have.sort();
    assert_eq!(want, have, "every transition drawn once");
    let svg = svg(&l, &HashMap::new());
    for (from, to) in &want {
        let needle = format!(r#"data-from="{}" data-to="{}""#, esc(from), esc(to));
        assert!(svg.contains(&needle), "{needle} not in the SVG");
    }
    for name in m.states.keys() {
        assert!(svg.contains(&format!(r#"data-state="{}""#, esc(name))));
    }
    svg
}

#[test]
fn every_example_workflow_is_drawn_without_overlaps() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/workflows");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".asl.json") {
            continue;
        }
        let def: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let svg = check(&def);
        assert!(svg.starts_with("<svg"), "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 5, "the example workflows were found ({seen})");
}

#[test]
fn parallel_and_map_are_nested_groups_and_choice_edges_carry_their_rule() {
    let def = json!({
        "StartAt": "Check",
        "States": {
            "Check": {"Type": "Choice", "Choices": [
                {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Both"},
                {"And": [{"Variable": "$.s", "StringEquals": "x"}, {"Not": {"Variable": "$.b", "IsPresent": true}}], "Next": "Each"}
            ], "Default": "Done"},
            "Both": {"Type": "Parallel", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
                {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 1, "Next": "B2"}, "B2": {"Type": "Pass", "End": true}}}
            ], "Next": "Done"},
            "Each": {"Type": "Map", "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": true}}}, "Next": "Done"},
            "Done": {"Type": "Succeed"}
        }
    });
    let svg = check(&def);
    assert!(svg.contains("$.n &gt; 10"), "{svg}");
    assert!(
        svg.contains("($.s == &quot;x&quot;) and (not ($.b is present))"),
        "{svg}"
    );
    assert!(svg.contains(">default<"));
    assert!(svg.contains(">Branch 2<"));
    assert!(svg.contains(">Each item<"));
    let m = compile(&def);
    let l = layout(&m, &def);
    let both = l.nodes.iter().find(|n| n.name == "Both").unwrap();
    assert_eq!(both.groups.len(), 2);
    let each = l.nodes.iter().find(|n| n.name == "Each").unwrap();
    assert_eq!(each.groups.len(), 1);
    assert_eq!(each.groups[0].layout.nodes[1].name, "Item");
}

#[test]
fn loops_and_catches_to_itself_are_drawn() {
    let def = json!({
        "StartAt": "Poll",
        "States": {
            "Poll": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a",
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Poll"}, {"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
                "Next": "Done?"},
            "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.done", "BooleanEquals": true, "Next": "Ok"}], "Default": "Wait"},
            "Wait": {"Type": "Wait", "Seconds": 5, "Next": "Poll"},
            "Ok": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "E"}
        }
    });
    let svg = check(&def);
    assert!(svg.contains("catch States.Timeout"));
}

/// A generated machine of 100 states: a chain with Choices jumping forward
/// and back, Catches, and Parallel states every so often.
#[test]
fn a_hundred_state_machine_is_drawn_without_overlaps() {
    let mut states = serde_json::Map::new();
    let n: usize = 100;
    for i in 0..n {
        let name = format!("S{i:03}");
        let next = format!("S{:03}", i + 1);
        let s = if i == n - 1 {
            json!({"Type": "Succeed"})
        } else if i % 10 == 3 {
            json!({"Type": "Choice", "Choices": [
                {"Variable": "$.k", "NumericEquals": i, "Next": format!("S{:03}", (i + 7).min(n - 1))},
                {"Variable": "$.back", "BooleanEquals": true, "Next": format!("S{:03}", i.saturating_sub(3))}
            ], "Default": next})
        } else if i % 10 == 6 {
            json!({"Type": "Parallel", "Branches": [
                {"StartAt": format!("P{i}a"), "States": {format!("P{i}a"): {"Type": "Pass", "End": true}}},
                {"StartAt": format!("P{i}b"), "States": {format!("P{i}b"): {"Type": "Pass", "Next": format!("P{i}c")}, format!("P{i}c"): {"Type": "Pass", "End": true}}}
            ], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": format!("S{:03}", n - 1)}], "Next": next})
        } else {
            json!({"Type": "Pass", "Next": next})
        };
        states.insert(name, s);
    }
    let def = json!({"StartAt": "S000", "States": states});
    let m = compile(&def);
    assert_eq!(m.states.len(), n);
    let svg = check(&def);
    assert!(svg.len() > 10_000);
}

#[test]
fn painted_states_carry_their_outcome_and_attempts() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": true}}});
    let m = compile(&def);
    let l = layout(&m, &def);
    let mut paint = HashMap::new();
    paint.insert(
        "A".to_owned(),
        Paint {
            outcome: Outcome::Succeeded,
            attempts: 3,
        },
    );
    let svg = svg(&l, &paint);
    assert!(svg.contains(r#"class="st succeeded" data-state="A""#));
    assert!(svg.contains("×3"));
    assert!(svg.contains(r#"class="st not-reached" data-state="B""#));
}
