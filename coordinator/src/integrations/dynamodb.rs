//! Amazon DynamoDB: `dynamodb:getItem`, `putItem`, `updateItem` and
//! `deleteItem` (AWS JSON 1.0 protocol; typed attribute values in and out,
//! as the API takes and gives them).

use super::Integrations;
use super::aws;
use super::endpoints::DYNAMODB;
use serde_json::Value;
use stepwise_asl::{StatesError, names};

/// `arn:aws:states:::dynamodb:<action>`.
pub(super) async fn call(
    ig: &Integrations,
    region: &str,
    action: &str,
    p: &Value,
) -> Result<Value, StatesError> {
    let operation = match action {
        "getItem" => "GetItem",
        "putItem" => "PutItem",
        "updateItem" => "UpdateItem",
        "deleteItem" => "DeleteItem",
        other => {
            return Err(StatesError::new(
                names::TASK_FAILED,
                format!("dynamodb:{other} is not an optimized integration"),
            ));
        }
    };
    let target = format!("DynamoDB_20120810.{operation}");
    let a = aws::json_call(ig, DYNAMODB, region, &target, "1.0", p).await?;
    if !a.ok() {
        let (code, message) = aws::json_error(&a);
        // Request validation errors surface under the service's generic name.
        let name = if code == "ValidationException" {
            "AmazonDynamoDBException"
        } else {
            code.as_str()
        };
        let mut e = aws::service_error("DynamoDB", "AmazonDynamoDBv2", &a, &code, &message);
        e.error = format!("DynamoDB.{name}");
        return Err(e);
    }
    Ok(aws::with_metadata(&a, a.json()?))
}
