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
