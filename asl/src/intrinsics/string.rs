//! Intrinsics for strings: `States.Format`, `States.StringSplit`.

use super::{Call, MAX_RESULT_BYTES};
use crate::error::StatesError;
use serde_json::{Number, Value};
use std::collections::HashSet;
use std::fmt::Write as _;

/// `States.Format(template, v...)`: the template with each `{}` replaced by the
/// next value. Strings are inserted without quotes; numbers, booleans and
/// `null` as written; arrays as `[a, b]` and objects as `{k=v, k2=v2}`.
/// `\{` and `\}` in the template stand for literal braces.
pub(super) fn format(call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    let template = match call.raw_literal(0) {
        Some(raw) => raw,
        None => call.string(&args, 0)?,
    };
    let values = args.get(1..).unwrap_or_default();
    let placeholders = count_placeholders(template);
    if placeholders != values.len() {
        return Err(call.fail(format_args!(
            "The template has {placeholders} placeholder(s) but {} value(s) were given",
            values.len()
        )));
    }
    let too_large = || {
        call.fail(format_args!(
            "the result exceeds the maximum size of {MAX_RESULT_BYTES} bytes"
        ))
    };
    let mut out = String::new();
    let mut values = values.iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&next @ ('\'' | '{' | '}' | '\\')) => {
                    out.push(next);
                    chars.next();
                }
                _ => out.push('\\'),
            },
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                if let Some(v) = values.next() {
                    render(v, &mut out, MAX_RESULT_BYTES).map_err(|TooLarge| too_large())?;
                }
            }
            c => out.push(c),
        }
        if out.len() > MAX_RESULT_BYTES {
            return Err(too_large());
        }
    }
    Ok(Value::String(out))
}

/// The number of unescaped `{}` in a template.
fn count_placeholders(template: &str) -> usize {
    let mut n = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                n += 1;
            }
            _ => {}
        }
    }
    n
}

/// The output grew past the limit.
struct TooLarge;

/// Appends a value the way `States.Format` shows it, failing once `out`
/// exceeds `limit` bytes.
fn render(v: &Value, out: &mut String, limit: usize) -> Result<(), TooLarge> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => render_number(n, out),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(item, out, limit)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                render(item, out, limit)?;
            }
            out.push('}');
        }
    }
    if out.len() > limit {
        Err(TooLarge)
    } else {
        Ok(())
    }
}

/// Integers as written; other numbers as Java prints a double (`1.0`,
/// `0.001`, `1.0E7`, `1.5E-4`), as AWS does.
fn render_number(n: &Number, out: &mut String) {
    if n.is_i64() || n.is_u64() {
        let _ = write!(out, "{n}");
        return;
    }
    let Some(f) = n.as_f64() else {
        let _ = write!(out, "{n}");
        return;
    };
    let magnitude = f.abs();
    if f == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let text = format!("{f}");
        out.push_str(&text);
        if !text.contains('.') {
            out.push_str(".0");
        }
    } else {
        // Rust prints the shortest round-trip digits: `1.5e-4`, `1e7`.
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        out.push_str(mantissa);
        if !mantissa.contains('.') {
            out.push_str(".0");
        }
        out.push('E');
        out.push_str(exponent);
    }
}

/// `States.StringSplit(string, delimiters)`: the pieces of the string between
/// any of the delimiter characters, empty pieces dropped.
pub(super) fn string_split(call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    let s = call.string(&args, 0)?;
    let delimiters = call.string(&args, 1)?;
    // A set, so that a long delimiter string costs no more than a short one.
    let delimiters: HashSet<char> = delimiters.chars().collect();
    let pieces = s
        .split(|c: char| delimiters.contains(&c))
        .filter(|p| !p.is_empty())
        .map(|p| Value::String(p.to_owned()))
        .collect();
    Ok(Value::Array(pieces))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{eval, eval_err};
    use serde_json::json;

    #[test]
    fn format_substitutes_in_order() {
        let input =
            json!({"name": "Arnav", "template": "Hello, my name is {}.", "n": 1, "x": null});
        assert_eq!(
            eval(
                "States.Format('Hello, my name is {}.', $.name)",
                input.clone()
            ),
            json!("Hello, my name is Arnav.")
        );
        assert_eq!(
            eval("States.Format($.template, $.name)", input.clone()),
            json!("Hello, my name is Arnav.")
        );
        assert_eq!(
            eval(
                "States.Format('{}-{}-{}-{}', $.n, $.x, true, 'lit')",
                input.clone()
            ),
            json!("1-null-true-lit")
        );
        assert_eq!(
            eval("States.Format('no placeholders')", input.clone()),
            json!("no placeholders")
        );
        assert_eq!(eval("States.Format('{}', '')", input), json!(""));
    }

    #[test]
    fn format_shows_arrays_and_objects_like_aws() {
        let input = json!({"o": {"Arg1": 1, "Arg2": [], "s": "t", "n": {"x": [1, "a", null]}}});
        assert_eq!(
            eval("States.Format('v={}', $.o)", input),
            json!("v={Arg1=1, Arg2=[], s=t, n={x=[1, a, null]}}")
        );
    }

    #[test]
    fn format_shows_floats_like_java() {
        let f = |x: f64| eval("States.Format('{}', $.x)", json!({ "x": x }));
        assert_eq!(f(1.1), json!("1.1"));
        assert_eq!(f(1.0), json!("1.0"));
        assert_eq!(f(-2.5), json!("-2.5"));
        assert_eq!(f(0.001), json!("0.001"));
        assert_eq!(f(0.0001), json!("1.0E-4"));
        assert_eq!(f(1.5e-4), json!("1.5E-4"));
        assert_eq!(f(1e7), json!("1.0E7"));
        assert_eq!(f(1.234_5e300), json!("1.2345E300"));
        assert_eq!(f(9_999_999.5), json!("9999999.5"));
        assert_eq!(
            eval("States.Format('{}', 12345678901234)", json!({})),
            json!("12345678901234")
        );
    }

    #[test]
    fn format_escapes() {
        assert_eq!(
            eval(r"States.Format('\{\} {} \'q\' \\ {}', 1, 2)", json!({})),
            json!(r"{} 1 'q' \ 2")
        );
        assert_eq!(
            eval("States.Format('{ x } {}', 1)", json!({})),
            json!("{ x } 1")
        );
        assert_eq!(
            eval("States.Format($.t, 1)", json!({"t": r"a \{\} {} \n"})),
            json!(r"a {} 1 \n")
        );
    }

    #[test]
    fn format_rejects_mismatched_arguments() {
        assert!(
            eval_err("States.Format('{} {}', 1)", json!({}))
                .contains("2 placeholder(s) but 1 value(s)")
        );
        assert!(
            eval_err("States.Format('{}', 1, 2)", json!({}))
                .contains("1 placeholder(s) but 2 value(s)")
        );
        assert!(eval_err("States.Format($.t)", json!({"t": 5})).contains("must be a string"));
    }

    #[test]
    fn format_result_is_bounded() {
        let big = "x".repeat(200_000);
        let input = json!({ "s": big });
        assert!(eval("States.Format('{}', $.s)", input.clone()).is_string());
        assert!(eval_err("States.Format('{}{}', $.s, $.s)", input).contains("maximum size"));
    }

    #[test]
    fn split_on_any_delimiter_character_and_drop_empty_pieces() {
        let split =
            |s: &str, d: &str| eval("States.StringSplit($.s, $.d)", json!({"s": s, "d": d}));
        assert_eq!(split("1,2,3,4,5", ","), json!(["1", "2", "3", "4", "5"]));
        assert_eq!(split(" ", ","), json!([" "]));
        assert_eq!(split(" , ", ","), json!([" ", " "]));
        assert_eq!(split(",,,,", ","), json!([]));
        assert_eq!(split("", ","), json!([]));
        assert_eq!(
            split("This.is+a,test=string", ".+,="),
            json!(["This", "is", "a", "test", "string"])
        );
        assert_eq!(
            split("split on T and \nnew line", "T\n"),
            json!(["split on ", " and ", "new line"])
        );
        assert_eq!(split("abc", ""), json!(["abc"]));
        assert_eq!(split("a✓b✓✓c", "✓"), json!(["a", "b", "c"]));
        assert_eq!(
            eval("States.StringSplit('Hello\nWorld', '\n')", json!({})),
            json!(["Hello", "World"])
        );
    }

    #[test]
    fn split_rejects_non_strings() {
        assert!(eval_err("States.StringSplit(1, ',')", json!({})).contains("must be a string"));
        assert!(eval_err("States.StringSplit('a', null)", json!({})).contains("must be a string"));
    }
}
