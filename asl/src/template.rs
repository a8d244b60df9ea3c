//! Payload templates: `Parameters`, `ItemSelector`, `ResultSelector` (and
//! `Arguments`).
//!
//! A template is a JSON value in which every object key ending in `.$` has a
//! string value that is a Path or an intrinsic function call; the output key
//! drops the `.$` and takes the selected or computed value. Everything else is
//! copied as it is. Templates are compiled once: subtrees with no `.$` key
//! anywhere are stored as ready values and cloned at evaluation.

use crate::diagnostic::pointer;
use crate::env::Env;
use crate::error::StatesError;
use crate::intrinsics::Intrinsic;
use crate::path::Path;
use serde_json::{Map, Value};

/// One bad field in a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at '{pointer}')")]
pub struct TemplateError {
    /// JSON pointer of the field relative to the template root, e.g.
    /// `/nested/key.$` (empty for the root itself).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// A compiled payload template.
#[derive(Debug, Clone)]
pub struct Template {
    root: Node,
}

#[derive(Debug, Clone)]
enum Node {
    /// A subtree without any `.$` key: cloned as it is.
    Literal(Value),
    /// An object with at least one dynamic field somewhere below it.
    Object(Vec<(String, Field)>),
    /// An array with at least one dynamic element somewhere below it.
    Array(Vec<Node>),
}

#[derive(Debug, Clone)]
enum Field {
    /// A plain key whose value is a (possibly dynamic) template.
    Node(Node),
    /// `key.$: "<path>"`; `key` is the key as written (with `.$`).
    Path { key: String, path: Path },
    /// `key.$: "States.X(...)"`.
    Intrinsic(Box<Intrinsic>),
}

impl Template {
    /// Compiles a template, reporting every bad field.
    pub fn compile(value: &Value) -> Result<Template, Vec<TemplateError>> {
        let mut errors = Vec::new();
        let root = compile_node(value, "", &mut errors);
        if errors.is_empty() {
            Ok(Template { root })
        } else {
            Err(errors)
        }
    }

    /// Evaluates the template against the state input (`$`) and `env`
    /// (`$$`, `$name`). A path that matches nothing fails with
    /// `States.Runtime`; intrinsic failures are passed on.
    pub fn evaluate(&self, input: &Value, env: &Env<'_>) -> Result<Value, StatesError> {
        eval_node(&self.root, input, env)
    }

    /// True when the template has no `.$` field at all (evaluation is a clone).
    pub fn is_literal(&self) -> bool {
        matches!(self.root, Node::Literal(_))
    }

    /// Every path the template reads, including the path arguments of its
    /// intrinsic calls, in document order.
    pub fn paths(&self) -> Vec<&Path> {
        let mut out = Vec::new();
        collect_paths(&self.root, &mut out);
        out
    }

    /// Every intrinsic function call in the template, in document order.
    pub fn intrinsics(&self) -> Vec<&Intrinsic> {
        let mut out = Vec::new();
        collect_intrinsics(&self.root, &mut out);
        out
    }
}

fn collect_paths<'a>(node: &'a Node, out: &mut Vec<&'a Path>) {
    match node {
        Node::Literal(_) => {}
        Node::Array(items) => items.iter().for_each(|n| collect_paths(n, out)),
        Node::Object(fields) => {
            for (_, field) in fields {
                match field {
                    Field::Node(n) => collect_paths(n, out),
                    Field::Path { path, .. } => out.push(path),
                    Field::Intrinsic(call) => out.extend(call.paths()),
                }
            }
        }
    }
}

fn collect_intrinsics<'a>(node: &'a Node, out: &mut Vec<&'a Intrinsic>) {
    match node {
        Node::Literal(_) => {}
        Node::Array(items) => items.iter().for_each(|n| collect_intrinsics(n, out)),
        Node::Object(fields) => {
            for (_, field) in fields {
                match field {
                    Field::Node(n) => collect_intrinsics(n, out),
                    Field::Path { .. } => {}
                    Field::Intrinsic(call) => out.push(call),
                }
            }
        }
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

fn compile_node(value: &Value, at: &str, errors: &mut Vec<TemplateError>) -> Node {
    match value {
        Value::Array(items) => {
            let nodes: Vec<Node> = items
                .iter()
                .enumerate()
                .map(|(i, item)| compile_node(item, &pointer(at, &i.to_string()), errors))
                .collect();
            if nodes.iter().all(|n| matches!(n, Node::Literal(_))) {
                Node::Literal(Value::Array(
                    nodes
                        .into_iter()
                        .map(|n| match n {
                            Node::Literal(v) => v,
                            _ => Value::Null,
                        })
                        .collect(),
                ))
            } else {
                Node::Array(nodes)
            }
        }
        Value::Object(map) => {
            let mut fields: Vec<(String, Field)> = Vec::with_capacity(map.len());
            for (key, val) in map {
                let here = pointer(at, key);
                let (out_key, field) = match key.strip_suffix(".$") {
                    Some(stripped) => match compile_dynamic(key, val, &here, errors) {
                        Some(field) => (stripped, field),
                        None => continue,
                    },
                    None => (key.as_str(), Field::Node(compile_node(val, &here, errors))),
                };
                if let Some((_, other)) = fields.iter().find(|(k, _)| k == out_key) {
                    let other_key = match other {
                        Field::Path { key, .. } => key.clone(),
                        Field::Intrinsic(_) => format!("{out_key}.$"),
                        Field::Node(_) => out_key.to_owned(),
                    };
                    errors.push(TemplateError {
                        pointer: here,
                        message: format!(
                            "The field '{key}' produces the output field '{out_key}', which the field '{other_key}' also produces"
                        ),
                    });
                    continue;
                }
                fields.push((out_key.to_owned(), field));
            }
            let all_literal = fields
                .iter()
                .all(|(_, f)| matches!(f, Field::Node(Node::Literal(_))));
            if all_literal {
                let mut out = Map::with_capacity(fields.len());
                for (k, f) in fields {
                    if let Field::Node(Node::Literal(v)) = f {
                        out.insert(k, v);
                    }
                }
                Node::Literal(Value::Object(out))
            } else {
                Node::Object(fields)
            }
        }
        other => Node::Literal(other.clone()),
    }
}

fn compile_dynamic(
    key: &str,
    value: &Value,
    here: &str,
    errors: &mut Vec<TemplateError>,
) -> Option<Field> {
    let mut fail = |message: String| {
        errors.push(TemplateError {
            pointer: here.to_owned(),
            message,
        });
        None
    };
    let Value::String(src) = value else {
        return fail(format!(
            "The value for the field '{key}' must be a STRING that contains a JSONPath or an intrinsic function call, but was {}",
            type_name(value)
        ));
    };
    if src.starts_with('$') {
        match Path::parse(src) {
            Ok(path) => Some(Field::Path {
                key: key.to_owned(),
                path,
            }),
            Err(e) => fail(format!(
                "The value for the field '{key}' must be a valid JSONPath: {e}"
            )),
        }
    } else if src.starts_with("States.") {
        match Intrinsic::parse(src) {
            Ok(call) => Some(Field::Intrinsic(Box::new(call))),
            Err(e) => fail(format!(
                "The value for the field '{key}' must be a valid intrinsic function call: {e}"
            )),
        }
    } else {
        fail(format!(
            "The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call, but was '{src}'"
        ))
    }
}

fn eval_node(node: &Node, input: &Value, env: &Env<'_>) -> Result<Value, StatesError> {
    match node {
        Node::Literal(v) => Ok(v.clone()),
        Node::Array(items) => items
            .iter()
            .map(|n| eval_node(n, input, env))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Node::Object(fields) => {
            let mut out = Map::with_capacity(fields.len());
            for (key, field) in fields {
                let value = match field {
                    Field::Node(n) => eval_node(n, input, env)?,
                    Field::Path { key: src_key, path } => {
                        path.select(input, env).ok_or_else(|| {
                            StatesError::runtime(format!(
                                "The JSONPath '{path}' specified for the field '{src_key}' could not be found in the input '{input}'"
                            ))
                        })?
                    }
                    Field::Intrinsic(call) => call.evaluate(input, env)?,
                };
                out.insert(key.clone(), value);
            }
            Ok(Value::Object(out))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::names;
    use serde_json::json;

    fn eval(template: Value, input: Value) -> Result<Value, StatesError> {
        let ctx = json!({"Execution": {"Id": "exec-1"}, "Map": {"Item": {"Value": "v"}}});
        let mut vars = Map::new();
        vars.insert("who".into(), json!({"name": "Ada"}));
        let env = Env::new(&ctx, &vars, 7);
        Template::compile(&template).unwrap().evaluate(&input, &env)
    }

    #[test]
    fn paths_and_literals() {
        let out = eval(
            json!({
                "static": {"a": [1, 2, {"b": null}]},
                "id.$": "$.id",
                "exec.$": "$$.Execution.Id",
                "item.$": "$$.Map.Item.Value",
                "name.$": "$who.name",
                "all.$": "$",
                "many.$": "$.list[*].x",
                "none.$": "$.list[?(@.x > 100)]",
                "n": 3, "s": "$.not-a-path", "t": true, "z": null
            }),
            json!({"id": 42, "list": [{"x": 1}, {"x": 2}]}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "static": {"a": [1, 2, {"b": null}]},
                "id": 42,
                "exec": "exec-1",
                "item": "v",
                "name": "Ada",
                "all": {"id": 42, "list": [{"x": 1}, {"x": 2}]},
                "many": [1, 2],
                "none": [],
                "n": 3, "s": "$.not-a-path", "t": true, "z": null
            })
        );
    }

    #[test]
    fn key_order_preserved() {
        let out = eval(
            json!({"z": 1, "y.$": "$.a", "x": {"w.$": "$.a", "v": 0}, "a": 2}),
            json!({"a": "A"}),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"z":1,"y":"A","x":{"w":"A","v":0},"a":2}"#
        );
    }

    #[test]
    fn nesting_in_objects_and_arrays() {
        let out = eval(
            json!({
                "outer": {"inner": {"deep.$": "$.v"}},
                "arr": [1, {"k.$": "$.v"}, [{"j.$": "$.w[0]"}], "lit"],
                "arrlit": [[1], {"a": "b"}]
            }),
            json!({"v": "V", "w": [9]}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "outer": {"inner": {"deep": "V"}},
                "arr": [1, {"k": "V"}, [{"j": 9}], "lit"],
                "arrlit": [[1], {"a": "b"}]
            })
        );
    }

    #[test]
    fn literal_detection() {
        let t = Template::compile(&json!({"a": [1, {"b": "$.x"}], "c": {"d": 1}})).unwrap();
        assert!(t.is_literal());
        assert!(t.paths().is_empty());
        let t = Template::compile(&json!({"a": [1, {"b.$": "$.x"}], "c": {"d": 1}})).unwrap();
        assert!(!t.is_literal());
        match &t.root {
            Node::Object(fields) => {
                assert!(matches!(fields[0].1, Field::Node(Node::Array(_))));
                assert!(matches!(fields[1].1, Field::Node(Node::Literal(_))));
            }
            other => panic!("unexpected {other:?}"),
        }
        let paths: Vec<&str> = t.paths().iter().map(|p| p.as_str()).collect();
        assert_eq!(paths, vec!["$.x"]);
        assert!(
            Template::compile(&json!("just a string"))
                .unwrap()
                .is_literal()
        );
        assert!(Template::compile(&json!([1, 2])).unwrap().is_literal());
    }

    #[test]
    fn missing_path_error() {
        let err = eval(json!({"x": {"a.$": "$.missing"}}), json!({"b": 1})).unwrap_err();
        assert_eq!(err.error, names::RUNTIME);
        assert_eq!(
            err.cause,
            "The JSONPath '$.missing' specified for the field 'a.$' could not be found in the input '{\"b\":1}'"
        );
        let err = eval(json!({"a.$": "$$.Nope"}), json!({})).unwrap_err();
        assert_eq!(err.error, names::RUNTIME);
        let err = eval(json!({"a.$": "$nobody"}), json!({})).unwrap_err();
        assert_eq!(err.error, names::RUNTIME);
    }

    #[test]
    fn compile_errors_reported_for_every_field() {
        let errs = Template::compile(&json!({
            "a.$": 5,
            "ok.$": "$.fine",
            "nested": {"b.$": "not a path", "list": [{"c.$": "$.a b"}]},
            "d.$": {"x": 1},
            "e.$": "States.NoSuchFunction()",
            "f": 1,
            "f.$": "$.f"
        }))
        .unwrap_err();
        let pointers: Vec<&str> = errs.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            vec![
                "/a.$",
                "/nested/b.$",
                "/nested/list/0/c.$",
                "/d.$",
                "/e.$",
                "/f.$"
            ]
        );
        assert!(errs[0].message.contains("must be a STRING"), "{}", errs[0]);
        assert!(errs[0].message.contains("NUMBER"));
        assert!(
            errs[1]
                .message
                .contains("valid JSONPath or a valid intrinsic")
        );
        assert!(errs[2].message.contains("valid JSONPath"));
        assert!(errs[3].message.contains("OBJECT"));
        assert!(errs[4].message.contains("intrinsic function call"));
        assert!(errs[5].message.contains("output field 'f'"));
    }

    #[test]
    fn pointer_escaping() {
        let errs = Template::compile(&json!({"a/b": {"c~d.$": 1}})).unwrap_err();
        assert_eq!(errs[0].pointer, "/a~1b/c~0d.$");
    }

    #[test]
    fn intrinsic_fields() {
        let out = eval(
            json!({"greeting.$": "States.Format('Hello {}', $who.name)", "arr.$": "States.Array($.a, 2)"}),
            json!({"a": 1}),
        )
        .unwrap();
        assert_eq!(out, json!({"greeting": "Hello Ada", "arr": [1, 2]}));
        let t = Template::compile(&json!({"x.$": "States.Format('{}', $.q)"})).unwrap();
        assert_eq!(t.intrinsics().len(), 1);
        let paths: Vec<&str> = t.paths().iter().map(|p| p.as_str()).collect();
        assert_eq!(paths, vec!["$.q"]);
    }
}
