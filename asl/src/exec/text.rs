//! Event details as JSON text, written without intermediate values.

use serde_json::Value;

/// Sets `key` to the string `value`, reusing the string already there.
pub(super) fn set_text(o: &mut serde_json::Map<String, Value>, key: &str, value: &str) {
    match o.get_mut(key) {
        Some(Value::String(s)) => {
            s.clear();
            s.push_str(value);
        }
        _ => {
            o.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    }
}

/// Compact JSON text of a value.
pub fn to_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Appends `s` as a JSON string.
pub fn json_string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).ok();
}

/// Appends the compact JSON text of `v` as a JSON string (how events show
/// inputs and outputs): the same bytes as `json_string(out, &to_text(v))`,
/// without the intermediate string. The text is written in place, then
/// spread out from the back to make room for the escapes.
pub(super) fn json_text_string(out: &mut Vec<u8>, v: &Value) {
    // Compact JSON text holds control characters only escaped: quotes and
    // backslashes are all a JSON string needs escaped in it.
    let escaped = |b: u8| b == b'"' || b == b'\\';
    out.push(b'"');
    let start = out.len();
    serde_json::to_writer(&mut *out, v).ok();
    let extra = out[start..].iter().filter(|&&b| escaped(b)).count();
    if extra > 0 {
        let mut read = out.len();
        out.resize(read + extra, 0);
        let mut write = out.len();
        while read > start {
            read -= 1;
            let b = out[read];
            write -= 1;
            out[write] = b;
            if escaped(b) {
                write -= 1;
                out[write] = b'\\';
            }
        }
    }
    out.push(b'"');
}
