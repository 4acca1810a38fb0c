//! azu-session: the `session:setup` and `session:clear` commands of the Azu CLI, as one
//! binary.
//!
//! Data flows one way: [`cli::Cli`] → [`run`] → a command, which decides everything first and
//! then acts, returning a report → printed here. Commands never print.

pub mod backend;
pub mod cli;
pub mod error;
pub mod fsutil;
pub mod initializer;
pub mod project;
pub mod setup;
pub mod url;

use std::io::{self, Write};
use std::process::ExitCode;

use chrono::Utc;

use crate::backend::Backend;
use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::setup::SetupReport;

/// Run the parsed command line; print errors as `error: …` on stderr and return the exit code.
pub fn main(cli: Cli) -> ExitCode {
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Setup(args) => {
            let report = setup::run(&args, Utc::now())?;
            print_lines(&setup_lines(&report));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Print to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print_lines(lines: &[String]) {
    let mut out = io::stdout().lock();
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            return;
        }
    }
    let _ = out.flush();
}

fn setup_lines(report: &SetupReport) -> Vec<String> {
    let mut lines: Vec<String> = report
        .files
        .iter()
        .map(|f| match f.note {
            Some(note) => format!("{:>9}  {} ({note})", f.action.as_str(), f.path),
            None => format!("{:>9}  {}", f.action.as_str(), f.path),
        })
        .collect();

    let mut steps: Vec<Vec<String>> = vec![vec![
        "Install dependencies:".into(),
        "     shards install".into(),
    ]];
    if report.backend == Backend::Database {
        steps.push(vec!["Run migrations:".into(), "     azu db:migrate".into()]);
    }
    let mut env =
        vec!["Set environment variables (SESSION_SECRET is already in .env):".to_string()];
    match report.backend {
        Backend::Redis => env.push(
            "     REDIS_URL is in .env as redis://localhost:6379; export REDIS_URL=\"redis://host:6379\" to use another server".into(),
        ),
        Backend::Database => env.push(
            "     export DATABASE_URL=\"postgresql://user:password@localhost/myapp\"".into(),
        ),
        Backend::Memory => env.push("     nothing else: memory sessions need no server".into()),
    }
    steps.push(env);
    let main_file = report
        .main_file
        .as_deref()
        .unwrap_or("your application's main file");
    steps.push(vec![
        format!("Require the initializer in {main_file}:"),
        "     require \"./initializers/session\"".into(),
    ]);

    lines.push(String::new());
    lines.push("Next steps:".into());
    for (i, step) in steps.into_iter().enumerate() {
        let mut step = step.into_iter();
        if let Some(first) = step.next() {
            lines.push(format!("  {}. {first}", i + 1));
        }
        lines.extend(step);
    }
    lines.push(String::new());
    lines.push(format!(
        "✓ Session setup completed (backend: {})",
        report.backend
    ));
    lines
}
