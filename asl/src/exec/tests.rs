//! Tests of the runtime: event details, variables across branches and iterations,
//! service tasks and mocked answers.

use super::text::json_text_string;
use super::*;
use crate::compile::{CompileOptions, compile};
use serde_json::json;

/// Runs a machine made only of Pass, Choice, Map and Parallel states to its end.
/// An event's details, parsed.
fn details(e: &NewEvent) -> Value {
    serde_json::from_str(&e.details).unwrap()
}

/// Inputs and outputs are written into the details in one pass, and a
/// state's input is the text its predecessor's exit wrote: the same
/// bytes as serializing each value to text and that text as a string.
#[test]
fn event_details_show_inputs_and_outputs_as_json_text() {
    let tricky = json!({"q": "say \"hi\"", "b": "back\\slash", "c": "tab\tnew\nline\u{1}", "u": "é 漢 🎉 \u{2028} </script>",
        "n": [1, 2.5, -0.0, 1e300, null, true], "e": {}, "a": []});
    for v in [
        tricky.clone(),
        json!("plain"),
        json!("\"\\"),
        json!(null),
        json!(7),
    ] {
        let mut out = Vec::new();
        json_text_string(&mut out, &v);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&to_text(&v)).unwrap()
        );
    }
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"k.$": "$.q"}, "Assign": {"x.$": "$.k"}, "Next": "C"},
        "C": {"Type": "Pass", "End": true}}});
    let (_, events) = run(def, tricky.clone());
    let text =
        |e: &NewEvent, key: &str, field: &str| details(e)[key][field].as_str().unwrap().to_owned();
    let parsed = |s: String| serde_json::from_str::<Value>(&s).unwrap();
    assert_eq!(
        types(&events),
        [
            "PassStateEntered",
            "PassStateExited",
            "PassStateEntered",
            "PassStateExited",
            "PassStateEntered",
            "PassStateExited"
        ]
    );
    assert_eq!(
        parsed(text(&events[0], "stateEnteredEventDetails", "input")),
        tricky
    );
    assert_eq!(
        parsed(text(&events[1], "stateExitedEventDetails", "output")),
        tricky
    );
    assert_eq!(
        parsed(text(&events[2], "stateEnteredEventDetails", "input")),
        tricky
    );
    assert_eq!(
        parsed(text(&events[3], "stateExitedEventDetails", "output")),
        json!({"k": "say \"hi\""})
    );
    assert_eq!(
        parsed(text(&events[4], "stateEnteredEventDetails", "input")),
        json!({"k": "say \"hi\""})
    );
    assert_eq!(
        details(&events[3])["stateExitedEventDetails"]["assignedVariables"],
        json!({"x": to_text(&json!("say \"hi\""))})
    );
    // Byte for byte what a `json!` rendering of the same details gives.
    let expected = json!({"stateEnteredEventDetails": {"name": "B", "input": to_text(&tricky), "inputDetails": {"truncated": false}}});
    assert_eq!(events[2].details, to_text(&expected));
    let expected = json!({"stateExitedEventDetails": {"name": "B", "output": to_text(&json!({"k": "say \"hi\""})),
        "outputDetails": {"truncated": false}, "assignedVariables": {"x": to_text(&json!("say \"hi\""))},
        "assignedVariablesDetails": {"truncated": false}}});
    assert_eq!(events[3].details, to_text(&expected));
}

fn run(def: Value, input: Value) -> (Runtime, Vec<NewEvent>) {
    let m = compile(&def, CompileOptions::default()).unwrap();
    let mut rt = Runtime::new(&m, input, 0, 1);
    let (events, _) = drive_with(&m, &mut rt, 0, None, |rt, cx| rt.drive(cx));
    (rt, events)
}

fn types(events: &[NewEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_type).collect()
}

#[test]
fn map_iterations_read_outer_variables_and_keep_their_writes() {
    let (rt, events) = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
            "Init": {"Type": "Pass", "Assign": {"x": 42}, "Next": "M"},
            "M": {"Type": "Map", "Items": [1, 2], "MaxConcurrency": 1, "Next": "Final",
                "ItemProcessor": {"StartAt": "Inner", "States": {
                    "Inner": {"Type": "Pass",
                        "Output": {"x": "{% $x %}", "leak": "{% $exists($seen) %}"},
                        "Assign": {"x": "{% $x + $states.input %}", "seen": true}, "End": true}}}},
            "Final": {"Type": "Pass", "Output": {"x": "{% $x %}", "results": "{% $states.input %}",
                "seen": "{% $exists($seen) %}"}, "End": true}}}),
        json!({}),
    );
    assert_eq!(
        rt.result(),
        Some(&Ok(json!({"x": 42, "seen": false,
            "results": [{"x": 42, "leak": false}, {"x": 42, "leak": false}]})))
    );
    let exited = events
        .iter()
        .find(|e| e.event_type == "PassStateExited")
        .unwrap();
    assert_eq!(
        details(exited)["stateExitedEventDetails"]["assignedVariables"],
        json!({"x": "42"})
    );
}

#[test]
fn parallel_branches_do_not_see_each_others_variables() {
    let (rt, _) = run(
        json!({"StartAt": "Init", "States": {
            "Init": {"Type": "Pass", "Assign": {"x": 1}, "Next": "P"},
            "P": {"Type": "Parallel", "Next": "Final", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"a": "A"}, "Next": "A2"},
                    "A2": {"Type": "Pass", "Parameters": {"x.$": "$x", "a.$": "$a"}, "End": true}}},
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Assign": {"x": 2}, "Next": "B2"},
                    "B2": {"Type": "Pass", "Parameters": {"x.$": "$x"}, "End": true}}}]},
            "Final": {"Type": "Pass", "Parameters": {"x.$": "$x", "branches.$": "$"}, "End": true}}}),
        json!({}),
    );
    assert_eq!(
        rt.result(),
        Some(&Ok(
            json!({"x": 1, "branches": [{"x": 1, "a": "A"}, {"x": 2}]})
        ))
    );
}

#[test]
fn jsonata_failures_record_evaluation_failed() {
    let (rt, events) = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {
            "M": {"Type": "Map", "Items": "{% 'string' %}", "End": true,
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}}),
        json!({}),
    );
    assert_eq!(
        types(&events),
        ["MapStateEntered", "EvaluationFailed", "MapStateFailed"]
    );
    let details = &details(&events[1])["evaluationFailedEventDetails"];
    assert_eq!(details["location"], json!("Items"));
    assert_eq!(details["state"], json!("M"));
    assert_eq!(details["error"], json!("States.QueryEvaluationError"));
    let Some(Err(e)) = rt.result() else { panic!() };
    assert_eq!(e.error, "States.QueryEvaluationError");
}

fn drive_with(
    m: &StateMachine,
    rt: &mut Runtime,
    now: i64,
    mock: Option<MockFn<'_>>,
    op: impl FnOnce(&mut Runtime, &mut Cx<'_>),
) -> (Vec<NewEvent>, Vec<Request>) {
    let mut context = json!({"Execution": {"Id": "arn:x"}});
    let arn = "arn:aws:states:us-east-1:123456789012:execution:m:e";
    let mut cx = Cx::detached(m, &mut context, arn, now);
    cx.mock = mock;
    op(rt, &mut cx);
    (cx.events, cx.requests)
}

#[test]
fn a_service_task_records_its_start_and_asks_for_the_call() {
    let m = compile(
        &json!({"StartAt": "Q", "States": {"Q": {"Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "q", "MessageBody": {"t.$": "$$.Task.Token"}}, "End": true}}}),
        CompileOptions::default(),
    )
    .unwrap();
    let mut rt = Runtime::new(&m, json!({}), 0, 1);
    let (events, requests) = drive_with(&m, &mut rt, 0, None, |rt, cx| rt.drive(cx));
    let types: Vec<_> = events.iter().map(|e| e.event_type).collect();
    assert_eq!(types, ["TaskStateEntered", "TaskScheduled", "TaskStarted"]);
    let scheduled: Value = serde_json::from_str(&events[1].details).unwrap();
    assert_eq!(
        scheduled["taskScheduledEventDetails"]["resourceType"],
        "sqs"
    );
    assert_eq!(
        scheduled["taskScheduledEventDetails"]["resource"],
        "sendMessage.waitForTaskToken"
    );
    let call = requests
        .iter()
        .find_map(|r| match r {
            Request::Integration(c) => Some(c.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(call.token.as_deref(), Some("token-3"));
    assert_eq!(call.parameters["MessageBody"]["t"], "token-3");
    // The call was made: TaskSubmitted, then the token's answer ends it.
    let (events, _) = drive_with(&m, &mut rt, 0, None, |rt, cx| {
        assert!(rt.task_submitted(cx, 3, &json!({"MessageId": "m"})));
        assert!(rt.task_result(cx, 3, Ok(json!({"ok": true}))));
    });
    let types: Vec<_> = events.iter().map(|e| e.event_type).collect();
    assert_eq!(types, ["TaskSubmitted", "TaskSucceeded", "TaskStateExited"]);
    assert_eq!(rt.result(), Some(&Ok(json!({"ok": true}))));
    assert!(rt.pending_service_calls().is_empty());
}

#[test]
fn a_mocked_function_answers_its_payload_by_invocation() {
    let m = compile(
        &json!({"StartAt": "L", "States": {"L": {"Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 3}], "End": true}}}),
        CompileOptions::default(),
    )
    .unwrap();
    let mut rt = Runtime::new(&m, json!({}), 0, 1);
    let mock = |state: &str, n: u32| {
        assert_eq!(state, "L");
        Some(if n < 2 {
            Err(StatesError::new("Boom", "c"))
        } else {
            Ok(json!({"StatusCode": 200, "Payload": {"n": n}}))
        })
    };
    let mut all = Vec::new();
    let (events, mut requests) = drive_with(&m, &mut rt, 0, Some(&mock), |rt, cx| rt.drive(cx));
    all.extend(events);
    // Deliver mocked answers as the engine does, firing retry timers.
    for step in 1..10 {
        let now = step * 1000;
        let Some(Request::Deliver {
            scheduled_id,
            result,
        }) = requests
            .iter()
            .find(|r| matches!(r, Request::Deliver { .. }))
            .cloned()
        else {
            let (events, next) =
                drive_with(&m, &mut rt, now, Some(&mock), |rt, cx| rt.fire_timers(cx));
            all.extend(events);
            requests = next;
            if rt.result().is_some() {
                break;
            }
            continue;
        };
        let (events, next) = drive_with(&m, &mut rt, now, Some(&mock), |rt, cx| {
            rt.task_result(cx, scheduled_id, result);
        });
        all.extend(events);
        requests = next;
    }
    assert_eq!(rt.result(), Some(&Ok(json!({"n": 2}))));
    let failed = all
        .iter()
        .filter(|e| e.event_type == "LambdaFunctionFailed")
        .count();
    assert_eq!(failed, 2);
    assert_eq!(rt.mock_calls.get("L"), Some(&3));
}
