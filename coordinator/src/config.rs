//! Settings: defaults, then a config file (`--config`), then `STEPWISE_*`
//! environment variables, then command-line flags.

use clap::Parser;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Command-line flags of `stepwise-coordinator`.
#[derive(Debug, Clone, Parser, Default)]
#[command(
    name = "stepwise-coordinator",
    version,
    about = "An AWS Step Functions compatible server with durable executions"
)]
pub struct Cli {
    /// Address to listen on, `IP:PORT` or `NAME:PORT` (default 127.0.0.1:8083).
    #[arg(long)]
    pub listen: Option<String>,
    /// Directory of the embedded SQLite store (default ./stepwise-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep everything in memory (nothing survives a restart).
    #[arg(long)]
    pub in_memory: bool,
    /// A PostgreSQL database instead of the embedded store,
    /// `postgres://user[:password]@host[:port]/database` (env `STEPWISE_DATABASE_URL`).
    /// Several coordinators may share it: one drives the executions, the
    /// others wait and take over when it stops or dies.
    #[arg(long)]
    pub database_url: Option<String>,
    /// A TOML config file with the same settings.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Region used in ARNs (default us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// Account id used in ARNs (default 123456789012).
    #[arg(long)]
    pub account_id: Option<String>,
    /// Multiply Wait state durations and Retry delays by this factor (e.g. 0.01 for test suites).
    #[arg(long)]
    pub wait_time_scale: Option<f64>,
    /// Log format: `text` or `json`.
    #[arg(long)]
    pub log_format: Option<String>,
    /// A mock file in AWS Step Functions Local's format (also `SFN_MOCK_CONFIG`):
    /// executions started as `<state machine ARN>#<test case>` take the mocked
    /// responses of that test case.
    #[arg(long, env = "SFN_MOCK_CONFIG")]
    pub mock_config: Option<PathBuf>,
    /// A TOML file of access keys and what each may do: every API request
    /// must then be SigV4-signed with one of them (env `STEPWISE_AUTH_FILE`).
    #[arg(long)]
    pub auth_file: Option<PathBuf>,
    /// Allow listening on a non-loopback address without `--auth-file`:
    /// anyone who can reach the port can do anything.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// A name clients use to reach this server (the `Host` they send);
    /// repeatable. localhost and IP addresses are always accepted.
    #[arg(long = "host-name")]
    pub host_names: Vec<String>,
    /// Serve HTTPS with this PEM certificate chain (with `--tls-key`; read again on SIGHUP).
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// Connections served at once (default 4096).
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Seconds for a request head (or TLS handshake) to arrive; also the idle
    /// time after which a kept-alive connection is closed (default 30).
    #[arg(long)]
    pub header_timeout_seconds: Option<u64>,
    /// Seconds for a request body to arrive (default 60).
    #[arg(long)]
    pub body_timeout_seconds: Option<u64>,
    /// Fail, instead of resuming, an execution that was running when the
    /// coordinator stopped abnormally this many times in a row (default 2;
    /// 0: always resume).
    #[arg(long)]
    pub crash_loop_limit: Option<u32>,
    /// Serve the web console on this address, `IP:PORT` (e.g. 127.0.0.1:8084;
    /// off by default). It follows `--auth-file` (HTTP Basic with a key of it).
    #[arg(long)]
    pub console_listen: Option<String>,
    /// Allow starting, stopping and redriving executions from the console
    /// (read-only by default).
    #[arg(long)]
    pub console_allow_changes: bool,
    /// Finished EXPRESS executions kept in memory for DescribeExecution and
    /// the console (default 1000).
    #[arg(long)]
    pub express_keep: Option<usize>,
}

/// The effective settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct Settings {
    /// Address to listen on (a `NAME:PORT` in the file or environment is resolved).
    #[serde(deserialize_with = "de_listen")]
    pub listen: SocketAddr,
    /// Directory of the embedded store.
    pub data_dir: PathBuf,
    /// Keep everything in memory.
    pub in_memory: bool,
    /// A PostgreSQL database instead of the embedded store.
    pub database_url: Option<String>,
    /// Region used in ARNs.
    pub region: String,
    /// Account id used in ARNs.
    pub account_id: String,
    /// Wait/Retry delay factor.
    pub wait_time_scale: f64,
    /// `text` or `json`.
    pub log_format: String,
    /// Step Functions Local mock file.
    pub mock_config: Option<PathBuf>,
    /// Service integrations: endpoints, Lambda functions served by
    /// activities, HTTP Task connections (`[integrations]` in the file).
    pub integrations: crate::integrations::IntegrationSettings,
    /// The access keys file; `None`: requests are not authenticated (loopback only).
    pub auth_file: Option<PathBuf>,
    /// Listen on a non-loopback address without authentication.
    pub insecure_no_auth: bool,
    /// Names clients reach this server by (accepted in `Host`).
    pub host_names: Vec<String>,
    /// PEM certificate chain for HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// Its PEM private key.
    pub tls_key: Option<PathBuf>,
    /// Connections served at once.
    pub max_connections: usize,
    /// Seconds for a request head to arrive, and idle keep-alive time.
    pub header_timeout_seconds: u64,
    /// Seconds for a request body to arrive.
    pub body_timeout_seconds: u64,
    /// Abnormal stops an execution may be running through before it is
    /// failed rather than resumed (0: never).
    pub crash_loop_limit: u32,
    /// The web console's address; `None`: no console.
    #[serde(deserialize_with = "de_listen_opt")]
    pub console_listen: Option<SocketAddr>,
    /// Start, stop and redrive from the console.
    pub console_allow_changes: bool,
    /// Finished EXPRESS executions kept in memory (with their histories when
    /// the console is on).
    pub express_keep: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8083)),
            data_dir: PathBuf::from("./stepwise-data"),
            in_memory: false,
            database_url: None,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            wait_time_scale: 1.0,
            log_format: "text".into(),
            mock_config: None,
            integrations: Default::default(),
            auth_file: None,
            insecure_no_auth: false,
            host_names: Vec::new(),
            tls_cert: None,
            tls_key: None,
            max_connections: 4096,
            header_timeout_seconds: 30,
            body_timeout_seconds: 60,
            crash_loop_limit: 2,
            console_listen: None,
            console_allow_changes: false,
            express_keep: crate::engine::EXPRESS_KEEP,
        }
    }
}

/// `IP:PORT`, `[IPv6]:PORT` or `NAME:PORT` (resolved; its first IPv4 address is used, else its first).
pub fn resolve_listen(v: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(a) = v.parse::<SocketAddr>() {
        return Ok(a);
    }
    let addrs: Vec<SocketAddr> = v
        .to_socket_addrs()
        .map_err(|e| format!("listen address '{v}' (expected IP:PORT or NAME:PORT): {e}"))?
        .collect();
    // IPv4 first: `localhost` then answers on 127.0.0.1 as well as by name.
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("listen address '{v}' resolves to no address"))
}

fn de_listen<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    resolve_listen(&s).map_err(serde::de::Error::custom)
}

fn de_listen_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| resolve_listen(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file or an environment variable has a bad value.
    #[error("configuration error: {0}")]
    Config(#[from] config::ConfigError),
    /// A value is out of range.
    #[error("configuration error: {0}")]
    Invalid(String),
}

impl Settings {
    /// Builds the settings from the flags, the config file and `STEPWISE_*` env.
    pub fn load(cli: &Cli) -> Result<Self, SettingsError> {
        let mut b = config::Config::builder();
        if let Some(f) = &cli.config {
            b = b.add_source(config::File::from(f.as_path()).format(config::FileFormat::Toml));
        }
        b = b.add_source(config::Environment::with_prefix("STEPWISE").try_parsing(true));
        let mut s: Settings = b.build()?.try_deserialize()?;
        if let Some(v) = &cli.listen {
            s.listen = resolve_listen(v).map_err(SettingsError::Invalid)?;
            if let Some((host, _)) = v.rsplit_once(':')
                && host.parse::<std::net::IpAddr>().is_err()
                && !host.starts_with('[')
            {
                // Reached by the name it listens on.
                s.host_names.push(host.to_owned());
            }
        }
        if let Some(v) = &cli.auth_file {
            s.auth_file = Some(v.clone());
        }
        if cli.insecure_no_auth {
            s.insecure_no_auth = true;
        }
        s.host_names.extend(cli.host_names.iter().cloned());
        if let Some(v) = &cli.tls_cert {
            s.tls_cert = Some(v.clone());
        }
        if let Some(v) = &cli.tls_key {
            s.tls_key = Some(v.clone());
        }
        if let Some(v) = cli.max_connections {
            s.max_connections = v;
        }
        if let Some(v) = cli.header_timeout_seconds {
            s.header_timeout_seconds = v;
        }
        if let Some(v) = cli.body_timeout_seconds {
            s.body_timeout_seconds = v;
        }
        if let Some(v) = cli.crash_loop_limit {
            s.crash_loop_limit = v;
        }
        if let Some(v) = &cli.console_listen {
            s.console_listen = Some(resolve_listen(v).map_err(SettingsError::Invalid)?);
        }
        if cli.console_allow_changes {
            s.console_allow_changes = true;
        }
        if let Some(v) = cli.express_keep {
            s.express_keep = v;
        }
        if s.tls_cert.is_some() != s.tls_key.is_some() {
            return Err(SettingsError::Invalid(
                "--tls-cert and --tls-key go together".into(),
            ));
        }
        if s.max_connections == 0 || s.header_timeout_seconds == 0 || s.body_timeout_seconds == 0 {
            return Err(SettingsError::Invalid(
                "max_connections, header_timeout_seconds and body_timeout_seconds must be above 0"
                    .into(),
            ));
        }
        if let Some(v) = &cli.data_dir {
            s.data_dir = v.clone();
        }
        if cli.in_memory {
            s.in_memory = true;
        }
        if let Some(v) = &cli.database_url {
            s.database_url = Some(v.clone());
        }
        if s.database_url.as_deref() == Some("") {
            s.database_url = None;
        }
        if s.in_memory && s.database_url.is_some() {
            return Err(SettingsError::Invalid(
                "--in-memory and --database-url exclude each other: choose one store".into(),
            ));
        }
        if let Some(v) = &cli.region {
            s.region = v.clone();
        }
        if let Some(v) = &cli.account_id {
            s.account_id = v.clone();
        }
        if let Some(v) = cli.wait_time_scale {
            s.wait_time_scale = v;
        }
        if let Some(v) = &cli.log_format {
            s.log_format = v.clone();
        }
        if let Some(v) = &cli.mock_config {
            s.mock_config = Some(v.clone());
        }
        if !(s.wait_time_scale.is_finite() && s.wait_time_scale >= 0.0) {
            return Err(SettingsError::Invalid(format!(
                "wait_time_scale must be a number >= 0, got {}",
                s.wait_time_scale
            )));
        }
        if s.account_id.len() != 12 || !s.account_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(SettingsError::Invalid(format!(
                "account_id must be 12 digits, got '{}'",
                s.account_id
            )));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_takes_names() {
        let cli = Cli::parse_from([
            "x",
            "--listen",
            "localhost:8086",
            "--host-name",
            "sfn.internal",
        ]);
        let s = Settings::load(&cli).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8086".parse::<SocketAddr>().unwrap());
        assert_eq!(
            s.host_names,
            vec!["localhost".to_owned(), "sfn.internal".to_owned()]
        );
        let cli = Cli::parse_from(["x", "--listen", "[::1]:9"]);
        assert_eq!(
            Settings::load(&cli).unwrap().listen,
            "[::1]:9".parse::<SocketAddr>().unwrap()
        );
        let cli = Cli::parse_from(["x", "--listen", "no port"]);
        assert!(Settings::load(&cli).is_err());
    }

    #[test]
    fn console_flags() {
        let s = Settings::load(&Cli::parse_from(["x"])).unwrap();
        assert_eq!(s.console_listen, None);
        assert!(!s.console_allow_changes);
        let cli = Cli::parse_from([
            "x",
            "--console-listen",
            "127.0.0.1:8084",
            "--console-allow-changes",
            "--express-keep",
            "5",
        ]);
        let s = Settings::load(&cli).unwrap();
        assert_eq!(s.console_listen, Some("127.0.0.1:8084".parse().unwrap()));
        assert!(s.console_allow_changes);
        assert_eq!(s.express_keep, 5);
    }

    #[test]
    fn auth_flags() {
        let cli = Cli::parse_from(["x", "--auth-file", "/k.toml", "--insecure-no-auth"]);
        let s = Settings::load(&cli).unwrap();
        assert_eq!(s.auth_file, Some(PathBuf::from("/k.toml")));
        assert!(s.insecure_no_auth);
    }
}
