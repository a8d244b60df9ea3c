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
        let cfg: AgentConfig = b
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError::Read(format!("{}: {e}", path.display())))?;
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
                    ..
                } => {
                    if command.is_empty() || command[0].is_empty() {
                        add(k("handler.command"), "must name a program");
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

    #[test]
    fn unknown_keys_and_bad_types_are_refused() {
        assert!(matches!(parse("bogus = 1"), Err(ConfigError::Read(_))));
        assert!(matches!(
            parse("[activities.a]\nhandler = { type = \"ftp\" }"),
            Err(ConfigError::Read(_))
        ));
    }
}
