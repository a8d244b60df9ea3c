//! The [`Engine`] backed by the `jsonata-core` crate.

use super::{Bindings, Engine, Program, QueryError, budget, functions};
use indexmap::IndexMap;
use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{CancelToken, Context, Evaluator, EvaluatorError, EvaluatorOptions};
use jsonata_core::value::JValue;
use serde_json::{Number, Value};
use std::any::Any;
use std::cell::Cell;
use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;

/// `jsonata-core`, with the Step Functions functions registered per evaluation.
#[derive(Debug, Default)]
pub(crate) struct CoreEngine;

#[derive(Debug)]
struct CoreProgram {
    ast: AstNode,
    /// Every `$name` the text mentions: only these variables are converted and bound.
    names: BTreeSet<String>,
}

impl Engine for CoreEngine {
    fn compile(&self, source: &str) -> Result<Arc<dyn Program>, String> {
        let ast = jsonata_core::parser::parse(source).map_err(|e| e.display_message())?;
        Ok(Arc::new(CoreProgram {
            ast,
            names: referenced_names(source),
        }))
    }
}

/// The identifiers written after `$` anywhere in the text (a superset of the
/// variables the expression can read: JSONata has no dynamic variable lookup
/// once `$eval` is gone).
fn referenced_names(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut chars = source.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '$' {
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while let Some(&(j, d)) = chars.peek() {
            if d.is_alphanumeric() || d == '_' {
                end = j + d.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        if end > start {
            out.insert(source[start..end].to_owned());
        }
    }
    out
}

impl Program for CoreProgram {
    fn evaluate(&self, b: &Bindings<'_>) -> Result<Option<Value>, QueryError> {
        let mut ctx = Context::new();
        for name in &self.names {
            if let Some(v) = b.vars.get(name) {
                ctx.bind(name.clone(), to_jvalue(v));
            }
        }
        if self.names.contains("states") {
            ctx.bind("states".to_owned(), to_jvalue(&b.states()));
        }
        let cancel = CancelToken::new();
        let options = EvaluatorOptions {
            timeout_ms: Some(b.limits.timeout_ms),
            max_stack_depth: Some(b.limits.max_depth),
            max_sequence_length: Some(b.limits.max_sequence_length),
            cancel: Some(cancel.clone()),
        };
        let mut ev = Evaluator::with_options(ctx, options);
        register(&mut ev, b.seed).map_err(|e| QueryError::Threw(e.message().to_owned()))?;
        let root = b.root.map_or(JValue::Null, to_jvalue);
        // jsonata-core can panic on some inputs (found by fuzzing: integer
        // overflow in `[0..9223372036854775807]` where overflow checks are on):
        // a panic is this expression's error, not the caller's crash.
        let armed = budget::Armed::new(b.limits.max_memory_bytes, cancel);
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| ev.evaluate(&self.ast, &root)));
        let exceeded = armed.exceeded();
        drop(armed);
        if exceeded {
            return Err(QueryError::Threw(format!(
                "Expression evaluation memory limit exceeded: it held more than {} MiB",
                b.limits.max_memory_bytes >> 20
            )));
        }
        let result = result
            .map_err(|panic| QueryError::Threw(panic_message(panic.as_ref())))?
            .map_err(|e| QueryError::Threw(e.message().to_owned()))?;
        from_jvalue(&result)
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown cause");
    format!("the JSONata evaluator failed: {detail}")
}

fn register(ev: &mut Evaluator, seed: u64) -> Result<(), EvaluatorError> {
    let rng = Rc::new(Cell::new(seed));
    let next = move |rng: &Cell<u64>| {
        let mut z = rng.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        rng.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    ev.register_fn("partition", |args: &[JValue]| {
        call("partition", args, functions::partition)
    })?;
    ev.register_fn("range", |args: &[JValue]| {
        call("range", args, functions::range)
    })?;
    ev.register_fn("hash", |args: &[JValue]| {
        call("hash", args, functions::hash)
    })?;
    ev.register_fn("parse", |args: &[JValue]| {
        call("parse", args, functions::parse)
    })?;
    let r = Rc::clone(&rng);
    ev.register_fn_override("random", move |args: &[JValue]| {
        call("random", args, |a| functions::random(a, &mut || next(&r)))
    })?;
    let r = Rc::clone(&rng);
    ev.register_fn("uuid", move |args: &[JValue]| {
        call("uuid", args, |a| functions::uuid(a, &mut || next(&r)))
    })?;
    ev.register_fn_override("pad", |args: &[JValue]| call("pad", args, functions::pad))?;
    ev.register_fn_override("eval", |_: &[JValue]| {
        Err(EvaluatorError::EvaluationError(functions::eval_disabled()))
    })?;
    Ok(())
}

fn call(
    name: &str,
    args: &[JValue],
    f: impl FnOnce(&[Option<Value>]) -> functions::FnResult,
) -> Result<JValue, EvaluatorError> {
    let mut converted = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        match from_jvalue(a) {
            Ok(v) => converted.push(v),
            Err(_) => {
                return Err(EvaluatorError::TypeError(format!(
                    "T0410: Argument {} of function \"{name}\" does not match function signature",
                    i + 1
                )));
            }
        }
    }
    match f(&converted) {
        Ok(Some(v)) => Ok(to_jvalue(&v)),
        Ok(None) => Ok(JValue::Undefined),
        Err(message) => Err(EvaluatorError::EvaluationError(message)),
    }
}

/// A JSON value as a JSONata value.
fn to_jvalue(v: &Value) -> JValue {
    match v {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JValue::string(s.as_str()),
        Value::Array(items) => JValue::array(items.iter().map(to_jvalue).collect()),
        Value::Object(map) => {
            let m: IndexMap<String, JValue> =
                map.iter().map(|(k, v)| (k.clone(), to_jvalue(v))).collect();
            JValue::object(m)
        }
    }
}

/// A JSONata result as a JSON value: `None` when undefined, whole numbers as
/// integers, non-finite numbers as the strings JavaScript names them by.
fn from_jvalue(v: &JValue) -> Result<Option<Value>, QueryError> {
    Ok(Some(match v {
        JValue::Undefined => return Ok(None),
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                if let Some(x) = from_jvalue(item)? {
                    out.push(x);
                }
            }
            Value::Array(out)
        }
        JValue::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (k, item) in map.iter() {
                if let Some(x) = from_jvalue(item)? {
                    out.insert(k.clone(), x);
                }
            }
            Value::Object(out)
        }
        _ => return Err(QueryError::Unsupported),
    }))
}

fn number(n: f64) -> Value {
    if n.is_nan() {
        return Value::String("NaN".to_owned());
    }
    if n.is_infinite() {
        return Value::String(if n > 0.0 { "Infinity" } else { "-Infinity" }.to_owned());
    }
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        return Value::from(n as i64);
    }
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}
