//! The agent's configuration: a TOML file (`--config`, default
//! `/etc/stepwise/agent.toml`) with every value overridable by environment
//! variables `STEPWISE_AGENT__<SECTION>__<KEY>` (e.g.
//! `STEPWISE_AGENT__COORDINATOR__ENDPOINT`).
//!
//! ```toml
//! worker_name = "host-1"            # default: host name, or the ECS task id
//! shutdown_deadline_seconds = 30
//!
//! [coordinator]
//! endpoint = "http://127.0.0.1:8083"  # or: region = "eu-west-1" for AWS
//!
//! [http]
//! listen = "127.0.0.1:9464"           # /healthz and /metrics; off when absent
//!
//! [activities.resize-image]
//! concurrency = 4
//! heartbeat_seconds = 10
//! timeout_seconds = 300
//! handler = { type = "exec", command = ["/usr/local/bin/resize"], env = { QUALITY = "80" } }
//!
//! [activities.notify]
//! handler = { type = "http", url = "http://127.0.0.1:8080/tasks/notify" }
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Name recorded in `ActivityStarted` (default: host name or ECS task id).
    #[serde(default)]
    pub worker_name: Option<String>,
    /// How long running tasks may finish after SIGTERM (default 30 s).
    #[serde(default = "default_deadline")]
    pub shutdown_deadline_seconds: u64,
    /// Where the coordinator (or AWS) is.
    #[serde(default)]
    pub coordinator: CoordinatorConfig,
    /// The local health/metrics port.
    #[serde(default)]
    pub http: Option<HttpPortConfig>,
    /// `text` (default) or `json`.
    #[serde(default)]
    pub log_format: Option<String>,
    /// Activities by name.
    #[serde(default)]
    pub activities: BTreeMap<String, ActivityConfig>,
}

fn default_deadline() -> u64 {
    30
}

/// Where to send API calls.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorConfig {
    /// An endpoint URL (the Stepwise coordinator, or a VPC endpoint).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// An AWS region (real AWS Step Functions when no endpoint is set).
    #[serde(default)]
    pub region: Option<String>,
    /// Extra trusted CA certificates (PEM file).
    #[serde(default)]
    pub ca_bundle: Option<PathBuf>,
}

/// The loopback HTTP port.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpPortConfig {
    /// e.g. `127.0.0.1:9464`.
    pub listen: SocketAddr,
}

/// One activity.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ActivityConfig {
    /// The activity ARN (default: the activity of this name, created on start).
    #[serde(default)]
    pub arn: Option<String>,
    /// Tasks at once (default 4).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Automatic heartbeat interval (default 10 s).
    #[serde(default = "default_heartbeat")]
    pub heartbeat_seconds: u64,
    /// The handler's time limit (default 300 s).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// What runs the task.
    pub handler: HandlerConfig,
}

fn default_concurrency() -> usize {
    4
}
fn default_heartbeat() -> u64 {
    10
}
fn default_timeout() -> u64 {
    300
}

/// A configured handler.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum HandlerConfig {
    /// Run a program: input JSON on stdin, output JSON on stdout.
    Exec {
        /// Program and arguments.
        command: Vec<String>,
        /// Extra environment.
        #[serde(default)]
        env: BTreeMap<String, String>,
        /// Working directory.
        #[serde(default)]
        cwd: Option<PathBuf>,
        /// Exit code → error name (default `Agent.ExitCode.<n>`).
        #[serde(default)]
        exit_codes: BTreeMap<String, String>,
    },
    /// POST the input to a URL; the task token goes in `X-Stepwise-Task-Token`.
    Http {
        /// The URL.
        url: String,
        /// Extra headers.
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
}

/// A configuration problem, with the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// e.g. `activities.resize.handler.command`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or environment could not be read or parsed.
    #[error("{0}")]
    Read(String),
    /// The values are wrong; every problem is listed.
    #[error("{} problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl AgentConfig {
    /// Reads a file (if it exists, or if `required`) plus `STEPWISE_AGENT__*` env, and validates.
    ///
    /// A value of the wrong type or an unknown key does not stop the check:
    /// every such problem is listed with its key, as the value problems are.
    /// Messages do not repeat the file's path (the caller prints it once).
    pub fn load(path: &Path, required: bool) -> Result<Self, ConfigError> {
        let mut b = config::Config::builder();
        b = b.add_source(
            config::File::from(path)
                .format(config::FileFormat::Toml)
                .required(required),
        );
        b = b.add_source(
            config::Environment::with_prefix("STEPWISE_AGENT")
                .separator("__")
                .try_parsing(true),
        );
        let tree: serde_json::Value = b
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError::Read(without_path(&e.to_string(), path)))?;
        let cfg: AgentConfig = match serde_json::from_value(tree.clone()) {
            Ok(c) => c,
            Err(e) => {
                let mut problems = type_problems(&tree);
                if problems.is_empty() {
                    problems.push(Problem {
                        key: "(file)".into(),
                        message: e.to_string(),
                    });
                }
                return Err(ConfigError::Invalid(problems));
            }
        };
        let problems = cfg.problems();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// Every problem of the values.
    pub fn problems(&self) -> Vec<Problem> {
        let mut p = Vec::new();
        let mut add = |key: String, message: &str| {
            p.push(Problem {
                key,
                message: message.to_owned(),
            })
        };
        if self.coordinator.endpoint.is_none() && self.coordinator.region.is_none() {
            add(
                "coordinator".into(),
                "set coordinator.endpoint (a URL) or coordinator.region (AWS)",
            );
        }
        if let Some(e) = &self.coordinator.endpoint
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            add(
                "coordinator.endpoint".into(),
                "must be an http:// or https:// URL",
            );
        }
        if let Some(ca) = &self.coordinator.ca_bundle
            && !ca.exists()
        {
            add("coordinator.ca_bundle".into(), "file does not exist");
        }
        if let Some(f) = &self.log_format
            && f != "text"
            && f != "json"
        {
            add("log_format".into(), "must be \"text\" or \"json\"");
        }
        if self.activities.is_empty() {
            add("activities".into(), "no activity configured");
        }
        for (name, a) in &self.activities {
            let k = |f: &str| format!("activities.{name}.{f}");
            if a.concurrency == 0 || a.concurrency > 1024 {
                add(k("concurrency"), "must be between 1 and 1024");
            }
            if a.heartbeat_seconds == 0 {
                add(k("heartbeat_seconds"), "must be at least 1");
            }
            if a.timeout_seconds == 0 {
                add(k("timeout_seconds"), "must be at least 1");
            }
            if let Some(arn) = &a.arn
                && (!arn.starts_with("arn:") || !arn.contains(":activity:"))
            {
                add(
                    k("arn"),
                    "must be an activity ARN (arn:aws:states:<region>:<account>:activity:<name>)",
                );
            }
            match &a.handler {
                HandlerConfig::Exec {
                    command,
                    exit_codes,
                    cwd,
                    ..
                } => {
                    if let Some(d) = cwd
                        && !d.is_dir()
                    {
                        add(k("handler.cwd"), "directory does not exist");
                    }
                    match command.first() {
                        None => add(k("handler.command"), "must name a program"),
                        Some(program) if program.is_empty() => {
                            add(k("handler.command"), "must name a program")
                        }
                        Some(program) => {
                            if let Err(why) = find_program(program, cwd.as_deref()) {
                                add(k("handler.command"), &why);
                            }
                        }
                    }
                    for code in exit_codes.keys() {
                        if code.parse::<i32>().is_err() {
                            add(
                                k(&format!("handler.exit_codes.{code}")),
                                "keys must be exit codes (integers)",
                            );
                        }
                    }
                }
                HandlerConfig::Http { url, .. } => {
                    if reqwest::Url::parse(url).is_err() {
                        add(k("handler.url"), "must be a valid URL");
                    }
                }
            }
        }
        p
    }
}

/// Where `program` would be run from: a path (relative to `cwd` when set) or a
/// name looked up on `PATH`, as the exec handler will start it. The error says
/// what is wrong.
pub fn find_program(program: &str, cwd: Option<&Path>) -> Result<PathBuf, String> {
    if program.contains('/') {
        let p = match cwd {
            Some(d) if Path::new(program).is_relative() => d.join(program),
            _ => PathBuf::from(program),
        };
        return if !p.is_file() {
            Err(format!("program {program} does not exist"))
        } else if !is_executable(&p) {
            Err(format!("program {program} is not executable"))
        } else {
            Ok(p)
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file() && is_executable(p))
        .ok_or_else(|| format!("program {program} is not found on PATH"))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// The config crate's message without the file's path (printed once by the caller).
fn without_path(message: &str, path: &Path) -> String {
    let shown = path.display().to_string();
    message
        .replace(&format!(" in {shown}"), "")
        .replace(&format!("\"{shown}\" "), "")
        .replace(&shown, "the file")
}

/// Every key of the wrong type or unknown, found by deserializing each field
/// on its own (serde stops at the first).
fn type_problems(tree: &serde_json::Value) -> Vec<Problem> {
    use serde_json::Value;
    let mut p = Vec::new();
    fn check<T: serde::de::DeserializeOwned>(v: &Value, key: &str, p: &mut Vec<Problem>) {
        if let Err(e) = serde_json::from_value::<T>(v.clone()) {
            p.push(Problem {
                key: key.to_owned(),
                message: e.to_string(),
            });
        }
    }
    fn unknown(key: &str, p: &mut Vec<Problem>) {
        p.push(Problem {
            key: key.to_owned(),
            message: "unknown key".into(),
        });
    }
    fn table<'a>(
        v: &'a Value,
        key: &str,
        p: &mut Vec<Problem>,
    ) -> Option<&'a serde_json::Map<String, Value>> {
        let t = v.as_object();
        if t.is_none() {
            p.push(Problem {
                key: key.to_owned(),
                message: format!("must be a table, found {}", kind(v)),
            });
        }
        t
    }
    let Some(top) = table(tree, "(file)", &mut p) else {
        return p;
    };
    for (k, v) in top {
        match k.as_str() {
            "worker_name" | "log_format" => check::<Option<String>>(v, k, &mut p),
            "shutdown_deadline_seconds" => check::<u64>(v, k, &mut p),
            "coordinator" => {
                if let Some(t) = table(v, k, &mut p) {
                    for (ck, cv) in t {
                        let key = format!("coordinator.{ck}");
                        match ck.as_str() {
                            "endpoint" | "region" => check::<Option<String>>(cv, &key, &mut p),
                            "ca_bundle" => check::<Option<PathBuf>>(cv, &key, &mut p),
                            _ => unknown(&key, &mut p),
                        }
                    }
                }
            }
            "http" => {
                if let Some(t) = table(v, k, &mut p) {
                    if !t.contains_key("listen") {
                        p.push(Problem {
                            key: "http.listen".into(),
                            message: "missing (an address such as 127.0.0.1:9464)".into(),
                        });
                    }
                    for (hk, hv) in t {
                        let key = format!("http.{hk}");
                        match hk.as_str() {
                            "listen" => check::<SocketAddr>(hv, &key, &mut p),
                            _ => unknown(&key, &mut p),
                        }
                    }
                }
            }
            "activities" => {
                let Some(t) = table(v, k, &mut p) else {
                    continue;
                };
                for (name, a) in t {
                    let prefix = format!("activities.{name}");
                    let Some(a) = table(a, &prefix, &mut p) else {
                        continue;
                    };
                    if !a.contains_key("handler") {
                        p.push(Problem {
                            key: format!("{prefix}.handler"),
                            message: "missing (an exec or http handler)".into(),
                        });
                    }
                    for (ak, av) in a {
                        let key = format!("{prefix}.{ak}");
                        match ak.as_str() {
                            "arn" => check::<Option<String>>(av, &key, &mut p),
                            "concurrency" => check::<usize>(av, &key, &mut p),
                            "heartbeat_seconds" | "timeout_seconds" => {
                                check::<u64>(av, &key, &mut p)
                            }
                            "handler" => handler_problems(av, &key, &mut p),
                            _ => unknown(&key, &mut p),
                        }
                    }
                }
            }
            _ => unknown(k, &mut p),
        }
    }
    fn handler_problems(v: &Value, prefix: &str, p: &mut Vec<Problem>) {
        let Some(t) = table(v, prefix, p) else {
            return;
        };
        let fields: &[&str] = match t.get("type").and_then(Value::as_str) {
            Some("exec") => &["type", "command", "env", "cwd", "exit_codes"],
            Some("http") => &["type", "url", "headers"],
            _ => {
                p.push(Problem {
                    key: format!("{prefix}.type"),
                    message: "must be \"exec\" or \"http\"".into(),
                });
                return;
            }
        };
        for (hk, hv) in t {
            let key = format!("{prefix}.{hk}");
            match hk.as_str() {
                "type" => {}
                "command" if fields.contains(&"command") => check::<Vec<String>>(hv, &key, p),
                "env" | "exit_codes" | "headers" if fields.contains(&hk.as_str()) => {
                    check::<BTreeMap<String, String>>(hv, &key, p)
                }
                "cwd" if fields.contains(&"cwd") => check::<Option<PathBuf>>(hv, &key, p),
                "url" if fields.contains(&"url") => check::<String>(hv, &key, p),
                _ => unknown(&key, p),
            }
        }
        for required in ["command", "url"] {
            if fields.contains(&required) && !t.contains_key(required) {
                p.push(Problem {
                    key: format!("{prefix}.{required}"),
                    message: "missing".into(),
                });
            }
        }
    }
    p
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "nothing",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<AgentConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("agent.toml");
        std::fs::write(&f, toml_text).unwrap();
        AgentConfig::load(&f, true)
    }

    #[test]
    fn a_good_file() {
        let c = parse(
            r#"
            [coordinator]
            endpoint = "http://127.0.0.1:8083"
            [activities.resize]
            concurrency = 2
            handler = { type = "exec", command = ["/bin/cat"], exit_codes = { "3" = "Image.TooLarge" } }
            [activities.notify]
            handler = { type = "http", url = "http://127.0.0.1:8080/x" }
            "#,
        )
        .unwrap();
        assert_eq!(c.activities["resize"].concurrency, 2);
        assert_eq!(c.activities["notify"].heartbeat_seconds, 10);
    }

    #[test]
    fn every_problem_is_listed_with_its_key() {
        let e = parse(
            r#"
            log_format = "xml"
            [coordinator]
            endpoint = "ftp://x"
            [activities.a]
            concurrency = 0
            handler = { type = "exec", command = [], exit_codes = { "x" = "E" } }
            [activities.b]
            arn = "nope"
            handler = { type = "http", url = "not a url" }
            "#,
        )
        .unwrap_err();
        let ConfigError::Invalid(p) = e else {
            panic!("{e}")
        };
        let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
        for k in [
            "log_format",
            "coordinator.endpoint",
            "activities.a.concurrency",
            "activities.a.handler.command",
            "activities.a.handler.exit_codes.x",
            "activities.b.arn",
            "activities.b.handler.url",
        ] {
            assert!(keys.contains(&k), "{k} missing in {keys:?}");
        }
    }

    fn problem_keys(e: ConfigError) -> Vec<String> {
        let ConfigError::Invalid(p) = e else {
            panic!("{e}")
        };
        p.into_iter().map(|p| p.key).collect()
    }

    #[test]
    fn unknown_keys_and_bad_types_are_refused() {
        assert_eq!(problem_keys(parse("bogus = 1").unwrap_err()), ["bogus"]);
        assert_eq!(
            problem_keys(parse("[activities.a]\nhandler = { type = \"ftp\" }").unwrap_err()),
            ["activities.a.handler.type"]
        );
    }

    #[test]
    fn every_type_error_is_listed_with_its_key_and_no_path() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("agent.toml");
        std::fs::write(
            &f,
            r#"
            shutdown_deadline_seconds = "soon"
            [coordinator]
            endpoint = "http://127.0.0.1:8083"
            [http]
            listen = "not an address"
            [activities.a]
            concurrency = "four"
            handler = { type = "exec", command = "cat" }
            [activities.b]
            timeout_seconds = -1
            handler = { type = "http", url = "http://x", colour = "red" }
            "#,
        )
        .unwrap();
        let e = AgentConfig::load(&f, true).unwrap_err();
        let text = e.to_string();
        assert!(!text.contains(&f.display().to_string()), "{text}");
        let keys = problem_keys(e);
        for k in [
            "shutdown_deadline_seconds",
            "http.listen",
            "activities.a.concurrency",
            "activities.a.handler.command",
            "activities.b.timeout_seconds",
            "activities.b.handler.colour",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} missing in {keys:?}");
        }
        assert_eq!(keys.len(), 6, "{keys:?}");
    }

    #[test]
    fn exec_programs_must_exist() {
        let e = parse(
            r#"
            [coordinator]
            endpoint = "http://127.0.0.1:8083"
            [activities.a]
            handler = { type = "exec", command = ["/nonexistent/resize-image"] }
            [activities.b]
            handler = { type = "exec", command = ["no-such-program-anywhere-42"] }
            [activities.c]
            handler = { type = "exec", command = ["sh", "-c", "cat"], cwd = "/nonexistent-dir" }
            [activities.d]
            handler = { type = "exec", command = ["sh", "-c", "cat"] }
            "#,
        )
        .unwrap_err();
        let ConfigError::Invalid(p) = e else {
            panic!("{e}")
        };
        let text: Vec<String> = p.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            text,
            [
                "activities.a.handler.command: program /nonexistent/resize-image does not exist",
                "activities.b.handler.command: program no-such-program-anywhere-42 is not found on PATH",
                "activities.c.handler.cwd: directory does not exist",
            ]
        );
    }

    #[test]
    fn a_relative_program_is_found_from_its_cwd() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("run.sh");
        std::fs::write(&script, "#!/bin/sh\ncat\n").unwrap();
        assert!(
            find_program("./run.sh", Some(dir.path())).is_err(),
            "not executable yet"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
            assert_eq!(
                find_program("./run.sh", Some(dir.path())),
                Ok(dir.path().join("./run.sh"))
            );
        }
    }
}
