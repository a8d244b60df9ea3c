//! The web console in a real headless browser (Debian's `chromium` driven
//! through `chromedriver` over WebDriver): the machines list, a running
//! execution turning green live when its activity task is answered, a failed
//! state's error after a click, and an execution started from the form.
//! Screenshots go to `target/console-screenshots/`.
//!
//! Without `chromedriver` the test says so and passes, except under `CI`,
//! where it fails (`.ci/run` installs `chromium` and `chromium-driver`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;
use stepwise_coordinator::config::Settings;
use stepwise_coordinator::engine::{Command, EngineHandle, Started};

/// How long the browser may take to show a change (a bound, not a pace:
/// the waits end as soon as the page shows it).
const UI_WAIT: Duration = Duration::from_secs(30);

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

/// Starts chromedriver on a free port and waits for its "started" line.
fn chromedriver() -> Option<(Driver, u16)> {
    let Some(bin) = find("chromedriver") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromedriver is not installed (apt-get install chromium chromium-driver); CI must run the browser tests"
        );
        eprintln!(
            "chromedriver not found: browser test not run (install chromium and chromium-driver)"
        );
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Process::new(bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let driver = Driver(child);
    let mut lines = BufReader::new(out).lines();
    loop {
        let line = lines
            .next()
            .expect("chromedriver exited before it started")
            .unwrap();
        if line.contains("started successfully") {
            break;
        }
    }
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Some((driver, port))
}

async fn browser(port: u16) -> Client {
    let chromium = find("chromium")
        .or_else(|| find("chromium-browser"))
        .expect("chromium is not installed");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromium session through chromedriver")
}

async fn shot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn api(e: &EngineHandle, make: impl FnOnce() -> (String, String, String)) -> String {
    let (name, definition, kind) = make();
    let (rec, _, _) = e
        .call(|reply| Command::CreateStateMachine {
            name,
            definition,
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            machine_type: kind,
            logging: String::new(),
            tracing: String::new(),
            tags: Vec::new(),
            publish: None,
            reply,
        })
        .await
        .unwrap();
    rec.arn
}

async fn start(e: &EngineHandle, machine: &str, name: &str, input: &str) -> String {
    let (machine_arn, name, input) = (machine.to_owned(), Some(name.to_owned()), input.to_owned());
    match e
        .call(|reply| Command::StartExecution {
            machine_arn,
            name,
            input,
            sync: false,
            reply,
        })
        .await
        .unwrap()
    {
        Started::Running { arn, .. } => arn,
        Started::Finished(r) => r.arn,
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_browser() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        in_memory: true,
        console_listen: Some("127.0.0.1:0".parse().unwrap()),
        console_allow_changes: true,
        ..Settings::default()
    };
    let running = stepwise_coordinator::start(settings).await.unwrap();
    let e = running.engine.clone();
    let base = format!("http://{}", running.console_addr.unwrap());

    let activity = e
        .call(|reply| Command::CreateActivity {
            name: "approve".into(),
            tags: Vec::new(),
            reply,
        })
        .await
        .unwrap()
        .arn;
    let waiting = api(&e, || {
        (
            "order-approval".into(),
            json!({"StartAt": "Approve", "States": {
                "Approve": {"Type": "Task", "Resource": activity, "Next": "Check"},
                "Check": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": true, "Next": "Ship"}], "Default": "Reject"},
                "Ship": {"Type": "Pass", "End": true},
                "Reject": {"Type": "Fail", "Error": "Order.Rejected", "Cause": "not approved"}
            }})
            .to_string(),
            "STANDARD".into(),
        )
    })
    .await;

    let c = browser(port).await;

    // The list.
    c.goto(&format!("{base}/console/")).await.unwrap();
    let table = c.find(Locator::Css("#machines")).await.unwrap();
    assert!(table.text().await.unwrap().contains("order-approval"));
    shot(&c, "machines").await;

    // A running execution turns green live.
    let run = start(&e, &waiting, "live-1", r#"{"order": 42}"#).await;
    c.goto(&format!("{base}/console/executions/{}", enc(&run)))
        .await
        .unwrap();
    c.find(Locator::Css(r#"#graph g.st.running[data-state="Approve"]"#))
        .await
        .unwrap();
    c.wait()
        .at_most(UI_WAIT)
        .for_element(Locator::Css(r#"body[data-live="open"]"#))
        .await
        .unwrap();
    shot(&c, "execution-running").await;
    let a = activity.clone();
    let task = e
        .call(|reply| Command::GetActivityTask {
            activity: a,
            worker: "browser-test".into(),
            reply,
        })
        .await
        .unwrap()
        .expect("the task");
    e.call(|reply| Command::SendTaskSuccess {
        token: task.token,
        output: r#"{"ok": true}"#.into(),
        reply,
    })
    .await
    .unwrap();
    c.wait()
        .at_most(UI_WAIT)
        .for_element(Locator::Css(r#"#graph g.st.succeeded[data-state="Ship"]"#))
        .await
        .unwrap();
    c.find(Locator::Css(
        r#"#graph g.st.succeeded[data-state="Approve"]"#,
    ))
    .await
    .unwrap();
    let status = c.find(Locator::Css("#live")).await.unwrap();
    assert_eq!(
        status.attr("data-status").await.unwrap().as_deref(),
        Some("SUCCEEDED")
    );
    c.find(Locator::Css(r#"#graph [data-state="Approve"]"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let out = c.find(Locator::Css("#state-output")).await.unwrap();
    assert!(out.text().await.unwrap().contains("\"ok\": true"));
    shot(&c, "execution-succeeded").await;

    // A failed state, clicked: its error and cause.
    let failed = start(&e, &waiting, "rejected-1", "{}").await;
    let task = e
        .call(|reply| Command::GetActivityTask {
            activity: activity.clone(),
            worker: "browser-test".into(),
            reply,
        })
        .await
        .unwrap()
        .expect("the task");
    e.call(|reply| Command::SendTaskSuccess {
        token: task.token,
        output: r#"{"ok": false}"#.into(),
        reply,
    })
    .await
    .unwrap();
    let mut changes = e.changes();
    loop {
        let a = failed.clone();
        let rec = e
            .call(|reply| Command::DescribeExecution { arn: a, reply })
            .await
            .unwrap();
        if rec.is_none() {
            break; // finished: no longer in the engine's memory
        }
        changes.changed().await.unwrap();
    }
    c.goto(&format!("{base}/console/executions/{}", enc(&failed)))
        .await
        .unwrap();
    c.find(Locator::Css(r#"#graph g.st.failed[data-state="Reject"]"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let err = c.find(Locator::Css("#state-error")).await.unwrap();
    let text = err.text().await.unwrap();
    assert!(
        text.contains("Order.Rejected") && text.contains("not approved"),
        "{text}"
    );
    shot(&c, "execution-failed").await;

    // Start one from the form.
    c.goto(&format!("{base}/console/state-machines/{}", enc(&waiting)))
        .await
        .unwrap();
    shot(&c, "machine").await;
    let input = c.find(Locator::Css("#start-input")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys("{not json").await.unwrap();
    c.find(Locator::Css("#start-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let msg = c.find(Locator::Css("#start-error")).await.unwrap();
    assert!(msg.text().await.unwrap().contains("not valid JSON"));
    input.clear().await.unwrap();
    input.send_keys(r#"{"order": 7}"#).await.unwrap();
    c.find(Locator::Css("#start-name"))
        .await
        .unwrap()
        .send_keys("from-the-form")
        .await
        .unwrap();
    c.find(Locator::Css("#start-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(UI_WAIT)
        .for_element(Locator::Css(r#"#graph g.st.running[data-state="Approve"]"#))
        .await
        .unwrap();
    let url = c.current_url().await.unwrap();
    assert!(url.as_str().contains("from-the-form"), "{url}");
    let page = c.source().await.unwrap();
    assert!(page.contains("{&quot;order&quot;: 7}") || page.contains(r#"{"order": 7}"#));

    // The list with a filter.
    c.goto(&format!("{base}/console/executions?status=FAILED"))
        .await
        .unwrap();
    let rows = c.find(Locator::Css("#executions")).await.unwrap();
    let text = rows.text().await.unwrap();
    assert!(
        text.contains("rejected-1") && !text.contains("live-1"),
        "{text}"
    );
    shot(&c, "executions").await;

    c.close().await.unwrap();
    running.shutdown().await;
}
