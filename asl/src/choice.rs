//! Choice rules for the JSONPath query language: data-test expressions
//! (`Variable` plus one comparison operator) combined with `And`, `Or` and
//! `Not`.
//!
//! Rules are compiled once with every problem reported as a [`Diagnostic`],
//! then evaluated against the state input and the [`Env`]. As in AWS Step
//! Functions, a comparison whose variable has the wrong type is simply false;
//! a `Variable` (or `...Path` operand) that resolves to nothing is a
//! `States.Runtime` error, except for `IsPresent`.

use crate::diagnostic::{Diagnostic, pointer};
use crate::env::Env;
use crate::error::StatesError;
use crate::path::Path;
use chrono::{DateTime, FixedOffset};
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::cmp::Ordering;

/// A compiled Choice rule: a boolean expression over the input, the context
/// object and the variables.
#[derive(Debug, Clone)]
pub struct ChoiceRule {
    expr: Expr,
}

#[derive(Debug, Clone)]
enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Test { variable: Path, test: Test },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Cmp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Cmp::Eq => ord == Ordering::Equal,
            Cmp::Lt => ord == Ordering::Less,
            Cmp::Gt => ord == Ordering::Greater,
            Cmp::Le => ord != Ordering::Greater,
            Cmp::Ge => ord != Ordering::Less,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeTest {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone)]
enum Operand {
    String(String),
    Number(Number),
    Bool(bool),
    Timestamp(DateTime<FixedOffset>),
    Path(Path),
}

#[derive(Debug, Clone)]
enum Test {
    Compare {
        kind: Kind,
        cmp: Cmp,
        operand: Operand,
    },
    Matches(Pattern),
    Is(TypeTest, bool),
}

/// What an operator field name means.
#[derive(Debug, Clone, Copy)]
enum OpSpec {
    Compare { kind: Kind, cmp: Cmp, path: bool },
    Matches,
    Is(TypeTest),
}

/// Looks an operator field name up (`StringEquals`, `NumericLessThanPath`, `IsNull`...).
fn operator(name: &str) -> Option<OpSpec> {
    let (base, path) = match name.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (name, false),
    };
    let compare = |kind, cmp| Some(OpSpec::Compare { kind, cmp, path });
    let simple = |spec| if path { None } else { Some(spec) };
    match base {
        "StringEquals" => compare(Kind::String, Cmp::Eq),
        "StringLessThan" => compare(Kind::String, Cmp::Lt),
        "StringGreaterThan" => compare(Kind::String, Cmp::Gt),
        "StringLessThanEquals" => compare(Kind::String, Cmp::Le),
        "StringGreaterThanEquals" => compare(Kind::String, Cmp::Ge),
        "NumericEquals" => compare(Kind::Numeric, Cmp::Eq),
        "NumericLessThan" => compare(Kind::Numeric, Cmp::Lt),
        "NumericGreaterThan" => compare(Kind::Numeric, Cmp::Gt),
        "NumericLessThanEquals" => compare(Kind::Numeric, Cmp::Le),
        "NumericGreaterThanEquals" => compare(Kind::Numeric, Cmp::Ge),
        "BooleanEquals" => compare(Kind::Boolean, Cmp::Eq),
        "TimestampEquals" => compare(Kind::Timestamp, Cmp::Eq),
        "TimestampLessThan" => compare(Kind::Timestamp, Cmp::Lt),
        "TimestampGreaterThan" => compare(Kind::Timestamp, Cmp::Gt),
        "TimestampLessThanEquals" => compare(Kind::Timestamp, Cmp::Le),
        "TimestampGreaterThanEquals" => compare(Kind::Timestamp, Cmp::Ge),
        "StringMatches" => simple(OpSpec::Matches),
        "IsNull" => simple(OpSpec::Is(TypeTest::Null)),
        "IsPresent" => simple(OpSpec::Is(TypeTest::Present)),
        "IsNumeric" => simple(OpSpec::Is(TypeTest::Numeric)),
        "IsString" => simple(OpSpec::Is(TypeTest::String)),
        "IsBoolean" => simple(OpSpec::Is(TypeTest::Boolean)),
        "IsTimestamp" => simple(OpSpec::Is(TypeTest::Timestamp)),
        _ => None,
    }
}

/// The JSON type name AWS uses in messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NULL",
        Value::Bool(_) => "BOOLEAN",
        Value::Number(_) => "NUMBER",
        Value::String(_) => "STRING",
        Value::Array(_) => "ARRAY",
        Value::Object(_) => "OBJECT",
    }
}

/// Parses an ASL timestamp: RFC 3339 with an uppercase `T` between date and
/// time and a zone (`Z` or a numeric offset); fractional seconds allowed.
pub fn parse_timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    if s.as_bytes().get(10) != Some(&b'T') || s.bytes().any(|b| b == b't' || b == b'z') {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok()
}

/// Compares strings by UTF-16 code units, as Java's `String.compareTo` does.
fn compare_strings(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn as_integer(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

/// Compares numbers: exactly when both are integers, as `f64` otherwise.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (as_integer(a), as_integer(b)) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// A `StringMatches` pattern: literal pieces separated by `*` wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    /// `pieces.len() - 1` wildcards sit between the pieces.
    pieces: Vec<String>,
}

impl Pattern {
    /// `*` matches any run of characters; `\*` is a literal `*` and `\\` a
    /// literal `\` (any other backslash is kept as it is).
    fn parse(src: &str) -> Pattern {
        let mut pieces = vec![String::new()];
        let mut chars = src.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&e @ ('*' | '\\')) => {
                        chars.next();
                        push_char(&mut pieces, e);
                    }
                    _ => push_char(&mut pieces, '\\'),
                },
                '*' => pieces.push(String::new()),
                c => push_char(&mut pieces, c),
            }
        }
        Pattern { pieces }
    }

    fn matches(&self, s: &str) -> bool {
        let Some((first, rest)) = self.pieces.split_first() else {
            return s.is_empty();
        };
        let Some((last, middle)) = rest.split_last() else {
            return s == first;
        };
        // Prefix and suffix are anchored and may not overlap; the middle
        // pieces are then found leftmost-first, which is optimal for `*`.
        let Some(body) = s.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some(mut hay) = body.strip_suffix(last.as_str()) else {
            return false;
        };
        for piece in middle {
            match hay.find(piece.as_str()) {
                Some(at) => hay = &hay[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

fn push_char(pieces: &mut Vec<String>, c: char) {
    match pieces.last_mut() {
        Some(last) => last.push(c),
        None => pieces.push(c.to_string()),
    }
}

const LOGICAL: [&str; 3] = ["And", "Or", "Not"];

impl ChoiceRule {
    /// Compiles one rule object. `top_level` rules (the elements of
    /// `Choices`) carry `Next`, which the caller validates (it is ignored
    /// here, as are `Comment` and, at the top level, `Assign`); nested rules
    /// (inside `And`/`Or`/`Not`) must not have `Next`. Every problem is
    /// returned, located at `base` plus the pointer of the offending field.
    pub fn compile(
        value: &Value,
        top_level: bool,
        base: &str,
    ) -> Result<ChoiceRule, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let expr = compile_expr(value, top_level, base, &mut diags);
        match expr {
            Some(expr) if diags.is_empty() => Ok(ChoiceRule { expr }),
            _ => Err(diags),
        }
    }

    /// Evaluates the rule against the state input and `env`.
    ///
    /// Fails with `States.Runtime` when the `Variable` (for any operator but
    /// `IsPresent`) or a `...Path` operand resolves to nothing.
    pub fn evaluate(&self, input: &Value, env: &Env<'_>) -> Result<bool, StatesError> {
        eval_expr(&self.expr, input, env)
    }

    /// Every path the rule reads (variables and `...Path` operands), in
    /// document order.
    pub fn paths(&self) -> Vec<&Path> {
        let mut out = Vec::new();
        collect_paths(&self.expr, &mut out);
        out
    }
}

fn collect_paths<'a>(expr: &'a Expr, out: &mut Vec<&'a Path>) {
    match expr {
        Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| collect_paths(e, out)),
        Expr::Not(inner) => collect_paths(inner, out),
        Expr::Test { variable, test } => {
            out.push(variable);
            if let Test::Compare {
                operand: Operand::Path(p),
                ..
            } = test
            {
                out.push(p);
            }
        }
    }
}

fn compile_expr(
    value: &Value,
    top_level: bool,
    base: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Expr> {
    let Value::Object(map) = value else {
        diags.push(Diagnostic::schema(
            base,
            format!(
                "A choice rule must be an OBJECT but was {}",
                type_name(value)
            ),
        ));
        return None;
    };
    let start = diags.len();
    let mut logical: Vec<(&str, &Value)> = Vec::new();
    let mut variable: Option<&Value> = None;
    let mut operators: Vec<(&str, OpSpec, &Value)> = Vec::new();
    for (key, val) in map {
        let here = pointer(base, key);
        match key.as_str() {
            "Next" if top_level => {}
            "Next" => diags.push(Diagnostic::schema(
                here,
                "A nested choice rule (inside 'And', 'Or' or 'Not') must not have 'Next'",
            )),
            "Assign" if top_level => {}
            "Comment" => {
                if !val.is_string() {
                    diags.push(Diagnostic::schema(
                        here,
                        format!("'Comment' must be a STRING but was {}", type_name(val)),
                    ));
                }
            }
            "Variable" => variable = Some(val),
            k if LOGICAL.contains(&k) => logical.push((k, val)),
            k => match operator(k) {
                Some(spec) => operators.push((k, spec, val)),
                None => diags.push(Diagnostic::schema(
                    here,
                    format!("The field '{k}' is not supported in a choice rule"),
                )),
            },
        }
    }

    if !logical.is_empty() {
        if logical.len() > 1 {
            let names: Vec<String> = logical.iter().map(|(k, _)| format!("'{k}'")).collect();
            diags.push(Diagnostic::schema(
                base,
                format!(
                    "A choice rule must have only one of 'And', 'Or' and 'Not', but has {}",
                    names.join(" and ")
                ),
            ));
        }
        let (op, _) = logical[0];
        if variable.is_some() {
            diags.push(Diagnostic::schema(
                pointer(base, "Variable"),
                format!("'Variable' cannot be used together with '{op}'"),
            ));
        }
        for (name, _, _) in &operators {
            diags.push(Diagnostic::schema(
                pointer(base, name),
                format!("The comparison operator '{name}' cannot be used together with '{op}'"),
            ));
        }
        let mut compiled = Vec::new();
        for (op, val) in &logical {
            let here = pointer(base, op);
            compiled.push(compile_logical(op, val, &here, diags));
        }
        if diags.len() > start {
            return None;
        }
        return compiled.into_iter().next().flatten();
    }

    let variable = match variable {
        None => {
            diags.push(Diagnostic::schema(
                base,
                if operators.is_empty() {
                    "A choice rule must have a 'Variable' and a comparison operator, or one of 'And', 'Or' and 'Not'".to_owned()
                } else {
                    format!(
                        "A choice rule with the comparison operator '{}' must have a 'Variable'",
                        operators[0].0
                    )
                },
            ));
            None
        }
        Some(Value::String(src)) => match Path::parse(src) {
            Ok(p) => Some(p),
            Err(e) => {
                diags.push(Diagnostic::schema(
                    pointer(base, "Variable"),
                    format!("The value for the field 'Variable' must be a valid JSONPath: {e}"),
                ));
                None
            }
        },
        Some(other) => {
            diags.push(Diagnostic::schema(
                pointer(base, "Variable"),
                format!(
                    "The value for the field 'Variable' must be a STRING that contains a JSONPath but was {}",
                    type_name(other)
                ),
            ));
            None
        }
    };
    if operators.is_empty() {
        if variable.is_some() {
            diags.push(Diagnostic::schema(
                base,
                "A choice rule with a 'Variable' must have exactly one comparison operator, but has none",
            ));
        }
        return None;
    }
    let first = operators[0].0;
    for (name, _, _) in operators.iter().skip(1) {
        diags.push(Diagnostic::schema(
            pointer(base, name),
            format!(
                "A choice rule must have exactly one comparison operator, but has '{first}' and '{name}'"
            ),
        ));
    }
    let (name, spec, val) = operators[0];
    let test = compile_test(name, spec, val, &pointer(base, name), diags);
    if diags.len() > start {
        return None;
    }
    Some(Expr::Test {
        variable: variable?,
        test: test?,
    })
}

fn compile_logical(
    op: &str,
    value: &Value,
    here: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Expr> {
    if op == "Not" {
        if !value.is_object() {
            diags.push(Diagnostic::schema(
                here,
                format!(
                    "The value for the field 'Not' must be an OBJECT (a choice rule) but was {}",
                    type_name(value)
                ),
            ));
            return None;
        }
        return compile_expr(value, false, here, diags).map(|e| Expr::Not(Box::new(e)));
    }
    let Value::Array(items) = value else {
        diags.push(Diagnostic::schema(
            here,
            format!(
                "The value for the field '{op}' must be a non-empty ARRAY of choice rules but was {}",
                type_name(value)
            ),
        ));
        return None;
    };
    if items.is_empty() {
        diags.push(Diagnostic::schema(
            here,
            format!("The value for the field '{op}' must be a non-empty ARRAY of choice rules"),
        ));
        return None;
    }
    let rules: Vec<Option<Expr>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| compile_expr(item, false, &pointer(here, &i.to_string()), diags))
        .collect();
    let rules: Option<Vec<Expr>> = rules.into_iter().collect();
    let rules = rules?;
    Some(if op == "And" {
        Expr::And(rules)
    } else {
        Expr::Or(rules)
    })
}

fn compile_test(
    name: &str,
    spec: OpSpec,
    value: &Value,
    here: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Test> {
    let mut fail = |expected: &str| {
        diags.push(Diagnostic::schema(
            here,
            format!(
                "The value for the field '{name}' must be {expected} but was {}",
                describe(value)
            ),
        ));
        None
    };
    match spec {
        OpSpec::Is(t) => match value {
            Value::Bool(b) => Some(Test::Is(t, *b)),
            _ => fail("a BOOLEAN"),
        },
        OpSpec::Matches => match value {
            Value::String(s) => Some(Test::Matches(Pattern::parse(s))),
            _ => fail("a STRING"),
        },
        OpSpec::Compare {
            kind,
            cmp,
            path: true,
        } => match value {
            Value::String(s) => match Path::parse(s) {
                Ok(p) => Some(Test::Compare {
                    kind,
                    cmp,
                    operand: Operand::Path(p),
                }),
                Err(e) => fail(&format!("a valid JSONPath ({e})")),
            },
            _ => fail("a STRING that contains a JSONPath"),
        },
        OpSpec::Compare {
            kind,
            cmp,
            path: false,
        } => {
            let operand = match (kind, value) {
                (Kind::String, Value::String(s)) => Operand::String(s.clone()),
                (Kind::String, _) => return fail("a STRING"),
                (Kind::Numeric, Value::Number(n)) => Operand::Number(n.clone()),
                (Kind::Numeric, _) => return fail("a NUMBER"),
                (Kind::Boolean, Value::Bool(b)) => Operand::Bool(*b),
                (Kind::Boolean, _) => return fail("a BOOLEAN"),
                (Kind::Timestamp, Value::String(s)) => match parse_timestamp(s) {
                    Some(t) => Operand::Timestamp(t),
                    None => {
                        return fail(
                            "an RFC 3339 timestamp with 'T' and a time zone, such as '2016-03-14T01:59:00Z',",
                        );
                    }
                },
                (Kind::Timestamp, _) => return fail("a STRING that contains a timestamp"),
            };
            Some(Test::Compare { kind, cmp, operand })
        }
    }
}

/// `STRING 'abc'`, `NUMBER 3`, `OBJECT`... for messages.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{s}'"),
        Value::Number(n) => format!("NUMBER {n}"),
        Value::Bool(b) => format!("BOOLEAN {b}"),
        other => type_name(other).to_owned(),
    }
}

fn invalid_path(path: &Path) -> StatesError {
    StatesError::runtime(format!(
        "Invalid path '{path}': The choice state's condition path references an invalid value."
    ))
}

fn eval_expr(expr: &Expr, input: &Value, env: &Env<'_>) -> Result<bool, StatesError> {
    match expr {
        Expr::And(items) => {
            for item in items {
                if !eval_expr(item, input, env)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Expr::Or(items) => {
            for item in items {
                if eval_expr(item, input, env)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Expr::Not(inner) => Ok(!eval_expr(inner, input, env)?),
        Expr::Test { variable, test } => eval_test(variable, test, input, env),
    }
}

fn eval_test(
    variable: &Path,
    test: &Test,
    input: &Value,
    env: &Env<'_>,
) -> Result<bool, StatesError> {
    let found = variable.select_cow(input, env);
    if let Test::Is(TypeTest::Present, expected) = test {
        // An indefinite path that matches nothing is not present either.
        let present = match &found {
            None => false,
            Some(v) if !variable.is_definite() => v.as_array().is_none_or(|a| !a.is_empty()),
            Some(_) => true,
        };
        return Ok(present == *expected);
    }
    let Some(value) = found else {
        return Err(invalid_path(variable));
    };
    let value: &Value = &value;
    Ok(match test {
        Test::Is(t, expected) => {
            let is = match t {
                TypeTest::Null => value.is_null(),
                TypeTest::Present => true,
                TypeTest::Numeric => value.is_number(),
                TypeTest::String => value.is_string(),
                TypeTest::Boolean => value.is_boolean(),
                TypeTest::Timestamp => value.as_str().and_then(parse_timestamp).is_some(),
            };
            is == *expected
        }
        Test::Matches(pattern) => value.as_str().is_some_and(|s| pattern.matches(s)),
        Test::Compare { kind, cmp, operand } => {
            let operand_value: Cow<'_, Value>;
            let rhs: Rhs<'_> = match operand {
                Operand::String(s) => Rhs::String(s),
                Operand::Number(n) => Rhs::Number(n),
                Operand::Bool(b) => Rhs::Bool(*b),
                Operand::Timestamp(t) => Rhs::Timestamp(*t),
                Operand::Path(p) => {
                    operand_value = p.select_cow(input, env).ok_or_else(|| invalid_path(p))?;
                    match (kind, &*operand_value) {
                        (Kind::String, Value::String(s)) => Rhs::String(s),
                        (Kind::Numeric, Value::Number(n)) => Rhs::Number(n),
                        (Kind::Boolean, Value::Bool(b)) => Rhs::Bool(*b),
                        (Kind::Timestamp, Value::String(s)) => match parse_timestamp(s) {
                            Some(t) => Rhs::Timestamp(t),
                            None => return Ok(false),
                        },
                        _ => return Ok(false),
                    }
                }
            };
            let ord = match (value, rhs) {
                (Value::String(a), Rhs::String(b)) if *kind == Kind::String => {
                    Some(compare_strings(a, b))
                }
                (Value::Number(a), Rhs::Number(b)) => compare_numbers(a, b),
                (Value::Bool(a), Rhs::Bool(b)) => Some(a.cmp(&b)),
                (Value::String(a), Rhs::Timestamp(b)) => parse_timestamp(a).map(|a| a.cmp(&b)),
                _ => None,
            };
            ord.is_some_and(|o| cmp.holds(o))
        }
    })
}

/// The right-hand side of a comparison, once resolved.
enum Rhs<'a> {
    String(&'a str),
    Number(&'a Number),
    Bool(bool),
    Timestamp(DateTime<FixedOffset>),
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::names;
    use serde_json::{Map, json};

    const INPUT: &str = r#"{
        "s": "banana", "s2": "cherry", "n": 5, "f": 2.5, "big": 18446744073709551615,
        "neg": -9223372036854775808, "b": true, "nul": null,
        "t": "2024-01-31T12:00:00Z", "t2": "2024-01-31T13:00:00+01:00",
        "tf": "2024-01-31T12:00:00.250Z", "bad_t": "2024-01-31 12:00:00Z",
        "arr": [1, 2], "obj": {"k": "v"}, "empty": ""
    }"#;

    fn eval_with(rule: Value, input: &Value) -> Result<bool, StatesError> {
        let ctx = json!({"Execution": {"Name": "banana"}, "n": 5});
        let mut vars = Map::new();
        vars.insert("limit".into(), json!(5));
        vars.insert("fruit".into(), json!("banana"));
        let env = Env::new(&ctx, &vars, 0);
        ChoiceRule::compile(&rule, true, "/States/C/Choices/0")
            .unwrap()
            .evaluate(input, &env)
    }

    fn check(rule: Value) -> bool {
        let input: Value = serde_json::from_str(INPUT).unwrap();
        eval_with(rule, &input).unwrap()
    }

    fn t(var: &str, op: &str, operand: Value) -> bool {
        check(json!({"Variable": var, op: operand, "Next": "X"}))
    }

    fn compile_err(rule: Value) -> Vec<Diagnostic> {
        ChoiceRule::compile(&rule, true, "/States/C/Choices/0").unwrap_err()
    }

    #[test]
    fn string_operators() {
        assert!(t("$.s", "StringEquals", json!("banana")));
        assert!(!t("$.s", "StringEquals", json!("Banana")));
        assert!(t("$.s", "StringLessThan", json!("cherry")));
        assert!(!t("$.s", "StringLessThan", json!("banana")));
        assert!(!t("$.s", "StringLessThan", json!("apple")));
        assert!(t("$.s", "StringGreaterThan", json!("apple")));
        assert!(!t("$.s", "StringGreaterThan", json!("banana")));
        assert!(t("$.s", "StringLessThanEquals", json!("banana")));
        assert!(!t("$.s", "StringLessThanEquals", json!("apple")));
        assert!(t("$.s", "StringGreaterThanEquals", json!("banana")));
        assert!(!t("$.s", "StringGreaterThanEquals", json!("cherry")));
        // wrong types are false, not errors
        assert!(!t("$.n", "StringEquals", json!("5")));
        assert!(!t("$.nul", "StringLessThan", json!("z")));
        assert!(!t("$.obj", "StringGreaterThan", json!("")));
        // paths
        assert!(t("$.s", "StringEqualsPath", json!("$$.Execution.Name")));
        assert!(t("$.s", "StringEqualsPath", json!("$fruit")));
        assert!(t("$.s", "StringLessThanPath", json!("$.s2")));
        assert!(!t("$.s", "StringGreaterThanPath", json!("$.s2")));
        assert!(t("$.s", "StringLessThanEqualsPath", json!("$.s")));
        assert!(t("$.s2", "StringGreaterThanEqualsPath", json!("$.s")));
        assert!(!t("$.s", "StringEqualsPath", json!("$.n")));
        // UTF-16 order, as Java compares
        let input = json!({"x": "\u{FF61}"});
        assert!(
            eval_with(
                json!({"Variable": "$.x", "StringGreaterThan": "\u{1F600}", "Next": "X"}),
                &input
            )
            .unwrap()
        );
    }

    #[test]
    fn string_matches() {
        let m = |pat: &str, s: &str| Pattern::parse(pat).matches(s);
        assert!(m("*.log", "app.log"));
        assert!(m("*.log", ".log"));
        assert!(!m("*.log", "app.txt"));
        assert!(m("log-*-*.txt", "log-a-b.txt"));
        assert!(m("log-*-*.txt", "log---.txt"));
        assert!(!m("log-*-*.txt", "log-a.txt"));
        assert!(m("*", ""));
        assert!(m("**", "anything"));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("exact", "exact"));
        assert!(!m("exact", "exactly"));
        assert!(m("a*a", "aa"));
        assert!(!m("a*a", "a"));
        assert!(m("ab*ba", "abba"));
        assert!(!m("ab*ba", "aba"));
        assert!(m("*abc*", "xxabcxx"));
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m(r"a\\*", r"a\anything"));
        assert!(!m(r"a\\*", "anything"));
        assert!(m(r"a\\\*", r"a\*"));
        assert!(m(r"a\b", r"a\b"));
        assert!(m("h*llo wörld", "héllo wörld"));
        assert!(t("$.s", "StringMatches", json!("ban*")));
        assert!(t("$.s", "StringMatches", json!("*an*an*")));
        assert!(!t("$.s", "StringMatches", json!("*x*")));
        assert!(!t("$.n", "StringMatches", json!("*")));
        // escapes as written in a JSON definition
        let rule = json!({"Variable": "$.p", "StringMatches": "a\\*b\\\\*", "Next": "X"});
        assert_eq!(rule["StringMatches"], json!(r"a\*b\\*"));
        assert!(eval_with(rule.clone(), &json!({"p": r"a*b\tail"})).unwrap());
        assert!(!eval_with(rule, &json!({"p": r"axb\tail"})).unwrap());
    }

    #[test]
    fn numeric_operators() {
        assert!(t("$.n", "NumericEquals", json!(5)));
        assert!(t("$.n", "NumericEquals", json!(5.0)));
        assert!(!t("$.n", "NumericEquals", json!(6)));
        assert!(t("$.n", "NumericLessThan", json!(5.5)));
        assert!(!t("$.n", "NumericLessThan", json!(5)));
        assert!(t("$.n", "NumericGreaterThan", json!(4)));
        assert!(!t("$.n", "NumericGreaterThan", json!(5)));
        assert!(t("$.n", "NumericLessThanEquals", json!(5)));
        assert!(!t("$.n", "NumericLessThanEquals", json!(4.99)));
        assert!(t("$.n", "NumericGreaterThanEquals", json!(5)));
        assert!(!t("$.n", "NumericGreaterThanEquals", json!(6)));
        assert!(t("$.f", "NumericEquals", json!(2.5)));
        assert!(t("$.f", "NumericLessThan", json!(3)));
        // exact integers
        assert!(t("$.big", "NumericEquals", json!(18446744073709551615u64)));
        assert!(!t("$.big", "NumericEquals", json!(18446744073709551614u64)));
        assert!(t(
            "$.big",
            "NumericGreaterThan",
            json!(18446744073709551614u64)
        ));
        assert!(t(
            "$.neg",
            "NumericLessThan",
            json!(-9223372036854775807i64)
        ));
        assert!(t("$.neg", "NumericLessThan", json!(0)));
        let input = json!({"x": 9007199254740993u64});
        assert!(
            !eval_with(
                json!({"Variable": "$.x", "NumericEquals": 9007199254740992u64, "Next": "X"}),
                &input
            )
            .unwrap()
        );
        // wrong types
        assert!(!t("$.s", "NumericEquals", json!(5)));
        assert!(!t("$.arr", "NumericGreaterThan", json!(0)));
        // paths
        assert!(t("$.n", "NumericEqualsPath", json!("$limit")));
        assert!(t("$.n", "NumericEqualsPath", json!("$$.n")));
        assert!(t("$.f", "NumericLessThanPath", json!("$.n")));
        assert!(t("$.n", "NumericGreaterThanPath", json!("$.f")));
        assert!(t("$.n", "NumericLessThanEqualsPath", json!("$.n")));
        assert!(t("$.n", "NumericGreaterThanEqualsPath", json!("$.f")));
        assert!(!t("$.n", "NumericEqualsPath", json!("$.s")));
    }

    #[test]
    fn boolean_operators() {
        assert!(t("$.b", "BooleanEquals", json!(true)));
        assert!(!t("$.b", "BooleanEquals", json!(false)));
        assert!(!t("$.s", "BooleanEquals", json!(true)));
        assert!(!t("$.nul", "BooleanEquals", json!(false)));
        assert!(t("$.b", "BooleanEqualsPath", json!("$.b")));
        assert!(!t("$.b", "BooleanEqualsPath", json!("$.n")));
    }

    #[test]
    fn timestamp_operators() {
        let ts = "2024-01-31T12:00:00Z";
        assert!(t("$.t", "TimestampEquals", json!(ts)));
        assert!(
            t("$.t2", "TimestampEquals", json!(ts)),
            "same instant, other offset"
        );
        assert!(!t("$.tf", "TimestampEquals", json!(ts)));
        assert!(t(
            "$.t",
            "TimestampLessThan",
            json!("2024-01-31T12:00:00.001Z")
        ));
        assert!(!t("$.t", "TimestampLessThan", json!(ts)));
        assert!(t("$.tf", "TimestampGreaterThan", json!(ts)));
        assert!(!t("$.t", "TimestampGreaterThan", json!(ts)));
        assert!(t("$.t", "TimestampLessThanEquals", json!(ts)));
        assert!(!t("$.tf", "TimestampLessThanEquals", json!(ts)));
        assert!(t("$.t", "TimestampGreaterThanEquals", json!(ts)));
        assert!(!t(
            "$.t",
            "TimestampGreaterThanEquals",
            json!("2025-01-01T00:00:00-05:00")
        ));
        // not a timestamp: false
        assert!(!t("$.bad_t", "TimestampEquals", json!(ts)));
        assert!(!t("$.s", "TimestampLessThan", json!(ts)));
        assert!(!t("$.n", "TimestampGreaterThan", json!(ts)));
        // paths
        assert!(t("$.t", "TimestampEqualsPath", json!("$.t2")));
        assert!(t("$.t", "TimestampLessThanPath", json!("$.tf")));
        assert!(t("$.tf", "TimestampGreaterThanPath", json!("$.t")));
        assert!(t("$.t", "TimestampLessThanEqualsPath", json!("$.t2")));
        assert!(t("$.t", "TimestampGreaterThanEqualsPath", json!("$.t2")));
        assert!(!t("$.t", "TimestampEqualsPath", json!("$.bad_t")));
        assert!(!t("$.t", "TimestampEqualsPath", json!("$.n")));
    }

    #[test]
    fn timestamp_parsing() {
        for ok in [
            "2024-01-31T12:00:00Z",
            "2024-01-31T12:00:00.123456789Z",
            "2024-01-31T12:00:00+05:30",
            "2024-01-31T12:00:00.5-08:00",
        ] {
            assert!(parse_timestamp(ok).is_some(), "{ok}");
        }
        for bad in [
            "2024-01-31 12:00:00Z",
            "2024-01-31t12:00:00Z",
            "2024-01-31T12:00:00z",
            "2024-01-31T12:00:00",
            "2024-01-31",
            "2024-13-31T12:00:00Z",
            "2024-01-31T25:00:00Z",
            "",
            "garbage",
        ] {
            assert!(parse_timestamp(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn type_tests() {
        assert!(t("$.nul", "IsNull", json!(true)));
        assert!(!t("$.s", "IsNull", json!(true)));
        assert!(t("$.s", "IsNull", json!(false)));
        assert!(t("$.n", "IsNumeric", json!(true)));
        assert!(t("$.f", "IsNumeric", json!(true)));
        assert!(!t("$.s", "IsNumeric", json!(true)));
        assert!(t("$.s", "IsNumeric", json!(false)));
        assert!(t("$.s", "IsString", json!(true)));
        assert!(t("$.empty", "IsString", json!(true)));
        assert!(!t("$.n", "IsString", json!(true)));
        assert!(t("$.b", "IsBoolean", json!(true)));
        assert!(!t("$.s", "IsBoolean", json!(true)));
        assert!(t("$.t", "IsTimestamp", json!(true)));
        assert!(!t("$.bad_t", "IsTimestamp", json!(true)));
        assert!(t("$.bad_t", "IsTimestamp", json!(false)));
        assert!(!t("$.n", "IsTimestamp", json!(true)));
        // IsPresent
        assert!(t("$.s", "IsPresent", json!(true)));
        assert!(t("$.nul", "IsPresent", json!(true)));
        assert!(!t("$.missing", "IsPresent", json!(true)));
        assert!(t("$.missing", "IsPresent", json!(false)));
        assert!(t("$.missing.deeper[0]", "IsPresent", json!(false)));
        assert!(t("$nobody", "IsPresent", json!(false)));
        assert!(t("$$.Execution.Name", "IsPresent", json!(true)));
        assert!(t("$.arr[*]", "IsPresent", json!(true)));
        assert!(t("$.arr[?(@ > 5)]", "IsPresent", json!(false)));
    }

    #[test]
    fn logical_operators() {
        let yes = json!({"Variable": "$.n", "NumericEquals": 5});
        let no = json!({"Variable": "$.n", "NumericEquals": 6});
        let boom = json!({"Variable": "$.missing", "NumericEquals": 6});
        assert!(check(json!({"And": [yes, yes], "Next": "X"})));
        assert!(!check(json!({"And": [yes, no], "Next": "X"})));
        assert!(check(json!({"Or": [no, yes], "Next": "X"})));
        assert!(!check(json!({"Or": [no, no], "Next": "X"})));
        assert!(check(json!({"Not": no, "Next": "X"})));
        assert!(!check(json!({"Not": yes, "Next": "X"})));
        assert!(check(
            json!({"Not": {"Variable": "$.s", "NumericEquals": 1}, "Next": "X"})
        ));
        assert!(check(json!({
            "And": [{"Or": [no, {"Not": no}]}, {"Not": {"And": [yes, no]}}],
            "Next": "X"
        })));
        // short-circuit: the failing rule after a decided one is not evaluated
        assert!(!check(json!({"And": [no, boom], "Next": "X"})));
        assert!(check(json!({"Or": [yes, boom], "Next": "X"})));
        let input: Value = serde_json::from_str(INPUT).unwrap();
        assert!(eval_with(json!({"And": [yes, boom], "Next": "X"}), &input).is_err());
    }

    #[test]
    fn runtime_errors() {
        let input = json!({"a": 1});
        let err = eval_with(
            json!({"Variable": "$.missing", "StringEquals": "x", "Next": "X"}),
            &input,
        )
        .unwrap_err();
        assert_eq!(err.error, names::RUNTIME);
        assert_eq!(
            err.cause,
            "Invalid path '$.missing': The choice state's condition path references an invalid value."
        );
        let err = eval_with(
            json!({"Variable": "$.missing", "IsNull": true, "Next": "X"}),
            &input,
        )
        .unwrap_err();
        assert_eq!(err.error, names::RUNTIME);
        let err = eval_with(
            json!({"Variable": "$.a", "NumericEqualsPath": "$.nope", "Next": "X"}),
            &input,
        )
        .unwrap_err();
        assert_eq!(
            err.cause,
            "Invalid path '$.nope': The choice state's condition path references an invalid value."
        );
        assert!(
            eval_with(
                json!({"Variable": "$nobody", "IsNull": true, "Next": "X"}),
                &input
            )
            .is_err()
        );
        // indefinite variable paths select an array: a wrong type, so false
        assert!(
            !eval_with(
                json!({"Variable": "$.a[*]", "NumericEquals": 1, "Next": "X"}),
                &input
            )
            .unwrap()
        );
    }

    #[test]
    fn compile_ok_forms() {
        let r = ChoiceRule::compile(
            &json!({"Variable": "$.a", "StringEqualsPath": "$.b", "Next": "X", "Comment": "c", "Assign": {"x": 1}}),
            true,
            "",
        )
        .unwrap();
        let paths: Vec<&str> = r.paths().iter().map(|p| p.as_str()).collect();
        assert_eq!(paths, vec!["$.a", "$.b"]);
        assert!(
            ChoiceRule::compile(
                &json!({"Not": {"Variable": "$.a", "IsNull": true, "Comment": "x"}}),
                false,
                ""
            )
            .is_ok()
        );
    }

    fn messages(d: &[Diagnostic]) -> Vec<(String, String)> {
        d.iter()
            .map(|d| (d.location.clone(), d.message.clone()))
            .collect()
    }

    #[test]
    fn compile_errors() {
        let base = "/States/C/Choices/0";
        // not an object
        let d = ChoiceRule::compile(&json!("x"), true, base).unwrap_err();
        assert_eq!(d[0].location, base);
        assert!(d[0].message.contains("OBJECT"));
        assert_eq!(d[0].code, "SCHEMA_VALIDATION_FAILED");
        // wrong operand types
        for (op, val, expect) in [
            (
                "StringEquals",
                json!(1),
                "must be a STRING but was NUMBER 1",
            ),
            ("StringMatches", json!(true), "must be a STRING"),
            ("NumericEquals", json!("1"), "must be a NUMBER but was '1'"),
            (
                "NumericLessThan",
                json!(null),
                "must be a NUMBER but was NULL",
            ),
            ("BooleanEquals", json!("true"), "must be a BOOLEAN"),
            ("TimestampEquals", json!("2024-01-31"), "RFC 3339"),
            ("TimestampLessThan", json!(5), "timestamp"),
            ("IsNull", json!("true"), "must be a BOOLEAN"),
            ("IsPresent", json!(1), "must be a BOOLEAN"),
            ("StringEqualsPath", json!("x"), "valid JSONPath"),
            (
                "NumericEqualsPath",
                json!(5),
                "must be a STRING that contains a JSONPath",
            ),
            ("TimestampEqualsPath", json!("$.a b"), "valid JSONPath"),
        ] {
            let d = compile_err(json!({"Variable": "$.a", op: val, "Next": "X"}));
            assert_eq!(d.len(), 1, "{op}: {d:?}");
            assert_eq!(d[0].location, format!("{base}/{op}"));
            assert!(d[0].message.contains(expect), "{op}: {}", d[0].message);
        }
        // unknown fields, several at once
        let d = compile_err(
            json!({"Variable": "$.a", "StringEquals": "x", "Foo": 1, "StringMatchesPath": "$.b", "IsNullPath": "$.c"}),
        );
        assert_eq!(
            messages(&d),
            vec![
                (
                    format!("{base}/Foo"),
                    "The field 'Foo' is not supported in a choice rule".to_owned()
                ),
                (
                    format!("{base}/StringMatchesPath"),
                    "The field 'StringMatchesPath' is not supported in a choice rule".to_owned()
                ),
                (
                    format!("{base}/IsNullPath"),
                    "The field 'IsNullPath' is not supported in a choice rule".to_owned()
                ),
            ]
        );
        // missing / extra operators
        let d = compile_err(json!({"Variable": "$.a", "Next": "X"}));
        assert_eq!(d[0].location, base);
        assert!(d[0].message.contains("has none"));
        let d = compile_err(json!({"StringEquals": "x", "Next": "X"}));
        assert!(d[0].message.contains("must have a 'Variable'"));
        let d = compile_err(json!({"Next": "X"}));
        assert!(d[0].message.contains("or one of 'And', 'Or' and 'Not'"));
        let d = compile_err(json!({"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1}));
        assert_eq!(d[0].location, format!("{base}/NumericEquals"));
        assert!(d[0].message.contains("'StringEquals' and 'NumericEquals'"));
        // bad Variable
        let d = compile_err(json!({"Variable": 5, "IsNull": true}));
        assert_eq!(d[0].location, format!("{base}/Variable"));
        assert!(d[0].message.contains("NUMBER"));
        let d = compile_err(json!({"Variable": "a.b", "IsNull": true}));
        assert!(d[0].message.contains("valid JSONPath"));
        // logical
        let d = compile_err(json!({"And": [], "Next": "X"}));
        assert_eq!(d[0].location, format!("{base}/And"));
        assert!(d[0].message.contains("non-empty ARRAY"));
        let d = compile_err(json!({"Or": {"Variable": "$.a", "IsNull": true}}));
        assert!(d[0].message.contains("but was OBJECT"));
        let d = compile_err(json!({"Not": []}));
        assert!(d[0].message.contains("must be an OBJECT"));
        let d = compile_err(
            json!({"And": [{"Variable": "$.a", "IsNull": true}], "Or": [{"Variable": "$.a", "IsNull": true}]}),
        );
        assert!(d[0].message.contains("'And' and 'Or'"));
        let d = compile_err(
            json!({"Not": {"Variable": "$.a", "IsNull": true}, "Variable": "$.a", "IsNull": true}),
        );
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].location, format!("{base}/Variable"));
        assert_eq!(d[1].location, format!("{base}/IsNull"));
        // nested rules: Next forbidden, errors located deep, all reported
        let d = compile_err(json!({
            "And": [
                {"Variable": "$.a", "IsNull": true, "Next": "Y"},
                {"Or": [{"Variable": "$.a", "NumericEquals": "x"}, {"Not": {"Variable": "$.a"}}]},
                7
            ],
            "Next": "X"
        }));
        assert_eq!(
            d.iter().map(|d| d.location.as_str()).collect::<Vec<_>>(),
            vec![
                "/States/C/Choices/0/And/0/Next",
                "/States/C/Choices/0/And/1/Or/0/NumericEquals",
                "/States/C/Choices/0/And/1/Or/1/Not",
                "/States/C/Choices/0/And/2",
            ]
        );
        // Assign is only a top-level field
        let d = ChoiceRule::compile(
            &json!({"Variable": "$.a", "IsNull": true, "Assign": {}}),
            false,
            "",
        )
        .unwrap_err();
        assert_eq!(d[0].location, "/Assign");
        let d = compile_err(json!({"Variable": "$.a", "IsNull": true, "Comment": 5}));
        assert_eq!(d[0].location, format!("{base}/Comment"));
    }
}
