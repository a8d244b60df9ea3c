//! Amazon SQS: `sqs:sendMessage` (AWS JSON 1.0 protocol).

use super::aws;
use super::endpoints::SQS;
use super::{Integrations, as_text, missing};
use serde_json::{Value, json};
use stepwise_asl::StatesError;

/// `arn:aws:states:::sqs:sendMessage` (also `.waitForTaskToken`).
pub(super) async fn send_message(
    ig: &Integrations,
    region: &str,
    p: &Value,
) -> Result<Value, StatesError> {
    let mut body = match p {
        Value::Object(o) => o.clone(),
        _ => return Err(missing("sqs:sendMessage", "QueueUrl")),
    };
    if !body.contains_key("QueueUrl") {
        return Err(missing("sqs:sendMessage", "QueueUrl"));
    }
    // A JSON message body is sent as its text, as Step Functions does.
    let text = body.get("MessageBody").map(as_text);
    match text {
        Some(t) => body.insert("MessageBody".into(), json!(t)),
        None => return Err(missing("sqs:sendMessage", "MessageBody")),
    };
    let a = aws::json_call(
        ig,
        SQS,
        region,
        "AmazonSQS.SendMessage",
        "1.0",
        &Value::Object(body),
    )
    .await?;
    if !a.ok() {
        let (code, message) = aws::json_error(&a);
        let code = code
            .trim_start_matches("AWS.SimpleQueueService.")
            .to_owned();
        return Err(aws::service_error("SQS", "AmazonSQS", &a, &code, &message));
    }
    Ok(aws::with_metadata(&a, a.json()?))
}
