//! Intrinsics for math: `States.MathRandom`, `States.MathAdd`.
//!
//! Both take integers between -2147483648 and 2147483647; a number with a
//! fractional part is first rounded to the nearest integer, halves rounded up
//! (`-1.5` gives `-1`, `2.5` gives `3`).

use super::Call;
use crate::env::{Env, Variables};
use crate::error::StatesError;
use serde_json::Value;

/// Argument `i` rounded to an integer within the 32-bit signed range.
fn int32(call: &Call<'_, '_>, args: &[Value], i: usize) -> Result<i64, StatesError> {
    let x = call.number(args, i)?;
    let floor = x.floor();
    let rounded = if x - floor >= 0.5 { floor + 1.0 } else { floor };
    if !(f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&rounded) {
        return Err(call.fail(format_args!(
            "{} must be an integer between {} and {}, but was {}",
            super::ordinal(i),
            i32::MIN,
            i32::MAX,
            args.get(i).unwrap_or(&Value::Null)
        )));
    }
    // Exact: `rounded` is integral and within the i32 range.
    Ok(rounded as i64)
}

/// `States.MathAdd(a, b)`: the sum of the two (rounded) integers.
pub(super) fn math_add(call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    let a = int32(call, &args, 0)?;
    let b = int32(call, &args, 1)?;
    Ok(Value::from(a + b))
}

/// `States.MathRandom(start, end[, seed])`: a pseudo-random integer with
/// `start <= n < end`. With a seed the number depends on the seed alone;
/// without, it comes from the evaluation's random source.
pub(super) fn math_random(call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    let start = int32(call, &args, 0)?;
    let end = int32(call, &args, 1)?;
    if end <= start {
        return Err(call.fail(format_args!(
            "The end ({end}) must be greater than the start ({start})"
        )));
    }
    let draw = if args.len() > 2 {
        let seed = int32(call, &args, 2)?;
        let vars = Variables::new();
        // The seed's two's-complement bits; a fresh generator per call.
        Env::new(&Value::Null, &vars, seed as u64).next_u64()
    } else {
        call.env.next_u64()
    };
    // `end - start` is below 2^32, so the product's high 64 bits are below it too.
    let span = (end - start) as u64;
    let offset = ((u128::from(draw) * u128::from(span)) >> 64) as i64;
    Ok(Value::from(start + offset))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{eval, eval_err, eval_with_seed};
    use serde_json::json;

    #[test]
    fn add_rounds_each_argument_half_up() {
        let add = |a: f64, b: f64| eval("States.MathAdd($.a, $.b)", json!({"a": a, "b": b}));
        assert_eq!(eval("States.MathAdd(111, -1)", json!({})), json!(110));
        assert_eq!(add(1.49, 1.5), json!(3));
        assert_eq!(add(1.5, 1.51), json!(4));
        assert_eq!(add(-1.49, -1.5), json!(-2));
        assert_eq!(add(-1.5, -1.51), json!(-3));
        assert_eq!(add(-0.5, 0.5), json!(1));
        assert_eq!(add(-0.5, 0.0), json!(0));
        assert_eq!(add(2.5, 0.0), json!(3));
        assert_eq!(add(-3.5, 0.0), json!(-3));
        assert_eq!(add(0.499_999_999_999_999_94, 0.0), json!(0));
        assert_eq!(
            eval("States.MathAdd(2147483647, 2147483647)", json!({})),
            json!(4_294_967_294_i64)
        );
    }

    #[test]
    fn add_rejects_non_numbers_and_out_of_range() {
        assert!(eval_err("States.MathAdd('1', 2)", json!({})).contains("must be a number"));
        assert!(eval_err("States.MathAdd(1, true)", json!({})).contains("must be a number"));
        assert!(eval_err("States.MathAdd(2147483648, 0)", json!({})).contains("between"));
        assert!(eval_err("States.MathAdd(0, -2147483649)", json!({})).contains("between"));
        assert!(eval_err("States.MathAdd(1e300, 0)", json!({})).contains("between"));
    }

    #[test]
    fn random_is_in_range_and_seeded_results_repeat() {
        for seed in 0..50 {
            let r = eval_with_seed("States.MathRandom(1, 5)", json!({}), seed);
            let n = r.as_i64().unwrap_or(-1);
            assert!((1..5).contains(&n), "{n}");
        }
        let a = eval_with_seed("States.MathRandom(-100, 100, 7)", json!({}), 1);
        let b = eval_with_seed("States.MathRandom(-100, 100, 7)", json!({}), 2);
        assert_eq!(a, b);
        let n = a.as_i64().unwrap_or(1000);
        assert!((-100..100).contains(&n));
        assert_eq!(
            eval_with_seed("States.MathRandom(3, 4)", json!({}), 9),
            json!(3)
        );
        let x = eval_with_seed("States.MathRandom(0, 1000000)", json!({}), 1);
        let y = eval_with_seed("States.MathRandom(0, 1000000)", json!({}), 2);
        assert_ne!(x, y);
        let seeds: std::collections::HashSet<String> = (0..20)
            .map(|s| eval(&format!("States.MathRandom(0, 1000000, {s})"), json!({})).to_string())
            .collect();
        assert!(seeds.len() > 15);
    }

    #[test]
    fn random_rejects_bad_ranges() {
        assert!(eval_err("States.MathRandom(5, 5)", json!({})).contains("greater than"));
        assert!(eval_err("States.MathRandom(5, 1)", json!({})).contains("greater than"));
        assert!(eval_err("States.MathRandom('1', 5)", json!({})).contains("must be a number"));
        assert!(
            eval_err("States.MathRandom(1, 5, 'seed')", json!({})).contains("must be a number")
        );
        assert!(eval_err("States.MathRandom(-2147483649, 5)", json!({})).contains("between"));
        let full = eval("States.MathRandom(-2147483648, 2147483647)", json!({}));
        assert!(full.is_i64());
    }
}
