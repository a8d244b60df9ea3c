//! Member names as Step Functions shows them: its optimized integrations
//! take and give PascalCase (`TaskDefinition`, `JobId`), while ECS and Batch
//! speak camelCase on the wire (`taskDefinition`, `jobId`).

use serde_json::{Map, Value};

/// Members whose values are maps of the user's own keys, kept as written.
const USER_MAPS: &[&str] = &["Parameters", "Tags", "parameters", "tags"];

/// `v` with every object key's first letter lowercased.
pub(super) fn to_camel(v: &Value) -> Value {
    convert(v, |k| {
        let mut c = k.chars();
        match c.next() {
            Some(f) => f.to_lowercase().chain(c).collect(),
            None => String::new(),
        }
    })
}

/// `v` with every object key's first letter uppercased.
pub(super) fn to_pascal(v: &Value) -> Value {
    convert(v, |k| {
        let mut c = k.chars();
        match c.next() {
            Some(f) => f.to_uppercase().chain(c).collect(),
            None => String::new(),
        }
    })
}

fn convert(v: &Value, f: impl Fn(&str) -> String + Copy) -> Value {
    match v {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, x) in o {
                let x = if USER_MAPS.contains(&k.as_str()) && x.is_object() {
                    x.clone()
                } else {
                    convert(x, f)
                };
                out.insert(f(k), x);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| convert(x, f)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn converts_members_but_not_the_users_own_keys() {
        let v = json!({"TaskDefinition": "t", "Overrides": {"ContainerOverrides": [{"Name": "x"}]},
                       "Parameters": {"MyKey": "v"}});
        assert_eq!(
            to_camel(&v),
            json!({"taskDefinition": "t", "overrides": {"containerOverrides": [{"name": "x"}]},
                   "parameters": {"MyKey": "v"}})
        );
        assert_eq!(
            to_pascal(&json!({"jobId": "j", "tags": {"k": 1}})),
            json!({"JobId": "j", "Tags": {"k": 1}})
        );
    }
}
