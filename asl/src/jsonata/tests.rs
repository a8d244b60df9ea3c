use super::*;
use serde_json::json;

fn eval_with(src: &str, input: Value, vars: Value) -> Result<Value, QueryError> {
    let vars: Variables = match vars {
        Value::Object(m) => m,
        _ => Variables::new(),
    };
    let ctx = json!({"Execution": {"Id": "arn:x"}});
    let b = Bindings::new(&input, &ctx, &vars, 7);
    Expression::parse(src)
        .map_err(QueryError::Threw)?
        .evaluate(&b)
}

fn eval(src: &str) -> Result<Value, QueryError> {
    eval_with(src, json!({"a": 1, "xs": [1, 2, 3], "s": "hi"}), json!({}))
}

#[test]
fn states_and_variables_are_bound() {
    assert_eq!(eval("{% $states.input.a + 1 %}"), Ok(json!(2)));
    assert_eq!(
        eval("{% $states.context.Execution.Id %}"),
        Ok(json!("arn:x"))
    );
    assert_eq!(
        eval_with(
            "{% $x & $states.input.s %}",
            json!({"s": "!"}),
            json!({"x": "hey"})
        ),
        Ok(json!("hey!"))
    );
    assert_eq!(eval("{% $sum($states.input.xs) %}"), Ok(json!(6)));
    assert_eq!(eval("{% $states.input.xs[1] %}"), Ok(json!(2)));
}

#[test]
fn result_and_error_output_only_when_given() {
    let input = json!({});
    let ctx = json!({});
    let vars = Variables::new();
    let result = json!({"r": 5});
    let err = json!({"Error": "E", "Cause": "c"});
    let b = Bindings::new(&input, &ctx, &vars, 1);
    let e = Expression::parse("{% $states.result.r %}").unwrap();
    assert_eq!(e.evaluate(&b), Err(QueryError::Undefined));
    assert_eq!(e.evaluate(&b.with_result(&result)), Ok(json!(5)));
    let e = Expression::parse("{% $states.errorOutput.Error %}").unwrap();
    assert_eq!(e.evaluate(&b.with_error_output(&err)), Ok(json!("E")));
}

#[test]
fn undefined_and_unsupported_results() {
    assert_eq!(eval("{% $doesNotExist %}"), Err(QueryError::Undefined));
    assert_eq!(eval("{% $states.input.nope %}"), Err(QueryError::Undefined));
    assert_eq!(
        eval("{% $fn := function($x){$x} %}"),
        Err(QueryError::Unsupported)
    );
    assert_eq!(eval("{% null %}"), Ok(Value::Null));
}

#[test]
fn numbers_are_integers_when_whole() {
    assert_eq!(eval("{% 1.0 %}"), Ok(json!(1)));
    assert_eq!(eval("{% 0.5 + 0.25 %}"), Ok(json!(0.75)));
    assert_eq!(eval("{% $number('2') %}"), Ok(json!(2)));
    assert_eq!(eval("{% -0 %}"), Ok(json!(0)));
    assert_eq!(eval("{% [1, 2.5] %}"), Ok(json!([1, 2.5])));
}

#[test]
fn assignment_expressions_and_regex() {
    assert_eq!(eval("{% $variable := 1 %}"), Ok(json!(1)));
    assert_eq!(
        eval("{% $contains(\"hello$world\", /^hello\\$/) %}"),
        Ok(json!(true))
    );
}

#[test]
fn aws_functions_are_available() {
    assert_eq!(
        eval("{% $partition([1,2,3], 2) %}"),
        Ok(json!([[1, 2], [3]]))
    );
    assert_eq!(eval("{% $partition([0], 1) %}"), Ok(json!([[0]])));
    assert_eq!(eval("{% $range(0, 9, 3) %}"), Ok(json!([0, 3, 6, 9])));
    assert_eq!(eval("{% $range(1, 9, 9) %}"), Ok(json!(1)));
    assert_eq!(eval("{% $parse('{\"k\": [1]}') %}"), Ok(json!({"k": [1]})));
    assert_eq!(eval("{% $parse('-0') %}"), Ok(json!(0)));
    assert_eq!(
        eval("{% $hash('Hash this string', 'SHA-256') %}"),
        Ok(json!(
            "1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e"
        ))
    );
    let Ok(Value::String(u)) = eval("{% $uuid() %}") else {
        panic!()
    };
    assert_eq!(u.len(), 36);
    let Ok(Value::Number(r)) = eval("{% $random() %}") else {
        panic!()
    };
    assert!((0.0..1.0).contains(&r.as_f64().unwrap_or(2.0)));
    assert_eq!(eval("{% $random(5) %}"), eval("{% $random(5) %}"));
}

#[test]
fn random_and_uuid_depend_on_the_seed_only() {
    let input = json!({});
    let ctx = json!({});
    let vars = Variables::new();
    let e = Expression::parse("{% [$uuid(), $random(), $uuid()] %}").unwrap();
    let b = Bindings::new(&input, &ctx, &vars, 11);
    let first = e.evaluate(&b).unwrap();
    assert_eq!(e.evaluate(&b).unwrap(), first);
    assert_ne!(e.evaluate(&b.with_seed(12)).unwrap(), first);
    let Value::Array(xs) = first else { panic!() };
    assert_ne!(xs[0], xs[2]);
}

#[test]
fn eval_is_not_available() {
    let Err(QueryError::Threw(m)) = eval("{% $eval('1 + 1') %}") else {
        panic!()
    };
    assert!(m.starts_with("T1006"), "{m}");
}

#[test]
fn errors_carry_the_jsonata_code() {
    let Err(QueryError::Threw(m)) = eval("{% $states.input.s + 1 %}") else {
        panic!()
    };
    assert!(m.starts_with("T2001"), "{m}");
    let Err(QueryError::Threw(m)) = eval("{% $range('0', 4, 1) %}") else {
        panic!()
    };
    assert_eq!(
        m,
        "T0410: Argument 1 of function \"range\" does not match function signature"
    );
}

#[test]
fn hostile_expressions_are_bounded() {
    let Err(QueryError::Threw(_)) = eval("{% ($f := function($n){ $n + $f($n) }; $f(1)) %}") else {
        panic!("unbounded recursion must fail")
    };
    let Err(QueryError::Threw(_)) = eval("{% ($f := function($n){ $f($n) }; $f(1)) %}") else {
        panic!("an endless tail call must time out")
    };
    assert!(eval("{% $count([1..100000000]) %}").is_err());
}

#[test]
fn syntax_errors_are_reported_at_parse() {
    assert!(Expression::parse("{% a[1,2) %}").is_err());
    assert!(Expression::parse("{%  %}").is_err());
    assert!(Expression::parse("$x").is_err());
}

#[test]
fn templates_name_nested_fields_in_errors() {
    let t = JsonataTemplate::compile(
        &json!({"lit": 1, "a": {"b": ["x", "{% $states.input.missing %}"]}}),
    )
    .unwrap();
    let input = json!({});
    let ctx = json!({});
    let vars = Variables::new();
    let b = Bindings::new(&input, &ctx, &vars, 1);
    let e = t.evaluate("Output", &b).unwrap_err();
    assert_eq!(e.field, "Output/a/b[1]");
    assert_eq!(
        e.cause,
        "The JSONata expression '$states.input.missing' specified for the field 'Output/a/b[1]' returned nothing (undefined)."
    );
    let t = JsonataTemplate::compile(&json!({"x": "{% 1 + %}", "y": ["{% ) %}"]})).unwrap_err();
    assert_eq!(
        t.iter().map(|e| e.pointer.as_str()).collect::<Vec<_>>(),
        ["/x", "/y/0"]
    );
    let t = JsonataTemplate::compile(&json!({"k": "$.not.an.expression", "n": [1, {}]})).unwrap();
    assert!(matches!(t, JsonataTemplate::Literal(_)));
}

#[test]
fn referenced_names_are_found() {
    let e = Expression::parse("{% $a + $states.input.b + $c_1 %}").unwrap();
    assert_eq!(e.source(), "$a + $states.input.b + $c_1");
}

/// `$pad` makes strings of any length in one call: bounded before it allocates.
#[test]
fn pad_is_bounded() {
    assert_eq!(eval("{% $pad('ab', -4, '*') %}"), Ok(json!("**ab")));
    let Err(QueryError::Threw(m)) = eval("{% $pad('', 300000000, 'a') %}") else {
        panic!("$pad made a 300 MB string");
    };
    assert!(m.contains("memory limit"), "{m}");
}

/// Found by fuzzing (fuzz/, target `jsonata`): a range ending at `i64::MAX`
/// overflowed inside jsonata-core and panicked wherever overflow checks are on
/// (debug builds). It is the expression's error, not a crash.
#[test]
fn an_evaluator_panic_is_an_error() {
    assert!(matches!(
        eval("{% $states.input.xs[0..11111111111111111111111111111] %}"),
        Err(QueryError::Threw(_))
    ));
    assert!(matches!(
        eval("{% [0..9223372036854775807] %}"),
        Err(QueryError::Threw(_))
    ));
    assert_eq!(eval("{% [1..3] %}"), Ok(json!([1, 2, 3])));
}
