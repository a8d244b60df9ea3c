//! Validation problems, each with the JSON pointer of the offending field, in
//! the shape AWS returns from `ValidateStateMachineDefinition` and inside an
//! `InvalidDefinition` message.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The diagnostic codes AWS Step Functions uses.
pub mod codes {
    /// The definition does not follow the language's schema or rules.
    pub const SCHEMA_VALIDATION_FAILED: &str = "SCHEMA_VALIDATION_FAILED";
    /// The definition is not JSON.
    pub const INVALID_JSON_DESCRIPTION: &str = "INVALID_JSON_DESCRIPTION";
    /// A `Next`, `Default` or `StartAt` names a state that does not exist.
    pub const MISSING_TRANSITION_TARGET: &str = "MISSING_TRANSITION_TARGET";
    /// A state cannot be reached from `StartAt`.
    pub const UNREACHABLE_STATE: &str = "UNREACHABLE_STATE";
    /// No state ends the machine.
    pub const NO_TERMINAL_STATE: &str = "NO_TERMINAL_STATE";
    /// A state is defined twice or a name is used twice across nested machines.
    pub const DUPLICATE_STATE_NAME: &str = "DUPLICATE_STATE_NAME";
    /// A `{% ... %}` expression does not parse.
    pub const INVALID_JSONATA_EXPRESSION: &str = "INVALID_JSONATA_EXPRESSION";
    /// `States.ALL` is not alone and last.
    pub const INVALID_ERROR_EQUALS: &str = "SCHEMA_VALIDATION_FAILED";
}

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// The AWS diagnostic code, e.g. `SCHEMA_VALIDATION_FAILED`.
    pub code: String,
    /// What is wrong and what was expected.
    pub message: String,
    /// JSON pointer of the offending field, e.g. `/States/ChargeCard/Retry/0/ErrorEquals`.
    pub location: String,
}

impl Diagnostic {
    /// A `SCHEMA_VALIDATION_FAILED` diagnostic at `location`.
    pub fn schema(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(codes::SCHEMA_VALIDATION_FAILED, location, message)
    }

    /// A diagnostic with an explicit code.
    pub fn new(code: &str, location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            location: location.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}", self.code, self.message)
        } else {
            write!(f, "{}: {} at {}", self.code, self.message, self.location)
        }
    }
}

/// Appends a key to a JSON pointer, escaping `~` and `/` as RFC 6901 requires.
pub fn pointer(base: &str, key: &str) -> String {
    let escaped = key.replace('~', "~0").replace('/', "~1");
    if base == "/" || base.is_empty() {
        format!("/{escaped}")
    } else {
        format!("{base}/{escaped}")
    }
}

/// Every problem found in a definition; `Display` gives the text AWS puts in
/// an `InvalidDefinition` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DefinitionError {
    /// The problems, in the order they were found.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Invalid State Machine Definition: '")?;
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "'")
    }
}
