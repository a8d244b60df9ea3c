//! # stepwise-cli
//!
//! The `stepwise` command for people: `validate` definitions as a compiler
//! would, `run` one on an in-process coordinator (or an endpoint) and watch it
//! state by state, draw it with `graph`, and look at executions on a
//! coordinator or AWS (`executions`, `describe`, `history`, `start`, `stop`).
#![forbid(unsafe_code)]

pub mod graph;
pub mod remote;
pub mod run;
pub mod table;
pub mod validate;

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "stepwise",
    version,
    about = "Validate, run, graph and inspect Step Functions workflows"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the API is, for the commands that talk to one.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The coordinator (or a Step Functions endpoint); without it, AWS in `--region`.
    #[arg(long, env = "STEPWISE_ENDPOINT")]
    pub endpoint: Option<String>,
    /// The AWS region (default: AWS_REGION, then us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// Print the API's JSON answer instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Which task token to answer.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// The task token.
    #[arg(long, required_unless_present = "token_field")]
    pub token: Option<String>,
    /// Read a JSON object on stdin (e.g. a `--worker` command's task input) and take the token from this field.
    #[arg(long, conflicts_with = "token")]
    pub token_field: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check definitions: every problem with its JSON pointer and FILE:LINE:COL; exit 1 if any.
    Validate {
        /// Definition files (`*.asl.json`).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run a definition and show each state as it is entered and left, then the output.
    Run(run::RunArgs),
    /// Print a definition's states and transitions as an indented tree (or an SVG picture).
    Graph {
        /// The definition file.
        file: PathBuf,
        /// Print an SVG drawing instead (the web console's graph).
        #[arg(long)]
        svg: bool,
    },
    /// List executions (of one machine, or of every machine).
    Executions {
        /// Only this state machine.
        #[arg(long)]
        state_machine: Option<String>,
        /// Only this status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED).
        #[arg(long)]
        status: Option<String>,
        /// The most to list.
        #[arg(long, default_value_t = 100)]
        max: usize,
        #[command(flatten)]
        target: Target,
    },
    /// Describe one execution.
    Describe {
        /// The execution's ARN.
        execution_arn: String,
        #[command(flatten)]
        target: Target,
    },
    /// An execution's history events.
    History {
        /// The execution's ARN.
        execution_arn: String,
        #[command(flatten)]
        target: Target,
    },
    /// Start an execution of a state machine.
    Start {
        /// The state machine's ARN (or a version or alias ARN).
        state_machine_arn: String,
        /// The input JSON text.
        #[arg(long, conflicts_with = "input_file")]
        input: Option<String>,
        /// A file holding the input JSON.
        #[arg(long)]
        input_file: Option<PathBuf>,
        /// The execution's name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Answer a task token with an output (a callback, `.waitForTaskToken`, or an activity task).
    SendTaskSuccess {
        #[command(flatten)]
        token: TokenArgs,
        /// The output JSON text.
        #[arg(long, default_value = "{}")]
        output: String,
        #[command(flatten)]
        target: Target,
    },
    /// Fail a task token with an error name and cause.
    SendTaskFailure {
        #[command(flatten)]
        token: TokenArgs,
        /// The error name (matched by Retry and Catch).
        #[arg(long)]
        error: Option<String>,
        /// The cause.
        #[arg(long)]
        cause: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Stop a running execution.
    Stop {
        /// The execution's ARN.
        execution_arn: String,
        /// The error name recorded.
        #[arg(long)]
        error: Option<String>,
        /// The cause recorded.
        #[arg(long)]
        cause: Option<String>,
        #[command(flatten)]
        target: Target,
    },
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An input is not JSON.
    #[error("{what} is not valid JSON: {source}")]
    Json {
        /// Which input.
        what: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A definition has problems (already printed).
    #[error("{0} problem(s) in the definition")]
    Invalid(usize),
    /// A command-line value is wrong.
    #[error("{0}")]
    Usage(String),
    /// The API refused or could not be reached.
    #[error(transparent)]
    Api(#[from] stepwise_sdk::Error),
    /// The in-process coordinator could not start.
    #[error("coordinator: {0}")]
    Coordinator(Box<stepwise_coordinator::ServeError>),
    /// A `--worker` could not start.
    #[error("worker: {0}")]
    Worker(#[from] stepwise_sdk::worker::WorkerError),
    /// The execution did not succeed (already printed).
    #[error("the execution ended {0}")]
    Execution(String),
}

impl From<stepwise_coordinator::ServeError> for CliError {
    fn from(e: stepwise_coordinator::ServeError) -> Self {
        CliError::Coordinator(Box::new(e))
    }
}

/// Reads a file, naming it in the error.
pub fn read(path: &std::path::Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The input JSON from `--input` or `--input-file` (default `{}`), checked.
pub fn input_text(input: Option<&str>, file: Option<&std::path::Path>) -> Result<String, CliError> {
    let (text, what) = match (input, file) {
        (Some(t), _) => (t.to_owned(), "--input".to_owned()),
        (None, Some(f)) => (read(f)?, f.display().to_string()),
        (None, None) => ("{}".to_owned(), "the input".to_owned()),
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|source| CliError::Json { what, source })?;
    Ok(text)
}

/// Whether stdout is a terminal (colours and symbols) or not (plain lines).
pub fn styled() -> bool {
    std::io::stdout().is_terminal()
}

/// Runs a command line; problems are printed on stderr.
pub async fn main(cli: Cli) -> ExitCode {
    let r = match cli.command {
        Command::Validate { files } => validate_files(&files),
        Command::Graph { file, svg } => graph_file(&file, svg),
        Command::Run(args) => run::run(args).await,
        other => remote::run(other).await,
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Invalid(_) | CliError::Execution(_)) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("stepwise: {e}");
            ExitCode::from(2)
        }
    }
}

fn validate_files(files: &[PathBuf]) -> Result<(), CliError> {
    let mut problems = 0;
    for f in files {
        let text = read(f)?;
        let name = f.display().to_string();
        let found = validate::check(&text);
        if found.is_empty() {
            println!("{name}: ok");
        }
        for p in &found {
            println!("{}", p.render(&name));
        }
        problems += found.len();
    }
    if problems > 0 {
        eprintln!("{problems} problem(s)");
        return Err(CliError::Invalid(problems));
    }
    Ok(())
}

fn graph_file(file: &std::path::Path, svg: bool) -> Result<(), CliError> {
    let text = read(file)?;
    let found = validate::check(&text);
    if !found.is_empty() {
        let name = file.display().to_string();
        for p in &found {
            eprintln!("{}", p.render(&name));
        }
        return Err(CliError::Invalid(found.len()));
    }
    let def: serde_json::Value = serde_json::from_str(&text).map_err(|source| CliError::Json {
        what: file.display().to_string(),
        source,
    })?;
    if svg {
        use stepwise_asl::compile::{CompileOptions, compile_str};
        // `validate::check` found no problem: it compiles.
        let machine = compile_str(&text, CompileOptions::default())
            .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
        let layout = stepwise_coordinator::console::graph::layout(&machine, &def);
        let picture = stepwise_coordinator::console::graph::svg(&layout, &Default::default());
        println!("{picture}");
    } else {
        print!("{}", graph::render(&def));
    }
    Ok(())
}
