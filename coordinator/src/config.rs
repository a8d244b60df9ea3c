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
    /// Address to listen on (default 127.0.0.1:8083).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Directory of the embedded SQLite store (default ./stepwise-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep everything in memory (nothing survives a restart).
    #[arg(long)]
    pub in_memory: bool,
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
}

/// The effective settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory of the embedded store.
    pub data_dir: PathBuf,
    /// Keep everything in memory.
    pub in_memory: bool,
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
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8083)),
            data_dir: PathBuf::from("./stepwise-data"),
            in_memory: false,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            wait_time_scale: 1.0,
            log_format: "text".into(),
            mock_config: None,
            integrations: Default::default(),
        }
    }
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
        if let Some(v) = cli.listen {
            s.listen = v;
        }
        if let Some(v) = &cli.data_dir {
            s.data_dir = v.clone();
        }
        if cli.in_memory {
            s.in_memory = true;
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
