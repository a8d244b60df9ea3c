//! Intrinsics for JSON data: `States.StringToJson`, `States.JsonToString`,
//! `States.JsonMerge`.

use super::Call;
use crate::error::StatesError;
use serde_json::Value;

/// `States.StringToJson(string)`: the parsed JSON text; a blank string gives `null`.
pub(super) fn string_to_json(call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    let s = call.string(&args, 0)?;
    if s.trim().is_empty() {
        return Ok(Value::Null);
    }
    let mut value: Value = serde_json::from_str(s)
        .map_err(|e| call.fail(format_args!("The string is not valid JSON: {e}")))?;
    if s.contains("-0") {
        negative_zero_to_integer(&mut value);
    }
    Ok(value)
}

/// `-0` parses as the float `-0.0`; AWS gives the integer `0`.
fn negative_zero_to_integer(v: &mut Value) {
    match v {
        Value::Number(n) if n.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()) => {
            *v = Value::from(0);
        }
        Value::Array(items) => items.iter_mut().for_each(negative_zero_to_integer),
        Value::Object(map) => map.values_mut().for_each(negative_zero_to_integer),
        _ => {}
    }
}

/// `States.JsonToString(value)`: the value as compact JSON text.
pub(super) fn json_to_string(_call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    Ok(Value::String(
        args.first().unwrap_or(&Value::Null).to_string(),
    ))
}

/// `States.JsonMerge(a, b, false)`: the keys of `b` added to `a`, replacing
/// those of `a` on conflict (a shallow merge; deep merging is not supported).
pub(super) fn json_merge(call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    let mut args = args.into_iter();
    let (Some(first), Some(second), Some(deep)) = (args.next(), args.next(), args.next()) else {
        return Err(call.fail("Expected three arguments"));
    };
    let (Value::Object(mut merged), Value::Object(other)) = (first, second) else {
        return Err(call.fail("The first and second arguments must be JSON objects"));
    };
    match deep {
        Value::Bool(false) => {}
        Value::Bool(true) => {
            return Err(
                call.fail("Deep merging is not supported: the third argument must be false")
            );
        }
        other => {
            return Err(call.fail(format_args!(
                "The third argument must be the boolean false, but was {}",
                super::type_name(&other)
            )));
        }
    }
    for (k, v) in other {
        merged.insert(k, v);
    }
    Ok(Value::Object(merged))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{eval, eval_err};
    use serde_json::json;

    #[test]
    fn string_to_json_parses_any_json_text() {
        let p = |s: &str| eval("States.StringToJson($.s)", json!({ "s": s }));
        assert_eq!(p("{\"foo\": \"bar\"}"), json!({"foo": "bar"}));
        assert_eq!(p("[1, 2, \"x\"]"), json!([1, 2, "x"]));
        assert_eq!(p("1.5"), json!(1.5));
        assert_eq!(p("-0"), json!(0));
        assert_eq!(p("[-0, {\"a\": -0}]"), json!([0, {"a": 0}]));
        assert_eq!(p("\"text\""), json!("text"));
        assert_eq!(p("true"), json!(true));
        assert_eq!(p("null"), json!(null));
        assert_eq!(p(""), json!(null));
        assert_eq!(p("  \n"), json!(null));
        assert_eq!(
            eval("States.StringToJson('{\"a\": \"b\\\\\\\\c\"}')", json!({})),
            json!({"a": "b\\c"})
        );
    }

    #[test]
    fn string_to_json_rejects_bad_input() {
        assert!(
            eval_err("States.StringToJson($.s)", json!({"s": "{oops"})).contains("not valid JSON")
        );
        assert!(
            eval_err("States.StringToJson($.s)", json!({"s": "1 2"})).contains("not valid JSON")
        );
        assert!(
            eval_err("States.StringToJson($.s)", json!({"s": {"a": 1}}))
                .contains("must be a string")
        );
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(
            eval_err("States.StringToJson($.s)", json!({ "s": deep })).contains("not valid JSON")
        );
    }

    #[test]
    fn json_to_string_is_compact_and_keeps_key_order() {
        assert_eq!(
            eval(
                "States.JsonToString($.o)",
                json!({"o": {"z": 1, "a": [true, null], "m": "q\""}})
            ),
            json!("{\"z\":1,\"a\":[true,null],\"m\":\"q\\\"\"}")
        );
        assert_eq!(
            eval("States.JsonToString($.n)", json!({"n": 1.1})),
            json!("1.1")
        );
        assert_eq!(
            eval("States.JsonToString($.n)", json!({"n": "s"})),
            json!("\"s\"")
        );
        assert_eq!(eval("States.JsonToString(null)", json!({})), json!("null"));
    }

    #[test]
    fn merge_is_shallow_and_the_second_wins() {
        let input = json!({
            "a": {"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3},
            "b": {"a": {"a3": 1, "a4": 2}, "c": 3, "d": 4}
        });
        assert_eq!(
            eval("States.JsonMerge($.a, $.b, false)", input.clone()),
            json!({"a": {"a3": 1, "a4": 2}, "b": 2, "d": 4, "c": 3})
        );
        let out = eval("States.JsonMerge($.a, $.b, false)", input.clone());
        let keys: Vec<&String> = out
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["a", "b", "d", "c"]);
        assert!(
            eval_err("States.JsonMerge($.a, $.b, true)", input.clone()).contains("Deep merging")
        );
        assert!(
            eval_err("States.JsonMerge($.a, $.b, 'false')", input.clone())
                .contains("boolean false")
        );
        assert!(
            eval_err("States.JsonMerge($.a, $.a.b, false)", input.clone()).contains("JSON objects")
        );
        assert!(
            eval_err("States.JsonMerge(States.Array(), $.a, true)", input).contains("JSON objects")
        );
    }
}
