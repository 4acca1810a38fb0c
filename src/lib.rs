//! azu-session: the `session:setup` and `session:clear` commands of the Azu CLI, as one
//! binary.
//!
//! Data flows one way: argv → [`cli::Cli`] → a plan with everything resolved
//! ([`clear::plan()`], [`setup::plan()`]) → the command acting on it → a typed report
//! ([`clear::ClearReport`], [`setup::SetupReport`]) → [`render`]. [`run`] is the one dispatch
//! point; commands never print (what a clear tells as it goes leaves through its hooks).

pub mod backend;
mod check;
mod clear;
pub mod cli;
mod completions;
mod confirm;
mod conventions;
mod crystal;
mod database_url;
pub mod error;
mod fsutil;
pub mod initializer;
mod man;
pub mod output;
pub mod project;
mod render;
mod restart;
mod rotate;
pub mod setup;
mod stats;
pub mod url;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use clap::{CommandFactory, FromArgMatches};
use serde_json::json;

use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::output::Output;

/// A parsed command line, its project root settled.
#[derive(Debug)]
pub struct Invocation {
    pub cli: Cli,
    /// The directory above the current one where shard.yml was found, when the command was
    /// given no `--path` and run below its project's root (said on stderr).
    pub found_root: Option<PathBuf>,
}

/// Parse the command line: clap's checks, then what clap cannot say (output options before
/// a command that takes none), and the project root: `--path`, else the current directory
/// or the nearest one above it holding shard.yml.
pub fn parse() -> Result<Invocation, clap::Error> {
    parse_from(std::env::args_os())
}

/// [`parse`] of the given arguments (the first is the program's name).
pub fn parse_from(
    args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
) -> Result<Invocation, clap::Error> {
    let matches = Cli::command().try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    if let Command::Completions { .. } | Command::Man = cli.command
        && cli.output != cli::OutputArgs::default()
    {
        let name = matches.subcommand_name().unwrap_or_default();
        return Err(Cli::command().error(
            clap::error::ErrorKind::ArgumentConflict,
            format!("--format and --color apply to the session:* commands; `{name}` takes neither"),
        ));
    }
    let path_given = matches.subcommand().is_some_and(|(_, sub)| {
        sub.ids().any(|id| id == "path")
            && sub.value_source("path") == Some(clap::parser::ValueSource::CommandLine)
    });
    let mut found_root = None;
    if let Some(project) = cli.project_mut()
        && !path_given
        && let Ok(cwd) = std::env::current_dir()
        && let Some(root) = project::default_root(&cwd)
    {
        project.path = root.clone();
        found_root = Some(root);
    }
    Ok(Invocation { cli, found_root })
}

/// Run the parsed command line; print errors on stderr and return the exit code.
pub fn main(invocation: Invocation) -> ExitCode {
    // TLS (rediss://, database TLS) needs a crypto provider chosen before the first handshake;
    // choosing it here means no connection can panic for lack of one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Invocation { cli, found_root } = invocation;
    let quiet = match &cli.command {
        Command::Clear { args, .. } => args.quiet,
        Command::Stats { args, .. } => args.quiet,
        _ => false,
    };
    let options = cli.output();
    Output::use_color(options.color.unwrap_or_default());
    let out = Output::new(options.format.unwrap_or_default(), quiet);
    if let Some(root) = found_root {
        out.info(output::paint(
            output::DIM,
            format!("(project root: {})", root.display()),
        ));
    }
    match run(cli.command, &out) {
        Ok(code) => code,
        Err(err) => {
            out.error(&err);
            ExitCode::from(err.exit_code())
        }
    }
}

/// A command line clap refused, on one line with where to read more (`; see `azu-session
/// session:clear --help``) and clap's tip, if any, below; or, when the line asked for
/// `--format json`, the same as a JSON error. Exit code 2. `--help` and `--version` print as
/// clap prints them.
pub fn usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if !err.use_stderr() || err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        err.exit();
    }
    let args: Vec<String> = std::env::args().collect();
    let wants_json = args
        .windows(2)
        .any(|w| w[0] == "--format" && w[1] == "json")
        || args.iter().any(|a| a == "--format=json");
    let (message, tips) = short_usage(&err.render().to_string(), &args);
    if wants_json {
        eprintln!("{}", json!({ "error": message, "exit_code": 2 }));
    } else {
        let mut text = format!("{} {message}\n", output::paint(output::ERROR, "error:"));
        for tip in tips {
            text.push_str(&format!("  {tip}\n"));
        }
        use std::io::Write;
        let _ = anstream::stderr().write_all(text.as_bytes());
    }
    ExitCode::from(2)
}

/// clap's rendering of a usage error, shortened: its message on one line, ending with the
/// `--help` to read (that of the command `args` name) unless it already says what to do, and
/// its tips.
fn short_usage(rendered: &str, args: &[String]) -> (String, Vec<String>) {
    let mut message = String::new();
    let mut tips = Vec::new();
    let mut in_usage = false;
    for line in rendered.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("Usage:") {
            in_usage = true;
            continue;
        }
        if trimmed.is_empty() {
            in_usage = false;
            continue;
        }
        if in_usage || trimmed.starts_with("For more information") {
            continue;
        }
        if trimmed.starts_with("tip:") {
            tips.push(trimmed.to_string());
        } else {
            if !message.is_empty() {
                message.push(' ');
            }
            message.push_str(trimmed.trim_start_matches("error: "));
        }
    }
    // A message of this tool's own (`-b postgres`) already says what to do.
    if !message.contains("; ") {
        let command = Cli::command();
        let named = args.iter().skip(1).find_map(|arg| {
            command
                .get_subcommands()
                .find(|sub| sub.get_name() == arg || sub.get_all_aliases().any(|a| a == arg))
                .map(|sub| format!(" {}", sub.get_name()))
        });
        let named = named.unwrap_or_default();
        message.push_str(&format!("; see `{}{named} --help`", cli::BIN));
    }
    (message, tips)
}

/// The one dispatch point: each command's plan, its run and the rendering of its report.
///
/// Long because it has an arm per command (six of them), each a few lines; splitting it
/// would hide the one place where every command is wired.
pub fn run(command: Command, out: &Output) -> Result<ExitCode, Error> {
    match command {
        Command::Setup { args, .. } => {
            let report = setup::run(&args, Utc::now())?;
            render::setup::print(&report, out);
            Ok(ExitCode::SUCCESS)
        }
        Command::Clear { args, .. } => {
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
            // The app's sessions seem to be under the shard's prefix: not a success (see
            // docs/commands.md, Exit codes).
            let done = match report.missed_shard_sessions {
                false => ExitCode::SUCCESS,
                true => ExitCode::FAILURE,
            };
            let Some(rotation) = rotation else {
                render::clear::json(&report, out);
                return Ok(done);
            };
            let report = rotate::finish_clear(rotation, report, |rotated| {
                render::rotate::rotated(rotated, out)
            })?;
            render::rotate::after_clear(&report, out);
            match report.error() {
                Some(err) => Err(err),
                None => Ok(done),
            }
        }
        Command::Check { args, .. } => {
            let report = check::run(&args)?;
            render::check::print(&report, out);
            Ok(match report.passed() {
                true => ExitCode::SUCCESS,
                false => ExitCode::FAILURE,
            })
        }
        Command::Stats { args, .. } => {
            let plan = stats::plan(&args)?;
            render::stats::starting(&plan, out);
            let report = stats::run(&plan, &mut |total| out.progress(total, true))?;
            render::stats::print(&report, out);
            Ok(ExitCode::SUCCESS)
        }
        Command::RotateSecret { args, .. } => {
            render::rotate::rotate_secret(&rotate::run(&args.project.path)?, out);
            Ok(ExitCode::SUCCESS)
        }
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
