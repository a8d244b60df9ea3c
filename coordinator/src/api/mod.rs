//! The AWS JSON 1.0 API: `POST /` with `X-Amz-Target: AWSStepFunctions.<Action>`.
//! Decode → validate → call the engine → encode. Malformed input is answered
//! in the AWS error shape, never with a crash.

mod error;

pub use error::ApiError;

use crate::arn;
use crate::engine::{ActivityTask, Command, EngineHandle, Started};
use crate::store::{EventRecord, ExecutionQuery, ExecutionRecord, StateMachineRecord};
use crate::time::epoch_seconds;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The largest request body accepted (payloads are limited to 256 KiB; the
/// envelope and escaping add to it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long `GetActivityTask` waits for a task before an empty answer.
pub const LONG_POLL: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct AppState {
    engine: EngineHandle,
    shutdown: CancellationToken,
    long_poll: Duration,
}

/// The axum app: the API on `POST /`, a health check on `GET /healthz`.
pub fn app(engine: EngineHandle, shutdown: CancellationToken) -> Router {
    app_with_long_poll(engine, shutdown, LONG_POLL)
}

/// [`app`] with a custom long-poll duration (tests).
pub fn app_with_long_poll(
    engine: EngineHandle,
    shutdown: CancellationToken,
    long_poll: Duration,
) -> Router {
    Router::new()
        .route("/", post(handle))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(AppState {
            engine,
            shutdown,
            long_poll,
        })
}

async fn handle(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(action) = target.strip_prefix("AWSStepFunctions.") else {
        return ApiError::unknown_operation(format!("Unknown operation: '{target}'"))
            .into_response();
    };
    let req = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    match dispatch(&st, action, req).await {
        Ok(v) => {
            let mut r = (StatusCode::OK, v.to_string()).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-amz-json-1.0"),
            );
            r
        }
        Err(e) => e.into_response(),
    }
}

fn parse_body(body: &[u8]) -> Result<Req, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Req(Map::new()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(Req(m)),
        Ok(_) => Err(ApiError::serialization(
            "The request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::serialization(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

/// A decoded request body with typed accessors that answer AWS errors.
struct Req(Map<String, Value>);

impl Req {
    fn opt_str(&self, k: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::serialization(format!(
                "Field '{k}' must be a string"
            ))),
        }
    }
    fn str(&self, k: &str) -> Result<String, ApiError> {
        self.opt_str(k)?
            .ok_or_else(|| ApiError::validation(format!("1 validation error detected: Value null at '{k}' failed to satisfy constraint: Member must not be null")))
    }
    fn opt_i64(&self, k: &str) -> Result<Option<i64>, ApiError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::serialization(format!("Field '{k}' must be an integer"))),
        }
    }
    fn opt_bool(&self, k: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::serialization(format!(
                "Field '{k}' must be a boolean"
            ))),
        }
    }
    fn opt_json_text(&self, k: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v.to_string())),
            Some(_) => Err(ApiError::serialization(format!(
                "Field '{k}' must be an object"
            ))),
        }
    }
    fn tags(&self, k: &str) -> Result<Vec<(String, String)>, ApiError> {
        let Some(v) = self.0.get(k) else {
            return Ok(Vec::new());
        };
        let Some(arr) = v.as_array() else {
            return Err(ApiError::serialization(format!(
                "Field '{k}' must be a list of tags"
            )));
        };
        let mut out = Vec::new();
        for t in arr {
            let key = t.get("key").and_then(Value::as_str);
            let value = t.get("value").and_then(Value::as_str).unwrap_or_default();
            match key {
                Some(key) if !key.is_empty() && key.len() <= 128 && value.len() <= 256 => {
                    out.push((key.to_owned(), value.to_owned()))
                }
                _ => {
                    return Err(ApiError::validation(
                        "Tag keys must be 1-128 characters and values at most 256",
                    ));
                }
            }
        }
        if out.len() > 50 {
            return Err(ApiError::too_many_tags(
                "A resource can have at most 50 tags",
            ));
        }
        Ok(out)
    }
    fn max_results(&self) -> Result<usize, ApiError> {
        match self.opt_i64("maxResults")? {
            None | Some(0) => Ok(100),
            Some(n) if (1..=1000).contains(&n) => Ok(n as usize),
            Some(n) => Err(ApiError::validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
            ))),
        }
    }
}

fn check_size(what: &str, s: &str) -> Result<(), ApiError> {
    if s.len() > stepwise_asl::step::MAX_PAYLOAD_BYTES {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{what}' failed to satisfy constraint: Member must have length less than or equal to {}",
            stepwise_asl::step::MAX_PAYLOAD_BYTES
        )));
    }
    Ok(())
}

async fn dispatch(st: &AppState, action: &str, req: Req) -> Result<Value, ApiError> {
    let e = &st.engine;
    match action {
        "CreateStateMachine" => {
            let name = req.str("name")?;
            let definition = req.str("definition")?;
            let role_arn = req.str("roleArn")?;
            let machine_type = req.opt_str("type")?.unwrap_or_else(|| "STANDARD".into());
            let logging = req
                .opt_json_text("loggingConfiguration")?
                .unwrap_or_default();
            let tracing = req
                .opt_json_text("tracingConfiguration")?
                .unwrap_or_default();
            let tags = req.tags("tags")?;
            let (rec, _) = e
                .call(|reply| Command::CreateStateMachine {
                    name,
                    definition,
                    role_arn,
                    machine_type,
                    logging,
                    tracing,
                    tags,
                    reply,
                })
                .await?;
            Ok(json!({"stateMachineArn": rec.arn, "creationDate": epoch_seconds(rec.created)}))
        }
        "DescribeStateMachine" => {
            let arn = req.str("stateMachineArn")?;
            let rec = e
                .call(|reply| Command::DescribeStateMachine { arn, reply })
                .await?;
            Ok(describe_machine(&rec))
        }
        "UpdateStateMachine" => {
            let arn = req.str("stateMachineArn")?;
            let definition = req.opt_str("definition")?;
            let role_arn = req.opt_str("roleArn")?;
            let logging = req.opt_json_text("loggingConfiguration")?;
            let tracing = req.opt_json_text("tracingConfiguration")?;
            if definition.is_none() && role_arn.is_none() && logging.is_none() && tracing.is_none()
            {
                return Err(ApiError::missing_parameter(
                    "Either the definition, roleArn, loggingConfiguration or tracingConfiguration must be specified",
                ));
            }
            let rec = e
                .call(|reply| Command::UpdateStateMachine {
                    arn,
                    definition,
                    role_arn,
                    logging,
                    tracing,
                    reply,
                })
                .await?;
            Ok(json!({"updateDate": epoch_seconds(rec.updated), "revisionId": rec.revision_id}))
        }
        "DeleteStateMachine" => {
            let arn = req.str("stateMachineArn")?;
            e.call(|reply| Command::DeleteStateMachine { arn, reply })
                .await?;
            Ok(json!({}))
        }
        "ListStateMachines" => {
            let all = e.call(|reply| Command::ListStateMachines { reply }).await?;
            let items: Vec<Value> = all
                .iter()
                .map(|m| json!({"stateMachineArn": m.arn, "name": m.name, "type": m.machine_type, "creationDate": epoch_seconds(m.created)}))
                .collect();
            page(items, &req, "stateMachines")
        }
        "ValidateStateMachineDefinition" => {
            let definition = req.str("definition")?;
            let ty = req.opt_str("type")?.unwrap_or_else(|| "STANDARD".into());
            let mt = if ty == "EXPRESS" {
                stepwise_asl::model::MachineType::Express
            } else {
                stepwise_asl::model::MachineType::Standard
            };
            let opts = stepwise_asl::compile::CompileOptions { machine_type: mt };
            match stepwise_asl::compile::compile_str(&definition, opts) {
                Ok(_) => Ok(json!({"result": "OK", "diagnostics": [], "truncated": false})),
                Err(err) => {
                    let max = req.opt_i64("maxResults")?.filter(|n| *n > 0).unwrap_or(100) as usize;
                    let truncated = err.diagnostics.len() > max;
                    let diags: Vec<Value> = err
                        .diagnostics
                        .iter()
                        .take(max)
                        .map(|d| {
                            let mut o =
                                json!({"severity": "ERROR", "code": d.code, "message": d.message});
                            if !d.location.is_empty() {
                                o["location"] = json!(d.location);
                            }
                            o
                        })
                        .collect();
                    Ok(json!({"result": "FAIL", "diagnostics": diags, "truncated": truncated}))
                }
            }
        }
        "DescribeStateMachineForExecution" => {
            let arn = req.str("executionArn")?;
            let rec = find_execution(e, &arn).await?;
            let machine = e
                .call(|reply| Command::DescribeStateMachine {
                    arn: rec.state_machine_arn.clone(),
                    reply,
                })
                .await
                .ok();
            Ok(json!({
                "stateMachineArn": rec.state_machine_arn,
                "name": machine_name(&rec.state_machine_arn),
                "definition": rec.definition,
                "roleArn": rec.role_arn,
                "updateDate": epoch_seconds(machine.as_ref().map(|m| m.updated).unwrap_or(rec.start)),
                "revisionId": rec.revision_id,
            }))
        }
        "StartExecution" | "StartSyncExecution" => {
            let sync = action == "StartSyncExecution";
            let machine_arn = req.str("stateMachineArn")?;
            let name = req.opt_str("name")?;
            let input = req.opt_str("input")?.unwrap_or_else(|| "{}".into());
            check_size("input", &input)?;
            if !sync && let Some(n) = &name {
                // A name reused by a closed execution is refused, as on AWS.
                let exec_arn = arn::execution_arn_for(&machine_arn, n);
                if let Some(old) = read_store(e, move |s| s.execution(&exec_arn)).await?
                    && old.status != "RUNNING"
                {
                    return Err(ApiError::execution_already_exists(format!(
                        "Execution Already Exists: '{}'",
                        old.arn
                    )));
                }
            }
            let started = e
                .call(|reply| Command::StartExecution {
                    machine_arn,
                    name,
                    input,
                    sync,
                    reply,
                })
                .await?;
            match started {
                Started::Running { arn, start } => {
                    Ok(json!({"executionArn": arn, "startDate": epoch_seconds(start)}))
                }
                Started::Finished(rec) => Ok(sync_result(&rec)),
            }
        }
        "StopExecution" => {
            let arn = req.str("executionArn")?;
            let error = req.opt_str("error")?;
            let cause = req.opt_str("cause")?;
            let stop = e
                .call(|reply| Command::StopExecution {
                    arn,
                    error,
                    cause,
                    reply,
                })
                .await?;
            Ok(json!({"stopDate": epoch_seconds(stop)}))
        }
        "DescribeExecution" => {
            let arn = req.str("executionArn")?;
            let rec = find_execution(e, &arn).await?;
            Ok(describe_execution(&rec))
        }
        "ListExecutions" => {
            let machine_arn = req
                .opt_str("stateMachineArn")?
                .or(req.opt_str("mapRunArn")?)
                .unwrap_or_default();
            let status = req.opt_str("statusFilter")?;
            let limit = req.max_results()?;
            let after = req.opt_str("nextToken")?;
            // Only cursors this server issued ("<start ms>:<arn>") reach the store.
            if let Some(t) = &after {
                let valid = t.split_once(':').is_some_and(|(ms, arn)| {
                    ms.parse::<i64>().is_ok() && arn::parse(arn).is_some()
                });
                if !valid {
                    return Err(ApiError::invalid_token(format!("Invalid Token: '{t}'")));
                }
            }
            // Check the machine exists (AWS answers StateMachineDoesNotExist).
            let m = machine_arn.clone();
            e.call(|reply| Command::DescribeStateMachine { arn: m, reply })
                .await?;
            let q = ExecutionQuery {
                state_machine_arn: machine_arn,
                status,
                after,
                limit,
            };
            let page = read_store(e, move |s| s.list_executions(&q)).await?;
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|r| {
                    let mut o = json!({"executionArn": r.arn, "stateMachineArn": r.state_machine_arn, "name": r.name,
                        "status": r.status, "startDate": epoch_seconds(r.start)});
                    if let Some(s) = r.stop {
                        o["stopDate"] = json!(epoch_seconds(s));
                    }
                    o
                })
                .collect();
            let mut out = json!({"executions": items});
            if let Some(n) = page.next {
                out["nextToken"] = json!(n);
            }
            Ok(out)
        }
        "GetExecutionHistory" => {
            let arn = req.str("executionArn")?;
            let reverse = req.opt_bool("reverseOrder")?.unwrap_or(false);
            let include = req.opt_bool("includeExecutionData")?.unwrap_or(true);
            let limit = req.max_results()?;
            let after = match req.opt_str("nextToken")? {
                None => None,
                Some(t) => Some(
                    t.parse::<i64>()
                        .map_err(|_| ApiError::validation("Invalid nextToken"))?,
                ),
            };
            // The execution must exist.
            find_execution(e, &arn).await?;
            let a = arn.clone();
            let mut events =
                read_store(e, move |s| s.history(&a, after, reverse, limit + 1)).await?;
            let next = (events.len() > limit).then(|| {
                events.truncate(limit);
                events.last().map(|ev| ev.id.to_string())
            });
            let items: Vec<Value> = events.iter().map(|ev| history_event(ev, include)).collect();
            let mut out = json!({"events": items});
            if let Some(Some(n)) = next {
                out["nextToken"] = json!(n);
            }
            Ok(out)
        }
        "CreateActivity" => {
            let name = req.str("name")?;
            let tags = req.tags("tags")?;
            let rec = e
                .call(|reply| Command::CreateActivity { name, tags, reply })
                .await?;
            Ok(json!({"activityArn": rec.arn, "creationDate": epoch_seconds(rec.created)}))
        }
        "DeleteActivity" => {
            let arn = req.str("activityArn")?;
            e.call(|reply| Command::DeleteActivity { arn, reply })
                .await?;
            Ok(json!({}))
        }
        "DescribeActivity" => {
            let arn = req.str("activityArn")?;
            let rec = e
                .call(|reply| Command::DescribeActivity { arn, reply })
                .await?;
            Ok(
                json!({"activityArn": rec.arn, "name": rec.name, "creationDate": epoch_seconds(rec.created)}),
            )
        }
        "ListActivities" => {
            let all = e.call(|reply| Command::ListActivities { reply }).await?;
            let items: Vec<Value> = all
                .iter()
                .map(|a| json!({"activityArn": a.arn, "name": a.name, "creationDate": epoch_seconds(a.created)}))
                .collect();
            page(items, &req, "activities")
        }
        "GetActivityTask" => {
            let activity = req.str("activityArn")?;
            let worker = req.opt_str("workerName")?.unwrap_or_default();
            let (tx, rx) = tokio::sync::oneshot::channel();
            e.call_raw(Command::GetActivityTask {
                activity,
                worker,
                reply: tx,
            })
            .await?;
            let answer = tokio::select! {
                r = rx => r.unwrap_or(Ok(None)),
                _ = tokio::time::sleep(st.long_poll) => Ok(None),
                _ = st.shutdown.cancelled() => Ok(None),
            }?;
            Ok(match answer {
                Some(ActivityTask { token, input }) => json!({"taskToken": token, "input": input}),
                None => json!({}),
            })
        }
        "SendTaskSuccess" => {
            let token = req.str("taskToken")?;
            let output = req.str("output")?;
            check_size("output", &output)?;
            e.call(|reply| Command::SendTaskSuccess {
                token,
                output,
                reply,
            })
            .await?;
            Ok(json!({}))
        }
        "SendTaskFailure" => {
            let token = req.str("taskToken")?;
            let error = req.opt_str("error")?.unwrap_or_default();
            let cause = req.opt_str("cause")?.unwrap_or_default();
            if error.len() > 256 {
                return Err(ApiError::validation("error must be at most 256 characters"));
            }
            check_size("cause", &cause)?;
            e.call(|reply| Command::SendTaskFailure {
                token,
                error,
                cause,
                reply,
            })
            .await?;
            Ok(json!({}))
        }
        "SendTaskHeartbeat" => {
            let token = req.str("taskToken")?;
            e.call(|reply| Command::SendTaskHeartbeat { token, reply })
                .await?;
            Ok(json!({}))
        }
        "TagResource" => {
            let arn = req.str("resourceArn")?;
            let tags = req.tags("tags")?;
            e.call(|reply| Command::TagResource { arn, tags, reply })
                .await?;
            Ok(json!({}))
        }
        "UntagResource" => {
            let arn = req.str("resourceArn")?;
            let keys: Vec<String> = match req.0.get("tagKeys") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect(),
                _ => return Err(ApiError::validation("tagKeys must be a list of strings")),
            };
            e.call(|reply| Command::UntagResource { arn, keys, reply })
                .await?;
            Ok(json!({}))
        }
        "ListTagsForResource" => {
            let arn = req.str("resourceArn")?;
            let tags = e.call(|reply| Command::ListTags { arn, reply }).await?;
            let items: Vec<Value> = tags
                .iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect();
            Ok(json!({"tags": items}))
        }
        other => Err(ApiError::unknown_operation(format!(
            "Unknown operation: 'AWSStepFunctions.{other}'"
        ))),
    }
}

/// Pages an in-memory list with `maxResults` / `nextToken` (an index).
fn page(items: Vec<Value>, req: &Req, key: &str) -> Result<Value, ApiError> {
    let limit = req.max_results()?;
    let start = match req.opt_str("nextToken")? {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ApiError::validation("Invalid nextToken"))?,
    };
    let end = (start + limit).min(items.len());
    let slice: Vec<Value> = items
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut out = json!({ key: slice });
    if end < items.len() {
        out["nextToken"] = json!(end.to_string());
    }
    Ok(out)
}

async fn read_store<T: Send + 'static>(
    e: &EngineHandle,
    f: impl FnOnce(&dyn crate::store::Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = e.store().clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|err| ApiError::internal(format!("read failed: {err}")))?
        .map_err(|err| ApiError::internal(format!("read failed: {err}")))
}

async fn find_execution(e: &EngineHandle, arn: &str) -> Result<ExecutionRecord, ApiError> {
    if !arn::parse(arn).is_some_and(|p| p.kind == "execution" || p.kind == "express") {
        return Err(ApiError::invalid_arn(format!(
            "Invalid Arn: 'Resource type not valid in this context: {arn}'"
        )));
    }
    let a = arn.to_owned();
    if let Some(rec) = e
        .call(|reply| Command::DescribeExecution { arn: a, reply })
        .await?
    {
        return Ok(rec);
    }
    let a = arn.to_owned();
    read_store(e, move |s| s.execution(&a))
        .await?
        .ok_or_else(|| {
            ApiError::execution_does_not_exist(format!("Execution Does Not Exist: '{arn}'"))
        })
}

fn machine_name(arn: &str) -> String {
    arn.rsplit(':').next().unwrap_or_default().to_owned()
}

fn describe_machine(m: &StateMachineRecord) -> Value {
    let mut o = json!({
        "stateMachineArn": m.arn,
        "name": m.name,
        "status": "ACTIVE",
        "definition": m.definition,
        "roleArn": m.role_arn,
        "type": m.machine_type,
        "creationDate": epoch_seconds(m.created),
        "revisionId": m.revision_id,
    });
    o["loggingConfiguration"] = serde_json::from_str(&m.logging)
        .unwrap_or_else(|_| json!({"level": "OFF", "includeExecutionData": false}));
    o["tracingConfiguration"] =
        serde_json::from_str(&m.tracing).unwrap_or_else(|_| json!({"enabled": false}));
    o
}

fn describe_execution(r: &ExecutionRecord) -> Value {
    let mut o = json!({
        "executionArn": r.arn,
        "stateMachineArn": r.state_machine_arn,
        "name": r.name,
        "status": r.status,
        "startDate": epoch_seconds(r.start),
        "input": r.input,
        "inputDetails": {"included": true},
        "redriveCount": 0,
        "redriveStatus": "NOT_REDRIVABLE",
    });
    if let Some(s) = r.stop {
        o["stopDate"] = json!(epoch_seconds(s));
    }
    if let Some(out) = &r.output {
        o["output"] = json!(out);
        o["outputDetails"] = json!({"included": true});
    }
    if let Some(err) = r.error.as_ref().filter(|s| !s.is_empty()) {
        o["error"] = json!(err);
    }
    if let Some(c) = r.cause.as_ref().filter(|s| !s.is_empty()) {
        o["cause"] = json!(c);
    }
    o
}

fn sync_result(r: &ExecutionRecord) -> Value {
    let mut o = describe_execution(r);
    if let Value::Object(m) = &mut o {
        m.remove("redriveCount");
        m.remove("redriveStatus");
    }
    let duration = r.stop.unwrap_or(r.start) - r.start;
    o["billingDetails"] = json!({"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": ((duration + 99) / 100 * 100).max(100)});
    o
}

fn history_event(ev: &EventRecord, include_data: bool) -> Value {
    let mut o = json!({
        "timestamp": epoch_seconds(ev.timestamp),
        "type": ev.event_type,
        "id": ev.id,
        "previousEventId": ev.previous_id,
    });
    if let Ok(Value::Object(details)) = serde_json::from_str::<Value>(&ev.details) {
        for (k, mut v) in details {
            if !include_data && let Value::Object(d) = &mut v {
                for f in ["input", "output", "parameters"] {
                    d.remove(f);
                }
            }
            o[k] = v;
        }
    }
    o
}
