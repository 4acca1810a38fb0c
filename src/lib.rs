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
pub mod conventions;
pub mod crystal;
pub mod database_url;
pub mod error;
pub mod fsutil;
pub mod initializer;
pub mod man;
pub mod output;
pub mod project;
pub mod render;
pub mod rotate;
pub mod setup;
pub mod url;

use std::process::ExitCode;

use chrono::Utc;
use serde_json::json;

use crate::clear::{ClearPlan, Target};
use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::output::{Output, paint};

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
            render::setup::print(&report, out);
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
            let report = run_clear(&plan, args.force, rotates, out)?;
            match rotation {
                Some(rotation) => rotate::finish_clear(rotation, &plan, report, out),
                None => {
                    out.json(&report);
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        Command::RotateSecret(args) => rotate::run(&args.project.path, out),
        Command::Completions { shell } => {
            output::print_raw(&completions::script(shell));
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let page = man::page().map_err(Error::ManPage)?;
            output::print_raw(&page);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Clear as `plan` says, printing its lines; returns its JSON report, for the caller to
/// complete and print.
fn run_clear(
    plan: &ClearPlan,
    force: bool,
    rotates: bool,
    out: &Output,
) -> Result<serde_json::Value, Error> {
    let target_lines = target_lines(plan);
    // --expired touches no live session, so it needs no yes.
    let deletes = !matches!(plan.target, Target::Memory) && !plan.dry_run && !plan.expired;
    let asks = deletes && !force;
    if asks {
        confirm::can_ask()?;
    }
    let stop = clear::Stop::default();
    let needs_server = match plan.target {
        Target::Memory => false,
        Target::Redis { .. } => !plan.expired,
        Target::Database { .. } => true,
    };
    let runtime = if needs_server {
        Some(clear::runtime()?)
    } else {
        None
    };
    // Ctrl-C stops the clear once it is sure to go ahead; while a question is open it
    // ends the process as usual (nothing was deleted yet).
    if !asks && let Some(runtime) = &runtime {
        watch_ctrl_c(runtime, &stop, out)?;
    }
    // A database is read before the question, so it can say what else the clear deletes
    // (rows that foreign keys cascade to).
    let mut early = match (&runtime, &plan.target) {
        (Some(runtime), Target::Database { .. }) => {
            Some(runtime.block_on(clear::connect(plan, &stop))?)
        }
        _ => None,
    };
    let cascades: Vec<clear::sql::Cascade> = early
        .as_ref()
        .map(|c| c.cascades().to_vec())
        .unwrap_or_default();
    if asks {
        let mut summary = vec![format!("This will delete sessions from {}:", plan.backend)];
        summary.extend(target_lines.iter().map(|l| format!("  {l}")));
        summary.extend(
            cascades
                .iter()
                .map(|c| format!("  It will also {}", c.describe())),
        );
        if rotates {
            summary.push("  Then SESSION_SECRET in .env is replaced with a new one".to_string());
        }
        confirm::confirm(&summary)?;
    }

    let which = if plan.expired { "expired " } else { "" };
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

    let mut report = clear_json(plan);
    if matches!(plan.target, Target::Memory) {
        out.styled(
            output::WARNING,
            "⚠️  Memory sessions cannot be cleared remotely",
        );
        out.lines(&["Restart the application to clear memory sessions"]);
        report["message"] = json!(MEMORY_CANNOT_BE_CLEARED);
        return Ok(report);
    }
    let Some(runtime) = runtime else {
        // Redis with --expired: nothing to do.
        out.lines(&[REDIS_EXPIRES_ITSELF]);
        report["message"] = json!(REDIS_EXPIRES_ITSELF);
        return Ok(report);
    };

    let mut connected = match early.take() {
        Some(connected) => connected,
        None => runtime.block_on(clear::connect(plan, &stop))?,
    };
    match &plan.target {
        Target::Redis { .. } => {
            // After `Redis URL:`, what the server turned out to be.
            let mut lines = target_lines.clone();
            lines.splice(1..1, connected.redis_cluster_line());
            out.lines(&lines);
            if let Some(n) = connected.redis_cluster_primaries() {
                report["cluster_primaries"] = json!(n);
            }
        }
        Target::Database { .. } => {
            // The specification's database output names neither URL nor table; say them on
            // stderr so logs still record what was cleared.
            for line in &target_lines {
                out.info(format!("({line})"));
            }
            let verb = if plan.dry_run { "would" } else { "will" };
            for cascade in &cascades {
                out.info(format!(
                    "{} clearing these sessions {verb} also {}",
                    paint(output::WARNING, "note:"),
                    cascade.describe()
                ));
            }
            if let Some(role) = connected.hidden_from() {
                out.info(format!(
                    "{} row-level security hides rows of this table from the role `{role}`: only the rows it can see are counted and cleared",
                    paint(output::WARNING, "note:")
                ));
            }
            report["cascades"] = json!(
                cascades
                    .iter()
                    .map(|c| json!({ "table": c.table, "on_delete": c.action, "rows": c.rows }))
                    .collect::<Vec<_>>()
            );
            out.lines(&[format!("Clearing {which}database sessions...")]);
        }
        Target::Memory => {}
    }

    // A bar when the total is known (SQL counts first), a counter otherwise; hidden unless
    // stderr is a terminal.
    let total = if out.shows_progress() && !plan.dry_run {
        runtime.block_on(connected.total())?
    } else {
        None
    };
    let progress = out.progress(total, plan.dry_run);
    if asks {
        watch_ctrl_c(&runtime, &stop, out)?;
    }
    let result = runtime.block_on(connected.clear(plan.dry_run, &stop, |n| progress.inc(n)));
    progress.finish_and_clear();
    let outcome = result?;

    report["cleared"] = json!(outcome.count);
    if plan.dry_run {
        let mut lines = vec![format!("Would clear {} {which}session(s)", outcome.count)];
        lines.extend(
            cascades
                .iter()
                .map(|c| format!("Would also {}", c.describe())),
        );
        lines.push("Dry run: no sessions were cleared".to_string());
        out.lines(&lines);
    } else {
        out.lines(&[format!("Cleared {} {which}session(s)", outcome.count)]);
        out.styled(
            output::SUCCESS,
            if plan.expired {
                "✓ Expired sessions cleared successfully"
            } else {
                "✓ Sessions cleared successfully"
            },
        );
    }
    Ok(report)
}

/// From here on Ctrl-C asks the clear to stop after the batch in flight (so the count it
/// reports is exact); a second Ctrl-C ends the process at once.
fn watch_ctrl_c(
    runtime: &tokio::runtime::Runtime,
    stop: &clear::Stop,
    out: &Output,
) -> Result<(), Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let _context = runtime.enter();
    // Registered now, not when the task first runs, so no Ctrl-C falls between the two.
    let mut interrupts = signal(SignalKind::interrupt()).map_err(Error::Runtime)?;
    let stop = stop.clone();
    let out = *out;
    runtime.spawn(async move {
        if interrupts.recv().await.is_some() {
            stop.request();
            out.info("stopping after the batch in flight (Ctrl-C again to quit at once)");
        }
        if interrupts.recv().await.is_some() {
            std::process::exit(130);
        }
    });
    Ok(())
}

const MEMORY_CANNOT_BE_CLEARED: &str =
    "Memory sessions cannot be cleared remotely; restart the application to clear them";
const REDIS_EXPIRES_ITSELF: &str =
    "Redis removes expired sessions itself (every session key has a TTL); nothing to clear";

/// What will be cleared, as the specification prints it.
fn target_lines(plan: &ClearPlan) -> Vec<String> {
    match &plan.target {
        Target::Redis {
            url,
            prefix,
            database,
        } => vec![
            // The spec's line as it is for database 0; any other is said.
            match database {
                0 => format!("Redis URL: {}", url::mask(url)),
                n => format!("Redis URL: {} (database {n})", url::mask(url)),
            },
            format!(
                "Clearing Redis sessions with pattern: {}",
                clear::redis::pattern(prefix)
            ),
        ],
        Target::Database { url, table, .. } => vec![
            format!("Database URL: {}", url.shown),
            format!("Table: {table}"),
        ],
        Target::Memory => Vec::new(),
    }
}

/// The JSON report of a clear, before its count is known.
fn clear_json(plan: &ClearPlan) -> serde_json::Value {
    let mut report = json!({
        "command": "session:clear",
        "backend": plan.backend.as_str(),
        "backend_source": plan.source.key(),
        "notes": plan.notes,
        "dry_run": plan.dry_run,
        "expired": plan.expired,
        "cleared": 0,
    });
    match &plan.target {
        Target::Redis {
            url,
            prefix,
            database,
        } => {
            report["url"] = json!(url::mask(url));
            report["database"] = json!(database);
            report["prefix"] = json!(prefix);
            report["pattern"] = json!(clear::redis::pattern(prefix));
        }
        Target::Database { url, table, .. } => {
            report["url"] = json!(url.shown);
            report["table"] = json!(table.plain());
        }
        Target::Memory => {}
    }
    report
}
