//! ARNs of this service (`arn:<partition>:states:<region>:<account>:<kind>:<rest>`):
//! the pieces the runtime needs to name child executions and Map runs. Pure
//! string work; the coordinator builds its own ARNs on top of these.

/// The kind and parts of an ARN of this service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedArn<'a> {
    /// `stateMachine`, `execution`, `express`, `activity`, `mapRun`...
    pub kind: &'a str,
    /// What follows the kind (`name`, or `machine:execution`).
    pub rest: &'a str,
}

/// Parses `arn:<partition>:states:<region>:<account>:<kind>:<rest>`.
pub fn parse(arn: &str) -> Option<ParsedArn<'_>> {
    let mut it = arn.splitn(7, ':');
    let (a, _partition, service, _region, _account, kind, rest) = (
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    );
    if a != "arn" || service != "states" || kind.is_empty() || rest.is_empty() {
        return None;
    }
    Some(ParsedArn { kind, rest })
}

/// The execution ARN for machine `machine_arn` and execution `name`.
pub fn execution_arn_for(machine_arn: &str, name: &str) -> String {
    machine_arn.replacen(":stateMachine:", ":execution:", 1) + ":" + name
}

/// The machine ARN an execution ARN belongs to.
pub fn machine_of_execution(execution_arn: &str) -> Option<String> {
    let p = parse(execution_arn)?;
    if p.kind != "execution" && p.kind != "express" {
        return None;
    }
    let (machine, _exec) = p.rest.rsplit_once(':')?;
    let machine = machine.split(':').next()?;
    let prefix = execution_arn.split(&format!(":{}:", p.kind)).next()?;
    Some(format!("{prefix}:stateMachine:{machine}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_and_machine_arns_map_onto_each_other() {
        let m = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
        let e = execution_arn_for(m, "e");
        assert_eq!(e, "arn:aws:states:us-east-1:123456789012:execution:m:e");
        assert_eq!(machine_of_execution(&e).as_deref(), Some(m));
        let x = "arn:aws:states:us-east-1:123456789012:express:m:e";
        assert_eq!(machine_of_execution(x).as_deref(), Some(m));
        assert_eq!(machine_of_execution(m), None);
        assert!(parse("nope").is_none());
        assert!(parse("arn:aws:states:us-east-1:1:activity:").is_none());
    }
}
