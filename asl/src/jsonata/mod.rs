//! The JSONata query language, as Step Functions uses it.
//!
//! Expressions are written as `{% ... %}` strings. Each one is parsed once,
//! when the definition is compiled, into an [`Expression`]; evaluation binds
//! `$states` (`input`, `result`, `errorOutput`, `context`) and the workflow
//! variables (`$name`), adds the functions Step Functions provides on top of
//! JSONata (`$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`;
//! `$eval` is not available), and bounds the work with [`Limits`].
//!
//! The JSONata implementation sits behind the small [`Engine`] / [`Program`]
//! traits; [`default_engine`] is `jsonata-core`. A replacement only has to
//! parse, evaluate with the bindings and call the functions in [`functions`].
//!
//! ```
//! use serde_json::json;
//! use stepwise_asl::jsonata::{Bindings, Expression};
//!
//! let expr = Expression::parse("{% $states.input.n + $bonus %}").unwrap();
//! let input = json!({"n": 41});
//! let vars = [("bonus".to_owned(), json!(1))].into_iter().collect();
//! let context = json!({});
//! let b = Bindings::new(&input, &context, &vars, 7);
//! assert_eq!(expr.evaluate(&b).unwrap(), json!(42));
//! ```

pub mod budget;
mod core_engine;
pub mod functions;

use crate::env::Variables;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// Bounds on one evaluation, so a hostile expression cannot hang or exhaust the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time for one expression, in milliseconds.
    pub timeout_ms: u64,
    /// How deep evaluation may nest.
    pub max_depth: usize,
    /// The longest sequence (array) a step may build.
    pub max_sequence_length: usize,
    /// The bytes an evaluation may hold at once (counted where the program
    /// installs [`budget`]'s allocator hooks, as the coordinator does).
    pub max_memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout_ms: 2_000,
            max_depth: 1_000,
            max_sequence_length: 1_000_000,
            max_memory_bytes: 128 << 20,
        }
    }
}

/// Everything an expression may read: `$states` and the variables in scope.
#[derive(Debug, Clone, Copy)]
pub struct Bindings<'a> {
    /// `$states.input`: the state's raw input.
    pub input: &'a Value,
    /// `$states.result`: the task, branch or iteration result, when there is one.
    pub result: Option<&'a Value>,
    /// `$states.errorOutput`: `{Error, Cause}`, only in a `Catch`.
    pub error_output: Option<&'a Value>,
    /// `$states.context`: the context object.
    pub context: &'a Value,
    /// Workflow variables (`$name`).
    pub vars: &'a Variables,
    /// Seed for `$random()` and `$uuid()`; the same seed gives the same values.
    pub seed: u64,
    /// Bounds on the evaluation.
    pub limits: Limits,
    /// The context item `$`. Step Functions gives none (`null`): expressions
    /// read the input as `$states.input`. Set it to evaluate plain JSONata.
    pub root: Option<&'a Value>,
}

impl<'a> Bindings<'a> {
    /// Bindings with only `$states.input`, `$states.context` and the variables.
    pub fn new(input: &'a Value, context: &'a Value, vars: &'a Variables, seed: u64) -> Self {
        Self {
            input,
            result: None,
            error_output: None,
            context,
            vars,
            seed,
            limits: Limits::default(),
            root: None,
        }
    }

    /// The same bindings with `$states.result` set.
    pub fn with_result(mut self, result: &'a Value) -> Self {
        self.result = Some(result);
        self
    }

    /// The same bindings with `$states.errorOutput` set.
    pub fn with_error_output(mut self, error_output: &'a Value) -> Self {
        self.error_output = Some(error_output);
        self
    }

    /// The same bindings with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The `$states` object.
    pub fn states(&self) -> Value {
        let mut o = Map::new();
        o.insert("input".to_owned(), self.input.clone());
        if let Some(r) = self.result {
            o.insert("result".to_owned(), r.clone());
        }
        if let Some(e) = self.error_output {
            o.insert("errorOutput".to_owned(), e.clone());
        }
        o.insert("context".to_owned(), self.context.clone());
        Value::Object(o)
    }
}

/// Why an evaluation produced no usable value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The expression evaluated to nothing.
    #[error("returned nothing (undefined).")]
    Undefined,
    /// The expression evaluated to a function or a regular expression.
    #[error("returned an unsupported result type.")]
    Unsupported,
    /// The expression raised an error (the JSONata message, with its code).
    #[error("threw an error during evaluation. {0}")]
    Threw(String),
}

/// A JSONata implementation: parses expression text into a [`Program`].
pub trait Engine: Send + Sync + fmt::Debug {
    /// Parses the text between `{%` and `%}`. The error is the parser's message.
    fn compile(&self, source: &str) -> Result<Arc<dyn Program>, String>;
}

/// A parsed expression, evaluated many times.
pub trait Program: Send + Sync + fmt::Debug {
    /// Evaluates with `bindings`. `Ok(None)` means the result is undefined.
    /// Numbers come back as JSON numbers (whole numbers as integers);
    /// a function result is [`QueryError::Unsupported`].
    fn evaluate(&self, bindings: &Bindings<'_>) -> Result<Option<Value>, QueryError>;
}

/// The engine used by [`Expression::parse`]: `jsonata-core`.
pub fn default_engine() -> &'static dyn Engine {
    static ENGINE: OnceLock<core_engine::CoreEngine> = OnceLock::new();
    ENGINE.get_or_init(core_engine::CoreEngine::default)
}

/// `{% ... %}`: whether a string is a JSONata expression. The delimiters
/// must open and close the string: `" {% x %} "` is a plain string, as on AWS.
pub fn is_expression(s: &str) -> bool {
    s.len() >= 4 && s.starts_with("{%") && s.ends_with("%}")
}

/// A compiled `{% ... %}` expression.
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    program: Arc<dyn Program>,
}

impl Expression {
    /// Parses a `{% ... %}` string (the delimiters are required).
    pub fn parse(text: &str) -> Result<Expression, String> {
        let inner = text
            .strip_prefix("{%")
            .and_then(|s| s.strip_suffix("%}"))
            .ok_or_else(|| "a JSONata expression must be written as '{% ... %}'".to_owned())?;
        Self::parse_inner(inner.trim())
    }

    /// Parses the expression text itself (without `{%` and `%}`).
    pub fn parse_inner(source: &str) -> Result<Expression, String> {
        if source.is_empty() {
            return Err("the JSONata expression is empty".to_owned());
        }
        let program = default_engine().compile(source)?;
        Ok(Expression {
            source: source.to_owned(),
            program,
        })
    }

    /// The expression text, as AWS quotes it in error causes.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression; an undefined result is an error.
    pub fn evaluate(&self, bindings: &Bindings<'_>) -> Result<Value, QueryError> {
        self.program
            .evaluate(bindings)?
            .ok_or(QueryError::Undefined)
    }

    /// The AWS cause for a failure of this expression written in `field`.
    pub fn describe(&self, field: &str, error: &QueryError) -> String {
        format!(
            "The JSONata expression '{}' specified for the field '{field}' {error}",
            self.source
        )
    }
}

/// A failed evaluation of a field: where, and the AWS cause (without the state prefix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{cause}")]
pub struct FieldError {
    /// The field, relative to the state: `Output`, `Output/a/b[0]`, `Assign/x`.
    pub field: String,
    /// What AWS reports, e.g. `The JSONata expression '$x' specified for the field 'Output' returned nothing (undefined).`
    pub cause: String,
}

/// A JSON value in which any string may be a `{% ... %}` expression
/// (`Arguments`, `Output`, `Assign`, `ItemSelector`, `Items`...). Subtrees
/// without expressions are stored ready to clone.
#[derive(Debug, Clone)]
pub enum JsonataTemplate {
    /// A value without expressions.
    Literal(Value),
    /// A `{% ... %}` string.
    Expr(Box<Expression>),
    /// An object with an expression somewhere below it.
    Object(Vec<(String, JsonataTemplate)>),
    /// An array with an expression somewhere below it.
    Array(Vec<JsonataTemplate>),
}

/// A syntax error in a template: the JSON pointer below the field and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSyntaxError {
    /// JSON pointer relative to the field (`""` for the field itself, `/a/0`...).
    pub pointer: String,
    /// The parser's message.
    pub message: String,
}

impl JsonataTemplate {
    /// Compiles every `{% ... %}` string in `value`, reporting every syntax error.
    pub fn compile(value: &Value) -> Result<JsonataTemplate, Vec<TemplateSyntaxError>> {
        let mut errors = Vec::new();
        let t = compile_node(value, "", &mut errors);
        if errors.is_empty() {
            Ok(t)
        } else {
            Err(errors)
        }
    }

    /// The template's single expression, when the whole field is one `{% %}` string.
    pub fn as_expression(&self) -> Option<&Expression> {
        match self {
            JsonataTemplate::Expr(e) => Some(e),
            _ => None,
        }
    }

    /// Evaluates the template. `field` names it in errors (`Output`,
    /// `Catch[0]/Output`); nested fields are named `field/key` and `field[i]`.
    /// Each expression gets its own seed derived from `bindings.seed`, so two
    /// `$uuid()` calls in one template differ.
    pub fn evaluate(&self, field: &str, bindings: &Bindings<'_>) -> Result<Value, FieldError> {
        let counter = std::cell::Cell::new(0u64);
        self.eval_node(field, bindings, &counter)
    }

    fn eval_node(
        &self,
        field: &str,
        bindings: &Bindings<'_>,
        counter: &std::cell::Cell<u64>,
    ) -> Result<Value, FieldError> {
        match self {
            JsonataTemplate::Literal(v) => Ok(v.clone()),
            JsonataTemplate::Expr(e) => {
                let n = counter.get();
                counter.set(n + 1);
                let seed = functions::mix(bindings.seed.wrapping_add(n));
                e.evaluate(&bindings.with_seed(seed))
                    .map_err(|err| FieldError {
                        field: field.to_owned(),
                        cause: e.describe(field, &err),
                    })
            }
            JsonataTemplate::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    let v = t.eval_node(&format!("{field}/{k}"), bindings, counter)?;
                    out.insert(k.clone(), v);
                }
                Ok(Value::Object(out))
            }
            JsonataTemplate::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, t) in items.iter().enumerate() {
                    out.push(t.eval_node(&format!("{field}[{i}]"), bindings, counter)?);
                }
                Ok(Value::Array(out))
            }
        }
    }
}

fn compile_node(value: &Value, at: &str, errors: &mut Vec<TemplateSyntaxError>) -> JsonataTemplate {
    match value {
        Value::String(s) if is_expression(s) => match Expression::parse(s) {
            Ok(e) => JsonataTemplate::Expr(Box::new(e)),
            Err(message) => {
                errors.push(TemplateSyntaxError {
                    pointer: at.to_owned(),
                    message,
                });
                JsonataTemplate::Literal(Value::Null)
            }
        },
        Value::Object(map) => {
            let fields: Vec<(String, JsonataTemplate)> = map
                .iter()
                .map(|(k, v)| {
                    let here = crate::diagnostic::pointer(at, k);
                    (k.clone(), compile_node(v, &here, errors))
                })
                .collect();
            if fields
                .iter()
                .all(|(_, t)| matches!(t, JsonataTemplate::Literal(_)))
            {
                JsonataTemplate::Literal(value.clone())
            } else {
                JsonataTemplate::Object(fields)
            }
        }
        Value::Array(items) => {
            let nodes: Vec<JsonataTemplate> = items
                .iter()
                .enumerate()
                .map(|(i, v)| compile_node(v, &format!("{at}/{i}"), errors))
                .collect();
            if nodes
                .iter()
                .all(|t| matches!(t, JsonataTemplate::Literal(_)))
            {
                JsonataTemplate::Literal(value.clone())
            } else {
                JsonataTemplate::Array(nodes)
            }
        }
        other => JsonataTemplate::Literal(other.clone()),
    }
}

/// The JSONata type name AWS uses in messages: `array`, `object`, `string`,
/// `number`, `boolean`, `null`.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests;
