//! The AWS JSON 1.0 API: `POST /` with `X-Amz-Target: AWSStepFunctions.<Action>`.
//! Decode → validate → call the engine → encode. Malformed input is answered
//! in the AWS error shape, never with a crash.

mod error;
mod test_state;

pub use error::ApiError;

use crate::arn;
use crate::engine::{ActivityTask, Command, EngineHandle, Started};
use crate::store::{
    EventRecord, ExecutionQuery, ExecutionRecord, MapRunRecord, StateMachineRecord,
};
use crate::time::epoch_seconds;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::time::Duration;
use stepwise_sdk::types::*;
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
        .route("/healthz", get(healthz))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(with_request_id))
        .with_state(AppState {
            engine,
            shutdown,
            long_poll,
        })
}

/// Every answer, errors included, carries a fresh `x-amzn-RequestId` as AWS's
/// do (the SDKs report it as the request id: `$metadata.requestId`).
async fn with_request_id(mut r: Response) -> Response {
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        r.headers_mut().insert("x-amzn-RequestId", id);
    }
    r
}

/// How long `/healthz` waits for the engine to answer.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// `200 ok` when the engine answers a ping within [`HEALTH_TIMEOUT`]; `503`
/// when it does not (stopped, stuck, or reloading after the store refused a
/// commit), with the reason as text.
async fn healthz(State(st): State<AppState>) -> Response {
    let ping = st.engine.call(|reply| Command::Ping { reply });
    match tokio::time::timeout(HEALTH_TIMEOUT, ping).await {
        Ok(Ok(())) => (StatusCode::OK, "ok").into_response(),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, e.message).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine did not answer in time",
        )
            .into_response(),
    }
}

async fn handle(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return crate::auth::too_large().into_response();
        }
        Err(e) => {
            return ApiError::serialization(format!(
                "The request body could not be read: {}",
                e.body_text()
            ))
            .into_response();
        }
    };
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
            // `to_vec` writes straight into a buffer; `Value`'s `Display`
            // goes through `core::fmt`, several times slower.
            let body = serde_json::to_vec(&v).unwrap_or_default();
            let mut r = (StatusCode::OK, body).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-amz-json-1.0"),
            );
            r
        }
        Err(e) => e.into_response(),
    }
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::serialization(
            "The request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::serialization(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

/// Decodes a request into its `stepwise-sdk` wire type: a missing required
/// member is a `ValidationException`, a member of the wrong type a
/// `SerializationException`, as AWS answers.
fn decode<T: DeserializeOwned>(body: &Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(body.clone())).map_err(|e| {
        let m = e.to_string();
        if let Some(field) = m.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
            ApiError::validation(format!(
                "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
            ))
        } else {
            ApiError::serialization(format!("Invalid request: {m}"))
        }
    })
}

fn encode<T: Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v)
        .map_err(|e| ApiError::internal(format!("could not encode the response: {e}")))
}

fn tags(tags: Vec<Tag>) -> Result<Vec<(String, String)>, ApiError> {
    if tags.len() > 50 {
        return Err(ApiError::too_many_tags(
            "A resource can have at most 50 tags",
        ));
    }
    tags.into_iter()
        .map(|t| {
            if t.key.is_empty() || t.key.len() > 128 || t.value.len() > 256 {
                Err(ApiError::validation(
                    "Tag keys must be 1-128 characters and values at most 256",
                ))
            } else {
                Ok((t.key, t.value))
            }
        })
        .collect()
}

fn max_results(n: Option<i32>) -> Result<usize, ApiError> {
    match n {
        None | Some(0) => Ok(100),
        Some(n) if (1..=1000).contains(&n) => Ok(n as usize),
        Some(n) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
        ))),
    }
}

fn json_text(v: Option<Value>) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(o @ Value::Object(_)) => Ok(Some(o.to_string())),
        Some(_) => Err(ApiError::serialization(
            "a configuration member must be an object",
        )),
    }
}

fn machine_type_text(t: Option<StateMachineType>) -> String {
    t.map(|t| t.as_str().to_owned())
        .unwrap_or_else(|| "STANDARD".into())
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

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

async fn dispatch(
    st: &AppState,
    action: &str,
    body: Map<String, Value>,
) -> Result<Value, ApiError> {
    let e = &st.engine;
    match action {
        "CreateStateMachine" => {
            let r: CreateStateMachineInput = decode(&body)?;
            let (name, definition, role_arn) = (r.name, r.definition, r.role_arn);
            let machine_type = machine_type_text(r.r#type);
            let logging = json_text(r.logging_configuration)?.unwrap_or_default();
            let tracing = json_text(r.tracing_configuration)?.unwrap_or_default();
            let tags = tags(r.tags)?;
            let publish = publish(r.publish, r.version_description)?;
            let (rec, _, version) = e
                .call(|reply| Command::CreateStateMachine {
                    name,
                    definition,
                    role_arn,
                    machine_type,
                    logging,
                    tracing,
                    tags,
                    publish,
                    reply,
                })
                .await?;
            encode(&CreateStateMachineOutput {
                state_machine_arn: rec.arn,
                creation_date: ts(rec.created),
                state_machine_version_arn: version.map(|v| v.arn),
            })
        }
        "DescribeStateMachine" => {
            let r: StateMachineArnInput = decode(&body)?;
            let arn = r.state_machine_arn;
            let rec = e
                .call(|reply| Command::DescribeStateMachine { arn, reply })
                .await?;
            encode(&describe_machine(&rec))
        }
        "UpdateStateMachine" => {
            let r: UpdateStateMachineInput = decode(&body)?;
            let arn = r.state_machine_arn;
            let (definition, role_arn) = (r.definition, r.role_arn);
            let logging = json_text(r.logging_configuration)?;
            let tracing = json_text(r.tracing_configuration)?;
            if definition.is_none() && role_arn.is_none() && logging.is_none() && tracing.is_none()
            {
                return Err(ApiError::missing_parameter(
                    "Either the definition, roleArn, loggingConfiguration or tracingConfiguration must be specified",
                ));
            }
            let publish = publish(r.publish, r.version_description)?;
            let (rec, version) = e
                .call(|reply| Command::UpdateStateMachine {
                    arn,
                    definition,
                    role_arn,
                    logging,
                    tracing,
                    publish,
                    reply,
                })
                .await?;
            encode(&UpdateStateMachineOutput {
                update_date: ts(rec.updated),
                revision_id: Some(rec.revision_id),
                state_machine_version_arn: version.map(|v| v.arn),
            })
        }
        "PublishStateMachineVersion" => {
            let r: PublishStateMachineVersionInput = decode(&body)?;
            check_description(r.description.as_deref())?;
            let v = e
                .call(|reply| Command::PublishVersion {
                    arn: r.state_machine_arn,
                    revision_id: r.revision_id,
                    description: r.description,
                    reply,
                })
                .await?;
            encode(&PublishStateMachineVersionOutput {
                creation_date: ts(v.created),
                state_machine_version_arn: v.arn,
            })
        }
        "ListStateMachineVersions" => {
            let r: StateMachinePageInput = decode(&body)?;
            let arn = r.state_machine_arn;
            let all = e.call(|reply| Command::ListVersions { arn, reply }).await?;
            let (items, next_token) = page(all, max_results(r.max_results)?, r.next_token)?;
            encode(&ListStateMachineVersionsOutput {
                state_machine_versions: items
                    .into_iter()
                    .map(|v| StateMachineVersionListItem {
                        state_machine_version_arn: v.arn,
                        creation_date: ts(v.created),
                    })
                    .collect(),
                next_token,
            })
        }
        "DeleteStateMachineVersion" => {
            let r: DeleteStateMachineVersionInput = decode(&body)?;
            let arn = r.state_machine_version_arn;
            e.call(|reply| Command::DeleteVersion { arn, reply })
                .await?;
            encode(&Empty {})
        }
        "CreateStateMachineAlias" => {
            let r: CreateStateMachineAliasInput = decode(&body)?;
            check_description(r.description.as_deref())?;
            let routing = routing(r.routing_configuration)?;
            let a = e
                .call(|reply| Command::CreateAlias {
                    name: r.name,
                    description: r.description.unwrap_or_default(),
                    routing,
                    reply,
                })
                .await?;
            encode(&CreateStateMachineAliasOutput {
                state_machine_alias_arn: a.arn,
                creation_date: ts(a.created),
            })
        }
        "DescribeStateMachineAlias" => {
            let r: StateMachineAliasArnInput = decode(&body)?;
            let arn = r.state_machine_alias_arn;
            let a = e
                .call(|reply| Command::DescribeAlias { arn, reply })
                .await?;
            encode(&DescribeStateMachineAliasOutput {
                state_machine_alias_arn: a.arn,
                name: a.name,
                description: Some(a.description).filter(|d| !d.is_empty()),
                routing_configuration: a
                    .routing
                    .into_iter()
                    .map(|(v, w)| RoutingConfigurationListItem {
                        state_machine_version_arn: v,
                        weight: saturating_i32(w),
                    })
                    .collect(),
                creation_date: ts(a.created),
                update_date: ts(a.updated),
            })
        }
        "UpdateStateMachineAlias" => {
            let r: UpdateStateMachineAliasInput = decode(&body)?;
            check_description(r.description.as_deref())?;
            if r.description.is_none() && r.routing_configuration.is_none() {
                return Err(ApiError::missing_parameter(
                    "Either the description or the routingConfiguration must be specified",
                ));
            }
            let routing = r.routing_configuration.map(routing).transpose()?;
            let a = e
                .call(|reply| Command::UpdateAlias {
                    arn: r.state_machine_alias_arn,
                    description: r.description,
                    routing,
                    reply,
                })
                .await?;
            encode(&UpdateStateMachineAliasOutput {
                update_date: ts(a.updated),
            })
        }
        "DeleteStateMachineAlias" => {
            let r: StateMachineAliasArnInput = decode(&body)?;
            let arn = r.state_machine_alias_arn;
            e.call(|reply| Command::DeleteAlias { arn, reply }).await?;
            encode(&Empty {})
        }
        "ListStateMachineAliases" => {
            let r: StateMachinePageInput = decode(&body)?;
            let arn = r.state_machine_arn;
            let all = e.call(|reply| Command::ListAliases { arn, reply }).await?;
            let (items, next_token) = page(all, max_results(r.max_results)?, r.next_token)?;
            encode(&ListStateMachineAliasesOutput {
                state_machine_aliases: items
                    .into_iter()
                    .map(|a| StateMachineAliasListItem {
                        state_machine_alias_arn: a.arn,
                        creation_date: ts(a.created),
                    })
                    .collect(),
                next_token,
            })
        }
        "DeleteStateMachine" => {
            let r: StateMachineArnInput = decode(&body)?;
            let arn = r.state_machine_arn;
            e.call(|reply| Command::DeleteStateMachine { arn, reply })
                .await?;
            encode(&Empty {})
        }
        "ListStateMachines" => {
            let r: PageInput = decode(&body)?;
            let all = e.call(|reply| Command::ListStateMachines { reply }).await?;
            let (items, next_token) = page(all, max_results(r.max_results)?, r.next_token)?;
            encode(&ListStateMachinesOutput {
                state_machines: items
                    .into_iter()
                    .map(|m| StateMachineListItem {
                        state_machine_arn: m.arn,
                        name: m.name,
                        r#type: if m.machine_type == "EXPRESS" {
                            StateMachineType::Express
                        } else {
                            StateMachineType::Standard
                        },
                        creation_date: ts(m.created),
                    })
                    .collect(),
                next_token,
            })
        }
        "ValidateStateMachineDefinition" => {
            let r: ValidateStateMachineDefinitionInput = decode(&body)?;
            let mt = if r.r#type == Some(StateMachineType::Express) {
                stepwise_asl::model::MachineType::Express
            } else {
                stepwise_asl::model::MachineType::Standard
            };
            let opts = stepwise_asl::compile::CompileOptions { machine_type: mt };
            let out = match stepwise_asl::compile::compile_str(&r.definition, opts) {
                Ok(_) => ValidateStateMachineDefinitionOutput {
                    result: ValidationResult::Ok,
                    diagnostics: vec![],
                    truncated: false,
                },
                Err(err) => {
                    let max = r.max_results.filter(|n| *n > 0).unwrap_or(100) as usize;
                    ValidateStateMachineDefinitionOutput {
                        result: ValidationResult::Fail,
                        truncated: err.diagnostics.len() > max,
                        diagnostics: err
                            .diagnostics
                            .into_iter()
                            .take(max)
                            .map(|d| ValidationDiagnostic {
                                severity: DiagnosticSeverity::Error,
                                code: d.code,
                                message: d.message,
                                location: Some(d.location).filter(|l| !l.is_empty()),
                            })
                            .collect(),
                    }
                }
            };
            encode(&out)
        }
        "TestState" => {
            let r: TestStateInput = decode(&body)?;
            encode(&test_state::run(r, e.scope(), e.now_ms())?)
        }
        "DescribeStateMachineForExecution" => {
            let r: ExecutionArnInput = decode(&body)?;
            let rec = find_execution(e, &r.execution_arn).await?;
            let machine = e
                .call(|reply| Command::DescribeStateMachine {
                    arn: rec.state_machine_arn.clone(),
                    reply,
                })
                .await
                .ok();
            encode(&DescribeStateMachineForExecutionOutput {
                name: machine_name(&rec.state_machine_arn),
                update_date: ts(machine.as_ref().map(|m| m.updated).unwrap_or(rec.start)),
                state_machine_arn: rec.state_machine_arn,
                definition: rec.definition.to_string(),
                role_arn: rec.role_arn,
                revision_id: Some(rec.revision_id),
            })
        }
        "StartExecution" | "StartSyncExecution" => {
            let sync = action == "StartSyncExecution";
            let r: StartExecutionInput = decode(&body)?;
            let (machine_arn, name) = (r.state_machine_arn, r.name);
            let input = r.input.unwrap_or_else(|| "{}".into());
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
                Started::Running { arn, start } => encode(&StartExecutionOutput {
                    execution_arn: arn,
                    start_date: ts(start),
                }),
                Started::Finished(rec) => Ok(sync_result(&rec)),
            }
        }
        "StopExecution" => {
            let r: StopExecutionInput = decode(&body)?;
            let (arn, error, cause) = (r.execution_arn, r.error, r.cause);
            let stop = e
                .call(|reply| Command::StopExecution {
                    arn,
                    error,
                    cause,
                    reply,
                })
                .await?;
            encode(&StopExecutionOutput {
                stop_date: ts(stop),
            })
        }
        "DescribeExecution" => {
            let r: ExecutionArnInput = decode(&body)?;
            let rec = find_execution(e, &r.execution_arn).await?;
            let mut o = describe_execution(&rec);
            match crate::engine::not_redrivable(&rec, e.now_ms()) {
                None => o["redriveStatus"] = json!("REDRIVABLE"),
                Some(why) => o["redriveStatusReason"] = json!(why),
            }
            Ok(o)
        }
        "ListMapRuns" => {
            let r: ListMapRunsInput = decode(&body)?;
            let execution = find_execution(e, &r.execution_arn).await?.arn;
            let runs = map_runs(e, &execution).await?;
            let (items, next_token) = page(runs, max_results(r.max_results)?, r.next_token)?;
            encode(&ListMapRunsOutput {
                map_runs: items
                    .into_iter()
                    .map(|m| MapRunListItem {
                        execution_arn: m.execution_arn,
                        map_run_arn: m.arn,
                        state_machine_arn: m.state_machine_arn,
                        start_date: ts(m.start),
                        stop_date: m.stop.map(ts),
                    })
                    .collect(),
                next_token,
            })
        }
        "DescribeMapRun" => {
            let r: DescribeMapRunInput = decode(&body)?;
            let m = find_map_run(e, &r.map_run_arn).await?;
            let counts = MapRunCounts {
                pending: m.counts.pending as i64,
                running: m.counts.running as i64,
                succeeded: m.counts.succeeded as i64,
                failed: m.counts.failed as i64,
                timed_out: 0,
                aborted: m.counts.aborted as i64,
                total: m.counts.total as i64,
                results_written: 0,
            };
            encode(&DescribeMapRunOutput {
                map_run_arn: m.arn,
                execution_arn: m.execution_arn,
                status: match m.status.as_str() {
                    "RUNNING" => MapRunStatus::Running,
                    "SUCCEEDED" => MapRunStatus::Succeeded,
                    "FAILED" => MapRunStatus::Failed,
                    _ => MapRunStatus::Aborted,
                },
                start_date: ts(m.start),
                stop_date: m.stop.map(ts),
                max_concurrency: saturating_i32(m.max_concurrency),
                tolerated_failure_percentage: m.tolerated_failure_percentage.unwrap_or(0.0) as f32,
                tolerated_failure_count: m
                    .tolerated_failure_count
                    .map_or(0, |c| i64::try_from(c).unwrap_or(i64::MAX)),
                item_counts: counts.clone(),
                execution_counts: counts,
            })
        }
        "UpdateMapRun" => {
            let r: UpdateMapRunInput = decode(&body)?;
            let negative = |what: &str| {
                ApiError::validation(format!(
                    "1 validation error detected: Value at '{what}' failed to satisfy constraint: Member must have value greater than or equal to 0"
                ))
            };
            let max_concurrency = r
                .max_concurrency
                .map(|m| u64::try_from(m).map_err(|_| negative("maxConcurrency")))
                .transpose()?;
            let tolerated_failure_count = r
                .tolerated_failure_count
                .map(|c| u64::try_from(c).map_err(|_| negative("toleratedFailureCount")))
                .transpose()?;
            let tolerated_failure_percentage = match r.tolerated_failure_percentage {
                Some(p) if !(0.0..=100.0).contains(&p) => {
                    return Err(ApiError::validation(
                        "toleratedFailurePercentage must be between 0 and 100",
                    ));
                }
                p => p.map(f64::from),
            };
            if max_concurrency.is_none()
                && tolerated_failure_count.is_none()
                && tolerated_failure_percentage.is_none()
            {
                return Err(ApiError::missing_parameter(
                    "Either maxConcurrency, toleratedFailurePercentage or toleratedFailureCount must be specified",
                ));
            }
            e.call(|reply| Command::UpdateMapRun {
                arn: r.map_run_arn,
                max_concurrency,
                tolerated_failure_count,
                tolerated_failure_percentage,
                reply,
            })
            .await?;
            encode(&Empty {})
        }
        "RedriveExecution" => {
            let r: RedriveExecutionInput = decode(&body)?;
            let rec = Box::new(find_execution(e, &r.execution_arn).await?);
            let date = e.call(|reply| Command::Redrive { rec, reply }).await?;
            encode(&RedriveExecutionOutput {
                redrive_date: ts(date),
            })
        }
        "ListExecutions" => {
            let r: ListExecutionsInput = decode(&body)?;
            let machine_arn = r.state_machine_arn.unwrap_or_default();
            let status = r.status_filter.map(|s| s.as_str().to_owned());
            let limit = max_results(r.max_results)?;
            let after = r.next_token;
            // Only cursors this server issued ("<start ms>:<arn>") reach the store.
            if let Some(t) = &after {
                let valid = t
                    .split_once(':')
                    .is_some_and(|(ms, a)| ms.parse::<i64>().is_ok() && arn::parse(a).is_some());
                if !valid {
                    return Err(ApiError::invalid_token(format!("Invalid Token: '{t}'")));
                }
            }
            // The machine (or version, or alias) must exist (AWS answers StateMachineDoesNotExist).
            let m = machine_arn.clone();
            let base = e
                .call(|reply| Command::ResolveMachine { arn: m, reply })
                .await?;
            let q = ExecutionQuery {
                qualified: (base != machine_arn).then_some(machine_arn),
                redriven: r
                    .redrive_filter
                    .map(|f| f == ExecutionRedriveFilter::Redriven),
                state_machine_arn: base,
                status,
                after,
                limit,
            };
            let page = read_store(e, move |s| s.list_executions(&q)).await?;
            encode(&ListExecutionsOutput {
                executions: page
                    .items
                    .into_iter()
                    .map(|r| ExecutionListItem {
                        status: status_of(&r.status),
                        execution_arn: r.arn,
                        state_machine_arn: r.state_machine_arn,
                        name: r.name,
                        start_date: ts(r.start),
                        stop_date: r.stop.map(ts),
                        state_machine_version_arn: r.version_arn,
                        state_machine_alias_arn: r.alias_arn,
                        redrive_count: Some(saturating_i32(r.redrive_count)),
                        redrive_date: r.redrive_date.map(ts),
                    })
                    .collect(),
                next_token: page.next,
            })
        }
        "GetExecutionHistory" => {
            let r: GetExecutionHistoryInput = decode(&body)?;
            let arn = r.execution_arn;
            let reverse = r.reverse_order.unwrap_or(false);
            let include = r.include_execution_data.unwrap_or(true);
            let limit = max_results(r.max_results)?;
            let after = match r.next_token {
                None => None,
                Some(t) => Some(
                    t.parse::<i64>()
                        .map_err(|_| ApiError::invalid_token(format!("Invalid Token: '{t}'")))?,
                ),
            };
            // The execution must exist.
            find_execution(e, &arn).await?;
            let a = arn.clone();
            let mut events =
                read_store(e, move |s| s.history(&a, after, reverse, limit + 1)).await?;
            let next_token = if events.len() > limit {
                events.truncate(limit);
                events.last().map(|ev| ev.id.to_string())
            } else {
                None
            };
            encode(&GetExecutionHistoryOutput {
                events: events.iter().map(|ev| history_event(ev, include)).collect(),
                next_token,
            })
        }
        "CreateActivity" => {
            let r: CreateActivityInput = decode(&body)?;
            let (name, tags) = (r.name, tags(r.tags)?);
            let rec = e
                .call(|reply| Command::CreateActivity { name, tags, reply })
                .await?;
            encode(&CreateActivityOutput {
                activity_arn: rec.arn,
                creation_date: ts(rec.created),
            })
        }
        "DeleteActivity" => {
            let r: ActivityArnInput = decode(&body)?;
            let arn = r.activity_arn;
            e.call(|reply| Command::DeleteActivity { arn, reply })
                .await?;
            encode(&Empty {})
        }
        "DescribeActivity" => {
            let r: ActivityArnInput = decode(&body)?;
            let arn = r.activity_arn;
            let rec = e
                .call(|reply| Command::DescribeActivity { arn, reply })
                .await?;
            encode(&ActivityListItem {
                activity_arn: rec.arn,
                name: rec.name,
                creation_date: ts(rec.created),
            })
        }
        "ListActivities" => {
            let r: PageInput = decode(&body)?;
            let all = e.call(|reply| Command::ListActivities { reply }).await?;
            let (items, next_token) = page(all, max_results(r.max_results)?, r.next_token)?;
            encode(&ListActivitiesOutput {
                activities: items
                    .into_iter()
                    .map(|a| ActivityListItem {
                        activity_arn: a.arn,
                        name: a.name,
                        creation_date: ts(a.created),
                    })
                    .collect(),
                next_token,
            })
        }
        "GetActivityTask" => {
            let r: GetActivityTaskInput = decode(&body)?;
            let (activity, worker) = (r.activity_arn, r.worker_name.unwrap_or_default());
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
            encode(&match answer {
                Some(ActivityTask { token, input }) => GetActivityTaskOutput {
                    task_token: Some(token),
                    input: Some(input),
                },
                None => GetActivityTaskOutput::default(),
            })
        }
        "SendTaskSuccess" => {
            let r: SendTaskSuccessInput = decode(&body)?;
            check_size("output", &r.output)?;
            let (token, output) = (r.task_token, r.output);
            e.call(|reply| Command::SendTaskSuccess {
                token,
                output,
                reply,
            })
            .await?;
            encode(&Empty {})
        }
        "SendTaskFailure" => {
            let r: SendTaskFailureInput = decode(&body)?;
            let error = r.error.unwrap_or_default();
            let cause = r.cause.unwrap_or_default();
            if error.chars().count() > 256 {
                return Err(ApiError::validation("error must be at most 256 characters"));
            }
            check_size("cause", &cause)?;
            let token = r.task_token;
            e.call(|reply| Command::SendTaskFailure {
                token,
                error,
                cause,
                reply,
            })
            .await?;
            encode(&Empty {})
        }
        "SendTaskHeartbeat" => {
            let r: SendTaskHeartbeatInput = decode(&body)?;
            let token = r.task_token;
            e.call(|reply| Command::SendTaskHeartbeat { token, reply })
                .await?;
            encode(&Empty {})
        }
        "TagResource" => {
            let r: TagResourceInput = decode(&body)?;
            let (arn, tags) = (r.resource_arn, tags(r.tags)?);
            e.call(|reply| Command::TagResource { arn, tags, reply })
                .await?;
            encode(&Empty {})
        }
        "UntagResource" => {
            let r: UntagResourceInput = decode(&body)?;
            let (arn, keys) = (r.resource_arn, r.tag_keys);
            e.call(|reply| Command::UntagResource { arn, keys, reply })
                .await?;
            encode(&Empty {})
        }
        "ListTagsForResource" => {
            let r: ListTagsForResourceInput = decode(&body)?;
            let arn = r.resource_arn;
            let tags = e.call(|reply| Command::ListTags { arn, reply }).await?;
            encode(&ListTagsForResourceOutput {
                tags: tags
                    .into_iter()
                    .map(|(key, value)| Tag { key, value })
                    .collect(),
            })
        }
        other => Err(ApiError::unknown_operation(format!(
            "Unknown operation: 'AWSStepFunctions.{other}'"
        ))),
    }
}

fn status_of(s: &str) -> ExecutionStatus {
    serde_json::from_value(Value::String(s.to_owned()))
        .unwrap_or(ExecutionStatus::Unknown(s.to_owned()))
}

/// Pages an in-memory list with `maxResults` / `nextToken` (an index).
fn page<T>(
    items: Vec<T>,
    limit: usize,
    token: Option<String>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match token {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ApiError::invalid_token(format!("Invalid Token: '{t}'")))?,
    };
    let total = items.len();
    let end = (start + limit).min(total);
    let slice: Vec<T> = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    Ok((slice, (end < total).then(|| end.to_string())))
}

pub(crate) async fn read_store<T: Send + 'static>(
    e: &EngineHandle,
    f: impl FnOnce(&dyn crate::store::Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = e.store().clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|err| ApiError::internal(format!("read failed: {err}")))?
        .map_err(|err| ApiError::internal(format!("read failed: {err}")))
}

pub(crate) async fn find_execution(
    e: &EngineHandle,
    arn: &str,
) -> Result<ExecutionRecord, ApiError> {
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

/// The Map Runs of an execution, oldest first: stored records, with the live
/// counts of those still running.
pub(crate) async fn map_runs(
    e: &EngineHandle,
    execution: &str,
) -> Result<Vec<MapRunRecord>, ApiError> {
    let x = execution.to_owned();
    let mut runs = read_store(e, move |s| s.map_runs(&x)).await?;
    let x = execution.to_owned();
    let live = e
        .call(|reply| Command::LiveMapRuns {
            execution: x,
            reply,
        })
        .await?;
    for l in live {
        match runs.iter_mut().find(|r| r.arn == l.arn) {
            Some(r) => *r = l,
            None => runs.push(l),
        }
    }
    Ok(runs)
}

async fn find_map_run(e: &EngineHandle, arn: &str) -> Result<MapRunRecord, ApiError> {
    let execution = crate::engine::execution_of_map_run(arn).ok_or_else(|| {
        ApiError::invalid_arn(format!(
            "Invalid Arn: 'Resource type not valid in this context: {arn}'"
        ))
    })?;
    map_runs(e, &execution)
        .await?
        .into_iter()
        .find(|r| r.arn == arn)
        .ok_or_else(|| ApiError::resource_not_found(format!("Map Run Does Not Exist: '{arn}'")))
}

/// A count or limit in a wire field of 32 bits (ours never come near its end).
pub(super) fn saturating_i32(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

fn machine_name(arn: &str) -> String {
    arn.rsplit(':').next().unwrap_or_default().to_owned()
}

fn describe_machine(m: &StateMachineRecord) -> DescribeStateMachineOutput {
    DescribeStateMachineOutput {
        state_machine_arn: m.arn.clone(),
        name: m.name.clone(),
        status: Some(StateMachineStatus::Active),
        definition: m.definition.clone(),
        role_arn: m.role_arn.clone(),
        r#type: if m.machine_type == "EXPRESS" {
            StateMachineType::Express
        } else {
            StateMachineType::Standard
        },
        creation_date: ts(m.created),
        revision_id: Some(m.revision_id.clone()),
        logging_configuration: Some(
            serde_json::from_str(&m.logging)
                .unwrap_or_else(|_| json!({"level": "OFF", "includeExecutionData": false})),
        ),
        tracing_configuration: Some(
            serde_json::from_str(&m.tracing).unwrap_or_else(|_| json!({"enabled": false})),
        ),
        description: Some(m.description.clone()).filter(|d| !d.is_empty()),
    }
}

/// `publish` and `versionDescription` of Create/UpdateStateMachine: the description to publish with.
fn publish(publish: Option<bool>, description: Option<String>) -> Result<Option<String>, ApiError> {
    check_description(description.as_deref())?;
    match (publish.unwrap_or(false), description) {
        (true, d) => Ok(Some(d.unwrap_or_default())),
        (false, None) => Ok(None),
        (false, Some(_)) => Err(ApiError::validation(
            "A versionDescription needs publish set to true",
        )),
    }
}

fn check_description(d: Option<&str>) -> Result<(), ApiError> {
    match d {
        Some(d) if d.chars().count() > 256 => Err(ApiError::validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256",
        )),
        _ => Ok(()),
    }
}

fn routing(items: Vec<RoutingConfigurationListItem>) -> Result<Vec<(String, u32)>, ApiError> {
    items
        .into_iter()
        .map(|i| match u32::try_from(i.weight) {
            Ok(w) => Ok((i.state_machine_version_arn, w)),
            Err(_) => Err(ApiError::validation(format!(
                "The weight of {} is {}: weights are 0 to 100",
                i.state_machine_version_arn, i.weight
            ))),
        })
        .collect()
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
        "redriveCount": r.redrive_count,
        "redriveStatus": "NOT_REDRIVABLE",
    });
    if let Some(d) = r.redrive_date {
        o["redriveDate"] = json!(epoch_seconds(d));
    }
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
    if let Some(v) = &r.version_arn {
        o["stateMachineVersionArn"] = json!(v);
    }
    if let Some(a) = &r.alias_arn {
        o["stateMachineAliasArn"] = json!(a);
    }
    o
}

fn sync_result(r: &ExecutionRecord) -> Value {
    let mut o = describe_execution(r);
    if let Value::Object(m) = &mut o {
        m.remove("redriveCount");
        m.remove("redriveDate");
        m.remove("redriveStatus");
    }
    let duration = r.stop.unwrap_or(r.start) - r.start;
    o["billingDetails"] = json!({"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": ((duration + 99) / 100 * 100).max(100)});
    o
}

fn history_event(ev: &EventRecord, include_data: bool) -> HistoryEvent {
    let mut details = match serde_json::from_str::<Value>(&ev.details) {
        Ok(Value::Object(d)) => d,
        _ => Map::new(),
    };
    if !include_data {
        for v in details.values_mut() {
            if let Value::Object(d) = v {
                for f in ["input", "output", "parameters"] {
                    d.remove(f);
                }
            }
        }
    }
    HistoryEvent {
        timestamp: ts(ev.timestamp),
        r#type: ev.event_type.clone(),
        id: ev.id,
        previous_event_id: ev.previous_id,
        details,
    }
}

#[cfg(test)]
mod tests;
