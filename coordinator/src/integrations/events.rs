//! Amazon EventBridge: `events:putEvents` (AWS JSON 1.1 protocol).

use super::aws;
use super::endpoints::EVENTS;
use super::{Integrations, as_text, missing};
use serde_json::{Value, json};
use stepwise_asl::StatesError;

/// `arn:aws:states:::events:putEvents` (also `.waitForTaskToken`). A JSON
/// `Detail` is sent as its text; an entry the bus refuses fails the task
/// with `EventBridge.FailedEntry`.
pub(super) async fn put_events(
    ig: &Integrations,
    region: &str,
    p: &Value,
) -> Result<Value, StatesError> {
    let Some(entries) = p.get("Entries").and_then(Value::as_array) else {
        return Err(missing("events:putEvents", "Entries"));
    };
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if let Some(d) = e.get("Detail").map(as_text) {
                e["Detail"] = json!(d);
            }
            e
        })
        .collect();
    let body = json!({"Entries": entries});
    let a = aws::json_call(ig, EVENTS, region, "AWSEvents.PutEvents", "1.1", &body).await?;
    if !a.ok() {
        let (code, message) = aws::json_error(&a);
        return Err(aws::service_error(
            "EventBridge",
            "AmazonEventBridge",
            &a,
            &code,
            &message,
        ));
    }
    let out = a.json()?;
    let failed = out
        .get("FailedEntryCount")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if failed > 0 {
        return Err(StatesError::new(
            "EventBridge.FailedEntry",
            serde_json::to_string(&out).unwrap_or_default(),
        ));
    }
    Ok(out)
}
