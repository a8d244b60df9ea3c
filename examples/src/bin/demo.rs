//! The one-command demo: a coordinator on its embedded SQLite store, a worker
//! with Rust handlers, and the order-fulfillment workflow run on a few orders.
//! It prints which state each order is in while they run, then the path each
//! took and its result, and exits 0.
//!
//! `cargo run --release -p stepwise-examples --bin demo`

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use stepwise_coordinator::config::Settings;
use stepwise_sdk::types::*;
use stepwise_sdk::{Client, TaskEvent, TaskFailure, Worker, service_fn};

type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[tokio::main]
async fn main() -> Fallible<()> {
    // 1. The coordinator, on its durable embedded store.
    let data_dir = std::env::temp_dir().join(format!("stepwise-demo-{}", std::process::id()));
    let settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        data_dir: data_dir.clone(),
        wait_time_scale: 0.5,
        ..Default::default()
    };
    let server = stepwise_coordinator::start(settings).await?;
    let endpoint = format!("http://{}", server.addr);
    println!(
        "coordinator listening on {endpoint}, store in {}",
        data_dir.display()
    );
    let client = Client::builder().endpoint_url(&endpoint).build()?;

    // 2. Activities and the workflow.
    for name in ["charge-card", "reserve-stock", "pack-line"] {
        client
            .create_activity(CreateActivityInput {
                name: name.into(),
                tags: vec![],
            })
            .await?;
    }
    let machine = client
        .create_state_machine(CreateStateMachineInput {
            name: "order-fulfillment".into(),
            definition: stepwise_examples::ORDER_FULFILLMENT.into(),
            role_arn: "arn:aws:iam::123456789012:role/demo".into(),
            ..Default::default()
        })
        .await?
        .state_machine_arn;

    // 3. A worker with Rust handlers. The payment handler injects one
    //    transient failure (retried by the workflow) and declines one card.
    let transient_injected = Arc::new(AtomicBool::new(false));
    let worker = Worker::builder()
        .client(client.clone())
        .worker_name("demo-worker")
        .activity(
            "charge-card",
            service_fn(move |e: TaskEvent<Value>| {
                let injected = transient_injected.clone();
                async move {
                    let order = e.payload["orderId"].as_str().unwrap_or_default().to_owned();
                    if e.payload["card"] == "4000-0000-0000-0002" {
                        return Err(TaskFailure::new(
                            "Payment.Declined",
                            format!("card declined for {order}"),
                        ));
                    }
                    if !injected.swap(true, Ordering::SeqCst) {
                        return Err(TaskFailure::new(
                            "Payment.Transient",
                            "the payment gateway timed out",
                        ));
                    }
                    Ok(json!({"charged": e.payload["amount"], "order": order}))
                }
            }),
        )
        .activity(
            "reserve-stock",
            service_fn(|e: TaskEvent<Value>| async move {
                let lines = e.payload["lines"].as_array().map(Vec::len).unwrap_or(0);
                Ok::<_, TaskFailure>(json!({"reserved": lines}))
            }),
        )
        .activity(
            "pack-line",
            service_fn(|e: TaskEvent<Value>| async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<_, TaskFailure>(json!({"packed": e.payload["line"]["sku"]}))
            }),
        )
        .build()
        .await?;
    let stop = worker.shutdown_handle();
    let worker_task = tokio::spawn(worker.run());

    // 4. A few orders.
    let orders = [
        (
            "o-1",
            json!({"orderId": "o-1", "total": 42, "card": "4111-1111-1111-1111", "lines": [{"sku": "book"}, {"sku": "pen"}]}),
        ),
        (
            "o-2",
            json!({"orderId": "o-2", "total": 18, "card": "4000-0000-0000-0002", "lines": [{"sku": "mug"}]}),
        ),
        (
            "o-3",
            json!({"orderId": "o-3", "total": 0, "card": "4111-1111-1111-1111", "lines": []}),
        ),
        (
            "o-4",
            json!({"orderId": "o-4", "total": 99, "card": "4111-1111-1111-1111", "lines": [{"sku": "lamp"}, {"sku": "bulb"}, {"sku": "cable"}]}),
        ),
    ];
    let mut runs = BTreeMap::new();
    for (id, input) in &orders {
        let started = client
            .start_execution(StartExecutionInput {
                state_machine_arn: machine.clone(),
                name: Some(format!("{id}-{}", std::process::id())),
                input: Some(input.to_string()),
                ..Default::default()
            })
            .await?;
        runs.insert(
            *id,
            (
                started.execution_arn,
                Vec::<String>::new(),
                Vec::<String>::new(),
            ),
        );
    }

    // 5. Follow them: print each state as it is entered.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut running = 0;
        for (id, (arn, path, failures)) in runs.iter_mut() {
            let h = client
                .get_execution_history(GetExecutionHistoryInput {
                    execution_arn: arn.clone(),
                    max_results: Some(1000),
                    ..Default::default()
                })
                .await?;
            let entered: Vec<String> = h
                .events
                .iter()
                .filter(|e| e.r#type.ends_with("StateEntered"))
                .filter_map(|e| {
                    e.details
                        .get("stateEnteredEventDetails")
                        .and_then(|d| d["name"].as_str())
                        .map(str::to_owned)
                })
                .collect();
            for state in entered.iter().skip(path.len()) {
                println!("  {id}: {state}");
            }
            *path = entered;
            *failures = h
                .events
                .iter()
                .filter(|e| e.r#type == "ActivityFailed")
                .filter_map(|e| {
                    e.details
                        .get("activityFailedEventDetails")
                        .and_then(|d| d["error"].as_str())
                        .map(str::to_owned)
                })
                .collect();
            let d = client
                .describe_execution(ExecutionArnInput {
                    execution_arn: arn.clone(),
                })
                .await?;
            if d.status == ExecutionStatus::Running {
                running += 1;
            }
        }
        if running == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 6. The path each order took and its result.
    println!();
    let mut all_done = true;
    for (id, (arn, path, failures)) in &runs {
        let d = client
            .describe_execution(ExecutionArnInput {
                execution_arn: arn.clone(),
            })
            .await?;
        let mut unique = path.clone();
        unique.dedup();
        let result = match d.status {
            ExecutionStatus::Succeeded => d.output.unwrap_or_default(),
            ExecutionStatus::Running => {
                all_done = false;
                "still running".into()
            }
            _ => format!(
                "{} ({}: {})",
                d.status,
                d.error.unwrap_or_default(),
                d.cause.unwrap_or_default()
            ),
        };
        let handled = if failures.is_empty() {
            String::new()
        } else {
            format!("  (task errors handled: {})", failures.join(", "))
        };
        println!("{id}: {}{handled}\n     -> {result}", unique.join(" > "));
    }

    stop.initiate_shutdown();
    let _ = worker_task.await;
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    if all_done {
        Ok(())
    } else {
        Err("some orders did not finish within 60 s".into())
    }
}
