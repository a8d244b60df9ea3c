//! `stepwise run`: creates the machine (and the machines it starts, `--with`)
//! on an in-process coordinator with an in-memory store, or on `--endpoint`,
//! answers its activities with `--worker` commands, starts one execution and
//! prints each state as it is entered and left (time spent, retries, the error
//! a Catch took), then the output.

use crate::{CliError, input_text, read, styled, validate};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use stepwise_sdk::types::*;
use stepwise_sdk::worker::ActivityOptions;
use stepwise_sdk::{Client, TaskEvent, Worker, service_fn};

/// How often the history is read while the execution runs.
const FOLLOW_EVERY: Duration = Duration::from_millis(100);
/// The role recorded on the machines `run` creates.
const ROLE: &str = "arn:aws:iam::123456789012:role/stepwise-cli";

/// `stepwise run` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The definition (`*.asl.json`); the machine is named after the file.
    pub file: PathBuf,
    /// The input JSON text (default `{}`).
    #[arg(long, conflicts_with = "input_file")]
    pub input: Option<String>,
    /// A file holding the input JSON.
    #[arg(long)]
    pub input_file: Option<PathBuf>,
    /// Other definitions to create first (machines this one starts), each named after its file.
    #[arg(long = "with", value_name = "FILE")]
    pub with: Vec<PathBuf>,
    /// Answer an activity (name or ARN) with a shell command: the task input on
    /// stdin, JSON on stdout is the output, a non-zero exit fails the task
    /// (`Agent.ExitCode.<n>`). Repeat for several activities.
    #[arg(long = "worker", value_name = "ACTIVITY=COMMAND")]
    pub workers: Vec<String>,
    /// Name the error of a `--worker` command's exit code (e.g. `4=Service.BadRequest`), for Retry and Catch.
    #[arg(long = "exit-code", value_name = "CODE=ERROR")]
    pub exit_codes: Vec<String>,
    /// Run on this coordinator or Step Functions endpoint instead of an in-process one.
    #[arg(long, env = "STEPWISE_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Give up (exit 2) after this many seconds.
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Multiply Wait states and Retry delays (in-process coordinator only), e.g. 0 to skip them.
    #[arg(long, default_value_t = 1.0)]
    pub wait_time_scale: f64,
    /// A mock file in Step Functions Local's format (in-process coordinator;
    /// with `--endpoint`, start that coordinator with it instead).
    #[arg(long, value_name = "FILE")]
    pub mock_config: Option<PathBuf>,
    /// The mock file's test case to run (`<state machine ARN>#<test case>`).
    #[arg(long, value_name = "NAME")]
    pub test_case: Option<String>,
}

/// The machine name for a definition file: its name up to the first dot.
pub fn machine_name(file: &std::path::Path) -> String {
    let stem = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("workflow");
    let name: String = stem
        .split('.')
        .next()
        .unwrap_or(stem)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() {
        "workflow".into()
    } else {
        name
    }
}

fn check(file: &std::path::Path) -> Result<String, CliError> {
    let text = read(file)?;
    let problems = validate::check(&text);
    if !problems.is_empty() {
        let name = file.display().to_string();
        for p in &problems {
            eprintln!("{}", p.render(&name));
        }
        return Err(CliError::Invalid(problems.len()));
    }
    Ok(text)
}

/// Runs `stepwise run`.
pub async fn run(args: RunArgs) -> Result<(), CliError> {
    let mut definitions = Vec::new();
    for f in args.with.iter().chain(std::iter::once(&args.file)) {
        definitions.push((machine_name(f), check(f)?));
    }
    let input = input_text(args.input.as_deref(), args.input_file.as_deref())?;
    let mut workers = Vec::new();
    for spec in &args.workers {
        let Some((activity, command)) = spec.split_once('=') else {
            return Err(CliError::Usage(format!(
                "--worker {spec}: expected ACTIVITY=COMMAND"
            )));
        };
        workers.push((activity.trim().to_owned(), command.to_owned()));
    }
    let mut exit_codes = BTreeMap::new();
    for spec in &args.exit_codes {
        let parsed = spec
            .split_once('=')
            .and_then(|(code, name)| Some((code.trim().parse::<i32>().ok()?, name.trim())));
        let Some((code, name)) = parsed.filter(|(_, n)| !n.is_empty()) else {
            return Err(CliError::Usage(format!(
                "--exit-code {spec}: expected CODE=ERROR, e.g. 4=Service.BadRequest"
            )));
        };
        exit_codes.insert(code, name.to_owned());
    }

    // The coordinator: in process (in memory, on a loopback port) or remote.
    let (client, endpoint, local) = match &args.endpoint {
        Some(e) => (
            crate::remote::client(&crate::Target {
                endpoint: Some(e.clone()),
                region: None,
                json: false,
            })?,
            e.clone(),
            None,
        ),
        None => {
            let settings = stepwise_coordinator::config::Settings {
                listen: "127.0.0.1:0"
                    .parse()
                    .map_err(|e| CliError::Usage(format!("{e}")))?,
                in_memory: true,
                wait_time_scale: args.wait_time_scale,
                mock_config: args.mock_config.clone(),
                ..Default::default()
            };
            let running = stepwise_coordinator::start(settings).await?;
            let url = format!("http://{}", running.addr);
            (
                Client::builder().endpoint_url(&url).build()?,
                url,
                Some(running),
            )
        }
    };

    // The activities the definitions name exist before anything runs (as a
    // deployment would create them): a Task on a missing activity fails.
    let mut activities = std::collections::BTreeSet::new();
    for (_, definition) in &definitions {
        if let Ok(v) = serde_json::from_str::<Value>(definition) {
            activity_names(&v, &mut activities);
        }
    }
    for name in activities {
        client
            .create_activity(CreateActivityInput { name, tags: vec![] })
            .await?;
    }
    let mut machine_arn = String::new();
    for (name, definition) in &definitions {
        let created = client
            .create_state_machine(CreateStateMachineInput {
                name: name.clone(),
                definition: definition.clone(),
                role_arn: ROLE.into(),
                ..Default::default()
            })
            .await?;
        machine_arn = created.state_machine_arn;
    }

    let answered: Vec<String> = workers.iter().map(|(a, _)| a.clone()).collect();
    let worker = if workers.is_empty() {
        None
    } else {
        let mut b = Worker::builder()
            .client(client.clone())
            .worker_name("stepwise-cli")
            .shutdown_deadline(Duration::from_secs(5));
        for (activity, command) in workers {
            let h = Arc::new(stepwise_agent::exec::ExecHandler {
                command: vec!["sh".into(), "-c".into(), command],
                env: BTreeMap::from([("STEPWISE_ENDPOINT".to_owned(), endpoint.clone())]),
                cwd: None,
                exit_codes: exit_codes.clone(),
                timeout: Duration::from_secs(300),
            });
            b = b.activity_with(
                activity,
                service_fn(move |e: TaskEvent<Value>| {
                    let h = h.clone();
                    async move { h.run(e.payload, e.context).await }
                }),
                ActivityOptions {
                    concurrency: 4,
                    heartbeat_interval: Duration::from_secs(10),
                    pollers: 1,
                },
            );
        }
        let w = b.build().await?;
        let stop = w.shutdown_handle();
        Some((stop, tokio::spawn(w.run())))
    };

    let started = client
        .start_execution(StartExecutionInput {
            state_machine_arn: match &args.test_case {
                Some(case) => format!("{machine_arn}#{case}"),
                None => machine_arn,
            },
            input: Some(input),
            ..Default::default()
        })
        .await?;
    let waiting = Waiting {
        answered,
        endpoint: endpoint.clone(),
    };
    let follow = follow(&client, &started.execution_arn, &waiting, styled());
    let result = match args.timeout {
        Some(s) => match tokio::time::timeout(Duration::from_secs(s), follow).await {
            Ok(r) => r,
            Err(_) => Err(CliError::Usage(format!(
                "the execution did not end within {s} s ({})",
                started.execution_arn
            ))),
        },
        None => follow.await,
    };
    if let Some((stop, task)) = worker {
        stop.initiate_shutdown();
        let _ = task.await;
    }
    if let Some(r) = local {
        r.shutdown().await;
    }
    result
}

/// The names of the activities a definition's Task states name.
fn activity_names(v: &Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("Resource")
                && let Some((_, name)) = r.split_once(":activity:")
            {
                out.insert(name.to_owned());
            }
            m.values().for_each(|x| activity_names(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| activity_names(x, out)),
        _ => {}
    }
}

/// Which activities `--worker` answers, and where other workers can poll.
struct Waiting {
    answered: Vec<String>,
    endpoint: String,
}

impl Waiting {
    fn answers(&self, activity_arn: &str) -> bool {
        self.answered
            .iter()
            .any(|a| a == activity_arn || activity_arn.rsplit(':').next() == Some(a.as_str()))
    }

    /// What to do about an activity nobody here answers.
    fn hint(&self, activity_arn: &str) -> String {
        let name = activity_arn.rsplit(':').next().unwrap_or(activity_arn);
        format!(
            "waiting for a worker of activity {name}: give `--worker {name}=COMMAND`, or run one against \
             {} (stepwise-agent, the SDK's Worker, or aws stepfunctions get-activity-task)",
            self.endpoint
        )
    }
}

/// Per state: when it was entered, how many times its work was scheduled, and
/// the last error it met (cleared by a success).
#[derive(Default)]
struct Open {
    entered_ms: i64,
    attempts: u32,
    error: Option<String>,
}

const SCHEDULED: &[&str] = &[
    "ActivityScheduled",
    "TaskScheduled",
    "LambdaFunctionScheduled",
];
const SUCCEEDED: &[&str] = &[
    "ActivitySucceeded",
    "TaskSucceeded",
    "LambdaFunctionSucceeded",
];

/// Follows the history until the execution ends, printing as it goes.
async fn follow(
    client: &Client,
    arn: &str,
    waiting: &Waiting,
    styled: bool,
) -> Result<(), CliError> {
    let mut seen = 0usize;
    let mut hinted = std::collections::HashSet::new();
    // Every event's state, as the id of that state's `...StateEntered` event
    // (events chain to it through previousEventId), and the states now open.
    let mut entry_of: HashMap<i64, i64> = HashMap::new();
    let mut open: HashMap<i64, (String, usize, Open)> = HashMap::new();
    let mut depth = 0usize;
    loop {
        let d = client
            .describe_execution(ExecutionArnInput {
                execution_arn: arn.into(),
            })
            .await?;
        let mut events = Vec::new();
        let mut next = None;
        loop {
            let page = client
                .get_execution_history(GetExecutionHistoryInput {
                    execution_arn: arn.into(),
                    next_token: next.take(),
                    ..Default::default()
                })
                .await?;
            events.extend(page.events);
            match page.next_token {
                Some(t) => next = Some(t),
                None => break,
            }
        }
        for e in events.iter().skip(seen) {
            let t = e.r#type.as_str();
            let name = detail(e, "name");
            let mut entry = entry_of.get(&e.previous_event_id).copied();
            if t.ends_with("StateExited") {
                // The state it closes: by the chain, else the oldest open one of that name.
                if entry.is_none_or(|id| open.get(&id).is_none_or(|o| Some(&o.0) != name.as_ref()))
                {
                    entry = open
                        .iter()
                        .filter(|(_, o)| Some(&o.0) == name.as_ref())
                        .map(|(id, _)| *id)
                        .min();
                }
            }
            if let Some(id) = entry {
                entry_of.insert(e.id, id);
            }
            if t.ends_with("StateEntered") {
                let name = name.unwrap_or_default();
                entry_of.insert(e.id, e.id);
                let pad = "  ".repeat(depth);
                if styled {
                    println!("{pad}\x1b[1m▶ {name}\x1b[0m");
                } else {
                    println!("{pad}enter {name}");
                }
                let o = Open {
                    entered_ms: e.timestamp.as_millis(),
                    ..Default::default()
                };
                open.insert(e.id, (name, depth, o));
                if t.starts_with("Parallel") || t.starts_with("Map") {
                    depth += 1;
                }
            } else if t.ends_with("StateExited") {
                let Some((name, d, o)) = entry.and_then(|id| open.remove(&id)) else {
                    continue;
                };
                if t.starts_with("Parallel") || t.starts_with("Map") {
                    depth = depth.saturating_sub(1);
                }
                let mut line = format!("{name} {} ms", e.timestamp.as_millis() - o.entered_ms);
                if o.attempts > 1 {
                    line.push_str(&format!(", {} retries", o.attempts - 1));
                }
                if let Some(err) = &o.error {
                    line.push_str(&format!(", caught {err}"));
                }
                let pad = "  ".repeat(d);
                if styled {
                    println!("{pad}\x1b[32m✓\x1b[0m {line}");
                } else {
                    println!("{pad}leave {line}");
                }
            } else if SCHEDULED.contains(&t) {
                if let Some((_, _, o)) = entry.and_then(|id| open.get_mut(&id)) {
                    o.attempts += 1;
                }
                if t == "ActivityScheduled"
                    && let Some(activity) = detail(e, "resource")
                    && !waiting.answers(&activity)
                    && hinted.insert(activity.clone())
                {
                    eprintln!("{}", waiting.hint(&activity));
                }
            } else if SUCCEEDED.contains(&t) {
                if let Some((_, _, o)) = entry.and_then(|id| open.get_mut(&id)) {
                    o.error = None;
                }
            } else if let Some(error) = error_of(e) {
                let what = match entry.and_then(|id| open.get_mut(&id)) {
                    Some((name, _, o)) => {
                        o.error = Some(error.clone());
                        name.clone()
                    }
                    None => "?".into(),
                };
                if !t.starts_with("Execution") {
                    let pad = "  ".repeat(depth);
                    if styled {
                        println!("{pad}\x1b[33m! {what}: {t} {error}\x1b[0m");
                    } else {
                        println!("{pad}{t} in {what}: {error}");
                    }
                }
            }
        }
        seen = events.len();
        if d.status != ExecutionStatus::Running {
            return finish(&d, styled);
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

fn finish(d: &DescribeExecutionOutput, styled: bool) -> Result<(), CliError> {
    let took = d
        .stop_date
        .map(|s| s.as_millis() - d.start_date.as_millis())
        .unwrap_or_default();
    if d.status == ExecutionStatus::Succeeded {
        if styled {
            println!("\x1b[1;32m{}\x1b[0m in {took} ms", d.status);
        } else {
            println!("{} in {took} ms", d.status);
        }
        let output = d.output.as_deref().unwrap_or("null");
        let pretty = serde_json::from_str::<Value>(output)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| output.to_owned());
        println!("{pretty}");
        Ok(())
    } else {
        let error = d.error.as_deref().unwrap_or("");
        let cause = d.cause.as_deref().unwrap_or("");
        if styled {
            println!(
                "\x1b[1;31m{}\x1b[0m in {took} ms: {error} {cause}",
                d.status
            );
        } else {
            println!("{} in {took} ms: {error} {cause}", d.status);
        }
        Err(CliError::Execution(d.status.to_string()))
    }
}

/// A string member of the event's details object.
fn detail(e: &HistoryEvent, key: &str) -> Option<String> {
    e.details
        .values()
        .find_map(|d| d.get(key).and_then(Value::as_str).map(str::to_owned))
}

/// `Error: cause` of a failure event.
fn error_of(e: &HistoryEvent) -> Option<String> {
    let error = detail(e, "error")?;
    Some(match detail(e, "cause") {
        Some(c) if !c.is_empty() => {
            let c: String = c.chars().take(120).collect();
            format!("{error} ({c})")
        }
        _ => error,
    })
}

/// One line about an event for `stepwise history`.
pub fn event_summary(e: &HistoryEvent) -> String {
    if let Some(n) = detail(e, "name") {
        return n;
    }
    if let Some(err) = error_of(e) {
        return err;
    }
    detail(e, "resource").unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_are_named_after_their_file() {
        assert_eq!(
            machine_name(std::path::Path::new(
                "examples/workflows/order-fulfillment.asl.json"
            )),
            "order-fulfillment"
        );
        assert_eq!(
            machine_name(std::path::Path::new("my flow.json")),
            "my-flow"
        );
    }
}
