//! Parse, validate and compile a definition in one pass that reports every
//! problem with the JSON pointer of the offending field.

use crate::choice::ChoiceRule;
use crate::diagnostic::{DefinitionError, Diagnostic, codes, pointer};
use crate::error::names;
use crate::intrinsics::Intrinsic;
use crate::jsonata::{Expression, JsonataTemplate};
use crate::model::CredentialsTemplate;
use crate::model::*;
use crate::path::{Path, ResultPath};
use crate::template::Template;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::collections::{HashSet, VecDeque};

/// The longest state name AWS accepts.
pub const MAX_STATE_NAME_LEN: usize = 80;
/// The longest Map `Label` AWS accepts.
pub const MAX_LABEL_LEN: usize = 40;
/// The largest integer AWS accepts for `IntervalSeconds`, `MaxAttempts`...
const MAX_INT_FIELD: u64 = 99_999_999;

/// Options that change what a definition may contain.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompileOptions {
    /// EXPRESS machines cannot use activities, `.sync` or `.waitForTaskToken`.
    pub machine_type: MachineType,
}

/// Parses a definition string (as sent to `CreateStateMachine`) and compiles it.
pub fn compile_str(
    definition: &str,
    options: CompileOptions,
) -> Result<StateMachine, DefinitionError> {
    match serde_json::from_str::<Value>(definition) {
        Ok(value @ Value::Object(_)) => compile(&value, options),
        Ok(_) => Err(DefinitionError {
            diagnostics: vec![Diagnostic::new(
                codes::SCHEMA_VALIDATION_FAILED,
                "",
                "Definition must be a valid JSON object",
            )],
        }),
        // Blank text is not a JSON object (AWS's SCHEMA_VALIDATION_FAILED);
        // other text that is not JSON is a JSON syntax problem.
        Err(_) if definition.trim().is_empty() => Err(DefinitionError {
            diagnostics: vec![Diagnostic::new(
                codes::SCHEMA_VALIDATION_FAILED,
                "",
                "Definition must be a valid JSON object",
            )],
        }),
        Err(e) => Err(DefinitionError {
            diagnostics: vec![Diagnostic::new(
                codes::INVALID_JSON_DESCRIPTION,
                "",
                format!("The definition is not valid JSON: {e}"),
            )],
        }),
    }
}

/// Validates and compiles a definition, reporting every problem found.
pub fn compile(
    definition: &Value,
    options: CompileOptions,
) -> Result<StateMachine, DefinitionError> {
    let mut c = Compiler {
        diags: Vec::new(),
        options,
        top_ql: QueryLanguage::JsonPath,
    };
    let machine = c.machine(definition, "", true, QueryLanguage::JsonPath);
    match machine {
        Some(m) if c.diags.is_empty() => Ok(m),
        _ => {
            if c.diags.is_empty() {
                c.diags.push(Diagnostic::schema("/", "Invalid definition"));
            }
            Err(DefinitionError {
                diagnostics: c.diags,
            })
        }
    }
}

struct Compiler {
    diags: Vec<Diagnostic>,
    options: CompileOptions,
    /// The machine-wide `QueryLanguage`: states of nested machines (Parallel
    /// branches, Map processors) default to it, not to the enclosing state's.
    top_ql: QueryLanguage,
}

fn loc(at: &str) -> String {
    if at.is_empty() {
        "/".to_owned()
    } else {
        at.to_owned()
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Object",
    }
}

/// `{% ... %}`: a JSONata expression string.
pub fn is_jsonata_expr(s: &str) -> bool {
    crate::jsonata::is_expression(s)
}

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];

fn allowed_fields(ty: &str, ql: QueryLanguage) -> &'static [&'static str] {
    use QueryLanguage::*;
    match (ty, ql) {
        ("Pass", JsonPath) => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "Result",
            "Assign",
        ],
        ("Pass", Jsonata) => &["Next", "End", "Output", "Assign"],
        ("Task", JsonPath) => &[
            "Next",
            "End",
            "Resource",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Assign",
        ],
        ("Task", Jsonata) => &[
            "Next",
            "End",
            "Resource",
            "Arguments",
            "Output",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "HeartbeatSeconds",
            "Credentials",
            "Assign",
        ],
        ("Choice", JsonPath) => &["Choices", "Default", "InputPath", "OutputPath", "Assign"],
        ("Choice", Jsonata) => &["Choices", "Default", "Output", "Assign"],
        ("Wait", JsonPath) => &[
            "Next",
            "End",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
            "InputPath",
            "OutputPath",
            "Assign",
        ],
        ("Wait", Jsonata) => &["Next", "End", "Seconds", "Timestamp", "Output", "Assign"],
        ("Succeed", JsonPath) => &["InputPath", "OutputPath"],
        ("Succeed", Jsonata) => &["Output"],
        ("Fail", JsonPath) => &["Error", "Cause", "ErrorPath", "CausePath"],
        ("Fail", Jsonata) => &["Error", "Cause"],
        ("Parallel", JsonPath) => &[
            "Branches",
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Retry",
            "Catch",
            "Assign",
        ],
        ("Parallel", Jsonata) => &[
            "Branches",
            "Next",
            "End",
            "Arguments",
            "Output",
            "Retry",
            "Catch",
            "Assign",
        ],
        ("Map", JsonPath) => &[
            "Next",
            "End",
            "ItemProcessor",
            "Iterator",
            "ItemsPath",
            "ItemSelector",
            "Parameters",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "Label",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "ResultSelector",
            "Retry",
            "Catch",
            "Assign",
        ],
        ("Map", Jsonata) => &[
            "Next",
            "End",
            "ItemProcessor",
            "Iterator",
            "Items",
            "ItemSelector",
            "MaxConcurrency",
            "ToleratedFailureCount",
            "ToleratedFailurePercentage",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "Label",
            "Arguments",
            "Output",
            "Retry",
            "Catch",
            "Assign",
        ],
        _ => &[],
    }
}

/// Fields only a JSONPath state may have (rejected in JSONata states).
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Result",
    "ItemsPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
];
/// Fields only a JSONata state may have.
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items", "Condition"];

impl Compiler {
    fn err(&mut self, at: &str, msg: impl Into<String>) {
        self.diags.push(Diagnostic::schema(loc(at), msg));
    }

    fn machine(
        &mut self,
        v: &Value,
        at: &str,
        top: bool,
        inherited: QueryLanguage,
    ) -> Option<StateMachine> {
        let Some(m) = v.as_object() else {
            self.err(at, format!("Expected an Object but found {}", json_type(v)));
            return None;
        };
        let mut missing = Vec::new();
        if !m.contains_key("States") {
            missing.push("States");
        }
        if !m.contains_key("StartAt") {
            missing.push("StartAt");
        }
        if !missing.is_empty() {
            self.err(
                at,
                format!("These fields are required: [{}]", missing.join(", ")),
            );
        }
        let allowed: &[&str] = if top {
            &[
                "Comment",
                "StartAt",
                "States",
                "TimeoutSeconds",
                "Version",
                "QueryLanguage",
            ]
        } else {
            &[
                "Comment",
                "StartAt",
                "States",
                "ProcessorConfig",
                "QueryLanguage",
            ]
        };
        for k in m.keys() {
            if !allowed.contains(&k.as_str()) {
                self.err(&pointer(at, k), format!("Field '{k}' is not supported"));
            }
        }
        let comment = self.opt_string(m, "Comment", at);
        let version = if top {
            self.opt_string(m, "Version", at)
        } else {
            None
        };
        let query_language = match m.get("QueryLanguage") {
            None => inherited,
            Some(q) => self
                .query_language(q, &pointer(at, "QueryLanguage"))
                .unwrap_or(inherited),
        };
        if top {
            self.top_ql = query_language;
        }
        let timeout_seconds = if top {
            self.opt_uint(m, "TimeoutSeconds", at, 1, 31_622_400)
        } else {
            None
        };
        let start_at = self.opt_string(m, "StartAt", at);

        let mut states = IndexMap::new();
        if let Some(sv) = m.get("States") {
            let sat = pointer(at, "States");
            match sv.as_object() {
                Some(sm) if sm.is_empty() => {
                    self.err(&sat, "States must contain at least one state")
                }
                Some(sm) => {
                    for (name, state_v) in sm {
                        let st_at = pointer(&sat, name);
                        if name.is_empty() || name.chars().count() > MAX_STATE_NAME_LEN {
                            self.err(
                                &st_at,
                                format!("State names must be 1 to {MAX_STATE_NAME_LEN} characters long: '{name}'"),
                            );
                        }
                        if let Some(s) = self.state(name, state_v, &st_at, query_language) {
                            states.insert(name.clone(), s);
                        }
                    }
                }
                None => self.err(
                    &sat,
                    format!("Expected an Object but found {}", json_type(sv)),
                ),
            }
        }
        let start_at = start_at.unwrap_or_default();
        if m.contains_key("StartAt")
            && m.contains_key("States")
            && m.get("States").is_some_and(Value::is_object)
        {
            let names: HashSet<&str> = m["States"]
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            if !names.contains(start_at.as_str()) {
                self.diags.push(Diagnostic::new(
                    codes::MISSING_TRANSITION_TARGET,
                    pointer(at, "StartAt"),
                    format!("Missing 'Next' target: {start_at}"),
                ));
            }
            self.check_transitions(&states, &names, &sat_ptr(at));
            self.check_reachability(&start_at, &states, &sat_ptr(at));
        }
        Some(StateMachine {
            comment,
            start_at,
            states,
            timeout_seconds,
            version,
            query_language,
        })
    }

    fn check_transitions(
        &mut self,
        states: &IndexMap<String, State>,
        names: &HashSet<&str>,
        at: &str,
    ) {
        for (name, s) in states {
            let st_at = pointer(at, name);
            let mut targets: Vec<(String, &str)> = Vec::new();
            if let Transition::Next(n) = &s.transition {
                targets.push((pointer(&st_at, "Next"), n));
            }
            if let StateKind::Choice(c) = &s.kind {
                for (i, b) in c.choices.iter().enumerate() {
                    targets.push((format!("{st_at}/Choices/{i}/Next"), &b.next));
                }
                if let Some(d) = &c.default {
                    targets.push((pointer(&st_at, "Default"), d));
                }
            }
            for (i, c) in s.catch.iter().enumerate() {
                targets.push((format!("{st_at}/Catch/{i}/Next"), &c.next));
            }
            for (where_, t) in targets {
                if !names.contains(t) {
                    self.diags.push(Diagnostic::new(
                        codes::MISSING_TRANSITION_TARGET,
                        where_,
                        format!("Missing 'Next' target: {t}"),
                    ));
                }
            }
        }
    }

    fn check_reachability(&mut self, start: &str, states: &IndexMap<String, State>, at: &str) {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue = VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            if !seen.insert(n) {
                continue;
            }
            let Some(s) = states.get(n) else { continue };
            if let Transition::Next(t) = &s.transition {
                queue.push_back(t);
            }
            if let StateKind::Choice(c) = &s.kind {
                queue.extend(c.choices.iter().map(|b| b.next.as_str()));
                queue.extend(c.default.as_deref());
            }
            queue.extend(s.catch.iter().map(|c| c.next.as_str()));
        }
        for name in states.keys() {
            if !seen.contains(name.as_str()) {
                self.diags.push(Diagnostic::new(
                    codes::UNREACHABLE_STATE,
                    pointer(at, name),
                    format!("State '{name}' is not reachable from StartAt"),
                ));
            }
        }
        let has_terminal = states.values().any(|s| {
            matches!(s.transition, Transition::End)
                || matches!(s.kind, StateKind::Succeed | StateKind::Fail(_))
        });
        if !states.is_empty() && !has_terminal {
            self.diags.push(Diagnostic::new(
                codes::NO_TERMINAL_STATE,
                loc(at.strip_suffix("/States").unwrap_or(at)),
                "No terminal state: at least one state must have End: true or be a Succeed or Fail state",
            ));
        }
    }

    fn query_language(&mut self, v: &Value, at: &str) -> Option<QueryLanguage> {
        match v.as_str() {
            Some("JSONPath") => Some(QueryLanguage::JsonPath),
            Some("JSONata") => Some(QueryLanguage::Jsonata),
            _ => {
                self.err(
                    at,
                    format!("QueryLanguage must be 'JSONPath' or 'JSONata', found {v}"),
                );
                None
            }
        }
    }

    fn state(
        &mut self,
        name: &str,
        v: &Value,
        at: &str,
        machine_ql: QueryLanguage,
    ) -> Option<State> {
        let Some(m) = v.as_object() else {
            self.err(at, format!("Expected an Object but found {}", json_type(v)));
            return None;
        };
        let Some(ty) = m.get("Type") else {
            self.err(at, "These fields are required: [Type]");
            return None;
        };
        let Some(ty) = ty.as_str() else {
            self.err(
                &pointer(at, "Type"),
                format!("Expected value of type String but found {}", json_type(ty)),
            );
            return None;
        };
        if ![
            "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
        ]
        .contains(&ty)
        {
            self.err(&pointer(at, "Type"), format!("Unknown state type '{ty}'"));
            return None;
        }
        let ql = match m.get("QueryLanguage") {
            None => machine_ql,
            Some(q) => {
                let qat = pointer(at, "QueryLanguage");
                let ql = self.query_language(q, &qat).unwrap_or(machine_ql);
                if machine_ql == QueryLanguage::Jsonata && ql == QueryLanguage::JsonPath {
                    self.err(at, "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine");
                }
                ql
            }
        };
        let allowed = allowed_fields(ty, ql);
        for k in m.keys() {
            if COMMON.contains(&k.as_str()) || allowed.contains(&k.as_str()) {
                continue;
            }
            let kat = pointer(at, k);
            if ql == QueryLanguage::Jsonata && JSONPATH_ONLY.contains(&k.as_str()) {
                self.err(
                    &kat,
                    format!(
                        "The field '{k}' is not supported for JSONata. Use JSONPath query language"
                    ),
                );
            } else if ql == QueryLanguage::JsonPath && JSONATA_ONLY.contains(&k.as_str()) {
                self.err(
                    &kat,
                    format!(
                        "The field '{k}' is not supported for JSONPath. Use JSONata query language"
                    ),
                );
            } else {
                self.err(&kat, format!("Field '{k}' is not supported by {ty} states"));
            }
        }

        // Transition.
        let transition = match ty {
            "Choice" | "Succeed" | "Fail" => {
                for f in ["Next", "End"] {
                    if m.contains_key(f) && allowed.contains(&f) {
                        self.err(
                            &pointer(at, f),
                            format!("Field '{f}' is not supported by {ty} states"),
                        );
                    }
                }
                Transition::Terminal
            }
            _ => {
                let next = self.opt_string(m, "Next", at);
                let end = match m.get("End") {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(o) => {
                        self.err(
                            &pointer(at, "End"),
                            format!("Expected value of type Boolean but found {}", json_type(o)),
                        );
                        false
                    }
                };
                match (next, end) {
                    (Some(n), false) => Transition::Next(n),
                    (None, true) => Transition::End,
                    (Some(_), true) => {
                        self.err(at, "Only one of 'Next' or 'End' can be set");
                        Transition::End
                    }
                    (None, false) => {
                        self.err(at, "Either 'Next' or 'End: true' is required");
                        Transition::End
                    }
                }
            }
        };

        let input_path = self.path_field(m, "InputPath", at);
        let output_path = self.path_field(m, "OutputPath", at);
        let result_path = self.result_path(m.get("ResultPath"), &pointer(at, "ResultPath"));
        let parameters = if ty == "Map" {
            None
        } else {
            self.template(m, "Parameters", at)
        };
        let result_selector = self.template(m, "ResultSelector", at);
        let mut arguments = None;
        if let Some(a) = m.get("Arguments") {
            let aat = pointer(at, "Arguments");
            if !(a.is_object() || a.as_str().is_some_and(is_jsonata_expr)) {
                self.err(
                    &aat,
                    "Arguments must be an Object or a JSONata expression '{% ... %}'",
                );
            } else if ql == QueryLanguage::Jsonata {
                arguments = self.jsonata(a, &aat);
            }
        }
        let output = match m.get("Output") {
            Some(o) if ql == QueryLanguage::Jsonata => self.jsonata(o, &pointer(at, "Output")),
            _ => None,
        };
        let assign = m
            .get("Assign")
            .and_then(|a| self.assign(a, &pointer(at, "Assign"), ql));
        let retry = self.retriers(m.get("Retry"), &pointer(at, "Retry"));
        let catch = self.catchers(m.get("Catch"), &pointer(at, "Catch"), ql);

        let kind = match ty {
            "Pass" => StateKind::Pass {
                result: m.get("Result").cloned(),
            },
            "Task" => StateKind::Task(Box::new(self.task(m, at, ql))),
            "Choice" => StateKind::Choice(Box::new(self.choice(m, at, ql))),
            "Wait" => StateKind::Wait(self.wait(m, at, ql)?),
            "Succeed" => StateKind::Succeed,
            "Fail" => StateKind::Fail(Box::new(self.fail(m, at, ql))),
            "Parallel" => {
                let bat = pointer(at, "Branches");
                let mut branches = Vec::new();
                let inner_ql = self.top_ql;
                match m.get("Branches") {
                    Some(Value::Array(bs)) if !bs.is_empty() => {
                        for (i, b) in bs.iter().enumerate() {
                            if let Some(sm) =
                                self.machine(b, &format!("{bat}/{i}"), false, inner_ql)
                            {
                                branches.push(sm);
                            }
                        }
                    }
                    Some(_) => self.err(&bat, "Branches must be a non-empty Array"),
                    None => self.err(at, "These fields are required: [Branches]"),
                }
                StateKind::Parallel { branches }
            }
            _ => StateKind::Map(Box::new(self.map(m, at, ql)?)),
        };
        Some(State {
            name: name.to_owned(),
            comment: self.opt_string(m, "Comment", at),
            query_language: ql,
            transition,
            input_path,
            parameters,
            result_selector,
            result_path,
            output_path,
            arguments,
            output,
            assign,
            retry,
            catch,
            kind,
        })
    }

    /// `Assign`: in JSONPath states it follows the `.$` rules of
    /// `Parameters`; in JSONata states any string may be an expression.
    fn assign(&mut self, a: &Value, at: &str, ql: QueryLanguage) -> Option<Assign> {
        if !a.is_object() {
            self.err(
                at,
                format!("Expected value of type Object but found {}", json_type(a)),
            );
            return None;
        }
        match ql {
            QueryLanguage::JsonPath => match Template::compile(a) {
                Ok(t) => Some(Assign::JsonPath(t)),
                Err(errs) => {
                    for e in errs {
                        self.err(&format!("{at}{}", e.pointer), e.message);
                    }
                    None
                }
            },
            QueryLanguage::Jsonata => self.jsonata(a, at).map(Assign::Jsonata),
        }
    }

    /// Compiles every `{% ... %}` expression in a JSONata field.
    fn jsonata(&mut self, v: &Value, at: &str) -> Option<JsonataTemplate> {
        match JsonataTemplate::compile(v) {
            Ok(t) => Some(t),
            Err(errs) => {
                for e in errs {
                    self.diags.push(Diagnostic::new(
                        codes::INVALID_JSONATA_EXPRESSION,
                        format!("{at}{}", e.pointer),
                        e.message,
                    ));
                }
                None
            }
        }
    }

    /// Compiles one `{% ... %}` string.
    fn expression(&mut self, s: &str, at: &str) -> Option<Box<Expression>> {
        match Expression::parse(s) {
            Ok(e) => Some(Box::new(e)),
            Err(message) => {
                self.diags.push(Diagnostic::new(
                    codes::INVALID_JSONATA_EXPRESSION,
                    at,
                    message,
                ));
                None
            }
        }
    }

    fn task(&mut self, m: &Map<String, Value>, at: &str, ql: QueryLanguage) -> TaskState {
        let resource = match m.get("Resource") {
            Some(Value::String(s)) => s.clone(),
            Some(o) => {
                self.err(
                    &pointer(at, "Resource"),
                    format!("Expected value of type String but found {}", json_type(o)),
                );
                String::new()
            }
            None => {
                self.err(at, "These fields are required: [Resource]");
                String::new()
            }
        };
        let rat = pointer(at, "Resource");
        if !resource.is_empty() {
            self.check_resource(&resource, &rat);
        }
        let timeout = self.number_source(m, "TimeoutSeconds", at, ql, 1);
        let heartbeat = self.number_source(m, "HeartbeatSeconds", at, ql, 1);
        if let (Some(NumberSource::Literal(t)), Some(NumberSource::Literal(h))) =
            (&timeout, &heartbeat)
            && h >= t
        {
            self.err(
                &pointer(at, "HeartbeatSeconds"),
                "HeartbeatSeconds must be smaller than TimeoutSeconds",
            );
        }
        let credentials = m.get("Credentials").cloned();
        if let Some(c) = &credentials {
            let cat = pointer(at, "Credentials");
            match c.as_object() {
                Some(o) if o.contains_key("RoleArn") || o.contains_key("RoleArn.$") => {}
                Some(_) => self.err(&cat, "The field 'RoleArn' is required but was missing"),
                None => self.err(
                    &cat,
                    format!("Expected value of type Object but found {}", json_type(c)),
                ),
            }
        }
        let credentials_template = match (&credentials, ql) {
            (Some(_), QueryLanguage::JsonPath) => self
                .template(m, "Credentials", at)
                .map(CredentialsTemplate::JsonPath),
            (Some(c), QueryLanguage::Jsonata) => self
                .jsonata(c, &pointer(at, "Credentials"))
                .map(CredentialsTemplate::Jsonata),
            (None, _) => None,
        };
        TaskState {
            resource,
            timeout,
            heartbeat,
            credentials,
            credentials_template,
        }
    }

    fn check_resource(&mut self, resource: &str, at: &str) {
        use crate::resource::{self, Pattern, Resource};
        let parsed = match resource::parse(resource) {
            Ok(r) => r,
            Err(_) => {
                self.err(at, format!("The resource provided {resource} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region."));
                return;
            }
        };
        if self.options.machine_type == MachineType::Express {
            match (&parsed, parsed.pattern()) {
                (Resource::Activity, _) => {
                    self.err(at, "Express state machine does not support Activity ARN");
                }
                (_, Pattern::Sync | Pattern::Sync2) => self.err(
                    at,
                    "Express state machine does not support '.sync' service integration",
                ),
                (_, Pattern::WaitForTaskToken) => self.err(at, "Express state machine does not support '.waitForTaskToken' service integration "),
                _ => {}
            }
        }
    }

    fn choice(&mut self, m: &Map<String, Value>, at: &str, ql: QueryLanguage) -> ChoiceState {
        let cat = pointer(at, "Choices");
        let mut choices = Vec::new();
        match m.get("Choices") {
            Some(Value::Array(cs)) if !cs.is_empty() => {
                for (i, c) in cs.iter().enumerate() {
                    let iat = format!("{cat}/{i}");
                    let Some(co) = c.as_object() else {
                        self.err(
                            &iat,
                            format!("Expected an Object but found {}", json_type(c)),
                        );
                        continue;
                    };
                    let next = match co.get("Next") {
                        Some(Value::String(s)) => s.clone(),
                        _ => {
                            self.err(&iat, "These fields are required: [Next]");
                            String::new()
                        }
                    };
                    let rule = if ql == QueryLanguage::Jsonata {
                        for k in co.keys() {
                            if !["Condition", "Next", "Comment", "Assign", "Output"]
                                .contains(&k.as_str())
                            {
                                self.err(
                                    &pointer(&iat, k),
                                    format!(
                                        "Field '{k}' is not supported in a JSONata Choice rule"
                                    ),
                                );
                            }
                        }
                        let cond_at = pointer(&iat, "Condition");
                        match co.get("Condition") {
                            Some(c @ Value::Bool(_)) => {
                                ChoiceCondition::Jsonata(JsonataTemplate::Literal(c.clone()))
                            }
                            Some(Value::String(s)) if is_jsonata_expr(s) => {
                                match self.expression(s, &cond_at) {
                                    Some(e) => ChoiceCondition::Jsonata(JsonataTemplate::Expr(e)),
                                    None => continue,
                                }
                            }
                            Some(_) => {
                                self.err(
                                    &cond_at,
                                    "The field 'Condition' must be a boolean or a JSONata expression '{% ... %}'",
                                );
                                continue;
                            }
                            None => {
                                self.err(&iat, "These fields are required: [Condition]");
                                continue;
                            }
                        }
                    } else {
                        let stripped: Map<String, Value> = co
                            .iter()
                            .filter(|(k, _)| !matches!(k.as_str(), "Assign"))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        match ChoiceRule::compile(&Value::Object(stripped), true, &iat) {
                            Ok(r) => ChoiceCondition::Rule(r),
                            Err(ds) => {
                                self.diags.extend(ds);
                                continue;
                            }
                        }
                    };
                    let assign = co
                        .get("Assign")
                        .and_then(|a| self.assign(a, &pointer(&iat, "Assign"), ql));
                    let output = match co.get("Output") {
                        Some(o) if ql == QueryLanguage::Jsonata => {
                            self.jsonata(o, &pointer(&iat, "Output"))
                        }
                        _ => None,
                    };
                    choices.push(ChoiceBranch {
                        rule,
                        next,
                        assign,
                        output,
                    });
                }
            }
            Some(_) => self.err(&cat, "Choices must be a non-empty Array"),
            None => self.err(at, "These fields are required: [Choices]"),
        }
        let default = self.opt_string(m, "Default", at);
        ChoiceState { choices, default }
    }

    fn wait(&mut self, m: &Map<String, Value>, at: &str, ql: QueryLanguage) -> Option<WaitFor> {
        let present: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
            .into_iter()
            .filter(|k| m.contains_key(*k))
            .collect();
        if present.len() != 1 {
            self.err(at, "A Wait state must have exactly one of 'Seconds', 'Timestamp', 'SecondsPath' or 'TimestampPath'");
            return None;
        }
        let key = present[0];
        let kat = pointer(at, key);
        let v = &m[key];
        if ql == QueryLanguage::Jsonata
            && let Some(s) = v.as_str().filter(|s| is_jsonata_expr(s))
        {
            let e = self.expression(s, &kat)?;
            return Some(if key == "Seconds" {
                WaitFor::SecondsJsonata(e)
            } else {
                WaitFor::TimestampJsonata(e)
            });
        }
        match key {
            "Seconds" => match v.as_u64() {
                Some(n) if n <= MAX_INT_FIELD => Some(WaitFor::Seconds(n)),
                _ => {
                    self.err(&kat, "Seconds must be a non-negative integer");
                    None
                }
            },
            "Timestamp" => match v.as_str().and_then(parse_timestamp) {
                Some(t) => Some(WaitFor::Timestamp(t)),
                None => {
                    self.err(&kat, "String does not match RFC3339 timestamp");
                    None
                }
            },
            "SecondsPath" => self.ref_path(v, &kat).map(WaitFor::SecondsPath),
            _ => self.ref_path(v, &kat).map(WaitFor::TimestampPath),
        }
    }

    fn fail(&mut self, m: &Map<String, Value>, at: &str, ql: QueryLanguage) -> FailState {
        let mut f = FailState::default();
        for (lit, path, slot) in [
            ("Error", "ErrorPath", &mut f.error),
            ("Cause", "CausePath", &mut f.cause),
        ] {
            if m.contains_key(lit) && m.contains_key(path) {
                self.err(at, format!("Only one of '{lit}' or '{path}' can be set"));
                continue;
            }
            if let Some(v) = m.get(lit) {
                *slot = match v {
                    Value::String(s) if ql == QueryLanguage::Jsonata && is_jsonata_expr(s) => self
                        .expression(s, &pointer(at, lit))
                        .map(StringSource::Jsonata),
                    Value::String(s) => Some(StringSource::Literal(s.clone())),
                    o => {
                        self.err(
                            &pointer(at, lit),
                            format!("Expected value of type String but found {}", json_type(o)),
                        );
                        None
                    }
                };
            } else if let Some(v) = m.get(path) {
                let pat = pointer(at, path);
                *slot = match v.as_str() {
                    Some(s) if s.starts_with("States.") => match Intrinsic::parse(s) {
                        Ok(i) => Some(StringSource::Intrinsic(i)),
                        Err(e) => {
                            self.err(&pat, format!("Invalid intrinsic function: {e}"));
                            None
                        }
                    },
                    Some(_) => self.path(v, &pat).map(StringSource::Path),
                    None => {
                        self.err(
                            &pat,
                            format!("Expected value of type String but found {}", json_type(v)),
                        );
                        None
                    }
                };
            }
        }
        f
    }

    fn map(&mut self, m: &Map<String, Value>, at: &str, ql: QueryLanguage) -> Option<MapState> {
        let (pkey, pv) = match (m.get("ItemProcessor"), m.get("Iterator")) {
            (Some(p), None) => ("ItemProcessor", p),
            (None, Some(i)) => ("Iterator", i),
            (Some(_), Some(_)) => {
                self.err(at, "Only one of 'ItemProcessor' or 'Iterator' can be set");
                return None;
            }
            (None, None) => {
                self.err(at, "These fields are required: [ItemProcessor]");
                return None;
            }
        };
        let pat = pointer(at, pkey);
        let mut mode = MapMode::Inline;
        let mut execution_type = None;
        if let Some(cfg) = pv.get("ProcessorConfig") {
            let cat = pointer(&pat, "ProcessorConfig");
            match cfg.get("Mode").and_then(Value::as_str) {
                None | Some("INLINE") => {}
                Some("DISTRIBUTED") => mode = MapMode::Distributed,
                Some(o) => self.err(
                    &pointer(&cat, "Mode"),
                    format!("Mode must be INLINE or DISTRIBUTED, found '{o}'"),
                ),
            }
            match cfg.get("ExecutionType").and_then(Value::as_str) {
                None => {}
                Some("STANDARD") => execution_type = Some(MachineType::Standard),
                Some("EXPRESS") => execution_type = Some(MachineType::Express),
                Some(o) => self.err(
                    &pointer(&cat, "ExecutionType"),
                    format!("ExecutionType must be STANDARD or EXPRESS, found '{o}'"),
                ),
            }
        }
        let inner_ql = self.top_ql;
        let processor = self.machine(pv, &pat, false, inner_ql)?;
        let items_path = match m.get("ItemsPath") {
            None => None,
            Some(v) => self.ref_path(v, &pointer(at, "ItemsPath")),
        };
        let (item_selector, item_selector_jsonata) = if ql == QueryLanguage::Jsonata {
            let t = m
                .get("ItemSelector")
                .and_then(|v| self.jsonata(v, &pointer(at, "ItemSelector")));
            (None, t)
        } else {
            match (m.contains_key("ItemSelector"), m.contains_key("Parameters")) {
                (true, true) => {
                    self.err(at, "Only one of 'ItemSelector' or 'Parameters' can be set");
                    (None, None)
                }
                (true, false) => (self.template(m, "ItemSelector", at), None),
                (false, true) => (self.template(m, "Parameters", at), None),
                (false, false) => (None, None),
            }
        };
        let max_concurrency = self.number_source(m, "MaxConcurrency", at, ql, 0);
        let tolerated_failure_count = self.number_source(m, "ToleratedFailureCount", at, ql, 0);
        let tolerated_failure_percentage = self.percent_source(m, at, ql);
        let label = m.get("Label").and_then(Value::as_str).map(str::to_owned);
        if let Some(l) = &label {
            let lat = pointer(at, "Label");
            if l.is_empty() {
                self.err(&lat, "Label cannot be empty");
            } else if l.chars().count() > MAX_LABEL_LEN {
                self.err(
                    &lat,
                    format!("Label cannot exceed {MAX_LABEL_LEN} characters"),
                );
            } else if l.chars().any(is_forbidden_name_char) {
                self.err(&lat, "Label contains a character that is not allowed (whitespace, brackets, wildcards, quotes, control characters and the like)");
            }
        }
        Some(MapState {
            processor,
            mode,
            execution_type,
            items_path,
            items: match m.get("Items") {
                Some(v) if ql == QueryLanguage::Jsonata => self.jsonata(v, &pointer(at, "Items")),
                _ => None,
            },
            item_selector,
            item_selector_jsonata,
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
            item_reader: m.get("ItemReader").cloned(),
            item_batcher: m.get("ItemBatcher").cloned(),
            result_writer: m.get("ResultWriter").cloned(),
            label,
        })
    }

    fn percent_source(
        &mut self,
        m: &Map<String, Value>,
        at: &str,
        ql: QueryLanguage,
    ) -> Option<PercentSource> {
        let key = "ToleratedFailurePercentage";
        let pkey = "ToleratedFailurePercentagePath";
        if m.contains_key(key) && m.contains_key(pkey) {
            self.err(at, format!("Only one of '{key}' or '{pkey}' can be set"));
            return None;
        }
        if let Some(v) = m.get(key) {
            let kat = pointer(at, key);
            if ql == QueryLanguage::Jsonata
                && let Some(s) = v.as_str().filter(|s| is_jsonata_expr(s))
            {
                return self.expression(s, &kat).map(PercentSource::Jsonata);
            }
            return match v.as_f64() {
                Some(p) if (0.0..=100.0).contains(&p) => Some(PercentSource::Literal(p)),
                _ => {
                    self.err(
                        &kat,
                        "ToleratedFailurePercentage must be a number between 0 and 100",
                    );
                    None
                }
            };
        }
        m.get(pkey)
            .and_then(|v| self.ref_path(v, &pointer(at, pkey)))
            .map(PercentSource::Path)
    }

    /// `<key>` (a literal, or a JSONata expression) or `<key>Path`.
    fn number_source(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        at: &str,
        ql: QueryLanguage,
        min: u64,
    ) -> Option<NumberSource> {
        let pkey = format!("{key}Path");
        if m.contains_key(key) && m.contains_key(&pkey) {
            self.err(at, format!("Only one of '{key}' or '{pkey}' can be set"));
            return None;
        }
        if let Some(v) = m.get(key) {
            let kat = pointer(at, key);
            if ql == QueryLanguage::Jsonata
                && let Some(s) = v.as_str().filter(|s| is_jsonata_expr(s))
            {
                return self.expression(s, &kat).map(NumberSource::Jsonata);
            }
            return match v.as_u64() {
                Some(n) if n >= min && n <= MAX_INT_FIELD => Some(NumberSource::Literal(n)),
                _ => {
                    self.err(
                        &kat,
                        format!("{key} must be an integer between {min} and {MAX_INT_FIELD}"),
                    );
                    None
                }
            };
        }
        m.get(&pkey)
            .and_then(|v| self.ref_path(v, &pointer(at, &pkey)))
            .map(NumberSource::Path)
    }

    fn retriers(&mut self, v: Option<&Value>, at: &str) -> Vec<Retrier> {
        let Some(v) = v else { return Vec::new() };
        let Some(arr) = v.as_array() else {
            self.err(
                at,
                format!("Expected value of type Array but found {}", json_type(v)),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, r) in arr.iter().enumerate() {
            let rat = format!("{at}/{i}");
            let Some(ro) = r.as_object() else {
                self.err(
                    &rat,
                    format!("Expected an Object but found {}", json_type(r)),
                );
                continue;
            };
            for k in ro.keys() {
                if ![
                    "ErrorEquals",
                    "IntervalSeconds",
                    "MaxAttempts",
                    "BackoffRate",
                    "MaxDelaySeconds",
                    "JitterStrategy",
                    "Comment",
                ]
                .contains(&k.as_str())
                {
                    self.err(
                        &pointer(&rat, k),
                        format!("Field '{k}' is not supported in a Retrier"),
                    );
                }
            }
            let error_equals = self.error_equals(ro, &rat, i + 1 == arr.len());
            let interval_seconds = self
                .opt_uint(ro, "IntervalSeconds", &rat, 1, MAX_INT_FIELD)
                .unwrap_or(1);
            let max_attempts = self
                .opt_uint(ro, "MaxAttempts", &rat, 0, MAX_INT_FIELD)
                .unwrap_or(3) as u32;
            let max_delay_seconds = self.opt_uint(ro, "MaxDelaySeconds", &rat, 1, 31_622_400);
            let backoff_rate = match ro.get("BackoffRate") {
                None => 2.0,
                Some(b) => match b.as_f64() {
                    Some(x) if x >= 1.0 => x,
                    _ => {
                        self.err(
                            &pointer(&rat, "BackoffRate"),
                            "BackoffRate must be a number greater than or equal to 1.0",
                        );
                        2.0
                    }
                },
            };
            let jitter = match ro.get("JitterStrategy").map(|j| j.as_str()) {
                None | Some(Some("NONE")) => Jitter::None,
                Some(Some("FULL")) => Jitter::Full,
                Some(_) => {
                    self.err(
                        &pointer(&rat, "JitterStrategy"),
                        "JitterStrategy must be FULL or NONE",
                    );
                    Jitter::None
                }
            };
            out.push(Retrier {
                error_equals,
                interval_seconds,
                max_attempts,
                backoff_rate,
                max_delay_seconds,
                jitter,
            });
        }
        out
    }

    fn catchers(&mut self, v: Option<&Value>, at: &str, ql: QueryLanguage) -> Vec<Catcher> {
        let Some(v) = v else { return Vec::new() };
        let Some(arr) = v.as_array() else {
            self.err(
                at,
                format!("Expected value of type Array but found {}", json_type(v)),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, c) in arr.iter().enumerate() {
            let cat = format!("{at}/{i}");
            let Some(co) = c.as_object() else {
                self.err(
                    &cat,
                    format!("Expected an Object but found {}", json_type(c)),
                );
                continue;
            };
            let allowed: &[&str] = if ql == QueryLanguage::Jsonata {
                &["ErrorEquals", "Next", "Output", "Assign", "Comment"]
            } else {
                &["ErrorEquals", "Next", "ResultPath", "Assign", "Comment"]
            };
            for k in co.keys() {
                if !allowed.contains(&k.as_str()) {
                    self.err(
                        &pointer(&cat, k),
                        format!("Field '{k}' is not supported in a Catcher"),
                    );
                }
            }
            let error_equals = self.error_equals(co, &cat, i + 1 == arr.len());
            let next = match co.get("Next") {
                Some(Value::String(s)) => s.clone(),
                _ => {
                    self.err(&cat, "These fields are required: [Next]");
                    continue;
                }
            };
            let result_path = self.result_path(co.get("ResultPath"), &pointer(&cat, "ResultPath"));
            let output = match co.get("Output") {
                Some(o) if ql == QueryLanguage::Jsonata => {
                    self.jsonata(o, &pointer(&cat, "Output"))
                }
                _ => None,
            };
            let assign = co
                .get("Assign")
                .and_then(|a| self.assign(a, &pointer(&cat, "Assign"), ql));
            out.push(Catcher {
                error_equals,
                next,
                result_path,
                output,
                assign,
            });
        }
        out
    }

    fn error_equals(&mut self, o: &Map<String, Value>, at: &str, is_last: bool) -> Vec<String> {
        let eat = pointer(at, "ErrorEquals");
        let Some(v) = o.get("ErrorEquals") else {
            self.err(at, "These fields are required: [ErrorEquals]");
            return Vec::new();
        };
        let names_: Vec<String> = match v.as_array() {
            Some(a) if !a.is_empty() => a
                .iter()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect(),
            _ => {
                self.err(&eat, "ErrorEquals must be a non-empty Array of Strings");
                return Vec::new();
            }
        };
        if names_.iter().any(|n| n == names::ALL) {
            if names_.len() != 1 {
                self.err(&eat, "States.ALL must appear alone in ErrorEquals");
            } else if !is_last {
                self.err(
                    &eat,
                    "A Retrier or Catcher with States.ALL must be the last one",
                );
            }
        }
        names_
    }

    fn template(&mut self, m: &Map<String, Value>, key: &str, at: &str) -> Option<Template> {
        let v = m.get(key)?;
        let kat = pointer(at, key);
        match Template::compile(v) {
            Ok(t) => Some(t),
            Err(errs) => {
                for e in errs {
                    self.err(&format!("{kat}{}", e.pointer), e.message);
                }
                None
            }
        }
    }

    fn path_field(&mut self, m: &Map<String, Value>, key: &str, at: &str) -> PathField {
        match m.get(key) {
            None => PathField::Identity,
            Some(Value::Null) => PathField::Null,
            Some(v) => self
                .path(v, &pointer(at, key))
                .map(PathField::Path)
                .unwrap_or_default(),
        }
    }

    fn result_path(&mut self, v: Option<&Value>, at: &str) -> ResultPath {
        match v {
            None => ResultPath::replace(),
            Some(Value::Null) => ResultPath::discard(),
            Some(Value::String(s)) => match ResultPath::parse(s) {
                Ok(p) => p,
                Err(e) => {
                    self.err(
                        at,
                        format!(
                            "The value for the field 'ResultPath' must be a valid JSONPath: {e}"
                        ),
                    );
                    ResultPath::replace()
                }
            },
            Some(o) => {
                self.err(
                    at,
                    format!("Expected value of type String but found {}", json_type(o)),
                );
                ResultPath::replace()
            }
        }
    }

    fn path(&mut self, v: &Value, at: &str) -> Option<Path> {
        let field = at.rsplit('/').next().unwrap_or(at);
        match v.as_str() {
            Some(s) => match Path::parse(s) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.err(
                        at,
                        format!("The value for the field '{field}' must be a valid JSONPath: {e}"),
                    );
                    None
                }
            },
            None => {
                self.err(
                    at,
                    format!("Expected value of type String but found {}", json_type(v)),
                );
                None
            }
        }
    }

    fn ref_path(&mut self, v: &Value, at: &str) -> Option<Path> {
        let field = at.rsplit('/').next().unwrap_or(at);
        match v.as_str() {
            Some(s) => {
                match Path::parse_reference(s) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        self.err(at, format!("The value for the field '{field}' must be a valid Reference Path: {e}"));
                        None
                    }
                }
            }
            None => {
                self.err(
                    at,
                    format!("Expected value of type String but found {}", json_type(v)),
                );
                None
            }
        }
    }

    fn opt_string(&mut self, m: &Map<String, Value>, key: &str, at: &str) -> Option<String> {
        match m.get(key)? {
            Value::String(s) => Some(s.clone()),
            o => {
                self.err(
                    &pointer(at, key),
                    format!("Expected value of type String but found {}", json_type(o)),
                );
                None
            }
        }
    }

    fn opt_uint(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        at: &str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let v = m.get(key)?;
        match v.as_u64() {
            Some(n) if n >= min && n <= max => Some(n),
            _ => {
                self.err(
                    &pointer(at, key),
                    format!("{key} must be an integer between {min} and {max}, found {v}"),
                );
                None
            }
        }
    }
}

fn sat_ptr(at: &str) -> String {
    pointer(at, "States")
}

/// Characters AWS refuses in resource names and Map labels: whitespace,
/// brackets, wildcards, special punctuation and control characters.
pub fn is_forbidden_name_char(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || ('\u{7f}'..='\u{9f}').contains(&c)
        || matches!(
            c,
            '<' | '>'
                | '{'
                | '}'
                | '['
                | ']'
                | '?'
                | '*'
                | '"'
                | '#'
                | '%'
                | '\\'
                | '^'
                | '|'
                | '~'
                | '`'
                | '$'
                | '&'
                | ','
                | ';'
                | ':'
                | '/'
        )
}

/// Parses an RFC 3339 timestamp as ASL requires it (`T` separator, explicit zone).
pub fn parse_timestamp(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    if !s.contains('T') {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn diags(v: Value) -> Vec<Diagnostic> {
        compile(&v, CompileOptions::default())
            .err()
            .map(|e| e.diagnostics)
            .unwrap_or_default()
    }

    fn locations(v: Value) -> Vec<String> {
        diags(v).into_iter().map(|d| d.location).collect()
    }

    #[test]
    fn minimal_machine_compiles() {
        let m = compile(
            &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}),
            CompileOptions::default(),
        )
        .unwrap();
        assert_eq!(m.start_at, "A");
        assert!(matches!(m.states["A"].kind, StateKind::Pass { .. }));
    }

    #[test]
    fn missing_top_level_fields_are_listed_in_aws_order() {
        let d = diags(json!({}));
        assert_eq!(d[0].message, "These fields are required: [States, StartAt]");
        assert_eq!(d[0].location, "/");
    }

    #[test]
    fn not_an_object_or_not_json() {
        let e = compile_str(" ", CompileOptions::default()).unwrap_err();
        assert_eq!(e.diagnostics[0].code, codes::SCHEMA_VALIDATION_FAILED);
        let e = compile_str("[1]", CompileOptions::default()).unwrap_err();
        assert_eq!(
            e.diagnostics[0].message,
            "Definition must be a valid JSON object"
        );
        assert_eq!(e.diagnostics[0].code, codes::SCHEMA_VALIDATION_FAILED);
        for not_json in ["{\"StartAt\": ", "StartAt: A", "{'a': 1}"] {
            let e = compile_str(not_json, CompileOptions::default()).unwrap_err();
            assert_eq!(
                e.diagnostics[0].code,
                codes::INVALID_JSON_DESCRIPTION,
                "{not_json}"
            );
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_location() {
        let l = locations(json!({
            "StartAt": "Nope",
            "States": {
                "A": {"Type": "Pass", "Next": "Missing"},
                "B": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:x", "End": true,
                      "Retry": [{"ErrorEquals": ["States.ALL", "X"]}, {"ErrorEquals": ["Y"], "BackoffRate": 0.5}]},
                "C": {"Type": "Wait", "Timestamp": "2016-12-05 21:29:29Z", "End": true},
                "D": {"Type": "Bogus"}
            }
        }));
        for want in [
            "/StartAt",
            "/States/A/Next",
            "/States/B/Retry/0/ErrorEquals",
            "/States/B/Retry/1/BackoffRate",
            "/States/C/Timestamp",
            "/States/D/Type",
        ] {
            assert!(l.iter().any(|x| x == want), "missing {want} in {l:?}");
        }
    }

    #[test]
    fn next_and_end_rules() {
        let l = locations(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B", "End": true},
            "B": {"Type": "Pass"},
            "C": {"Type": "Succeed", "Next": "A"}
        }}));
        assert!(l.contains(&"/States/A".to_owned()));
        assert!(l.contains(&"/States/B".to_owned()));
        assert!(l.contains(&"/States/C/Next".to_owned()));
    }

    #[test]
    fn unreachable_and_no_terminal() {
        let d = diags(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "A"},
            "B": {"Type": "Pass", "Next": "A"}
        }}));
        assert!(
            d.iter()
                .any(|d| d.code == codes::UNREACHABLE_STATE && d.location == "/States/B")
        );
        assert!(d.iter().any(|d| d.code == codes::NO_TERMINAL_STATE));
    }

    #[test]
    fn states_all_must_be_alone_and_last() {
        let l = locations(json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:x", "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "B"}, {"ErrorEquals": ["X"], "Next": "B"}]},
            "B": {"Type": "Succeed"}
        }}));
        assert_eq!(l, vec!["/States/A/Catch/0/ErrorEquals"]);
    }

    #[test]
    fn state_name_length() {
        let long = "x".repeat(81);
        let l = locations(json!({"StartAt": long, "States": {long.clone(): {"Type": "Succeed"}}}));
        assert_eq!(l, vec![format!("/States/{long}")]);
    }

    #[test]
    fn jsonpath_fields_rejected_in_jsonata_states_and_back() {
        let d = diags(
            json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
                "A": {"Type": "Pass", "InputPath": "$.x", "Next": "B"},
                "B": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}
            }}),
        );
        assert!(d.iter().any(|d| d.location == "/States/A/InputPath"));
        assert!(
            d.iter()
                .any(|d| d.location == "/States/B" && d.message.contains("can not be 'JSONPath'"))
        );
        let d = diags(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": {}, "End": true}}}),
        );
        assert_eq!(d[0].location, "/States/A/Output");
    }

    #[test]
    fn nested_machines_are_validated_recursively() {
        let l = locations(json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Y"}}}
            ]},
            "M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "Z", "States": {"Z": {"Type": "Wait", "End": true}}}}
        }}));
        assert!(
            l.contains(&"/States/P/Branches/0/States/X/Next".to_owned()),
            "{l:?}"
        );
        assert!(
            l.contains(&"/States/M/ItemProcessor/States/Z".to_owned()),
            "{l:?}"
        );
    }

    #[test]
    fn express_rejects_activities_and_callbacks() {
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:x", "End": true}}});
        let e = compile(
            &def,
            CompileOptions {
                machine_type: MachineType::Express,
            },
        )
        .unwrap_err();
        assert_eq!(
            e.diagnostics[0].message,
            "Express state machine does not support Activity ARN"
        );
        assert!(compile(&def, CompileOptions::default()).is_ok());
    }

    #[test]
    fn unknown_service_integrations_are_rejected() {
        let l = locations(
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:query", "End": true}}}),
        );
        assert_eq!(l, vec!["/States/A/Resource"]);
    }

    #[test]
    fn map_label_rules() {
        let base = |label: &str| {
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "Label": label, "End": true,
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}}})
        };
        assert!(diags(base(""))[0].message.contains("empty"));
        assert!(diags(base(&"a".repeat(41)))[0].message.contains("40"));
        assert!(!diags(base("a b")).is_empty());
        assert!(diags(base("fine-label")).is_empty());
    }

    #[test]
    fn credentials_need_role_arn() {
        let l = diags(
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:x", "Credentials": {}, "End": true}}}),
        );
        assert_eq!(
            l[0].message,
            "The field 'RoleArn' is required but was missing"
        );
        assert_eq!(l[0].location, "/States/A/Credentials");
    }

    #[test]
    fn retry_field_bounds_and_defaults() {
        let m = compile(&json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:x", "End": true,
            "Retry": [{"ErrorEquals": ["X"]}]}}}), CompileOptions::default()).unwrap();
        let r = &m.states["A"].retry[0];
        assert_eq!(
            (r.interval_seconds, r.max_attempts, r.backoff_rate),
            (1, 3, 2.0)
        );
        let l = locations(
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:x", "End": true,
            "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0, "MaxAttempts": -1, "JitterStrategy": "SOME", "MaxDelaySeconds": 0}]}}}),
        );
        for want in [
            "IntervalSeconds",
            "MaxAttempts",
            "JitterStrategy",
            "MaxDelaySeconds",
        ] {
            assert!(
                l.contains(&format!("/States/A/Retry/0/{want}")),
                "{want} {l:?}"
            );
        }
    }

    #[test]
    fn wait_needs_exactly_one_duration() {
        assert_eq!(
            locations(
                json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.x", "End": true}}})
            ),
            vec!["/States/W"]
        );
        assert!(locations(json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2016-03-14T01:59:00Z", "End": true}}})).is_empty());
    }

    #[test]
    fn choice_needs_choices_and_no_next() {
        let l =
            locations(json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Next": "C"}}}));
        assert!(l.contains(&"/States/C".to_owned()), "{l:?}");
        assert!(l.contains(&"/States/C/Next".to_owned()), "{l:?}");
    }

    #[test]
    fn unknown_fields_are_named() {
        let d = diags(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Bogus": 1}}}),
        );
        assert_eq!(d[0].location, "/States/A/Bogus");
    }

    #[test]
    fn jsonata_syntax_errors_name_the_state_and_field() {
        let d = diags(
            json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Output": "{% a[1,2) %}", "Assign": {"x": ["{% 1 + %}"]}, "Next": "W"},
            "W": {"Type": "Wait", "Seconds": "{% ( %}", "End": true}}}),
        );
        let got: Vec<(&str, &str)> = d
            .iter()
            .map(|d| (d.code.as_str(), d.location.as_str()))
            .collect();
        assert!(
            got.contains(&(codes::INVALID_JSONATA_EXPRESSION, "/States/A/Output")),
            "{got:?}"
        );
        assert!(
            got.contains(&(codes::INVALID_JSONATA_EXPRESSION, "/States/A/Assign/x/0")),
            "{got:?}"
        );
        assert!(
            got.contains(&(codes::INVALID_JSONATA_EXPRESSION, "/States/W/Seconds")),
            "{got:?}"
        );
        // The same strings are literals in JSONPath states.
        assert!(
            diags(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"x": "{% a[1,2) %}"}, "End": true}}}))
            .is_empty()
        );
    }

    #[test]
    fn nested_states_default_to_the_machine_query_language() {
        let m = compile(
            &json!({"StartAt": "M", "QueryLanguage": "JSONPath", "States": {"M": {"Type": "Map", "QueryLanguage": "JSONata",
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "P",
                    "States": {"P": {"QueryLanguage": "JSONPath", "Type": "Pass", "End": true}, }}, "End": true}}}),
            CompileOptions::default(),
        )
        .unwrap();
        let StateKind::Map(map) = &m.states["M"].kind else {
            panic!()
        };
        assert_eq!(m.states["M"].query_language, QueryLanguage::Jsonata);
        assert_eq!(
            map.processor.states["P"].query_language,
            QueryLanguage::JsonPath
        );
    }
}
