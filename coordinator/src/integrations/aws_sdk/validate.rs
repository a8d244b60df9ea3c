//! TestState's `mock.fieldValidationMode`: a mocked result checked against
//! the output shape of the API the Task calls (its service model), as AWS
//! does. `STRICT` (the default) checks the types, ranges, lengths and enum
//! values of the fields given and that the required ones are there;
//! `PRESENT` checks only the fields given; `NONE` checks nothing. Fields the
//! API does not have are let through in both.

use super::model::{Model, Models, Shape};
use serde_json::Value;
use stepwise_asl::resource::{self, Resource};

/// How a mocked result is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Strict,
    Present,
}

/// The service model and action of a Task resource, if a model describes it
/// (optimized integrations too: `states:startExecution` is `sfn`'s
/// `StartExecution`). `.sync` results are another shape: not checked.
fn api(resource: &str) -> Option<(&'static str, String)> {
    let (service, action) = match resource::parse(resource).ok()? {
        Resource::AwsSdk {
            service,
            action,
            pattern,
            ..
        }
        | Resource::Service {
            service,
            action,
            pattern,
            ..
        } if matches!(
            pattern,
            resource::Pattern::RequestResponse | resource::Pattern::WaitForTaskToken
        ) =>
        {
            (service, action)
        }
        _ => return None,
    };
    let service: &'static str = match service.as_str() {
        "states" | "sfn" => "sfn",
        "events" | "eventbridge" => "events",
        other => super::model::EMBEDDED
            .iter()
            .map(|(n, _)| *n)
            .find(|n| *n == other || n.replace('-', "") == other)?,
    };
    Some((service, action))
}

/// Checks a mocked result for the Task `resource`; the error is AWS's message.
pub fn check_mock(
    models: &Models,
    resource: &str,
    result: &Value,
    mode: Mode,
) -> Result<(), String> {
    let Some((service, action)) = api(resource) else {
        return Ok(());
    };
    let Ok(model) = models.get(service) else {
        return Ok(());
    };
    let Some(out) = model
        .operation(&action)
        .and_then(|op| op.output.as_ref())
        .and_then(|r| model.shape(&r.shape))
    else {
        return Ok(());
    };
    check(&model, out, None, result, mode, true)
        .map_err(|e| format!("Mock result schema validation error: {e}"))
}

fn check(
    model: &Model,
    s: &Shape,
    name: Option<&str>,
    v: &Value,
    mode: Mode,
    top: bool,
) -> Result<(), String> {
    let field = name.unwrap_or_default();
    let must = |what: &str| Err(format!("Field '{field}' must be {what}"));
    if s.document {
        return Ok(());
    }
    match s.kind.as_str() {
        "structure" => {
            let Value::Object(o) = v else {
                return must("an object");
            };
            for (mname, r) in &s.members {
                let key = r.pascal.as_str();
                let Some(ms) = model.shape(&r.shape) else {
                    continue;
                };
                match o.get(key) {
                    // A payload blob (Lambda's `Payload`, S3's `Body`) is
                    // shown as the JSON or text it carries.
                    Some(_) if s.payload.as_deref() == Some(mname.as_str()) && top => {}
                    Some(x) => check(model, ms, Some(key), x, mode, false)?,
                    None if mode == Mode::Strict && s.required.contains(mname) => {
                        return Err(format!("Required field '{key}' is missing"));
                    }
                    None => {}
                }
            }
            Ok(())
        }
        "list" => {
            let Value::Array(a) = v else {
                return must("an array");
            };
            if let Some(ms) = s.member.as_ref().and_then(|m| model.shape(&m.shape)) {
                for x in a {
                    check(model, ms, name, x, mode, false)?;
                }
            }
            Ok(())
        }
        "map" => {
            let Value::Object(o) = v else {
                return must("an object");
            };
            if let Some(ms) = s.value.as_ref().and_then(|m| model.shape(&m.shape)) {
                for x in o.values() {
                    check(model, ms, name, x, mode, false)?;
                }
            }
            Ok(())
        }
        "string" | "blob" | "timestamp" => {
            let Value::String(t) = v else {
                return must("a string");
            };
            if s.kind != "timestamp"
                && let Some(min) = s.min
                && (t.chars().count() as f64) < min
            {
                return Err(format!(
                    "Field '{field}' is smaller than the minimum length"
                ));
            }
            if let Some(values) = &s.values
                && !values.contains(t)
            {
                return Err(format!("Field '{field}' is not an expected value"));
            }
            Ok(())
        }
        "integer" | "long" | "float" | "double" => {
            let Some(n) = v.as_f64() else {
                return must("a number");
            };
            if s.min.is_some_and(|min| n < min) {
                return Err(format!("Field '{field}' is less than the minimum value"));
            }
            if s.max.is_some_and(|max| n > max) {
                return Err(format!("Field '{field}' exceeds the maximum value"));
            }
            Ok(())
        }
        "boolean" => match v {
            Value::Bool(_) => Ok(()),
            _ => must("a boolean"),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_it(resource: &str, v: Value, mode: Mode) -> Result<(), String> {
        check_mock(&Models::default(), resource, &v, mode)
    }

    #[test]
    fn types_ranges_lengths_enums_and_required_fields() {
        let sfn = "arn:aws:states:::states:startExecution";
        assert_eq!(
            check_it(sfn, json!({"executionArn": "a"}), Mode::Strict),
            Err(
                "Mock result schema validation error: Required field 'ExecutionArn' is missing"
                    .into()
            )
        );
        assert!(check_it(sfn, json!({}), Mode::Present).is_ok());
        assert_eq!(
            check_it(sfn, json!({"StartDate": 1}), Mode::Present),
            Err("Mock result schema validation error: Field 'StartDate' must be a string".into())
        );
        let lambda = "arn:aws:states:::aws-sdk:lambda:getFunction";
        assert_eq!(
            check_it(lambda, json!({"Configuration": {"MemorySize": 127}}), Mode::Strict),
            Err("Mock result schema validation error: Field 'MemorySize' is less than the minimum value".into())
        );
        let s3 = "arn:aws:states:::aws-sdk:s3:getObject";
        assert_eq!(
            check_it(s3, json!({"StorageClass": "Papyrus"}), Mode::Present),
            Err("Mock result schema validation error: Field 'StorageClass' is not an expected value".into())
        );
        assert!(
            check_it(
                s3,
                json!({"Body": {"a": 1}, "ContentLength": 3}),
                Mode::Strict
            )
            .is_ok()
        );
        let invoke = "arn:aws:states:::lambda:invoke";
        assert!(
            check_it(
                invoke,
                json!({"Payload": {"a": 1}, "StatusCode": 200}),
                Mode::Strict
            )
            .is_ok()
        );
        assert!(
            check_it(
                "arn:aws:states:::events:putEvents",
                json!({"random": 1}),
                Mode::Strict
            )
            .is_ok()
        );
        assert_eq!(
            check_it("arn:aws:states:::aws-sdk:kms:encrypt", json!({"CiphertextBlob": ""}), Mode::Strict),
            Err("Mock result schema validation error: Field 'CiphertextBlob' is smaller than the minimum length".into())
        );
    }
}
