//! The `azu-session` binary: parse arguments, run, print errors, exit with a documented code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = azu_session::cli::Cli::parse();
    azu_session::main(cli)
}
