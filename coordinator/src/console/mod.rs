//! The web console, served on its own port (`--console-listen`): state
//! machines, executions (with their graph coloured by what happened, the
//! event table, a timeline, live updates over server-sent events), EXPRESS
//! executions from the engine's in-memory ring, and activities.
//!
//! It reads through the engine's typed operations ([`Command`]) and the
//! store, like the API. It is read-only unless `console_allow_changes` is
//! set; then it can start, stop and redrive executions. When the coordinator
//! has an auth file, the console asks for an access key id and its secret
//! (HTTP Basic) and allows what that key allows.

pub mod graph;
pub mod history;
mod pages;

use crate::api::{ApiError, find_execution, map_runs, read_store};
use crate::auth::keys::Key;
use crate::auth::{Gate, HostCheck};
use crate::engine::{Command, EngineHandle, Started};
use crate::store::{EventRecord, ExecutionQuery, ExecutionRecord, MapRunRecord};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use stepwise_asl::compile::{CompileOptions, compile_str};
use stepwise_asl::model::MachineType;

/// Executions per page of the list.
pub const PAGE_SIZE: usize = 50;
/// The most execution rows one list request reads from the store.
const SCAN_LIMIT: usize = 100_000;
/// The most history events an execution page reads (AWS's limit is 25,000).
const MAX_EVENTS: usize = 25_010;
/// The shortest time between two live updates of one page.
const LIVE_MIN_INTERVAL: Duration = Duration::from_millis(200);
/// The header the console's own scripts send with every change (a form on
/// another site cannot send it without a CORS preflight, which the console
/// never grants).
pub const CHANGE_HEADER: &str = "x-stepwise-console";

/// Console settings.
#[derive(Debug, Clone, Default)]
pub struct ConsoleSettings {
    /// Start, stop and redrive are allowed from the console.
    pub allow_changes: bool,
}

#[derive(Clone)]
struct St {
    engine: EngineHandle,
    gate: Gate,
    hosts: Arc<HostCheck>,
    settings: ConsoleSettings,
}

/// An error shown as a small page (or as text to the console's scripts).
#[derive(Debug)]
pub enum ConsoleError {
    /// From the engine or the store.
    Api(ApiError),
    /// No such page.
    NotFound(String),
    /// Credentials needed.
    Unauthorized,
    /// Not allowed.
    Forbidden(String),
    /// A bad request.
    BadRequest(String),
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError::Api(e)
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            ConsoleError::Api(e) => {
                let status = match e.code {
                    "ExecutionDoesNotExist"
                    | "StateMachineDoesNotExist"
                    | "ActivityDoesNotExist"
                    | "ResourceNotFound" => StatusCode::NOT_FOUND,
                    "ServiceUnavailable" | "InternalFailure" => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::BAD_REQUEST,
                };
                (status, format!("{}: {}", e.code, e.message))
            }
            ConsoleError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ConsoleError::Unauthorized => {
                let mut r = (
                    StatusCode::UNAUTHORIZED,
                    "Sign in with an access key id (user) and its secret access key (password) from the coordinator's auth file",
                )
                    .into_response();
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="stepwise console", charset="UTF-8""#),
                );
                return r;
            }
            ConsoleError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            ConsoleError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
        };
        let mut r = (status, pages::error_page(status, &msg)).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    }
}

type Result<T> = std::result::Result<T, ConsoleError>;

/// The console's router (with its own Host check and authentication).
pub fn app(
    engine: EngineHandle,
    gate: Gate,
    hosts: HostCheck,
    settings: ConsoleSettings,
) -> Router {
    let st = St {
        engine,
        gate,
        hosts: Arc::new(hosts),
        settings,
    };
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(machines))
        .route("/console/state-machines/{arn}", get(machine))
        .route("/console/state-machines/{arn}/graph.svg", get(machine_svg))
        .route("/console/executions", get(executions))
        .route("/console/executions/{arn}", get(execution))
        .route("/console/executions/{arn}/graph.svg", get(execution_svg))
        .route("/console/executions/{arn}/live", get(live))
        .route("/console/activities", get(activities))
        .route("/console/console.js", get(script))
        .route("/console/actions/start", post(start))
        .route("/console/actions/stop", post(stop))
        .route("/console/actions/redrive", post(redrive))
        .layer(axum::middleware::from_fn_with_state(st.clone(), guard))
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::api::MAX_BODY_BYTES,
        ))
        .with_state(st)
}

/// The key a request was authenticated with (none without an auth file).
#[derive(Clone)]
struct Caller(Option<Key>);

impl Caller {
    fn may(&self, action: &str, resources: &[&str]) -> Result<()> {
        match &self.0 {
            None => Ok(()),
            Some(k) if k.allows(action, resources) => Ok(()),
            Some(k) => Err(ConsoleError::Forbidden(format!(
                "The key '{}' may not call {action}{}",
                k.name,
                if resources.is_empty() {
                    String::new()
                } else {
                    format!(" on {}", resources.join(", "))
                }
            ))),
        }
    }
}

/// Host check, then HTTP Basic with a key of the auth file (when there is one).
async fn guard(State(st): State<St>, mut req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !st.hosts.allows(host) {
        return ConsoleError::Forbidden(format!(
            "Host '{host}' is not a name of this coordinator: open the console by its address, localhost, or a name given with --host-name"
        ))
        .into_response();
    }
    let caller = if st.gate.requires_signature() {
        match basic_key(&st.gate, req.headers()) {
            Some(k) => Caller(Some(k)),
            None => return ConsoleError::Unauthorized.into_response(),
        }
    } else {
        Caller(None)
    };
    req.extensions_mut().insert(caller);
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    r
}

fn basic_key(gate: &Gate, headers: &HeaderMap) -> Option<Key> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b64 = v.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    let key = gate.key(id)?;
    // Compared through HMAC so the time taken does not tell how much matched.
    (digest(&key.secret) == digest(secret)).then_some(key)
}

fn digest(s: &str) -> [u8; 32] {
    use hmac::Mac;
    let mut m = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(b"stepwise-console")
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    m.update(s.as_bytes());
    m.finalize().into_bytes().into()
}

fn caller(req_ext: &axum::http::Extensions) -> Caller {
    req_ext.get::<Caller>().cloned().unwrap_or(Caller(None))
}

fn html(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn svg_response(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    r
}

fn query(raw: Option<String>) -> HashMap<String, String> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

async fn script() -> Response {
    let mut r = (StatusCode::OK, pages::SCRIPT).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    r
}

async fn list_machines(e: &EngineHandle) -> Result<Vec<crate::store::StateMachineRecord>> {
    Ok(e.call(|reply| Command::ListStateMachines { reply }).await?)
}

/// A machine's versions (newest first) and aliases; none if it has gone meanwhile.
async fn versions_and_aliases(
    e: &EngineHandle,
    arn: &str,
) -> (
    Vec<crate::store::StateMachineRecord>,
    Vec<crate::store::AliasRecord>,
) {
    let a = arn.to_owned();
    let versions = e
        .call(|reply| Command::ListVersions { arn: a, reply })
        .await
        .unwrap_or_default();
    let a = arn.to_owned();
    let aliases = e
        .call(|reply| Command::ListAliases { arn: a, reply })
        .await
        .unwrap_or_default();
    (versions, aliases)
}

async fn machines(State(st): State<St>, req: Request) -> Result<Response> {
    caller(req.extensions()).may("ListStateMachines", &[])?;
    let list = list_machines(&st.engine).await?;
    let mut rows = Vec::with_capacity(list.len());
    for m in list {
        let (versions, aliases) = versions_and_aliases(&st.engine, &m.arn).await;
        rows.push(pages::MachineRow {
            machine: m,
            versions: versions.len(),
            aliases: aliases.into_iter().map(|a| a.name).collect(),
        });
    }
    Ok(html(pages::machines(&rows)))
}

/// A machine (or version) and its compiled form.
async fn compiled(
    e: &EngineHandle,
    arn: &str,
) -> Result<(crate::store::StateMachineRecord, graph::Layout)> {
    let a = arn.to_owned();
    let rec = e
        .call(|reply| Command::DescribeStateMachine { arn: a, reply })
        .await?;
    let layout = layout_of(&rec.definition, &rec.machine_type)?;
    Ok((rec, layout))
}

fn layout_of(definition: &str, machine_type: &str) -> Result<graph::Layout> {
    let opts = CompileOptions {
        machine_type: if machine_type == "EXPRESS" {
            MachineType::Express
        } else {
            MachineType::Standard
        },
    };
    let m = compile_str(definition, opts)
        .map_err(|e| ConsoleError::BadRequest(format!("the definition does not compile: {e}")))?;
    let json: Value = serde_json::from_str(definition).unwrap_or(Value::Null);
    Ok(graph::layout(&m, &json))
}

async fn machine(
    State(st): State<St>,
    Path(arn): Path<String>,
    RawQuery(q): RawQuery,
    req: Request,
) -> Result<Response> {
    let who = caller(req.extensions());
    who.may("DescribeStateMachine", &[&arn])?;
    let (rec, layout) = compiled(&st.engine, &arn).await?;
    let svg = graph::svg(&layout, &HashMap::new());
    let q = query(q);
    let execs = if rec.machine_type == "EXPRESS" {
        express(&st.engine)
            .await?
            .into_iter()
            .filter(|x| x.state_machine_arn == rec.arn)
            .take(PAGE_SIZE)
            .collect()
    } else {
        let query = ExecutionQuery {
            state_machine_arn: rec.arn.clone(),
            limit: PAGE_SIZE,
            ..Default::default()
        };
        read_store(&st.engine, move |s| s.list_executions(&query))
            .await?
            .items
    };
    let (versions, aliases) = versions_and_aliases(&st.engine, &rec.arn).await;
    Ok(html(pages::machine(
        &rec,
        &svg,
        &execs,
        &versions,
        &aliases,
        st.settings.allow_changes,
        q.get("input").map(String::as_str),
    )))
}

async fn machine_svg(
    State(st): State<St>,
    Path(arn): Path<String>,
    req: Request,
) -> Result<Response> {
    caller(req.extensions()).may("DescribeStateMachine", &[&arn])?;
    let (_, layout) = compiled(&st.engine, &arn).await?;
    Ok(svg_response(graph::svg(&layout, &HashMap::new())))
}

async fn express(e: &EngineHandle) -> Result<Vec<ExecutionRecord>> {
    Ok(e.call(|reply| Command::ConsoleExpress { reply }).await?)
}

/// The filters of the executions list.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// `RUNNING`, `SUCCEEDED`, ...
    pub status: Option<String>,
    /// A state machine ARN.
    pub machine: Option<String>,
    /// The name starts with this.
    pub prefix: Option<String>,
    /// Started at or after (ms).
    pub from: Option<i64>,
    /// Started before (ms).
    pub to: Option<i64>,
    /// The page, from 0.
    pub page: usize,
}

impl Filters {
    fn parse(q: &HashMap<String, String>) -> Result<Self> {
        let time = |k: &str| -> Result<Option<i64>> {
            match q.get(k) {
                None => Ok(None),
                Some(v) => parse_time(v).map(Some).ok_or_else(|| {
                    ConsoleError::BadRequest(format!(
                        "'{k}' must be a date and time like 2025-01-31T12:00 (UTC), not '{v}'"
                    ))
                }),
            }
        };
        Ok(Filters {
            status: q.get("status").cloned(),
            machine: q.get("machine").cloned(),
            prefix: q.get("prefix").cloned(),
            from: time("from")?,
            to: time("to")?,
            page: q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0),
        })
    }

    fn keeps(&self, r: &ExecutionRecord) -> bool {
        self.prefix.as_ref().is_none_or(|p| r.name.starts_with(p))
            && self.from.is_none_or(|f| r.start >= f)
            && self.to.is_none_or(|t| r.start < t)
            && self.status.as_ref().is_none_or(|s| &r.status == s)
    }
}

/// `2025-01-31T12:00`, with seconds, or RFC 3339; without a zone, UTC.
fn parse_time(v: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Some(t.timestamp_millis());
    }
    for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(v, f) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// Executions matching `f`, newest first: one page, and whether there is another.
pub async fn find_executions(
    e: &EngineHandle,
    f: &Filters,
) -> std::result::Result<(Vec<ExecutionRecord>, bool), ApiError> {
    let machines: Vec<String> = match &f.machine {
        Some(m) => vec![m.clone()],
        None => e
            .call(|reply| Command::ListStateMachines { reply })
            .await?
            .into_iter()
            .map(|m| m.arn)
            .collect(),
    };
    let want = (f.page + 1) * PAGE_SIZE + 1;
    let mut all: Vec<ExecutionRecord> = e
        .call(|reply| Command::ConsoleExpress { reply })
        .await?
        .into_iter()
        .filter(|r| machines.contains(&r.state_machine_arn) && f.keeps(r))
        .collect();
    for m in machines {
        let f2 = f.clone();
        let found = read_store(e, move |s| {
            let mut out = Vec::new();
            let mut after = None;
            let mut scanned = 0;
            loop {
                let q = ExecutionQuery {
                    state_machine_arn: m.clone(),
                    status: f2.status.clone(),
                    after: after.take(),
                    limit: 500,
                    ..Default::default()
                };
                let page = s.list_executions(&q)?;
                scanned += page.items.len();
                for r in page.items {
                    // Newest first: once past `from`, nothing older matches.
                    if f2.from.is_some_and(|from| r.start < from) {
                        return Ok(out);
                    }
                    if f2.keeps(&r) {
                        out.push(r);
                    }
                }
                if out.len() >= want || scanned >= SCAN_LIMIT {
                    return Ok(out);
                }
                match page.next {
                    Some(n) => after = Some(n),
                    None => return Ok(out),
                }
            }
        })
        .await?;
        all.extend(found);
    }
    all.sort_by(|a, b| b.start.cmp(&a.start).then_with(|| b.arn.cmp(&a.arn)));
    let more = all.len() > (f.page + 1) * PAGE_SIZE;
    let items = all
        .into_iter()
        .skip(f.page * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    Ok((items, more))
}

async fn executions(State(st): State<St>, RawQuery(q): RawQuery, req: Request) -> Result<Response> {
    let q = query(q);
    let f = Filters::parse(&q)?;
    let who = caller(req.extensions());
    match &f.machine {
        Some(m) => who.may("ListExecutions", &[m])?,
        None => who.may("ListExecutions", &[])?,
    }
    let (items, more) = find_executions(&st.engine, &f).await?;
    let machines = list_machines(&st.engine).await?;
    Ok(html(pages::executions(&items, &f, &q, more, &machines)))
}

/// Everything an execution page shows.
pub struct ExecutionView {
    /// Its record.
    pub rec: ExecutionRecord,
    /// Its history (ids ascending).
    pub events: Vec<EventRecord>,
    /// Its Map Runs.
    pub map_runs: Vec<MapRunRecord>,
    /// The analysis of its history.
    pub analysis: history::Analysis,
    /// Its graph, painted.
    pub svg: String,
}

/// Reads and analyses an execution: the typed operations behind
/// `DescribeExecution`, `GetExecutionHistory` and `ListMapRuns`.
pub async fn view(e: &EngineHandle, arn: &str) -> Result<ExecutionView> {
    let rec = find_execution(e, arn).await?;
    let events = if arn::is_express(arn) {
        let a = arn.to_owned();
        e.call(|reply| Command::ConsoleExpressHistory { arn: a, reply })
            .await?
            .unwrap_or_default()
    } else {
        let a = arn.to_owned();
        read_store(e, move |s| s.history(&a, None, false, MAX_EVENTS)).await?
    };
    let map_runs = if arn::is_express(arn) {
        Vec::new()
    } else {
        map_runs(e, arn).await?
    };
    Ok(render_view(rec, events, map_runs))
}

/// The CPU part of [`view`]: analyse the history and draw the graph.
pub fn render_view(
    rec: ExecutionRecord,
    events: Vec<EventRecord>,
    map_runs: Vec<MapRunRecord>,
) -> ExecutionView {
    let analysis = history::analyse(&events, rec.status == "RUNNING");
    let machine_type = if arn::is_express(&rec.arn) {
        "EXPRESS"
    } else {
        "STANDARD"
    };
    let svg = match layout_of(&rec.definition, machine_type) {
        Ok(l) => graph::svg(&l, &analysis.paint()),
        Err(_) => String::new(),
    };
    ExecutionView {
        rec,
        events,
        map_runs,
        analysis,
        svg,
    }
}

/// The HTML page of an execution (`allow_changes`: with Stop and Redrive).
pub fn page(v: &ExecutionView, allow_changes: bool) -> String {
    pages::execution(v, allow_changes)
}

mod arn {
    /// Whether an execution ARN is an EXPRESS one.
    pub(super) fn is_express(arn: &str) -> bool {
        arn.contains(":express:")
    }
}

async fn execution(
    State(st): State<St>,
    Path(arn): Path<String>,
    RawQuery(q): RawQuery,
    req: Request,
) -> Result<Response> {
    caller(req.extensions()).may("DescribeExecution", &[&arn])?;
    let q = query(q);
    let v = view(&st.engine, &arn).await?;
    if q.get("part").map(String::as_str) == Some("live") {
        return Ok(html(pages::execution_live(&v)));
    }
    Ok(html(pages::execution(&v, st.settings.allow_changes)))
}

async fn execution_svg(
    State(st): State<St>,
    Path(arn): Path<String>,
    req: Request,
) -> Result<Response> {
    caller(req.extensions()).may("DescribeExecution", &[&arn])?;
    let v = view(&st.engine, &arn).await?;
    Ok(svg_response(v.svg))
}

/// Server-sent events: `change` whenever the execution has new events or a
/// new status, `done` once it finished (then the stream ends).
async fn live(State(st): State<St>, Path(arn): Path<String>, req: Request) -> Result<Response> {
    caller(req.extensions()).may("DescribeExecution", &[&arn])?;
    let first = find_execution(&st.engine, &arn).await?;
    let mut changes = st.engine.changes();
    // Whatever changed between the page and this stream is looked at first.
    changes.mark_changed();
    let engine = st.engine.clone();
    let seen = (first.status.clone(), last_event(&engine, &arn).await);
    let done = first.status != "RUNNING";
    let stream = futures_util::stream::unfold(
        (changes, seen, done, false),
        move |(mut changes, mut seen, done, ended)| {
            let engine = engine.clone();
            let arn = arn.clone();
            async move {
                if ended {
                    return None;
                }
                if done {
                    let msg = format!("event: done\ndata: {}\n\n", seen.0);
                    return Some((Ok(Bytes::from(msg)), (changes, seen, true, true)));
                }
                loop {
                    if changes.changed().await.is_err() {
                        return None;
                    }
                    let rec = find_execution(&engine, &arn).await.ok()?;
                    let last = last_event(&engine, &arn).await;
                    if (rec.status.as_str(), last) == (seen.0.as_str(), seen.1) {
                        continue;
                    }
                    seen = (rec.status.clone(), last);
                    let done = rec.status != "RUNNING";
                    let kind = if done { "done" } else { "change" };
                    let msg = format!("event: {kind}\ndata: {}\n\n", rec.status);
                    // Bounded rate: a busy execution updates the page a few
                    // times a second, not on every round.
                    if !done {
                        tokio::time::sleep(LIVE_MIN_INTERVAL).await;
                    }
                    return Some((Ok(Bytes::from(msg)), (changes, seen, false, done)));
                }
            }
        },
    );
    // The first message says the stream is open (tests wait on it).
    let hello = futures_util::stream::once(async {
        Ok::<Bytes, std::convert::Infallible>(Bytes::from_static(b"event: open\ndata: \n\n"))
    });
    let body = Body::from_stream(futures_util::StreamExt::chain(hello, stream));
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

async fn last_event(e: &EngineHandle, arn: &str) -> i64 {
    if arn::is_express(arn) {
        let a = arn.to_owned();
        return e
            .call(|reply| Command::ConsoleExpressHistory { arn: a, reply })
            .await
            .ok()
            .flatten()
            .and_then(|v| v.last().map(|e| e.id))
            .unwrap_or(0);
    }
    let a = arn.to_owned();
    read_store(e, move |s| s.history(&a, None, true, 1))
        .await
        .ok()
        .and_then(|v| v.first().map(|e| e.id))
        .unwrap_or(0)
}

async fn activities(State(st): State<St>, req: Request) -> Result<Response> {
    caller(req.extensions()).may("ListActivities", &[])?;
    let list = st
        .engine
        .call(|reply| Command::ConsoleActivities { reply })
        .await?;
    Ok(html(pages::activities(&list, st.engine.now_ms())))
}

/// A change from the console's scripts: allowed by the settings, sent by
/// the console's own script, allowed to the caller's key.
fn change_allowed(st: &St, headers: &HeaderMap) -> Result<()> {
    if !st.settings.allow_changes {
        return Err(ConsoleError::Forbidden(
            "The console is read-only: start the coordinator with --console-allow-changes to start, stop or redrive executions from it".into(),
        ));
    }
    if headers.get(CHANGE_HEADER).is_none() {
        return Err(ConsoleError::Forbidden(format!(
            "changes must come from the console's own page (header {CHANGE_HEADER})"
        )));
    }
    Ok(())
}

/// The caller and the JSON body of a change.
async fn change_request(req: Request) -> Result<(Caller, Value)> {
    let who = caller(req.extensions());
    let body = axum::body::to_bytes(req.into_body(), crate::api::MAX_BODY_BYTES)
        .await
        .map_err(|e| ConsoleError::BadRequest(format!("the request body: {e}")))?;
    let v = serde_json::from_slice(&body)
        .map_err(|e| ConsoleError::BadRequest(format!("the request body is not JSON: {e}")))?;
    Ok((who, v))
}

fn ok_json(v: Value) -> Response {
    let mut r = (StatusCode::OK, v.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn start(State(st): State<St>, req: Request) -> Result<Response> {
    change_allowed(&st, req.headers())?;
    let (who, b) = change_request(req).await?;
    let machine_arn = b["stateMachineArn"].as_str().unwrap_or_default().to_owned();
    who.may("StartExecution", &[&machine_arn])?;
    let input = b["input"].as_str().unwrap_or("{}").to_owned();
    if let Err(e) = serde_json::from_str::<Value>(&input) {
        return Err(ConsoleError::BadRequest(format!(
            "The input is not valid JSON: {e}"
        )));
    }
    let name = b["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let started = st
        .engine
        .call(|reply| Command::StartExecution {
            machine_arn,
            name,
            input,
            sync: false,
            reply,
        })
        .await?;
    let arn = match started {
        Started::Running { arn, .. } => arn,
        Started::Finished(rec) => rec.arn,
    };
    Ok(ok_json(json!({ "executionArn": arn })))
}

async fn stop(State(st): State<St>, req: Request) -> Result<Response> {
    change_allowed(&st, req.headers())?;
    let (who, b) = change_request(req).await?;
    let arn = b["executionArn"].as_str().unwrap_or_default().to_owned();
    who.may("StopExecution", &[&arn])?;
    st.engine
        .call(|reply| Command::StopExecution {
            arn,
            error: Some("Console.Stopped".into()),
            cause: Some("Stopped from the web console".into()),
            reply,
        })
        .await?;
    Ok(ok_json(json!({})))
}

async fn redrive(State(st): State<St>, req: Request) -> Result<Response> {
    change_allowed(&st, req.headers())?;
    let (who, b) = change_request(req).await?;
    let arn = b["executionArn"].as_str().unwrap_or_default().to_owned();
    who.may("RedriveExecution", &[&arn])?;
    let rec = Box::new(find_execution(&st.engine, &arn).await?);
    st.engine
        .call(|reply| Command::Redrive { rec, reply })
        .await?;
    Ok(ok_json(json!({})))
}

#[cfg(test)]
mod tests;
