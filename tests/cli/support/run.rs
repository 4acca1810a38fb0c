//! Running the binary in tests: checked exit codes with the output shown on failure, and runs
//! under a pseudo-terminal.

use std::process::Output;
use std::time::Duration;

use super::project::Project;

/// Bytes of output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn stdout(out: &Output) -> String {
    text(&out.stdout)
}

pub fn stderr(out: &Output) -> String {
    text(&out.stderr)
}

/// Run `cmd`; it must exit with `code` and must not have panicked. On failure the message
/// shows the status, stdout and stderr.
pub fn run(cmd: &mut assert_cmd::Command, code: i32) -> Output {
    let out = cmd.output().expect("run azu-session");
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(!e.contains("panicked"), "the binary panicked:\n{e}");
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status {:?}\n--- stdout\n{o}\n--- stderr\n{e}",
        out.status
    );
    out
}

/// Run `azu-session <args>` in `p` under a pseudo-terminal (util-linux `script`), typing
/// `input`; returns what the terminal showed (stdout and stderr merged, as on a screen).
pub fn under_terminal(p: &Project, args: &str, env: &[(&str, &str)], input: &str) -> String {
    let bin = assert_cmd::cargo::cargo_bin("azu-session");
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &format!("{} {args}", bin.display()), "/dev/null"]);
    cmd.current_dir(p.root());
    for var in [
        "SESSION_BACKEND",
        "REDIS_URL",
        "DATABASE_URL",
        "AZU_ENV",
        "NO_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = assert_cmd::Command::from_std(cmd)
        .write_stdin(input.to_string())
        .timeout(Duration::from_secs(30))
        .output()
        .expect("run under script");
    text(&out.stdout)
}

/// What a successful single-server Redis clear prints.
pub fn redis_lines(url_shown: &str, pattern: &str, n: usize) -> String {
    format!(
        "Clearing sessions...\nBackend: redis\nRedis URL: {url_shown}\nClearing Redis sessions with pattern: {pattern}\nCleared {n} session(s)\n✓ Sessions cleared successfully\n"
    )
}
