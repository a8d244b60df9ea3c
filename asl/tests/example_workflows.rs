//! Every ASL definition in `examples/workflows/` compiles without a diagnostic.

use std::fs;
use stepwise_asl::compile::{CompileOptions, compile_str};

#[test]
fn example_workflows_are_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/workflows");
    let mut n = 0;
    for entry in fs::read_dir(dir).expect("examples/workflows") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = fs::read_to_string(&path).expect("read");
        if let Err(e) = compile_str(&text, CompileOptions::default()) {
            panic!("{}: {e}", path.display());
        }
        n += 1;
    }
    assert!(n >= 6, "found only {n} workflows");
}

/// `data-processing-map`: numbers and numeric strings are kept and counted;
/// anything else (a word, null, a missing value) takes the Reject path and is
/// listed, not counted.
#[test]
fn data_processing_map_rejects_what_is_not_a_number() {
    use serde_json::json;
    use stepwise_asl::local::{LocalOptions, run};
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/workflows/data-processing-map.asl.json"
    );
    let machine = compile_str(
        &fs::read_to_string(path).expect("read"),
        CompileOptions::default(),
    )
    .expect("compiles");
    let input = json!({"records": [
        {"id": 1, "value": 3},
        {"id": 2, "value": "4.5"},
        {"id": 3, "value": "abc"},
        {"id": 4, "value": null},
        {"id": 5},
        {"id": 6, "value": " -7 "},
        {"id": 7, "value": "12abc"}
    ]});
    let r = run(&machine, input, LocalOptions::default());
    assert_eq!(
        r.output.expect("succeeds"),
        json!({"count": 3, "values": [3, 4.5, -7], "rejected": [3, 4, 5, 7]})
    );
    // The input file shipped beside it runs too.
    let input: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/workflows/inputs/data-processing-map.json"
        ))
        .expect("read the input file"),
    )
    .expect("JSON");
    let out = run(&machine, input, LocalOptions::default())
        .output
        .expect("succeeds");
    assert!(
        out["rejected"].as_array().is_some_and(|a| !a.is_empty()),
        "{out}"
    );
}
