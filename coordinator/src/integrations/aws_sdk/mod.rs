//! `arn:aws:states:::aws-sdk:<service>:<action>`: any API of any service,
//! driven by AWS's own service models (`model`), serialized for the service's
//! protocol (`serialize`), signed with SigV4, and parsed back to JSON
//! (`parse`) as Step Functions shows it.
//!
//! Naming, as AWS documents it for SDK integrations: members in PascalCase
//! in and out; errors `<Service>.<ErrorName>`, the service named as AWS's
//! Java SDK names its client (`S3`, `DynamoDb`, `Sfn`, `SecretsManager`) and
//! the error with an `Exception` suffix added when it has none
//! (`S3.NoSuchKeyException`); an error code the model does not declare is
//! `<Service>.<Service>Exception` (`DynamoDb.DynamoDbException`).

pub mod model;
pub mod parse;
pub mod serialize;
pub mod validate;

use super::Integrations;
use super::aws::{self, Answer};
use model::{Model, ModelError};
use serde_json::{Map, Value};
use stepwise_asl::{StatesError, names};

/// `getObject` → `GetObject`; `stateMachineArn` → `StateMachineArn`.
pub fn pascal(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Percent-encodes a URL path segment or form value (RFC 3986 unreserved kept).
pub fn encode(s: &str) -> String {
    super::encode_segment(s)
}

/// The service's name in error names, as AWS's Java SDK names its client:
/// the service id's words, each capitalized and the rest lowercased
/// (`DynamoDB` → `DynamoDb`, `SFN` → `Sfn`, `Secrets Manager` → `SecretsManager`).
pub fn error_prefix(service_id: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for part in service_id.split([' ', '-', '_']).filter(|p| !p.is_empty()) {
        let chars: Vec<char> = part.chars().collect();
        let mut word = String::new();
        for (i, &c) in chars.iter().enumerate() {
            // A new word starts at an upper-case letter after a lower-case
            // one (`EventBridge`), or before a lower-case one in an
            // upper-case run (`DBInstance` → `DB`, `Instance`).
            let starts = i > 0
                && c.is_ascii_uppercase()
                && (chars[i - 1].is_ascii_lowercase()
                    || chars.get(i + 1).is_some_and(char::is_ascii_lowercase)
                        && chars[i - 1].is_ascii_uppercase());
            if starts && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            word.push(c);
        }
        words.push(word);
    }
    words
        .iter()
        .map(|w| pascal(&w.to_ascii_lowercase()))
        .collect()
}

/// The task failure for a service's error answer.
pub(in crate::integrations) fn service_error(model: &Model, a: &Answer) -> StatesError {
    let (code, message) = parse::error(a);
    let prefix = error_prefix(&model.metadata.service_id);
    let name = match model.error_shape(&code) {
        Some(shape) if shape.ends_with("Exception") => shape.to_owned(),
        Some(shape) => format!("{shape}Exception"),
        None => format!("{prefix}Exception"),
    };
    let mut cause = if message.is_empty() {
        code.clone()
    } else {
        message
    };
    cause.push_str(&format!(
        " (Service: {prefix}, Status Code: {}, Request ID: {}",
        a.status,
        a.request_id()
    ));
    if let Some(ext) = a.header("x-amz-id-2") {
        cause.push_str(&format!(", Extended Request ID: {ext}"));
    }
    cause.push(')');
    StatesError::new(format!("{prefix}.{name}"), cause)
}

fn failed(cause: impl Into<String>) -> StatesError {
    StatesError::new(names::TASK_FAILED, cause)
}

impl From<ModelError> for StatesError {
    fn from(e: ModelError) -> Self {
        failed(e.to_string())
    }
}

/// Makes an `aws-sdk:<service>:<action>` call.
pub(super) async fn call(
    ig: &Integrations,
    service: &str,
    action: &str,
    region: &str,
    params: &Value,
) -> Result<Value, StatesError> {
    let model = ig.models.get(service)?;
    let protocol = model.protocol().ok_or_else(|| {
        failed(format!(
            "The service model of '{service}' speaks {}, which this coordinator cannot",
            model.metadata.protocol
        ))
    })?;
    let op = model.operation(action).ok_or_else(|| {
        failed(format!(
            "The service '{service}' has no action '{action}' (its model lists {} actions)",
            model.operations.len()
        ))
    })?;
    let empty = Map::new();
    let params = match params {
        Value::Object(o) => o,
        Value::Null => &empty,
        other => {
            return Err(failed(format!(
                "The parameters of aws-sdk:{service}:{action} must be an object, not {other}"
            )));
        }
    };
    if let Some(input) = &op.input {
        serialize::check_fields(&model, &input.shape, params, "$")
            .map_err(|e| failed(format!("aws-sdk:{service}:{action}: {e}")))?;
    }
    let req = serialize::build(&model, protocol, op, params)
        .map_err(|e| failed(format!("aws-sdk:{service}:{action}: {e}")))?;
    let (mut base, is_aws) = ig.endpoints.sdk_url(
        service,
        &model.metadata.endpoint_prefix,
        &model.metadata.service_id,
        region,
        ig.self_url(),
    );
    // AWS serves some actions on a prefixed host (`sync-states...`); other
    // endpoints (this coordinator, emulators) serve them all on one.
    if is_aws
        && let Some(prefix) = op.endpoint.as_ref().and_then(|e| e.host_prefix.as_deref())
        && !prefix.contains('{')
    {
        base = base.replacen("https://", &format!("https://{prefix}"), 1);
    }
    let a = aws::send(
        ig,
        aws::Call {
            service: aws::Dest::Url {
                base,
                is_aws,
                signing_name: model.signing_name(),
                label: service,
            },
            region,
            method: &req.method,
            path: req.path,
            headers: req.headers,
            body: req.body,
        },
    )
    .await?;
    if !a.ok() {
        return Err(service_error(&model, &a));
    }
    parse::output(&model, protocol, op, &a).map_err(|e| {
        failed(format!(
            "The answer of {service}:{action} could not be read: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_prefixes_follow_the_java_sdk_client_names() {
        for (id, want) in [
            ("S3", "S3"),
            ("DynamoDB", "DynamoDb"),
            ("SFN", "Sfn"),
            ("Secrets Manager", "SecretsManager"),
            ("SSM", "Ssm"),
            ("EventBridge", "EventBridge"),
            ("EC2", "Ec2"),
            ("ACM PCA", "AcmPca"),
            ("Bedrock Runtime", "BedrockRuntime"),
            ("Lambda", "Lambda"),
            ("SQS", "Sqs"),
        ] {
            assert_eq!(error_prefix(id), want, "{id}");
        }
    }

    #[test]
    fn errors_are_named_with_the_exception_suffix() {
        let models = model::Models::default();
        let s3 = models.get("s3").unwrap();
        let a = Answer {
            status: 404,
            headers: vec![
                ("x-amz-request-id".into(), "r-1".into()),
                ("x-amz-id-2".into(), "x-2".into()),
            ],
            body: b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>".to_vec(),
        };
        let e = service_error(&s3, &a);
        assert_eq!(e.error, "S3.NoSuchKeyException");
        assert_eq!(
            e.cause,
            "The specified key does not exist. (Service: S3, Status Code: 404, Request ID: r-1, Extended Request ID: x-2)"
        );
        let ddb = models.get("dynamodb").unwrap();
        let a = Answer {
            status: 400,
            headers: vec![],
            body: br#"{"__type":"com.amazon.coral.validate#ValidationException","message":"bad"}"#
                .to_vec(),
        };
        assert_eq!(service_error(&ddb, &a).error, "DynamoDb.DynamoDbException");
        let a = Answer {
            status: 400,
            headers: vec![],
            body: br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"gone"}"#
                .to_vec(),
        };
        assert_eq!(
            service_error(&ddb, &a).error,
            "DynamoDb.ResourceNotFoundException"
        );
    }
}
