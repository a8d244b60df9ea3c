//! Intrinsic functions (`States.Format(...)`, `States.Array(...)`, ...) for
//! JSONPath states.
//!
//! An intrinsic is parsed once, when the definition is compiled
//! ([`Intrinsic::parse`]), into a call tree whose arguments are literals,
//! paths (`$...` on the input, `$$...` on the context object, `$name...` on a
//! variable) or nested calls. [`Intrinsic::evaluate`] resolves the arguments and
//! runs the functions. Every function is one row of [`FUNCTIONS`]; its code and
//! its tests live in the file of its family (`array.rs`, `encoding.rs`, ...).
//!
//! Runtime failures (an argument of the wrong type, an index out of bounds, a
//! result too large...) are `States.IntrinsicFailure`; an argument path that
//! matches nothing is `States.Runtime`, as for any other path.
//!
//! Hostile definitions and inputs are bounded: nesting depth ([`MAX_DEPTH`]),
//! number of arguments ([`MAX_ARGUMENTS`]), size of every function's result
//! ([`MAX_RESULT_BYTES`]) and the total bytes one evaluation may produce
//! ([`MAX_EVALUATION_BYTES`]).

mod array;
mod encoding;
mod json;
mod math;
mod parse;
mod string;
mod uuid;

use crate::env::Env;
use crate::error::StatesError;
use crate::path::Path;
use serde_json::Value;
use std::cell::Cell;
use std::fmt;

/// How deeply calls may nest: `States.A(States.B(...))` has depth 2.
pub const MAX_DEPTH: usize = 10;

/// The most arguments one intrinsic may hold, counting those of nested calls.
pub const MAX_ARGUMENTS: usize = 1024;

/// The largest result (serialized JSON, in bytes) any function may return:
/// the Step Functions payload limit.
pub const MAX_RESULT_BYTES: usize = 262_144;

/// The most bytes (serialized JSON) one evaluation may produce in argument
/// values and results altogether.
pub const MAX_EVALUATION_BYTES: usize = 16 * MAX_RESULT_BYTES;

/// The longest string (in characters) `States.Base64Encode`,
/// `States.Base64Decode` and `States.Hash` accept.
pub const MAX_ENCODING_INPUT_CHARS: usize = 10_000;

/// A parsed intrinsic function call, ready to be evaluated any number of times.
#[derive(Clone, Debug, PartialEq)]
pub struct Intrinsic {
    function: &'static Function,
    args: Vec<Arg>,
    src: String,
}

/// One argument of a call.
#[derive(Clone, Debug, PartialEq)]
enum Arg {
    /// A number, `true`, `false` or `null`.
    Literal(Value),
    /// A quoted string.
    String(StringLiteral),
    /// A path on the input, the context object or a variable.
    Path(Path),
    /// A nested call.
    Call(Box<Intrinsic>),
}

/// A single-quoted string literal.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StringLiteral {
    /// The value, escapes resolved.
    value: String,
    /// The text between the quotes, escapes kept (`States.Format` needs to
    /// tell `{}` from `\{\}`).
    raw: String,
}

/// Why an intrinsic function call could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntrinsicError {
    /// The text does not start with `States.`.
    #[error("an intrinsic function call must start with 'States.': '{src}'")]
    NotAnIntrinsic {
        /// The offending text.
        src: String,
    },
    /// `States.<name>` is not a known function.
    #[error("unknown intrinsic function '{name}'")]
    UnknownFunction {
        /// The name as written, e.g. `States.Formatt`.
        name: String,
    },
    /// The function was called with the wrong number of arguments.
    #[error("{name} takes {expected} but was given {given}")]
    Arity {
        /// The function name.
        name: &'static str,
        /// What it takes, e.g. `exactly 2 arguments`.
        expected: String,
        /// How many were given.
        given: usize,
    },
    /// A string literal is not closed.
    #[error("unterminated string literal starting at offset {offset}")]
    UnterminatedString {
        /// Byte offset of the opening quote.
        offset: usize,
    },
    /// A backslash in a string literal is not followed by `'`, `{`, `}` or `\`.
    #[error(
        "invalid escape sequence '\\{found}' at offset {offset}: only \\', \\{{, \\}} and \\\\ are allowed"
    )]
    InvalidEscape {
        /// Byte offset of the backslash.
        offset: usize,
        /// The character after the backslash (empty at the end of the text).
        found: String,
    },
    /// A number literal is not a valid JSON number.
    #[error("invalid number literal '{text}' at offset {offset}")]
    InvalidNumber {
        /// Byte offset of the literal.
        offset: usize,
        /// The literal as written.
        text: String,
    },
    /// A path argument is not a valid path.
    #[error("invalid path argument '{path}': {message}")]
    InvalidPath {
        /// The path as written.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Anything else that is not the expected syntax.
    #[error("{message} at offset {offset}")]
    Syntax {
        /// Byte offset of the problem.
        offset: usize,
        /// What was expected and what was found.
        message: String,
    },
    /// Calls nest more deeply than [`MAX_DEPTH`].
    #[error("intrinsic functions nest more than {max} deep")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_ARGUMENTS`] arguments in one intrinsic.
    #[error("an intrinsic function may hold at most {max} arguments")]
    TooManyArguments {
        /// The limit.
        max: usize,
    },
}

/// How many arguments a function takes.
#[derive(Debug, Clone, Copy)]
struct Arity {
    min: usize,
    /// `None`: no upper bound.
    max: Option<usize>,
}

impl Arity {
    const fn exactly(n: usize) -> Self {
        Self {
            min: n,
            max: Some(n),
        }
    }

    const fn between(min: usize, max: usize) -> Self {
        Self {
            min,
            max: Some(max),
        }
    }

    const fn at_least(min: usize) -> Self {
        Self { min, max: None }
    }

    fn accepts(self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }
}

impl fmt::Display for Arity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        match self.max {
            Some(max) if max == self.min => write!(f, "exactly {max} {}", plural(max)),
            Some(max) => write!(f, "{} to {max} arguments", self.min),
            None => write!(f, "at least {} {}", self.min, plural(self.min)),
        }
    }
}

/// The signature of a function's implementation: the call (for error causes,
/// raw literals and the random source) and the resolved argument values.
type Eval = fn(&Call<'_, '_>, Vec<Value>) -> Result<Value, StatesError>;

/// One row of the function table.
struct Function {
    name: &'static str,
    arity: Arity,
    eval: Eval,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Function {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// Every intrinsic function: name, arity and implementation.
static FUNCTIONS: &[Function] = &[
    Function {
        name: "States.Format",
        arity: Arity::at_least(1),
        eval: string::format,
    },
    Function {
        name: "States.StringToJson",
        arity: Arity::exactly(1),
        eval: json::string_to_json,
    },
    Function {
        name: "States.JsonToString",
        arity: Arity::exactly(1),
        eval: json::json_to_string,
    },
    Function {
        name: "States.Array",
        arity: Arity::at_least(0),
        eval: array::array,
    },
    Function {
        name: "States.ArrayPartition",
        arity: Arity::exactly(2),
        eval: array::array_partition,
    },
    Function {
        name: "States.ArrayContains",
        arity: Arity::exactly(2),
        eval: array::array_contains,
    },
    Function {
        name: "States.ArrayRange",
        arity: Arity::exactly(3),
        eval: array::array_range,
    },
    Function {
        name: "States.ArrayGetItem",
        arity: Arity::exactly(2),
        eval: array::array_get_item,
    },
    Function {
        name: "States.ArrayLength",
        arity: Arity::exactly(1),
        eval: array::array_length,
    },
    Function {
        name: "States.ArrayUnique",
        arity: Arity::exactly(1),
        eval: array::array_unique,
    },
    Function {
        name: "States.Base64Encode",
        arity: Arity::exactly(1),
        eval: encoding::base64_encode,
    },
    Function {
        name: "States.Base64Decode",
        arity: Arity::exactly(1),
        eval: encoding::base64_decode,
    },
    Function {
        name: "States.Hash",
        arity: Arity::exactly(2),
        eval: encoding::hash,
    },
    Function {
        name: "States.JsonMerge",
        arity: Arity::exactly(3),
        eval: json::json_merge,
    },
    Function {
        name: "States.MathRandom",
        arity: Arity::between(2, 3),
        eval: math::math_random,
    },
    Function {
        name: "States.MathAdd",
        arity: Arity::exactly(2),
        eval: math::math_add,
    },
    Function {
        name: "States.StringSplit",
        arity: Arity::exactly(2),
        eval: string::string_split,
    },
    Function {
        name: "States.UUID",
        arity: Arity::exactly(0),
        eval: uuid::uuid,
    },
];

/// Looks a function up by its full name (`States.Format`).
fn lookup(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Whether `src` looks like an intrinsic function call: `States.`, a known
/// function name and `(`. It says nothing about the rest; use
/// [`Intrinsic::parse`] to validate.
pub fn is_intrinsic(src: &str) -> bool {
    FUNCTIONS.iter().any(|f| {
        src.strip_prefix(f.name)
            .is_some_and(|rest| rest.starts_with('('))
    })
}

impl Intrinsic {
    /// Parses a call such as `States.Format('Hello {}', $.name)`, checking the
    /// syntax, the function names, their arities, the escapes in string
    /// literals, the paths and the limits.
    pub fn parse(src: &str) -> Result<Intrinsic, IntrinsicError> {
        parse::parse(src)
    }

    /// Evaluates the call: arguments are resolved against `input` (`$`), the
    /// context object (`$$`) and the variables (`$name`) of `env`; `States.UUID`
    /// and unseeded `States.MathRandom` draw from `env`'s random source.
    ///
    /// Fails with `States.IntrinsicFailure` when an argument is not what the
    /// function needs or a limit is exceeded, and with `States.Runtime` when an
    /// argument path matches nothing.
    pub fn evaluate(&self, input: &Value, env: &Env<'_>) -> Result<Value, StatesError> {
        let budget = Cell::new(MAX_EVALUATION_BYTES);
        self.eval(input, env, &budget)
    }

    /// The function name, e.g. `States.Format`.
    pub fn name(&self) -> &'static str {
        self.function.name
    }

    /// The call as written in the definition.
    pub fn as_str(&self) -> &str {
        &self.src
    }

    /// Every path argument, nested calls included, in the order written.
    pub fn paths(&self) -> Vec<&Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut out);
        out
    }

    fn collect_paths<'a>(&'a self, out: &mut Vec<&'a Path>) {
        for arg in &self.args {
            match arg {
                Arg::Path(p) => out.push(p),
                Arg::Call(c) => c.collect_paths(out),
                Arg::Literal(_) | Arg::String(_) => {}
            }
        }
    }

    fn eval(
        &self,
        input: &Value,
        env: &Env<'_>,
        budget: &Cell<usize>,
    ) -> Result<Value, StatesError> {
        let call = Call {
            intrinsic: self,
            env,
        };
        let mut values = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            let value = match arg {
                Arg::Literal(v) => v.clone(),
                Arg::String(s) => Value::String(s.value.clone()),
                Arg::Path(p) => {
                    let v = p.select(input, env).ok_or_else(|| {
                        StatesError::runtime(format!(
                            "The JSONPath '{}' specified in the intrinsic function '{}' could not be found in the input '{}'",
                            p.as_str(),
                            self.src,
                            input
                        ))
                    })?;
                    call.charge(budget, &v)?;
                    v
                }
                Arg::Call(c) => c.eval(input, env, budget)?,
            };
            values.push(value);
        }
        let result = (self.function.eval)(&call, values)?;
        if serialized_len(&result, MAX_RESULT_BYTES).is_none() {
            return Err(call.fail(format_args!(
                "the result exceeds the maximum size of {MAX_RESULT_BYTES} bytes"
            )));
        }
        call.charge(budget, &result)?;
        Ok(result)
    }
}

impl fmt::Display for Intrinsic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

/// What a function's implementation sees besides its argument values.
struct Call<'c, 'e> {
    intrinsic: &'c Intrinsic,
    env: &'c Env<'e>,
}

impl Call<'_, '_> {
    /// A `States.IntrinsicFailure` naming this call.
    fn fail(&self, detail: impl fmt::Display) -> StatesError {
        StatesError::intrinsic(format!(
            "The function '{}' had the following error: {detail}",
            self.intrinsic.src
        ))
    }

    /// The raw text (escapes kept) of argument `i` when it is a string literal.
    fn raw_literal(&self, i: usize) -> Option<&str> {
        match self.intrinsic.args.get(i) {
            Some(Arg::String(s)) => Some(&s.raw),
            _ => None,
        }
    }

    /// Counts `value`'s size against the evaluation budget.
    fn charge(&self, budget: &Cell<usize>, value: &Value) -> Result<(), StatesError> {
        let left = budget.get();
        match serialized_len(value, left) {
            Some(n) => {
                budget.set(left - n);
                Ok(())
            }
            None => Err(self.fail(format_args!(
                "the evaluation exceeds the maximum of {MAX_EVALUATION_BYTES} bytes of intermediate data"
            ))),
        }
    }

    /// Argument `i` (0-based) as a string.
    fn string<'v>(&self, args: &'v [Value], i: usize) -> Result<&'v str, StatesError> {
        match args.get(i) {
            Some(Value::String(s)) => Ok(s),
            other => Err(self.wrong_type(i, "a string", other)),
        }
    }

    /// Argument `i` as an array.
    fn array<'v>(&self, args: &'v [Value], i: usize) -> Result<&'v Vec<Value>, StatesError> {
        match args.get(i) {
            Some(Value::Array(a)) => Ok(a),
            other => Err(self.wrong_type(i, "an array", other)),
        }
    }

    /// Argument `i` as a number.
    fn number(&self, args: &[Value], i: usize) -> Result<f64, StatesError> {
        match args.get(i) {
            Some(Value::Number(n)) => n
                .as_f64()
                .ok_or_else(|| self.wrong_type(i, "a number", args.get(i))),
            other => Err(self.wrong_type(i, "a number", other)),
        }
    }

    /// Argument `i` as an integer (a number without a fractional part) within
    /// `i64`'s range.
    fn integer(&self, args: &[Value], i: usize) -> Result<i64, StatesError> {
        if let Some(Value::Number(n)) = args.get(i) {
            if let Some(v) = n.as_i64() {
                return Ok(v);
            }
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
            {
                // Exact: `f` is integral and within range.
                return Ok(f as i64);
            }
            return Err(self.fail(format_args!(
                "{} must be an integer, but was {n}",
                ordinal(i)
            )));
        }
        Err(self.wrong_type(i, "an integer", args.get(i)))
    }

    fn wrong_type(&self, i: usize, expected: &str, found: Option<&Value>) -> StatesError {
        match found {
            Some(v) => self.fail(format_args!(
                "{} must be {expected}, but was {}",
                ordinal(i),
                type_name(v)
            )),
            None => self.fail(format_args!("{} is missing", ordinal(i))),
        }
    }
}

/// "The first argument", "The second argument"... for argument `i` (0-based).
fn ordinal(i: usize) -> String {
    const NAMES: [&str; 3] = ["first", "second", "third"];
    match NAMES.get(i) {
        Some(n) => format!("The {n} argument"),
        None => format!("Argument {}", i + 1),
    }
}

/// The JSON type of a value, as error causes name it.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The length of `v` serialized as compact JSON, or `None` when it exceeds
/// `limit` (the walk stops there, so the cost is bounded by `limit`).
fn serialized_len(v: &Value, limit: usize) -> Option<usize> {
    struct Counter {
        n: usize,
        limit: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.n = self.n.saturating_add(buf.len());
            if self.n > self.limit {
                Err(std::io::Error::other("limit exceeded"))
            } else {
                Ok(buf.len())
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { n: 0, limit };
    serde_json::to_writer(&mut counter, v).ok()?;
    Some(counter.n)
}

#[cfg(test)]
mod tests;
