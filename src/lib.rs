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
use crate::clear::{ClearPlan, Target};
use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::setup::SetupReport;

/// Run the parsed command line; print errors as `error: …` on stderr and return the exit code.
pub fn main(cli: Cli) -> ExitCode {
    // TLS (rediss://, database TLS) needs a crypto provider chosen before the first handshake;
    // choosing it here means no connection can panic for lack of one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match run(cli) {
        Ok(code) => code,
        Err(Error::Cancelled) => {
            eprintln!("{}", Error::Cancelled);
            ExitCode::from(Error::Cancelled.exit_code())
        }
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
        Command::Clear(args) => {
            let plan = clear::plan(&args)?;
            run_clear(&plan, args.force)
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

fn run_clear(plan: &ClearPlan, force: bool) -> Result<ExitCode, Error> {
    let target_lines = target_lines(plan);
    // --expired touches no live session, so it needs no yes.
    let deletes = !matches!(plan.target, Target::Memory) && !plan.dry_run && !plan.expired;
    if deletes && !force {
        let mut summary = vec![format!("This will delete sessions from {}:", plan.backend)];
        summary.extend(target_lines.iter().map(|l| format!("  {l}")));
        confirm::confirm(&summary)?;
    }

    let which = if plan.expired { "expired " } else { "" };
    print_lines(&[
        if plan.dry_run {
            format!("Counting {which}sessions (dry run: nothing will be deleted)...")
        } else if plan.expired {
            "Clearing expired sessions...".to_string()
        } else {
            "Clearing sessions...".to_string()
        },
        format!("Backend: {}", plan.backend),
    ]);
    eprintln!("{}", plan.source.describe());
    for note in &plan.notes {
        eprintln!("note: {note}");
    }

    if matches!(plan.target, Target::Memory) {
        print_lines(&[
            "⚠️  Memory sessions cannot be cleared remotely".to_string(),
            "Restart the application to clear memory sessions".to_string(),
        ]);
        return Ok(ExitCode::SUCCESS);
    }
    if plan.expired && matches!(plan.target, Target::Redis { .. }) {
        print_lines(&[REDIS_EXPIRES_ITSELF.to_string()]);
        return Ok(ExitCode::SUCCESS);
    }

    let runtime = clear::runtime()?;
    let connected = runtime.block_on(clear::connect(plan))?;
    match &plan.target {
        Target::Redis { .. } => print_lines(&target_lines),
        Target::Database { .. } => {
            // The specification's database output names neither URL nor table; say them on
            // stderr so logs still record what was cleared.
            for line in &target_lines {
                eprintln!("({line})");
            }
            print_lines(&[format!("Clearing {which}database sessions...")]);
        }
        Target::Memory => {}
    }

    let outcome = runtime.block_on(connected.clear(plan.dry_run, |_| {}))?;
    if plan.dry_run {
        print_lines(&[
            format!("Would clear {} {which}session(s)", outcome.count),
            "Dry run: no sessions were cleared".to_string(),
        ]);
    } else {
        print_lines(&[
            format!("Cleared {} {which}session(s)", outcome.count),
            if plan.expired {
                "✓ Expired sessions cleared successfully".to_string()
            } else {
                "✓ Sessions cleared successfully".to_string()
            },
        ]);
    }
    Ok(ExitCode::SUCCESS)
}

const REDIS_EXPIRES_ITSELF: &str =
    "Redis removes expired sessions itself (every session key has a TTL); nothing to clear";

/// What will be cleared, as the specification prints it.
fn target_lines(plan: &ClearPlan) -> Vec<String> {
    match &plan.target {
        Target::Redis { url, prefix } => vec![
            format!("Redis URL: {}", url::mask(url)),
            format!(
                "Clearing Redis sessions with pattern: {}",
                clear::redis::pattern(prefix)
            ),
        ],
        Target::Database { url, table, .. } => vec![
            format!("Database URL: {}", url::mask(url)),
            format!("Table: {table}"),
        ],
        Target::Memory => Vec::new(),
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
        Backend::Redis => env.push(match &report.redis_url {
            Some(url) => {
                format!("     REDIS_URL is in .env ({url}); export REDIS_URL to use another server")
            }
            None => "     export REDIS_URL=\"redis://localhost:6379\"".to_string(),
        }),
        Backend::Database => env
            .push("     export DATABASE_URL=\"postgresql://user:password@localhost/myapp\"".into()),
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
