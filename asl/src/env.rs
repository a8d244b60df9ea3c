//! What an evaluation may read besides its input: the context object (`$$`),
//! workflow variables (`$name`) and a deterministic random source.

use serde_json::{Map, Value};
use std::cell::Cell;

/// A time in the form of the context object's timestamps
/// (`$$.Execution.StartTime`, `$$.State.EnteredTime`): `2024-01-02T03:04:05.678Z`.
pub fn iso8601(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Workflow variables visible to a state (`$name` in paths and intrinsics).
pub type Variables = Map<String, Value>;

/// The evaluation environment for paths, templates, intrinsics and Choice rules.
///
/// Nothing in `stepwise-asl` reads a clock or an OS random source: the caller
/// passes the context object (which holds the times) and a seed.
#[derive(Debug)]
pub struct Env<'a> {
    /// The context object, `$$` (Execution, State, StateMachine, Task, Map.Item).
    pub context: &'a Value,
    /// The variables in scope.
    pub vars: &'a Variables,
    rng: Cell<u64>,
}

impl<'a> Env<'a> {
    /// Creates an environment. `seed` drives `States.UUID` and `States.MathRandom`.
    pub fn new(context: &'a Value, vars: &'a Variables, seed: u64) -> Self {
        Self {
            context,
            vars,
            rng: Cell::new(seed),
        }
    }

    /// The next pseudo-random 64-bit number (splitmix64): deterministic for a seed.
    pub fn next_u64(&self) -> u64 {
        let mut z = self.rng.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.rng.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A pseudo-random float in `[0, 1)`.
    pub fn next_f64(&self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
