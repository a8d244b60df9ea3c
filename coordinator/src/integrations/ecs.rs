//! Amazon ECS: `ecs:runTask` (AWS JSON 1.1), and `.sync`: wait until the
//! task stopped; a container that exited non-zero fails the Task state.

use super::endpoints::ECS;
use super::{Integrations, aws, keys};
use serde_json::{Value, json};
use stepwise_asl::{StatesError, names};

const TARGET: &str = "AmazonEC2ContainerServiceV20141113";

/// `arn:aws:states:::ecs:runTask` (the `RunTask` answer, PascalCase).
pub(super) async fn run_task(
    ig: &Integrations,
    region: &str,
    p: &Value,
) -> Result<Value, StatesError> {
    let a = aws::json_call(
        ig,
        ECS,
        region,
        &format!("{TARGET}.RunTask"),
        "1.1",
        &keys::to_camel(p),
    )
    .await?;
    if !a.ok() {
        let (code, message) = aws::json_error(&a);
        return Err(aws::service_error("ECS", "AmazonECS", &a, &code, &message));
    }
    let out = a.json()?;
    if let Some(f) = out
        .get("failures")
        .and_then(Value::as_array)
        .filter(|f| !f.is_empty())
    {
        return Err(StatesError::new(
            "ECS.AmazonECSException",
            serde_json::to_string(&keys::to_pascal(&json!({"Failures": f}))).unwrap_or_default(),
        ));
    }
    Ok(aws::with_metadata(&a, keys::to_pascal(&out)))
}

/// Whether a `.sync` ECS task is done: `Some(result)` once it stopped.
pub(super) async fn poll(
    ig: &Integrations,
    region: &str,
    params: &Value,
    submitted: &Value,
) -> Result<Option<Value>, StatesError> {
    let task = submitted
        .pointer("/Tasks/0/TaskArn")
        .and_then(Value::as_str)
        .ok_or_else(|| StatesError::new(names::TASK_FAILED, "RunTask answered no task"))?;
    let mut body = json!({"tasks": [task]});
    if let Some(c) = params.get("Cluster") {
        body["cluster"] = c.clone();
    }
    let a = aws::json_call(
        ig,
        ECS,
        region,
        &format!("{TARGET}.DescribeTasks"),
        "1.1",
        &body,
    )
    .await?;
    if !a.ok() {
        let (code, message) = aws::json_error(&a);
        return Err(aws::service_error("ECS", "AmazonECS", &a, &code, &message));
    }
    let out = a.json()?;
    let Some(t) = out.pointer("/tasks/0") else {
        return Err(StatesError::new(
            names::TASK_FAILED,
            format!("The ECS task {task} is gone"),
        ));
    };
    if t.get("lastStatus").and_then(Value::as_str) != Some("STOPPED") {
        return Ok(None);
    }
    let described = keys::to_pascal(t);
    let failed_to_start = t.get("stopCode").and_then(Value::as_str) == Some("TaskFailedToStart");
    let bad_exit = t
        .get("containers")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("exitCode")
                    .and_then(Value::as_i64)
                    .is_some_and(|x| x != 0)
            })
        });
    if failed_to_start || bad_exit {
        return Err(StatesError::new(
            names::TASK_FAILED,
            serde_json::to_string(&described).unwrap_or_default(),
        ));
    }
    Ok(Some(described))
}
