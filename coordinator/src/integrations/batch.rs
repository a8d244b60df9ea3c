//! AWS Batch: `batch:submitJob` (REST JSON), and `.sync`: wait until the
//! job succeeded or failed.

use super::aws::{self, Call};
use super::endpoints::BATCH;
use super::{Integrations, keys};
use serde_json::{Value, json};
use stepwise_asl::{StatesError, names};

async fn post(
    ig: &Integrations,
    region: &str,
    path: &str,
    body: &Value,
) -> Result<Value, StatesError> {
    let a = aws::send(
        ig,
        Call {
            service: BATCH.into(),
            region,
            method: "POST",
            path: path.to_owned(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        },
    )
    .await?;
    if !a.ok() {
        let (code, message) = aws::json_error(&a);
        return Err(aws::service_error("Batch", "AWSBatch", &a, &code, &message));
    }
    Ok(aws::with_metadata(&a, keys::to_pascal(&a.json()?)))
}

/// `arn:aws:states:::batch:submitJob` (`JobArn`, `JobId`, `JobName`).
pub(super) async fn submit_job(
    ig: &Integrations,
    region: &str,
    p: &Value,
) -> Result<Value, StatesError> {
    post(ig, region, "/v1/submitjob", &keys::to_camel(p)).await
}

/// Whether a `.sync` job is done: `Some(job)` once it succeeded.
pub(super) async fn poll(
    ig: &Integrations,
    region: &str,
    submitted: &Value,
) -> Result<Option<Value>, StatesError> {
    let id = submitted
        .get("JobId")
        .and_then(Value::as_str)
        .ok_or_else(|| StatesError::new(names::TASK_FAILED, "SubmitJob answered no JobId"))?;
    let out = post(ig, region, "/v1/describejobs", &json!({"jobs": [id]})).await?;
    let Some(job) = out.pointer("/Jobs/0") else {
        return Err(StatesError::new(
            names::TASK_FAILED,
            format!("The Batch job {id} is gone"),
        ));
    };
    match job.get("Status").and_then(Value::as_str) {
        Some("SUCCEEDED") => Ok(Some(job.clone())),
        Some("FAILED") => Err(StatesError::new(
            names::TASK_FAILED,
            serde_json::to_string(job).unwrap_or_default(),
        )),
        _ => Ok(None),
    }
}
