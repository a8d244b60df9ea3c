//! Parser tests, evaluation plumbing (paths, nesting, limits) and the
//! no-panic property tests. Each function family tests itself in its own file.

use super::*;
use crate::env::Variables;
use proptest::prelude::*;
use serde_json::json;

/// Evaluates `src` on `input` with the given random seed, an empty context and
/// no variables; panics on failure.
pub(super) fn eval_with_seed(src: &str, input: Value, seed: u64) -> Value {
    let intrinsic = Intrinsic::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let context = json!({});
    let vars = Variables::new();
    let env = Env::new(&context, &vars, seed);
    intrinsic
        .evaluate(&input, &env)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

/// Evaluates `src` on `input`; panics on failure.
pub(super) fn eval(src: &str, input: Value) -> Value {
    eval_with_seed(src, input, 0)
}

/// Evaluates `src` on `input`, expects a `States.IntrinsicFailure` and
/// returns its cause.
pub(super) fn eval_err(src: &str, input: Value) -> String {
    let intrinsic = Intrinsic::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let context = json!({});
    let vars = Variables::new();
    let env = Env::new(&context, &vars, 0);
    match intrinsic.evaluate(&input, &env) {
        Ok(v) => panic!("{src}: expected an error, got {v}"),
        Err(e) => {
            assert_eq!(e.error, crate::names::INTRINSIC_FAILURE, "{src}: {e}");
            e.cause
        }
    }
}

fn parse_err(src: &str) -> IntrinsicError {
    match Intrinsic::parse(src) {
        Ok(i) => panic!("{src}: expected a parse error, got {i:?}"),
        Err(e) => e,
    }
}

#[test]
fn recognizes_intrinsics() {
    assert!(is_intrinsic("States.Format('x')"));
    assert!(is_intrinsic("States.UUID()"));
    assert!(is_intrinsic("States.Array("));
    assert!(!is_intrinsic("States.Format ('x')"));
    assert!(!is_intrinsic("States.Formats('x')"));
    assert!(!is_intrinsic("States.ALL"));
    assert!(!is_intrinsic("$.States.Format('x')"));
    assert!(!is_intrinsic(" States.Format('x')"));
    assert!(!is_intrinsic("States.format('x')"));
}

#[test]
fn every_function_is_in_the_table_once() {
    let names: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
    assert_eq!(names.len(), 18);
    for name in &names {
        assert_eq!(names.iter().filter(|n| *n == name).count(), 1, "{name}");
        assert!(is_intrinsic(&format!("{name}()")));
    }
}

#[test]
fn parses_arguments_of_every_kind() {
    let i = Intrinsic::parse("States.Array( 'a\\'b' ,-1.5e2,true , false,null,$.x[0], $$.Execution.Id,$v.k, States.UUID() )")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(i.name(), "States.Array");
    assert_eq!(i.args.len(), 9);
    assert!(matches!(&i.args[0], Arg::String(s) if s.value == "a'b" && s.raw == "a\\'b"));
    assert!(matches!(&i.args[1], Arg::Literal(v) if *v == json!(-150.0)));
    assert!(matches!(&i.args[2], Arg::Literal(Value::Bool(true))));
    assert!(matches!(&i.args[3], Arg::Literal(Value::Bool(false))));
    assert!(matches!(&i.args[4], Arg::Literal(Value::Null)));
    assert!(matches!(&i.args[5], Arg::Path(p) if p.as_str() == "$.x[0]"));
    assert!(matches!(&i.args[6], Arg::Path(p) if p.as_str() == "$$.Execution.Id"));
    assert!(matches!(&i.args[7], Arg::Path(p) if p.as_str() == "$v.k"));
    assert!(
        matches!(&i.args[8], Arg::Call(c) if c.name() == "States.UUID" && c.as_str() == "States.UUID()")
    );
    let paths: Vec<&str> = i.paths().iter().map(|p| p.as_str()).collect();
    assert_eq!(paths, ["$.x[0]", "$$.Execution.Id", "$v.k"]);
    assert_eq!(i.to_string(), i.as_str());
}

#[test]
fn parses_paths_with_brackets_quotes_and_filters() {
    let i = Intrinsic::parse("States.Array($['a,b'], $.c[?(@.d == 'x)')], $.e[0,1], $..f)")
        .unwrap_or_else(|e| panic!("{e}"));
    let paths: Vec<&str> = i.paths().iter().map(|p| p.as_str()).collect();
    assert_eq!(
        paths,
        ["$['a,b']", "$.c[?(@.d == 'x)')]", "$.e[0,1]", "$..f"]
    );
}

#[test]
fn string_literals_keep_newlines_and_unescaped_braces() {
    let i = Intrinsic::parse("States.StringToJson('{\"k\": \"v\"}\n')")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&i.args[0], Arg::String(s) if s.value == "{\"k\": \"v\"}\n"));
    assert!(matches!(
        &Intrinsic::parse(r"States.Format('\\\{\}')").map(|i| i.args[0].clone()),
        Ok(Arg::String(s)) if s.value == r"\{}"
    ));
}

#[test]
fn rejects_syntax_errors_with_a_clear_message() {
    assert!(matches!(
        parse_err("Foo.Bar()"),
        IntrinsicError::NotAnIntrinsic { .. }
    ));
    assert!(
        matches!(parse_err("States.Nope(1)"), IntrinsicError::UnknownFunction { name } if name == "States.Nope")
    );
    assert!(matches!(
        parse_err("States."),
        IntrinsicError::UnknownFunction { .. }
    ));
    assert!(matches!(
        parse_err("States.Format"),
        IntrinsicError::Syntax { .. }
    ));
    assert!(matches!(
        parse_err("States.Format ('x')"),
        IntrinsicError::Syntax { .. }
    ));
    assert!(matches!(
        parse_err("States.Format('x'"),
        IntrinsicError::Syntax { .. }
    ));
    assert!(matches!(
        parse_err("States.Format('x)"),
        IntrinsicError::UnterminatedString { offset: 14 }
    ));
    assert!(matches!(
        parse_err("States.Format('x\\"),
        IntrinsicError::InvalidEscape { .. }
    ));
    assert!(
        matches!(parse_err(r"States.Format('a\nb')"), IntrinsicError::InvalidEscape { found, .. } if found == "n")
    );
    assert!(matches!(
        parse_err("States.Format('x',)"),
        IntrinsicError::Syntax { .. }
    ));
    assert!(matches!(
        parse_err("States.Format(,'x')"),
        IntrinsicError::Syntax { .. }
    ));
    assert!(matches!(
        parse_err("States.Format('x' 'y')"),
        IntrinsicError::Syntax { .. }
    ));
    assert!(matches!(
        parse_err("States.Format('x'))"),
        IntrinsicError::Syntax { .. }
    ));
    assert!(matches!(
        parse_err("States.Format('x') junk"),
        IntrinsicError::Syntax { .. }
    ));
    assert!(matches!(
        parse_err("States.Array(1.2.3)"),
        IntrinsicError::InvalidNumber { .. }
    ));
    assert!(matches!(
        parse_err("States.Array(-)"),
        IntrinsicError::InvalidNumber { .. }
    ));
    assert!(matches!(
        parse_err("States.Array(1e999)"),
        IntrinsicError::InvalidNumber { .. }
    ));
    assert!(matches!(
        parse_err("States.Array(True)"),
        IntrinsicError::Syntax { .. }
    ));
    assert!(matches!(
        parse_err("States.Array(\"x\")"),
        IntrinsicError::Syntax { .. }
    ));
    assert!(matches!(
        parse_err("States.Array($.a[)"),
        IntrinsicError::InvalidPath { .. }
    ));
    assert!(matches!(
        parse_err("States.Array($.a['b)"),
        IntrinsicError::InvalidPath { .. }
    ));
    let e = parse_err("States.Array($.a b)");
    assert!(e.to_string().contains("expected ',' or ')'"), "{e}");
    assert!(Intrinsic::parse("States.Format('x')  ").is_ok());
}

#[test]
fn checks_arity() {
    let e = parse_err("States.ArrayGetItem($.a)");
    assert_eq!(
        e.to_string(),
        "States.ArrayGetItem takes exactly 2 arguments but was given 1"
    );
    assert!(
        parse_err("States.Format()")
            .to_string()
            .contains("at least 1 argument")
    );
    assert!(
        parse_err("States.UUID(1)")
            .to_string()
            .contains("exactly 0 arguments")
    );
    assert!(
        parse_err("States.MathRandom(1)")
            .to_string()
            .contains("2 to 3 arguments")
    );
    assert!(
        parse_err("States.MathRandom(1, 2, 3, 4)")
            .to_string()
            .contains("2 to 3 arguments")
    );
    assert!(Intrinsic::parse("States.MathRandom(1, 2)").is_ok());
    assert!(Intrinsic::parse("States.MathRandom(1, 2, 3)").is_ok());
    assert!(
        parse_err("States.JsonMerge($.a, $.b)")
            .to_string()
            .contains("exactly 3")
    );
    assert!(matches!(
        parse_err("States.Array(States.Nope())"),
        IntrinsicError::UnknownFunction { .. }
    ));
    assert!(matches!(
        parse_err("States.Array(States.ArrayLength())"),
        IntrinsicError::Arity { .. }
    ));
}

#[test]
fn limits_nesting_and_argument_count() {
    let nest = |depth: usize| format!("{}1{}", "States.Array(".repeat(depth), ")".repeat(depth));
    assert!(Intrinsic::parse(&nest(MAX_DEPTH)).is_ok());
    assert!(matches!(
        parse_err(&nest(MAX_DEPTH + 1)),
        IntrinsicError::TooDeep { .. }
    ));
    assert!(matches!(
        parse_err(&nest(100_000)),
        IntrinsicError::TooDeep { .. }
    ));
    let many = |n: usize| format!("States.Array({})", vec!["1"; n].join(","));
    assert!(Intrinsic::parse(&many(MAX_ARGUMENTS)).is_ok());
    assert!(matches!(
        parse_err(&many(MAX_ARGUMENTS + 1)),
        IntrinsicError::TooManyArguments { .. }
    ));
}

#[test]
fn resolves_input_context_and_variable_paths() {
    let context = json!({"StateMachine": {"Name": "my-state-machine-name"}, "Map": {"Item": {"Value": "Pikachu"}}});
    let mut vars = Variables::new();
    vars.insert("template".into(), json!("It's {}!"));
    vars.insert("obj".into(), json!({"k": [1, 2]}));
    let env = Env::new(&context, &vars, 0);
    let input = json!({"a": 5});
    let run = |src: &str| {
        Intrinsic::parse(src)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .evaluate(&input, &env)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
    };
    assert_eq!(
        run("States.Format($template, $$.Map.Item.Value)"),
        json!("It's Pikachu!")
    );
    assert_eq!(run("States.MathAdd($obj.k[1], $.a)"), json!(7));
    assert_eq!(
        run(
            "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))"
        ),
        json!("name")
    );
}

#[test]
fn indefinite_paths_give_the_array_of_matches() {
    let input = json!({"items": [{"id": 1}, {"id": 2}, {"x": 3}]});
    assert_eq!(
        eval("States.ArrayLength($.items[*].id)", input.clone()),
        json!(2)
    );
    assert_eq!(eval("States.Array($..id)", input), json!([[1, 2]]));
}

#[test]
fn a_path_matching_nothing_is_a_runtime_error() {
    let i = Intrinsic::parse("States.Format('{}', $.missing)").unwrap_or_else(|e| panic!("{e}"));
    let context = json!({});
    let vars = Variables::new();
    let env = Env::new(&context, &vars, 0);
    let e = i.evaluate(&json!({"a": 1}), &env).err();
    let e = e.unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(e.error, crate::names::RUNTIME);
    assert!(e.cause.contains("'$.missing'"), "{}", e.cause);
    let i = Intrinsic::parse("States.Format('{}', $nope)").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        i.evaluate(&json!({}), &env).map_err(|e| e.error),
        Err(crate::names::RUNTIME.to_owned())
    );
}

#[test]
fn failures_name_the_failing_call() {
    let cause = eval_err(
        "States.Array(States.ArrayGetItem($.a, 3))",
        json!({"a": [1]}),
    );
    assert_eq!(
        cause,
        "The function 'States.ArrayGetItem($.a, 3)' had the following error: The index 3 is out of bounds for an array of length 1"
    );
}

#[test]
fn results_and_intermediate_data_are_bounded() {
    // Every result is at most MAX_RESULT_BYTES.
    let big = "x".repeat(MAX_RESULT_BYTES);
    assert!(eval_err("States.JsonToString($.s)", json!({ "s": big })).contains("maximum size"));
    let items: Vec<u32> = (0..40_000).collect();
    assert!(
        eval_err("States.ArrayPartition($.a, 1)", json!({ "a": items })).contains("maximum size")
    );
    // The total data one evaluation produces is bounded too.
    let chunk = "y".repeat(MAX_RESULT_BYTES - 100);
    let src = format!(
        "States.Array({})",
        vec!["States.ArrayLength(States.Array($.s))"; 40].join(", ")
    );
    assert!(eval_err(&src, json!({ "s": chunk })).contains("intermediate data"));
}

#[test]
fn the_same_intrinsic_evaluates_many_times() {
    let i = Intrinsic::parse("States.MathAdd($.n, 1)").unwrap_or_else(|e| panic!("{e}"));
    let context = json!({});
    let vars = Variables::new();
    let env = Env::new(&context, &vars, 0);
    assert_eq!(
        Intrinsic::parse("States.MathAdd($.n, 1)").ok(),
        Some(i.clone())
    );
    assert_ne!(
        Intrinsic::parse("States.MathAdd($.n, 2)").ok(),
        Some(i.clone())
    );
    for n in 0..5 {
        assert_eq!(
            i.clone().evaluate(&json!({ "n": n }), &env).ok(),
            Some(json!(n + 1))
        );
    }
}

/// Arbitrary JSON values of bounded size and depth.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z{}\\\\'\" ,.=-]{0,12}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-c]{1,2}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Source text that is often close to a valid intrinsic.
fn arb_source() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = FUNCTIONS.iter().map(|f| f.name).collect();
    let token = prop_oneof![
        prop::sample::select(names).prop_map(|n| format!("{n}(")),
        Just("'".to_owned()),
        Just("\\".to_owned()),
        Just(",".to_owned()),
        Just(")".to_owned()),
        Just("(".to_owned()),
        Just("$.a".to_owned()),
        Just("$$.b".to_owned()),
        Just("$v".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{}".to_owned()),
        "-?[0-9]{1,3}(\\.[0-9])?(e[+-]?[0-9])?",
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just(" ".to_owned()),
        "\\PC{0,3}",
    ];
    prop::collection::vec(token, 0..16).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_text_never_panics(src in "\\PC{0,64}") {
        let _ = Intrinsic::parse(&src);
        let _ = is_intrinsic(&src);
    }

    #[test]
    fn parsing_and_evaluating_near_intrinsics_never_panics(src in arb_source(), a in arb_json(), b in arb_json()) {
        if let Ok(i) = Intrinsic::parse(&src) {
            let context = json!({ "b": b });
            let mut vars = Variables::new();
            vars.insert("v".into(), a.clone());
            let env = Env::new(&context, &vars, 7);
            let _ = i.evaluate(&json!({ "a": a }), &env);
        }
    }

    #[test]
    fn every_function_survives_arbitrary_arguments(
        f in 0..FUNCTIONS.len(),
        args in prop::collection::vec(arb_json(), 0..4),
    ) {
        let function = &FUNCTIONS[f];
        if function.arity.accepts(args.len()) {
            let vars = Variables::new();
            let context = json!({});
            let input = Value::Array(args.clone());
            let list: Vec<String> = (0..args.len()).map(|i| format!("$[{i}]")).collect();
            let src = format!("{}({})", function.name, list.join(", "));
            let i = Intrinsic::parse(&src).unwrap_or_else(|e| panic!("{src}: {e}"));
            let env = Env::new(&context, &vars, 3);
            match i.evaluate(&input, &env) {
                Ok(v) => prop_assert!(serialized_len(&v, MAX_RESULT_BYTES).is_some()),
                Err(e) => prop_assert!(e.error == crate::names::INTRINSIC_FAILURE, "{}", e),
            }
        }
    }
}

#[test]
fn arguments_take_a_dot_before_a_bracket() {
    let input = json!({"xs": [{"b": 1, "c": 2}], "a": {"k": "v"}});
    assert_eq!(
        eval("States.Array($.xs.[0].['b'], $.['a'].k)", input.clone()),
        json!([1, "v"])
    );
    assert_eq!(
        eval("States.ArrayLength($.xs.[*].['b','c'])", input),
        json!(1)
    );
}
