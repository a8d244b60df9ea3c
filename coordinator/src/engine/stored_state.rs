//! Reading an execution's stored runtime state back (at start).

use super::runtime::Runtime;

/// How deeply stored runtime state may nest when read back: deeper than the
/// 128 levels serde_json allows by default, since the state wraps values the
/// API accepted at up to 127 levels, but bounded so that reading it cannot
/// overflow the stack.
const MAX_RUNTIME_DEPTH: usize = 1024;

/// Reads an execution's stored runtime state.
pub(super) fn read_runtime(text: &str) -> Result<Runtime, String> {
    use serde::Deserialize as _;
    let depth = json_depth(text);
    if depth > MAX_RUNTIME_DEPTH {
        return Err(format!(
            "nested {depth} levels deep, more than {MAX_RUNTIME_DEPTH}"
        ));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let rt = Runtime::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(rt)
}

/// The deepest nesting of arrays and objects in JSON text (strings skipped).
fn json_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_skips_strings() {
        assert_eq!(json_depth("[]"), 1);
        assert_eq!(json_depth(r#"{"a":[{"b":"[[[[\"]]"}]}"#), 3);
        assert_eq!(
            json_depth(&format!("{}{}", "[".repeat(2000), "]".repeat(2000))),
            2000
        );
        let deep = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
        assert!(read_runtime(&deep).unwrap_err().contains("2000 levels"));
    }
}
