//! Running the binary in tests: checked exit codes with the output shown on failure, and runs
//! under a pseudo-terminal.

use std::process::Output;
use std::time::{Duration, Instant};

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

/// The binary started in `p` with `env`, its output captured, not waited for.
pub fn spawn(p: &Project, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("azu-session"));
    cmd.args(args).current_dir(p.root());
    for var in ["SESSION_BACKEND", "REDIS_URL", "DATABASE_URL", "AZU_ENV"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn azu-session")
}

/// Poll `done` every few milliseconds until it holds; fail after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Wait for the process to end (failing after `limit`) and return its output.
pub fn finish(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("poll the child").is_some() {
            return child.wait_with_output().expect("collect the output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("azu-session did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn interrupt(child: &std::process::Child) {
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -INT");
}

/// What a finished run printed, asserted the way a reader scans it: each needle must appear,
/// and a failure shows the whole stream it was looked for in.
pub trait Says {
    /// stdout holds each of `needles`.
    fn says(&self, needles: &[&str]) -> &Self;
    /// stderr holds each of `needles`.
    fn warns(&self, needles: &[&str]) -> &Self;
}

impl Says for Output {
    #[track_caller]
    fn says(&self, needles: &[&str]) -> &Self {
        assert_holds("stdout", &stdout(self), needles);
        self
    }

    #[track_caller]
    fn warns(&self, needles: &[&str]) -> &Self {
        assert_holds("stderr", &stderr(self), needles);
        self
    }
}

#[track_caller]
fn assert_holds(stream: &str, text: &str, needles: &[&str]) {
    let missing: Vec<&&str> = needles.iter().filter(|n| !text.contains(**n)).collect();
    assert!(
        missing.is_empty(),
        "{stream} lacks {missing:?}\n--- {stream}\n{text}"
    );
}
