//! ARNs as AWS forms them, and resource names checked as AWS checks them.

/// The longest resource name AWS accepts.
pub const MAX_NAME_LEN: usize = 80;

/// Why a name was refused.
pub fn check_name(name: &str) -> Result<(), String> {
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_LEN {
        return Err(format!(
            "Invalid Name: '{name}' (must be 1 to {MAX_NAME_LEN} characters long)"
        ));
    }
    if let Some(c) = name.chars().find(|c| forbidden(*c)) {
        return Err(format!(
            "Invalid Name: '{name}' (the character {c:?} is not allowed)"
        ));
    }
    Ok(())
}

fn forbidden(c: char) -> bool {
    stepwise_asl::compile::is_forbidden_name_char(c)
}

/// Region and account used in every ARN this server makes.
#[derive(Debug, Clone)]
pub struct ArnScope {
    /// e.g. `us-east-1`.
    pub region: String,
    /// e.g. `123456789012`.
    pub account: String,
}

impl ArnScope {
    fn base(&self, kind: &str) -> String {
        format!("arn:aws:states:{}:{}:{kind}:", self.region, self.account)
    }
    /// `arn:aws:states:<region>:<account>:stateMachine:<name>`.
    pub fn state_machine(&self, name: &str) -> String {
        format!("{}{name}", self.base("stateMachine"))
    }
    /// `arn:aws:states:<region>:<account>:activity:<name>`.
    pub fn activity(&self, name: &str) -> String {
        format!("{}{name}", self.base("activity"))
    }
}

pub use stepwise_asl::arn::{ParsedArn, execution_arn_for, machine_of_execution, parse};

/// Whether `arn` is a state machine ARN (possibly with a version/alias suffix).
pub fn is_state_machine(arn: &str) -> bool {
    parse(arn).is_some_and(|p| p.kind == "stateMachine")
}

/// What a state machine ARN points at past the machine's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier<'a> {
    /// `...:stateMachine:<name>:<n>`: version `n`.
    Version(u64),
    /// `...:stateMachine:<name>:<alias>`.
    Alias(&'a str),
}

/// Splits a state machine ARN into the machine's own ARN and its version or
/// alias qualifier, if any; `None` if `arn` is no state machine ARN.
pub fn split_qualifier(arn: &str) -> Option<(&str, Option<Qualifier<'_>>)> {
    let p = parse(arn)?;
    if p.kind != "stateMachine" {
        return None;
    }
    match p.rest.split_once(':') {
        None => Some((arn, None)),
        Some((name, q)) if !name.is_empty() && !q.is_empty() && !q.contains(':') => {
            let base = &arn[..arn.len() - q.len() - 1];
            let qualifier = if q.bytes().all(|b| b.is_ascii_digit()) {
                Qualifier::Version(q.parse().ok()?)
            } else {
                Qualifier::Alias(q)
            };
            Some((base, Some(qualifier)))
        }
        Some(_) => None,
    }
}

/// The EXPRESS execution ARN (`:express:` instead of `:execution:`).
pub fn express_arn_for(machine_arn: &str, name: &str) -> String {
    machine_arn.replacen(":stateMachine:", ":express:", 1) + ":" + name
}

#[cfg(test)]
mod qualifier_tests {
    use super::*;

    #[test]
    fn qualified_state_machine_arns_split_into_machine_and_qualifier() {
        let m = "arn:aws:states:us-east-1:123456789012:stateMachine:orders";
        assert_eq!(split_qualifier(m), Some((m, None)));
        assert_eq!(
            split_qualifier(&format!("{m}:12")),
            Some((m, Some(Qualifier::Version(12))))
        );
        assert_eq!(
            split_qualifier(&format!("{m}:PROD")),
            Some((m, Some(Qualifier::Alias("PROD"))))
        );
        assert_eq!(split_qualifier(&format!("{m}:a:b")), None);
        assert_eq!(split_qualifier(&format!("{m}:")), None);
        assert_eq!(
            split_qualifier(&format!("{m}:99999999999999999999999")),
            None
        );
        assert_eq!(
            split_qualifier("arn:aws:states:us-east-1:123456789012:activity:x"),
            None
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("ok-name_1").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(&"x".repeat(81)).is_err());
        for bad in ["a b", "a:b", "a/b", "a*", "a\u{7}", "a\u{85}"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn arns() {
        let s = ArnScope {
            region: "us-east-1".into(),
            account: "123456789012".into(),
        };
        let m = s.state_machine("m");
        assert_eq!(m, "arn:aws:states:us-east-1:123456789012:stateMachine:m");
        let e = execution_arn_for(&m, "e");
        assert_eq!(e, "arn:aws:states:us-east-1:123456789012:execution:m:e");
        assert_eq!(machine_of_execution(&e).as_deref(), Some(m.as_str()));
        assert!(is_state_machine(&m));
        assert!(parse("nope").is_none());
        assert!(parse("arn:aws:states:us-east-1:1:activity:").is_none());
    }
}
