//! Property tests: the definition compiler, paths, templates and the stepping
//! API never panic, whatever they are given (bounded case counts so CI stays fast).

use proptest::prelude::*;
use serde_json::{Value, json};
use stepwise_asl::compile::{CompileOptions, compile, compile_str};
use stepwise_asl::env::{Env, Variables};
use stepwise_asl::path::{Path, ResultPath};
use stepwise_asl::step::{StepContext, enter};
use stepwise_asl::template::Template;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-zA-Z0-9$.*\\[\\]@?()' ]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[A-Za-z.$]{1,8}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Definitions made of ASL keywords and random values, to reach deep into the validator.
fn arb_definition() -> impl Strategy<Value = Value> {
    let types = prop_oneof![
        Just("Pass"),
        Just("Task"),
        Just("Choice"),
        Just("Wait"),
        Just("Succeed"),
        Just("Fail"),
        Just("Parallel"),
        Just("Map"),
        Just("Bogus")
    ];
    let field = prop_oneof![
        Just("Next"),
        Just("End"),
        Just("InputPath"),
        Just("OutputPath"),
        Just("ResultPath"),
        Just("Parameters"),
        Just("ResultSelector"),
        Just("Retry"),
        Just("Catch"),
        Just("Choices"),
        Just("Default"),
        Just("Seconds"),
        Just("Timestamp"),
        Just("SecondsPath"),
        Just("Branches"),
        Just("ItemProcessor"),
        Just("Iterator"),
        Just("ItemsPath"),
        Just("MaxConcurrency"),
        Just("Resource"),
        Just("TimeoutSeconds"),
        Just("HeartbeatSeconds"),
        Just("Error"),
        Just("CausePath"),
        Just("Result"),
        Just("QueryLanguage"),
        Just("Assign"),
        Just("Output")
    ];
    let state =
        (types, prop::collection::vec((field, arb_json()), 0..6)).prop_map(|(t, fields)| {
            let mut m = serde_json::Map::new();
            m.insert("Type".into(), json!(t));
            for (k, v) in fields {
                m.insert(k.into(), v);
            }
            Value::Object(m)
        });
    prop::collection::vec(("[A-C]", state), 1..4).prop_map(|states| {
        let mut m = serde_json::Map::new();
        for (k, v) in states {
            m.insert(k, v);
        }
        json!({"StartAt": "A", "States": m})
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn compile_str_never_panics(s in ".{0,200}") {
        let _ = compile_str(&s, CompileOptions::default());
    }

    #[test]
    fn compile_never_panics_and_valid_machines_step(def in arb_definition(), input in arb_json()) {
        if let Ok(m) = compile(&def, CompileOptions::default()) {
            let ctx = json!({});
            let vars = Variables::new();
            let sc = StepContext { context: &ctx, vars: &vars, entered_event_id: 2, seed: 1, inspect: None, item_reader_data: None };
            for state in m.states.values() {
                let _ = enter(state, &input, &[], &sc);
            }
        }
    }

    #[test]
    fn paths_never_panic(src in "\\$[a-zA-Z0-9$.*\\[\\]@?()'\"=<>!&|:, -]{0,30}", input in arb_json()) {
        let ctx = json!({});
        let vars = Variables::new();
        let env = Env::new(&ctx, &vars, 1);
        if let Ok(p) = Path::parse(&src) {
            let _ = p.select(&input, &env);
            let _ = p.normalized();
        }
        let _ = Path::parse_reference(&src);
        if let Ok(rp) = ResultPath::parse(&src) {
            let _ = rp.apply(input.clone(), json!(1));
        }
    }

    #[test]
    fn templates_never_panic(t in arb_json(), input in arb_json()) {
        let ctx = json!({});
        let vars = Variables::new();
        let env = Env::new(&ctx, &vars, 1);
        if let Ok(tpl) = Template::compile(&t) {
            let _ = tpl.evaluate(&input, &env);
        }
    }
}
