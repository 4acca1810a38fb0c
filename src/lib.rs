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

use std::process::ExitCode;

use chrono::Utc;
use serde_json::json;

use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::output::Output;

/// Run the parsed command line; print errors on stderr and return the exit code.
pub fn main(cli: Cli) -> ExitCode {
    // TLS (rediss://, database TLS) needs a crypto provider chosen before the first handshake;
    // choosing it here means no connection can panic for lack of one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let quiet = match &cli.command {
        Command::Clear(args) => args.quiet,
        Command::Stats(args) => args.quiet,
        _ => false,
    };
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

/// The one dispatch point: each command's plan, its run and the rendering of its report.
///
/// Long because it has an arm per command (six of them), each a few lines; splitting it
/// would hide the one place where every command is wired.
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
            let report = clear::run(&plan, &mut render::clear::Terminal::new(*out, rotates))?;
            // The app's sessions seem to be under the shard's prefix: not a success (see
            // README, Exit codes).
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
        Command::Check(args) => {
            let report = check::run(&args)?;
            render::check::print(&report, out);
            Ok(match report.passed() {
                true => ExitCode::SUCCESS,
                false => ExitCode::FAILURE,
            })
        }
        Command::Stats(args) => {
            let plan = stats::plan(&args)?;
            render::stats::starting(&plan, out);
            let report = stats::run(&plan, &mut |total| out.progress(total, true))?;
            render::stats::print(&report, out);
            Ok(ExitCode::SUCCESS)
        }
        Command::RotateSecret(args) => {
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
