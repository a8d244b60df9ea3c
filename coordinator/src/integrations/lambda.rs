//! AWS Lambda: `lambda:invoke` (output in Step Functions' shape) and Task
//! states whose `Resource` is a function ARN (output: the function's result).

use super::aws::{self, Answer, Call};
use super::endpoints::LAMBDA;
use super::{Integrations, encode_segment, missing};
use serde_json::{Map, Value, json};
use stepwise_asl::StatesError;

/// `arn:aws:states:::lambda:invoke`.
pub(super) async fn invoke(
    ig: &Integrations,
    region: &str,
    p: &Value,
) -> Result<Value, StatesError> {
    let function = p
        .get("FunctionName")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("lambda:invoke", "FunctionName"))?;
    let a = call(ig, region, function, p.get("Payload"), p).await?;
    let payload = parse_payload(&a.body);
    if let Some(e) = function_error(&a, &payload) {
        return Err(e);
    }
    let mut out = Map::new();
    out.insert(
        "ExecutedVersion".into(),
        json!(a.header("x-amz-executed-version").unwrap_or("$LATEST")),
    );
    if let Some(l) = a.header("x-amz-log-result") {
        out.insert("LogResult".into(), json!(l));
    }
    out.insert("Payload".into(), payload);
    a.add_metadata(&mut out);
    out.insert("StatusCode".into(), json!(a.status));
    Ok(Value::Object(out))
}

/// A Task whose `Resource` is the function's ARN: its input is the payload,
/// its result the function's.
pub(super) async fn invoke_function(
    ig: &Integrations,
    arn: &str,
    region: &str,
    input: &Value,
) -> Result<Value, StatesError> {
    let a = call(ig, region, arn, Some(input), &Value::Null).await?;
    let payload = parse_payload(&a.body);
    match function_error(&a, &payload) {
        Some(e) => Err(e),
        None => Ok(payload),
    }
}

async fn call(
    ig: &Integrations,
    region: &str,
    function: &str,
    payload: Option<&Value>,
    p: &Value,
) -> Result<Answer, StatesError> {
    let mut path = format!(
        "/2015-03-31/functions/{}/invocations",
        encode_segment(function)
    );
    if let Some(q) = p.get("Qualifier").and_then(Value::as_str) {
        path.push_str("?Qualifier=");
        path.push_str(&encode_segment(q));
    }
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    for (field, header) in [
        ("InvocationType", "x-amz-invocation-type"),
        ("LogType", "x-amz-log-type"),
        ("ClientContext", "x-amz-client-context"),
    ] {
        if let Some(v) = p.get(field).and_then(Value::as_str) {
            headers.push((header.to_owned(), v.to_owned()));
        }
    }
    let body = match payload {
        None => Vec::new(),
        Some(v) => serde_json::to_vec(v).unwrap_or_default(),
    };
    let a = aws::send(
        ig,
        Call {
            service: LAMBDA.into(),
            region,
            method: "POST",
            path,
            headers,
            body,
        },
    )
    .await?;
    if !a.ok() {
        let (code, message) = aws::json_error(&a);
        return Err(aws::service_error(
            "Lambda",
            "AWSLambda",
            &a,
            &code,
            &message,
        ));
    }
    Ok(a)
}

/// The payload as JSON, or as a string when it is not JSON.
fn parse_payload(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::String(String::new());
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// The task failure for a function that raised: its `errorType` (or
/// `Lambda.Unknown`), with the whole payload as the cause.
fn function_error(a: &Answer, payload: &Value) -> Option<StatesError> {
    a.header("x-amz-function-error")?;
    let error = payload
        .get("errorType")
        .and_then(Value::as_str)
        .unwrap_or("Lambda.Unknown")
        .to_owned();
    let cause = match payload {
        Value::String(s) => s.clone(),
        v => serde_json::to_string(v).unwrap_or_default(),
    };
    Some(StatesError::new(error, cause))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_error_is_named_by_its_error_type() {
        let a = Answer {
            status: 200,
            headers: vec![("X-Amz-Function-Error".into(), "Unhandled".into())],
            body: br#"{"errorType":"ValueError","errorMessage":"bad"}"#.to_vec(),
        };
        let e = function_error(&a, &parse_payload(&a.body)).unwrap();
        assert_eq!(e.error, "ValueError");
        assert_eq!(
            e.cause,
            r#"{"errorType":"ValueError","errorMessage":"bad"}"#
        );
        let ok = Answer {
            status: 200,
            headers: vec![],
            body: b"not json".to_vec(),
        };
        assert!(function_error(&ok, &parse_payload(&ok.body)).is_none());
        assert_eq!(parse_payload(&ok.body), json!("not json"));
    }
}
