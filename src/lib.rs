//! azu-session: the `session:setup` and `session:clear` commands of the Azu CLI, as one
//! binary.
//!
//! Data flows one way: [`cli::Cli`] → [`run`] → a command, which decides everything first and
//! then acts, returning a report → printed here. Commands never print.

pub mod backend;
pub mod clear;
pub mod cli;
pub mod completions;
pub mod confirm;
pub mod crystal;
pub mod database_url;
pub mod error;
pub mod fsutil;
pub mod initializer;
pub mod output;
pub mod project;
pub mod render;
pub mod rotate;
pub mod setup;
pub mod url;

use std::process::ExitCode;

use chrono::Utc;
use serde_json::json;

use crate::backend::Backend;
use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::output::{Output, paint};
use crate::setup::{Action, SetupReport};

/// Run the parsed command line; print errors on stderr and return the exit code.
pub fn main(cli: Cli) -> ExitCode {
    // TLS (rediss://, database TLS) needs a crypto provider chosen before the first handshake;
    // choosing it here means no connection can panic for lack of one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let quiet = matches!(&cli.command, Command::Clear(args) if args.quiet);
    Output::use_color(cli.color);
    let out = Output::new(cli.format, quiet);
    match run(cli.command, &out) {
        Ok(code) => code,
        Err(err) => {
            out.error(&err);
            ExitCode::from(err.exit_code())
        }
    }
}

/// A command line clap refused: its own message (and exit code 2), or, when the line asked
/// for `--format json`, the same as a JSON error.
pub fn usage_error(err: clap::Error) -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let wants_json = args
        .windows(2)
        .any(|w| w[0] == "--format" && w[1] == "json")
        || args.iter().any(|a| a == "--format=json");
    if !err.use_stderr() || !wants_json {
        err.exit();
    }
    let rendered = err.render().to_string();
    let message = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ");
    eprintln!("{}", json!({ "error": message, "exit_code": 2 }));
    ExitCode::from(2)
}

pub fn run(command: Command, out: &Output) -> Result<ExitCode, Error> {
    match command {
        Command::Setup(args) => {
            let report = setup::run(&args, Utc::now())?;
            out.lines(&setup_lines(&report));
            out.json(&setup_json(&report));
            Ok(ExitCode::SUCCESS)
        }
        Command::Clear(args) => {
            let plan = clear::plan(&args)?;
            // Staged before anything is deleted: a `.env` that cannot take the new secret
            // refuses the whole command.
            let rotation = if args.rotate_secret {
                Some(rotate::prepare(&args.project.path)?)
            } else {
                None
            };
            let rotates = matches!(rotation, Some(rotate::Prepared::Ready(_)));
            let report = clear::run(&plan, &mut render::clear::Terminal::new(*out, rotates))?;
            let Some(rotation) = rotation else {
                render::clear::json(&report, out);
                return Ok(ExitCode::SUCCESS);
            };
            let report = rotate::finish_clear(rotation, report, |rotated| {
                render::rotate::rotated(rotated, out)
            })?;
            render::rotate::after_clear(&report, out);
            match report.error() {
                Some(err) => Err(err),
                None => Ok(ExitCode::SUCCESS),
            }
        }
        Command::RotateSecret(args) => {
            render::rotate::rotate_secret(&rotate::run(&args.project.path)?, out);
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            completions::print(&completions::script(shell));
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let page = completions::man_page().map_err(Error::ManPage)?;
            completions::print(&page);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One numbered step of what to do after setup: a title and its detail lines.
struct Step {
    title: String,
    details: Vec<String>,
}

fn next_steps(report: &SetupReport) -> Vec<Step> {
    let step = |title: String, details: &[&str]| Step {
        title,
        details: details.iter().map(|d| d.to_string()).collect(),
    };
    let mut steps = vec![step("Install dependencies:".into(), &["shards install"])];
    if report.backend == Backend::Database {
        steps.push(step("Run migrations:".into(), &["azu db:migrate"]));
    }
    let env_detail = match (report.backend, &report.redis_url) {
        (Backend::Redis, Some(url)) => {
            format!("REDIS_URL is in .env ({url}); export REDIS_URL to use another server")
        }
        (Backend::Redis, None) => "export REDIS_URL=\"redis://localhost:6379\"".to_string(),
        (Backend::Database, _) => match &report.database_url {
            Some(url) if url.in_dotenv => format!(
                "DATABASE_URL is in .env ({}); export DATABASE_URL to use another database",
                url.masked
            ),
            Some(url) => format!(
                "DATABASE_URL is set in the environment ({}); the app must see the same value",
                url.masked
            ),
            None => {
                "export DATABASE_URL=\"postgresql://user:password@localhost/myapp\"".to_string()
            }
        },
        (Backend::Memory, _) => "nothing else: memory sessions need no server".to_string(),
    };
    steps.push(step(
        "Set environment variables (SESSION_SECRET is already in .env):".into(),
        &[&env_detail],
    ));
    let main_file = report
        .main_file
        .as_deref()
        .unwrap_or("your application's main file");
    steps.push(step(
        format!("Require the initializer in {main_file}:"),
        &["require \"./initializers/session\""],
    ));
    steps
}

fn setup_lines(report: &SetupReport) -> Vec<String> {
    let mut lines: Vec<String> = report
        .files
        .iter()
        .map(|f| {
            let style = match f.action {
                Action::Create => output::CREATE,
                Action::Overwrite | Action::Update => output::CHANGE,
                Action::Keep => output::DIM,
            };
            let action = paint(style, format!("{:>9}", f.action.as_str()));
            match &f.note {
                Some(note) => format!("{action}  {} ({note})", f.path),
                None => format!("{action}  {}", f.path),
            }
        })
        .collect();
    lines.push(String::new());
    lines.push("Next steps:".into());
    for (i, step) in next_steps(report).into_iter().enumerate() {
        lines.push(format!("  {}. {}", i + 1, step.title));
        lines.extend(step.details.into_iter().map(|d| format!("     {d}")));
    }
    lines.push(String::new());
    lines.push(paint(
        output::SUCCESS,
        format!("✓ Session setup completed (backend: {})", report.backend),
    ));
    lines
}

fn setup_json(report: &SetupReport) -> serde_json::Value {
    json!({
        "command": "session:setup",
        "backend": report.backend.as_str(),
        "app_name": report.app_name,
        "files": report.files.iter().map(|f| json!({
            "action": f.action.as_str(),
            "path": f.path,
            "note": f.note,
        })).collect::<Vec<_>>(),
        "next_steps": next_steps(report).into_iter().map(|s| json!({
            "title": s.title,
            "details": s.details,
        })).collect::<Vec<_>>(),
    })
}
