//! The systemd unit reads the settings file it names, and logs are plain text
//! when they do not go to a terminal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clap::Parser;
use std::io::{BufRead, Read};
use std::process::{Command, Stdio};
use stepwise_coordinator::config::{Cli, Settings};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

#[test]
fn the_systemd_unit_reads_etc_stepwise_coordinator_toml() {
    let unit =
        std::fs::read_to_string(format!("{ROOT}/systemd/stepwise-coordinator.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let args: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(args[0], "/usr/local/bin/stepwise-coordinator");
    let cli = Cli::try_parse_from(args.iter().copied()).unwrap();
    assert_eq!(
        cli.config.as_deref(),
        Some(std::path::Path::new("/etc/stepwise/coordinator.toml"))
    );
    assert!(
        unit.contains("install -m 0644 systemd/coordinator.toml /etc/stepwise/coordinator.toml"),
        "the install steps do not put the file where the unit reads it"
    );
    assert!(
        !unit.lines().any(|l| l.starts_with("Environment=STEPWISE_")),
        "an Environment= line would override the file"
    );
    // The file we ship (installed there) gives the settings the unit expects.
    let cli = Cli {
        config: Some(format!("{ROOT}/systemd/coordinator.toml").into()),
        ..Default::default()
    };
    let s = Settings::load(&cli).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:8083");
    assert_eq!(s.data_dir, std::path::Path::new("/var/lib/stepwise/data"));
    assert_eq!(s.log_format, "json");
    assert!(unit.contains("ReadWritePaths=/var/lib/stepwise\n"));
}

#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepwise-coordinator"))
        .args(["--in-memory", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env_remove("STEPWISE_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("stepwise-coordinator listening on"),
        "{line}"
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(err.contains("listening"), "no log line: {err}");
    assert!(
        !err.contains('\u{1b}'),
        "colour codes in a piped log: {err:?}"
    );
}
