//! The output of `session:setup`: a line per file and the numbered next steps, or the same as
//! one JSON object.

use serde::Serialize;

use crate::backend::Backend;
use crate::cli::Api;
use crate::conventions::DEFAULT_REDIS_URL;
use crate::output::{self, Output, paint};
use crate::setup::{Action, SetupReport};

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

fn next_steps(report: &SetupReport) -> Vec<Step> {
    let step = |title: String, details: &[&str]| Step {
        title,
        details: details.iter().map(|d| d.to_string()).collect(),
    };
    let mut steps = vec![step("Install dependencies:".into(), &["shards install"])];
    if report.backend == Backend::Database {
        steps.push(step("Run migrations:".into(), &["azu db:migrate"]));
    }
    steps.push(step(
        "Set environment variables (SESSION_SECRET is already in .env):".into(),
        &[&environment_step(report)],
    ));
    let main_file = report
        .main_file
        .as_deref()
        .unwrap_or("your application's main file");
    steps.push(step(
        format!("Require the initializer in {main_file}:"),
        &["require \"./initializers/session\""],
    ));
    if report.api == Api::Shard {
        steps.push(step(
            "Give UserSession the app's own properties:".into(),
            &["class UserSession < Session::Base in src/initializers/session.cr"],
        ));
    }
    steps
}

/// What the environment needs for the backend, and what it already has.
fn environment_step(report: &SetupReport) -> String {
    match (report.backend, &report.redis_url) {
        (Backend::Redis, Some(url)) => {
            format!("REDIS_URL is in .env ({url}); export REDIS_URL to use another server")
        }
        (Backend::Redis, None) => format!("export REDIS_URL=\"{DEFAULT_REDIS_URL}\""),
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
