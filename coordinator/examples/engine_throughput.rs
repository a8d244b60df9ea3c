//! In-process engine throughput: STANDARD executions of 10 Pass states on the
//! SQLite store (durable, group commit), without HTTP.
//! Run: `cargo run --release -p stepwise-coordinator --example engine_throughput -- [executions] [in-flight]`

use std::sync::Arc;
use std::time::Instant;
use stepwise_coordinator::arn::ArnScope;
use stepwise_coordinator::engine::{Command, Engine, EngineConfig};
use stepwise_coordinator::store::sqlite::SqliteStore;
use stepwise_coordinator::time::SystemClock;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let in_flight: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(256);
    let dir = std::env::temp_dir().join(format!("stepwise-throughput-{}", std::process::id()));
    let store = Arc::new(SqliteStore::open(&dir)?);
    let cfg = EngineConfig {
        scope: ArnScope {
            region: "us-east-1".into(),
            account: "123456789012".into(),
        },
        wait_scale: 1.0,
        integrations: std::sync::Arc::new(
            stepwise_coordinator::integrations::Integrations::from_env().expect("integrations"),
        ),
    };
    let engine = Engine::load(cfg, store, Arc::new(SystemClock))?;
    let cancel = CancellationToken::new();
    let (h, join) = engine.spawn(cancel.clone());

    let mut states = serde_json::Map::new();
    for i in 0..10 {
        let next = if i == 9 {
            serde_json::json!({"End": true})
        } else {
            serde_json::json!({"Next": format!("S{}", i + 1)})
        };
        let mut s = serde_json::json!({"Type": "Pass", "Parameters": {"step": i, "v.$": "$.v"}, "ResultPath": "$.r"});
        if let (Some(o), Some(n)) = (s.as_object_mut(), next.as_object()) {
            o.extend(n.clone());
        }
        states.insert(format!("S{i}"), s);
    }
    let def = serde_json::json!({"StartAt": "S0", "States": states}).to_string();
    let (m, _, _) = h
        .call(|reply| Command::CreateStateMachine {
            name: "bench".into(),
            definition: def,
            role_arn: "arn:aws:iam::123456789012:role/bench".into(),
            machine_type: "STANDARD".into(),
            logging: String::new(),
            tracing: String::new(),
            tags: vec![],
            publish: None,
            reply,
        })
        .await?;
    let start = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let permit = sem.clone().acquire_owned().await?;
        let h = h.clone();
        let arn = m.arn.clone();
        tasks.push(tokio::spawn(async move {
            let r = h
                .call(|reply| Command::StartExecution {
                    machine_arn: arn,
                    name: None,
                    input: r#"{"v":1}"#.into(),
                    sync: false,
                    reply,
                })
                .await;
            drop(permit);
            r.is_ok()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap_or(false) {
            ok += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{ok}/{n} STANDARD executions of 10 Pass states in {secs:.2}s: {:.0} executions/s, {:.0} state transitions/s (durable, SQLite)",
        ok as f64 / secs,
        ok as f64 * 10.0 / secs
    );
    cancel.cancel();
    let _ = join.await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
