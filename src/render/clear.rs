//! The output of `session:clear`: the lines its events become as it runs, the question
//! before it deletes, and its JSON report.

use std::io::IsTerminal;

use indicatif::ProgressBar;
use serde::Serialize;

use crate::clear::{ClearPlan, ClearReport, Event, Hooks, NothingToDo, Question, Target};
use crate::confirm;
use crate::error::Result;
use crate::output::{self, Output, paint};

/// The hooks of a clear run from the command line: lines on stdout and stderr as `out`
/// says, the question on the terminal.
pub struct Terminal {
    out: Output,
    /// Whether `SESSION_SECRET` is replaced after the clear (the question says so).
    rotates: bool,
}

impl Terminal {
    pub fn new(out: Output, rotates: bool) -> Self {
        Terminal { out, rotates }
    }
}

impl Hooks for Terminal {
    fn can_ask(&mut self) -> Result<()> {
        confirm::can_ask()
    }

    /// The question comes after the lines that say what will be cleared, so they are not
    /// shown twice; where those lines did not reach the screen (stdout elsewhere, `--quiet`,
    /// JSON), a summary of them goes before it on stderr.
    fn confirm(&mut self, question: &Question<'_>) -> Result<()> {
        let plan = question.plan;
        let mut before = Vec::new();
        // Redis's lines are on stdout; a database's URL and table are notes on stderr,
        // which `--quiet` keeps back.
        let on_stdout = matches!(plan.target, Target::Redis(_));
        let shown = !self.out.is_json()
            && (on_stdout || !self.out.quiet)
            && std::io::stdout().is_terminal();
        if !shown {
            before.push(format!("This will delete sessions from {}:", plan.backend));
            before.extend(target_lines(plan).iter().map(|l| format!("  {l}")));
            before.extend(
                question
                    .cascades
                    .iter()
                    .map(|c| format!("  It will also {}", c.describe())),
            );
        }
        if self.rotates {
            before.push("Then SESSION_SECRET in .env is replaced with a new one".to_string());
        }
        confirm::confirm(&before)
    }

    // Long: one arm per event, each printing its lines as the specification words them.
    fn event(&mut self, event: Event<'_>) {
        let out = &self.out;
        match event {
            Event::Starting(plan) => starting(plan, out),
            Event::NothingToDo(NothingToDo::Memory) => {
                out.styled(
                    output::WARNING,
                    "⚠️  Memory sessions cannot be cleared remotely",
                );
                out.lines(&["Restart the application to clear memory sessions"]);
            }
            Event::NothingToDo(nothing @ NothingToDo::RedisExpiresItself) => {
                out.lines(&[nothing.message()]);
            }
            Event::RedisConnected {
                plan,
                target,
                primaries,
            } => {
                let mut lines = redis_lines(target, plan.dry_run);
                // After `Redis URL:`, what the server turned out to be.
                if let Some(n) = primaries {
                    let noun = if n == 1 { "primary" } else { "primaries" };
                    lines.insert(1, format!("Redis Cluster: {n} {noun}"));
                }
                out.lines(&lines);
            }
            Event::DatabaseConnected {
                plan,
                target,
                cascades,
                hidden_from,
                strategy,
            } => {
                // The specification's database output names neither URL nor table; say them
                // on stderr so logs still record what was cleared.
                for line in database_lines(target) {
                    out.info(format!("({line})"));
                }
                // A dry run deletes nothing, and says nothing of clearing (as its first line).
                let (doing, also) = if plan.dry_run {
                    ("Counting", "deleting these sessions would also")
                } else {
                    ("Clearing", "clearing these sessions will also")
                };
                for cascade in cascades {
                    out.info(format!(
                        "{} {also} {}",
                        paint(output::WARNING, "note:"),
                        cascade.describe()
                    ));
                }
                if let Some(role) = hidden_from {
                    out.info(format!(
                        "{} row-level security may hide rows of this table from the role `{role}`: only the rows its policies let it see are counted and cleared",
                        paint(output::WARNING, "note:")
                    ));
                }
                if let Some(strategy) = strategy {
                    out.info(format!("({})", strategy.describe(plan.dry_run)));
                }
                out.lines(&[format!("{doing} {}database sessions...", which(plan))]);
            }
            Event::Finished(report) => finished(report, out),
        }
    }

    fn shows_progress(&self) -> bool {
        self.out.shows_progress()
    }

    fn progress(&mut self, total: Option<u64>, dry_run: bool) -> ProgressBar {
        self.out.progress(total, dry_run)
    }

    fn on_stop(&self) -> Box<dyn Fn() + Send> {
        let out = self.out;
        Box::new(move || {
            out.info("stopping after the batch in flight (Ctrl-C again to quit at once)");
        })
    }
}

/// The JSON report (in JSON mode), of a clear or of anything that extends one.
pub fn json(report: &impl Serialize, out: &Output) {
    // Reports are structs of strings, numbers and lists: nothing in them can fail to
    // become JSON, but should it, the document says so rather than vanish.
    let value = serde_json::to_value(report).unwrap_or_else(
        |e| serde_json::json!({ "error": format!("cannot write the report as JSON: {e}") }),
    );
    out.json(&value);
}

/// `expired ` for a clear of expired sessions only.
fn which(plan: &ClearPlan) -> &'static str {
    if plan.expired { "expired " } else { "" }
}

/// Before connecting: what is done, and where the backend came from.
fn starting(plan: &ClearPlan, out: &Output) {
    let which = which(plan);
    out.lines(&[
        if plan.dry_run {
            format!("Counting {which}sessions (dry run: nothing will be deleted)...")
        } else if plan.expired {
            "Clearing expired sessions...".to_string()
        } else {
            "Clearing sessions...".to_string()
        },
        format!("Backend: {}", plan.backend),
    ]);
    out.info(paint(output::DIM, plan.source.describe()));
    for note in &plan.notes {
        out.info(format!("{} {note}", paint(output::WARNING, "note:")));
    }
}

/// The end: how many, and what else a dry run would have done.
fn finished(report: &ClearReport<'_>, out: &Output) {
    let plan = report.plan;
    let which = which(plan);
    if plan.dry_run {
        let mut lines = vec![format!("Would clear {} {which}session(s)", report.cleared)];
        lines.extend(
            report
                .cascades
                .iter()
                .flatten()
                .map(|c| format!("Would also {}", c.describe())),
        );
        lines.push("Dry run: no sessions were cleared".to_string());
        out.lines(&lines);
    } else {
        out.lines(&[format!("Cleared {} {which}session(s)", report.cleared)]);
        if let Some(strategy) = report.strategy.as_ref().filter(|s| s.gave_way) {
            out.info(format!(
                "{} {}",
                paint(output::WARNING, "note:"),
                strategy.reason
            ));
        }
    }
    // Sessions that seem to be elsewhere: said instead of a success.
    for warning in &report.warnings {
        out.warn(warning);
    }
    if !plan.dry_run && report.warnings.is_empty() {
        out.styled(
            output::SUCCESS,
            if plan.expired {
                "✓ Expired sessions cleared successfully"
            } else {
                "✓ Sessions cleared successfully"
            },
        );
    }
}

/// What will be cleared, as the specification prints it.
fn target_lines(plan: &ClearPlan) -> Vec<String> {
    match &plan.target {
        Target::Redis(target) => redis_lines(target, plan.dry_run),
        Target::Database(target) => database_lines(target),
        Target::Memory => Vec::new(),
    }
}

/// The server and the keys, as the specification prints them; a dry run counts the keys
/// (and says so) instead of clearing them.
fn redis_lines(target: &crate::clear::RedisTarget, dry_run: bool) -> Vec<String> {
    vec![
        // The spec's line as it is for database 0; any other is said.
        match target.database {
            0 => format!("Redis URL: {}", target.masked_url),
            n => format!("Redis URL: {} (database {n})", target.masked_url),
        },
        format!(
            "{} Redis sessions with pattern: {}",
            if dry_run { "Counting" } else { "Clearing" },
            target.pattern
        ),
    ]
}

fn database_lines(target: &crate::clear::DatabaseTarget) -> Vec<String> {
    vec![
        format!("Database URL: {}", target.url.shown),
        format!("Table: {}", target.table),
    ]
}
