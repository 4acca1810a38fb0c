//! The output of `session:setup`: a line per file and the numbered next steps, or the same as
//! one JSON object.

use serde::Serialize;

use crate::backend::Backend;
use crate::cli::Api;
use crate::conventions::DEFAULT_REDIS_URL;
use crate::output::{self, Output, paint};
use crate::setup::shard::DriverReason;
use crate::setup::{Action, Driver, SetupReport};

/// Print `report` as lines, or as JSON in JSON mode.
pub fn print(report: &SetupReport, out: &Output) {
    if report.api == Api::Shard && report.api_source != "flag" && report.api_source != "default" {
        out.info(paint(
            output::DIM,
            format!(
                "(--api shard: {} pins the session shard at 1.0.30 or later)",
                report.api_source
            ),
        ));
    }
    for note in &report.notes {
        out.info(format!("{} {note}", paint(output::WARNING, "note:")));
    }
    out.lines(&lines(report));
    out.json(&json(report));
}

/// One numbered step of what to do after setup: a title and its detail lines.
#[derive(Debug, Serialize)]
struct Step {
    title: String,
    details: Vec<String>,
}

/// The steps in the order a user takes them: dependencies, the environment (the database's
/// URL before the migration that needs it), loading `.env` in the shell that runs the
/// migration and the app, the migration, then the code.
fn next_steps(report: &SetupReport) -> Vec<Step> {
    let step = |title: String, details: Vec<String>| Step { title, details };
    let mut install = vec!["shards install".to_string()];
    install.extend(report.driver.iter().flat_map(driver_lines));
    let mut steps = vec![step("Install dependencies:".into(), install)];
    if let Some(line) = environment_line(report) {
        steps.push(step(
            "Set environment variables (SESSION_SECRET is already in .env):".into(),
            vec![line],
        ));
    }
    steps.push(load_dotenv(report));
    if report.backend == Backend::Database {
        steps.push(step(
            "Run migrations:".into(),
            vec!["azu db:migrate".to_string()],
        ));
    }
    let main_file = report
        .main_file
        .as_deref()
        .unwrap_or("your application's main file");
    steps.push(step(
        format!("Require the initializer in {main_file}:"),
        vec!["require \"./initializers/session\"".to_string()],
    ));
    if report.api == Api::Shard {
        steps.push(step(
            "Give UserSession the app's own properties:".into(),
            vec!["class UserSession < Session::Base in src/initializers/session.cr".to_string()],
        ));
    }
    steps
}

/// The database driver in shard.yml, why that one, and how to have another when setup chose
/// the default.
fn driver_lines(driver: &Driver) -> Vec<String> {
    let what = match driver.name {
        "mysql" => "the MySQL driver",
        "sqlite3" => "the SQLite driver",
        _ => "the PostgreSQL driver",
    };
    let verb = if driver.added {
        "was added to shard.yml"
    } else {
        "is already in shard.yml"
    };
    let why = match &driver.reason {
        DriverReason::Scheme(scheme) => format!("DATABASE_URL's scheme is `{scheme}`"),
        DriverReason::NoUrl => "DATABASE_URL is not set, so setup chose the default".to_string(),
        DriverReason::OtherScheme => {
            "DATABASE_URL's scheme names no other driver, so setup chose the default".to_string()
        }
    };
    let mut lines = vec![format!("{}, {what}, {verb}: {why}", driver.name)];
    if !matches!(driver.reason, DriverReason::Scheme(_)) {
        lines.push(
            "(for MySQL or SQLite: set DATABASE_URL to a mysql:// or sqlite3:// URL, then run setup again with --force)"
                .to_string(),
        );
    }
    lines
}

/// What the environment needs for the backend, and what it already has; nothing for memory.
fn environment_line(report: &SetupReport) -> Option<String> {
    let (name, url, default, other) = match report.backend {
        Backend::Redis => (
            "REDIS_URL",
            &report.redis_url,
            DEFAULT_REDIS_URL,
            "another server",
        ),
        Backend::Database => (
            "DATABASE_URL",
            &report.database_url,
            "postgresql://user:password@localhost/myapp",
            "another database",
        ),
        Backend::Memory => return None,
    };
    Some(match url {
        Some(url) if url.in_dotenv => format!(
            "{name} is in .env ({}); change it there to use {other}",
            url.masked
        ),
        Some(url) => format!(
            "{name} is set in the environment ({}); the app must see the same value",
            url.masked
        ),
        None => format!("export {name}=\"{default}\""),
    })
}

/// Loading `.env` in development: `set -a` exports every variable the file sets, with no
/// shard or code in the app; production sets them as real environment variables.
fn load_dotenv(report: &SetupReport) -> Step {
    let runs = if report.backend == Backend::Database {
        "azu db:migrate and the app"
    } else {
        "the app"
    };
    let production = match report.backend {
        Backend::Redis => "SESSION_SECRET and REDIS_URL as real environment variables",
        Backend::Database => "SESSION_SECRET and DATABASE_URL as real environment variables",
        Backend::Memory => "SESSION_SECRET as a real environment variable",
    };
    Step {
        title: format!("Load .env in development, in the shell that runs {runs}:"),
        details: vec![
            "set -a; . ./.env; set +a    # exports every variable .env sets".to_string(),
            format!("In production, set {production} instead"),
        ],
    }
}

fn lines(report: &SetupReport) -> Vec<String> {
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

/// The JSON report: the command, the report's own fields, and the next steps.
#[derive(Serialize)]
struct Json<'a> {
    command: &'static str,
    #[serde(flatten)]
    report: &'a SetupReport,
    next_steps: Vec<Step>,
}

fn json(report: &SetupReport) -> serde_json::Value {
    let json = Json {
        command: "session:setup",
        report,
        next_steps: next_steps(report),
    };
    // A struct of strings, lists and options always serializes; `Null` is never printed.
    serde_json::to_value(json).unwrap_or_default()
}
