//! The README's SDK snippet is the minimal worker's code, word for word.

#[test]
fn the_readme_shows_the_minimal_workers_code() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let example =
        std::fs::read_to_string(format!("{root}/examples/worker/main.rs")).expect("the example");
    let code = &example[example
        .find("use serde::")
        .expect("the code after the doc comment")..];
    assert!(
        readme.contains(&format!("```rust\n{code}```\n")),
        "the README's worker snippet is not examples/worker/main.rs"
    );
}
