//! `stepwise-bench`: a load generator that speaks the AWS Step Functions API,
//! so it drives Stepwise, any other compatible endpoint, or (with an endpoint
//! that accepts unsigned requests) a local emulator alike. It can start the
//! coordinator itself on a fresh data directory to record startup time, CPU
//! and peak memory.
//!
//! ```text
//! cargo run --release -p stepwise-bench -- --spawn target/release/stepwise-coordinator all
//! cargo run --release -p stepwise-bench -- --endpoint http://127.0.0.1:8083 pass10 --executions 5000
//! ```

use clap::{Parser, ValueEnum};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::{Duration, Instant};
use stepwise_sdk::worker::{ActivityOptions, TaskEvent, TaskFailure, service_fn};
use stepwise_sdk::{Client, ClientBuilder, Worker};
use tokio::sync::{Mutex, Semaphore};

/// The load generator must not be the bottleneck: jemalloc takes less CPU
/// than glibc's allocator for its many small HTTP and JSON allocations.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// STANDARD, 10 Pass states with small Parameters/ResultPath transforms.
    Pass10,
    /// STANDARD, a Map over 100 items (inner Pass + Choice).
    Map100,
    /// EXPRESS through StartSyncExecution, 10 Pass states.
    Express,
    /// 5 sequential activity Tasks answered by workers built on the SDK's Worker.
    Activities,
    /// Many executions each waiting 1 s: timer precision and memory.
    Wait,
    /// Inputs near the 256 KiB limit.
    Payload,
    /// STANDARD, 10 Task states calling `dynamodb:getItem` on a local stub
    /// endpoint, against 10 Pass states: the coordinator's CPU per
    /// request-response integration call above a plain Pass state (needs `--spawn`).
    Integration,
    /// Executions of an 11 KB definition parked on a Wait; the coordinator is
    /// killed (SIGKILL) and started again: time to the first answer and RSS
    /// (needs `--spawn`).
    Restart,
    /// Every scenario in turn.
    All,
}

#[derive(Debug, Parser)]
#[command(
    name = "stepwise-bench",
    about = "Throughput, latency and footprint of a Step Functions endpoint"
)]
struct Args {
    /// Which scenario to run.
    #[arg(value_enum)]
    scenario: Scenario,
    /// An endpoint already running.
    #[arg(long, default_value = "http://127.0.0.1:8083")]
    endpoint: String,
    /// Drive AWS Step Functions itself in this region instead of `--endpoint`
    /// (SigV4, credentials from the environment, profile, ECS or EC2).
    #[arg(long, conflicts_with = "spawn")]
    region: Option<String>,
    /// The role the benchmark's state machines are created with (a real role on AWS).
    #[arg(long, default_value = "arn:aws:iam::123456789012:role/bench")]
    role_arn: String,
    /// Start this coordinator binary on a fresh data directory instead (records startup, CPU and RSS).
    #[arg(long)]
    spawn: Option<String>,
    /// With `--spawn`: the coordinator stores in this PostgreSQL database
    /// (`postgres://user@host:port/db`) instead of a fresh data directory.
    #[arg(long, requires = "spawn")]
    database_url: Option<String>,
    /// Executions per scenario (scaled down for the heavier ones).
    #[arg(long, default_value_t = 5000)]
    executions: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Executions in the Wait scenario (each phase).
    #[arg(long, default_value_t = 10_000)]
    waits: usize,
    /// Activity workers.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Tasks each activity worker runs at once (default: the SDK's, 4).
    #[arg(long)]
    worker_concurrency: Option<usize>,
    /// Long polls each activity worker keeps open (default: the SDK's, 2).
    #[arg(long)]
    worker_pollers: Option<usize>,
    /// Stop any loop after this many seconds.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
    /// Print JSON lines only.
    #[arg(long)]
    json: bool,
}

/// One scenario's figures.
#[derive(Debug, Default, Clone, serde::Serialize)]
struct Report {
    scenario: String,
    executions: usize,
    succeeded: usize,
    seconds: f64,
    executions_per_s: f64,
    transitions_per_s: Option<f64>,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    tasks_per_s: Option<f64>,
    server_cpu_ms_per_execution: Option<f64>,
    server_rss_mib: Option<f64>,
    server_peak_rss_mib: Option<f64>,
    /// Share of the machine's CPU time the hypervisor gave to others while
    /// the scenario ran (`steal` in /proc/stat; Linux guests only).
    cpu_stolen_pct: Option<f64>,
    note: String,
}

/// The Step Functions API through the SDK's client: pooled connections,
/// SigV4 when there are credentials (real AWS), retries on throttling.
#[derive(Clone)]
struct Api {
    client: Client,
    builder: ClientBuilder,
    /// The role state machines are created with.
    role_arn: String,
}

impl Api {
    fn new(builder: ClientBuilder, role_arn: String) -> Result<Self, String> {
        let client = builder.clone().build().map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            builder,
            role_arn,
        })
    }

    async fn call(&self, action: &str, body: Value) -> Result<Value, String> {
        self.client
            .call_json(action, &body)
            .await
            .map_err(|e| format!("{action}: {e}"))
    }

    /// A client of its own (one per worker), configured as this one.
    fn new_client(&self) -> Result<Client, stepwise_sdk::Error> {
        self.builder.clone().build()
    }
}

struct Server {
    child: Child,
    /// Spawn to first answered request.
    startup_ms: f64,
    started: Instant,
    bin: String,
    dir: std::path::PathBuf,
    /// The PostgreSQL database to use instead of `dir`.
    database_url: Option<String>,
    addr: String,
    /// The Integration scenario's stub endpoint.
    stub: String,
}

impl Server {
    fn spawn(
        bin: &str,
        stub: &str,
        database_url: Option<&str>,
    ) -> Result<(Server, String), String> {
        let dir = std::env::temp_dir().join(format!("stepwise-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let t0 = Instant::now();
        let (child, addr) = Self::start(bin, "127.0.0.1:0", &dir, database_url, stub)?;
        let url = format!("http://{addr}");
        Ok((
            Server {
                child,
                startup_ms: 0.0,
                started: t0,
                bin: bin.to_owned(),
                dir,
                database_url: database_url.map(str::to_owned),
                addr,
                stub: stub.to_owned(),
            },
            url,
        ))
    }

    /// Kills the coordinator as a crash would (SIGKILL) and starts it again
    /// on the same data directory and address; `started` is reset.
    fn crash_and_restart(&mut self) -> Result<(), String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.started = Instant::now();
        let (child, _) = Self::start(
            &self.bin,
            &self.addr,
            &self.dir,
            self.database_url.as_deref(),
            &self.stub,
        )?;
        self.child = child;
        Ok(())
    }

    /// Starts `bin` and waits until it says where it listens.
    fn start(
        bin: &str,
        listen: &str,
        dir: &std::path::Path,
        database_url: Option<&str>,
        stub: &str,
    ) -> Result<(Child, String), String> {
        let mut cmd = Command::new(bin);
        cmd.args(["--listen", listen]);
        match database_url {
            Some(url) => cmd.args(["--database-url", url]),
            None => cmd.arg("--data-dir").arg(dir),
        };
        let mut child = cmd
            .env("RUST_LOG", "warn")
            // Service calls of the Integration scenario go to the bench's stub.
            .env("AWS_ENDPOINT_URL_DYNAMODB", stub)
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn {bin}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        let addr = loop {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(a) = l.strip_prefix("stepwise-coordinator listening on ") {
                        break a.trim().to_owned();
                    }
                }
                _ => return Err("the coordinator exited before listening".into()),
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok((child, addr))
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (utime + stime) in ms.
    fn cpu_ms(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        let after = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
        Some(ticks * 1000.0 / 100.0)
    }

    /// (current RSS, peak RSS) in MiB.
    fn rss_mib(&self) -> (Option<f64>, Option<f64>) {
        let Ok(s) = std::fs::read_to_string(format!("/proc/{}/status", self.pid())) else {
            return (None, None);
        };
        let field = |k: &str| {
            s.lines()
                .find(|l| l.starts_with(k))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .map(|kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How fast this machine runs right now: the best of 5 timings, in ms, of a
/// fixed single-threaded integer loop (190 ms on the reference
/// machine). Shared virtual machines change speed from hour to hour; this
/// tells which runs can be compared.
async fn calibrate() -> f64 {
    tokio::task::spawn_blocking(calibration_loop)
        .await
        .unwrap_or(f64::NAN)
}

fn calibration_loop() -> f64 {
    (0..5)
        .map(|_| {
            let t0 = Instant::now();
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            for _ in 0..100_000_000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
            }
            std::hint::black_box(x);
            t0.elapsed().as_secs_f64() * 1000.0
        })
        .fold(f64::INFINITY, f64::min)
}

/// The machine's CPU time so far (all cores, in ticks): stolen by the
/// hypervisor, and in all. `None` where /proc/stat is not there.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let steal = *ticks.get(7)?;
    Some((steal, ticks.iter().take(8).sum()))
}

/// The share of CPU time stolen between two [`cpu_ticks`] readings, in percent.
fn stolen_pct(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> Option<f64> {
    let ((s0, t0), (s1, t1)) = (before?, after?);
    let total = t1.checked_sub(t0).filter(|t| *t > 0)?;
    Some(100.0 * s1.saturating_sub(s0) as f64 / total as f64)
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).copied()
}

fn pass_chain(n: usize, first: &str) -> Value {
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let mut s = json!({"Type": "Pass", "Parameters": {"step": i, "id.$": "$.id", "payload.$": "$.payload"}, "ResultPath": "$"});
        if i + 1 == n {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("{first}{}", i + 1));
        }
        states.insert(format!("{first}{i}"), s);
    }
    json!({"StartAt": format!("{first}0"), "States": states})
}

async fn create_machine(api: &Api, name: &str, def: &Value, ty: &str) -> Result<String, String> {
    let unique = format!("{name}-{}", uuid_like());
    let r = api
        .call(
            "CreateStateMachine",
            json!({"name": unique, "definition": def.to_string(), "roleArn": api.role_arn, "type": ty}),
        )
        .await?;
    r["stateMachineArn"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no stateMachineArn".into())
}

fn uuid_like() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}", t)
}

/// Starts `n` executions with `concurrency` in flight and waits until none is RUNNING.
/// Runs `n` executions of `machine`: how many succeeded, the seconds until
/// none was running, and the server's CPU time (ms) at that moment (before
/// the executions are listed to count them).
async fn run_standard(
    api: &Api,
    server: Option<&Server>,
    machine: &str,
    n: usize,
    concurrency: usize,
    input: Value,
    deadline: Instant,
) -> (usize, f64, Option<f64>) {
    let t0 = Instant::now();
    let input_text = input.to_string();
    let started = start_executions(
        api,
        machine,
        n,
        concurrency,
        |_| input_text.clone(),
        deadline,
    )
    .await;
    wait_until_done(api, machine, deadline).await;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = server.and_then(Server::cpu_ms);
    let ok = count_status(api, machine, "SUCCEEDED").await;
    (ok.min(started), secs, cpu)
}

/// Starts `n` executions of `machine` (the `i`th with `input(i)`), with
/// `concurrency` calls in flight, until the deadline; how many started.
async fn start_executions(
    api: &Api,
    machine: &str,
    n: usize,
    concurrency: usize,
    input: impl Fn(usize) -> String,
    deadline: Instant,
) -> usize {
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        if Instant::now() > deadline {
            break;
        }
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        let api = api.clone();
        let body = json!({"stateMachineArn": machine, "input": input(i)});
        tasks.push(tokio::spawn(async move {
            let r = api.call("StartExecution", body).await;
            drop(permit);
            r.is_ok()
        }));
    }
    let mut started = 0;
    for t in tasks {
        if t.await.unwrap_or(false) {
            started += 1;
        }
    }
    started
}

/// Waits until no execution of `machine` is RUNNING, or the deadline.
async fn wait_until_done(api: &Api, machine: &str, deadline: Instant) {
    loop {
        let r = api
            .call(
                "ListExecutions",
                json!({"stateMachineArn": machine, "statusFilter": "RUNNING", "maxResults": 1}),
            )
            .await;
        let running = r
            .map(|v| v["executions"].as_array().map(Vec::len).unwrap_or(0))
            .unwrap_or(0);
        if running == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Every execution of `machine` (with `status`, if given), paging through ListExecutions.
async fn list_executions(api: &Api, machine: &str, status: Option<&str>) -> Vec<Value> {
    let mut token: Option<String> = None;
    let mut all = Vec::new();
    loop {
        let mut body = json!({"stateMachineArn": machine, "maxResults": 1000});
        if let Some(s) = status {
            body["statusFilter"] = json!(s);
        }
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let Ok(mut r) = api.call("ListExecutions", body).await else {
            return all;
        };
        if let Value::Array(page) = r["executions"].take() {
            all.extend(page);
        }
        match r["nextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => return all,
        }
    }
}

async fn count_status(api: &Api, machine: &str, status: &str) -> usize {
    list_executions(api, machine, Some(status)).await.len()
}

/// A new activity and a STANDARD machine of 5 sequential Tasks on it.
async fn activity_machine(api: &Api) -> Result<(String, String), String> {
    let act = api
        .call(
            "CreateActivity",
            json!({"name": format!("bench-{}", uuid_like())}),
        )
        .await?["activityArn"]
        .as_str()
        .map(str::to_owned)
        .ok_or("no activityArn")?;
    let mut states = serde_json::Map::new();
    for i in 0..5 {
        let mut s = json!({"Type": "Task", "Resource": act});
        if i == 4 {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("T{}", i + 1));
        }
        states.insert(format!("T{i}"), s);
    }
    let m = create_machine(
        api,
        "activities",
        &json!({"StartAt": "T0", "States": states}),
        "STANDARD",
    )
    .await?;
    Ok((act, m))
}

/// What one run of activity round trips measured.
struct ActivityRun {
    tasks: usize,
    seconds: f64,
    latencies_ms: Vec<f64>,
}

impl ActivityRun {
    fn tasks_per_s(&self) -> f64 {
        self.tasks as f64 / self.seconds.max(1e-9)
    }
}

/// Starts `n` executions of the 5-Task machine `m`, at most `in_flight` at a
/// time, answered by `args.workers` instances of the SDK's [`Worker`] (each
/// with its own client and the SDK's default options unless `args` set them);
/// returns when every execution has ended or at the deadline.
async fn activity_round_trips(
    api: &Api,
    act: &str,
    m: &str,
    n: usize,
    args: &Args,
    in_flight: usize,
    deadline: Instant,
) -> ActivityRun {
    let defaults = ActivityOptions::default();
    let options = ActivityOptions {
        concurrency: args.worker_concurrency.unwrap_or(defaults.concurrency),
        pollers: args.worker_pollers.unwrap_or(defaults.pollers),
        ..defaults
    };
    let total_tasks = n * 5;
    let in_flight = Arc::new(Semaphore::new(in_flight));
    // Execution id -> when its previous task's handler returned (the SDK sends
    // SendTaskSuccess right after), for the dispatch latency.
    let sent_at: Arc<StdMutex<HashMap<u64, Instant>>> = Arc::default();
    let lat = Arc::new(StdMutex::new(Vec::with_capacity(total_tasks)));
    let done = Arc::new(AtomicUsize::new(0));
    let all_done = Arc::new(tokio::sync::Notify::new());
    let handler = {
        let (sent_at, lat, done, all_done, in_flight) = (
            sent_at.clone(),
            lat.clone(),
            done.clone(),
            all_done.clone(),
            in_flight.clone(),
        );
        service_fn(move |ev: TaskEvent<Value>| {
            let got = Instant::now();
            let id = ev.payload["id"].as_u64().unwrap_or(0);
            let step = ev.payload["step"].as_u64().unwrap_or(0);
            {
                let mut sent = sent_at.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(s) = sent.remove(&id) {
                    lat.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(got.duration_since(s).as_secs_f64() * 1000.0);
                }
                if step < 4 {
                    sent.insert(id, Instant::now());
                }
            }
            if step == 4 {
                in_flight.add_permits(1);
            }
            if done.fetch_add(1, Ordering::Relaxed) + 1 >= total_tasks {
                all_done.notify_one();
            }
            std::future::ready(Ok::<_, TaskFailure>(json!({"id": id, "step": step + 1})))
        })
    };
    let mut stops = Vec::new();
    let mut runs = Vec::new();
    for w in 0..args.workers {
        let worker = match api.new_client() {
            Ok(client) => {
                Worker::builder()
                    .client(client)
                    .worker_name(format!("w{w}"))
                    .activity_with(act, handler.clone(), options.clone())
                    .build()
                    .await
            }
            Err(e) => Err(e.into()),
        };
        match worker {
            Ok(worker) => {
                stops.push(worker.shutdown_handle());
                runs.push(tokio::spawn(worker.run()));
            }
            Err(e) => eprintln!("activities: worker {w}: {e}"),
        }
    }
    let t0 = Instant::now();
    // Each start is its own task: a StartExecution answers once it is durable,
    // so starting them one after another would make the feeder, not the
    // coordinator or the workers, the limit.
    let mut starts = Vec::with_capacity(n);
    for i in 0..n {
        if Instant::now() > deadline {
            break;
        }
        let Ok(permit) = in_flight.acquire().await else {
            break;
        };
        permit.forget();
        let api = api.clone();
        let body = json!({"stateMachineArn": m, "input": json!({"id": i, "step": 0}).to_string()});
        starts.push(tokio::spawn(async move {
            let _ = api.call("StartExecution", body).await;
        }));
    }
    for s in starts {
        let _ = s.await;
    }
    let _ = tokio::time::timeout_at(
        tokio::time::Instant::from_std(deadline),
        all_done.notified(),
    )
    .await;
    // The last answers are in flight when the last handler returns.
    wait_until_done(api, m, deadline).await;
    let seconds = t0.elapsed().as_secs_f64();
    for s in &stops {
        s.initiate_shutdown();
    }
    for r in runs {
        let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    }
    let latencies_ms = lat.lock().unwrap_or_else(PoisonError::into_inner).clone();
    ActivityRun {
        tasks: done.load(Ordering::Relaxed),
        seconds,
        latencies_ms,
    }
}

/// `n` executions of an 11 KB definition (a 600 s Wait, then 40 Pass states)
/// parked on their Wait; the coordinator is killed and started again on its
/// data directory: time from the new process to its first answer, RSS
/// before and after, and how many executions it resumed.
async fn restart(api: &Api, server: &mut Server, args: &Args) -> Result<Report, String> {
    let mut states = serde_json::Map::new();
    states.insert(
        "Park".into(),
        json!({"Type": "Wait", "Seconds": 600, "Next": "P0"}),
    );
    for i in 0..40 {
        let mut st = json!({
            "Type": "Pass",
            "Comment": format!("step {i} of a longer workflow"),
            "Parameters": {"order.$": "$.order", "step": i, "note": "x".repeat(80),
                           "entered.$": "$$.State.EnteredTime"},
            "ResultPath": format!("$.r{i}"),
        });
        if i == 39 {
            st["End"] = json!(true);
        } else {
            st["Next"] = json!(format!("P{}", i + 1));
        }
        states.insert(format!("P{i}"), st);
    }
    let def = json!({"StartAt": "Park", "States": states});
    let def_kb = def.to_string().len() as f64 / 1024.0;
    let m = create_machine(api, "restart", &def, "STANDARD").await?;
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let started = start_executions(
        api,
        &m,
        args.executions,
        args.concurrency,
        |i| json!({"order": i}).to_string(),
        deadline,
    )
    .await;
    let rss_before = server.rss_mib().0;
    tokio::task::block_in_place(|| server.crash_and_restart())?;
    // A client of its own: the pooled connections went with the old process.
    let fresh = Api {
        client: api.new_client().map_err(|e| e.to_string())?,
        ..api.clone()
    };
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    loop {
        if fresh.call("ListStateMachines", json!({})).await.is_ok() {
            break;
        }
        if Instant::now() > deadline {
            return Err("the restarted coordinator did not answer".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let first_answer_ms = server.started.elapsed().as_secs_f64() * 1000.0;
    let (rss_after, _) = server.rss_mib();
    let resumed = count_status(&fresh, &m, "RUNNING").await;
    Ok(Report {
        scenario: "restart".into(),
        executions: started,
        succeeded: resumed,
        seconds: first_answer_ms / 1000.0,
        executions_per_s: resumed as f64 * 1000.0 / first_answer_ms.max(1e-9),
        server_rss_mib: rss_after,
        note: format!(
            "{started} executions of a {def_kb:.0} KB definition parked on a Wait, coordinator \
             SIGKILLed and started again: first answer after {first_answer_ms:.0} ms, RSS {} -> {} MiB, \
             {resumed} resumed",
            fmt_opt(rss_before, 1),
            fmt_opt(rss_after, 1),
        ),
        ..Default::default()
    })
}

async fn scenario(
    api: &Api,
    server: Option<&Server>,
    sc: Scenario,
    args: &Args,
) -> Result<Report, String> {
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let cpu0 = server.and_then(Server::cpu_ms);
    // Where a scenario knows when its executions were done, CPU time is
    // counted to there: listing them afterwards to count the outcomes is the
    // benchmark's bookkeeping, not the workload.
    let mut cpu_done: Option<f64> = None;
    let mut cpu0_override: Option<f64> = None;
    let mut rep = Report {
        scenario: format!("{sc:?}").to_lowercase(),
        ..Default::default()
    };
    match sc {
        Scenario::Pass10 => {
            let m = create_machine(api, "pass10", &pass_chain(10, "P"), "STANDARD").await?;
            let n = args.executions;
            let (ok, secs, cpu) = run_standard(
                api,
                server,
                &m,
                n,
                args.concurrency,
                json!({"id": 1, "payload": {"a": [1, 2, 3]}}),
                deadline,
            )
            .await;
            cpu_done = cpu;
            rep.executions = n;
            rep.succeeded = ok;
            rep.seconds = secs;
            rep.transitions_per_s = Some(ok as f64 * 10.0 / secs);
        }
        Scenario::Map100 => {
            let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "End": true,
                "ItemProcessor": {"StartAt": "P", "States": {
                    "P": {"Type": "Pass", "Parameters": {"v.$": "$"}, "Next": "C"},
                    "C": {"Type": "Choice", "Choices": [{"Variable": "$.v", "NumericGreaterThan": 50, "Next": "Big"}], "Default": "Small"},
                    "Big": {"Type": "Pass", "Result": "big", "End": true},
                    "Small": {"Type": "Pass", "Result": "small", "End": true}}}}}});
            let m = create_machine(api, "map100", &def, "STANDARD").await?;
            let n = (args.executions / 50).max(10);
            let items: Vec<usize> = (0..100).collect();
            let (ok, secs, cpu) = run_standard(
                api,
                server,
                &m,
                n,
                args.concurrency.min(16),
                json!({"items": items}),
                deadline,
            )
            .await;
            cpu_done = cpu;
            rep.executions = n;
            rep.succeeded = ok;
            rep.seconds = secs;
            // Map state + 100 iterations of 2 states.
            rep.transitions_per_s = Some(ok as f64 * 201.0 / secs);
        }
        Scenario::Express => {
            let m = create_machine(api, "express", &pass_chain(10, "E"), "EXPRESS").await?;
            let n = args.executions;
            let lat = Arc::new(Mutex::new(Vec::with_capacity(n)));
            let t0 = Instant::now();
            let sem = Arc::new(Semaphore::new(args.concurrency));
            let mut tasks = Vec::new();
            for _ in 0..n {
                if Instant::now() > deadline {
                    break;
                }
                let Ok(permit) = sem.clone().acquire_owned().await else {
                    break;
                };
                let api = api.clone();
                let lat = lat.clone();
                let body = json!({"stateMachineArn": m, "input": "{\"id\":1,\"payload\":{}}"});
                tasks.push(tokio::spawn(async move {
                    let s = Instant::now();
                    let r = api.call("StartSyncExecution", body).await;
                    lat.lock().await.push(s.elapsed().as_secs_f64() * 1000.0);
                    drop(permit);
                    r.map(|v| v["status"] == "SUCCEEDED").unwrap_or(false)
                }));
            }
            let mut ok = 0;
            for t in tasks {
                if t.await.unwrap_or(false) {
                    ok += 1;
                }
            }
            rep.seconds = t0.elapsed().as_secs_f64();
            rep.executions = n;
            rep.succeeded = ok;
            let mut l = lat.lock().await.clone();
            l.sort_by(f64::total_cmp);
            rep.p50_ms = percentile(&l, 0.5);
            rep.p99_ms = percentile(&l, 0.99);
            rep.transitions_per_s = Some(ok as f64 * 10.0 / rep.seconds);
        }
        Scenario::Activities => {
            let n = (args.executions / 5).max(10);
            // Each phase has its own activity: a poll the previous phase's
            // workers left open when they were stopped must not take its tasks.
            //
            // Phase 1, dispatch latency: one execution at a time, so every
            // poller is parked when a task is scheduled and nothing else
            // competes for the CPU: the latency is the dispatch itself (one
            // SendTaskSuccess to the next task of the same execution reaching
            // a worker). Phase 2, the same under load: half as many executions
            // in flight as there are workers, which keeps the two cores of
            // the reference machine busy. Phase 3, throughput: enough
            // executions in flight that a task is always waiting for each of
            // the workers.
            let loaded = (args.workers / 2).max(1);
            let busy = args.concurrency.max(args.workers * 4);
            let mut phases = Vec::new();
            for in_flight in [1, loaded, busy] {
                let (act, m) = activity_machine(api).await?;
                let run = activity_round_trips(api, &act, &m, n, args, in_flight, deadline).await;
                phases.push((m, run));
            }
            let [(m1, mut idle), (m2, mut load), (m3, tput)] = <[_; 3]>::try_from(phases)
                .map_err(|_| "internal: three activity phases".to_string())?;
            rep.seconds = idle.seconds + load.seconds + tput.seconds;
            rep.executions = 3 * n;
            rep.succeeded = count_status(api, &m1, "SUCCEEDED").await
                + count_status(api, &m2, "SUCCEEDED").await
                + count_status(api, &m3, "SUCCEEDED").await;
            let sorted = |mut l: Vec<f64>| {
                l.sort_by(f64::total_cmp);
                l
            };
            let l = sorted(std::mem::take(&mut idle.latencies_ms));
            rep.p50_ms = percentile(&l, 0.5);
            rep.p99_ms = percentile(&l, 0.99);
            let l2 = sorted(std::mem::take(&mut load.latencies_ms));
            rep.tasks_per_s = Some(tput.tasks_per_s());
            rep.note = format!(
                "p50/p99 = dispatch latency with 1 execution in flight ({:.0} tasks/s); \
                 with {loaded} in flight p50 {:.2} ms, p99 {:.2} ms ({:.0} tasks/s); \
                 {:.0} activity tasks/s with {} workers and {busy} executions in flight",
                idle.tasks_per_s(),
                percentile(&l2, 0.5).unwrap_or(f64::NAN),
                percentile(&l2, 0.99).unwrap_or(f64::NAN),
                load.tasks_per_s(),
                tput.tasks_per_s(),
                args.workers,
            );
        }
        Scenario::Wait => {
            let n = args.waits;
            // Phase 1, precision: n executions each waiting 1 s.
            let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}});
            let m = create_machine(api, "wait", &def, "STANDARD").await?;
            let (ok, secs, _) =
                run_standard(api, server, &m, n, args.concurrency, json!({}), deadline).await;
            let mut late: Vec<f64> = list_executions(api, &m, None)
                .await
                .iter()
                .filter_map(|e| {
                    Some((e["stopDate"].as_f64()? - e["startDate"].as_f64()? - 1.0) * 1000.0)
                })
                .collect();
            late.sort_by(f64::total_cmp);
            rep.p50_ms = percentile(&late, 0.5);
            rep.p99_ms = percentile(&late, 0.99);
            // Phase 2, memory: n executions all parked on a timer at once (each
            // waits until a common instant after the last one has started).
            let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}});
            let m2 = create_machine(api, "parked", &def, "STANDARD").await?;
            let rss_before = server.and_then(|s| s.rss_mib().0);
            let until = Instant::now() + Duration::from_secs(3 + n as u64 / 1000);
            let seconds_left = |_| {
                let s = until
                    .saturating_duration_since(Instant::now())
                    .as_secs()
                    .max(1);
                json!({"s": s}).to_string()
            };
            start_executions(api, &m2, n, args.concurrency, seconds_left, deadline).await;
            let waiting = count_status(api, &m2, "RUNNING").await;
            let rss_waiting = server.and_then(|s| s.rss_mib().0);
            wait_until_done(api, &m2, deadline).await;
            rep.executions = 2 * n;
            rep.succeeded = ok + count_status(api, &m2, "SUCCEEDED").await;
            rep.seconds = secs;
            rep.note = format!(
                "p50/p99 = lateness of the 1 s timer over {n} executions; \
                 {waiting} executions waiting at once: RSS {:.1} -> {:.1} MiB",
                rss_before.unwrap_or(0.0),
                rss_waiting.unwrap_or(0.0)
            );
        }
        Scenario::Payload => {
            let m = create_machine(api, "payload", &pass_chain(3, "Q"), "STANDARD").await?;
            let n = (args.executions / 20).max(20);
            let blob = "x".repeat(250_000);
            let (ok, secs, cpu) = run_standard(
                api,
                server,
                &m,
                n,
                args.concurrency.min(16),
                json!({"id": 1, "payload": blob}),
                deadline,
            )
            .await;
            cpu_done = cpu;
            rep.executions = n;
            rep.succeeded = ok;
            rep.seconds = secs;
            rep.transitions_per_s = Some(ok as f64 * 3.0 / secs);
            rep.note = "input of 250,000 bytes through 3 Pass states".into();
            // The allocator hands freed memory back to the system over about
            // 10 s (jemalloc's decay, run by its background thread): the RSS
            // column is taken after that, the note has both.
            if let Some(s) = server {
                let end = s.rss_mib().0;
                tokio::time::sleep(Duration::from_secs(11)).await;
                if let (Some(end), Some(idle)) = (end, s.rss_mib().0) {
                    rep.note.push_str(&format!(
                        "; RSS {end:.1} MiB at the end, {idle:.1} MiB after 11 s idle"
                    ));
                }
            }
        }
        Scenario::Integration => {
            let Some(srv) = server else {
                return Err("needs --spawn (the coordinator must call the bench's stub)".into());
            };
            let n = args.executions;
            let input = json!({"id": 1, "payload": {"a": [1, 2, 3]}});
            let pass =
                create_machine(api, "integration-pass", &pass_chain(10, "P"), "STANDARD").await?;
            let c0 = srv.cpu_ms();
            let (ok_pass, _, c1) = run_standard(
                api,
                server,
                &pass,
                n,
                args.concurrency,
                input.clone(),
                deadline,
            )
            .await;
            let calls =
                create_machine(api, "integration-calls", &get_item_chain(10), "STANDARD").await?;
            let (ok, secs, c2) = run_standard(
                api,
                server,
                &calls,
                n,
                args.concurrency,
                input.clone(),
                deadline,
            )
            .await;
            // The same calls through the generic, model-driven aws-sdk caller.
            let sdk = create_machine(
                api,
                "integration-sdk",
                &task_chain(10, "arn:aws:states:::aws-sdk:dynamodb:getItem"),
                "STANDARD",
            )
            .await?;
            let (ok_sdk, _, c3) =
                run_standard(api, server, &sdk, n, args.concurrency, input, deadline).await;
            cpu_done = c2;
            rep.executions = n;
            rep.succeeded = ok;
            rep.seconds = secs;
            rep.transitions_per_s = Some(ok as f64 * 10.0 / secs);
            if let (Some(c0), Some(c1), Some(c2)) = (c0, c1, c2) {
                let pass_ms = (c1 - c0) / ok_pass.max(1) as f64;
                let calls_ms = (c2 - c1) / ok.max(1) as f64;
                rep.note = format!(
                    "{calls_ms:.3} ms/execution with 10 dynamodb:getItem calls, {pass_ms:.3} with 10 Pass states: {:.4} ms of coordinator CPU per call above a Pass state",
                    (calls_ms - pass_ms) / 10.0
                );
                if let Some(c3) = c3 {
                    let sdk_ms = (c3 - c2) / ok_sdk.max(1) as f64;
                    rep.note.push_str(&format!(
                        "; aws-sdk:dynamodb:getItem (model-driven): {sdk_ms:.3} ms/execution, {:.4} ms per call above a Pass state",
                        (sdk_ms - pass_ms) / 10.0
                    ));
                }
            }
            // Only the integration machine's executions count below.
            cpu0_override = c1;
        }
        Scenario::All => return Err("internal: All is expanded by the caller".into()),
        Scenario::Restart => return Err("internal: Restart is run by the caller".into()),
    }
    rep.executions_per_s = rep.succeeded as f64 / rep.seconds.max(1e-9);
    if let (Some(s), Some(c0)) = (server, cpu0_override.or(cpu0)) {
        if let Some(c1) = cpu_done.or_else(|| s.cpu_ms()) {
            rep.server_cpu_ms_per_execution = Some((c1 - c0) / rep.succeeded.max(1) as f64);
        }
        let (rss, peak) = s.rss_mib();
        rep.server_rss_mib = rss;
        rep.server_peak_rss_mib = peak;
    }
    Ok(rep)
}

/// `n` Task states each calling `dynamodb:getItem` (answered by the stub).
fn get_item_chain(n: usize) -> Value {
    task_chain(n, "arn:aws:states:::dynamodb:getItem")
}

/// `n` DynamoDB `GetItem` calls through `resource` (the optimized integration or `aws-sdk:`).
fn task_chain(n: usize, resource: &str) -> Value {
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let mut s = json!({"Type": "Task", "Resource": resource,
            "Parameters": {"TableName": "bench", "Key": {"id": {"S.$": "States.Format('{}', $.id)"}}},
            "ResultSelector": {"item.$": "$.Item"}, "ResultPath": format!("$.r{i}")});
        if i + 1 < n {
            s["Next"] = json!(format!("T{}", i + 1));
        } else {
            s["End"] = json!(true);
        }
        states.insert(format!("T{i}"), s);
    }
    json!({"StartAt": "T0", "States": states})
}

/// A stand-in for DynamoDB on 127.0.0.1: every request gets one small item.
async fn start_stub() -> Result<String, String> {
    let app = axum::Router::new().fallback(|| async {
        (
            [("content-type", "application/x-amz-json-1.0")],
            r#"{"Item":{"id":{"S":"1"},"n":{"N":"7"}}}"#,
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("stub: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("stub: {e}"))?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let stub = match start_stub().await {
        Ok(u) => u,
        Err(e) => {
            eprintln!("stepwise-bench: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let (server, endpoint) = match &args.spawn {
        Some(bin) => match Server::spawn(bin, &stub, args.database_url.as_deref()) {
            Ok((s, url)) => (Some(s), url),
            Err(e) => {
                eprintln!("stepwise-bench: {e}");
                return std::process::ExitCode::from(2);
            }
        },
        None => (None, args.endpoint.clone()),
    };
    let builder = match (&args.region, &server) {
        // Real AWS: the regional endpoint, credentials from the standard chain.
        (Some(region), None) => Client::builder().region(region.clone()).from_env(),
        _ => Client::builder().endpoint_url(endpoint).from_env(),
    };
    let api = match Api::new(builder, args.role_arn.clone()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("stepwise-bench: client: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut server = server;
    if let Some(s) = &mut server {
        if let Err(e) = api.call("ListStateMachines", json!({})).await {
            eprintln!("stepwise-bench: first request failed: {e}");
            return std::process::ExitCode::from(2);
        }
        s.startup_ms = s.started.elapsed().as_secs_f64() * 1000.0;
        let line =
            json!({"scenario": "startup", "startup_ms": s.startup_ms, "rss_mib": s.rss_mib().0});
        println!("{line}");
    }
    let list = if args.scenario == Scenario::All {
        vec![
            Scenario::Pass10,
            Scenario::Express,
            Scenario::Map100,
            Scenario::Activities,
            Scenario::Payload,
            Scenario::Integration,
            Scenario::Wait,
            Scenario::Restart,
        ]
    } else {
        vec![args.scenario]
    };
    let calibration_before = calibrate().await;
    let mut reports = Vec::new();
    for sc in list {
        let ticks_before = cpu_ticks();
        let report = match (sc, server.as_mut()) {
            (Scenario::Restart, Some(s)) => restart(&api, s, &args).await,
            (Scenario::Restart, None) if args.scenario == Scenario::All => continue,
            (Scenario::Restart, None) => Err("needs --spawn".into()),
            (Scenario::Integration, None) if args.scenario == Scenario::All => continue,
            _ => scenario(&api, server.as_ref(), sc, &args).await,
        };
        match report {
            Ok(mut r) => {
                r.cpu_stolen_pct = stolen_pct(ticks_before, cpu_ticks());
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
                reports.push(r);
            }
            Err(e) => {
                eprintln!("stepwise-bench: {sc:?}: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let calibration_after = calibrate().await;
    let line = json!({
        "scenario": "calibration",
        "loop_ms_before": calibration_before,
        "loop_ms_after": calibration_after,
    });
    println!("{line}");
    if !args.json {
        println!();
        println!(
            "{:<11} {:>7} {:>8} {:>10} {:>13} {:>8} {:>8} {:>10} {:>9}",
            "scenario",
            "execs",
            "ok",
            "execs/s",
            "transitions/s",
            "p50 ms",
            "p99 ms",
            "cpu ms/ex",
            "rss MiB"
        );
        for r in &reports {
            println!(
                "{:<11} {:>7} {:>8} {:>10.0} {:>13} {:>8} {:>8} {:>10} {:>9}  {}",
                r.scenario,
                r.executions,
                r.succeeded,
                r.executions_per_s,
                fmt_opt(r.transitions_per_s, 0),
                fmt_opt(r.p50_ms, 2),
                fmt_opt(r.p99_ms, 2),
                fmt_opt(r.server_cpu_ms_per_execution, 3),
                fmt_opt(r.server_rss_mib, 1),
                match r.cpu_stolen_pct {
                    Some(p) if p >= 1.0 => format!("{} [{p:.0}% of the CPU stolen]", r.note),
                    _ => r.note.clone(),
                }
            );
        }
        println!(
            "machine speed: a fixed CPU loop took {calibration_before:.0} ms before the runs, \
             {calibration_after:.0} ms after (lower is faster; compare figures only between runs \
             with similar times)"
        );
        if let Some(s) = &server {
            println!(
                "coordinator: start to first answered request {:.1} ms, peak RSS {} MiB",
                s.startup_ms,
                fmt_opt(s.rss_mib().1, 1)
            );
        }
    }
    std::process::ExitCode::SUCCESS
}
