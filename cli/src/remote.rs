//! `stepwise executions|describe|history|start|stop`: the API on a coordinator
//! or AWS, as tables (or the API's JSON with `--json`).

use crate::{CliError, Command, Target, input_text, table};
use serde::Serialize;
use stepwise_sdk::Client;
use stepwise_sdk::types::*;

/// The client for `--endpoint` / `--region` (then the environment).
pub fn client(target: &Target) -> Result<Client, CliError> {
    let mut b = Client::builder().from_env();
    if let Some(e) = &target.endpoint {
        b = b.endpoint_url(e);
    }
    if let Some(r) = &target.region {
        b = b.region(r);
    }
    Ok(b.build()?)
}

fn json<T: Serialize>(v: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(v).map_err(|source| CliError::Json {
        what: "the answer".into(),
        source,
    })?;
    println!("{text}");
    Ok(())
}

fn opt_time(t: Option<Timestamp>) -> String {
    t.map(|t| table::time(t.as_millis())).unwrap_or_default()
}

fn last_part(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

fn task_token(t: &crate::TokenArgs) -> Result<String, CliError> {
    if let Some(t) = &t.token {
        return Ok(t.clone());
    }
    let field = t.token_field.as_deref().unwrap_or("taskToken");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|source| {
        CliError::Read {
            path: "stdin".into(),
            source,
        }
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|source| CliError::Json {
        what: "stdin".into(),
        source,
    })?;
    v.get(field)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| CliError::Usage(format!("stdin has no string field {field}")))
}

/// Runs one of the API subcommands.
pub async fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Executions {
            state_machine,
            status,
            max,
            target,
        } => {
            let c = client(&target)?;
            let status_filter = status
                .map(|s| {
                    serde_json::from_value::<ExecutionStatus>(serde_json::Value::String(
                        s.to_uppercase(),
                    ))
                    .map_err(|source| CliError::Json {
                        what: "--status".into(),
                        source,
                    })
                })
                .transpose()?;
            let machines = match state_machine {
                Some(m) => vec![m],
                None => {
                    let mut all = Vec::new();
                    let mut next = None;
                    loop {
                        let page = c
                            .list_state_machines(PageInput {
                                next_token: next.take(),
                                ..Default::default()
                            })
                            .await?;
                        all.extend(page.state_machines.into_iter().map(|m| m.state_machine_arn));
                        match page.next_token {
                            Some(t) => next = Some(t),
                            None => break,
                        }
                    }
                    all
                }
            };
            let mut items = Vec::new();
            for m in machines {
                let mut next = None;
                loop {
                    let page = c
                        .list_executions(ListExecutionsInput {
                            state_machine_arn: Some(m.clone()),
                            status_filter: status_filter.clone(),
                            next_token: next.take(),
                            ..Default::default()
                        })
                        .await?;
                    items.extend(page.executions);
                    match page.next_token {
                        Some(t) if items.len() < max => next = Some(t),
                        _ => break,
                    }
                }
            }
            items.sort_by_key(|e| std::cmp::Reverse(e.start_date.as_millis()));
            items.truncate(max);
            if target.json {
                return json(&serde_json::json!({"executions": items}));
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|e| {
                    vec![
                        last_part(&e.state_machine_arn).to_owned(),
                        e.name.clone(),
                        e.status.to_string(),
                        table::time(e.start_date.as_millis()),
                        opt_time(e.stop_date),
                        e.execution_arn.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(
                    &["MACHINE", "NAME", "STATUS", "STARTED", "STOPPED", "ARN"],
                    &rows
                )
            );
            Ok(())
        }
        Command::Describe {
            execution_arn,
            target,
        } => {
            let d = client(&target)?
                .describe_execution(ExecutionArnInput { execution_arn })
                .await?;
            if target.json {
                return json(&d);
            }
            let mut rows = vec![
                vec!["execution".to_owned(), d.execution_arn.clone()],
                vec!["state machine".to_owned(), d.state_machine_arn.clone()],
                vec!["status".to_owned(), d.status.to_string()],
                vec!["started".to_owned(), table::time(d.start_date.as_millis())],
                vec!["stopped".to_owned(), opt_time(d.stop_date)],
            ];
            for (k, v) in [
                ("error", &d.error),
                ("cause", &d.cause),
                ("input", &d.input),
                ("output", &d.output),
            ] {
                if let Some(v) = v {
                    rows.push(vec![k.to_owned(), v.clone()]);
                }
            }
            print!("{}", table::render(&["FIELD", "VALUE"], &rows));
            Ok(())
        }
        Command::History {
            execution_arn,
            target,
        } => {
            let c = client(&target)?;
            let mut events = Vec::new();
            let mut next = None;
            loop {
                let page = c
                    .get_execution_history(GetExecutionHistoryInput {
                        execution_arn: execution_arn.clone(),
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
            if target.json {
                return json(&serde_json::json!({"events": events}));
            }
            let start = events.first().map_or(0, |e| e.timestamp.as_millis());
            let rows: Vec<Vec<String>> = events
                .iter()
                .map(|e| {
                    vec![
                        e.id.to_string(),
                        format!("+{} ms", e.timestamp.as_millis() - start),
                        e.r#type.clone(),
                        crate::run::event_summary(e),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["ID", "TIME", "TYPE", "DETAIL"], &rows)
            );
            Ok(())
        }
        Command::Start {
            state_machine_arn,
            input,
            input_file,
            name,
            target,
        } => {
            let input = input_text(input.as_deref(), input_file.as_deref())?;
            let s = client(&target)?
                .start_execution(StartExecutionInput {
                    state_machine_arn,
                    name,
                    input: Some(input),
                    ..Default::default()
                })
                .await?;
            if target.json {
                return json(&s);
            }
            println!("{}", s.execution_arn);
            Ok(())
        }
        Command::Stop {
            execution_arn,
            error,
            cause,
            target,
        } => {
            let s = client(&target)?
                .stop_execution(StopExecutionInput {
                    execution_arn: execution_arn.clone(),
                    error,
                    cause,
                })
                .await?;
            if target.json {
                return json(&s);
            }
            println!(
                "stopped {execution_arn} at {}",
                table::time(s.stop_date.as_millis())
            );
            Ok(())
        }
        Command::SendTaskSuccess {
            token,
            output,
            target,
        } => {
            serde_json::from_str::<serde_json::Value>(&output).map_err(|source| {
                CliError::Json {
                    what: "--output".into(),
                    source,
                }
            })?;
            client(&target)?
                .send_task_success(SendTaskSuccessInput {
                    task_token: task_token(&token)?,
                    output,
                })
                .await?;
            Ok(())
        }
        Command::SendTaskFailure {
            token,
            error,
            cause,
            target,
        } => {
            client(&target)?
                .send_task_failure(SendTaskFailureInput {
                    task_token: task_token(&token)?,
                    error,
                    cause,
                })
                .await?;
            Ok(())
        }
        Command::Validate { .. } | Command::Run(_) | Command::Graph { .. } => {
            Err(CliError::Usage("not an API command".into()))
        }
    }
}
