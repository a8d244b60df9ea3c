//! Intrinsics for arrays: `States.Array`, `States.ArrayPartition`,
//! `States.ArrayContains`, `States.ArrayRange`, `States.ArrayGetItem`,
//! `States.ArrayLength`, `States.ArrayUnique`.

use super::Call;
use crate::error::StatesError;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// The most items `States.ArrayRange` may produce.
const MAX_RANGE_ITEMS: i128 = 1000;

/// `States.Array(v...)`: the arguments as an array.
pub(super) fn array(_call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    Ok(Value::Array(args))
}

/// `States.ArrayPartition(array, size)`: chunks of `size` items, the last one
/// possibly shorter.
pub(super) fn array_partition(call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    let items = call.array(&args, 0)?;
    let size = call.integer(&args, 1)?;
    if size <= 0 {
        return Err(call.fail(format_args!(
            "The chunk size must be a positive integer, but was {size}"
        )));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(Value::Array(
        items
            .chunks(size)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    ))
}

/// `States.ArrayContains(array, value)`: whether `value` is an item (deep equality).
pub(super) fn array_contains(call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    let items = call.array(&args, 0)?;
    let needle = args.get(1).unwrap_or(&Value::Null);
    Ok(Value::Bool(items.contains(needle)))
}

/// `States.ArrayRange(first, last, step)`: `first`, `first + step`, ... up to
/// and including `last`; at most 1000 items.
pub(super) fn array_range(call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    let first = i128::from(call.integer(&args, 0)?);
    let last = i128::from(call.integer(&args, 1)?);
    let step = i128::from(call.integer(&args, 2)?);
    if step == 0 {
        return Err(call.fail("The step (third argument) must not be zero"));
    }
    let count = if (step > 0 && first > last) || (step < 0 && first < last) {
        0
    } else {
        (last - first) / step + 1
    };
    if count > MAX_RANGE_ITEMS {
        return Err(call.fail(format_args!(
            "The array would have {count} items, more than the maximum of {MAX_RANGE_ITEMS}"
        )));
    }
    let mut out = Vec::new();
    let mut v = first;
    for _ in 0..count {
        // Within i64: every item lies between `first` and `last`.
        out.push(Value::from(i64::try_from(v).unwrap_or_default()));
        v += step;
    }
    Ok(Value::Array(out))
}

/// `States.ArrayGetItem(array, index)`: the item at a 0-based index.
pub(super) fn array_get_item(
    call: &Call<'_, '_>,
    mut args: Vec<Value>,
) -> Result<Value, StatesError> {
    let index = call.integer(&args, 1)?;
    let len = call.array(&args, 0)?.len();
    let position = usize::try_from(index).ok().filter(|&i| i < len);
    match (position, args.swap_remove(0)) {
        (Some(i), Value::Array(mut items)) => Ok(items.swap_remove(i)),
        _ => Err(call.fail(format_args!(
            "The index {index} is out of bounds for an array of length {len}"
        ))),
    }
}

/// `States.ArrayLength(array)`: the number of items.
pub(super) fn array_length(call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    Ok(Value::from(call.array(&args, 0)?.len()))
}

/// `States.ArrayUnique(array)`: the items without duplicates, first
/// occurrences kept in order.
pub(super) fn array_unique(
    call: &Call<'_, '_>,
    mut args: Vec<Value>,
) -> Result<Value, StatesError> {
    call.array(&args, 0)?;
    let Value::Array(items) = args.swap_remove(0) else {
        return Ok(Value::Array(Vec::new()));
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for item in items {
        if seen.insert(canonical(&item)) {
            out.push(item);
        }
    }
    Ok(Value::Array(out))
}

/// A text equal for two values exactly when they are equal as JSON values
/// (object keys sorted, so key order does not matter).
fn canonical(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    if let Some(x) = m.get(k) {
                        out.insert(k.clone(), sorted(x));
                    }
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{eval, eval_err};
    use serde_json::json;

    #[test]
    fn array_collects_arguments_of_every_kind() {
        assert_eq!(eval("States.Array()", json!({})), json!([]));
        assert_eq!(
            eval(
                "States.Array('a', 1, 2.5, true, null, $.x, States.Array())",
                json!({"x": {"k": []}})
            ),
            json!(["a", 1, 2.5, true, null, {"k": []}, []])
        );
    }

    #[test]
    fn partition_chunks_with_a_short_tail() {
        let input = json!({"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]});
        assert_eq!(
            eval("States.ArrayPartition($.a, 4)", input.clone()),
            json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
        );
        assert_eq!(
            eval("States.ArrayPartition($.a, 9)", input.clone()),
            json!([[1, 2, 3, 4, 5, 6, 7, 8, 9]])
        );
        assert_eq!(
            eval("States.ArrayPartition($.a, 100)", input),
            json!([[1, 2, 3, 4, 5, 6, 7, 8, 9]])
        );
        assert_eq!(
            eval("States.ArrayPartition(States.Array(), 3)", json!({})),
            json!([])
        );
    }

    #[test]
    fn partition_rejects_bad_chunk_sizes_and_non_arrays() {
        let input = json!({"a": [1, 2]});
        assert!(eval_err("States.ArrayPartition($.a, 0)", input.clone()).contains("positive"));
        assert!(eval_err("States.ArrayPartition($.a, -2)", input.clone()).contains("positive"));
        assert!(eval_err("States.ArrayPartition($.a, 1.5)", input.clone()).contains("integer"));
        assert!(
            eval_err("States.ArrayPartition($.a, '2')", input.clone())
                .contains("must be an integer")
        );
        assert!(eval_err("States.ArrayPartition('ab', 2)", input).contains("must be an array"));
    }

    #[test]
    fn contains_uses_deep_equality() {
        let input = json!({"a": [1, "x", {"k": [1, {"z": null}], "j": 2}, [true]]});
        assert_eq!(
            eval("States.ArrayContains($.a, 1)", input.clone()),
            json!(true)
        );
        assert_eq!(
            eval("States.ArrayContains($.a, '1')", input.clone()),
            json!(false)
        );
        assert_eq!(
            eval("States.ArrayContains($.a, $.a[2])", input.clone()),
            json!(true)
        );
        assert_eq!(
            eval(
                "States.ArrayContains($.a, States.StringToJson('{\"j\":2,\"k\":[1,{\"z\":null}]}'))",
                input.clone()
            ),
            json!(true)
        );
        assert_eq!(
            eval(
                "States.ArrayContains($.a, States.Array(true))",
                input.clone()
            ),
            json!(true)
        );
        assert_eq!(
            eval("States.ArrayContains($.a, States.Array())", input),
            json!(false)
        );
        assert!(
            eval_err("States.ArrayContains('abc', 'a')", json!({})).contains("must be an array")
        );
    }

    #[test]
    fn range_includes_the_last_value_when_reached() {
        assert_eq!(
            eval("States.ArrayRange(1, 9, 2)", json!({})),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(
            eval("States.ArrayRange(0, 10, 3)", json!({})),
            json!([0, 3, 6, 9])
        );
        assert_eq!(eval("States.ArrayRange(5, 5, 1)", json!({})), json!([5]));
        assert_eq!(
            eval("States.ArrayRange(3, -3, -2)", json!({})),
            json!([3, 1, -1, -3])
        );
        assert_eq!(eval("States.ArrayRange(1, 9, -1)", json!({})), json!([]));
        assert_eq!(
            eval("States.ArrayRange(1.0, 3, 1)", json!({})),
            json!([1, 2, 3])
        );
    }

    #[test]
    fn range_limits() {
        let a = eval("States.ArrayRange(1, 1000, 1)", json!({}));
        assert_eq!(a.as_array().map(Vec::len), Some(1000));
        assert!(eval_err("States.ArrayRange(1, 1001, 1)", json!({})).contains("maximum of 1000"));
        assert!(
            eval_err(
                "States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)",
                json!({})
            )
            .contains("maximum")
        );
        assert!(eval_err("States.ArrayRange(1, 5, 0)", json!({})).contains("zero"));
        assert!(eval_err("States.ArrayRange(1, 5.5, 1)", json!({})).contains("integer"));
        assert!(eval_err("States.ArrayRange('1', 5, 1)", json!({})).contains("integer"));
    }

    #[test]
    fn get_item_by_index() {
        let input = json!({"a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "i": 5});
        assert_eq!(
            eval("States.ArrayGetItem($.a, $.i)", input.clone()),
            json!(6)
        );
        assert_eq!(eval("States.ArrayGetItem($.a, 0)", input.clone()), json!(1));
        assert_eq!(eval("States.ArrayGetItem($.a, 8)", input.clone()), json!(9));
        assert!(eval_err("States.ArrayGetItem($.a, 9)", input.clone()).contains("out of bounds"));
        assert!(eval_err("States.ArrayGetItem($.a, -1)", input.clone()).contains("out of bounds"));
        assert!(eval_err("States.ArrayGetItem($.a, 1.5)", input.clone()).contains("integer"));
        assert!(eval_err("States.ArrayGetItem($.i, 0)", input).contains("must be an array"));
    }

    #[test]
    fn length_and_unique() {
        let input = json!({"a": [null, null, true, true, 1, 1, 1.5, "x", "x", [], [], {"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1}]});
        assert_eq!(eval("States.ArrayLength($.a)", input.clone()), json!(14));
        assert_eq!(
            eval("States.ArrayLength(States.Array())", input.clone()),
            json!(0)
        );
        assert_eq!(
            eval("States.ArrayUnique($.a)", input.clone()),
            json!([null, true, 1, 1.5, "x", [], {"a": 1, "b": 2}, {"a": 1}])
        );
        assert_eq!(
            eval("States.ArrayUnique(States.Array(3, 1, 3, 2, 1))", input),
            json!([3, 1, 2])
        );
        assert!(eval_err("States.ArrayLength('abc')", json!({})).contains("must be an array"));
        assert!(eval_err("States.ArrayUnique(1)", json!({})).contains("must be an array"));
    }
}
