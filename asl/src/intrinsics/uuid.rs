//! Intrinsic for unique identifiers: `States.UUID`.

use super::Call;
use crate::error::StatesError;
use serde_json::Value;

/// `States.UUID()`: a version 4 UUID (lowercase, hyphenated) drawn from the
/// evaluation's random source.
pub(super) fn uuid(call: &Call<'_, '_>, _args: Vec<Value>) -> Result<Value, StatesError> {
    let high = (call.env.next_u64() & !0xf000) | 0x4000; // version 4
    let low = (call.env.next_u64() & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000; // RFC 4122 variant
    Ok(Value::String(format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )))
}

#[cfg(test)]
mod tests {
    use super::super::tests::eval_with_seed;
    use serde_json::json;

    fn is_v4(s: &str) -> bool {
        let groups: Vec<&str> = s.split('-').collect();
        let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        lens == [8, 4, 4, 4, 12]
            && s.chars()
                .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
            && groups[2].starts_with('4')
            && groups[3].starts_with(['8', '9', 'a', 'b'])
    }

    #[test]
    fn uuid_is_a_v4_uuid_and_deterministic_for_a_seed() {
        for seed in [0, 1, 42, u64::MAX] {
            let a = eval_with_seed("States.UUID()", json!({}), seed);
            let s = a.as_str().unwrap_or_default();
            assert!(is_v4(s), "{s}");
            assert_eq!(a, eval_with_seed("States.UUID()", json!({}), seed));
        }
        assert_ne!(
            eval_with_seed("States.UUID()", json!({}), 1),
            eval_with_seed("States.UUID()", json!({}), 2)
        );
        let two = eval_with_seed("States.Array(States.UUID(), States.UUID())", json!({}), 3);
        assert_ne!(two.get(0), two.get(1));
    }
}
