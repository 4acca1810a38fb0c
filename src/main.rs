//! The `azu-session` binary: parse arguments, run, print errors, exit with a documented code.

use std::process::ExitCode;

fn main() -> ExitCode {
    match azu_session::parse() {
        Ok(cli) => azu_session::main(cli),
        Err(err) => azu_session::usage_error(err),
    }
}
