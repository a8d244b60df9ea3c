//! The `http` handler: POST the task input to a URL (e.g. the application
//! container of an ECS task over localhost) with the task token in the
//! `X-Stepwise-Task-Token` header, so the application can heartbeat or answer
//! later itself. A 2xx JSON answer is the output; anything else a failure
//! carrying the status and body.

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use stepwise_sdk::{TaskContext, TaskFailure};

/// The header carrying the task token.
pub const TASK_TOKEN_HEADER: &str = "X-Stepwise-Task-Token";

/// A configured endpoint.
#[derive(Debug, Clone)]
pub struct HttpHandler {
    /// Where to POST.
    pub url: String,
    /// Extra headers.
    pub headers: BTreeMap<String, String>,
    /// Time limit.
    pub timeout: Duration,
    /// A shared client.
    pub client: reqwest::Client,
}

impl HttpHandler {
    /// Calls the endpoint for one task.
    pub async fn run(&self, input: Value, ctx: TaskContext) -> Result<Value, TaskFailure> {
        let mut req = self
            .client
            .post(&self.url)
            .timeout(self.timeout)
            .header("content-type", "application/json")
            .header(TASK_TOKEN_HEADER, &ctx.task_token)
            .body(input.to_string());
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = tokio::select! {
            r = req.send() => r,
            _ = ctx.cancelled() => return Err(TaskFailure::new("Agent.Cancelled", "the task was closed")),
        };
        let resp = resp.map_err(|e| {
            if e.is_timeout() {
                TaskFailure::new(
                    "Agent.Http.Timeout",
                    format!(
                        "{} did not answer within {}s",
                        self.url,
                        self.timeout.as_secs()
                    ),
                )
            } else {
                TaskFailure::new("Agent.Http.Unreachable", format!("{}: {e}", self.url))
            }
        })?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| TaskFailure::new("Agent.Http.Unreachable", e.to_string()))?;
        if !status.is_success() {
            let tail: String = body.chars().take(2000).collect();
            return Err(TaskFailure::new(
                format!("Agent.Http.{}", status.as_u16()),
                tail,
            ));
        }
        if body.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&body).map_err(|e| {
            TaskFailure::new(
                "Agent.InvalidOutput",
                format!(
                    "{} answered with something that is not JSON ({e})",
                    self.url
                ),
            )
        })
    }
}
