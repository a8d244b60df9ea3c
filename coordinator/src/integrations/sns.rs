//! Amazon SNS: `sns:publish` (the AWS query protocol: a form in, XML out).

use super::aws::{self, Call};
use super::endpoints::SNS;
use super::{Integrations, as_text, encode_form};
use serde_json::{Map, Value, json};
use stepwise_asl::StatesError;

/// `arn:aws:states:::sns:publish` (also `.waitForTaskToken`). A JSON
/// `Message` is sent as its text.
pub(super) async fn publish(
    ig: &Integrations,
    region: &str,
    p: &Value,
) -> Result<Value, StatesError> {
    let mut form: Vec<(String, String)> = vec![
        ("Action".into(), "Publish".into()),
        ("Version".into(), "2010-03-31".into()),
    ];
    for field in [
        "TopicArn",
        "TargetArn",
        "PhoneNumber",
        "Message",
        "Subject",
        "MessageStructure",
        "MessageDeduplicationId",
        "MessageGroupId",
    ] {
        if let Some(v) = p.get(field).filter(|v| !v.is_null()) {
            form.push((field.to_owned(), as_text(v)));
        }
    }
    if let Some(attrs) = p.get("MessageAttributes").and_then(Value::as_object) {
        for (i, (name, v)) in attrs.iter().enumerate() {
            let at = format!("MessageAttributes.entry.{}", i + 1);
            form.push((format!("{at}.Name"), name.clone()));
            for field in ["DataType", "StringValue", "BinaryValue"] {
                if let Some(x) = v.get(field) {
                    form.push((format!("{at}.Value.{field}"), as_text(x)));
                }
            }
        }
    }
    let a = aws::send(
        ig,
        Call {
            service: SNS.into(),
            region,
            method: "POST",
            path: "/".into(),
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            )],
            body: encode_form(&form).into_bytes(),
        },
    )
    .await?;
    let text = String::from_utf8_lossy(&a.body).into_owned();
    if !a.ok() {
        let code = aws::xml_text(&text, "Code").unwrap_or_else(|| format!("Http{}", a.status));
        let message = aws::xml_text(&text, "Message").unwrap_or_default();
        let mut e = aws::service_error("SNS", "AmazonSNS", &a, &code, &message);
        if let Some(id) = aws::xml_text(&text, "RequestId") {
            e.cause = e
                .cause
                .replace("Request ID: ;", &format!("Request ID: {id};"));
        }
        return Err(e);
    }
    let mut out = Map::new();
    if let Some(id) = aws::xml_text(&text, "MessageId") {
        out.insert("MessageId".into(), json!(id));
    }
    if let Some(n) = aws::xml_text(&text, "SequenceNumber") {
        out.insert("SequenceNumber".into(), json!(n));
    }
    a.add_metadata(&mut out);
    if let Some(id) = aws::xml_text(&text, "RequestId") {
        out.insert("SdkResponseMetadata".into(), json!({"RequestId": id}));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_of_a_query_protocol_answer() {
        let ok = "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>";
        assert_eq!(aws::xml_text(ok, "MessageId").as_deref(), Some("m-1"));
        assert_eq!(aws::xml_text(ok, "RequestId").as_deref(), Some("r-1"));
        assert_eq!(aws::xml_text(ok, "SequenceNumber"), None);
        let err = "<ErrorResponse><Error><Code>NotFound</Code><Message>Topic &amp; more</Message></Error></ErrorResponse>";
        assert_eq!(
            aws::xml_text(err, "Message").as_deref(),
            Some("Topic & more")
        );
    }
}
