//! How long the console takes to serve an execution of 10,000 history events:
//! the page over HTTP (store read, history analysis, graph, HTML), and the
//! server-side part alone (`console::view` plus rendering).
//!
//! `cargo run --release -p stepwise-coordinator --example console_page`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use std::time::{Duration, Instant};
use stepwise_coordinator::config::Settings;
use stepwise_coordinator::engine::{Command, Started};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        console_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Settings::default()
    };
    let running = stepwise_coordinator::start(settings).await.unwrap();
    let e = running.engine.clone();
    // 2 events per Pass, 2 per Choice: 2,500 rounds of the loop, 10,000 events.
    let definition = json!({"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Result": {"i": 0}, "Next": "Inc"},
        "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Again?"},
        "Again?": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThan": 2499, "Next": "Inc"}], "Default": "Done"},
        "Done": {"Type": "Succeed"}
    }})
    .to_string();
    let (rec, _, _) = e
        .call(|reply| Command::CreateStateMachine {
            name: "loop".into(),
            definition,
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            machine_type: "STANDARD".into(),
            logging: String::new(),
            tracing: String::new(),
            tags: Vec::new(),
            publish: None,
            reply,
        })
        .await
        .unwrap();
    let arn = match e
        .call(|reply| Command::StartExecution {
            machine_arn: rec.arn,
            name: Some("ten-thousand".into()),
            input: "{}".into(),
            sync: false,
            reply,
        })
        .await
        .unwrap()
    {
        Started::Running { arn, .. } => arn,
        Started::Finished(r) => r.arn,
    };
    let mut changes = e.changes();
    loop {
        let a = arn.clone();
        if e.call(|reply| Command::DescribeExecution { arn: a, reply })
            .await
            .unwrap()
            .is_none()
        {
            break;
        }
        changes.changed().await.unwrap();
    }
    let view = stepwise_coordinator::console::view(&e, &arn).await.unwrap();
    println!(
        "execution {arn}: {} events, status {}",
        view.events.len(),
        view.rec.status
    );

    let mut server = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        let v = stepwise_coordinator::console::view(&e, &arn).await.unwrap();
        let html = stepwise_coordinator::console::page(&v, false);
        std::hint::black_box(html.len());
        server.push(t.elapsed());
    }
    let url = format!(
        "http://{}/console/executions/{}",
        running.console_addr.unwrap(),
        percent_encoding::utf8_percent_encode(&arn, percent_encoding::NON_ALPHANUMERIC)
    );
    let client = reqwest::Client::new();
    let mut http = Vec::new();
    let mut size = 0;
    for _ in 0..15 {
        let t = Instant::now();
        let body = client
            .get(&url)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .bytes()
            .await
            .unwrap();
        http.push(t.elapsed());
        size = body.len();
    }
    println!(
        "server time (read + analyse + graph + HTML), median of 15: {:.1} ms",
        median(server).as_secs_f64() * 1000.0
    );
    println!(
        "GET over loopback HTTP ({} KiB), median of 15: {:.1} ms",
        size / 1024,
        median(http).as_secs_f64() * 1000.0
    );
    running.shutdown().await;
}
