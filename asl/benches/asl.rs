//! Micro-benchmarks of the language: path evaluation, `Parameters` with
//! intrinsics, Choice evaluation, and one Pass transition end to end.
//! Run: `cargo bench -p stepwise-asl`.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use std::hint::black_box;
use stepwise_asl::choice::ChoiceRule;
use stepwise_asl::compile::{CompileOptions, compile};
use stepwise_asl::env::{Env, Variables};
use stepwise_asl::local::{LocalOptions, run};
use stepwise_asl::path::Path;
use stepwise_asl::step::{StepContext, enter};
use stepwise_asl::template::Template;

fn benches(c: &mut Criterion) {
    let input = json!({"order": {"id": "o-1", "lines": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}], "total": 42.5},
                       "customer": {"name": "Ada", "tier": "gold"}});
    let ctx = json!({"Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:m:e", "Name": "e"}});
    let vars = Variables::new();
    let env = Env::new(&ctx, &vars, 1);

    let p = Path::parse("$.order.lines[1].sku").unwrap();
    c.bench_function("path/reference", |b| {
        b.iter(|| black_box(p.select(black_box(&input), &env)))
    });
    let q = Path::parse("$.order.lines[?(@.qty > 1)].sku").unwrap();
    c.bench_function("path/filter", |b| {
        b.iter(|| black_box(q.select(black_box(&input), &env)))
    });

    let t = Template::compile(&json!({
        "id.$": "$.order.id",
        "label.$": "States.Format('{} ({})', $.customer.name, $.customer.tier)",
        "count.$": "States.ArrayLength($.order.lines)",
        "fixed": {"a": 1}
    }))
    .unwrap();
    c.bench_function("parameters/intrinsics", |b| {
        b.iter(|| black_box(t.evaluate(black_box(&input), &env)))
    });

    let rule = ChoiceRule::compile(
        &json!({"And": [{"Variable": "$.customer.tier", "StringEquals": "gold"}, {"Variable": "$.order.total", "NumericGreaterThan": 40}], "Next": "X"}),
        true,
        "",
    )
    .unwrap();
    c.bench_function("choice/and", |b| {
        b.iter(|| black_box(rule.evaluate(black_box(&input), &env)))
    });

    let m = compile(
        &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"id.$": "$.order.id", "n": 1}, "ResultPath": "$.out", "Next": "Q"},
            "Q": {"Type": "Succeed"}}}),
        CompileOptions::default(),
    )
    .unwrap();
    let state = m.state("P").unwrap();
    let small = json!({"order": {"id": "o-1"}});
    let sc = StepContext {
        context: &ctx,
        vars: &vars,
        entered_event_id: 2,
        seed: 1,
        inspect: None,
        item_reader_data: None,
    };
    c.bench_function("transition/pass_small_transform", |b| {
        b.iter(|| black_box(enter(state, black_box(&small), &[], &sc)))
    });

    // A whole execution in process: 10 Pass states with a small transform, the
    // same definition and input as `bench/peers/aws-local-stepfunctions.mjs`
    // runs on the TypeScript interpreter (divide by 10 for one transition).
    // `local::run` drives `exec`, the coordinator's runtime, events and their
    // details included: this is the server's decide cost without its I/O.
    let chain = compile(&pass10_definition(), CompileOptions::default()).unwrap();
    let chain_input = json!({"id": 1, "payload": {"a": [1, 2, 3]}});
    c.bench_function("local/pass10_execution", |b| {
        b.iter(|| {
            black_box(run(
                &chain,
                black_box(chain_input.clone()),
                LocalOptions::default(),
            ))
        })
    });
}

/// Ten Pass states, each with `Parameters` {step, id.$, payload.$} (the result replaces the input).
fn pass10_definition() -> serde_json::Value {
    let mut states = serde_json::Map::new();
    for i in 0..10 {
        let mut s = json!({"Type": "Pass", "Parameters": {"step": i, "id.$": "$.id", "payload.$": "$.payload"}});
        if i == 9 {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("P{}", i + 1));
        }
        states.insert(format!("P{i}"), s);
    }
    json!({"StartAt": "P0", "States": states})
}

criterion_group!(asl, benches);
criterion_main!(asl);
