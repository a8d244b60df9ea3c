//! The fuzz targets' bodies, one function per target. Each takes arbitrary
//! bytes and must never panic, whatever they are; `src/bin/*.rs` hand them to
//! AFL (`scripts/ci/fuzz.sh`), which also runs every seed in `corpus/<target>/`
//! first and stops if one crashes.

use serde_json::{Map, Value, json};
use stepwise_asl::compile::{CompileOptions, compile_str};
use stepwise_asl::env::{Env, Variables};
use stepwise_asl::intrinsics::Intrinsic;
use stepwise_asl::jsonata::{Bindings, Expression, Limits};
use stepwise_asl::model::MachineType;
use stepwise_asl::path::{Path, ResultPath};
use stepwise_sdk::types::*;

/// The coordinator's request decoding: the body as a JSON object, then the
/// `stepwise-sdk` wire type of an action (the first byte picks which).
pub fn decode_request(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let v = Value::Object(map);
    fn go<T: serde::de::DeserializeOwned + serde::Serialize>(v: Value) {
        if let Ok(t) = serde_json::from_value::<T>(v) {
            // What decodes encodes again (responses echo request members).
            let _ = serde_json::to_vec(&t);
        }
    }
    match which % 16 {
        0 => go::<CreateStateMachineInput>(v),
        1 => go::<UpdateStateMachineInput>(v),
        2 => go::<StartExecutionInput>(v),
        3 => go::<StopExecutionInput>(v),
        4 => go::<ListExecutionsInput>(v),
        5 => go::<GetExecutionHistoryInput>(v),
        6 => go::<GetActivityTaskInput>(v),
        7 => go::<SendTaskSuccessInput>(v),
        8 => go::<SendTaskFailureInput>(v),
        9 => go::<TagResourceInput>(v),
        10 => go::<TestStateInput>(v),
        11 => go::<CreateStateMachineAliasInput>(v),
        12 => go::<UpdateStateMachineAliasInput>(v),
        13 => go::<RedriveExecutionInput>(v),
        14 => go::<UpdateMapRunInput>(v),
        _ => go::<ValidateStateMachineDefinitionInput>(v),
    }
}

/// Definition compiling, as `CreateStateMachine` does it, for both machine types.
pub fn compile_definition(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for machine_type in [MachineType::Standard, MachineType::Express] {
        let _ = compile_str(text, CompileOptions { machine_type });
    }
}

fn sample_input() -> Value {
    json!({
        "a": 1, "b": [1, 2, 3, {"c": "d"}], "s": "hello", "n": null, "t": true,
        "o": {"x": {"y": [10, 20]}, "k.e.y": 2.5}
    })
}

/// JSONPath: parse as a path, a reference path and a `ResultPath`, then
/// select from and apply to a small input.
pub fn jsonpath(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let input = sample_input();
    let context = json!({"Execution": {"Id": "arn", "Input": {"a": 1}}, "State": {"Name": "S"}});
    let mut vars = Variables::new();
    vars.insert("v".to_owned(), json!({"w": [1, 2]}));
    let env = Env::new(&context, &vars, 7);
    if let Ok(p) = Path::parse(text) {
        let _ = p.select(&input, &env);
        let _ = p.normalized();
    }
    if let Ok(p) = Path::parse_reference(text) {
        let _ = p.select(&input, &env);
    }
    if let Ok(r) = ResultPath::parse(text) {
        let _ = r.apply_to(&input, json!({"r": 1}));
    }
}

/// JSONata: parse, then evaluate against a small input with tight limits
/// (the fuzzer looks for crashes, not for slow expressions).
pub fn jsonata(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = Expression::parse_inner(text.trim()) else {
        return;
    };
    let input = sample_input();
    let context = json!({"Execution": {"Id": "arn"}, "State": {"Name": "S"}});
    let mut vars = Variables::new();
    vars.insert("v".to_owned(), json!([3, 1, 2]));
    let mut b = Bindings::new(&input, &context, &vars, 7);
    b.root = Some(&input);
    b.limits = Limits {
        timeout_ms: 200,
        max_depth: 200,
        max_sequence_length: 10_000,
        ..Limits::default()
    };
    let _ = expr.evaluate(&b);
}

/// Intrinsic functions: parse, then evaluate against a small input.
pub fn intrinsic(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(call) = Intrinsic::parse(text) else {
        return;
    };
    let input = sample_input();
    let context = Value::Object(Map::new());
    let vars = Variables::new();
    let env = Env::new(&context, &vars, 7);
    let _ = call.evaluate(&input, &env);
    let _ = call.as_str();
}
