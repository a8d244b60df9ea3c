//! A state machine drawn as SVG: a layered (Sugiyama-style) layout of its
//! states, Parallel branches and Map processors drawn as nested groups, Choice
//! edges labelled with their rule.
//!
//! Written here rather than taken from a crate: the layout crates on
//! crates.io either render DOT without nested clusters (`layout-rs`) or are
//! unmaintained ports; ASL needs nested groups. The layout is small because
//! ASL's graphs are simple: transitions never leave their (sub-)machine, so
//! each machine is laid out on its own and a group is just a larger box in
//! its parent's layout (bottom-up).
//!
//! Steps for one machine: back edges reversed (depth-first from `StartAt`),
//! layers by longest path, dummy nodes on edges spanning several layers,
//! a few barycenter sweeps to order each layer, then x positions pulled
//! toward the neighbours' centres with a left-to-right pass that keeps the
//! boxes of a layer apart (so boxes never overlap by construction).

use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write;
use stepwise_asl::model::{StateKind, StateMachine, Transition};

const BOX_H: f64 = 36.0;
const MIN_W: f64 = 110.0;
const MAX_W: f64 = 280.0;
const CHAR_W: f64 = 7.0;
const TERMINAL: f64 = 16.0;
const GAP_X: f64 = 28.0;
const GAP_Y: f64 = 52.0;
const PAD: f64 = 14.0;
const HEADER: f64 = 24.0;
const DUMMY_W: f64 = 12.0;
const MAX_LABEL: usize = 40;

/// What happened to a state in an execution, for colouring it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Left normally.
    Succeeded,
    /// Failed and the failure was not caught.
    Failed,
    /// Failed and a Catch took over.
    Caught,
    /// Entered now, not left.
    Running,
}

impl Outcome {
    /// The CSS class (also the legend's word).
    pub fn class(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Caught => "caught",
            Outcome::Running => "running",
        }
    }
}

/// A state's outcome and how many attempts it took (retries + 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    /// What happened.
    pub outcome: Outcome,
    /// Attempts of its task (1 when it was not retried).
    pub attempts: u32,
}

/// A rectangle: x, y of its top-left corner, width, height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// Whether the two rectangles share any area.
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }

    /// Whether `o` lies inside this one.
    pub fn contains(&self, o: &Rect) -> bool {
        o.x >= self.x
            && o.y >= self.y
            && o.x + o.w <= self.x + self.w
            && o.y + o.h <= self.y + self.h
    }
}

/// What a node stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// The machine's (or branch's) start.
    Start,
    /// Where it ends.
    End,
    /// A state; `state_type` is its `Type`.
    State {
        /// `Task`, `Pass`, ...
        state_type: &'static str,
    },
}

/// A laid-out node, at absolute coordinates.
#[derive(Debug, Clone)]
pub struct Node {
    /// The state name (or `"start"`/`"end"` for the pseudo nodes).
    pub name: String,
    /// What it is.
    pub kind: NodeKind,
    /// Where it is.
    pub rect: Rect,
    /// Parallel branches or the Map processor drawn inside it.
    pub groups: Vec<Group>,
}

/// A nested machine: a Parallel branch or a Map processor.
#[derive(Debug, Clone)]
pub struct Group {
    /// `Branch 1`, `Item processor`.
    pub title: String,
    /// Where it is.
    pub rect: Rect,
    /// Its layout.
    pub layout: Layout,
}

/// What an edge stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// `Next`, `End`, or the start.
    Next,
    /// A Choice rule.
    Choice,
    /// A Choice's `Default`.
    Default,
    /// A Catch.
    Catch,
}

/// A laid-out transition.
#[derive(Debug, Clone)]
pub struct Edge {
    /// From this node's name.
    pub from: String,
    /// To this one's.
    pub to: String,
    /// What it is.
    pub kind: EdgeKind,
    /// The Choice rule or the caught errors.
    pub label: Option<String>,
    /// The polyline, absolute.
    pub points: Vec<(f64, f64)>,
}

/// One machine's layout (the top level or a nested one).
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Its nodes.
    pub nodes: Vec<Node>,
    /// Its edges.
    pub edges: Vec<Edge>,
    /// Width and height of everything.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Layout {
    fn shift(&mut self, dx: f64, dy: f64) {
        for n in &mut self.nodes {
            n.rect.x += dx;
            n.rect.y += dy;
            for g in &mut n.groups {
                g.rect.x += dx;
                g.rect.y += dy;
                g.layout.shift(dx, dy);
            }
        }
        for e in &mut self.edges {
            for p in &mut e.points {
                p.0 += dx;
                p.1 += dy;
            }
        }
    }
}

/// Lays out a compiled machine. `definition` is its JSON (for the text of
/// Choice rules; the compiled rules do not keep it); `Value::Null` is fine.
pub fn layout(machine: &StateMachine, definition: &Value) -> Layout {
    let mut l = layout_machine(machine, definition);
    l.shift(PAD, PAD);
    l.w += 2.0 * PAD;
    l.h += 2.0 * PAD;
    l
}

/// A node before placement: its size and nested groups (laid out at 0,0).
struct Item {
    name: String,
    kind: NodeKind,
    w: f64,
    h: f64,
    groups: Vec<Group>,
}

struct RawEdge {
    from: usize,
    to: usize,
    kind: EdgeKind,
    label: Option<String>,
}

fn text_w(s: &str) -> f64 {
    s.chars().count() as f64 * CHAR_W
}

/// Lays out `groups` side by side under a header; answers the size.
fn place_groups(groups: &mut [Group], title_w: f64) -> (f64, f64) {
    let mut x = PAD;
    let mut h: f64 = 0.0;
    for g in groups.iter_mut() {
        let gw = g.layout.w + 2.0 * PAD;
        let gh = g.layout.h + HEADER + PAD;
        g.rect = Rect {
            x,
            y: HEADER + 6.0,
            w: gw,
            h: gh,
        };
        g.layout.shift(x + PAD, HEADER + 6.0 + HEADER);
        x += gw + GAP_X / 2.0;
        h = h.max(gh);
    }
    let w = (x - GAP_X / 2.0 + PAD).max(title_w);
    (w, HEADER + 6.0 + h + PAD)
}

fn items_and_edges(machine: &StateMachine, def: &Value) -> (Vec<Item>, Vec<RawEdge>) {
    let mut items = vec![Item {
        name: "start".into(),
        kind: NodeKind::Start,
        w: TERMINAL,
        h: TERMINAL,
        groups: Vec::new(),
    }];
    let index: HashMap<&str, usize> = machine
        .states
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i + 1))
        .collect();
    let end = machine.states.len() + 1;
    let mut edges = Vec::new();
    if let Some(&s) = index.get(machine.start_at.as_str()) {
        edges.push(RawEdge {
            from: 0,
            to: s,
            kind: EdgeKind::Next,
            label: None,
        });
    }
    let defs = &def["States"];
    for (i, (name, state)) in machine.states.iter().enumerate() {
        let me = i + 1;
        let sdef = &defs[name.as_str()];
        let ty = state.kind.type_name();
        let title = format!("{name}  {ty}");
        let mut groups = Vec::new();
        match &state.kind {
            StateKind::Parallel { branches } => {
                for (b, m) in branches.iter().enumerate() {
                    groups.push(Group {
                        title: format!("Branch {}", b + 1),
                        rect: Rect {
                            x: 0.0,
                            y: 0.0,
                            w: 0.0,
                            h: 0.0,
                        },
                        layout: layout_machine(m, &sdef["Branches"][b]),
                    });
                }
            }
            StateKind::Map(map) => {
                let pdef = if sdef["ItemProcessor"].is_object() {
                    &sdef["ItemProcessor"]
                } else {
                    &sdef["Iterator"]
                };
                groups.push(Group {
                    title: "Each item".into(),
                    rect: Rect {
                        x: 0.0,
                        y: 0.0,
                        w: 0.0,
                        h: 0.0,
                    },
                    layout: layout_machine(&map.processor, pdef),
                });
            }
            _ => {}
        }
        let (w, h) = if groups.is_empty() {
            ((text_w(name) + 24.0).clamp(MIN_W, MAX_W), BOX_H)
        } else {
            place_groups(&mut groups, text_w(&title) + 2.0 * PAD)
        };
        items.push(Item {
            name: name.clone(),
            kind: NodeKind::State { state_type: ty },
            w,
            h,
            groups,
        });
        let mut to = |target: &str, kind: EdgeKind, label: Option<String>| {
            let t = if target.is_empty() {
                Some(end)
            } else {
                index.get(target).copied()
            };
            if let Some(t) = t {
                edges.push(RawEdge {
                    from: me,
                    to: t,
                    kind,
                    label,
                });
            }
        };
        match &state.transition {
            Transition::Next(n) => to(n, EdgeKind::Next, None),
            Transition::End => to("", EdgeKind::Next, None),
            Transition::Terminal => {}
        }
        match &state.kind {
            StateKind::Choice(c) => {
                for (k, branch) in c.choices.iter().enumerate() {
                    let label = rule_text(&sdef["Choices"][k]);
                    to(&branch.next, EdgeKind::Choice, Some(label));
                }
                if let Some(d) = &c.default {
                    to(d, EdgeKind::Default, Some("default".into()));
                }
            }
            StateKind::Succeed | StateKind::Fail(_) => to("", EdgeKind::Next, None),
            _ => {}
        }
        for c in &state.catch {
            let label = format!("catch {}", c.error_equals.join(", "));
            to(&c.next, EdgeKind::Catch, Some(shorten(&label)));
        }
    }
    items.push(Item {
        name: "end".into(),
        kind: NodeKind::End,
        w: TERMINAL,
        h: TERMINAL,
        groups: Vec::new(),
    });
    (items, edges)
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_LABEL {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(MAX_LABEL - 1).collect();
        t.push('…');
        t
    }
}

/// A Choice rule as a short text: `$.n > 10`, `$.a == "x" and not (...)`, or a JSONata condition.
pub fn rule_text(rule: &Value) -> String {
    shorten(&rule_full(rule))
}

fn rule_full(rule: &Value) -> String {
    if let Some(c) = rule["Condition"].as_str() {
        return c
            .trim()
            .trim_start_matches("{%")
            .trim_end_matches("%}")
            .trim()
            .to_owned();
    }
    let join = |items: &Value, word: &str| {
        items
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| format!("({})", rule_full(r)))
                    .collect::<Vec<_>>()
                    .join(word)
            })
            .unwrap_or_default()
    };
    if rule.get("And").is_some() {
        return join(&rule["And"], " and ");
    }
    if rule.get("Or").is_some() {
        return join(&rule["Or"], " or ");
    }
    if rule.get("Not").is_some() {
        return format!("not ({})", rule_full(&rule["Not"]));
    }
    let var = rule["Variable"].as_str().unwrap_or("?");
    let Some(obj) = rule.as_object() else {
        return "?".into();
    };
    for (key, value) in obj {
        if matches!(
            key.as_str(),
            "Variable" | "Next" | "Comment" | "Assign" | "Output"
        ) {
            continue;
        }
        let (base, path) = match key.strip_suffix("Path") {
            Some(b) if b != "Is" => (b, true),
            _ => (key.as_str(), false),
        };
        let operand = if path {
            value.as_str().unwrap_or("?").to_owned()
        } else {
            value.to_string()
        };
        let op = [
            ("GreaterThanEquals", ">="),
            ("LessThanEquals", "<="),
            ("GreaterThan", ">"),
            ("LessThan", "<"),
            ("Equals", "=="),
            ("Matches", "matches"),
        ]
        .iter()
        .find(|(suffix, _)| base.ends_with(suffix))
        .map(|(_, op)| *op);
        return match op {
            Some(op) => format!("{var} {op} {operand}"),
            None => {
                let what = base.strip_prefix("Is").unwrap_or(base).to_lowercase();
                if value == &Value::Bool(false) {
                    format!("{var} is not {what}")
                } else {
                    format!("{var} is {what}")
                }
            }
        };
    }
    "?".into()
}

/// Lays out one machine at the origin.
fn layout_machine(machine: &StateMachine, def: &Value) -> Layout {
    let (items, edges) = items_and_edges(machine, def);
    let n = items.len();
    // Adjacency for depth-first search in definition order of the edges.
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, e) in edges.iter().enumerate() {
        if e.from != e.to {
            out[e.from].push(k);
        }
    }
    // Back edges: those closing a cycle in a depth-first search from the start
    // (iterative: a 10,000-state machine must not exhaust the stack).
    let mut reversed = vec![false; edges.len()];
    let mut state = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
    let mut order = Vec::with_capacity(n);
    let mut roots = vec![0];
    roots.extend(1..n);
    for root in roots {
        if state[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        order.push(root);
        while let Some(&mut (v, ref mut i)) = stack.last_mut() {
            if *i < out[v].len() {
                let k = out[v][*i];
                *i += 1;
                let t = edges[k].to;
                match state[t] {
                    0 => {
                        state[t] = 1;
                        order.push(t);
                        stack.push((t, 0));
                    }
                    1 => reversed[k] = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
    // The DAG: (upper, lower) per edge.
    let dag = |k: usize| {
        let e = &edges[k];
        if reversed[k] {
            (e.to, e.from)
        } else {
            (e.from, e.to)
        }
    };
    // Longest-path layers, in topological order (Kahn).
    let mut indeg = vec![0usize; n];
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, e) in edges.iter().enumerate() {
        if e.from == e.to {
            continue;
        }
        let (u, v) = dag(k);
        indeg[v] += 1;
        down[u].push(v);
    }
    let mut layer = vec![0usize; n];
    let mut ready: Vec<usize> = order.iter().copied().filter(|&v| indeg[v] == 0).collect();
    ready.reverse();
    while let Some(u) = ready.pop() {
        for &v in &down[u] {
            layer[v] = layer[v].max(layer[u] + 1);
            indeg[v] -= 1;
            if indeg[v] == 0 {
                ready.push(v);
            }
        }
    }
    // The end sits alone below everything.
    let end = n - 1;
    let deepest = (0..n)
        .filter(|&v| v != end)
        .map(|v| layer[v])
        .max()
        .unwrap_or(0);
    layer[end] = deepest + 1;
    let layers_n = layer[end] + 1;

    // Graph nodes: the items, then dummies; chains of each edge.
    let mut widths: Vec<f64> = items.iter().map(|i| i.w).collect();
    let mut node_layer = layer.clone();
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    let mut links: Vec<(usize, usize)> = Vec::new();
    for k in 0..edges.len() {
        let (u, v) = dag(k);
        if u == v {
            chains.push(vec![u]);
            continue;
        }
        let mut chain = vec![u];
        for l in layer[u] + 1..layer[v] {
            widths.push(DUMMY_W);
            node_layer.push(l);
            chain.push(widths.len() - 1);
        }
        chain.push(v);
        for w in chain.windows(2) {
            links.push((w[0], w[1]));
        }
        chains.push(chain);
    }
    let total = widths.len();
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers_n];
    // First order: depth-first discovery (definition order), dummies after.
    for &v in &order {
        rows[node_layer[v]].push(v);
    }
    for (v, &l) in node_layer.iter().enumerate().skip(n) {
        rows[l].push(v);
    }
    let mut ups: Vec<Vec<usize>> = vec![Vec::new(); total];
    let mut downs: Vec<Vec<usize>> = vec![Vec::new(); total];
    for &(a, b) in &links {
        downs[a].push(b);
        ups[b].push(a);
    }
    let mut pos = vec![0.0f64; total];
    let index_rows = |rows: &Vec<Vec<usize>>, pos: &mut Vec<f64>| {
        for row in rows {
            for (i, &v) in row.iter().enumerate() {
                pos[v] = i as f64;
            }
        }
    };
    index_rows(&rows, &mut pos);
    for sweep in 0..8 {
        let downward = sweep % 2 == 0;
        let range: Vec<usize> = if downward {
            (1..layers_n).collect()
        } else {
            (0..layers_n.saturating_sub(1)).rev().collect()
        };
        for l in range {
            let nb = if downward { &ups } else { &downs };
            let mut keyed: Vec<(f64, usize)> = rows[l]
                .iter()
                .map(|&v| {
                    let ns = &nb[v];
                    let key = if ns.is_empty() {
                        pos[v]
                    } else {
                        ns.iter().map(|&u| pos[u]).sum::<f64>() / ns.len() as f64
                    };
                    (key, v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            rows[l] = keyed.into_iter().map(|(_, v)| v).collect();
            for (i, &v) in rows[l].iter().enumerate() {
                pos[v] = i as f64;
            }
        }
    }
    // x: centres. Packed first, then pulled toward the neighbours.
    let mut cx = vec![0.0f64; total];
    let pack = |row: &[usize], cx: &mut Vec<f64>, widths: &Vec<f64>| {
        let mut left = f64::NEG_INFINITY;
        for &v in row {
            let min = left + widths[v] / 2.0;
            if cx[v] < min {
                cx[v] = min;
            }
            left = cx[v] + widths[v] / 2.0 + GAP_X;
        }
    };
    for row in &rows {
        let mut x = 0.0;
        for &v in row {
            cx[v] = x + widths[v] / 2.0;
            x += widths[v] + GAP_X;
        }
    }
    for sweep in 0..6 {
        let downward = sweep % 2 == 0;
        let range: Vec<usize> = if downward {
            (1..layers_n).collect()
        } else {
            (0..layers_n.saturating_sub(1)).rev().collect()
        };
        for l in range {
            // Toward the mean of every neighbour, above and below (pulling
            // only one way drags long edges to one side).
            for &v in &rows[l] {
                let n = ups[v].len() + downs[v].len();
                if n > 0 {
                    let sum: f64 = ups[v].iter().chain(&downs[v]).map(|&u| cx[u]).sum();
                    cx[v] = sum / n as f64;
                }
            }
            // Keep the order and the gaps: shift right where needed, then
            // back left as a block if everything moved right.
            pack(&rows[l], &mut cx, &widths);
        }
    }
    // Nothing left of 0.
    let min_x = (0..total)
        .map(|v| cx[v] - widths[v] / 2.0)
        .fold(f64::INFINITY, f64::min);
    let min_x = if min_x.is_finite() { min_x } else { 0.0 };
    for c in cx.iter_mut() {
        *c -= min_x;
    }
    // y: rows stacked by their tallest node.
    let mut row_y = vec![0.0f64; layers_n];
    let mut row_h = vec![0.0f64; layers_n];
    let mut y = 0.0;
    for l in 0..layers_n {
        row_y[l] = y;
        row_h[l] = rows[l]
            .iter()
            .map(|&v| if v < n { items[v].h } else { 0.0 })
            .fold(0.0, f64::max);
        y += row_h[l] + GAP_Y;
    }
    let height = (y - GAP_Y).max(0.0);
    let width = (0..total)
        .map(|v| cx[v] + widths[v] / 2.0)
        .fold(0.0, f64::max);

    let mut nodes = Vec::with_capacity(n);
    for (v, item) in items.into_iter().enumerate() {
        let rect = Rect {
            x: cx[v] - item.w / 2.0,
            y: row_y[layer[v]],
            w: item.w,
            h: item.h,
        };
        let mut groups = item.groups;
        for g in &mut groups {
            g.rect.x += rect.x;
            g.rect.y += rect.y;
            g.layout.shift(rect.x, rect.y);
        }
        nodes.push(Node {
            name: item.name,
            kind: item.kind,
            rect,
            groups,
        });
    }
    // Edges cross rows only through dummies (kept apart from the boxes of
    // their row) and go diagonal only in the gaps between rows.
    let top = |v: usize| row_y[node_layer[v]];
    let bottom = |v: usize| row_y[node_layer[v]] + row_h[node_layer[v]];
    let mut out_edges = Vec::with_capacity(edges.len());
    for (k, e) in edges.into_iter().enumerate() {
        let chain = &chains[k];
        let from = &nodes[e.from].rect;
        let to = &nodes[e.to].rect;
        let points = if e.from == e.to {
            // A loop on the right side.
            let (x, y) = (from.x + from.w, from.y + from.h / 2.0);
            vec![
                (x, y - 8.0),
                (x + 18.0, y - 8.0),
                (x + 18.0, y + 8.0),
                (x, y + 8.0),
            ]
        } else if reversed[k] {
            // Drawn upward, off-centre so it does not cover the edge down.
            let mut p = vec![(from.x + from.w * 0.75, from.y)];
            for &d in chain[1..chain.len() - 1].iter().rev() {
                p.push((cx[d], bottom(d)));
                p.push((cx[d], top(d)));
            }
            let tx = to.x + to.w * 0.75;
            if to.y + to.h < bottom(e.to) {
                p.push((tx, bottom(e.to)));
            }
            p.push((tx, to.y + to.h));
            p
        } else {
            let sx = from.x + from.w / 2.0;
            let mut p = vec![(sx, from.y + from.h)];
            if from.y + from.h < bottom(e.from) {
                p.push((sx, bottom(e.from)));
            }
            for &d in &chain[1..chain.len() - 1] {
                p.push((cx[d], top(d)));
                p.push((cx[d], bottom(d)));
            }
            p.push((to.x + to.w / 2.0, to.y));
            p
        };
        out_edges.push(Edge {
            from: nodes[e.from].name.clone(),
            to: nodes[e.to].name.clone(),
            kind: e.kind,
            label: e.label,
            points,
        });
    }
    let loop_room = if has_self_loop(&out_edges) { 24.0 } else { 0.0 };
    Layout {
        nodes,
        edges: out_edges,
        w: width + loop_room,
        h: height,
    }
}

fn has_self_loop(edges: &[Edge]) -> bool {
    edges.iter().any(|e| e.from == e.to)
}

/// Escapes text for XML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "\
.sw-graph text{font:12px system-ui,-apple-system,'Segoe UI',sans-serif;fill:#1f2937}\
.sw-graph .st rect{fill:#fff;stroke:#94a3b8;stroke-width:1.2}\
.sw-graph .st.group>rect{fill:#f8fafc;stroke-dasharray:4 3}\
.sw-graph .branch>rect{fill:#f1f5f9;stroke:#cbd5e1;stroke-dasharray:2 2}\
.sw-graph .st.succeeded>rect{fill:#dcfce7;stroke:#16a34a}\
.sw-graph .st.failed>rect{fill:#fee2e2;stroke:#dc2626;stroke-width:2}\
.sw-graph .st.caught>rect{fill:#ffedd5;stroke:#ea580c}\
.sw-graph .st.running>rect{fill:#dbeafe;stroke:#2563eb;stroke-width:2}\
.sw-graph .st .ty{fill:#64748b;font-size:10px}\
.sw-graph .st .tries{fill:#b45309;font-size:10px;font-weight:600}\
.sw-graph .edge path{fill:none;stroke:#64748b;stroke-width:1.2}\
.sw-graph .edge.catch path{stroke:#ea580c;stroke-dasharray:5 3}\
.sw-graph .edge text{font-size:10px;fill:#334155}\
.sw-graph .edge .lb{fill:#fff;opacity:.85}\
.sw-graph .term{fill:#334155}\
.sw-graph [data-state]{cursor:pointer}";

/// The layout as an SVG document; `paint` colours states by what happened in an execution.
pub fn svg(l: &Layout, paint: &HashMap<String, Paint>) -> String {
    let mut o = String::with_capacity(4096 + l.nodes.len() * 400);
    let _ = write!(
        o,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="sw-graph" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}"><style>{STYLE}</style><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#64748b"/></marker></defs><rect width="100%" height="100%" fill="#fff"/>"##,
        w = l.w,
        h = l.h
    );
    draw(&mut o, l, paint);
    o.push_str("</svg>");
    o
}

fn draw(o: &mut String, l: &Layout, paint: &HashMap<String, Paint>) {
    for e in &l.edges {
        draw_edge(o, e);
    }
    for n in &l.nodes {
        let r = &n.rect;
        match &n.kind {
            NodeKind::Start | NodeKind::End => {
                let _ = write!(
                    o,
                    r#"<circle class="term {}" cx="{:.1}" cy="{:.1}" r="{:.1}"/>"#,
                    if n.kind == NodeKind::Start {
                        "start"
                    } else {
                        "end"
                    },
                    r.x + r.w / 2.0,
                    r.y + r.h / 2.0,
                    r.w / 2.0
                );
            }
            NodeKind::State { state_type } => {
                let p = paint.get(&n.name);
                let class = p.map(|p| p.outcome.class()).unwrap_or("not-reached");
                let group = if n.groups.is_empty() { "" } else { " group" };
                let _ = write!(
                    o,
                    r#"<g class="st {class}{group}" data-state="{name}" data-type="{state_type}"><title>{name} ({state_type}{status})</title><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" rx="6"/>"#,
                    name = esc(&n.name),
                    status = p
                        .map(|p| format!(": {}", p.outcome.class()))
                        .unwrap_or_default(),
                    x = r.x,
                    y = r.y,
                    w = r.w,
                    h = r.h
                );
                let max_chars = ((r.w - 16.0) / CHAR_W).max(4.0) as usize;
                let label = if n.name.chars().count() > max_chars {
                    let mut t: String = n.name.chars().take(max_chars - 1).collect();
                    t.push('…');
                    t
                } else {
                    n.name.clone()
                };
                if n.groups.is_empty() {
                    let _ = write!(
                        o,
                        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="ty" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                        r.x + r.w / 2.0,
                        r.y + 16.0,
                        esc(&label),
                        r.x + r.w / 2.0,
                        r.y + 29.0,
                        state_type
                    );
                } else {
                    let _ = write!(
                        o,
                        r#"<text x="{:.1}" y="{:.1}"><tspan font-weight="600">{}</tspan><tspan class="ty" dx="8">{}</tspan></text>"#,
                        r.x + 10.0,
                        r.y + 17.0,
                        esc(&label),
                        state_type
                    );
                }
                if let Some(p) = p
                    && p.attempts > 1
                {
                    let _ = write!(
                        o,
                        r#"<text class="tries" x="{:.1}" y="{:.1}" text-anchor="end">×{}</text>"#,
                        r.x + r.w - 6.0,
                        r.y + 12.0,
                        p.attempts
                    );
                }
                o.push_str("</g>");
                for g in &n.groups {
                    let gr = &g.rect;
                    let _ = write!(
                        o,
                        r#"<g class="branch"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="4"/><text class="ty" x="{:.1}" y="{:.1}">{}</text></g>"#,
                        gr.x,
                        gr.y,
                        gr.w,
                        gr.h,
                        gr.x + 8.0,
                        gr.y + 15.0,
                        esc(&g.title)
                    );
                    draw(o, &g.layout, paint);
                }
            }
        }
    }
}

fn draw_edge(o: &mut String, e: &Edge) {
    let class = match e.kind {
        EdgeKind::Next => "next",
        EdgeKind::Choice => "choice",
        EdgeKind::Default => "default",
        EdgeKind::Catch => "catch",
    };
    let _ = write!(
        o,
        r#"<g class="edge {class}" data-from="{}" data-to="{}"><path marker-end="url(#arrow)" d=""#,
        esc(&e.from),
        esc(&e.to)
    );
    for (i, (x, y)) in e.points.iter().enumerate() {
        let _ = write!(o, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" });
    }
    o.push_str("\"/>");
    if let Some(label) = &e.label {
        // On the first segment, past its middle: edges fanning out of one
        // Choice have their labels apart.
        if let (Some(a), Some(b)) = (e.points.first(), e.points.get(1)) {
            let (x, y) = (a.0 + (b.0 - a.0) * 0.6, a.1 + (b.1 - a.1) * 0.6);
            let w = text_w(label) * 0.85 + 6.0;
            let _ = write!(
                o,
                r#"<rect class="lb" x="{:.1}" y="{:.1}" width="{w:.1}" height="13"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x - w / 2.0,
                y - 9.0,
                y + 1.0,
                esc(label)
            );
        }
    }
    o.push_str("</g>");
}

#[cfg(test)]
mod tests;
