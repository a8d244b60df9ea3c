//! The console's HTML, written straight into strings (every value escaped
//! with [`esc`]); a little plain JavaScript in [`SCRIPT`].

use super::graph::esc;
use super::{ExecutionView, Filters, PAGE_SIZE};
use crate::engine::ActivityStatus;
use crate::store::{AliasRecord, ExecutionRecord, StateMachineRecord};
use axum::http::StatusCode;
use std::collections::HashMap;
use std::fmt::Write;

/// A row of the state machines list.
pub(super) struct MachineRow {
    pub(super) machine: StateMachineRecord,
    pub(super) versions: usize,
    pub(super) aliases: Vec<String>,
}

const CSS: &str = r#"
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2937;background:#f8fafc}
header{background:#0f172a;color:#e2e8f0;padding:10px 20px;display:flex;gap:22px;align-items:center}
header a{color:#cbd5e1;text-decoration:none}header a:hover{color:#fff}header b{color:#fff;font-size:16px}
main{padding:18px 22px;max-width:1400px}h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:22px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #e2e8f0}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e2e8f0;vertical-align:top}th{background:#f1f5f9;font-weight:600}
a{color:#1d4ed8}code,pre{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
pre{background:#0f172a;color:#e2e8f0;padding:10px;border-radius:6px;overflow:auto;max-height:360px;white-space:pre-wrap;word-break:break-all}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.RUNNING,.running{background:#dbeafe;color:#1e40af}.SUCCEEDED,.succeeded{background:#dcfce7;color:#166534}
.FAILED,.failed{background:#fee2e2;color:#991b1b}.TIMED_OUT,.ABORTED,.caught{background:#ffedd5;color:#9a3412}
.muted{color:#64748b}.graph{background:#fff;border:1px solid #e2e8f0;border-radius:6px;overflow:auto;max-height:720px}
.cols{display:flex;gap:18px;align-items:flex-start}.cols>.graph{flex:1 1 auto}
#panel{flex:0 0 380px;background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:12px;min-height:120px}
form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin-bottom:12px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#475569}
input,select,textarea,button{font:inherit;padding:4px 8px;border:1px solid #cbd5e1;border-radius:4px}
button{background:#1d4ed8;color:#fff;border-color:#1d4ed8;cursor:pointer}button.danger{background:#b91c1c;border-color:#b91c1c}
textarea{width:100%;font:12px ui-monospace,monospace}.err{color:#b91c1c}
.gantt{background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:8px}
.gantt .row{display:flex;align-items:center;height:20px;font-size:12px}
.gantt .name{flex:0 0 200px;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
.gantt .track{position:relative;flex:1;height:12px;background:#f1f5f9}
.gantt .bar{position:absolute;top:0;height:12px;min-width:2px;border-radius:2px}
.gantt .bar.succeeded{background:#22c55e}.gantt .bar.failed{background:#ef4444}.gantt .bar.caught{background:#f97316}.gantt .bar.running{background:#3b82f6}
tr.hl td{background:#fef9c3}.pager{margin:10px 0;display:flex;gap:14px}
.legend span{margin-right:10px}
"#;

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{t} · Stepwise</title><style>{CSS}</style><script src="/console/console.js" defer></script></head><body><header><b>Stepwise</b><a href="/console/">State machines</a><a href="/console/executions">Executions</a><a href="/console/activities">Activities</a></header><main>{body}</main></body></html>"#,
        t = esc(title)
    )
}

pub(super) fn error_page(status: StatusCode, msg: &str) -> String {
    layout(
        "Error",
        &format!(
            r#"<h1>{}</h1><p class="err" id="error">{}</p>"#,
            status,
            esc(msg)
        ),
    )
}

/// A timestamp as ISO 8601 UTC with milliseconds.
fn time(ms: i64) -> String {
    crate::time::iso8601(ms)
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn exec_link(arn: &str, text: &str) -> String {
    format!(
        r#"<a href="/console/executions/{}">{}</a>"#,
        enc(arn),
        esc(text)
    )
}

fn machine_link(arn: &str) -> String {
    format!(
        r#"<a href="/console/state-machines/{}">{}</a>"#,
        enc(arn),
        esc(arn.rsplit(':').next().unwrap_or(arn))
    )
}

fn badge(status: &str) -> String {
    format!(r#"<span class="badge {s}">{s}</span>"#, s = esc(status))
}

fn duration(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{:.1} min", ms as f64 / 60_000.0)
    }
}

pub(super) fn machines(rows: &[MachineRow]) -> String {
    let mut b = String::from(
        r#"<h1>State machines</h1><table id="machines"><tr><th>Name</th><th>Type</th><th>Created</th><th>Versions</th><th>Aliases</th><th></th></tr>"#,
    );
    for r in rows {
        let m = &r.machine;
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href="/console/executions?machine={}">executions</a> · <a href="/console/state-machines/{}/graph.svg">graph.svg</a></td></tr>"#,
            machine_link(&m.arn),
            esc(&m.machine_type),
            time(m.created),
            r.versions,
            esc(&r.aliases.join(", ")),
            enc(&m.arn),
            enc(&m.arn),
        );
    }
    if rows.is_empty() {
        b.push_str(r#"<tr><td colspan="6" class="muted">No state machines yet: create one with the API or <code>stepwise</code>.</td></tr>"#);
    }
    b.push_str("</table>");
    layout("State machines", &b)
}

fn execution_rows(b: &mut String, items: &[ExecutionRecord], with_machine: bool) {
    b.push_str(r#"<table id="executions"><tr><th>Name</th><th>Status</th>"#);
    if with_machine {
        b.push_str("<th>State machine</th>");
    }
    b.push_str("<th>Started</th><th>Duration</th></tr>");
    for r in items {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td>",
            exec_link(&r.arn, &r.name),
            badge(&r.status)
        );
        if with_machine {
            let _ = write!(b, "<td>{}</td>", machine_link(&r.state_machine_arn));
        }
        let _ = write!(
            b,
            "<td>{}</td><td>{}</td></tr>",
            time(r.start),
            r.stop.map(|s| duration(s - r.start)).unwrap_or_default()
        );
    }
    if items.is_empty() {
        b.push_str(r#"<tr><td colspan="5" class="muted">No executions.</td></tr>"#);
    }
    b.push_str("</table>");
}

pub(super) fn machine(
    m: &StateMachineRecord,
    svg: &str,
    execs: &[ExecutionRecord],
    versions: &[StateMachineRecord],
    aliases: &[AliasRecord],
    allow_changes: bool,
    input: Option<&str>,
) -> String {
    let pretty = serde_json::from_str::<serde_json::Value>(&m.definition)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| m.definition.clone());
    let mut b = format!(
        r#"<h1>{}</h1><p class="muted">{} · {} · created {}{}</p>"#,
        esc(&m.name),
        esc(&m.arn),
        esc(&m.machine_type),
        time(m.created),
        if m.description.is_empty() {
            String::new()
        } else {
            format!(" · {}", esc(&m.description))
        }
    );
    if allow_changes {
        let _ = write!(
            b,
            r#"<h2>Start an execution</h2><form id="start" data-machine="{}"><label>Name (optional) <input name="name" id="start-name"></label><br><label>Input (JSON)<textarea name="input" id="start-input" rows="5">{}</textarea></label><p class="err" id="start-error"></p><button type="submit" id="start-button">Start execution</button></form>"#,
            esc(&m.arn),
            esc(input.unwrap_or("{}"))
        );
    }
    let _ = write!(
        b,
        r#"<h2>Graph</h2><div class="graph" id="graph">{svg}</div><p><a href="/console/state-machines/{}/graph.svg">graph.svg</a></p>"#,
        enc(&m.arn)
    );
    b.push_str("<h2>Executions</h2>");
    execution_rows(&mut b, execs, false);
    let _ = write!(
        b,
        r#"<p><a href="/console/executions?machine={}">all executions of this machine</a></p>"#,
        enc(&m.arn)
    );
    if !versions.is_empty() || !aliases.is_empty() {
        b.push_str("<h2>Versions and aliases</h2><table><tr><th>ARN</th><th>Created</th><th>Description</th></tr>");
        for v in versions {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&v.arn),
                time(v.created),
                esc(&v.description)
            );
        }
        for a in aliases {
            let routing: Vec<String> = a
                .routing
                .iter()
                .map(|(v, w)| format!("{} {w}%", v.rsplit(':').next().unwrap_or(v)))
                .collect();
            let _ = write!(
                b,
                "<tr><td>{} (alias → {})</td><td>{}</td><td>{}</td></tr>",
                esc(&a.arn),
                esc(&routing.join(", ")),
                time(a.created),
                esc(&a.description)
            );
        }
        b.push_str("</table>");
    }
    let _ = write!(
        b,
        "<h2>Definition</h2><pre id=\"definition\">{}</pre>",
        esc(&pretty)
    );
    layout(&m.name, &b)
}

pub(super) fn executions(
    items: &[ExecutionRecord],
    f: &Filters,
    q: &HashMap<String, String>,
    more: bool,
    machines: &[StateMachineRecord],
) -> String {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    let mut b = String::from(
        r#"<h1>Executions</h1><form class="filters" method="get" action="/console/executions">"#,
    );
    b.push_str(r#"<label>Status<select name="status"><option value="">any</option>"#);
    for s in ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"] {
        let _ = write!(
            b,
            r#"<option{}>{s}</option>"#,
            if get("status") == s { " selected" } else { "" }
        );
    }
    b.push_str(r#"</select></label><label>State machine<select name="machine"><option value="">any</option>"#);
    for m in machines {
        let _ = write!(
            b,
            r#"<option value="{}"{}>{}</option>"#,
            esc(&m.arn),
            if get("machine") == m.arn {
                " selected"
            } else {
                ""
            },
            esc(&m.name)
        );
    }
    let _ = write!(
        b,
        r#"</select></label><label>Name starts with<input name="prefix" value="{}"></label><label>Started from (UTC)<input name="from" type="datetime-local" value="{}"></label><label>to<input name="to" type="datetime-local" value="{}"></label><button type="submit">Filter</button></form>"#,
        esc(get("prefix")),
        esc(get("from")),
        esc(get("to"))
    );
    execution_rows(&mut b, items, true);
    let link = |page: usize| {
        let mut q2: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| k.as_str() != "page")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        q2.sort();
        q2.push(("page".into(), page.to_string()));
        let s: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q2)
            .finish();
        format!("/console/executions?{}", esc(&s))
    };
    b.push_str(r#"<div class="pager">"#);
    if f.page > 0 {
        let _ = write!(b, r#"<a id="prev" href="{}">← newer</a>"#, link(f.page - 1));
    }
    let _ = write!(
        b,
        r#"<span class="muted">page {} · {} per page</span>"#,
        f.page + 1,
        PAGE_SIZE
    );
    if more {
        let _ = write!(b, r#"<a id="next" href="{}">older →</a>"#, link(f.page + 1));
    }
    b.push_str("</div>");
    layout("Executions", &b)
}

/// The part of an execution page that live updates replace.
pub(super) fn execution_live(v: &ExecutionView) -> String {
    let r = &v.rec;
    let a = &v.analysis;
    let mut b = String::with_capacity(64 * 1024 + v.events.len() * 300);
    let _ = write!(
        b,
        r#"<div id="live" data-status="{}"><p>{} · started {}{}</p>"#,
        esc(&r.status),
        badge(&r.status),
        time(r.start),
        r.stop
            .map(|s| format!(" · stopped {} · took {}", time(s), duration(s - r.start)))
            .unwrap_or_default()
    );
    if let (Some(e), c) = (&r.error, &r.cause) {
        let _ = write!(
            b,
            r#"<p class="err" id="exec-error"><b>{}</b> {}</p>"#,
            esc(e),
            esc(c.as_deref().unwrap_or_default())
        );
    }
    b.push_str(r#"<p class="legend"><span class="badge succeeded">succeeded</span><span class="badge failed">failed</span><span class="badge caught">caught</span><span class="badge running">running</span><span class="muted">white: not reached · ×N: attempts</span></p>"#);
    let _ = write!(
        b,
        r#"<div class="cols"><div class="graph" id="graph">{}</div><div id="panel"><p class="muted">Click a state to see its input, output, error and events.</p></div></div>"#,
        v.svg
    );
    // What the panel shows, per state.
    let states = serde_json::to_string(&a.states).unwrap_or_else(|_| "{}".into());
    let _ = write!(
        b,
        r#"<script type="application/json" id="states">{}</script>"#,
        states.replace("</", "<\\/")
    );
    if !v.map_runs.is_empty() {
        b.push_str(r#"<h2>Map Runs</h2><table id="map-runs"><tr><th>Map Run</th><th>Status</th><th>Total</th><th>Succeeded</th><th>Failed</th><th>Running</th><th>Pending</th><th>Aborted</th></tr>"#);
        for m in &v.map_runs {
            let c = &m.counts;
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(m.arn.rsplit(':').next().unwrap_or(&m.arn)),
                badge(&m.status),
                c.total,
                c.succeeded,
                c.failed,
                c.running,
                c.pending,
                c.aborted
            );
        }
        b.push_str("</table>");
    }
    gantt(&mut b, v);
    let _ = write!(
        b,
        r#"<h2>Events ({})</h2><table id="events"><tr><th>ID</th><th>Type</th><th>State</th><th>Timestamp</th><th>Elapsed</th><th>Details</th></tr>"#,
        v.events.len()
    );
    for e in &v.events {
        let state = a.state_of.get(&e.id).map(String::as_str).unwrap_or("");
        let _ = write!(
            b,
            r#"<tr data-id="{}" data-state="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>"#,
            e.id,
            esc(state),
            e.id,
            esc(&e.event_type),
            esc(state),
            time(e.timestamp),
            duration(e.timestamp - r.start)
        );
        if e.details.len() > 2 {
            b.push_str("<details><summary>details</summary><pre>");
            b.push_str(&esc(&e.details));
            b.push_str("</pre></details>");
        }
        b.push_str("</td></tr>");
    }
    b.push_str("</table></div>");
    b
}

/// The most spans the timeline draws (the rest are counted).
const GANTT_MAX: usize = 500;

fn gantt(b: &mut String, v: &ExecutionView) {
    let spans = &v.analysis.spans;
    if spans.is_empty() {
        return;
    }
    let start = v.rec.start;
    let end = spans
        .iter()
        .filter_map(|s| s.end)
        .chain(v.rec.stop)
        .chain(v.events.last().map(|e| e.timestamp))
        .max()
        .unwrap_or(start)
        .max(start + 1);
    let total = (end - start) as f64;
    let _ = write!(
        b,
        r#"<h2>Timeline</h2><div class="gantt" id="timeline"><div class="muted" style="font-size:12px">0 … {}</div>"#,
        duration(end - start)
    );
    for s in spans.iter().take(GANTT_MAX) {
        let s_end = s.end.unwrap_or(end);
        let left = (s.start - start) as f64 / total * 100.0;
        let width = ((s_end - s.start) as f64 / total * 100.0).max(0.2);
        let _ = write!(
            b,
            r#"<div class="row"><span class="name" title="{n}">{n}</span><span class="track"><span class="bar {o}" style="left:{left:.2}%;width:{width:.2}%" title="{n}: {d}"></span></span></div>"#,
            n = esc(&s.state),
            o = s.outcome,
            d = duration(s_end - s.start)
        );
    }
    if spans.len() > GANTT_MAX {
        let _ = write!(
            b,
            r#"<p class="muted">… and {} more visits</p>"#,
            spans.len() - GANTT_MAX
        );
    }
    b.push_str("</div>");
}

pub(super) fn execution(v: &ExecutionView, allow_changes: bool) -> String {
    let r = &v.rec;
    let mut b = format!(
        r#"<h1>{}</h1><p class="muted">{} · {}</p>"#,
        esc(&r.name),
        esc(&r.arn),
        machine_link(&r.state_machine_arn)
    );
    if allow_changes {
        let a = esc(&r.arn);
        let button = match r.status.as_str() {
            "RUNNING" => {
                format!(r#"<button class="danger" id="stop" data-arn="{a}">Stop</button>"#)
            }
            "FAILED" | "TIMED_OUT" | "ABORTED" => {
                format!(r#"<button id="redrive" data-arn="{a}">Redrive</button>"#)
            }
            _ => String::new(),
        };
        let _ = write!(
            b,
            r#"<p>{button} <span class="err" id="action-error"></span></p>"#
        );
    }
    let _ = write!(
        b,
        r#"<details><summary>Input and output</summary><h2>Input</h2><pre id="exec-input">{}</pre><h2>Output</h2><pre id="exec-output">{}</pre></details>"#,
        esc(&r.input),
        esc(r.output.as_deref().unwrap_or(""))
    );
    let _ = write!(
        b,
        r#"<div id="execution" data-arn="{}">{}</div>"#,
        esc(&r.arn),
        execution_live(v)
    );
    layout(&r.name, &b)
}

pub(super) fn activities(list: &[ActivityStatus], now: i64) -> String {
    let mut b = String::from(
        r#"<h1>Activities</h1><table id="activities"><tr><th>Activity</th><th>Tasks waiting</th><th>Pollers parked now</th><th>Workers last seen</th></tr>"#,
    );
    for a in list {
        let seen: Vec<String> = a
            .seen
            .iter()
            .map(|(w, t)| format!("{} ({} ago)", esc(w), duration(now - t)))
            .collect();
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&a.arn),
            a.waiting,
            if a.parked.is_empty() {
                "0".to_owned()
            } else {
                format!("{}: {}", a.parked.len(), esc(&a.parked.join(", ")))
            },
            seen.join("<br>")
        );
    }
    if list.is_empty() {
        b.push_str(r#"<tr><td colspan="4" class="muted">No activities.</td></tr>"#);
    }
    b.push_str("</table>");
    layout("Activities", &b)
}

/// The console's script: the state panel, live updates, the forms.
pub(super) const SCRIPT: &str = r#"'use strict';
(function () {
  const H = {'x-stepwise-console': '1', 'content-type': 'application/json'};
  function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
  function pretty(s) { try { return JSON.stringify(JSON.parse(s), null, 2); } catch (_) { return s; } }
  let selected = null;
  function showState(name) {
    selected = name;
    const panel = document.getElementById('panel'); const data = document.getElementById('states');
    if (!panel || !data) return;
    const all = JSON.parse(data.textContent); const s = all[name];
    panel.replaceChildren();
    panel.appendChild(el('h2', name));
    if (!s) { panel.appendChild(el('p', 'Not reached.', 'muted')); return; }
    const st = el('p'); st.appendChild(el('span', s.status, 'badge ' + s.status));
    st.appendChild(el('span', '  visits: ' + s.visits + (s.attempts > 1 ? ', attempts: ' + s.attempts : ''), 'muted'));
    panel.appendChild(st);
    if (s.error !== undefined) { const e = el('p', '', 'err'); e.id = 'state-error'; e.appendChild(el('b', s.error + ' ')); e.appendChild(el('span', s.cause || '')); panel.appendChild(e); }
    for (const k of ['input', 'output']) { if (s[k] !== undefined) { panel.appendChild(el('h3', k)); const p = el('pre', pretty(s[k])); p.id = 'state-' + k; panel.appendChild(p); } }
    panel.appendChild(el('p', 'Events: ' + s.events.join(', '), 'muted'));
    document.querySelectorAll('#events tr[data-id]').forEach(tr => tr.classList.toggle('hl', tr.dataset.state === name));
  }
  document.addEventListener('click', ev => {
    const g = ev.target.closest && ev.target.closest('#graph [data-state]');
    if (g) showState(g.dataset.state);
  });
  const exec = document.getElementById('execution');
  if (exec && window.EventSource) {
    const arn = exec.dataset.arn;
    const url = '/console/executions/' + encodeURIComponent(arn);
    let es = null;
    function refresh() {
      return fetch(url + '?part=live', {headers: {'accept': 'text/html'}}).then(r => r.text()).then(html => {
        exec.innerHTML = html;
        if (selected) showState(selected);
      });
    }
    function connect() {
      es = new EventSource(url + '/live');
      es.addEventListener('open', () => { document.body.dataset.live = 'open'; });
      es.addEventListener('change', () => { refresh(); });
      es.addEventListener('done', () => { es.close(); refresh().then(() => { document.body.dataset.live = 'done'; }); });
    }
    const live = document.getElementById('live');
    if (live && live.dataset.status === 'RUNNING') connect(); else document.body.dataset.live = 'done';
  }
  const form = document.getElementById('start');
  if (form) form.addEventListener('submit', ev => {
    ev.preventDefault();
    const err = document.getElementById('start-error'); err.textContent = '';
    const input = document.getElementById('start-input').value;
    try { JSON.parse(input); } catch (e) { err.textContent = 'The input is not valid JSON: ' + e.message; return; }
    fetch('/console/actions/start', {method: 'POST', headers: H, body: JSON.stringify({stateMachineArn: form.dataset.machine, name: document.getElementById('start-name').value, input: input})})
      .then(r => r.ok ? r.json().then(j => { location.href = '/console/executions/' + encodeURIComponent(j.executionArn); }) : r.text().then(t => { err.textContent = new DOMParser().parseFromString(t, 'text/html').body.textContent.trim() || t; }));
  });
  for (const id of ['stop', 'redrive']) {
    const b = document.getElementById(id);
    if (b) b.addEventListener('click', () => {
      fetch('/console/actions/' + id, {method: 'POST', headers: H, body: JSON.stringify({executionArn: b.dataset.arn})})
        .then(r => r.ok ? location.reload() : r.text().then(t => { document.getElementById('action-error').textContent = new DOMParser().parseFromString(t, 'text/html').body.textContent.trim(); }));
    });
  }
})();
"#;
